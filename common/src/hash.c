/* Byte hashes (hash.h). */
#include "sgs/hash.h"

#include <string.h>

uint64_t sgs_hash_fnv1a_from(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t sgs_hash_fnv1a(const void *p, size_t n)
{
    return sgs_hash_fnv1a_from(SGS_HASH_FNV1A_BASIS, p, n);
}

uint64_t sgs_hash_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t sgs_hash_seeded(uint64_t seed, const void *p, size_t n)
{
    const char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    /* The last 0-7 bytes, little-endian (as a memcpy into a zeroed word on
     * x86), without a call to memcpy for a length it cannot know. */
    uint64_t v = 0;
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, s, 4);
        memcpy(&hi, s + n - 4, 4);
        v = (uint64_t)lo | (uint64_t)hi << (8 * (n - 4));
    } else if (n > 0) {
        v = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << (8 * (n / 2)) |
            (uint64_t)(unsigned char)s[n - 1] << (8 * (n - 1));
    }
    return sgs_hash_mix64(h ^ v);
}

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t sgs_hash_crc32(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t c = 0xffffffffu;
    if (!crc_ready)
        crc_init(); /* idempotent: a race writes the same values */
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ s[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t sgs_hash_murmur2(const void *p, size_t n)
{
    const unsigned char *s = p;
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)n;
    while (n >= 4) {
        uint32_t k =
            (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
        s += 4;
        n -= 4;
    }
    switch (n) {
    case 3:
        h ^= (uint32_t)s[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)s[1] << 8;
        /* fall through */
    case 1:
        h ^= s[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t sgs_hash_partition(enum sgs_partitioner which, const void *key, size_t len, int32_t n)
{
    if (n <= 0)
        return -1;
    if (which == SGS_PARTITIONER_MURMUR2)
        return (int32_t)((sgs_hash_murmur2(key, len) & 0x7fffffffu) % (uint32_t)n);
    return (int32_t)(sgs_hash_crc32(key, len) % (uint32_t)n);
}

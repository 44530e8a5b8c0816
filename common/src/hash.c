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
    uint64_t v = 0;
    memcpy(&v, s, n);
    return sgs_hash_mix64(h ^ v);
}

/* Byte hashes: one home for the hash functions of sgs's tables and of Kafka's
 * partitioners. None is cryptographic. */
#ifndef SGS_HASH_H
#define SGS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bit: stable across runs and machines (the registry's table, the
 * aggregator's id map, the generator's derived values). */
uint64_t sgs_hash_fnv1a(const void *p, size_t n);

/* FNV-1a's 64-bit offset basis: sgs_hash_fnv1a(p, n) is
 * sgs_hash_fnv1a_from(SGS_HASH_FNV1A_BASIS, p, n). */
#define SGS_HASH_FNV1A_BASIS 14695981039346656037ULL

/* FNV-1a from state h: the hash of bytes given in pieces (h is the hash of
 * those before), or of a table that started from another basis and must keep
 * its values (sgs-gen's, see tools/sgs-gen/gen.h). */
uint64_t sgs_hash_fnv1a_from(uint64_t h, const void *p, size_t n);

/* A fast seeded 64-bit hash for tables keyed by bytes that producers choose
 * (seed it per process so that crafted keys cannot force collisions). */
uint64_t sgs_hash_seeded(uint64_t seed, const void *p, size_t n);

/* A 64-bit finaliser (murmur3's fmix64): spreads the bits of a small key. */
uint64_t sgs_hash_mix64(uint64_t h);

/* CRC-32 (IEEE 802.3, as zlib's crc32 and librdkafka's rd_crc32). */
uint32_t sgs_hash_crc32(const void *p, size_t n);

/* Kafka's murmur2 (the Java client's default partitioner hashes keys with it). */
uint32_t sgs_hash_murmur2(const void *p, size_t n);

/* Kafka partitioners for a keyed message, over n partitions (n > 0):
 * librdkafka's default ("consistent_random" for keyed messages) is
 * crc32(key) % n; the Java client's (and librdkafka's "murmur2") is
 * (murmur2(key) & 0x7fffffff) % n. */
enum sgs_partitioner { SGS_PARTITIONER_CRC32 = 0, SGS_PARTITIONER_MURMUR2 = 1 };
int32_t sgs_hash_partition(enum sgs_partitioner which, const void *key, size_t len, int32_t n);

#endif

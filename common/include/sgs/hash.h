/* Byte hashes: one home for the hash functions of sgs's tables and of Kafka's
 * partitioners. None is cryptographic. */
#ifndef SGS_HASH_H
#define SGS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bit: stable across runs and machines (the registry's table, the
 * aggregator's id map, the generator's derived values). */
uint64_t sgs_hash_fnv1a(const void *p, size_t n);

/* A fast seeded 64-bit hash for tables keyed by bytes that producers choose
 * (seed it per process so that crafted keys cannot force collisions). */
uint64_t sgs_hash_seeded(uint64_t seed, const void *p, size_t n);

/* A 64-bit finaliser (murmur3's fmix64): spreads the bits of a small key. */
uint64_t sgs_hash_mix64(uint64_t h);

#endif

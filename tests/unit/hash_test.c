/* Unit tests of the byte hashes (sgs/hash.h): FNV-1a against the published
 * test vectors, and its continued form; the two partitioners against
 * librdkafka's own (the route must put a unit where a producer keying by it
 * does, or every such message would be forwarded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "sgs/hash.h"

static void test_fnv1a_vectors(void **state)
{
    (void)state;
    /* FNV-1a 64 of "", "a", "foobar" (the FNV reference vectors) */
    assert_true(sgs_hash_fnv1a("", 0) == 0xcbf29ce484222325ULL);
    assert_true(sgs_hash_fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(sgs_hash_fnv1a("foobar", 6) == 0x85944171f73967e8ULL);
    assert_true(sgs_hash_fnv1a("", 0) == SGS_HASH_FNV1A_BASIS);
}

static void test_fnv1a_from(void **state)
{
    const char *s = "市市场监管局";
    size_t n = strlen(s);

    (void)state;
    /* In pieces, the same as at once. */
    assert_true(sgs_hash_fnv1a_from(sgs_hash_fnv1a(s, 5), s + 5, n - 5) == sgs_hash_fnv1a(s, n));
    assert_true(sgs_hash_fnv1a_from(SGS_HASH_FNV1A_BASIS, s, n) == sgs_hash_fnv1a(s, n));
    /* From sgs-gen's basis (computed with Python). */
    assert_true(sgs_hash_fnv1a_from(1469598103934665603ULL, s, n) == 0x73676fec93bd5651ULL);
}

static void test_seeded_and_mix(void **state)
{
    (void)state;
    /* Deterministic for a seed, another seed moves it; every length reads its
     * bytes only. */
    assert_true(sgs_hash_seeded(1, "abcdefghij", 10) == sgs_hash_seeded(1, "abcdefghij", 10));
    assert_true(sgs_hash_seeded(1, "abcdefghij", 10) != sgs_hash_seeded(2, "abcdefghij", 10));
    assert_true(sgs_hash_seeded(1, "abcdefghij", 9) == sgs_hash_seeded(1, "abcdefghiX", 9));
    assert_true(sgs_hash_mix64(0) == 0);
    assert_true(sgs_hash_mix64(1) != sgs_hash_mix64(2));
}

static void test_murmur2_vectors(void **state)
{
    (void)state;
    /* the values librdkafka's own unit test expects of its murmur2 */
    assert_true(sgs_hash_murmur2("kafka", 5) == 0xd067cf64u);
    assert_true(sgs_hash_murmur2("giberish123456789", 17) == 0x8f552b0cu);
    assert_true(sgs_hash_murmur2("", 0) == 0x106e08d9u);
}

/* Keys of every length from 0 to 80 bytes (unit ids, Chinese names, bytes
 * of every value, at every alignment), over partition counts from 1 to 64:
 * sgs's choice equals librdkafka's consistent (crc32) and murmur2
 * partitioners, which take no topic for that. */
static void test_partition_equals_librdkafka(void **state)
{
    static const char *const fixed[] = {
        "11410400MB0000001P",
        "114104000054321234",
        "平顶山市市场监督管理局",
        "郏县",
        "12410400MB1E23456X",
        " ",
        "a",
    };
    unsigned char buf[96];
    uint32_t x = 2463534242u;
    int compared = 0;

    (void)state;
    for (int k = 0; k < 600; k++) {
        const unsigned char *key;
        size_t len;
        if (k < (int)(sizeof(fixed) / sizeof(fixed[0]))) {
            key = (const unsigned char *)fixed[k];
            len = strlen(fixed[k]);
        } else {
            len = (size_t)(k % 81);
            for (size_t i = 0; i < len + 3; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (unsigned char)x;
            }
            key = buf + k % 4; /* every alignment */
        }
        for (int32_t n = 1; n <= 64; n += n < 16 ? 1 : 7) {
            assert_int_equal(sgs_hash_partition(SGS_PARTITIONER_CRC32, key, len, n),
                             rd_kafka_msg_partitioner_consistent(NULL, key, len, n, NULL, NULL));
            assert_int_equal(sgs_hash_partition(SGS_PARTITIONER_MURMUR2, key, len, n),
                             rd_kafka_msg_partitioner_murmur2(NULL, key, len, n, NULL, NULL));
            compared++;
        }
    }
    assert_true(compared > 10000);
    assert_int_equal(sgs_hash_partition(SGS_PARTITIONER_CRC32, "a", 1, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_fnv1a_from),
        cmocka_unit_test(test_seeded_and_mix),
        cmocka_unit_test(test_murmur2_vectors),
        cmocka_unit_test(test_partition_equals_librdkafka),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

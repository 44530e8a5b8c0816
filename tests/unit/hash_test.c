/* Unit tests of the byte hashes (sgs/hash.h): FNV-1a against the published
 * test vectors, and its continued form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a_vectors),
        cmocka_unit_test(test_fnv1a_from),
        cmocka_unit_test(test_seeded_and_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

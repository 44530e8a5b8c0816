/* Unit tests of the aggregator's id map (aggregator/idmap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"

static void test_put_get(void **state)
{
    sgs_agg_idmap *m = sgs_agg_idmap_new(0);
    size_t v = 99;
    (void)state;

    assert_non_null(m);
    assert_int_equal(sgs_agg_idmap_get(m, "C1", 2, &v), 0);
    assert_int_equal(v, 99);
    assert_int_equal(sgs_agg_idmap_put(m, "C1", 2, 7), 0);
    assert_int_equal(sgs_agg_idmap_get(m, "C1", 2, &v), 1);
    assert_int_equal(v, 7);
    /* a second put keeps the first value */
    assert_int_equal(sgs_agg_idmap_put(m, "C1", 2, 8), 1);
    assert_int_equal(sgs_agg_idmap_get(m, "C1", 2, &v), 1);
    assert_int_equal(v, 7);
    /* keys are bytes: a prefix, an embedded NUL and the empty key are keys of
     * their own */
    assert_int_equal(sgs_agg_idmap_get(m, "C", 1, &v), 0);
    assert_int_equal(sgs_agg_idmap_put(m, "C1\0x", 4, 1), 0);
    assert_int_equal(sgs_agg_idmap_put(m, "", 0, 2), 0);
    assert_int_equal(sgs_agg_idmap_get(m, "C1\0x", 4, &v), 1);
    assert_int_equal(v, 1);
    assert_int_equal(sgs_agg_idmap_get(m, "", 0, &v), 1);
    assert_int_equal(v, 2);
    /* the key is copied */
    {
        char key[] = "temp";

        assert_int_equal(sgs_agg_idmap_put(m, key, 4, 3), 0);
        key[0] = 'X';
        assert_int_equal(sgs_agg_idmap_get(m, "temp", 4, &v), 1);
        assert_int_equal(v, 3);
    }
    sgs_agg_idmap_free(m);
    sgs_agg_idmap_free(NULL);
}

/* Far more keys than expected: the map grows and finds every one. */
static void test_growth(void **state)
{
    sgs_agg_idmap *m = sgs_agg_idmap_new(4);
    char key[32];
    size_t v;
    (void)state;

    for (size_t i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key), "410423-%zu", i);

        assert_int_equal(sgs_agg_idmap_put(m, key, (size_t)n, i), 0);
    }
    for (size_t i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof(key), "410423-%zu", i);

        assert_int_equal(sgs_agg_idmap_get(m, key, (size_t)n, &v), 1);
        assert_int_equal(v, i);
        assert_int_equal(sgs_agg_idmap_put(m, key, (size_t)n, 0), 1);
    }
    assert_int_equal(sgs_agg_idmap_get(m, "410423-5000", 11, &v), 0);
    sgs_agg_idmap_free(m);
}

/* Redis unit ids to registry rows: registry ids through the map, id-like
 * aliases through the registry. */
static void test_unit_row(void **state)
{
    sgs_registry *reg = agg_fixture_registry(agg_fixture_units);
    sgs_agg_idmap *m = sgs_agg_idmap_registry(reg);
    size_t v;
    (void)state;

    assert_non_null(m);
    for (size_t i = 0; i < sgs_registry_count(reg); i++) {
        const char *id = sgs_registry_at(reg, i)->id;

        assert_int_equal(sgs_agg_idmap_get(m, id, strlen(id), &v), 1);
        assert_int_equal(v, i);
    }
    /* aliases are not in the map: the registry finds them */
    assert_int_equal(sgs_agg_idmap_get(m, "K1X", 3, &v), 0);
    assert_int_equal(sgs_agg_idmap_unit_row(m, reg, "C2", 2), 1);
    assert_int_equal(sgs_agg_idmap_unit_row(m, reg, "C2|records", 2), 1);
    assert_int_equal(sgs_agg_idmap_unit_row(m, reg, "K1X", 3), 3);
    assert_int_equal(sgs_agg_idmap_unit_row(m, reg, "K9", 2), -1);
    /* names are not ids */
    assert_int_equal(sgs_agg_idmap_unit_row(m, reg, "甲县", strlen("甲县")), -1);
    sgs_agg_idmap_free(m);
    sgs_registry_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_unit_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

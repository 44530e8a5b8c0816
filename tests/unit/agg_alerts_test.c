/* Unit tests of aggregator/alerts.c: the latest alerts merged newest first
 * across partitions' lists, corrupt items skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"

static json_t *merge(const char *const *items, size_t n_items, size_t n)
{
    size_t lens[32];

    for (size_t i = 0; i < n_items; i++)
        lens[i] = strlen(items[i]);
    return sgs_agg_alerts_merge(items, lens, n_items, n);
}

static const char *id_at(const json_t *a, size_t i)
{
    return json_string_value(json_object_get(json_array_get(a, i), "id"));
}

static void test_newest_first(void **state)
{
    /* two partitions' lists, each newest first */
    const char *items[] = {
        "1700000000300 {\"id\":\"p0-c\"}", "1700000000100 {\"id\":\"p0-b\"}",
        "1700000000050 {\"id\":\"p0-a\"}", "1700000000200 {\"id\":\"p1-b\"}",
        "1700000000100 {\"id\":\"p1-a\"}",
    };
    json_t *a;
    (void)state;

    a = merge(items, 5, 10);
    assert_int_equal(json_array_size(a), 5);
    assert_string_equal(id_at(a, 0), "p0-c");
    assert_string_equal(id_at(a, 1), "p1-b");
    assert_string_equal(id_at(a, 2), "p0-b"); /* a tie keeps the input order */
    assert_string_equal(id_at(a, 3), "p1-a");
    assert_string_equal(id_at(a, 4), "p0-a");
    json_decref(a);
    a = merge(items, 5, 2);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(id_at(a, 1), "p1-b");
    json_decref(a);
}

static void test_corrupt_items_skipped(void **state)
{
    const char *items[] = {
        "1700000000300 {\"id\":\"ok1\"}",
        "not a time {\"id\":\"x\"}",
        "1700000000200 [1,2]",
        "1700000000150 {\"id\":",
        "1700000000100",
        "1700000000090 {\"id\":\"dup\",\"id\":\"dup2\"}",
        " 1700000000080 {\"id\":\"lead\"}",
        "1700000000050 {\"id\":\"ok2\",\"unit_name\":\"<script>\\\"\"}",
    };
    json_t *a;
    char *text;
    (void)state;

    a = merge(items, 8, 100);
    assert_int_equal(json_array_size(a), 2);
    assert_string_equal(id_at(a, 0), "ok1");
    assert_string_equal(id_at(a, 1), "ok2");
    text = json_dumps(a, JSON_COMPACT);
    assert_non_null(strstr(text, "\"<script>\\\"\""));
    free(text);
    json_decref(a);
    a = merge(items, 0, 100);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_first),
        cmocka_unit_test(test_corrupt_items_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

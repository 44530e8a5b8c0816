/* Unit tests of aggregator/rate.c: percentages rounded half-up to 2 decimals in
 * integer arithmetic, "-" / null without records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"

static void test_hundredths_half_up(void **state)
{
    (void)state;
    assert_int_equal(sgs_agg_rate_hundredths(1, 3), 3333);  /* 33.333... */
    assert_int_equal(sgs_agg_rate_hundredths(2, 3), 6667);  /* 66.666... */
    assert_int_equal(sgs_agg_rate_hundredths(1, 800), 13);  /* 0.125 -> 0.13 (half up) */
    assert_int_equal(sgs_agg_rate_hundredths(3, 800), 38);  /* 0.375 -> 0.38 */
    assert_int_equal(sgs_agg_rate_hundredths(1, 1600), 6);  /* 0.0625 -> 0.06 */
    assert_int_equal(sgs_agg_rate_hundredths(1, 20000), 1); /* 0.005 -> 0.01 */
    assert_int_equal(sgs_agg_rate_hundredths(1, 20001), 0); /* just below 0.005 */
    assert_int_equal(sgs_agg_rate_hundredths(0, 7), 0);
    assert_int_equal(sgs_agg_rate_hundredths(7, 7), 10000);
    assert_int_equal(sgs_agg_rate_hundredths(3, 2), 15000); /* growth above 100 % */
    assert_int_equal(sgs_agg_rate_hundredths(-5, 7), 0);    /* negative counts as 0 */
    /* a large month: no overflow, exact */
    assert_int_equal(sgs_agg_rate_hundredths(123456789, 987654321), 1250);
}

static void test_no_records(void **state)
{
    char buf[SGS_AGG_RATE_TEXT_MAX];
    json_t *j;
    (void)state;
    assert_int_equal(sgs_agg_rate_hundredths(0, 0), -1);
    assert_int_equal(sgs_agg_rate_hundredths(3, -1), -1);
    assert_string_equal(sgs_agg_rate_text(0, 0, buf), "-");
    j = sgs_agg_rate_json(0, 0);
    assert_true(json_is_null(j));
    json_decref(j);
}

static void test_text(void **state)
{
    char buf[SGS_AGG_RATE_TEXT_MAX];
    (void)state;
    assert_ptr_equal(sgs_agg_rate_text(1, 3, buf), buf);
    assert_string_equal(buf, "33.33");
    assert_string_equal(sgs_agg_rate_text(9, 1000, buf), "0.90");
    assert_string_equal(sgs_agg_rate_text(1, 20000, buf), "0.01");
    assert_string_equal(sgs_agg_rate_text(0, 5, buf), "0.00");
    assert_string_equal(sgs_agg_rate_text(5, 5, buf), "100.00");
    assert_string_equal(sgs_agg_rate_text(250, 100, buf), "250.00");
}

/* The JSON number prints as the 2-decimal text with the aggregator's flags. */
static void test_json_prints_two_decimals(void **state)
{
    static const int64_t cases[][2] = {{9, 10000}, {1, 3}, {2, 3}, {1, 800}, {7, 7}, {81, 10000}};
    static const char *const want[] = {"[0.09]", "[33.33]", "[66.67]",
                                       "[0.13]", "[100.0]", "[0.81]"};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = json_array();
        char *text;

        json_array_append_new(a, sgs_agg_rate_json(cases[i][0], cases[i][1]));
        text = json_dumps(a, SGS_AGG_JSON_COMPACT);
        assert_string_equal(text, want[i]);
        free(text);
        json_decref(a);
    }
}

static void test_valid_count(void **state)
{
    (void)state;
    assert_int_equal(sgs_agg_rate_valid_count(10, 3), 7);
    assert_int_equal(sgs_agg_rate_valid_count(3, 3), 0);
    assert_int_equal(sgs_agg_rate_valid_count(2, 5), 0); /* never below 0 */
}

/* 合计: the rate of a sum is the rate of the summed counts, not a sum or mean of
 * the rows' rates. */
static void test_total_is_rate_of_sums(void **state)
{
    char buf[SGS_AGG_RATE_TEXT_MAX];
    sgs_agg_counts a = {.records = 3, .late = 1}, b = {.records = 7, .late = 1}, sum;
    (void)state;
    memset(&sum, 0, sizeof(sum));
    sgs_agg_counts_add(&sum, &a);
    sgs_agg_counts_add(&sum, &b);
    assert_int_equal(sum.records, 10);
    assert_int_equal(sum.late, 2);
    assert_string_equal(sgs_agg_rate_text(sum.late, sum.records, buf), "20.00");
}

/* sgs_agg_rate_put writes what jansson dumps for sgs_agg_rate_json, for every
 * hundredths value (status --json and /api/v1/live write JSON directly). */
static void test_put_equals_json(void **state)
{
    (void)state;
    for (int64_t num = 0; num <= 2000; num++) {
        json_t *j = sgs_agg_rate_json(num, 1000), *arr = json_array();
        char *dumped;
        sgs_buf b = SGS_BUF_INIT;

        json_array_append_new(arr, j);
        dumped = json_dumps(arr, SGS_AGG_JSON_COMPACT); /* "[8.7]" */
        sgs_buf_putc(&b, '[');
        sgs_agg_rate_put(&b, num, 1000);
        sgs_buf_putc(&b, ']');
        assert_string_equal(b.data, dumped);
        free(dumped);
        json_decref(arr);
        sgs_buf_free(&b);
    }
    {
        sgs_buf b = SGS_BUF_INIT;
        sgs_agg_rate_put(&b, 0, 0);
        assert_string_equal(b.data, "null");
        sgs_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hundredths_half_up),
        cmocka_unit_test(test_no_records),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json_prints_two_decimals),
        cmocka_unit_test(test_valid_count),
        cmocka_unit_test(test_total_is_rate_of_sums),
        cmocka_unit_test(test_put_equals_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

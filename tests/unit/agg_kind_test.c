/* Unit tests of the aggregator's kind names and labels (aggregator/kind.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"

static const char *parse(const char *s)
{
    return sgs_agg_kind_parse(s, strlen(s));
}

static void test_canonical(void **state)
{
    (void)state;
    assert_int_equal(sgs_agg_kind_of("license", 7), SGS_KIND_LICENSE);
    assert_int_equal(sgs_agg_kind_of("penalty", 7), SGS_KIND_PENALTY);
    /* only the canonical names, compared over len bytes */
    assert_int_equal(sgs_agg_kind_of("许可", strlen("许可")), SGS_KIND_NONE);
    assert_int_equal(sgs_agg_kind_of("licenses", 8), SGS_KIND_NONE);
    assert_int_equal(sgs_agg_kind_of("licenses", 7), SGS_KIND_LICENSE);
    assert_int_equal(sgs_agg_kind_of("", 0), SGS_KIND_NONE);
}

static void test_sample_names(void **state)
{
    (void)state;
    assert_string_equal(parse("license"), "license");
    assert_string_equal(parse("行政许可"), "license");
    assert_string_equal(parse("许可"), "license");
    assert_string_equal(parse("penalty"), "penalty");
    assert_string_equal(parse("行政处罚"), "penalty");
    assert_string_equal(parse("处罚"), "penalty");
    assert_null(parse("License"));
    assert_null(parse("罚款"));
    assert_null(parse(""));
    /* the canonical names are the records' */
    assert_ptr_equal(parse("许可"), sgs_kind_name(SGS_KIND_LICENSE));
}

static void test_labels(void **state)
{
    (void)state;
    assert_string_equal(sgs_agg_kind_label("license"), "行政许可");
    assert_string_equal(sgs_agg_kind_label("penalty"), "行政处罚");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_sample_names),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

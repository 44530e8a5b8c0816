/* Unit tests of display width and padding (aggregator/width.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(sgs_agg_width_of(""), 0);
    assert_int_equal(sgs_agg_width_of("abc 12"), 6);
    assert_int_equal(sgs_agg_width_of("合计"), 4);
    assert_int_equal(sgs_agg_width_of("近7日"), 5);
    assert_int_equal(sgs_agg_width_of("县（市、区）"), 12); /* full-width brackets, 、 */
    assert_int_equal(sgs_agg_width_of("ＡＢ"), 4);          /* full-width letters */
    assert_int_equal(sgs_agg_width_of("é"), 1);             /* narrow non-ASCII */
    assert_int_equal(sgs_agg_width_of("\xFF"
                                      "a"),
                     2); /* a stray byte counts 1 */
    assert_int_equal(sgs_agg_width_of("\xE5\x90"
                                      "a"),
                     2); /* a cut sequence, then 'a' */
}

static void test_pad(void **state)
{
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    sgs_agg_width_pad(&b, "合计", 6, 0);
    sgs_buf_puts(&b, "|");
    sgs_agg_width_pad(&b, "12", 5, 1);
    sgs_buf_puts(&b, "|");
    sgs_agg_width_pad(&b, "市交通运输局", 4, 0); /* wider than the column: whole */
    sgs_buf_puts(&b, "|");
    sgs_agg_width_pad(&b, "", 2, 1);
    assert_string_equal(b.data, "合计  |   12|市交通运输局|  ");
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

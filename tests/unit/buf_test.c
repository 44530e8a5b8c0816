/* Output buffer: JSON string escaping is always valid UTF-8, base64, UTF-8 checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sgs/buf.h"

static void test_json_escape(void **state)
{
    (void)state;
    sgs_buf b = SGS_BUF_INIT;
    sgs_buf_put_json_string(&b, "a\"b\\c\n\x01平", strlen("a\"b\\c\n\x01平"));
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001平\"");
    sgs_buf_reset(&b);
    /* invalid UTF-8: lone continuation, truncated sequence, encoded surrogate, NUL */
    const char bad[] = "x\x80y\xE5\x98z\xED\xA0\x80";
    sgs_buf_put_json_string(&b, bad, sizeof(bad) - 1);
    assert_string_equal(b.data, "\"x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF"
                                "\xBD\xEF\xBF\xBD\"");
    assert_true(sgs_utf8_valid(b.data, b.len));
    sgs_buf_reset(&b);
    sgs_buf_put_json_string(&b, "a\0b", 3);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    sgs_buf_free(&b);
}

static void test_base64(void **state)
{
    (void)state;
    sgs_buf b = SGS_BUF_INIT;
    sgs_buf_put_base64(&b, "", 0);
    sgs_buf_put_base64(&b, "f", 1);
    sgs_buf_putc(&b, '|');
    sgs_buf_put_base64(&b, "fo", 2);
    sgs_buf_putc(&b, '|');
    sgs_buf_put_base64(&b, "foobar", 6);
    sgs_buf_putc(&b, '|');
    sgs_buf_put_base64(&b, "\xff\xfe\x00", 3);
    assert_string_equal(b.data, "Zg==|Zm8=|Zm9vYmFy|//4A");
    sgs_buf_free(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(sgs_utf8_valid("平顶山", strlen("平顶山")));
    assert_false(sgs_utf8_valid("\xC0\x80", 2));         /* overlong */
    assert_false(sgs_utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    assert_false(sgs_utf8_valid("\xF4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_true(sgs_utf8_valid("\xF0\x9F\x98\x80", 4));
    /* cut never splits a character */
    const char *s = "ab平"; /* 2 + 3 bytes */
    assert_int_equal(sgs_utf8_cut(s, 5), 5);
    assert_int_equal(sgs_utf8_cut(s, 4), 2);
    assert_int_equal(sgs_utf8_cut(s, 3), 2);
    assert_int_equal(sgs_utf8_cut(s, 2), 2);
}

static void test_growth_and_printf(void **state)
{
    (void)state;
    sgs_buf b = SGS_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        sgs_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data + b.len - 5, "9999,", 5);
    sgs_buf_reset(&b);
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sgs_buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, 1001);
    sgs_buf_free(&b);
}

static void test_put_i64(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {-1, "-1"},
        {10, "10"},
        {1234567890123LL, "1234567890123"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    sgs_buf b;
    sgs_buf_init(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sgs_buf_reset(&b);
        sgs_buf_putc(&b, '[');
        sgs_buf_put_i64(&b, cases[i].v);
        sgs_buf_putc(&b, ']');
        sgs_buf_putc(&b, '\0');
        char want[32];
        snprintf(want, sizeof(want), "[%s]", cases[i].text);
        assert_string_equal(b.data, want);
    }
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_utf8),        cmocka_unit_test(test_growth_and_printf),
        cmocka_unit_test(test_put_i64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

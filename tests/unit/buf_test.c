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

/* The escaping as its rule says, one byte or character at a time: the
 * reference the buffer's faster escaping is compared with. */
static size_t ref_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t k, i;
    unsigned lo = 0x80, hi = 0xBF;

    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < k || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < k; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

static size_t ref_escape(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0, i = 0;

    out[o++] = '"';
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t k = ref_seq(s + i, n - i);
            if (k) {
                memcpy(out + o, s + i, k);
                o += k;
                i += k;
            } else {
                memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3;
                i++;
            }
        } else if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n'   ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                            : NULL;
            if (named) {
                memcpy(out + o, named, 2);
                o += 2;
            } else {
                o += (size_t)sprintf(out + o, "\\u%04x", c);
            }
            i++;
        } else {
            out[o++] = (char)c;
            i++;
        }
    }
    out[o++] = '"';
    return o;
}

/* Random strings made of the pieces that matter (CJK, other UTF-8 lengths,
 * broken sequences, quotes, backslashes, control bytes, ASCII), of every
 * length up to past a 16-byte block and past the 4096-byte piece: the same
 * bytes as the reference, and the same judgement of UTF-8. */
static void test_json_escape_same_as_reference(void **state)
{
    static const char *const parts[] = {
        "平",
        "顶山",
        "a",
        "bc",
        "\"",
        "\\",
        "\n",
        "\x01",
        "\x1f",
        "\x7f",
        "é",
        "\xF0\x9F\x98\x80",
        "\xE0\xA0\x80",
        "\xED\x9F\xBF",
        "\xED\xA0\x80",
        "\x80",
        "\xC0\xAF",
        "\xE5\x98",
        "\xF4\x90\x80\x80",
        "\xFF",
        " ",
        "\0",
        "0123456789abcdef",
    };
    static unsigned char in[9000];
    static char want[9000 * 6 + 8];
    uint64_t x = 88172645463325252ULL;
    sgs_buf b = SGS_BUF_INIT;

    (void)state;
    for (int round = 0; round < 3000; round++) {
        size_t n = 0, target, w;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        target = round < 200 ? (size_t)round : round % 50 == 0 ? 4000 + x % 5000 : x % 300;
        while (n < target) {
            const char *p;
            size_t k;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p = parts[x % (sizeof(parts) / sizeof(parts[0]))];
            k = p[0] == '\0' ? 1 : strlen(p);
            if (n + k > target || n + k > sizeof(in))
                break;
            memcpy(in + n, p, k);
            n += k;
        }
        {
            /* and sgs_utf8_valid as the reference judges */
            int valid = 1;
            for (size_t i = 0; i < n && valid;) {
                size_t k = in[i] < 0x80 ? 1 : ref_seq(in + i, n - i);
                valid = k != 0;
                i += k;
            }
            assert_int_equal(sgs_utf8_valid((const char *)in, n), valid);
        }
        w = ref_escape(in, n, want);
        sgs_buf_reset(&b);
        sgs_buf_puts(&b, "<");
        sgs_buf_put_json_string(&b, (const char *)in, n);
        assert_int_equal(b.len, w + 1);
        assert_memory_equal(b.data + 1, want, w);
        assert_true(b.data[b.len] == '\0');
        assert_true(sgs_utf8_valid(b.data, b.len));
    }
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

/* sgs_json_string_prefix agrees with sgs_buf_put_json_string: the prefix it
 * gives is written in at most the budget, one more character would not be,
 * and it never cuts a character. */
static void test_json_string_prefix(void **state)
{
    (void)state;
    const char *s = "a\"平\x01\\b\n\xF0\x9F\x98\x80"
                    "c\x1f\t\xE4\xB8\xAD";
    size_t n = strlen(s);
    for (size_t budget = 0; budget <= 40; budget++) {
        size_t m = sgs_json_string_prefix(s, n, budget);
        sgs_buf b = SGS_BUF_INIT;
        sgs_buf_put_json_string(&b, s, m);
        assert_true(b.len - 2 <= budget);
        assert_int_equal(sgs_utf8_cut(s, m), m);
        if (m < n) {
            size_t next = m + 1;
            while (next < n && ((unsigned char)s[next] & 0xC0) == 0x80)
                next++;
            sgs_buf c = SGS_BUF_INIT;
            sgs_buf_put_json_string(&c, s, next);
            assert_true(c.len - 2 > budget);
            sgs_buf_free(&c);
        }
        sgs_buf_free(&b);
    }
    assert_int_equal(sgs_json_string_prefix(s, n, 1000), n);
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
        /* sgs_fmt_i64: the same digits, NUL-terminated, their length */
        char out[SGS_I64_CHARS + 1];
        memset(out, 'x', sizeof(out));
        assert_int_equal(sgs_fmt_i64(out, cases[i].v), strlen(cases[i].text));
        assert_string_equal(out, cases[i].text);
        assert_int_equal(out[SGS_I64_CHARS], 'x'); /* nothing past its bound */
    }
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_escape_same_as_reference),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json_string_prefix),
        cmocka_unit_test(test_growth_and_printf),
        cmocka_unit_test(test_put_i64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

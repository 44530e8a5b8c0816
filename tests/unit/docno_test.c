/* Unit tests of the doc_no normal form (RULES §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/docno.h"

static sgs_docno doc;

static int norm(const char *s)
{
    return sgs_docno_normalize(s, strlen(s), &doc);
}

/* Normalises s, checks the normal form, and that normalising it again is a
 * no-op. */
static void expect_norm(const char *s, const char *expected)
{
    sgs_docno again;

    assert_int_equal(norm(s), 0);
    assert_string_equal(doc.norm, expected);
    assert_int_equal(sgs_docno_normalize(doc.norm, strlen(doc.norm), &again), 0);
    assert_string_equal(again.norm, doc.norm);
    assert_int_equal(again.has_serial, doc.has_serial);
}

static void test_official_form(void **state)
{
    (void)state;
    expect_norm("平市监罚〔2023〕123号", "平市监罚〔2023〕123号");
    assert_int_equal(doc.has_serial, 1);
    assert_string_equal(doc.prefix, "平市监罚");
    assert_int_equal(doc.year, 2023);
    assert_int_equal(doc.serial_lo, 123);
    assert_int_equal(doc.serial_hi, 123);
    assert_int_equal(doc.norm_chars, 14);
}

static void test_every_bracket_variant(void **state)
{
    static const char *const variants[] = {
        "平市监罚〔2023〕12号", "平市监罚[2023]12号",   "平市监罚［2023］12号",
        "平市监罚【2023】12号", "平市监罚（2023）12号", "平市监罚(2023)12号",
        "平市监罚﹝2023﹞12号", "平市监罚〖2023〗12号", "平市监罚〔2023]12号",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        expect_norm(variants[i], "平市监罚〔2023〕12号");
        assert_int_equal(doc.has_serial, 1);
        assert_string_equal(doc.prefix, "平市监罚");
        assert_int_equal(doc.year, 2023);
        assert_int_equal(doc.serial_lo, 12);
    }
}

static void test_di_and_leading_zeros(void **state)
{
    (void)state;
    expect_norm("平市监罚〔2019〕第045号", "平市监罚〔2019〕45号");
    assert_int_equal(doc.serial_lo, 45);
    expect_norm("平市监罚〔2024〕03301 号", "平市监罚〔2024〕3301号");
    assert_int_equal(doc.serial_lo, 3301);
    expect_norm("平市监罚［2023］第045 号", "平市监罚〔2023〕45号");
    expect_norm("平市监罚〔2024〕000号", "平市监罚〔2024〕0号");
    assert_int_equal(doc.has_serial, 1);
    assert_int_equal(doc.serial_lo, 0);
    /* 第 not directly before a serial stays. */
    expect_norm("平市监罚〔2024〕第号", "平市监罚〔2024〕第号");
    assert_int_equal(doc.has_serial, 0);
}

static void test_fullwidth_and_spaces(void **state)
{
    (void)state;
    expect_norm("平市监罚〔２０２３〕１２号", "平市监罚〔2023〕12号");
    expect_norm("平市监罚［２０２３］第０１２号", "平市监罚〔2023〕12号");
    expect_norm("ＡＢｃ罚〔2023〕12号", "ABc罚〔2023〕12号");
    expect_norm(" 平市 监罚\t〔2023〕\u3000１２\u00a0号 \n", "平市监罚〔2023〕12号");
    assert_string_equal(doc.prefix, "平市监罚");
}

static void test_prefix_brackets_stay(void **state)
{
    (void)state;
    expect_norm("豫牧（兽药）罚决字〔2018〕第1号", "豫牧（兽药）罚决字〔2018〕1号");
    assert_string_equal(doc.prefix, "豫牧（兽药）罚决字");
    assert_int_equal(doc.year, 2018);
    assert_int_equal(doc.serial_lo, 1);
    expect_norm("京公(鼓)罚决字〔2024〕001号", "京公(鼓)罚决字〔2024〕1号");
    assert_string_equal(doc.prefix, "京公(鼓)罚决字");
    expect_norm("京公(鼓)罚决字(2024)001号", "京公(鼓)罚决字〔2024〕1号");
    /* A bracket around something other than 4 digits is not the year. */
    expect_norm("某局(12345)罚〔2024〕7号", "某局(12345)罚〔2024〕7号");
    assert_string_equal(doc.prefix, "某局(12345)罚");
}

static void test_range(void **state)
{
    (void)state;
    expect_norm("平市监罚〔2025〕12号-13号", "平市监罚〔2025〕12-13号");
    assert_int_equal(doc.has_serial, 1);
    assert_int_equal(doc.serial_lo, 12);
    assert_int_equal(doc.serial_hi, 13);
    expect_norm("平市监罚〔2025〕12-13号", "平市监罚〔2025〕12-13号");
    expect_norm("平市监罚〔2025〕第012号至第015号", "平市监罚〔2025〕12-15号");
    assert_int_equal(doc.serial_hi, 15);
    expect_norm("平市监罚〔2025〕12号－13号", "平市监罚〔2025〕12-13号");
    /* A second number that is not larger is not a range ("12-1号" is a
     * sub-number). */
    expect_norm("平市监罚〔2025〕12-1号", "平市监罚〔2025〕12-1号");
    assert_int_equal(doc.serial_lo, 12);
    assert_int_equal(doc.serial_hi, 12);
}

static void test_no_serial(void **state)
{
    (void)state;
    expect_norm("双环许可2019", "双环许可2019");
    assert_int_equal(doc.has_serial, 0);
    assert_string_equal(doc.prefix, "");
    expect_norm("平市监罚〔2023〕号", "平市监罚〔2023〕号");
    assert_int_equal(doc.has_serial, 0);
    assert_int_equal(doc.year, 2023);
    expect_norm("", "");
    assert_int_equal(doc.norm_chars, 0);
    /* A serial with more than 18 significant digits is copied, not read. */
    expect_norm("罚〔2023〕1234567890123456789号", "罚〔2023〕1234567890123456789号");
    assert_int_equal(doc.has_serial, 0);
}

/* The usual shape "prefix〔yyyy〕[第]digits号" has a path of its own: its edges
 * give what the general rules give. */
static void test_usual_shape_edges(void **state)
{
    char big[300];
    size_t i;

    (void)state;
    expect_norm("平市监罚〔2023〕第0号", "平市监罚〔2023〕0号");
    assert_int_equal(doc.has_serial, 1);
    assert_int_equal(doc.serial_lo, 0);
    assert_int_equal(doc.norm_chars, 12);
    expect_norm("平市监罚〔2023〕123456789012345678号", "平市监罚〔2023〕123456789012345678号");
    assert_int_equal(doc.serial_lo, 123456789012345678ULL);
    assert_int_equal(doc.norm_chars, 29);
    /* 19 significant digits: not a serial, copied with its zeros. */
    expect_norm("平市监罚〔2023〕0001234567890123456789号",
                "平市监罚〔2023〕0001234567890123456789号");
    assert_int_equal(doc.has_serial, 0);
    assert_string_equal(doc.prefix, "平市监罚");
    expect_norm("平市监罚〔2023〕第12号 ", "平市监罚〔2023〕12号");
    expect_norm("ab[c]〔2023〕5号", "ab[c]〔2023〕5号");
    assert_string_equal(doc.prefix, "ab[c]");
    /* Other brackets around the year, in any pair, are written 〔〕 on this
     * path as by the general rules. */
    expect_norm("平市监罚[2023]45号", "平市监罚〔2023〕45号");
    assert_int_equal(doc.year, 2023);
    assert_int_equal(doc.serial_lo, 45);
    assert_int_equal(doc.norm_chars, 13);
    assert_string_equal(doc.prefix, "平市监罚");
    expect_norm("平市监罚（2023）第007号", "平市监罚〔2023〕7号");
    expect_norm("平市监罚(2023〕8号", "平市监罚〔2023〕8号");
    expect_norm("平市监罚【2023]9号", "平市监罚〔2023〕9号");
    expect_norm("平市监罚[2023]000号", "平市监罚〔2023〕0号");
    assert_int_equal(doc.norm_chars, 12);
    expect_norm("罚[2023][2024]5号", "罚〔2023〕〔2024〕5号");
    assert_string_equal(doc.prefix, "罚〔2023〕");
    assert_int_equal(doc.year, 2024);
    expect_norm("罚[2023]5号-7号", "罚〔2023〕5-7号");
    assert_int_equal(doc.serial_hi, 7);
    expect_norm("罚[20231]5号", "罚[20231]5号");
    assert_int_equal(doc.has_serial, 0);
    expect_norm("罚[２０２３]5号", "罚〔2023〕5号");
    /* The last year bracket counts. */
    expect_norm("罚〔2023〕〔2024〕5号", "罚〔2023〕〔2024〕5号");
    assert_string_equal(doc.prefix, "罚〔2023〕");
    assert_int_equal(doc.year, 2024);

    /* Near the size of the output: 80 characters of 3 bytes before the year. */
    for (i = 0; i < 80; i++) {
        memcpy(big + 3 * i, "罚", 3);
    }
    memcpy(big + 240, "〔2023〕1号", 14); /* 254 bytes in, 254 out */
    assert_int_equal(sgs_docno_normalize(big, 254, &doc), 0);
    assert_int_equal(doc.norm_chars, 88);
    assert_int_equal(strlen(doc.prefix), 240);
    memcpy(big + 240, "〔2023〕第01号", 18); /* 258 bytes in, 254 out */
    assert_int_equal(sgs_docno_normalize(big, 258, &doc), 0);
    assert_int_equal(strlen(doc.norm), 254);
    assert_int_equal(doc.serial_lo, 1);
    memcpy(big + 240, "罚〔2023〕1号", 17); /* 257 bytes out: too long */
    assert_int_equal(sgs_docno_normalize(big, 257, &doc), -1);
    assert_string_equal(doc.norm, "");
    /* ASCII brackets make the form 4 bytes longer than the input */
    memcpy(big + 240, "[2023]12号", 11); /* 251 bytes in, 255 out: fits */
    assert_int_equal(sgs_docno_normalize(big, 251, &doc), 0);
    assert_int_equal(strlen(doc.norm), 255);
    assert_int_equal(doc.serial_lo, 12);
    memcpy(big + 240, "[2023]123号", 12); /* 252 bytes in, 256 out: too long */
    assert_int_equal(sgs_docno_normalize(big, 252, &doc), -1);
    assert_string_equal(doc.norm, "");
}

/* usual: the normal form is exactly prefix〔year〕serial号, whichever way
 * the number was read (the direct way of the usual shape, or the general
 * one: full-width digits, spaces, 第, another bracket, a trailing space). */
static void test_usual_flag(void **state)
{
    static const struct {
        const char *in;
        int usual;
    } cases[] = {
        {"平市监罚〔2023〕45号", 1},
        {"平市监罚［2023］第045 号", 1},
        {"平市监罚〔２０２３〕４５号", 1},
        {"平市监罚 (2023) 45号", 1},
        {"平市监罚〔2023〕0号", 1},
        {"豫牧（兽药）罚决字〔2018〕第1号", 1},
        {"平市监罚〔2023〕45号 ", 1},
        {"〔2023〕7号", 1},
        {"平市监罚〔0999〕45号", 0},
        {"平市监罚〔2023〕12号-13号", 0},
        {"平市监罚〔2023〕12-13号", 0},
        {"平市监罚〔2023〕45号补", 0},
        {"平市监罚〔2023〕45", 0},
        {"平市监罚〔2023〕第号", 0},
        {"双环许可2019", 0},
        {"平市监罚〔2023〕0001234567890123456789号", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(norm(cases[i].in), 0);
        if (doc.usual != cases[i].usual) {
            fail_msg("%s: usual %d, expected %d (normal form %s)", cases[i].in, doc.usual,
                     cases[i].usual, doc.norm);
        }
        assert_int_equal(doc.prefix_len, strlen(doc.prefix));
    }
}

/* The next of n choices (a linear congruential generator). */
static size_t pick(unsigned *seed, size_t n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % n;
}

/* The direct way (the usual shape) gives what the general way gives, byte
 * for byte: numbers put together from prefixes, spaces, brackets, years, 第,
 * serials and tails, usual or not, and cut bytes (an invalid character next
 * to a space). */
static void test_direct_same_as_general(void **state)
{
    static const char *const prefixes[] = {"平市监罚", "叶县市监许",         "",
                                           "ab",       "平公（治）行罚决字", "x y"};
    static const char *const spaces[] = {"", "", "", " ", "\xE3\x80\x80", "  ", "\t", "\xC2\xA0"};
    /* (the last: 〔 cut by a space, not UTF-8; without the space it would be) */
    static const char *const opens[] = {"〔", "[",  "［", "【", "（",           "(",
                                        "﹝", "〖", "〘", "《", "\xE3\x80 \x94"};
    static const char *const closes[] = {"〕", "]",  "］", "】", "）", ")",
                                         "﹞", "〗", "〙", "》", "〕"};
    static const char *const years[] = {"2024", "2024", "0999", "２０２４", "202", "20245"};
    static const char *const dis[] = {"", "第"};
    static const char *const serials[] = {
        "1950",   "045", "0",     "00", "123456789012345678", "1234567890123456789",
        "０４５", "",    "12-13", "x"};
    static const char *const tails[] = {
        "号", "号", "号 ", "号补", "", "号-13号", "号\xE3\x80\x80", "\xE3\x80", "\xE3"};
#define PICK(a) a[pick(&seed, sizeof(a) / sizeof(a[0]))]
    unsigned seed = 42;
    char in[300];
    sgs_docno direct, general;
    int usual = 0, spaced_usual = 0;

    (void)state;
    for (int round = 0; round < 30000; round++) {
        int n = snprintf(in, sizeof(in), "%s%s%s%s%s%s%s%s%s%s%s%s", PICK(prefixes), PICK(spaces),
                         PICK(opens), PICK(spaces), PICK(years), PICK(closes), PICK(spaces),
                         PICK(dis), PICK(spaces), PICK(serials), PICK(spaces), PICK(tails));
        int a, b;
        assert_true(n > 0 && (size_t)n < sizeof(in));
        a = sgs_docno_normalize(in, (size_t)n, &direct);
        assert_int_equal(sgs_docno_set_direct(0), 1);
        b = sgs_docno_normalize(in, (size_t)n, &general);
        assert_int_equal(sgs_docno_set_direct(1), 0);
        if (a != b || memcmp(&direct, &general, sizeof(direct)) != 0) {
            fail_msg("'%s': direct %d '%s', general %d '%s'", in, a, direct.norm, b, general.norm);
        }
        usual += direct.usual;
        spaced_usual += direct.usual && (strchr(in, ' ') || strstr(in, "\xE3\x80\x80"));
    }
#undef PICK
    /* the generator reaches the usual shape, with spaces too */
    assert_true(usual > 1000 && spaced_usual > 500);
}

static void test_invalid_utf8(void **state)
{
    static const char *const bad[] = {
        "\xff",
        "abc\x80",
        "平市监罚\xe3\x80", /* truncated 〔 */
        "\xc0\xaf",
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xe0\x80\xaf",     /* overlong */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(norm(bad[i]), -1);
        assert_string_equal(doc.norm, "");
        assert_int_equal(doc.has_serial, 0);
    }
    /* An embedded NUL. */
    assert_int_equal(sgs_docno_normalize("ab\0cd", 5, &doc), -1);
    assert_int_equal(sgs_docno_normalize(NULL, 0, &doc), -1);
}

static void test_huge_input(void **state)
{
    size_t n = 10 * 1024;
    char *big = malloc(n);
    size_t i;

    (void)state;
    assert_non_null(big);
    for (i = 0; i < n; i++) {
        big[i] = (char)('0' + i % 10);
    }
    assert_int_equal(sgs_docno_normalize(big, n, &doc), -1);
    assert_string_equal(doc.norm, "");
    /* 10 KB of Chinese text (3 bytes each). */
    for (i = 0; i + 3 <= n; i += 3) {
        memcpy(big + i, "号", 3);
    }
    assert_int_equal(sgs_docno_normalize(big, i, &doc), -1);
    /* Just over the output buffer: 86 characters of 3 bytes = 258 bytes. */
    assert_int_equal(sgs_docno_normalize(big, 86 * 3, &doc), -1);
    assert_int_equal(sgs_docno_normalize(big, 85 * 3, &doc), 0);
    assert_int_equal(doc.norm_chars, 85);
    /* White space does not count against the limit. */
    memset(big, ' ', n);
    memcpy(big + n - 9, "罚〔2023〕", 9);
    assert_int_equal(sgs_docno_normalize(big, n, &doc), 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_form),
        cmocka_unit_test(test_every_bracket_variant),
        cmocka_unit_test(test_di_and_leading_zeros),
        cmocka_unit_test(test_fullwidth_and_spaces),
        cmocka_unit_test(test_prefix_brackets_stay),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_no_serial),
        cmocka_unit_test(test_usual_shape_edges),
        cmocka_unit_test(test_usual_flag),
        cmocka_unit_test(test_direct_same_as_general),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_huge_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

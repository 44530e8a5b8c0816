/* Unit tests for sgs/date.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/date.h"

static sgs_day parse_day(const char *s)
{
    sgs_day d = 0;
    assert_int_equal(sgs_day_parse(s, strlen(s), &d), 0);
    return d;
}

static int rfc(const char *s, int64_t *out)
{
    return sgs_rfc3339_parse(s, strlen(s), out);
}

static void test_day_numbers(void **state)
{
    (void)state;
    assert_int_equal(sgs_day_from_ymd(1970, 1, 1), 0);
    assert_int_equal(sgs_day_from_ymd(1970, 1, 2), 1);
    assert_int_equal(sgs_day_from_ymd(1969, 12, 31), -1);
    assert_int_equal(sgs_day_from_ymd(2000, 3, 1), 11017);
    assert_int_equal(sgs_day_from_ymd(2024, 2, 29), 19782);
    assert_int_equal(sgs_day_from_ymd(2024, 3, 1), 19783);
    assert_int_equal(sgs_day_from_ymd(1900, 3, 1) - sgs_day_from_ymd(1900, 2, 28), 1);
    assert_int_equal(sgs_day_from_ymd(2000, 3, 1) - sgs_day_from_ymd(2000, 2, 28), 2);
    assert_int_equal(sgs_day_from_ymd(1, 1, 1), -719162);
    assert_int_equal(sgs_day_from_ymd(9999, 12, 31), 2932896);
}

/* Every day from year 1 to 9999 converts back to itself, and consecutive days
 * are consecutive valid dates. */
static void test_day_roundtrip(void **state)
{
    (void)state;
    int py = 0, pm = 12, pd = 31;
    for (sgs_day day = sgs_day_from_ymd(1, 1, 1); day <= sgs_day_from_ymd(9999, 12, 31); day++) {
        int y, m, d;
        sgs_day_to_ymd(day, &y, &m, &d);
        assert_true(sgs_date_valid(y, m, d));
        assert_int_equal(sgs_day_from_ymd(y, m, d), day);
        if (d == 1) {
            assert_true((m == 1 && y == py + 1 && pm == 12 && pd == 31) ||
                        (y == py && m == pm + 1 && pd >= 28));
        } else {
            assert_true(y == py && m == pm && d == pd + 1);
        }
        py = y;
        pm = m;
        pd = d;
    }
    assert_int_equal(py, 9999);
}

static void test_weekday(void **state)
{
    (void)state;
    assert_int_equal(sgs_day_weekday(0), 3); /* 1970-01-01 Thursday */
    assert_int_equal(sgs_day_weekday(parse_day("2024-02-04")), 6);
    assert_int_equal(sgs_day_weekday(parse_day("2024-02-29")), 3);
    assert_int_equal(sgs_day_weekday(parse_day("2026-02-28")), 5);
    assert_int_equal(sgs_day_weekday(parse_day("2025-06-02")), 0);
    assert_int_equal(sgs_day_weekday(parse_day("1969-12-29")), 0);
    assert_int_equal(sgs_day_weekday(parse_day("1969-12-28")), 6);
    assert_int_equal(sgs_day_weekday(parse_day("0001-01-01")), 0);
}

static void test_date_valid(void **state)
{
    (void)state;
    assert_true(sgs_date_valid(2024, 2, 29));
    assert_true(sgs_date_valid(2000, 2, 29));
    assert_false(sgs_date_valid(2023, 2, 29));
    assert_false(sgs_date_valid(1900, 2, 29));
    assert_false(sgs_date_valid(2100, 2, 29));
    assert_true(sgs_date_valid(2023, 1, 31));
    assert_false(sgs_date_valid(2023, 4, 31));
    assert_false(sgs_date_valid(2023, 6, 31));
    assert_true(sgs_date_valid(2023, 12, 31));
    assert_false(sgs_date_valid(2023, 12, 32));
    assert_false(sgs_date_valid(2023, 13, 1));
    assert_false(sgs_date_valid(2023, 0, 1));
    assert_false(sgs_date_valid(2023, 1, 0));
    assert_false(sgs_date_valid(0, 1, 1));
    assert_false(sgs_date_valid(10000, 1, 1));
}

static void test_day_parse(void **state)
{
    (void)state;
    sgs_day d = 123;
    assert_int_equal(sgs_day_parse("2024-02-29", 10, &d), 0);
    assert_int_equal(d, 19782);
    /* Only len bytes are read: a longer buffer is fine. */
    assert_int_equal(sgs_day_parse("2023-12-22T10:00:00+08:00", 10, &d), 0);
    assert_int_equal(d, sgs_day_from_ymd(2023, 12, 22));

    static const char *const bad[] = {
        "2023-02-29",     "2100-02-29", "2023-04-31",  "2023-13-01", "2023-00-10", "2023-01-00",
        "0000-01-01",     "2023-1-01",  "2023/01/01",  "20230101",   "2023-01-1x", " 2023-01-0",
        "２０２３-01-01", "",           "2023-01-01 ", "+023-01-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = 77;
        assert_int_equal(sgs_day_parse(bad[i], strlen(bad[i]), &d), -1);
        assert_int_equal(d, 77);
    }
    assert_int_equal(sgs_day_parse("2023-01-01", 9, &d), -1);
    assert_int_equal(sgs_day_parse(NULL, 10, &d), -1);
}

static void test_day_format(void **state)
{
    (void)state;
    char buf[11], mbuf[8];
    assert_string_equal(sgs_day_format(19782, buf), "2024-02-29");
    assert_string_equal(sgs_day_format(0, buf), "1970-01-01");
    assert_string_equal(sgs_day_format(-1, buf), "1969-12-31");
    assert_string_equal(sgs_day_format(sgs_day_from_ymd(999, 1, 5), buf), "0999-01-05");
    assert_string_equal(sgs_day_format_month(19782, mbuf), "2024-02");
    assert_string_equal(sgs_day_format_month(parse_day("2023-12-31"), mbuf), "2023-12");
    assert_ptr_equal(sgs_day_format(0, buf), buf);
    assert_ptr_equal(sgs_day_format_month(0, mbuf), mbuf);
}

static void test_rfc3339_parse(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(rfc("2023-12-05T10:31:00+08:00", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("2023-12-05T02:31:00Z", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("2023-12-05t02:31:00z", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("2023-12-04T21:01:00-05:30", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("2023-12-05T10:31:00.999+08:00", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("2023-12-05T10:31:00.5Z", &t), 0);
    assert_int_equal(t, 1701743460 + 8 * 3600);
    assert_int_equal(rfc("2023-12-05T10:31:00.123456789012+08:00", &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(rfc("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(rfc("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(rfc("1970-01-01T07:59:59+08:00", &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(rfc("2024-02-29T23:59:59-00:00", &t), 0);
    assert_int_equal(t, (int64_t)19782 * 86400 + 86399);

    /* The day and month of an instant depend on the offset. */
    assert_int_equal(rfc("2023-12-31T16:30:00Z", &t), 0);
    char buf[11], mbuf[8];
    assert_string_equal(sgs_day_format(sgs_day_of_instant(t, 8 * 3600), buf), "2024-01-01");
    assert_string_equal(sgs_day_format_month(sgs_day_of_instant(t, 8 * 3600), mbuf), "2024-01");
    assert_string_equal(sgs_day_format(sgs_day_of_instant(t, 0), buf), "2023-12-31");
    assert_string_equal(sgs_day_format_month(sgs_day_of_instant(t, 0), mbuf), "2023-12");
    assert_string_equal(sgs_day_format(sgs_day_of_instant(t, 7 * 3600 + 1799), buf), "2023-12-31");
    assert_string_equal(sgs_day_format(sgs_day_of_instant(t, 7 * 3600 + 1800), buf), "2024-01-01");

    /* Only len bytes are read. */
    const char *longer = "2023-12-05T10:31:00+08:00garbage";
    assert_int_equal(sgs_rfc3339_parse(longer, 25, &t), 0);
    assert_int_equal(t, 1701743460);
    assert_int_equal(sgs_rfc3339_parse(longer, 24, &t), -1);
    assert_int_equal(sgs_rfc3339_parse(longer, 26, &t), -1);
}

static void test_rfc3339_reject(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2023-02-29T10:00:00+08:00", /* not a real date */
        "2023-04-31T10:00:00+08:00",
        "2023-01-01T24:00:00+08:00", /* hour 24 */
        "2023-01-01T23:60:00+08:00",
        "2023-01-01T23:59:60Z", /* leap second */
        "2023-01-01T10:00:00",  /* no offset */
        "2023-01-01 10:00:00+08:00",
        "2023-01-01T10:00+08:00",
        "2023-01-01T10:00:00+0800",
        "2023-01-01T10:00:00+08",
        "2023-01-01T10:00:00+24:00",
        "2023-01-01T10:00:00+08:60",
        "2023-01-01T10:00:00.+08:00",
        "2023-01-01T10:00:00.Z",
        "2023-01-01T10:00:00Zx",
        "2023-01-01T10:00:00+08:00 ",
        " 2023-01-01T10:00:00Z",
        "2023-1-01T10:00:00Z",
        "2023-01-01T1:00:00Z",
        "2023-01-01",
        "",
        "2023-01-01T10:00:00UTC",
        "2023-01-01T10:00:00GMT+8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t t = 42;
        if (rfc(bad[i], &t) != -1) {
            fail_msg("accepted '%s'", bad[i]);
        }
        assert_int_equal(t, 42);
    }
    assert_int_equal(sgs_rfc3339_parse(NULL, 20, NULL), -1);
}

static void test_rfc3339_format(void **state)
{
    (void)state;
    char buf[26];
    assert_string_equal(sgs_rfc3339_format(1701743460, 8 * 3600, buf), "2023-12-05T10:31:00+08:00");
    assert_string_equal(sgs_rfc3339_format(1701743460, 0, buf), "2023-12-05T02:31:00+00:00");
    assert_string_equal(sgs_rfc3339_format(1701743460, -(5 * 3600 + 30 * 60), buf),
                        "2023-12-04T21:01:00-05:30");
    assert_string_equal(sgs_rfc3339_format(-1, 0, buf), "1969-12-31T23:59:59+00:00");
    assert_string_equal(sgs_rfc3339_format(-1, 8 * 3600, buf), "1970-01-01T07:59:59+08:00");
    assert_ptr_equal(sgs_rfc3339_format(0, 0, buf), buf);

    /* parse(format(t)) == t for a spread of instants and offsets */
    static const int offsets[] = {0, 8 * 3600, -(5 * 3600 + 30 * 60), 14 * 3600, -12 * 3600};
    for (int64_t t = -5000000000LL; t < 5000000000LL; t += 7777777) {
        for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
            int64_t back = 0;
            sgs_rfc3339_format(t, offsets[i], buf);
            assert_int_equal(strlen(buf), 25);
            assert_int_equal(rfc(buf, &back), 0);
            assert_int_equal(back, t);
        }
    }
}

static void test_day_of_instant(void **state)
{
    (void)state;
    assert_int_equal(sgs_day_of_instant(0, 0), 0);
    assert_int_equal(sgs_day_of_instant(-1, 0), -1);
    assert_int_equal(sgs_day_of_instant(86399, 0), 0);
    assert_int_equal(sgs_day_of_instant(86400, 0), 1);
    assert_int_equal(sgs_day_of_instant(57600, 8 * 3600), 1); /* 16:00Z = 00:00+08 */
    assert_int_equal(sgs_day_of_instant(57599, 8 * 3600), 0);
    assert_int_equal(sgs_day_of_instant(3600, -2 * 3600), -1);
}

static void test_tz_offset_parse(void **state)
{
    (void)state;
    int off = 1;
    assert_int_equal(sgs_tz_offset_parse("+08:00", &off), 0);
    assert_int_equal(off, 28800);
    assert_int_equal(sgs_tz_offset_parse("-05:30", &off), 0);
    assert_int_equal(off, -19800);
    assert_int_equal(sgs_tz_offset_parse("Z", &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(sgs_tz_offset_parse("+0800", &off), 0);
    assert_int_equal(off, 28800);
    assert_int_equal(sgs_tz_offset_parse("-0930", &off), 0);
    assert_int_equal(off, -34200);
    assert_int_equal(sgs_tz_offset_parse("+00:00", &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(sgs_tz_offset_parse("+23:59", &off), 0);
    assert_int_equal(off, 86340);

    static const char *const bad[] = {"08:00",   "+8:00",   "+08:0",   "+08",    "+24:00",
                                      "+08:60",  "",        "+08:00x", "UTC",    "ZZ",
                                      "+08:00 ", " +08:00", "+08-00",  "+080",   "+08000",
                                      "+0860",   "-",       "+",       "+ab:cd", "GMT+8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        off = 99;
        if (sgs_tz_offset_parse(bad[i], &off) != -1) {
            fail_msg("accepted offset '%s'", bad[i]);
        }
        assert_int_equal(off, 99);
    }
    assert_int_equal(sgs_tz_offset_parse(NULL, &off), -1);
}

static void test_month_parse(void **state)
{
    (void)state;
    int y = 0, m = 0;
    assert_int_equal(sgs_month_parse("2024-01", &y, &m), 0);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 1);
    assert_int_equal(sgs_month_parse("2023-12", &y, &m), 0);
    assert_int_equal(y, 2023);
    assert_int_equal(m, 12);
    static const char *const bad[] = {"2024-13", "2024-00", "2024-1",  "2024-01-01", "202401",
                                      "2024/01", "0000-01", "",        "2024-01 ",   "24-01",
                                      "2024-1a", "abcd-01", "2024-012"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        y = m = 5;
        if (sgs_month_parse(bad[i], &y, &m) != -1) {
            fail_msg("accepted month '%s'", bad[i]);
        }
        assert_int_equal(y, 5);
        assert_int_equal(m, 5);
    }
    assert_int_equal(sgs_month_parse(NULL, &y, &m), -1);
}

static void test_month_format(void **state)
{
    (void)state;
    char buf[8];
    assert_string_equal(sgs_month_format(2025, 12, buf), "2025-12");
    assert_ptr_equal(sgs_month_format(7, 3, buf), buf);
    assert_string_equal(buf, "0007-03");
    assert_string_equal(sgs_month_format(12000, 1, buf), "9999-01");
    /* parse and format are inverses */
    int y = 0, m = 0;
    assert_int_equal(sgs_month_parse(sgs_month_format(1999, 9, buf), &y, &m), 0);
    assert_int_equal(y, 1999);
    assert_int_equal(m, 9);
}

static void test_month_days(void **state)
{
    (void)state;
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++)
        assert_int_equal(sgs_month_days(2023, m), len[m - 1]);
    assert_int_equal(sgs_month_days(2024, 2), 29);
    assert_int_equal(sgs_month_days(1900, 2), 28);
    assert_int_equal(sgs_month_days(2000, 2), 29);
}

static void test_month_add(void **state)
{
    (void)state;
    int y = 2025, m = 1;
    sgs_month_add(&y, &m, -1);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 12);
    sgs_month_add(&y, &m, 1);
    assert_int_equal(y, 2025);
    assert_int_equal(m, 1);
    sgs_month_add(&y, &m, 23);
    assert_int_equal(y, 2026);
    assert_int_equal(m, 12);
    sgs_month_add(&y, &m, -36);
    assert_int_equal(y, 2023);
    assert_int_equal(m, 12);
    sgs_month_add(&y, &m, 0);
    assert_int_equal(y, 2023);
    assert_int_equal(m, 12);
    y = 1, m = 1;
    sgs_month_add(&y, &m, -1);
    assert_int_equal(y, 0);
    assert_int_equal(m, 12);
}

static void test_month_first_last(void **state)
{
    (void)state;
    char buf[11];
    assert_int_equal(sgs_month_first(2024, 2), parse_day("2024-02-01"));
    assert_int_equal(sgs_month_last(2024, 2), parse_day("2024-02-29"));
    assert_int_equal(sgs_month_last(2023, 2), parse_day("2023-02-28"));
    assert_int_equal(sgs_month_last(2025, 12), parse_day("2025-12-31"));
    assert_int_equal(sgs_month_first(1970, 1), 0);
    assert_int_equal(sgs_month_last(1969, 12), -1);
    /* the month of a day is the month its first and last day belong to */
    assert_string_equal(sgs_day_format_month(sgs_month_first(2025, 7), buf), "2025-07");
    assert_string_equal(sgs_day_format_month(sgs_month_last(2025, 7), buf), "2025-07");
    assert_string_equal(sgs_day_format_month(sgs_month_last(2025, 7) + 1, buf), "2025-08");
    assert_int_equal(sgs_month_last(2025, 7) - sgs_month_first(2025, 7) + 1,
                     sgs_month_days(2025, 7));
}

/* The days kept per thread (date.c): days that share a slot, in a scrambled
 * order, again and again, and texts that are not dates between valid ones,
 * always give what the arithmetic gives. */
static void test_day_memo(void **state)
{
    uint32_t x = 2463534242u;

    (void)state;
    for (int i = 0; i < 200000; i++) {
        sgs_day day, got;
        int y, m, d;
        char want[16], buf[16], month[8];
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        day = (sgs_day)(19000 + (int)(x % 4096) * ((x >> 12) % 3 == 0 ? 16 : 1) % 4096);
        sgs_day_to_ymd(day, &y, &m, &d);
        snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, d);
        assert_string_equal(sgs_day_format(day, buf), want);
        assert_string_equal(sgs_day_format_month(day, month), (want[7] = '\0', want));
        want[7] = '-';
        assert_int_equal(sgs_day_parse(want, 10, &got), 0);
        assert_int_equal(got, day);
        if ((x >> 20) % 4 == 0) {
            want[9] = (char)('0' + (x >> 24) % 10); /* another day, or no day */
            want[8] = (char)('0' + (x >> 28) % 4);
            if (sgs_date_valid(y, m, (want[8] - '0') * 10 + (want[9] - '0'))) {
                assert_int_equal(sgs_day_parse(want, 10, &got), 0);
                assert_int_equal(got,
                                 sgs_day_from_ymd(y, m, (want[8] - '0') * 10 + (want[9] - '0')));
            } else {
                assert_int_equal(sgs_day_parse(want, 10, &got), -1);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_numbers),      cmocka_unit_test(test_day_roundtrip),
        cmocka_unit_test(test_weekday),          cmocka_unit_test(test_date_valid),
        cmocka_unit_test(test_day_parse),        cmocka_unit_test(test_day_format),
        cmocka_unit_test(test_day_memo),         cmocka_unit_test(test_rfc3339_parse),
        cmocka_unit_test(test_rfc3339_reject),   cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_day_of_instant),   cmocka_unit_test(test_tz_offset_parse),
        cmocka_unit_test(test_month_parse),      cmocka_unit_test(test_month_format),
        cmocka_unit_test(test_month_days),       cmocka_unit_test(test_month_add),
        cmocka_unit_test(test_month_first_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the forwarded copy's header value (consumer/route.c): what
 * forward.c writes is read back; anything else is malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "consumer.h"

static int parse(const char *v, sgs_fwd_header *h)
{
    return sgs_route_header_value_parse(v, strlen(v), h);
}

static void test_reads_what_forward_writes(void **state)
{
    (void)state;
    sgs_fwd_header h;
    char v[96];
    snprintf(v, sizeof(v), "%s:%" PRId32 ":%" PRId64 ":%" PRId64, "0123456789abcdef",
             (int32_t)INT32_MAX, (int64_t)999999999999999999LL, (int64_t)0);
    assert_int_equal(parse(v, &h), 0);
    assert_string_equal(h.epoch, "0123456789abcdef");
    assert_int_equal(h.partition, INT32_MAX);
    assert_int_equal(h.offset, 999999999999999999LL);
    assert_int_equal(h.seq, 0);
    assert_int_equal(parse("fedcba9876543210:7:12345:42", &h), 0);
    assert_int_equal(h.partition, 7);
    assert_int_equal(h.offset, 12345);
    assert_int_equal(h.seq, 42);
    /* the value is not NUL-terminated in a message: only len bytes count */
    assert_int_equal(sgs_route_header_value_parse("fedcba9876543210:1:2:3999", 22, &h), 0);
    assert_int_equal(h.seq, 3);
}

static void test_refuses_anything_else(void **state)
{
    (void)state;
    sgs_fwd_header h;
    static const char *const bad[] = {
        "",
        "fedcba9876543210",
        "fedcba9876543210:",
        "fedcba987654321:1:2:3",    /* 15 hex digits */
        "fedcba98765432100:1:2:3",  /* 17 */
        "FEDCBA9876543210:1:2:3",   /* upper case */
        "fedcba987654321g:1:2:3",   /* not hex */
        "fedcba9876543210:1:2",     /* a part missing */
        "fedcba9876543210:1:2:3:4", /* one too many */
        "fedcba9876543210:1:2:3 ",  /* trailing bytes */
        "fedcba9876543210: 1:2:3",  /* spaces */
        "fedcba9876543210:+1:2:3",  /* signs */
        "fedcba9876543210:-1:2:3",
        "fedcba9876543210:1::3",                    /* an empty number */
        "fedcba9876543210:2147483648:2:3",          /* partition above INT32_MAX */
        "fedcba9876543210:1:1234567890123456789:3", /* 19 digits */
        "fedcba9876543210;1;2;3",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &h) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(sgs_route_header_value_parse(NULL, 0, &h), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_what_forward_writes),
        cmocka_unit_test(test_refuses_anything_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

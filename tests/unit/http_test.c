/* Unit tests of common/src/http.c's pure parts: the constant-time token
 * comparison and listen addresses; and of prom.c: histograms, label escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "sgs/http.h"
#include "sgs/prom.h"

static int eq(const char *a, const char *b)
{
    return sgs_http_token_equal(a, strlen(a), b, strlen(b));
}

static void test_token_equal(void **state)
{
    (void)state;
    assert_true(eq("s3cret", "s3cret"));
    assert_false(eq("s3cret", "s3cre"));   /* shorter */
    assert_false(eq("s3cret1", "s3cret")); /* longer */
    assert_false(eq("", "s3cret"));
    assert_false(eq("S3cret", "s3cret"));
    assert_false(eq("s3crex", "s3cret"));
    assert_true(eq("", ""));
    /* a given token holding a NUL byte is not the want token */
    assert_false(sgs_http_token_equal("s3\0ret", 6, "s3cret", 6));
    /* no read past a short given token */
    assert_false(sgs_http_token_equal("s", 1, "s3cret", 6));
}

static void test_listen_parse(void **state)
{
    struct sockaddr_storage a;
    socklen_t n;
    char err[256];
    (void)state;

    assert_int_equal(sgs_http_listen_parse("127.0.0.1:8080", &a, &n, err, sizeof(err)), 0);
    assert_int_equal(a.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 8080);
    assert_int_equal(ntohl(((struct sockaddr_in *)&a)->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(sgs_http_listen_parse("0.0.0.0:9464", &a, &n, err, sizeof(err)), 0);
    assert_int_equal(sgs_http_listen_parse("[::1]:0", &a, &n, err, sizeof(err)), 0);
    assert_int_equal(a.ss_family, AF_INET6);
    assert_int_equal(sgs_http_listen_parse(":8080", &a, &n, err, sizeof(err)), 0);
    assert_int_equal(sgs_http_listen_parse("localhost:1", &a, &n, err, sizeof(err)), 0);

    assert_int_equal(sgs_http_listen_parse("127.0.0.1", &a, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(sgs_http_listen_parse("127.0.0.1:65536", &a, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "65536"));
    assert_int_equal(sgs_http_listen_parse("127.0.0.1:8o80", &a, &n, err, sizeof(err)), -1);
    assert_int_equal(sgs_http_listen_parse("127.0.0.1:", &a, &n, err, sizeof(err)), -1);
    assert_int_equal(sgs_http_listen_parse("::1:80", &a, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "brackets"));
    assert_int_equal(sgs_http_listen_parse("[::1]80", &a, &n, err, sizeof(err)), -1);
    assert_int_equal(sgs_http_listen_parse("", &a, &n, err, sizeof(err)), -1);
    assert_int_equal(sgs_http_listen_parse(NULL, &a, &n, err, sizeof(err)), -1);
    assert_int_equal(sgs_http_listen_parse("no.such.host.invalid:80", &a, &n, err, sizeof(err)),
                     -1);
}

static void test_histogram(void **state)
{
    sgs_prom_hist h;
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    memset(&h, 0, sizeof(h));
    sgs_prom_hist_observe(&h, 0.0005); /* first bucket */
    sgs_prom_hist_observe(&h, 0.001);  /* le is inclusive */
    sgs_prom_hist_observe(&h, 0.02);
    sgs_prom_hist_observe(&h, 100); /* +Inf */
    sgs_prom_hist_observe(&h, -1);  /* clamped to 0 */
    assert_int_equal(h.count, 5);
    sgs_prom_hist_write(&b, "x_seconds", "a=\"1\"", &h);
    assert_non_null(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.001\"} 3\n"));
    assert_non_null(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"0.025\"} 4\n"));
    assert_non_null(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"30\"} 4\n"));
    assert_non_null(strstr(b.data, "x_seconds_bucket{a=\"1\",le=\"+Inf\"} 5\n"));
    assert_non_null(strstr(b.data, "x_seconds_count{a=\"1\"} 5\n"));
    assert_non_null(strstr(b.data, "x_seconds_sum{a=\"1\"} 100.02"));
    sgs_buf_free(&b);
}

static void test_labels_escaped(void **state)
{
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    sgs_prom_label(&b, "topic", "a\"b\\c\nd", 1);
    sgs_prom_label(&b, "partition", "3", 0);
    assert_string_equal(b.data, "topic=\"a\\\"b\\\\c\\nd\",partition=\"3\"");
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_labels_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

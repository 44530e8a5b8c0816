/* Unit tests of the fetcher wake-up (consumer/kick.c) against librdkafka's
 * mock cluster, in process: the wake-up puts its request on the leader's
 * broker thread and returns without waiting for the reply. The broker answers
 * every request 1.5 s late (its round-trip time set so); the wake-up returns
 * long before, a second one goes while the first's reply is owed, and both
 * requests are seen sent (librdkafka's protocol log). The watermark query the
 * wake-up once was waits for that reply: the same case shows it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "consumer.h"

#define TOPIC  "kick.records"
#define RTT_MS 1500

static atomic_int list_offsets_sent;

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    if (strstr(buf, "Sent ListOffsetsRequest"))
        atomic_fetch_add(&list_offsets_sent, 1);
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static rd_kafka_t *consumer_on_mock(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "kick", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "debug", "protocol", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, TOPIC, 4, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* the partitions' leader known (the wake-up looks leaders up without
     * waiting) */
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, TOPIC, NULL);
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(rk, 0, t, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(md->topic_cnt, 1);
    assert_int_equal(md->topics[0].partition_cnt, 4);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    assert_int_equal(rd_kafka_mock_broker_set_rtt(mc, 1, RTT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    return rk;
}

/* Waits until n ListOffsets requests more than `before` were sent, for up to
 * ms; how many were. */
static int sent_within(int before, int n, int64_t ms)
{
    int64_t deadline = mono_ms() + ms;
    while (atomic_load(&list_offsets_sent) - before < n && mono_ms() < deadline) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    return atomic_load(&list_offsets_sent) - before;
}

static void test_kick_does_not_wait_for_the_reply(void **state)
{
    (void)state;
    rd_kafka_t *rk = consumer_on_mock();
    const int32_t parts[] = {0, 2, 3};
    int64_t t0, took;
    int before = atomic_load(&list_offsets_sent);

    t0 = mono_ms();
    sgs_kick_fetchers(rk, TOPIC, parts, 3);
    took = mono_ms() - t0;
    print_message("wake-up returned after %lld ms (the broker answers after %d)\n", (long long)took,
                  RTT_MS);
    assert_true(took < RTT_MS / 3);
    /* a second one goes too while the first's reply is owed (the thread that
     * made the wake-ups before could not: it waited for the reply) */
    sgs_kick_fetchers(rk, TOPIC, parts + 1, 1);
    /* both went to the leader before any reply: one request each, for all
     * the partitions it names */
    assert_int_equal(sent_within(before, 2, RTT_MS * 2 / 3), 2);
    /* nothing to wake: no request */
    sgs_kick_fetchers(rk, TOPIC, parts, 0);

    /* what it replaced: a watermark query waits for the late reply */
    int64_t lo = -1, hi = -1;
    t0 = mono_ms();
    assert_int_equal(rd_kafka_query_watermark_offsets(rk, TOPIC, 1, &lo, &hi, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    took = mono_ms() - t0;
    assert_true(took >= RTT_MS / 2);
    assert_int_equal(hi, 0);
    /* the wake-ups' replies, dropped, came meanwhile: the handle closes
     * cleanly (AddressSanitizer watches the callback of a reply whose caller
     * has gone); the query sent two requests */
    rd_kafka_destroy(rk);
    assert_int_equal(atomic_load(&list_offsets_sent) - before, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_does_not_wait_for_the_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

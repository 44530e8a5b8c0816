/* Publishing snapshots on topic.snapshots (key YYYY-MM, meant for a compacted
 * topic). One message at a time: the caller waits for its delivery report, so a
 * snapshot counts as published only when the broker acknowledged it.
 *
 * The wait is bounded by report.publish_timeout_s (librdkafka's own
 * message.timeout.ms is 5 minutes unless kafka.message.timeout.ms says
 * otherwise, and a delivery report that does not come in that time is given
 * up: the message is purged). Every failure names the topic and the brokers
 * (kafka.bootstrap.servers as librdkafka has them), the first things to
 * check when Kafka cannot be reached. */
#include "agg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "sgs/clock.h"
#include "sgs/kafkaconf.h"
#include "sgs/log.h"

struct sgs_agg_publisher {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt; /* created up front: its metadata is fetched while we build */
    char *topic;
    char brokers[512]; /* bootstrap.servers, for messages */
    long timeout_s;    /* report.publish_timeout_s */
    uint64_t seq;      /* number of the message in flight */
    int done;          /* its delivery report arrived */
    rd_kafka_resp_err_t err;
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    sgs_agg_publisher *p = opaque;

    (void)rk;
    if ((uint64_t)(uintptr_t)msg->_private == p->seq) {
        p->done = 1;
        p->err = msg->err;
    }
}

sgs_agg_publisher *sgs_agg_publisher_create(const sgs_config *cfg, char *errstr, size_t errstr_size)
{
    sgs_agg_publisher *p = calloc(1, sizeof(*p));
    const char *topic = sgs_config_get(cfg, "topic.snapshots");

    if (!p) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!topic || !*topic) {
        snprintf(errstr, errstr_size, "topic.snapshots: must not be empty");
        free(p);
        return NULL;
    }
    p->topic = strdup(topic);
    p->rk = p->topic ? sgs_kafka_producer_new(cfg, dr_msg_cb, p, errstr, errstr_size) : NULL;
    if (!p->rk) {
        if (!p->topic)
            snprintf(errstr, errstr_size, "out of memory");
        free(p->topic);
        free(p);
        return NULL;
    }
    {
        size_t size = sizeof(p->brokers);

        if (rd_kafka_conf_get(rd_kafka_conf(p->rk), "bootstrap.servers", p->brokers, &size) !=
                RD_KAFKA_CONF_OK ||
            !p->brokers[0])
            snprintf(p->brokers, sizeof(p->brokers), "(none)");
    }
    p->timeout_s = sgs_config_get_int(cfg, "report.publish_timeout_s");
    p->rkt = rd_kafka_topic_new(p->rk, p->topic, NULL);
    if (!p->rkt) {
        snprintf(errstr, errstr_size, "topic.snapshots: '%s': %s", p->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(p->rk);
        free(p->topic);
        free(p);
        return NULL;
    }
    return p;
}

void sgs_agg_publisher_destroy(sgs_agg_publisher *p)
{
    if (!p)
        return;
    /* Every message was waited for; whatever is still queued belongs to an
     * abandoned wait (signal) and is dropped rather than blocking the exit. */
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
    free(p->topic);
    free(p);
}

const char *sgs_agg_publisher_topic(const sgs_agg_publisher *p)
{
    return p->topic;
}

int sgs_agg_publish(sgs_agg_publisher *p, const char *key, const char *value, size_t len,
                    volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err;
    int64_t deadline = sgs_clock_mono_ms() + (int64_t)p->timeout_s * 1000;

    p->seq++;
    p->done = 0;
    p->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_KEY((void *)key, strlen(key)),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)p->seq), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        snprintf(errstr, errstr_size,
                 "topic %s: %s is %zu bytes, more than kafka.message.max.bytes allows (raise it, "
                 "and the topic's max.message.bytes)",
                 p->topic, key, len);
        return -1;
    }
    if (err) {
        snprintf(errstr, errstr_size, "topic %s: cannot produce %s: %s (brokers %s)", p->topic, key,
                 rd_kafka_err2str(err), p->brokers);
        return -1;
    }
    while (!p->done) {
        rd_kafka_poll(p->rk, 100);
        if ((stop && *stop) || sgs_clock_mono_ms() >= deadline) {
            rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(p->rk, 0);
            p->seq++; /* a late report of the abandoned message is ignored */
            if (stop && *stop)
                snprintf(errstr, errstr_size,
                         "topic %s: %s: interrupted before the delivery report (brokers %s)",
                         p->topic, key, p->brokers);
            else
                snprintf(errstr, errstr_size,
                         "topic %s: %s: not delivered within %ld s (report.publish_timeout_s): "
                         "are the brokers %s (kafka.bootstrap.servers) reachable?",
                         p->topic, key, p->timeout_s, p->brokers);
            return -1;
        }
    }
    if (p->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        snprintf(errstr, errstr_size,
                 "topic %s: the broker refused %s (%zu bytes) as too large: raise the topic's "
                 "max.message.bytes",
                 p->topic, key, len);
        return -1;
    }
    if (p->err) {
        snprintf(errstr, errstr_size, "topic %s: delivery of %s failed: %s (brokers %s)", p->topic,
                 key, rd_kafka_err2str(p->err), p->brokers);
        return -1;
    }
    return 0;
}

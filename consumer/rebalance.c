/* Kafka set-up and the callbacks librdkafka calls from inside poll: rebalances
 * (assignment at the offsets Redis stores; the batch in hand written or
 * dropped on revoke), errors and logs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "parts.h"
#include "sgs/kafkaconf.h"
#include "sgs/log.h"

static void on_assign(sgs_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int redis_ok = sgs_writer_quiet(c) == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;

    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_state *ps = sgs_parts_get(c, p);
        if (!ps)
            continue;
        ps->gen++;
        ps->assigned = 1;
        ps->paused = 0;
        ps->at_eof = 0;
        ps->needs_sync = 1;
        ps->next = -1;
        ps->gap_warned = -1;
        if (redis_ok && sgs_sync_partition(c, p) == 0) {
            ps->needs_sync = 0;
            ps->next = ps->stored;
            /* Redis is the truth; a partition it has no state of (and that
             * shows no sign of having been consumed, sync.c) starts at its
             * beginning: never at Kafka's committed offset. */
            parts->elems[i].offset = ps->stored >= 0 ? ps->stored : RD_KAFKA_OFFSET_BEGINNING;
        } else {
            redis_ok = 0;
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        }
        sgs_info("assigned %s [%" PRId32 "] at %s%" PRId64, c->topic, p,
                 ps->needs_sync ? "(unknown until Redis answers) " : "",
                 ps->stored >= 0 ? ps->stored : (int64_t)-1);
    }
    if (c->cooperative)
        error = rd_kafka_incremental_assign(c->rk, parts);
    else
        err = rd_kafka_assign(c->rk, parts);
    if (error) {
        sgs_error("incremental assign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (err) {
        sgs_error("assign: %s", rd_kafka_err2str(err));
    }
    /* librdkafka keeps a partition's pause across an unassign and a new
     * assign: one paused before it was revoked (a fence, a resync, Redis
     * down) would stay stopped for good while its state here says running.
     * So a partition that was paused at its revoke is resumed here; the ones
     * that must wait are paused again just below. Only those: a resume
     * moves librdkafka's version barrier even for a partition that is not
     * paused, and its offset lookup, sent by the assign, then comes back
     * outdated and is asked again 500 ms later (librdkafka 2.0.2,
     * rd_kafka_toppar_pause_resume). Resuming all of the mock benchmark's 32
     * partitions made their first fetches straggle over 200 ms of its
     * reading time. */
    rd_kafka_topic_partition_list_t *held = rd_kafka_topic_partition_list_new(1);
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = sgs_parts_get(c, parts->elems[i].partition);
        if (ps && ps->paused_at_revoke) {
            rd_kafka_topic_partition_list_add(held, c->topic, parts->elems[i].partition);
            ps->paused_at_revoke = 0;
        }
    }
    if (held->cnt && (err = rd_kafka_resume_partitions(c->rk, held)) != 0)
        sgs_warn("resuming assigned partitions: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(held);
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = sgs_parts_get(c, parts->elems[i].partition);
        if (ps && ps->needs_sync)
            sgs_parts_pause(c, parts->elems[i].partition, 1);
    }
    if (c->batch_paused || c->outbox_paused || c->copies_paused) /* no fetching new ones */
        sgs_parts_pause(c, -1, 1);
    c->joined = 1;
}

static void on_revoke(sgs_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int lost = rd_kafka_assignment_lost(c->rk);
    int in_hand = 0;
    rd_kafka_error_t *error = NULL;

    /* Lost partitions may have a new owner already: their batches are dropped
     * (a reply still owed for one is then ignored; the fence refuses it if the
     * new owner has written). The replies owed for the others are taken first. */
    for (int i = 0; lost && i < parts->cnt; i++)
        sgs_writer_drop(c, parts->elems[i].partition);
    if (c->n_inflight)
        sgs_writer_settle(c);
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = sgs_parts_get(c, parts->elems[i].partition);
        if (ps && (ps->batch.n_msgs || ps->sent.n_msgs))
            in_hand = 1;
    }
    /* The batches in hand are applied whole (one attempt) or dropped whole; if
     * the partitions were lost, a new owner may already be ahead: the fence
     * would refuse them anyway, so they are dropped. */
    if (in_hand && !lost) {
        int rc;
        c->retry_at = 0;
        rc = sgs_writer_flush(c);
        if (rc == -2)
            sgs_warn("revoke: copies forwarded by the batch in hand still undelivered after "
                     "30 s; dropping it (the next owner reads it again, and forwards the same "
                     "copies under the same numbers: the second of each counts nowhere)");
        else if (rc != 0)
            sgs_warn("revoke: Redis unavailable, dropping the batch in hand (the next owner "
                     "re-reads it)");
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_state *ps = sgs_parts_get(c, p);
        if (!ps)
            continue;
        sgs_writer_drop(c, p);
        ps->assigned = 0;
        ps->paused_at_revoke = ps->paused;
        ps->paused = 0;
        ps->needs_sync = 0;
        ps->at_eof = 0;
        ps->stored = -1;
        ps->next = -1;
        ps->seek_failed = 0;
        sgs_info("revoked %s [%" PRId32 "]%s", c->topic, p, lost ? " (lost)" : "");
    }
    /* A member left with no partition is in a rebalance until its next
     * assignment (empty or not), not idle: --exit-on-idle would otherwise stop
     * it before it is given the partitions it just had, and nobody would read
     * them. Both protocols call the assign callback after such a revoke, with
     * an empty list when nothing comes back (librdkafka 2.0's cooperative
     * assign follows every revoke of a rebalance, as KIP-429 asks). */
    c->joined = 0;
    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].assigned)
            c->joined = 1;
    if (c->cooperative)
        error = rd_kafka_incremental_unassign(c->rk, parts);
    else
        rd_kafka_assign(c->rk, NULL);
    if (error) {
        sgs_error("incremental unassign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sgs_consumer *c = opaque;
    /* the messages polled before this callback are read first, as a loop that
     * reads one message at a time would have read them (ahead.h) */
    sgs_writer_take_in_hand(c);
    c->cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(c, parts);
    } else {
        sgs_error("rebalance failed: %s", rd_kafka_err2str(err));
        on_revoke(c, parts);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sgs_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        sgs_error("fatal Kafka error: %s: %s; draining and exiting", rd_kafka_err2name(orig), buf);
        c->fatal = 1;
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        sgs_warn("kafka: all brokers down (%s); retrying", reason);
        sgs_health_brokers_down(c); /* issue 13: stats line, /healthz */
    } else {
        sgs_debug("kafka: %s: %s", rd_kafka_err2name(err), reason);
    }
}

/* The producer's delivery reports: forwarded copies and outbox items. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sgs_consumer *c = opaque;
    const int *kind = m->_private;
    (void)rk;
    if (!kind)
        return;
    if (*kind == SGS_DR_FORWARD)
        sgs_forward_on_dr(c, m);
    else if (*kind == SGS_DR_OUTBOX)
        sgs_outbox_on_dr(c, m);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sgs_error("librdkafka %s: %s", fac, buf);
    else if (level <= 4)
        sgs_warn("librdkafka %s: %s", fac, buf);
    else
        sgs_debug("librdkafka %s: %s", fac, buf);
}

int sgs_rebalance_start(sgs_consumer *c, char *errstr, size_t errstr_size)
{
    /* Fetch long polls are kept short (sgs_kafka_consumer_defaults) so that the
     * fetcher wake-ups (kick.c) never wait long behind one. */
    rd_kafka_conf_t *conf =
        sgs_kafka_conf_new(c->cfg, sgs_kafka_consumer_defaults, errstr, errstr_size);
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t e;
    char kerr[512];

    if (!conf)
        return -1;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    sgs_health_kafka_conf(c, conf); /* issue 13: which brokers are up */
    {
        /* the fetcher's limit, below which the loop wakes it (kick_fetcher) */
        char v[32];
        size_t vn = sizeof(v);
        if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", v, &vn) == RD_KAFKA_CONF_OK)
            c->fetch_queue_bytes = (size_t)strtoull(v, NULL, 10) * 1024;
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof(kerr));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errstr_size, "kafka consumer: %s", kerr);
        return -1;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->rkq = rd_kafka_queue_get_consumer(c->rk);
    c->producer = sgs_kafka_producer_new(c->cfg, dr_cb, c, errstr, errstr_size);
    if (!c->producer)
        return -1;
    /* The topics the producer writes, made known to it now. librdkafka 2.0.2
     * learns a topic's partitions when the first message names it, on its next
     * one-second metadata round: the alerts and rejects of the first second of
     * reading waited that long in its queue, and their batches' outbox entries
     * with them (11 MB at 1M records: docs/PERFORMANCE.md). Made here, the
     * topics are known long before the group gives this member partitions. */
    {
        const char *names[] = {[SGS_PRODUCED_ALERTS] = sgs_config_get(c->cfg, "topic.alerts"),
                               [SGS_PRODUCED_REJECTS] = sgs_config_get(c->cfg, "topic.rejects"),
                               [SGS_PRODUCED_RECORDS] = c->topic};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            c->produced[i] = rd_kafka_topic_new(c->producer, names[i], NULL);
            if (!c->produced[i]) {
                snprintf(errstr, errstr_size, "kafka producer: topic %s: %s", names[i],
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
            }
        }
    }
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", c->topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Delivery of alerts and rejects (at-least-once): each batch's messages are
 * stored in Redis by the batch script, produced here, and the Redis copy is
 * deleted once every delivery report of the batch is positive. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/log.h"
#include "sgs/store.h"

struct produce_ctx {
    sgs_consumer *c;
    outbox_entry *e;
};

static void produce_one(void *arg, char type, const char *key, size_t klen, const char *value,
                        size_t vlen)
{
    struct produce_ctx *pc = arg;
    sgs_consumer *c = pc->c;
    const char *topic =
        sgs_config_get(c->cfg, type == SGS_STORE_OUTBOX_ALERT ? "topic.alerts" : "topic.rejects");
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(
            c->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(klen ? key : NULL, klen),
            RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(pc->e), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(c->producer, 100); /* serve delivery reports to make room */
    }
    if (err) {
        sgs_error("producing to %s failed: %s; will retry", topic, rd_kafka_err2str(err));
        pc->e->failed = 1;
        return;
    }
    pc->e->pending++;
    if (type == SGS_STORE_OUTBOX_ALERT)
        c->alerts_sent++;
}

static void send_entry(sgs_consumer *c, outbox_entry *e)
{
    struct produce_ctx pc = {c, e};
    e->failed = 0;
    e->pending++; /* guard: reaping waits until every message is queued */
    if (sgs_store_outbox_each(e->blob, e->len, produce_one, &pc) != 0)
        sgs_error("partition %" PRId32 ": outbox entry %" PRId64 " is corrupt; skipped its rest",
                  e->partition, e->end);
    e->pending--;
}

void sgs_outbox_send(sgs_consumer *c, int32_t partition, int64_t end, const char *blob, size_t len)
{
    outbox_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->blob = malloc(len ? len : 1))) {
        free(e);
        sgs_error("out of memory queuing alerts; they stay in the Redis outbox");
        return;
    }
    memcpy(e->blob, blob, len);
    e->len = len;
    e->partition = partition;
    e->end = end;
    e->next = c->outbox;
    c->outbox = e;
    c->outbox_pending++;
    send_entry(c, e);
}

void sgs_outbox_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sgs_consumer *c = opaque;
    outbox_entry *e = m->_private;
    (void)rk;
    if (!e)
        return;
    if (m->err) {
        c->delivery_failures++;
        sgs_warn("delivery to %s failed: %s; the batch's messages will be re-sent",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        e->failed = 1;
    }
    e->pending--;
}

int sgs_outbox_tracked(const sgs_consumer *c, int32_t partition, int64_t end)
{
    for (const outbox_entry *e = c->outbox; e; e = e->next)
        if (e->partition == partition && e->end == end)
            return 1;
    return 0;
}

void sgs_outbox_reap(sgs_consumer *c)
{
    outbox_entry **pp = &c->outbox;
    while (*pp) {
        outbox_entry *e = *pp;
        if (e->pending > 0) {
            pp = &e->next;
            continue;
        }
        if (e->failed) {
            int64_t now = sgs_clock_mono_ms();
            if (now >= e->retry_at) {
                e->retry_at = now + 1000;
                send_entry(c, e);
            }
            pp = &e->next;
            continue;
        }
        /* delivered: delete the Redis copy with the partition's next script (or flush_acks) */
        part_state *ps = sgs_parts_get(c, e->partition);
        if (ps)
            sgs_parts_add_ack(ps, e->end);
        *pp = e->next;
        c->outbox_pending--;
        free(e->blob);
        free(e);
    }
}

void sgs_outbox_free(sgs_consumer *c)
{
    while (c->outbox) {
        outbox_entry *e = c->outbox;
        c->outbox = e->next;
        free(e->blob);
        free(e);
    }
    c->outbox_pending = 0;
}

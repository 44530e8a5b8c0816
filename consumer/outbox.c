/* Delivery of alerts and rejects (at-least-once): each batch's messages are
 * stored in Redis by the batch script (its outbox entry), produced here item
 * by item, and the Redis copy is deleted once every item is delivered. An
 * item whose delivery failed is produced again after a backoff; one that
 * librdkafka's bounded queue refused goes as soon as there is room, the
 * oldest entry's first; a delivered one never is. A reject the broker finds too large is cut until
 * it fits. The entries in delivery are bounded (consumer.outbox.max_entries / max_bytes): at the
 * cap the consumer pauses its partitions until deliveries catch up, instead
 * of growing without end or blocking inside poll.
 *
 * New entries are gathered for up to ROUND_MS and produced together. A batch's
 * reply comes every millisecond or two, with a few items each; produced at
 * once, every few of them woke the producer's broker thread and went in a
 * produce request of their own (linger.ms, 5, is kept short for forwarded
 * copies). On the mock benchmark that thread then took ~10 % of a core while
 * messages were read; gathered, ~4 % (docs/PERFORMANCE.md, "Alerts in
 * rounds"). The alerts are PUBLISHed by the batch script without waiting for
 * this; the topics get them up to ROUND_MS later. Gathered entries go at once
 * when the outbox is full and when the consumer stops. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "consumer.h"
#include "parts.h"
#include "sgs/clock.h"
#include "sgs/log.h"
#include "sgs/store.h"

enum { ITEM_QUEUED = 0, ITEM_IN_FLIGHT, ITEM_DELIVERED };

#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS   30000
#define ROUND_MS       50

struct parse_ctx {
    outbox_entry *e;
    size_t cap;
    int oom;
};

static void add_item(void *arg, char type, const char *key, size_t klen, const char *value,
                     size_t vlen)
{
    struct parse_ctx *pc = arg;
    outbox_entry *e = pc->e;
    outbox_item *it;
    if (pc->oom)
        return;
    if (e->n_items == pc->cap) {
        size_t nc = pc->cap ? pc->cap * 2 : 8;
        outbox_item *ni = realloc(e->items, nc * sizeof(*ni));
        if (!ni) {
            pc->oom = 1;
            return;
        }
        e->items = ni;
        pc->cap = nc;
    }
    it = &e->items[e->n_items++];
    memset(it, 0, sizeof(*it));
    it->kind = SGS_DR_OUTBOX;
    it->entry = e;
    it->type = type;
    it->key_off = (size_t)(key - e->blob);
    it->key_len = klen;
    it->val_off = (size_t)(value - e->blob);
    it->val_len = vlen;
}

/* Produces one item; QUEUE_FULL and other local errors leave it queued for the
 * next round (never a wait inside poll). Returns librdkafka's answer. */
static rd_kafka_resp_err_t produce_item(sgs_consumer *c, outbox_entry *e, outbox_item *it)
{
    rd_kafka_topic_t *rkt = c->produced[it->type == SGS_STORE_OUTBOX_ALERT ? SGS_PRODUCED_ALERTS
                                                                           : SGS_PRODUCED_REJECTS];
    const char *value = it->cut ? it->cut : e->blob + it->val_off;
    size_t vlen = it->cut ? it->cut_len : it->val_len;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->producer, RD_KAFKA_V_RKT(rkt),
        /* a reject without a unit: an empty key (REFERENCE §2), not none */
        RD_KAFKA_V_KEY(it->key_len ? e->blob + it->key_off : "", it->key_len),
        RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(it), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        /* not a failure: the queue is bounded (sgs_kafka_producer_new), and
         * the item goes once deliveries make room, without a backoff */
        e->room = 1;
        c->outbox_waits_room = 1;
        return err;
    }
    if (err) {
        snprintf(e->last_error, sizeof(e->last_error), "producing to %s: %s",
                 rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
        e->failed = 1;
        return err;
    }
    it->state = ITEM_IN_FLIGHT;
    e->pending++;
    if (it->type == SGS_STORE_OUTBOX_ALERT) {
        c->alerts_sent++;
        /* issue 13: sgs_consumer_alerts_total{type}; both writers (batch.c, the
         * script) start an alert with its type */
        if (vlen >= 19 && memcmp(value, "{\"type\":\"late_rate\"", 19) == 0)
            c->alerts_late_rate++;
        else
            c->alerts_late++;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Produces the entry's items that are not delivered nor in flight. */
static void send_undelivered(sgs_consumer *c, outbox_entry *e)
{
    e->failed = 0;
    e->room = 0;
    for (size_t i = 0; i < e->n_items; i++)
        if (e->items[i].state == ITEM_QUEUED &&
            produce_item(c, e, &e->items[i]) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break; /* the rest wait for room too */
}

/* Compares the entries in delivery with the caps. say: and says so, once per
 * change. An entry added is compared at once (the loop then holds its batch
 * back) and said at the next reap, when the refusals' reason is known. */
static void check_caps(sgs_consumer *c, int say)
{
    int full = c->outbox_pending >= c->cf_outbox_entries || c->outbox_bytes >= c->cf_outbox_bytes;
    if (full && !c->outbox_full)
        c->outbox_full_times++;
    c->outbox_full = full;
    if (!say || full == c->outbox_full_said)
        return;
    if (full) {
        const char *why = c->outbox && c->outbox->last_error[0] ? c->outbox->last_error : "";
        sgs_error("outbox full: %zu batches (%zu bytes) of alerts/rejects undelivered%s%s; "
                  "consumption paused until they are delivered",
                  c->outbox_pending, c->outbox_bytes, why[0] ? ": " : "", why);
    } else {
        sgs_info("outbox below its caps again (%zu batches, %zu bytes); resuming",
                 c->outbox_pending, c->outbox_bytes);
    }
    c->outbox_full_said = full;
}

void sgs_outbox_send(sgs_consumer *c, int32_t partition, int64_t end, const char *blob, size_t len)
{
    outbox_entry *e = calloc(1, sizeof(*e));
    struct parse_ctx pc = {e, 0, 0};
    if (!e || !(e->blob = malloc(len ? len : 1))) {
        free(e);
        sgs_error("out of memory queuing alerts; they stay in the Redis outbox");
        return;
    }
    memcpy(e->blob, blob, len);
    e->len = len;
    e->partition = partition;
    e->end = end;
    if (sgs_store_outbox_each(e->blob, e->len, add_item, &pc) != 0)
        sgs_error("partition %" PRId32 ": outbox entry %" PRId64 " is corrupt; delivering the "
                  "items before the fault",
                  partition, end);
    if (pc.oom) {
        free(e->items);
        free(e->blob);
        free(e);
        sgs_error("out of memory queuing alerts; they stay in the Redis outbox");
        return;
    }
    /* oldest first: room in librdkafka's queue goes to the oldest entry */
    *c->outbox_tail = e;
    c->outbox_tail = &e->next;
    c->outbox_pending++;
    c->outbox_bytes += len;
    e->held = 1;
    if (!c->outbox_round_at)
        c->outbox_round_at = sgs_clock_mono_ms() + ROUND_MS;
    check_caps(c, 0); /* known full at once: the loop sends no batch on a dry queue then */
}

/* A reject the broker refused as too large, cut to half its payload (the
 * reject says so: payload_truncated, payload_bytes keep the original size).
 * 0, or -1 when it cannot be cut further. */
static int cut_reject(outbox_entry *e, outbox_item *it)
{
    const char *v = it->cut ? it->cut : e->blob + it->val_off;
    size_t vl = it->cut ? it->cut_len : it->val_len;
    json_error_t jerr;
    json_t *j = json_loadb(v, vl, 0, &jerr), *p;
    const char *s;
    size_t n, keep;
    char *out;
    if (!j || !(p = json_object_get(j, "payload")) || !json_is_string(p)) {
        json_decref(j);
        return -1;
    }
    s = json_string_value(p);
    n = json_string_length(p);
    if (n < 64) {
        json_decref(j);
        return -1;
    }
    keep = sgs_utf8_cut(s, n / 2);
    if (!json_object_get(j, "payload_bytes"))
        json_object_set_new(j, "payload_bytes", json_integer((json_int_t)n));
    json_object_set_new(j, "payload", json_stringn(s, keep));
    json_object_set_new(j, "payload_truncated", json_true());
    out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!out)
        return -1;
    free(it->cut);
    it->cut = out;
    it->cut_len = strlen(out);
    return 0;
}

void sgs_outbox_on_dr(sgs_consumer *c, const rd_kafka_message_t *m)
{
    outbox_item *it = m->_private;
    outbox_entry *e = it->entry;
    e->pending--;
    if (!m->err) {
        it->state = ITEM_DELIVERED;
        return;
    }
    it->state = ITEM_QUEUED;
    c->delivery_failures++;
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && it->type == SGS_STORE_OUTBOX_REJECT &&
        cut_reject(e, it) == 0) {
        sgs_warn("a reject was too large for %s; cut to %zu bytes and sent again",
                 rd_kafka_topic_name(m->rkt), it->cut_len);
        produce_item(c, e, it); /* at once: it is not the same message */
        return;
    }
    snprintf(e->last_error, sizeof(e->last_error), "delivery to %s: %s",
             rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (!e->failed)
        sgs_warn("%s; its batch's undelivered alerts/rejects will be sent again", e->last_error);
    e->failed = 1;
}

int sgs_outbox_tracked(const sgs_consumer *c, int32_t partition, int64_t end)
{
    for (const outbox_entry *e = c->outbox; e; e = e->next)
        if (e->partition == partition && e->end == end)
            return 1;
    return 0;
}

static void entry_free(outbox_entry *e)
{
    for (size_t i = 0; i < e->n_items; i++)
        free(e->items[i].cut);
    free(e->items);
    free(e->blob);
    free(e);
}

void sgs_outbox_reap(sgs_consumer *c)
{
    outbox_entry **pp = &c->outbox;
    int64_t now = sgs_clock_mono_ms();
    int full = 0; /* librdkafka's queue refused an item this round */
    /* the gathered entries' round: they join the entries waiting for room */
    int round =
        c->outbox_round_at && (now >= c->outbox_round_at || c->outbox_full || c->outbox_now);
    if (round)
        c->outbox_round_at = 0;
    while (*pp) {
        outbox_entry *e = *pp;
        size_t left = 0;
        for (size_t i = 0; i < e->n_items; i++)
            left += e->items[i].state != ITEM_DELIVERED;
        if (e->held && round) {
            e->held = 0;
            e->room = 1;
        }
        if (e->held) {
            /* gathered: nothing of it produced yet */
        } else if (left && e->room && !e->failed) {
            /* waits for room only: goes at once, oldest first, until the
             * queue refuses again */
            if (!full)
                send_undelivered(c, e);
            full |= e->room;
        } else if (left && e->pending == 0) {
            /* undelivered and nothing in flight: send again after a backoff */
            if (e->retry_at == 0) {
                e->retry_ms = e->retry_ms ? e->retry_ms * 2 : RETRY_FIRST_MS;
                if (e->retry_ms > RETRY_MAX_MS)
                    e->retry_ms = RETRY_MAX_MS;
                e->retry_at = now + e->retry_ms;
            } else if (now >= e->retry_at) {
                e->retry_at = 0;
                send_undelivered(c, e);
            }
        }
        if (left) {
            pp = &e->next;
            continue;
        }
        /* delivered: delete the Redis copy with the partition's next script (or flush_acks) */
        part_state *ps = sgs_parts_get(c, e->partition);
        if (ps)
            sgs_parts_add_ack(ps, e->end);
        if (c->outbox_tail == &e->next)
            c->outbox_tail = pp;
        *pp = e->next;
        c->outbox_pending--;
        c->outbox_bytes -= e->len;
        entry_free(e);
    }
    c->outbox_waits_room = full;
    check_caps(c, 1);
}

void sgs_outbox_free(sgs_consumer *c)
{
    while (c->outbox) {
        outbox_entry *e = c->outbox;
        c->outbox = e->next;
        entry_free(e);
    }
    c->outbox_tail = &c->outbox;
    c->outbox_waits_room = 0;
    c->outbox_round_at = 0;
    c->outbox_pending = 0;
    c->outbox_bytes = 0;
}

/* Batches to Redis: messages are read into per-partition batches; each
 * partition's batch becomes one EVALSHA of the batch script (script.c), all of
 * them pipelined and sent without waiting, so that Redis applies them while
 * the next batch is read. At most one batch per partition is in flight. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ahead.h"
#include "consumer.h"
#include "parts.h"
#include "sgs/clock.h"
#include "sgs/date.h"
#include "sgs/log.h"
#include "sgs/store.h"

static void batch_clear(sgs_consumer *c, sgs_batch *b)
{
    c->batch_msgs -= b->n_msgs;
    sgs_batch_reset(b);
}

static void sent_clear(sgs_consumer *c, sgs_batch *b)
{
    c->sent_msgs -= b->n_msgs;
    sgs_batch_reset(b);
}

void sgs_writer_drop(sgs_consumer *c, int32_t partition)
{
    part_state *ps = sgs_parts_get(c, partition);
    if (!ps)
        return;
    ps->gen++; /* the messages in hand polled before are discarded (ahead.h) */
    sgs_parts_seq_rollback(ps);
    sgs_idcache_clear(&ps->idc); /* whatever Redis holds now is read again */
    if (ps->batch.n_msgs == 0 && ps->closed.n_msgs == 0 && ps->sent.n_msgs == 0)
        return;
    sgs_debug("partition %" PRId32 ": dropping %zu messages in hand", partition,
              ps->batch.n_msgs + ps->closed.n_msgs + ps->sent.n_msgs);
    batch_clear(c, &ps->batch);
    batch_clear(c, &ps->closed);
    sent_clear(c, &ps->sent);
    ps->next = ps->stored;
}

void sgs_writer_resync(sgs_consumer *c, int32_t partition)
{
    part_state *ps = sgs_parts_get(c, partition);
    if (!ps)
        return;
    sgs_writer_drop(c, partition);
    ps->next = -1;
    ps->needs_sync = 1;
    sgs_parts_pause(c, partition, 1);
}

/* The batch in hand cannot be applied as it is (a forwarded copy was not
 * delivered, or memory ran out): drop it and read it again from the stored
 * offset. */
static void reread(sgs_consumer *c, int32_t p, const char *why)
{
    part_state *ps = &c->parts[p];
    sgs_warn("partition %" PRId32 ": %s; reading again from offset %" PRId64, p, why, ps->stored);
    sgs_writer_drop(c, p);
    sgs_parts_seek(c, p, ps->stored);
}

/* A message that is not ours, or whose position or route is not known yet. */
static part_state *owner_state(sgs_consumer *c, const rd_kafka_message_t *m)
{
    part_state *ps = sgs_parts_get(c, m->partition);
    if (!ps || !ps->assigned || ps->needs_sync || ps->seek_failed || c->lost || !c->route.loaded)
        return NULL;
    if (ps->next >= 0 && m->offset < ps->next)
        return NULL; /* already in a batch or applied */
    return ps;
}

/* A forwarded copy: applied when it is the next one expected from its source
 * partition; one already applied (a replay), of a dead route epoch, or ahead
 * of a lost one (its source reads it again) counts nowhere. 1 applied. */
static int take_copy(sgs_consumer *c, part_state *ps, const sgs_fwd_header *h)
{
    int64_t expect;
    if (strcmp(h->epoch, c->route.epoch) != 0)
        return 0;
    expect = sgs_parts_seq_get(&ps->fi, h->partition);
    if (h->seq != expect) {
        if (h->seq > expect) {
            c->gaps++;
            if (ps->gap_warned != expect) /* once per missing copy, not per copy after it */
                sgs_warn("forwarded copy of %s [%" PRId32 "] offset %" PRId64
                         " has sequence %" PRId64 ", expected %" PRId64
                         "; ignored until its source sends the missing ones "
                         "(sgs_consumer_forward_gaps_total)",
                         c->topic, h->partition, h->offset, h->seq, expect);
            ps->gap_warned = expect;
        }
        return 0;
    }
    if (sgs_parts_seq_set(&ps->fi, h->partition, expect + 1) != 0)
        ps->batch.oom = 1;
    sgs_batch_set_seq(&ps->batch, 0, h->partition, expect + 1);
    return 1;
}

/* An original of a unit counted in another partition: forwarded there. */
static void forward(sgs_consumer *c, part_state *ps, const rd_kafka_message_t *m, int32_t to,
                    const sgs_batch_msg *bm, const sgs_unit *unit)
{
    int64_t seq = sgs_parts_seq_get(&ps->fo, to);
    sgs_forward_send(c, &ps->batch, m, to, seq, unit->id);
    if (sgs_parts_seq_set(&ps->fo, to, seq + 1) != 0)
        ps->batch.oom = 1;
    sgs_batch_set_seq(&ps->batch, 1, to, seq + 1);
    sgs_batch_pass(&ps->batch, &c->env, bm, 1);
}

/* Reads the message, parsed into rec, into the partition's batch (when it is
 * ours and new). */
static void add_message(sgs_consumer *c, const rd_kafka_message_t *m, const sgs_record *rec)
{
    part_state *ps = owner_state(c, m);
    sgs_batch_msg bm;
    sgs_fwd_header h;
    int copy;

    if (!ps)
        return;
    ps->at_eof = 0;
    if (c->first_msg_ms == 0)
        c->first_msg_ms = sgs_clock_wall_ms();
    if (c->batch_msgs == 0) /* compared with the poll loop's coarse reads */
        c->batch_started = sgs_clock_mono_coarse_ms();
    c->batch_msgs++;
    ps->next = m->offset + 1;

    bm.partition = bm.origin_partition = m->partition;
    bm.offset = bm.origin_offset = m->offset;
    bm.payload = m->payload;
    bm.len = m->payload ? m->len : 0;
    bm.copy = 0;
    copy = sgs_route_header_parse(m, &h) == 1; /* a malformed header: an original */
    if (copy) {
        bm.copy = 1;
        bm.origin_partition = h.partition;
        bm.origin_offset = h.offset;
        if (!take_copy(c, ps, &h)) {
            sgs_batch_pass(&ps->batch, &c->env, &bm, 0);
            return;
        }
    }
    if (!copy && rec->unit) {
        int32_t to = sgs_route_target(c, rec->unit);
        if (to >= 0 && to != m->partition) {
            forward(c, ps, m, to, &bm, rec->unit);
            return;
        }
    }
    if (ps->batch.t0 == 0) /* the batch's clock (decide.c: keys dropped, too_old) */
        ps->batch.t0 = c->have_now ? c->now_fixed : sgs_clock_wall_ms() / 1000;
    c->env.key_ctx = &ps->idc;
    sgs_batch_add(&ps->batch, &c->env, &bm, rec);
    if (ps->batch.arena.len + ps->batch.rejects.len >= c->cf_batch_bytes)
        c->batch_full = 1;
}

/* A message or event in hand: an end of partition marks it, an error is
 * logged (once per code in a row), a message goes into its batch. */
static void take_message(sgs_consumer *c, rd_kafka_message_t *m, uint32_t gen,
                         const sgs_record *rec)
{
    part_state *ps = m->rkt ? sgs_parts_get(c, m->partition) : NULL;
    if (ps && ps->gen != gen)
        return; /* polled before its partition moved: a seek would have discarded it */
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (ps && ps->assigned && (ps->next < 0 || m->offset >= ps->next))
            ps->at_eof = 1;
    } else if (m->err) {
        static rd_kafka_resp_err_t last_err;
        if (m->err != last_err)
            sgs_warn("kafka: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "",
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "");
        last_err = m->err;
    } else {
        add_message(c, m, rec);
    }
}

void sgs_writer_take_in_hand(sgs_consumer *c)
{
    rd_kafka_message_t *m;
    const sgs_record *rec;
    uint32_t gen;
    if (c->taking_in_hand || !c->ahead || sgs_ahead_count(c->ahead) == 0)
        return;
    c->taking_in_hand = 1;
    sgs_ahead_parse(c->ahead);
    /* (a record of the last hand may sit where one of this is) */
    c->env.hint_rec[0] = c->env.hint_rec[1] = NULL;
    for (int i = 0; sgs_ahead_take(c->ahead, i, &m, &gen, &rec); i++) {
        rd_kafka_message_t *nm;
        const sgs_record *nrec;
        uint32_t ngen;
        if (sgs_ahead_take(c->ahead, i + 1, &nm, &ngen, &nrec) && !nm->err && nm->rkt) {
            part_state *nps = sgs_parts_get(c, nm->partition);
            if (nps)
                sgs_batch_prefetch(&nps->batch, &c->env, nrec);
        }
        take_message(c, m, gen, rec);
        rd_kafka_message_destroy(m);
    }
    sgs_ahead_clear(c->ahead);
    c->taking_in_hand = 0;
}

int sgs_writer_copies_waiting(const sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].closed.n_msgs)
            return 1;
    return 0;
}

int sgs_writer_copies_pending(const sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].closed.n_msgs || !sgs_forward_ready(&c->parts[p].batch))
            return 1;
    return 0;
}

size_t sgs_writer_batch_bytes_top(const sgs_consumer *c)
{
    size_t top = 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        const sgs_batch *b = &c->parts[p].batch;
        if (b->arena.len + b->rejects.len > top)
            top = b->arena.len + b->rejects.len;
    }
    return top;
}

/* sgs_batch_env.key_kept from the partition's identity cache (ctx): the
 * key's state is known (P:T:ik as Redis holds it, or as the batches decided
 * leave it) and never dropped, and the key lives past `until` (expiry after
 * it, or none lives: -1, or kept forever: 0); or the cache holds every state
 * and the key has none. Until the batch that holds the identity is decided,
 * this stays true: a batch drops a key only when its clock has passed the
 * key's expiry, and the batches before it started no later. */
static int key_kept(void *ctx, int bitmap, int year, int64_t until)
{
    char f[24];
    int n = sgs_decide_key_state_field(f, sizeof(f), bitmap, year);
    const sgs_idc_entry *ke = sgs_idcache_find(ctx, SGS_IDC_KEYS, "", 0, f, (size_t)n);
    const sgs_idcache *idc = ctx;
    int64_t expiry, dropped;
    if (!ke)
        return idc->keys_complete; /* no state: never written by this version */
    return ke->state == SGS_IDC_KNOWN && sgs_decide_key_state(ke, &expiry, &dropped) == 0 &&
           dropped == 0 && (expiry <= 0 || expiry > until);
}

void sgs_writer_init_env(sgs_consumer *c)
{
    c->env.key_kept = key_kept;
}

/* ---- the EVALSHA's arguments ---- */

static int args_reserve(eval_args *a, size_t n)
{
    if (n <= a->cap)
        return 0;
    const char **v = realloc(a->argv, n * sizeof(*v));
    if (!v)
        return -1;
    a->argv = v;
    size_t *l = realloc(a->len, n * sizeof(*l));
    if (!l)
        return -1;
    a->len = l;
    size_t *o = realloc(a->off, n * sizeof(*o));
    if (!o)
        return -1;
    a->off = o;
    a->cap = n;
    return 0;
}

static void arg_put(eval_args *a, const char *p, size_t len)
{
    a->argv[a->n] = p;
    a->len[a->n++] = len;
}

static void arg_puts(eval_args *a, const char *p)
{
    arg_put(a, p, strlen(p));
}

/* The value written to a->text since `start`. */
static void arg_from(eval_args *a, size_t start)
{
    a->argv[a->n] = NULL;
    a->off[a->n] = start;
    a->len[a->n++] = a->text.len - start;
}

static void arg_printf(eval_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg_printf(eval_args *a, const char *fmt, ...)
{
    va_list ap;
    size_t start = a->text.len;
    va_start(ap, fmt);
    sgs_buf_vprintf(&a->text, fmt, ap);
    va_end(ap);
    arg_from(a, start);
}

static void arg_int(eval_args *a, int64_t v)
{
    size_t start = a->text.len;
    sgs_buf_put_i64(&a->text, v);
    arg_from(a, start);
}

/* The Redis key of a cache entry's key, after the partition's base and before
 * the entry's suffix: ":b:" <year>, ":x:" <year>, ":g:" <month>, ":d:" <day>,
 * ":lr". */
static const char *entry_key_kind(const sgs_idc_entry *e)
{
    switch (e->key[0]) {
    case SGS_IDC_BITS:
        return SGS_STORE_IDBITS;
    case SGS_IDC_OWN:
        return SGS_STORE_IDOWN;
    case SGS_IDC_GAPS:
        return SGS_STORE_GAPS;
    case SGS_IDC_DAY:
        return SGS_STORE_DAY;
    case SGS_IDC_KEYS:
        return SGS_STORE_IDKEYS;
    default:
        return SGS_STORE_LR;
    }
}

/* The state entry (P:T:ik) of an identity-store key's first entry x. */
static sgs_idc_entry *key_state_of(part_state *ps, const sgs_idc_entry *x)
{
    char f[24];
    int n;
    if (x->key[0] != SGS_IDC_BITS && x->key[0] != SGS_IDC_OWN)
        return NULL;
    n = snprintf(f, sizeof(f), "%c%.*s", x->key[0], (int)(x->sfx - 1), x->key + 1);
    if (n < 0 || (size_t)n >= sizeof(f))
        return NULL;
    return sgs_idcache_find(&ps->idc, SGS_IDC_KEYS, "", 0, f, (size_t)n);
}

/* The identity store's keys the batch touches (decided: decide.c): per key its
 * suffix, the expiry the batch gives it (-1 none, 0 kept: the key's state in
 * P:T:ik), 1 when the batch drops it first (its expiry has come), the number
 * of fields it changes, then those fields and their new values. A key the
 * batch only reads is listed with no field: the script checks its type too. */
static void append_identities(sgs_consumer *c, part_state *ps)
{
    eval_args *a = &c->args;
    const sgs_decide_list *u = &ps->used;
    size_t n_keys = 0;
    for (size_t i = 0; i < u->n; i++)
        n_keys += i == 0 || !sgs_idc_same_key(u->v[i - 1], u->v[i]);
    arg_int(a, (int64_t)n_keys);
    for (size_t i = 0; i < u->n;) {
        size_t j = i, n_dirty = 0, start;
        int64_t at = -1;
        for (; j < u->n && sgs_idc_same_key(u->v[i], u->v[j]); j++) {
            at = sgs_decide_later(at, sgs_decide_expiry(&ps->idc, u->v[j]));
            n_dirty += u->v[j]->dirty == ps->idc.mark;
        }
        start = a->text.len;
        sgs_buf_puts(&a->text, entry_key_kind(u->v[i]));
        sgs_buf_append(&a->text, u->v[i]->key + 1, u->v[i]->sfx - 1);
        arg_from(a, start);
        {
            const sgs_idc_entry *ke = key_state_of(ps, u->v[i]);
            int64_t expiry, dropped;
            int drop = ke && sgs_idcache_drops(&ps->idc, ke);
            if (ke && at >= 0 && sgs_decide_key_state(ke, &expiry, &dropped) == 0)
                at = expiry;
            arg_int(a, at);
            arg_int(a, drop);
        }
        arg_int(a, (int64_t)n_dirty);
        for (size_t k = i; k < j; k++) {
            const sgs_idc_entry *e = u->v[k];
            size_t flen;
            const char *f;
            if (e->dirty != ps->idc.mark)
                continue;
            f = sgs_idc_field(e, &flen);
            arg_put(a, f, flen);
            arg_put(a, (const char *)e->val, e->len);
        }
        i = j;
    }
}

/* The batch's counter increments (tally.c), key by key: the key suffix, the
 * number of fields, the fields, then their increments in the same order. */
static void append_counters(sgs_consumer *c, const sgs_tally *t)
{
    eval_args *a = &c->args;
    size_t n_keys = 0;
    for (size_t i = 0; i < t->n_cells; i++)
        n_keys += i == 0 || !sgs_tally_same_key(&t->cells[i], &t->cells[i - 1]);
    arg_int(a, (int64_t)n_keys);
    for (size_t i = 0; i < t->n_cells;) {
        const sgs_tally_cell *k0 = &t->cells[i];
        size_t j = i;
        while (j < t->n_cells && sgs_tally_same_key(&t->cells[j], k0))
            j++;
        arg_put(a, k0->key, k0->key_len);
        arg_int(a, (int64_t)(j - i));
        for (size_t k = i; k < j; k++)
            arg_put(a, t->text.data + t->cells[k].field_off, t->cells[k].field_len);
        for (size_t k = i; k < j; k++)
            arg_int(a, t->cells[k].delta);
        i = j;
    }
}

/* Appends the EVALSHA of one partition's sent batch to the pipe, as a unit of
 * its partition's slot (see script.c for the layout). The unit's index, or -1. */
static long append_eval(sgs_consumer *c, int32_t p)
{
    part_state *ps = &c->parts[p];
    sgs_batch *b = &ps->sent;
    const sgs_tally *t = &ps->tally;
    eval_args *a = &c->args;
    size_t n = 28 + ps->n_acks + 3 * b->n_items + t->n_alerts + 4 * t->n_cells + 2 * t->n_lr +
               2 * b->n_seq_out + 2 * b->n_seq_in + 6 * ps->used.n;
    char base[SGS_STORE_KEY_MAX];
    size_t n_alerts = 0, n_ledger = 0;

    if (b->n_acks > ps->n_acks)
        b->n_acks = ps->n_acks;
    if (args_reserve(a, n) != 0 || sgs_store_base(base, sizeof(base), c->prefix, c->topic, p) < 0)
        return -1;
    sgs_buf_reset(&a->text);
    a->text.oom = 0;
    a->n = 0;
    arg_puts(a, "EVALSHA");
    arg_puts(a, c->script_sha);
    arg_puts(a, "1");
    arg_printf(a, "%s", base);
    arg_int(a, ps->stored);
    arg_int(a, b->last + 1);
    arg_int(a, b->first);
    arg_puts(a, c->prefix);
    arg_int(a, c->cf_retention);
    arg_int(a, c->rules.tz_offset);
    arg_int(a, c->cf_window);
    arg_puts(a, c->route.epoch);
    arg_int(a, c->cf_alerts_kept);
    arg_int(a, c->cf_ledger_max);
    arg_int(a, (int64_t)b->n_acks);
    for (size_t i = 0; i < b->n_acks; i++)
        arg_puts(a, ps->acks[i]);
    /* the outbox entry: the rejects, the items that go out (their conditions
     * decided), the late_rate alerts */
    sgs_buf_reset(&ps->outbox_entry);
    ps->outbox_entry.oom = 0;
    sgs_buf_append(&ps->outbox_entry, b->rejects.data ? b->rejects.data : "", b->rejects.len);
    for (size_t i = 0; i < b->n_items; i++) {
        const sgs_batch_item *it = &b->items[i];
        const char *unit = sgs_registry_at(c->registry, it->unit)->id;
        if (it->kind == SGS_ITEM_LEDGER || !sgs_batch_item_emitted(b, it))
            continue;
        n_alerts += it->kind == SGS_ITEM_ALERT;
        sgs_store_outbox_put(&ps->outbox_entry,
                             it->kind == SGS_ITEM_ALERT ? SGS_STORE_OUTBOX_ALERT
                                                        : SGS_STORE_OUTBOX_REJECT,
                             unit, strlen(unit), b->arena.data + it->off, it->len);
    }
    for (size_t i = 0; i < t->n_alerts; i++) {
        const char *unit = sgs_registry_at(c->registry, t->alert_unit[i])->id;
        sgs_store_outbox_put(&ps->outbox_entry, SGS_STORE_OUTBOX_ALERT, unit, strlen(unit),
                             t->text.data + t->alerts[2 * i], t->alerts[2 * i + 1]);
    }
    if (ps->outbox_entry.oom)
        return -1;
    arg_put(a, ps->outbox_entry.data ? ps->outbox_entry.data : "", ps->outbox_entry.len);
    /* the alerts again, to PUBLISH and keep in P:T:al */
    arg_int(a, (int64_t)(n_alerts + t->n_alerts));
    for (size_t i = 0; i < b->n_items; i++) {
        const sgs_batch_item *it = &b->items[i];
        if (it->kind == SGS_ITEM_ALERT && sgs_batch_item_emitted(b, it))
            arg_put(a, b->arena.data + it->off, it->len);
    }
    for (size_t i = 0; i < t->n_alerts; i++)
        arg_put(a, t->text.data + t->alerts[2 * i], t->alerts[2 * i + 1]);
    /* ledger entries of the records counted: unit, report month, JSON */
    for (size_t i = 0; i < b->n_items; i++)
        n_ledger += b->items[i].kind == SGS_ITEM_LEDGER && sgs_batch_item_emitted(b, &b->items[i]);
    arg_int(a, (int64_t)n_ledger);
    for (size_t i = 0; i < b->n_items; i++) {
        const sgs_batch_item *it = &b->items[i];
        char month[8];
        if (it->kind != SGS_ITEM_LEDGER || !sgs_batch_item_emitted(b, it))
            continue;
        arg_puts(a, sgs_registry_at(c->registry, it->unit)->id);
        arg_printf(a, "%s", sgs_day_format_month(it->day, month));
        arg_put(a, b->arena.data + it->off, it->len);
    }
    /* counters, key by key: suffix, n, the n fields, their n increments */
    append_counters(c, t);
    /* late-rate states after the batch: unit, value */
    arg_int(a, (int64_t)t->n_lr);
    for (size_t i = 0; i < t->n_lr; i++) {
        arg_puts(a, sgs_registry_at(c->registry, t->lr[i].unit)->id);
        arg_int(a, t->lr[i].value);
    }
    /* forward sequences after the batch: fo, then fi */
    arg_int(a, (int64_t)b->n_seq_out);
    for (size_t i = 0; i < b->n_seq_out; i++) {
        arg_int(a, b->seq_out[i].partition);
        arg_int(a, b->seq_out[i].next);
    }
    arg_int(a, (int64_t)b->n_seq_in);
    for (size_t i = 0; i < b->n_seq_in; i++) {
        arg_int(a, b->seq_in[i].partition);
        arg_int(a, b->seq_in[i].next);
    }
    /* the identity store's fields it changes, key by key */
    append_identities(c, ps);
    if (a->text.oom)
        return -1;
    for (size_t i = 0; i < a->n; i++)
        if (!a->argv[i])
            a->argv[i] = a->text.data + a->off[i];
    /* fenced by the stored offset: safe to send again after a lost reply;
     * its keys are undeclared (KEYS[1] is the base, which never exists): run
     * only while the slot is not migrating (rcluster.h) */
    return sgs_rcl_pipe_append(c->pipe, sgs_rcl_slot(base, strlen(base)),
                               SGS_RCL_IDEMPOTENT | SGS_RCL_SETTLED, (int)a->n, a->argv, a->len);
}

/* Swaps two batches (their memory goes along). */
static void swap(sgs_batch *x, sgs_batch *y)
{
    sgs_batch t = *x;
    *x = *y;
    *y = t;
}

/* Moves the partition's next batch into `sent`, when there is one that may go:
 * the closed batch once its forwarded copies are delivered, else the batch
 * being collected (which waits as the closed one while its copies are in
 * delivery). 1 moved, 0 nothing to send now. */
static int promote(sgs_consumer *c, int32_t p)
{
    part_state *ps = &c->parts[p];
    if (ps->sent.n_msgs != 0)
        return 0;
    if (ps->closed.n_msgs) {
        if (sgs_forward_failed(&ps->closed)) {
            reread(c, p, "a forwarded copy was not delivered");
            return 0;
        }
        if (!sgs_forward_ready(&ps->closed))
            return 0;
        swap(&ps->sent, &ps->closed);
    } else if (ps->batch.n_msgs) {
        if (!sgs_forward_ready(&ps->batch)) {
            if (sgs_forward_failed(&ps->batch))
                reread(c, p, "a forwarded copy was not delivered");
            else
                swap(&ps->closed, &ps->batch); /* collecting goes on in a fresh one */
            return 0;
        }
        swap(&ps->sent, &ps->batch);
    } else {
        return 0;
    }
    c->batch_msgs -= ps->sent.n_msgs;
    c->sent_msgs += ps->sent.n_msgs;
    ps->sent.n_acks = ps->n_acks;
    return 1;
}

/* The state of an identity-store key P:T:ik does not have (written by a
 * version before it): from the key's EXPIRETIME reply (-2 no key, -1 none). */
static int key_state_legacy(sgs_idcache *c, sgs_idc_entry *e, const redisReply *r)
{
    long long t = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -2;
    return sgs_decide_key_state_put(c, e, t == -2 ? -1 : t == -1 ? 0 : t, 0);
}

/* One read of read_missing: a command on partition p's slot, for the entries
 * from..from+n of its miss list (n = 0 and expiretime: the EXPIRETIME of the
 * key of state entry `from`). */
typedef struct read_unit {
    int32_t p;
    size_t from, n;
    int expiretime;
} read_unit;

typedef struct read_units {
    read_unit *v;
    size_t n, cap;
} read_units;

/* Appends a read's command to the pipe, as unit u->n. -1 when out of memory. */
static int read_add(sgs_consumer *c, read_units *u, const char *base, read_unit r, int argc,
                    const char **argv, const size_t *argvlen)
{
    if (sgs_array_grow((void **)&u->v, &u->cap, u->n, sizeof(*u->v), 16) != 0 ||
        sgs_rcl_pipe_append(c->pipe, sgs_rcl_slot(base, strlen(base)), SGS_RCL_IDEMPOTENT, argc,
                            argv, argvlen) != (long)u->n)
        return -1;
    u->v[u->n++] = r;
    return 0;
}

/* Reads the identity-store fields the partitions' batches need and the cache
 * lacks (one HMGET per key, all pipelined), before they are decided. A field
 * Redis does not have is known empty; a key of another type is left empty
 * (the batch script refuses it, having written nothing). A key's state
 * (P:T:ik) comes with the key's EXPIRETIME, for keys without one. -1 when
 * Redis did not answer (the caches of the partitions are then emptied). */
static int read_missing(sgs_consumer *c, const int32_t *parts, size_t n_parts)
{
    enum { FIELDS_PER_READ = 1000 };
    read_units units = {0};
    const char **argv = NULL;
    size_t *argvlen = NULL, cap_argv = 0;
    int rc = -1;

    sgs_rcl_pipe_reset(c->pipe);
    for (size_t k = 0; k < n_parts; k++) {
        part_state *ps = &c->parts[parts[k]];
        sgs_decide_list *m = &ps->miss;
        char base[SGS_STORE_KEY_MAX], key[SGS_STORE_KEY_MAX];
        if (ps->sent.decided || m->n == 0)
            continue;
        if (sgs_store_base(base, sizeof(base), c->prefix, c->topic, parts[k]) < 0)
            goto oom;
        /* the fields of one key next to each other */
        qsort(m->v, m->n, sizeof(*m->v), sgs_idc_entry_cmp);
        for (size_t i = 0; i < m->n;) {
            size_t j = i, argc = 2;
            int kl;
            while (j < m->n && j - i < FIELDS_PER_READ && sgs_idc_same_key(m->v[i], m->v[j]))
                j++;
            kl = snprintf(key, sizeof(key), "%s%s%.*s", base, entry_key_kind(m->v[i]),
                          (int)(m->v[i]->sfx - 1), m->v[i]->key + 1);
            if (kl < 0 || (size_t)kl >= sizeof(key))
                goto oom;
            if (cap_argv < j - i + 2) {
                cap_argv = j - i + 2;
                const char **v = realloc(argv, cap_argv * sizeof(*v));
                size_t *l = v ? realloc(argvlen, cap_argv * sizeof(*l)) : NULL;
                if (v)
                    argv = v;
                if (!l)
                    goto oom;
                argvlen = l;
            }
            argv[0] = "HMGET";
            argvlen[0] = 5;
            argv[1] = key;
            argvlen[1] = (size_t)kl;
            for (size_t x = i; x < j; x++) {
                argv[argc] = sgs_idc_field(m->v[x], &argvlen[argc]);
                argc++;
            }
            if (read_add(c, &units, base, (read_unit){parts[k], i, j - i, 0}, (int)argc, argv,
                         argvlen) != 0)
                goto oom;
            for (size_t x = i; m->v[i]->key[0] == SGS_IDC_KEYS && x < j; x++) {
                /* a key's state: and the key's own expiry */
                size_t flen;
                const char *f = sgs_idc_field(m->v[x], &flen);
                const char *argx[2] = {"EXPIRETIME", key};
                size_t lenx[2] = {10, 0};
                if (flen < 1 || (f[0] != SGS_IDC_BITS && f[0] != SGS_IDC_OWN))
                    continue;
                kl = snprintf(key, sizeof(key), "%s%s%.*s", base,
                              f[0] == SGS_IDC_BITS ? SGS_STORE_IDBITS : SGS_STORE_IDOWN,
                              (int)(flen - 1), f + 1);
                if (kl < 0 || (size_t)kl >= sizeof(key))
                    goto oom;
                lenx[1] = (size_t)kl;
                if (read_add(c, &units, base, (read_unit){parts[k], x, 0, 1}, 2, argx, lenx) != 0)
                    goto oom;
            }
            i = j;
        }
    }
    if (units.n == 0) {
        rc = 0;
        goto out;
    }
    if (sgs_rcl_pipe_send(c->pipe) != 0) {
        sgs_rconn_lost(c, "out of memory sending the identity reads");
        goto fail;
    }
    sgs_rcl_pipe_collect(c->pipe, 0);
    for (size_t u = 0; u < units.n; u++) {
        const read_unit *ru = &units.v[u];
        part_state *ps = &c->parts[ru->p];
        const redisReply *r = sgs_rcl_pipe_reply(c->pipe, u);
        if (sgs_rcl_pipe_status(c->pipe, u) != SGS_RCL_OK || !r) {
            sgs_rconn_lost(c, sgs_rcl_pipe_error(c->pipe, u));
            goto fail;
        }
        if (ru->expiretime) {
            sgs_idc_entry *e = ps->miss.v[ru->from];
            if (e->state == SGS_IDC_PENDING && key_state_legacy(&ps->idc, e, r) != 0) {
                sgs_rconn_lost(c, "out of memory reading identities");
                goto fail;
            }
            continue;
        }
        for (size_t x = 0; x < ru->n; x++) {
            sgs_idc_entry *e = ps->miss.v[ru->from + x];
            const redisReply *v =
                r->type == REDIS_REPLY_ARRAY && x < r->elements ? r->element[x] : NULL;
            if (e->key[0] == SGS_IDC_KEYS && !(v && v->type == REDIS_REPLY_STRING))
                continue; /* none stored: from the key's expiry (next unit) */
            if (v && v->type == REDIS_REPLY_STRING) {
                if (sgs_idcache_set(&ps->idc, e, v->str, v->len) != 0) {
                    sgs_rconn_lost(c, "out of memory reading identities");
                    goto fail;
                }
            } else {
                sgs_idcache_set(&ps->idc, e, NULL, 0);
            }
        }
    }
    rc = 0;
    goto out;
oom:
    sgs_rconn_lost(c, "out of memory reading identities");
fail:
    for (size_t k = 0; k < n_parts; k++)
        if (!c->parts[parts[k]].sent.decided)
            sgs_idcache_clear(&c->parts[parts[k]].idc);
out:
    sgs_rcl_pipe_reset(c->pipe);
    free(units.v);
    free(argv);
    free(argvlen);
    return rc;
}

/* Sends one EVALSHA per partition with a batch, pipelined, without reading
 * the replies. retry: the sent batches Redis did not apply; else the batches
 * being collected (which become the sent ones). Each batch's identities are
 * decided first, from the partition's identity cache, after reading what it
 * lacks. */
static int send_batches(sgs_consumer *c, int retry)
{
    size_t n = 0, n_go = 0, n_miss = 0;
    int64_t now = sgs_clock_mono_ms();
    sgs_tally_conf tc = {c->topic,     c->registry,  c->cf_thr_h,
                         c->cf_minrec, c->cf_window, c->cf_thrtext};

    if (c->n_inflight)
        return -1; /* replies owed: settle first */
    if (c->cap_inflight < (size_t)c->n_parts + 1) {
        size_t cap = (size_t)c->n_parts + 1;
        int32_t *v = realloc(c->inflight, cap * sizeof(*v));
        if (!v)
            return -1;
        c->inflight = v;
        long *u = realloc(c->inflight_unit, cap * sizeof(*u));
        if (!u)
            return -1;
        c->inflight_unit = u;
        c->cap_inflight = cap;
    }
    c->batch_full = 0;
    rd_kafka_poll(c->producer, 0); /* forwarded copies' delivery reports */
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (retry) {
            if (ps->sent.n_msgs == 0)
                continue;
        } else if (!promote(c, p)) {
            continue;
        }
        if (ps->sent.oom) {
            reread(c, p, "out of memory building a batch");
            continue;
        }
        c->inflight[n_go++] = p; /* the partitions to send, for now */
        /* A batch sent before whose outcome is unknown keeps its decisions
         * (and the cache its values): its script goes again as it was. */
        if (ps->sent.decided)
            continue;
        if (ps->idc.seed == 0)
            ps->idc.seed = c->env.hash_seed | 1;
        sgs_idcache_age(&ps->idc, now);
        if (sgs_decide_plan(&ps->idc, &tc, &ps->sent, &ps->used, &ps->miss) != 0) {
            sgs_rconn_lost(c, "out of memory deciding a batch's identities");
            return -1;
        }
        n_miss += ps->miss.n;
    }
    /* a read is made: the sequences' next chunks come along (decide.h) */
    for (size_t k = 0; n_miss && k < n_go; k++) {
        part_state *ps = &c->parts[c->inflight[k]];
        if (!ps->sent.decided && sgs_decide_ahead(&ps->idc, &ps->used, &ps->miss) != 0) {
            sgs_rconn_lost(c, "out of memory deciding a batch's identities");
            return -1;
        }
    }
    if (n_miss && read_missing(c, c->inflight, n_go) != 0)
        return -1;
    sgs_rcl_pipe_reset(c->pipe);
    for (size_t k = 0; k < n_go; k++) {
        int32_t p = c->inflight[k];
        part_state *ps = &c->parts[p];
        long unit;
        if (!ps->sent.decided && sgs_decide_apply(&ps->idc, &tc, &ps->sent, &ps->tally) != 0)
            goto oom;
        ps->sent.decided = 1;
        if ((unit = append_eval(c, p)) < 0)
            goto oom;
        c->inflight[n] = p;
        c->inflight_unit[n++] = unit;
    }
    /* Write it all now: Redis runs the scripts while we read the next batch. */
    if (n && sgs_rcl_pipe_send(c->pipe) != 0)
        goto oom;
    c->n_inflight = n;
    c->batch_sent_ns = sgs_clock_mono_ns(); /* issue 13: sgs_consumer_batch_seconds */
    return 0;
oom:
    /* nothing was sent: every batch is decided again from what Redis holds */
    for (size_t k = 0; k < n_go; k++) {
        part_state *ps = &c->parts[c->inflight[k]];
        sgs_idcache_clear(&ps->idc);
        ps->sent.decided = 0;
    }
    sgs_rcl_pipe_reset(c->pipe);
    sgs_rconn_lost(c, "out of memory building the batch commands");
    return -1;
}

/* The batch in flight was applied: count it, hand over its outbox entry
 * (recovered from Redis instead when its reply was lost: recovered). */
static void applied(sgs_consumer *c, int32_t p, int recovered)
{
    part_state *ps = &c->parts[p];
    sgs_batch *b = &ps->sent;
    c->batches++; /* issue 13: sgs_consumer_batches_total */
    sgs_batch_account(b, &c->n);
    sgs_parts_take_acks(ps, b->n_acks);
    for (size_t i = 0; i < b->n_seq_out; i++)
        sgs_parts_seq_commit(&ps->fo, b->seq_out[i].partition, b->seq_out[i].next);
    for (size_t i = 0; i < b->n_seq_in; i++)
        sgs_parts_seq_commit(&ps->fi, b->seq_in[i].partition, b->seq_in[i].next);
    ps->stored = b->last + 1;
    sgs_parts_store_offset(c, p, ps->stored);
    if (!recovered && ps->outbox_entry.len > 0)
        sgs_outbox_send(c, p, ps->stored, ps->outbox_entry.data, ps->outbox_entry.len);
    sent_clear(c, b);
}

/* Reads the replies of the EVALSHAs in flight and takes their outcome. */
static int complete(sgs_consumer *c)
{
    int rc = 0;
    size_t n = c->n_inflight, m;
    int64_t t_redis = sgs_clock_mono_ms();

    c->n_inflight = 0;
    sgs_rcl_pipe_collect(c->pipe, 0);
    sgs_rcl_stats st;
    sgs_rcl_get_stats(c->rcl, &st);
    if (st.ask_waits > c->ask_waits) {
        /* SGS_RCL_SETTLED (append_eval): a batch that waited, or waits on */
        sgs_info("redis: a slot is migrating; %" PRIu64 " attempt(s) of batches of its partitions "
                 "waited for it to finish (ASK; the batch script runs only on a slot at rest)",
                 st.ask_waits - c->ask_waits);
        c->ask_waits = st.ask_waits;
    }
    /* issue 13: from the EVALSHAs' write to their replies read */
    double took = (double)(sgs_clock_mono_ns() - c->batch_sent_ns) / 1e9;
    for (m = 0; m < n; m++) {
        int32_t p = c->inflight[m];
        long unit = c->inflight_unit[m];
        part_state *ps = &c->parts[p];
        sgs_batch *b = &ps->sent;
        const redisReply *r = sgs_rcl_pipe_reply(c->pipe, (size_t)unit);
        if (sgs_rcl_pipe_status(c->pipe, (size_t)unit) != SGS_RCL_OK || !r) {
            /* Not run, or run with its reply lost: the batch stays; a retry is
             * fenced and recognised as applied if it had run. */
            if (b->n_msgs)
                sgs_rconn_lost(c, sgs_rcl_pipe_error(c->pipe, (size_t)unit));
            rc = -1;
            continue;
        }
        sgs_prom_hist_observe(&c->batch_seconds, took);
        if (b->n_msgs == 0)
            continue; /* dropped meanwhile (partition lost) */
        if (r->type == REDIS_REPLY_ERROR || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_STRING) {
            /* Refused, having written nothing: decided again next time, from
             * what Redis holds then. */
            sgs_idcache_clear(&ps->idc);
            b->decided = 0;
            sgs_rconn_refused(c, r->type == REDIS_REPLY_ERROR ? r->str
                                                              : "unexpected reply to the batch "
                                                                "script");
            rc = -1;
            continue;
        }
        if (strcmp(r->element[0]->str, "FENCED") == 0) {
            int64_t stored = strtoll(r->element[1]->str, NULL, 10);
            if (stored == b->last + 1) {
                /* Applied by an earlier attempt whose reply was lost. */
                sgs_info("partition %" PRId32 ": batch ending at %" PRId64
                         " was already applied; recovering its alerts",
                         p, stored);
                applied(c, p, 1);
                ps->resend = 1;
                continue;
            }
            if (stored < 0) {
                /* Our stored offset is gone: Redis lost this partition's state. */
                sgs_writer_drop(c, p);
                sgs_parts_lost(c, p,
                               "its stored offset vanished from Redis while it was being "
                               "consumed");
                rc = -1;
                continue;
            }
            c->fenced++;
            sgs_warn("partition %" PRId32 ": fenced: Redis holds offset %" PRId64
                     ", this batch starts after %" PRId64 "; dropping it and reading the "
                     "partition's state again",
                     p, stored, ps->stored);
            /* Redis holds another state of the partition than the one this
             * consumer built on: a later one (another writer went on) or an
             * earlier one (a promoted replica without the last batches). Its
             * forward sequences went with its offset, so they are read again
             * with it (sync.c), as on assignment: reading on from the stored
             * offset with the sequences of the state this consumer had would
             * number copies forwarded again anew (their targets apply them
             * twice) and skip copies to apply again as replays. The batch and
             * the one collected after it are dropped; the partition's
             * messages are ignored until the sync. */
            ps->stored = stored;
            sgs_writer_resync(c, p);
            continue;
        }
        applied(c, p, 0);
    }
    sgs_rcl_pipe_reset(c->pipe); /* frees the replies */
    c->ms_redis += sgs_clock_mono_ms() - t_redis;
    if (rc == 0) {
        c->last_msg_ms = sgs_clock_wall_ms();
        sgs_rconn_recovered(c);
    }
    return rc;
}

int sgs_writer_settle(sgs_consumer *c)
{
    if (c->n_inflight)
        complete(c);
    if (c->sent_msgs == 0)
        return 0;
    /* Sent batches Redis did not apply: send them again, and wait for them. */
    if (sgs_rconn_ready(c) != 0 || send_batches(c, 1) != 0)
        return -1;
    complete(c);
    return c->sent_msgs ? -1 : 0;
}

int sgs_writer_submit(sgs_consumer *c)
{
    if (sgs_writer_settle(c) != 0)
        return -1;
    if (c->batch_msgs == 0)
        return 0;
    if (sgs_rconn_ready(c) != 0)
        return -1;
    return send_batches(c, 0);
}

int sgs_writer_flush(sgs_consumer *c)
{
    /* Batches waiting for their forwarded copies' delivery reports are waited
     * for (bounded: past it they are read again by whoever owns them next). */
    int64_t deadline = sgs_clock_mono_ms() + 30000;
    for (int said = 0;; said = 1) {
        if (sgs_writer_submit(c) != 0 || sgs_writer_settle(c) != 0)
            return -1;
        if (c->batch_msgs == 0)
            return 0;
        if (!said)
            sgs_info("waiting up to 30 s for the delivery of copies forwarded by the batch in "
                     "hand (%zu messages)",
                     c->batch_msgs);
        if (sgs_clock_mono_ms() >= deadline)
            return -2;
        rd_kafka_poll(c->producer, 10);
    }
}

int sgs_writer_quiet(sgs_consumer *c)
{
    if (sgs_rconn_ready(c) != 0)
        return -1;
    if (c->n_inflight)
        complete(c);
    return c->redis_down && sgs_clock_mono_ms() < c->retry_at ? -1 : 0;
}

void sgs_writer_free(sgs_consumer *c)
{
    free(c->args.argv);
    free(c->args.len);
    free(c->args.off);
    sgs_buf_free(&c->args.text);
    memset(&c->args, 0, sizeof(c->args));
    free(c->inflight);
    free(c->inflight_unit);
    c->inflight = NULL;
    c->inflight_unit = NULL;
    c->n_inflight = c->cap_inflight = 0;
}

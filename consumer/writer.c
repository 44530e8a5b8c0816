/* Batches to Redis: messages are read into per-partition batches; each
 * partition's batch becomes one EVALSHA of the batch script (script.c), all of
 * them pipelined and sent without waiting, so that Redis applies them while
 * the next batch is read. At most one batch per partition is in flight. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
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
    sgs_parts_seq_rollback(ps);
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
            if (ps->gap_warned != h->offset)
                sgs_warn("forwarded copy of %s [%" PRId32 "] offset %" PRId64
                         " has sequence %" PRId64 ", expected %" PRId64
                         "; ignored until its source sends the missing ones",
                         c->topic, h->partition, h->offset, h->seq, expect);
            ps->gap_warned = h->offset;
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
                    const sgs_batch_msg *bm)
{
    int64_t seq = sgs_parts_seq_get(&ps->fo, to);
    sgs_forward_send(c, &ps->batch, m, to, seq, c->rec.unit->id);
    if (sgs_parts_seq_set(&ps->fo, to, seq + 1) != 0)
        ps->batch.oom = 1;
    sgs_batch_set_seq(&ps->batch, 1, to, seq + 1);
    sgs_batch_pass(&ps->batch, &c->env, bm, 1);
}

void sgs_writer_add(sgs_consumer *c, const rd_kafka_message_t *m)
{
    part_state *ps = owner_state(c, m);
    rd_kafka_timestamp_type_t tstype;
    sgs_batch_msg bm;
    sgs_fwd_header h;
    int copy;

    if (!ps)
        return;
    ps->at_eof = 0;
    if (c->first_msg_ms == 0)
        c->first_msg_ms = sgs_clock_wall_ms();
    if (c->batch_msgs == 0)
        c->batch_started = sgs_clock_mono_ms();
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
    sgs_record_parse(&c->rules, bm.payload ? bm.payload : "", bm.len,
                     rd_kafka_message_timestamp(m, &tstype), &c->rec);
    if (!copy && c->rec.unit) {
        int32_t to = sgs_route_target(c, c->rec.unit);
        if (to >= 0 && to != m->partition) {
            forward(c, ps, m, to, &bm);
            return;
        }
    }
    sgs_batch_add(&ps->batch, &c->env, &bm, &c->rec);
    if (ps->batch.arena.len + ps->batch.rejects.len >= c->cf_batch_bytes)
        c->batch_full = 1;
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

#define FRAGMENT_GAP 8 /* empty bytes that end a fragment */

/* Two bitmap identities in one fragment: the same field, the same gap month
 * (their groups' report month; revokes only look, and have none: -1). */
static int same_fragment(const sgs_batch *b, const sgs_batch_ident *x, const sgs_batch_ident *y)
{
    return x->year == y->year && x->field_len == y->field_len &&
           memcmp(b->arena.data + x->field_off, b->arena.data + y->field_off, x->field_len) == 0 &&
           b->groups[x->group].frag_month == b->groups[y->group].frag_month;
}

/* The bitmap identities as fragments: per year, field and gap month (in the
 * order sgs_batch_number_idents gave them), the bytes from the lowest to the
 * highest bit the batch holds (split where more than FRAGMENT_GAP bytes in a
 * row hold none), bits numbered from the most significant bit of byte 0 (as
 * Redis's SETBIT), the number of set bits, and the group of each set bit in
 * order, 3 bytes big-endian. The script numbers the identities in the same
 * order (ascending bits, fragment after fragment). */
static void append_fragments(sgs_consumer *c, const sgs_batch *b)
{
    eval_args *a = &c->args;
    size_t count_at = a->n, n_frag = 0;
    arg_int(a, 0); /* replaced by the count */
    for (size_t i = 0; i < b->n_bitmap_ids;) {
        const sgs_batch_ident *first = &b->idents[b->order[i]];
        const sgs_batch_group *g0 = &b->groups[first->group];
        size_t j = i + 1, start;
        int64_t expire = first->expire_at;
        uint32_t lo, hi;
        char month[8];
        while (j < b->n_bitmap_ids) {
            const sgs_batch_ident *e = &b->idents[b->order[j]];
            if (!same_fragment(b, first, e))
                break;
            /* a new fragment after a run of empty bytes: the script's work is
             * the fragments' bytes, and serials can lie far apart */
            if (e->bit / 8 > b->idents[b->order[j - 1]].bit / 8 + FRAGMENT_GAP)
                break;
            j++;
        }
        lo = first->bit / 8;
        hi = b->idents[b->order[j - 1]].bit / 8;
        arg_int(a, first->year);
        arg_put(a, b->arena.data + first->field_off, first->field_len);
        arg_int(a, lo);
        start = a->text.len;
        for (uint32_t k = lo; k <= hi; k++)
            sgs_buf_putc(&a->text, '\0');
        if (!a->text.oom)
            for (size_t k = i; k < j; k++) {
                const sgs_batch_ident *e = &b->idents[b->order[k]];
                a->text.data[start + e->bit / 8 - lo] |= (char)(0x80u >> (e->bit % 8));
                if (expire != 0 && (e->expire_at == 0 || e->expire_at > expire))
                    expire = e->expire_at; /* the latest; 0: kept */
            }
        arg_from(a, start);
        arg_int(a, expire);
        if (g0->type == SGS_GROUP_REVOKE)
            arg_put(a, "", 0); /* looks only */
        else
            arg_printf(a, "%s", sgs_day_format_month(g0->day, month));
        arg_int(a, (int64_t)(j - i));
        start = a->text.len;
        for (size_t k = i; k < j; k++) {
            uint32_t g = b->idents[b->order[k]].group + 1;
            char three[3] = {(char)(g >> 16), (char)(g >> 8), (char)g};
            sgs_buf_append(&a->text, three, 3);
        }
        arg_from(a, start);
        n_frag++;
        i = j;
    }
    /* the count, in place of its placeholder */
    a->off[count_at] = a->text.len;
    sgs_buf_put_i64(&a->text, (int64_t)n_frag);
    a->len[count_at] = a->text.len - a->off[count_at];
    a->argv[count_at] = NULL;
}

/* Appends the EVALSHA of one partition's sent batch to the pipe, as a unit of
 * its partition's slot (see script.c for the layout). The unit's index, or -1. */
static long append_eval(sgs_consumer *c, int32_t p)
{
    part_state *ps = &c->parts[p];
    sgs_batch *b = &ps->sent;
    eval_args *a = &c->args;
    size_t n = 28 + ps->n_acks + 2 * b->n_units + 7 * b->n_groups + 6 * b->n_items +
               2 * b->n_seq_out + 2 * b->n_seq_in + 8 * b->n_idents;
    char base[SGS_STORE_KEY_MAX];
    long n_ids;

    if (b->n_acks > ps->n_acks)
        b->n_acks = ps->n_acks;
    if (args_reserve(a, n) != 0 || (n_ids = sgs_batch_number_idents(b)) < 0 ||
        sgs_store_base(base, sizeof(base), c->prefix, c->topic, p) < 0)
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
    arg_int(a, c->cf_thr_h);
    arg_int(a, c->cf_minrec);
    arg_int(a, c->cf_window);
    arg_puts(a, c->cf_thrtext);
    arg_puts(a, c->topic);
    arg_puts(a, c->route.epoch);
    arg_int(a, c->cf_alerts_kept);
    arg_int(a, c->cf_ledger_max);
    arg_int(a, (int64_t)b->n_acks);
    for (size_t i = 0; i < b->n_acks; i++)
        arg_puts(a, ps->acks[i]);
    arg_put(a, b->rejects.data ? b->rejects.data : "", b->rejects.len);
    /* units: id, then "<id JSON>\x1f<name JSON>" */
    arg_int(a, (int64_t)b->n_units);
    for (size_t i = 0; i < b->n_units; i++) {
        const sgs_unit *u = sgs_registry_at(c->registry, b->units[i]);
        size_t start;
        arg_puts(a, u->id);
        start = a->text.len;
        sgs_buf_put_json_string(&a->text, u->id, strlen(u->id));
        sgs_buf_putc(&a->text, '\x1f');
        sgs_buf_put_json_string(&a->text, u->name, strlen(u->name));
        arg_from(a, start);
    }
    /* groups: type, day, unit, flags, workdays late, messages, identities */
    arg_int(a, (int64_t)b->n_groups);
    for (size_t i = 0; i < b->n_groups; i++) {
        const sgs_batch_group *g = &b->groups[i];
        char day[11];
        arg_put(a, &g->type, 1);
        arg_printf(a, "%s", sgs_day_format(g->day, day)); /* copied: day is reused */
        arg_puts(a, g->unit == UINT32_MAX ? "" : sgs_registry_at(c->registry, g->unit)->id);
        arg_int(a, g->flags);
        arg_int(a, g->wd);
        arg_int(a, g->n);
        arg_int(a, g->n_ids);
    }
    /* items: identity position (0: unconditional), condition, kind, unit, month, JSON */
    arg_int(a, (int64_t)b->n_items);
    for (size_t i = 0; i < b->n_items; i++) {
        const sgs_batch_item *it = &b->items[i];
        char month[8];
        arg_int(a, it->ident == UINT32_MAX ? 0 : b->idents[it->ident].pos);
        arg_put(a, &it->cond, 1);
        arg_put(a, &it->kind, 1);
        arg_puts(a, sgs_registry_at(c->registry, it->unit)->id);
        arg_printf(a, "%s", sgs_day_format_month(it->day, month));
        arg_put(a, b->arena.data + it->off, it->len);
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
    /* the identities: bitmap fragments, then the others (sgs_batch_number_idents) */
    append_fragments(c, b);
    arg_int(a, (int64_t)(n_ids - (long)b->n_bitmap_ids));
    for (long i = (long)b->n_bitmap_ids; i < n_ids; i++) {
        const sgs_batch_ident *e = &b->idents[b->order[i]];
        arg_int(a, (int64_t)e->group + 1);
        arg_int(a, e->year);
        arg_put(a, b->arena.data + e->off, e->len);
        arg_int(a, e->expire_at);
        arg_put(a, e->gap_len ? b->arena.data + e->gap_off : "", e->gap_len);
        arg_int(a, e->gap_lo);
        arg_int(a, e->gap_hi);
    }
    if (a->text.oom)
        return -1;
    for (size_t i = 0; i < a->n; i++)
        if (!a->argv[i])
            a->argv[i] = a->text.data + a->off[i];
    /* fenced by the stored offset: safe to send again after a lost reply */
    return sgs_rcl_pipe_append(c->pipe, sgs_rcl_slot(base, strlen(base)), SGS_RCL_IDEMPOTENT,
                               (int)a->n, a->argv, a->len);
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

/* Sends one EVALSHA per partition with a batch, pipelined, without reading
 * the replies. retry: the sent batches Redis did not apply; else the batches
 * being collected (which become the sent ones). */
static int send_batches(sgs_consumer *c, int retry)
{
    size_t n = 0;

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
    sgs_rcl_pipe_reset(c->pipe);
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        long unit;
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
        unit = append_eval(c, p);
        if (unit < 0) {
            sgs_rconn_lost(c, "out of memory building the batch command");
            return -1;
        }
        c->inflight[n] = p;
        c->inflight_unit[n++] = unit;
    }
    /* Write it all now: Redis runs the scripts while we read the next batch. */
    if (n && sgs_rcl_pipe_send(c->pipe) != 0) {
        sgs_rconn_lost(c, "out of memory sending the batches");
        return -1;
    }
    c->n_inflight = n;
    c->batch_sent_ns = sgs_clock_mono_ns(); /* issue 13: sgs_consumer_batch_seconds */
    return 0;
}

/* The batch in flight was applied: count it, hand over its outbox entry. */
static void applied(sgs_consumer *c, int32_t p, const char *dups, size_t dlen,
                    const redisReply *entry)
{
    part_state *ps = &c->parts[p];
    sgs_batch *b = &ps->sent;
    c->batches++; /* issue 13: sgs_consumer_batches_total */
    if (sgs_batch_account(b, dups, dlen, &c->n) != 0)
        sgs_warn("partition %" PRId32 ": batch script: unexpected duplicate positions '%.*s'", p,
                 (int)(dlen > 64 ? 64 : dlen), dups);
    sgs_parts_take_acks(ps, b->n_acks);
    for (size_t i = 0; i < b->n_seq_out; i++)
        sgs_parts_seq_commit(&ps->fo, b->seq_out[i].partition, b->seq_out[i].next);
    for (size_t i = 0; i < b->n_seq_in; i++)
        sgs_parts_seq_commit(&ps->fi, b->seq_in[i].partition, b->seq_in[i].next);
    ps->stored = b->last + 1;
    sgs_parts_store_offset(c, p, ps->stored);
    if (entry && entry->type == REDIS_REPLY_STRING && entry->len > 0)
        sgs_outbox_send(c, p, ps->stored, entry->str, entry->len);
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
        if (r->type == REDIS_REPLY_ERROR) {
            sgs_rconn_refused(c, r->str);
            rc = -1;
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_STRING) {
            sgs_rconn_refused(c, "unexpected reply to the batch script");
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
                applied(c, p, "", 0, NULL);
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
        applied(c, p, r->element[1]->str, r->element[1]->len,
                r->elements > 2 ? r->element[2] : NULL);
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
    for (;;) {
        if (sgs_writer_submit(c) != 0 || sgs_writer_settle(c) != 0)
            return -1;
        if (c->batch_msgs == 0)
            return 0;
        if (sgs_clock_mono_ms() >= deadline)
            return -1;
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

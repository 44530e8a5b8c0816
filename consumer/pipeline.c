/* From messages to one atomic Redis step per partition per batch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumer.h"
#include "sgs/date.h"
#include "sgs/log.h"
#include "sgs/redisconn.h"

#define ARGS_PER_MSG 8
#define FIXED_ARGS   11

int64_t sgs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sgs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

part_state *sgs_consumer_part(sgs_consumer *c, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if (partition >= c->n_parts) {
        int32_t n = c->n_parts ? c->n_parts : 16;
        while (n <= partition)
            n *= 2;
        part_state *p = realloc(c->parts, (size_t)n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + c->n_parts, 0, (size_t)(n - c->n_parts) * sizeof(*p));
        for (int32_t i = c->n_parts; i < n; i++) {
            p[i].stored = -1;
            p[i].next = -1;
        }
        c->parts = p;
        c->n_parts = n;
    }
    return &c->parts[partition];
}

void sgs_consumer_batch_free(part_batch *b)
{
    sgs_buf_free(&b->arena);
    sgs_buf_free(&b->rejects);
    free(b->args);
    free(b->units);
    memset(b, 0, sizeof(*b));
}

static void batch_clear(sgs_consumer *c, part_batch *b)
{
    c->batch_msgs -= b->n_msgs;
    sgs_buf_reset(&b->arena);
    sgs_buf_reset(&b->rejects);
    b->n_args = 0;
    b->n_msgs = 0;
    b->n_rejects = 0;
    b->n_records = b->n_late = b->n_invalid = b->n_unattributed = b->n_malformed = 0;
}

void sgs_consumer_drop_batch(sgs_consumer *c, int32_t partition)
{
    part_state *ps = sgs_consumer_part(c, partition);
    if (!ps || ps->batch.n_msgs == 0)
        return;
    sgs_debug("partition %" PRId32 ": dropping a batch of %zu messages (offsets %" PRId64
              "..%" PRId64 ")",
              partition, ps->batch.n_msgs, ps->batch.first, ps->batch.last);
    batch_clear(c, &ps->batch);
    ps->next = ps->stored;
}

/* Appends one ARGV value to the batch. */
static void arg_put(part_batch *b, const char *s, size_t n)
{
    if (b->n_args == b->cap_args) {
        size_t nc = b->cap_args ? b->cap_args * 2 : 1024;
        arg_ref *na = realloc(b->args, nc * sizeof(*na));
        if (!na) {
            b->arena.oom = 1;
            return;
        }
        b->args = na;
        b->cap_args = nc;
    }
    b->args[b->n_args].off = b->arena.len;
    b->args[b->n_args].len = n;
    b->n_args++;
    sgs_buf_append(&b->arena, s, n);
    sgs_buf_putc(&b->arena, '\0'); /* so each value can be read as a C string too */
}

static void arg_puts(part_batch *b, const char *s)
{
    arg_put(b, s, strlen(s));
}

void sgs_outbox_put(sgs_buf *b, char type, const char *key, size_t klen, const char *value,
                    size_t vlen)
{
    sgs_buf_printf(b, "%c%zu:%zu:", type, klen, vlen);
    sgs_buf_append(b, key, klen);
    sgs_buf_append(b, value, vlen);
}

static void json_field_str(sgs_buf *b, const char *name, const char *value)
{
    sgs_buf_printf(b, ",\"%s\":", name);
    sgs_buf_put_json_string(b, value, strlen(value));
}

static void build_late_alert(sgs_consumer *c, const sgs_record *r, int32_t partition,
                             int64_t offset, sgs_buf *b)
{
    char day[11];
    sgs_buf_reset(b);
    sgs_buf_printf(b, "{\"type\":\"late\",\"id\":");
    {
        char id[320];
        int n =
            snprintf(id, sizeof(id), "late:%s:%" PRId32 ":%" PRId64, c->topic, partition, offset);
        sgs_buf_put_json_string(b, id, (size_t)n);
    }
    json_field_str(b, "unit_id", r->unit_id);
    json_field_str(b, "unit_name", r->unit ? r->unit->name : "");
    json_field_str(b, "kind", sgs_kind_name(r->kind));
    json_field_str(b, "doc_no", r->doc_no);
    json_field_str(b, "decision_date", sgs_day_format(r->decision_date, day));
    json_field_str(b, "deadline", sgs_day_format(r->deadline, day));
    json_field_str(b, "reported_at", r->reported_at_text);
    sgs_buf_printf(b, ",\"workdays_late\":%d}", r->workdays_late);
}

static void build_reject(sgs_consumer *c, const sgs_record *r, const rd_kafka_message_t *m,
                         sgs_buf *b)
{
    size_t max = (size_t)sgs_config_get_int(c->cfg, "consumer.reject_payload_max");
    const char *payload = m->payload ? (const char *)m->payload : "";
    size_t len = m->payload ? m->len : 0, keep = len;
    int utf8 = sgs_utf8_valid(payload, len) && memchr(payload, '\0', len) == NULL;

    sgs_buf_reset(b);
    /* Kafka topic names are [a-zA-Z0-9._-]: nothing to escape */
    sgs_buf_printf(b, "{\"id\":\"reject:%s:%" PRId32 ":%" PRId64 "\",\"reasons\":[", c->topic,
                   m->partition, m->offset);
    for (int i = 0; i < r->n_reasons; i++) {
        sgs_buf_puts(b, i ? ",{\"code\":" : "{\"code\":");
        sgs_buf_put_json_string(b, r->reasons[i].code, strlen(r->reasons[i].code));
        json_field_str(b, "field", r->reasons[i].field);
        json_field_str(b, "message", r->reasons[i].message);
        sgs_buf_putc(b, '}');
    }
    sgs_buf_puts(b, "],\"unit_id\":");
    if (r->unit_id[0] && r->status != SGS_RECORD_MALFORMED)
        sgs_buf_put_json_string(b, r->unit_id, strlen(r->unit_id));
    else
        sgs_buf_puts(b, "null");
    sgs_buf_puts(b, ",\"source\":{\"topic\":");
    sgs_buf_put_json_string(b, c->topic, strlen(c->topic));
    sgs_buf_printf(b, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}", m->partition,
                   m->offset);
    if (keep > max)
        keep = utf8 ? sgs_utf8_cut(payload, max) : max;
    sgs_buf_puts(b, ",\"payload\":");
    if (utf8) {
        sgs_buf_put_json_string(b, payload, keep);
    } else {
        sgs_buf_putc(b, '"');
        sgs_buf_put_base64(b, payload, keep);
        sgs_buf_puts(b, "\",\"payload_encoding\":\"base64\"");
    }
    if (keep < len)
        sgs_buf_printf(b, ",\"payload_truncated\":true,\"payload_bytes\":%zu", len);
    sgs_buf_putc(b, '}');
}

void sgs_consumer_add_message(sgs_consumer *c, const rd_kafka_message_t *m)
{
    part_state *ps = sgs_consumer_part(c, m->partition);
    part_batch *b;
    sgs_record *r = &c->rec;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts;
    char flags[4], wd[12];
    int f = 0;

    if (!ps || !ps->assigned || ps->needs_sync)
        return; /* not ours (any more), or its position is not known yet */
    if (ps->next >= 0 && m->offset < ps->next)
        return; /* already in the batch or applied */
    ps->at_eof = 0;
    b = &ps->batch;
    if (c->first_msg_ms == 0)
        c->first_msg_ms = sgs_wall_ms();
    if (c->batch_msgs == 0)
        c->batch_started = sgs_now_ms();

    ts = rd_kafka_message_timestamp(m, &tstype);
    sgs_record_parse(&c->rules, m->payload ? m->payload : "", m->payload ? m->len : 0, ts, r);

    if (b->n_msgs == 0) {
        b->first = m->offset;
        b->gen = ++c->gen_counter;
        b->n_units = 0;
    }
    b->last = m->offset;
    b->n_msgs++;
    c->batch_msgs++;
    ps->next = m->offset + 1;

    if (r->status == SGS_RECORD_MALFORMED) {
        arg_puts(b, "M");
        b->n_malformed++;
    } else if (r->status == SGS_RECORD_UNKNOWN_UNIT) {
        arg_puts(b, "U");
        b->n_unattributed++;
    } else {
        arg_puts(b, "R");
    }
    arg_puts(b, r->has_identity ? r->identity : "");
    arg_puts(b, r->month);
    arg_puts(b, r->day);
    arg_puts(b, r->unit ? r->unit->id : "");
    if (r->status == SGS_RECORD_VALID || r->status == SGS_RECORD_INVALID) {
        f |= r->late ? 1 : 0;
        f |= r->status == SGS_RECORD_INVALID ? 2 : 0;
        f |= r->kind == SGS_KIND_LICENSE ? 4 : 0;
        f |= r->kind == SGS_KIND_PENALTY ? 8 : 0;
        if (r->unit && c->unit_stamp[r->unit->index] != b->gen) {
            c->unit_stamp[r->unit->index] = b->gen;
            if (b->n_units == b->cap_units) {
                size_t nc = b->cap_units ? b->cap_units * 2 : 64;
                size_t *nu = realloc(b->units, nc * sizeof(*nu));
                if (nu) {
                    b->units = nu;
                    b->cap_units = nc;
                }
            }
            if (b->n_units < b->cap_units)
                b->units[b->n_units++] = r->unit->index;
        }
    }
    snprintf(flags, sizeof(flags), "%d", f);
    arg_puts(b, flags);
    snprintf(wd, sizeof(wd), "%d", r->late ? r->workdays_late : 0);
    arg_puts(b, wd);
    if ((f & 1) && r->has_deadline) {
        build_late_alert(c, r, m->partition, m->offset, &c->tmp);
        arg_put(b, c->tmp.data, c->tmp.len);
    } else {
        arg_put(b, "", 0);
    }
    if (r->status != SGS_RECORD_VALID) {
        build_reject(c, r, m, &c->tmp);
        sgs_outbox_put(&b->rejects, 'r', r->status == SGS_RECORD_MALFORMED ? "" : r->unit_id,
                       r->status == SGS_RECORD_MALFORMED ? 0 : strlen(r->unit_id), c->tmp.data,
                       c->tmp.len);
        b->n_rejects++;
    }
}

/* ---- Redis ---- */

/* Marks Redis unavailable and doubles the wait before the next try (capped). */
static void back_off(sgs_consumer *c, int max)
{
    c->redis_down = 1;
    c->retry_ms = c->retry_ms ? c->retry_ms * 2 : 100;
    if (c->retry_ms > max)
        c->retry_ms = max;
    c->retry_at = sgs_now_ms() + c->retry_ms;
}

void sgs_consumer_redis_lost(sgs_consumer *c, const char *why)
{
    int max = (int)sgs_config_get_int(c->cfg, "consumer.retry_max_ms");
    char reason[512];
    snprintf(reason, sizeof(reason), "%s", why); /* why may point into c->redis */
    why = reason;
    if (c->redis) {
        redisFree(c->redis);
        c->redis = NULL;
    }
    if (!c->redis_down)
        sgs_error("redis unavailable: %s; consumption paused, retrying with backoff up to %d ms",
                  why, max);
    back_off(c, max);
}

/* A command refused (OOM, READONLY, ...): keep the connection, back off. */
static void redis_refused(sgs_consumer *c, const char *why)
{
    int max = (int)sgs_config_get_int(c->cfg, "consumer.retry_max_ms");
    if (!c->redis_down)
        sgs_error("redis refused the batch: %s; consumption paused, retrying with backoff up to "
                  "%d ms",
                  why, max);
    back_off(c, max);
}

static void redis_recovered(sgs_consumer *c)
{
    if (c->redis_down)
        sgs_info("redis available again; resuming");
    c->redis_down = 0;
    c->retry_ms = 0;
    c->retry_at = 0;
}

static int load_script(sgs_consumer *c)
{
    char err[512];
    redisReply *r =
        sgs_redis_command(c->redis, err, sizeof(err), "SCRIPT LOAD %s", sgs_consumer_script);
    if (!r) {
        sgs_consumer_redis_lost(c, err);
        return -1;
    }
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        freeReplyObject(r);
        sgs_consumer_redis_lost(c, "SCRIPT LOAD: unexpected reply");
        return -1;
    }
    memcpy(c->script_sha, r->str, 40);
    c->script_sha[40] = '\0';
    freeReplyObject(r);
    return 0;
}

int sgs_consumer_redis_ready(sgs_consumer *c)
{
    char err[512];
    if (c->redis_down && sgs_now_ms() < c->retry_at)
        return -1;
    if (!c->redis) {
        int timeout = (int)sgs_config_get_int(c->cfg, "redis.timeout_ms");
        c->redis = sgs_redis_connect(c->cfg, timeout, err, sizeof(err));
        if (!c->redis) {
            sgs_consumer_redis_lost(c, err);
            return -1;
        }
        if (load_script(c) != 0)
            return -1;
    }
    return 0;
}

static void base_key(const sgs_consumer *c, int32_t partition, char *buf, size_t size)
{
    snprintf(buf, size, "%s:{%s:%" PRId32 "}", c->prefix, c->topic, partition);
}

/* Re-sends the outbox entries of a partition that are not being delivered now. */
static int resend_outbox(sgs_consumer *c, int32_t partition)
{
    char key[512], err[512];
    redisReply *r;
    base_key(c, partition, key, sizeof(key));
    strncat(key, ":outbox", sizeof(key) - strlen(key) - 1);
    r = sgs_redis_command(c->redis, err, sizeof(err), "HGETALL %s", key);
    if (!r) {
        sgs_consumer_redis_lost(c, err);
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            int64_t end = strtoll(r->element[i]->str, NULL, 10);
            int acked = 0;
            part_state *ps = sgs_consumer_part(c, partition);
            for (size_t a = 0; ps && a < ps->n_acks && !acked; a++)
                acked = strcmp(ps->acks[a], r->element[i]->str) == 0;
            if (acked || sgs_consumer_outbox_tracked(c, partition, end))
                continue; /* being delivered, or delivered and waiting for deletion */
            sgs_info("partition %" PRId32 ": re-sending undelivered alerts/rejects of the batch "
                     "ending at %" PRId64,
                     partition, end);
            sgs_consumer_outbox_send(c, partition, end, r->element[i + 1]->str,
                                     r->element[i + 1]->len);
        }
    }
    freeReplyObject(r);
    return 0;
}

int sgs_consumer_sync_partition(sgs_consumer *c, int32_t partition)
{
    char key[512], err[512];
    redisReply *r;
    part_state *ps = sgs_consumer_part(c, partition);
    if (!ps || sgs_consumer_redis_ready(c) != 0)
        return -1;
    base_key(c, partition, key, sizeof(key));
    strncat(key, ":offset", sizeof(key) - strlen(key) - 1);
    r = sgs_redis_command(c->redis, err, sizeof(err), "GET %s", key);
    if (!r) {
        sgs_consumer_redis_lost(c, err);
        return -1;
    }
    ps->stored = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    if (resend_outbox(c, partition) != 0)
        return -1;
    return 0;
}

/* Queue a delivered outbox field for deletion. */
static void take_acks(part_state *ps, size_t n)
{
    for (size_t i = 0; i < n && i < ps->n_acks; i++)
        free(ps->acks[i]);
    if (n >= ps->n_acks) {
        ps->n_acks = 0;
    } else {
        memmove(ps->acks, ps->acks + n, (ps->n_acks - n) * sizeof(*ps->acks));
        ps->n_acks -= n;
    }
}

int sgs_consumer_flush_acks(sgs_consumer *c)
{
    char key[512];
    int32_t *which = NULL;
    size_t *counts = NULL, n = 0;
    int rc = 0;

    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].n_acks)
            n++;
    if (!n)
        return 0;
    if (sgs_consumer_redis_ready(c) != 0)
        return -1;
    which = calloc(n, sizeof(*which));
    counts = calloc(n, sizeof(*counts));
    if (!which || !counts) {
        free(which);
        free(counts);
        return -1;
    }
    n = 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        size_t k = ps->n_acks;
        const char **argv;
        size_t *argvlen;
        if (!k)
            continue;
        argv = calloc(k + 2, sizeof(*argv));
        argvlen = calloc(k + 2, sizeof(*argvlen));
        if (!argv || !argvlen) {
            free(argv);
            free(argvlen);
            continue;
        }
        base_key(c, p, key, sizeof(key));
        strncat(key, ":outbox", sizeof(key) - strlen(key) - 1);
        argv[0] = "HDEL";
        argv[1] = key;
        for (size_t i = 0; i < k; i++)
            argv[i + 2] = ps->acks[i];
        for (size_t i = 0; i < k + 2; i++)
            argvlen[i] = strlen(argv[i]);
        redisAppendCommandArgv(c->redis, (int)(k + 2), argv, argvlen);
        free(argv);
        free(argvlen);
        which[n] = p;
        counts[n] = k;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->redis, (void **)&r) != REDIS_OK || !r) {
            sgs_consumer_redis_lost(c, c->redis ? c->redis->errstr : "no reply");
            rc = -1;
            break;
        }
        if (r->type != REDIS_REPLY_ERROR)
            take_acks(&c->parts[which[i]], counts[i]);
        freeReplyObject(r);
    }
    free(which);
    free(counts);
    return rc;
}

/* Counts what a successfully applied batch did, from its arguments and the
 * script's duplicate flags. */
static void account(sgs_consumer *c, part_batch *b, const char *dups, size_t n_dups)
{
    for (size_t i = 0; i < b->n_msgs; i++) {
        const char *type = b->arena.data + b->args[i * ARGS_PER_MSG].off;
        int flags = atoi(b->arena.data + b->args[i * ARGS_PER_MSG + 5].off);
        int dup = i < n_dups && dups[i] == '1';
        if (type[0] == 'M') {
            c->malformed++;
        } else if (type[0] == 'U') {
            c->unattributed++;
        } else if (dup) {
            c->duplicates++;
        } else {
            c->records++;
            c->late += (flags & 1) != 0;
            c->invalid += (flags & 2) != 0;
        }
    }
    c->rejects += b->n_rejects;
    c->messages += b->n_msgs;
}

/* ARGV scratch reused for every EVALSHA. */
typedef struct argv_scratch {
    const char **argv;
    size_t *len;
    size_t cap;
} argv_scratch;

static int scratch_reserve(argv_scratch *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    const char **a = realloc(s->argv, n * sizeof(*a));
    if (!a)
        return -1;
    s->argv = a;
    size_t *l = realloc(s->len, n * sizeof(*l));
    if (!l)
        return -1;
    s->len = l;
    s->cap = n;
    return 0;
}

static argv_scratch scratch;

void sgs_consumer_scratch_free(void)
{
    free(scratch.argv);
    free(scratch.len);
    memset(&scratch, 0, sizeof(scratch));
}

/* Appends the EVALSHA of one partition's batch to the connection's pipeline. */
static int append_eval(sgs_consumer *c, int32_t p, char *strs, size_t strs_size)
{
    part_state *ps = &c->parts[p];
    part_batch *b = &ps->batch;
    size_t n = 4 + FIXED_ARGS + ps->n_acks + 2 + 2 * b->n_units + b->n_args, k = 0;
    char *base = strs, *expected, *newoff, *lrid, *nacks, *nunits;
    size_t used = 0;
    double thr = sgs_config_get_double(c->cfg, "alert.late_rate_threshold");

    if (scratch_reserve(&scratch, n) != 0)
        return -1;
#define PUTSTR(var, ...)                                                                           \
    do {                                                                                           \
        var = strs + used;                                                                         \
        used += (size_t)snprintf(strs + used, strs_size - used, __VA_ARGS__) + 1;                  \
    } while (0)
    PUTSTR(base, "%s:{%s:%" PRId32 "}", c->prefix, c->topic, p);
    PUTSTR(expected, "%" PRId64, ps->stored);
    PUTSTR(newoff, "%" PRId64, b->last + 1);
    PUTSTR(lrid, "late_rate:%s:%" PRId32 ":%" PRId64, c->topic, p, b->last);
    PUTSTR(nacks, "%zu", ps->n_acks);
    PUTSTR(nunits, "%zu", b->n_units);
    char *retention, *tz, *thr_h, *minrec, *window, *thrtext;
    PUTSTR(retention, "%ld", sgs_config_get_int(c->cfg, "consumer.day_retention_days"));
    PUTSTR(tz, "%d", c->rules.tz_offset);
    PUTSTR(thr_h, "%lld", (long long)(thr * 100.0 + 0.5));
    PUTSTR(minrec, "%ld", sgs_config_get_int(c->cfg, "alert.late_rate_min_records"));
    PUTSTR(window, "%ld", sgs_config_get_int(c->cfg, "alert.window_days"));
    PUTSTR(thrtext, "%.1f", thr);
#undef PUTSTR
    if (used > strs_size)
        return -1;

    scratch.argv[k++] = "EVALSHA";
    scratch.argv[k++] = c->script_sha;
    scratch.argv[k++] = "1";
    scratch.argv[k++] = base;
    scratch.argv[k++] = expected;
    scratch.argv[k++] = newoff;
    scratch.argv[k++] = c->prefix;
    scratch.argv[k++] = retention;
    scratch.argv[k++] = tz;
    scratch.argv[k++] = thr_h;
    scratch.argv[k++] = minrec;
    scratch.argv[k++] = window;
    scratch.argv[k++] = thrtext;
    scratch.argv[k++] = lrid;
    scratch.argv[k++] = nacks;
    for (size_t i = 0; i < k; i++)
        scratch.len[i] = strlen(scratch.argv[i]);
    for (size_t i = 0; i < ps->n_acks; i++) {
        scratch.argv[k] = ps->acks[i];
        scratch.len[k++] = strlen(ps->acks[i]);
    }
    scratch.argv[k] = b->rejects.data ? b->rejects.data : "";
    scratch.len[k++] = b->rejects.len;
    scratch.argv[k] = nunits;
    scratch.len[k++] = strlen(nunits);
    /* unit names: "<id JSON>\x1f<name JSON>" built into c->tmp, referenced by offset */
    sgs_buf_reset(&c->tmp);
    size_t *offs = NULL;
    if (b->n_units) {
        offs = malloc(b->n_units * 2 * sizeof(*offs));
        if (!offs)
            return -1;
        for (size_t i = 0; i < b->n_units; i++) {
            const sgs_unit *u = sgs_registry_at(c->registry, b->units[i]);
            offs[2 * i] = c->tmp.len;
            sgs_buf_put_json_string(&c->tmp, u->id, strlen(u->id));
            sgs_buf_putc(&c->tmp, '\x1f');
            sgs_buf_put_json_string(&c->tmp, u->name, strlen(u->name));
            offs[2 * i + 1] = c->tmp.len;
        }
    }
    if (c->tmp.oom) {
        free(offs);
        return -1;
    }
    for (size_t i = 0; i < b->n_units; i++) {
        const sgs_unit *u = sgs_registry_at(c->registry, b->units[i]);
        scratch.argv[k] = u->id;
        scratch.len[k++] = strlen(u->id);
        scratch.argv[k] = c->tmp.data + offs[2 * i];
        scratch.len[k++] = offs[2 * i + 1] - offs[2 * i];
    }
    free(offs);
    for (size_t i = 0; i < b->n_args; i++) {
        scratch.argv[k] = b->arena.data + b->args[i].off;
        scratch.len[k++] = b->args[i].len;
    }
    if (redisAppendCommandArgv(c->redis, (int)k, scratch.argv, scratch.len) != REDIS_OK)
        return -1;
    return 0;
}

static void store_offset(sgs_consumer *c, int32_t p, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, p)->offset = next;
    rd_kafka_offsets_store(c->rk, l); /* for lag tools only; Redis holds the truth */
    rd_kafka_topic_partition_list_destroy(l);
}

void sgs_consumer_seek(sgs_consumer *c, int32_t p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *e;
    rd_kafka_topic_partition_list_add(l, c->topic, p)->offset =
        offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
    e = rd_kafka_seek_partitions(c->rk, l, 5000);
    if (e) {
        sgs_warn("partition %" PRId32 ": seek to %" PRId64 " failed: %s", p, offset,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

int sgs_consumer_flush(sgs_consumer *c)
{
    int32_t *which;
    size_t n = 0, m;
    int rc = 0, noscript = 0;
    char strs[2048];

    if (c->batch_msgs == 0)
        return 0;
    if (sgs_consumer_redis_ready(c) != 0)
        return -1;
    which = malloc((size_t)c->n_parts * sizeof(*which));
    if (!which)
        return -1;
    for (int32_t p = 0; p < c->n_parts; p++) {
        if (c->parts[p].batch.n_msgs == 0)
            continue;
        if (c->parts[p].batch.arena.oom || c->parts[p].batch.rejects.oom) {
            sgs_error("partition %" PRId32 ": out of memory building a batch; dropping it", p);
            sgs_consumer_drop_batch(c, p);
            sgs_consumer_seek(c, p, c->parts[p].stored);
            continue;
        }
        if (append_eval(c, p, strs, sizeof(strs)) != 0) {
            sgs_consumer_redis_lost(c, "cannot build the command");
            free(which);
            return -1;
        }
        which[n++] = p;
    }
    int64_t t_redis = sgs_now_ms();
    for (m = 0; m < n; m++) {
        int32_t p = which[m];
        part_state *ps = &c->parts[p];
        part_batch *b = &ps->batch;
        redisReply *r = NULL;
        if (redisGetReply(c->redis, (void **)&r) != REDIS_OK || !r) {
            /* Broken connection: scripts already run are fenced on the retry and
             * recognised as applied (their stored offset is our batch end). */
            sgs_consumer_redis_lost(c, c->redis->errstr[0] ? c->redis->errstr : "no reply");
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strncmp(r->str, "NOSCRIPT", 8) == 0)
                noscript = 1;
            else
                redis_refused(c, r->str);
            freeReplyObject(r);
            rc = -1;
            continue;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            redis_refused(c, "unexpected reply to the batch script");
            rc = -1;
            continue;
        }
        if (strcmp(r->element[0]->str, "FENCED") == 0) {
            int64_t stored = strtoll(r->element[1]->str, NULL, 10);
            freeReplyObject(r);
            if (stored == b->last + 1) {
                /* Applied by an earlier attempt whose reply was lost. */
                sgs_info("partition %" PRId32 ": batch ending at %" PRId64
                         " was already applied; recovering its alerts",
                         p, stored);
                account(c, b, "", 0);
                batch_clear(c, b);
                ps->stored = stored;
                store_offset(c, p, stored);
                resend_outbox(c, p);
                continue;
            }
            if (stored < 0) {
                sgs_warn("partition %" PRId32 ": stored offset %" PRId64
                         " vanished from Redis (data lost?); continuing from the batch",
                         p, ps->stored);
                ps->stored = -1;
                rc = -1; /* retry the same batch: the fence passes now */
                c->retry_at = 0;
                continue;
            }
            c->fenced++;
            sgs_warn("partition %" PRId32 ": fenced: Redis holds offset %" PRId64
                     ", this batch starts after %" PRId64 "; dropping it and seeking",
                     p, stored, ps->stored);
            batch_clear(c, b);
            ps->stored = stored;
            ps->next = stored;
            sgs_consumer_seek(c, p, stored);
            continue;
        }
        /* OK */
        {
            const char *dups = r->element[1]->str;
            size_t n_dups = r->element[1]->len;
            const redisReply *entry = r->elements > 2 ? r->element[2] : NULL;
            account(c, b, dups, n_dups);
            take_acks(ps, ps->n_acks);
            ps->stored = b->last + 1;
            store_offset(c, p, ps->stored);
            if (entry && entry->type == REDIS_REPLY_STRING && entry->len > 0)
                sgs_consumer_outbox_send(c, p, ps->stored, entry->str, entry->len);
            batch_clear(c, b);
            freeReplyObject(r);
        }
    }
    free(which);
    c->ms_redis += sgs_now_ms() - t_redis;
    if (rc == 0) {
        c->last_msg_ms = sgs_wall_ms();
        redis_recovered(c);
    }
    if (noscript && c->redis) {
        /* Redis restarted and lost its script cache: nothing ran. Reload, retry. */
        if (load_script(c) == 0)
            return sgs_consumer_flush(c);
    }
    return rc;
}

/* From messages to one atomic Redis step per partition per batch. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consumer.h"
#include "sgs/date.h"
#include "sgs/log.h"
#include "sgs/redisconn.h"

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
    free(b->groups);
    free(b->group_slots);
    free(b->idents);
    free(b->ident_slots);
    free(b->alerts);
    free(b->order);
    free(b->units);
    memset(b, 0, sizeof(*b));
}

/* Empties a batch, keeping its memory. */
static void batch_reset(part_batch *b)
{
    sgs_buf_reset(&b->arena);
    sgs_buf_reset(&b->rejects);
    b->arena.oom = b->rejects.oom = 0; /* a dropped batch's failure is not the next one's */
    if (b->n_groups && b->group_slots)
        memset(b->group_slots, 0, b->cap_group_slots * sizeof(*b->group_slots));
    if (b->n_idents && b->ident_slots)
        memset(b->ident_slots, 0, b->cap_ident_slots * sizeof(*b->ident_slots));
    b->n_msgs = 0;
    b->n_groups = b->n_idents = b->n_alerts = b->n_rejects = b->n_units = b->n_acks = 0;
}

static void batch_clear(sgs_consumer *c, part_batch *b)
{
    c->batch_msgs -= b->n_msgs;
    batch_reset(b);
}

static void sent_clear(sgs_consumer *c, part_batch *b)
{
    c->sent_msgs -= b->n_msgs;
    batch_reset(b);
}

void sgs_consumer_drop_batch(sgs_consumer *c, int32_t partition)
{
    part_state *ps = sgs_consumer_part(c, partition);
    if (!ps || (ps->batch.n_msgs == 0 && ps->sent.n_msgs == 0))
        return;
    sgs_debug("partition %" PRId32 ": dropping %zu messages in hand", partition,
              ps->batch.n_msgs + ps->sent.n_msgs);
    batch_clear(c, &ps->batch);
    sent_clear(c, &ps->sent);
    ps->next = ps->stored;
}

/* Grows an array of elements of `size` bytes to hold at least n + 1; -1 when
 * out of memory. */
static int grow(void **arr, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap : first;
    while (nc <= n)
        nc *= 2;
    void *na = realloc(*arr, nc * size);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(uint64_t seed, const char *s, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, s, n);
    return mix(h ^ v);
}

/* (Re)builds an open-addressing table of `n` entries, at most half full. */
static int slots_rebuild(uint32_t **slots, size_t *cap, size_t n, size_t first,
                         uint64_t (*hash)(const part_batch *, uint64_t, uint32_t),
                         const part_batch *b, uint64_t seed)
{
    size_t nc = *cap ? *cap : first;
    while (nc < 2 * (n + 1))
        nc *= 2;
    if (nc != *cap) {
        uint32_t *ns = realloc(*slots, nc * sizeof(*ns));
        if (!ns)
            return -1;
        *slots = ns;
        *cap = nc;
    }
    memset(*slots, 0, nc * sizeof(**slots));
    for (uint32_t i = 0; i < n; i++) {
        size_t j = (size_t)hash(b, seed, i) & (nc - 1);
        while ((*slots)[j])
            j = (j + 1) & (nc - 1);
        (*slots)[j] = i + 1;
    }
    return 0;
}

static uint64_t group_hash_of(char type, sgs_day day, uint32_t unit, int flags, int wd)
{
    uint64_t k = ((uint64_t)(uint32_t)day << 32) | unit;
    return mix(k ^ mix(((uint64_t)(unsigned char)type << 40) ^ ((uint64_t)(unsigned)flags << 32) ^
                       (uint32_t)wd));
}

static uint64_t group_hash(const part_batch *b, uint64_t seed, uint32_t i)
{
    const batch_group *g = &b->groups[i];
    (void)seed;
    return group_hash_of(g->type, g->day, g->unit, g->flags, g->wd);
}

static uint64_t ident_hash(const part_batch *b, uint64_t seed, uint32_t i)
{
    return hash_bytes(seed, b->arena.data + b->idents[i].off, b->idents[i].len);
}

/* The group of these counters in the batch (added when new); UINT32_MAX when
 * out of memory. */
static uint32_t group_for(part_batch *b, char type, sgs_day day, uint32_t unit, int flags, int wd)
{
    size_t j;
    if (2 * (b->n_groups + 1) > b->cap_group_slots &&
        slots_rebuild(&b->group_slots, &b->cap_group_slots, b->n_groups, 256, group_hash, b, 0) !=
            0)
        return UINT32_MAX;
    j = (size_t)group_hash_of(type, day, unit, flags, wd) & (b->cap_group_slots - 1);
    for (uint32_t s; (s = b->group_slots[j]) != 0; j = (j + 1) & (b->cap_group_slots - 1)) {
        const batch_group *g = &b->groups[s - 1];
        if (g->type == type && g->day == day && g->unit == unit && g->flags == flags && g->wd == wd)
            return s - 1;
    }
    if (grow((void **)&b->groups, &b->cap_groups, b->n_groups, sizeof(*b->groups), 64) != 0)
        return UINT32_MAX;
    batch_group *g = &b->groups[b->n_groups];
    memset(g, 0, sizeof(*g));
    g->type = type;
    g->day = day;
    g->unit = unit;
    g->flags = flags;
    g->wd = wd;
    g->head = g->tail = UINT32_MAX;
    b->group_slots[j] = (uint32_t)++b->n_groups;
    return (uint32_t)(b->n_groups - 1);
}

#define IDENT_DUP UINT32_MAX
#define IDENT_OOM (UINT32_MAX - 1)

/* Adds an identity to the batch: its index, IDENT_DUP when the batch already
 * has it, IDENT_OOM when out of memory. */
static uint32_t ident_add(part_batch *b, uint64_t seed, const char *s, size_t len)
{
    uint64_t h = hash_bytes(seed, s, len);
    size_t j;
    if (2 * (b->n_idents + 1) > b->cap_ident_slots &&
        slots_rebuild(&b->ident_slots, &b->cap_ident_slots, b->n_idents, 4096, ident_hash, b,
                      seed) != 0)
        return IDENT_OOM;
    j = (size_t)h & (b->cap_ident_slots - 1);
    for (uint32_t x; (x = b->ident_slots[j]) != 0; j = (j + 1) & (b->cap_ident_slots - 1)) {
        const batch_ident *e = &b->idents[x - 1];
        if (e->len == len && memcmp(b->arena.data + e->off, s, len) == 0)
            return IDENT_DUP;
    }
    if (grow((void **)&b->idents, &b->cap_idents, b->n_idents, sizeof(*b->idents), 1024) != 0)
        return IDENT_OOM;
    batch_ident *e = &b->idents[b->n_idents];
    e->off = b->arena.len;
    e->len = (uint32_t)len;
    e->next = UINT32_MAX;
    e->group = UINT32_MAX;
    e->pos = 0;
    sgs_buf_append(&b->arena, s, len);
    if (b->arena.oom)
        return IDENT_OOM;
    b->ident_slots[j] = (uint32_t)++b->n_idents;
    return (uint32_t)(b->n_idents - 1);
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
    size_t max = c->cf_reject_max;
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

void sgs_consumer_pipeline_init(sgs_consumer *c)
{
    double thr = sgs_config_get_double(c->cfg, "alert.late_rate_threshold");
    struct timespec ts;
    c->cf_retention = sgs_config_get_int(c->cfg, "consumer.day_retention_days");
    c->cf_window = sgs_config_get_int(c->cfg, "alert.window_days");
    c->cf_minrec = sgs_config_get_int(c->cfg, "alert.late_rate_min_records");
    c->cf_thr_h = (long)(thr * 100.0 + (thr < 0 ? -0.5 : 0.5));
    snprintf(c->cf_thrtext, sizeof(c->cf_thrtext), "%.1f", thr);
    c->cf_reject_max = (size_t)sgs_config_get_int(c->cfg, "consumer.reject_payload_max");
    c->cf_retry_max = (int)sgs_config_get_int(c->cfg, "consumer.retry_max_ms");
    /* The in-batch identity table is keyed by producer-chosen strings: seed it. */
    clock_gettime(CLOCK_REALTIME, &ts);
    c->hash_seed = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid());
}

/* Notes a unit of the batch (its name goes along for late_rate alerts). */
static void note_unit(sgs_consumer *c, part_batch *b, size_t unit)
{
    if (c->unit_stamp[unit] == b->gen)
        return;
    if (grow((void **)&b->units, &b->cap_units, b->n_units, sizeof(*b->units), 64) != 0) {
        b->arena.oom = 1;
        return;
    }
    c->unit_stamp[unit] = b->gen;
    b->units[b->n_units++] = unit;
}

void sgs_consumer_add_message(sgs_consumer *c, const rd_kafka_message_t *m)
{
    part_state *ps = sgs_consumer_part(c, m->partition);
    part_batch *b;
    sgs_record *r = &c->rec;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts;
    char type;
    int f = 0, wd = 0;
    uint32_t unit = UINT32_MAX, ident = UINT32_MAX, g;

    if (!ps || !ps->assigned || ps->needs_sync)
        return; /* not ours (any more), or its position is not known yet */
    if (ps->next >= 0 && m->offset < ps->next)
        return; /* already in a batch or applied */
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
    }
    b->last = m->offset;
    b->n_msgs++;
    c->batch_msgs++;
    ps->next = m->offset + 1;

    if (r->status == SGS_RECORD_MALFORMED) {
        type = 'M';
    } else if (r->status == SGS_RECORD_UNKNOWN_UNIT || !r->unit) {
        type = 'U';
    } else {
        type = 'R';
        unit = (uint32_t)r->unit->index;
        f |= r->late ? 1 : 0;
        f |= r->status == SGS_RECORD_INVALID ? 2 : 0;
        f |= r->kind == SGS_KIND_LICENSE ? 4 : 0;
        f |= r->kind == SGS_KIND_PENALTY ? 8 : 0;
        wd = r->late ? r->workdays_late : 0;
        note_unit(c, b, r->unit->index);
        if (r->has_identity) {
            ident = ident_add(b, c->hash_seed, r->identity, strlen(r->identity));
            if (ident == IDENT_OOM) {
                b->arena.oom = 1;
                ident = UINT32_MAX;
            } else if (ident == IDENT_DUP) {
                /* a second copy in the same batch: a duplicate whatever Redis says */
                type = 'D';
                f = wd = 0;
                ident = UINT32_MAX;
            }
        }
    }
    g = group_for(b, type, r->report_day, unit, f, wd);
    if (g == UINT32_MAX) {
        b->arena.oom = 1;
    } else {
        batch_group *gr = &b->groups[g];
        gr->n++;
        if (ident != UINT32_MAX) {
            batch_ident *e = &b->idents[ident];
            e->group = g;
            if (gr->tail == UINT32_MAX)
                gr->head = ident;
            else
                b->idents[gr->tail].next = ident;
            gr->tail = ident;
            gr->n_ids++;
        }
    }
    if (type == 'R' && (f & 1) && r->has_deadline) {
        if (grow((void **)&b->alerts, &b->cap_alerts, b->n_alerts, sizeof(*b->alerts), 64) != 0) {
            b->arena.oom = 1;
        } else {
            batch_alert *a = &b->alerts[b->n_alerts++];
            build_late_alert(c, r, m->partition, m->offset, &c->tmp);
            a->ident = ident;
            a->unit = unit;
            a->off = b->arena.len;
            a->len = c->tmp.len;
            sgs_buf_append(&b->arena, c->tmp.data, c->tmp.len);
        }
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
    if (!ps || sgs_consumer_redis_quiet(c) != 0)
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
    if (sgs_consumer_redis_quiet(c) != 0)
        return -1;
    n = 0; /* waiting for replies may have applied (or failed) sent batches */
    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].n_acks && c->parts[p].sent.n_msgs == 0)
            n++;
    if (!n)
        return 0;
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
        if (!k || ps->sent.n_msgs) /* a sent batch carries them */
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

/* Counts what an applied batch did, from its groups and the positions of
 * the identities Redis already had ("3 17 52", in increasing order). */
static void account(sgs_consumer *c, const part_batch *b, const char *dups, size_t len)
{
    for (size_t i = 0; i < b->n_groups; i++) {
        const batch_group *g = &b->groups[i];
        switch (g->type) {
        case 'M':
            c->malformed += g->n;
            break;
        case 'U':
            c->unattributed += g->n;
            break;
        case 'D':
            c->duplicates += g->n;
            break;
        default:
            c->records += g->n;
            c->late += (g->flags & 1) ? g->n : 0;
            c->invalid += (g->flags & 2) ? g->n : 0;
        }
    }
    for (size_t i = 0; i < len;) {
        uint32_t pos = 0;
        while (i < len && dups[i] == ' ')
            i++;
        if (i >= len)
            break;
        while (i < len && dups[i] >= '0' && dups[i] <= '9')
            pos = pos * 10 + (uint32_t)(dups[i++] - '0');
        if (pos == 0 || pos > b->n_idents) {
            sgs_warn("batch script: unexpected duplicate position %" PRIu32, pos);
            break;
        }
        const batch_group *g = &b->groups[b->idents[b->order[pos - 1]].group];
        c->records--;
        c->late -= (g->flags & 1) != 0;
        c->invalid -= (g->flags & 2) != 0;
        c->duplicates++;
    }
    c->rejects += b->n_rejects;
    c->messages += b->n_msgs;
}

/* ARGV of the EVALSHA being built, reused for every one. A value whose `argv`
 * is NULL lies at `off` in c->argtext (which may move while it is written). */
typedef struct argv_scratch {
    const char **argv;
    size_t *len, *off;
    size_t n, cap;
} argv_scratch;

static argv_scratch scratch;

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
    size_t *o = realloc(s->off, n * sizeof(*o));
    if (!o)
        return -1;
    s->off = o;
    s->cap = n;
    return 0;
}

static void sc_put(const char *p, size_t len)
{
    scratch.argv[scratch.n] = p;
    scratch.len[scratch.n++] = len;
}

static void sc_puts(const char *p)
{
    sc_put(p, strlen(p));
}

/* The value written to c->argtext since `start`. */
static void sc_from(sgs_consumer *c, size_t start)
{
    scratch.argv[scratch.n] = NULL;
    scratch.off[scratch.n] = start;
    scratch.len[scratch.n++] = c->argtext.len - start;
}

/* A value formatted into c->argtext. */
static void sc_printf(sgs_consumer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sc_printf(sgs_consumer *c, const char *fmt, ...)
{
    va_list ap;
    size_t start = c->argtext.len;
    va_start(ap, fmt);
    sgs_buf_vprintf(&c->argtext, fmt, ap);
    va_end(ap);
    sc_from(c, start);
}

static void sc_putint(sgs_consumer *c, int64_t v)
{
    size_t start = c->argtext.len;
    sgs_buf_put_i64(&c->argtext, v);
    sc_from(c, start);
}

/* Appends the EVALSHA of one partition's sent batch to the connection's
 * pipeline (see script.c for the layout). */
static int append_eval(sgs_consumer *c, int32_t p)
{
    part_state *ps = &c->parts[p];
    part_batch *b = &ps->sent;
    size_t n = 20 + ps->n_acks + 2 * b->n_units + 7 * b->n_groups + 3 * b->n_alerts + b->n_idents;
    uint32_t pos = 0;

    if (b->n_acks > ps->n_acks)
        b->n_acks = ps->n_acks;
    if (scratch_reserve(&scratch, n) != 0 ||
        grow((void **)&b->order, &b->cap_order, b->n_idents, sizeof(*b->order), 1024) != 0)
        return -1;
    sgs_buf_reset(&c->argtext);
    c->argtext.oom = 0;
    scratch.n = 0;
    sc_puts("EVALSHA");
    sc_puts(c->script_sha);
    sc_puts("1");
    sc_printf(c, "%s:{%s:%" PRId32 "}", c->prefix, c->topic, p);
    sc_putint(c, ps->stored);
    sc_putint(c, b->last + 1);
    sc_puts(c->prefix);
    sc_putint(c, c->cf_retention);
    sc_putint(c, c->rules.tz_offset);
    sc_putint(c, c->cf_thr_h);
    sc_putint(c, c->cf_minrec);
    sc_putint(c, c->cf_window);
    sc_puts(c->cf_thrtext);
    sc_printf(c, "late_rate:%s:%" PRId32 ":%" PRId64, c->topic, p, b->last);
    sc_putint(c, (int64_t)b->n_acks);
    for (size_t i = 0; i < b->n_acks; i++)
        sc_puts(ps->acks[i]);
    sc_put(b->rejects.data ? b->rejects.data : "", b->rejects.len);
    /* units: id, then "<id JSON>\x1f<name JSON>" */
    sc_putint(c, (int64_t)b->n_units);
    for (size_t i = 0; i < b->n_units; i++) {
        const sgs_unit *u = sgs_registry_at(c->registry, b->units[i]);
        size_t start;
        sc_puts(u->id);
        start = c->argtext.len;
        sgs_buf_put_json_string(&c->argtext, u->id, strlen(u->id));
        sgs_buf_putc(&c->argtext, '\x1f');
        sgs_buf_put_json_string(&c->argtext, u->name, strlen(u->name));
        sc_from(c, start);
    }
    /* groups: type, day, unit, flags, workdays late, messages, identities */
    sc_putint(c, (int64_t)b->n_groups);
    for (size_t i = 0; i < b->n_groups; i++) {
        batch_group *g = &b->groups[i];
        char day[11];
        sc_put(&g->type, 1);
        sc_printf(c, "%s", sgs_day_format(g->day, day)); /* copied: day is reused */
        sc_puts(g->unit == UINT32_MAX ? "" : sgs_registry_at(c->registry, g->unit)->id);
        sc_putint(c, g->flags);
        sc_putint(c, g->wd);
        sc_putint(c, g->n);
        sc_putint(c, g->n_ids);
        for (uint32_t e = g->head; e != UINT32_MAX; e = b->idents[e].next) {
            b->idents[e].pos = ++pos;
            b->order[pos - 1] = e;
        }
    }
    /* alerts: identity position (0: none), unit, JSON */
    sc_putint(c, (int64_t)b->n_alerts);
    for (size_t i = 0; i < b->n_alerts; i++) {
        const batch_alert *a = &b->alerts[i];
        sc_putint(c, a->ident == UINT32_MAX ? 0 : b->idents[a->ident].pos);
        sc_puts(sgs_registry_at(c->registry, a->unit)->id);
        sc_put(b->arena.data + a->off, a->len);
    }
    /* the identities, group by group */
    for (uint32_t i = 0; i < pos; i++) {
        const batch_ident *e = &b->idents[b->order[i]];
        sc_put(b->arena.data + e->off, e->len);
    }
    if (c->argtext.oom)
        return -1;
    for (size_t i = 0; i < scratch.n; i++)
        if (!scratch.argv[i])
            scratch.argv[i] = c->argtext.data + scratch.off[i];
    if (redisAppendCommandArgv(c->redis, (int)scratch.n, scratch.argv, scratch.len) != REDIS_OK)
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

/* Sends one EVALSHA per partition with a batch, pipelined, without reading
 * the replies. retry: the sent batches Redis did not apply; else the batches
 * being collected (which become the sent ones). */
static int send_batches(sgs_consumer *c, int retry)
{
    size_t n = 0;
    int done = 0;

    if (c->n_inflight)
        return -1; /* replies owed: settle first */
    if (grow((void **)&c->inflight, &c->cap_inflight, (size_t)c->n_parts, sizeof(*c->inflight),
             (size_t)c->n_parts + 1) != 0)
        return -1;
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (retry) {
            if (ps->sent.n_msgs == 0)
                continue;
        } else {
            part_batch tmp;
            if (ps->batch.n_msgs == 0 || ps->sent.n_msgs != 0)
                continue;
            tmp = ps->sent;
            ps->sent = ps->batch;
            ps->batch = tmp;
            c->batch_msgs -= ps->sent.n_msgs;
            c->sent_msgs += ps->sent.n_msgs;
            ps->sent.n_acks = ps->n_acks;
        }
        if (ps->sent.arena.oom || ps->sent.rejects.oom) {
            sgs_error("partition %" PRId32 ": out of memory building a batch; dropping it", p);
            sgs_consumer_drop_batch(c, p);
            sgs_consumer_seek(c, p, ps->stored);
            continue;
        }
        if (append_eval(c, p) != 0) {
            sgs_consumer_redis_lost(c, "cannot build the batch command");
            return -1;
        }
        c->inflight[n++] = p;
    }
    /* Write it all now: Redis runs the scripts while we read the next batch. */
    while (n && !done) {
        if (redisBufferWrite(c->redis, &done) != REDIS_OK) {
            sgs_consumer_redis_lost(c, c->redis->errstr[0] ? c->redis->errstr : "write failed");
            return -1;
        }
    }
    c->n_inflight = n;
    return 0;
}

/* Reads the replies of the EVALSHAs in flight and takes their outcome. */
static int complete(sgs_consumer *c)
{
    int rc = 0, noscript = 0, resend = 0;
    size_t n = c->n_inflight, m;
    int64_t t_redis = sgs_now_ms();

    c->n_inflight = 0;
    for (m = 0; m < n; m++) {
        int32_t p = c->inflight[m];
        part_state *ps = &c->parts[p];
        part_batch *b = &ps->sent;
        redisReply *r = NULL;
        if (!c->redis || redisGetReply(c->redis, (void **)&r) != REDIS_OK || !r) {
            /* Broken connection: scripts already run are fenced on the retry and
             * recognised as applied (their stored offset is our batch end). */
            sgs_consumer_redis_lost(c, c->redis && c->redis->errstr[0] ? c->redis->errstr
                                                                       : "no reply");
            rc = -1;
            break;
        }
        if (b->n_msgs == 0) {
            freeReplyObject(r); /* dropped meanwhile (partition lost) */
            continue;
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
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_STRING) {
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
                take_acks(ps, b->n_acks);
                sent_clear(c, b);
                ps->stored = stored;
                store_offset(c, p, stored);
                ps->resend = 1;
                resend = 1;
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
            sgs_consumer_drop_batch(c, p); /* the one collected after it too */
            ps->stored = stored;
            ps->next = stored;
            sgs_consumer_seek(c, p, stored);
            ps->resend = 1;
            resend = 1;
            continue;
        }
        /* OK */
        {
            const redisReply *entry = r->elements > 2 ? r->element[2] : NULL;
            account(c, b, r->element[1]->str, r->element[1]->len);
            take_acks(ps, b->n_acks);
            ps->stored = b->last + 1;
            store_offset(c, p, ps->stored);
            if (entry && entry->type == REDIS_REPLY_STRING && entry->len > 0)
                sgs_consumer_outbox_send(c, p, ps->stored, entry->str, entry->len);
            sent_clear(c, b);
            freeReplyObject(r);
        }
    }
    c->ms_redis += sgs_now_ms() - t_redis;
    if (rc == 0) {
        c->last_msg_ms = sgs_wall_ms();
        redis_recovered(c);
    }
    /* Only now, with no reply owed, other commands may use the connection. */
    for (int32_t p = 0; resend && c->redis && p < c->n_parts; p++) {
        if (!c->parts[p].resend)
            continue;
        c->parts[p].resend = 0;
        if (resend_outbox(c, p) != 0)
            break;
    }
    if (noscript && c->redis) {
        /* Redis restarted and lost its script cache: nothing ran. Reload; the
         * caller retries. */
        load_script(c);
    }
    return rc;
}

int sgs_consumer_settle(sgs_consumer *c)
{
    if (c->n_inflight)
        complete(c);
    if (c->sent_msgs == 0)
        return 0;
    /* Sent batches Redis did not apply: send them again, and wait for them. */
    if (sgs_consumer_redis_ready(c) != 0 || send_batches(c, 1) != 0)
        return -1;
    complete(c);
    return c->sent_msgs ? -1 : 0;
}

int sgs_consumer_submit(sgs_consumer *c)
{
    if (sgs_consumer_settle(c) != 0)
        return -1;
    if (c->batch_msgs == 0)
        return 0;
    if (sgs_consumer_redis_ready(c) != 0)
        return -1;
    return send_batches(c, 0);
}

int sgs_consumer_flush(sgs_consumer *c)
{
    if (sgs_consumer_submit(c) != 0)
        return -1;
    return sgs_consumer_settle(c);
}

int sgs_consumer_redis_quiet(sgs_consumer *c)
{
    if (sgs_consumer_redis_ready(c) != 0)
        return -1;
    if (c->n_inflight)
        complete(c);
    return c->redis ? 0 : -1;
}

void sgs_consumer_pipeline_free(sgs_consumer *c)
{
    free(scratch.argv);
    free(scratch.len);
    free(scratch.off);
    memset(&scratch, 0, sizeof(scratch));
    free(c->inflight);
    c->inflight = NULL;
    sgs_buf_free(&c->argtext);
}

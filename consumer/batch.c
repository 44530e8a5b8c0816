/* Building a batch from parsed records (batch.h). Pure: no Kafka, no Redis. */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sgs/date.h"
#include "sgs/hash.h"
#include "sgs/log.h"
#include "sgs/store.h"

int sgs_batch_env_init(sgs_batch_env *env, const char *topic, const sgs_registry *registry,
                       size_t reject_max, int horizon_months)
{
    struct timespec ts;
    memset(env, 0, sizeof(*env));
    env->topic = topic;
    env->registry = registry;
    env->reject_max = reject_max;
    env->horizon_months = horizon_months;
    env->unit_stamp = calloc(sgs_registry_count(registry) + 1, sizeof(*env->unit_stamp));
    if (!env->unit_stamp)
        return -1;
    /* The in-batch identity table is keyed by producer-chosen strings: seed it. */
    clock_gettime(CLOCK_REALTIME, &ts);
    env->hash_seed =
        sgs_hash_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid());
    return 0;
}

void sgs_batch_env_free(sgs_batch_env *env)
{
    free(env->unit_stamp);
    env->unit_stamp = NULL;
    sgs_buf_free(&env->tmp);
}

/* The batch lets go of its forward tracker: freed now, or by the last
 * delivery report still to come. */
static void track_release(sgs_batch *b)
{
    if (!b->track)
        return;
    if (b->track->pending > 0)
        b->track->orphan = 1;
    else
        free(b->track);
    b->track = NULL;
}

void sgs_batch_free(sgs_batch *b)
{
    sgs_buf_free(&b->arena);
    sgs_buf_free(&b->rejects);
    free(b->groups);
    free(b->group_slots);
    free(b->idents);
    free(b->ident_slots);
    free(b->items);
    free(b->units);
    free(b->seq_out);
    free(b->seq_in);
    track_release(b);
    memset(b, 0, sizeof(*b));
}

void sgs_batch_reset(sgs_batch *b)
{
    sgs_buf_reset(&b->arena);
    sgs_buf_reset(&b->rejects);
    b->arena.oom = b->rejects.oom = 0; /* a dropped batch's failure is not the next one's */
    b->oom = 0;
    b->decided = 0;
    if (b->n_groups && b->group_slots)
        memset(b->group_slots, 0, b->cap_group_slots * sizeof(*b->group_slots));
    /* The identities' slots are cleared one by one where that is cheaper than
     * the whole table: a batch of a hundred messages in a table of thousands
     * of slots (it never shrinks), the usual case with many partitions. */
    if (b->n_idents && b->ident_slots) {
        if (!b->slots_moved && 16 * b->n_idents < b->cap_ident_slots) {
            for (size_t i = 0; i < b->n_idents; i++)
                if (b->idents[i].listed)
                    b->ident_slots[b->idents[i].slot_at] = 0;
        } else {
            memset(b->ident_slots, 0, b->cap_ident_slots * sizeof(*b->ident_slots));
        }
    }
    b->slots_moved = 0;
    b->n_msgs = b->n_orig = b->n_fwd = b->n_skip = 0;
    b->n_groups = b->n_idents = b->n_items = b->n_rejects = b->n_units = b->n_acks = 0;
    b->n_seq_out = b->n_seq_in = 0;
    b->t0 = 0;
    b->kept = 0;
    track_release(b);
}

static uint64_t group_hash_of(char type, sgs_day day, uint32_t unit, int flags, int wd)
{
    uint64_t k = ((uint64_t)(uint32_t)day << 32) | unit;
    return sgs_hash_mix64(k ^ sgs_hash_mix64(((uint64_t)(unsigned char)type << 40) ^
                                             ((uint64_t)(unsigned)flags << 32) ^ (uint32_t)wd));
}

static uint64_t group_hash(const sgs_batch *b, uint64_t seed, uint32_t i)
{
    const sgs_batch_group *g = &b->groups[i];
    (void)seed;
    return group_hash_of(g->type, g->day, g->unit, g->flags, g->wd);
}

static uint32_t group_slot(uint64_t h, uint32_t i)
{
    (void)h;
    return i + 1;
}

/* An identity's slot (ident_slots): index + 1 in the low SLOT_BITS bits,
 * the top bits of its hash above them, so that a probe passes over another
 * identity's slot (but one in 2,048) without reading that identity. A batch
 * has at most one identity per message, and consumer.batch.max_messages is at
 * most 1,000,000 (common/src/config.c), under SLOT_INDEX_MAX. */
#define SLOT_BITS      21
#define SLOT_INDEX_MAX ((1u << SLOT_BITS) - 1)

static uint32_t ident_tag(uint64_t h)
{
    return (uint32_t)(h >> (64 - (32 - SLOT_BITS))) << SLOT_BITS;
}

static uint32_t ident_slot(uint64_t h, uint32_t i)
{
    return ident_tag(h) | (i + 1);
}

static uint64_t ident_hash(const sgs_batch *b, uint64_t seed, uint32_t i)
{
    return sgs_hash_seeded(seed, b->arena.data + b->idents[i].off, b->idents[i].len);
}

/* Whether identity i is in the table (a revoke's lookup and an in-batch
 * duplicate's mirror are not: the batch does not "have" them). */
static int ident_listed(const sgs_batch *b, uint32_t i)
{
    return b->idents[i].listed;
}

/* (Re)builds an open-addressing table of `n` entries, at most half full: each
 * entry i (listed, when `listed` is given) in the slot slot(hash, i). */
static int slots_rebuild(uint32_t **slots, size_t *cap, size_t n, size_t first,
                         uint64_t (*hash)(const sgs_batch *, uint64_t, uint32_t),
                         uint32_t (*slot)(uint64_t, uint32_t),
                         int (*listed)(const sgs_batch *, uint32_t), const sgs_batch *b,
                         uint64_t seed)
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
        uint64_t h;
        size_t j;
        if (listed && !listed(b, i))
            continue;
        h = hash(b, seed, i);
        j = (size_t)h & (nc - 1);
        while ((*slots)[j])
            j = (j + 1) & (nc - 1);
        (*slots)[j] = slot(h, i);
    }
    return 0;
}

/* The group of these counters in the batch (added when new); UINT32_MAX when
 * out of memory. */
static uint32_t group_for(sgs_batch *b, char type, sgs_day day, uint32_t unit, int flags, int wd)
{
    size_t j;
    if (2 * (b->n_groups + 1) > b->cap_group_slots &&
        slots_rebuild(&b->group_slots, &b->cap_group_slots, b->n_groups, 256, group_hash,
                      group_slot, NULL, b, 0) != 0)
        return UINT32_MAX;
    j = (size_t)group_hash_of(type, day, unit, flags, wd) & (b->cap_group_slots - 1);
    for (uint32_t s; (s = b->group_slots[j]) != 0; j = (j + 1) & (b->cap_group_slots - 1)) {
        const sgs_batch_group *g = &b->groups[s - 1];
        if (g->type == type && g->day == day && g->unit == unit && g->flags == flags && g->wd == wd)
            return s - 1;
    }
    if (sgs_array_grow((void **)&b->groups, &b->cap_groups, b->n_groups, sizeof(*b->groups), 64) !=
        0)
        return UINT32_MAX;
    sgs_batch_group *g = &b->groups[b->n_groups];
    memset(g, 0, sizeof(*g));
    g->type = type;
    g->day = day;
    g->unit = unit;
    g->flags = flags;
    g->wd = wd;
    b->group_slots[j] = (uint32_t)++b->n_groups;
    return (uint32_t)(b->n_groups - 1);
}

#define IDENT_DUP UINT32_MAX
#define IDENT_OOM (UINT32_MAX - 1)

/* Appends an identity (its bytes at off in the arena), outside the table. */
static int ident_new(sgs_batch *b, size_t off, size_t len)
{
    if (sgs_array_grow((void **)&b->idents, &b->cap_idents, b->n_idents, sizeof(*b->idents),
                       1024) != 0)
        return -1;
    sgs_batch_ident *e = &b->idents[b->n_idents++];
    memset(e, 0, sizeof(*e));
    e->off = off;
    e->len = (uint32_t)len;
    e->group = UINT32_MAX;
    e->dup_of = UINT32_MAX;
    return 0;
}

/* Adds an identity to the batch: its index, IDENT_DUP when the batch already
 * has it (*found: the index of that one), IDENT_OOM when out of memory.
 * lookup: a revoke's identity, asked of Redis but never stored: IDENT_DUP
 * when the batch has it, else a new index outside the table (the batch does
 * not then "have" it). */
static uint32_t ident_add(sgs_batch *b, uint64_t seed, uint64_t h, const char *s, size_t len,
                          int lookup, uint32_t *found)
{
    size_t j;
    if (2 * (b->n_idents + 1) > b->cap_ident_slots) {
        b->slots_moved = 1;
        if (slots_rebuild(&b->ident_slots, &b->cap_ident_slots, b->n_idents, 4096, ident_hash,
                          ident_slot, ident_listed, b, seed) != 0)
            return IDENT_OOM;
    }
    j = (size_t)h & (b->cap_ident_slots - 1);
    for (uint32_t x, tag = ident_tag(h); (x = b->ident_slots[j]) != 0;
         j = (j + 1) & (b->cap_ident_slots - 1)) {
        const sgs_batch_ident *e = &b->idents[(x & SLOT_INDEX_MAX) - 1];
        if ((x & ~SLOT_INDEX_MAX) == tag && e->len == len &&
            memcmp(b->arena.data + e->off, s, len) == 0) {
            *found = (x & SLOT_INDEX_MAX) - 1;
            return IDENT_DUP;
        }
    }
    if (b->n_idents >= SLOT_INDEX_MAX || ident_new(b, b->arena.len, len) != 0)
        return IDENT_OOM;
    sgs_buf_append(&b->arena, s, len);
    if (b->arena.oom)
        return IDENT_OOM;
    b->idents[b->n_idents - 1].listed = !lookup;
    if (!lookup) {
        b->ident_slots[j] = ident_slot(h, (uint32_t)(b->n_idents - 1));
        b->idents[b->n_idents - 1].slot_at = (uint32_t)j;
    }
    return (uint32_t)(b->n_idents - 1);
}

/* ,"<name>": (names are ours: nothing to escape) */
static void put_name(sgs_buf *b, const char *name)
{
    sgs_buf_append(b, ",\"", 2);
    sgs_buf_puts(b, name);
    sgs_buf_append(b, "\":", 2);
}

static void json_field_str(sgs_buf *b, const char *name, const char *value)
{
    put_name(b, name);
    sgs_buf_put_json_string(b, value, strlen(value));
}

/* <topic>:<partition>:<offset>, the tail of alert, reject and ledger ids.
 * Kafka topic names are [a-zA-Z0-9._-]: nothing to escape. */
static void put_source(sgs_buf *b, const char *topic, int32_t partition, int64_t offset)
{
    sgs_buf_puts(b, topic);
    sgs_buf_putc(b, ':');
    sgs_buf_put_i64(b, partition);
    sgs_buf_putc(b, ':');
    sgs_buf_put_i64(b, offset);
}

void sgs_batch_late_alert_json(const sgs_batch_env *env, const sgs_record *r, int32_t partition,
                               int64_t offset, sgs_buf *b)
{
    char day[11];
    sgs_buf_reset(b);
    sgs_buf_puts(b, "{\"type\":\"late\",\"id\":\"late:");
    put_source(b, env->topic, partition, offset);
    sgs_buf_putc(b, '"');
    json_field_str(b, "unit_id", r->unit_id);
    json_field_str(b, "unit_name", r->unit ? r->unit->name : "");
    json_field_str(b, "kind", sgs_kind_name(r->kind));
    json_field_str(b, "doc_no", r->doc_no);
    json_field_str(b, "decision_date", sgs_day_format(r->decision_date, day));
    json_field_str(b, "deadline", sgs_day_format(r->deadline, day));
    json_field_str(b, "reported_at", r->reported_at_text);
    put_name(b, "workdays_late");
    sgs_buf_put_i64(b, r->workdays_late);
    sgs_buf_putc(b, '}');
}

/* One reason: {"code", "field", "message" (Chinese, for the unit),
 * "message_en" (for operators)}. */
static void put_reason(sgs_buf *b, const sgs_reason *x)
{
    sgs_buf_puts(b, "{\"code\":");
    sgs_buf_put_json_string(b, x->code, strlen(x->code));
    json_field_str(b, "field", x->field);
    json_field_str(b, "message", x->message);
    json_field_str(b, "message_en", x->message_en);
    sgs_buf_putc(b, '}');
}

/* The reasons array, an extra one first. */
static void put_reasons(sgs_buf *b, const sgs_record *r, const sgs_reason *extra)
{
    sgs_buf_putc(b, '[');
    if (extra)
        put_reason(b, extra);
    for (int i = 0; i < r->n_reasons; i++) {
        if (extra || i > 0)
            sgs_buf_putc(b, ',');
        put_reason(b, &r->reasons[i]);
    }
    sgs_buf_putc(b, ']');
}

void sgs_batch_extra_reason(const sgs_batch_env *env, const sgs_record *r, const char *code,
                            sgs_reason *out)
{
    char doc[64], day[11];

    memset(out, 0, sizeof(*out));
    out->code = code;
    snprintf(out->field, sizeof(out->field), "doc_no");
    sgs_record_quote(doc, sizeof(doc), r->doc_no, strlen(r->doc_no));
    if (strcmp(code, SGS_REASON_TOO_OLD) == 0) {
        snprintf(out->message, sizeof(out->message),
                 "文书号“%s”的决定日期%s距今已超过%d个月，该年度的查重记录已按保存期限清除，"
                 "无法判断是否重复报送，不予计入；应在决定后%d个月内报送",
                 doc, r->has_decision_date ? sgs_day_format(r->decision_date, day) : "",
                 env->horizon_months, env->horizon_months);
        snprintf(out->message_en, sizeof(out->message_en),
                 "decided more than %d months ago and its year's identities were dropped: it "
                 "cannot be told from a duplicate",
                 env->horizon_months);
    } else {
        snprintf(out->message, sizeof(out->message),
                 "撤销的决定（文书号“%s”）从未报送过，无法撤销；应先报送该决定，或核对文书号", doc);
        snprintf(out->message_en, sizeof(out->message_en),
                 "revoke of a decision that was never reported");
    }
}

/* The payload goes in as JSON text, or base64 when it is not UTF-8 (or holds
 * a NUL); its written form takes at most consumer.reject_payload_max bytes:
 * by default a reject stays under librdkafka's and Kafka's default message
 * size limits (1,000,000 and 1,048,588 bytes). */
void sgs_batch_reject_json(const sgs_batch_env *env, const sgs_record *r, const sgs_batch_msg *m,
                           const sgs_reason *extra, sgs_buf *b)
{
    size_t max = env->reject_max;
    const char *payload = m->payload ? m->payload : "";
    size_t len = m->payload ? m->len : 0, keep = len;
    int utf8 = sgs_utf8_valid(payload, len) && memchr(payload, '\0', len) == NULL;

    sgs_buf_reset(b);
    sgs_buf_puts(b, "{\"id\":\"reject:");
    put_source(b, env->topic, m->origin_partition, m->origin_offset);
    sgs_buf_puts(b, "\",\"reasons\":");
    put_reasons(b, r, extra);
    sgs_buf_puts(b, ",\"unit_id\":");
    if (r->unit_id[0] && r->status != SGS_RECORD_MALFORMED)
        sgs_buf_put_json_string(b, r->unit_id, strlen(r->unit_id));
    else
        sgs_buf_puts(b, "null");
    sgs_buf_puts(b, ",\"source\":{\"topic\":");
    sgs_buf_put_json_string(b, env->topic, strlen(env->topic));
    put_name(b, "partition");
    sgs_buf_put_i64(b, m->origin_partition);
    put_name(b, "offset");
    sgs_buf_put_i64(b, m->origin_offset);
    sgs_buf_putc(b, '}');
    if (utf8 && len > max / 6)
        keep = sgs_json_string_prefix(payload, len, max);
    else if (!utf8 && len > max / 4 * 3)
        keep = max / 4 * 3;
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

void sgs_batch_ledger_json(const sgs_batch_env *env, const sgs_record *r, const sgs_batch_msg *m,
                           sgs_buf *b)
{
    char day[11];
    sgs_buf_reset(b);
    sgs_buf_puts(b, "{\"source\":\"");
    put_source(b, env->topic, m->origin_partition, m->origin_offset);
    sgs_buf_putc(b, '"');
    json_field_str(b, "unit_id", r->unit ? r->unit->id : r->unit_id);
    json_field_str(b, "kind", sgs_kind_name(r->kind));
    json_field_str(b, "doc_no", r->doc_no);
    json_field_str(b, "decision_date",
                   r->has_decision_date ? sgs_day_format(r->decision_date, day) : "");
    json_field_str(b, "deadline", r->has_deadline ? sgs_day_format(r->deadline, day) : "");
    json_field_str(b, "reported_at", r->reported_at_text);
    sgs_buf_puts(b, r->late ? ",\"late\":true" : ",\"late\":false");
    put_name(b, "workdays_late");
    sgs_buf_put_i64(b, r->late ? r->workdays_late : 0);
    put_name(b, "reasons");
    put_reasons(b, r, NULL);
    sgs_buf_putc(b, '}');
}

/* Notes a unit of the batch (its name goes along for late_rate alerts). */
static void note_unit(sgs_batch_env *env, sgs_batch *b, size_t unit)
{
    if (env->unit_stamp[unit] == b->gen)
        return;
    if (sgs_array_grow((void **)&b->units, &b->cap_units, b->n_units, sizeof(*b->units), 64) != 0) {
        b->oom = 1;
        return;
    }
    env->unit_stamp[unit] = b->gen;
    b->units[b->n_units++] = unit;
}

/* Takes message m's offset into the batch. */
static void take_offset(sgs_batch *b, sgs_batch_env *env, const sgs_batch_msg *m)
{
    if (b->n_msgs == 0) {
        b->first = m->offset;
        b->gen = ++env->gen_counter;
    }
    b->last = m->offset;
    b->n_msgs++;
    b->n_orig += !m->copy;
}

void sgs_batch_pass(sgs_batch *b, sgs_batch_env *env, const sgs_batch_msg *m, int forwarded)
{
    take_offset(b, env, m);
    if (forwarded)
        b->n_fwd++;
    else
        b->n_skip++;
}

void sgs_batch_set_seq(sgs_batch *b, int out, int32_t partition, int64_t next)
{
    sgs_batch_seq **v = out ? &b->seq_out : &b->seq_in;
    size_t *n = out ? &b->n_seq_out : &b->n_seq_in, *cap = out ? &b->cap_seq_out : &b->cap_seq_in;
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].partition == partition) {
            (*v)[i].next = next;
            return;
        }
    if (sgs_array_grow((void **)v, cap, *n, sizeof(**v), 16) != 0) {
        b->oom = 1;
        return;
    }
    (*v)[*n].partition = partition;
    (*v)[(*n)++].next = next;
}

/* Adds a conditional item built in env->tmp. */
/* Whether the JSON just built in env->tmp is unusable: out of memory (real, or
 * injected by debug.fail_alloc for the fault tests), or empty. Clears the mark. */
static int built_badly(sgs_batch_env *env)
{
    int bad = env->tmp.oom || env->tmp.len == 0;
    if (env->fail_alloc > 0) {
        env->fail_alloc--;
        bad = 1;
    }
    env->tmp.oom = 0;
    return bad;
}

static void add_item(sgs_batch *b, sgs_batch_env *env, char kind, uint32_t ident, char cond,
                     uint32_t unit, sgs_day day)
{
    sgs_batch_item *it;
    if (built_badly(env)) {
        /* never an empty or cut item: the batch is read again */
        b->oom = 1;
        return;
    }
    if (sgs_array_grow((void **)&b->items, &b->cap_items, b->n_items, sizeof(*b->items), 64) != 0) {
        b->oom = 1;
        return;
    }
    it = &b->items[b->n_items++];
    it->ident = ident;
    it->cond = cond;
    it->kind = kind;
    it->unit = unit;
    it->day = day;
    it->off = b->arena.len;
    it->len = env->tmp.len;
    sgs_buf_append(&b->arena, env->tmp.data, env->tmp.len);
}

/* Where the identity store keeps the identity e of record r, with the time it
 * may be dropped at and, for a number of a sequence kept as its own field, its
 * gap base. -1 when out of memory or a field does not fit. */
static int locate(sgs_batch *b, const sgs_batch_env *env, const sgs_record *r, sgs_batch_ident *e)
{
    sgs_store_ident_loc loc;
    const char *kind = sgs_kind_name(r->kind);
    int dy = 0, dm = 0, dd = 0;
    if (r->has_decision_date)
        sgs_day_to_ymd(r->decision_date, &dy, &dm, &dd);
    if (sgs_store_ident_locate(r->unit_id, kind, &r->doc, r->identity, dy, &loc) != 0)
        return -1;
    e->bitmap = loc.bitmap;
    e->year = loc.year;
    e->bit = loc.bit;
    if (loc.bitmap) {
        e->field_off = b->arena.len;
        e->field_len = (uint32_t)loc.field_len;
        sgs_buf_append(&b->arena, loc.field, loc.field_len);
    } else {
        char gap[SGS_STORE_FIELD_MAX];
        int n;
        e->field_off = e->off; /* the identity itself */
        e->field_len = e->len;
        if (r->doc.year > 0)
            e->year = r->doc.year; /* kept with its document year when it has one */
        n = sgs_store_gap_base(gap, sizeof(gap), r->unit_id, kind, &r->doc);
        if (n > 0 && r->doc.serial_lo >= 1 && r->doc.serial_hi <= SGS_STORE_SERIAL_MAX &&
            r->doc.serial_hi - r->doc.serial_lo < 1024) {
            e->gap_off = b->arena.len;
            e->gap_len = (uint32_t)n;
            e->gap_lo = (uint32_t)r->doc.serial_lo;
            e->gap_hi = (uint32_t)(r->doc.serial_hi >= r->doc.serial_lo ? r->doc.serial_hi
                                                                        : r->doc.serial_lo);
            sgs_buf_append(&b->arena, gap, (size_t)n);
        }
    }
    /* dropped a horizon after its decision (the day after, at midnight UTC);
     * without a horizon, or a decision date, kept */
    if (r->has_decision_date && env->horizon_months > 0) {
        int y = dy, m = dm, d = dd;
        sgs_month_add(&y, &m, env->horizon_months);
        if (d > sgs_month_days(y, m))
            d = sgs_month_days(y, m);
        e->expire_at = ((int64_t)sgs_day_from_ymd(y, m, d) + 1) * 86400;
    } else {
        e->expire_at = 0; /* kept */
    }
    return b->arena.oom ? -1 : 0;
}

/* The group type of a record of a known unit: by its op, and whether the
 * batch already has its identity. */
static char record_type(enum sgs_op op, int in_batch)
{
    switch (op) {
    case SGS_OP_UPDATE:
        return in_batch ? SGS_GROUP_UPDATED : SGS_GROUP_UPDATE;
    case SGS_OP_REVOKE:
        return in_batch ? SGS_GROUP_REVOKED : SGS_GROUP_REVOKE;
    default:
        return in_batch ? SGS_GROUP_DUPLICATE : SGS_GROUP_RECORD;
    }
}

void sgs_batch_prefetch(const sgs_batch *b, sgs_batch_env *env, const sgs_record *r)
{
    env->hint_rec[1] = env->hint_rec[0];
    env->hint_hash[1] = env->hint_hash[0];
    env->hint_rec[0] = NULL;
    if (r->has_identity) {
        env->hint_hash[0] = sgs_hash_seeded(env->hash_seed, r->identity, r->identity_len);
        env->hint_rec[0] = r;
        if (b->cap_ident_slots)
            __builtin_prefetch(&b->ident_slots[env->hint_hash[0] & (b->cap_ident_slots - 1)]);
    }
}

void sgs_batch_add(sgs_batch *b, sgs_batch_env *env, const sgs_batch_msg *m, const sgs_record *r)
{
    char type;
    int f = 0, wd = 0, counted, old;
    uint32_t unit = UINT32_MAX, ident = UINT32_MAX, g;
    sgs_reason extra; /* too_old, unknown_record */

    take_offset(b, env, m);

    if (r->status == SGS_RECORD_MALFORMED) {
        type = SGS_GROUP_MALFORMED;
    } else if (r->status == SGS_RECORD_UNKNOWN_UNIT || !r->unit) {
        type = SGS_GROUP_UNATTRIBUTED;
    } else {
        unit = (uint32_t)r->unit->index;
        note_unit(env, b, r->unit->index);
        type = record_type(r->op, 0);
        if (r->has_identity) {
            uint32_t found = UINT32_MAX;
            size_t len = r->identity_len;
            uint64_t h;
            if (env->hint_rec[1] == r || env->hint_rec[0] == r) {
                h = env->hint_hash[env->hint_rec[1] == r ? 1 : 0];
                env->hint_hits++;
            } else {
                h = sgs_hash_seeded(env->hash_seed, r->identity, len);
            }
            ident =
                ident_add(b, env->hash_seed, h, r->identity, len, r->op == SGS_OP_REVOKE, &found);
            if (ident == IDENT_OOM) {
                b->oom = 1;
                ident = UINT32_MAX;
            } else if (ident == IDENT_DUP) {
                /* the batch has it: the outcome is decided here, whatever Redis
                 * says; but one of an old identity is too_old when that one is,
                 * so it gets an identity that follows that one's outcome */
                type = record_type(r->op, 1);
                ident = UINT32_MAX;
                if (b->idents[found].old) {
                    if (ident_new(b, b->idents[found].off, b->idents[found].len) != 0) {
                        b->oom = 1;
                    } else {
                        ident = (uint32_t)(b->n_idents - 1);
                        b->idents[ident].dup_of = found;
                        b->idents[ident].old = 1;
                    }
                }
            } else if (locate(b, env, r, &b->idents[ident]) != 0) {
                b->oom = 1;
            } else {
                /* Its identity may be one the store dropped: decided a horizon
                 * or more before now (and its key dropped since: decide.c) */
                sgs_batch_ident *e = &b->idents[ident];
                e->old = env->horizon_months > 0 && e->expire_at > 0 && e->expire_at <= b->t0;
                if (e->old && b->kept == e->bitmap + 1 && b->kept_year == e->year) {
                    e->old = 0;
                } else if (e->old && env->key_kept &&
                           env->key_kept(env->key_ctx, e->bitmap, e->year, b->t0)) {
                    e->old = 0;
                    b->kept = e->bitmap + 1;
                    b->kept_year = e->year;
                }
            }
        }
        if (type == SGS_GROUP_RECORD || type == SGS_GROUP_UPDATE) {
            f |= r->late ? SGS_GF_LATE : 0;
            f |= r->status == SGS_RECORD_INVALID ? SGS_GF_INVALID : 0;
            f |= r->kind == SGS_KIND_LICENSE ? SGS_GF_LICENSE : 0;
            f |= r->kind == SGS_KIND_PENALTY ? SGS_GF_PENALTY : 0;
            f |= r->unit_from_organ ? SGS_GF_ORGAN : 0;
            wd = r->late ? r->workdays_late : 0;
        }
    }
    g = group_for(b, type, r->report_day, unit, f, wd);
    if (g == UINT32_MAX) {
        b->oom = 1;
    } else {
        sgs_batch_group *gr = &b->groups[g];
        gr->n++;
        if (ident != UINT32_MAX) {
            b->idents[ident].group = g;
            gr->n_ids++;
        }
    }
    /* A record that is (or may turn out to be) counted: its late alert and its
     * ledger entry, unless Redis says its identity was seen. */
    counted = type == SGS_GROUP_RECORD || type == SGS_GROUP_UPDATE;
    if (counted && (f & SGS_GF_LATE) && r->has_deadline) {
        sgs_batch_late_alert_json(env, r, m->origin_partition, m->origin_offset, &env->tmp);
        add_item(b, env, SGS_ITEM_ALERT, ident, SGS_ITEM_IF_NEW, unit, r->report_day);
    }
    if (counted && ((f & SGS_GF_LATE) || (f & SGS_GF_INVALID))) {
        sgs_batch_ledger_json(env, r, m, &env->tmp);
        add_item(b, env, SGS_ITEM_LEDGER, ident, SGS_ITEM_IF_NEW, unit, r->report_day);
    }
    old = ident != UINT32_MAX && b->idents[ident].old;
    if (old) {
        /* too_old when its key turns out dropped: one reject, with the rules
         * it failed too, instead of any other */
        sgs_batch_extra_reason(env, r, SGS_REASON_TOO_OLD, &extra);
        sgs_batch_reject_json(env, r, m, &extra, &env->tmp);
        add_item(b, env, SGS_ITEM_REJECT, ident, SGS_ITEM_IF_OLD, unit, r->report_day);
    }
    if (type == SGS_GROUP_REVOKE) {
        /* A revoke of a decision never seen is rejected (with the rules it
         * failed too); one of a decision seen is rejected only when it failed
         * a rule. Both carry the message's reject id: one of them goes. */
        sgs_batch_extra_reason(env, r, SGS_REASON_UNKNOWN_RECORD, &extra);
        sgs_batch_reject_json(env, r, m, &extra, &env->tmp);
        add_item(b, env, SGS_ITEM_REJECT, ident, SGS_ITEM_IF_NEW, unit, r->report_day);
        if (r->status != SGS_RECORD_VALID && ident != UINT32_MAX) {
            sgs_batch_reject_json(env, r, m, NULL, &env->tmp);
            add_item(b, env, SGS_ITEM_REJECT, ident, SGS_ITEM_IF_SEEN, unit, r->report_day);
        }
    } else if (r->status != SGS_RECORD_VALID) {
        /* Every other message that failed a rule is rejected (also a duplicate
         * or an update: the message failed). */
        int known = r->status != SGS_RECORD_MALFORMED;
        sgs_batch_reject_json(env, r, m, NULL, &env->tmp);
        if (old) {
            add_item(b, env, SGS_ITEM_REJECT, ident, SGS_ITEM_IF_KEPT, unit, r->report_day);
        } else if (built_badly(env)) {
            b->oom = 1;
        } else {
            sgs_store_outbox_put(&b->rejects, SGS_STORE_OUTBOX_REJECT, known ? r->unit_id : "",
                                 known ? strlen(r->unit_id) : 0, env->tmp.data, env->tmp.len);
            b->n_rejects++;
        }
    }
    if (b->arena.oom || b->rejects.oom)
        b->oom = 1;
}

/* Counts n records of group g: as new (or when Redis has no say), or as its
 * "seen" outcome. */
static void count_group(const sgs_batch_group *g, uint64_t n, int seen, sgs_batch_counts *to)
{
    switch (g->type) {
    case SGS_GROUP_MALFORMED:
        to->malformed += n;
        return;
    case SGS_GROUP_UNATTRIBUTED:
        to->unattributed += n;
        return;
    case SGS_GROUP_DUPLICATE:
        to->duplicates += n;
        return;
    case SGS_GROUP_UPDATED:
        to->updates += n;
        return;
    case SGS_GROUP_REVOKED:
        to->revoked += n;
        return;
    case SGS_GROUP_REVOKE:
        if (seen)
            to->revoked += n;
        else
            to->unknown_record += n;
        return;
    default: /* record or update */
        if (seen) {
            if (g->type == SGS_GROUP_UPDATE)
                to->updates += n;
            else
                to->duplicates += n;
            return;
        }
        to->records += n;
        to->late += (g->flags & SGS_GF_LATE) ? n : 0;
        to->invalid += (g->flags & SGS_GF_INVALID) ? n : 0;
        to->from_organ += (g->flags & SGS_GF_ORGAN) ? n : 0;
    }
}

void sgs_batch_count_outcomes(sgs_batch *b)
{
    for (size_t i = 0; i < b->n_groups; i++)
        b->groups[i].n_seen = b->groups[i].n_old = 0;
    for (size_t i = 0; i < b->n_idents; i++) {
        const sgs_batch_ident *e = &b->idents[i];
        if (e->group != UINT32_MAX) {
            b->groups[e->group].n_seen += e->seen != 0;
            b->groups[e->group].n_old += e->too_old != 0;
        }
    }
}

int sgs_batch_item_emitted(const sgs_batch *b, const sgs_batch_item *it)
{
    const sgs_batch_ident *e;
    if (it->ident == UINT32_MAX)
        return 1;
    e = &b->idents[it->ident];
    switch (it->cond) {
    case SGS_ITEM_IF_NEW:
        return !e->seen && !e->too_old;
    case SGS_ITEM_IF_OLD:
        return e->too_old;
    case SGS_ITEM_IF_KEPT:
        return !e->too_old;
    default:
        return e->seen;
    }
}

void sgs_batch_account(const sgs_batch *b, sgs_batch_counts *to)
{
    for (size_t i = 0; i < b->n_groups; i++) {
        const sgs_batch_group *g = &b->groups[i];
        uint32_t n_seen = g->n_seen, n_old = g->n_old;
        to->too_old += n_old;
        count_group(g, g->n - n_seen - n_old, 0, to);
        count_group(g, n_seen, 1, to);
    }
    for (size_t i = 0; i < b->n_items; i++) {
        const sgs_batch_item *it = &b->items[i];
        if (it->kind == SGS_ITEM_REJECT && sgs_batch_item_emitted(b, it))
            to->rejects++;
    }
    to->rejects += b->n_rejects;
    to->messages += b->n_orig;
    to->forwarded += b->n_fwd;
    to->replays += b->n_skip;
}

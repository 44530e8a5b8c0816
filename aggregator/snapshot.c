/* The month's snapshot (REFERENCE §8): every partition's counters, gap hashes,
 * ledger and stored offset, the spot checks' findings and withdrawals of the
 * year (P:concealed, P:withdrawn) and the previous month's latest snapshot,
 * joined with the registry.
 *
 * Consistency: each partition is read in one MULTI/EXEC on its slot, so no
 * consumer batch (itself one atomic script on that slot) is half visible, and
 * its offset is the one its counters and ledger stand at. The partitions'
 * transactions go out in one pipe (one round trip per master); in a Redis
 * Cluster their slots live on different masters, so there is no instant at
 * which all of them are read, and on one Redis they are read the same way.
 * That is enough: every record is counted (with its ledger entry) by one
 * batch of one partition, so it is in the read whole or not yet. The
 * concealed hash and the previous month's latest version are single keys of
 * their own slots, and a stored version never changes once written. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/store.h"

#define READ_ATTEMPTS 10

void sgs_agg_counts_add(sgs_agg_counts *to, const sgs_agg_counts *c)
{
    to->records += c->records;
    to->late += c->late;
    to->invalid += c->invalid;
    to->dup += c->dup;
    to->lic += c->lic;
    to->pen += c->pen;
    to->wdlate += c->wdlate;
    to->concealed += c->concealed;
    to->upd += c->upd;
    to->rev += c->rev;
}

/* ---- the read ---------------------------------------------------------------- */

/* Commands of a partition's transaction, in the order of its EXEC array. */
enum {
    TX_COUNTERS = 0, /* HGETALL P:T:m:month */
    TX_LEDGER,       /* LRANGE P:T:lg:month 0 -1 */
    TX_LEDGER_N,     /* HGETALL P:T:lgn:month */
    TX_OFFSET,       /* GET P:T:offset */
    TX_GAPS,         /* month x HGETALL P:T:g:YYYY-MM, January..month */
};

struct month_read {
    char **parts;
    size_t n_parts;
    sgs_rcl_pipe *pipe;
    size_t *unit;      /* the pipe unit of each partition's transaction */
    redisReply **tx;   /* each partition's EXEC array (borrowed from the pipe) */
    int64_t *offset;   /* each partition's stored offset */
    redisReply **gaps; /* n_parts x month gap hashes (borrowed), partition-major */
    size_t n_gaps;
    const redisReply *concealed; /* HGETALL P:concealed:month (borrowed) */
    const redisReply *withdrawn; /* HGETALL P:withdrawn:month (borrowed) */
    /* HGETALL of P:concealed and P:withdrawn of January..month (borrowed):
     * the year's concealed decisions, left out of the suspected gaps */
    const redisReply *year_concealed[12], *year_withdrawn[12];
    long prev_version; /* 0: the previous month has no snapshot */
    redisReply *prev;  /* GET of that version (owned), or NULL */
};

static void month_read_free(struct month_read *mr)
{
    sgs_agg_strv_free(mr->parts, mr->n_parts);
    sgs_rcl_pipe_free(mr->pipe);
    free(mr->unit);
    free(mr->tx);
    free(mr->offset);
    free(mr->gaps);
    if (mr->prev)
        freeReplyObject(mr->prev);
    memset(mr, 0, sizeof(*mr));
}

/* One attempt: 0 done, 1 a partition's state vanished meanwhile (retry), -1
 * error. */
static int month_read_once(sgs_agg_ctx *ctx, int year, int month, struct month_read *mr,
                           char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX], latest_key[SGS_STORE_KEY_MAX], ym[8], prev_ym[8];
    int py = year, pm = month;
    long i_latest, i_concealed[12], i_withdrawn[12];
    const size_t n_cmds = TX_GAPS + (size_t)month;
    const redisReply *r;

    sgs_month_format(year, month, ym);
    sgs_month_add(&py, &pm, -1);
    sgs_month_format(py, pm, prev_ym);
    sgs_store_snapshot_key(latest_key, sizeof(latest_key), ctx->prefix, prev_ym, -1);

    if (sgs_agg_partitions_read(ctx, &mr->parts, &mr->n_parts, errstr, errstr_size) != 0)
        return -1;
    mr->pipe = sgs_agg_pipe(ctx, errstr, errstr_size);
    if (!mr->pipe)
        return -1;
    mr->unit = calloc(mr->n_parts + 1, sizeof(*mr->unit));
    mr->tx = calloc(mr->n_parts + 1, sizeof(*mr->tx));
    mr->offset = calloc(mr->n_parts + 1, sizeof(*mr->offset));
    mr->gaps = calloc(mr->n_parts * (size_t)month + 1, sizeof(*mr->gaps));
    if (!mr->unit || !mr->tx || !mr->offset || !mr->gaps)
        goto oom;

    /* One pipe: each partition's transaction on its slot, the previous
     * month's latest version and the concealed hash. */
    for (size_t i = 0; i < mr->n_parts; i++) {
        long u;
        uint16_t slot;

        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_OFFSET, NULL);
        slot = sgs_agg_slot(key);
        u = sgs_rcl_pipe_multi(mr->pipe, slot, SGS_RCL_IDEMPOTENT);
        if (u < 0)
            goto oom;
        mr->unit[i] = (size_t)u;
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_MONTH, ym);
        if (sgs_rcl_pipe_appendf(mr->pipe, slot, 0, "HGETALL %s", key) < 0)
            goto oom;
        /* The ledger: written in the same scripts as the counters, so the
         * entries read here are exactly those of the counters read above. */
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_LEDGER, ym);
        if (sgs_rcl_pipe_appendf(mr->pipe, slot, 0, "LRANGE %s 0 -1", key) < 0)
            goto oom;
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_LEDGER_N, ym);
        if (sgs_rcl_pipe_appendf(mr->pipe, slot, 0, "HGETALL %s", key) < 0)
            goto oom;
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_OFFSET, NULL);
        if (sgs_rcl_pipe_appendf(mr->pipe, slot, 0, "GET %s", key) < 0)
            goto oom;
        /* Document numbers first counted from January up to this month. */
        for (int m = 1; m <= month; m++) {
            char dn_ym[8];

            sgs_store_pkey_member(key, sizeof(key), ctx->prefix, mr->parts[i], SGS_STORE_GAPS,
                                  sgs_month_format(year, m, dn_ym));
            if (sgs_rcl_pipe_appendf(mr->pipe, slot, 0, "HGETALL %s", key) < 0)
                goto oom;
        }
        if (sgs_rcl_pipe_exec(mr->pipe) != 0)
            goto oom;
    }
    i_latest = sgs_rcl_pipe_appendf(mr->pipe, sgs_agg_slot(latest_key), SGS_RCL_IDEMPOTENT,
                                    "GET %s", latest_key);
    if (i_latest < 0)
        goto oom;
    /* The spot checks' findings and withdrawals of January..month: the
     * month's are its concealed figures, the year's leave the suspected gaps. */
    for (int m = 1; m <= month; m++) {
        char f_ym[8];

        sgs_month_format(year, m, f_ym);
        sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_CONCEALED, f_ym);
        i_concealed[m - 1] = sgs_rcl_pipe_appendf(mr->pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT,
                                                  "HGETALL %s", key);
        sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_WITHDRAWN, f_ym);
        i_withdrawn[m - 1] = sgs_rcl_pipe_appendf(mr->pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT,
                                                  "HGETALL %s", key);
        if (i_concealed[m - 1] < 0 || i_withdrawn[m - 1] < 0)
            goto oom;
    }
    if (sgs_agg_pipe_run(mr->pipe, errstr, errstr_size) != 0)
        return -1;

    for (size_t i = 0; i < mr->n_parts; i++) {
        r = sgs_rcl_pipe_reply(mr->pipe, mr->unit[i]);
        /* A key of the wrong type is refused while queued: that refusal is
         * the unit's reply. */
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: reading %s of %s: %s", ym, mr->parts[i], r->str);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != n_cmds) {
            snprintf(errstr, errstr_size, "redis: reading %s of %s: unexpected reply to EXEC", ym,
                     mr->parts[i]);
            return -1;
        }
        for (size_t k = 0; k < n_cmds; k++) {
            if (r->element[k]->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: reading %s of %s: %s", ym, mr->parts[i],
                         r->element[k]->str);
                return -1;
            }
        }
        if (r->element[TX_OFFSET]->type == REDIS_REPLY_NIL)
            return 1; /* its state was deleted after the scan (a rebuild starting) */
        if (sgs_agg_reply_int(r->element[TX_OFFSET], &mr->offset[i]) != 0 || mr->offset[i] < 0) {
            snprintf(errstr, errstr_size, "redis: %s%s: not an offset", mr->parts[i],
                     SGS_STORE_OFFSET);
            return -1;
        }
        mr->tx[i] = (redisReply *)r;
        for (int m = 0; m < month; m++)
            mr->gaps[mr->n_gaps++] = r->element[TX_GAPS + m];
    }
    for (int m = 0; m < month; m++) {
        for (int k = 0; k < 2; k++) {
            r = sgs_rcl_pipe_reply(mr->pipe, (size_t)(k ? i_withdrawn[m] : i_concealed[m]));
            if (r->type == REDIS_REPLY_ERROR) {
                char f_ym[8];

                sgs_store_gkey(key, sizeof(key), ctx->prefix,
                               k ? SGS_STORE_WITHDRAWN : SGS_STORE_CONCEALED,
                               sgs_month_format(year, m + 1, f_ym));
                snprintf(errstr, errstr_size, "redis: reading %s: %s", key, r->str);
                return -1;
            }
            if (k)
                mr->year_withdrawn[m] = r;
            else
                mr->year_concealed[m] = r;
        }
    }
    mr->concealed = mr->year_concealed[month - 1];
    mr->withdrawn = mr->year_withdrawn[month - 1];
    r = sgs_rcl_pipe_reply(mr->pipe, (size_t)i_latest);
    mr->prev_version = r->type == REDIS_REPLY_ERROR ? -1 : sgs_agg_reply_version(r);
    if (mr->prev_version < 0) {
        snprintf(errstr, errstr_size, "redis: %s: not a version number", latest_key);
        return -1;
    }
    if (mr->prev_version > 0) {
        /* written once, never changed: no need to read it with the rest */
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, prev_ym, mr->prev_version);
        mr->prev = sgs_agg_redis(ctx, key, errstr, errstr_size, "GET %s", key);
        if (!mr->prev)
            return -1;
    }
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

static int month_read(sgs_agg_ctx *ctx, int year, int month, struct month_read *mr, char *errstr,
                      size_t errstr_size)
{
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        int rc;

        memset(mr, 0, sizeof(*mr));
        rc = month_read_once(ctx, year, month, mr, errstr, errstr_size);
        if (rc == 0)
            return 0;
        month_read_free(mr);
        if (rc < 0)
            return -1;
        sgs_debug("a partition's state vanished during the read; reading again");
        /* a rebuild that started meanwhile refuses the read now */
        rc = sgs_agg_rebuild_check(ctx, errstr, errstr_size);
        if (rc != 0)
            return -1;
    }
    snprintf(errstr, errstr_size, "redis: partitions kept vanishing during %d reads",
             READ_ATTEMPTS);
    return -1;
}

/* ---- joining with the registry ---------------------------------------------------- */

struct unknown_units {
    sgs_agg_idmap *map;
    char **ids;
    int64_t *records;
    size_t n, cap;
};

static int unknown_add(struct unknown_units *u, const char *id, size_t len, int64_t records)
{
    size_t i;

    if (!u->map && !(u->map = sgs_agg_idmap_new(16)))
        return -1;
    if (!sgs_agg_idmap_get(u->map, id, len, &i)) {
        if (u->n == u->cap) {
            size_t cap = u->cap ? u->cap * 2 : 16;
            char **ids = realloc(u->ids, cap * sizeof(*ids));
            int64_t *rec;

            if (!ids)
                return -1;
            u->ids = ids;
            rec = realloc(u->records, cap * sizeof(*rec));
            if (!rec)
                return -1;
            u->records = rec;
            u->cap = cap;
        }
        i = u->n;
        u->ids[i] = strndup(id, len);
        if (!u->ids[i] || sgs_agg_idmap_put(u->map, id, len, i) < 0) {
            free(u->ids[i]);
            return -1;
        }
        u->records[i] = 0;
        u->n++;
    }
    u->records[i] += records;
    return 0;
}

static void unknown_free(struct unknown_units *u)
{
    sgs_agg_idmap_free(u->map);
    sgs_agg_strv_free(u->ids, u->n);
    free(u->records);
}

/* Adds a unit's counter; -1 when the counter is none of a unit's. */
static int add_counter(sgs_agg_counts *c, enum sgs_store_counter counter, int64_t v)
{
    switch (counter) {
    case SGS_STORE_RECORDS:
        c->records += v;
        break;
    case SGS_STORE_LATE:
        c->late += v;
        break;
    case SGS_STORE_INVALID:
        c->invalid += v;
        break;
    case SGS_STORE_DUP:
        c->dup += v;
        break;
    case SGS_STORE_LIC:
        c->lic += v;
        break;
    case SGS_STORE_PEN:
        c->pen += v;
        break;
    case SGS_STORE_WDLATE:
        c->wdlate += v;
        break;
    case SGS_STORE_UPD:
        c->upd += v;
        break;
    case SGS_STORE_REV:
        c->rev += v;
        break;
    default:
        return -1;
    }
    return 0;
}

static int join_counters(sgs_agg_snapshot *s, const sgs_agg_idmap *map, const sgs_registry *reg,
                         const redisReply *h, struct unknown_units *unknown, char *errstr,
                         size_t errstr_size)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        sgs_store_field field;
        int64_t n;
        long row;

        if (f->type != REDIS_REPLY_STRING)
            continue;
        if (sgs_store_field_parse(f->str, f->len, &field) != 0 || sgs_agg_reply_int(v, &n) != 0) {
            sgs_warn("%s: ignoring counter field '%s'", s->month, f->str);
            continue;
        }
        if (field.global) {
            if (field.counter == SGS_STORE_UNATTRIBUTED)
                s->unattributed += n;
            continue; /* _|malformed counts nowhere in the snapshot */
        }
        row = sgs_agg_idmap_unit_row(map, reg, field.unit, field.unit_len);
        if (row < 0) {
            if (unknown_add(unknown, field.unit, field.unit_len,
                            field.counter == SGS_STORE_RECORDS ? n : 0) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
            }
            continue;
        }
        if (add_counter(&s->rows[row].c, field.counter, n) != 0)
            sgs_debug("%s: unknown counter '%s'", s->month, f->str);
    }
    return 0;
}

/* The month's concealed decisions per unit, those withdrawn left out, and
 * the withdrawals (s->withdrawn). */
static int join_concealed(sgs_agg_snapshot *s, const sgs_agg_idmap *map, const sgs_registry *reg,
                          const redisReply *h, const redisReply *withdrawn,
                          struct unknown_units *unknown, char *errstr, size_t errstr_size)
{
    if (withdrawn->type == REDIS_REPLY_ARRAY && withdrawn->elements > 0) {
        s->withdrawn = sgs_agg_spot_trail(withdrawn, reg);
        if (!s->withdrawn) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        if (json_array_size(s->withdrawn) == 0) {
            json_decref(s->withdrawn);
            s->withdrawn = NULL;
        }
    }
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i];
        sgs_store_ident_parts id;
        long row;

        if (f->type != REDIS_REPLY_STRING || sgs_store_identity_parse(f->str, f->len, &id) != 0 ||
            sgs_agg_spot_has(withdrawn, f->str, f->len))
            continue;
        row = sgs_agg_idmap_unit_row(map, reg, id.unit, id.unit_len);
        if (row < 0) {
            if (unknown_add(unknown, id.unit, id.unit_len, 0) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
            }
            continue;
        }
        s->rows[row].c.concealed++;
    }
    return 0;
}

/* prev_records from the previous month's latest snapshot, when that month was
 * observed: a snapshot without records is a month sgs did not see (it was not
 * running yet), and a comparison with it would praise every unit as improved. */
static void join_previous(sgs_agg_snapshot *s, const sgs_agg_idmap *map, const sgs_registry *reg,
                          const redisReply *r)
{
    json_error_t err;
    json_t *doc, *units, *u, *records;
    size_t i;

    if (r->type != REDIS_REPLY_STRING) {
        sgs_warn("%s: the previous month's latest snapshot is missing; prev_records are null",
                 s->month);
        return;
    }
    doc = json_loadb(r->str, r->len, 0, &err);
    units = doc ? json_object_get(doc, "units") : NULL;
    if (!json_is_array(units)) {
        sgs_warn("%s: the previous month's snapshot is not readable (%s); prev_records are null",
                 s->month, doc ? "no units" : err.text);
        json_decref(doc);
        return;
    }
    records = json_object_get(json_object_get(doc, "totals"), "records");
    if (!json_is_integer(records) || json_integer_value(records) <= 0) {
        s->prev_empty = 1;
        json_decref(doc);
        return;
    }
    s->has_prev_snapshot = 1;
    json_array_foreach(units, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "unit_id"));
        json_t *rec = json_object_get(u, "records");
        long row;

        if (!id || !json_is_integer(rec))
            continue;
        row = sgs_agg_idmap_unit_row(map, reg, id, strlen(id));
        if (row >= 0) {
            s->rows[row].has_prev = 1;
            s->rows[row].prev_records += json_integer_value(rec);
        }
    }
    json_decref(doc);
}

/* ---- groups, order, flags ------------------------------------------------------------ */

struct order_item {
    int64_t records;
    size_t row;
};

static int cmp_order(const void *a, const void *b)
{
    const struct order_item *x = a, *y = b;

    if (x->records != y->records)
        return x->records > y->records ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Registry's group id spelled like text (borrowed), or NULL. */
static const char *registry_group(const sgs_registry *reg, const char *text, size_t len)
{
    for (size_t i = 0; i < sgs_registry_group_count(reg); i++) {
        const char *g = sgs_registry_group_at(reg, i);

        if (strlen(g) == len && memcmp(g, text, len) == 0)
            return g;
    }
    return NULL;
}

size_t sgs_agg_group_order(const sgs_registry *reg, const sgs_config *cfg, const char **ids)
{
    size_t ng = sgs_registry_group_count(reg), n = 0;
    const char *order = sgs_config_get(cfg, "groups");

    /* Configured order first, then the registry's order of first appearance. */
    while (order && *order) {
        const char *end = strchr(order, ',');
        const char *a = order, *b = end ? end : order + strlen(order);
        const char *g;
        size_t k;

        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        g = registry_group(reg, a, (size_t)(b - a));
        for (k = 0; g && k < n && ids[k] != g; k++)
            ;
        if (g && k == n)
            ids[n++] = g;
        else if (!g && b > a)
            sgs_debug("groups: '%.*s' has no unit in the registry", (int)(b - a), a);
        order = end ? end + 1 : NULL;
    }
    for (size_t i = 0; i < ng; i++) {
        const char *g = sgs_registry_group_at(reg, i);
        size_t k;

        for (k = 0; k < n && ids[k] != g; k++)
            ;
        if (k == n)
            ids[n++] = g;
    }
    return n;
}

static int build_groups(sgs_agg_snapshot *s, const sgs_registry *reg, const sgs_config *cfg)
{
    size_t ng = sgs_registry_group_count(reg);
    const char **ids;
    struct order_item *items;

    s->groups = calloc(ng ? ng : 1, sizeof(*s->groups));
    ids = calloc(ng ? ng : 1, sizeof(*ids));
    if (!s->groups || !ids) {
        free(ids);
        return -1;
    }
    s->n_groups = sgs_agg_group_order(reg, cfg, ids);
    for (size_t i = 0; i < s->n_groups; i++)
        s->groups[i].id = ids[i];
    free(ids);

    items = calloc(s->n_rows ? s->n_rows : 1, sizeof(*items));
    if (!items)
        return -1;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        sgs_agg_group *g = &s->groups[gi];
        size_t n = 0;

        g->name = sgs_config_group_name(cfg, g->id);
        for (size_t i = 0; i < s->n_rows; i++) {
            if (strcmp(s->rows[i].unit->group, g->id) == 0) {
                items[n].records = s->rows[i].c.records;
                items[n].row = i;
                n++;
            }
        }
        qsort(items, n, sizeof(*items), cmp_order);
        g->rows = calloc(n ? n : 1, sizeof(*g->rows));
        if (!g->rows) {
            free(items);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            g->rows[i] = items[i].row;
            sgs_agg_counts_add(&g->sum, &s->rows[items[i].row].c);
        }
        g->n_rows = n;
        sgs_agg_counts_add(&s->totals, &g->sum);
    }
    free(items);
    return 0;
}

/* The flag rules (docs/AGGREGATOR.md):
 * - high_volume: the unit(s) with the most records in their group (more than 0);
 * - improved: a previous figure exists and records >= 1.2 x prev_records and
 *   records >= prev_records + 10;
 * - low_volume: records < report.low_volume;
 * - has_late: late > 0. */
static void set_flags(sgs_agg_snapshot *s)
{
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const sgs_agg_group *g = &s->groups[gi];
        int64_t top = g->n_rows ? s->rows[g->rows[0]].c.records : 0;

        for (size_t i = 0; i < g->n_rows; i++) {
            sgs_agg_row *r = &s->rows[g->rows[i]];

            if (top > 0 && r->c.records == top)
                r->flags |= SGS_AGG_FLAG_HIGH_VOLUME;
        }
    }
    for (size_t i = 0; i < s->n_rows; i++) {
        sgs_agg_row *r = &s->rows[i];

        if (r->has_prev && r->c.records >= r->prev_records + 10 &&
            r->c.records * 5 >= r->prev_records * 6)
            r->flags |= SGS_AGG_FLAG_IMPROVED;
        if (r->c.records < s->low_volume)
            r->flags |= SGS_AGG_FLAG_LOW_VOLUME;
        if (r->c.late > 0)
            r->flags |= SGS_AGG_FLAG_HAS_LATE;
    }
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void put_counts(json_t *o, const sgs_agg_counts *c, int with_unattributed,
                       int64_t unattributed)
{
    json_object_set_new(o, "records", json_integer(c->records));
    json_object_set_new(o, "late", json_integer(c->late));
    json_object_set_new(o, "late_rate", sgs_agg_rate_json(c->late, c->records));
    json_object_set_new(o, "invalid", json_integer(c->invalid));
    json_object_set_new(
        o, "quality_rate",
        sgs_agg_rate_json(sgs_agg_rate_valid_count(c->records, c->invalid), c->records));
    json_object_set_new(o, "duplicates", json_integer(c->dup));
    json_object_set_new(o, "updates", json_integer(c->upd));
    json_object_set_new(o, "revoked", json_integer(c->rev));
    json_object_set_new(o, "concealed", json_integer(c->concealed));
    if (with_unattributed)
        json_object_set_new(o, "unattributed", json_integer(unattributed));
    json_object_set_new(o, "licenses", json_integer(c->lic));
    json_object_set_new(o, "penalties", json_integer(c->pen));
}

static json_t *unit_json(const sgs_agg_row *r)
{
    json_t *o = json_object(), *flags = json_array();

    json_object_set_new(o, "unit_id", json_string(r->unit->id));
    json_object_set_new(o, "name", json_string(r->unit->name));
    json_object_set_new(o, "group", json_string(r->unit->group));
    put_counts(o, &r->c, 0, 0);
    json_object_set_new(o, "prev_records",
                        r->has_prev ? json_integer(r->prev_records) : json_null());
    if (r->flags & SGS_AGG_FLAG_HIGH_VOLUME)
        json_array_append_new(flags, json_string("high_volume"));
    if (r->flags & SGS_AGG_FLAG_IMPROVED)
        json_array_append_new(flags, json_string("improved"));
    if (r->flags & SGS_AGG_FLAG_LOW_VOLUME)
        json_array_append_new(flags, json_string("low_volume"));
    if (r->flags & SGS_AGG_FLAG_HAS_LATE)
        json_array_append_new(flags, json_string("has_late"));
    json_object_set_new(o, "flags", flags);
    json_object_set_new(o, "gaps", r->gaps ? json_incref(r->gaps) : json_array());
    return o;
}

/* The period of the month: its first and its last second, local time. */
static void put_period(json_t *period, const sgs_agg_snapshot *s, int tz_offset)
{
    int64_t from = (int64_t)sgs_month_first(s->year, s->mon) * 86400 - tz_offset;
    int64_t to = (int64_t)sgs_month_last(s->year, s->mon) * 86400 + 86399 - tz_offset;
    char buf[32];

    json_object_set_new(period, "from", json_string(sgs_rfc3339_format(from, tz_offset, buf)));
    json_object_set_new(period, "to", json_string(sgs_rfc3339_format(to, tz_offset, buf)));
}

static json_t *snapshot_json(const sgs_agg_snapshot *s, int64_t generated_at, int tz_offset)
{
    json_t *root = json_object(), *period = json_object(), *totals = json_object();
    json_t *groups = json_array(), *units = json_array();
    char buf[32];

    json_object_set_new(root, "month", json_string(s->month));
    json_object_set_new(root, "version", json_integer(0));
    json_object_set_new(root, "generated_at",
                        json_string(sgs_rfc3339_format(generated_at, tz_offset, buf)));
    put_period(period, s, tz_offset);
    json_object_set_new(root, "period", period);
    json_object_set_new(root, "offsets", s->offsets ? json_deep_copy(s->offsets) : json_object());
    put_counts(totals, &s->totals, 1, s->unattributed);
    json_object_set_new(root, "totals", totals);
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const sgs_agg_group *g = &s->groups[gi];
        json_t *o = json_object();

        json_object_set_new(o, "group", json_string(g->id));
        json_object_set_new(o, "name", json_string(g->name));
        json_object_set_new(o, "units", json_integer((json_int_t)g->n_rows));
        /* the totals' fields (REFERENCE §8); a record of no unit is in no group */
        put_counts(o, &g->sum, 1, 0);
        json_array_append_new(groups, o);
        for (size_t i = 0; i < g->n_rows; i++)
            json_array_append_new(units, unit_json(&s->rows[g->rows[i]]));
    }
    json_object_set_new(root, "groups", groups);
    json_object_set_new(root, "units", units);
    /* only when there is one: a month without withdrawals keeps the document
     * (and so the version) it had before withdrawals existed */
    if (json_array_size(s->withdrawn) > 0)
        json_object_set_new(root, "spot_check", json_pack("{s:O}", "withdrawn", s->withdrawn));
    return root;
}

/* ---- build ------------------------------------------------------------------------------ */

sgs_agg_snapshot *sgs_agg_snapshot_new(const sgs_registry *reg, int year, int month)
{
    size_t n = sgs_registry_count(reg);
    sgs_agg_snapshot *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    sgs_month_format(year, month, s->month);
    s->year = year;
    s->mon = month;
    s->rows = calloc(n ? n : 1, sizeof(*s->rows));
    if (!s->rows) {
        free(s);
        return NULL;
    }
    s->n_rows = n;
    for (size_t i = 0; i < n; i++)
        s->rows[i].unit = sgs_registry_at(reg, i);
    return s;
}

int sgs_agg_snapshot_finish(sgs_agg_snapshot *s, const sgs_registry *reg, const sgs_config *cfg,
                            int64_t generated_at, int tz_offset)
{
    s->low_volume = sgs_config_get_int(cfg, "report.low_volume");
    if (build_groups(s, reg, cfg) != 0)
        return -1;
    set_flags(s);
    sgs_agg_history_init(s);
    s->json = snapshot_json(s, generated_at, tz_offset);
    return s->json ? 0 : -1;
}

/* The ledger of the read: entries, cut notes, concealed decisions and the gap
 * entries of the rows, ordered as the units are displayed. */
static int join_ledger(sgs_agg_snapshot *s, const sgs_agg_idmap *map, const sgs_registry *reg,
                       const struct month_read *mr)
{
    size_t *rank = calloc(s->n_rows ? s->n_rows : 1, sizeof(*rank)), pos = 0;
    int rc = -1;

    if (!rank)
        return -1;
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        for (size_t i = 0; i < s->groups[gi].n_rows; i++)
            rank[s->groups[gi].rows[i]] = pos++;
    }
    for (size_t i = 0; i < mr->n_parts; i++) {
        if (sgs_agg_ledger_add_list(&s->ledger, mr->tx[i]->element[TX_LEDGER], map, reg, -1) != 0 ||
            sgs_agg_ledger_add_cut(&s->ledger, mr->tx[i]->element[TX_LEDGER_N], map, reg, -1) != 0)
            goto out;
    }
    if (sgs_agg_ledger_add_concealed(&s->ledger, mr->concealed, mr->withdrawn, map, reg, -1) != 0)
        goto out;
    for (size_t i = 0; i < s->n_rows; i++) {
        if (s->rows[i].gaps && sgs_agg_ledger_add_gaps(&s->ledger, i, s->rows[i].gaps) != 0)
            goto out;
    }
    rc = sgs_agg_ledger_finish(&s->ledger, rank);
out:
    free(rank);
    return rc;
}

/* Warns (once per text) about unit ids in Redis that the registry lacks. */
static void warn_unknown(sgs_agg_ctx *ctx, const sgs_agg_snapshot *s,
                         const struct unknown_units *unknown)
{
    sgs_buf b;

    sgs_buf_init(&b);
    sgs_buf_printf(&b,
                   "%s: %zu unit id(s) in Redis are not in the registry %s and are left "
                   "out of the snapshot: ",
                   s->month, unknown->n, sgs_config_get(ctx->cfg, "units.file"));
    for (size_t i = 0; i < unknown->n && i < 20; i++)
        sgs_buf_printf(&b, "%s%s (%lld records)", i ? ", " : "", unknown->ids[i],
                       (long long)unknown->records[i]);
    if (unknown->n > 20)
        sgs_buf_puts(&b, ", ...");
    if (b.data && sgs_agg_warn_once(ctx, b.data))
        sgs_warn("%s", b.data);
    sgs_buf_free(&b);
}

sgs_agg_snapshot *sgs_agg_snapshot_build(sgs_agg_ctx *ctx, int year, int month, char *errstr,
                                         size_t errstr_size)
{
    struct month_read mr;
    struct unknown_units unknown;
    sgs_agg_snapshot *s;
    sgs_agg_idmap *map = NULL;

    memset(&mr, 0, sizeof(mr));
    memset(&unknown, 0, sizeof(unknown));
    s = sgs_agg_snapshot_new(ctx->reg, year, month);
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    map = sgs_agg_idmap_registry(ctx->reg);
    if (!map)
        goto oom;

    if (sgs_agg_rebuild_check(ctx, errstr, errstr_size) != 0 ||
        month_read(ctx, year, month, &mr, errstr, errstr_size) != 0)
        goto fail;
    {
        sgs_rcl_stats st;

        sgs_rcl_get_stats(ctx->rcl, &st);
        sgs_debug("%s: %zu partitions read on %zu master(s); redirections followed so far: "
                  "MOVED %llu, ASK %llu, TRYAGAIN %llu, CLUSTERDOWN %llu",
                  s->month, mr.n_parts, sgs_rcl_master_count(ctx->rcl),
                  (unsigned long long)st.moved, (unsigned long long)st.ask,
                  (unsigned long long)st.tryagain, (unsigned long long)st.clusterdown);
    }

    for (size_t i = 0; i < mr.n_parts; i++) {
        if (join_counters(s, map, ctx->reg, mr.tx[i]->element[TX_COUNTERS], &unknown, errstr,
                          errstr_size) != 0)
            goto fail;
    }
    if (join_concealed(s, map, ctx->reg, mr.concealed, mr.withdrawn, &unknown, errstr,
                       errstr_size) != 0)
        goto fail;
    if (mr.prev)
        join_previous(s, map, ctx->reg, mr.prev);
    if (sgs_agg_gaps_compute(s->rows, s->n_rows, map, ctx->reg, mr.gaps, mr.n_gaps, year,
                             mr.year_concealed, mr.year_withdrawn, (size_t)month, errstr,
                             errstr_size) != 0)
        goto fail;
    /* the stored offset of every partition read (REFERENCE §11) */
    s->offsets = json_object();
    if (!s->offsets)
        goto oom;
    for (size_t i = 0; i < mr.n_parts; i++) {
        if (json_object_set_new(s->offsets, mr.parts[i], json_integer(mr.offset[i])) != 0)
            goto oom;
    }
    if (unknown.n)
        warn_unknown(ctx, s, &unknown);

    if (sgs_agg_snapshot_finish(s, ctx->reg, ctx->cfg, sgs_agg_now(ctx), ctx->tz_offset) != 0 ||
        join_ledger(s, map, ctx->reg, &mr) != 0)
        goto oom;
    if (s->ledger.unreadable) {
        char text[160];

        snprintf(text, sizeof(text),
                 "%s: %zu ledger entries in Redis are not ledger JSON and are left out", s->month,
                 s->ledger.unreadable);
        if (sgs_agg_warn_once(ctx, text))
            sgs_warn("%s", text);
    }
    /* The trend's earlier months: stored snapshots, immutable once written. */
    if (sgs_agg_history_read(ctx, s, errstr, errstr_size) != 0)
        goto fail;
    month_read_free(&mr);
    unknown_free(&unknown);
    sgs_agg_idmap_free(map);
    return s;

oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    month_read_free(&mr);
    unknown_free(&unknown);
    sgs_agg_idmap_free(map);
    sgs_agg_snapshot_free(s);
    return NULL;
}

void sgs_agg_snapshot_free(sgs_agg_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_rows; i++)
        json_decref(s->rows[i].gaps);
    for (size_t i = 0; i < s->n_groups; i++)
        free(s->groups[i].rows);
    free(s->groups);
    free(s->rows);
    json_decref(s->offsets);
    json_decref(s->json);
    json_decref(s->withdrawn);
    sgs_agg_ledger_free(&s->ledger);
    free(s);
}

void sgs_agg_snapshot_set_version(sgs_agg_snapshot *s, long version)
{
    json_object_set_new(s->json, "version", json_integer(version));
}

int sgs_agg_snapshot_mark_preview(sgs_agg_snapshot *s)
{
    json_t *o = json_object(), *v;
    const char *k;

    /* "preview" right after "version": a new object in that order (jansson
     * keeps the order of insertion) */
    if (!o)
        return -1;
    json_object_foreach(s->json, k, v)
    {
        if (strcmp(k, "version") == 0) {
            if (json_object_set_new(o, k, json_null()) != 0 ||
                json_object_set_new(o, "preview", json_true()) != 0)
                goto oom;
        } else if (json_object_set(o, k, v) != 0) {
            goto oom;
        }
    }
    json_decref(s->json);
    s->json = o;
    s->preview = 1;
    return 0;
oom:
    json_decref(o);
    return -1;
}

void sgs_agg_snapshot_take_prev(sgs_agg_snapshot *s, const json_t *stored)
{
    const json_t *units = json_object_get(stored, "units"), *u;
    json_t *mine = json_object_get(s->json, "units");
    sgs_agg_idmap *map = sgs_agg_idmap_new(s->n_rows);
    size_t i;

    if (!map)
        return;
    for (i = 0; i < s->n_rows; i++)
        sgs_agg_idmap_put(map, s->rows[i].unit->id, strlen(s->rows[i].unit->id), i);
    s->has_prev_snapshot = 0;
    json_array_foreach(units, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "unit_id"));
        json_t *prev = json_object_get(u, "prev_records"), *flags = json_object_get(u, "flags");
        json_t *m = json_array_get(mine, i);
        size_t row, k;
        json_t *f;

        /* the same content but the comparison: the same units in the same order */
        if (!id || !sgs_agg_idmap_get(map, id, strlen(id), &row) ||
            !json_equal(json_object_get(m, "unit_id"), json_object_get(u, "unit_id")))
            continue;
        s->rows[row].has_prev = json_is_integer(prev);
        s->rows[row].prev_records = json_is_integer(prev) ? json_integer_value(prev) : 0;
        s->has_prev_snapshot |= s->rows[row].has_prev;
        s->rows[row].flags &= ~SGS_AGG_FLAG_IMPROVED;
        json_array_foreach(flags, k, f)
        {
            if (json_is_string(f) && strcmp(json_string_value(f), "improved") == 0)
                s->rows[row].flags |= SGS_AGG_FLAG_IMPROVED;
        }
        /* copies: the stored document is compared in place (version.c) */
        json_object_set_new(m, "prev_records", prev ? json_deep_copy(prev) : json_null());
        if (flags)
            json_object_set_new(m, "flags", json_deep_copy(flags));
    }
    if (s->has_prev_snapshot)
        s->prev_empty = 0;
    sgs_agg_idmap_free(map);
}

long sgs_agg_snapshot_version(const sgs_agg_snapshot *s)
{
    return (long)json_integer_value(json_object_get(s->json, "version"));
}

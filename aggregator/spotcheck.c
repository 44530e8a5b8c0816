/* Concealment spot checks (瞒报抽查): every sampled decision is looked up by its
 * identity in every partition's identity store (store.h: a bit of P:T:b:<year>
 * or a field of P:T:x:<year>); one found nowhere is concealed and is recorded in
 * P:concealed:YYYY-MM (a hash, so a repeated sample adds nothing). A sample with a malformed line
 * is refused as a whole before anything is looked up or stored. A dry run
 * looks up and stores nothing.
 *
 * Withdrawals (撤销): a stored finding found wrong is withdrawn with a reason:
 * HSETNX P:withdrawn:YYYY-MM <identity> {"reason", "at"}. The finding itself
 * stays in P:concealed (the record of what the check found) and the
 * withdrawal is kept beside it (the audit trail): one write per finding,
 * never changed (NX: withdrawing again keeps the first reason and time), so
 * a withdrawal is final for the month and a later sample that finds the
 * decision missing again does not count it. Snapshots, the ledger and status
 * count the findings not withdrawn and show the trail. */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/docno.h"
#include "sgs/store.h"

#define HSET_CHUNK 500 /* fields per HSET command */

static char *read_all(const char *path, size_t *len, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *p = realloc(buf, cap ? cap * 2 : 8192);

            if (!p) {
                free(buf);
                fclose(f);
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
            cap = cap ? cap * 2 : 8192;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Where an item's identity may be in a partition's identity store: up to
 * LOOKS (key suffix, year, field, bit) places. A bitmap identity has one; one
 * kept as its own field lives under its decision year, which a sample does not
 * give: the sample month's year and the two before it are asked, and 0 (no
 * decision date). */
#define LOOKS 5
struct look {
    int n;
    int bitmap;
    int years[LOOKS];
    sgs_store_ident_loc loc;
};

static int locate_item(const sgs_agg_sample_item *it, int month_year, struct look *lk)
{
    sgs_store_ident_parts parts;
    sgs_docno doc;
    char unit[SGS_STORE_FIELD_MAX];
    if (sgs_store_identity_parse(it->identity, strlen(it->identity), &parts) != 0 ||
        parts.unit_len >= sizeof(unit) ||
        sgs_docno_normalize(parts.doc_no, parts.doc_no_len, &doc) != 0)
        return -1;
    memcpy(unit, parts.unit, parts.unit_len);
    unit[parts.unit_len] = '\0';
    if (sgs_store_ident_locate(unit, it->kind, &doc, it->identity, 0, &lk->loc) != 0)
        return -1;
    lk->bitmap = lk->loc.bitmap;
    lk->n = 0;
    if (lk->loc.bitmap || doc.year > 0) {
        lk->years[lk->n++] = lk->loc.bitmap ? lk->loc.year : doc.year;
    } else {
        for (int y = month_year; y > month_year - 3; y--)
            lk->years[lk->n++] = y;
        lk->years[lk->n++] = 0;
    }
    return 0;
}

/* Whether an HGET reply holds the item: its bit set, or the field present. */
static int holds(const redisReply *r, const struct look *lk)
{
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    if (!lk->bitmap)
        return 1;
    return (size_t)(lk->loc.bit / 8) < r->len &&
           ((unsigned char)r->str[lk->loc.bit / 8] & (0x80u >> (lk->loc.bit % 8)));
}

/* Asks every partition's identity store for every item, pipelined. */
static int look_up(sgs_agg_ctx *ctx, sgs_agg_sample *s, int month_year, char *errstr,
                   size_t errstr_size)
{
    char **parts = NULL, key[SGS_STORE_KEY_MAX], year[16];
    size_t np = 0, k = 0;
    sgs_rcl_pipe *pipe = NULL;
    struct look *lk = NULL;
    int rc = -1;

    if (sgs_agg_rebuild_check(ctx, errstr, errstr_size) != 0 ||
        sgs_agg_partitions_read(ctx, &parts, &np, errstr, errstr_size) != 0)
        return -1;
    if (np == 0)
        sgs_warn("redis: no partition of %s has state under prefix %s: no record was ever "
                 "counted",
                 sgs_config_get(ctx->cfg, "topic.records"), ctx->prefix);
    lk = calloc(s->n ? s->n : 1, sizeof(*lk));
    if (!lk)
        goto oom;
    for (size_t i = 0; i < s->n; i++) {
        if (locate_item(&s->items[i], month_year, &lk[i]) != 0) {
            snprintf(errstr, errstr_size, "sample line %d: '%s' has no place in the identity store",
                     s->items[i].line, s->items[i].identity);
            goto out;
        }
    }
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < np; j++)
            for (int y = 0; y < lk[i].n; y++) {
                snprintf(year, sizeof(year), "%d", lk[i].years[y]);
                sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[j],
                                      lk[i].bitmap ? SGS_STORE_IDBITS : SGS_STORE_IDOWN, year);
                if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGET %s %b",
                                         key, lk[i].loc.field, lk[i].loc.field_len) < 0)
                    goto oom;
            }
    if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < np; j++)
            for (int y = 0; y < lk[i].n; y++, k++) {
                const redisReply *r = sgs_rcl_pipe_reply(pipe, k);

                if (r->type == REDIS_REPLY_ERROR) {
                    snprintf(errstr, errstr_size, "redis: HGET: %s", r->str);
                    goto out;
                }
                if (holds(r, &lk[i]))
                    s->items[i].found = 1;
            }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(pipe);
    free(lk);
    sgs_agg_strv_free(parts, np);
    return rc;
}

/* HSETs of the concealed identities into P:concealed:YYYY-MM, HSET_CHUNK
 * fields each, pipelined (the same value again on a repeat: safe to send
 * twice). */
static int store_concealed(sgs_agg_ctx *ctx, const sgs_agg_sample *s, const char *month,
                           char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    const char **argv;
    size_t *argl;
    sgs_rcl_pipe *pipe = NULL;
    int rc = -1;

    argv = calloc(2 + 2 * HSET_CHUNK, sizeof(*argv));
    argl = calloc(2 + 2 * HSET_CHUNK, sizeof(*argl));
    if (!argv || !argl) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_CONCEALED, month);
    for (size_t i = 0; i < s->n;) {
        int argc = 2;

        argv[0] = "HSET";
        argv[1] = key;
        for (; i < s->n && argc < 2 + 2 * HSET_CHUNK; i++) {
            if (s->items[i].found)
                continue;
            argv[argc++] = s->items[i].identity;
            argv[argc++] = SGS_STORE_MEMBER_VALUE;
        }
        if (argc == 2)
            break;
        for (int a = 0; a < argc; a++)
            argl[a] = strlen(argv[a]);
        if (sgs_rcl_pipe_append(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, argc, argv, argl) <
            0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    {
        char what[SGS_STORE_KEY_MAX + 8];

        snprintf(what, sizeof(what), "HSET %s", key);
        rc = sgs_agg_pipe_run_writes(pipe, what, errstr, errstr_size);
    }
out:
    sgs_rcl_pipe_free(pipe);
    free(argv);
    free(argl);
    return rc;
}

int sgs_agg_spot_has(const redisReply *hash, const char *identity, size_t len)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *f = hash->element[i];

        if (f->type == REDIS_REPLY_STRING && f->len == len && memcmp(f->str, identity, len) == 0)
            return 1;
    }
    return 0;
}

static int cmp_trail(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    int c = strcmp(json_string_value(json_object_get(*x, "at")),
                   json_string_value(json_object_get(*y, "at")));

    if (c)
        return c;
    if ((c = strcmp(json_string_value(json_object_get(*x, "unit_id")),
                    json_string_value(json_object_get(*y, "unit_id")))) != 0)
        return c;
    if ((c = strcmp(json_string_value(json_object_get(*x, "kind")),
                    json_string_value(json_object_get(*y, "kind")))) != 0)
        return c;
    return strcmp(json_string_value(json_object_get(*x, "doc_no")),
                  json_string_value(json_object_get(*y, "doc_no")));
}

json_t *sgs_agg_spot_trail(const redisReply *withdrawn, const sgs_registry *reg)
{
    json_t *out = json_array(), **v = NULL;
    size_t n = 0;

    if (!out)
        return NULL;
    if (!withdrawn || withdrawn->type != REDIS_REPLY_ARRAY)
        return out;
    v = calloc(withdrawn->elements / 2 + 1, sizeof(*v));
    if (!v) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i + 1 < withdrawn->elements; i += 2) {
        const redisReply *f = withdrawn->element[i], *val = withdrawn->element[i + 1];
        sgs_store_ident_parts id;
        const sgs_unit *u;
        json_t *doc, *e;
        const char *reason, *at;

        if (f->type != REDIS_REPLY_STRING || sgs_store_identity_parse(f->str, f->len, &id) != 0 ||
            !(u = sgs_registry_find(reg, id.unit, id.unit_len)))
            continue; /* not a registry unit's: left out like its counters */
        doc = val->type == REDIS_REPLY_STRING ? json_loadb(val->str, val->len, 0, NULL) : NULL;
        reason = json_string_value(json_object_get(doc, "reason"));
        at = json_string_value(json_object_get(doc, "at"));
        e = json_pack("{s:s, s:s, s:s#, s:s#, s:s, s:s}", "unit_id", u->id, "name", u->name, "kind",
                      id.kind, (int)id.kind_len, "doc_no", id.doc_no, (int)id.doc_no_len, "reason",
                      reason ? reason : "", "at", at ? at : "");
        json_decref(doc);
        if (e)
            v[n++] = e;
    }
    qsort(v, n, sizeof(*v), cmp_trail);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
    return out;
}

/* HGETALL of P:concealed:YYYY-MM into *concealed (NULL: not read) and of
 * P:withdrawn:YYYY-MM into *withdrawn (freeReplyObject). 0 / -1. */
static int read_findings(sgs_agg_ctx *ctx, const char *month, redisReply **concealed,
                         redisReply **withdrawn, char *errstr, size_t errstr_size)
{
    static const char *const names[2] = {SGS_STORE_CONCEALED, SGS_STORE_WITHDRAWN};
    redisReply **outs[2] = {concealed, withdrawn};
    char key[SGS_STORE_KEY_MAX];

    for (int k = 0; k < 2; k++) {
        redisReply *r;

        if (!outs[k])
            continue;
        *outs[k] = NULL;
        sgs_store_gkey(key, sizeof(key), ctx->prefix, names[k], month);
        r = sgs_agg_redis(ctx, key, errstr, errstr_size, "HGETALL %s", key);
        if (r && r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: %s: %s", key, r->str);
            freeReplyObject(r);
            r = NULL;
        }
        if (!r) {
            if (k == 1 && concealed && *concealed) {
                freeReplyObject(*concealed);
                *concealed = NULL;
            }
            return -1;
        }
        *outs[k] = r;
    }
    return 0;
}

static json_t *item_json(const sgs_agg_sample_item *it)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "line", it->line, "unit_id", it->unit->id,
                     "unit_name", it->unit->name, "kind", it->kind, "doc_no", it->doc_no,
                     "normalized", it->normalized);
}

json_t *sgs_agg_spotcheck_exec(sgs_agg_ctx *ctx, int year, int month, const char *name,
                               const char *text, size_t len, int dry_run, int *usage, char *errstr,
                               size_t errstr_size)
{
    sgs_agg_sample s;
    char err[1024], ym[8];
    size_t found = 0, before = 0;
    redisReply *withdrawn = NULL;
    json_t *out, *items, *trail;

    *usage = 0;
    memset(&s, 0, sizeof(s));
    sgs_month_format(year, month, ym);
    if (sgs_agg_sample_parse(ctx->reg, name, text, len, &s, errstr, errstr_size) != 0) {
        *usage = 1;
        sgs_agg_sample_free(&s);
        return NULL;
    }
    if (look_up(ctx, &s, year, err, sizeof(err)) != 0 ||
        read_findings(ctx, ym, NULL, &withdrawn, err, sizeof(err)) != 0 ||
        (!dry_run && store_concealed(ctx, &s, ym, err, sizeof(err)) != 0)) {
        snprintf(errstr, errstr_size, "spot-check %s: %s", ym, err);
        if (withdrawn)
            freeReplyObject(withdrawn);
        sgs_agg_sample_free(&s);
        return NULL;
    }

    out = json_object();
    items = json_array();
    for (size_t i = 0; i < s.n; i++) {
        const sgs_agg_sample_item *it = &s.items[i];

        if (it->found) {
            found++;
            continue;
        }
        /* withdrawn before: final for the month, not counted again */
        if (sgs_agg_spot_has(withdrawn, it->identity, strlen(it->identity))) {
            before++;
            continue;
        }
        json_array_append_new(items, item_json(it));
    }
    json_object_set_new(out, "month", json_string(ym));
    if (dry_run)
        json_object_set_new(out, "dry_run", json_true());
    json_object_set_new(out, "sampled", json_integer((json_int_t)s.n));
    json_object_set_new(out, "found", json_integer((json_int_t)found));
    json_object_set_new(out, "concealed", json_integer((json_int_t)(s.n - found - before)));
    if (before)
        json_object_set_new(out, "withdrawn_before", json_integer((json_int_t)before));
    json_object_set_new(out, "items", items);
    trail = sgs_agg_spot_trail(withdrawn, ctx->reg);
    if (json_array_size(trail) > 0)
        json_object_set_new(out, "withdrawn", trail);
    else
        json_decref(trail);
    sgs_info("spot-check %s (%s)%s: %zu sampled (%zu lines), %zu found, %zu concealed%s", ym, name,
             dry_run ? ", dry run, nothing stored" : "", s.n, s.lines, found, s.n - found - before,
             before ? " (and some withdrawn before, not counted)" : "");
    freeReplyObject(withdrawn);
    sgs_agg_sample_free(&s);
    return out;
}

/* HSETNX of each new withdrawal, pipelined (again: nothing changes). */
static int store_withdrawals(sgs_agg_ctx *ctx, const sgs_agg_sample *s, const char *month,
                             const int *fresh, const char *value, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    sgs_rcl_pipe *pipe;
    int rc = -1;

    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        return -1;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_WITHDRAWN, month);
    for (size_t i = 0; i < s->n; i++) {
        if (fresh[i] &&
            sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HSETNX %s %s %s",
                                 key, s->items[i].identity, value) < 0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    {
        char what[SGS_STORE_KEY_MAX + 8];

        snprintf(what, sizeof(what), "HSETNX %s", key);
        rc = sgs_agg_pipe_run_writes(pipe, what, errstr, errstr_size);
    }
out:
    sgs_rcl_pipe_free(pipe);
    return rc;
}

int sgs_agg_spotcheck_reason_check(const char *reason, char *why, size_t why_size)
{
    size_t n = strlen(reason);

    if (n == 0 || n > SGS_AGG_REASON_MAX) {
        snprintf(why, why_size, "expected 1 to %d bytes, got %zu", SGS_AGG_REASON_MAX, n);
        return -1;
    }
    if (!sgs_utf8_valid(reason, n)) {
        snprintf(why, why_size, "expected UTF-8 text");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (sgs_is_ctrl((unsigned char)reason[i])) {
            snprintf(why, why_size,
                     "expected one line without control characters (byte %zu is 0x%02X)", i + 1,
                     (unsigned)(unsigned char)reason[i]);
            return -1;
        }
    return 0;
}

json_t *sgs_agg_spotcheck_withdraw(sgs_agg_ctx *ctx, int year, int month, const char *name,
                                   const char *text, size_t len, const char *reason, int dry_run,
                                   int *usage, char *errstr, size_t errstr_size)
{
    sgs_agg_sample s;
    char err[1024], ym[8], at[40];
    redisReply *concealed = NULL, *withdrawn = NULL;
    json_t *out = NULL, *items, *value, *trail;
    int *fresh = NULL;
    size_t n_fresh = 0;
    char *value_text = NULL;

    *usage = 0;
    memset(&s, 0, sizeof(s));
    sgs_month_format(year, month, ym);
    if (sgs_agg_sample_parse(ctx->reg, name, text, len, &s, errstr, errstr_size) != 0) {
        *usage = 1;
        goto done;
    }
    if (sgs_agg_rebuild_check(ctx, err, sizeof(err)) != 0 ||
        read_findings(ctx, ym, &concealed, &withdrawn, err, sizeof(err)) != 0) {
        snprintf(errstr, errstr_size, "spot-check %s: %s", ym, err);
        goto done;
    }
    fresh = calloc(s.n ? s.n : 1, sizeof(*fresh));
    if (!fresh) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    /* Every row must name a stored finding: checked for all before any write. */
    for (size_t i = 0; i < s.n; i++) {
        const sgs_agg_sample_item *it = &s.items[i];
        size_t idlen = strlen(it->identity);

        if (!sgs_agg_spot_has(concealed, it->identity, idlen)) {
            snprintf(errstr, errstr_size,
                     "%s:%d: %s %s %s names no stored spot-check finding of %s (nothing "
                     "withdrawn)",
                     name, it->line, it->unit->id, it->kind, it->normalized, ym);
            *usage = 1;
            goto done;
        }
        fresh[i] = !sgs_agg_spot_has(withdrawn, it->identity, idlen);
        n_fresh += (size_t)fresh[i];
    }
    sgs_rfc3339_format(sgs_agg_now(ctx), ctx->tz_offset, at);
    value = json_pack("{s:s, s:s}", "reason", reason, "at", at);
    value_text = value ? json_dumps(value, SGS_AGG_JSON_COMPACT) : NULL;
    json_decref(value);
    if (!value_text) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    if (!dry_run && n_fresh > 0) {
        if (store_withdrawals(ctx, &s, ym, fresh, value_text, err, sizeof(err)) != 0) {
            snprintf(errstr, errstr_size, "spot-check %s: %s", ym, err);
            goto done;
        }
        /* the trail as stored now (a rival's withdrawal of the same finding
         * keeps its own reason) */
        freeReplyObject(withdrawn);
        if (read_findings(ctx, ym, NULL, &withdrawn, err, sizeof(err)) != 0) {
            snprintf(errstr, errstr_size, "spot-check %s: %s", ym, err);
            goto done;
        }
    }

    out = json_object();
    items = json_array();
    for (size_t i = 0; i < s.n; i++) {
        json_t *o = item_json(&s.items[i]);

        if (!fresh[i])
            json_object_set_new(o, "already_withdrawn", json_true());
        json_array_append_new(items, o);
    }
    json_object_set_new(out, "month", json_string(ym));
    if (dry_run)
        json_object_set_new(out, "dry_run", json_true());
    json_object_set_new(out, "reason", json_string(reason));
    json_object_set_new(out, "at", json_string(at));
    json_object_set_new(out, "withdrawn_now", json_integer((json_int_t)(dry_run ? 0 : n_fresh)));
    json_object_set_new(out, "items", items);
    trail = sgs_agg_spot_trail(withdrawn, ctx->reg);
    json_object_set_new(out, "withdrawn", trail ? trail : json_array());
    sgs_info("spot-check %s (%s): %zu finding(s) %s, %zu withdrawn before", ym, name, n_fresh,
             dry_run ? "would be withdrawn (dry run, nothing stored)" : "withdrawn", s.n - n_fresh);
done:
    if (concealed)
        freeReplyObject(concealed);
    if (withdrawn)
        freeReplyObject(withdrawn);
    free(fresh);
    free(value_text);
    sgs_agg_sample_free(&s);
    return out;
}

int sgs_agg_cmd_spotcheck(sgs_agg_ctx *ctx, int year, int month, const char *sample_path,
                          const char *withdraw_reason, int dry_run)
{
    char err[1024];
    json_t *out;
    char *text;
    size_t len;
    int usage;

    text = read_all(sample_path, &len, err, sizeof(err));
    if (!text) {
        sgs_error("%s", err);
        return SGS_AGG_EXIT_USAGE;
    }
    if (withdraw_reason)
        out = sgs_agg_spotcheck_withdraw(ctx, year, month, sample_path, text, len, withdraw_reason,
                                         dry_run, &usage, err, sizeof(err));
    else
        out = sgs_agg_spotcheck_exec(ctx, year, month, sample_path, text, len, dry_run, &usage, err,
                                     sizeof(err));
    free(text);
    if (!out) {
        sgs_error("%s", err);
        return usage ? SGS_AGG_EXIT_USAGE : SGS_AGG_EXIT_RUNTIME;
    }
    text = json_dumps(out, JSON_INDENT(2));
    json_decref(out);
    if (!text) {
        sgs_error("out of memory");
        return SGS_AGG_EXIT_RUNTIME;
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    return SGS_AGG_EXIT_OK;
}

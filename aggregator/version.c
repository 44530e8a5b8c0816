/* Snapshot versions in Redis (docs/REDIS.md): P:snapshot:YYYY-MM:vN holds version
 * N, P:snapshot:YYYY-MM:latest holds N, P:snapshot:months lists the months.
 *
 * A new version is written only when the content differs from the newest one,
 * everything compared except "version", "generated_at" and "offsets" (the
 * offsets move with every batch of any month; they describe the read, not the
 * month) and each unit's comparison with the previous month (prev_records and
 * the "improved" flag: a late record of October is no change of November).
 *
 * These keys lie in different slots of a Redis Cluster, so no transaction (and
 * no WATCH: the cluster client may reconnect in between) covers them. The
 * writes are ordered so that every state between them is readable and the
 * next run finishes them (docs/REDIS.md, "Snapshot versions"):
 *   1. SET vN+1 <doc> NX: of two writers only one stores N+1; the other finds
 *      it there, compares with it and goes on from it (same content: it keeps
 *      N+1; else it tries N+2);
 *   2. latest raised to N+1 by a script on its own key (never lowered, so a
 *      slow writer of N+1 cannot undo a faster writer's N+2);
 *   3. SADD months.
 * A crash after 1 leaves vN+1 with latest at N: readers see version N whole,
 * and the next run finds vN+1 (it looks for versions above latest) and redoes
 * 2 and 3. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/store.h"

#define STORE_ATTEMPTS 10

/* The fields a new version does not depend on. */
static const char *const volatile_fields[] = {"version", "generated_at", "offsets"};
#define N_VOLATILE (sizeof(volatile_fields) / sizeof(volatile_fields[0]))

/* latest := max(latest, ARGV[1]); answers the value it holds afterwards. A
 * value that is not a number is refused, not overwritten (the readers report
 * it too). */
static const char raise_latest[] =
    "local v = redis.call('GET', KEYS[1]) "
    "local n = tonumber(ARGV[1]) "
    "if v and not tonumber(v) then return redis.error_reply('not a version number') end "
    "if not v or tonumber(v) < n then redis.call('SET', KEYS[1], ARGV[1]) return n end "
    "return tonumber(v)";

/* A unit's comparison with the previous month: its prev_records and flags
 * (the "improved" flag follows from prev_records). */
struct unit_prev {
    json_t *prev, *flags;
};

/* Puts back what hide_prev kept for the first n units (where it was: jansson
 * keeps a replaced key's position) and frees saved. */
static void restore_prev(json_t *doc, struct unit_prev *saved, size_t n)
{
    json_t *units = json_object_get(doc, "units");

    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(units, i);

        if (saved[i].prev)
            json_object_set_new(u, "prev_records", saved[i].prev);
        else
            json_object_del(u, "prev_records");
        if (saved[i].flags)
            json_object_set_new(u, "flags", saved[i].flags);
        else
            json_object_del(u, "flags");
    }
    free(saved);
}

/* Sets each unit's prev_records to null and its flags to a copy without
 * "improved", keeping what was there in saved (n: the units). -1 when out of
 * memory (then nothing is changed). */
static int hide_prev(json_t *doc, struct unit_prev **saved, size_t *n)
{
    json_t *units = json_object_get(doc, "units"), *u;
    size_t i;

    *n = json_array_size(units);
    *saved = calloc(*n ? *n : 1, sizeof(**saved));
    if (!*saved)
        return -1;
    json_array_foreach(units, i, u)
    {
        json_t *flags = json_object_get(u, "flags"), *kept = json_array(), *f;
        size_t k;

        if (!kept)
            goto oom;
        json_array_foreach(flags, k, f)
        {
            if (!(json_is_string(f) && strcmp(json_string_value(f), "improved") == 0))
                json_array_append(kept, f);
        }
        (*saved)[i].prev = json_incref(json_object_get(u, "prev_records"));
        (*saved)[i].flags = json_incref(flags);
        json_object_set_new(u, "prev_records", json_null());
        json_object_set_new(u, "flags", kept);
    }
    return 0;
oom:
    restore_prev(doc, *saved, i);
    *saved = NULL;
    return -1;
}

/* Compares everything but the volatile fields and the comparison with the
 * previous month without copying the documents (a 5,000-unit snapshot is
 * megabytes): they are set to null in place, compared, and put back where
 * they were (jansson keeps a replaced key's position, so the key order of
 * the output does not change). Out of memory: different (a new version). */
static int same_content(json_t *a, json_t *b)
{
    json_t *docs[2] = {a, b}, *saved[2][N_VOLATILE];
    struct unit_prev *prev[2] = {NULL, NULL};
    size_t n_prev[2] = {0, 0};
    int same;

    for (int d = 0; d < 2; d++) {
        for (size_t k = 0; k < N_VOLATILE; k++) {
            saved[d][k] = json_incref(json_object_get(docs[d], volatile_fields[k]));
            json_object_set_new(docs[d], volatile_fields[k], json_null());
        }
    }
    same = hide_prev(a, &prev[0], &n_prev[0]) == 0 && hide_prev(b, &prev[1], &n_prev[1]) == 0 &&
           json_equal(a, b);
    for (int d = 0; d < 2; d++) {
        if (prev[d])
            restore_prev(docs[d], prev[d], n_prev[d]);
        for (size_t k = 0; k < N_VOLATILE; k++) {
            if (saved[d][k])
                json_object_set_new(docs[d], volatile_fields[k], saved[d][k]);
            else
                json_object_del(docs[d], volatile_fields[k]);
        }
    }
    return same;
}

static long parse_version(const redisReply *r, const char *key, char *errstr, size_t errstr_size)
{
    long v = sgs_agg_reply_version(r);

    if (v < 0)
        snprintf(errstr, errstr_size, "redis: %s: not a version number", key);
    return v;
}

long sgs_agg_version_latest(sgs_agg_ctx *ctx, const char *month, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    long v;

    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, -1);
    r = sgs_agg_redis(ctx, key, errstr, errstr_size, "GET %s", key);
    if (!r)
        return -1;
    v = parse_version(r, key, errstr, errstr_size);
    freeReplyObject(r);
    return v;
}

/* Version n of the month: 1 with *doc (NULL when it is not JSON: warned), 0
 * when there is no such key, -1 on a Redis error. */
static int load_version(sgs_agg_ctx *ctx, const char *month, long n, json_t **doc, char *errstr,
                        size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    json_error_t jerr;

    *doc = NULL;
    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, n);
    r = sgs_agg_redis(ctx, key, errstr, errstr_size, "GET %s", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return 0;
    }
    *doc = json_loadb(r->str, r->len, 0, &jerr);
    if (!*doc)
        sgs_warn("redis: %s: not JSON (%s at %d); writing a new version", key, jerr.text,
                 jerr.position);
    freeReplyObject(r);
    return 1;
}

/* Steps 2 and 3 of the file's comment for version n (idempotent). */
static int finish_writes(sgs_agg_ctx *ctx, const char *month, long n, char *errstr,
                         size_t errstr_size)
{
    char latest_key[SGS_STORE_KEY_MAX], months_key[SGS_STORE_KEY_MAX], num[24];
    redisReply *r;

    sgs_store_snapshot_key(latest_key, sizeof(latest_key), ctx->prefix, month, -1);
    sgs_store_gkey(months_key, sizeof(months_key), ctx->prefix, SGS_STORE_MONTHS, NULL);
    snprintf(num, sizeof(num), "%ld", n);
    r = sgs_agg_redis(ctx, latest_key, errstr, errstr_size, "EVAL %s 1 %s %s", raise_latest,
                      latest_key, num);
    if (!r)
        return -1;
    freeReplyObject(r);
    r = sgs_agg_redis(ctx, months_key, errstr, errstr_size, "SADD %s %s", months_key, month);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* The stored version's generated_at and offsets into the snapshot (the
 * version is kept: the files then say what Redis and the topic hold). */
static void take_stored(sgs_agg_snapshot *s, const json_t *old)
{
    static const char *const keep[] = {"generated_at", "offsets"};

    for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
        json_t *v = json_object_get(old, keep[k]);

        if (v)
            json_object_set(s->json, keep[k], v);
        else
            json_object_del(s->json, keep[k]);
    }
}

/* s becomes stored version n (doc): its number, generated_at, offsets and
 * comparison with the previous month. */
static void adopt(sgs_agg_snapshot *s, const json_t *doc, long n)
{
    sgs_agg_snapshot_set_version(s, n);
    take_stored(s, doc);
    sgs_agg_snapshot_take_prev(s, doc);
}

int sgs_agg_version_adopt(sgs_agg_snapshot *s, json_t *doc)
{
    json_t *v = json_object_get(doc, "version");

    if (!json_is_integer(v) || json_integer_value(v) < 1 || !same_content(doc, s->json))
        return 0;
    adopt(s, doc, (long)json_integer_value(v));
    return 1;
}

int sgs_agg_version_store(sgs_agg_ctx *ctx, sgs_agg_snapshot *s, int *is_new, json_t **previous,
                          char *errstr, size_t errstr_size)
{
    char latest_key[SGS_STORE_KEY_MAX], key[SGS_STORE_KEY_MAX];
    json_t *old = NULL;
    redisReply *r;
    long n, latest;

    *is_new = 0;
    if (previous)
        *previous = NULL;
    sgs_store_snapshot_key(latest_key, sizeof(latest_key), ctx->prefix, s->month, -1);
    latest = sgs_agg_version_latest(ctx, s->month, errstr, errstr_size);
    if (latest < 0)
        return -1;
    n = latest;
    if (n > 0) {
        int got = load_version(ctx, s->month, n, &old, errstr, errstr_size);

        if (got < 0)
            return -1;
        if (got == 0) {
            sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->month, n);
            sgs_warn("redis: %s: missing although latest is %ld; writing a new version", key, n);
        }
    }

    for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        json_t *next = NULL;
        char *text;
        int got;

        /* A version above n stored by a writer that has not raised latest yet
         * (or never will: it crashed): it is the newest. */
        got = load_version(ctx, s->month, n + 1, &next, errstr, errstr_size);
        if (got < 0)
            goto fail;
        if (got > 0) {
            json_decref(old);
            old = next;
            n++;
            attempt--; /* catching up is no conflict */
            continue;
        }
        if (old && same_content(old, s->json)) {
            /* Unchanged: keep version, time and offsets of the stored document,
             * so the files written now are byte for byte what Redis and the
             * topic hold. Steps 2 and 3 again: after a crash or a rival's
             * store latest and the months set catch up; otherwise nothing
             * changes. */
            if (finish_writes(ctx, s->month, n, errstr, errstr_size) != 0)
                goto fail;
            adopt(s, old, n);
            goto done;
        }
        sgs_agg_snapshot_set_version(s, n + 1);
        text = json_dumps(s->json, SGS_AGG_JSON_COMPACT);
        if (!text) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->month, n + 1);
        /* NX: the one writer of N+1. Sent again after a lost reply, a SET that
         * had run answers nil like a rival's: the next turn then finds our
         * own document there, the same content, and keeps it. */
        r = sgs_agg_redis(ctx, key, errstr, errstr_size, "SET %s %s NX", key, text);
        free(text);
        if (!r)
            goto fail;
        if (r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            sgs_debug("%s: version %ld was stored meanwhile; comparing with it", s->month, n + 1);
            continue;
        }
        freeReplyObject(r);
        if (finish_writes(ctx, s->month, n + 1, errstr, errstr_size) != 0) {
            char inner[512];

            snprintf(inner, sizeof(inner), "%s", errstr);
            snprintf(errstr, errstr_size,
                     "%s v%ld stored, but %s not raised to it (the next snapshot does): %s",
                     s->month, n + 1, latest_key, inner);
            goto fail;
        }
        *is_new = 1;
        goto done;
    }
    snprintf(errstr, errstr_size, "redis: %s: other writers kept storing new versions", latest_key);
fail:
    json_decref(old);
    return -1;
done:
    if (previous)
        *previous = old;
    else
        json_decref(old);
    return 0;
}

/* ---- reading the stored versions (serve) -------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

int sgs_agg_version_months(sgs_agg_ctx *ctx, char ***months, long **latest, size_t *n, char *errstr,
                           size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    sgs_rcl_pipe *p = NULL;
    char **v = NULL;
    long *l = NULL;
    size_t m = 0;

    *months = NULL;
    *latest = NULL;
    *n = 0;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_MONTHS, NULL);
    r = sgs_agg_redis(ctx, key, errstr, errstr_size, "SMEMBERS %s", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        snprintf(errstr, errstr_size, "redis: %s: not a set", key);
        return -1;
    }
    v = calloc(r->elements + 1, sizeof(*v));
    l = calloc(r->elements + 1, sizeof(*l));
    if (!v || !l)
        goto oom;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        int y, mo;

        /* Only well-formed months: a stray member names no snapshot keys. */
        if (e->type != REDIS_REPLY_STRING || e->len != 7 || sgs_month_parse(e->str, &y, &mo) != 0)
            continue;
        if (!(v[m++] = strdup(e->str)))
            goto oom;
    }
    freeReplyObject(r);
    r = NULL;
    qsort(v, m, sizeof(*v), cmp_desc);
    /* each month's latest: keys of their own slots, one pipe */
    if (!(p = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto fail;
    for (size_t i = 0; i < m; i++) {
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, v[i], -1);
        if (sgs_rcl_pipe_appendf(p, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "GET %s", key) < 0)
            goto oom;
    }
    if (sgs_agg_pipe_run(p, errstr, errstr_size) != 0)
        goto fail;
    for (size_t i = 0; i < m; i++) {
        long ver = sgs_agg_reply_version(sgs_rcl_pipe_reply(p, i));

        l[i] = ver < 0 ? 0 : ver;
    }
    sgs_rcl_pipe_free(p);
    *months = v;
    *latest = l;
    *n = m;
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (r)
        freeReplyObject(r);
    sgs_rcl_pipe_free(p);
    sgs_agg_strv_free(v, m);
    free(l);
    return -1;
}

int sgs_agg_version_text(sgs_agg_ctx *ctx, const char *month, long version, char **text,
                         size_t *len, long *got, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;

    *text = NULL;
    *len = 0;
    *got = 0;
    if (version <= 0) {
        version = sgs_agg_version_latest(ctx, month, errstr, errstr_size);
        if (version <= 0)
            return version < 0 ? -1 : 0;
    }
    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, version);
    r = sgs_agg_redis(ctx, key, errstr, errstr_size, "GET %s", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return 0;
    }
    *text = malloc(r->len + 1);
    if (!*text) {
        freeReplyObject(r);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    memcpy(*text, r->str, r->len);
    (*text)[r->len] = '\0';
    *len = r->len;
    *got = version;
    freeReplyObject(r);
    return 1;
}

/* ---- change log --------------------------------------------------------------- */

static const char *const figures[] = {"records", "late",      "invalid",  "duplicates", "updates",
                                      "revoked", "concealed", "licenses", "penalties"};

static void describe(sgs_buf *b, const json_t *x, const json_t *y)
{
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++) {
        json_int_t a = json_integer_value(json_object_get(x, figures[i]));
        json_int_t c = json_integer_value(json_object_get(y, figures[i]));

        if (a != c)
            sgs_buf_printf(b, "%s%s %lld -> %lld", b->len ? ", " : "", figures[i], (long long)a,
                           (long long)c);
    }
}

void sgs_agg_version_log_changes(const json_t *before, const json_t *after)
{
    const char *month = json_string_value(json_object_get(after, "month"));
    json_int_t v = json_integer_value(json_object_get(after, "version"));
    const json_t *ou = json_object_get(before, "units"), *nu = json_object_get(after, "units");
    json_t *old_by_id = json_object();
    size_t i, changed = 0;
    json_t *u;
    sgs_buf b;

    if (!old_by_id)
        return;
    json_array_foreach(ou, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "unit_id"));

        if (id)
            json_object_set(old_by_id, id, u);
    }
    json_array_foreach(nu, i, u)
    {
        const char *id = json_string_value(json_object_get(u, "unit_id"));
        const json_t *o = id ? json_object_get(old_by_id, id) : NULL;

        sgs_buf_init(&b);
        if (!o) {
            sgs_info("%s v%lld: unit %s (%s) is new in the registry", month, (long long)v,
                     id ? id : "?", json_string_value(json_object_get(u, "name")));
            changed++;
            continue;
        }
        describe(&b, o, u);
        if (!json_equal(json_object_get(o, "gaps"), json_object_get(u, "gaps")))
            sgs_buf_printf(&b, "%sgaps changed", b.len ? ", " : "");
        if (!json_equal(json_object_get(o, "prev_records"), json_object_get(u, "prev_records")))
            sgs_buf_printf(&b, "%sprev_records changed", b.len ? ", " : "");
        if (b.len) {
            sgs_info("%s v%lld: %s (%s): %s", month, (long long)v,
                     json_string_value(json_object_get(u, "name")), id, b.data);
            changed++;
        }
        sgs_buf_free(&b);
    }
    sgs_buf_init(&b);
    describe(&b, json_object_get(before, "totals"), json_object_get(after, "totals"));
    {
        json_int_t a =
            json_integer_value(json_object_get(json_object_get(before, "totals"), "unattributed"));
        json_int_t c =
            json_integer_value(json_object_get(json_object_get(after, "totals"), "unattributed"));

        if (a != c)
            sgs_buf_printf(&b, "%sunattributed %lld -> %lld", b.len ? ", " : "", (long long)a,
                           (long long)c);
    }
    /* a preview made final (the month closed), or the other way round */
    {
        int was = json_is_true(json_object_get(before, "preview"));
        int is = json_is_true(json_object_get(after, "preview"));

        if (was != is)
            sgs_info("%s v%lld: %s", month, (long long)v,
                     was ? "final (was a preview): the month has closed"
                         : "a preview (the version before was final): the month is not closed");
    }
    /* the spot checks' findings withdrawn since the version before */
    {
        const json_t *ow = json_object_get(json_object_get(before, "spot_check"), "withdrawn");
        const json_t *nw = json_object_get(json_object_get(after, "spot_check"), "withdrawn");
        const json_t *w, *o;
        size_t k;

        json_array_foreach(nw, i, w)
        {
            int seen = 0;

            json_array_foreach(ow, k, o)
            {
                seen |= json_equal(json_object_get(o, "unit_id"), json_object_get(w, "unit_id")) &&
                        json_equal(json_object_get(o, "kind"), json_object_get(w, "kind")) &&
                        json_equal(json_object_get(o, "doc_no"), json_object_get(w, "doc_no"));
            }
            if (!seen)
                sgs_info("%s v%lld: spot-check finding withdrawn: %s (%s) %s %s: %s", month,
                         (long long)v, json_string_value(json_object_get(w, "name")),
                         json_string_value(json_object_get(w, "unit_id")),
                         json_string_value(json_object_get(w, "kind")),
                         json_string_value(json_object_get(w, "doc_no")),
                         json_string_value(json_object_get(w, "reason")));
        }
    }
    sgs_info("%s v%lld: %zu unit(s) changed; totals: %s", month, (long long)v, changed,
             b.len ? b.data : "unchanged");
    sgs_buf_free(&b);
    json_decref(old_by_id);
}

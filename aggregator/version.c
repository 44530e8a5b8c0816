/* Snapshot versions in Redis (docs/REDIS.md): P:snapshot:YYYY-MM:vN holds version
 * N, P:snapshot:YYYY-MM:latest holds N, P:snapshot:months lists the months.
 *
 * A new version is written only when the content differs from the latest one,
 * everything compared except "version" and "generated_at". The check and the
 * write run under WATCH on the latest key, so a watch daemon and a hand-run
 * snapshot cannot both write N+1. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/redisconn.h"
#include "sgs/store.h"

#define STORE_ATTEMPTS 10

/* Compares everything but version and generated_at without copying the documents
 * (a 5,000-unit snapshot is megabytes): both fields are set to null in place,
 * compared, and put back where they were (jansson keeps a replaced key's
 * position, so the key order of the output does not change). */
static int same_content(json_t *a, json_t *b)
{
    static const char *const skip[] = {"version", "generated_at"};
    json_t *docs[2] = {a, b}, *saved[2][2];
    int same;

    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < 2; k++) {
            saved[d][k] = json_incref(json_object_get(docs[d], skip[k]));
            json_object_set_new(docs[d], skip[k], json_null());
        }
    }
    same = json_equal(a, b);
    for (int d = 0; d < 2; d++) {
        for (int k = 0; k < 2; k++) {
            if (saved[d][k])
                json_object_set_new(docs[d], skip[k], saved[d][k]);
            else
                json_object_del(docs[d], skip[k]);
        }
    }
    return same;
}

long sgs_agg_version_parse(const redisReply *r)
{
    int64_t v;

    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (sgs_agg_reply_int(r, &v) != 0 || v < 0 || v > SGS_AGG_VERSION_MAX)
        return -1;
    return (long)v;
}

static long parse_version(const redisReply *r, const char *key, char *errstr, size_t errstr_size)
{
    long v = sgs_agg_version_parse(r);

    if (v < 0)
        snprintf(errstr, errstr_size, "redis: %s: not a version number", key);
    return v;
}

long sgs_agg_version_latest(sgs_agg_ctx *ctx, const char *month, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    long v;

    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return -1;
    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, -1);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "GET %s", key);
    if (!r)
        return -1;
    v = parse_version(r, key, errstr, errstr_size);
    freeReplyObject(r);
    return v;
}

/* Reads version n of the month (NULL when missing or unreadable, with a warning). */
static json_t *load_version(sgs_agg_ctx *ctx, const char *month, long n, int *broken, char *errstr,
                            size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    json_t *doc = NULL;
    json_error_t jerr;

    *broken = 0;
    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, n);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "GET %s", key);
    if (!r) {
        *broken = 1;
        return NULL;
    }
    if (r->type == REDIS_REPLY_STRING) {
        doc = json_loadb(r->str, r->len, 0, &jerr);
        if (!doc)
            sgs_warn("redis: %s: not JSON (%s at %d); writing a new version", key, jerr.text,
                     jerr.position);
    } else {
        sgs_warn("redis: %s: missing although latest is %ld; writing a new version", key, n);
    }
    freeReplyObject(r);
    return doc;
}

static void unwatch(sgs_agg_ctx *ctx)
{
    char err[256];
    redisReply *r = sgs_redis_command(ctx->rc, err, sizeof(err), "UNWATCH");

    if (r)
        freeReplyObject(r);
}

int sgs_agg_version_store(sgs_agg_ctx *ctx, sgs_agg_snapshot *s, int *is_new, json_t **previous,
                          char *errstr, size_t errstr_size)
{
    char latest_key[SGS_STORE_KEY_MAX], key[SGS_STORE_KEY_MAX], months_key[SGS_STORE_KEY_MAX];

    *is_new = 0;
    if (previous)
        *previous = NULL;
    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return -1;
    sgs_store_snapshot_key(latest_key, sizeof(latest_key), ctx->prefix, s->month, -1);
    sgs_store_gkey(months_key, sizeof(months_key), ctx->prefix, SGS_STORE_MONTHS, NULL);

    for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        redisReply *r, *replies[5];
        json_t *old = NULL;
        long n;
        int broken;
        char *text;

        r = sgs_redis_command(ctx->rc, errstr, errstr_size, "WATCH %s", latest_key);
        if (!r)
            return -1;
        freeReplyObject(r);
        r = sgs_redis_command(ctx->rc, errstr, errstr_size, "GET %s", latest_key);
        if (!r)
            return -1;
        n = parse_version(r, latest_key, errstr, errstr_size);
        freeReplyObject(r);
        if (n < 0) {
            unwatch(ctx);
            return -1;
        }
        if (n > 0) {
            old = load_version(ctx, s->month, n, &broken, errstr, errstr_size);
            if (broken)
                return -1;
        }
        if (old && same_content(old, s->json)) {
            /* Unchanged: keep version and time of the stored document, so the files
             * written now are byte for byte what Redis and the topic hold. */
            json_t *at = json_object_get(old, "generated_at");

            unwatch(ctx);
            sgs_agg_snapshot_set_version(s, n);
            if (json_is_string(at))
                json_object_set(s->json, "generated_at", at);
            if (previous)
                *previous = old;
            else
                json_decref(old);
            return 0;
        }

        sgs_agg_snapshot_set_version(s, n + 1);
        text = json_dumps(s->json, SGS_AGG_JSON_COMPACT);
        if (!text) {
            json_decref(old);
            unwatch(ctx);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        redisAppendCommand(ctx->rc, "MULTI");
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->month, n + 1);
        redisAppendCommand(ctx->rc, "SET %s %s", key, text);
        redisAppendCommand(ctx->rc, "SET %s %ld", latest_key, n + 1);
        redisAppendCommand(ctx->rc, "SADD %s %s", months_key, s->month);
        redisAppendCommand(ctx->rc, "EXEC");
        free(text);
        if (sgs_agg_reply_read(ctx->rc, replies, 5, errstr, errstr_size) != 0) {
            json_decref(old);
            return -1;
        }
        r = replies[4];
        if (r->type == REDIS_REPLY_ARRAY) {
            int refused = 0;

            for (size_t i = 0; i < r->elements; i++)
                refused |= r->element[i]->type == REDIS_REPLY_ERROR;
            for (int i = 0; i < 5; i++)
                freeReplyObject(replies[i]);
            if (refused) {
                json_decref(old);
                snprintf(errstr, errstr_size, "redis: storing %s v%ld: a write was refused",
                         s->month, n + 1);
                return -1;
            }
            *is_new = 1;
            if (previous)
                *previous = old;
            else
                json_decref(old);
            return 0;
        }
        json_decref(old);
        if (r->type != REDIS_REPLY_NIL) {
            snprintf(errstr, errstr_size, "redis: storing %s v%ld: %s", s->month, n + 1,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply to EXEC");
            for (int i = 0; i < 4; i++) {
                if (replies[i]->type == REDIS_REPLY_ERROR)
                    snprintf(errstr, errstr_size, "redis: storing %s v%ld: %s", s->month, n + 1,
                             replies[i]->str);
            }
            for (int i = 0; i < 5; i++)
                freeReplyObject(replies[i]);
            return -1;
        }
        for (int i = 0; i < 5; i++)
            freeReplyObject(replies[i]);
        /* EXEC answered nil: another writer changed latest; compare again. */
        sgs_debug("%s: latest version changed while storing; retrying", s->month);
    }
    snprintf(errstr, errstr_size, "redis: %s: the latest version kept changing", latest_key);
    return -1;
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
    redisReply *r, **replies = NULL;
    char **v = NULL;
    long *l = NULL;
    size_t m = 0;

    *months = NULL;
    *latest = NULL;
    *n = 0;
    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return -1;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_MONTHS, NULL);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "SMEMBERS %s", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        snprintf(errstr, errstr_size, "redis: %s: not a set", key);
        return -1;
    }
    v = calloc(r->elements + 1, sizeof(*v));
    l = calloc(r->elements + 1, sizeof(*l));
    replies = calloc(r->elements + 1, sizeof(*replies));
    if (!v || !l || !replies)
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
    for (size_t i = 0; i < m; i++) {
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, v[i], -1);
        redisAppendCommand(ctx->rc, "GET %s", key);
    }
    if (sgs_agg_reply_read(ctx->rc, replies, m, errstr, errstr_size) != 0)
        goto fail;
    for (size_t i = 0; i < m; i++) {
        long ver = sgs_agg_version_parse(replies[i]);

        l[i] = ver < 0 ? 0 : ver;
        freeReplyObject(replies[i]);
    }
    free(replies);
    *months = v;
    *latest = l;
    *n = m;
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    if (r)
        freeReplyObject(r);
    sgs_agg_strv_free(v, m);
    free(l);
    free(replies);
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
    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return -1;
    sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, month, version);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "GET %s", key);
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
    sgs_info("%s v%lld: %zu unit(s) changed; totals: %s", month, (long long)v, changed,
             b.len ? b.data : "unchanged");
    sgs_buf_free(&b);
    json_decref(old_by_id);
}

/* The latest alerts kept in Redis (GET /api/v1/alerts): every partition with
 * state keeps a list P:T:al of "<unix ms> <alert JSON>" items, newest first,
 * trimmed by the batch script to consumer.alerts_kept. The lists are read
 * pipelined and merged newest first. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/store.h"

struct item {
    int64_t ms;
    size_t order; /* input position: ties keep it (lists are newest first) */
    const char *json;
    size_t len;
};

static int cmp_item(const void *a, const void *b)
{
    const struct item *x = a, *y = b;

    if (x->ms != y->ms)
        return x->ms > y->ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "<unix ms> <JSON>": 0 with the parts, -1 when the item is not one. */
static int split_item(const char *s, size_t len, int64_t *ms, const char **json, size_t *jlen)
{
    size_t i = 0;
    int64_t v = 0;

    while (i < len && i < 19 && s[i] >= '0' && s[i] <= '9')
        v = v * 10 + (s[i++] - '0');
    if (i == 0 || i >= len || s[i] != ' ')
        return -1;
    *ms = v;
    *json = s + i + 1;
    *jlen = len - i - 1;
    return 0;
}

json_t *sgs_agg_alerts_merge(const char *const *items, const size_t *lens, size_t n_items, size_t n)
{
    struct item *v = calloc(n_items ? n_items : 1, sizeof(*v));
    json_t *out = json_array();
    size_t m = 0;

    if (!v || !out) {
        free(v);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n_items; i++) {
        if (split_item(items[i], lens[i], &v[m].ms, &v[m].json, &v[m].len) != 0)
            continue;
        v[m].order = i;
        m++;
    }
    qsort(v, m, sizeof(*v), cmp_item);
    for (size_t i = 0; i < m && json_array_size(out) < n; i++) {
        /* Parsed and written again: one corrupt item cannot break the array,
         * and the output is valid JSON whatever the list holds. */
        json_t *a = json_loadb(v[i].json, v[i].len, JSON_REJECT_DUPLICATES, NULL);

        if (json_is_object(a))
            json_array_append_new(out, a);
        else
            json_decref(a);
    }
    free(v);
    return out;
}

json_t *sgs_agg_alerts_latest(sgs_agg_ctx *ctx, size_t n, char *errstr, size_t errstr_size)
{
    char **parts = NULL, key[SGS_STORE_KEY_MAX];
    size_t np = 0, total = 0, k = 0;
    sgs_rcl_pipe *pipe = NULL;
    const char **items = NULL;
    size_t *lens = NULL;
    json_t *out = NULL;

    if (sgs_agg_partitions_read(ctx, &parts, &np, errstr, errstr_size) != 0)
        return NULL;
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    for (size_t p = 0; p < np; p++) {
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[p], SGS_STORE_ALERT_LIST, NULL);
        if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "LRANGE %s 0 %ld",
                                 key, (long)n - 1) < 0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
        goto out;
    for (size_t p = 0; p < np; p++) {
        const redisReply *r = sgs_rcl_pipe_reply(pipe, p);

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: LRANGE: %s", r->str);
            goto out;
        }
        if (r->type == REDIS_REPLY_ARRAY)
            total += r->elements;
    }
    items = calloc(total ? total : 1, sizeof(*items));
    lens = calloc(total ? total : 1, sizeof(*lens));
    if (!items || !lens) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t p = 0; p < np; p++) {
        const redisReply *r = sgs_rcl_pipe_reply(pipe, p);

        if (r->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];

            if (e->type != REDIS_REPLY_STRING)
                continue;
            items[k] = e->str;
            lens[k++] = e->len;
        }
    }
    out = sgs_agg_alerts_merge(items, lens, k, n);
    if (!out)
        snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(pipe);
    free(items);
    free(lens);
    sgs_agg_strv_free(parts, np);
    return out;
}

/* The partitions set P:partitions (docs/REDIS.md): the members
 * "<topic>:<partition>" of every records partition ever consumed, whose
 * counters the aggregator sums. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/redisconn.h"
#include "sgs/store.h"

int sgs_agg_partitions_read(sgs_agg_ctx *ctx, char ***out, size_t *n, char *errstr,
                            size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX], base[SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX];
    redisReply *r;
    char **v = NULL;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_PARTITIONS, NULL);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "SMEMBERS %s", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "redis: %s: not a set", key);
        freeReplyObject(r);
        return -1;
    }
    if (r->elements) {
        v = calloc(r->elements, sizeof(*v));
        if (!v) {
            freeReplyObject(r);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];

        if (e->type != REDIS_REPLY_STRING)
            continue;
        /* Every key of the partition fits once its base does (store.h). */
        if (sgs_store_pkey_member(base, sizeof(base), ctx->prefix, e->str, "", NULL) < 0) {
            snprintf(errstr, errstr_size, "redis: %s: member '%.40s...' is too long for a key", key,
                     e->str);
            sgs_agg_strv_free(v, count);
            freeReplyObject(r);
            return -1;
        }
        v[count] = strdup(e->str);
        if (!v[count]) {
            sgs_agg_strv_free(v, count);
            freeReplyObject(r);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        count++;
    }
    freeReplyObject(r);
    sgs_agg_strv_sort(v, count);
    *out = v;
    *n = count;
    return 0;
}

int sgs_agg_partitions_same(const redisReply *r, char *const *parts, size_t n)
{
    char **v;
    size_t m = 0;
    int same;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return 0;
    if (n == 0)
        return 1;
    v = calloc(n, sizeof(*v));
    if (!v)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING)
            v[m++] = r->element[i]->str;
    }
    sgs_agg_strv_sort(v, m);
    same = m == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(v[i], parts[i]) == 0;
    free(v);
    return same;
}

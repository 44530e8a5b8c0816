/* The partitions of the records topic that hold state in Redis: those whose
 * offset key exists ("<prefix>:{<topic>:<p>}:offset", written atomically with
 * the partition's first batch), found with sgs_rcl_scan on every master (one
 * Redis: the one). Returned as members "<topic>:<partition>". */
#include "agg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/store.h"

static int cmp_part(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

int sgs_agg_partitions_read(sgs_agg_ctx *ctx, char ***out, size_t *n, char *errstr,
                            size_t errstr_size)
{
    const char *topic = sgs_config_get(ctx->cfg, "topic.records");
    char pattern[SGS_STORE_KEY_MAX], base[SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX];
    sgs_rcl_keys keys = {0};
    int32_t *found = NULL;
    size_t count = 0;
    char **v = NULL;

    *out = NULL;
    *n = 0;
    if (sgs_store_scan_pattern(pattern, sizeof(pattern), ctx->prefix, topic, SGS_STORE_OFFSET) <
            0 ||
        sgs_store_base(base, sizeof(base), ctx->prefix, topic, INT32_MAX) < 0) {
        snprintf(errstr, errstr_size, "redis.prefix and topic.records are too long for a key");
        return -1;
    }
    /* The partitions whose first batch was applied: their offset key is written
     * in the same atomic step as their counters. The scan returns each key
     * once, from a pass during which no slot moved between masters. */
    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0 ||
        sgs_rcl_scan(ctx->rcl, pattern, 0, &keys, errstr, errstr_size) != 0)
        return -1;
    found = malloc((keys.n ? keys.n : 1) * sizeof(*found));
    if (!found) {
        sgs_rcl_keys_free(&keys);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < keys.n; i++) {
        int32_t p =
            sgs_store_key_partition(keys.key[i], keys.len[i], ctx->prefix, topic, SGS_STORE_OFFSET);
        if (p >= 0)
            found[count++] = p;
    }
    sgs_rcl_keys_free(&keys);
    if (count) {
        /* distinct keys, but "p:01" and "p:1" would name one partition */
        size_t m = 1;

        qsort(found, count, sizeof(*found), cmp_part);
        for (size_t i = 1; i < count; i++)
            if (found[i] != found[m - 1])
                found[m++] = found[i];
        count = m;
        v = calloc(count, sizeof(*v));
        if (!v) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < count; i++) {
        char member[SGS_STORE_KEY_MAX];
        sgs_store_member(member, sizeof(member), topic, found[i]);
        v[i] = strdup(member);
        if (!v[i]) {
            sgs_agg_strv_free(v, i);
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
    }
    free(found);
    sgs_agg_strv_sort(v, count);
    *out = v;
    *n = count;
    return 0;
fail:
    free(found);
    return -1;
}

int sgs_agg_rebuild_check(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    long long since;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_REBUILD, NULL);
    r = sgs_agg_redis(ctx, key, errstr, errstr_size, "HGET %s started", key);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return 0;
    }
    since = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    {
        char when[40];
        time_t t = (time_t)since + ctx->tz_offset;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(errstr, errstr_size,
                 "the counters are being rebuilt from Kafka since %s%s (%s exists); figures "
                 "read now would be partial: wait until sgs-consumer --rebuild completes",
                 when, ctx->tz_text, key);
    }
    return 1;
}

/* The partitions of the records topic that hold state in Redis: those whose
 * offset key exists ("<prefix>:{<topic>:<p>}:offset", written atomically with
 * the partition's first batch), found with SCAN. Returned as members
 * "<topic>:<partition>". */
#include "agg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/redisconn.h"
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
    char pattern[SGS_STORE_KEY_MAX], cursor[32] = "0", base[SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX];
    int32_t *found = NULL;
    size_t count = 0, cap = 0;
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
     * in the same atomic step as their counters. */
    do {
        redisReply *r = sgs_redis_command(ctx->rc, errstr, errstr_size,
                                          "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r)
            goto fail;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            snprintf(errstr, errstr_size, "redis: unexpected SCAN reply");
            goto fail;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            int32_t p =
                sgs_store_key_partition(k->str, k->len, ctx->prefix, topic, SGS_STORE_OFFSET);
            if (p < 0)
                continue;
            if (count == cap) {
                size_t nc = cap ? cap * 2 : 64;
                int32_t *nf = realloc(found, nc * sizeof(*nf));
                if (!nf) {
                    freeReplyObject(r);
                    snprintf(errstr, errstr_size, "out of memory");
                    goto fail;
                }
                found = nf;
                cap = nc;
            }
            found[count++] = p;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    /* SCAN may return a key twice */
    if (count)
        qsort(found, count, sizeof(*found), cmp_part);
    if (count) {
        size_t m = 1;
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

int sgs_agg_partitions_same_now(sgs_agg_ctx *ctx, char *const *parts, size_t n, int *same,
                                char *errstr, size_t errstr_size)
{
    char **now;
    size_t m;
    if (sgs_agg_partitions_read(ctx, &now, &m, errstr, errstr_size) != 0)
        return -1;
    *same = m == n;
    for (size_t i = 0; *same && i < n; i++)
        *same = strcmp(now[i], parts[i]) == 0;
    sgs_agg_strv_free(now, m);
    return 0;
}

int sgs_agg_rebuild_check(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    redisReply *r;
    long long since;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_REBUILD, NULL);
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "HGET %s started", key);
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

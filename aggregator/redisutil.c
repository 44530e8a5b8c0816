/* Redis key names (docs/REDIS.md) and reply helpers shared by the commands. */
#include "agg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/redisconn.h"

char *sgs_agg_key(char *buf, size_t size, const sgs_agg_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(buf, size, "%s:", ctx->prefix);

    if (n < 0 || (size_t)n >= size)
        return buf;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - (size_t)n, fmt, ap);
    va_end(ap);
    return buf;
}

char *sgs_agg_pkey(char *buf, size_t size, const sgs_agg_ctx *ctx, const char *partition,
                   const char *suffix)
{
    snprintf(buf, size, "%s:{%s}:%s", ctx->prefix, partition, suffix);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sgs_agg_strv_sort(char **v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_str);
}

void sgs_agg_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int sgs_agg_partitions(sgs_agg_ctx *ctx, char ***out, size_t *n, char *errstr, size_t errstr_size)
{
    char key[512];
    redisReply *r;
    char **v = NULL;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    r = sgs_redis_command(ctx->rc, errstr, errstr_size, "SMEMBERS %s",
                          sgs_agg_key(key, sizeof(key), ctx, "partitions"));
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

int sgs_agg_read_replies(redisContext *rc, redisReply **replies, size_t n, char *errstr,
                         size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;

        if (redisGetReply(rc, &r) != REDIS_OK || !r) {
            snprintf(errstr, errstr_size, "redis %s:%d: %s", rc->tcp.host ? rc->tcp.host : "",
                     rc->tcp.port, rc->errstr[0] ? rc->errstr : "connection lost");
            for (size_t j = 0; j < i; j++)
                freeReplyObject(replies[j]);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        replies[i] = r;
    }
    return 0;
}

int sgs_agg_reply_int(const redisReply *r, int64_t *out)
{
    char *end;
    long long v;

    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0)
        return -1;
    errno = 0;
    v = strtoll(r->str, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

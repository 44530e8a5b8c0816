/* Redis for the aggregator, through the cluster client (sgs/rcluster.h): one
 * read on the master of its key's slot, pipes run to their outcomes, and the
 * integer values of counter hashes and version keys.
 *
 * Everything the aggregator sends is a read, or a write of the same value
 * again (HSET of concealed decisions, SADD of a month, SET NX of a version,
 * raising latest), so every unit is IDEMPOTENT: after a lost reply the client
 * sends it again instead of giving up with "may have run". */
#include "agg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

redisReply *sgs_agg_redis(sgs_agg_ctx *ctx, const char *key, char *errstr, size_t errstr_size,
                          const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return NULL;
    va_start(ap, fmt);
    r = sgs_rcl_vcommand(ctx->rcl, key, SGS_RCL_IDEMPOTENT, errstr, errstr_size, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis: %s: %s", key, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

sgs_rcl_pipe *sgs_agg_pipe(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    sgs_rcl_pipe *p;

    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0)
        return NULL;
    p = sgs_rcl_pipe_new(ctx->rcl);
    if (!p)
        snprintf(errstr, errstr_size, "out of memory");
    return p;
}

int sgs_agg_pipe_run(sgs_rcl_pipe *p, char *errstr, size_t errstr_size)
{
    if (sgs_rcl_pipe_collect(p, 0) == 0)
        return 0;
    for (size_t i = 0; i < sgs_rcl_pipe_count(p); i++) {
        if (sgs_rcl_pipe_status(p, i) != SGS_RCL_OK) {
            const char *why = sgs_rcl_pipe_error(p, i);

            snprintf(errstr, errstr_size, "%s", *why ? why : "redis: no reply");
            return -1;
        }
    }
    snprintf(errstr, errstr_size, "redis: no reply");
    return -1;
}

int sgs_agg_pipe_run_writes(sgs_rcl_pipe *p, const char *what, char *errstr, size_t errstr_size)
{
    int rc = 0;

    if (sgs_agg_pipe_run(p, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < sgs_rcl_pipe_count(p); i++) {
        const redisReply *r = sgs_rcl_pipe_reply(p, i);

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: %s: %s", what, r->str);
            rc = -1;
        }
    }
    return rc;
}

uint16_t sgs_agg_slot(const char *key)
{
    return sgs_rcl_slot(key, strlen(key));
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

long sgs_agg_reply_version(const redisReply *r)
{
    int64_t v;

    if (r->type == REDIS_REPLY_NIL)
        return 0;
    if (sgs_agg_reply_int(r, &v) != 0 || v < 0 || v > SGS_AGG_VERSION_MAX)
        return -1;
    return (long)v;
}

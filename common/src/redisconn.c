/* Redis connection set-up shared by the consumer and the aggregator. */
#include "sgs/redisconn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_timeout(struct timeval *tv, int timeout_ms)
{
    tv->tv_sec = timeout_ms / 1000;
    tv->tv_usec = (timeout_ms % 1000) * 1000;
}

redisContext *sgs_redis_connect(const sgs_config *cfg, int timeout_ms, char *errstr,
                                size_t errstr_size)
{
    const char *host = sgs_config_get(cfg, "redis.host");
    long port = sgs_config_get_int(cfg, "redis.port");
    const char *password = sgs_config_get(cfg, "redis.password");
    long db = sgs_config_get_int(cfg, "redis.db");
    struct timeval tv;
    redisContext *c;
    redisReply *r;

    set_timeout(&tv, timeout_ms);
    c = redisConnectWithTimeout(host, (int)port, tv);
    if (!c) {
        snprintf(errstr, errstr_size, "redis %s:%ld: cannot allocate a context", host, port);
        return NULL;
    }
    if (c->err) {
        snprintf(errstr, errstr_size, "redis %s:%ld: %s", host, port, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    if (password && *password) {
        r = sgs_redis_command(c, errstr, errstr_size, "AUTH %s", password);
        if (!r)
            goto fail;
        freeReplyObject(r);
    }
    if (db != 0) {
        r = sgs_redis_command(c, errstr, errstr_size, "SELECT %ld", db);
        if (!r)
            goto fail;
        freeReplyObject(r);
    }
    return c;
fail : {
    char inner[512];
    snprintf(inner, sizeof(inner), "%s", errstr);
    snprintf(errstr, errstr_size, "redis %s:%ld: %s", host, port, inner);
}
    redisFree(c);
    return NULL;
}

redisReply *sgs_redis_command(redisContext *c, char *errstr, size_t errstr_size, const char *fmt,
                              ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        snprintf(errstr, errstr_size, "%s", c->err ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "%s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

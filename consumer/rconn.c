/* The consumer's Redis connection: connect, load the batch script, back off
 * while Redis is unavailable or refuses writes, and say so once per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/log.h"
#include "sgs/redisconn.h"

/* Marks Redis unavailable and doubles the wait before the next try (capped). */
static void back_off(sgs_consumer *c)
{
    c->redis_down = 1;
    c->retry_ms = c->retry_ms ? c->retry_ms * 2 : 100;
    if (c->retry_ms > c->cf_retry_max)
        c->retry_ms = c->cf_retry_max;
    c->retry_at = sgs_clock_mono_ms() + c->retry_ms;
}

void sgs_rconn_lost(sgs_consumer *c, const char *why)
{
    char reason[512];
    snprintf(reason, sizeof(reason), "%s", why); /* why may point into c->redis */
    if (c->redis) {
        redisFree(c->redis);
        c->redis = NULL;
    }
    if (!c->redis_down)
        sgs_error("redis unavailable: %s; consumption paused, retrying with backoff up to %d ms",
                  reason, c->cf_retry_max);
    back_off(c);
}

void sgs_rconn_refused(sgs_consumer *c, const char *why)
{
    if (!c->redis_down)
        sgs_error("redis refused the batch: %s; consumption paused, retrying with backoff up to "
                  "%d ms",
                  why, c->cf_retry_max);
    back_off(c);
}

void sgs_rconn_recovered(sgs_consumer *c)
{
    if (c->redis_down)
        sgs_info("redis available again; resuming");
    c->redis_down = 0;
    c->retry_ms = 0;
    c->retry_at = 0;
}

int sgs_rconn_load_script(sgs_consumer *c)
{
    char err[512];
    redisReply *r =
        sgs_redis_command(c->redis, err, sizeof(err), "SCRIPT LOAD %s", sgs_consumer_script);
    if (!r) {
        sgs_rconn_lost(c, err);
        return -1;
    }
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        freeReplyObject(r);
        sgs_rconn_lost(c, "SCRIPT LOAD: unexpected reply");
        return -1;
    }
    memcpy(c->script_sha, r->str, 40);
    c->script_sha[40] = '\0';
    freeReplyObject(r);
    return 0;
}

/* A batch's rejects travel as one argument of its EVALSHA, and Redis refuses a
 * request with an argument longer than proto-max-bulk-len whole (a protocol
 * error, the same for every retry: the consumer would never get past that
 * batch). A batch closes once it reaches consumer.batch.max_bytes, with at
 * most one more message's reject beyond it, so the limit is kept to half of
 * Redis's (best effort: a Redis that does not answer CONFIG GET keeps the
 * configured value). */
static void fit_batches(sgs_consumer *c)
{
    char err[256];
    size_t want = (size_t)sgs_config_get_int(c->cfg, "consumer.batch.max_bytes");
    redisReply *r = sgs_redis_command(c->redis, err, sizeof(err), "CONFIG GET proto-max-bulk-len");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        long long bulk = strtoll(r->element[1]->str, NULL, 10);
        if (bulk > 0 && (size_t)bulk / 2 < want) {
            want = (size_t)bulk / 2;
            if (want != c->cf_batch_bytes)
                sgs_info("batches close at %zu bytes (consumer.batch.max_bytes): Redis's "
                         "proto-max-bulk-len is %lld",
                         want, bulk);
        }
    }
    if (r)
        freeReplyObject(r);
    c->cf_batch_bytes = want;
}

int sgs_rconn_ready(sgs_consumer *c)
{
    char err[512];
    if (c->redis_down && sgs_clock_mono_ms() < c->retry_at)
        return -1;
    if (!c->redis) {
        c->redis = sgs_redis_connect(c->cfg, c->cf_timeout_ms, err, sizeof(err));
        if (!c->redis) {
            sgs_rconn_lost(c, err);
            return -1;
        }
        fit_batches(c);
        if (sgs_rconn_load_script(c) != 0)
            return -1;
    }
    return 0;
}

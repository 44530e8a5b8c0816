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
    c->redis_errors++; /* issue 13: sgs_consumer_redis_errors_total */
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
    snprintf(c->redis_error, sizeof(c->redis_error), "%s", reason); /* issue 13: /healthz */
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
    snprintf(c->redis_error, sizeof(c->redis_error), "refused: %s", why); /* issue 13 */
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

/* Redis's proto-max-bulk-len (the longest string it lets a command build),
 * for the script's checks; its default when CONFIG is not allowed. */
static void read_maxbulk(sgs_consumer *c)
{
    redisReply *r = redisCommand(c->redis, "CONFIG GET proto-max-bulk-len");
    c->cf_maxbulk = 512LL * 1024 * 1024;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING)
        c->cf_maxbulk = strtoll(r->element[1]->str, NULL, 10);
    if (r)
        freeReplyObject(r);
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
        if (sgs_rconn_load_script(c) != 0)
            return -1;
        read_maxbulk(c);
    }
    return 0;
}

/* The consumer's Redis: one Redis or a Redis Cluster through the common client
 * (sgs/rcluster.h: redirections, failovers and reconnects are its business),
 * the batch script loaded on every master, and the consumer's own backoff while
 * Redis is unavailable or refuses writes, said once per change. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/log.h"

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

int sgs_rconn_create(sgs_consumer *c, char *errstr, size_t errstr_size)
{
    c->rcl = sgs_rcl_new(c->cfg, c->cf_timeout_ms, errstr, errstr_size);
    if (!c->rcl)
        return -1;
    /* a call keeps retrying while a slot has no reachable master for at most
     * the timeout: the poll loop must go on (the batch is kept and retried) */
    sgs_rcl_set_deadline(c->rcl, c->cf_timeout_ms);
    c->pipe = sgs_rcl_pipe_new(c->rcl);
    if (!c->pipe) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

void sgs_rconn_free(sgs_consumer *c)
{
    sgs_rcl_pipe_free(c->pipe);
    c->pipe = NULL;
    sgs_rcl_free(c->rcl);
    c->rcl = NULL;
}

/* Redis cannot take batches now: /healthz says why (health_prefix + why,
 * issue 13), the log says it once per change (log_prefix + why), and the
 * next try backs off. */
static void pause_writes(sgs_consumer *c, const char *health_prefix, const char *log_prefix,
                         const char *why)
{
    snprintf(c->redis_error, sizeof(c->redis_error), "%s%s", health_prefix, why);
    if (!c->redis_down)
        sgs_error("%s%s; consumption paused, retrying with backoff up to %d ms", log_prefix, why,
                  c->cf_retry_max);
    back_off(c);
}

void sgs_rconn_lost(sgs_consumer *c, const char *why)
{
    c->script_loaded = 0; /* a new node may lack it (the client reloads it on NOSCRIPT too) */
    pause_writes(c, "", "redis unavailable: ", why);
}

void sgs_rconn_refused(sgs_consumer *c, const char *why)
{
    pause_writes(c, "refused: ", "redis refused the batch: ", why);
}

void sgs_rconn_recovered(sgs_consumer *c)
{
    if (c->redis_down)
        sgs_info("redis available again; resuming");
    c->redis_down = 0;
    c->retry_ms = 0;
    c->retry_at = 0;
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
    size_t want = (size_t)sgs_config_get_int(c->cfg, "consumer.batch.max_bytes");
    long long smallest = 0;
    for (size_t i = 0; i < sgs_rcl_master_count(c->rcl); i++) {
        char err[256];
        redisReply *r = sgs_rcl_master_command(c->rcl, i, SGS_RCL_IDEMPOTENT, err, sizeof(err),
                                               "CONFIG GET proto-max-bulk-len");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            long long bulk = strtoll(r->element[1]->str, NULL, 10);
            if (bulk > 0 && (smallest == 0 || bulk < smallest))
                smallest = bulk;
        }
        if (r)
            freeReplyObject(r);
    }
    if (smallest > 0 && (size_t)smallest / 2 < want) {
        want = (size_t)smallest / 2;
        if (want != c->cf_batch_bytes)
            sgs_info("batches close at %zu bytes (consumer.batch.max_bytes): Redis's "
                     "proto-max-bulk-len is %lld",
                     want, smallest);
    }
    c->cf_batch_bytes = want;
}

/* Redis must keep every key sgs writes: a master with a maxmemory and a
 * maxmemory-policy other than noeviction may evict identities, day buckets
 * (they carry expiries: volatile-*) or offsets (allkeys-*) when memory runs
 * short, and counts would go wrong without a sign. So no batch is written
 * while a master could; checked when the script is loaded and every
 * POLICY_CHECK_MS after (a CONFIG SET takes effect at once). 0 when every
 * master keeps its keys (or does not say: INFO refused, warned once). */
#define POLICY_CHECK_MS 10000
static int keeps_keys(sgs_consumer *c, int64_t now)
{
    int skipped = 0;
    for (size_t i = 0; i < sgs_rcl_master_count(c->rcl); i++) {
        char what[400], why[600];
        int e = sgs_rcl_master_evicts(c->rcl, i, what, sizeof(what));
        if (e == -1) {
            /* unreachable (a failover?): the batches' own writes tell; this
             * master is checked again in a second */
            skipped = 1;
        } else if (e == -2) {
            if (!c->policy_unknown_said++)
                sgs_warn("%s; cannot tell its maxmemory-policy: make sure it is noeviction, or "
                         "Redis may drop sgs's keys",
                         what);
        } else if (e == 1) {
            snprintf(why, sizeof(why),
                     "%s: it may evict sgs's keys (identities, offsets) and counts would go "
                     "wrong unseen; set maxmemory-policy noeviction",
                     what);
            pause_writes(c, "", "", why);
            return -1;
        }
    }
    c->policy_next = now + (skipped ? 1000 : POLICY_CHECK_MS);
    return 0;
}

int sgs_rconn_ready(sgs_consumer *c)
{
    char err[512];
    int64_t now = sgs_clock_mono_ms();
    if (c->redis_down && now < c->retry_at)
        return -1;
    if (!c->script_loaded) {
        if (sgs_rcl_script_load(c->rcl, sgs_consumer_script, c->script_sha, err, sizeof(err)) !=
            0) {
            sgs_rconn_lost(c, err);
            return -1;
        }
        c->script_loaded = 1;
        fit_batches(c);
        c->policy_next = now; /* (re)connected: check at once */
    }
    if (now >= c->policy_next && keeps_keys(c, now) != 0)
        return -1;
    return 0;
}

redisReply *sgs_rconn_command(sgs_consumer *c, const char *key, char *errstr, size_t errstr_size,
                              const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    va_start(ap, fmt);
    /* every command sgs sends outside the batch script reads, or writes the
     * same value again: safe to repeat after a lost reply */
    r = sgs_rcl_vcommand(c->rcl, key, SGS_RCL_IDEMPOTENT, errstr, errstr_size, fmt, ap);
    va_end(ap);
    if (!r) {
        sgs_rconn_lost(c, errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis: %s", r->str);
        sgs_rconn_refused(c, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

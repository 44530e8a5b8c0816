/* The aggregator's context: configuration, registry, the Redis handle (one
 * Redis or a Redis Cluster through sgs/rcluster.h) and the notion of "now"
 * (SGS_NOW lets tests pretend another date). */
#include "agg.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/clock.h"
#include "sgs/loader.h"
#include "sgs/log.h"
#include "sgs/store.h"

static int64_t real_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* SGS_NOW=YYYY-MM-DD (that date, at the current local time of day) or an RFC 3339
 * instant (sgs_clock_parse_now). Only tests and demos use it. */
static int parse_now(sgs_agg_ctx *ctx, const char *text, char *errstr, size_t errstr_size)
{
    if (sgs_clock_parse_now(text, ctx->tz_offset, &ctx->now_fixed) != 0) {
        snprintf(errstr, errstr_size,
                 "environment: SGS_NOW: expected YYYY-MM-DD or an RFC 3339 time, got '%s'", text);
        return -1;
    }
    ctx->now_day = sgs_day_of_instant(ctx->now_fixed, ctx->tz_offset);
    ctx->have_now = 1;
    return 0;
}

sgs_agg_ctx *sgs_agg_ctx_create(sgs_config *cfg, char *errstr, size_t errstr_size)
{
    sgs_agg_ctx *ctx;
    const char *tz, *now;
    char key[SGS_STORE_KEY_MAX];
    int off;

    ctx = calloc(1, sizeof(*ctx));
    if (!ctx) {
        snprintf(errstr, errstr_size, "out of memory");
        sgs_config_destroy(cfg);
        return NULL;
    }
    ctx->cfg = cfg;

    tz = sgs_config_get(cfg, "timezone.offset");
    if (!tz || sgs_tz_offset_parse(tz, &off) != 0 || off <= -86400 || off >= 86400) {
        snprintf(errstr, errstr_size, "timezone.offset: expected +hh:mm, got '%s'",
                 tz ? tz : "(unset)");
        goto fail;
    }
    ctx->tz_offset = off;
    snprintf(ctx->tz_text, sizeof(ctx->tz_text), "%c%02d:%02d", off < 0 ? '-' : '+',
             abs(off) / 3600, abs(off) % 3600 / 60);

    ctx->prefix = sgs_config_get(cfg, "redis.prefix");
    if (!ctx->prefix || !*ctx->prefix) {
        snprintf(errstr, errstr_size, "redis.prefix: must not be empty");
        goto fail;
    }
    /* The longest global key is a snapshot version's: when it fits, they all do. */
    if (sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, "YYYY-MM", LONG_MAX) < 0) {
        snprintf(errstr, errstr_size, "redis.prefix: too long for a Redis key (%zu bytes)",
                 strlen(ctx->prefix));
        goto fail;
    }

    now = getenv("SGS_NOW");
    if (now && *now && parse_now(ctx, now, errstr, errstr_size) != 0)
        goto fail;

    if (sgs_loader_load(cfg, &ctx->reg, &ctx->cal, errstr, errstr_size) != 0)
        goto fail;
    return ctx;

fail:
    sgs_agg_ctx_destroy(ctx);
    return NULL;
}

void sgs_agg_ctx_destroy(sgs_agg_ctx *ctx)
{
    if (!ctx)
        return;
    sgs_rcl_free(ctx->rcl);
    sgs_agg_idmap_free(ctx->warned);
    if (!ctx->borrowed) {
        sgs_registry_destroy(ctx->reg);
        sgs_calendar_destroy(ctx->cal);
        sgs_config_destroy(ctx->cfg);
    }
    free(ctx);
}

sgs_agg_ctx *sgs_agg_ctx_worker(const sgs_agg_ctx *parent)
{
    sgs_agg_ctx *ctx = malloc(sizeof(*ctx));

    if (!ctx)
        return NULL;
    *ctx = *parent;
    ctx->rcl = NULL;
    ctx->warned = NULL;
    ctx->borrowed = 1;
    return ctx;
}

int sgs_agg_ctx_redis_unchecked(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    if (ctx->rcl)
        return 0;
    /* The first contact asks each seed once (a Redis that is down fails at
     * once, naming it); afterwards the handle reconnects by itself, and a
     * call retries while its slot has no master for redis.timeout_ms. */
    ctx->rcl = sgs_rcl_connect(ctx->cfg, (int)sgs_config_get_int(ctx->cfg, "redis.timeout_ms"),
                               errstr, errstr_size);
    ctx->evicts_next = 0;
    return ctx->rcl ? 0 : -1;
}

int sgs_agg_ctx_redis(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    if (ctx->rcl)
        return 0;
    if (sgs_agg_ctx_redis_unchecked(ctx, errstr, errstr_size) != 0)
        return -1;
    sgs_agg_redis_warning(ctx); /* (logs it, the first time) */
    return 0;
}

#define EVICTS_CHECK_MS 10000

/* the eviction warning is logged once a process (serve's workers check each,
 * and a worker that connected for /healthz first checks later) */
static atomic_flag evicts_said = ATOMIC_FLAG_INIT;

const char *sgs_agg_redis_warning(sgs_agg_ctx *ctx)
{
    int64_t now = sgs_clock_mono_ms();

    if (ctx->rcl && now >= ctx->evicts_next) {
        ctx->evicts[0] = '\0';
        for (size_t i = 0; i < sgs_rcl_master_count(ctx->rcl); i++) {
            char what[400];
            if (sgs_rcl_master_evicts(ctx->rcl, i, what, sizeof(what)) == 1) {
                snprintf(ctx->evicts, sizeof(ctx->evicts),
                         "%s: it may evict sgs's keys (counters, offsets, snapshots) and figures "
                         "would go wrong unseen; set maxmemory-policy noeviction",
                         what);
                break;
            }
        }
        ctx->evicts_next = now + EVICTS_CHECK_MS;
        if (ctx->evicts[0] && !atomic_flag_test_and_set(&evicts_said))
            sgs_warn("%s", ctx->evicts);
    }
    return ctx->evicts[0] ? ctx->evicts : NULL;
}

int sgs_agg_warn_once(sgs_agg_ctx *ctx, const char *text)
{
    if (!ctx->warned && !(ctx->warned = sgs_agg_idmap_new(16)))
        return 1;
    return sgs_agg_idmap_put(ctx->warned, text, strlen(text), 0) != 1;
}

int sgs_agg_ctx_reload(sgs_agg_ctx *ctx)
{
    sgs_registry *reg;
    sgs_calendar *cal;
    char err[1024];

    if (sgs_loader_load_files(ctx->cfg, &reg, &cal, err, sizeof(err)) != 0) {
        sgs_error("reload refused, the registry and calendar in use stay: %s", err);
        return -1;
    }
    sgs_registry_destroy(ctx->reg);
    sgs_calendar_destroy(ctx->cal);
    ctx->reg = reg;
    ctx->cal = cal;
    ctx->horizon_logged = 0;
    sgs_info("reloaded %s (%zu units) and %s (years to %d)", sgs_config_get(ctx->cfg, "units.file"),
             sgs_registry_count(reg), sgs_config_get(ctx->cfg, "calendar.file"),
             sgs_calendar_last_year(cal));
    return 0;
}

int sgs_agg_calendar_warning(const sgs_agg_ctx *ctx, char *buf, size_t size, long *days_left)
{
    sgs_day today = sgs_agg_today(ctx);

    if (days_left)
        *days_left = sgs_calendar_days_left(ctx->cal, today);
    return sgs_calendar_horizon_warning(ctx->cal, today, buf, size);
}

void sgs_agg_calendar_log(sgs_agg_ctx *ctx)
{
    char text[SGS_CALENDAR_WARNING_MAX];
    sgs_day today = sgs_agg_today(ctx);

    if (ctx->horizon_logged == today || !sgs_agg_calendar_warning(ctx, text, sizeof(text), NULL))
        return;
    ctx->horizon_logged = today;
    sgs_warn("%s: %s", sgs_config_get(ctx->cfg, "calendar.file"), text);
}

int64_t sgs_agg_now(const sgs_agg_ctx *ctx)
{
    return ctx->have_now ? ctx->now_fixed : real_now();
}

sgs_day sgs_agg_today(const sgs_agg_ctx *ctx)
{
    return ctx->have_now ? ctx->now_day : sgs_day_of_instant(real_now(), ctx->tz_offset);
}

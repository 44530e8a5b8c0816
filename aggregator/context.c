/* The aggregator's context: configuration, registry, the Redis handle (one
 * Redis or a Redis Cluster through sgs/rcluster.h) and the notion of "now"
 * (SGS_NOW lets tests pretend another date). */
#include "agg.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/log.h"
#include "sgs/store.h"

static int64_t real_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/* SGS_NOW=YYYY-MM-DD (that date, at the current local time of day) or an RFC 3339
 * instant. Only tests and demos use it. */
static int parse_now(sgs_agg_ctx *ctx, const char *text, char *errstr, size_t errstr_size)
{
    sgs_day day;
    int64_t t;

    if (sgs_day_parse(text, strlen(text), &day) == 0) {
        int64_t now = real_now() + ctx->tz_offset;
        int64_t secs = now - (int64_t)sgs_day_of_instant(now, 0) * 86400;

        ctx->now_day = day;
        ctx->now_fixed = (int64_t)day * 86400 + secs - ctx->tz_offset;
        ctx->have_now = 1;
        return 0;
    }
    if (sgs_rfc3339_parse(text, strlen(text), &t) == 0) {
        ctx->now_fixed = t;
        ctx->now_day = sgs_day_of_instant(t, ctx->tz_offset);
        ctx->have_now = 1;
        return 0;
    }
    snprintf(errstr, errstr_size,
             "environment: SGS_NOW: expected YYYY-MM-DD or an RFC 3339 time, got '%s'", text);
    return -1;
}

sgs_agg_ctx *sgs_agg_ctx_create(sgs_config *cfg, char *errstr, size_t errstr_size)
{
    sgs_agg_ctx *ctx;
    const char *tz, *units, *now;
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

    units = sgs_config_get(cfg, "units.file");
    if (!units || !*units) {
        snprintf(errstr, errstr_size, "units.file: not set");
        goto fail;
    }
    ctx->reg = sgs_registry_load(units, errstr, errstr_size);
    if (!ctx->reg)
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

int sgs_agg_ctx_redis(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size)
{
    if (ctx->rcl)
        return 0;
    /* The first contact asks each seed once (a Redis that is down fails at
     * once, naming it); afterwards the handle reconnects by itself, and a
     * call retries while its slot has no master for redis.timeout_ms. */
    ctx->rcl = sgs_rcl_connect(ctx->cfg, (int)sgs_config_get_int(ctx->cfg, "redis.timeout_ms"),
                               errstr, errstr_size);
    return ctx->rcl ? 0 : -1;
}

int sgs_agg_warn_once(sgs_agg_ctx *ctx, const char *text)
{
    if (!ctx->warned && !(ctx->warned = sgs_agg_idmap_new(16)))
        return 1;
    return sgs_agg_idmap_put(ctx->warned, text, strlen(text), 0) != 1;
}

int64_t sgs_agg_now(const sgs_agg_ctx *ctx)
{
    return ctx->have_now ? ctx->now_fixed : real_now();
}

sgs_day sgs_agg_today(const sgs_agg_ctx *ctx)
{
    return ctx->have_now ? ctx->now_day : sgs_day_of_instant(real_now(), ctx->tz_offset);
}

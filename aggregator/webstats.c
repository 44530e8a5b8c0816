/* The server's metrics (GET /metrics): requests and latencies by endpoint,
 * counted as requests finish, plus what a scrape reads from Redis: the
 * snapshot versions stored and the months `watch` still owes.
 *
 * watch runs in another process, so serve cannot know what watch did; it
 * exports what Redis shows: sgs_aggregator_snapshot_versions_total is the sum
 * over months of their latest version (every version written by snapshot or
 * watch, as long as Redis keeps its history), and a month is owed when it is
 * due by watch's own rule (calendar.file, report.grace_workdays, among the last
 * aggregator.watch_months closed months) and has no snapshot yet. A new version
 * owed for late changes is not counted: finding one takes a full build of the
 * month, too much for a scrape. */
#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/prom.h"

#define MAX_CODES 12 /* distinct status codes counted per route */

struct code_count {
    unsigned code;
    uint64_t n;
};

struct route_stats {
    struct code_count codes[MAX_CODES];
    size_t n_codes;
    sgs_prom_hist seconds;
};

struct sgs_agg_webstats {
    pthread_mutex_t lock;
    struct route_stats r[SGS_AGG_N_ROUTES];
};

sgs_agg_webstats *sgs_agg_webstats_new(void)
{
    sgs_agg_webstats *w = calloc(1, sizeof(*w));

    if (w)
        pthread_mutex_init(&w->lock, NULL);
    return w;
}

void sgs_agg_webstats_free(sgs_agg_webstats *w)
{
    if (!w)
        return;
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static int route_index(const char *route)
{
    for (int i = 0; i < SGS_AGG_N_ROUTES; i++) {
        if (route == sgs_agg_route_names[i])
            return i;
    }
    return SGS_AGG_ROUTE_OTHER;
}

void sgs_agg_webstats_done(void *arg, const sgs_http_request *req, double seconds)
{
    sgs_agg_server *sv = arg;
    sgs_agg_webstats *w = sv->stats;
    struct route_stats *rs = &w->r[route_index(req->route)];
    size_t i;

    pthread_mutex_lock(&w->lock);
    for (i = 0; i < rs->n_codes && rs->codes[i].code != req->status; i++)
        ;
    if (i == rs->n_codes && rs->n_codes < MAX_CODES)
        rs->codes[rs->n_codes++].code = req->status;
    if (i < MAX_CODES)
        rs->codes[i].n++;
    /* an event stream's lifetime is no latency */
    if (!req->streaming)
        sgs_prom_hist_observe(&rs->seconds, seconds);
    pthread_mutex_unlock(&w->lock);
}

/* Versions and owed months from Redis. -1 when Redis is unavailable. */
static int redis_gauges(sgs_agg_ctx *ctx, sgs_buf *b)
{
    char **months = NULL, err[512], ym[8];
    long *latest = NULL;
    size_t n = 0;
    uint64_t total = 0;
    long grace = sgs_config_get_int(ctx->cfg, "report.grace_workdays");
    long n_watch = sgs_config_get_int(ctx->cfg, "aggregator.watch_months");
    sgs_day today = sgs_agg_today(ctx);
    int ty, tm, td;
    sgs_buf owed;
    size_t n_owed = 0;

    if (sgs_agg_version_months(ctx, &months, &latest, &n, err, sizeof(err)) != 0) {
        sgs_debug("metrics: %s", err);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        total += (uint64_t)latest[i];
    sgs_prom_family(b, "sgs_aggregator_snapshot_versions_total", "counter",
                    "snapshot versions stored in Redis over all months (sum of their latest "
                    "version numbers), by snapshot and watch");
    sgs_prom_u64(b, "sgs_aggregator_snapshot_versions_total", NULL, total);
    sgs_prom_family(b, "sgs_aggregator_snapshot_latest_version", "gauge",
                    "the latest snapshot version of each month");
    for (size_t i = 0; i < n; i++) {
        sgs_buf lab;

        sgs_buf_init(&lab);
        sgs_prom_label(&lab, "month", months[i], 1);
        sgs_prom_i64(b, "sgs_aggregator_snapshot_latest_version", lab.data, latest[i]);
        sgs_buf_free(&lab);
    }

    /* watch's rule over its months: due and without a snapshot */
    sgs_buf_init(&owed);
    sgs_day_to_ymd(today, &ty, &tm, &td);
    for (long k = n_watch; k >= 1 && ctx->cal; k--) {
        int y = ty, m = tm, have = 0;

        sgs_month_add(&y, &m, (int)-k);
        if (!sgs_agg_month_due(ctx->cal, grace, today, y, m))
            continue;
        sgs_month_format(y, m, ym);
        for (size_t i = 0; i < n && !have; i++)
            have = strcmp(months[i], ym) == 0 && latest[i] > 0;
        if (have)
            continue;
        n_owed++;
        sgs_buf_puts(&owed, "sgs_aggregator_month_owed{");
        sgs_prom_label(&owed, "month", ym, 1);
        sgs_buf_puts(&owed, "} 1\n");
    }
    sgs_prom_family(b, "sgs_aggregator_months_owed", "gauge",
                    "closed months due for their snapshot by watch's rule (grace working days "
                    "passed, within aggregator.watch_months) that have none yet");
    sgs_prom_u64(b, "sgs_aggregator_months_owed", NULL, n_owed);
    sgs_prom_family(b, "sgs_aggregator_month_owed", "gauge",
                    "1 for each month counted in sgs_aggregator_months_owed");
    if (owed.data)
        sgs_buf_append(b, owed.data, owed.len);
    sgs_buf_free(&owed);
    sgs_agg_strv_free(months, n);
    free(latest);
    return 0;
}

enum MHD_Result sgs_agg_webstats_serve(sgs_agg_server *sv, sgs_http_request *req)
{
    sgs_agg_webstats *w = sv->stats;
    struct route_stats copy[SGS_AGG_N_ROUTES];
    sgs_agg_hub_stats hs;
    sgs_agg_ctx *ctx = sgs_agg_server_worker(sv);
    sgs_buf b;
    int redis_ok;

    pthread_mutex_lock(&w->lock);
    memcpy(copy, w->r, sizeof(copy));
    pthread_mutex_unlock(&w->lock);
    sgs_agg_hub_get_stats(sv->hub, &hs);

    sgs_buf_init(&b);
    sgs_prom_family(&b, "sgs_aggregator_http_requests_total", "counter",
                    "HTTP requests answered, by endpoint and status code");
    for (int i = 0; i < SGS_AGG_N_ROUTES; i++) {
        for (size_t k = 0; k < copy[i].n_codes; k++) {
            sgs_buf lab;
            char code[16];

            snprintf(code, sizeof(code), "%u", copy[i].codes[k].code);
            sgs_buf_init(&lab);
            sgs_prom_label(&lab, "endpoint", sgs_agg_route_names[i], 1);
            sgs_prom_label(&lab, "code", code, 0);
            sgs_prom_u64(&b, "sgs_aggregator_http_requests_total", lab.data, copy[i].codes[k].n);
            sgs_buf_free(&lab);
        }
    }
    sgs_prom_family(&b, "sgs_aggregator_http_request_seconds", "histogram",
                    "time from a request's arrival to its response sent, by endpoint (event "
                    "streams not included)");
    for (int i = 0; i < SGS_AGG_N_ROUTES; i++) {
        sgs_buf lab;

        if (!copy[i].seconds.count)
            continue;
        sgs_buf_init(&lab);
        sgs_prom_label(&lab, "endpoint", sgs_agg_route_names[i], 1);
        sgs_prom_hist_write(&b, "sgs_aggregator_http_request_seconds", lab.data, &copy[i].seconds);
        sgs_buf_free(&lab);
    }
    sgs_prom_family(&b, "sgs_aggregator_http_connections", "gauge", "HTTP connections open");
    sgs_prom_u64(&b, "sgs_aggregator_http_connections", NULL, sgs_http_connections(sv->http));
    sgs_prom_family(&b, "sgs_aggregator_alert_stream_clients", "gauge",
                    "clients of /api/v1/alerts/stream connected");
    sgs_prom_u64(&b, "sgs_aggregator_alert_stream_clients", NULL, hs.clients);
    sgs_prom_family(&b, "sgs_aggregator_alert_stream_events_total", "counter",
                    "alerts relayed from the Redis channel to the stream's clients");
    sgs_prom_u64(&b, "sgs_aggregator_alert_stream_events_total", NULL, hs.events);
    sgs_prom_family(&b, "sgs_aggregator_alert_stream_dropped_total", "counter",
                    "stream clients disconnected for falling too far behind");
    sgs_prom_u64(&b, "sgs_aggregator_alert_stream_dropped_total", NULL, hs.dropped);
    sgs_prom_family(&b, "sgs_aggregator_alert_stream_subscribed", "gauge",
                    "1 while the subscription to the alerts channel is up");
    sgs_prom_u64(&b, "sgs_aggregator_alert_stream_subscribed", NULL, hs.subscribed ? 1 : 0);

    /* the calendar's horizon and the SIGHUP reloads (read under inputs_lock) */
    sgs_prom_calendar(&b, sgs_calendar_last_year(sv->ctx->cal),
                      sgs_calendar_days_left(sv->ctx->cal, sgs_agg_today(sv->ctx)), sv->reloads_ok,
                      sv->reloads_error);

    redis_ok = ctx && redis_gauges(ctx, &b) == 0;
    sgs_prom_family(&b, "sgs_aggregator_redis_up", "gauge",
                    "1 when this scrape could read Redis (versions, owed months)");
    sgs_prom_u64(&b, "sgs_aggregator_redis_up", NULL, redis_ok ? 1 : 0);
    return sgs_http_reply_buf(req, MHD_HTTP_OK, SGS_PROM_CONTENT_TYPE, &b);
}

/* metrics.listen: GET /metrics (Prometheus text, REFERENCE §9) and GET /healthz.
 *
 * The poll loop must never wait for a scrape. So the loop copies what the
 * server shows into a snapshot, at most every 100 ms and at once when its
 * health changes (sgs_metrics_tick, from its housekeeping), and swaps it in
 * under a mutex held only for the swap; libmicrohttpd's thread copies the
 * published snapshot under the same mutex and formats it outside. Nothing the
 * HTTP thread does touches the consumer's context.
 *
 * The counters are the run's own (what the stats line and the exit summary
 * print): sgs_consumer_messages_total{result} from the applied batches'
 * accounting, alerts by type as produced, batches applied, fenced batches,
 * Redis back-offs, delivery failures. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/http.h"
#include "sgs/log.h"

#define COPY_EVERY_MS   100
#define MAX_CONNECTIONS 32
#define TIMEOUT_S       10

struct part_lag {
    int32_t partition;
    int64_t lag;
};

/* What a scrape shows: copied from the consumer by the poll loop. */
struct snap {
    sgs_batch_counts n;
    uint64_t fenced, batches, redis_errors, alerts_late, alerts_late_rate, alerts_sent;
    uint64_t delivery_failures, seek_failures, gaps;
    size_t outbox_pending, outbox_bytes;
    sgs_prom_hist batch_seconds;
    int brokers_up, brokers_known, lag_known, redis_up;
    struct part_lag *lag; /* assigned partitions */
    size_t n_lag, cap_lag;
    int healthy;
    char why[1536];
    int calendar_last_year; /* the calendar's horizon */
    long calendar_days_left;
    uint64_t reloads_ok, reloads_error;
};

typedef struct sgs_metrics {
    sgs_http_server *http;
    pthread_mutex_t lock;
    struct snap *shown;   /* published (under lock) */
    struct snap *staging; /* the poll loop's, filled then swapped */
    const char *topic;
    int64_t next_copy;
    int healthy_shown; /* the published snapshot's healthy (the poll loop's copy) */
} sgs_metrics;

static void snap_free(struct snap *s)
{
    if (s) {
        free(s->lag);
        free(s);
    }
}

/* The poll loop's side: fills st from the consumer. */
static void fill(sgs_consumer *c, struct snap *st)
{
    st->n = c->n;
    st->fenced = c->fenced;
    st->batches = c->batches;
    st->redis_errors = c->redis_errors;
    st->alerts_late = c->alerts_late;
    st->alerts_late_rate = c->alerts_late_rate;
    st->alerts_sent = c->alerts_sent;
    st->delivery_failures = c->delivery_failures;
    st->seek_failures = c->seek_failures;
    st->gaps = c->gaps;
    st->outbox_pending = c->outbox_pending;
    st->outbox_bytes = c->outbox_bytes;
    st->batch_seconds = c->batch_seconds;
    st->brokers_up = c->brokers_up;
    st->brokers_known = c->brokers_known;
    st->redis_up = c->script_loaded && !c->redis_down;
    /* Lag from librdkafka's cached high watermarks (no request): unknown while
     * no broker is reachable, the watermarks being stale then. */
    st->lag_known = !c->brokers_down;
    st->n_lag = 0;
    for (int32_t p = 0; p < c->n_parts && st->lag_known; p++) {
        part_state *ps = &c->parts[p];
        int64_t lo, hi, pos;

        if (!ps->assigned)
            continue;
        if (rd_kafka_get_watermark_offsets(c->rk, c->topic, p, &lo, &hi) != 0 || hi < 0)
            continue;
        pos = ps->next >= 0 ? ps->next : lo;
        if (st->n_lag == st->cap_lag) {
            size_t cap = st->cap_lag ? st->cap_lag * 2 : 16;
            struct part_lag *v = realloc(st->lag, cap * sizeof(*v));

            if (!v)
                break;
            st->lag = v;
            st->cap_lag = cap;
        }
        st->lag[st->n_lag].partition = p;
        st->lag[st->n_lag++].lag = hi > pos ? hi - pos : 0;
    }
    st->healthy = sgs_health_check(c, st->why, sizeof(st->why));
    st->calendar_last_year = sgs_calendar_last_year(c->calendar);
    st->calendar_days_left = sgs_calendar_days_left(c->calendar, sgs_consumer_today(c));
    st->reloads_ok = c->reloads_ok;
    st->reloads_error = c->reloads_error;
}

void sgs_metrics_tick(sgs_consumer *c, int64_t now, int force)
{
    sgs_metrics *m = c->metrics;
    struct snap *t;

    if (!m)
        return;
    if (!force && now < m->next_copy) {
        /* A change of health is shown at once, not at the next copy: the
         * loop's next chance may come seconds later (a probe of a stopped
         * Redis blocks that long, and the next one after the back-off). */
        char why[sizeof(m->staging->why)];

        if (sgs_health_check(c, why, sizeof(why)) == m->healthy_shown)
            return;
    }
    m->next_copy = now + COPY_EVERY_MS;
    fill(c, m->staging);
    m->healthy_shown = m->staging->healthy;
    pthread_mutex_lock(&m->lock);
    t = m->shown;
    m->shown = m->staging;
    m->staging = t;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the HTTP thread's side ---------------------------------------------------- */

/* A copy of the published snapshot (NULL when out of memory). */
static struct snap *take(sgs_metrics *m)
{
    struct snap *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_lock(&m->lock);
    *s = *m->shown;
    s->lag = NULL;
    s->cap_lag = 0;
    if (m->shown->n_lag && (s->lag = malloc(m->shown->n_lag * sizeof(*s->lag))))
        memcpy(s->lag, m->shown->lag, m->shown->n_lag * sizeof(*s->lag));
    else
        s->n_lag = 0;
    pthread_mutex_unlock(&m->lock);
    return s;
}

static void counter(sgs_buf *b, const char *name, const char *help, uint64_t v)
{
    sgs_prom_family(b, name, "counter", help);
    sgs_prom_u64(b, name, NULL, v);
}

static void gauge(sgs_buf *b, const char *name, const char *help, int64_t v)
{
    sgs_prom_family(b, name, "gauge", help);
    sgs_prom_i64(b, name, NULL, v);
}

static void format(const sgs_metrics *m, const struct snap *s, sgs_buf *b)
{
    const struct {
        const char *result;
        uint64_t v;
    } results[] = {
        {"counted", s->n.records},
        {"duplicate", s->n.duplicates},
        {"invalid", s->n.invalid},
        {"rejected", s->n.rejects},
        {"malformed", s->n.malformed},
        {"unattributed", s->n.unattributed},
        {"updated", s->n.updates},
        {"revoked", s->n.revoked},
        {"unknown_record", s->n.unknown_record},
        {"too_old", s->n.too_old},
        {"forwarded", s->n.forwarded},
        {"replayed", s->n.replays},
    };

    counter(b, "sgs_consumer_messages_read_total",
            "messages of the records topic applied, as producers sent them (the stats line's "
            "messages)",
            s->n.messages);
    sgs_prom_family(b, "sgs_consumer_messages_total", "counter",
                    "applied messages by outcome: counted (records), duplicate, invalid (counted "
                    "and rejected), rejected (every reject), malformed, unattributed, updated, "
                    "revoked, unknown_record, too_old, forwarded (to their unit's partition), "
                    "replayed (forwarded copies already applied)");
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        char lab[64];

        snprintf(lab, sizeof(lab), "result=\"%s\"", results[i].result);
        sgs_prom_u64(b, "sgs_consumer_messages_total", lab, results[i].v);
    }
    counter(b, "sgs_consumer_late_total", "records counted late (迟报)", s->n.late);
    counter(b, "sgs_consumer_from_organ_total",
            "records attributed to their unit through the deciding organ", s->n.from_organ);
    counter(b, "sgs_consumer_batches_total", "batches applied (one EVALSHA per partition)",
            s->batches);
    sgs_prom_family(b, "sgs_consumer_batch_seconds", "histogram",
                    "from writing a batch's EVALSHA to reading its reply (the consumer reads "
                    "the next batch meanwhile)");
    sgs_prom_hist_write(b, "sgs_consumer_batch_seconds", NULL, &s->batch_seconds);
    counter(b, "sgs_consumer_fenced_batches_total",
            "batches refused by the fence (another owner had moved the partition on)", s->fenced);
    counter(b, "sgs_consumer_redis_errors_total",
            "times Redis was unavailable or refused a write (each starts a back-off)",
            s->redis_errors);
    sgs_prom_family(b, "sgs_consumer_alerts_total", "counter",
                    "alerts produced to topic.alerts by type (re-sends included)");
    sgs_prom_u64(b, "sgs_consumer_alerts_total", "type=\"late\"", s->alerts_late);
    sgs_prom_u64(b, "sgs_consumer_alerts_total", "type=\"late_rate\"", s->alerts_late_rate);
    counter(b, "sgs_consumer_delivery_failures_total",
            "alerts, rejects and forwarded copies Kafka did not take (they are sent again)",
            s->delivery_failures);
    counter(b, "sgs_consumer_seek_failures_total", "seeks that failed (they are retried)",
            s->seek_failures);
    counter(b, "sgs_consumer_forward_gaps_total",
            "forwarded copies read ahead of one missing from their source (not applied: the "
            "source sends the missing ones again; one that never comes is lost)",
            s->gaps);
    gauge(b, "sgs_consumer_outbox_pending",
          "batches whose alerts and rejects are not all delivered yet", (int64_t)s->outbox_pending);
    gauge(b, "sgs_consumer_outbox_bytes", "their bytes", (int64_t)s->outbox_bytes);
    sgs_prom_family(b, "sgs_consumer_lag_messages", "gauge",
                    "messages behind the end of each assigned partition (absent while no broker "
                    "is reachable)");
    for (size_t i = 0; i < s->n_lag; i++) {
        sgs_buf lab;
        char part[16];

        snprintf(part, sizeof(part), "%" PRId32, s->lag[i].partition);
        sgs_buf_init(&lab);
        sgs_prom_label(&lab, "topic", m->topic, 1);
        sgs_prom_label(&lab, "partition", part, 0);
        sgs_prom_i64(b, "sgs_consumer_lag_messages", lab.data, s->lag[i].lag);
        sgs_buf_free(&lab);
    }
    gauge(b, "sgs_consumer_kafka_brokers_up", "brokers whose connection is up", s->brokers_up);
    gauge(b, "sgs_consumer_kafka_brokers_known", "brokers known", s->brokers_known);
    gauge(b, "sgs_consumer_redis_up", "1 while Redis answers and takes writes", s->redis_up);
    gauge(b, "sgs_consumer_up", "1 when /healthz answers 200", s->healthy != 0);
    sgs_prom_calendar(b, s->calendar_last_year, s->calendar_days_left, s->reloads_ok,
                      s->reloads_error);
}

static enum MHD_Result handle(void *arg, sgs_http_request *req)
{
    sgs_metrics *m = arg;
    struct snap *s;
    enum MHD_Result rc;

    if (strcmp(req->path, "/metrics") != 0 && strcmp(req->path, "/healthz") != 0)
        return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "no such endpoint (/metrics, /healthz)");
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return sgs_http_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET");
    if (!(s = take(m)))
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    if (strcmp(req->path, "/healthz") == 0) {
        if (s->healthy == SGS_HEALTH_KAFKA_DOWN) {
            sgs_buf b;

            sgs_buf_init(&b);
            sgs_buf_puts(&b, "{\"status\":\"ok\",\"kafka\":");
            sgs_buf_put_json_string(&b, s->why, strlen(s->why));
            sgs_buf_puts(&b, "}\n");
            rc = sgs_http_reply_buf(req, MHD_HTTP_OK, "application/json; charset=utf-8", &b);
        } else if (s->healthy) {
            rc = sgs_http_reply(req, MHD_HTTP_OK, "application/json; charset=utf-8",
                                "{\"status\":\"ok\"}\n", 16);
        } else {
            rc = sgs_http_unhealthy(req, s->why);
        }
    } else {
        sgs_buf b;

        sgs_buf_init(&b);
        format(m, s, &b);
        rc = sgs_http_reply_buf(req, MHD_HTTP_OK, SGS_PROM_CONTENT_TYPE, &b);
    }
    snap_free(s);
    return rc;
}

int sgs_metrics_start(sgs_consumer *c, char *errstr, size_t errstr_size)
{
    const char *listen = sgs_config_get(c->cfg, "metrics.listen");
    sgs_http_options o;
    sgs_metrics *m;

    if (!listen || !*listen)
        return 0;
    m = calloc(1, sizeof(*m));
    if (!m || !(m->shown = calloc(1, sizeof(*m->shown))) ||
        !(m->staging = calloc(1, sizeof(*m->staging)))) {
        if (m) {
            free(m->shown);
            free(m);
        }
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->topic = c->topic;
    c->metrics = m;
    fill(c, m->shown); /* before the first request can come */
    m->healthy_shown = m->shown->healthy;
    memset(&o, 0, sizeof(o));
    o.what = "metrics.listen";
    o.threads = 1;
    o.max_connections = MAX_CONNECTIONS;
    o.timeout_s = TIMEOUT_S;
    o.max_body = 4096;
    m->http = sgs_http_start(listen, &o, handle, m, errstr, errstr_size);
    if (!m->http) {
        sgs_metrics_stop(c);
        return -1;
    }
    sgs_info("metrics on http://%s/metrics, health on /healthz (port %d)", listen,
             sgs_http_port(m->http));
    return 0;
}

void sgs_metrics_stop(sgs_consumer *c)
{
    sgs_metrics *m = c->metrics;

    if (!m)
        return;
    sgs_http_stop(m->http); /* joins its thread: nothing reads the snapshots after */
    snap_free(m->shown);
    snap_free(m->staging);
    pthread_mutex_destroy(&m->lock);
    free(m);
    c->metrics = NULL;
}

/* The watch daemon: once a month has closed and report.grace_workdays working
 * days have passed, it snapshots the month (files into report.dir, the version
 * on topic.snapshots); afterwards, whenever late-arriving records (or a spot
 * check) change a closed month, it writes version N+1 and logs what changed.
 * Months before the deployment's first month with records are not published
 * (a new deployment has nothing to say about them); later months without
 * records are.
 *
 * Every aggregator.watch_interval_s seconds it rebuilds each due month among the
 * last aggregator.watch_months closed ones; version.c decides whether the content
 * changed. Older closed months, back to the deployment's first month, are
 * watched too (REFERENCE §7: every closed month): one without a snapshot is
 * snapshotted in the next cycle, and one of those with a snapshot is rebuilt
 * each cycle in turn, so a late record of an old month makes its new version
 * within as many cycles as there are older months.
 *
 * Files and the publish are redone for a version until both succeeded once in
 * this process (so a Kafka or disk outage is repaired by the next cycle, and a
 * restart re-publishes the latest versions, which the compacted topic absorbs).
 * Redis and Kafka outages are retried every cycle and logged once per change of
 * state. SIGINT/SIGTERM set a flag; the loop sleeps in short steps. SIGHUP
 * reloads units.file and calendar.file between cycles (sgs_agg_ctx_reload). */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/calendar.h"
#include "sgs/log.h"
#include "sgs/store.h"

#define SLEEP_STEP_MS 200

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

struct month_state {
    int year, month;
    long handled; /* version whose files and publish succeeded */
};

enum health { UNKNOWN = 0, UP, DOWN };

struct watch {
    sgs_agg_ctx *ctx;
    sgs_agg_publisher *pub;
    const char *dir;
    long grace, interval, n_watch;
    struct month_state *months;
    size_t n_months, cap_months;
    enum health redis, kafka, files;
    char first[8];            /* the first month with records ("" unknown) */
    unsigned long older_turn; /* which older month with a snapshot is rebuilt next */
    int said_none;            /* "no month has records yet" logged */
};

static struct month_state *month_state(struct watch *w, int year, int month)
{
    for (size_t i = 0; i < w->n_months; i++) {
        if (w->months[i].year == year && w->months[i].month == month)
            return &w->months[i];
    }
    if (w->n_months == w->cap_months) {
        size_t cap = w->cap_months ? w->cap_months * 2 : 8;
        struct month_state *m = realloc(w->months, cap * sizeof(*m));

        if (!m)
            return NULL;
        w->months = m;
        w->cap_months = cap;
    }
    w->months[w->n_months].year = year;
    w->months[w->n_months].month = month;
    w->months[w->n_months].handled = 0;
    return &w->months[w->n_months++];
}

/* Logs a failure only when the state changes (and recovery once). */
static void health(enum health *h, int ok, const char *what, const char *err, long interval)
{
    if (ok) {
        if (*h == DOWN)
            sgs_info("%s: working again", what);
        *h = UP;
    } else {
        if (*h != DOWN)
            sgs_error("%s: %s; retrying every %ld s", what, err, interval);
        else
            sgs_debug("%s: still failing: %s", what, err);
        *h = DOWN;
    }
}

static void process_month(struct watch *w, int year, int month)
{
    char err[1024];
    sgs_agg_snapshot *s;
    json_t *previous = NULL;
    struct month_state *ms = month_state(w, year, month);
    int is_new = 0;
    long version;

    if (!ms) {
        sgs_error("out of memory");
        return;
    }
    s = sgs_agg_snapshot_build(w->ctx, year, month, err, sizeof(err));
    if (!s || sgs_agg_version_store(w->ctx, s, &is_new, &previous, err, sizeof(err)) != 0) {
        health(&w->redis, 0, "redis", err, w->interval);
        sgs_agg_snapshot_free(s);
        return;
    }
    health(&w->redis, 1, "redis", NULL, w->interval);
    version = sgs_agg_snapshot_version(s);
    if (is_new && previous) {
        sgs_info("%s: late changes to a closed month: version %ld replaces %lld", s->month, version,
                 (long long)json_integer_value(json_object_get(previous, "version")));
        sgs_agg_version_log_changes(previous, s->json);
    } else if (is_new) {
        sgs_info("%s: month closed; version %ld: %zu units, %lld records", s->month, version,
                 s->n_rows, (long long)s->totals.records);
    }
    json_decref(previous);

    if (ms->handled != version) {
        if (sgs_agg_report_write(s, w->ctx->cfg, w->dir, err, sizeof(err)) != 0) {
            health(&w->files, 0, "report files", err, w->interval);
            sgs_agg_snapshot_free(s);
            return;
        }
        health(&w->files, 1, "report files", NULL, w->interval);
        if (sgs_agg_snapshot_publish(w->pub, s, &stop_flag, err, sizeof(err)) != 0) {
            if (!stop_flag)
                health(&w->kafka, 0, "kafka", err, w->interval);
            sgs_agg_snapshot_free(s);
            return;
        }
        health(&w->kafka, 1, "kafka", NULL, w->interval);
        sgs_info("%s: version %ld written to %s and published on %s", s->month, version, w->dir,
                 sgs_agg_publisher_topic(w->pub));
        ms->handled = version;
    }
    sgs_agg_snapshot_free(s);
}

/* The deployment's first month: the earliest month for which any partition
 * holds month counters (P:T:m:YYYY-MM, written by the consumer's first batch
 * that counted anything reported in that month), from a scan of every master.
 * 1 with *out "YYYY-MM", 0 when no month has counters yet, -1 with errstr. */
static int first_month(sgs_agg_ctx *ctx, char out[8], char *errstr, size_t errstr_size)
{
    const char *topic = sgs_config_get(ctx->cfg, "topic.records");
    char pattern[SGS_STORE_KEY_MAX];
    sgs_rcl_keys keys = {0};
    int found = 0;

    if (sgs_store_scan_pattern(pattern, sizeof(pattern), ctx->prefix, topic, SGS_STORE_MONTH "*") <
        0) {
        snprintf(errstr, errstr_size, "redis.prefix and topic.records are too long for a key");
        return -1;
    }
    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0 ||
        sgs_rcl_scan(ctx->rcl, pattern, 0, &keys, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < keys.n; i++) {
        const char *k = keys.key[i];
        size_t n = keys.len[i];
        int y, m;

        /* "<prefix>:{<topic>:<p>}:m:YYYY-MM" exactly */
        if (n < 7 || sgs_month_parse(k + n - 7, &y, &m) != 0 ||
            sgs_store_key_partition(k, n - 7, ctx->prefix, topic, SGS_STORE_MONTH) < 0)
            continue;
        if (!found || memcmp(k + n - 7, out, 7) < 0) {
            memcpy(out, k + n - 7, 7);
            out[7] = '\0';
            found = 1;
        }
    }
    sgs_rcl_keys_free(&keys);
    return found;
}

/* Whether the month is one sgs has data of: not before the deployment's first
 * month. That month is looked for while a due month of the window lies
 * before the one known (records of older months may still be replayed, which
 * makes an earlier month the first); once the window is past it, no more
 * scans; at most one a cycle (*scanned). 1 yes, 0 no, -1 Redis failed
 * (logged). */
static int month_observed(struct watch *w, const char *ym, int *scanned)
{
    char err[1024], first[8];
    int rc;

    if (w->first[0] && strcmp(ym, w->first) >= 0)
        return 1;
    if (*scanned)
        return 0; /* once a cycle */
    *scanned = 1;
    /* a rebuild deletes and re-creates the month counters: wait for it */
    rc = sgs_agg_rebuild_check(w->ctx, err, sizeof(err));
    if (rc == 0)
        rc = first_month(w->ctx, first, err, sizeof(err));
    else
        rc = -1;
    if (rc < 0) {
        health(&w->redis, 0, "redis", err, w->interval);
        return -1;
    }
    if (rc == 0) {
        if (!w->said_none)
            sgs_info("no month has records yet: closed months are not published until sgs has "
                     "counted records of one (the first month of this deployment)");
        w->said_none = 1;
        return 0;
    }
    if (strcmp(first, w->first) != 0) {
        sgs_info("%s is the first month with records: months before it predate this deployment "
                 "and are not published",
                 first);
        memcpy(w->first, first, sizeof(w->first));
    }
    return strcmp(ym, w->first) >= 0;
}

/* The closed months before the window (y, m is the window's oldest month),
 * from the deployment's first month on, oldest first: each one without a
 * snapshot is processed, and of those with one, one per cycle in turn. 0, or
 * -1 when Redis failed (logged). */
static int older_months(struct watch *w, int y, int m)
{
    int fy, fm, n = 0, k = 0;
    long turn;
    char err[1024], ym[8];

    if (!w->first[0] || sgs_month_parse(w->first, &fy, &fm) != 0)
        return 0;
    for (int yy = fy, mm = fm; yy * 12 + mm < y * 12 + m; sgs_month_add(&yy, &mm, 1))
        n++;
    if (n == 0)
        return 0;
    turn = (long)(w->older_turn++ % (unsigned long)n);
    for (int yy = fy, mm = fm; k < n && !stop_flag; sgs_month_add(&yy, &mm, 1), k++) {
        long v = sgs_agg_version_latest(w->ctx, sgs_month_format(yy, mm, ym), err, sizeof(err));
        if (v < 0) {
            health(&w->redis, 0, "redis", err, w->interval);
            return -1;
        }
        if (v == 0 || k == turn)
            process_month(w, yy, mm);
    }
    return 0;
}

/* A month is due once the grace-th working day after its last day has passed
 * (grace 0: from the first day of the next month); months before the first
 * month with records are skipped. */
static void cycle(struct watch *w)
{
    sgs_day today = sgs_agg_today(w->ctx);
    int ty, tm, td, scanned = 0, wy, wm;
    char ym[8];

    sgs_agg_calendar_log(w->ctx); /* once a day while the horizon is near */
    sgs_day_to_ymd(today, &ty, &tm, &td);
    /* the window's oldest month: the first month is looked for (when unknown,
     * or later than it), then the closed months before the window */
    wy = ty;
    wm = tm;
    sgs_month_add(&wy, &wm, -(int)w->n_watch);
    if (sgs_agg_month_due(w->ctx->cal, w->grace, today, wy, wm) &&
        (month_observed(w, sgs_month_format(wy, wm, ym), &scanned) < 0 ||
         older_months(w, wy, wm) != 0))
        return;
    for (int k = (int)w->n_watch; k >= 1 && !stop_flag; k--) {
        int y = ty, m = tm, observed;

        sgs_month_add(&y, &m, -k);
        if (!sgs_agg_month_due(w->ctx->cal, w->grace, today, y, m))
            continue;
        observed = month_observed(w, sgs_month_format(y, m, ym), &scanned);
        if (observed < 0)
            return;
        if (observed)
            process_month(w, y, m);
    }
}

/* Sleeps, applying a SIGHUP's reload (registry and calendar) as it comes:
 * between cycles, never in the middle of one. */
static void sleep_interval(struct watch *w, long seconds)
{
    long steps = seconds * 1000 / SLEEP_STEP_MS;

    for (long i = 0; i < steps && !stop_flag; i++) {
        struct timespec ts = {0, SLEEP_STEP_MS * 1000000L};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_flag && !reload_flag)
            ;
        if (reload_flag) {
            reload_flag = 0;
            if (sgs_agg_ctx_reload(w->ctx) == 0)
                sgs_agg_calendar_log(w->ctx);
        }
    }
}

int sgs_agg_cmd_watch(sgs_agg_ctx *ctx)
{
    struct watch w;
    struct sigaction sa;
    char err[1024];

    memset(&w, 0, sizeof(w));
    w.ctx = ctx;
    w.dir = sgs_config_get(ctx->cfg, "report.dir");
    if (!w.dir || !*w.dir) {
        sgs_error("report.dir: not set");
        return SGS_AGG_EXIT_USAGE;
    }
    w.grace = sgs_config_get_int(ctx->cfg, "report.grace_workdays");
    w.interval = sgs_config_get_int(ctx->cfg, "aggregator.watch_interval_s");
    w.n_watch = sgs_config_get_int(ctx->cfg, "aggregator.watch_months");
    w.pub = sgs_agg_publisher_create(ctx->cfg, err, sizeof(err));
    if (!w.pub) {
        sgs_error("%s", err);
        return SGS_AGG_EXIT_USAGE;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);

    sgs_info("watching the last %ld closed months every %ld s (grace %ld working days, files in "
             "%s)%s",
             w.n_watch, w.interval, w.grace, w.dir, ctx->have_now ? "; SGS_NOW is set" : "");
    while (!stop_flag) {
        cycle(&w);
        sleep_interval(&w, w.interval);
    }
    sgs_info("stopping on signal");
    sgs_agg_publisher_destroy(w.pub);
    free(w.months);
    return SGS_AGG_EXIT_OK;
}

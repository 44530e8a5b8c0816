/* The watch daemon: once a month has closed and report.grace_workdays working
 * days have passed, it snapshots the month (files into report.dir, the version
 * on topic.snapshots); afterwards, whenever late-arriving records (or a spot
 * check) change a closed month, it writes version N+1 and logs what changed
 * (REFERENCE §7: every closed month). Months before the deployment's first
 * month with records are not published (a new deployment has nothing to say
 * about them); later months without records are.
 *
 * Every aggregator.watch_interval_s seconds (the first cycle at start) it
 * reads, in one pipe, what changes a closed month, for every closed month from
 * the first one on: per partition the values of the month's counter hash
 * (P:T:m:YYYY-MM), the sizes of its spot-check hashes (P:concealed,
 * P:withdrawn) and its latest version. The consumer adds to the counter hash
 * in the same script as the month's ledger entries and gap bits, and every
 * counter only grows, so the hash's values (their sum and count) change
 * exactly when a batch counted something of that month; the spot-check hashes
 * only grow (a finding is never deleted, a withdrawal is written once). A
 * month is rebuilt when that digest differs from the one read before its last
 * complete rebuild in this process, when it was never rebuilt by this process
 * (the first cycle rebuilds them all), when its latest version is not the one
 * whose files and publish this process saw succeed (another writer's), or
 * when an earlier month of its year changed (a month's suspected gaps come
 * from the gap bits and spot checks of January..M). The last
 * aggregator.watch_months closed months are rebuilt every cycle whatever
 * their digest says. version.c decides whether the content changed. So a late
 * record of any closed month makes its new version within one cycle, and an
 * unchanged month costs its share of one pipe, not a build: a build of the
 * demo month (42 units, ~11,000 records) takes ~6 ms, a whole snapshot of
 * 5,000 units ~0.7 s (docs/AGGREGATOR.md), and months add up over years.
 *
 * Files and the publish are redone for a version until both succeeded once in
 * this process (so a Kafka or disk outage is repaired by the next cycle, and a
 * restart re-publishes the latest versions, which the compacted topic absorbs).
 * Redis and Kafka outages are retried every cycle and logged once per change of
 * state. SIGINT/SIGTERM set a flag; the loop sleeps in short steps. SIGHUP
 * reloads units.file and calendar.file between cycles (sgs_agg_ctx_reload),
 * after which every month is rebuilt (the registry is in every snapshot). */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/calendar.h"
#include "sgs/clock.h"
#include "sgs/hash.h"
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
    long handled;   /* version whose files and publish succeeded */
    int have_input; /* input holds the digest read before the last complete rebuild */
    uint64_t input; /* digest of what changes the month (read_inputs) */
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
    char first[8];        /* the first month with records ("" unknown) */
    int said_none;        /* "no month has records yet" logged */
    unsigned long cycles; /* cycles run */
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
    memset(&w->months[w->n_months], 0, sizeof(w->months[0]));
    w->months[w->n_months].year = year;
    w->months[w->n_months].month = month;
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

/* Rebuilds a month, stores a new version when it changed, and writes the
 * files and publishes once per version. 0 when the month's latest version is
 * handled (stored, written, published), else -1 (logged through health). */
static int process_month(struct watch *w, int year, int month)
{
    char err[1024];
    sgs_agg_snapshot *s;
    json_t *previous = NULL;
    struct month_state *ms = month_state(w, year, month);
    int is_new = 0;
    long version;

    if (!ms) {
        sgs_error("out of memory");
        return -1;
    }
    s = sgs_agg_snapshot_build(w->ctx, year, month, err, sizeof(err));
    if (!s || sgs_agg_version_store(w->ctx, s, &is_new, &previous, err, sizeof(err)) != 0) {
        health(&w->redis, 0, "redis", err, w->interval);
        sgs_agg_snapshot_free(s);
        return -1;
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
            return -1;
        }
        health(&w->files, 1, "report files", NULL, w->interval);
        if (sgs_agg_snapshot_publish(w->pub, s, &stop_flag, err, sizeof(err)) != 0) {
            if (!stop_flag)
                health(&w->kafka, 0, "kafka", err, w->interval);
            sgs_agg_snapshot_free(s);
            return -1;
        }
        health(&w->kafka, 1, "kafka", NULL, w->interval);
        sgs_info("%s: version %ld written to %s and published on %s", s->month, version, w->dir,
                 sgs_agg_publisher_topic(w->pub));
        ms->handled = version;
    }
    sgs_agg_snapshot_free(s);
    return 0;
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
 * scans. Called once a cycle, after the cycle's rebuild check. 1 yes, 0 no,
 * -1 Redis failed (logged). */
static int month_observed(struct watch *w, const char *ym)
{
    char err[1024], first[8];
    int rc;

    if (w->first[0] && strcmp(ym, w->first) >= 0)
        return 1;
    rc = first_month(w->ctx, first, err, sizeof(err));
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

/* A digest of a counter hash's values (HVALS): their number and their sum
 * (each counter only grows, so the sum moves with every batch that counts
 * something of the month); a value that is no number adds its bytes' hash. */
static uint64_t values_digest(uint64_t h, const redisReply *r)
{
    uint64_t sum = 0, n = 0;

    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            int64_t v;

            if (sgs_agg_reply_int(r->element[i], &v) == 0)
                sum += (uint64_t)v;
            else if (r->element[i]->type == REDIS_REPLY_STRING)
                sum += sgs_hash_fnv1a(r->element[i]->str, r->element[i]->len);
            n++;
        }
    }
    h = sgs_hash_fnv1a_from(h, &n, sizeof(n));
    return sgs_hash_fnv1a_from(h, &sum, sizeof(sum));
}

/* What changes each of the n months from (fy, fm) on, in one pipe: digest[i]
 * of its counter hash in every partition (HVALS P:T:m:M; the partitions by
 * name, sorted) and of its spot-check hashes (HLEN P:concealed:M,
 * P:withdrawn:M), and latest[i], its latest version (0: none). 0, or -1 with
 * errstr. */
static int read_inputs(struct watch *w, int fy, int fm, size_t n, uint64_t *digest, long *latest,
                       char *errstr, size_t errstr_size)
{
    sgs_agg_ctx *ctx = w->ctx;
    char **parts = NULL, key[SGS_STORE_KEY_MAX], ym[8];
    size_t n_parts = 0, k = 0;
    sgs_rcl_pipe *p = NULL;
    int rc = -1, y = fy, m = fm;

    if (sgs_agg_partitions_read(ctx, &parts, &n_parts, errstr, errstr_size) != 0)
        return -1;
    if (!(p = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    for (size_t i = 0; i < n; i++, sgs_month_add(&y, &m, 1)) {
        sgs_month_format(y, m, ym);
        for (size_t j = 0; j < n_parts; j++) {
            sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[j], SGS_STORE_MONTH, ym);
            if (sgs_rcl_pipe_appendf(p, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HVALS %s", key) < 0)
                goto oom;
        }
        sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_CONCEALED, ym);
        if (sgs_rcl_pipe_appendf(p, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HLEN %s", key) < 0)
            goto oom;
        sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_WITHDRAWN, ym);
        if (sgs_rcl_pipe_appendf(p, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HLEN %s", key) < 0)
            goto oom;
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, ym, -1);
        if (sgs_rcl_pipe_appendf(p, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "GET %s", key) < 0)
            goto oom;
    }
    if (sgs_agg_pipe_run(p, errstr, errstr_size) != 0)
        goto out;
    y = fy;
    m = fm;
    for (size_t i = 0; i < n; i++, sgs_month_add(&y, &m, 1)) {
        uint64_t h = SGS_HASH_FNV1A_BASIS;

        sgs_month_format(y, m, ym);
        for (size_t j = 0; j <= n_parts + 2; j++, k++) {
            const redisReply *r = sgs_rcl_pipe_reply(p, k);
            int64_t v = 0;

            if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "redis: reading what changed %s: %s", ym, r->str);
                goto out;
            }
            if (j < n_parts) {
                h = sgs_hash_fnv1a_from(h, parts[j], strlen(parts[j]) + 1);
                h = values_digest(h, r);
            } else if (j < n_parts + 2) {
                if (sgs_agg_reply_int(r, &v) != 0)
                    v = -1;
                h = sgs_hash_fnv1a_from(h, &v, sizeof(v));
            } else if ((latest[i] = sgs_agg_reply_version(r)) < 0) {
                sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, ym, -1);
                snprintf(errstr, errstr_size, "redis: %s: not a version number", key);
                goto out;
            }
        }
        digest[i] = h;
    }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(p);
    sgs_agg_strv_free(parts, n_parts);
    return rc;
}

/* A month is due once the grace-th working day after its last day has passed
 * (grace 0: from the first day of the next month); months before the first
 * month with records are skipped. Every due month from the first one on is
 * looked at (read_inputs) and rebuilt when something changed it (the file's
 * comment), oldest first, so prev_records comes from a fresh previous month. */
static void cycle(struct watch *w)
{
    sgs_day today = sgs_agg_today(w->ctx);
    int ty, tm, td, ny = 0, nm = 0, fy, fm, yy, mm, probe_y = 0, probe_m = 0;
    int dirty_year = 0, rebuilt = 0, changed = 0;
    char ym[8], err[1024];
    size_t n = 0;
    uint64_t *digest = NULL;
    long *latest = NULL;
    int64_t t0, t1;

    w->cycles++;
    t0 = sgs_clock_mono_ms();
    sgs_agg_calendar_log(w->ctx); /* once a day while the horizon is near */
    sgs_day_to_ymd(today, &ty, &tm, &td);
    /* the newest due month, and the oldest due one of the window (where the
     * first month is looked for while the window has not passed it) */
    for (int k = 1; k <= 120; k++) {
        int y = ty, m = tm;

        sgs_month_add(&y, &m, -k);
        if (!sgs_agg_month_due(w->ctx->cal, w->grace, today, y, m))
            continue;
        if (!ny) {
            ny = y;
            nm = m;
        }
        if (k <= w->n_watch || !probe_y) {
            probe_y = y;
            probe_m = m;
        }
        if (k >= w->n_watch)
            break;
    }
    if (!ny)
        return;
    /* a rebuild deletes and re-creates the month counters: wait for it */
    if (sgs_agg_rebuild_check(w->ctx, err, sizeof(err)) != 0) {
        health(&w->redis, 0, "redis", err, w->interval);
        return;
    }
    if (month_observed(w, sgs_month_format(probe_y, probe_m, ym)) < 0 || !w->first[0] ||
        sgs_month_parse(w->first, &fy, &fm) != 0)
        return;
    for (int y = fy, m = fm; y * 12 + m <= ny * 12 + nm; sgs_month_add(&y, &m, 1))
        n++;
    if (n == 0)
        return;
    digest = calloc(n, sizeof(*digest));
    latest = calloc(n, sizeof(*latest));
    if (!digest || !latest) {
        sgs_error("out of memory");
        goto out;
    }
    if (read_inputs(w, fy, fm, n, digest, latest, err, sizeof(err)) != 0) {
        health(&w->redis, 0, "redis", err, w->interval);
        goto out;
    }
    health(&w->redis, 1, "redis", NULL, w->interval);
    t1 = sgs_clock_mono_ms();
    yy = fy;
    mm = fm;
    for (size_t i = 0; i < n && !stop_flag; i++, sgs_month_add(&yy, &mm, 1)) {
        int in_window = (ty * 12 + tm) - (yy * 12 + mm) <= w->n_watch, moved;
        struct month_state *ms = month_state(w, yy, mm);

        if (!ms) {
            sgs_error("out of memory");
            goto out;
        }
        if (mm == 1)
            dirty_year = 0;
        moved = !ms->have_input || ms->input != digest[i];
        changed += moved && ms->have_input;
        dirty_year |= moved;
        if (in_window || dirty_year || latest[i] == 0 || latest[i] != ms->handled) {
            rebuilt++;
            if (process_month(w, yy, mm) == 0) {
                ms->input = digest[i];
                ms->have_input = 1;
            } else {
                ms->have_input = 0; /* again next cycle */
            }
        }
    }
    sgs_debug("cycle %lu: %zu closed months %s..%04d-%02d looked at in %ld ms (%d changed), %d "
              "rebuilt in %ld ms",
              w->cycles, n, w->first, ny, nm, (long)(t1 - t0), changed, rebuilt,
              (long)(sgs_clock_mono_ms() - t1));
out:
    free(digest);
    free(latest);
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
            if (sgs_agg_ctx_reload(w->ctx) == 0) {
                sgs_agg_calendar_log(w->ctx);
                /* every snapshot holds the registry: rebuild every month */
                for (size_t m = 0; m < w->n_months; m++)
                    w->months[m].have_input = 0;
            }
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

    sgs_info("watching every closed month every %ld s, rebuilding the last %ld each time and "
             "the others when their figures changed (grace %ld working days, files in %s)%s",
             w.interval, w.n_watch, w.grace, w.dir, ctx->have_now ? "; SGS_NOW is set" : "");
    while (!stop_flag) {
        cycle(&w);
        sleep_interval(&w, w.interval);
    }
    sgs_info("stopping on signal");
    sgs_agg_publisher_destroy(w.pub);
    free(w.months);
    return SGS_AGG_EXIT_OK;
}

/* The snapshot command: build the month from Redis, store it as a new version
 * when its content changed, write the report files, publish the latest version.
 *
 * A month that has not closed (watch's rule: report.grace_workdays working
 * days after its end, sgs_agg_month_due) is a preview unless --final: stored
 * and published as a version like any other (REFERENCE §7), with "preview": true
 * in the JSON and its files marked 临时, so that nobody issues it as the
 * month's notice; once the month has closed, the next snapshot (watch's, or
 * this command's) differs by that mark and is a new, final version.
 * --no-publish stores and writes without Kafka. A failed publish after the
 * files were written is a runtime failure (exit 1; a re-run publishes).
 *
 * Publishing: the latest version is published on every run, new or unchanged.
 * The topic is compacted and keyed by month and the value carries its version,
 * so a repeat is harmless, and re-running the command repairs a publish that
 * failed after the version was stored. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/log.h"

int sgs_agg_snapshot_publish(sgs_agg_publisher *pub, const sgs_agg_snapshot *s,
                             volatile sig_atomic_t *stop, char *errstr, size_t errstr_size)
{
    char *text = json_dumps(s->json, SGS_AGG_JSON_COMPACT);
    int rc;

    if (!text) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    rc = sgs_agg_publish(pub, s->month, text, strlen(text), stop, errstr, errstr_size);
    free(text);
    return rc;
}

/* Milliseconds since the previous call (debug timing of the phases). */
static long lap_ms(struct timespec *t)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long)((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
    *t = now;
    return ms;
}

/* Whether the month has closed by watch's rule (sgs_agg_month_due): 1 / 0,
 * with *closes its first closed day. */
static int month_closed(sgs_agg_ctx *ctx, int year, int month, sgs_day *closes)
{
    long grace = sgs_config_get_int(ctx->cfg, "report.grace_workdays");

    *closes = sgs_agg_month_closes(ctx->cal, grace, year, month);
    return sgs_agg_today(ctx) >= *closes;
}

int sgs_agg_cmd_snapshot(sgs_agg_ctx *ctx, int year, int month, const char *out_dir, unsigned flags)
{
    char err[1024];
    sgs_agg_publisher *pub = NULL;
    sgs_agg_snapshot *s = NULL;
    json_t *previous = NULL;
    int is_new = 0, closed, preview, rc = SGS_AGG_EXIT_RUNTIME;
    const char *dir = out_dir ? out_dir : sgs_config_get(ctx->cfg, "report.dir");
    char ym[8], day[16], what[64] = "";
    sgs_day closes;
    struct timespec t;

    if (!dir || !*dir) {
        sgs_error("report.dir: not set and no --out given");
        return SGS_AGG_EXIT_USAGE;
    }
    sgs_month_format(year, month, ym);
    closed = month_closed(ctx, year, month, &closes);
    sgs_day_format(closes, day);
    preview = !closed && !(flags & SGS_AGG_SNAP_FINAL);
    /* --no-publish never touches Kafka. */
    if (!(flags & SGS_AGG_SNAP_NO_PUBLISH)) {
        pub = sgs_agg_publisher_create(ctx->cfg, err, sizeof(err));
        if (!pub) {
            sgs_error("%s", err);
            return SGS_AGG_EXIT_USAGE;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (preview)
        sgs_warn("%s has not closed (it closes on %s: report.grace_workdays working days after "
                 "its end): a preview, \"preview\": true and its files marked 临时 (--final "
                 "makes it final now; once closed, the next snapshot is the final version)",
                 ym, day);
    else if (!closed)
        sgs_warn("%s has not closed (it closes on %s), but --final: stored and published as a "
                 "version",
                 ym, day);

    s = sgs_agg_snapshot_build(ctx, year, month, err, sizeof(err));
    if (!s) {
        sgs_error("snapshot %s: %s", ym, err);
        goto out;
    }
    sgs_debug("%s: built in %ld ms", s->month, lap_ms(&t));
    if (preview && sgs_agg_snapshot_mark_preview(s) != 0) {
        sgs_error("snapshot %s: out of memory", ym);
        goto out;
    }
    if (sgs_agg_version_store(ctx, s, &is_new, &previous, err, sizeof(err)) != 0) {
        sgs_error("snapshot %s: %s", s->month, err);
        goto out;
    }
    if (is_new && previous)
        sgs_agg_version_log_changes(previous, s->json);
    sgs_info("%s: version %ld (%s%s); %zu units, %lld records", s->month,
             sgs_agg_snapshot_version(s), is_new ? "new" : "unchanged", preview ? ", preview" : "",
             s->n_rows, (long long)s->totals.records);
    sgs_debug("%s: stored in %ld ms", s->month, lap_ms(&t));
    if (sgs_agg_report_write(s, ctx->cfg, dir, err, sizeof(err)) != 0) {
        sgs_error("snapshot %s: %s", s->month, err);
        goto out;
    }
    sgs_debug("%s: files written in %ld ms", s->month, lap_ms(&t));
    if (preview)
        snprintf(what, sizeof(what), " (a preview: the month closes on %s)", day);
    if (!pub) {
        printf("%s version %ld %s%s; files in %s; not published (--no-publish)\n", s->month,
               sgs_agg_snapshot_version(s), is_new ? "new" : "unchanged", what, dir);
        fflush(stdout);
        rc = SGS_AGG_EXIT_OK;
        goto out;
    }
    if (sgs_agg_snapshot_publish(pub, s, NULL, err, sizeof(err)) != 0) {
        /* the files and the version are there; a re-run publishes it. The
         * producer goes first: its threads log each failed connect, and the
         * line an operator reads last must be this one, not theirs. */
        sgs_agg_publisher_destroy(pub);
        pub = NULL;
        sgs_error("snapshot %s v%ld: files written to %s, but not published: %s", s->month,
                  sgs_agg_snapshot_version(s), dir, err);
        rc = SGS_AGG_EXIT_RUNTIME; /* REFERENCE §7: 0, 1, 2 only */
        goto out;
    }
    sgs_debug("%s: published in %ld ms", s->month, lap_ms(&t));
    printf("%s version %ld %s%s; files in %s; published on %s\n", s->month,
           sgs_agg_snapshot_version(s), is_new ? "new" : "unchanged", what, dir,
           sgs_agg_publisher_topic(pub));
    fflush(stdout);
    rc = SGS_AGG_EXIT_OK;
out:
    json_decref(previous);
    sgs_agg_snapshot_free(s);
    sgs_agg_publisher_destroy(pub);
    return rc;
}

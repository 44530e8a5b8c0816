/* The trend of the report (REFERENCE §10): the last 12 months' records and late
 * rate. The month itself comes from its own model; the 11 before it from the
 * latest version each has in Redis (P:snapshot:YYYY-MM:vN). A stored version
 * never changes once written, so these reads need no transaction with the
 * month's own read. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/store.h"

#define EARLIER (SGS_AGG_HISTORY_MONTHS - 1)

void sgs_agg_history_init(sgs_agg_snapshot *s)
{
    for (int i = 0; i < SGS_AGG_HISTORY_MONTHS; i++) {
        sgs_agg_history_point *h = &s->history[i];
        int y = s->year, m = s->mon;

        sgs_month_add(&y, &m, i - EARLIER);
        memset(h, 0, sizeof(*h));
        sgs_month_format(y, m, h->month);
    }
    s->history[EARLIER].has = 1;
    s->history[EARLIER].records = s->totals.records;
    s->history[EARLIER].late = s->totals.late;
}

/* Runs a pipe of GETs; 0, or -1 with errstr (a refused GET: the key holds
 * something else). */
static int run_gets(sgs_rcl_pipe *p, char *errstr, size_t errstr_size)
{
    if (sgs_agg_pipe_run(p, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < sgs_rcl_pipe_count(p); i++) {
        const redisReply *r = sgs_rcl_pipe_reply(p, i);

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: reading the stored snapshots: %s", r->str);
            return -1;
        }
    }
    return 0;
}

static void take_totals(sgs_agg_history_point *h, const redisReply *r)
{
    json_t *doc, *totals, *rec, *late;

    if (r->type != REDIS_REPLY_STRING)
        return; /* the version vanished: shown as no snapshot */
    doc = json_loadb(r->str, r->len, 0, NULL);
    totals = json_object_get(doc, "totals");
    rec = json_object_get(totals, "records");
    late = json_object_get(totals, "late");
    if (json_is_integer(rec) && json_is_integer(late)) {
        h->has = 1;
        h->records = json_integer_value(rec);
        h->late = json_integer_value(late);
    } else {
        sgs_warn("%s: the stored snapshot is not readable; the trend shows no figures for it",
                 h->month);
    }
    json_decref(doc);
}

int sgs_agg_history_read(sgs_agg_ctx *ctx, sgs_agg_snapshot *s, char *errstr, size_t errstr_size)
{
    long version[EARLIER];
    char key[SGS_STORE_KEY_MAX];
    sgs_rcl_pipe *latest, *docs = NULL;
    int rc = -1;

    /* the months' latest versions, then those versions: keys of their own
     * slots, one pipe each */
    latest = sgs_agg_pipe(ctx, errstr, errstr_size);
    if (!latest)
        return -1;
    for (int i = 0; i < EARLIER; i++) {
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->history[i].month, -1);
        if (sgs_rcl_pipe_appendf(latest, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "GET %s", key) < 0)
            goto oom;
    }
    if (run_gets(latest, errstr, errstr_size) != 0)
        goto out;
    if (!(docs = sgs_rcl_pipe_new(ctx->rcl)))
        goto oom;
    for (int i = 0; i < EARLIER; i++) {
        version[i] = sgs_agg_reply_version(sgs_rcl_pipe_reply(latest, (size_t)i));
        if (version[i] < 0)
            sgs_warn("%s: the latest version is not a number; the trend shows no figures for it",
                     s->history[i].month);
        if (version[i] > 0) {
            sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->history[i].month, version[i]);
            if (sgs_rcl_pipe_appendf(docs, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "GET %s", key) <
                0)
                goto oom;
        }
    }
    if (sgs_rcl_pipe_count(docs) && run_gets(docs, errstr, errstr_size) != 0)
        goto out;
    for (int i = 0, k = 0; i < EARLIER; i++) {
        if (version[i] > 0)
            take_totals(&s->history[i], sgs_rcl_pipe_reply(docs, (size_t)k++));
    }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(latest);
    sgs_rcl_pipe_free(docs);
    return rc;
}

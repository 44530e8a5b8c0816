/* The trend of the report (DESIGN §10): the last 12 months' records and late
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

/* Reads n pipelined commands already appended; replies[] owned by the caller. */
static int read_replies(sgs_agg_ctx *ctx, redisReply **replies, size_t n, char *errstr,
                        size_t errstr_size)
{
    if (sgs_agg_reply_read(ctx->rc, replies, n, errstr, errstr_size) != 0) {
        memset(replies, 0, n * sizeof(*replies)); /* freed by the reader */
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: reading the stored snapshots: %s",
                     replies[i]->str);
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
    redisReply *latest[EARLIER] = {0}, *docs[EARLIER] = {0};
    long version[EARLIER];
    char key[SGS_STORE_KEY_MAX];
    size_t n_docs = 0;
    int rc = -1;

    for (int i = 0; i < EARLIER; i++) {
        sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->history[i].month, -1);
        redisAppendCommand(ctx->rc, "GET %s", key);
    }
    if (read_replies(ctx, latest, EARLIER, errstr, errstr_size) != 0)
        goto out;
    for (int i = 0; i < EARLIER; i++) {
        version[i] = sgs_agg_version_parse(latest[i]);
        if (version[i] < 0)
            sgs_warn("%s: the latest version is not a number; the trend shows no figures for it",
                     s->history[i].month);
        if (version[i] > 0) {
            sgs_store_snapshot_key(key, sizeof(key), ctx->prefix, s->history[i].month, version[i]);
            redisAppendCommand(ctx->rc, "GET %s", key);
            n_docs++;
        }
    }
    if (n_docs && read_replies(ctx, docs, n_docs, errstr, errstr_size) != 0)
        goto out;
    for (int i = 0, k = 0; i < EARLIER; i++) {
        if (version[i] > 0)
            take_totals(&s->history[i], docs[k++]);
    }
    rc = 0;
out:
    for (int i = 0; i < EARLIER; i++) {
        if (latest[i])
            freeReplyObject(latest[i]);
        if (docs[i])
            freeReplyObject(docs[i]);
    }
    return rc;
}

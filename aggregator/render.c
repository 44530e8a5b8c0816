/* The report files of a month's latest stored version, rendered again for
 * serve (REFERENCE §9: GET /api/v1/months/M/files/NAME answers the latest
 * version's file, also when report.dir does not hold it: written elsewhere
 * with snapshot --out, an older version there, or nothing).
 *
 * Every file is rendered by the writer's own code (report.c) from a model of
 * that version, and is then the file `snapshot` would write now if it kept
 * that version:
 *   - YYYY-MM.json: the stored document itself, pretty-printed as written;
 *   - YYYY-MM-<group>.csv: a model made from the stored document alone (its
 *     units' figures), checked by building its document again and comparing
 *     it with the stored one as version.c does;
 *   - the notice, the ledger, the workbook and the page hold the ledger (台账),
 *     which is not in the document: it comes from where `snapshot` reads it,
 *     the consumer's ledger lists, spot checks and the month's gaps. The month
 *     is built from Redis (sgs_agg_snapshot_build) and, when its content is
 *     the stored version's (sgs_agg_version_adopt), takes that version's
 *     number, time, offsets and comparison with the previous month, as an
 *     unchanged snapshot run does.
 * What cannot be rendered faithfully is refused, never approximated: when the
 * month in Redis has moved on since the version (records or spot checks
 * counted since, another registry) the ledger read now is not the version's,
 * so these four files are refused (SGS_AGG_RENDER_CHANGED); the JSON and the
 * group tables are still that version's. The trend of the page (the 11
 * months before) comes from those months' latest versions now, as in a
 * snapshot run now. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"

/* Integer member of o, 0 when absent. */
static int64_t member_int(const json_t *o, const char *name)
{
    return json_integer_value(json_object_get(o, name));
}

/* A model of a stored document without Redis: a row per registry unit with
 * the document's figures (its units by exact id), its gaps, withdrawals and
 * preview mark, finished and compared with the document. NULL with why when
 * the document names a unit the registry lacks or the model's document is
 * not the stored one (the registry, group names or order, or
 * report.low_volume changed since). */
static sgs_agg_snapshot *model_of(const sgs_agg_ctx *ctx, int year, int month, json_t *doc,
                                  char *why, size_t why_size)
{
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(ctx->reg, year, month);
    sgs_agg_idmap *map = sgs_agg_idmap_registry(ctx->reg);
    const json_t *u, *spot = json_object_get(doc, "spot_check");
    size_t i, row;

    if (!s || !map) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    json_array_foreach(json_object_get(doc, "units"), i, u)
    {
        const char *id = json_string_value(json_object_get(u, "unit_id"));
        const json_t *prev = json_object_get(u, "prev_records"), *gaps = json_object_get(u, "gaps");
        sgs_agg_row *r;
        size_t k;
        const json_t *g;

        if (!id || !sgs_agg_idmap_get(map, id, strlen(id), &row)) {
            snprintf(why, why_size, "its unit '%s' is not in the registry now", id ? id : "?");
            goto fail;
        }
        r = &s->rows[row];
        r->c.records = member_int(u, "records");
        r->c.late = member_int(u, "late");
        r->c.invalid = member_int(u, "invalid");
        r->c.dup = member_int(u, "duplicates");
        r->c.upd = member_int(u, "updates");
        r->c.rev = member_int(u, "revoked");
        r->c.concealed = member_int(u, "concealed");
        r->c.lic = member_int(u, "licenses");
        r->c.pen = member_int(u, "penalties");
        r->has_prev = json_is_integer(prev);
        r->prev_records = json_integer_value(prev);
        s->has_prev_snapshot |= r->has_prev;
        if (json_array_size(gaps) > 0) {
            r->gaps = json_incref((json_t *)gaps);
            json_array_foreach(gaps, k, g)
            {
                r->gaps_missing += member_int(g, "missing_count");
            }
        }
    }
    s->unattributed = member_int(json_object_get(doc, "totals"), "unattributed");
    if (json_array_size(json_object_get(spot, "withdrawn")) > 0)
        s->withdrawn = json_incref(json_object_get(spot, "withdrawn"));
    if (sgs_agg_snapshot_finish(s, ctx->reg, ctx->cfg, 0, ctx->tz_offset) != 0 ||
        (json_is_true(json_object_get(doc, "preview")) && sgs_agg_snapshot_mark_preview(s) != 0)) {
        snprintf(why, why_size, "out of memory");
        goto fail;
    }
    if (!sgs_agg_version_adopt(s, doc)) {
        snprintf(why, why_size,
                 "the registry or the report configuration (groups, group names, "
                 "report.low_volume) is not the one it was made with");
        goto fail;
    }
    sgs_agg_idmap_free(map);
    return s;
fail:
    sgs_agg_idmap_free(map);
    sgs_agg_snapshot_free(s);
    return NULL;
}

int sgs_agg_render_latest(sgs_agg_ctx *ctx, int year, int month, const char *name, sgs_buf *out,
                          long *version, char *errstr, size_t errstr_size)
{
    char ym[8], json_name[16], why[512], **names = NULL;
    char *text = NULL;
    size_t len, n = 0, k;
    json_t *doc = NULL;
    json_error_t jerr;
    sgs_agg_snapshot *s = NULL;
    int rc;

    *version = 0;
    sgs_month_format(year, month, ym);
    rc = sgs_agg_version_text(ctx, ym, 0, &text, &len, version, errstr, errstr_size);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(errstr, errstr_size, "%s has no snapshot", ym);
        return rc == 0 ? SGS_AGG_RENDER_NONE : SGS_AGG_RENDER_ERROR;
    }
    doc = json_loadb(text, len, 0, &jerr);
    free(text);
    if (!doc || !json_is_object(doc)) {
        snprintf(errstr, errstr_size, "version %ld of %s in Redis is not a snapshot document (%s)",
                 *version, ym, doc ? "not an object" : jerr.text);
        json_decref(doc);
        return SGS_AGG_RENDER_BROKEN;
    }
    if (sgs_agg_report_files(doc, &names, &n) != 0) {
        snprintf(errstr, errstr_size, "version %ld of %s has no month", *version, ym);
        rc = SGS_AGG_RENDER_BROKEN;
        goto out;
    }
    for (k = 0; k < n && strcmp(names[k], name) != 0; k++)
        ;
    if (k == n) {
        snprintf(errstr, errstr_size, "%s is not a report file of version %ld of %s", name,
                 *version, ym);
        rc = SGS_AGG_RENDER_NONE;
        goto out;
    }
    snprintf(json_name, sizeof(json_name), "%s.json", ym);
    if (strcmp(name, json_name) == 0) {
        /* the stored document as the writer prints it */
        sgs_agg_report_json(out, doc);
        rc = out->oom ? SGS_AGG_RENDER_BROKEN : SGS_AGG_RENDER_OK;
        if (out->oom)
            snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (strcmp(sgs_agg_report_content_type(name), "text/csv; charset=utf-8") == 0 &&
        !strstr(name, "-ledger.csv")) {
        /* a group's table: the document's figures are all it holds */
        s = model_of(ctx, year, month, doc, why, sizeof(why));
        if (!s) {
            snprintf(errstr, errstr_size, "%s of version %ld cannot be rendered: %s", name,
                     *version, why);
            rc = SGS_AGG_RENDER_CHANGED;
            goto out;
        }
    } else {
        /* the ledger is in these files: the month from Redis, as snapshot reads it */
        s = sgs_agg_snapshot_build(ctx, year, month, errstr, errstr_size);
        if (!s) {
            rc = SGS_AGG_RENDER_ERROR;
            goto out;
        }
        if (json_is_true(json_object_get(doc, "preview")) &&
            sgs_agg_snapshot_mark_preview(s) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            rc = SGS_AGG_RENDER_BROKEN;
            goto out;
        }
        if (!sgs_agg_version_adopt(s, doc)) {
            snprintf(errstr, errstr_size,
                     "%s of version %ld cannot be rendered: %s has changed in Redis since that "
                     "version was stored (records or spot checks counted since, or another "
                     "registry), so the ledger it holds, read from Redis, is no longer that "
                     "version's; sgs-aggregator snapshot --month %s stores the new version and "
                     "writes its files (%s.json and the group tables of version %ld can be had)",
                     name, *version, ym, ym, ym, *version);
            rc = SGS_AGG_RENDER_CHANGED;
            goto out;
        }
    }
    rc = sgs_agg_report_render(s, ctx->cfg, name, out, errstr, errstr_size);
    if (rc == 1)
        snprintf(errstr, errstr_size, "%s is not a report file of version %ld of %s", name,
                 *version, ym);
    rc = rc == 0 ? SGS_AGG_RENDER_OK : rc == 1 ? SGS_AGG_RENDER_NONE : SGS_AGG_RENDER_BROKEN;
out:
    sgs_agg_snapshot_free(s);
    sgs_agg_strv_free(names, n);
    json_decref(doc);
    return rc;
}

/* Live counters per unit: today, this month, the rolling 7 and 30 days (today
 * included), summed over all partitions' P:T:d:YYYY-MM-DD and P:T:m:YYYY-MM
 * hashes. "Today" is the local date in timezone.offset, or SGS_NOW.
 *
 * With --unit, the unit's ledger (台账) of the month follows: its late and
 * invalid records as the consumer kept them, what the bound cut, and the
 * concealed decisions of the month's spot checks (the suspected gaps are the
 * snapshot's: YYYY-MM-ledger.csv). */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/store.h"

enum { W_TODAY, W_MONTH, W_7, W_30, N_WINDOWS };

static const char *const window_key[N_WINDOWS] = {"today", "month", "last_7_days", "last_30_days"};
static const char *const window_title[N_WINDOWS] = {"今日", "本月", "近7日", "近30日"};

struct figures {
    int64_t records, late, invalid;
};

struct unit_status {
    struct figures w[N_WINDOWS];
};

static void add_hash(struct unit_status *st, const sgs_agg_idmap *map, const sgs_registry *reg,
                     const redisReply *h, const int *windows, int n_windows)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i];
        sgs_store_field field;
        int64_t v;
        long row;
        struct figures add = {0, 0, 0};

        if (f->type != REDIS_REPLY_STRING || sgs_agg_reply_int(h->element[i + 1], &v) != 0 ||
            sgs_store_field_parse(f->str, f->len, &field) != 0)
            continue;
        if (field.counter == SGS_STORE_RECORDS)
            add.records = v;
        else if (field.counter == SGS_STORE_LATE)
            add.late = v;
        else if (field.counter == SGS_STORE_INVALID)
            add.invalid = v;
        else
            continue;
        row = sgs_agg_idmap_unit_row(map, reg, field.unit, field.unit_len);
        if (row < 0)
            continue;
        for (int w = 0; w < n_windows; w++) {
            st[row].w[windows[w]].records += add.records;
            st[row].w[windows[w]].late += add.late;
            st[row].w[windows[w]].invalid += add.invalid;
        }
    }
}

/* Partitions read per round trip by status: their replies are added up and
 * freed before the next ones are asked for (a 5,000-unit city's month is a
 * million fields). */
#define STATUS_PARTS_PER_ROUND 8

/* Reads the 30 day buckets and the month of every partition (live figures:
 * no transaction), pipelined a few partitions at a time. */
static int read_status(sgs_agg_ctx *ctx, sgs_day today, struct unit_status *st,
                       const sgs_agg_idmap *map, char *errstr, size_t errstr_size)
{
    char **parts = NULL, key[SGS_STORE_KEY_MAX], ym[8];
    size_t np = 0;
    sgs_rcl_pipe *pipe = NULL;
    int rc = -1;

    if (sgs_agg_partitions_read(ctx, &parts, &np, errstr, errstr_size) != 0)
        return -1;
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    sgs_day_format_month(today, ym);
    for (size_t p0 = 0; p0 < np; p0 += STATUS_PARTS_PER_ROUND) {
        size_t p1 = p0 + STATUS_PARTS_PER_ROUND < np ? p0 + STATUS_PARTS_PER_ROUND : np, k = 0;

        sgs_rcl_pipe_reset(pipe);
        for (size_t p = p0; p < p1; p++) {
            for (int d = 0; d <= 30; d++) {
                char day[16];

                if (d < 30)
                    sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[p], SGS_STORE_DAY,
                                          sgs_day_format(today - d, day));
                else
                    sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[p], SGS_STORE_MONTH,
                                          ym);
                if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGETALL %s",
                                         key) < 0) {
                    snprintf(errstr, errstr_size, "out of memory");
                    goto out;
                }
            }
        }
        if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
            goto out;
        for (size_t p = p0; p < p1; p++) {
            for (int d = 0; d <= 30; d++, k++) {
                redisReply *r = sgs_rcl_pipe_take(pipe, k);
                int windows[3], nw = 0;

                if (r->type == REDIS_REPLY_ERROR) {
                    snprintf(errstr, errstr_size, "redis: HGETALL: %s", r->str);
                    freeReplyObject(r);
                    goto out;
                }
                if (r->type == REDIS_REPLY_ARRAY) {
                    if (d == 30) {
                        windows[nw++] = W_MONTH;
                    } else {
                        if (d == 0)
                            windows[nw++] = W_TODAY;
                        if (d < 7)
                            windows[nw++] = W_7;
                        windows[nw++] = W_30;
                    }
                    add_hash(st, map, ctx->reg, r, windows, nw);
                }
                freeReplyObject(r);
            }
        }
    }
    rc = 0;
out:
    sgs_rcl_pipe_free(pipe);
    sgs_agg_strv_free(parts, np);
    return rc;
}

/* ---- JSON, written directly (5,000 units are 1.5 MB: no DOM) ---------------------- */

/* A small JSON writer: compact, or indented by 2 like jansson's JSON_INDENT(2). */
struct jw {
    sgs_buf *b;
    int pretty;
    int depth;
    int first; /* nothing written yet in the innermost object or array */
};

static void jw_newline(struct jw *w)
{
    if (!w->pretty)
        return;
    sgs_buf_putc(w->b, '\n');
    for (int i = 0; i < w->depth; i++)
        sgs_buf_puts(w->b, "  ");
}

static void jw_open(struct jw *w, char c)
{
    sgs_buf_putc(w->b, c);
    w->depth++;
    w->first = 1;
}

static void jw_close(struct jw *w, char c)
{
    w->depth--;
    if (!w->first)
        jw_newline(w);
    sgs_buf_putc(w->b, c);
    w->first = 0;
}

/* Before a member's value, or an array's element (key NULL). */
static void jw_key(struct jw *w, const char *key)
{
    if (!w->first)
        sgs_buf_putc(w->b, ',');
    jw_newline(w);
    w->first = 0;
    if (key) {
        sgs_buf_put_json_string(w->b, key, strlen(key));
        sgs_buf_puts(w->b, w->pretty ? ": " : ":");
    }
}

static void jw_str(struct jw *w, const char *key, const char *v)
{
    jw_key(w, key);
    sgs_buf_put_json_string(w->b, v, strlen(v));
}

static void jw_int(struct jw *w, const char *key, int64_t v)
{
    jw_key(w, key);
    sgs_buf_put_i64(w->b, v);
}

static void figures_put(struct jw *w, const char *key, const struct figures *f)
{
    jw_key(w, key);
    jw_open(w, '{');
    jw_int(w, "records", f->records);
    jw_int(w, "late", f->late);
    jw_key(w, "late_rate");
    sgs_agg_rate_put(w->b, f->late, f->records);
    jw_int(w, "invalid", f->invalid);
    jw_close(w, '}');
}

static void status_put(struct jw *w, const struct unit_status *st)
{
    for (int i = 0; i < N_WINDOWS; i++)
        figures_put(w, window_key[i], &st->w[i]);
}

/* ---- table ------------------------------------------------------------------------- */

#define N_COLS (N_WINDOWS * 4)

static void cells_of(const struct unit_status *st, char cells[N_COLS][32])
{
    for (int w = 0; w < N_WINDOWS; w++) {
        const struct figures *f = &st->w[w];

        snprintf(cells[w * 4], 32, "%lld", (long long)f->records);
        snprintf(cells[w * 4 + 1], 32, "%lld", (long long)f->late);
        sgs_agg_rate_text(f->late, f->records, cells[w * 4 + 2]);
        snprintf(cells[w * 4 + 3], 32, "%lld", (long long)f->invalid);
    }
}

static void print_table(const sgs_agg_ctx *ctx, const struct unit_status *st, const size_t *rows,
                        size_t n, const struct unit_status *total, sgs_day today)
{
    static const char *const sub[4] = {"数据", "迟报", "迟报率%", "不合格"};
    size_t name_w = sgs_agg_width_of("成员单位"), col_w[N_COLS], win_w[N_WINDOWS];
    char cells[N_COLS][32], day[16], ym[8];
    sgs_buf b;

    for (int c = 0; c < N_COLS; c++)
        col_w[c] = sgs_agg_width_of(sub[c % 4]);
    for (size_t i = 0; i <= n; i++) {
        const struct unit_status *u = i < n ? &st[rows[i]] : total;
        const char *name = i < n ? sgs_registry_at(ctx->reg, rows[i])->name : "合计";
        size_t w = sgs_agg_width_of(name);

        if (!u)
            continue;
        if (w > name_w)
            name_w = w;
        cells_of(u, cells);
        for (int c = 0; c < N_COLS; c++) {
            if (strlen(cells[c]) > col_w[c])
                col_w[c] = strlen(cells[c]);
        }
    }
    for (int w = 0; w < N_WINDOWS; w++) {
        win_w[w] = col_w[w * 4] + col_w[w * 4 + 1] + col_w[w * 4 + 2] + col_w[w * 4 + 3] + 3;
        if (sgs_agg_width_of(window_title[w]) > win_w[w])
            col_w[w * 4] += sgs_agg_width_of(window_title[w]) - win_w[w];
    }

    sgs_buf_init(&b);
    sgs_buf_printf(&b, "%s（%s）  本月：%s\n", sgs_day_format(today, day), ctx->tz_text,
                   sgs_day_format_month(today, ym));
    sgs_agg_width_pad(&b, "", name_w, 0);
    for (int w = 0; w < N_WINDOWS; w++) {
        sgs_buf_puts(&b, " | ");
        sgs_agg_width_pad(&b, window_title[w],
                          col_w[w * 4] + col_w[w * 4 + 1] + col_w[w * 4 + 2] + col_w[w * 4 + 3] + 3,
                          0);
    }
    sgs_buf_puts(&b, "\n");
    sgs_agg_width_pad(&b, "成员单位", name_w, 0);
    for (int c = 0; c < N_COLS; c++) {
        sgs_buf_puts(&b, c % 4 == 0 ? " | " : " ");
        sgs_agg_width_pad(&b, sub[c % 4], col_w[c], 1);
    }
    sgs_buf_puts(&b, "\n");
    for (size_t i = 0; i < name_w; i++)
        sgs_buf_puts(&b, "-");
    for (int c = 0; c < N_COLS; c++) {
        sgs_buf_puts(&b, c % 4 == 0 ? "-+-" : "-");
        for (size_t i = 0; i < col_w[c]; i++)
            sgs_buf_puts(&b, "-");
    }
    sgs_buf_puts(&b, "\n");
    for (size_t i = 0; i <= n; i++) {
        const struct unit_status *u = i < n ? &st[rows[i]] : total;

        if (!u)
            continue;
        sgs_agg_width_pad(&b, i < n ? sgs_registry_at(ctx->reg, rows[i])->name : "合计", name_w, 0);
        cells_of(u, cells);
        for (int c = 0; c < N_COLS; c++) {
            sgs_buf_puts(&b, c % 4 == 0 ? " | " : " ");
            sgs_agg_width_pad(&b, cells[c], col_w[c], 1);
        }
        sgs_buf_puts(&b, "\n");
    }
    if (!b.oom && b.data) {
        /* Drop the padding at line ends. */
        char *out = b.data;

        for (size_t i = 0; i < b.len; i++) {
            if (b.data[i] == '\n')
                while (out > b.data && out[-1] == ' ')
                    out--;
            *out++ = b.data[i];
        }
        fwrite(b.data, 1, (size_t)(out - b.data), stdout);
    }
    fflush(stdout);
    sgs_buf_free(&b);
}

/* Reads the live counters of the rows (registry indexes) and their totals. */
static int read_rows(sgs_agg_ctx *ctx, const char *unit, struct unit_status **st_out,
                     size_t **rows_out, size_t *n_rows_out, struct unit_status *total,
                     int *bad_unit, char *errstr, size_t errstr_size)
{
    size_t n = sgs_registry_count(ctx->reg), n_rows = 0;
    struct unit_status *st = calloc(n ? n : 1, sizeof(*st));
    size_t *rows = calloc(n ? n : 1, sizeof(*rows));
    sgs_agg_idmap *map = sgs_agg_idmap_registry(ctx->reg);
    int rc = -1;

    *bad_unit = 0;
    memset(total, 0, sizeof(*total));
    if (!st || !rows || !map) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (unit) {
        const sgs_unit *u = sgs_registry_find(ctx->reg, unit, strlen(unit));

        if (!u) {
            snprintf(errstr, errstr_size, "--unit '%s': not an id, name or alias in %s", unit,
                     sgs_config_get(ctx->cfg, "units.file"));
            *bad_unit = 1;
            goto out;
        }
        rows[n_rows++] = u->index;
    } else {
        for (size_t i = 0; i < n; i++)
            rows[n_rows++] = i;
    }
    if (read_status(ctx, sgs_agg_today(ctx), st, map, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < n_rows; i++) {
        for (int w = 0; w < N_WINDOWS; w++) {
            total->w[w].records += st[rows[i]].w[w].records;
            total->w[w].late += st[rows[i]].w[w].late;
            total->w[w].invalid += st[rows[i]].w[w].invalid;
        }
    }
    rc = 0;
out:
    sgs_agg_idmap_free(map);
    if (rc != 0) {
        free(st);
        free(rows);
        st = NULL;
        rows = NULL;
    }
    *st_out = st;
    *rows_out = rows;
    *n_rows_out = n_rows;
    return rc;
}

int sgs_agg_status_write(sgs_agg_ctx *ctx, const char *unit, int pretty, sgs_buf *out,
                         int *bad_unit, char *errstr, size_t errstr_size)
{
    struct unit_status *st, total;
    size_t *rows, n_rows, n_groups;
    sgs_day today = sgs_agg_today(ctx);
    char day[16], ym[8], at[32], rebuild[1024];
    const char **group_ids;
    struct jw w = {out, pretty, 0, 1};

    if (read_rows(ctx, unit, &st, &rows, &n_rows, &total, bad_unit, errstr, errstr_size) != 0)
        return -1;
    jw_open(&w, '{');
    jw_str(&w, "today", sgs_day_format(today, day));
    jw_str(&w, "month", sgs_day_format_month(today, ym));
    jw_str(&w, "timezone", ctx->tz_text);
    jw_str(&w, "read_at", sgs_rfc3339_format(sgs_agg_now(ctx), ctx->tz_offset, at));
    if (sgs_agg_rebuild_check(ctx, rebuild, sizeof(rebuild)) == 1)
        jw_str(&w, "rebuilding", rebuild);
    {
        /* the calendar's horizon: the console shows the warning as a banner */
        char warning[SGS_CALENDAR_WARNING_MAX];
        long left;
        int due = sgs_agg_calendar_warning(ctx, warning, sizeof(warning), &left);

        jw_key(&w, "calendar");
        jw_open(&w, '{');
        jw_int(&w, "last_year", sgs_calendar_last_year(ctx->cal));
        jw_int(&w, "days_left", left);
        if (due) {
            jw_str(&w, "warning", warning);
        } else {
            jw_key(&w, "warning");
            sgs_buf_puts(out, "null");
        }
        jw_close(&w, '}');
    }
    {
        /* a Redis that may evict keys: the console shows it as a banner */
        const char *why = sgs_agg_redis_warning(ctx);

        if (why) {
            jw_str(&w, "redis_warning", why);
        } else {
            jw_key(&w, "redis_warning");
            sgs_buf_puts(out, "null");
        }
    }
    group_ids = calloc(sgs_registry_group_count(ctx->reg) + 1, sizeof(*group_ids));
    n_groups = group_ids ? sgs_agg_group_order(ctx->reg, ctx->cfg, group_ids) : 0;
    jw_key(&w, "groups");
    jw_open(&w, '[');
    for (size_t g = 0; g < n_groups; g++) {
        jw_key(&w, NULL);
        jw_open(&w, '{');
        jw_str(&w, "group", group_ids[g]);
        jw_str(&w, "name", sgs_config_group_name(ctx->cfg, group_ids[g]));
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    free(group_ids);
    jw_key(&w, "units");
    jw_open(&w, '[');
    for (size_t i = 0; i < n_rows; i++) {
        const sgs_unit *u = sgs_registry_at(ctx->reg, rows[i]);

        jw_key(&w, NULL);
        jw_open(&w, '{');
        jw_str(&w, "unit_id", u->id);
        jw_str(&w, "name", u->name);
        jw_str(&w, "group", u->group);
        status_put(&w, &st[rows[i]]);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_key(&w, "totals");
    jw_open(&w, '{');
    status_put(&w, &total);
    jw_close(&w, '}');
    jw_close(&w, '}');
    free(st);
    free(rows);
    if (out->oom) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- the unit's ledger ------------------------------------------------------------ */

/* The month's ledger of one unit: every partition's P:T:lg and P:T:lgn, and
 * P:concealed (without the findings withdrawn, P:withdrawn), pipelined (live
 * figures: no transaction). */
static int read_ledger(sgs_agg_ctx *ctx, const char *ym, size_t row, const sgs_agg_idmap *map,
                       sgs_agg_ledger *l, char *errstr, size_t errstr_size)
{
    char **parts = NULL, key[SGS_STORE_KEY_MAX];
    size_t np = 0, total;
    sgs_rcl_pipe *pipe = NULL;
    int rc = -1;

    if (sgs_agg_partitions_read(ctx, &parts, &np, errstr, errstr_size) != 0)
        return -1;
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    for (size_t p = 0; p < np; p++) {
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[p], SGS_STORE_LEDGER, ym);
        if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "LRANGE %s 0 -1",
                                 key) < 0)
            goto oom;
        sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[p], SGS_STORE_LEDGER_N, ym);
        if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGETALL %s", key) <
            0)
            goto oom;
    }
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_CONCEALED, ym);
    if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGETALL %s", key) < 0)
        goto oom;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_WITHDRAWN, ym);
    if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGETALL %s", key) < 0)
        goto oom;
    total = 2 * np + 2;
    if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < total; i++) {
        const redisReply *r = sgs_rcl_pipe_reply(pipe, i);

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: reading the ledger of %s: %s", ym, r->str);
            goto out;
        }
    }
    for (size_t p = 0; p < np; p++) {
        if (sgs_agg_ledger_add_list(l, sgs_rcl_pipe_reply(pipe, 2 * p), map, ctx->reg, (long)row) !=
                0 ||
            sgs_agg_ledger_add_cut(l, sgs_rcl_pipe_reply(pipe, 2 * p + 1), map, ctx->reg,
                                   (long)row) != 0)
            goto oom;
    }
    if (sgs_agg_ledger_add_concealed(l, sgs_rcl_pipe_reply(pipe, total - 2),
                                     sgs_rcl_pipe_reply(pipe, total - 1), map, ctx->reg,
                                     (long)row) != 0 ||
        sgs_agg_ledger_finish(l, NULL) != 0)
        goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(pipe);
    sgs_agg_strv_free(parts, np);
    return rc;
}

/* A text for the terminal: control characters (an escape sequence in a
 * record's text) shown as '?'. */
static void term_text(sgs_buf *b, const char *s)
{
    for (; *s; s++)
        sgs_buf_putc(b, sgs_is_ctrl((unsigned char)*s) ? '?' : *s);
}

/* The ledger's columns without the unit's (status names the unit above). */
#define LEDGER_FIRST_COL 2
/* Widest column of the terminal's ledger table (display columns). */
#define LEDGER_COL_MAX 40

static void print_ledger(const sgs_agg_ctx *ctx, const sgs_agg_ledger *l, const sgs_unit *u,
                         const char *ym)
{
    size_t width[SGS_AGG_LEDGER_COLS] = {0};
    const char *cells[SGS_AGG_LEDGER_COLS];
    char buf[512];
    int number;
    sgs_buf b, t;

    (void)ctx;
    sgs_buf_init(&b);
    sgs_buf_init(&t);
    sgs_buf_puts(&b, "\n");
    term_text(&b, u->name);
    sgs_buf_printf(&b, "（%s）台账 %s：%zu条\n", u->id, ym, l->n);
    if (l->n > 0) {
        for (int c = LEDGER_FIRST_COL; c < SGS_AGG_LEDGER_COLS; c++)
            width[c] = sgs_agg_width_of(sgs_agg_ledger_header[c]);
        for (size_t i = 0; i < l->n; i++) {
            sgs_agg_ledger_cells(&l->v[i], u, cells, buf, sizeof(buf), &number);
            for (int c = LEDGER_FIRST_COL; c < SGS_AGG_LEDGER_COLS - 1; c++) {
                size_t w = sgs_agg_width_of(cells[c]);

                /* a longer text (a junk document number) is written whole,
                 * its row alone out of line */
                if (w > width[c] && w <= LEDGER_COL_MAX)
                    width[c] = w;
            }
        }
        for (size_t i = 0; i <= l->n; i++) {
            if (i > 0)
                sgs_agg_ledger_cells(&l->v[i - 1], u, cells, buf, sizeof(buf), &number);
            for (int c = LEDGER_FIRST_COL; c < SGS_AGG_LEDGER_COLS; c++) {
                const char *text = i == 0 ? sgs_agg_ledger_header[c] : cells[c];

                sgs_buf_reset(&t);
                term_text(&t, text);
                if (c > LEDGER_FIRST_COL)
                    sgs_buf_puts(&b, "  ");
                if (c == SGS_AGG_LEDGER_COLS - 1)
                    sgs_buf_puts(&b, t.data ? t.data : "");
                else
                    sgs_agg_width_pad(&b, t.data ? t.data : "", width[c],
                                      c == SGS_AGG_LEDGER_COL_WORKDAYS);
            }
            sgs_buf_puts(&b, "\n");
        }
    }
    if (!b.oom && b.data) {
        char *out = b.data; /* no padding at line ends */

        for (size_t i = 0; i < b.len; i++) {
            if (b.data[i] == '\n')
                while (out > b.data && out[-1] == ' ')
                    out--;
            *out++ = b.data[i];
        }
        fwrite(b.data, 1, (size_t)(out - b.data), stdout);
    }
    fflush(stdout);
    sgs_buf_free(&b);
    sgs_buf_free(&t);
}

/* JSON names of the ledger's columns (from 类别 on). */
static const char *const ledger_keys[SGS_AGG_LEDGER_COLS] = {
    "unit_id",       "unit_name", "category",    "kind",          "doc_no",
    "decision_date", "deadline",  "reported_at", "workdays_late", "reasons",
};

static json_t *ledger_json(const sgs_agg_ledger *l, const sgs_unit *u, const char *ym)
{
    json_t *o = json_object(), *entries = json_array();
    const char *cells[SGS_AGG_LEDGER_COLS];
    char buf[512];
    int number;

    json_object_set_new(o, "month", json_string(ym));
    for (size_t i = 0; i < l->n; i++) {
        const sgs_agg_ledger_entry *e = &l->v[i];
        json_t *x = json_object();

        sgs_agg_ledger_cells(e, u, cells, buf, sizeof(buf), &number);
        for (int c = LEDGER_FIRST_COL; c < SGS_AGG_LEDGER_COLS; c++) {
            if (c == SGS_AGG_LEDGER_COL_WORKDAYS)
                json_object_set_new(x, ledger_keys[c],
                                    number ? json_integer(e->workdays_late) : json_null());
            else
                json_object_set_new(x, ledger_keys[c], json_string(cells[c]));
        }
        if (e->cat & SGS_AGG_LG_NOTE)
            json_object_set_new(x, "not_listed", json_integer(e->n));
        if (e->source)
            json_object_set_new(x, "source", json_string(e->source));
        json_array_append_new(entries, x);
    }
    json_object_set_new(o, "entries", entries);
    return o;
}

/* The unit named by --unit (an id, a name or an alias), or NULL. */
static const sgs_unit *unit_of(const sgs_agg_ctx *ctx, const char *unit)
{
    return unit ? sgs_registry_find(ctx->reg, unit, strlen(unit)) : NULL;
}

int sgs_agg_cmd_status(sgs_agg_ctx *ctx, const char *unit, int json)
{
    struct unit_status *st = NULL, total;
    size_t *rows = NULL, n_rows = 0;
    char err[1024], ym[8];
    int bad_unit = 0, rc = SGS_AGG_EXIT_RUNTIME;
    const sgs_unit *one = unit_of(ctx, unit);
    sgs_agg_idmap *map = NULL;
    sgs_agg_ledger ledger;
    sgs_buf b;

    memset(&ledger, 0, sizeof(ledger));
    sgs_buf_init(&b);
    sgs_day_format_month(sgs_agg_today(ctx), ym);
    if (json) {
        if (sgs_agg_status_write(ctx, unit, 1, &b, &bad_unit, err, sizeof(err)) != 0) {
            sgs_error("%s%s", bad_unit ? "" : "status: ", err);
            rc = bad_unit ? SGS_AGG_EXIT_USAGE : SGS_AGG_EXIT_RUNTIME;
            goto out;
        }
    } else if (read_rows(ctx, unit, &st, &rows, &n_rows, &total, &bad_unit, err, sizeof(err)) !=
               0) {
        sgs_error("%s%s", bad_unit ? "" : "status: ", err);
        rc = bad_unit ? SGS_AGG_EXIT_USAGE : SGS_AGG_EXIT_RUNTIME;
        goto out;
    }
    if (one) {
        map = sgs_agg_idmap_registry(ctx->reg);
        if (!map || read_ledger(ctx, ym, one->index, map, &ledger, err, sizeof(err)) != 0) {
            sgs_error("status: %s", map ? err : "out of memory");
            goto out;
        }
    }
    if (sgs_agg_rebuild_check(ctx, err, sizeof(err)) == 1)
        sgs_warn("status: %s", err);
    if (json) {
        if (one && b.len > 0 && b.data[b.len - 1] == '}') {
            /* the unit's ledger, as the last member of the object */
            json_t *l = ledger_json(&ledger, one, ym);
            char *text = l ? json_dumps(l, SGS_AGG_JSON_COMPACT) : NULL;
            b.len--;
            sgs_buf_printf(&b, ",\"ledger\":%s}", text ? text : "null");
            free(text);
            json_decref(l);
        }
        fwrite(b.data, 1, b.len, stdout);
        putchar('\n');
        fflush(stdout);
    } else {
        char warning[SGS_CALENDAR_WARNING_MAX];

        if (sgs_agg_calendar_warning(ctx, warning, sizeof(warning), NULL))
            printf("注意：%s\n\n", warning);
        print_table(ctx, st, rows, n_rows, n_rows > 1 ? &total : NULL, sgs_agg_today(ctx));
        if (one)
            print_ledger(ctx, &ledger, one, ym);
    }
    rc = SGS_AGG_EXIT_OK;
out:
    sgs_agg_ledger_free(&ledger);
    sgs_agg_idmap_free(map);
    sgs_buf_free(&b);
    free(st);
    free(rows);
    return rc;
}

/* YYYY-MM.xlsx (REFERENCE §10) with libxlsxwriter: a sheet per group holding its
 * annex table (the same rows as its CSV), and the 台账 sheet holding the
 * ledger (the same rows as the ledger CSV), the notice's last annex.
 *
 * Texts (unit names, document numbers, reasons: other people's text) are
 * always written with worksheet_write_string, which stores a string cell: a
 * text starting with '=' stays that text and is never a formula. Counts and
 * rates are numbers; no cell holds a formula (the 合计 row's figures are the
 * model's sums, computed like every other figure). */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

#define PAPER_A4 9
/* Column widths in Excel's units (about one Latin digit): a CJK character
 * takes two (width.c counts it so), plus room for the cell's margins. */
#define WIDTH_PAD 2
#define WIDTH_MIN 6
#define WIDTH_MAX 60
/* Excel's limit on a cell's text is 32,767 characters; longer texts are cut. */
#define CELL_TEXT_MAX 32000

struct book {
    lxw_workbook *wb;
    lxw_format *title, *annex_no, *head, *text, *num, *rate, *sum_text, *sum_num, *sum_rate;
    lxw_error err; /* the first failure */
};

static void note(struct book *bk, lxw_error e)
{
    if (e != LXW_NO_ERROR && bk->err == LXW_NO_ERROR)
        bk->err = e;
}

static void put_text(struct book *bk, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, const char *s,
                     lxw_format *f)
{
    size_t len = strlen(s);

    if (len > CELL_TEXT_MAX) {
        char *cut = strndup(s, sgs_utf8_cut(s, CELL_TEXT_MAX));

        if (!cut) {
            note(bk, LXW_ERROR_MEMORY_MALLOC_FAILED);
            return;
        }
        note(bk, worksheet_write_string(ws, r, c, cut, f));
        free(cut);
        return;
    }
    note(bk, worksheet_write_string(ws, r, c, s, f)); /* "" is written as a blank cell */
}

static double col_width(const char *s)
{
    size_t w = sgs_agg_width_of(s) + WIDTH_PAD;

    return (double)(w < WIDTH_MIN ? WIDTH_MIN : w > WIDTH_MAX ? WIDTH_MAX : w);
}

static void widen(double *w, const char *s)
{
    double x = col_width(s);

    if (x > *w)
        *w = x;
}

void sgs_agg_xlsx_sheet_name(const char *name, char *out, size_t size)
{
    size_t n = 0, chars = 0;

    for (const unsigned char *p = (const unsigned char *)name; *p && chars < LXW_SHEETNAME_MAX;) {
        size_t k = 1;

        if (*p >= 0xC0)
            while ((p[k] & 0xC0) == 0x80 && k < 4)
                k++;
        if (n + k + 1 > size)
            break;
        if (k == 1 && (strchr("[]:*?/\\", *p) || *p < 0x20))
            out[n] = '_';
        else
            memcpy(out + n, p, k);
        n += k;
        p += k;
        chars++;
    }
    out[n] = '\0';
    /* Excel refuses an apostrophe at either end. */
    if (n > 0 && out[0] == '\'')
        out[0] = '_';
    if (n > 0 && out[n - 1] == '\'')
        out[n - 1] = '_';
    if (n == 0)
        snprintf(out, size, "Sheet");
    else if (strcmp(out, "台账") == 0)
        snprintf(out, size, "台账_");
}

/* A sheet name not used yet: name, else "name (2)", "name (3)", ... */
static lxw_worksheet *add_sheet(struct book *bk, const char *name)
{
    char base[128], try[160];

    sgs_agg_xlsx_sheet_name(name, base, sizeof(base));
    snprintf(try, sizeof(try), "%s", base);
    for (int k = 2; workbook_get_worksheet_by_name(bk->wb, try) && k < 1000; k++) {
        char shorter[128];

        /* room for " (k)" inside 31 characters */
        snprintf(shorter, sizeof(shorter), "%s", base);
        if (strlen(shorter) > 0) {
            size_t chars = 0, i = 0, keep = 0;

            for (; shorter[i]; i++) {
                if (((unsigned char)shorter[i] & 0xC0) != 0x80) {
                    if (chars == LXW_SHEETNAME_MAX - 6)
                        break;
                    chars++;
                }
                keep = i + 1;
            }
            shorter[keep] = '\0';
        }
        snprintf(try, sizeof(try), "%s (%d)", shorter, k);
    }
    return workbook_add_worksheet(bk->wb, try);
}

static lxw_format *format(struct book *bk, int bold, int border, const char *num, uint8_t align)
{
    lxw_format *f = workbook_add_format(bk->wb);

    if (!f)
        return NULL;
    format_set_font_name(f, "宋体");
    format_set_font_size(f, 11);
    if (bold)
        format_set_bold(f);
    if (border)
        format_set_border(f, LXW_BORDER_THIN);
    if (num)
        format_set_num_format(f, num);
    if (align)
        format_set_align(f, align);
    format_set_align(f, LXW_ALIGN_VERTICAL_CENTER);
    return f;
}

static int formats(struct book *bk)
{
    bk->title = format(bk, 1, 0, NULL, LXW_ALIGN_CENTER);
    bk->annex_no = format(bk, 1, 0, NULL, LXW_ALIGN_LEFT);
    bk->head = format(bk, 1, 1, NULL, LXW_ALIGN_CENTER);
    bk->text = format(bk, 0, 1, NULL, 0);
    bk->num = format(bk, 0, 1, "0", LXW_ALIGN_RIGHT);
    bk->rate = format(bk, 0, 1, "0.00", LXW_ALIGN_RIGHT);
    bk->sum_text = format(bk, 1, 1, NULL, LXW_ALIGN_CENTER);
    bk->sum_num = format(bk, 1, 1, "0", LXW_ALIGN_RIGHT);
    bk->sum_rate = format(bk, 1, 1, "0.00", LXW_ALIGN_RIGHT);
    if (!bk->title || !bk->annex_no || !bk->head || !bk->text || !bk->num || !bk->rate ||
        !bk->sum_text || !bk->sum_num || !bk->sum_rate)
        return -1;
    format_set_font_size(bk->title, 14);
    format_set_bg_color(bk->head, 0xD9D9D9);
    return 0;
}

/* A rate as a number (percent with 2 decimals), or "-" without records. */
static void put_rate(struct book *bk, lxw_worksheet *ws, lxw_row_t r, lxw_col_t c, int64_t num,
                     int64_t den, lxw_format *f, lxw_format *text)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    if (h < 0)
        put_text(bk, ws, r, c, "-", text);
    else
        note(bk, worksheet_write_number(ws, r, c, (double)h / 100.0, f));
}

static const char *const annex_header[5] = {"序号", "成员单位名称", "数据总量", "迟报量",
                                            "迟报率(%)"};

/* Rows: 0 附件N, 1 the title (merged), 2 the header, then the units and 合计. */
static void group_sheet(struct book *bk, const sgs_agg_snapshot *s, size_t gi)
{
    const sgs_agg_group *g = &s->groups[gi];
    lxw_worksheet *ws = add_sheet(bk, g->name);
    double w[5];
    char text[512];
    lxw_row_t r = 3;

    if (!ws) {
        note(bk, LXW_ERROR_SHEETNAME_LENGTH_EXCEEDED);
        return;
    }
    for (int c = 0; c < 5; c++)
        w[c] = col_width(annex_header[c]);
    snprintf(text, sizeof(text), "附件%zu", gi + 1);
    put_text(bk, ws, 0, 0, text, bk->annex_no);
    snprintf(text, sizeof(text), "%s“双公示”数据报送情况统计表（%d年%d月%s）", g->name, s->year,
             s->mon, s->preview ? "，临时" : "");
    note(bk, worksheet_merge_range(ws, 1, 0, 1, 4, text, bk->title));
    note(bk, worksheet_set_row(ws, 1, 24, NULL));
    for (int c = 0; c < 5; c++)
        put_text(bk, ws, 2, (lxw_col_t)c, annex_header[c], bk->head);
    for (size_t i = 0; i < g->n_rows; i++, r++) {
        const sgs_agg_row *row = &s->rows[g->rows[i]];

        note(bk, worksheet_write_number(ws, r, 0, (double)(i + 1), bk->num));
        put_text(bk, ws, r, 1, row->unit->name, bk->text);
        note(bk, worksheet_write_number(ws, r, 2, (double)row->c.records, bk->num));
        note(bk, worksheet_write_number(ws, r, 3, (double)row->c.late, bk->num));
        put_rate(bk, ws, r, 4, row->c.late, row->c.records, bk->rate, bk->num);
        widen(&w[1], row->unit->name);
    }
    put_text(bk, ws, r, 0, "合计", bk->sum_text);
    put_text(bk, ws, r, 1, "", bk->sum_text);
    note(bk, worksheet_write_number(ws, r, 2, (double)g->sum.records, bk->sum_num));
    note(bk, worksheet_write_number(ws, r, 3, (double)g->sum.late, bk->sum_num));
    put_rate(bk, ws, r, 4, g->sum.late, g->sum.records, bk->sum_rate, bk->sum_num);
    for (int c = 0; c < 5; c++)
        note(bk, worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, w[c], NULL));
    worksheet_freeze_panes(ws, 3, 0);
    worksheet_set_paper(ws, PAPER_A4);
    note(bk, worksheet_repeat_rows(ws, 2, 2));
    worksheet_fit_to_pages(ws, 1, 0);
}

/* The ledger annex (the notice's last, 附件<groups + 1>), laid out like a group
 * sheet: 0 附件N, 1 the title (merged), 2 the header, then the entries. */
static void ledger_sheet(struct book *bk, const sgs_agg_snapshot *s)
{
    lxw_worksheet *ws = workbook_add_worksheet(bk->wb, "台账");
    double w[SGS_AGG_LEDGER_COLS];
    char buf[512];

    if (!ws) {
        note(bk, LXW_ERROR_SHEETNAME_ALREADY_USED);
        return;
    }
    snprintf(buf, sizeof(buf), "附件%zu", s->n_groups + 1);
    put_text(bk, ws, 0, 0, buf, bk->annex_no);
    sgs_agg_notice_ledger_title(s, buf, sizeof(buf));
    note(bk, worksheet_merge_range(ws, 1, 0, 1, SGS_AGG_LEDGER_COLS - 1, buf, bk->title));
    note(bk, worksheet_set_row(ws, 1, 24, NULL));
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++) {
        w[c] = col_width(sgs_agg_ledger_header[c]);
        put_text(bk, ws, 2, (lxw_col_t)c, sgs_agg_ledger_header[c], bk->head);
    }
    for (size_t i = 0; i < s->ledger.n; i++) {
        const sgs_agg_ledger_entry *e = &s->ledger.v[i];
        const char *cells[SGS_AGG_LEDGER_COLS];
        lxw_row_t r = (lxw_row_t)(i + 3);
        int number;

        sgs_agg_ledger_cells(e, s->rows[e->row].unit, cells, buf, sizeof(buf), &number);
        for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++) {
            if (c == SGS_AGG_LEDGER_COL_WORKDAYS && number)
                note(bk, worksheet_write_number(ws, r, (lxw_col_t)c, (double)e->workdays_late,
                                                bk->num));
            else
                put_text(bk, ws, r, (lxw_col_t)c, cells[c], bk->text);
            widen(&w[c], cells[c]);
        }
    }
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++)
        note(bk, worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, w[c], NULL));
    worksheet_freeze_panes(ws, 3, 0);
    note(bk, worksheet_autofilter(ws, 2, 0, (lxw_row_t)(s->ledger.n + 2), SGS_AGG_LEDGER_COLS - 1));
    worksheet_set_paper(ws, PAPER_A4);
    worksheet_set_landscape(ws);
    note(bk, worksheet_repeat_rows(ws, 2, 2));
    worksheet_fit_to_pages(ws, 1, 0);
}

int sgs_agg_xlsx_write(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *path,
                       char *errstr, size_t errstr_size)
{
    struct book bk;
    const char *city = sgs_config_get(cfg, "report.title");
    char title[512];
    lxw_doc_properties props;
    lxw_error e;

    memset(&bk, 0, sizeof(bk));
    bk.wb = workbook_new(path);
    if (!bk.wb) {
        snprintf(errstr, errstr_size, "%s: cannot start the workbook", path);
        return -1;
    }
    snprintf(title, sizeof(title), "%s“双公示”数据报送情况（%d年%d月%s）", city ? city : "",
             s->year, s->mon, s->preview ? "，临时" : "");
    memset(&props, 0, sizeof(props));
    props.title = title;
    props.comments = "sgs-aggregator";
    /* the version's time, not the time of writing: the workbook is then a
     * function of the snapshot like the other files (serve renders it again
     * byte for byte); 0 (none) lets libxlsxwriter take the current time */
    {
        const char *at = json_string_value(json_object_get(s->json, "generated_at"));
        int64_t t;

        if (at && sgs_rfc3339_parse(at, strlen(at), &t) == 0 && t > 0)
            props.created = (time_t)t;
    }
    note(&bk, workbook_set_properties(bk.wb, &props));
    if (formats(&bk) != 0)
        note(&bk, LXW_ERROR_MEMORY_MALLOC_FAILED);
    else {
        for (size_t gi = 0; gi < s->n_groups; gi++)
            group_sheet(&bk, s, gi);
        ledger_sheet(&bk, s);
    }
    e = workbook_close(bk.wb); /* frees the workbook in every case */
    if (bk.err == LXW_NO_ERROR)
        bk.err = e;
    if (bk.err != LXW_NO_ERROR) {
        snprintf(errstr, errstr_size, "%s: %s", path, lxw_strerror(bk.err));
        return -1;
    }
    return 0;
}

/* YYYY-MM-report.html (REFERENCE §10): the month's report as one self-contained
 * page for print on A4: the notice (notice.c through a sink, so its text is
 * the markdown notice's), the trend of the last 12 months after the overview,
 * per group a page with its annex table (the CSV's rows) and two charts
 * (svg.c), and last the ledger annex (the ledger CSV's rows). No script, no external resource:
 * styles inline, charts inline SVG, fonts from the reader's system.
 *
 * Every text that comes from elsewhere (unit and group names, document
 * numbers in the gap sentences, report.* settings) goes through
 * sgs_agg_html_text (htmltext.c), so it is shown as text and is never markup. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

static const char style[] =
    "@page{size:A4;margin:20mm 18mm 18mm 18mm}"
    /* the ledger annex (ten columns) on landscape pages of its own */
    "@page wide{size:A4 landscape;margin:18mm 18mm 16mm 18mm}"
    "html{font-family:\"FangSong\",\"STFangsong\",\"仿宋\",\"仿宋_GB2312\",\"SimSun\",\"Songti "
    "SC\","
    "\"Noto Serif CJK SC\",\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",serif;font-size:12pt;"
    "line-height:1.65;color:#000;background:#fff}"
    "body{margin:0 auto;max-width:180mm}"
    "h1,h2,.annex-title{font-family:\"SimHei\",\"黑体\",\"Heiti SC\",\"Noto Sans CJK SC\","
    "\"WenQuanYi Micro Hei\",sans-serif}"
    "h1{font-size:18pt;text-align:center;margin:0 0 .8em;line-height:1.4}"
    "h2{font-size:14pt;margin:1em 0 .3em}"
    "h3{font-size:12pt;margin:.8em 0 .2em}"
    "p{margin:0 0 .4em;text-align:justify}"
    "p.para{text-indent:2em}"
    "p.version{text-align:center}"
    "p.date{text-align:right;margin-top:1.5em}"
    "p.issuer{text-align:center;font-size:16pt;font-weight:bold;color:#c00;margin:0 0 .4em}"
    "p.doc-no{text-align:center;margin:0 0 1em}"
    "p.signature{text-align:right;margin-top:1.5em}"
    "p.signature+p.date{margin-top:0}"
    ".annex{break-before:page;page-break-before:always}"
    ".annex-no{font-weight:bold;margin:0}"
    ".annex-title{font-size:14pt;text-align:center;margin:.4em 0 .6em}"
    "table{border-collapse:collapse;width:100%;font-size:10.5pt;line-height:1.4}"
    "thead{display:table-header-group}"
    "th,td{border:1px solid #000;padding:2px 6px}"
    "th{background:#e8e8e8;font-weight:bold}"
    "td.n{text-align:right;white-space:nowrap}"
    "table.ledger{font-size:9pt}"
    ".annex.wide{page:wide}"
    /* codes, kinds, dates, times and counts on one line; names, document
       numbers and reasons wrap */
    "table.ledger th,table.ledger td:nth-child(1),table.ledger td:nth-child(3),"
    "table.ledger td:nth-child(4),table.ledger td:nth-child(n+6):nth-child(-n+9)"
    "{white-space:nowrap}"
    "@media print{body{max-width:none}}"
    "tr.sum td{font-weight:bold}"
    "tr,figure{break-inside:avoid;page-break-inside:avoid}"
    "figure{margin:1em 0}"
    "figcaption{text-align:center;font-size:10.5pt}"
    "svg{display:block;margin:0 auto;max-width:100%;height:auto}"
    "svg text{font-family:\"SimHei\",\"Noto Sans CJK SC\",\"WenQuanYi Micro Hei\",sans-serif}"
    "@media screen{body{padding:16px}.annex{border-top:1px dashed #999;margin-top:2em}}";

struct page {
    sgs_buf *b;
    const sgs_agg_snapshot *s;
    int figure;  /* figures so far (their numbers) */
    int article; /* the notice's <article> is open */
};

static void h_heading(void *arg, int level, const char *text)
{
    struct page *pg = arg;

    sgs_buf_printf(pg->b, "<h%d>", level);
    sgs_agg_html_text(pg->b, text);
    sgs_buf_printf(pg->b, "</h%d>\n", level);
}

static void h_paragraph(void *arg, const char *text)
{
    struct page *pg = arg;

    sgs_buf_puts(pg->b, "<p class=\"para\">");
    sgs_agg_html_text(pg->b, text);
    sgs_buf_puts(pg->b, "</p>\n");
}

static void h_line(void *arg, enum sgs_agg_notice_line role, const char *text)
{
    static const char *const cls[] = {"version", "salutation", "annexes",  "date",
                                      "issuer",  "doc-no",     "signature"};
    struct page *pg = arg;

    sgs_buf_printf(pg->b, "<p class=\"%s\">", cls[role]);
    sgs_agg_html_text(pg->b, text);
    sgs_buf_puts(pg->b, "</p>\n");
}

static void caption(struct page *pg, const char *text)
{
    sgs_buf_printf(pg->b, "<figcaption>图%d　", ++pg->figure);
    sgs_agg_html_text(pg->b, text);
    sgs_buf_puts(pg->b, "</figcaption></figure>\n");
}

static void h_figure(void *arg, enum sgs_agg_notice_figure which)
{
    struct page *pg = arg;
    const sgs_agg_snapshot *s = pg->s;
    char text[512];

    if (which != SGS_AGG_NOTICE_FIG_TREND)
        return;
    sgs_buf_puts(pg->b, "<figure class=\"trend\">");
    sgs_agg_svg_trend(pg->b, s->history, SGS_AGG_HISTORY_MONTHS);
    snprintf(text, sizeof(text), "%s至%s“双公示”数据报送量与迟报率", s->history[0].month,
             s->history[SGS_AGG_HISTORY_MONTHS - 1].month);
    caption(pg, text);
}

static void table(struct page *pg, const sgs_agg_group *g)
{
    static const char *const head[5] = {"序号", "成员单位名称", "数据总量", "迟报量", "迟报率(%)"};
    const char *cells[5];
    char bufs[4][32];

    sgs_buf_puts(pg->b, "<table>\n<thead><tr>");
    for (int c = 0; c < 5; c++)
        sgs_buf_printf(pg->b, "<th>%s</th>", head[c]);
    sgs_buf_puts(pg->b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i <= g->n_rows; i++) {
        sgs_agg_annex_cells(pg->s, g, i, cells, bufs);
        sgs_buf_puts(pg->b, i < g->n_rows ? "<tr>" : "<tr class=\"sum\">");
        for (int c = 0; c < 5; c++) {
            sgs_buf_puts(pg->b, c == 1 ? "<td>" : "<td class=\"n\">");
            sgs_agg_html_text(pg->b, cells[c]);
            sgs_buf_puts(pg->b, "</td>");
        }
        sgs_buf_puts(pg->b, "</tr>\n");
    }
    sgs_buf_puts(pg->b, "</tbody>\n</table>\n");
}

struct rate_item {
    int64_t rate; /* hundredths, -1 without records */
    size_t pos;   /* display position in the group */
};

static int cmp_rate(const void *a, const void *b)
{
    const struct rate_item *x = a, *y = b;

    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The group's two charts: units by records (display order: records
 * descending) and by late rate (descending; units without records last). */
static void group_charts(struct page *pg, const sgs_agg_group *g)
{
    const sgs_agg_snapshot *s = pg->s;
    size_t n = g->n_rows;
    const char **labels = calloc(n ? n : 1, sizeof(*labels));
    int64_t *values = calloc(n ? n : 1, sizeof(*values));
    struct rate_item *items = calloc(n ? n : 1, sizeof(*items));
    sgs_buf t;

    sgs_buf_init(&t);
    if (!labels || !values || !items) {
        pg->b->oom = 1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sgs_agg_row *r = &s->rows[g->rows[i]];

        labels[i] = r->unit->name;
        values[i] = r->c.records;
        items[i].rate = sgs_agg_rate_hundredths(r->c.late, r->c.records);
        items[i].pos = i;
    }
    sgs_buf_printf(&t, "%s各单位数据报送量（条）", g->name);
    sgs_buf_puts(pg->b, "<figure>");
    sgs_agg_svg_bars(pg->b, t.data ? t.data : "", labels, values, n, 0);
    caption(pg, t.data ? t.data : "");

    qsort(items, n, sizeof(*items), cmp_rate);
    for (size_t i = 0; i < n; i++) {
        labels[i] = s->rows[g->rows[items[i].pos]].unit->name;
        values[i] = items[i].rate;
    }
    sgs_buf_reset(&t);
    sgs_buf_printf(&t, "%s各单位迟报率（%%）", g->name);
    sgs_buf_puts(pg->b, "<figure>");
    sgs_agg_svg_bars(pg->b, t.data ? t.data : "", labels, values, n, 1);
    caption(pg, t.data ? t.data : "");
out:
    if (t.oom)
        pg->b->oom = 1;
    sgs_buf_free(&t);
    free(labels);
    free(values);
    free(items);
}

/* The ledger annex: the ledger CSV's columns and rows. */
static void ledger_table(struct page *pg)
{
    const sgs_agg_snapshot *s = pg->s;
    char buf[512];

    if (s->ledger.n == 0) {
        sgs_buf_puts(pg->b, "<p class=\"para\">本月无迟报、不合格、瞒报或疑似漏报数据。</p>\n");
        return;
    }
    sgs_buf_puts(pg->b, "<table class=\"ledger\">\n<thead><tr>");
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++)
        sgs_buf_printf(pg->b, "<th>%s</th>", sgs_agg_ledger_header[c]);
    sgs_buf_puts(pg->b, "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < s->ledger.n; i++) {
        const sgs_agg_ledger_entry *e = &s->ledger.v[i];
        const char *cells[SGS_AGG_LEDGER_COLS];
        int number;

        sgs_agg_ledger_cells(e, s->rows[e->row].unit, cells, buf, sizeof(buf), &number);
        sgs_buf_puts(pg->b, "<tr>");
        for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++) {
            sgs_buf_puts(pg->b, c == SGS_AGG_LEDGER_COL_WORKDAYS ? "<td class=\"n\">" : "<td>");
            sgs_agg_html_text(pg->b, cells[c]);
            sgs_buf_puts(pg->b, "</td>");
        }
        sgs_buf_puts(pg->b, "</tr>\n");
    }
    sgs_buf_puts(pg->b, "</tbody>\n</table>\n");
}

static void h_annex(void *arg, size_t number, const sgs_agg_group *g, const char *title)
{
    struct page *pg = arg;

    if (pg->article) {
        sgs_buf_puts(pg->b, "</article>\n");
        pg->article = 0;
    }
    sgs_buf_printf(pg->b, "<section class=\"annex%s\">\n<p class=\"annex-no\">附件%zu</p>\n",
                   g ? "" : " wide", number);
    sgs_buf_puts(pg->b, "<h2 class=\"annex-title\">");
    sgs_agg_html_text(pg->b, title);
    sgs_buf_puts(pg->b, "</h2>\n");
    if (g) {
        table(pg, g);
        group_charts(pg, g);
    } else {
        ledger_table(pg);
    }
    sgs_buf_puts(pg->b, "</section>\n");
}

void sgs_agg_html_build(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg)
{
    struct page pg = {b, s, 0, 1};
    sgs_agg_notice_sink sink = {h_heading, h_paragraph, h_line, h_figure, h_annex, &pg};
    const char *title = sgs_config_get(cfg, "report.title");

    sgs_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"generator\" content=\"sgs-aggregator\">\n<title>");
    sgs_agg_html_text(b, title ? title : "");
    sgs_buf_printf(b, "“双公示”数据报送情况通报（%d年%d月%s）</title>\n<style>", s->year, s->mon,
                   s->preview ? "，临时" : "");
    sgs_buf_puts(b, style);
    sgs_buf_puts(b, "</style>\n</head>\n<body>\n<article class=\"notice\">\n");
    /* The notice's text is an article; the first annex ends it. */
    if (sgs_agg_notice_emit(&sink, s, cfg) != 0)
        b->oom = 1;
    if (pg.article)
        sgs_buf_puts(b, "</article>\n");
    sgs_buf_puts(b, "</body>\n</html>\n");
}

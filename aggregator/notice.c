/* The monthly notice (通报, YYYY-MM-notice.md, docs/AGGREGATOR.md): a pure
 * function of the snapshot model and a few report.* keys, so its sentences can
 * be checked without Redis (tests/unit/agg_notice_test.c). */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

/* Lists in the notice name at most this many units, then "等N个单位". */
#define NOTICE_LIST_MAX 30
/* Missing document numbers the notice names per unit (the snapshot and the
 * ledger list every one; the notice's sentence stays readable). */
#define NOTICE_GAP_NUMBERS 50

static void md_cell(sgs_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            sgs_buf_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            sgs_buf_puts(b, " ");
        else
            sgs_buf_append(b, s, 1);
    }
}

void sgs_agg_annex_cells(const sgs_agg_snapshot *s, const sgs_agg_group *g, size_t i,
                         const char *cells[5], char bufs[4][32])
{
    const sgs_agg_counts *c = i < g->n_rows ? &s->rows[g->rows[i]].c : &g->sum;

    if (i < g->n_rows) {
        snprintf(bufs[0], 32, "%zu", i + 1);
        cells[0] = bufs[0];
        cells[1] = s->rows[g->rows[i]].unit->name;
    } else {
        cells[0] = "合计";
        cells[1] = "";
    }
    snprintf(bufs[1], 32, "%lld", (long long)c->records);
    snprintf(bufs[2], 32, "%lld", (long long)c->late);
    sgs_agg_rate_text(c->late, c->records, bufs[3]);
    cells[2] = bufs[1];
    cells[3] = bufs[2];
    cells[4] = bufs[3];
}

static void md_table(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_agg_group *g)
{
    const char *cells[5];
    char bufs[4][32];

    sgs_buf_puts(b, "| 序号 | 成员单位名称 | 数据总量 | 迟报量 | 迟报率(%) |\n");
    sgs_buf_puts(b, "|---:|---|---:|---:|---:|\n");
    for (size_t i = 0; i <= g->n_rows; i++) {
        sgs_agg_annex_cells(s, g, i, cells, bufs);
        sgs_buf_printf(b, "| %s | ", cells[0]);
        md_cell(b, cells[1]);
        sgs_buf_printf(b, " | %s | %s | %s |\n", cells[2], cells[3], cells[4]);
    }
}

/* Rows in display order (groups in report order, records descending inside). */
static size_t display_rows(const sgs_agg_snapshot *s, size_t *out)
{
    size_t n = 0;

    for (size_t gi = 0; gi < s->n_groups; gi++) {
        for (size_t i = 0; i < s->groups[gi].n_rows; i++)
            out[n++] = s->groups[gi].rows[i];
    }
    return n;
}

/* A unit of a list: its figure and its display position. */
struct ranked {
    int64_t key;
    size_t pos, row;
};

/* The figure descending, then display order. */
static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The units of a section's list, each ordered by the figure the section is
 * about (most first; ties in display order), so every section lists the same
 * way: rows[0..n) in display order, key[i] the figure of rows[i], in[i] whether
 * it is listed. Fills out (room for n) and returns how many; 0 when out of
 * memory (*oom set). */
static size_t rank_rows(const size_t *rows, size_t n, const int64_t *key, const int *in,
                        size_t *out, int *oom)
{
    struct ranked *v = calloc(n ? n : 1, sizeof(*v));
    size_t k = 0;

    if (!v) {
        *oom = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!in[i])
            continue;
        v[k].key = key[i];
        v[k].pos = i;
        v[k].row = rows[i];
        k++;
    }
    qsort(v, k, sizeof(*v), cmp_ranked);
    for (size_t i = 0; i < k; i++)
        out[i] = v[i].row;
    free(v);
    return k;
}

/* Ends an enumeration that was cut: "等N个单位", and "（详见附件K）" naming the
 * annex that holds every unit's details (ref; NULL: none does). */
static void list_tail(sgs_buf *b, size_t shown, size_t total, const char *ref)
{
    if (total > shown) {
        sgs_buf_printf(b, "等%zu个单位", total);
        if (ref && *ref)
            sgs_buf_printf(b, "（详见%s）", ref);
    }
}

/* The notice being emitted: its sink, and whether a text was lost. */
struct notice {
    const sgs_agg_notice_sink *sink;
    int oom;
    char ledger_ref[32];  /* "附件K": the ledger (台账), the last annex */
    char groups_ref[256]; /* "附件1、附件2": the group tables */
    /* the lists' scratch: figures and in-list marks by display position, the
     * ordered rows */
    int64_t *key;
    int *in;
    size_t *list;
};

/* The rows of a list by its figure (rank_rows with the notice's scratch). */
static size_t section_list(struct notice *nt, const size_t *rows, size_t n)
{
    return rank_rows(rows, n, nt->key, nt->in, nt->list, &nt->oom);
}

static void heading(struct notice *nt, int level, const char *text)
{
    nt->sink->heading(nt->sink->arg, level, text);
}

/* A paragraph composed in p (out of memory: noted, not emitted). */
static void para(struct notice *nt, const sgs_buf *p)
{
    if (p->oom || !p->data) {
        nt->oom = 1;
        return;
    }
    nt->sink->paragraph(nt->sink->arg, p->data);
}

/* "2024年1月4日", the local date of an RFC 3339 text; "" when there is none. */
static void cn_date(char *out, size_t size, const char *rfc3339)
{
    sgs_day day;
    int y, m, d;

    if (rfc3339 && sgs_day_parse(rfc3339, strnlen(rfc3339, 10), &day) == 0) {
        sgs_day_to_ymd(day, &y, &m, &d);
        snprintf(out, size, "%d年%d月%d日", y, m, d);
    } else {
        out[0] = '\0';
    }
}

/* ---- notice sections --------------------------------------------------------------- */

static void notice_overview(struct notice *nt, const sgs_agg_snapshot *s)
{
    const sgs_agg_counts *t = &s->totals;
    char r1[SGS_AGG_RATE_TEXT_MAX], r2[SGS_AGG_RATE_TEXT_MAX];
    sgs_buf p;

    heading(nt, 2, "一、总体情况");
    sgs_buf_init(&p);
    if (t->records > 0) {
        sgs_buf_printf(
            &p,
            "%d年%d月，全市共归集“双公示”数据%lld条，其中行政许可%lld条、行政处罚"
            "%lld条。经校验，合格数据%lld条，数据合格率%s%%；迟报数据%lld条，"
            "迟报率%s%%。",
            s->year, s->mon, (long long)t->records, (long long)t->lic, (long long)t->pen,
            (long long)sgs_agg_rate_valid_count(t->records, t->invalid),
            sgs_agg_rate_text(sgs_agg_rate_valid_count(t->records, t->invalid), t->records, r1),
            (long long)t->late, sgs_agg_rate_text(t->late, t->records, r2));
    } else {
        sgs_buf_printf(&p, "%d年%d月，全市未归集到“双公示”数据。", s->year, s->mon);
    }
    if (t->dup > 0)
        sgs_buf_printf(&p, "另有重复报送数据%lld条，未计入数据总量。", (long long)t->dup);
    if (t->upd > 0 || t->rev > 0) {
        sgs_buf_puts(&p, "本月各单位");
        if (t->upd > 0)
            sgs_buf_printf(&p, "更正已报送的决定%lld条", (long long)t->upd);
        if (t->rev > 0)
            sgs_buf_printf(&p, "%s撤销公示已报送的决定%lld条", t->upd > 0 ? "、" : "",
                           (long long)t->rev);
        sgs_buf_printf(&p, "，%s不重复计入数据总量%s。", t->upd > 0 && t->rev > 0 ? "均" : "",
                       t->rev > 0 ? "（撤销的决定仍计入其原报送月份）" : "");
    }
    if (s->unattributed > 0)
        sgs_buf_printf(&p, "无法识别报送单位的数据%lld条，未计入各单位数据。",
                       (long long)s->unattributed);
    para(nt, &p);
    sgs_buf_free(&p);

    if (t->records > 0 && s->n_groups > 0) {
        sgs_buf_init(&p);
        sgs_buf_puts(&p, "从报送单位类别看，");
        for (size_t gi = 0; gi < s->n_groups; gi++) {
            const sgs_agg_group *g = &s->groups[gi];

            sgs_buf_printf(&p, "%s（%zu个单位）报送%lld条，占%s%%，迟报%lld条，迟报率%s%%%s",
                           g->name, g->n_rows, (long long)g->sum.records,
                           sgs_agg_rate_text(g->sum.records, t->records, r1),
                           (long long)g->sum.late,
                           sgs_agg_rate_text(g->sum.late, g->sum.records, r2),
                           gi + 1 < s->n_groups ? "；" : "。");
        }
        para(nt, &p);
        sgs_buf_free(&p);
    }
}

static void notice_volume(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows,
                          size_t n)
{
    sgs_buf p;
    size_t low, none = 0, shown;
    int any_high = 0;

    heading(nt, 3, "（一）数据报送量");
    sgs_buf_init(&p);
    sgs_buf_puts(&p, "报送量较大的单位：");
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const sgs_agg_group *g = &s->groups[gi];
        int first = 1;

        for (size_t i = 0; i < g->n_rows; i++) {
            const sgs_agg_row *r = &s->rows[g->rows[i]];

            if (!(r->flags & SGS_AGG_FLAG_HIGH_VOLUME))
                continue;
            sgs_buf_printf(&p, "%s%s%s", any_high && first ? "；" : "", first ? g->name : "、",
                           first ? "中" : "");
            sgs_buf_printf(&p, "%s报送%lld条", r->unit->name, (long long)r->c.records);
            first = 0;
            any_high = 1;
        }
    }
    if (any_high)
        sgs_buf_puts(&p, "，报送量居本类别首位。");
    else
        sgs_buf_puts(&p, "本月各单位均未报送数据。");
    para(nt, &p);
    sgs_buf_free(&p);

    for (size_t i = 0; i < n; i++) {
        nt->key[i] = s->rows[rows[i]].c.records;
        nt->in[i] = (s->rows[rows[i]].flags & SGS_AGG_FLAG_LOW_VOLUME) != 0;
    }
    low = section_list(nt, rows, n);
    sgs_buf_init(&p);
    if (low == 0) {
        sgs_buf_printf(&p, "报送量较少的单位：本月无报送量低于%lld条的单位。",
                       (long long)s->low_volume);
    } else {
        sgs_buf_printf(&p, "报送量较少的单位：本月报送量低于%lld条的单位共%zu个，",
                       (long long)s->low_volume, low);
        for (shown = 0; shown < low && shown < NOTICE_LIST_MAX; shown++) {
            const sgs_agg_row *r = &s->rows[nt->list[shown]];

            sgs_buf_printf(&p, "%s%s（%lld条）", shown ? "、" : "分别是：", r->unit->name,
                           (long long)r->c.records);
        }
        list_tail(&p, shown, low, nt->groups_ref);
        sgs_buf_puts(&p, "。");
        /* the units without records close the list (records descending) */
        for (size_t i = 0; i < low; i++)
            none += s->rows[nt->list[i]].c.records == 0;
        if (none > 0) {
            sgs_buf_printf(&p, "其中本月未报送数据的单位%zu个：", none);
            for (shown = 0; shown < none && shown < NOTICE_LIST_MAX; shown++)
                sgs_buf_printf(&p, "%s%s", shown ? "、" : "",
                               s->rows[nt->list[low - none + shown]].unit->name);
            list_tail(&p, shown, none, nt->groups_ref);
            sgs_buf_puts(&p, "。");
        }
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

static void notice_improved(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows,
                            size_t n)
{
    sgs_buf p;
    size_t count, shown;

    heading(nt, 3, "（二）报送量明显提升的单位");
    sgs_buf_init(&p);
    if (!s->has_prev_snapshot && s->prev_empty) {
        sgs_buf_puts(&p, "上月未归集到数据，本月暂不作环比比较。");
    } else if (!s->has_prev_snapshot) {
        sgs_buf_puts(&p, "上月无数据快照，本月暂不作环比比较。");
    } else {
        /* ordered by the increase */
        for (size_t i = 0; i < n; i++) {
            const sgs_agg_row *r = &s->rows[rows[i]];

            nt->key[i] = r->c.records - r->prev_records;
            nt->in[i] = (r->flags & SGS_AGG_FLAG_IMPROVED) != 0;
        }
        count = section_list(nt, rows, n);
        if (count == 0) {
            sgs_buf_puts(&p, "与上月相比，本月无报送量明显提升（增长20%以上且增加10条以上）"
                             "的单位。");
        } else {
            sgs_buf_printf(&p,
                           "与上月相比，报送量明显提升（增长20%%以上且增加10条以上）的单位"
                           "共%zu个：",
                           count);
            for (shown = 0; shown < count && shown < NOTICE_LIST_MAX; shown++) {
                const sgs_agg_row *r = &s->rows[nt->list[shown]];
                char rate[SGS_AGG_RATE_TEXT_MAX];

                sgs_buf_printf(&p, "%s%s（上月%lld条，本月%lld条，增加%lld条", shown ? "；" : "",
                               r->unit->name, (long long)r->prev_records, (long long)r->c.records,
                               (long long)(r->c.records - r->prev_records));
                if (r->prev_records > 0)
                    sgs_buf_printf(
                        &p, "，增长%s%%",
                        sgs_agg_rate_text(r->c.records - r->prev_records, r->prev_records, rate));
                sgs_buf_puts(&p, "）");
            }
            /* no annex holds last month's figures: no reference */
            list_tail(&p, shown, count, NULL);
            sgs_buf_puts(&p, "。对以上单位提出表扬。");
        }
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

static void notice_late(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows, size_t n)
{
    sgs_buf p;
    size_t count, shown;

    heading(nt, 3, "（三）迟报情况");
    sgs_buf_init(&p);
    for (size_t i = 0; i < n; i++) {
        nt->key[i] = s->rows[rows[i]].c.late;
        nt->in[i] = nt->key[i] > 0;
    }
    count = section_list(nt, rows, n);
    if (count == 0) {
        sgs_buf_puts(&p, "本月未发现迟报数据。");
    } else {
        sgs_buf_printf(&p, "本月有%zu个单位存在迟报，共迟报数据%lld条：", count,
                       (long long)s->totals.late);
        for (shown = 0; shown < count && shown < NOTICE_LIST_MAX; shown++) {
            const sgs_agg_row *r = &s->rows[nt->list[shown]];
            char rate[SGS_AGG_RATE_TEXT_MAX];

            sgs_buf_printf(&p, "%s%s迟报%lld条（迟报率%s%%）", shown ? "、" : "", r->unit->name,
                           (long long)r->c.late, sgs_agg_rate_text(r->c.late, r->c.records, rate));
        }
        list_tail(&p, shown, count, nt->ledger_ref);
        sgs_buf_puts(&p, "。");
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

static void notice_quality(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows,
                           size_t n)
{
    sgs_buf p;
    size_t count, shown;

    heading(nt, 3, "（四）数据质量情况");
    sgs_buf_init(&p);
    for (size_t i = 0; i < n; i++) {
        nt->key[i] = s->rows[rows[i]].c.invalid;
        nt->in[i] = nt->key[i] > 0;
    }
    count = section_list(nt, rows, n);
    if (count == 0) {
        sgs_buf_puts(&p, s->totals.records > 0 ? "本月报送数据全部通过校验。"
                                               : "本月无报送数据，不作数据质量评价。");
    } else {
        sgs_buf_printf(&p, "本月有%zu个单位存在不合格数据，共%lld条：", count,
                       (long long)s->totals.invalid);
        for (shown = 0; shown < count && shown < NOTICE_LIST_MAX; shown++) {
            const sgs_agg_row *r = &s->rows[nt->list[shown]];
            char rate[SGS_AGG_RATE_TEXT_MAX];

            sgs_buf_printf(&p, "%s%s%lld条（数据合格率%s%%）", shown ? "、" : "", r->unit->name,
                           (long long)r->c.invalid,
                           sgs_agg_rate_text(sgs_agg_rate_valid_count(r->c.records, r->c.invalid),
                                             r->c.records, rate));
        }
        list_tail(&p, shown, count, nt->ledger_ref);
        sgs_buf_puts(&p, "。");
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

/* The spot checks' findings withdrawn (s->withdrawn), one sentence. */
static void withdrawn_sentence(sgs_buf *p, const sgs_agg_snapshot *s)
{
    size_t n = json_array_size(s->withdrawn), i;
    const json_t *w;

    if (n == 0)
        return;
    sgs_buf_printf(p, "抽查发现的%zu条瞒报数据经核实已撤销，不计入瞒报：", n);
    json_array_foreach(s->withdrawn, i, w)
    {
        const char *name = json_string_value(json_object_get(w, "name"));
        const char *kind = json_string_value(json_object_get(w, "kind"));

        if (i >= NOTICE_LIST_MAX) {
            sgs_buf_printf(p, "等%zu条", n);
            break;
        }
        sgs_buf_printf(p, "%s%s%s“%s”（撤销原因：%s）", i ? "；" : "", name ? name : "",
                       kind ? sgs_agg_kind_label(kind) : "",
                       json_string_value(json_object_get(w, "doc_no")),
                       json_string_value(json_object_get(w, "reason")));
    }
    sgs_buf_puts(p, "。");
}

static void notice_concealed(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows,
                             size_t n)
{
    sgs_buf p;
    size_t count, shown;

    heading(nt, 3, "（五）瞒报抽查情况");
    sgs_buf_init(&p);
    for (size_t i = 0; i < n; i++) {
        nt->key[i] = s->rows[rows[i]].c.concealed;
        nt->in[i] = nt->key[i] > 0;
    }
    count = section_list(nt, rows, n);
    if (count == 0) {
        sgs_buf_puts(&p, "本月暂无抽查发现的瞒报数据。");
        withdrawn_sentence(&p, s);
    } else {
        sgs_buf_printf(&p, "经抽查比对，本月发现瞒报数据%lld条，涉及%zu个单位：",
                       (long long)s->totals.concealed, count);
        for (shown = 0; shown < count && shown < NOTICE_LIST_MAX; shown++) {
            const sgs_agg_row *r = &s->rows[nt->list[shown]];

            sgs_buf_printf(&p, "%s%s%lld条", shown ? "、" : "", r->unit->name,
                           (long long)r->c.concealed);
        }
        list_tail(&p, shown, count, nt->ledger_ref);
        sgs_buf_puts(&p, "。请相关单位立即补报，并说明未报送原因。");
        withdrawn_sentence(&p, s);
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

/* The first n listed missing numbers with runs collapsed: "2—9、12、16—19". */
static void missing_ranges(sgs_buf *b, const json_t *missing, size_t n)
{
    if (n > json_array_size(missing))
        n = json_array_size(missing);

    for (size_t i = 0; i < n;) {
        const char *first = json_string_value(json_array_get(missing, i));
        unsigned long long v = strtoull(first ? first : "0", NULL, 10);
        size_t j = i + 1;

        while (j < n &&
               strtoull(json_string_value(json_array_get(missing, j)), NULL, 10) == v + (j - i))
            j++;
        sgs_buf_printf(b, "%s%s", i ? "、" : "", first ? first : "?");
        if (j - i > 1)
            sgs_buf_printf(b, "—%s", json_string_value(json_array_get(missing, j - 1)));
        i = j;
    }
}

static void notice_gaps(struct notice *nt, const sgs_agg_snapshot *s, const size_t *rows, size_t n)
{
    sgs_buf p;
    size_t count, shown;
    int64_t total = 0;

    heading(nt, 3, "（六）疑似漏报情况");
    sgs_buf_init(&p);
    for (size_t i = 0; i < n; i++) {
        nt->key[i] = s->rows[rows[i]].gaps_missing;
        nt->in[i] = nt->key[i] > 0;
        total += s->rows[rows[i]].gaps_missing;
    }
    count = section_list(nt, rows, n);
    if (count == 0) {
        sgs_buf_printf(&p,
                       "经对%d年以来各单位行政许可、行政处罚决定文书号进行连续性核查，"
                       "本月未发现文书号不连续情况。",
                       s->year);
    } else {
        sgs_buf_printf(&p,
                       "经对%d年以来各单位行政许可、行政处罚决定文书号进行连续性核查，"
                       "%zu个单位存在文书号不连续情况，涉及疑似漏报文书号%lld个：",
                       s->year, count, (long long)total);
        for (shown = 0; shown < count && shown < NOTICE_LIST_MAX; shown++) {
            const sgs_agg_row *r = &s->rows[nt->list[shown]];
            size_t gi, budget = NOTICE_GAP_NUMBERS;
            json_t *gap;
            int first = 1;

            sgs_buf_printf(&p, "%s%s", shown ? "；" : "", r->unit->name);
            json_array_foreach(r->gaps, gi, gap)
            {
                const json_t *missing = json_object_get(gap, "missing");
                json_int_t cnt = json_integer_value(json_object_get(gap, "missing_count"));
                size_t named = json_array_size(missing);

                if (named > budget)
                    named = budget;
                sgs_buf_printf(&p, "%s%s“%s〔%lld〕”", first ? "" : "，",
                               sgs_agg_kind_label(json_string_value(json_object_get(gap, "kind"))),
                               json_string_value(json_object_get(gap, "prefix")),
                               (long long)json_integer_value(json_object_get(gap, "year")));
                if (named > 0) {
                    sgs_buf_puts(&p, "缺");
                    missing_ranges(&p, missing, named);
                    sgs_buf_puts(&p, "号");
                    if ((json_int_t)named < cnt)
                        sgs_buf_printf(&p, "等%lld个", (long long)cnt);
                    budget -= named;
                } else {
                    sgs_buf_printf(&p, "缺%lld个文书号", (long long)cnt);
                }
                first = 0;
            }
        }
        list_tail(&p, shown, count, nt->ledger_ref);
        sgs_buf_puts(&p, "。文书号不连续可能因不予处罚、简易程序、撤销或依法不予公开等原因"
                         "造成，以上仅为疑似漏报，请相关单位自查核实，属于漏报的及时补报。");
    }
    para(nt, &p);
    sgs_buf_free(&p);
}

static void notice_requirements(struct notice *nt, const sgs_config *cfg)
{
    const char *text = sgs_config_get(cfg, "report.requirements");
    long lic = sgs_config_get_int(cfg, "deadline.license.workdays");
    long pen = sgs_config_get_int(cfg, "deadline.penalty.workdays");
    sgs_buf p;

    heading(nt, 2, "三、工作要求");
    if (text && *text) {
        nt->sink->paragraph(nt->sink->arg, text);
        return;
    }
    sgs_buf_init(&p);
    sgs_buf_puts(&p, "各成员单位要高度重视“双公示”工作，严格落实");
    if (lic == pen)
        sgs_buf_printf(&p, "自作出行政决定之日起%ld个工作日内", lic);
    else
        sgs_buf_printf(&p, "行政许可%ld个工作日内、行政处罚%ld个工作日内", lic, pen);
    sgs_buf_puts(&p, "报送的要求，确保数据报送及时、准确、完整。对本次通报中存在迟报、"
                     "不合格数据、疑似漏报和瞒报问题的单位，要认真查找原因，及时整改补报，"
                     "并将整改情况报市信用办。");
    para(nt, &p);
    sgs_buf_free(&p);
}

void sgs_agg_notice_ledger_title(const sgs_agg_snapshot *s, char *out, size_t size)
{
    snprintf(out, size, "“双公示”数据报送问题台账（%d年%d月%s）", s->year, s->mon,
             s->preview ? "，临时" : "");
}

/* notice.doc_no with {year} and {month} replaced (the notice month's year and
 * 2-digit month). */
static void doc_no_text(sgs_buf *b, const char *tmpl, const sgs_agg_snapshot *s)
{
    while (*tmpl) {
        if (strncmp(tmpl, "{year}", 6) == 0) {
            sgs_buf_printf(b, "%d", s->year);
            tmpl += 6;
        } else if (strncmp(tmpl, "{month}", 7) == 0) {
            sgs_buf_printf(b, "%02d", s->mon);
            tmpl += 7;
        } else {
            sgs_buf_append(b, tmpl++, 1);
        }
    }
}

/* A line composed in p (out of memory: noted, not emitted). */
static void line(struct notice *nt, enum sgs_agg_notice_line role, const sgs_buf *p)
{
    if (p->oom || !p->data) {
        nt->oom = 1;
        return;
    }
    nt->sink->line(nt->sink->arg, role, p->data);
}

int sgs_agg_notice_emit(const sgs_agg_notice_sink *sink, const sgs_agg_snapshot *s,
                        const sgs_config *cfg)
{
    const char *title = sgs_config_get(cfg, "report.title");
    const char *issuer = sgs_config_get(cfg, "notice.issuer");
    const char *doc_no = sgs_config_get(cfg, "notice.doc_no");
    const char *date_cfg = sgs_config_get(cfg, "notice.date");
    size_t *rows = calloc(s->n_rows ? s->n_rows : 1, sizeof(*rows));
    struct notice nt;
    size_t n;
    char date[64];
    sgs_buf p;

    memset(&nt, 0, sizeof(nt));
    nt.sink = sink;
    nt.key = calloc(s->n_rows ? s->n_rows : 1, sizeof(*nt.key));
    nt.in = calloc(s->n_rows ? s->n_rows : 1, sizeof(*nt.in));
    nt.list = calloc(s->n_rows ? s->n_rows : 1, sizeof(*nt.list));
    if (!rows || !nt.key || !nt.in || !nt.list) {
        free(rows);
        free(nt.key);
        free(nt.in);
        free(nt.list);
        return -1;
    }
    n = display_rows(s, rows);
    /* The annexes: a table per group, then the ledger (台账), which holds the
     * details every cut list of the notice refers to. */
    snprintf(nt.ledger_ref, sizeof(nt.ledger_ref), "附件%zu", s->n_groups + 1);
    for (size_t gi = 0, at = 0; gi < s->n_groups && at + 32 < sizeof(nt.groups_ref); gi++)
        at += (size_t)snprintf(nt.groups_ref + at, sizeof(nt.groups_ref) - at, "%s附件%zu",
                               gi ? "、" : "", gi + 1);
    /* notice.date, else the day the snapshot was generated */
    cn_date(date, sizeof(date),
            date_cfg && *date_cfg ? date_cfg
                                  : json_string_value(json_object_get(s->json, "generated_at")));

    /* notice.issuer and notice.doc_no: the letterhead above the title */
    if (issuer && *issuer)
        sink->line(sink->arg, SGS_AGG_NOTICE_ISSUER, issuer);
    if (doc_no && *doc_no) {
        sgs_buf_init(&p);
        doc_no_text(&p, doc_no, s);
        line(&nt, SGS_AGG_NOTICE_DOC_NO, &p);
        sgs_buf_free(&p);
    }
    /* report.title names the issuing city or office (平顶山市). */
    sgs_buf_init(&p);
    sgs_buf_printf(&p, "%s“双公示”数据报送情况通报（%d年%d月%s）", title ? title : "", s->year,
                   s->mon, s->preview ? "，临时" : "");
    if (!p.oom && p.data)
        heading(&nt, 1, p.data);
    else
        nt.oom = 1;
    sgs_buf_free(&p);
    if (s->preview) {
        char pline[256], as_of[64];

        /* a month not closed: its figures still change; they are as of the
         * build (generated_at), whatever date line notice.date prints */
        cn_date(as_of, sizeof(as_of), json_string_value(json_object_get(s->json, "generated_at")));
        snprintf(pline, sizeof(pline),
                 "（临时统计，非正式通报：数据截至%s，本月报送期结束后以正式版为准）",
                 as_of[0] ? as_of : "生成时");
        sink->line(sink->arg, SGS_AGG_NOTICE_VERSION, pline);
    } else if (sgs_agg_snapshot_version(s) > 1) {
        char vline[96];

        snprintf(vline, sizeof(vline), "（第%ld版，替代此前发布的版本）",
                 sgs_agg_snapshot_version(s));
        sink->line(sink->arg, SGS_AGG_NOTICE_VERSION, vline);
    }
    sink->line(sink->arg, SGS_AGG_NOTICE_SALUTATION, "各成员单位：");
    {
        char intro[256];

        snprintf(intro, sizeof(intro),
                 "现将%d年%d月（%d年%d月1日至%d月%d日）“双公示”数据报送情况通报如下：", s->year,
                 s->mon, s->year, s->mon, s->mon, sgs_month_days(s->year, s->mon));
        sink->paragraph(sink->arg, intro);
    }
    notice_overview(&nt, s);
    if (sink->figure)
        sink->figure(sink->arg, SGS_AGG_NOTICE_FIG_TREND);
    heading(&nt, 2, "二、各项指标情况");
    notice_volume(&nt, s, rows, n);
    notice_improved(&nt, s, rows, n);
    notice_late(&nt, s, rows, n);
    notice_quality(&nt, s, rows, n);
    notice_concealed(&nt, s, rows, n);
    notice_gaps(&nt, s, rows, n);
    notice_requirements(&nt, cfg);

    sgs_buf_init(&p);
    sgs_buf_puts(&p, "附件：");
    for (size_t gi = 0; gi < s->n_groups; gi++)
        sgs_buf_printf(&p, "%zu. %s“双公示”数据报送情况统计表；", gi + 1, s->groups[gi].name);
    sgs_buf_printf(&p, "%zu. “双公示”数据报送问题台账", s->n_groups + 1);
    line(&nt, SGS_AGG_NOTICE_ANNEXES, &p);
    sgs_buf_free(&p);
    if (issuer && *issuer)
        sink->line(sink->arg, SGS_AGG_NOTICE_SIGNATURE, issuer);
    if (date[0])
        sink->line(sink->arg, SGS_AGG_NOTICE_DATE, date);
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        sgs_buf_init(&p);
        sgs_buf_printf(&p, "%s“双公示”数据报送情况统计表（%d年%d月%s）", s->groups[gi].name,
                       s->year, s->mon, s->preview ? "，临时" : "");
        if (!p.oom && p.data)
            sink->annex(sink->arg, gi + 1, &s->groups[gi], p.data);
        else
            nt.oom = 1;
        sgs_buf_free(&p);
    }
    {
        char ltitle[128];

        sgs_agg_notice_ledger_title(s, ltitle, sizeof(ltitle));
        sink->annex(sink->arg, s->n_groups + 1, NULL, ltitle);
    }
    free(rows);
    free(nt.key);
    free(nt.in);
    free(nt.list);
    return nt.oom ? -1 : 0;
}

/* ---- markdown ---------------------------------------------------------------------- */

struct md {
    sgs_buf *b;
    const sgs_agg_snapshot *s;
};

static void md_heading(void *arg, int level, const char *text)
{
    struct md *m = arg;

    sgs_buf_printf(m->b, "%.*s %s\n\n", level, "###", text);
}

static void md_paragraph(void *arg, const char *text)
{
    struct md *m = arg;

    sgs_buf_puts(m->b, "\xE3\x80\x80\xE3\x80\x80"); /* two ideographic spaces */
    sgs_buf_puts(m->b, text);
    sgs_buf_puts(m->b, "\n\n");
}

static void md_line(void *arg, enum sgs_agg_notice_line role, const char *text)
{
    struct md *m = arg;

    (void)role;
    sgs_buf_printf(m->b, "%s\n\n", text);
}

/* The ledger's rows as a table (the CSV's columns and rows). */
static void md_ledger(sgs_buf *b, const sgs_agg_snapshot *s)
{
    char buf[512];

    if (s->ledger.n == 0) {
        sgs_buf_puts(b, "本月无迟报、不合格、瞒报或疑似漏报数据。\n");
        return;
    }
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++)
        sgs_buf_printf(b, "| %s ", sgs_agg_ledger_header[c]);
    sgs_buf_puts(b, "|\n");
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++)
        sgs_buf_puts(b, c == SGS_AGG_LEDGER_COL_WORKDAYS ? "|---:" : "|---");
    sgs_buf_puts(b, "|\n");
    for (size_t i = 0; i < s->ledger.n; i++) {
        const sgs_agg_ledger_entry *e = &s->ledger.v[i];
        const char *cells[SGS_AGG_LEDGER_COLS];
        int number;

        sgs_agg_ledger_cells(e, s->rows[e->row].unit, cells, buf, sizeof(buf), &number);
        for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++) {
            sgs_buf_puts(b, "| ");
            md_cell(b, cells[c]);
            sgs_buf_puts(b, " ");
        }
        sgs_buf_puts(b, "|\n");
    }
}

static void md_annex(void *arg, size_t number, const sgs_agg_group *g, const char *title)
{
    struct md *m = arg;

    sgs_buf_printf(m->b, "---\n\n## 附件%zu\n\n### %s\n\n", number, title);
    if (g)
        md_table(m->b, m->s, g);
    else
        md_ledger(m->b, m->s);
    sgs_buf_puts(m->b, "\n");
}

void sgs_agg_notice_build(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg)
{
    struct md m = {b, s};
    sgs_agg_notice_sink sink = {md_heading, md_paragraph, md_line, NULL, md_annex, &m};

    if (sgs_agg_notice_emit(&sink, s, cfg) != 0)
        b->oom = 1;
}

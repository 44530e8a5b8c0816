/* Unit tests of the report page (aggregator/html.c) and its charts
 * (aggregator/svg.c) from a snapshot model without Redis: escaping, the
 * page's structure (one page per annex, self-contained), the charts' scales,
 * values and missing months. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("the page lacks «%s»", needle);
}

static void test_text_escaped(void **state)
{
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    sgs_agg_html_text(&b, "<script>alert(\"x\")</script> & 'y' =cmd|' /C calc'!A0");
    assert_string_equal(b.data, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; "
                                "&#39;y&#39; =cmd|&#39; /C calc&#39;!A0");
    sgs_buf_free(&b);
}

static const char hostile_units[] = "unit_id\tname\tgroup\taliases\n"
                                    "C1\t<b>市甲局</b>\tcity\t\n"
                                    "C2\t=cmd|' /C calc'!A0\tcity\t\n"
                                    "K1\t\"甲县\"&\tcounty\t\n";

static char *page_of(const char *units, void (*fill)(sgs_agg_snapshot *))
{
    static const char *const settings[] = {"report.title=<i>某市</i>", NULL};
    sgs_registry *reg = agg_fixture_registry(units);
    sgs_config *cfg = agg_fixture_config(settings);
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(reg, 2025, 12);
    sgs_buf b = SGS_BUF_INIT;
    char *text;

    if (fill)
        fill(s);
    assert_int_equal(sgs_agg_snapshot_finish(s, reg, cfg, AGG_FIXTURE_NOW, AGG_FIXTURE_TZ), 0);
    s->history[3].has = 1; /* 2025-04 */
    s->history[3].records = 2731;
    s->history[3].late = 27;
    sgs_agg_html_build(&b, s, cfg);
    assert_false(b.oom);
    text = strdup(b.data);
    sgs_buf_free(&b);
    sgs_agg_snapshot_free(s);
    sgs_config_destroy(cfg);
    sgs_registry_destroy(reg);
    return text;
}

static void hostile_month(sgs_agg_snapshot *s)
{
    agg_fixture_row(s, "C1")->c = (sgs_agg_counts){.records = 126, .late = 3, .lic = 126};
    agg_fixture_row(s, "C2")->c = (sgs_agg_counts){.records = 4, .late = 1, .pen = 4, .upd = 2};
}

static void test_page(void **state)
{
    char *t = page_of(hostile_units, hostile_month);
    (void)state;

    assert_true(strncmp(t,
                        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">",
                        60) == 0);
    /* self-contained: no script, no link, no resource */
    assert_int_equal(count(t, "<script"), 0);
    assert_int_equal(count(t, "<link"), 0);
    assert_int_equal(count(t, "src="), 0);
    assert_int_equal(count(t, "href="), 0);
    assert_int_equal(count(t, "url("), 0);
    assert_int_equal(count(t, "<style>"), 1);
    has(t, "@page{size:A4;");
    has(t, ".annex{break-before:page;page-break-before:always}");
    /* the notice, then one section (page) per group, the county first, and
     * the ledger (台账) last, on landscape pages of its own */
    assert_int_equal(count(t, "<section class=\"annex\">"), 2);
    assert_int_equal(count(t, "<section class=\"annex wide\">"), 1);
    has(t, "@page wide{size:A4 landscape;");
    has(t, ".annex.wide{page:wide}");
    has(t, "<section class=\"annex wide\">\n<p class=\"annex-no\">附件3</p>\n"
           "<h2 class=\"annex-title\">“双公示”数据报送问题台账（2025年12月）</h2>\n");
    assert_true(strstr(t, "<section class=\"annex wide\">") >
                strstr(t, "<p class=\"annex-no\">附件2</p>"));
    assert_int_equal(count(t, "</article>"), 1);
    assert_true(strstr(t, "</article>") < strstr(t, "<section class=\"annex\">"));
    has(t, "<h1>&lt;i&gt;某市&lt;/i&gt;“双公示”数据报送情况通报（2025年12月）</h1>");
    has(t, "<p class=\"para\">现将2025年12月");
    has(t, "本月各单位更正已报送的决定2条，不重复计入数据总量。");
    has(t, "<p class=\"date\">2026年1月5日</p>");
    /* names are text wherever they appear: sentences, tables, chart labels */
    assert_int_equal(count(t, "<b>"), 0);
    has(t, "&lt;b&gt;市甲局&lt;/b&gt;报送126条");
    has(t, "<td>&lt;b&gt;市甲局&lt;/b&gt;</td><td class=\"n\">126</td><td class=\"n\">3</td>"
           "<td class=\"n\">2.38</td>");
    has(t, "<td>=cmd|&#39; /C calc&#39;!A0</td>");
    has(t, "<tr class=\"sum\"><td class=\"n\">合计</td><td></td><td class=\"n\">130</td>"
           "<td class=\"n\">4</td><td class=\"n\">3.08</td></tr>");
    has(t, "text-anchor=\"end\" fill=\"#000000\">&quot;甲县&quot;&amp;</text>");
    /* charts: the trend and two per group */
    assert_int_equal(count(t, "<svg "), 1 + 2 * 2);
    has(t, "<figcaption>图1　2025-01至2025-12“双公示”数据报送量与迟报率</figcaption>");
    has(t, "<figcaption>图4　市直单位各单位数据报送量（条）</figcaption>");
    has(t, "<figcaption>图5　市直单位各单位迟报率（%）</figcaption>");
    free(t);
}

static void test_bars(void **state)
{
    static const char *const labels[] = {"甲", "乙", "<丙>"};
    static const int64_t counts[] = {126, 31, 0};
    static const int64_t rates[] = {2500, 238, -1};
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    /* 126: steps of 50 up to 150 */
    sgs_agg_svg_bars(&b, "t", labels, counts, 3, 0);
    has(b.data, ">150</text>");
    has(b.data, ">126</text>");
    assert_int_equal(count(b.data, "<rect "), 2); /* no bar for 0 */
    has(b.data, ">&lt;丙&gt;</text>");
    sgs_buf_reset(&b);
    /* 25 %: steps of 5 % up to 25 %; no records: "-" and no bar */
    sgs_agg_svg_bars(&b, "t", labels, rates, 3, 1);
    has(b.data, ">25%</text>");
    has(b.data, ">25.00%</text>");
    has(b.data, ">2.38%</text>");
    has(b.data, ">-</text>");
    assert_int_equal(count(b.data, "<rect "), 2);
    sgs_buf_reset(&b);
    /* nothing: a scale and a word */
    sgs_agg_svg_bars(&b, "t", labels, counts, 0, 0);
    has(b.data, "无数据");
    sgs_buf_free(&b);
}

static void test_trend(void **state)
{
    sgs_agg_history_point h[12];
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    memset(h, 0, sizeof(h));
    for (int i = 0; i < 12; i++) {
        snprintf(h[i].month, sizeof(h[i].month), "2025-%02d", i + 1);
        h[i].has = i != 4 && i != 5;
        h[i].records = 1000 + 100 * i;
        h[i].late = 10 * i;
    }
    sgs_agg_svg_trend(&b, h, 12);
    assert_int_equal(count(b.data, "无快照"), 2);
    assert_int_equal(count(b.data, "<polyline "), 2); /* broken at the missing months */
    assert_int_equal(count(b.data, "<circle "), 10);
    has(b.data, ">2100</text>");  /* December's records */
    has(b.data, ">5.24%</text>"); /* 110 of 2100 */
    has(b.data, ">2025-05</text>");
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escaped),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_bars),
        cmocka_unit_test(test_trend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the notice's sentences (aggregator/notice.c), built from a
 * snapshot model without Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"

/* The notice of a model: builds the registry's month with fill (may be NULL),
 * finishes it, returns the text (free it). version: 0 none, -1 a preview. */
static char *notice_of(const char *units, void (*fill)(sgs_agg_snapshot *),
                       const char *const *settings, long version)
{
    sgs_registry *reg = agg_fixture_registry(units);
    sgs_config *cfg = agg_fixture_config(settings);
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(reg, 2025, 12);
    sgs_buf b = SGS_BUF_INIT;
    char *text;

    assert_non_null(s);
    if (fill)
        fill(s);
    assert_int_equal(sgs_agg_snapshot_finish(s, reg, cfg, AGG_FIXTURE_NOW, AGG_FIXTURE_TZ), 0);
    if (version < 0)
        assert_int_equal(sgs_agg_snapshot_mark_preview(s), 0);
    else if (version)
        sgs_agg_snapshot_set_version(s, version);
    sgs_agg_notice_build(&b, s, cfg);
    assert_false(b.oom);
    text = strdup(b.data);
    sgs_buf_free(&b);
    sgs_agg_snapshot_free(s);
    sgs_config_destroy(cfg);
    sgs_registry_destroy(reg);
    return text;
}

static void has(const char *text, const char *sentence)
{
    if (!strstr(text, sentence))
        fail_msg("the notice lacks «%s»:\n%s", sentence, text);
}

static void lacks(const char *text, const char *sentence)
{
    if (strstr(text, sentence))
        fail_msg("the notice should not hold «%s»", sentence);
}

/* One gap entry for a row. */
static void add_gap(sgs_agg_row *r, const char *kind, const char *prefix, const char *missing,
                    long long count)
{
    json_t *list = json_array();
    char buf[512], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", missing);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(list, json_string(t));
    if (!r->gaps)
        r->gaps = json_array();
    json_array_append_new(r->gaps, json_pack("{s:s, s:s, s:i, s:o, s:I}", "kind", kind, "prefix",
                                             prefix, "year", 2025, "missing", list, "missing_count",
                                             (json_int_t)count));
    r->gaps_missing += count;
}

static void december_with_gaps(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    add_gap(agg_fixture_row(s, "C1"), "penalty", "平市监罚", "2,3,4,5,6,7,8,9,12", 9);
    add_gap(agg_fixture_row(s, "K1"), "license", "甲县许", "4", 1);
    add_gap(agg_fixture_row(s, "K1"), "penalty", "甲县罚", "", 3);
}

static void test_heading_and_overview(void **state)
{
    char *t = notice_of(agg_fixture_units, agg_fixture_december, NULL, 0);
    (void)state;

    has(t, "# 平顶山市“双公示”数据报送情况通报（2025年12月）\n\n各成员单位：\n\n");
    lacks(t, "版，替代此前发布的版本");
    has(t, "现将2025年12月（2025年12月1日至12月31日）“双公示”数据报送情况通报如下：");
    /* 43 of 45 valid: 95.56 %; 9 of 45 late: 20.00 % */
    has(t, "2025年12月，全市共归集“双公示”数据45条，其中行政许可21条、行政处罚24条。"
           "经校验，合格数据43条，数据合格率95.56%；迟报数据9条，迟报率20.00%。"
           "另有重复报送数据1条，未计入数据总量。"
           "无法识别报送单位的数据4条，未计入各单位数据。");
    /* shares of the total and each group's 合计 rate */
    has(t, "从报送单位类别看，县（市、区）（1个单位）报送5条，占11.11%，迟报5条，迟报率100.00%；"
           "市直单位（3个单位）报送40条，占88.89%，迟报4条，迟报率10.00%。");
    free(t);
}

static void test_indicators(void **state)
{
    char *t = notice_of(agg_fixture_units, december_with_gaps, NULL, 0);
    (void)state;

    has(t, "报送量较大的单位：县（市、区）中甲县报送5条；市直单位中市乙局报送30条，"
           "报送量居本类别首位。");
    /* every list by its own figure, most first (here: records) */
    has(t, "报送量较少的单位：本月报送量低于20条的单位共3个，分别是：市甲局（10条）、甲县（5条）、"
           "市丙局（0条）。其中本月未报送数据的单位1个：市丙局。");
    has(t, "与上月相比，报送量明显提升（增长20%以上且增加10条以上）的单位共1个："
           "市乙局（上月20条，本月30条，增加10条，增长50.00%）。对以上单位提出表扬。");
    /* late count descending, then display order */
    has(t, "本月有3个单位存在迟报，共迟报数据9条：甲县迟报5条（迟报率100.00%）、"
           "市乙局迟报3条（迟报率10.00%）、市甲局迟报1条（迟报率10.00%）。");
    has(t, "本月有1个单位存在不合格数据，共2条：市甲局2条（数据合格率80.00%）。");
    has(t, "经抽查比对，本月发现瞒报数据2条，涉及1个单位：市甲局2条。请相关单位立即补报，"
           "并说明未报送原因。");
    /* runs collapsed; an entry whose numbers were not listed gives its count;
     * units by their missing numbers (9, then 4) */
    has(t, "经对2025年以来各单位行政许可、行政处罚决定文书号进行连续性核查，2个单位存在文书号不连续"
           "情况，涉及疑似漏报文书号13个：市甲局行政处罚“平市监罚〔2025〕”缺2—9、12号；"
           "甲县行政许可“甲县许〔2025〕”缺4号，行政处罚“甲县罚〔2025〕”缺3个文书号。");
    free(t);
}

/* 300 listed missing numbers (every other one: 2, 4, ..., 600) in two entries:
 * the snapshot and the ledger have them all; the notice's sentence names the
 * first 50 of the unit, over its entries, and the count of each. */
static void many_gaps(sgs_agg_snapshot *s)
{
    sgs_agg_row *c1;
    json_t *a = json_array(), *b = json_array();
    char num[16];

    agg_fixture_december(s);
    c1 = agg_fixture_row(s, "C1");
    for (int v = 2; v <= 80; v += 2) { /* 40 */
        snprintf(num, sizeof(num), "%d", v);
        json_array_append_new(a, json_string(num));
    }
    for (int v = 82; v <= 600; v += 2) { /* 260 */
        snprintf(num, sizeof(num), "%d", v);
        json_array_append_new(b, json_string(num));
    }
    c1->gaps =
        json_pack("[{s:s, s:s, s:i, s:o, s:i}, {s:s, s:s, s:i, s:o, s:i}]", "kind", "license",
                  "prefix", "甲许", "year", 2025, "missing", a, "missing_count", 40, "kind",
                  "penalty", "prefix", "甲罚", "year", 2025, "missing", b, "missing_count", 260);
    c1->gaps_missing = 300;
}

static void test_many_gaps_named_in_part(void **state)
{
    char *t = notice_of(agg_fixture_units, many_gaps, NULL, 0);
    (void)state;

    has(t, "1个单位存在文书号不连续情况，涉及疑似漏报文书号300个：市甲局行政许可“甲许〔2025〕”缺"
           "2、4、6、8、10、12、14、16、18、20、22、24、26、28、30、32、34、36、38、40、42、44、"
           "46、48、50、52、54、56、58、60、62、64、66、68、70、72、74、76、78、80号，"
           "行政处罚“甲罚〔2025〕”缺82、84、86、88、90、92、94、96、98、100号等260个");
    lacks(t, "100、102");
    free(t);
}

static void test_requirements_date_and_annex(void **state)
{
    static const char *const own[] = {"report.title=某市", "report.requirements=请按时报送。",
                                      NULL};
    static const char *const generated[] = {"report.requirements=", NULL};
    static const char *const differ[] = {"report.requirements=", "deadline.license.workdays=5",
                                         NULL};
    char *t = notice_of(agg_fixture_units, agg_fixture_december, own, 2);
    (void)state;

    has(t, "# 某市“双公示”数据报送情况通报（2025年12月）\n\n（第2版，替代此前发布的版本）\n\n");
    has(t, "## 三、工作要求\n\n\xE3\x80\x80\xE3\x80\x80请按时报送。\n\n");
    has(t,
        "附件：1. 县（市、区）“双公示”数据报送情况统计表；2. 市直单位“双公示”数据报送情况统计表；"
        "3. “双公示”数据报送问题台账\n\n"
        "2026年1月5日\n\n");
    /* the ledger is the last annex */
    has(t, "## 附件3\n\n### “双公示”数据报送问题台账（2025年12月）\n\n"
           "本月无迟报、不合格、瞒报或疑似漏报数据。\n");
    /* annex tables: rows in display order, 合计 the group's sums */
    has(t, "## 附件2\n\n### 市直单位“双公示”数据报送情况统计表（2025年12月）\n\n"
           "| 序号 | 成员单位名称 | 数据总量 | 迟报量 | 迟报率(%) |\n"
           "|---:|---|---:|---:|---:|\n"
           "| 1 | 市乙局 | 30 | 3 | 10.00 |\n"
           "| 2 | 市甲局 | 10 | 1 | 10.00 |\n"
           "| 3 | 市丙局 | 0 | 0 | - |\n"
           "| 合计 |  | 40 | 4 | 10.00 |\n");
    free(t);

    t = notice_of(agg_fixture_units, agg_fixture_december, generated, 0);
    has(t, "严格落实自作出行政决定之日起7个工作日内报送的要求");
    free(t);
    t = notice_of(agg_fixture_units, agg_fixture_december, differ, 0);
    has(t, "严格落实行政许可5个工作日内、行政处罚7个工作日内报送的要求");
    free(t);
}

static void test_empty_month(void **state)
{
    char *t = notice_of(agg_fixture_units, NULL, NULL, 0);
    (void)state;

    has(t, "2025年12月，全市未归集到“双公示”数据。");
    lacks(t, "从报送单位类别看");
    has(t, "报送量较大的单位：本月各单位均未报送数据。");
    has(t, "本月报送量低于20条的单位共4个，分别是：甲县（0条）、市甲局（0条）、市乙局（0条）、"
           "市丙局（0条）。其中本月未报送数据的单位4个：甲县、市甲局、市乙局、市丙局。");
    has(t, "上月无数据快照，本月暂不作环比比较。");
    has(t, "本月未发现迟报数据。");
    has(t, "本月无报送数据，不作数据质量评价。");
    has(t, "本月暂无抽查发现的瞒报数据。");
    has(t, "本月未发现文书号不连续情况。");
    has(t, "| 合计 |  | 0 | 0 | - |\n");
    free(t);
}

static void december_prev_empty(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    s->has_prev_snapshot = 0; /* what join_previous leaves: no comparison */
    s->prev_empty = 1;
    for (size_t i = 0; i < s->n_rows; i++)
        s->rows[i].has_prev = 0;
}

/* A month not closed: 临时 in the title, in a line under it and in the annex
 * titles; the JSON with "version": null and "preview": true after it. A
 * previous month without records: no comparison. */
static void test_preview_and_unobserved_previous_month(void **state)
{
    char *t = notice_of(agg_fixture_units, december_prev_empty, NULL, -1);
    (void)state;

    has(t, "# 平顶山市“双公示”数据报送情况通报（2025年12月，临时）\n");
    has(t, "（临时统计，非正式通报：数据截至");
    has(t, "统计表（2025年12月，临时）");
    has(t, "问题台账（2025年12月，临时）");
    lacks(t, "版，替代此前发布的版本");
    has(t, "上月未归集到数据，本月暂不作环比比较。");
    lacks(t, "上月无数据快照");
    free(t);
    t = notice_of(agg_fixture_units, agg_fixture_december, NULL, 2);
    lacks(t, "临时");
    has(t, "（第2版，替代此前发布的版本）");
    free(t);
}

static void test_preview_json(void **state)
{
    sgs_registry *reg = agg_fixture_registry(agg_fixture_units);
    sgs_config *cfg = agg_fixture_config(NULL);
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(reg, 2025, 12);
    const char *k, *prev = NULL;
    json_t *v;
    (void)state;

    assert_non_null(s);
    agg_fixture_december(s);
    assert_int_equal(sgs_agg_snapshot_finish(s, reg, cfg, AGG_FIXTURE_NOW, AGG_FIXTURE_TZ), 0);
    assert_int_equal(sgs_agg_snapshot_mark_preview(s), 0);
    assert_true(s->preview);
    assert_true(json_is_null(json_object_get(s->json, "version")));
    assert_true(json_is_true(json_object_get(s->json, "preview")));
    json_object_foreach(s->json, k, v)
    {
        if (strcmp(k, "preview") == 0)
            assert_string_equal(prev, "version");
        prev = k;
    }
    assert_non_null(json_object_get(s->json, "units"));
    sgs_agg_snapshot_free(s);
    sgs_config_destroy(cfg);
    sgs_registry_destroy(reg);
}

static void december_changes(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    agg_fixture_row(s, "C1")->c.upd = 3;
    agg_fixture_row(s, "K1")->c.upd = 2;
    agg_fixture_row(s, "C2")->c.rev = 1;
}

static void december_updates_only(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    agg_fixture_row(s, "C1")->c.upd = 4;
}

static void december_revoked_only(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    agg_fixture_row(s, "K1")->c.rev = 2;
}

/* Updates and revocations: one sentence of the overview, only when there are any. */
static void test_updates_and_revocations(void **state)
{
    char *t = notice_of(agg_fixture_units, december_changes, NULL, 0);
    (void)state;

    has(t, "另有重复报送数据1条，未计入数据总量。本月各单位更正已报送的决定5条、"
           "撤销公示已报送的决定1条，均不重复计入数据总量（撤销的决定仍计入其原报送月份）。"
           "无法识别报送单位的数据4条");
    free(t);
    t = notice_of(agg_fixture_units, december_updates_only, NULL, 0);
    has(t, "本月各单位更正已报送的决定4条，不重复计入数据总量。");
    lacks(t, "撤销公示");
    free(t);
    t = notice_of(agg_fixture_units, december_revoked_only, NULL, 0);
    has(t,
        "本月各单位撤销公示已报送的决定2条，不重复计入数据总量（撤销的决定仍计入其原报送月份）。");
    lacks(t, "更正");
    free(t);
    t = notice_of(agg_fixture_units, agg_fixture_december, NULL, 0);
    lacks(t, "更正已报送");
    lacks(t, "撤销公示");
    free(t);
}

/* 35 units with one of every problem each. */
static void many_problems(sgs_agg_snapshot *s)
{
    for (size_t i = 0; i < s->n_rows; i++) {
        sgs_agg_row *r = &s->rows[i];

        r->c =
            (sgs_agg_counts){.records = 100, .late = 1, .invalid = 1, .concealed = 1, .lic = 100};
        r->has_prev = 1;
        r->prev_records = 70;
        add_gap(r, "license", "甲许", "3", 1);
    }
    s->has_prev_snapshot = 1;
}

/* 35 units without records: lists stop at 30 names and give the count. */
static void test_long_lists_are_cut(void **state)
{
    sgs_buf units = SGS_BUF_INIT;
    char *t;
    (void)state;

    sgs_buf_puts(&units, "unit_id\tname\tgroup\n");
    for (int i = 1; i <= 35; i++)
        sgs_buf_printf(&units, "U%02d\t单位%02d\tcity\n", i, i);
    t = notice_of(units.data, NULL, NULL, 0);
    /* the records of every unit are in the group tables (附件1 here) */
    has(t, "、单位30（0条）等35个单位（详见附件1）。");
    lacks(t, "单位31（0条）");
    has(t, "其中本月未报送数据的单位35个：单位01、");
    has(t, "、单位30等35个单位（详见附件1）。");
    has(t, "附件：1. 市直单位“双公示”数据报送情况统计表；2. “双公示”数据报送问题台账\n\n");
    free(t);
    /* the late, invalid, concealed and gap lists point at the ledger (附件2) */
    t = notice_of(units.data, many_problems, NULL, 0);
    has(t, "、单位30迟报1条（迟报率1.00%）等35个单位（详见附件2）。");
    has(t, "、单位301条（数据合格率99.00%）等35个单位（详见附件2）。");
    has(t, "、单位301条等35个单位（详见附件2）。");
    has(t, "等35个单位（详见附件2）。文书号不连续");
    /* no annex holds last month's figures: the improved list names none */
    has(t, "增长42.86%）等35个单位。对以上单位提出表扬。");
    lacks(t, "详见附件）");
    lacks(t, "详见附件3");
    has(t, "## 附件2\n\n### “双公示”数据报送问题台账（2025年12月）\n\n");
    free(t);
    sgs_buf_free(&units);
}

/* Figures that disagree with the display order (groups, then records): the
 * county's 甲县 is shown first, 市乙局 before 市甲局. */
static void december_reordered(sgs_agg_snapshot *s)
{
    sgs_agg_row *c1, *c2, *k1;

    agg_fixture_december(s);
    c1 = agg_fixture_row(s, "C1");
    c2 = agg_fixture_row(s, "C2");
    k1 = agg_fixture_row(s, "K1");
    k1->c.invalid = 1;
    c1->c.invalid = 2;
    c2->c.invalid = 3;
    k1->c.concealed = 1;
    c2->c.concealed = 1;
    c1->c.concealed = 4;
    /* improved: 市甲局 +40, 市乙局 +10 (display order has 市乙局 first) */
    c1->has_prev = 1;
    c1->prev_records = 10;
    c1->c.records = 50;
    c2->has_prev = 1;
    c2->prev_records = 20;
    c2->c.records = 30;
}

/* Every section orders its units by the figure it is about, most first. */
static void test_sections_by_their_figure(void **state)
{
    char *t = notice_of(agg_fixture_units, december_reordered, NULL, 0);
    (void)state;

    has(t, "本月有3个单位存在不合格数据，共6条：市乙局3条（数据合格率90.00%）、"
           "市甲局2条（数据合格率96.00%）、甲县1条（数据合格率80.00%）。");
    /* ties in display order: 甲县 (the county's group first), then 市乙局 */
    has(t, "经抽查比对，本月发现瞒报数据6条，涉及3个单位：市甲局4条、甲县1条、市乙局1条。");
    has(t, "的单位共2个：市甲局（上月10条，本月50条，增加40条，增长400.00%）；"
           "市乙局（上月20条，本月30条，增加10条，增长50.00%）。");
    /* late: 甲县 5, 市乙局 3, 市甲局 1 */
    has(t, "：甲县迟报5条（迟报率100.00%）、市乙局迟报3条（迟报率10.00%）、"
           "市甲局迟报1条（迟报率2.00%）。");
    free(t);
}

/* notice.issuer, notice.doc_no and notice.date: in the text when set. */
static void test_letterhead_keys(void **state)
{
    static const char *const keys[] = {"notice.issuer=平顶山市社会信用体系建设领导小组办公室",
                                       "notice.doc_no=平信用办〔{year}〕{month}号",
                                       "notice.date=2024-01-04", NULL};
    char *t = notice_of(agg_fixture_units, agg_fixture_december, keys, 0);
    char *plain;
    (void)state;

    has(t, "平顶山市社会信用体系建设领导小组办公室\n\n平信用办〔2025〕12号\n\n"
           "# 平顶山市“双公示”数据报送情况通报（2025年12月）\n\n各成员单位：\n\n");
    has(t, "3. “双公示”数据报送问题台账\n\n平顶山市社会信用体系建设领导小组办公室\n\n"
           "2024年1月4日\n\n---\n");
    lacks(t, "2026年1月5日");
    free(t);
    /* unset: the title first and the generated date, as before */
    plain = notice_of(agg_fixture_units, agg_fixture_december, NULL, 0);
    assert_true(strncmp(plain, "# 平顶山市“双公示”数据报送情况通报（2025年12月）\n\n", 60) == 0);
    has(plain, "3. “双公示”数据报送问题台账\n\n2026年1月5日\n\n---\n");
    lacks(plain, "领导小组办公室");
    free(plain);
    /* a preview: its figures are as of the build, whatever the date line says */
    t = notice_of(agg_fixture_units, agg_fixture_december, keys, -1);
    has(t, "（临时统计，非正式通报：数据截至2026年1月5日，本月报送期结束后以正式版为准）");
    has(t, "平顶山市社会信用体系建设领导小组办公室\n\n2024年1月4日\n\n---\n");
    free(t);
}

static void december_withdrawn(sgs_agg_snapshot *s)
{
    agg_fixture_december(s);
    s->withdrawn = json_pack("[{s:s, s:s, s:s, s:s, s:s, s:s}]", "unit_id", "C2", "name", "市乙局",
                             "kind", "penalty", "doc_no", "乙罚〔2025〕7号", "reason",
                             "抽查样本有误", "at", "2026-01-06T09:00:00+08:00");
}

/* A withdrawn finding is said in the concealed section, with its reason. */
static void test_withdrawn_finding(void **state)
{
    char *t = notice_of(agg_fixture_units, december_withdrawn, NULL, 2);
    (void)state;

    has(t, "（第2版，替代此前发布的版本）");
    has(t, "经抽查比对，本月发现瞒报数据2条，涉及1个单位：市甲局2条。请相关单位立即补报，"
           "并说明未报送原因。抽查发现的1条瞒报数据经核实已撤销，不计入瞒报："
           "市乙局行政处罚“乙罚〔2025〕7号”（撤销原因：抽查样本有误）。");
    free(t);
    t = notice_of(agg_fixture_units, agg_fixture_december, NULL, 0);
    lacks(t, "已撤销");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heading_and_overview),
        cmocka_unit_test(test_indicators),
        cmocka_unit_test(test_requirements_date_and_annex),
        cmocka_unit_test(test_empty_month),
        cmocka_unit_test(test_long_lists_are_cut),
        cmocka_unit_test(test_updates_and_revocations),
        cmocka_unit_test(test_preview_and_unobserved_previous_month),
        cmocka_unit_test(test_preview_json),
        cmocka_unit_test(test_sections_by_their_figure),
        cmocka_unit_test(test_letterhead_keys),
        cmocka_unit_test(test_withdrawn_finding),
        cmocka_unit_test(test_many_gaps_named_in_part),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

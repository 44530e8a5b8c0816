/* Unit tests of the ledger (aggregator/ledger.c) and its files (report.c's
 * ledger CSV and file names, xlsx.c's sheet names): entries from the
 * consumer's replies as hiredis gives them, cut notes, concealed decisions,
 * gaps, the order, and the cells of each category. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"

/* ---- hiredis replies built by hand ------------------------------------------- */

struct replies {
    redisReply r[64];
    redisReply *elems[64];
    size_t n;
};

static redisReply *str_reply(struct replies *rs, const char *s)
{
    redisReply *r = &rs->r[rs->n++];

    memset(r, 0, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

/* An array reply of the given strings (a list, or a hash's field/value pairs). */
static redisReply *array_reply(struct replies *rs, redisReply *arr, const char *const *items,
                               size_t n)
{
    size_t first = rs->n;

    memset(arr, 0, sizeof(*arr));
    arr->type = REDIS_REPLY_ARRAY;
    for (size_t i = 0; i < n; i++) {
        rs->elems[first + i] = str_reply(rs, items[i]);
    }
    arr->element = &rs->elems[first];
    arr->elements = n;
    return arr;
}

struct world {
    sgs_registry *reg;
    sgs_agg_idmap *map;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));

    w->reg = agg_fixture_registry(agg_fixture_units);
    w->map = sgs_agg_idmap_registry(w->reg);
    assert_non_null(w->map);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    sgs_agg_idmap_free(w->map);
    sgs_registry_destroy(w->reg);
    free(w);
    return 0;
}

#define LATE(unit, doc, at, wd)                                                                    \
    "{\"source\":\"t:0:" #wd "\",\"unit_id\":\"" unit "\",\"kind\":\"penalty\",\"doc_no\":\"" doc  \
    "\",\"decision_date\":\"2025-12-01\",\"deadline\":\"2025-12-10\",\"reported_at\":\"" at        \
    "\",\"late\":true,\"workdays_late\":" #wd ",\"reasons\":[]}"

static const char *const list0[] = {
    LATE("C1", "甲罚〔2025〕3号", "2025-12-15T10:00:00+08:00", 3),
    "{\"source\":\"t:0:9\",\"unit_id\":\"K1X\",\"kind\":\"license\",\"doc_no\":\"=1+2\","
    "\"decision_date\":\"\",\"deadline\":\"\",\"reported_at\":\"2025-12-02T08:00:00+08:00\","
    "\"late\":false,\"workdays_late\":0,\"reasons\":[{\"code\":\"bad_date\",\"field\":"
    "\"decision_date\",\"message\":\"决定日期“x”不是有效日期\",\"message_en\":\"'x' is not a "
    "real date\"},{\"code\":\"bad_uscc\",\"field\":\"subject.uscc\",\"message\":\"行政相对人"
    "统一社会信用代码“<b>”为3个字符，应为18个字符\",\"message_en\":\"'<b>' has 3 characters, "
    "expected 18\"}]}",
    "not json",
    LATE("GHOST", "x〔2025〕1号", "2025-12-03T10:00:00+08:00", 1),
};
static const char *const list1[] = {
    LATE("C1", "甲罚〔2025〕1号", "2025-12-05T01:00:00Z", 2), /* 09:00 local: before 3号 */
    "{\"source\":\"t:1:4\",\"unit_id\":\"C2\",\"kind\":\"license\",\"doc_no\":\"乙许〔2025〕8号\","
    "\"decision_date\":\"2025-12-01\",\"deadline\":\"2025-12-10\",\"reported_at\":"
    "\"2025-12-20T10:00:00+08:00\",\"late\":true,\"workdays_late\":7,\"reasons\":[{\"code\":"
    "\"missing_field\",\"field\":\"subject.name\",\"message\":\"行政相对人名称为空，应为非空文本\","
    "\"message_en\":\"empty\"}]}",
};
static const char *const counts0[] = {"C1", "1", "C1|cut", "2", "K1X", "1", "K1X|cut", "0"};
static const char *const counts1[] = {"C1", "1", "C1|cut", "5", "C2", "1"};
static const char *const concealed[] = {
    "C2|penalty|乙罚〔2025〕4号", "1", "C1|license|甲许〔2025〕9号", "1", "nope", "1",
    "C1|penalty|甲罚〔2025〕7号", "1"};

/* The whole month of the fixture: C1 first, then C2, K1 (a rank), C3 none. */
static void build(struct world *w, sgs_agg_ledger *l, long only_row)
{
    struct replies rs;
    redisReply a, b, c, d, e;
    json_t *gaps = json_pack("[{s:s, s:s, s:i, s:[s, s], s:i}]", "kind", "penalty", "prefix",
                             "甲罚", "year", 2025, "missing", "2", "4", "missing_count", 5);
    size_t rank[4] = {0, 1, 3, 2}; /* C1 C2 C3 K1 -> C1, C2, K1, C3 */

    rs.n = 0;
    memset(l, 0, sizeof(*l));
    array_reply(&rs, &a, list0, sizeof(list0) / sizeof(list0[0]));
    array_reply(&rs, &b, list1, sizeof(list1) / sizeof(list1[0]));
    array_reply(&rs, &c, counts0, sizeof(counts0) / sizeof(counts0[0]));
    array_reply(&rs, &d, counts1, sizeof(counts1) / sizeof(counts1[0]));
    array_reply(&rs, &e, concealed, sizeof(concealed) / sizeof(concealed[0]));
    assert_int_equal(sgs_agg_ledger_add_list(l, &a, w->map, w->reg, only_row), 0);
    assert_int_equal(sgs_agg_ledger_add_cut(l, &c, w->map, w->reg, only_row), 0);
    assert_int_equal(sgs_agg_ledger_add_list(l, &b, w->map, w->reg, only_row), 0);
    assert_int_equal(sgs_agg_ledger_add_cut(l, &d, w->map, w->reg, only_row), 0);
    assert_int_equal(sgs_agg_ledger_add_concealed(l, &e, NULL, w->map, w->reg, only_row), 0);
    if (only_row < 0 || only_row == 0)
        assert_int_equal(sgs_agg_ledger_add_gaps(l, 0, gaps), 0);
    assert_int_equal(sgs_agg_ledger_finish(l, rank), 0);
    json_decref(gaps);
}

/* The cells of entry i joined with '|' (the unit's id and name left out). */
static const char *row_text(const struct world *w, const sgs_agg_ledger *l, size_t i)
{
    static char out[1024];
    const char *cells[SGS_AGG_LEDGER_COLS];
    char buf[512];
    int number;
    size_t n = 0;

    sgs_agg_ledger_cells(&l->v[i], sgs_registry_at(w->reg, l->v[i].row), cells, buf, sizeof(buf),
                         &number);
    n += (size_t)snprintf(out, sizeof(out), "%s%s", cells[0], number ? "#" : "");
    for (int c = 2; c < SGS_AGG_LEDGER_COLS; c++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "|%s", cells[c]);
    return out;
}

static void test_entries_and_order(void **state)
{
    struct world *w = *state;
    sgs_agg_ledger l;
    static const char *const want[] = {
        /* C1: records by report time (09:00 of the 5th before the 15th), the cut
         * note (2 + 5 over two partitions), concealed by kind and number, gaps */
        "C1#|迟报|行政处罚|甲罚〔2025〕1号|2025-12-01|2025-12-10|2025-12-05T01:00:00Z|2|",
        "C1#|迟报|行政处罚|甲罚〔2025〕3号|2025-12-01|2025-12-10|2025-12-15T10:00:00+08:00|3|",
        "C1|未逐条列出||||||"
        "|另有7条迟报或不合格数据超过台账记录上限（consumer.ledger.max_per_unit），未逐条列出",
        "C1|瞒报|行政许可|甲许〔2025〕9号|||||抽查比对未发现该决定的报送记录（瞒报）",
        "C1|瞒报|行政处罚|甲罚〔2025〕7号|||||抽查比对未发现该决定的报送记录（瞒报）",
        "C1|疑似漏报|行政处罚|甲罚〔2025〕2号|||||文书号不连续，疑似漏报，请自查核实",
        "C1|疑似漏报|行政处罚|甲罚〔2025〕4号|||||文书号不连续，疑似漏报，请自查核实",
        "C1|疑似漏报|行政处罚|甲罚〔2025〕||||"
        "|另有3个疑似漏报文书号未逐一列出",
        /* C2: late and invalid at once: one entry, 迟报 with its reasons */
        "C2#|迟报|行政许可|乙许〔2025〕8号|2025-12-01|2025-12-10|2025-12-20T10:00:00+08:00|"
        "7"
        "|missing_field subject.name: 行政相对人名称为空，应为非空文本",
        "C2|瞒报|行政处罚|乙罚〔2025〕4号|||||抽查比对未发现该决定的报送记录（瞒报）",
        /* K1 through its alias id; an invalid record's text kept as it is */
        /* (the Chinese message, never message_en) */
        "K1|不合格|行政许可|=1+2|||2025-12-02T08:00:00+08:00||bad_date decision_date: 决定日期“x”"
        "不是有效日期; bad_uscc subject.uscc: "
        "行政相对人统一社会信用代码“<b>”为3个字符，应为18个字符",
    };
    (void)state;

    build(w, &l, -1);
    assert_int_equal(l.unreadable, 1); /* "not json"; GHOST is no registry unit */
    for (size_t i = 0; i < l.n && i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(row_text(w, &l, i), want[i]);
    assert_int_equal(l.n, sizeof(want) / sizeof(want[0]));
    sgs_agg_ledger_free(&l);
}

static void test_one_unit(void **state)
{
    struct world *w = *state;
    sgs_agg_ledger l;
    (void)state;

    build(w, &l, 1); /* C2 */
    assert_int_equal(l.n, 2);
    assert_string_equal(sgs_agg_ledger_category(l.v[0].cat), "迟报");
    assert_string_equal(sgs_agg_ledger_category(l.v[1].cat), "瞒报");
    sgs_agg_ledger_free(&l);
}

/* The CSV: BOM, CRLF, quoting, and a formula's start neutralised. */
static void test_csv_cells(void **state)
{
    sgs_buf b = SGS_BUF_INIT;
    (void)state;

    sgs_agg_csv_text(&b, "plain");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "a,b");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "say \"hi\"");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "=cmd|' /C calc'!A0");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "+1");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "-1");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "@SUM(A1)");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "\t=1");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "a=1");
    sgs_buf_puts(&b, "|");
    sgs_agg_csv_text(&b, "");
    assert_string_equal(b.data, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"'=cmd|' /C calc'!A0\"|\"'+1\"|"
                                "\"'-1\"|\"'@SUM(A1)\"|\"'\t=1\"|a=1|");
    sgs_buf_free(&b);
}

static void test_ledger_csv(void **state)
{
    struct world *w = *state;
    sgs_config *cfg = agg_fixture_config(NULL);
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(w->reg, 2025, 12);
    sgs_buf b = SGS_BUF_INIT;
    const char *k1;

    assert_int_equal(sgs_agg_snapshot_finish(s, w->reg, cfg, AGG_FIXTURE_NOW, AGG_FIXTURE_TZ), 0);
    build(w, &s->ledger, -1);
    sgs_agg_ledger_csv(&b, s);
    assert_false(b.oom);
    assert_memory_equal(
        b.data,
        "\xEF\xBB\xBF单位编码,单位名称,类别,类型,决定文书号,决定日期,报送期限,"
        "报送时间,迟报工作日,原因\r\nC1,市甲局,迟报,行政处罚,甲罚〔2025〕1号,"
        "2025-12-01,2025-12-10,2025-12-05T01:00:00Z,2,\r\n",
        strlen("\xEF\xBB\xBF单位编码,单位名称,类别,类型,决定文书号,决定日期,报送期限,"
               "报送时间,迟报工作日,原因\r\nC1,市甲局,迟报,行政处罚,甲罚〔2025〕1号,"
               "2025-12-01,2025-12-10,2025-12-05T01:00:00Z,2,\r\n"));
    k1 = strstr(b.data, "\r\nK1,");
    assert_non_null(k1);
    assert_string_equal(k1, "\r\nK1,甲县,不合格,行政许可,\"'=1+2\",,,2025-12-02T08:00:00+08:00,,"
                            "bad_date decision_date: 决定日期“x”不是有效日期; bad_uscc "
                            "subject.uscc: 行政相对人统一社会信用代码“<b>”为3个字符，应为18个字符"
                            "\r\n");
    sgs_buf_free(&b);
    sgs_agg_snapshot_free(s);
    sgs_config_destroy(cfg);
}

/* One list of names, for the writer and the console. */
static void test_file_names(void **state)
{
    json_t *doc = json_pack("{s:s, s:[{s:s}, {s:s}, {s:s}, {s:s}]}", "month", "2025-12", "groups",
                            "group", "county", "group", "city", "group", "../x", "group", "ledger");
    static const char *const want[] = {
        "2025-12-county.csv",  "2025-12-city.csv",    "2025-12-_._x.csv",
        "2025-12-ledger_.csv", "2025-12-notice.md",   "2025-12-ledger.csv",
        "2025-12.xlsx",        "2025-12-report.html", "2025-12.json"};
    char **names;
    size_t n;
    (void)state;

    assert_int_equal(sgs_agg_report_files(doc, &names, &n), 0);
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    sgs_agg_strv_free(names, n);
    assert_string_equal(sgs_agg_report_content_type("2025-12-ledger.csv"),
                        "text/csv; charset=utf-8");
    assert_string_equal(sgs_agg_report_content_type("2025-12.xlsx"),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert_string_equal(sgs_agg_report_content_type("2025-12-report.html"),
                        "text/html; charset=utf-8");
    assert_string_equal(sgs_agg_report_content_type("2025-12.json"), "application/json");
    assert_string_equal(sgs_agg_report_content_type("x.bin"), "application/octet-stream");
    json_decref(doc);
    doc = json_pack("{s:[]}", "groups");
    assert_int_equal(sgs_agg_report_files(doc, &names, &n), -1);
    json_decref(doc);
}

static void test_sheet_names(void **state)
{
    char out[128];
    (void)state;

    sgs_agg_xlsx_sheet_name("县（市、区）", out, sizeof(out));
    assert_string_equal(out, "县（市、区）");
    sgs_agg_xlsx_sheet_name("县[区]:*?/\\'", out, sizeof(out));
    assert_string_equal(out, "县_区_______");
    sgs_agg_xlsx_sheet_name("'x'", out, sizeof(out));
    assert_string_equal(out, "_x_");
    sgs_agg_xlsx_sheet_name("", out, sizeof(out));
    assert_string_equal(out, "Sheet");
    sgs_agg_xlsx_sheet_name("台账", out, sizeof(out));
    assert_string_equal(out, "台账_");
    /* 31 characters at most, counted as characters, not bytes */
    sgs_agg_xlsx_sheet_name("一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三",
                            out, sizeof(out));
    assert_string_equal(out, "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entries_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_unit, setup, teardown),
        cmocka_unit_test(test_csv_cells),
        cmocka_unit_test_setup_teardown(test_ledger_csv, setup, teardown),
        cmocka_unit_test(test_file_names),
        cmocka_unit_test(test_sheet_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

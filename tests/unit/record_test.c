/* Unit tests of record parsing and the quality rules (REFERENCE §3, §4). The
 * registry is built from a buffer here (independent of the shipped unit ids);
 * the calendar is the shipped configs/calendar-cn.json (the deadlines are facts
 * of that calendar). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/date.h"
#include "sgs/record.h"
#include "sgs/registry.h"

#include "rules_fixture.h"

static const char units_tsv[] = "# test registry\n"
                                "unit_id\tname\tgroup\taliases\n"
                                "11410400MB0000001P\t市市场监管局\tcity\t平顶山市市场监督管理局,"
                                "市市场监督管理局\n"
                                "410423\t鲁山县\tcounty\t鲁山县人民政府\n";

static const char license_json[] =
    "{\"record_id\": \"r-1\", \"kind\": \"license\", \"unit_id\": \"410423\","
    " \"doc_no\": \"鲁市监许［2023］第01024 号\", \"decision_date\": "
    "\"2023-12-01\","
    " \"reported_at\": \"2023-12-05T10:31:00+08:00\","
    " \"subject\": {\"name\": \"平顶山市某某商贸有限公司\", \"type\": "
    "\"legal_person\","
    "   \"uscc\": \"91310110666007217T\", \"id_no\": null},"
    " \"authority\": {\"name\": \"鲁山县市场监督管理局\", \"uscc\": "
    "\"11230500001755309F\"},"
    " \"license\": {\"category\": \"普通\", \"content\": \"食品经营许可\","
    "   \"valid_from\": \"2023-12-01\", \"valid_to\": \"2028-11-30\"},"
    " \"penalty\": null, \"extra\": {\"kept\": [1, 2]}}";

static const char penalty_json[] =
    "{\"kind\": \"penalty\", \"unit_id\": \"11410400MB0000001P\","
    " \"doc_no\": \"平市监罚〔2023〕123号\", \"decision_date\": \"2023-12-01\","
    " \"reported_at\": \"2023-12-05T10:31:00+08:00\","
    " \"subject\": {\"name\": \"张三\", \"type\": \"natural_person\", "
    "\"uscc\": null,"
    "   \"id_no\": \"11010519491231002X\"},"
    " \"authority\": {\"name\": \"平顶山市市场监督管理局\"},"
    " \"license\": null,"
    " \"penalty\": {\"category\": [\"罚款\"], \"content\": \"罚款五千元\", "
    "\"fine_amount\": 0.5,"
    "   \"violation\": \"未按规定公示\", \"basis\": \"《条例》第十条\"}}";

static const char national_license_json[] =
    "{\"XK_XDR_MC\": \"平顶山市某某商贸有限公司\", \"XK_XDR_LB\": "
    "\"法人及非法人组织\","
    " \"XK_XDR_SHXYM\": \"91310110666007217T\", \"XK_FRDB\": \"李四\","
    " \"XK_XKWS\": \"食品经营许可证\", \"XK_WSH\": \"鲁市监许[2023]第01024号\","
    " \"XK_XKLB\": \"普通\", \"XK_NR\": \"食品经营许可\", \"XK_JDRQ\": "
    "\"2023/12/01\","
    " \"XK_YXQZ\": \"2023/12/01\", \"XK_YXQZI\": \"2028/11/30\","
    " \"XK_XKJG\": \"鲁山县市场监督管理局\", \"XK_XKJGDM\": "
    "\"11230500001755309F\","
    " \"XK_ZT\": \"1\", \"XK_LYDW\": \"鲁山县\", \"XK_LYDWDM\": \"410423\", "
    "\"BZ\": \"\"}";

static const char national_penalty_json[] =
    "{\"CF_XDR_MC\": \"张三\", \"CF_XDR_LB\": \"自然人\", \"CF_XDR_ZJLX\": "
    "\"身份证\","
    " \"CF_XDR_ZJHM\": \"11010519491231002X\", \"CF_WSH\": "
    "\"平市监罚（2023）0123号\","
    " \"CF_WFXW\": \"未按规定公示\", \"CF_SY\": \"...\", \"CF_YJ\": "
    "\"《条例》第十条\","
    " \"CF_CFLB\": \"罚款\", \"CF_NR\": \"罚款五千元\", \"CF_NR_FK\": \"0.5\","
    " \"CF_JDRQ\": \"20231201\", \"CF_CFJG\": \"平顶山市市场监督管理局\","
    " \"CF_CFJGDM\": \"11230500001755309F\", \"CF_SJLY\": "
    "\"平顶山市市场监督管理局\"}";

static sgs_registry *reg;
static sgs_calendar *cal;
static sgs_rules rules;
static sgs_record rec; /* a few KB: static, and reused like the consumer does */

/* 2023-12-05T02:31:00Z, the reported_at of the samples. */
static int64_t unix_at(int y, int mo, int d, int h, int mi, int s)
{
    return (int64_t)sgs_day_from_ymd(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int setup(void **state)
{
    char err[512];

    (void)state;
    reg =
        sgs_registry_load_buffer("test-units.tsv", units_tsv, strlen(units_tsv), err, sizeof(err));
    if (reg == NULL) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    return rules_fixture_init(&rules, reg, &cal);
}

static int teardown(void **state)
{
    (void)state;
    sgs_registry_destroy(reg);
    sgs_calendar_destroy(cal);
    return 0;
}

/* ---- helpers ---- */

static int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    while (*u) {
        size_t n, i;
        unsigned char lo = 0x80, hi = 0xBF;
        if (*u < 0x80) {
            u++;
            continue;
        }
        if (*u >= 0xC2 && *u <= 0xDF) {
            n = 2;
        } else if (*u >= 0xE0 && *u <= 0xEF) {
            n = 3;
            lo = *u == 0xE0 ? 0xA0 : 0x80;
            hi = *u == 0xED ? 0x9F : 0xBF;
        } else if (*u >= 0xF0 && *u <= 0xF4) {
            n = 4;
            lo = *u == 0xF0 ? 0x90 : 0x80;
            hi = *u == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (u[1] < lo || u[1] > hi) {
            return 0;
        }
        for (i = 2; i < n; i++) {
            if ((u[i] & 0xC0) != 0x80) {
                return 0;
            }
        }
        u += n;
    }
    return 1;
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* What must hold for every record, whatever the input. */
static void assert_sane(void)
{
    int i;

    assert_true(rec.n_reasons >= 0 && rec.n_reasons <= SGS_MAX_REASONS);
    for (i = 0; i < rec.n_reasons; i++) {
        const sgs_reason *r = &rec.reasons[i];
        assert_non_null(r->code);
        assert_true(terminated(r->field, sizeof(r->field)));
        assert_true(terminated(r->message, sizeof(r->message)));
        assert_true(utf8_valid(r->field));
        assert_true(utf8_valid(r->message));
        assert_true(r->message[0] != '\0');
    }
    assert_true(terminated(rec.unit_id, sizeof(rec.unit_id)) && utf8_valid(rec.unit_id));
    assert_true(terminated(rec.doc_no, sizeof(rec.doc_no)) && utf8_valid(rec.doc_no));
    assert_true(terminated(rec.doc.norm, sizeof(rec.doc.norm)) && utf8_valid(rec.doc.norm));
    assert_true(terminated(rec.identity, sizeof(rec.identity)) && utf8_valid(rec.identity));
    assert_int_equal(rec.identity_len, strlen(rec.identity));
    assert_true(terminated(rec.reported_at_text, sizeof(rec.reported_at_text)));
    assert_true(utf8_valid(rec.reported_at_text));
    assert_int_equal(strlen(rec.month), 7);
    assert_int_equal(strlen(rec.day), 10);
    if (rec.status == SGS_RECORD_VALID) {
        assert_int_equal(rec.n_reasons, 0);
    } else {
        assert_true(rec.n_reasons > 0);
    }
    if (rec.status == SGS_RECORD_MALFORMED) {
        assert_int_equal(rec.n_reasons, 1);
        assert_string_equal(rec.reasons[0].code, "malformed_json");
    }
    if (rec.status == SGS_RECORD_UNKNOWN_UNIT) {
        assert_int_equal(rec.n_reasons, 1);
        assert_string_equal(rec.reasons[0].code, "unknown_unit");
        assert_null(rec.unit);
    }
    if (rec.has_identity) {
        assert_non_null(rec.unit);
    }
}

static void parse_buf(const char *buf, size_t len, int64_t ts_ms)
{
    sgs_record_parse(&rules, buf, len, ts_ms, &rec);
    assert_sane();
}

static void parse_text(const char *s, int64_t ts_ms)
{
    parse_buf(s, strlen(s), ts_ms);
}

static void parse_json(const json_t *root, int64_t ts_ms)
{
    char *s = json_dumps(root, JSON_COMPACT);
    assert_non_null(s);
    parse_text(s, ts_ms);
    free(s);
}

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
    if (j == NULL) {
        fail_msg("bad test JSON: %s: %s", err.text, text);
    }
    return j;
}

/* Sets (value_json != NULL) or deletes a member at a path of at most two levels
 * ("subject.uscc"). */
static void set_path(json_t *root, const char *path, const char *value_json)
{
    char key[64];
    const char *dot = strchr(path, '.');
    json_t *obj = root;

    if (dot != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        obj = json_object_get(root, key);
        assert_non_null(obj);
        path = dot + 1;
    }
    if (value_json == NULL) {
        json_object_del(obj, path);
    } else {
        json_object_set_new(obj, path, load(value_json));
    }
}

static int has_reason(const char *code, const char *field)
{
    int i;

    for (i = 0; i < rec.n_reasons; i++) {
        if (strcmp(rec.reasons[i].code, code) == 0 && strcmp(rec.reasons[i].field, field) == 0) {
            return 1;
        }
    }
    return 0;
}

static void dump_reasons(void)
{
    int i;

    for (i = 0; i < rec.n_reasons; i++) {
        print_message("  reason %s [%s]: %s | %s\n", rec.reasons[i].code, rec.reasons[i].field,
                      rec.reasons[i].message, rec.reasons[i].message_en);
    }
}

/* A code point of the CJK Unified Ideographs block (U+4E00..U+9FFF) in s. */
static int has_hanzi(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    for (; *u; u++) {
        if (*u >= 0xE4 && *u <= 0xE9 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80 &&
            !(*u == 0xE4 && u[1] < 0xB8)) {
            return 1;
        }
    }
    return 0;
}

/* Every reason has its message in Chinese and in English, valid UTF-8 within
 * their bounds. */
static void assert_messages_both(void)
{
    int i;

    for (i = 0; i < rec.n_reasons; i++) {
        const sgs_reason *x = &rec.reasons[i];

        if (!has_hanzi(x->message) || x->message_en[0] == '\0' ||
            strcmp(x->message, x->message_en) == 0 ||
            !sgs_utf8_valid(x->message, strlen(x->message)) ||
            !sgs_utf8_valid(x->message_en, strlen(x->message_en))) {
            print_message("reason %d: not a Chinese message and an English one:\n", i);
            dump_reasons();
            fail();
        }
    }
}

static void assert_only_reason(const char *code, const char *field)
{
    if (rec.n_reasons != 1 || strcmp(rec.reasons[0].code, code) != 0 ||
        strcmp(rec.reasons[0].field, field) != 0) {
        print_message("expected only %s [%s], got %d reason(s):\n", code, field, rec.n_reasons);
        dump_reasons();
        fail();
    }
    assert_messages_both();
}

static void assert_valid(void)
{
    if (rec.status != SGS_RECORD_VALID) {
        print_message("expected a valid record, got status %d:\n", (int)rec.status);
        dump_reasons();
        fail();
    }
}

/* Some reason's English message (message_en) contains text. */
static void assert_message_en_contains(const char *text)
{
    int i;

    for (i = 0; i < rec.n_reasons; i++) {
        if (strstr(rec.reasons[i].message_en, text) != NULL) {
            return;
        }
    }
    print_message("no English message contains '%s':\n", text);
    dump_reasons();
    fail();
}

/* Some reason's message (Chinese, for the unit) contains text. */
static void assert_message_contains(const char *text)
{
    int i;

    for (i = 0; i < rec.n_reasons; i++) {
        if (strstr(rec.reasons[i].message, text) != NULL) {
            return;
        }
    }
    print_message("no message contains '%s':\n", text);
    dump_reasons();
    fail();
}

static const int64_t TS_DEC05 = 1701743460000LL; /* 2023-12-05T02:31:00Z */

/* ---- valid records ---- */

static void test_valid_license(void **state)
{
    (void)state;
    parse_text(license_json, -1);
    assert_valid();
    assert_int_equal(rec.format, SGS_FORMAT_NATIVE);
    assert_int_equal(rec.kind, SGS_KIND_LICENSE);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_LEGAL_PERSON);
    assert_non_null(rec.unit);
    assert_string_equal(rec.unit->name, "鲁山县");
    assert_string_equal(rec.unit_id, "410423");
    assert_string_equal(rec.doc_no, "鲁市监许［2023］第01024 号");
    assert_string_equal(rec.doc.norm, "鲁市监许〔2023〕1024号");
    assert_int_equal(rec.doc.has_serial, 1);
    assert_int_equal(rec.doc.serial_lo, 1024);
    assert_true(rec.has_identity);
    assert_string_equal(rec.identity, "410423|license|鲁市监许〔2023〕1024号");
    assert_true(rec.has_decision_date);
    assert_int_equal(rec.decision_date, sgs_day_from_ymd(2023, 12, 1));
    assert_true(rec.has_reported_at);
    assert_false(rec.reported_from_timestamp);
    assert_int_equal(rec.reported_at, unix_at(2023, 12, 5, 2, 31, 0));
    assert_string_equal(rec.reported_at_text, "2023-12-05T10:31:00+08:00");
    assert_int_equal(rec.report_day, sgs_day_from_ymd(2023, 12, 5));
    assert_string_equal(rec.month, "2023-12");
    assert_string_equal(rec.day, "2023-12-05");
    assert_true(rec.has_deadline);
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2023, 12, 12));
    assert_false(rec.late);
    assert_int_equal(rec.workdays_late, 0);
    assert_int_equal(rec.n_reasons, 0);
    assert_string_equal(sgs_kind_name(rec.kind), "license");
}

static void test_valid_penalty(void **state)
{
    (void)state;
    parse_text(penalty_json, -1);
    assert_valid();
    assert_int_equal(rec.kind, SGS_KIND_PENALTY);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_NATURAL_PERSON);
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    assert_string_equal(rec.doc.norm, "平市监罚〔2023〕123号");
    assert_string_equal(rec.doc.prefix, "平市监罚");
    assert_int_equal(rec.doc.year, 2023);
    assert_string_equal(rec.identity, "11410400MB0000001P|penalty|平市监罚〔2023〕123号");
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2023, 12, 12));
    assert_false(rec.late);
    assert_string_equal(sgs_kind_name(SGS_KIND_PENALTY), "penalty");
    assert_string_equal(sgs_kind_name(SGS_KIND_NONE), "");
}

/* ---- each rule alone ---- */

struct rule_case {
    const char *sample; /* license_json or penalty_json */
    const char *path;   /* member to change */
    const char *value;  /* new value as JSON, NULL to delete */
    const char *path2;  /* optional second change */
    const char *value2;
    const char *code; /* expected only reason; NULL: the record stays valid */
    const char *field;
};

#define L license_json
#define P penalty_json

static const struct rule_case rule_cases[] = {
    /* missing_field */
    {L, "kind", NULL, NULL, NULL, "missing_field", "kind"},
    {L, "kind", "\"\"", NULL, NULL, "missing_field", "kind"},
    {L, "kind", "1", NULL, NULL, "bad_kind", "kind"},
    {L, "kind", "[\"license\"]", NULL, NULL, "bad_kind", "kind"},
    {L, "kind", "null", NULL, NULL, "missing_field", "kind"},
    {L, "doc_no", NULL, NULL, NULL, "missing_field", "doc_no"},
    {L, "doc_no", "12345", NULL, NULL, "missing_field", "doc_no"},
    {L, "doc_no", "null", NULL, NULL, "missing_field", "doc_no"},
    {L, "decision_date", NULL, NULL, NULL, "missing_field", "decision_date"},
    {L, "decision_date", "20231201", NULL, NULL, "missing_field", "decision_date"},
    {L, "reported_at", "\"\"", NULL, NULL, "missing_field", "reported_at"},
    {L, "reported_at", "1701743460", NULL, NULL, "missing_field", "reported_at"},
    {L, "subject.name", NULL, NULL, NULL, "missing_field", "subject.name"},
    {L, "subject.name", "\"  \"", NULL, NULL, "missing_field", "subject.name"},
    {L, "subject.name", "[\"x\"]", NULL, NULL, "missing_field", "subject.name"},
    {L, "subject.type", NULL, NULL, NULL, "missing_field", "subject.type"},
    {L, "subject.type", "\"company\"", NULL, NULL, "missing_field", "subject.type"},
    {L, "authority.name", NULL, NULL, NULL, "missing_field", "authority.name"},
    {L, "authority.name", "{}", NULL, NULL, "missing_field", "authority.name"},
    /* bad_kind */
    {L, "kind", "\"permit\"", NULL, NULL, "bad_kind", "kind"},
    {L, "kind", "\"License\"", NULL, NULL, "bad_kind", "kind"},
    {L, "license", NULL, NULL, NULL, "bad_kind", "license"},
    {L, "license", "null", NULL, NULL, "bad_kind", "license"},
    {L, "license", "\"食品经营许可\"", NULL, NULL, "bad_kind", "license"},
    {P, "penalty", NULL, NULL, NULL, "bad_kind", "penalty"},
    {P, "penalty", "[]", NULL, NULL, "bad_kind", "penalty"},
    /* bad_date */
    {L, "decision_date", "\"2023-02-30\"", NULL, NULL, "bad_date", "decision_date"},
    {L, "decision_date", "\"2023/12/01\"", NULL, NULL, "bad_date", "decision_date"},
    {L, "decision_date", "\"2023-12-1\"", NULL, NULL, "bad_date", "decision_date"},
    {L, "reported_at", "\"2023-12-05 10:31:00\"", NULL, NULL, "bad_date", "reported_at"},
    {L, "reported_at", "\"2023-12-05T10:31:00\"", NULL, NULL, "bad_date", "reported_at"},
    {L, "reported_at", "\"2023-12-32T10:31:00+08:00\"", NULL, NULL, "bad_date", "reported_at"},
    /* future_decision */
    {L, "decision_date", "\"2023-12-06\"", "license.valid_from", "\"2023-12-06\"",
     "future_decision", "decision_date"},
    {L, "decision_date", "\"2023-12-05\"", NULL, NULL, NULL, NULL}, /* same day is fine */
    /* bad_uscc */
    {L, "subject.uscc", NULL, NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"91310110666007217U\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"9131011066600721\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"91310110666007217t\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"913101106660072I7T\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"00000000000000000X\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "913101106660072170", NULL, NULL, "bad_uscc", "subject.uscc"},
    {L, "subject.uscc", "\"91350211M00013FA1N\"", NULL, NULL, NULL, NULL}, /* early Xiamen */
    {L, "subject.type", "\"individual_business\"", "subject.uscc", "\"00000000000000000X\"", NULL,
     NULL},
    {L, "subject.type", "\"individual_business\"", "subject.uscc", "null", NULL, NULL},
    {L, "subject.type", "\"individual_business\"", "subject.uscc", "\"9144030071526726XA\"",
     "bad_uscc", "subject.uscc"},
    {P, "subject.uscc", "\"00000000000000000X\"", NULL, NULL, "bad_uscc", "subject.uscc"},
    {P, "subject.uscc", "\"9144030071526726XG\"", NULL, NULL, NULL, NULL},
    {L, "authority.uscc", "\"11230500001755309A\"", NULL, NULL, "bad_uscc", "authority.uscc"},
    {L, "authority.uscc", "null", NULL, NULL, NULL, NULL},
    {L, "authority.uscc", NULL, NULL, NULL, NULL, NULL},
    /* bad_id_no */
    {P, "subject.id_no", "\"110105194912310021\"", NULL, NULL, "bad_id_no", "subject.id_no"},
    {P, "subject.id_no", "\"11010519491231002x\"", NULL, NULL, "bad_id_no", "subject.id_no"},
    {P, "subject.id_no", "\"110105194902300028\"", NULL, NULL, "bad_id_no", "subject.id_no"},
    {P, "subject.id_no", "\"110105491231002\"", NULL, NULL, "bad_id_no", "subject.id_no"},
    {P, "subject.id_no", "440524188001010014", NULL, NULL, "bad_id_no", "subject.id_no"},
    {P, "subject.id_no", "null", NULL, NULL, NULL, NULL},
    {P, "subject.id_no", "\"440524188001010014\"", NULL, NULL, NULL, NULL},
    /* bad_validity */
    {L, "license.valid_to", "\"2020-01-01\"", NULL, NULL, "bad_validity", "license.valid_to"},
    {L, "license.valid_to", "\"2028-02-30\"", NULL, NULL, "bad_validity", "license.valid_to"},
    {L, "license.valid_from", "\"someday\"", NULL, NULL, "bad_validity", "license.valid_from"},
    {L, "license.valid_to", "20281130", NULL, NULL, "bad_validity", "license.valid_to"},
    {L, "license.valid_to", "\"2023-12-01\"", NULL, NULL, NULL, NULL}, /* same day */
    {L, "license.valid_to", "\"长期\"", NULL, NULL, NULL, NULL},
    {L, "license.valid_to", NULL, NULL, NULL, NULL, NULL},
    /* bad_amount */
    {P, "penalty.fine_amount", "-1", NULL, NULL, "bad_amount", "penalty.fine_amount"},
    {P, "penalty.fine_amount", "-0.01", NULL, NULL, "bad_amount", "penalty.fine_amount"},
    {P, "penalty.fine_amount", "\"0.5\"", NULL, NULL, "bad_amount", "penalty.fine_amount"},
    {P, "penalty.fine_amount", "true", NULL, NULL, "bad_amount", "penalty.fine_amount"},
    {P, "penalty.fine_amount", "[0.5]", NULL, NULL, "bad_amount", "penalty.fine_amount"},
    {P, "penalty.fine_amount", "null", NULL, NULL, NULL, NULL},
    {P, "penalty.fine_amount", "0", NULL, NULL, NULL, NULL},
    {P, "penalty.fine_amount", "12000", NULL, NULL, NULL, NULL},
    {P, "penalty.fine_amount", NULL, NULL, NULL, NULL, NULL},
    /* bad_doc_no */
    {L, "doc_no", "\"罚1号\"", NULL, NULL, "bad_doc_no", "doc_no"},
    {L, "doc_no", "\"  罚 1 \"", NULL, NULL, "bad_doc_no", "doc_no"},
    {L, "doc_no",
     "\"平顶山市市场监督管理局平顶山市市场监督管理局平顶山市市场监督管理局平顶"
     "山市市场监督管理局"
     "平顶山市市场监督管理局X罚〔2023〕1号\"",
     NULL, NULL, "bad_doc_no", "doc_no"},
    {L, "doc_no", "\"双环许可2019\"", NULL, NULL, NULL, NULL}, /* no serial, length is fine */
    /* unknown_unit */
    {L, "unit_id", NULL, NULL, NULL, "unknown_unit", "unit_id"},
    {L, "unit_id", "\"999999\"", NULL, NULL, "unknown_unit", "unit_id"},
    {L, "unit_id", "\"\"", NULL, NULL, "unknown_unit", "unit_id"},
    {L, "unit_id", "410423", NULL, NULL, "unknown_unit", "unit_id"},
    {L, "unit_id", "\"鲁山一县\"", NULL, NULL, "unknown_unit", "unit_id"}, /* no unit's name */
    {L, "unit_id", "\"999999\"", "kind", "\"permit\"", "unknown_unit", "unit_id"},
    /* extra fields are kept and ignored */
    {L, "record_id", "12", "extra", "[[[]]]", NULL, NULL},
};

static void test_each_rule_alone(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
        const struct rule_case *c = &rule_cases[i];
        json_t *root = load(c->sample);

        print_message("case %zu: %s = %s%s%s%s -> %s [%s]\n", i, c->path,
                      c->value ? c->value : "(deleted)", c->path2 ? ", " : "",
                      c->path2 ? c->path2 : "", c->path2 ? " changed" : "",
                      c->code ? c->code : "valid", c->field ? c->field : "");
        set_path(root, c->path, c->value);
        if (c->path2 != NULL) {
            set_path(root, c->path2, c->value2);
        }
        parse_json(root, TS_DEC05);
        json_decref(root);
        if (c->code == NULL) {
            assert_valid();
            continue;
        }
        assert_only_reason(c->code, c->field);
        if (strcmp(c->code, "unknown_unit") == 0) {
            assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
            assert_false(rec.has_identity);
            assert_string_equal(rec.month, "2023-12");
        } else {
            assert_int_equal(rec.status, SGS_RECORD_INVALID);
            assert_non_null(rec.unit);
        }
    }
}

static void test_messages_say_what(void **state)
{
    json_t *root;

    (void)state;
    root = load(license_json);
    set_path(root, "subject.uscc", "\"91310110666007217U\"");
    parse_json(root, -1);
    assert_message_en_contains("check character is 'U', expected 'T'");
    assert_message_contains("行政相对人统一社会信用代码“91310110666007217U”的校验码为“U”，应为“T”");
    set_path(root, "subject.uscc", "\"9131011066600721\"");
    parse_json(root, -1);
    assert_message_en_contains("expected 18");
    assert_message_contains("行政相对人统一社会信用代码“9131011066600721”为16个字符，应为18个字符");
    set_path(root, "subject.uscc", "\"913101106660072I7T\"");
    parse_json(root, -1);
    assert_message_en_contains("character 16 'I'");
    assert_message_contains("第16个字符“I”不在代码字符集内");
    set_path(root, "doc_no", "12345");
    parse_json(root, -1);
    assert_message_en_contains("expected a string, got a number");
    assert_message_contains("文书号为数字，应为非空文本");
    set_path(root, "unit_id", "\"99999999\"");
    parse_json(root, -1);
    assert_message_en_contains("'99999999'");
    assert_message_contains("单位代码“99999999”不在单位名录中");
    json_decref(root);

    /* unit_id as a unit's name or an alias name: that unit */
    root = load(penalty_json);
    set_path(root, "unit_id", "\"鲁山县\"");
    parse_json(root, -1);
    assert_non_null(rec.unit);
    assert_string_equal(rec.unit_id, "410423");
    set_path(root, "unit_id", "\"平顶山市市场监督管理局\"");
    parse_json(root, -1);
    assert_non_null(rec.unit);
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    json_decref(root);

    root = load(penalty_json);
    set_path(root, "subject.id_no", "\"110105194912310021\"");
    parse_json(root, -1);
    assert_message_en_contains("expected 'X'");
    assert_message_contains("行政相对人证件号码“110105194912310021”的校验码为“1”，应为“X”");
    set_path(root, "penalty.fine_amount", "\"0.5\"");
    parse_json(root, -1);
    assert_message_en_contains("got a string");
    assert_message_contains("罚款金额为文本“0.5”，应为数字或null");
    json_decref(root);

    /* The example of the issue: a document number too short once normalised. */
    root = load(license_json);
    set_path(root, "doc_no", "\" Ａ B \"");
    parse_json(root, -1);
    assert_only_reason("bad_doc_no", "doc_no");
    assert_message_contains("文书号“AB”规范化后为2个字符，应为4至64个字符");
    assert_message_en_contains("'AB' normalises to 2 characters, expected 4 to 64");
    json_decref(root);
}

static void test_several_reasons(void **state)
{
    json_t *root = load(penalty_json);

    (void)state;
    set_path(root, "doc_no", NULL);
    set_path(root, "decision_date", "\"2023-13-01\"");
    set_path(root, "subject.type", "\"legal_person\"");
    set_path(root, "authority.name", "\"\"");
    set_path(root, "authority.uscc", "\"123\"");
    set_path(root, "penalty.fine_amount", "-5");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_int_equal(rec.n_reasons, 6);
    assert_true(has_reason("missing_field", "doc_no"));
    assert_true(has_reason("bad_date", "decision_date"));
    assert_true(has_reason("bad_uscc", "subject.uscc")); /* legal person without a code */
    assert_true(has_reason("missing_field", "authority.name"));
    assert_true(has_reason("bad_uscc", "authority.uscc"));
    assert_true(has_reason("bad_amount", "penalty.fine_amount"));
    assert_false(rec.has_identity);
    assert_false(rec.has_deadline);

    /* No subject at all: both of its required fields are named. */
    root = load(license_json);
    set_path(root, "subject", "\"平顶山市某某商贸有限公司\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_int_equal(rec.n_reasons, 2);
    assert_true(has_reason("missing_field", "subject.name"));
    assert_true(has_reason("missing_field", "subject.type"));
    /* The deadline and the identity do not depend on the subject. */
    assert_true(rec.has_identity);
    assert_true(rec.has_deadline);

    /* An empty object: every required field, once each. */
    parse_text("{\"unit_id\": \"410423\"}", TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_true(has_reason("missing_field", "kind"));
    assert_true(has_reason("missing_field", "doc_no"));
    assert_true(has_reason("missing_field", "decision_date"));
    assert_true(has_reason("missing_field", "subject.name"));
    assert_true(has_reason("missing_field", "subject.type"));
    assert_true(has_reason("missing_field", "authority.name"));
    assert_int_equal(rec.n_reasons, 6); /* reported_at absent: the timestamp is used */
    assert_true(rec.reported_from_timestamp);
}

/* ---- deadlines and report times ---- */

static void parse_with(const char *decision, const char *reported, int64_t ts_ms)
{
    json_t *root = load(penalty_json);

    set_path(root, "decision_date", decision);
    set_path(root, "reported_at", reported);
    parse_json(root, ts_ms);
    json_decref(root);
}

static void test_deadline_across_new_year(void **state)
{
    (void)state;
    /* Decided Fri 2023-12-22, 7 working days, the decision day not counted:
     * Dec 25 26 27 28 29, (Jan 1 is a holiday), Jan 2, Jan 3 (docs/RULES.md
     * §1, worked example 1). Tue 2024-01-02 is the 6th working day, or the 7th
     * when the decision day counts (see below). */
    parse_with("\"2023-12-22\"", "\"2024-01-02T17:59:59+08:00\"", -1);
    assert_valid();
    assert_true(rec.has_deadline);
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2024, 1, 3));
    assert_false(rec.late);
    assert_int_equal(rec.workdays_late, 0);
    assert_string_equal(rec.month, "2024-01");

    parse_with("\"2023-12-22\"", "\"2024-01-03T23:59:59+08:00\"", -1);
    assert_false(rec.late); /* on the deadline is on time */

    parse_with("\"2023-12-22\"", "\"2024-01-04T09:00:00+08:00\"", -1);
    assert_valid(); /* late is not a quality failure */
    assert_true(rec.late);
    assert_int_equal(rec.workdays_late, 1);

    /* The local date decides: 2024-01-03T16:30Z is already Jan 4 in +08:00. */
    parse_with("\"2023-12-22\"", "\"2024-01-03T16:30:00Z\"", -1);
    assert_int_equal(rec.report_day, sgs_day_from_ymd(2024, 1, 4));
    assert_true(rec.late);
    parse_with("\"2023-12-22\"", "\"2024-01-03T15:59:59Z\"", -1);
    assert_false(rec.late);

    /* A week-end in between does not count: reported Mon 2024-01-08. */
    parse_with("\"2023-12-22\"", "\"2024-01-08T09:00:00+08:00\"", -1);
    assert_int_equal(rec.workdays_late, 3);

    /* Counting the decision day as day 1: deadline Tue 2024-01-02, so a report on
     * Wed 2024-01-03 is one working day late. */
    rules.count_decision_day = 1;
    parse_with("\"2023-12-22\"", "\"2024-01-02T09:00:00+08:00\"", -1);
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2024, 1, 2));
    assert_false(rec.late);
    parse_with("\"2023-12-22\"", "\"2024-01-03T09:00:00+08:00\"", -1);
    rules.count_decision_day = 0;
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2024, 1, 2));
    assert_true(rec.late);
    assert_int_equal(rec.workdays_late, 1);

    /* A different deadline per kind. */
    rules.deadline_workdays[SGS_KIND_PENALTY] = 1;
    parse_with("\"2023-12-22\"", "\"2023-12-26T09:00:00+08:00\"", -1);
    rules.deadline_workdays[SGS_KIND_PENALTY] = 7;
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2023, 12, 25));
    assert_true(rec.late);

    /* Another RULES §1 vector, across 春节 2024 (02-18 Sun is a working day). */
    parse_with("\"2024-02-08\"", "\"2024-02-26T09:00:00+08:00\"", -1);
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2024, 2, 23));
    assert_true(rec.late);
    assert_int_equal(rec.workdays_late, 1);
}

static void test_report_month_in_local_time(void **state)
{
    (void)state;
    parse_with("\"2023-12-22\"", "\"2023-12-31T16:30:00Z\"", -1);
    assert_valid();
    assert_string_equal(rec.month, "2024-01");
    assert_string_equal(rec.day, "2024-01-01");
    assert_string_equal(rec.reported_at_text, "2023-12-31T16:30:00Z");
    assert_int_equal(rec.reported_at, unix_at(2023, 12, 31, 16, 30, 0));

    parse_with("\"2023-12-22\"", "\"2023-12-31T15:59:59Z\"", -1);
    assert_string_equal(rec.month, "2023-12");
}

static void test_reported_at_absent_uses_timestamp(void **state)
{
    int64_t ts = unix_at(2024, 1, 2, 0, 0, 0) * 1000 + 123; /* 08:00 local */
    json_t *root;

    (void)state;
    root = load(penalty_json);
    set_path(root, "decision_date", "\"2023-12-22\"");
    set_path(root, "reported_at", NULL);
    parse_json(root, ts);
    assert_valid();
    assert_true(rec.has_reported_at);
    assert_true(rec.reported_from_timestamp);
    assert_int_equal(rec.reported_at, ts / 1000);
    assert_string_equal(rec.reported_at_text, "2024-01-02T08:00:00+08:00");
    assert_string_equal(rec.month, "2024-01");
    assert_string_equal(rec.day, "2024-01-02");
    assert_false(rec.late);

    /* null is the same as absent. */
    set_path(root, "reported_at", "null");
    parse_json(root, ts + 2 * 86400 * 1000); /* 2024-01-04 */
    assert_valid();
    assert_true(rec.reported_from_timestamp);
    assert_true(rec.late);
    assert_int_equal(rec.workdays_late, 1);

    /* No timestamp either: now. */
    set_path(root, "reported_at", NULL);
    parse_json(root, -1);
    {
        char month[8];
        int64_t now = (int64_t)time(NULL);
        assert_true(rec.reported_from_timestamp);
        assert_true(rec.reported_at >= now - 5 && rec.reported_at <= now + 5);
        sgs_day_format_month(sgs_day_of_instant(rec.reported_at, 8 * 3600), month);
        assert_string_equal(rec.month, month);
    }
    json_decref(root);
}

static void test_reported_at_invalid_month_from_timestamp(void **state)
{
    int64_t ts = unix_at(2024, 2, 29, 20, 0, 0) * 1000; /* 2024-03-01 04:00 local */

    (void)state;
    parse_with("\"2023-12-22\"", "\"yesterday\"", ts);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_only_reason("bad_date", "reported_at");
    assert_false(rec.has_reported_at);
    assert_false(rec.reported_from_timestamp);
    assert_string_equal(rec.month, "2024-03");
    assert_false(rec.late);
    assert_true(rec.has_deadline); /* depends on the decision only */
}

/* ---- hostile input ---- */

static void expect_malformed(const char *buf, size_t len, const char *message_part)
{
    parse_buf(buf, len, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_MALFORMED);
    assert_string_equal(rec.reasons[0].code, "malformed_json");
    assert_string_equal(rec.reasons[0].field, "");
    assert_messages_both();
    if (message_part != NULL) {
        assert_message_en_contains(message_part);
    }
    assert_false(rec.has_identity);
    assert_null(rec.unit);
    assert_string_equal(rec.month, "2023-12");
}

static void test_malformed_json(void **state)
{
    static const char truncated[] = "{\"kind\": \"license\", \"doc_no\": \"平市";

    (void)state;
    expect_malformed(truncated, strlen(truncated), "byte");
    expect_malformed("{\"kind\": \"license\",}", 20, "invalid JSON");
    expect_malformed("{\"a\": 1} trailing", 17, NULL);
    expect_malformed("", 0, "empty");
    expect_malformed(NULL, 0, "empty");
    expect_malformed("   ", 3, NULL);
    expect_malformed("[1, 2]", 6, "JSON array, expected an object");
    expect_malformed("\"平市监罚〔2023〕123号\"", strlen("\"平市监罚〔2023〕123号\""),
                     "JSON string, expected an object");
    expect_malformed("42", 2, "JSON number, expected an object");
    expect_malformed("null", 4, "JSON null, expected an object");
    expect_malformed("true", 4, "JSON boolean, expected an object");
    assert_message_contains("消息是JSON布尔值，应为一个JSON对象");
    expect_malformed("[1, 2]", 6, NULL);
    assert_message_contains("消息是JSON数组");
    expect_malformed("", 0, NULL);
    assert_message_contains("消息为空，应为一个JSON对象");
    expect_malformed("{\"kind\": \"license\",}", 20, NULL);
    assert_message_contains(
        "消息不是有效的JSON（应为UTF-8编码的JSON对象）：第1行第20列（第19字节）处出错");
}

/* Long values in messages: a duplicate key of Chinese text (quoted in the
 * tokenizer's text and near the error), at every length, gives messages in
 * their bounds, valid UTF-8 (expect_malformed); a value quoted by
 * sgs_record_quote is cut between characters whatever byte the bound falls
 * on, and says so with "...". */
static void test_long_values_cut_whole_characters(void **state)
{
    char buf[1024], key[512], q[64];
    int k, n;

    (void)state;
    for (k = 1; k < 60; k++) {
        int i, len = 0;

        for (i = 0; i < k; i++) {
            len += snprintf(key + len, sizeof(key) - (size_t)len, "%s", i % 3 ? "键" : "k");
        }
        n = snprintf(buf, sizeof(buf), "{\"%s\": 1, \"%s\": 2}", key, key);
        expect_malformed(buf, (size_t)n, "duplicate object key");
        assert_true(strlen(rec.reasons[0].message) < SGS_REASON_MESSAGE_MAX);
        assert_true(strlen(rec.reasons[0].message_en) < SGS_REASON_MESSAGE_EN_MAX);

        sgs_record_quote(q, sizeof(q), key, (size_t)len);
        assert_true(sgs_utf8_valid(q, strlen(q)));
        assert_true(strlen(q) <= 43);
        if (len > 40) {
            assert_non_null(strstr(q, "..."));
        } else {
            assert_string_equal(q, key);
        }
    }
}

static void test_every_truncation_is_malformed(void **state)
{
    size_t n = strlen(license_json);
    size_t i;

    (void)state;
    for (i = 0; i < n; i++) {
        /* A prefix that ends inside the JSON is never a record (white space aside).
         */
        parse_buf(license_json, i, TS_DEC05);
        assert_int_equal(rec.status, SGS_RECORD_MALFORMED);
    }
}

static void test_embedded_nul(void **state)
{
    static const char text[] = "{\"kind\": \"license\", \"unit_id\": \"410423\","
                               " \"doc_no\": \"平市监许〔2023〕1\\u0000号\"}";

    (void)state;
    expect_malformed(text, strlen(text), "u0000");
    /* A raw NUL byte in the buffer is not JSON either. */
    expect_malformed("{\"kind\": \"lic\0ense\"}", 20, NULL);
}

static void test_invalid_utf8_bytes(void **state)
{
    static const char text[] = "{\"kind\": \"license\", \"doc_no\": \"平市\xff\xfe监\"}";
    static const char overlong[] = "{\"kind\": \"\xc0\xaf\"}";
    static const char encoded_surrogate[] = "{\"kind\": \"\xed\xa0\x80\"}";

    (void)state;
    expect_malformed(text, strlen(text), NULL);
    expect_malformed(overlong, strlen(overlong), NULL);
    expect_malformed(encoded_surrogate, strlen(encoded_surrogate), NULL);
    expect_malformed("\xff\xfe{}", 4, NULL);
}

static void test_lone_surrogate(void **state)
{
    static const char text[] = "{\"kind\": \"license\", \"subject\": {\"name\": \"\\ud800\"}}";
    static const char low[] = "{\"doc_no\": \"\\udc00abc\"}";

    (void)state;
    expect_malformed(text, strlen(text), NULL);
    expect_malformed(low, strlen(low), NULL);
    /* A proper pair is fine (U+1F600). */
    parse_text("{\"unit_id\": \"410423\", \"kind\": \"license\", \"doc_no\": "
               "\"\\ud83d\\ude00"
               "罚〔2023〕1号\"}",
               TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_string_equal(rec.doc.norm, "\xf0\x9f\x98\x80罚〔2023〕1号");
}

static void test_deep_nesting(void **state)
{
    size_t depth = 10000;
    char *buf = malloc(2 * depth + 16);
    size_t n = 0, i;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < depth; i++) {
        buf[n++] = '[';
    }
    for (i = 0; i < depth; i++) {
        buf[n++] = ']';
    }
    expect_malformed(buf, n, "depth");

    n = 0;
    memcpy(buf, "{\"a\":", 5);
    n = 5;
    for (i = 0; i < depth; i++) {
        buf[n++] = '[';
    }
    for (i = 0; i < depth; i++) {
        buf[n++] = ']';
    }
    buf[n++] = '}';
    expect_malformed(buf, n, NULL);
    free(buf);
}

static void test_duplicate_keys(void **state)
{
    static const char text[] =
        "{\"kind\": \"license\", \"unit_id\": \"410423\", \"kind\": \"penalty\"}";
    static const char nested[] = "{\"subject\": {\"name\": \"a\", \"name\": \"b\"}}";

    (void)state;
    expect_malformed(text, strlen(text), "duplicate");
    expect_malformed(nested, strlen(nested), "duplicate");
}

/* Numbers beyond int64 or a double are valid JSON (REFERENCE §4): read as
 * reals; a fine beyond a double is not a finite number (bad_amount), a big
 * number elsewhere changes nothing. */
static void test_huge_number(void **state)
{
    char buf[2000], digits[401];
    const char *at = strstr(penalty_json, "0.5,");
    int n, i;

    (void)state;
    for (i = 0; i < 400; i++) {
        digits[i] = (char)('1' + i % 9);
    }
    digits[400] = '\0';
    assert_non_null(at);
    n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - penalty_json), penalty_json, digits,
                 at + 3);
    parse_buf(buf, (size_t)n, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_only_reason("bad_amount", "penalty.fine_amount");
    assert_message_en_contains("beyond the range of a number");
    assert_true(rec.has_identity);

    /* a 400-digit number, 1e400 or -1e400 in a member sgs does not read */
    n = snprintf(buf, sizeof(buf), "%.*s, \"x\": %s}", (int)(strlen(penalty_json) - 1),
                 penalty_json, digits);
    parse_buf(buf, (size_t)n, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_VALID);
    n = snprintf(buf, sizeof(buf), "%.*s, \"x\": [1e400, -1e400, 92233720368547758070]}",
                 (int)(strlen(penalty_json) - 1), penalty_json);
    parse_buf(buf, (size_t)n, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_VALID);
    /* 1e30 is a finite fine (in 万元): no rule bounds it */
    n = snprintf(buf, sizeof(buf), "%.*s1e30%s", (int)(at - penalty_json), penalty_json, at + 3);
    parse_buf(buf, (size_t)n, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_VALID);
    /* A tiny number underflows to 0: a fine of 0 is fine. */
    n = snprintf(buf, sizeof(buf),
                 "{\"unit_id\": \"410423\", \"kind\": \"penalty\", \"penalty\": "
                 "{\"fine_amount\": 1e-400}}");
    parse_buf(buf, (size_t)n, TS_DEC05);
    assert_false(has_reason("bad_amount", "penalty.fine_amount"));
}

/* A string of n bytes made of the UTF-8 character c (repeated; n a multiple of
 * its length), as a JSON document {"key": ..., rest}. */
static char *big_record(const char *sample, const char *path, const char *c, size_t n)
{
    json_t *root = load(sample);
    size_t clen = strlen(c);
    char *s = malloc(n + 1);
    char *text;
    size_t i;

    assert_non_null(s);
    for (i = 0; i + clen <= n; i += clen) {
        memcpy(s + i, c, clen);
    }
    s[i] = '\0';
    if (strchr(path, '.') != NULL) {
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)(strchr(path, '.') - path), path);
        json_object_set_new(json_object_get(root, key), strchr(path, '.') + 1, json_string(s));
    } else {
        json_object_set_new(root, path, json_string(s));
    }
    free(s);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(text);
    return text;
}

static void test_one_megabyte_strings(void **state)
{
    static const char *const paths[] = {"doc_no",           "unit_id",      "kind",
                                        "decision_date",    "reported_at",  "subject.name",
                                        "subject.type",     "subject.uscc", "authority.uscc",
                                        "license.valid_to", "record_id"};
    static const char *const chars[] = {"A", "号", "\xf0\x9f\x98\x80"};
    size_t i, k;

    (void)state;
    for (k = 0; k < sizeof(chars) / sizeof(chars[0]); k++) {
        for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            char *text = big_record(license_json, paths[i], chars[k], 1 << 20);
            parse_text(text, TS_DEC05);
            free(text);
            if (strcmp(paths[i], "subject.name") == 0 || strcmp(paths[i], "record_id") == 0) {
                assert_valid();
            } else if (strcmp(paths[i], "unit_id") == 0) {
                assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
                /* the quoted id is cut: ~40 bytes and "..." */
                assert_true(strlen(rec.reasons[0].message_en) < 100);
                assert_true(strlen(rec.reasons[0].message) < 160);
                assert_message_en_contains("...");
                assert_message_contains("...”");
            } else {
                assert_int_equal(rec.status, SGS_RECORD_INVALID);
            }
        }
    }
    {
        char *text = big_record(license_json, "doc_no", "号", 1 << 20);
        parse_text(text, TS_DEC05);
        free(text);
        assert_only_reason("bad_doc_no", "doc_no");
        assert_true(strlen(rec.doc_no) <= SGS_DOCNO_MAX - 1);
        assert_true(strlen(rec.doc_no) >= SGS_DOCNO_MAX - 4);
        assert_false(rec.has_identity);
    }
}

static void test_wrong_types_everywhere(void **state)
{
    static const char *const paths[] = {
        "kind",
        "unit_id",
        "doc_no",
        "decision_date",
        "reported_at",
        "subject",
        "authority",
        "license",
        "penalty",
        "subject.name",
        "subject.type",
        "subject.uscc",
        "subject.id_no",
        "authority.name",
        "authority.uscc",
        "license.valid_from",
        "license.valid_to",
        "record_id",
    };
    static const char *const values[] = {"null", "true",    "0",          "-1.5", "[]",
                                         "{}",   "[\"x\"]", "{\"a\": 1}", "\"\""};
    static const char *const samples[] = {license_json, penalty_json};
    size_t s, i, v;

    (void)state;
    for (s = 0; s < 2; s++) {
        for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            for (v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                json_t *root = load(samples[s]);
                if (strchr(paths[i], '.') != NULL) {
                    char key[32];
                    snprintf(key, sizeof(key), "%.*s", (int)(strchr(paths[i], '.') - paths[i]),
                             paths[i]);
                    if (!json_is_object(json_object_get(root, key))) {
                        json_decref(root);
                        continue;
                    }
                }
                set_path(root, paths[i], values[v]);
                parse_json(root, TS_DEC05);
                json_decref(root);
                assert_true(rec.status != SGS_RECORD_MALFORMED);
            }
        }
    }
}

static void test_random_bytes_and_mutations(void **state)
{
    unsigned int seed = 12345;
    char buf[1024];
    size_t n = strlen(penalty_json);
    int round, i;

    (void)state;
    assert_true(n < sizeof(buf));
    for (round = 0; round < 3000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 200);
        for (i = 0; i < (int)len; i++) {
            buf[i] = (char)(rand_r(&seed) & 0xFF);
        }
        parse_buf(buf, len, TS_DEC05);
    }
    for (round = 0; round < 3000; round++) {
        int flips = 1 + rand_r(&seed) % 4;
        memcpy(buf, penalty_json, n);
        for (i = 0; i < flips; i++) {
            buf[rand_r(&seed) % n] = (char)(rand_r(&seed) & 0xFF);
        }
        parse_buf(buf, n, -1);
    }
}

static void test_reuse_does_not_leak_state(void **state)
{
    (void)state;
    parse_text("[1]", TS_DEC05);
    parse_text(penalty_json, -1);
    assert_valid();
    assert_int_equal(rec.n_reasons, 0);
    parse_text("{\"unit_id\": \"x\"}", TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
    assert_string_equal(rec.doc_no, "");
    assert_false(rec.has_identity);
    assert_string_equal(rec.unit_id, "x");
}

/* ---- national format ---- */

static void test_national_license(void **state)
{
    (void)state;
    parse_text(national_license_json, TS_DEC05);
    assert_valid();
    assert_int_equal(rec.format, SGS_FORMAT_NATIONAL);
    assert_int_equal(rec.kind, SGS_KIND_LICENSE);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_LEGAL_PERSON);
    assert_string_equal(rec.unit_id, "410423");
    assert_string_equal(rec.doc_no, "鲁市监许[2023]第01024号");
    assert_string_equal(rec.identity, "410423|license|鲁市监许〔2023〕1024号");
    assert_int_equal(rec.decision_date, sgs_day_from_ymd(2023, 12, 1));
    assert_true(rec.reported_from_timestamp);
    assert_int_equal(rec.reported_at, TS_DEC05 / 1000);
    assert_string_equal(rec.month, "2023-12");
    assert_int_equal(rec.deadline, sgs_day_from_ymd(2023, 12, 12));
    assert_false(rec.late);
}

static void test_national_penalty(void **state)
{
    (void)state;
    parse_text(national_penalty_json, TS_DEC05);
    assert_valid();
    assert_int_equal(rec.format, SGS_FORMAT_NATIONAL);
    assert_int_equal(rec.kind, SGS_KIND_PENALTY);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_NATURAL_PERSON);
    /* Unit by name (an alias): there is no CF_SJLYDM. */
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    assert_string_equal(rec.identity, "11410400MB0000001P|penalty|平市监罚〔2023〕123号");
    assert_int_equal(rec.decision_date, sgs_day_from_ymd(2023, 12, 1));
}

static json_t *national(const char *sample, const char *key, const char *value)
{
    json_t *root = load(sample);
    set_path(root, key, value);
    return root;
}

static void national_case(const char *sample, const char *key, const char *value, const char *code,
                          const char *field)
{
    json_t *root = national(sample, key, value);
    parse_json(root, TS_DEC05);
    json_decref(root);
    if (code == NULL) {
        assert_valid();
    } else {
        assert_only_reason(code, field);
    }
}

static void test_national_date_formats(void **state)
{
    static const char *const good[] = {
        "\"2023-12-01\"",          "\"2023/12/01\"",          "\"20231201\"",
        "\"2023-12-01 10:00:00\"", "\"2023-12-01T10:00:00\"", "\"2023/12/01 10:00:00\"",
        "\"20231201 10:00:00\"",   "\"2023-12-01 10:00\"",    "\"2023-12-01 00:00:00.0\"",
        "\"2023/12/1\"",
    };
    static const char *const bad[] = {
        "\"2023.12.01\"",
        "\"2023-02-30\"",
        "\"20231301\"",
        "\"2023-12-01 25:00:00\"",
        "\"2023-12-01 10:00:00+08:00\"",
        "\"2023-12/01\"",
        "\"12/01/2023\"",
        "\"2023120\"",
        "\"2023-12-01 \"",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        print_message("XK_JDRQ %s\n", good[i]);
        national_case(national_license_json, "XK_JDRQ", good[i], NULL, NULL);
        assert_int_equal(rec.decision_date, sgs_day_from_ymd(2023, 12, 1));
        national_case(national_penalty_json, "CF_JDRQ", good[i], NULL, NULL);
        assert_int_equal(rec.decision_date, sgs_day_from_ymd(2023, 12, 1));
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("XK_JDRQ %s\n", bad[i]);
        national_case(national_license_json, "XK_JDRQ", bad[i], "bad_date", "XK_JDRQ");
        national_case(national_penalty_json, "CF_JDRQ", bad[i], "bad_date", "CF_JDRQ");
    }
    national_case(national_license_json, "XK_JDRQ", "20231201", "missing_field", "XK_JDRQ");
    national_case(national_license_json, "XK_YXQZI", "\"2020/01/01\"", "bad_validity", "XK_YXQZI");
    national_case(national_license_json, "XK_YXQZI", "\"长期\"", NULL, NULL);
    national_case(national_license_json, "XK_YXQZI", "\"\"", NULL, NULL);
}

static void test_national_subject_types(void **state)
{
    json_t *root;

    (void)state;
    national_case(national_license_json, "XK_XDR_LB", "\"法人及非法人组织\"", NULL, NULL);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_LEGAL_PERSON);
    national_case(national_license_json, "XK_XDR_LB", "\"legal_person\"", NULL, NULL);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_LEGAL_PERSON);
    national_case(national_license_json, "XK_XDR_LB", "\"个体工商户\"", NULL, NULL);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_INDIVIDUAL_BUSINESS);
    national_case(national_license_json, "XK_XDR_LB", "\"自然人\"", NULL, NULL);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_NATURAL_PERSON);
    national_case(national_penalty_json, "CF_XDR_LB", "\"natural_person\"", NULL, NULL);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_NATURAL_PERSON);
    national_case(national_license_json, "XK_XDR_LB", "\"公司\"", "missing_field", "XK_XDR_LB");
    national_case(national_license_json, "XK_XDR_LB", "\"\"", "missing_field", "XK_XDR_LB");

    /* Individual business with the placeholder code. */
    root = national(national_license_json, "XK_XDR_LB", "\"个体工商户\"");
    set_path(root, "XK_XDR_SHXYM", "\"00000000000000000X\"");
    parse_json(root, TS_DEC05);
    assert_valid();
    /* ... which a legal person may not use; the field is named by its national
     * code. */
    set_path(root, "XK_XDR_LB", "\"法人及非法人组织\"");
    parse_json(root, TS_DEC05);
    assert_only_reason("bad_uscc", "XK_XDR_SHXYM");
    json_decref(root);

    national_case(national_penalty_json, "CF_XDR_ZJHM", "\"110105194912310021\"", "bad_id_no",
                  "CF_XDR_ZJHM");
    /* A passport number is not checked as a resident ID. */
    root = national(national_penalty_json, "CF_XDR_ZJLX", "\"护照\"");
    set_path(root, "CF_XDR_ZJHM", "\"E12345678\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_valid();
}

static void test_national_units(void **state)
{
    json_t *root;

    (void)state;
    /* By code. */
    national_case(national_license_json, "XK_LYDW", NULL, NULL, NULL);
    assert_string_equal(rec.unit_id, "410423");
    /* By name, and by an alias. */
    national_case(national_license_json, "XK_LYDWDM", NULL, NULL, NULL);
    assert_string_equal(rec.unit_id, "410423");
    root = national(national_license_json, "XK_LYDWDM", NULL);
    set_path(root, "XK_LYDW", "\"鲁山县人民政府\"");
    parse_json(root, TS_DEC05);
    assert_valid();
    assert_string_equal(rec.unit_id, "410423");
    /* An unknown code with a known name: the name decides. */
    set_path(root, "XK_LYDWDM", "\"000000\"");
    set_path(root, "XK_LYDW", "\"鲁山县\"");
    parse_json(root, TS_DEC05);
    assert_valid();
    assert_string_equal(rec.unit_id, "410423");
    /* Neither known. */
    set_path(root, "XK_LYDW", "\"某某县\"");
    parse_json(root, TS_DEC05);
    assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_message_en_contains("某某县");
    /* Neither given. */
    set_path(root, "XK_LYDW", NULL);
    set_path(root, "XK_LYDWDM", NULL);
    parse_json(root, TS_DEC05);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    json_decref(root);
    /* Penalty by code. */
    national_case(national_penalty_json, "CF_SJLYDM", "\"11410400MB0000001P\"", NULL, NULL);
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    /* No usable source unit: the deciding organ (CF_CFJG, an alias) is the unit
     * (test_national_unit_from_organ has more). */
    national_case(national_penalty_json, "CF_SJLY", NULL, NULL, NULL);
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    assert_true(rec.unit_from_organ);
    national_case(national_penalty_json, "CF_SJLY", "410423", NULL, NULL);
    assert_true(rec.unit_from_organ);
    root = national(national_penalty_json, "CF_SJLY", NULL);
    set_path(root, "CF_CFJG", NULL);
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("unknown_unit", "CF_SJLYDM");
    assert_false(rec.unit_from_organ);
    root = national(national_license_json, "XK_LYDWDM", "410423");
    set_path(root, "XK_LYDW", NULL);
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_message_en_contains("got a number");
}

static void test_national_fields_and_fines(void **state)
{
    json_t *root;

    (void)state;
    national_case(national_license_json, "XK_WSH", "\"许1\"", "bad_doc_no", "XK_WSH");
    national_case(national_license_json, "XK_XDR_MC", NULL, "missing_field", "XK_XDR_MC");
    national_case(national_license_json, "XK_XKJG", NULL, "missing_field", "XK_XKJG");
    national_case(national_license_json, "XK_XKJGDM", "\"11230500001755309A\"", "bad_uscc",
                  "XK_XKJGDM");
    national_case(national_penalty_json, "CF_NR_FK", "0.5", NULL, NULL);
    national_case(national_penalty_json, "CF_NR_FK", "\"12\"", NULL, NULL);
    national_case(national_penalty_json, "CF_NR_FK", "\"\"", NULL, NULL);
    national_case(national_penalty_json, "CF_NR_FK", "null", NULL, NULL);
    national_case(national_penalty_json, "CF_NR_FK", "\"abc\"", "bad_amount", "CF_NR_FK");
    national_case(national_penalty_json, "CF_NR_FK", "\"-1\"", "bad_amount", "CF_NR_FK");
    national_case(national_penalty_json, "CF_NR_FK", "\"1e999\"", "bad_amount", "CF_NR_FK");
    national_case(national_penalty_json, "CF_NR_FK", "-2", "bad_amount", "CF_NR_FK");

    /* A reported_at key, when present, is the report time. */
    root = national(national_penalty_json, "reported_at", "\"2024-01-04T09:00:00+08:00\"");
    set_path(root, "CF_JDRQ", "\"2023-12-22\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_valid();
    assert_false(rec.reported_from_timestamp);
    assert_true(rec.late);
    assert_int_equal(rec.workdays_late, 1);

    /* A national record reported before its decision. */
    national_case(national_penalty_json, "CF_JDRQ", "\"2023-12-06\"", "future_decision", "CF_JDRQ");

    /* Without XK_WSH, any XK_ field (and no kind) makes it national. */
    national_case(national_license_json, "XK_WSH", NULL, "missing_field", "XK_WSH");
    assert_int_equal(rec.format, SGS_FORMAT_NATIONAL);
    /* Both families: the kind cannot be told. */
    root = load(national_license_json);
    set_path(root, "CF_WSH", "\"平市监罚〔2023〕1号\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_true(has_reason("bad_kind", "XK_WSH"));
    assert_false(rec.has_identity);
}

/* ---- op (REFERENCE §3) ---- */

static void op_case(const char *sample, const char *key, const char *value, enum sgs_op op,
                    const char *code)
{
    json_t *root = load(sample);
    set_path(root, key, value);
    parse_json(root, TS_DEC05);
    json_decref(root);
    if (code == NULL) {
        assert_valid();
    } else {
        assert_only_reason(code, key);
    }
    assert_int_equal(rec.op, op);
}

static void test_op_native(void **state)
{
    (void)state;
    parse_text(license_json, TS_DEC05);
    assert_valid();
    assert_int_equal(rec.op, SGS_OP_INSERT); /* absent: the default */
    op_case(license_json, "op", "\"insert\"", SGS_OP_INSERT, NULL);
    op_case(license_json, "op", "\"update\"", SGS_OP_UPDATE, NULL);
    op_case(penalty_json, "op", "\"revoke\"", SGS_OP_REVOKE, NULL);
    op_case(license_json, "op", "null", SGS_OP_INSERT, NULL);
    op_case(license_json, "op", "\"\"", SGS_OP_INSERT, NULL);
    op_case(license_json, "op", "\"  \"", SGS_OP_INSERT, NULL);
    /* an unknown value is a quality failure naming the field; the record is an
     * (invalid) insert */
    op_case(license_json, "op", "\"delete\"", SGS_OP_INSERT, "bad_op");
    assert_int_equal(rec.status, SGS_RECORD_INVALID);
    assert_message_en_contains("'delete' is not insert, update or revoke");
    assert_message_contains(
        "操作类型“delete”无效，应为insert（新增）、update（更正）或revoke（撤销）");
    op_case(license_json, "op", "\"Revoke\"", SGS_OP_INSERT, "bad_op");
    op_case(license_json, "op", "\"U\"", SGS_OP_INSERT, "bad_op"); /* national spelling */
    op_case(license_json, "op", "2", SGS_OP_INSERT, "bad_op");
    assert_message_en_contains("expected a string, got a number");
    op_case(license_json, "op", "{\"x\":1}", SGS_OP_INSERT, "bad_op");
    /* a revoke keeps the identity and the rules of its decision */
    op_case(penalty_json, "op", "\"revoke\"", SGS_OP_REVOKE, NULL);
    assert_true(rec.has_identity);
    assert_string_equal(rec.identity, "11410400MB0000001P|penalty|平市监罚〔2023〕123号");
    {
        json_t *root = load(penalty_json);
        set_path(root, "op", "\"revoke\"");
        set_path(root, "subject.id_no", "\"110105194912310021\"");
        parse_json(root, TS_DEC05);
        json_decref(root);
        assert_only_reason("bad_id_no", "subject.id_no");
        assert_int_equal(rec.op, SGS_OP_REVOKE);
        /* an unknown unit's op is read too */
        root = load(penalty_json);
        set_path(root, "op", "\"update\"");
        set_path(root, "unit_id", "\"nowhere\"");
        parse_json(root, TS_DEC05);
        json_decref(root);
        assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
        assert_int_equal(rec.op, SGS_OP_UPDATE);
    }
    /* malformed: nothing read, the default */
    parse_text("[1]", TS_DEC05);
    assert_int_equal(rec.op, SGS_OP_INSERT);

    assert_string_equal(sgs_op_name(SGS_OP_INSERT), "insert");
    assert_string_equal(sgs_op_name(SGS_OP_UPDATE), "update");
    assert_string_equal(sgs_op_name(SGS_OP_REVOKE), "revoke");
    assert_string_equal(sgs_op_name((enum sgs_op)7), "");
    /* the codes the consumer decides are declared here */
    assert_string_equal(SGS_REASON_BAD_OP, "bad_op");
    assert_string_equal(SGS_REASON_UNKNOWN_RECORD, "unknown_record");
    assert_string_equal(SGS_REASON_TOO_OLD, "too_old");
}

static void test_op_national(void **state)
{
    (void)state;
    op_case(national_license_json, "SYNC_STATUS", "\"I\"", SGS_OP_INSERT, NULL);
    op_case(national_license_json, "SYNC_STATUS", "\"U\"", SGS_OP_UPDATE, NULL);
    op_case(national_penalty_json, "SYNC_STATUS", "\"D\"", SGS_OP_REVOKE, NULL);
    assert_int_equal(rec.format, SGS_FORMAT_NATIONAL);
    op_case(national_penalty_json, "SYNC_STATUS", "\"\"", SGS_OP_INSERT, NULL);
    op_case(national_penalty_json, "SYNC_STATUS", "null", SGS_OP_INSERT, NULL);
    op_case(national_penalty_json, "SYNC_STATUS", "\"X\"", SGS_OP_INSERT, "bad_op");
    assert_message_en_contains("'X' is not I, U or D");
    assert_message_contains("同步状态“X”无效，应为I（新增）、U（更正）或D（撤销）");
    op_case(national_penalty_json, "SYNC_STATUS", "\"d\"", SGS_OP_INSERT, "bad_op");
    op_case(national_penalty_json, "SYNC_STATUS", "\"revoke\"", SGS_OP_INSERT, "bad_op");
    op_case(national_license_json, "SYNC_STATUS", "1", SGS_OP_INSERT, "bad_op");
    /* the native key is not read in the national format, nor the other way */
    op_case(national_license_json, "op", "\"revoke\"", SGS_OP_INSERT, NULL);
    op_case(license_json, "SYNC_STATUS", "\"D\"", SGS_OP_INSERT, NULL);
}

/* ---- national feeds: the reporting unit (REFERENCE §3) ---- */

/* parse_json with other rules (another registry). */
static void parse_json_with(const sgs_rules *r, const json_t *root)
{
    char *s = json_dumps(root, JSON_COMPACT);
    assert_non_null(s);
    sgs_record_parse(r, s, strlen(s), TS_DEC05, &rec);
    free(s);
    assert_sane();
}

static void test_national_unit_from_organ(void **state)
{
    static const char tsv[] = "unit_id\tname\tgroup\taliases\n"
                              "11410400MB0000001P\t市市场监管局\tcity\t平顶山市市场监督管理局\n"
                              "410423\t鲁山县\tcounty\t鲁山县人民政府,11410423MB1234567N\n";
    char err[256];
    sgs_registry *r2 = sgs_registry_load_buffer("organ.tsv", tsv, strlen(tsv), err, sizeof(err));
    sgs_rules rules2 = rules;
    json_t *root;

    (void)state;
    assert_non_null(r2);
    rules2.registry = r2;

    /* Source unit missing: the organ by id (XK_XKJGDM, an alias id here). */
    root = load(national_license_json);
    set_path(root, "XK_LYDW", NULL);
    set_path(root, "XK_LYDWDM", NULL);
    set_path(root, "XK_XKJGDM", "\"11410423MB1234567N\"");
    parse_json_with(&rules2, root);
    assert_valid();
    assert_string_equal(rec.unit_id, "410423");
    assert_true(rec.unit_from_organ);
    assert_string_equal(rec.identity, "410423|license|鲁市监许〔2023〕1024号");

    /* ... by name when the organ's id is unknown (XK_XKJG, an alias). */
    set_path(root, "XK_XKJGDM", "\"11230500001755309F\"");
    set_path(root, "XK_XKJG", "\"平顶山市市场监督管理局\"");
    parse_json_with(&rules2, root);
    assert_valid();
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    assert_true(rec.unit_from_organ);

    /* Source unit given but unknown (id and name): unknown_unit (REFERENCE §4),
     * the organ is not looked at. */
    set_path(root, "XK_LYDWDM", "\"999999\"");
    set_path(root, "XK_LYDW", "\"某某县\"");
    parse_json_with(&rules2, root);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_false(rec.unit_from_organ);
    assert_message_en_contains("source unit '999999' (XK_LYDW '某某县') is not in the registry");

    /* The placeholder code never identifies a unit, even one listed with it. */
    json_decref(root);
    {
        static const char tsv3[] = "unit_id\tname\tgroup\taliases\n"
                                   "410423\t鲁山县\tcounty\t00000000000000000X\n";
        sgs_registry *r3 =
            sgs_registry_load_buffer("placeholder.tsv", tsv3, strlen(tsv3), err, sizeof(err));
        sgs_rules rules3 = rules;
        assert_non_null(r3);
        rules3.registry = r3;
        root = load(national_license_json);
        set_path(root, "XK_LYDW", NULL);
        set_path(root, "XK_LYDWDM", "\"00000000000000000X\"");
        set_path(root, "XK_XKJGDM", "\"00000000000000000X\"");
        parse_json_with(&rules3, root);
        assert_only_reason("unknown_unit", "XK_LYDWDM");
        assert_false(rec.unit_from_organ);
        /* ... while the organ's name still can (the placeholder is no organ's
         * credit code: bad_uscc) */
        set_path(root, "XK_XKJG", "\"鲁山县\"");
        parse_json_with(&rules3, root);
        assert_only_reason("bad_uscc", "XK_XKJGDM");
        assert_string_equal(rec.unit_id, "410423");
        assert_true(rec.unit_from_organ);
        json_decref(root);
        sgs_registry_destroy(r3);
    }

    /* An unknown source code: unknown_unit names the source field alone. */
    root = load(national_license_json);
    set_path(root, "XK_LYDWDM", "\"999999\"");
    set_path(root, "XK_LYDW", NULL);
    parse_json_with(&rules2, root);
    json_decref(root);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_message_en_contains("source unit '999999' is not in the registry");
    assert_message_contains("数据来源单位统一社会信用代码“999999”不在单位名录中，应为");
    assert_false(rec.unit_from_organ);
    assert_null(rec.unit);

    /* No source unit and an unknown organ: the message quotes the organ. */
    root = load(national_license_json);
    set_path(root, "XK_LYDWDM", NULL);
    set_path(root, "XK_LYDW", NULL);
    set_path(root, "XK_XKJGDM", "\"11230500001755309F\"");
    parse_json_with(&rules2, root);
    json_decref(root);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_message_en_contains("nor is the deciding organ XK_XKJG '鲁山县市场监督管理局'");
    assert_message_contains("许可机关“鲁山县市场监督管理局”也不在名录中");
    assert_false(rec.unit_from_organ);

    /* The source unit known: not from the organ, whatever the organ says. */
    root = load(national_penalty_json);
    set_path(root, "CF_SJLYDM", "\"410423\"");
    parse_json_with(&rules2, root);
    json_decref(root);
    assert_valid();
    assert_string_equal(rec.unit_id, "410423");
    assert_false(rec.unit_from_organ);

    /* Native records have no organ fallback. */
    root = load(license_json);
    set_path(root, "unit_id", NULL);
    set_path(root, "authority.name", "\"平顶山市市场监督管理局\"");
    parse_json_with(&rules2, root);
    json_decref(root);
    assert_only_reason("unknown_unit", "unit_id");
    assert_false(rec.unit_from_organ);
    sgs_registry_destroy(r2);
}

/* ---- national feeds: legacy item names (sgs/record.h) ---- */

/* A licence with the items of the legacy template: no subject type, no source
 * unit, the organ by name (XK_XZJG). */
static const char legacy_license_json[] =
    "{\"XK_WSH\": \"鲁市监许〔2023〕77号\", \"XK_XMMC\": \"食品经营许可\", \"XK_SPLB\": \"普通\","
    " \"XK_NR\": \"食品经营许可\", \"XK_XDR\": \"张三\", \"XK_XDR_SFZ\": \"11010519491231002X\","
    " \"XK_FR\": \"\", \"XK_JDRQ\": \"2023/12/01\", \"XK_JZQ\": \"2028/11/30\","
    " \"XK_XZJG\": \"鲁山县人民政府\", \"XK_ZT\": \"0\", \"DFBM\": \"410423\", \"SJC\": "
    "\"2023/12/02\","
    " \"XK_XDR_LB\": \"自然人\"}";

static void test_national_legacy_items(void **state)
{
    json_t *root;

    (void)state;
    /* Read in place of today's items; the unit from the organ (an alias). */
    parse_text(legacy_license_json, TS_DEC05);
    assert_valid();
    assert_int_equal(rec.format, SGS_FORMAT_NATIONAL);
    assert_int_equal(rec.kind, SGS_KIND_LICENSE);
    assert_int_equal(rec.subject_type, SGS_SUBJECT_NATURAL_PERSON);
    assert_string_equal(rec.unit_id, "410423");
    assert_true(rec.unit_from_organ);

    /* Reasons name the item as the message has it. */
    national_case(legacy_license_json, "XK_XDR_SFZ", "\"110105194912310021\"", "bad_id_no",
                  "XK_XDR_SFZ");
    national_case(legacy_license_json, "XK_XDR", "\"\"", "missing_field", "XK_XDR");
    national_case(legacy_license_json, "XK_JZQ", "\"2028/02/30\"", "bad_validity", "XK_JZQ");
    /* XK_XDR_SFZ is a resident ID whatever a type item says */
    national_case(legacy_license_json, "XK_XDR_ZJLX", "\"护照\"", NULL, NULL);
    root = national(legacy_license_json, "XK_XDR_ZJLX", "\"护照\"");
    set_path(root, "XK_XDR_SFZ", "\"E12345678\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("bad_id_no", "XK_XDR_SFZ");

    /* Today's item wins when both are there (and is the one named). */
    root = national(legacy_license_json, "XK_XDR_MC", "\"\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("missing_field", "XK_XDR_MC");
    root = national(legacy_license_json, "XK_XDR_ZJHM", "\"440524188001010014\"");
    set_path(root, "XK_XDR_SFZ", "\"110105194912310021\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_valid();
    root = national(legacy_license_json, "XK_XKJG", "\"某某局\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("unknown_unit", "XK_LYDWDM");
    assert_message_en_contains("某某局");

    /* The legacy template has no subject type: said so. */
    national_case(legacy_license_json, "XK_XDR_LB", NULL, "missing_field", "XK_XDR_LB");
    assert_message_en_contains("legacy");
    assert_message_contains("缺少行政相对人类别（旧版数据项没有该项）");

    /* A legal person with an organisation code of the legacy template only. */
    root = national(legacy_license_json, "XK_XDR_LB", "\"法人及非法人组织\"");
    set_path(root, "XK_XDR_SFZ", NULL);
    set_path(root, "XK_XDR", "\"鲁山县某某有限公司\"");
    set_path(root, "XK_XDR_ZDM", "\"12345678-9\"");
    parse_json(root, TS_DEC05);
    assert_only_reason("bad_uscc", "XK_XDR_SHXYM");
    assert_message_en_contains("XK_XDR_ZDM, a legacy item, is not a credit code");
    assert_message_contains("旧版数据项XK_XDR_ZDM不是统一社会信用代码");
    set_path(root, "XK_XDR_SHXYM", "\"91310110666007217T\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_valid();

    /* Penalties: CF_XZJG (organ), CF_XDR_SFZ; CF_CFLB1 and CF_JZRQ are not read. */
    root = load("{\"CF_WSH\": \"鲁市监罚〔2023〕5号\", \"CF_CFLB1\": \"1\", \"CF_SY\": \"...\","
                " \"CF_YJ\": \"...\", \"CF_XDR_MC\": \"张三\", \"CF_XDR_LB\": \"自然人\","
                " \"CF_XDR_SFZ\": \"11010519491231002X\", \"CF_JG\": \"罚款\","
                " \"CF_JDRQ\": \"2023/12/01\", \"CF_JZRQ\": \"bad\","
                " \"CF_XZJG\": \"市市场监督管理局\"}");
    parse_json(root, TS_DEC05);
    assert_valid();
    assert_int_equal(rec.kind, SGS_KIND_PENALTY);
    assert_string_equal(rec.unit_id, "11410400MB0000001P");
    assert_true(rec.unit_from_organ);
    set_path(root, "CF_XDR_SFZ", "\"11010519491231002\"");
    parse_json(root, TS_DEC05);
    json_decref(root);
    assert_only_reason("bad_id_no", "CF_XDR_SFZ");
}

/* ---- the direct reader (record_fast.c) against the general way ---- */

static sgs_record rec_general, rec_narrow, rec_keyed;

/* Parses buf every way (the direct reader at its fastest, 16 bytes a step,
 * key by key without its layouts, and the general way), into records filled
 * alike first; they must be the same (every byte up to the reasons, and the
 * reasons set). 1 when the direct reader took the message. */
static int same_both_ways(const char *buf, size_t len)
{
    uint64_t before = sgs_record_direct_reads();
    size_t n;
    int took;

    memset(&rec, 0x5A, sizeof(rec));
    memset(&rec_general, 0x5A, sizeof(rec_general));
    memset(&rec_narrow, 0x5A, sizeof(rec_narrow));
    memset(&rec_keyed, 0x5A, sizeof(rec_keyed));
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec);
    took = sgs_record_direct_reads() != before;
    assert_int_equal(sgs_record_set_direct(2), 1);
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec_narrow);
    assert_int_equal(sgs_record_direct_reads(), before + 2 * (uint64_t)took);
    assert_int_equal(sgs_record_set_direct(3), 2);
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec_keyed);
    if (sgs_record_direct_reads() != before + 3 * (uint64_t)took) {
        sgs_record_set_direct(1);
        fail_msg("the direct reader took %s without its layouts than with them: %.*s",
                 took ? "less" : "more", (int)(len < 600 ? len : 600), buf);
    }
    assert_int_equal(sgs_record_set_direct(0), 3);
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec_general);
    assert_int_equal(sgs_record_set_direct(1), 0);
    assert_int_equal(sgs_record_direct_reads(), before + 3 * (uint64_t)took);
    n = offsetof(sgs_record, reasons) + (size_t)rec.n_reasons * sizeof(rec.reasons[0]);
    if (memcmp(&rec, &rec_general, n) != 0) {
        fail_msg("the direct reader and the general way differ on %zu bytes: %.*s", len,
                 (int)(len < 300 ? len : 300), buf);
    }
    if (memcmp(&rec, &rec_narrow, n) != 0) {
        fail_msg("the direct reader's 32- and 16-byte steps differ on %zu bytes: %.*s", len,
                 (int)(len < 300 ? len : 300), buf);
    }
    if (memcmp(&rec, &rec_keyed, n) != 0) {
        fail_msg("the direct reader with and without layouts differs on %zu bytes: %.*s", len,
                 (int)(len < 300 ? len : 300), buf);
    }
    assert_sane();
    return took;
}

/* The usual messages are read directly, and give what the general way gives;
 * everything the direct reader leaves (national items, escapes, nested
 * objects, duplicates...) gives the same record too. */
static void test_direct_reader_same_records(void **state)
{
    static const char compact[] =
        "{\"record_id\":\"CF2025113044412466\",\"kind\":\"penalty\",\"unit_id\":\"410423\","
        "\"doc_no\":\"鲁山县市监罚[2023]78006号\",\"decision_date\":\"2023-11-30\","
        "\"reported_at\":\"2023-12-01T00:00:49+08:00\",\"subject\":{\"name\":"
        "\"河南银河餐饮管理有限公司\",\"type\":\"legal_person\",\"uscc\":\"91410423MAB4L2MTMF\","
        "\"id_no\":null},\"authority\":{\"name\":\"鲁山县市场监督管理局\",\"uscc\":"
        "\"114104230000780046\"},\"license\":null,\"penalty\":{\"category\":[\"罚款\","
        "\"没收违法所得\"],\"content\":\"罚款人民币50000元\",\"fine_amount\":5,"
        "\"violation\":\"发布虚假广告\",\"basis\":\"《中华人民共和国广告法》第五十五条\"}}";
    static const char *const taken[] = {
        compact,
        "{}",
        " \t\r\n{ \"kind\" : \"license\" , \"unit_id\" : \"410423\" } \n",
        "{\"kind\":\"license\",\"subject\":\"not an object\",\"authority\":[1,[2,[]]],"
        "\"license\":{},\"penalty\":true,\"op\":\"D\"}",
        "{\"penalty\":{\"fine_amount\":-0.0},\"x\":[1e400,-12345678901234567890,0.1,1E+2,false]}",
        "{\"penalty\":{\"fine_amount\":12345678901234567890123}}",
        "{\"kind\":\"penalty\",\"subject\":{\"name\":\"\U0001F600 ¥ é\",\"type\":\"other\"}}",
        "{\"kind\":\"license\",\"SYNC\":\"I\",\"XK\":1,\"CF\":2,\"kind_of\":3}",
        "{\"a_rather_long_key_name_beyond_16\":1,\"a_rather_long_key_name_beyond_17\":2}",
    };
    static const char *const left[] = {
        license_json,          /* "extra": an object under another name */
        national_license_json, /* XK_ items */
        national_penalty_json,
        "{\"kind\":\"license\",\"kind\":\"penalty\"}",
        "{\"x\":1,\"x\":2}",
        "{\"subject\":{\"name\":\"a\",\"name\":\"b\"}}",
        "{\"subject\":{\"n\":1,\"n\":2}}",
        "{\"ki\\u006ed\":\"license\",\"kind\":\"penalty\"}",
        "{\"kind\":\"lic\\\"ense\"}",
        "{\"kind\":\"license\",\"XK_WSH\":\"a\"}",
        "{\"kind\":\"license\",\"CF_anything\":1}",
        "{\"SYNC_STATUS\":\"I\",\"kind\":\"license\"}",
        "{\"kind\":{\"a\":1}}",
        "{\"subject\":{\"name\":{}}}",
        "{\"x\":[{}]}",
        "{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
        "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
        "\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17}",
        "[1]",
        "\"kind\"",
        "{\"kind\":\"license\"} x",
        "{\"kind\":\"license\",}",
        "{\"kind\":01}",
        "{\"kind\":\"a\x01\"}",
        "{\"kind\":\"\xed\xa0\x80\"}",
        "{\"kind\":\"\xf4\x90\x80\x80\"}",
        "{\"kind\":\"\xc0\xaf\"}",
        "{\"kind\":tru}",
    };
    static const struct {
        const char *text;
        int invalid; /* negative or beyond a double */
    } amounts[] = {{"-5", 1},
                   {"-1234.5", 1},
                   {"-1e400", 1},
                   {"1e400", 1},
                   {"0.1", 0},
                   {"-0", 0},
                   {"-123456789012345678901", 1},
                   {"1234567.891e-2", 0}};
    static const unsigned char bytes[] = {'"',  '\\', '{',  '}',  '[',  ']',  ',',  ':',
                                          ' ',  '0',  '-',  'e',  '.',  'x',  'n',  0x00,
                                          0x1F, 0x80, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF};
    char buf[sizeof(compact) + 8];
    size_t len = sizeof(compact) - 1, i, b, n_taken = 0, n_left = 0;
    uint64_t layouts;

    (void)state;
    for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
        if (!same_both_ways(taken[i], strlen(taken[i]))) {
            fail_msg("not read directly: %s", taken[i]);
        }
    }
    assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT); /* the last: no unit_id */
    same_both_ways(compact, len);
    assert_int_equal(rec.status, SGS_RECORD_VALID);
    assert_string_equal(rec.identity, "410423|penalty|鲁山县市监罚〔2023〕78006号");
    /* The fine's value as the reasons show it, read directly. */
    for (i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        const char *at = strstr(compact, "\"fine_amount\":5"), *rest = at + 15;
        char msg[sizeof(compact) + 64];
        int n = snprintf(msg, sizeof(msg), "%.*s\"fine_amount\":%s%s", (int)(at - compact), compact,
                         amounts[i].text, rest);
        assert_true(n > 0 && (size_t)n < sizeof(msg));
        if (!same_both_ways(msg, (size_t)n)) {
            fail_msg("not read directly: %s", msg);
        }
        assert_int_equal(rec.status, amounts[i].invalid ? SGS_RECORD_INVALID : SGS_RECORD_VALID);
    }
    for (i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
        if (same_both_ways(left[i], strlen(left[i]))) {
            fail_msg("read directly: %s", left[i]);
        }
    }
    /* Every cut, every byte dropped, every byte replaced by one that matters
     * to JSON or UTF-8: the same record every way. The compact message's
     * layout was learned: the changes in its values are read along it, the
     * others leave it part way or at once. */
    sgs_record_layouts_reset();
    same_both_ways(compact, len);
    layouts = sgs_record_layout_reads();
    for (i = 0; i < len; i++) {
        same_both_ways(compact, i);
        memcpy(buf, compact, i);
        memcpy(buf + i, compact + i + 1, len - i - 1);
        same_both_ways(buf, len - 1) ? n_taken++ : n_left++;
        for (b = 0; b < sizeof(bytes); b++) {
            memcpy(buf, compact, len);
            buf[i] = (char)bytes[b];
            same_both_ways(buf, len) ? n_taken++ : n_left++;
        }
    }
    /* Both ways were exercised by the changes, and the layout too. */
    assert_true(n_taken > 1000 && n_left > 1000);
    assert_true(sgs_record_layout_reads() - layouts > 1000);
}

/* Parses buf once at the direct reader's fastest (the layouts as they
 * stand) and once the general way: the same record. 1 when it was read along
 * a layout. */
static int same_once(const char *buf, size_t len)
{
    uint64_t before = sgs_record_layout_reads();
    size_t n;

    memset(&rec, 0x5A, sizeof(rec));
    memset(&rec_general, 0x5A, sizeof(rec_general));
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec);
    assert_int_equal(sgs_record_set_direct(0), 1);
    sgs_record_parse(&rules, buf, len, unix_at(2023, 12, 5, 2, 31, 0) * 1000, &rec_general);
    assert_int_equal(sgs_record_set_direct(1), 0);
    n = offsetof(sgs_record, reasons) + (size_t)rec.n_reasons * sizeof(rec.reasons[0]);
    if (memcmp(&rec, &rec_general, n) != 0) {
        fail_msg("the direct reader and the general way differ on %zu bytes: %.*s", len,
                 (int)(len < 300 ? len : 300), buf);
    }
    return sgs_record_layout_reads() != before;
}

/* The layouts the direct reader learns (record_fast.c): a message like one
 * read before is read along its layout, and gives what the general way gives
 * whatever its values are, of the types learned or not; a layout that does
 * not fit leaves the message to be read key by key; a full tree starts again;
 * a producer of ever new layouts pauses them. */
static void test_direct_reader_layouts(void **state)
{
    static const char *const variants[] = {
        /* learned first, then read along its layout with other values */
        "{\"kind\":\"penalty\",\"unit_id\":\"410423\",\"doc_no\":\"鲁山县市监罚[2023]78006号\","
        "\"decision_date\":\"2023-11-30\",\"subject\":{\"name\":\"甲公司\",\"uscc\":"
        "\"91410423MAB4L2MTMF\",\"id_no\":null},\"license\":null,\"penalty\":{\"category\":"
        "[\"罚款\"],\"fine_amount\":5,\"ok\":true}}",
        "{\"kind\":\"license\",\"unit_id\":\"\",\"doc_no\":\"x\","
        "\"decision_date\":\"2023-13-30\",\"subject\":{\"name\":\"😀\",\"uscc\":"
        "\"\",\"id_no\":null},\"license\":null,\"penalty\":{\"category\":"
        "[[1,[2]],null,\"a\"],\"fine_amount\":-1e400,\"ok\":true}}",
        /* the same places with values of other types: other layouts */
        "{\"kind\":\"penalty\",\"unit_id\":410423,\"doc_no\":\"鲁山县市监罚[2023]78006号\","
        "\"decision_date\":\"2023-11-30\",\"subject\":{\"name\":\"甲公司\",\"uscc\":"
        "\"91410423MAB4L2MTMF\",\"id_no\":\"410423199001011234\"},\"license\":null,"
        "\"penalty\":{\"category\":\"罚款\",\"fine_amount\":\"5\",\"ok\":false}}",
        "{\"kind\":\"penalty\",\"unit_id\":\"410423\",\"doc_no\":\"鲁山县市监罚[2023]78006号\","
        "\"decision_date\":\"2023-11-30\",\"subject\":null,\"license\":{},"
        "\"penalty\":{\"category\":[],\"fine_amount\":[5],\"ok\":true}}",
        "{\"kind\":\"penalty\",\"unit_id\":\"410423\",\"doc_no\":\"鲁山县市监罚[2023]78006号\","
        "\"decision_date\":\"2023-11-30\",\"subject\":{\"name\":\"甲公司\",\"uscc\":"
        "\"91410423MAB4L2MTMF\",\"id_no\":null},\"license\":null,\"penalty\":[5]}",
        "{\"kind\":\"penalty\",\"unit_id\":\"410423\",\"doc_no\":\"鲁山县市监罚[2023]78006号\","
        "\"decision_date\":\"2023-11-30\",\"subject\":{\"name\":\"甲公司\",\"uscc\":"
        "\"91410423MAB4L2MTMF\",\"id_no\":null},\"license\":null,\"penalty\":{\"category\":"
        "[\"罚款\"],\"fine_amount\":null,\"ok\":true}}",
        /* spacing is part of a layout */
        " {\"kind\" : \"penalty\",  \"unit_id\":\"410423\"} ",
        " {\"kind\" : \"license\",  \"unit_id\":\"410424\"} ",
        " {\"kind\" : \"license\",  \"unit_id\":\"410424\"}   ",
        " {\"kind\" : \"license\",  \"unit_id\":\"410424\"} x",
        /* line breaks are control characters: read key by key */
        "{\"kind\":\"license\",\n\"unit_id\":\"410424\"}\n",
        /* long runs of constant text, many constants kept in the view:
         * steps of text only */
        "{\"a_rather_long_key_name_beyond_16\":null,\"a_rather_long_key_name_beyond_17\":true,"
        "\"a_rather_long_key_name_beyond_18\":false,\"subject\":null,\"license\":null,"
        "\"penalty\":null,\"authority\":null,\"unit_id\":false,\"op\":true,\"doc_no\":null,"
        "\"kind\":\"license\"}",
        "{\"a_rather_long_key_name_beyond_16\":null,\"a_rather_long_key_name_beyond_17\":true,"
        "\"a_rather_long_key_name_beyond_18\":false,\"subject\":null,\"license\":null,"
        "\"penalty\":null,\"authority\":null,\"unit_id\":false,\"op\":true,\"doc_no\":null,"
        "\"kind\":\"penalty\"}",
        /* a layout's text, then what the direct reader does not take */
        "{\"kind\":\"license\",\"unit_id\":\"410423\",\"kind\":\"penalty\"}",
        "{\"kind\":\"license\",\"unit_id\":\"410423\",\"XK_WSH\":\"a\"}",
        "{\"kind\":\"license\",\"unit_id\":\"410423\",\"x\":{}}",
        "{\"kind\":\"license\",\"unit_id\":\"4104\\u0032\"}",
        "{\"kind\":\"license\",\"unit_id\":\"410423\"}",
        "{\"kind\":\"license\",\"unit_id\":\"410423\",\"kind\":\"penalty\"}",
    };
    char buf[1024], keys[8][64];
    uint64_t before;
    unsigned seed = 20261207;
    size_t i;
    int k;

    (void)state;
    sgs_record_layouts_reset();
    for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        same_both_ways(variants[i], strlen(variants[i]));
        /* read again: along the layout its first reading learned, when it
         * is one the direct reader takes and plain (no escape, no control
         * character) */
        before = sgs_record_layout_reads();
        if (same_both_ways(variants[i], strlen(variants[i])) && strchr(variants[i], '\\') == NULL &&
            strchr(variants[i], '\n') == NULL) {
            if (sgs_record_layout_reads() - before != 2) { /* fastest and 16-byte steps */
                fail_msg("not read along its layout: %s", variants[i]);
            }
        } else {
            assert_true(sgs_record_layout_reads() == before);
        }
    }
    /* read along the first one's layout, with other values */
    before = sgs_record_layout_reads();
    assert_true(same_once(variants[0], strlen(variants[0])));
    assert_true(same_once(variants[1], strlen(variants[1])));
    assert_int_equal(rec.status, SGS_RECORD_UNKNOWN_UNIT);
    assert_true(same_once(variants[7], strlen(variants[7])));
    assert_true(same_once(variants[8], strlen(variants[8])));
    assert_false(same_once(variants[9], strlen(variants[9]))); /* malformed */
    assert_int_equal(rec.status, SGS_RECORD_MALFORMED);
    assert_false(same_once(variants[13], strlen(variants[13]))); /* a duplicate key */
    assert_int_equal(rec.status, SGS_RECORD_MALFORMED);
    assert_int_equal(sgs_record_layout_reads() - before, 4);

    /* A tree full of layouts (each message a key of its own) starts again:
     * the message read last is read along its layout after it. */
    for (i = 0; i < 600; i++) {
        int n = snprintf(buf, sizeof(buf),
                         "{\"kind\":\"license\",\"key_%zu\":\"v\",\"unit_id\":\"410423\","
                         "\"other_%zu\":[1],\"subject\":{\"name_%zu\":null}}",
                         i, i, i);
        assert_false(same_once(buf, (size_t)n));
        assert_true(same_once(buf, (size_t)n));
    }

    /* A producer whose members come in ever new orders: after a window of
     * such messages (LAYOUT_WINDOW, 1024) the layouts learn nothing for
     * LAYOUT_PAUSE (16,384) messages. */
    for (k = 0; k < 8; k++) {
        snprintf(keys[k], sizeof(keys[k]), "\"k%d\":%d", k, k);
    }
    sgs_record_layouts_reset(); /* (the window starts here) */
    before = sgs_record_layout_reads();
    for (i = 0; i < 1100; i++) {
        int n = 0, order[8];
        for (k = 0; k < 8; k++) {
            order[k] = k;
        }
        for (k = 7; k > 0; k--) {
            int j = rand_r(&seed) % (k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        n = snprintf(buf, sizeof(buf), "{\"kind\":\"license\"");
        for (k = 0; k < 8; k++) {
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, ",%s", keys[order[k]]);
        }
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "}");
        same_once(buf, (size_t)n);
    }
    assert_true(sgs_record_layout_reads() - before < 100); /* 40,320 orders: few repeat */
    snprintf(buf, sizeof(buf), "{\"kind\":\"license\",\"unit_id\":\"410423\"}");
    for (i = 0; i < 16384 - 76; i++) {
        assert_false(same_once(buf, strlen(buf))); /* not learned */
    }
    assert_false(same_once(buf, strlen(buf))); /* learned again */
    assert_true(same_once(buf, strlen(buf)));
    sgs_record_layouts_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_license),
        cmocka_unit_test(test_valid_penalty),
        cmocka_unit_test(test_each_rule_alone),
        cmocka_unit_test(test_messages_say_what),
        cmocka_unit_test(test_several_reasons),
        cmocka_unit_test(test_deadline_across_new_year),
        cmocka_unit_test(test_report_month_in_local_time),
        cmocka_unit_test(test_reported_at_absent_uses_timestamp),
        cmocka_unit_test(test_reported_at_invalid_month_from_timestamp),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_long_values_cut_whole_characters),
        cmocka_unit_test(test_every_truncation_is_malformed),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_invalid_utf8_bytes),
        cmocka_unit_test(test_lone_surrogate),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_huge_number),
        cmocka_unit_test(test_one_megabyte_strings),
        cmocka_unit_test(test_wrong_types_everywhere),
        cmocka_unit_test(test_random_bytes_and_mutations),
        cmocka_unit_test(test_reuse_does_not_leak_state),
        cmocka_unit_test(test_national_license),
        cmocka_unit_test(test_national_penalty),
        cmocka_unit_test(test_national_date_formats),
        cmocka_unit_test(test_national_subject_types),
        cmocka_unit_test(test_national_units),
        cmocka_unit_test(test_national_fields_and_fines),
        cmocka_unit_test(test_op_native),
        cmocka_unit_test(test_op_national),
        cmocka_unit_test(test_national_unit_from_organ),
        cmocka_unit_test(test_national_legacy_items),
        cmocka_unit_test(test_direct_reader_same_records),
        cmocka_unit_test(test_direct_reader_layouts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

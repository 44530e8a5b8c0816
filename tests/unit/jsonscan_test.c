/* Unit tests of the strict JSON tokenizer (sgs/jsonscan.h) and of record
 * parsing on top of it.
 *
 * - each class of input the tokenizer must refuse, with the message and the
 *   byte position; escapes, surrogate pairs, numbers at their limits, nesting at
 *   the depth limit, 1 MB strings, duplicate keys at any depth and in big
 *   objects, the token cap, reuse of one context;
 * - a differential test against jansson: for generated and mutated documents
 *   the tokenizer accepts exactly when json_loadb(JSON_REJECT_DUPLICATES |
 *   JSON_DECODE_ANY) accepts, and then every key, string and number reads the
 *   same;
 * - the same for whole records: sgs_record_parse gives the same sgs_record as
 *   the jansson-based reader it replaced (kept below, for this test only:
 *   sgs_record_parse_jansson).
 *
 * The old reader fills the record module's private view (common/src/
 * record_view.h) and shares the rules (sgs_record_check) with the new one. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../common/src/record_view.h"

#include "sgs/calendar.h"
#include "sgs/jsonscan.h"
#include "sgs/registry.h"

#include "rules_fixture.h"

/* ------------------------------------------------------------------------ */
/* The jansson-based reader of record.c before the tokenizer (test only)     */

static void jansson_rval_set(const json_t *j, rval *v)
{
    memset(v, 0, sizeof(*v));
    if (j == NULL) {
        v->type = V_ABSENT;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->type = V_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->type = V_NUMBER;
        v->num = (double)json_integer_value(j);
        break;
    case JSON_REAL:
        v->type = V_NUMBER;
        v->num = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = V_BOOL;
        break;
    case JSON_NULL:
        v->type = V_NULL;
        break;
    case JSON_OBJECT:
        v->type = V_OBJECT;
        break;
    case JSON_ARRAY:
        v->type = V_ARRAY;
        break;
    }
}

static void jansson_get(const json_t *obj, const char *key, rval *v)
{
    jansson_rval_set(json_is_object(obj) ? json_object_get(obj, key) : NULL, v);
}

static void jansson_extract_native(const json_t *root, record_view *raw)
{
    const json_t *subject = json_object_get(root, "subject");
    const json_t *authority = json_object_get(root, "authority");
    const json_t *license = json_object_get(root, "license");
    const json_t *penalty = json_object_get(root, "penalty");

    raw->format = SGS_FORMAT_NATIVE;
    raw->names = &sgs_record_native_names;
    jansson_get(root, "unit_id", &raw->unit_id);
    jansson_get(root, "kind", &raw->kind);
    jansson_get(root, "doc_no", &raw->doc_no);
    jansson_get(root, "decision_date", &raw->decision_date);
    jansson_get(root, "reported_at", &raw->reported_at);
    jansson_get(root, "op", &raw->op);
    jansson_rval_set(subject, &raw->subject);
    jansson_get(subject, "name", &raw->subject_name);
    jansson_get(subject, "type", &raw->subject_type);
    jansson_get(subject, "uscc", &raw->subject_uscc);
    jansson_get(subject, "id_no", &raw->subject_id_no);
    jansson_rval_set(authority, &raw->authority);
    jansson_get(authority, "name", &raw->authority_name);
    jansson_get(authority, "uscc", &raw->authority_uscc);
    jansson_rval_set(license, &raw->license);
    jansson_get(license, "valid_from", &raw->valid_from);
    jansson_get(license, "valid_to", &raw->valid_to);
    jansson_rval_set(penalty, &raw->penalty);
    jansson_get(penalty, "fine_amount", &raw->fine_amount);
}

static int jansson_is_national(const json_t *root, int *xk, int *cf)
{
    const char *key;
    const json_t *value;

    *xk = json_object_get(root, "XK_WSH") != NULL;
    *cf = json_object_get(root, "CF_WSH") != NULL;
    if (*xk || *cf) {
        return 1;
    }
    if (json_object_get(root, "kind") != NULL) {
        return 0;
    }
    json_object_foreach((json_t *)root, key, value)
    {
        (void)value;
        if (strncmp(key, "XK_", 3) == 0) {
            *xk = 1;
        } else if (strncmp(key, "CF_", 3) == 0) {
            *cf = 1;
        }
    }
    return *xk || *cf;
}

/* The item key into v, or when it is absent the legacy item old (NULL: none),
 * whose name then goes into the view's field names at name_off. */
static int jansson_item(const json_t *root, const char *key, const char *old, record_view *raw,
                        size_t name_off, rval *v)
{
    if (json_object_get(root, key) != NULL || old == NULL || json_object_get(root, old) == NULL) {
        jansson_get(root, key, v);
        return 0;
    }
    jansson_get(root, old, v);
    raw->legacy = 1;
    if (raw->names != &raw->names_buf) {
        raw->names_buf = *raw->names;
        raw->names = &raw->names_buf;
    }
    memcpy((char *)&raw->names_buf + name_off, &old, sizeof(old));
    return 1;
}

static void jansson_extract_national(const json_t *root, int xk, int cf, record_view *raw)
{
    static const char *const old_codes[2][3] = {{"XK_XDR_ZDM", "XK_XDR_GSDJ", "XK_XDR_SWDJ"},
                                                {"CF_XDR_ZDM", "CF_XDR_GSDJ", "CF_XDR_SWDJ"}};
    int i;
    const field_names *license_names = &sgs_record_license_names;
    const field_names *penalty_names = &sgs_record_penalty_names;
    const field_names *f = xk ? license_names : penalty_names;

    raw->format = SGS_FORMAT_NATIONAL;
    raw->national_kind = xk && cf ? SGS_KIND_NONE : xk ? SGS_KIND_LICENSE : SGS_KIND_PENALTY;
    raw->names = raw->national_kind == SGS_KIND_PENALTY ? penalty_names : license_names;
    jansson_get(root, f->unit_id, &raw->unit_id);
    jansson_get(root, f->unit_name, &raw->unit_name);
    if (xk && cf && raw->unit_id.type != V_STRING && raw->unit_name.type != V_STRING) {
        jansson_get(root, penalty_names->unit_id, &raw->unit_id);
        jansson_get(root, penalty_names->unit_name, &raw->unit_name);
    }
    jansson_get(root, f->doc_no, &raw->doc_no);
    jansson_get(root, f->decision_date, &raw->decision_date);
    jansson_get(root, "reported_at", &raw->reported_at);
    jansson_get(root, "SYNC_STATUS", &raw->op);
    raw->subject.type = V_OBJECT;
    jansson_item(root, f->subject_name, xk ? "XK_XDR" : NULL, raw,
                 offsetof(field_names, subject_name), &raw->subject_name);
    jansson_get(root, f->subject_type, &raw->subject_type);
    jansson_get(root, f->subject_uscc, &raw->subject_uscc);
    jansson_get(root, f->id_type, &raw->subject_id_type);
    if (jansson_item(root, f->subject_id_no, xk ? "XK_XDR_SFZ" : "CF_XDR_SFZ", raw,
                     offsetof(field_names, subject_id_no), &raw->subject_id_no)) {
        raw->subject_id_type.type = V_ABSENT;
    }
    for (i = 0; i < 3; i++) {
        if (json_object_get(root, old_codes[xk ? 0 : 1][i]) != NULL) {
            raw->legacy = 1;
            if (raw->old_code_field == NULL) {
                raw->old_code_field = old_codes[xk ? 0 : 1][i];
            }
        }
    }
    raw->authority.type = V_OBJECT;
    jansson_item(root, f->authority_name, xk ? "XK_XZJG" : "CF_XZJG", raw,
                 offsetof(field_names, authority_name), &raw->authority_name);
    jansson_get(root, f->authority_uscc, &raw->authority_uscc);
    if (raw->national_kind == SGS_KIND_LICENSE) {
        raw->license.type = V_OBJECT;
        jansson_get(root, license_names->valid_from, &raw->valid_from);
        jansson_item(root, license_names->valid_to, "XK_JZQ", raw, offsetof(field_names, valid_to),
                     &raw->valid_to);
    } else if (raw->national_kind == SGS_KIND_PENALTY) {
        raw->penalty.type = V_OBJECT;
        jansson_get(root, penalty_names->fine_amount, &raw->fine_amount);
    }
}

static const char *jansson_type_text(const json_t *j, int en)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY:
        return en ? "JSON array" : "JSON数组";
    case JSON_STRING:
        return en ? "JSON string" : "JSON字符串";
    case JSON_INTEGER:
    case JSON_REAL:
        return en ? "JSON number" : "JSON数字";
    case JSON_TRUE:
    case JSON_FALSE:
        return en ? "JSON boolean" : "JSON布尔值";
    case JSON_NULL:
        return en ? "JSON null" : "JSON null值";
    default:
        return en ? "JSON value" : "JSON值";
    }
}

/* sgs_record_parse as it was with jansson's DOM. */
static void sgs_record_parse_jansson(const sgs_rules *rules, const char *buf, size_t len,
                                     int64_t msg_timestamp_ms, sgs_record *out)
{
    json_error_t err;
    json_t *root;
    record_view raw;
    int xk, cf;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len == 0) {
        sgs_record_reason_en(
            sgs_record_malformed(out, rules, msg_timestamp_ms, "消息为空，应为一个JSON对象"),
            "empty message, expected a JSON object");
        return;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (root == NULL) {
        char text[JSON_ERROR_TEXT_LENGTH];
        sgs_record_quote_text(text, sizeof(text), err.text, strnlen(err.text, sizeof(err.text)),
                              sizeof(text) - 1);
        sgs_record_reason_en(
            sgs_record_malformed(out, rules, msg_timestamp_ms, "消息不是有效的JSON：%s", text),
            "invalid JSON at byte %d (line %d, column %d): %s", err.position, err.line, err.column,
            text);
        return;
    }
    if (!json_is_object(root)) {
        sgs_record_reason_en(sgs_record_malformed(out, rules, msg_timestamp_ms,
                                                  "消息是%s，应为一个JSON对象（{...}）",
                                                  jansson_type_text(root, 0)),
                             "%s, expected an object", jansson_type_text(root, 1));
        json_decref(root);
        return;
    }
    memset(&raw, 0, sizeof(raw));
    if (jansson_is_national(root, &xk, &cf)) {
        jansson_extract_national(root, xk, cf, &raw);
    } else {
        jansson_extract_native(root, &raw);
    }
    sgs_record_check(rules, &raw, msg_timestamp_ms, out);
    json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* Fixtures and helpers                                                      */

static sgs_jsonscan *js;
static sgs_registry *reg;
static sgs_calendar *cal;
static sgs_rules rules;
static sgs_record rec_new, rec_old;

static const int64_t TS = 1765152000000LL; /* 2025-12-08T00:00:00Z */

static int setup(void **state)
{
    char err[512], path[4096];

    (void)state;
    snprintf(path, sizeof(path), "%s/units.tsv", rules_fixture_configs());
    reg = sgs_registry_load(path, err, sizeof(err));
    if (reg == NULL) {
        fprintf(stderr, "registry: %s\n", err);
        return -1;
    }
    if (rules_fixture_init(&rules, reg, &cal) != 0)
        return -1;
    js = sgs_jsonscan_create(0);
    return js == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    sgs_jsonscan_destroy(js);
    sgs_registry_destroy(reg);
    sgs_calendar_destroy(cal);
    return 0;
}

/* xorshift64*: the same sequence everywhere for a seed. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* A growable byte buffer for generated documents. */
typedef struct dbuf {
    char *p;
    size_t len, cap;
} dbuf;

static void put(dbuf *t, const void *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *np = realloc(t->p, cap);
        assert_non_null(np);
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void puts_(dbuf *t, const char *s)
{
    put(t, s, strlen(s));
}

static void putc_(dbuf *t, char c)
{
    put(t, &c, 1);
}

static void print_input(const char *buf, size_t len)
{
    size_t i;

    print_message("input (%zu bytes): ", len);
    for (i = 0; i < len && i < 400; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7F) {
            print_message("%c", c);
        } else {
            print_message("\\x%02x", c);
        }
    }
    print_message("%s\n", len > 400 ? "..." : "");
}

static int jansson_accepts(const char *buf, size_t len, json_t **root, json_error_t *err)
{
    *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, err);
    return *root != NULL;
}

/* jansson refuses valid JSON numbers it cannot hold: integers beyond int64,
 * reals beyond a double. The tokenizer reads them (as reals; the latter
 * infinite). */
static int jansson_range_error(const json_error_t *err)
{
    return strstr(err->text, "too big") != NULL || strstr(err->text, "overflow") != NULL;
}

/* strtod of the first len bytes of text. */
static double strtod_n(const char *text, size_t len)
{
    char tmp[1400];
    assert_true(len < sizeof(tmp));
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    return strtod(tmp, NULL);
}

/* Parses with the tokenizer; on failure checks the error is filled. */
static int scan(const char *buf, size_t len)
{
    int rc = sgs_jsonscan_parse(js, buf, len);
    if (rc != 0) {
        const sgs_jsonscan_error *e = sgs_jsonscan_last_error(js);
        assert_true(e->text[0] != '\0');
        assert_true(e->position <= len);
        assert_true(e->line >= 1 && e->column >= 1);
    }
    return rc;
}

static int scan_text(const char *s)
{
    return scan(s, strlen(s));
}

static void expect_ok(const char *s)
{
    if (scan_text(s) != 0) {
        print_message("rejected: %s: %s\n", s, sgs_jsonscan_last_error(js)->text);
        fail();
    }
}

/* Rejected, with a message containing part (NULL: any) at byte position (or
 * any position when position is (size_t)-1). */
static void expect_error_at(const char *buf, size_t len, const char *part, size_t position)
{
    const sgs_jsonscan_error *e;

    if (scan(buf, len) == 0) {
        print_input(buf, len);
        fail_msg("accepted, expected an error containing '%s'", part ? part : "");
    }
    e = sgs_jsonscan_last_error(js);
    if (part != NULL && strstr(e->text, part) == NULL) {
        print_input(buf, len);
        fail_msg("error '%s' does not contain '%s'", e->text, part);
    }
    if (position != (size_t)-1 && e->position != position) {
        print_input(buf, len);
        fail_msg("error '%s' at byte %zu, expected %zu", e->text, e->position, position);
    }
}

static void expect_error(const char *s, const char *part)
{
    expect_error_at(s, strlen(s), part, (size_t)-1);
}

static const sgs_jsonscan_token *tokens(size_t *n)
{
    return sgs_jsonscan_tokens(js, n);
}

/* ------------------------------------------------------------------------ */
/* Structure                                                                 */

static void test_token_layout(void **state)
{
    static const char doc[] = " {\"a\": [1, \"x\", {}], \"b\": {\"c\": null}, \"d\": true} ";
    const sgs_jsonscan_token *t;
    size_t n, k;

    (void)state;
    expect_ok(doc);
    t = tokens(&n);
    /* { a [ 1 "x" {} ] b { c null } d true } */
    assert_int_equal(n, 12);
    assert_int_equal(t[0].type, SGS_JSON_OBJECT);
    assert_int_equal(t[0].len, 3);
    assert_int_equal(t[0].next, 12);
    assert_int_equal(t[0].start, 1);
    assert_int_equal(t[1].type, SGS_JSON_STRING);
    assert_int_equal(t[1].len, 1);
    assert_memory_equal(doc + t[1].start, "a", 1);
    assert_int_equal(t[2].type, SGS_JSON_ARRAY);
    assert_int_equal(t[2].len, 3);
    assert_int_equal(t[2].next, 6);
    assert_int_equal(t[3].type, SGS_JSON_NUMBER);
    assert_int_equal(t[3].len, 1);
    assert_int_equal(t[3].flags & SGS_JSON_REAL, 0);
    assert_int_equal(t[4].type, SGS_JSON_STRING);
    assert_int_equal(t[5].type, SGS_JSON_OBJECT);
    assert_int_equal(t[5].len, 0);
    assert_int_equal(t[5].next, 6);
    assert_int_equal(t[7].type, SGS_JSON_OBJECT);
    assert_int_equal(t[7].next, 10);
    assert_int_equal(t[9].type, SGS_JSON_NULL);
    assert_int_equal(t[11].type, SGS_JSON_TRUE);
    /* walking the members */
    k = 1;
    assert_int_equal(t[k + 1].type, SGS_JSON_ARRAY);
    k = t[k + 1].next;
    assert_memory_equal(doc + t[k].start, "b", 1);
    k = t[k + 1].next;
    assert_memory_equal(doc + t[k].start, "d", 1);
    assert_int_equal(sgs_jsonscan_find(js, doc, 0, "b", 1), 7);
    assert_int_equal(sgs_jsonscan_find(js, doc, 7, "c", 1), 9);
    assert_int_equal(sgs_jsonscan_find(js, doc, 0, "c", 1), 0);
    assert_int_equal(sgs_jsonscan_find(js, doc, 2, "a", 1), 0); /* not an object */

    /* every kind of top-level value */
    expect_ok("[]");
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_ARRAY);
    expect_ok(" \"s\" ");
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_STRING);
    expect_ok("-0");
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_NUMBER);
    expect_ok("false");
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_FALSE);
    expect_ok("null\r\n\t ");
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_NULL);
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error_at("", 0, "unexpected end of input", 0);
    expect_error_at("   ", 3, "unexpected end of input", 3);
    expect_error_at("{\"a\": 1} trailing", 17, "end of input expected", 9);
    expect_error_at("{} {}", 5, "end of input expected", 3);
    expect_error_at("{\"kind\": \"license\",}", 20, "expected a string key", 19);
    expect_error_at("[1,]", 4, "expected a value", 3);
    expect_error_at("[1 2]", 5, "expected ',' or ']'", 3);
    expect_error_at("{\"a\" 1}", 7, "expected ':'", 5);
    expect_error_at("{\"a\":1 \"b\":2}", 13, "expected ',' or '}'", 7);
    expect_error_at("{1:2}", 5, "expected a string key", 1);
    expect_error_at("{\"a\":1", 6, "unexpected end of input", 6);
    expect_error_at("[", 1, "unexpected end of input", 1);
    expect_error_at("{\"a\":tru}", 9, "invalid literal", 5);
    expect_error_at("{\"a\":truex}", 11, "expected ',' or '}'", 9);
    expect_error_at("nul", 3, "invalid literal", 0);
    expect_error_at("\xef\xbb\xbf{}", 5, "unexpected byte 0xef", 0); /* a BOM is not JSON */
    expect_error_at("{\"a\":1}\0", 8, "end of input expected", 7);
    expect_error_at("\f{}", 3, "unexpected 0x0c", 0); /* only space, tab, CR, LF */
    /* line and column */
    expect_error_at("{\n  \"a\": 1,\n  \"\xe5\xb9\xb3\": x}", 23, "unexpected 'x'", 21);
    assert_int_equal(sgs_jsonscan_last_error(js)->line, 3);
    assert_int_equal(sgs_jsonscan_last_error(js)->column, 8);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */

static void check_decoded(const char *doc, const char *want, size_t want_len)
{
    const sgs_jsonscan_token *t;
    char *out;
    size_t n, got;

    expect_ok(doc);
    t = tokens(&n);
    assert_int_equal(t[0].type, SGS_JSON_STRING);
    out = malloc(t[0].len + 1);
    assert_non_null(out);
    got = sgs_jsonscan_string(doc, &t[0], out);
    if (got != want_len || memcmp(out, want, want_len) != 0) {
        print_message("decoding %s\n", doc);
        fail();
    }
    assert_true(sgs_jsonscan_string_equal(doc, &t[0], want, want_len));
    if (want_len > 0) {
        assert_false(sgs_jsonscan_string_equal(doc, &t[0], want, want_len - 1));
    }
    free(out);
}

static void test_escapes(void **state)
{
    char prefix[8];
    size_t n;

    (void)state;
    check_decoded("\"plain\"", "plain", 5);
    check_decoded("\"\"", "", 0);
    check_decoded("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    check_decoded("\"\\u0041\\u00e9\\u5e73\\uFFFF\"", "A\xc3\xa9\xe5\xb9\xb3\xef\xbf\xbf", 9);
    check_decoded("\"\\u0001\"", "\x01", 1); /* escaped control characters are fine */
    check_decoded("\"\\ud83d\\ude00x\"", "\xf0\x9f\x98\x80x", 5);
    check_decoded("\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80", 4);
    check_decoded("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4); /* U+10FFFF */
    check_decoded("\"a\x7f\"", "a\x7f", 2);                     /* DEL is allowed raw */
    check_decoded("\"平市监罚〔2023〕123号\"", "平市监罚〔2023〕123号",
                  strlen("平市监罚〔2023〕123号"));
    check_decoded("\"\xf0\x9f\x98\x80\xc3\xa9\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf\"",
                  "\xf0\x9f\x98\x80\xc3\xa9\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf", 16);

    /* the prefix stops at whole characters and escapes */
    expect_ok("\"ab\\u5e73c\"");
    n = sgs_jsonscan_string_prefix("\"ab\\u5e73c\"", &tokens(&n)[0], prefix, 4);
    assert_int_equal(n, 2);
    n = sgs_jsonscan_string_prefix("\"ab\\u5e73c\"", &tokens(&n)[0], prefix, 5);
    assert_int_equal(n, 5);
    assert_memory_equal(prefix, "ab\xe5\xb9\xb3", 5);

    expect_error_at("\"\\x\"", 4, "invalid escape", 1);
    expect_error_at("\"\\u12\"", 6, "invalid escape", 1);
    expect_error_at("\"\\u12G4\"", 8, "invalid escape", 1);
    expect_error_at("\"\\", 2, "unexpected end of input", 2);
    expect_error_at("\"\\u00", 5, "unexpected end of input", 5);
    expect_error_at("{\"a\":\"\\u0000\"}", 14, "u0000", 6);
    expect_error_at("{\"\\u0000\":1}", 12, "u0000", 2); /* in a key too */
    expect_error_at("{\"a\":\"\\ud800\"}", 14, "invalid Unicode '\\uD800'", 6);
    expect_error_at("{\"a\":\"\\udc00\"}", 14, "invalid Unicode '\\uDC00'", 6);
    expect_error_at("{\"a\":\"\\ud800\\u0041\"}", 20, "invalid Unicode '\\uD800'", 6);
    expect_error_at("{\"a\":\"\\ud800\\ud800\"}", 20, "invalid Unicode", 6);
    expect_error_at("{\"a\":\"\\ud800\\n\"}", 16, "invalid Unicode", 6);
    expect_error_at("{\"a\":\"\\ud800", 12, "invalid Unicode", 6);
    expect_error_at("\"\\uDFFF\"", 8, "low surrogate", 1);
}

static void test_raw_bytes_in_strings(void **state)
{
    static const struct {
        const char *doc;
        size_t position;
        const char *part;
    } bad[] = {
        {"\"a\x01\"", 2, "control character 0x01"},
        {"\"a\nb\"", 2, "control character 0x0a"},
        {"\"a\tb\"", 2, "control character 0x09"},
        {"\"\x80\"", 1, "unable to decode byte 0x80"},
        {"\"\xbf\"", 1, "unable to decode byte"},
        {"\"\xc0\xaf\"", 1, "unable to decode byte 0xc0"}, /* overlong '/' */
        {"\"\xc1\xbf\"", 1, "unable to decode"},
        {"\"\xe0\x80\xaf\"", 1, "unable to decode"}, /* overlong */
        {"\"\xe0\x9f\xbf\"", 1, "unable to decode"},
        {"\"\xed\xa0\x80\"", 1, "unable to decode"}, /* encoded surrogate */
        {"\"\xed\xbf\xbf\"", 1, "unable to decode"},
        {"\"\xf0\x80\x80\x80\"", 1, "unable to decode"},
        {"\"\xf0\x8f\xbf\xbf\"", 1, "unable to decode"},
        {"\"\xf4\x90\x80\x80\"", 1, "unable to decode"}, /* > U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", 1, "unable to decode"},
        {"\"\xff\"", 1, "unable to decode byte 0xff"},
        {"\"\xe5\xb9\"", 1, "unable to decode"},     /* cut short by the quote */
        {"\"\xe5\xb9", 1, "unable to decode"},       /* cut short by the end */
        {"\"\xe5\"\xb9\"", 1, "unable to decode"},   /* a quote inside */
        {"\"abc\xc3", 4, "unable to decode"},        /* at the very end */
        {"\"\xf0\x9f\x98\"", 1, "unable to decode"}, /* 3 of 4 */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error_at(bad[i].doc, strlen(bad[i].doc), bad[i].part, bad[i].position);
    }
    /* \0 inside a string, raw */
    expect_error_at("\"a\0b\"", 5, "control character 0x00", 2);
    /* the same errors at every offset of a long string, so that each lands in
     * every position of a 16-byte block and across block boundaries */
    for (i = 0; i < 70; i++) {
        static const char *const inserts[] = {"\xe5\xb9",     "\xff", "\x1f",
                                              "\xed\xa0\x80", "\xc3", "\xe0\x80\x80"};
        size_t k;
        for (k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
            dbuf t = {0};
            size_t j;
            putc_(&t, '"');
            for (j = 0; j < i; j++) {
                if (j % 5 == 4) {
                    puts_(&t, "号");
                } else {
                    putc_(&t, 'a');
                }
            }
            puts_(&t, inserts[k]);
            for (j = 0; j < 40; j++) {
                puts_(&t, j % 2 ? "x" : "市");
            }
            putc_(&t, '"');
            assert_int_not_equal(scan(t.p, t.len), 0);
            free(t.p);
        }
    }
}

static void test_one_megabyte_strings(void **state)
{
    static const char *const chars[] = {"a",       "号",  "\xf0\x9f\x98\x80", "\xc3\xa9",
                                        "\\u5e73", "\\n", "\\ud83d\\ude00"};
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(chars) / sizeof(chars[0]); k++) {
        dbuf t = {0};
        const sgs_jsonscan_token *tok;
        size_t n, clen = strlen(chars[k]);
        json_t *root;
        json_error_t err;
        char *out;
        puts_(&t, "{\"k\": \"");
        while (t.len < (1 << 20)) {
            put(&t, chars[k], clen);
        }
        puts_(&t, "\", \"n\": 1}");
        assert_int_equal(scan(t.p, t.len), 0);
        tok = tokens(&n);
        assert_int_equal(n, 5);
        assert_true(jansson_accepts(t.p, t.len, &root, &err));
        out = malloc(tok[2].len);
        assert_non_null(out);
        n = sgs_jsonscan_string(t.p, &tok[2], out);
        assert_int_equal(n, json_string_length(json_object_get(root, "k")));
        assert_memory_equal(out, json_string_value(json_object_get(root, "k")), n);
        free(out);
        json_decref(root);
        /* and a bad byte at the very end of the string */
        t.len -= strlen("\", \"n\": 1}");
        puts_(&t, "\xff\", \"n\": 1}");
        assert_int_not_equal(scan(t.p, t.len), 0);
        assert_int_equal(sgs_jsonscan_last_error(js)->position,
                         t.len - strlen("\", \"n\": 1}") - 1);
        free(t.p);
    }
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

static double number_of(const char *doc)
{
    size_t n;

    expect_ok(doc);
    assert_int_equal(tokens(&n)[0].type, SGS_JSON_NUMBER);
    return sgs_jsonscan_number(doc, &tokens(&n)[0]);
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void test_numbers(void **state)
{
    static const char *const good[] = {
        "0",
        "-0",
        "1",
        "-1",
        "10",
        "0.5",
        "-0.0",
        "1e5",
        "1E5",
        "1e+5",
        "1e-5",
        "1.5e300",
        "9223372036854775807",
        "-9223372036854775808",
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "1e-400",
        "-1e-400",
        "0e99999",
        "0.0e-99999999999999999999",
        "4.9e-324",
        "2.2250738585072014e-308",
        "123456789012345678901234567890.0",
        "1e308",
        "0.00000000000000000000001e331",
        ("179769313486231580793728971405303415079934132710037826936"
         "17377898044496829276475094664901797758720709633028641669288791094655554785194040263065748"
         "8"
         "67150582068190890200070838367627385484581771153176447573027006985557136695962284291481986"
         "0"
         "834936475292719074168444365510704342711559699508093042880177904174497791.999e0"),
    };
    static const char *const bad[] = {
        "01",  "-01", "00",   "1.",   "-",        "-a",  ".5",        "+1",   "1e",
        "1e+", "1E-", "1.e5", "0x10", "Infinity", "NaN", "-Infinity", "1..2", "--1",
    };
    /* valid JSON that jansson refuses: read as reals (strtod's value) */
    static const char *const big[] = {
        "9223372036854775808",
        "-9223372036854775809",
        "92233720368547758070",
        "1e309",
        "-1e309",
        "1e400",
        "1.7976931348623159e308",
        "0.1e310",
        "1000000000000000000000000000000000000000.0e270",
        /* exactly 2^1024 - 2^970: rounds (to even) to infinity */
        ("179769313486231580793728971405303415079934132710037826936173778980444968292764750946649"
         "017977587207096330286416692887910946555547851940402630657488671505820681908902000708383"
         "676273854845817711531764475730270069855571366959622842914819860834936475292719074168444"
         "365510704342711559699508093042880177904174497792.0"),
    };
    size_t i;
    char buf[600];

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *root;
        json_error_t err;
        double v = number_of(good[i]);
        assert_true(jansson_accepts(good[i], strlen(good[i]), &root, &err));
        if (!same_double(v, json_number_value(root))) {
            fail_msg("%s: %.17g, jansson %.17g", good[i], v, json_number_value(root));
        }
        json_decref(root);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *root;
        json_error_t err;
        expect_error(bad[i], NULL);
        assert_false(jansson_accepts(bad[i], strlen(bad[i]), &root, &err));
    }
    for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        json_t *root;
        json_error_t err;
        assert_false(jansson_accepts(big[i], strlen(big[i]), &root, &err));
        assert_true(jansson_range_error(&err));
        if (!same_double(number_of(big[i]), strtod_n(big[i], strlen(big[i]))))
            fail_msg("%s: %.17g, strtod %.17g", big[i], number_of(big[i]),
                     strtod_n(big[i], strlen(big[i])));
    }
    assert_true(number_of("1e400") == HUGE_VAL);
    assert_true(number_of("-1e400") == -HUGE_VAL);
    assert_true(same_double(number_of("9223372036854775808"), 9223372036854775808.0));
    expect_error("01", "leading zero");
    assert_true(same_double(number_of("-0"), 0.0)); /* an integer: +0, as jansson */
    assert_true(same_double(number_of("-0.0"), -0.0));
    assert_true(same_double(number_of("0.1"), 0.1));
    assert_true(same_double(number_of("1e23"), 1e23));
    assert_true(same_double(number_of("-9223372036854775808"), -9223372036854775807.0 - 1.0));
    assert_true(same_double(number_of("9007199254740993"), 9007199254740992.0));
    assert_true(number_of("1e-400") == 0.0);
    assert_true(number_of("4.9e-324") > 0.0);
    /* a 400-digit integer in an object (the record test's case) */
    memcpy(buf, "{\"x\": ", 6);
    for (i = 0; i < 400; i++) {
        buf[6 + i] = (char)('1' + i % 9);
    }
    memcpy(buf + 406, "}", 2);
    expect_ok(buf);
}

static void test_number_values_against_jansson(void **state)
{
    char buf[1200];
    int round;

    (void)state;
    rng_state = 99;
    for (round = 0; round < 20000; round++) {
        dbuf t = {0};
        size_t i, nd = 1 + rnd_below(round % 10 == 0 ? 60 : 20);
        json_t *root;
        json_error_t err;
        int mine, theirs;
        if (rnd_below(2)) {
            putc_(&t, '-');
        }
        if (rnd_below(5) == 0) {
            putc_(&t, '0');
        } else {
            putc_(&t, (char)('1' + rnd_below(9)));
            for (i = 1; i < nd; i++) {
                putc_(&t, (char)('0' + rnd_below(10)));
            }
        }
        if (rnd_below(2)) {
            putc_(&t, '.');
            nd = 1 + rnd_below(25);
            for (i = 0; i < nd; i++) {
                putc_(&t, (char)('0' + (rnd_below(3) == 0 ? 0 : rnd_below(10))));
            }
        }
        if (rnd_below(2)) {
            static const char *const exps[] = {"e", "E", "e+", "e-", "E-"};
            int e = (int)rnd_below(rnd_below(4) == 0 ? 400 : 330);
            puts_(&t, exps[rnd_below(5)]);
            snprintf(buf, sizeof(buf), "%d", e);
            puts_(&t, buf);
        }
        mine = scan(t.p, t.len) == 0;
        theirs = jansson_accepts(t.p, t.len, &root, &err);
        if (mine && !theirs && jansson_range_error(&err)) {
            size_t n;
            if (!same_double(sgs_jsonscan_number(t.p, &tokens(&n)[0]), strtod_n(t.p, t.len)))
                fail_msg("%s: %.17g, strtod %.17g", t.p, sgs_jsonscan_number(t.p, &tokens(&n)[0]),
                         strtod_n(t.p, t.len));
            free(t.p);
            continue;
        }
        if (mine != theirs) {
            fail_msg("%s: tokenizer %s, jansson %s", t.p, mine ? "accepts" : "rejects",
                     theirs ? "accepts" : err.text);
        }
        if (mine) {
            size_t n;
            double v = sgs_jsonscan_number(t.p, &tokens(&n)[0]);
            if (!same_double(v, json_number_value(root))) {
                fail_msg("%s: %.17g, jansson %.17g", t.p, v, json_number_value(root));
            }
            json_decref(root);
        }
        free(t.p);
    }
    /* around the overflow threshold, digit by digit */
    for (round = 0; round < 3000; round++) {
        static const char thr[] = "17976931348623158079372897140530341507993413271003782693617"
                                  "377898044496829276475094664901797758720709633028641669288791"
                                  "094655554785194040263065748867150582068190890200070838367627"
                                  "385484581771153176447573027006985557136695962284291481986083"
                                  "493647529271907416844436551070434271155969950809304288017790"
                                  "4174497792";
        size_t len = 309, cut = rnd_below(len), i;
        json_t *root;
        json_error_t err;
        int mine, theirs;
        memcpy(buf, thr, len);
        /* change one digit up or down, or cut and pad with zeros, then maybe a
         * fraction and an exponent that keep the magnitude */
        if (rnd_below(2)) {
            buf[cut] = (char)(buf[cut] == '9' ? '8' : buf[cut] + (rnd_below(2) ? 1 : 0));
            if (rnd_below(2) && buf[cut] > '0') {
                buf[cut] = (char)(buf[cut] - 1);
            }
        } else {
            for (i = cut; i < len; i++) {
                buf[i] = rnd_below(4) == 0 ? '9' : '0';
            }
        }
        if (rnd_below(3) == 0) {
            memcpy(buf + len, ".000001", 7);
            len += 7;
        }
        if (rnd_below(3) == 0) {
            /* the same value as d.ddd...e308 */
            memmove(buf + 2, buf + 1, len - 1);
            buf[1] = '.';
            len++;
            memcpy(buf + len, "e308", 4);
            len += 4;
        }
        buf[len] = '\0';
        mine = scan(buf, len) == 0;
        theirs = jansson_accepts(buf, len, &root, &err);
        if (mine && !theirs && jansson_range_error(&err)) {
            size_t n;
            /* an integer beyond int64, or a real beyond a double (infinite) */
            if (!same_double(sgs_jsonscan_number(buf, &tokens(&n)[0]), strtod_n(buf, len)))
                fail_msg("%s: %.17g, strtod %.17g", buf, sgs_jsonscan_number(buf, &tokens(&n)[0]),
                         strtod_n(buf, len));
            continue;
        }
        if (mine != theirs) {
            fail_msg("%s: tokenizer %s, jansson %s", buf, mine ? "accepts" : "rejects",
                     theirs ? "accepts" : err.text);
        }
        if (mine) {
            size_t n;
            assert_true(
                same_double(sgs_jsonscan_number(buf, &tokens(&n)[0]), json_number_value(root)));
            json_decref(root);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Nesting, duplicates, capacity                                             */

static char *nested(const char *open, const char *inner, const char *close, size_t depth,
                    size_t *len)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close), i, n = 0;
    char *buf = malloc(depth * (lo + lc) + li + 1);

    assert_non_null(buf);
    for (i = 0; i < depth; i++) {
        memcpy(buf + n, open, lo);
        n += lo;
    }
    memcpy(buf + n, inner, li);
    n += li;
    for (i = 0; i < depth; i++) {
        memcpy(buf + n, close, lc);
        n += lc;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void test_depth_limit(void **state)
{
    static const struct {
        const char *open, *inner, *close;
    } shapes[] = {
        {"[", "", "]"},           {"[", "1", "]"},        {"[", "{}", "]"},
        {"{\"a\":", "null", "}"}, {"{\"a\":", "[]", "}"}, {"[{\"k\":", "\"s\"", "}]"},
    };
    size_t s, depth;

    (void)state;
    for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        for (depth = 2040; depth <= 2052; depth++) {
            size_t len;
            char *buf = nested(shapes[s].open, shapes[s].inner, shapes[s].close, depth, &len);
            json_t *root;
            json_error_t err;
            int mine = scan(buf, len) == 0;
            int theirs = jansson_accepts(buf, len, &root, &err);
            if (mine != theirs) {
                fail_msg("%s%s%s x %zu: tokenizer %s, jansson %s", shapes[s].open, shapes[s].inner,
                         shapes[s].close, depth, mine ? "accepts" : "rejects",
                         theirs ? "accepts" : "rejects");
            }
            if (!mine) {
                assert_non_null(strstr(sgs_jsonscan_last_error(js)->text, "depth"));
            } else {
                json_decref(root);
            }
            free(buf);
        }
    }
    {
        size_t len;
        char *buf = nested("[", "", "]", 100000, &len);
        expect_error_at(buf, len, "maximum parsing depth", 2048);
        free(buf);
    }
}

static void test_duplicate_keys(void **state)
{
    dbuf t = {0};
    size_t i;

    (void)state;
    expect_error_at("{\"a\":1,\"a\":2}", 13, "duplicate object key 'a'", 7);
    expect_error("{\"kind\": \"license\", \"unit_id\": \"410423\", \"kind\": \"penalty\"}",
                 "duplicate object key 'kind'");
    expect_error("{\"a\":1,\"\\u0061\":2}", "duplicate object key");
    expect_error("{\"\\u0061\":1,\"a\":2}", "duplicate object key");
    expect_error("{\"\xc3\xa9\":1,\"\\u00e9\":2}", "duplicate object key");
    expect_error("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", "duplicate object key");
    expect_error("{\"a\":{\"b\":[{\"c\":1,\"d\":2,\"c\":3}]}}", "duplicate object key 'c'");
    expect_error("[{},{\"x\":1,\"x\":1}]", "duplicate");
    expect_error("{\"\":1,\"\":2}", "duplicate");
    /* keys alike in their first 16 bytes, or in length */
    expect_ok("{\"CF_XDR_ZJLX\":1,\"CF_XDR_ZJHM\":2,\"CF_XDR_ZJ\":3,\"CF_XDR_Z\":4}");
    expect_ok("{\"abcdefghijklmnopq1\":1,\"abcdefghijklmnopq2\":2,\"abcdefghijklmnop\":3}");
    expect_error("{\"abcdefghijklmnopq1\":1,\"abcdefghijklmnopq2\":2,\"abcdefghijklmnopq1\":3}",
                 "duplicate");
    expect_error("{\"abcdefghijklmnopq\\u0031\":1,\"abcdefghijklmnopq1\":2}", "duplicate");
    /* the same key in different objects is fine */
    expect_ok("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2},\"c\":[{\"a\":1},{\"a\":1}]}");

    /* big objects: distinct keys, then one repeated at the end, in the middle,
     * with escapes */
    puts_(&t, "{");
    for (i = 0; i < 100000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s\"key%zu\":%zu", i ? "," : "", i, i);
        puts_(&t, k);
    }
    puts_(&t, "}");
    assert_int_equal(scan(t.p, t.len), 0);
    t.len--;
    puts_(&t, ",\"key77777\":0}");
    expect_error_at(t.p, t.len, "duplicate object key 'key77777'", t.len - 13);
    t.len -= 14;
    puts_(&t, ",\"key\\u0037\":0}");
    expect_error(t.p, "duplicate object key");
    free(t.p);
    memset(&t, 0, sizeof(t));
    /* 33 to 40 keys: the filter for the first 32, the table after */
    for (i = 30; i < 40; i++) {
        size_t j, dup;
        for (dup = 0; dup <= i; dup += 3) {
            t.len = 0;
            puts_(&t, "{");
            for (j = 0; j < i; j++) {
                char k[32];
                snprintf(k, sizeof(k), "%s\"k%zu\":1", j ? "," : "", j);
                puts_(&t, k);
            }
            if (dup < i) {
                char k[32];
                snprintf(k, sizeof(k), ",\"k%zu\":2", dup);
                puts_(&t, k);
            }
            puts_(&t, "}");
            if (dup < i) {
                expect_error(t.p, "duplicate");
            } else {
                assert_int_equal(scan(t.p, t.len), 0);
            }
        }
    }
    free(t.p);
}

static void test_token_capacity(void **state)
{
    sgs_jsonscan *small = sgs_jsonscan_create(100);
    dbuf t = {0};
    size_t i, n;

    (void)state;
    assert_non_null(small);
    puts_(&t, "[");
    for (i = 0; i < 99; i++) {
        puts_(&t, i ? ",0" : "0");
    }
    puts_(&t, "]");
    assert_int_equal(sgs_jsonscan_parse(small, t.p, t.len), 0); /* 100 values */
    sgs_jsonscan_tokens(small, &n);
    assert_int_equal(n, 100);
    t.len--;
    puts_(&t, ",0]");
    assert_int_equal(sgs_jsonscan_parse(small, t.p, t.len), -1);
    assert_non_null(strstr(sgs_jsonscan_last_error(small)->text, "more than 100 JSON values"));
    assert_int_equal(sgs_jsonscan_last_error(small)->position, t.len - 2);
    sgs_jsonscan_destroy(small);

    /* the default context grows past its first size and keeps working */
    t.len = 0;
    puts_(&t, "[");
    for (i = 0; i < 300000; i++) {
        puts_(&t, i ? ",{}" : "{}");
    }
    puts_(&t, "]");
    assert_int_equal(scan(t.p, t.len), 0);
    tokens(&n);
    assert_int_equal(n, 300001);
    expect_ok("{\"a\":1}");
    tokens(&n);
    assert_int_equal(n, 3);
    free(t.p);
    sgs_jsonscan_destroy(NULL);
}

/* ------------------------------------------------------------------------ */
/* Differential: tokenizer vs jansson                                        */

/* The tokens from index i against jansson's value; returns the next index. */
static size_t compare_tree(const char *buf, const sgs_jsonscan_token *t, size_t i, const json_t *j)
{
    size_t k, m;

    switch (t[i].type) {
    case SGS_JSON_OBJECT:
        assert_true(json_is_object(j));
        assert_int_equal(t[i].len, json_object_size(j));
        k = i + 1;
        for (m = 0; m < t[i].len; m++) {
            char *key = malloc(t[k].len + 1);
            size_t n;
            const json_t *v;
            assert_non_null(key);
            n = sgs_jsonscan_string(buf, &t[k], key);
            v = json_object_getn(j, key, n);
            free(key);
            assert_non_null(v);
            assert_int_equal(compare_tree(buf, t, k + 1, v), t[k + 1].next);
            k = t[k + 1].next;
        }
        assert_int_equal(k, t[i].next);
        return t[i].next;
    case SGS_JSON_ARRAY:
        assert_true(json_is_array(j));
        assert_int_equal(t[i].len, json_array_size(j));
        k = i + 1;
        for (m = 0; m < t[i].len; m++) {
            k = compare_tree(buf, t, k, json_array_get(j, m));
        }
        assert_int_equal(k, t[i].next);
        return k;
    case SGS_JSON_STRING: {
        char *s = malloc(t[i].len + 1);
        size_t n;
        assert_true(json_is_string(j));
        assert_non_null(s);
        n = sgs_jsonscan_string(buf, &t[i], s);
        assert_int_equal(n, json_string_length(j));
        assert_memory_equal(s, json_string_value(j), n);
        free(s);
        return i + 1;
    }
    case SGS_JSON_NUMBER:
        if (t[i].flags & SGS_JSON_REAL) {
            assert_true(json_is_real(j));
        } else {
            assert_true(json_is_integer(j));
        }
        assert_true(same_double(sgs_jsonscan_number(buf, &t[i]), json_number_value(j)));
        return i + 1;
    case SGS_JSON_TRUE:
        assert_true(json_is_true(j));
        return i + 1;
    case SGS_JSON_FALSE:
        assert_true(json_is_false(j));
        return i + 1;
    case SGS_JSON_NULL:
        assert_true(json_is_null(j));
        return i + 1;
    }
    fail();
    return 0;
}

/* Fields of two records, all of them. Malformed messages only need the same
 * verdict: the tokenizer's texts are its own. */
static void assert_same_record(const sgs_record *a, const sgs_record *b)
{
    int i;

    assert_int_equal(a->status, b->status);
    assert_int_equal(a->n_reasons, b->n_reasons);
    for (i = 0; i < a->n_reasons; i++) {
        assert_string_equal(a->reasons[i].code, b->reasons[i].code);
        assert_string_equal(a->reasons[i].field, b->reasons[i].field);
        if (a->status != SGS_RECORD_MALFORMED ||
            strncmp(a->reasons[i].message_en, "invalid JSON", 12) != 0) {
            assert_string_equal(a->reasons[i].message, b->reasons[i].message);
            assert_string_equal(a->reasons[i].message_en, b->reasons[i].message_en);
        }
    }
    assert_int_equal(a->format, b->format);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->unit_from_organ, b->unit_from_organ);
    assert_int_equal(a->subject_type, b->subject_type);
    assert_ptr_equal(a->unit, b->unit);
    assert_string_equal(a->unit_id, b->unit_id);
    assert_string_equal(a->doc_no, b->doc_no);
    assert_string_equal(a->doc.norm, b->doc.norm);
    assert_int_equal(a->doc.norm_chars, b->doc.norm_chars);
    assert_int_equal(a->doc.has_serial, b->doc.has_serial);
    assert_string_equal(a->doc.prefix, b->doc.prefix);
    assert_int_equal(a->doc.year, b->doc.year);
    assert_int_equal(a->doc.serial_lo, b->doc.serial_lo);
    assert_int_equal(a->doc.serial_hi, b->doc.serial_hi);
    assert_int_equal(a->has_identity, b->has_identity);
    assert_string_equal(a->identity, b->identity);
    assert_int_equal(a->has_decision_date, b->has_decision_date);
    assert_int_equal(a->decision_date, b->decision_date);
    assert_int_equal(a->has_reported_at, b->has_reported_at);
    assert_int_equal(a->reported_from_timestamp, b->reported_from_timestamp);
    assert_int_equal(a->reported_at, b->reported_at);
    assert_string_equal(a->reported_at_text, b->reported_at_text);
    assert_int_equal(a->report_day, b->report_day);
    assert_string_equal(a->month, b->month);
    assert_string_equal(a->day, b->day);
    assert_int_equal(a->has_deadline, b->has_deadline);
    assert_int_equal(a->deadline, b->deadline);
    assert_int_equal(a->late, b->late);
    assert_int_equal(a->workdays_late, b->workdays_late);
}

static int n_accepted, n_rejected, n_nul_skips;

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* jansson 2.14 skips a NUL byte that directly follows a number or a literal:
 * the character after such a token is pushed back, and its one-character
 * push-back buffer takes a pushed-back NUL for "empty" (load.c, stream_get),
 * so it reads on. It accepts "1\0" and {"a":true\0}, which are not JSON; the
 * tokenizer refuses them (a known, wanted difference). This writes the input
 * without such NUL bytes (outside strings, after a letter or digit, followed by
 * nothing that would continue the token or another NUL) into out, for comparing the verdicts on,
 * and returns its length. */
static size_t drop_skipped_nuls(const char *buf, size_t len, char *out)
{
    size_t i, o = 0;
    int in_string = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (in_string) {
            if (c == '\\' && i + 1 < len) {
                out[o++] = (char)c;
                c = (unsigned char)buf[++i];
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '\0' && i > 0 && is_alnum((unsigned char)buf[i - 1]) &&
                   (i + 1 == len ||
                    !(is_alnum((unsigned char)buf[i + 1]) || buf[i + 1] == '.' ||
                      buf[i + 1] == '+' || buf[i + 1] == '-' || buf[i + 1] == '\0'))) {
            continue;
        }
        out[o++] = (char)c;
    }
    return o;
}

static void differential_exact(const char *buf, size_t len);

/* The differential check of one input: same verdict as jansson, the same
 * values, and the same record as the old reader. */
static void differential(const char *buf, size_t len)
{
    char *clean = malloc(len + 1);
    size_t clen;

    assert_non_null(clean);
    clen = drop_skipped_nuls(buf, len, clean);
    if (clen != len) {
        /* refused here, whatever jansson makes of it */
        assert_int_not_equal(scan(buf, len), 0);
        sgs_record_parse(&rules, buf, len, TS, &rec_new);
        assert_int_equal(rec_new.status, SGS_RECORD_MALFORMED);
        n_nul_skips++;
    }
    differential_exact(clean, clen);
    free(clean);
}

static void differential_exact(const char *buf, size_t len)
{
    json_t *root;
    json_error_t err;
    int mine = scan(buf, len) == 0;
    int theirs = jansson_accepts(buf, len, &root, &err);

    if (mine && !theirs && jansson_range_error(&err))
        return; /* a number jansson cannot hold (its one refusal of valid JSON here) */
    if (mine != theirs) {
        print_input(buf, len);
        fail_msg("tokenizer %s (%s), jansson %s (%s)", mine ? "accepts" : "rejects",
                 mine ? "" : sgs_jsonscan_last_error(js)->text, theirs ? "accepts" : "rejects",
                 theirs ? "" : err.text);
    }
    if (mine) {
        size_t n;
        const sgs_jsonscan_token *t = tokens(&n);
        assert_int_equal(compare_tree(buf, t, 0, root), n);
        json_decref(root);
        n_accepted++;
    } else {
        n_rejected++;
    }
    sgs_record_parse(&rules, buf, len, TS, &rec_new);
    sgs_record_parse_jansson(&rules, buf, len, TS, &rec_old);
    assert_same_record(&rec_new, &rec_old);
}

/* Pieces of strings, valid and not. */
static const char *const string_pieces[] = {
    "a",
    "kind",
    " ",
    "号",
    "平顶山市",
    "〔2023〕",
    "\xc3\xa9",
    "\xf0\x9f\x98\x80",
    "\xe0\xa0\x80",
    "\xed\x9f\xbf",
    "\xef\xbf\xbf",
    "\\n",
    "\\\"",
    "\\\\",
    "\\/",
    "\\t",
    "\\u0041",
    "\\u00e9",
    "\\u5e73",
    "\\ud83d\\ude00",
    "\\uDBFF\\uDFFF",
    "\x7f",
    /* bad ones, rarely */
    "\\ud800",
    "\\udc00",
    "\\u0000",
    "\\x",
    "\\u12",
    "\x01",
    "\t",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xff",
    "\xe5\xb9",
};
#define GOOD_PIECES 22

static const char *const number_pieces[] = {"0",
                                            "-0",
                                            "1",
                                            "12",
                                            "-7",
                                            "0.5",
                                            "1e5",
                                            "2.5E-3",
                                            "1e308",
                                            "1e309",
                                            "1e-400",
                                            "9223372036854775807",
                                            "9223372036854775808",
                                            "-9223372036854775808",
                                            "01",
                                            "1.",
                                            ".5",
                                            "-",
                                            "+1",
                                            "1e",
                                            "0x1",
                                            "1.7976931348623157e308",
                                            "1.7976931348623159e308",
                                            "123456789012345678901234567890",
                                            "0.1e-5"};

static const char *const key_pool[] = {"a",       "b",        "kind",      "unit_id", "doc_no",
                                       "\\u0061", "k\\u00e9", "k\xc3\xa9", "XK_WSH",  "CF_WSH",
                                       "subject", "name",     ""};

static void gen_ws(dbuf *t)
{
    static const char *const ws[] = {"", "", "", " ", "\n", "\t", "\r\n  "};

    if (rnd_below(4) == 0) {
        puts_(t, ws[rnd_below(sizeof(ws) / sizeof(ws[0]))]);
    }
}

static void gen_string(dbuf *t, int allow_bad)
{
    size_t n = rnd_below(6), i;

    putc_(t, '"');
    for (i = 0; i < n; i++) {
        size_t k = allow_bad && rnd_below(40) == 0
                       ? rnd_below(sizeof(string_pieces) / sizeof(string_pieces[0]))
                       : rnd_below(GOOD_PIECES);
        puts_(t, string_pieces[k]);
    }
    putc_(t, '"');
}

static void gen_value(dbuf *t, int depth, int allow_bad)
{
    size_t r = rnd_below(depth > 6 ? 6 : 10), i, n;

    gen_ws(t);
    switch (r) {
    case 0:
    case 1:
    case 2:
        gen_string(t, allow_bad);
        break;
    case 3:
    case 4:
        if (allow_bad && rnd_below(8) == 0) {
            puts_(t, number_pieces[rnd_below(sizeof(number_pieces) / sizeof(number_pieces[0]))]);
        } else {
            puts_(t, number_pieces[rnd_below(9)]);
        }
        break;
    case 5: {
        static const char *const lits[] = {"true", "false", "null"};
        puts_(t, lits[rnd_below(3)]);
        break;
    }
    case 6:
    case 7:
        putc_(t, '[');
        n = rnd_below(5);
        for (i = 0; i < n; i++) {
            if (i > 0) {
                putc_(t, ',');
            }
            gen_value(t, depth + 1, allow_bad);
        }
        gen_ws(t);
        putc_(t, ']');
        break;
    default:
        putc_(t, '{');
        n = rnd_below(6);
        for (i = 0; i < n; i++) {
            if (i > 0) {
                putc_(t, ',');
            }
            gen_ws(t);
            if (rnd_below(3) == 0) {
                gen_string(t, allow_bad);
            } else {
                /* a small pool: duplicates happen */
                putc_(t, '"');
                puts_(t, key_pool[rnd_below(sizeof(key_pool) / sizeof(key_pool[0]))]);
                putc_(t, '"');
            }
            gen_ws(t);
            putc_(t, ':');
            gen_value(t, depth + 1, allow_bad);
        }
        gen_ws(t);
        putc_(t, '}');
        break;
    }
    gen_ws(t);
}

/* Changes a few bytes of a document. */
static void mutate(dbuf *t)
{
    static const char *const inserts[] = {"\"",
                                          ",",
                                          ":",
                                          "{",
                                          "}",
                                          "[",
                                          "]",
                                          "\\",
                                          "\\u",
                                          "\\ud800",
                                          "0",
                                          "-",
                                          "e",
                                          ".",
                                          "\x00",
                                          "\x1f",
                                          "\xff",
                                          "\xc3",
                                          "\xe5",
                                          "\xed\xa0\x80",
                                          " ",
                                          "\"a\":1,",
                                          "1e400",
                                          "\\u0000",
                                          "99999999999999999999",
                                          "\"kind\":\"x\",",
                                          "\xf0\x9f\x98\x80",
                                          "号"};
    size_t m = 1 + rnd_below(3), i;

    for (i = 0; i < m && t->len > 0; i++) {
        size_t at = rnd_below(t->len);
        switch (rnd_below(5)) {
        case 0: /* flip */
            t->p[at] = (char)rnd();
            break;
        case 1: /* delete */
            memmove(t->p + at, t->p + at + 1, t->len - at - 1);
            t->len--;
            break;
        case 2: /* truncate */
            t->len = at;
            break;
        default: { /* insert */
            const char *s = inserts[rnd_below(sizeof(inserts) / sizeof(inserts[0]))];
            size_t n = s[0] == '\0' ? 1 : strlen(s);
            size_t tail = t->len - at;
            put(t, s, n); /* makes room (the bytes are moved below) */
            memmove(t->p + at + n, t->p + at, tail);
            memcpy(t->p + at, s, n);
            break;
        }
        }
    }
}

/* Writes the first occurrence of "key" in t again with its first character
 * escaped ("\u006bind"), when there is one. */
static void escape_key(dbuf *t, const char *key)
{
    char pattern[64], esc[16];
    char *at;
    size_t n, tail;

    snprintf(pattern, sizeof(pattern), "\"%s\"", key);
    at = strstr(t->p, pattern);
    if (at == NULL) {
        return;
    }
    snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)key[0]);
    n = strlen(esc) - 1; /* replaces one byte */
    tail = t->len - (size_t)(at + 1 - t->p);
    {
        size_t off = (size_t)(at + 1 - t->p);
        put(t, esc, n);
        memmove(t->p + off + n + 1, t->p + off + 1, tail - 1);
        memcpy(t->p + off, esc, n + 1);
    }
}

static void test_differential_generated(void **state)
{
    int round;

    (void)state;
    rng_state = 0x5eed;
    n_accepted = n_rejected = 0;
    for (round = 0; round < 30000; round++) {
        dbuf t = {0};
        gen_value(&t, 0, round % 2);
        differential(t.p, t.len);
        mutate(&t);
        differential(t.p, t.len);
        free(t.p);
    }
    print_message("generated: %d accepted, %d rejected, %d with a NUL that jansson skips\n",
                  n_accepted, n_rejected, n_nul_skips);
    assert_true(n_accepted > 10000 && n_rejected > 10000);
}

static void test_differential_random_bytes(void **state)
{
    static const char alphabet[] = "{}[]\":,\\ntrufalse0123456789-+.eEu \t\r\n\x01\x7f\x80\xc3\xa9"
                                   "\xe5\xb9\xb3\xed\xa0\xf0\x9f\x98\x80\xff";
    char buf[256];
    int round;

    (void)state;
    rng_state = 4242;
    for (round = 0; round < 20000; round++) {
        size_t len = rnd_below(sizeof(buf)), i;
        for (i = 0; i < len; i++) {
            buf[i] = round % 2 ? (char)rnd() : alphabet[rnd_below(sizeof(alphabet) - 1)];
        }
        differential(buf, len);
    }
}

/* Realistic records (as sgs-gen writes them), native and national. */
static const char *const samples[] = {
    "{\"kind\":\"penalty\",\"unit_id\":\"410425\",\"doc_no\":\"郏县市监罚〔2025〕129128号\","
    "\"decision_date\":\"2025-11-23\",\"reported_at\":\"2025-12-01T00:05:17+08:00\","
    "\"subject\":{\"name\":\"郏县老高水果店\",\"type\":\"individual_business\",\"uscc\":"
    "\"92410411MAYRE3LJ1Q\",\"id_no\":null},\"authority\":{\"name\":\"郏县市场监督管理局\","
    "\"uscc\":\"11410425007026265X\"},\"license\":null,\"penalty\":{\"category\":[\"罚款\","
    "\"没收违法所得\"],\"content\":\"罚款人民币2000元；没收违法所得12800元\",\"fine_amount\":0.2,"
    "\"violation\":\"销售不合格产品\",\"basis\":\"《中华人民共和国产品质量法》第五十条\"}}",
    "{\"record_id\":\"CF2025112502848764\",\"kind\":\"penalty\",\"unit_id\":\"410411\",\"doc_no\":"
    "\"湛河区市监罚〔2025〕第0105756号\",\"decision_date\":\"2025-11-25\",\"reported_at\":"
    "\"2025-12-01T00:09:32+08:00\",\"subject\":{\"name\":\"蔡彤亮\",\"type\":\"natural_person\","
    "\"uscc\":null,\"id_no\":\"410411195708290470\"},\"authority\":{\"name\":"
    "\"湛河区市场监督管理局\",\"uscc\":\"11410411001478188L\"},\"license\":null,\"penalty\":"
    "{\"category\":[\"罚款\"],\"content\":\"罚款人民币80000元\",\"fine_amount\":8}}",
    "{\"kind\":\"license\",\"unit_id\":\"410400-CXYTH\",\"doc_no\":"
    "\"平示范区市监许〔2025〕59703号\","
    "\"decision_date\":\"2025-11-30\",\"reported_at\":\"2025-12-01T00:33:49+08:00\",\"subject\":"
    "{\"name\":\"平顶山市建业兴酒业有限责任公司\",\"type\":\"legal_person\",\"uscc\":"
    "\"91410411MAL6BP5QC9\",\"id_no\":null},\"authority\":{\"name\":"
    "\"平顶山市城乡一体化示范区市场监督管理局\",\"uscc\":\"114104000083197385\"},\"license\":"
    "{\"category\":\"普通\",\"content\":\"药品零售企业经营许可\",\"valid_from\":\"2025-11-30\","
    "\"valid_to\":\"2030-11-29\"},\"penalty\":null}",
    "{\"XK_XDR_MC\":\"叶县联创餐饮管理有限公司\",\"XK_XDR_LB\":\"法人及非法人组织\","
    "\"XK_XDR_SHXYM\":\"91410400MAF1XF7EXN\",\"XK_FRDB\":\"邵亮晓\",\"XK_XKWS\":"
    "\"计量标准考核决定书\",\"XK_WSH\":\"叶县市监许〔2025〕0093262号\",\"XK_XKLB\":\"认可\","
    "\"XK_NR\":\"计量标准考核\",\"XK_JDRQ\":\"2025/11/20\",\"XK_YXQZ\":\"2025-11-20\","
    "\"XK_YXQZI\":\"2029-11-19\",\"XK_XKJG\":\"叶县市场监督管理局\",\"XK_XKJGDM\":"
    "\"11410422001988837N\",\"XK_ZT\":\"有效\",\"XK_LYDW\":\"叶县\",\"XK_LYDWDM\":\"410422\","
    "\"reported_at\":\"2025-12-01T00:23:11+08:00\"}",
    "{\"CF_XDR_MC\":\"郏县隆昌服饰有限责任公司\",\"CF_XDR_LB\":\"法人及非法人组织\","
    "\"CF_XDR_SHXYM\":\"91410425MAHHAJM9UA\",\"CF_FRDB\":\"文洋桂\",\"CF_WSH\":"
    "\"郏县市监罚〔2025〕130601号\",\"CF_WFXW\":\"经营不符合食品安全标准的食品\",\"CF_CFLB\":"
    "\"罚款;没收违法所得\",\"CF_NR\":\"罚款人民币50000元\",\"CF_NR_FK\":5,\"CF_NR_WFFF\":1.03,"
    "\"CF_JDRQ\":\"2025-11-29\",\"CF_CFJG\":\"郏县市场监督管理局\",\"CF_CFJGDM\":"
    "\"11410425007026265X\",\"CF_SJLY\":\"郏县\",\"CF_SJLYDM\":\"410425\",\"reported_at\":"
    "\"2025-12-01T00:00:01+08:00\"}",
    "{\"CF_XDR_MC\":\"张三\",\"CF_XDR_LB\":\"自然人\",\"CF_XDR_ZJLX\":\"身份证\",\"CF_XDR_ZJHM\":"
    "\"11010519491231002X\",\"CF_WSH\":\"平市监罚（2023）0123号\",\"CF_NR_FK\":\"0.5\","
    "\"CF_JDRQ\":\"20231201\",\"CF_CFJG\":\"平顶山市市场监督管理局\",\"CF_SJLY\":"
    "\"平顶山市市场监督管理局\"}",
};

/* Values a field may be given in a variant. */
static const char *const field_values[] = {
    "null",
    "true",
    "0",
    "-1.5",
    "1e-400",
    "[]",
    "{}",
    "\"\"",
    "\"  \"",
    "\"x\"",
    "\"2025-11-30\"",
    "\"2025/11/30\"",
    "\"20251130\"",
    "\"2025-12-01T08:00:00+08:00\"",
    "\"91410411MAL6BP5QC9\"",
    "\"00000000000000000X\"",
    "\"410411195708290470\"",
    "\"410425\"",
    "\"郏县\"",
    "\"长期\"",
    "\"license\"",
    "\"penalty\"",
    "\"natural_person\"",
    "\"自然人\"",
    "\"平市监罚〔2023〕1号\"",
    ("\"\\u5e73\\u5e02\\u76d1\\u7f5a\\u3014\\u0032\\u0030\\u0032\\u0033"
     "\\u3015\\u0031\\u53f7\""),
    "\"\\ud83d\\ude00\"",
    "\"a\\nb\"",
    "\"12\"",
    "\"-1\"",
    "\"0.5\"",
    "{\"name\":\"x\",\"type\":\"legal_person\"}",
    "{\"valid_from\":\"2025-01-01\"}",
    "{\"fine_amount\":-0.0}",
    "123456789012345678",
    "\"update\"",
    "\"revoke\"",
    "\"U\"",
    "\"D\"",
    "\"平顶山市市场监督管理局\"",
    "\"11410400MB0000001P\""};

static const char *const field_keys[] = {
    "kind",      "unit_id",     "doc_no",     "decision_date", "reported_at", "subject",
    "authority", "license",     "penalty",    "record_id",     "XK_WSH",      "CF_WSH",
    "XK_LYDWDM", "XK_LYDW",     "CF_SJLYDM",  "CF_SJLY",       "XK_JDRQ",     "CF_JDRQ",
    "CF_NR_FK",  "XK_YXQZI",    "XK_XDR_LB",  "CF_XDR_ZJLX",   "CF_XDR_ZJHM", "XK_XDR_SHXYM",
    "XK_XKJGDM", "CF_CFJG",     "\\u006bind", "XK_\\u0057SH",  "XK_other",    "CF_other",
    "op",        "SYNC_STATUS", "XK_XDR",     "XK_XDR_SFZ",    "CF_XDR_SFZ",  "XK_XZJG",
    "CF_XZJG",   "XK_JZQ",      "XK_XDR_ZDM", "CF_XDR_SWDJ",   "CF_CFJGDM"};

static void test_differential_records(void **state)
{
    static const size_t dump_flags[] = {
        JSON_COMPACT,
        JSON_COMPACT | JSON_ENSURE_ASCII,
        JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH,
        JSON_INDENT(1) | JSON_SORT_KEYS,
    };
    size_t s, f;
    int round;

    (void)state;
    rng_state = 777;
    for (s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        json_error_t err;
        json_t *root = json_loads(samples[s], 0, &err);
        assert_non_null(root);
        differential(samples[s], strlen(samples[s]));
        if (s < 5) {
            assert_int_equal(rec_new.status, SGS_RECORD_VALID);
        }
        /* every way jansson can write it */
        for (f = 0; f < sizeof(dump_flags) / sizeof(dump_flags[0]); f++) {
            char *text_ = json_dumps(root, dump_flags[f]);
            assert_non_null(text_);
            differential(text_, strlen(text_));
            free(text_);
        }
        json_decref(root);
    }
    /* variants: fields replaced, added or removed, written with or without
     * escapes, then mutated bytes */
    for (round = 0; round < 20000; round++) {
        const char *sample = samples[rnd_below(sizeof(samples) / sizeof(samples[0]))];
        json_error_t err;
        json_t *root = json_loads(sample, 0, &err);
        size_t changes = 1 + rnd_below(3), c;
        char *out;
        dbuf t = {0};
        assert_non_null(root);
        for (c = 0; c < changes; c++) {
            const char *key = field_keys[rnd_below(sizeof(field_keys) / sizeof(field_keys[0]))];
            json_t *parent = root;
            char decoded[64];
            json_t *kj;
            /* keys in the table may hold escapes: decode them with jansson */
            snprintf(decoded, sizeof(decoded), "\"%s\"", key);
            kj = json_loads(decoded, JSON_DECODE_ANY, &err);
            assert_non_null(kj);
            if (rnd_below(4) == 0) {
                static const char *const parents[] = {"subject", "authority", "license", "penalty"};
                static const char *const subs[] = {"name",     "type",       "uscc",       "id_no",
                                                   "valid_to", "valid_from", "fine_amount"};
                json_t *p = json_object_get(root, parents[rnd_below(4)]);
                if (json_is_object(p)) {
                    parent = p;
                    json_decref(kj);
                    kj = json_string(subs[rnd_below(7)]);
                }
            }
            if (rnd_below(5) == 0) {
                json_object_del(parent, json_string_value(kj));
            } else {
                json_t *v = json_loads(
                    field_values[rnd_below(sizeof(field_values) / sizeof(field_values[0]))],
                    JSON_DECODE_ANY, &err);
                assert_non_null(v);
                json_object_set_new(parent, json_string_value(kj), v);
            }
            json_decref(kj);
        }
        out = json_dumps(root, dump_flags[rnd_below(sizeof(dump_flags) / sizeof(dump_flags[0]))]);
        json_decref(root);
        assert_non_null(out);
        differential(out, strlen(out));
        puts_(&t, out);
        free(out);
        if (rnd_below(3) == 0) {
            static const char *const keys[] = {"kind",      "unit_id",     "XK_WSH",   "CF_WSH",
                                               "subject",   "name",        "CF_NR_FK", "uscc",
                                               "XK_LYDWDM", "reported_at", "penalty"};
            escape_key(&t, keys[rnd_below(sizeof(keys) / sizeof(keys[0]))]);
            differential(t.p, t.len);
        }
        mutate(&t);
        differential(t.p, t.len);
        free(t.p);
    }
}

#define DOC(s)                                                                                     \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

static void test_nul_after_token(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } docs[] = {DOC("1\0"), DOC("true\0"), DOC("{\"a\":null\0}"), DOC("[1.5e3\0,false\0]")};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *root;
        json_error_t err;
        /* jansson accepts (a bug, see drop_skipped_nuls); the tokenizer does
         * not: a NUL byte is not JSON */
        assert_true(jansson_accepts(docs[i].s, docs[i].len, &root, &err));
        json_decref(root);
        expect_error_at(docs[i].s, docs[i].len, NULL, strlen(docs[i].s));
        sgs_record_parse(&rules, docs[i].s, docs[i].len, TS, &rec_new);
        assert_int_equal(rec_new.status, SGS_RECORD_MALFORMED);
    }
}

static void test_differential_structures(void **state)
{
    /* Deep documents and big ones through the record path too. */
    size_t len;
    char *buf;

    (void)state;
    buf = nested("{\"a\":", "1", "}", 2047, &len);
    differential(buf, len);
    free(buf);
    buf = nested("{\"a\":", "1", "}", 2048, &len);
    differential(buf, len);
    free(buf);
    buf = nested("[", "", "]", 10000, &len);
    differential(buf, len);
    free(buf);
    differential("{\"kind\":\"license\",\"kind\":\"license\"}", 35);
    differential("[1, 2]", 6);
    differential("\"s\"", 3);
    differential("42", 2);
    differential("null", 4);
    differential("true", 4);
    differential("   ", 3);
    differential("", 0);
}

/* ------------------------------------------------------------------------ */
/* Plain text (sgs_record_text_plain): both step widths against a reference */

/* The reference, one code point at a time by the definition (RFC 3629):
 * strict UTF-8, no backslash, nothing below U+0020. */
static int plain_reference(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], need, cp, min;
        if (c < 0x80) {
            if (c < 0x20 || c == '\\') {
                return 0;
            }
            i++;
            continue;
        }
        if (c >= 0xC0 && c < 0xE0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c < 0xF0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c < 0xF8) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= need) {
            return 0;
        }
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* Texts of up to 200 bytes made of pieces that are plain or nearly so, at
 * every length: both widths (32 bytes a step, 16) say what the reference
 * says, wherever a piece falls against the blocks. */
static void test_text_plain_widths(void **state)
{
    static const char *const pieces[] = {
        "a", "\"", " ", "{\"k\":", "0123456789", "\x7f", "中", "文字", "é", "€", "\xf0\x9f\x98\x80",
        "\xef\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\xe0\xa0\x80",
        "\xf0\x90\x80\x80", "\xc2\x80", "\xdf\xbf",
        /* not plain */
        "\\", "\n", "\x1f", "\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xed\xa0\x80",
        "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe", "\xe4\xb8",
        "\xe4", "\xf0\x9f\x98", "\xc3", "\xe4\xb8\xad\x80", "\xc3\xa9\xa9"};
    enum { N_PIECES = sizeof(pieces) / sizeof(pieces[0]), N_PLAIN = 19 };
    unsigned seed = 20261207;
    unsigned char text[256];
    int plain_seen = 0, not_seen = 0;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        /* mostly plain pieces: a text with one odd piece, or none */
        seed = seed * 1103515245u + 12345u;
        size_t want = (seed >> 16) % 200;
        int odd = (seed >> 8) % 3 == 0;
        while (n < want) {
            seed = seed * 1103515245u + 12345u;
            unsigned k = (seed >> 16) % (odd && (seed >> 4) % 16 == 0 ? N_PIECES : N_PLAIN);
            size_t len = strlen(pieces[k]);
            if (n + len > sizeof(text)) {
                break;
            }
            memcpy(text + n, pieces[k], len);
            n += len;
        }
        for (size_t cut = n > 40 ? n - 40 : 0; cut <= n; cut++) {
            int ref = plain_reference(text, cut);
            plain_seen += ref;
            not_seen += !ref;
            if (sgs_record_text_plain((const char *)text, cut, 1) != ref ||
                sgs_record_text_plain((const char *)text, cut, 0) != ref) {
                fail_msg("text of %zu bytes (round %d): reference %d, 32-byte steps %d, 16-byte "
                         "steps %d",
                         cut, round, ref, sgs_record_text_plain((const char *)text, cut, 1),
                         sgs_record_text_plain((const char *)text, cut, 0));
            }
        }
    }
    assert_true(plain_seen > 100000 && not_seen > 100000);
    /* a NUL is a control character; so is a byte below the space at a
     * block's last position */
    assert_int_equal(sgs_record_text_plain("ab\0cd", 5, 1), 0);
    memset(text, 'a', 64);
    text[31] = '\t';
    assert_int_equal(sgs_record_text_plain((const char *)text, 64, 1), 0);
    text[31] = 'a';
    assert_int_equal(sgs_record_text_plain((const char *)text, 64, 1), 1);
    /* a block of ASCII after one that leaves a character open at its end, or
     * finishes one there: every open start, at the end of the first and of
     * the second block, before 32 to 64 bytes of ASCII (with a backslash or a
     * control character in them, never plain) */
    static const struct {
        const char *text;
        int whole; /* a whole character, not one left open */
    } ends[] = {{"\xc3", 0},     {"\xe4", 0},         {"\xe4\xb8", 0},
                {"\xf0", 0},     {"\xf0\x9f", 0},     {"\xf0\x9f\x98", 0},
                {"\xc3\xa9", 1}, {"\xe4\xb8\xad", 1}, {"\xf0\x9f\x98\x80", 1}};
    for (size_t k = 0; k < sizeof(ends) / sizeof(ends[0]); k++) {
        for (size_t block_end = 32; block_end <= 64; block_end += 32) {
            for (size_t tail = 32; tail <= 64; tail += 16) {
                for (int odd = 0; odd < 3; odd++) {
                    size_t len = strlen(ends[k].text), n = block_end + tail;
                    int ref;
                    memset(text, 'x', n);
                    memcpy(text + 4, "中文", 6); /* the first block is not ASCII */
                    memcpy(text + block_end - len, ends[k].text, len);
                    if (odd)
                        text[block_end + tail / 2] = odd == 1 ? '\\' : '\x01';
                    ref = plain_reference(text, n);
                    assert_int_equal(ref, ends[k].whole && !odd);
                    if (sgs_record_text_plain((const char *)text, n, 1) != ref ||
                        sgs_record_text_plain((const char *)text, n, 0) != ref)
                        fail_msg("\"%s\" ending the block at %zu, %zu bytes of ASCII after it "
                                 "(%d): reference %d, 32-byte steps %d, 16-byte steps %d",
                                 ends[k].text, block_end, tail, odd, ref,
                                 sgs_record_text_plain((const char *)text, n, 1),
                                 sgs_record_text_plain((const char *)text, n, 0));
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_layout),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_raw_bytes_in_strings),
        cmocka_unit_test(test_one_megabyte_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_values_against_jansson),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_token_capacity),
        cmocka_unit_test(test_differential_generated),
        cmocka_unit_test(test_differential_random_bytes),
        cmocka_unit_test(test_differential_records),
        cmocka_unit_test(test_nul_after_token),
        cmocka_unit_test(test_differential_structures),
        cmocka_unit_test(test_text_plain_widths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests of the consumer's batch building (consumer/batch.c): counter
 * groups, identities and in-batch duplicates, alerts, rejects; the decision of
 * a batch's identities against the identity cache (consumer/decide.c,
 * idcache.c): what the store has, the fields the batch writes, their expiry;
 * and the accounting of an applied batch. Records come from the real parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "batch.h"
#include "decide.h"
#include "idcache.h"
#include "sgs/calendar.h"
#include "sgs/clock.h"
#include "sgs/record.h"
#include "sgs/registry.h"
#include "sgs/store.h"

#include "rules_fixture.h"

static const char units_tsv[] = "unit_id\tname\tgroup\taliases\n"
                                "U1\t市市场监管局\tcity\t\n"
                                "U2\t鲁山县\tcounty\t\n";

struct fixture {
    sgs_registry *reg;
    sgs_calendar *cal;
    sgs_rules rules;
    sgs_batch_env env;
    sgs_batch b;
    sgs_record rec;
    int64_t offset;
    sgs_idcache idc;            /* one partition's identity cache */
    sgs_decide_list used, miss; /* of the last decision */
    sgs_tally tally;            /* what the last decided batch adds */
    sgs_tally_conf tc;          /* late rate: 10 %, at least 2 records, 30 days */
};

static int setup(void **state)
{
    char err[256];
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->reg = sgs_registry_load_buffer("test", units_tsv, strlen(units_tsv), err, sizeof(err));
    assert_non_null(f->reg);
    assert_int_equal(rules_fixture_init(&f->rules, f->reg, &f->cal), 0);
    assert_int_equal(sgs_batch_env_init(&f->env, "sgs.records", f->reg, 64, 24), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sgs_batch_free(&f->b);
    sgs_idcache_free(&f->idc);
    sgs_decide_list_free(&f->used);
    sgs_decide_list_free(&f->miss);
    sgs_tally_free(&f->tally);
    sgs_batch_env_free(&f->env);
    sgs_calendar_destroy(f->cal);
    sgs_registry_destroy(f->reg);
    free(f);
    return 0;
}

/* A licence record of unit with doc_no serial, decided on `decided`, reported
 * on `reported` (local dates). */
static void add_op(struct fixture *f, const char *unit, int serial, const char *decided,
                   const char *reported, const char *op)
{
    char json[1024];
    sgs_batch_msg m;
    snprintf(json, sizeof(json),
             "{\"op\":\"%s\",\"kind\":\"license\",\"unit_id\":\"%s\","
             "\"doc_no\":\"平市监许〔2025〕%d号\","
             "\"decision_date\":\"%s\",\"reported_at\":\"%sT10:00:00+08:00\","
             "\"subject\":{\"name\":\"某公司\",\"type\":\"legal_person\","
             "\"uscc\":\"91310110666007217T\"},\"authority\":{\"name\":\"市监局\"},"
             "\"license\":{\"category\":\"普通\",\"content\":\"x\"}}",
             op, unit, serial, decided, reported);
    m.partition = m.origin_partition = 3;
    m.offset = m.origin_offset = f->offset++;
    m.payload = json;
    m.len = strlen(json);
    m.copy = 0;
    sgs_record_parse(&f->rules, json, strlen(json), -1, &f->rec);
    sgs_batch_add(&f->b, &f->env, &m, &f->rec);
}

static void add(struct fixture *f, const char *unit, int serial, const char *decided,
                const char *reported)
{
    add_op(f, unit, serial, decided, reported, "insert");
}

static void add_raw(struct fixture *f, const char *text)
{
    sgs_batch_msg m = {3, f->offset, text, strlen(text), 0, 3, f->offset};
    f->offset++;
    sgs_record_parse(&f->rules, text, strlen(text), 1764547200000LL, &f->rec);
    sgs_batch_add(&f->b, &f->env, &m, &f->rec);
}

static size_t items_of(const sgs_batch *b, char kind)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_items; i++)
        n += b->items[i].kind == kind;
    return n;
}

static const sgs_batch_item *first_item(const sgs_batch *b, char kind)
{
    for (size_t i = 0; i < b->n_items; i++)
        if (b->items[i].kind == kind)
            return &b->items[i];
    return NULL;
}

static const sgs_batch_group *group_of(const sgs_batch *b, char type, const char *unit_id,
                                       const sgs_registry *reg)
{
    for (size_t i = 0; i < b->n_groups; i++) {
        const sgs_batch_group *g = &b->groups[i];
        if (g->type != type)
            continue;
        if (!unit_id ||
            (g->unit != UINT32_MAX && strcmp(sgs_registry_at(reg, g->unit)->id, unit_id) == 0))
            return g;
    }
    return NULL;
}

static void test_groups_merge_same_counters(void **state)
{
    struct fixture *f = *state;
    add(f, "U1", 1, "2025-12-01", "2025-12-02");
    add(f, "U1", 2, "2025-12-01", "2025-12-02");
    add(f, "U1", 3, "2025-12-01", "2025-12-02");
    add(f, "U2", 1, "2025-12-01", "2025-12-02");
    assert_int_equal(f->b.n_msgs, 4);
    assert_int_equal(f->b.first, 0);
    assert_int_equal(f->b.last, 3);
    assert_int_equal(f->b.n_groups, 2); /* one per unit: same day, flags, lateness */
    const sgs_batch_group *g = group_of(&f->b, SGS_GROUP_RECORD, "U1", f->reg);
    assert_non_null(g);
    assert_int_equal(g->n, 3);
    assert_int_equal(g->n_ids, 3);
    assert_int_equal(g->flags, SGS_GF_LICENSE);
    assert_int_equal(f->b.n_units, 2);
    assert_int_equal(f->b.n_items, 0);
    assert_int_equal(f->b.n_rejects, 0);
    assert_false(f->b.oom);
}

static void test_late_record_gets_group_and_alert(void **state)
{
    struct fixture *f = *state;
    char *alert;
    json_t *j;
    json_error_t e;
    /* decided Mon 2025-12-01: deadline the 7th working day after, Wed 12-10;
     * reported Fri 12-12: 2 working days late */
    add(f, "U1", 7, "2025-12-01", "2025-12-12");
    add(f, "U1", 8, "2025-12-01", "2025-12-02");
    assert_int_equal(f->b.n_groups, 2);
    assert_int_equal(items_of(&f->b, SGS_ITEM_ALERT), 1);
    assert_int_equal(items_of(&f->b, SGS_ITEM_LEDGER), 1); /* the late one's ledger entry */
    assert_int_equal(first_item(&f->b, SGS_ITEM_ALERT)->cond, SGS_ITEM_IF_NEW);
    alert = strndup(f->b.arena.data + first_item(&f->b, SGS_ITEM_ALERT)->off,
                    first_item(&f->b, SGS_ITEM_ALERT)->len);
    j = json_loads(alert, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "late");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "late:sgs.records:3:0");
    assert_string_equal(json_string_value(json_object_get(j, "deadline")), "2025-12-10");
    assert_int_equal(json_integer_value(json_object_get(j, "workdays_late")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "unit_name")), "市市场监管局");
    json_decref(j);
    free(alert);
    for (size_t i = 0; i < f->b.n_groups; i++)
        if (f->b.groups[i].flags & SGS_GF_LATE)
            assert_int_equal(f->b.groups[i].wd, 2);
}

static void test_in_batch_duplicate(void **state)
{
    struct fixture *f = *state;
    add(f, "U1", 5, "2025-12-01", "2025-12-02");
    add(f, "U1", 5, "2025-12-01", "2025-12-03"); /* same identity, another day */
    const sgs_batch_group *d = group_of(&f->b, SGS_GROUP_DUPLICATE, "U1", f->reg);
    assert_non_null(d);
    assert_int_equal(d->n, 1);
    assert_int_equal(d->n_ids, 0); /* not asked of Redis again */
    assert_int_equal(f->b.n_idents, 1);
}

static void test_malformed_and_unknown(void **state)
{
    struct fixture *f = *state;
    const char *payload;
    add_raw(f, "not json");
    add_raw(f, "{\"kind\":\"license\",\"unit_id\":\"NOPE\",\"doc_no\":\"x〔2025〕1号\"}");
    assert_non_null(group_of(&f->b, SGS_GROUP_MALFORMED, NULL, f->reg));
    assert_non_null(group_of(&f->b, SGS_GROUP_UNATTRIBUTED, NULL, f->reg));
    assert_int_equal(f->b.n_rejects, 2);
    assert_int_equal(f->b.n_units, 0);
    /* the rejects are outbox items: 'r', key "" for malformed, the unit as given otherwise */
    payload = f->b.rejects.data;
    assert_true(strncmp(payload, "r0:", 3) == 0);
    assert_non_null(strstr(payload, "\"id\":\"reject:sgs.records:3:0\""));
    assert_non_null(strstr(payload, "r4:"));
    assert_non_null(strstr(payload, "\"code\":\"unknown_unit\""));
}

static void test_reject_payload_cut(void **state)
{
    struct fixture *f = *state;
    char big[300];
    json_t *j;
    json_error_t e;
    const char *start;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sgs_record_parse(&f->rules, big, strlen(big), -1, &f->rec);
    sgs_batch_msg m = {1, 42, big, strlen(big), 0, 1, 42};
    sgs_batch_reject_json(&f->env, &f->rec, &m, NULL, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    start = json_string_value(json_object_get(j, "payload"));
    assert_int_equal(strlen(start), 64); /* reject_max of the fixture */
    assert_true(json_is_true(json_object_get(j, "payload_truncated")));
    assert_int_equal(json_integer_value(json_object_get(j, "payload_bytes")), 299);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "source"), "offset")),
                     42);
    json_decref(j);
}

/* The cap is on the payload as written: escapes and base64 count. */
static void test_reject_payload_cut_as_written(void **state)
{
    struct fixture *f = *state;
    char text[200], bin[200];
    json_t *j;
    json_error_t e;
    const char *p;
    size_t i;
    /* 'a', a tab, then U+4E2D (3 bytes) over and over: 1 + 2 + 3 bytes written */
    for (i = 0; i + 5 <= sizeof(text) - 1; i += 5)
        memcpy(text + i, "a\t\xe4\xb8\xad", 5);
    text[i] = '\0';
    sgs_record_parse(&f->rules, text, strlen(text), -1, &f->rec);
    sgs_batch_msg m = {1, 7, text, strlen(text), 0, 1, 7};
    sgs_batch_reject_json(&f->env, &f->rec, &m, NULL, &f->env.tmp);
    p = strstr(f->env.tmp.data, "\"payload\":\"");
    assert_non_null(p);
    /* 64 bytes written at most: 10 whole groups (60), 'a' and the tab (63);
     * the next character (3) would not fit and is not cut in two */
    assert_int_equal(strchr(p + 11, '"') - (p + 11), 63);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "payload"))), 10 * 5 + 2);
    assert_true(json_is_true(json_object_get(j, "payload_truncated")));
    json_decref(j);
    /* not UTF-8: base64 of 48 bytes is 64 characters */
    memset(bin, 0xff, sizeof(bin));
    sgs_record_parse(&f->rules, bin, sizeof(bin), -1, &f->rec);
    sgs_batch_msg mb = {1, 8, bin, sizeof(bin), 0, 1, 8};
    sgs_batch_reject_json(&f->env, &f->rec, &mb, NULL, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "payload_encoding")), "base64");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "payload"))), 64);
    assert_int_equal(json_integer_value(json_object_get(j, "payload_bytes")), 200);
    json_decref(j);
    /* a short payload is whole, whatever it holds */
    sgs_record_parse(&f->rules, "a\"b", 3, -1, &f->rec);
    sgs_batch_msg ms = {1, 9, "a\"b", 3, 0, 1, 9};
    sgs_batch_reject_json(&f->env, &f->rec, &ms, NULL, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "payload")), "a\"b");
    assert_null(json_object_get(j, "payload_truncated"));
    json_decref(j);
}

/* reasons[i] of a reject or ledger text: code, field, message, message_en. */
static void assert_reason(const json_t *j, size_t i, const char *code, const char *field,
                          const char *message_part, const char *message_en_part)
{
    const json_t *x = json_array_get(json_object_get(j, "reasons"), i);
    assert_non_null(x);
    assert_string_equal(json_string_value(json_object_get(x, "code")), code);
    assert_string_equal(json_string_value(json_object_get(x, "field")), field);
    assert_non_null(strstr(json_string_value(json_object_get(x, "message")), message_part));
    assert_non_null(strstr(json_string_value(json_object_get(x, "message_en")), message_en_part));
}

/* The consumer's own reasons (too_old, unknown_record) go first, in Chinese
 * with the English text in message_en, like the rules' reasons after them. */
static void test_reject_reasons_chinese(void **state)
{
    struct fixture *f = *state;
    static const char revoke[] =
        "{\"op\":\"revoke\",\"kind\":\"license\",\"unit_id\":\"U1\","
        "\"doc_no\":\"平市监许〔2025〕13号\",\"decision_date\":\"2025-11-30\","
        "\"reported_at\":\"2025-12-01T10:00:00+08:00\",\"subject\":{\"name\":\"x\","
        "\"type\":\"legal_person\",\"uscc\":\"91310110666007217U\"},"
        "\"authority\":{\"name\":\"市监局\"},\"license\":{}}";
    sgs_batch_msg m = {3, 7, "{}", 2, 0, 3, 7};
    sgs_reason extra;
    json_error_t e;
    json_t *j;

    /* decided 2022-01-05, in a batch of 2025-12-02: beyond the fixture's 24
     * months, so it may turn out too_old (its key dropped: decide.c) */
    f->b.t0 = 1764633600; /* 2025-12-02 */
    add_op(f, "U1", 12, "2022-01-05", "2025-12-02", "insert");
    assert_int_equal(f->b.n_rejects, 0);
    assert_true(f->b.idents[0].old);
    sgs_batch_extra_reason(&f->env, &f->rec, SGS_REASON_TOO_OLD, &extra);
    sgs_batch_reject_json(&f->env, &f->rec, &m, &extra, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_reason(j, 0, "too_old", "doc_no",
                  "文书号“平市监许〔2025〕12号”的决定日期2022-01-05距今已超过24个月，"
                  "该年度的查重记录已按保存期限清除，无法判断是否重复报送，不予计入",
                  "decided more than 24 months ago and its year's identities were dropped");
    assert_int_equal(json_array_size(json_object_get(j, "reasons")), 1);
    json_decref(j);
    /* the same text is the item that goes when it turns out too_old */
    assert_int_equal(first_item(&f->b, SGS_ITEM_REJECT)->cond, SGS_ITEM_IF_OLD);
    {
        const sgs_batch_item *it = first_item(&f->b, SGS_ITEM_REJECT);
        char *text = strndup(f->b.arena.data + it->off, it->len);
        assert_non_null(strstr(text, "的决定日期2022-01-05距今已超过24个月"));
        free(text);
    }

    /* a revoke of a decision never seen that also fails a rule */
    sgs_record_parse(&f->rules, revoke, strlen(revoke), -1, &f->rec);
    assert_int_equal(f->rec.status, SGS_RECORD_INVALID);
    sgs_batch_extra_reason(&f->env, &f->rec, SGS_REASON_UNKNOWN_RECORD, &extra);
    sgs_batch_reject_json(&f->env, &f->rec, &m, &extra, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_reason(j, 0, "unknown_record", "doc_no",
                  "撤销的决定（文书号“平市监许〔2025〕13号”）从未报送过，无法撤销",
                  "revoke of a decision that was never reported");
    assert_reason(j, 1, "bad_uscc", "subject.uscc",
                  "行政相对人统一社会信用代码“91310110666007217U”的校验码为“U”，应为“T”",
                  "check character is 'U', expected 'T'");
    json_decref(j);

    /* the ledger entry has the same reasons */
    sgs_batch_ledger_json(&f->env, &f->rec, &m, &f->env.tmp);
    j = json_loadb(f->env.tmp.data, f->env.tmp.len, 0, &e);
    assert_non_null(j);
    assert_reason(j, 0, "bad_uscc", "subject.uscc", "的校验码为“U”，应为“T”", "expected 'T'");
    json_decref(j);
}

/* Whether identity e is the licence 平市监许〔2025〕<serial>号 of some unit. */
static int is_serial(const struct fixture *f, const sgs_batch_ident *e, int serial)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "〔2025〕%d号", serial);
    return e->len >= strlen(needle) &&
           memcmp(f->b.arena.data + e->off + e->len - strlen(needle), needle, strlen(needle)) == 0;
}

/* Decides the batch as the writer does: plans, answers every read as Redis
 * would holding nothing but the identities with the serials in `stored` (0
 * ends the list), then applies. Returns the number of identity-store fields
 * read (day buckets and late-rate states not counted). */
static size_t decide(struct fixture *f, const int *stored)
{
    size_t reads;
    if (f->idc.seed == 0)
        f->idc.seed = 12345;
    f->tc = (sgs_tally_conf){"sgs.records", f->reg, 1000, 2, 30, "10.0"};
    assert_int_equal(sgs_decide_plan(&f->idc, &f->tc, &f->b, &f->used, &f->miss), 0);
    reads = 0;
    for (size_t i = 0; i < f->miss.n; i++) {
        char k = f->miss.v[i]->key[0];
        reads += k == SGS_IDC_BITS || k == SGS_IDC_GAPS || k == SGS_IDC_OWN;
        assert_int_equal(sgs_idcache_set(&f->idc, f->miss.v[i], NULL, 0), 0);
    }
    for (size_t i = 0; stored && stored[i]; i++)
        for (size_t k = 0; k < f->b.n_idents; k++) {
            const sgs_batch_ident *e = &f->b.idents[k];
            if (!is_serial(f, e, stored[i]))
                continue;
            if (e->bitmap)
                assert_true(sgs_idcache_setbit(&f->idc, e->ce, e->bit) >= 0);
            else
                assert_int_equal(sgs_idcache_set(&f->idc, e->ce, "1", 1), 0);
        }
    assert_int_equal(sgs_decide_apply(&f->idc, &f->tc, &f->b, &f->tally), 0);
    return reads;
}

static void test_account_subtracts_duplicates(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    const int stored[] = {2, 0}; /* Redis already had the late one */
    add(f, "U1", 1, "2025-12-01", "2025-12-02");
    add(f, "U1", 2, "2025-12-01", "2025-12-12"); /* late */
    add(f, "U2", 3, "2025-12-01", "2025-12-02");
    add(f, "U2", 3, "2025-12-01", "2025-12-02"); /* in-batch duplicate */
    add_raw(f, "[]");
    assert_int_equal(f->b.n_idents, 3);
    decide(f, stored);
    for (size_t i = 0; i < f->b.n_idents; i++)
        assert_int_equal(f->b.idents[i].seen, is_serial(f, &f->b.idents[i], 2));
    /* its late alert and ledger entry do not go out */
    for (size_t i = 0; i < f->b.n_items; i++)
        assert_false(sgs_batch_item_emitted(&f->b, &f->b.items[i]));
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.messages, 5);
    assert_int_equal(n.records, 2);
    assert_int_equal(n.late, 0);
    assert_int_equal(n.duplicates, 2);
    assert_int_equal(n.malformed, 1);
    assert_int_equal(n.rejects, 1);
}

/* The cache entry of kind/suffix/field (NULL when the cache has none). */
static sgs_idc_entry *entry(struct fixture *f, char kind, const char *sfx, const char *field)
{
    int added;
    sgs_idc_entry *e =
        sgs_idcache_get(&f->idc, kind, sfx, strlen(sfx), field, strlen(field), &added);
    assert_non_null(e);
    assert_false(added);
    return e;
}

static void test_decide_writes_fields_and_remembers(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    sgs_idc_entry *bits, *gaps;
    add(f, "U1", 1, "2025-12-01", "2025-12-02");
    add(f, "U1", 9, "2025-12-01", "2025-12-02");
    /* a bitmap field and the gap field of the report month, read once */
    assert_int_equal(decide(f, NULL), 2);
    bits = entry(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|0");
    gaps = entry(f, SGS_IDC_GAPS, "2025-12", "2025|U1|l|平市监许|0");
    /* serials 1 and 9: bits 1 and 9 from the most significant bit of byte 0 */
    assert_int_equal(bits->len, 2);
    assert_int_equal(bits->val[0], 0x40);
    assert_int_equal(bits->val[1], 0x40);
    assert_int_equal(gaps->len, 2);
    assert_memory_equal(gaps->val, bits->val, 2);
    assert_int_equal(bits->dirty, f->idc.mark);
    assert_int_equal(gaps->dirty, f->idc.mark);
    /* the key is kept a horizon (24 months) after the decision: 2027-12-02 */
    assert_int_equal(sgs_decide_expiry(&f->idc, bits), (int64_t)21154 * 86400);
    assert_int_equal(sgs_decide_expiry(&f->idc, gaps), -1);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 2);

    /* the next batch: nothing to read; the same decision again is a duplicate,
     * and a field whose bits are all there is not written */
    sgs_batch_reset(&f->b);
    memset(&n, 0, sizeof(n));
    add(f, "U1", 9, "2025-12-01", "2025-12-05");
    assert_int_equal(decide(f, NULL), 0);
    assert_true(f->b.idents[0].seen);
    assert_true(bits->dirty != f->idc.mark);
    assert_true(gaps->dirty != f->idc.mark);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 0);
    assert_int_equal(n.duplicates, 1);

    /* emptied (a fence, a refusal): read again */
    sgs_idcache_clear(&f->idc);
    sgs_batch_reset(&f->b);
    add(f, "U1", 10, "2025-12-01", "2025-12-05");
    assert_int_equal(decide(f, NULL), 2);
}

/* The cache entry of kind/suffix/field, NULL when the cache has none. */
static sgs_idc_entry *find(struct fixture *f, char kind, const char *sfx, const char *field)
{
    return sgs_idcache_find(&f->idc, kind, sfx, strlen(sfx), field, strlen(field));
}

/* Whether entry e is listed in l. */
static int listed(const sgs_decide_list *l, const sgs_idc_entry *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == e)
            return 1;
    return 0;
}

/* What a read takes along: the chunk after each bitmap and gap chunk, and
 * the days after each day bucket read; the batch that goes on into them then
 * reads nothing. */
static void test_decide_reads_ahead(void **state)
{
    struct fixture *f = *state;
    size_t planned, n_day = 0;
    add(f, "U1", 8190, "2025-12-01", "2025-12-02");
    f->tc = (sgs_tally_conf){"sgs.records", f->reg, 1000, 2, 30, "10.0"};
    f->idc.seed = 12345;
    assert_int_equal(sgs_decide_plan(&f->idc, &f->tc, &f->b, &f->used, &f->miss), 0);
    planned = f->miss.n;
    for (size_t i = 0; i < planned; i++)
        n_day += f->miss.v[i]->key[0] == SGS_IDC_DAY;
    assert_int_equal(n_day, 2 * 30); /* records and late, 2025-11-03 to 2025-12-02 */
    assert_int_equal(sgs_decide_ahead(&f->idc, &f->used, &f->miss), 0);
    /* chunk 1 of the bitmap field and of the gap field; 3 days after for each
     * field (those after 2025-11-03 .. 2025-11-30 were planned already) */
    assert_int_equal(f->miss.n, planned + 2 + 2 * SGS_DECIDE_DAYS_AHEAD);
    assert_true(listed(&f->miss, entry(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|1")));
    assert_true(listed(&f->miss, entry(f, SGS_IDC_GAPS, "2025-12", "2025|U1|l|平市监许|1")));
    assert_true(listed(&f->miss, entry(f, SGS_IDC_DAY, "2025-12-05", "U1|records")));
    assert_true(listed(&f->miss, entry(f, SGS_IDC_DAY, "2025-12-05", "U1|late")));
    assert_null(find(f, SGS_IDC_DAY, "2025-12-06", "U1|late"));
    assert_null(find(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|2"));
    for (size_t i = 0; i < f->miss.n; i++)
        assert_int_equal(sgs_idcache_set(&f->idc, f->miss.v[i], NULL, 0), 0);
    assert_int_equal(sgs_decide_apply(&f->idc, &f->tc, &f->b, &f->tally), 0);

    /* serials 8191 and 8192 (chunk 1), reported three days later: all known */
    sgs_batch_reset(&f->b);
    add(f, "U1", 8191, "2025-12-01", "2025-12-05");
    add(f, "U1", 8192, "2025-12-01", "2025-12-05");
    assert_int_equal(sgs_decide_plan(&f->idc, &f->tc, &f->b, &f->used, &f->miss), 0);
    assert_int_equal(f->miss.n, 0);
    assert_int_equal(sgs_decide_apply(&f->idc, &f->tc, &f->b, &f->tally), 0);
    assert_false(f->b.idents[0].seen);
    assert_false(f->b.idents[1].seen);
    /* an identity without a chunk (its own field) takes nothing along */
    sgs_batch_reset(&f->b);
    add(f, "U1", 0, "2025-12-01", "2025-12-06");
    assert_int_equal(sgs_decide_plan(&f->idc, &f->tc, &f->b, &f->used, &f->miss), 0);
    planned = f->miss.n;
    assert_int_equal(sgs_decide_ahead(&f->idc, &f->used, &f->miss), 0);
    for (size_t i = planned; i < f->miss.n; i++)
        assert_int_equal(f->miss.v[i]->key[0], SGS_IDC_DAY);
}

static void test_decide_revoke_only_looks(void **state)
{
    struct fixture *f = *state;
    sgs_idc_entry *bits;
    add_op(f, "U1", 4, "2025-12-01", "2025-12-02", "revoke");
    decide(f, NULL);
    bits = entry(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|0");
    /* nothing set, nothing written, no expiry given, no gap field read */
    assert_int_equal(bits->len, 0);
    assert_true(bits->dirty != f->idc.mark);
    assert_int_equal(sgs_decide_expiry(&f->idc, bits), -1);
    /* the field and its key's state (P:T:ik) */
    assert_int_equal(f->used.n, 2);
}

/* The value of a cache entry as a string. */
static const char *entry_text(const sgs_idc_entry *e)
{
    static char buf[64];
    snprintf(buf, sizeof(buf), "%.*s", (int)e->len, (const char *)e->val);
    return buf;
}

static int64_t cell(const struct fixture *f, const char *key, const char *field);

/* Retention (docs/REDIS.md): a key whose expiry has come by the batch's clock
 * is dropped by that batch; an old decision that may have been in it is
 * too_old (a re-send, its in-batch duplicate, one never sent before), one
 * decided later is counted and re-creates the key. */
static void test_decide_drops_key_and_too_old(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    sgs_idc_entry *ke, *bits;
    f->b.t0 = 1768003200; /* 2026-01-10 */
    add(f, "U1", 5, "2025-12-01", "2026-01-09");
    assert_false(f->b.idents[0].old);
    decide(f, NULL);
    ke = entry(f, SGS_IDC_KEYS, "", "b2025");
    bits = entry(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|0");
    /* kept a horizon (24 months) after the decision: 2027-12-02, never dropped */
    assert_string_equal(entry_text(ke), "1827705600 0");
    assert_int_equal(ke->dirty, f->idc.mark);
    assert_false(sgs_idcache_drops(&f->idc, ke));
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 1);

    /* 2028-01-01: the key's time has come */
    sgs_batch_reset(&f->b);
    memset(&n, 0, sizeof(n));
    f->b.t0 = 1830297600;
    add(f, "U1", 5, "2025-12-01", "2027-12-31");              /* a re-send */
    add(f, "U1", 5, "2025-12-01", "2027-12-31");              /* and its in-batch duplicate */
    add(f, "U1", 6, "2027-06-01", "2027-12-31");              /* decided later: kept until 2029 */
    add(f, "U1", 7, "2025-11-01", "2027-12-31");              /* never sent, but cannot be told */
    add_op(f, "U1", 7, "2025-11-01", "2027-12-31", "revoke"); /* a revoke of it */
    assert_int_equal(decide(f, NULL), 1);                     /* the gap field of 2027-12 */
    assert_true(sgs_idcache_drops(&f->idc, ke));
    /* dropped at 2027-12-02, re-created by serial 6 until 2029-06-02 */
    assert_string_equal(entry_text(ke), "1875052800 1827705600");
    assert_true(f->b.idents[0].too_old);
    assert_int_equal(f->b.idents[1].dup_of, 0);
    assert_true(f->b.idents[1].too_old);
    assert_false(f->b.idents[2].too_old);
    assert_false(f->b.idents[2].seen);
    assert_true(f->b.idents[3].too_old);
    assert_true(f->b.idents[4].too_old);
    /* only serial 6 in the re-created field: bit 6 */
    assert_int_equal(bits->len, 1);
    assert_int_equal(bits->val[0], 0x02);
    assert_int_equal(bits->dirty, f->idc.mark);
    assert_int_equal(cell(f, ":m:2027-12", "U1|tooold"), 4);
    assert_int_equal(cell(f, ":m:2027-12", "U1|records"), 1);
    assert_int_equal(cell(f, ":m:2027-12", "U1|dup"), -1);
    assert_int_equal(cell(f, ":m:2027-12", "U1|unkrec"), -1);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.too_old, 4);
    assert_int_equal(n.records, 1);
    assert_int_equal(n.duplicates + n.unknown_record + n.revoked, 0);
    assert_int_equal(n.rejects, 4); /* one too_old reject each, nothing else */
}

/* The increment the tally gives key/field, or -1 when it has none. */
static int64_t cell(const struct fixture *f, const char *key, const char *field)
{
    const sgs_tally *t = &f->tally;
    for (size_t i = 0; i < t->n_cells; i++)
        if (t->cells[i].key_len == strlen(key) && t->cells[i].field_len == strlen(field) &&
            memcmp(t->cells[i].key, key, strlen(key)) == 0 &&
            memcmp(t->text.data + t->cells[i].field_off, field, strlen(field)) == 0)
            return t->cells[i].delta;
    return -1;
}

static void test_tally_counters_and_late_rate(void **state)
{
    struct fixture *f = *state;
    const int stored[] = {3, 0};
    add(f, "U1", 1, "2025-12-01", "2025-12-02");
    add(f, "U1", 2, "2025-12-01", "2025-12-12"); /* late (8 workdays) */
    add(f, "U1", 3, "2025-12-01", "2025-12-02"); /* Redis has it */
    add_raw(f, "[]");
    decide(f, stored);
    assert_int_equal(cell(f, ":m:2025-12", "U1|records"), 2);
    assert_int_equal(cell(f, ":m:2025-12", "U1|late"), 1);
    assert_int_equal(cell(f, ":m:2025-12", "U1|lic"), 2);
    assert_int_equal(cell(f, ":m:2025-12", "U1|dup"), 1);
    assert_int_equal(cell(f, ":m:2025-12", "_|malformed"), 1);
    assert_int_equal(cell(f, ":d:2025-12-02", "U1|records"), 1);
    assert_int_equal(cell(f, ":d:2025-12-02", "U1|dup"), 1);
    assert_int_equal(cell(f, ":d:2025-12-12", "U1|records"), 1);
    assert_int_equal(cell(f, ":d:2025-12-12", "U1|late"), 1);
    assert_int_equal(cell(f, ":d:2025-12-12", "U1|invalid"), -1);
    /* a key's fields are adjacent */
    for (size_t i = 2; i < f->tally.n_cells; i++) {
        const sgs_tally_cell *x = &f->tally.cells[i - 2], *y = &f->tally.cells[i];
        if (x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0) {
            const sgs_tally_cell *m = &f->tally.cells[i - 1];
            assert_int_equal(m->key_len, x->key_len);
            assert_memory_equal(m->key, x->key, x->key_len);
        }
    }
    /* 1 late of 2 in the 30 days to 2025-12-12: 50 % >= 10 %, first crossing */
    assert_int_equal(f->tally.n_lr, 1);
    assert_int_equal(f->tally.lr[0].value, 1);
    assert_int_equal(f->tally.n_alerts, 1);
    {
        char *text = strndup(f->tally.text.data + f->tally.alerts[0], f->tally.alerts[1]);
        assert_string_equal(text, "{\"type\":\"late_rate\",\"id\":\"late_rate:sgs.records:U1:1\","
                                  "\"unit_id\":\"U1\",\"unit_name\":\"市市场监管局\","
                                  "\"window_days\":30,\"window_end\":\"2025-12-12\","
                                  "\"records\":2,\"late\":1,\"late_rate\":50.00,"
                                  "\"threshold\":10.0}");
        free(text);
    }
    /* the next batch: on time records bring U1 below 10 % (1 of 11): re-armed */
    sgs_batch_reset(&f->b);
    for (int k = 0; k < 9; k++)
        add(f, "U1", 20 + k, "2025-12-10", "2025-12-12");
    decide(f, NULL);
    assert_int_equal(f->tally.n_alerts, 0);
    assert_int_equal(f->tally.n_lr, 1);
    assert_int_equal(f->tally.lr[0].value, -1);
    /* and a late one again crosses a second time (2 of 12 = 16.7 %) */
    sgs_batch_reset(&f->b);
    add(f, "U1", 40, "2025-12-01", "2025-12-12");
    decide(f, NULL);
    assert_int_equal(f->tally.n_alerts, 1);
    assert_int_equal(f->tally.lr[0].value, 2);
    assert_non_null(
        strstr(f->tally.text.data + f->tally.alerts[0], "\"late_rate:sgs.records:U1:2\""));
}

static void test_reset_keeps_nothing(void **state)
{
    struct fixture *f = *state;
    add(f, "U1", 1, "2025-12-01", "2025-12-12");
    sgs_batch_reset(&f->b);
    assert_int_equal(f->b.n_msgs, 0);
    assert_int_equal(f->b.n_groups, 0);
    assert_int_equal(f->b.n_idents, 0);
    assert_int_equal(f->b.n_items, 0);
    assert_int_equal(f->b.rejects.len, 0);
    /* the same identity in the next batch is not an in-batch duplicate */
    add(f, "U1", 1, "2025-12-01", "2025-12-12");
    assert_null(group_of(&f->b, SGS_GROUP_DUPLICATE, NULL, f->reg));
    assert_int_equal(f->b.n_units, 1);
}

static size_t slots_used(const sgs_batch *b)
{
    size_t n = 0;
    for (size_t j = 0; j < b->cap_ident_slots; j++)
        n += b->ident_slots[j] != 0;
    return n;
}

/* A reset empties the identity table, the whole of it after it grew, slot by
 * slot when the batch used few of its slots; the next batches then find
 * their own duplicates and none of an earlier batch. */
static void test_reset_empties_the_identity_table(void **state)
{
    struct fixture *f = *state;
    for (int k = 0; k < 2100; k++) /* the table grows: 4096 slots, then 8192 */
        add(f, "U2", 100 + k, "2025-12-01", "2025-12-02");
    assert_int_equal(f->b.cap_ident_slots, 8192);
    assert_int_equal(slots_used(&f->b), 2100);
    sgs_batch_reset(&f->b);
    assert_int_equal(slots_used(&f->b), 0);
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 10; k++)
            add(f, "U2", 100 + k + round, "2025-12-01", "2025-12-02");
        add(f, "U2", 100 + round, "2025-12-01", "2025-12-03");    /* in this batch already */
        add_op(f, "U1", 9, "2025-12-01", "2025-12-02", "revoke"); /* a lookup: no slot */
        const sgs_batch_group *d = group_of(&f->b, SGS_GROUP_DUPLICATE, NULL, f->reg);
        assert_non_null(d);
        assert_int_equal(d->n, 1);
        assert_int_equal(f->b.n_idents, 11);
        assert_int_equal(slots_used(&f->b), 10);
        sgs_batch_reset(&f->b); /* 10 of 8192 slots: cleared one by one */
        assert_int_equal(f->b.cap_ident_slots, 8192);
        assert_int_equal(slots_used(&f->b), 0);
    }
}

static void test_ops_within_the_batch(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    add(f, "U1", 1, "2025-12-01", "2025-12-02");
    add_op(f, "U1", 1, "2025-12-01", "2025-12-03", "update");
    add_op(f, "U1", 1, "2025-12-01", "2025-12-04", "revoke");
    assert_non_null(group_of(&f->b, SGS_GROUP_RECORD, "U1", f->reg));
    assert_non_null(group_of(&f->b, SGS_GROUP_UPDATED, "U1", f->reg));
    assert_non_null(group_of(&f->b, SGS_GROUP_REVOKED, "U1", f->reg));
    assert_int_equal(f->b.n_idents, 1);
    decide(f, NULL);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 1);
    assert_int_equal(n.updates, 1);
    assert_int_equal(n.revoked, 1);
    assert_int_equal(n.duplicates, 0);
    assert_int_equal(n.rejects, 0);
}

static void test_update_and_revoke_decided_by_redis(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts seen = {0}, fresh = {0};
    const int both[] = {7, 8, 0};
    add_op(f, "U1", 7, "2025-12-01", "2025-12-12", "update"); /* late if it is a first report */
    add_op(f, "U2", 8, "2025-12-01", "2025-12-02", "revoke");
    assert_non_null(group_of(&f->b, SGS_GROUP_UPDATE, "U1", f->reg));
    assert_non_null(group_of(&f->b, SGS_GROUP_REVOKE, "U2", f->reg));
    /* the update's alert and ledger entry, the revoke's unknown_record reject: if new */
    assert_int_equal(items_of(&f->b, SGS_ITEM_ALERT), 1);
    assert_int_equal(items_of(&f->b, SGS_ITEM_LEDGER), 1);
    assert_int_equal(items_of(&f->b, SGS_ITEM_REJECT), 1);
    {
        const sgs_batch_item *it = first_item(&f->b, SGS_ITEM_REJECT);
        char *text = strndup(f->b.arena.data + it->off, it->len);
        assert_non_null(strstr(text, "\"code\":\"unknown_record\""));
        assert_int_equal(it->cond, SGS_ITEM_IF_NEW);
        free(text);
    }
    /* Redis has neither: a first report, and a revoke of nothing */
    decide(f, NULL);
    sgs_batch_account(&f->b, &fresh);
    assert_int_equal(fresh.records, 1);
    assert_int_equal(fresh.late, 1);
    assert_int_equal(fresh.updates, 0);
    assert_int_equal(fresh.unknown_record, 1);
    assert_int_equal(fresh.rejects, 1);
    /* Redis has both: an update and a revocation, nothing rejected */
    sgs_idcache_clear(&f->idc);
    decide(f, both);
    sgs_batch_account(&f->b, &seen);
    assert_int_equal(seen.records, 0);
    assert_int_equal(seen.late, 0);
    assert_int_equal(seen.updates, 1);
    assert_int_equal(seen.revoked, 1);
    assert_int_equal(seen.unknown_record, 0);
    assert_int_equal(seen.rejects, 0);
}

static void test_revoke_then_insert(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    add_op(f, "U1", 9, "2025-12-01", "2025-12-02", "revoke");
    add(f, "U1", 9, "2025-12-01", "2025-12-03");
    /* the revoke was before the insert: it is asked of Redis, the insert is not a
     * duplicate of it */
    assert_non_null(group_of(&f->b, SGS_GROUP_REVOKE, "U1", f->reg));
    assert_non_null(group_of(&f->b, SGS_GROUP_RECORD, "U1", f->reg));
    assert_null(group_of(&f->b, SGS_GROUP_DUPLICATE, NULL, f->reg));
    assert_int_equal(f->b.n_idents, 2);
    decide(f, NULL);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 1);
    assert_int_equal(n.unknown_record, 1);
}

/* The same after the batch's identity table grew (it is rebuilt from the
 * identities it has: a revoke's lookup is not one of them). */
static void test_revoke_then_insert_after_growth(void **state)
{
    struct fixture *f = *state;
    sgs_batch_counts n = {0};
    add_op(f, "U1", 9, "2025-12-01", "2025-12-02", "revoke");
    for (int k = 0; k < 2100; k++) /* past the first table of 4096 slots, half full */
        add(f, "U2", 100 + k, "2025-12-01", "2025-12-02");
    add(f, "U1", 9, "2025-12-01", "2025-12-03");
    assert_null(group_of(&f->b, SGS_GROUP_DUPLICATE, NULL, f->reg));
    decide(f, NULL);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, 2101);
    assert_int_equal(n.unknown_record, 1);
}

/* The writer's order: the next record's slot prefetched (and its hash kept)
 * while this one is added, whose hash was kept the step before. Duplicates
 * are found across the table's growth (the tagged slots rebuilt), a hint
 * kept for one record is never taken for another, and each record's is
 * taken. */
static void test_prefetch_hint_as_the_writer_adds(void **state)
{
    struct fixture *f = *state;
    enum { N = 4400 }; /* 2,201 identities: past the first table of 4096 slots */
    sgs_record *rec = calloc(2, sizeof(*rec));
    sgs_batch_counts n = {0};
    char json[2][1024];
    assert_non_null(rec);
    for (int k = 0; k <= N; k++) {
        /* record k: serials 0..N/2-1 twice over (the second half duplicates
         * the first), and record N a new one */
        int serial = k < N ? 1000 + k % (N / 2) : 99999;
        snprintf(json[k % 2], sizeof(json[0]),
                 "{\"op\":\"insert\",\"kind\":\"license\",\"unit_id\":\"U2\","
                 "\"doc_no\":\"平市监许〔2025〕%d号\",\"decision_date\":\"2025-12-01\","
                 "\"reported_at\":\"2025-12-02T10:00:00+08:00\",\"subject\":{\"name\":\"某公司\","
                 "\"type\":\"legal_person\",\"uscc\":\"91310110666007217T\"},"
                 "\"authority\":{\"name\":\"市监局\"},\"license\":{\"category\":\"普通\","
                 "\"content\":\"x\"}}",
                 serial);
        sgs_record_parse(&f->rules, json[k % 2], strlen(json[k % 2]), -1, &rec[k % 2]);
        if (k > 0) {
            /* record k is next: prefetched, then record k - 1 added */
            sgs_batch_msg m = {3, f->offset, json[(k - 1) % 2], strlen(json[(k - 1) % 2]),
                               0, 3,         f->offset};
            f->offset++;
            sgs_batch_prefetch(&f->b, &f->env, &rec[k % 2]);
            assert_ptr_equal(f->env.hint_rec[0], &rec[k % 2]);
            sgs_batch_add(&f->b, &f->env, &m, &rec[(k - 1) % 2]);
        }
    }
    {
        /* the last one, with the hint still naming the other record */
        sgs_batch_msg m = {3, f->offset, json[N % 2], strlen(json[N % 2]), 0, 3, f->offset};
        f->offset++;
        sgs_batch_add(&f->b, &f->env, &m, &rec[N % 2]);
    }
    /* every record's hash came from its hint but the first's (no record
     * before it was prefetched): the one before the last ([1]) as the writer
     * adds, the last's own ([0]) at the end */
    assert_int_equal(f->env.hint_hits, N);
    assert_true(f->b.cap_ident_slots > 4096); /* grown: the tagged slots rebuilt */
    assert_int_equal(group_of(&f->b, SGS_GROUP_DUPLICATE, "U2", f->reg)->n, N / 2);
    assert_int_equal(group_of(&f->b, SGS_GROUP_RECORD, "U2", f->reg)->n, N / 2 + 1);
    decide(f, NULL);
    sgs_batch_account(&f->b, &n);
    assert_int_equal(n.records, N / 2 + 1);
    assert_int_equal(n.duplicates, N / 2);
    free(rec);
}

/* Without a horizon (0) identities are kept: their keys get no expiry, and
 * nothing is old. */
static void test_no_horizon_keeps_identities(void **state)
{
    struct fixture *f = *state;
    sgs_idc_entry *bits;
    f->env.horizon_months = 0;
    f->b.t0 = 1830297600; /* 2028-01-01 */
    add(f, "U1", 5, "2020-12-01", "2027-12-31");
    assert_false(f->b.idents[0].old);
    decide(f, NULL);
    bits = entry(f, SGS_IDC_BITS, "2025", "U1|l|平市监许|0");
    assert_int_equal(sgs_decide_expiry(&f->idc, bits), 0);
    assert_string_equal(entry_text(entry(f, SGS_IDC_KEYS, "", "b2025")), "0 0");
}

/* Aging keeps the keys' states (only the partition's batches write them) and
 * drops the rest; a clear drops them too and forgets that they were all. */
static void test_cache_age_keeps_key_states(void **state)
{
    struct fixture *f = *state;
    f->b.t0 = 1768003200; /* 2026-01-10 */
    for (int k = 0; k < 300; k++)
        add(f, "U1", 1 + k, "2025-12-01", "2026-01-09");
    add_op(f, "U1", 1, "2025-12-01", "2026-01-09", "revoke");
    decide(f, NULL);
    f->idc.keys_complete = 1;
    assert_non_null(sgs_idcache_find(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5));
    assert_non_null(sgs_idcache_find(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|l|平市监许|0", 19));
    assert_true(f->idc.n > 1);
    sgs_idcache_age(&f->idc, f->idc.created_ms + SGS_IDCACHE_MAX_AGE_MS + 1);
    assert_int_equal(f->idc.n, 1);
    assert_int_equal(f->idc.keys_complete, 1);
    assert_string_equal(entry_text(sgs_idcache_find(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5)),
                        "1827705600 0");
    assert_null(sgs_idcache_find(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|l|平市监许|0", 19));
    /* young again: not aged at once */
    sgs_idcache_age(&f->idc, f->idc.created_ms + 1);
    assert_int_equal(f->idc.n, 1);
    sgs_idcache_clear(&f->idc);
    assert_int_equal(f->idc.n, 0);
    assert_int_equal(f->idc.keys_complete, 0);
    assert_null(sgs_idcache_find(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5));
}

/* A key's state (P:T:ik) as the consumer reads it. */
static void test_key_state_values(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        int rc;
        int64_t expiry, dropped;
    } cases[] = {
        {"", 0, -1, 0},
        {"-1 0", 0, -1, 0},
        {"0 0", 0, 0, 0},
        {"1827705600 1764633600", 0, 1827705600, 1764633600},
        {"1827705600", -1, -1, 0},
        {"1827705600 ", -1, -1, 0},
        {"-2 0", -1, -1, 0},
        {"1 -1", -1, -1, 0},
        {"1 2 3", -1, -1, 0},
        {"x 0", -1, -1, 0},
        {"1  2", -1, -1, 0},
        {"1234567890123456789 0", -1, -1, 0}, /* beyond 18 digits */
    };
    int added;
    sgs_idc_entry *e;
    f->idc.seed = 7;
    e = sgs_idcache_get(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5, &added);
    assert_non_null(e);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t x, d;
        assert_int_equal(sgs_idcache_set(&f->idc, e, cases[i].text, strlen(cases[i].text)), 0);
        if (sgs_decide_key_state(e, &x, &d) != cases[i].rc)
            fail_msg("'%s': rc", cases[i].text);
        if (cases[i].rc == 0 && (x != cases[i].expiry || d != cases[i].dropped))
            fail_msg("'%s': %lld %lld", cases[i].text, (long long)x, (long long)d);
    }
}

/* The identity cache's lookups: the entry of a key, whatever was asked in
 * between (keys that start alike, the same text as another kind's), never
 * one dropped since. */
static void test_idcache_lookups(void **state)
{
    struct fixture *f = *state;
    int added;
    sgs_idc_entry *a, *b, *k, *x;
    f->idc.seed = 11;
    a = sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|0", 8, &added);
    assert_non_null(a);
    assert_int_equal(added, 1);
    assert_ptr_equal(sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|0", 8, &added), a);
    assert_int_equal(added, 0);
    /* another field, another suffix, another kind with the same text */
    b = sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|1", 8, &added);
    assert_int_equal(added, 1);
    assert_ptr_not_equal(b, a);
    assert_ptr_equal(sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|0", 8, &added), a);
    assert_ptr_equal(sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|1", 8, &added), b);
    x = sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2024", 4, "U1|L|p|1", 8, &added);
    assert_int_equal(added, 1);
    assert_ptr_not_equal(x, b);
    x = sgs_idcache_get(&f->idc, SGS_IDC_OWN, "2025", 4, "U1|L|p|1", 8, &added);
    assert_int_equal(added, 1);
    assert_ptr_not_equal(x, b);
    /* a field that starts as the last one asked: not the same key */
    x = sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|10", 9, &added);
    assert_int_equal(added, 1);
    assert_ptr_equal(sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|1", 8, &added), b);
    /* a suffix that is the start of the field's: not the same key */
    x = sgs_idcache_get(&f->idc, SGS_IDC_BITS, "202", 3, "5U1|L|p|1", 9, &added);
    assert_int_equal(added, 1);
    k = sgs_idcache_get(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5, &added);
    assert_int_equal(added, 1);
    assert_int_equal(sgs_idcache_set(&f->idc, k, "1 0", 3), 0);
    /* dropped (the age bound: the keys' states stay), then asked again:
     * new entries, the key state the same */
    f->idc.created_ms -= SGS_IDCACHE_MAX_AGE_MS + 1;
    sgs_idcache_age(&f->idc, sgs_clock_mono_ms());
    assert_ptr_equal(sgs_idcache_get(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5, &added), k);
    assert_int_equal(added, 0);
    sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|1", 8, &added);
    assert_int_equal(added, 1);
    sgs_idcache_clear(&f->idc);
    sgs_idcache_get(&f->idc, SGS_IDC_BITS, "2025", 4, "U1|L|p|1", 8, &added);
    assert_int_equal(added, 1);
    k = sgs_idcache_get(&f->idc, SGS_IDC_KEYS, "", 0, "b2025", 5, &added);
    assert_int_equal(added, 1);
    assert_int_equal(k->len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups_merge_same_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_record_gets_group_and_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_batch_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_payload_cut_as_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_payload_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_reasons_chinese, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_subtracts_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_writes_fields_and_remembers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_reads_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_revoke_only_looks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decide_drops_key_and_too_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tally_counters_and_late_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_keeps_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_empties_the_identity_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_within_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_revoke_decided_by_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_then_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_then_insert_after_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefetch_hint_as_the_writer_adds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_horizon_keeps_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_age_keeps_key_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_state_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idcache_lookups, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

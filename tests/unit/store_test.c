/* Unit tests of the Redis layout module (key names, fields, identities, the
 * outbox codec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/store.h"

static void test_partition_keys(void **state)
{
    char k[SGS_STORE_KEY_MAX];
    (void)state;
    assert_int_equal(sgs_store_base(k, sizeof(k), "sgs", "sgs.records", 3), 19);
    assert_string_equal(k, "sgs:{sgs.records:3}");
    sgs_store_pkey(k, sizeof(k), "sgs", "sgs.records", 3, SGS_STORE_OFFSET, NULL);
    assert_string_equal(k, "sgs:{sgs.records:3}:offset");
    sgs_store_pkey(k, sizeof(k), "p", "t", 12, SGS_STORE_MONTH, "2025-12");
    assert_string_equal(k, "p:{t:12}:m:2025-12");
    sgs_store_pkey_member(k, sizeof(k), "p", "t:12", SGS_STORE_DAY, "2025-12-01");
    assert_string_equal(k, "p:{t:12}:d:2025-12-01");
    sgs_store_member(k, sizeof(k), "sgs.records", 0);
    assert_string_equal(k, "sgs.records:0");
}

static void test_global_keys(void **state)
{
    char k[SGS_STORE_KEY_MAX];
    (void)state;
    sgs_store_gkey(k, sizeof(k), "sgs", SGS_STORE_CONCEALED, "2025-12");
    assert_string_equal(k, "sgs:concealed:2025-12");
    sgs_store_gkey(k, sizeof(k), "sgs", SGS_STORE_MONTHS, NULL);
    assert_string_equal(k, "sgs:snapshot:months");
    sgs_store_snapshot_key(k, sizeof(k), "sgs", "2025-12", 3);
    assert_string_equal(k, "sgs:snapshot:2025-12:v3");
    sgs_store_snapshot_key(k, sizeof(k), "sgs", "2025-12", -1);
    assert_string_equal(k, "sgs:snapshot:2025-12:latest");
}

static void test_key_too_long(void **state)
{
    char k[16];
    (void)state;
    assert_int_equal(sgs_store_pkey(k, sizeof(k), "sgs", "sgs.records", 3, SGS_STORE_OFFSET, NULL),
                     -1);
    assert_string_equal(k, "");
}

static void test_fields(void **state)
{
    sgs_store_field f;
    (void)state;
    assert_int_equal(sgs_store_field_parse("U1|late", 7, &f), 0);
    assert_int_equal(f.unit_len, 2);
    assert_memory_equal(f.unit, "U1", 2);
    assert_int_equal(f.counter, SGS_STORE_LATE);
    assert_false(f.global);
    assert_int_equal(sgs_store_field_parse("_|unattributed", 14, &f), 0);
    assert_true(f.global);
    assert_int_equal(f.counter, SGS_STORE_UNATTRIBUTED);
    assert_int_equal(sgs_store_field_parse("U1|other", 8, &f), 0);
    assert_int_equal(f.counter, SGS_STORE_UNKNOWN_COUNTER);
    assert_int_equal(sgs_store_field_parse("nobar", 5, &f), -1);
    for (int i = 0; i < SGS_STORE_N_COUNTERS; i++)
        assert_non_null(sgs_store_counter_name((enum sgs_store_counter)i));
    assert_null(sgs_store_counter_name(SGS_STORE_N_COUNTERS));
}

static void test_identity(void **state)
{
    char id[128];
    sgs_store_ident_parts p;
    int n;
    (void)state;
    n = sgs_store_identity(id, sizeof(id), "410423", "penalty", "鲁罚〔2025〕12号");
    assert_string_equal(id, "410423|penalty|鲁罚〔2025〕12号");
    assert_int_equal(n, (int)strlen(id));
    assert_int_equal(sgs_store_identity_parse(id, (size_t)n, &p), 0);
    assert_int_equal(p.unit_len, 6);
    assert_memory_equal(p.kind, "penalty", p.kind_len);
    assert_int_equal(p.doc_no_len, strlen("鲁罚〔2025〕12号"));
    /* a '|' inside the doc_no stays in the doc_no */
    n = sgs_store_identity(id, sizeof(id), "U", "license", "a|b");
    assert_int_equal(sgs_store_identity_parse(id, (size_t)n, &p), 0);
    assert_int_equal(p.doc_no_len, 3);
    assert_int_equal(sgs_store_identity_parse("U|license|", 10, &p), -1);
    assert_int_equal(sgs_store_identity_parse("|license|x", 10, &p), -1);
    assert_int_equal(sgs_store_identity(id, 8, "unit", "license", "x"), -1);
}

/* A dn list: identities one per line; what is not an identity is skipped. */
static void norm(const char *text, sgs_docno *d)
{
    assert_int_equal(sgs_docno_normalize(text, strlen(text), d), 0);
}

static void test_ident_locate(void **state)
{
    sgs_docno d;
    sgs_store_ident_loc loc;
    char id[128];
    (void)state;
    /* the usual shape: a bit of a bitmap field of its document year */
    norm("平市监罚［2023］第045 号", &d);
    sgs_store_identity(id, sizeof(id), "U1", "penalty", d.norm);
    assert_int_equal(sgs_store_ident_locate("U1", "penalty", &d, id, 2024, &loc), 0);
    assert_true(loc.bitmap);
    assert_int_equal(loc.year, 2023);
    assert_string_equal(loc.field, "U1|p|平市监罚|0");
    assert_int_equal(loc.bit, 45);
    /* a serial in the second chunk */
    norm("鲁许〔2025〕8200号", &d);
    sgs_store_identity(id, sizeof(id), "U2", "license", d.norm);
    assert_int_equal(sgs_store_ident_locate("U2", "license", &d, id, 2025, &loc), 0);
    assert_string_equal(loc.field, "U2|l|鲁许|1");
    assert_int_equal(loc.bit, 8200 - 8192);
    /* other shapes are their own field, under the decision year */
    const char *others[] = {"双环许可2019", "平罚〔2025〕12号-13号", "平罚〔2025〕12号补",
                            "x〔2025〕0号"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        norm(others[i], &d);
        sgs_store_identity(id, sizeof(id), "U1", "license", d.norm);
        assert_int_equal(sgs_store_ident_locate("U1", "license", &d, id, 2025, &loc), 0);
        assert_false(loc.bitmap);
        assert_string_equal(loc.field, id);
        assert_int_equal(loc.year, 2025);
    }
    /* a year the parts would not spell as written ("0999" is 999): its own
     * field; so is a number the normal form does not call usual */
    norm("平罚〔0999〕12号", &d);
    sgs_store_identity(id, sizeof(id), "U1", "license", d.norm);
    assert_int_equal(sgs_store_ident_locate("U1", "license", &d, id, 2025, &loc), 0);
    assert_false(loc.bitmap);
    assert_string_equal(loc.field, id);
    norm("平罚〔2025〕12号", &d);
    d.usual = 0;
    sgs_store_identity(id, sizeof(id), "U1", "license", d.norm);
    assert_int_equal(sgs_store_ident_locate("U1", "license", &d, id, 2025, &loc), 0);
    assert_false(loc.bitmap);
    /* a bitmap field fits with its NUL, or the call fails */
    {
        char unit[SGS_STORE_FIELD_MAX];
        size_t rest = strlen("|l|平罚|0"), longest = SGS_STORE_FIELD_MAX - 1 - rest;
        memset(unit, 'u', sizeof(unit));
        norm("平罚〔2025〕12号", &d);
        unit[longest + 1] = '\0';
        assert_int_equal(sgs_store_ident_locate(unit, "license", &d, id, 2025, &loc), -1);
        unit[longest] = '\0';
        assert_int_equal(sgs_store_ident_locate(unit, "license", &d, id, 2025, &loc), 0);
        assert_true(loc.bitmap);
        assert_int_equal(loc.field_len, SGS_STORE_FIELD_MAX - 1);
        assert_int_equal(strlen(loc.field), loc.field_len);
    }
}

static void test_gap_fields(void **state)
{
    sgs_docno d;
    char base[256], field[300];
    sgs_store_gap_field g;
    (void)state;
    norm("豫牧（兽药）罚决字〔2018〕第1号", &d);
    assert_true(sgs_store_gap_base(base, sizeof(base), "U|1", "penalty", &d) < 0 ||
                strcmp(base, "2018|U|1|p|豫牧（兽药）罚决字") == 0);
    assert_true(sgs_store_gap_base(base, sizeof(base), "U1", "penalty", &d) > 0);
    assert_string_equal(base, "2018|U1|p|豫牧（兽药）罚决字");
    snprintf(field, sizeof(field), "%s|%d", base, 3);
    assert_int_equal(sgs_store_gap_field_parse(field, strlen(field), &g), 0);
    assert_int_equal(g.year, 2018);
    assert_int_equal(g.unit_len, 2);
    assert_memory_equal(g.unit, "U1", 2);
    assert_int_equal(g.kind, 'p');
    assert_int_equal(g.prefix_len, strlen("豫牧（兽药）罚决字"));
    assert_int_equal(g.chunk, 3);
    /* a prefix holding '|' stays whole (the chunk follows the last one) */
    assert_int_equal(sgs_store_gap_field_parse("2020|U1|l|a|b|7", 15, &g), 0);
    assert_int_equal(g.prefix_len, 3);
    assert_int_equal(g.chunk, 7);
    assert_int_equal(sgs_store_gap_field_parse("2020|U1|x|a|7", 13, &g), -1);
    assert_int_equal(sgs_store_gap_field_parse("2020|U1|l|a|", 12, &g), -1);
    assert_int_equal(sgs_store_gap_field_parse("U1|l|a|7", 8, &g), -1);
    norm("双环许可2019", &d);
    assert_int_equal(sgs_store_gap_base(base, sizeof(base), "U1", "license", &d), -1);
}

static void test_tail_max(void **state)
{
    char base[SGS_STORE_KEY_MAX], k[SGS_STORE_KEY_MAX];
    char member[SGS_STORE_KEY_MAX];
    int n;
    (void)state;
    assert_int_equal(SGS_STORE_TAIL_MAX, strlen(":d:2025-12-01"));
    /* the longest member whose base fits SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX */
    memset(member, 'm', sizeof(member));
    member[SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX - 1 - strlen("p:{}")] = '\0';
    n = sgs_store_pkey_member(base, SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX, "p", member, "", NULL);
    assert_int_equal(n, SGS_STORE_KEY_MAX - SGS_STORE_TAIL_MAX - 1);
    assert_int_equal(sgs_store_pkey_member(k, sizeof(k), "p", member, SGS_STORE_DAY, "2025-12-01"),
                     SGS_STORE_KEY_MAX - 1);
    assert_true(sgs_store_pkey_member(k, sizeof(k), "p", member, SGS_STORE_OUTBOX, NULL) > 0);
    assert_true(sgs_store_pkey_member(k, sizeof(k), "p", member, SGS_STORE_GAPS, "2025-12") > 0);
}

struct seen {
    char types[8];
    char keys[8][16];
    char values[8][32];
    int n;
};

static void collect(void *arg, char type, const char *key, size_t klen, const char *value,
                    size_t vlen)
{
    struct seen *s = arg;
    s->types[s->n] = type;
    memcpy(s->keys[s->n], key, klen);
    s->keys[s->n][klen] = '\0';
    memcpy(s->values[s->n], value, vlen);
    s->values[s->n][vlen] = '\0';
    s->n++;
}

static void test_outbox_codec(void **state)
{
    sgs_buf b = SGS_BUF_INIT;
    struct seen s;
    (void)state;
    sgs_store_outbox_put(&b, SGS_STORE_OUTBOX_ALERT, "U1", 2, "{\"a\":1}", 7);
    sgs_store_outbox_put(&b, SGS_STORE_OUTBOX_REJECT, "", 0, "x:y", 3);
    assert_string_equal(b.data, "a2:7:U1{\"a\":1}r0:3:x:y");
    memset(&s, 0, sizeof(s));
    assert_int_equal(sgs_store_outbox_each(b.data, b.len, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.types[0], 'a');
    assert_string_equal(s.keys[0], "U1");
    assert_string_equal(s.values[0], "{\"a\":1}");
    assert_int_equal(s.types[1], 'r');
    assert_string_equal(s.keys[1], "");
    assert_string_equal(s.values[1], "x:y");
    /* corrupt: a length past the end, an unknown type, a missing ':' */
    memset(&s, 0, sizeof(s));
    assert_int_equal(sgs_store_outbox_each("a2:9:U1{}", 9, collect, &s), -1);
    assert_int_equal(sgs_store_outbox_each("x0:0:", 5, collect, &s), -1);
    assert_int_equal(sgs_store_outbox_each("a2", 2, collect, &s), -1);
    assert_int_equal(s.n, 0);
    assert_int_equal(sgs_store_outbox_each("", 0, collect, &s), 0);
    sgs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_keys), cmocka_unit_test(test_global_keys),
        cmocka_unit_test(test_key_too_long),   cmocka_unit_test(test_fields),
        cmocka_unit_test(test_identity),       cmocka_unit_test(test_outbox_codec),
        cmocka_unit_test(test_ident_locate),   cmocka_unit_test(test_gap_fields),
        cmocka_unit_test(test_tail_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the sequence gaps (aggregator/gaps.c): gap hashes as Redis
 * returns them (HGETALL of P:T:g:YYYY-MM, nil for a missing month) in, gap
 * objects per unit out. The tests write each month as the identities first
 * counted in it; compute() turns them into the gap fields the consumer writes
 * for them (store.h), as the batch script would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"
#include "sgs/docno.h"
#include "sgs/store.h"

struct gaps {
    sgs_registry *reg;
    sgs_agg_snapshot *s;
    sgs_agg_idmap *map;
};

static int setup(void **state)
{
    struct gaps *g = calloc(1, sizeof(*g));

    g->reg = agg_fixture_registry(agg_fixture_units);
    g->s = sgs_agg_snapshot_new(g->reg, 2025, 12);
    g->map = sgs_agg_idmap_registry(g->reg);
    assert_non_null(g->s);
    assert_non_null(g->map);
    *state = g;
    return 0;
}

static int teardown(void **state)
{
    struct gaps *g = *state;

    sgs_agg_idmap_free(g->map);
    sgs_agg_snapshot_free(g->s);
    sgs_registry_destroy(g->reg);
    free(g);
    return 0;
}

#define MAX_FIELDS 32

/* One month's gap hash from its identities ("unit|kind|doc_no" lines). */
struct month_hash {
    char fields[MAX_FIELDS][320];
    unsigned char bits[MAX_FIELDS][1024];
    size_t len[MAX_FIELDS];
    size_t n;
    redisReply elems[2 * MAX_FIELDS], *ptrs[2 * MAX_FIELDS], reply;
};

static void set_serial(struct month_hash *h, const char *base, uint64_t serial)
{
    char field[300];
    size_t i, byte = (size_t)(serial % SGS_STORE_CHUNK_BITS / 8);
    snprintf(field, sizeof(field), "%s|%llu", base,
             (unsigned long long)(serial / SGS_STORE_CHUNK_BITS));
    for (i = 0; i < h->n && strcmp(h->fields[i], field) != 0; i++)
        ;
    if (i == h->n) {
        assert_true(h->n < MAX_FIELDS);
        snprintf(h->fields[h->n++], sizeof(h->fields[0]), "%s", field);
    }
    h->bits[i][byte] |= (unsigned char)(0x80u >> (serial % 8));
    if (h->len[i] < byte + 1)
        h->len[i] = byte + 1;
}

static void month_hash_build(struct month_hash *h, const char *lines)
{
    const char *p = lines;
    memset(h, 0, sizeof(*h));
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        sgs_store_ident_parts id;
        sgs_docno d;
        char unit[64], kind[16], base[256];
        if (sgs_store_identity_parse(p, n, &id) == 0 && id.unit_len < sizeof(unit) &&
            id.kind_len < sizeof(kind) && sgs_docno_normalize(id.doc_no, id.doc_no_len, &d) == 0) {
            memcpy(unit, id.unit, id.unit_len);
            unit[id.unit_len] = '\0';
            memcpy(kind, id.kind, id.kind_len);
            kind[id.kind_len] = '\0';
            /* the consumer only writes the kinds it knows */
            if ((strcmp(kind, "license") == 0 || strcmp(kind, "penalty") == 0) &&
                sgs_store_gap_base(base, sizeof(base), unit, kind, &d) > 0)
                for (uint64_t v = d.serial_lo; v <= d.serial_hi || v == d.serial_lo; v++)
                    set_serial(h, base, v);
        }
        p += n + (end ? 1 : 0);
    }
    for (size_t i = 0; i < h->n; i++) {
        h->elems[2 * i].type = h->elems[2 * i + 1].type = REDIS_REPLY_STRING;
        h->elems[2 * i].str = h->fields[i];
        h->elems[2 * i].len = strlen(h->fields[i]);
        h->elems[2 * i + 1].str = (char *)h->bits[i];
        h->elems[2 * i + 1].len = h->len[i];
        h->ptrs[2 * i] = &h->elems[2 * i];
        h->ptrs[2 * i + 1] = &h->elems[2 * i + 1];
    }
    h->reply.type = REDIS_REPLY_ARRAY;
    h->reply.elements = 2 * h->n;
    h->reply.element = h->ptrs;
}

/* Runs the gap detection over months (NULL entries stand for nil replies). */
static void compute(struct gaps *g, const char *const *lists, size_t n, int year)
{
    static struct month_hash months[8];
    redisReply nil, *ptrs[8];
    char err[128];

    assert_true(n <= 8);
    memset(&nil, 0, sizeof(nil));
    nil.type = REDIS_REPLY_NIL;
    for (size_t i = 0; i < n; i++) {
        if (lists[i]) {
            month_hash_build(&months[i], lists[i]);
            ptrs[i] = &months[i].reply;
        } else {
            ptrs[i] = &nil;
        }
    }
    assert_int_equal(sgs_agg_gaps_compute(g->s->rows, g->s->n_rows, g->map, g->reg, ptrs, n, year,
                                          NULL, NULL, 0, err, sizeof(err)),
                     0);
}

/* The gaps of a unit as compact JSON ("[]" without any). */
static void expect_gaps(struct gaps *g, const char *id, const char *want)
{
    const sgs_agg_row *r = agg_fixture_row(g->s, id);
    char *text;

    if (!r->gaps) {
        assert_string_equal("[]", want);
        return;
    }
    text = json_dumps(r->gaps, JSON_COMPACT);
    assert_string_equal(text, want);
    free(text);
}

static void test_missing_numbers(void **state)
{
    struct gaps *g = *state;
    static const char *const lists[] = {
        "C1|penalty|平市监罚〔2025〕1号\n"
        "C1|penalty|平市监罚〔2025〕4号\n"
        "C1|license|平市审批〔2025〕10号\n"
        "C1|penalty|平市监罚〔2025〕7号\n"
        "C1|license|平市审批〔2025〕12号\n",
    };

    compute(g, lists, 1, 2025);
    /* licences first, then penalties; within a kind, by prefix */
    expect_gaps(g, "C1",
                "[{\"kind\":\"license\",\"prefix\":\"平市审批\",\"year\":2025,"
                "\"missing\":[\"11\"],\"missing_count\":1},"
                "{\"kind\":\"penalty\",\"prefix\":\"平市监罚\",\"year\":2025,"
                "\"missing\":[\"2\",\"3\",\"5\",\"6\"],\"missing_count\":4}]");
    assert_int_equal(agg_fixture_row(g->s, "C1")->gaps_missing, 5);
    expect_gaps(g, "C2", "[]");
    assert_int_equal(agg_fixture_row(g->s, "C2")->gaps_missing, 0);
}

/* Several months and partitions make one sequence; ranges cover their numbers;
 * nil replies (no such month) are skipped; a repeat costs nothing. */
static void test_months_partitions_ranges(void **state)
{
    struct gaps *g = *state;
    static const char *const lists[] = {
        "C2|penalty|平市交罚〔2025〕1-3号\n", NULL,
        "C2|penalty|平市交罚〔2025〕9号\nC2|penalty|平市交罚〔2025〕2号\n",
        "C2|penalty|平市交罚〔2025〕6号", /* no final newline */
    };

    compute(g, lists, 4, 2025);
    expect_gaps(g, "C2",
                "[{\"kind\":\"penalty\",\"prefix\":\"平市交罚\",\"year\":2025,"
                "\"missing\":[\"4\",\"5\",\"7\",\"8\"],\"missing_count\":4}]");
}

/* Only the snapshot's year counts; aliases find their unit; what is not an
 * identity of a known unit and kind, or has no serial, is skipped. */
static void test_what_counts(void **state)
{
    struct gaps *g = *state;
    static const char *const lists[] = {
        "K1X|license|甲县许〔2025〕1号\n" /* the alias of K1 */
        "K1|license|甲县许〔2025〕3号\n"
        "K1|license|甲县许〔2024〕2号\n" /* another year */
        "K9|license|甲县许〔2025〕2号\n" /* unknown unit */
        "K1|other|甲县许〔2025〕2号\n"   /* unknown kind: the consumer never writes one */
        "K1|license\n"                   /* not an identity */
        "\n"
        "K1|license|甲县许可2019\n"       /* no serial */
        "K1|penalty|甲县罚〔2025〕5号\n", /* a single number: no gap */
    };

    compute(g, lists, 1, 2025);
    expect_gaps(g, "K1",
                "[{\"kind\":\"license\",\"prefix\":\"甲县许\",\"year\":2025,"
                "\"missing\":[\"2\"],\"missing_count\":1}]");
}

/* Appends "unit|kind|prefix〔2025〕N号" lines for N = from, from + step, ... <= to. */
static void add_serials(char *buf, size_t size, const char *unit, const char *kind,
                        const char *prefix, unsigned from, unsigned to, unsigned step)
{
    size_t n = strlen(buf);

    for (unsigned v = from; v <= to; v += step) {
        int k = snprintf(buf + n, size - n, "%s|%s|%s〔2025〕%u号\n", unit, kind, prefix, v);

        assert_true(k > 0 && (size_t)k < size - n);
        n += (size_t)k;
    }
}

/* Checks a gap entry's missing list: n numbers, the last one last. */
static void expect_missing(const json_t *gap, size_t n, const char *last)
{
    const json_t *missing = json_object_get(gap, "missing");

    assert_int_equal(json_array_size(missing), n);
    if (n)
        assert_string_equal(json_string_value(json_array_get(missing, n - 1)), last);
}

/* Every missing number is listed, except a block of more than 1,000 in a row
 * (a typo, a restarted numbering); every entry counts all of its missing
 * numbers, so a stray large serial costs nothing. */
static void test_listing_bound(void **state)
{
    struct gaps *g = *state;
    static const char *const lists[] = {
        "C3|license|A许〔2025〕1号\n"
        "C3|license|A许〔2025〕100号\n"
        "C3|license|B许〔2025〕1号\n"
        "C3|license|B许〔2025〕4号\n"
        "C3|penalty|A罚〔2025〕1号\n"
        "C3|penalty|A罚〔2025〕3号\n"
        "C3|penalty|A罚〔2025〕99999999号\n",
    };
    const json_t *gaps, *first;

    compute(g, lists, 1, 2025);
    gaps = agg_fixture_row(g->s, "C3")->gaps;
    assert_int_equal(json_array_size(gaps), 3);
    first = json_array_get(gaps, 0);
    assert_string_equal(json_string_value(json_object_get(first, "prefix")), "A许");
    assert_int_equal(json_integer_value(json_object_get(first, "missing_count")), 98);
    assert_int_equal(json_array_size(json_object_get(first, "missing")), 98);
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "missing"), 97)),
                        "99");
    assert_int_equal(json_array_size(json_object_get(json_array_get(gaps, 1), "missing")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gaps, 1), "missing_count")),
                     2);
    /* 2 listed; 4..99999998 counted only */
    expect_missing(json_array_get(gaps, 2), 1, "2");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gaps, 2), "missing_count")),
                     1 + 99999995);
    assert_int_equal(agg_fixture_row(g->s, "C3")->gaps_missing, 98 + 2 + 1 + 99999995);
}

/* A unit with 300 suspected gaps lists all 300 (REFERENCE §8: "missing" is the
 * list; the ledger has a row for each); a block of 1,000 missing numbers in a
 * row is listed, one of 1,001 is not. */
static void test_every_gap_listed(void **state)
{
    struct gaps *g = *state;
    static char text[64 * 1024];
    const char *lists[1] = {text};
    const json_t *gaps, *e;
    char want[16];

    text[0] = '\0';
    add_serials(text, sizeof(text), "C1", "penalty", "平市监罚", 1, 601, 2); /* 2, 4, ..., 600 */
    add_serials(text, sizeof(text), "C2", "license", "甲许", 1, 1, 1);
    add_serials(text, sizeof(text), "C2", "license", "甲许", 1002, 1002, 1); /* 2..1001 */
    add_serials(text, sizeof(text), "C2", "license", "乙许", 5, 5, 1);
    add_serials(text, sizeof(text), "C2", "license", "乙许", 1007, 1007, 1); /* 6..1006 */
    compute(g, lists, 1, 2025);

    gaps = agg_fixture_row(g->s, "C1")->gaps;
    assert_int_equal(json_array_size(gaps), 1);
    e = json_array_get(gaps, 0);
    assert_int_equal(json_integer_value(json_object_get(e, "missing_count")), 300);
    expect_missing(e, 300, "600");
    for (size_t i = 0; i < 300; i++) {
        snprintf(want, sizeof(want), "%zu", 2 * i + 2);
        assert_string_equal(json_string_value(json_array_get(json_object_get(e, "missing"), i)),
                            want);
    }
    assert_int_equal(agg_fixture_row(g->s, "C1")->gaps_missing, 300);

    gaps = agg_fixture_row(g->s, "C2")->gaps;
    assert_int_equal(json_array_size(gaps), 2);
    /* by prefix in byte order: 乙 (E4 B9 99) before 甲 (E7 94 B2) */
    e = json_array_get(gaps, 0);
    assert_string_equal(json_string_value(json_object_get(e, "prefix")), "乙许");
    assert_int_equal(json_integer_value(json_object_get(e, "missing_count")), 1001);
    expect_missing(e, 0, NULL);
    e = json_array_get(gaps, 1);
    assert_int_equal(json_integer_value(json_object_get(e, "missing_count")), 1000);
    expect_missing(e, 1000, "1001");
}

/* The hard bound: at most 5,000 numbers listed per unit, over all its entries
 * in their order; the counts stay whole. */
static void test_unit_bound(void **state)
{
    struct gaps *g = *state;
    static char text[512 * 1024];
    const char *lists[1] = {text};
    const json_t *gaps;

    text[0] = '\0';
    add_serials(text, sizeof(text), "C3", "license", "A许", 1, 8001, 2); /* 4,000 missing */
    add_serials(text, sizeof(text), "C3", "penalty", "A罚", 1, 4001, 2); /* 2,000 missing */
    add_serials(text, sizeof(text), "C3", "penalty", "B罚", 1, 201, 2);  /* 100 missing */
    compute(g, lists, 1, 2025);
    gaps = agg_fixture_row(g->s, "C3")->gaps;
    assert_int_equal(json_array_size(gaps), 3);
    expect_missing(json_array_get(gaps, 0), 4000, "8000");
    expect_missing(json_array_get(gaps, 1), 1000, "2000");
    expect_missing(json_array_get(gaps, 2), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gaps, 1), "missing_count")),
                     2000);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(gaps, 2), "missing_count")),
                     100);
    assert_int_equal(agg_fixture_row(g->s, "C3")->gaps_missing, 6100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_months_partitions_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_gap_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_bound, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of reading ahead (consumer/ahead.c): however many messages are
 * in hand, every one comes back once, in the order put, with the record a
 * parse of it alone gives (the records' slots are reused from hand to hand:
 * none keeps anything of the one before), and events come back unparsed.
 * The messages are rd_kafka_message_t values made here: only their payload,
 * length and error are read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ahead.h"
#include "sgs/calendar.h"
#include "sgs/registry.h"

#include "rules_fixture.h"

static const char units_tsv[] = "unit_id\tname\tgroup\taliases\n"
                                "11410400MB0000001P\t市市场监管局\tcity\t\n"
                                "410423\t鲁山县\tcounty\t\n";

#define N_MSGS 6000

static sgs_registry *reg;
static sgs_calendar *cal;
static sgs_rules rules;
static rd_kafka_message_t msgs[N_MSGS];
static char *texts[N_MSGS];

/* Text i: valid records, late ones, invalid ones, unknown units, malformed
 * JSON and (every 97th) an event, in a fixed pseudo-random mix. */
static void make_messages(void)
{
    uint32_t x = 12345;
    for (int i = 0; i < N_MSGS; i++) {
        char t[1024];
        x = x * 1103515245u + 12345u;
        int kind = (int)((x >> 16) % 6);
        memset(&msgs[i], 0, sizeof(msgs[i]));
        msgs[i].partition = i % 8;
        msgs[i].offset = i;
        if (i % 97 == 96) {
            msgs[i].err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
            texts[i] = NULL;
            continue;
        }
        switch (kind) {
        case 5:
            snprintf(t, sizeof(t), "{\"kind\": \"license\", \"doc_no\": \"平市");
            break;
        default:
            snprintf(t, sizeof(t),
                     "{\"kind\": \"%s\", \"unit_id\": \"%s\", \"doc_no\": \"鲁市监%s〔2023〕%d号\","
                     " \"decision_date\": \"2023-12-%02d\", \"reported_at\": "
                     "\"2023-12-%02dT10:31:00+08:00\", \"subject\": {\"name\": \"某某公司\", "
                     "\"type\": \"legal_person\", \"uscc\": \"%s\"}, \"authority\": "
                     "{\"name\": \"鲁山县市场监督管理局\"}, \"license\": {\"category\": \"普通\"}, "
                     "\"penalty\": {\"fine_amount\": %s}}",
                     kind == 1 ? "penalty" : "license", kind == 2 ? "999999" : "410423",
                     kind == 1 ? "罚" : "许", i, 1 + i % 20, 1 + (i + kind * 5) % 28,
                     kind == 3 ? "91310110666007217X" : "91310110666007217T",
                     kind == 4 ? "-1" : "0.5");
        }
        texts[i] = strdup(t);
        assert_non_null(texts[i]);
        msgs[i].payload = texts[i];
        msgs[i].len = strlen(texts[i]);
    }
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    reg =
        sgs_registry_load_buffer("ahead-units.tsv", units_tsv, strlen(units_tsv), err, sizeof(err));
    if (rules_fixture_init(&rules, reg, &cal) != 0)
        return -1;
    make_messages();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_MSGS; i++)
        free(texts[i]);
    sgs_registry_destroy(reg);
    sgs_calendar_destroy(cal);
    return 0;
}

/* The messages in hand: each the next expected, its record as parsed alone. */
static void take_all(sgs_ahead *a, int *next, sgs_record *want)
{
    rd_kafka_message_t *m;
    const sgs_record *rec;
    uint32_t gen;
    int i, n = sgs_ahead_count(a);
    assert_int_equal(sgs_ahead_take(a, 0, &m, &gen, &rec), 0); /* none before the parse */
    sgs_ahead_parse(a);
    for (i = 0; sgs_ahead_take(a, i, &m, &gen, &rec); i++) {
        int k = *next;
        assert_ptr_equal(m, &msgs[k]);
        assert_int_equal(gen, (uint32_t)k * 7u);
        (*next)++;
        if (m->err)
            continue; /* events are not parsed */
        sgs_record_parse(&rules, texts[k], strlen(texts[k]), 1700000000000LL + k, want);
        assert_int_equal(rec->status, want->status);
        assert_string_equal(rec->identity, want->identity);
        assert_string_equal(rec->reported_at_text, want->reported_at_text);
        assert_int_equal(rec->late, want->late);
        assert_int_equal(rec->deadline, want->deadline);
        assert_int_equal(rec->n_reasons, want->n_reasons);
        for (int r = 0; r < want->n_reasons; r++) {
            assert_string_equal(rec->reasons[r].code, want->reasons[r].code);
            assert_string_equal(rec->reasons[r].message, want->reasons[r].message);
        }
    }
    assert_int_equal(i, n);
    sgs_ahead_clear(a);
    assert_int_equal(sgs_ahead_count(a), 0);
    assert_int_equal(sgs_ahead_room(a), SGS_AHEAD_MAX);
}

/* Every message, in hands of 1..SGS_AHEAD_MAX (a poll loop's). */
static void test_every_message_in_order(void **state)
{
    (void)state;
    sgs_ahead *a = sgs_ahead_new(&rules);
    sgs_record *want = malloc(sizeof(*want));
    uint32_t seed = 7;
    int put = 0, next = 0;
    assert_non_null(a);
    assert_non_null(want);
    while (put < N_MSGS) {
        seed = seed * 1103515245u + 12345u;
        int len = 1 + (int)((seed >> 16) % (put % 3 ? SGS_AHEAD_MAX : 4));
        for (int i = 0; i < len && put < N_MSGS && sgs_ahead_room(a) > 0; i++, put++)
            sgs_ahead_put(a, &msgs[put], 1700000000000LL + put, (uint32_t)put * 7u);
        assert_int_equal(sgs_ahead_count(a), put - next);
        take_all(a, &next, want);
    }
    assert_int_equal(next, N_MSGS);
    sgs_ahead_free(a);
    free(want);
}

/* A full hand: room 0 after SGS_AHEAD_MAX. */
static void test_full_hand(void **state)
{
    (void)state;
    sgs_ahead *a = sgs_ahead_new(&rules);
    sgs_record *want = malloc(sizeof(*want));
    int next = 0;
    assert_non_null(a);
    for (int i = 0; i < SGS_AHEAD_MAX; i++) {
        assert_int_equal(sgs_ahead_room(a), SGS_AHEAD_MAX - i);
        sgs_ahead_put(a, &msgs[i], 1700000000000LL + i, (uint32_t)i * 7u);
    }
    assert_int_equal(sgs_ahead_room(a), 0);
    take_all(a, &next, want);
    assert_int_equal(next, SGS_AHEAD_MAX);
    sgs_ahead_free(a);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_in_order),
        cmocka_unit_test(test_full_hand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

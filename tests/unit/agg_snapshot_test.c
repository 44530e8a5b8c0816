/* Unit tests of the snapshot model (aggregator/snapshot.c) without Redis:
 * groups and their order, display order, sums (合计) and totals, flags, and
 * the JSON document's figures, period and offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg_fixture.h"

struct model {
    sgs_registry *reg;
    sgs_config *cfg;
    sgs_agg_snapshot *s;
};

static int setup(void **state)
{
    struct model *m = calloc(1, sizeof(*m));

    m->reg = agg_fixture_registry(agg_fixture_units);
    m->cfg = agg_fixture_config(NULL);
    m->s = sgs_agg_snapshot_new(m->reg, 2025, 12);
    assert_non_null(m->s);
    agg_fixture_december(m->s);
    assert_int_equal(sgs_agg_snapshot_finish(m->s, m->reg, m->cfg, AGG_FIXTURE_NOW, AGG_FIXTURE_TZ),
                     0);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    struct model *m = *state;

    sgs_agg_snapshot_free(m->s);
    sgs_config_destroy(m->cfg);
    sgs_registry_destroy(m->reg);
    free(m);
    return 0;
}

static void test_new_rows(void **state)
{
    struct model *m = *state;
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(m->reg, 2024, 2);

    assert_non_null(s);
    assert_string_equal(s->month, "2024-02");
    assert_int_equal(s->year, 2024);
    assert_int_equal(s->mon, 2);
    assert_int_equal(s->n_rows, 4);
    for (size_t i = 0; i < s->n_rows; i++) {
        assert_ptr_equal(s->rows[i].unit, sgs_registry_at(m->reg, i));
        assert_int_equal(s->rows[i].c.records, 0);
    }
    assert_null(s->json);
    sgs_agg_snapshot_free(s);
}

static void test_groups_order_and_rows(void **state)
{
    struct model *m = *state;
    const sgs_agg_snapshot *s = m->s;
    const sgs_agg_group *county = &s->groups[0], *city = &s->groups[1];

    /* "groups = county,city" */
    assert_int_equal(s->n_groups, 2);
    assert_string_equal(county->id, "county");
    assert_string_equal(county->name, "县（市、区）");
    assert_string_equal(city->id, "city");
    assert_string_equal(city->name, "市直单位");
    /* records descending: C2 30, C1 10, C3 0 */
    assert_int_equal(city->n_rows, 3);
    assert_string_equal(s->rows[city->rows[0]].unit->id, "C2");
    assert_string_equal(s->rows[city->rows[1]].unit->id, "C1");
    assert_string_equal(s->rows[city->rows[2]].unit->id, "C3");
    assert_int_equal(county->n_rows, 1);
}

/* 合计: every group's sum is the sum of its rows, the totals the sum of the
 * groups, counter by counter. */
static void test_sums(void **state)
{
    struct model *m = *state;
    const sgs_agg_snapshot *s = m->s;
    sgs_agg_counts total;

    memset(&total, 0, sizeof(total));
    for (size_t gi = 0; gi < s->n_groups; gi++) {
        const sgs_agg_group *g = &s->groups[gi];
        sgs_agg_counts sum;

        memset(&sum, 0, sizeof(sum));
        for (size_t i = 0; i < g->n_rows; i++)
            sgs_agg_counts_add(&sum, &s->rows[g->rows[i]].c);
        assert_memory_equal(&sum, &g->sum, sizeof(sum));
        sgs_agg_counts_add(&total, &g->sum);
    }
    assert_memory_equal(&total, &s->totals, sizeof(total));
    assert_int_equal(s->groups[1].sum.records, 40);
    assert_int_equal(s->groups[1].sum.late, 4);
    assert_int_equal(s->totals.records, 45);
    assert_int_equal(s->totals.late, 9);
    assert_int_equal(s->totals.invalid, 2);
    assert_int_equal(s->totals.concealed, 2);
    assert_int_equal(s->totals.lic, 21);
}

static void test_flags(void **state)
{
    struct model *m = *state;
    sgs_agg_snapshot *s = m->s;

    assert_int_equal(s->low_volume, 20);
    assert_int_equal(agg_fixture_row(s, "C2")->flags,
                     SGS_AGG_FLAG_HIGH_VOLUME | SGS_AGG_FLAG_IMPROVED | SGS_AGG_FLAG_HAS_LATE);
    assert_int_equal(agg_fixture_row(s, "C1")->flags,
                     SGS_AGG_FLAG_LOW_VOLUME | SGS_AGG_FLAG_HAS_LATE);
    assert_int_equal(agg_fixture_row(s, "C3")->flags, SGS_AGG_FLAG_LOW_VOLUME);
    /* the only county unit is its group's top; 5 after 5 is no improvement */
    assert_int_equal(agg_fixture_row(s, "K1")->flags,
                     SGS_AGG_FLAG_HIGH_VOLUME | SGS_AGG_FLAG_LOW_VOLUME | SGS_AGG_FLAG_HAS_LATE);
}

/* improved: +20 % and +10 records, both needed. */
static void test_improved_threshold(void **state)
{
    static const int64_t cases[][3] = {
        /* prev, now, improved */
        {50, 60, 1}, {50, 59, 0}, {0, 10, 1}, {0, 9, 0}, {100, 119, 0}, {100, 120, 1},
    };
    struct model *m = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sgs_agg_snapshot *s = sgs_agg_snapshot_new(m->reg, 2025, 12);
        sgs_agg_row *r = agg_fixture_row(s, "C1");

        r->has_prev = 1;
        r->prev_records = cases[i][0];
        r->c.records = cases[i][1];
        assert_int_equal(sgs_agg_snapshot_finish(s, m->reg, m->cfg, AGG_FIXTURE_NOW, 0), 0);
        if (((r->flags & SGS_AGG_FLAG_IMPROVED) != 0) != cases[i][2])
            fail_msg("prev %lld now %lld: improved should be %lld", (long long)cases[i][0],
                     (long long)cases[i][1], (long long)cases[i][2]);
        sgs_agg_snapshot_free(s);
    }
}

static json_t *unit_json(const json_t *doc, const char *id)
{
    size_t i;
    json_t *u;

    json_array_foreach(json_object_get(doc, "units"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "unit_id")), id) == 0)
            return u;
    }
    fail_msg("no unit %s in the JSON", id);
    return NULL;
}

static double real_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    assert_true(json_is_real(v));
    return json_real_value(v);
}

static void test_json(void **state)
{
    struct model *m = *state;
    const json_t *doc = m->s->json, *period = json_object_get(doc, "period");
    const json_t *totals = json_object_get(doc, "totals"), *groups = json_object_get(doc, "groups");
    const json_t *city = json_array_get(groups, 1);

    assert_string_equal(json_string_value(json_object_get(doc, "month")), "2025-12");
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "generated_at")),
                        "2026-01-05T09:00:00+08:00");
    assert_string_equal(json_string_value(json_object_get(period, "from")),
                        "2025-12-01T00:00:00+08:00");
    assert_string_equal(json_string_value(json_object_get(period, "to")),
                        "2025-12-31T23:59:59+08:00");
    /* totals: 9 of 45 late = 20 %, 43 of 45 valid = 95.56 % */
    assert_int_equal(json_integer_value(json_object_get(totals, "records")), 45);
    assert_int_equal(json_integer_value(json_object_get(totals, "unattributed")), 4);
    assert_true(real_of(totals, "late_rate") == 20.0);
    assert_true(real_of(totals, "quality_rate") == 95.56);
    /* the city's 合计: 4 of 40 late = 10 %, not the mean of its rows' rates */
    assert_string_equal(json_string_value(json_object_get(city, "group")), "city");
    assert_int_equal(json_integer_value(json_object_get(city, "units")), 3);
    assert_true(real_of(city, "late_rate") == 10.0);
    /* a unit without records has null rates */
    assert_true(json_is_null(json_object_get(unit_json(doc, "C3"), "late_rate")));
    assert_true(json_is_null(json_object_get(unit_json(doc, "C3"), "quality_rate")));
    assert_true(real_of(unit_json(doc, "K1"), "late_rate") == 100.0);
    assert_int_equal(json_integer_value(json_object_get(unit_json(doc, "C2"), "prev_records")), 20);
    assert_true(json_is_null(json_object_get(unit_json(doc, "C1"), "prev_records")));
    /* units in display order: the county, then C2, C1, C3 */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(doc, "units"), 1), "unit_id")),
                        "C2");
}

/* The period follows the configured offset, also west of UTC. */
static void test_period_offset(void **state)
{
    struct model *m = *state;
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(m->reg, 2024, 2);
    const json_t *period;

    assert_int_equal(sgs_agg_snapshot_finish(s, m->reg, m->cfg, AGG_FIXTURE_NOW, -5 * 3600), 0);
    period = json_object_get(s->json, "period");
    assert_string_equal(json_string_value(json_object_get(period, "from")),
                        "2024-02-01T00:00:00-05:00");
    assert_string_equal(json_string_value(json_object_get(period, "to")),
                        "2024-02-29T23:59:59-05:00");
    sgs_agg_snapshot_free(s);
}

/* "offsets": the read's stored offsets (REFERENCE §11), after "period"; an empty
 * object when none were read. */
static void test_offsets(void **state)
{
    struct model *m = *state;
    sgs_agg_snapshot *s = sgs_agg_snapshot_new(m->reg, 2024, 2);
    const json_t *o = json_object_get(m->s->json, "offsets");
    const char *key;
    void *iter;
    size_t i = 0;

    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 0);
    s->offsets =
        json_pack("{s:I, s:I}", "sgs.records:0", (json_int_t)1200, "sgs.records:1", (json_int_t)0);
    assert_non_null(s->offsets);
    assert_int_equal(sgs_agg_snapshot_finish(s, m->reg, m->cfg, AGG_FIXTURE_NOW, 0), 0);
    o = json_object_get(s->json, "offsets");
    assert_int_equal(json_integer_value(json_object_get(o, "sgs.records:0")), 1200);
    assert_int_equal(json_integer_value(json_object_get(o, "sgs.records:1")), 0);
    /* a copy: the document's offsets may be replaced by a stored version's */
    assert_ptr_not_equal(o, s->offsets);
    for (iter = json_object_iter(s->json); iter; iter = json_object_iter_next(s->json, iter), i++) {
        key = json_object_iter_key(iter);
        if (strcmp(key, "offsets") == 0)
            break;
    }
    assert_int_equal(i, 4); /* month, version, generated_at, period, offsets */
    sgs_agg_snapshot_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_order_and_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sums, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_improved_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_period_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

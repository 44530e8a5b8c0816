/* Shared fixture of the aggregator's unit tests (tests/unit/agg_*_test.c): a
 * small registry, a configuration and a snapshot model built without Redis.
 * Include after <cmocka.h>. */
#ifndef SGS_AGG_FIXTURE_H
#define SGS_AGG_FIXTURE_H

#include <string.h>

#include "agg.h"
#include "sgs/config.h"
#include "sgs/registry.h"

/* Three city departments and a county (with an id-like alias). */
static const char agg_fixture_units[] = "unit_id\tname\tgroup\taliases\n"
                                        "C1\t市甲局\tcity\t\n"
                                        "C2\t市乙局\tcity\t\n"
                                        "C3\t市丙局\tcity\t\n"
                                        "K1\t甲县\tcounty\tK1X\n";

/* 2026-01-05T09:00:00+08:00, the notice's date. */
#define AGG_FIXTURE_NOW 1767574800
#define AGG_FIXTURE_TZ  (8 * 3600)

static inline sgs_registry *agg_fixture_registry(const char *tsv)
{
    char err[256];
    sgs_registry *reg = sgs_registry_load_buffer("t.tsv", tsv, strlen(tsv), err, sizeof(err));

    if (!reg)
        fail_msg("registry: %s", err);
    return reg;
}

/* Defaults plus group names and the county first; more "key=value" settings
 * may follow (NULL-terminated). */
static inline sgs_config *agg_fixture_config(const char *const *settings)
{
    static const char *const base[] = {"group.city.name=市直单位", "group.county.name=县（市、区）",
                                       "groups=county,city", NULL};
    sgs_config *cfg = sgs_config_new();
    char err[256];

    assert_non_null(cfg);
    for (const char *const *kv = base; *kv; kv++)
        assert_int_equal(sgs_config_set_kv(cfg, *kv, "test", err, sizeof(err)), 0);
    for (const char *const *kv = settings; kv && *kv; kv++) {
        if (sgs_config_set_kv(cfg, *kv, "test", err, sizeof(err)) != 0)
            fail_msg("%s", err);
    }
    return cfg;
}

/* The row of a unit id. */
static inline sgs_agg_row *agg_fixture_row(sgs_agg_snapshot *s, const char *id)
{
    for (size_t i = 0; i < s->n_rows; i++) {
        if (strcmp(s->rows[i].unit->id, id) == 0)
            return &s->rows[i];
    }
    fail_msg("no row %s", id);
    return NULL;
}

/* December 2025 of the fixture registry:
 *   C1 10 records (6 licences), 1 late, 2 invalid, 2 concealed
 *   C2 30 records (10 licences), 3 late, previous month 20 (improved)
 *   C3 nothing
 *   K1 5 records (5 licences), 5 late; 1 duplicate
 * with 4 unattributed records and a previous snapshot. */
static inline void agg_fixture_december(sgs_agg_snapshot *s)
{
    sgs_agg_row *c1 = agg_fixture_row(s, "C1"), *c2 = agg_fixture_row(s, "C2");
    sgs_agg_row *k1 = agg_fixture_row(s, "K1");

    c1->c = (sgs_agg_counts){
        .records = 10, .late = 1, .invalid = 2, .lic = 6, .pen = 4, .concealed = 2};
    c2->c = (sgs_agg_counts){.records = 30, .late = 3, .lic = 10, .pen = 20};
    c2->has_prev = 1;
    c2->prev_records = 20;
    k1->c = (sgs_agg_counts){.records = 5, .late = 5, .dup = 1, .lic = 5};
    k1->has_prev = 1;
    k1->prev_records = 5;
    s->unattributed = 4;
    s->has_prev_snapshot = 1;
}

#endif

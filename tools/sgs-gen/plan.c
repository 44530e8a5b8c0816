/* sgs-gen: the plan. Every record of the registry units is decided before
 * anything is written: its unit, kind and report time, then (the stages in
 * this order, each drawing from the plan's random stream) the invalid ones,
 * the late ones, decision dates, formats, the ones without reported_at, and
 * document numbers. */
#include "gen.h"

#include <stdlib.h>

int gen_plan(struct gen *g, char *errstr, size_t errstr_size)
{
    rng *r = &g->plan;
    long *counts = calloc(g->n_units ? g->n_units : 1, sizeof(long));
    double *weights = calloc(g->n_units ? g->n_units : 1, sizeof(double));
    long n_records = g->o.records;
    uint32_t *cand = NULL, *pick = NULL;
    double *cw = NULL;
    int rc = -1;

    gen_times_setup(g);

    /* records per unit */
    if (n_records > 0 && g->n_units == 0) {
        snprintf(errstr, errstr_size, "%s: the registry has no units",
                 sgs_config_get(g->cfg, "units.file"));
        goto out;
    }
    for (size_t i = 0; i < g->n_units; i++)
        weights[i] = g->units[i].weight;
    gen_units_allocate(n_records, weights, g->n_units, counts);

    g->n_recs = (size_t)n_records;
    g->n_all_recs = g->n_recs + (size_t)g->o.unknown;
    g->recs = calloc(g->n_all_recs + g->n_phantoms ? g->n_all_recs + g->n_phantoms : 1,
                     sizeof(struct rec));
    {
        size_t k = 0;
        for (size_t u = 0; u < g->n_units; u++)
            for (long j = 0; j < counts[u]; j++, k++) {
                struct rec *rc2 = &g->recs[k];
                rc2->unit = (uint32_t)u;
                rc2->seed = rng_next(r);
                rc2->kind = rng_chance(r, g->units[u].lic_share) ? KIND_LICENSE : KIND_PENALTY;
                gen_times_report(g, r, rc2);
            }
    }

    cand = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    pick = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    cw = malloc((g->n_recs ? g->n_recs : 1) * sizeof(double));
    if (gen_faults_plan_invalid(g, cand, pick, errstr, errstr_size) != 0)
        goto out;

    /* late records: exactly the share asked for, among valid ones, more in some units */
    g->n_late = lround(g->o.late_share * (double)n_records);
    {
        size_t n = 0;
        for (size_t i = 0; i < g->n_recs; i++)
            if (!g->recs[i].rule) {
                cand[n] = (uint32_t)i;
                cw[n] = g->units[g->recs[i].unit].late_prop;
                n++;
            }
        if ((size_t)g->n_late > n) {
            snprintf(errstr, errstr_size,
                     "--late-share: %ld late records asked for, only %zu valid records", g->n_late,
                     n);
            goto out;
        }
        gen_pick_k(r, cand, n, cw, (size_t)g->n_late, pick);
        for (long k = 0; k < g->n_late; k++)
            g->recs[pick[k]].late = 1;
    }

    if (gen_times_decisions(g, errstr, errstr_size) != 0)
        goto out;

    /* formats and missing reported_at */
    for (size_t i = 0; i < g->n_recs; i++) {
        struct rec *rc2 = &g->recs[i];
        if (g->o.format == FMT_NATIONAL)
            rc2->national = rc2->rule == R_NONE;
        else if (g->o.format == FMT_MIXED)
            rc2->national = rc2->rule == R_NONE && rng_chance(r, 0.5);
    }
    {
        long want = lround(g->o.no_reported_share * (double)n_records);
        size_t n = 0;
        for (size_t i = 0; i < g->n_recs; i++)
            if (!g->recs[i].rule)
                cand[n++] = (uint32_t)i;
        if ((size_t)want > n) {
            snprintf(errstr, errstr_size,
                     "--no-reported-at-share: %ld records asked for, only %zu valid records", want,
                     n);
            goto out;
        }
        gen_pick_k(r, cand, n, NULL, (size_t)want, pick);
        for (long k = 0; k < want; k++)
            g->recs[pick[k]].no_reported = 1;
    }

    if (gen_serials_plan(g, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    free(counts);
    free(weights);
    free(cand);
    free(pick);
    free(cw);
    return rc;
}

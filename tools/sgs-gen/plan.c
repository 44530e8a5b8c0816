/* sgs-gen: the plan. Every record of the registry units is decided before
 * anything is written: its unit, kind and report time, then (the stages in
 * this order, each drawing from the plan's random stream) the invalid ones,
 * the late ones, decision dates, formats, the ones without reported_at, and
 * document numbers. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"

/* Continuing the document numbers of the months before (serials.c says why):
 * those months are planned again here, so the plan's recursion stays in this
 * file. */
static int serials_before(const struct gen *g, uint32_t **used_out, int *ymin_out, int *ny_out,
                          char *errstr, size_t errstr_size);

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

    if (g->replay) {
        if (gen_serials_plan(g, NULL, 0, 0, errstr, errstr_size) != 0)
            goto out;
    } else {
        uint32_t *used;
        int ymin, ny, src;

        if (serials_before(g, &used, &ymin, &ny, errstr, errstr_size) != 0)
            goto out;
        src = gen_serials_plan(g, used, ymin, ny, errstr, errstr_size);
        free(used);
        if (src != 0)
            goto out;
    }
    rc = 0;
out:
    free(counts);
    free(weights);
    free(cand);
    free(pick);
    free(cw);
    return rc;
}

/* Plans month (y, m) as a run with g's seed and options would, to add the
 * serials it numbers per (unit, kind, year) to used (see struct gen). */
static int replay_month(const struct gen *g, int y, int m, uint32_t *used, int ymin, int ny,
                        char *errstr, size_t errstr_size)
{
    struct gen h;
    char why[400], month[16];
    int rc;

    memset(&h, 0, sizeof(h));
    h.o = g->o;
    h.o.unknown = 0; /* planned after the registry's records: nothing to count */
    h.cfg = g->cfg;
    h.reg = g->reg;
    h.cal = g->cal;
    memcpy(h.workdays, g->workdays, sizeof(h.workdays));
    h.count_decision_day = g->count_decision_day;
    h.tz = g->tz;
    h.year = y;
    h.month = m;
    h.first = sgs_month_first(y, m);
    h.last = sgs_month_last(y, m);
    h.plan.s = g->o.seed;
    h.units = g->units; /* the units depend on the seed only; the plan only reads them */
    h.n_units = g->n_units;
    h.replay = 1;
    h.used = used;
    h.used_ymin = ymin;
    h.used_ny = ny;
    rc = gen_plan(&h, why, sizeof(why));
    if (rc != 0)
        snprintf(errstr, errstr_size,
                 "%s (in %s, an earlier month planned again to continue its document numbers)", why,
                 sgs_month_format(y, m, month));
    free(h.recs);
    free(h.gap_groups);
    free(h.missing);
    free(h.deadline[KIND_LICENSE]);
    free(h.deadline[KIND_PENALTY]);
    return rc;
}

/* The serials the earlier months gave each (unit, kind, year) of this month's
 * numbers: *used (calloc'ed, the caller frees it), indexed as struct gen's,
 * years *ymin to *ymin + *ny - 1 (those of all its records). Every month from the December before
 * the earliest year numbered here to the one before this month is replayed; earlier ones number
 * none of these years. */
static int serials_before(const struct gen *g, uint32_t **used_out, int *ymin_out, int *ny_out,
                          char *errstr, size_t errstr_size)
{
    int ymin = g->year, ymax = g->year, y, m, ny, rc = 0;
    enum sgs_log_level level;
    uint32_t *used;

    for (size_t i = 0; i < g->n_recs; i++) {
        ymin = g->recs[i].year < ymin ? g->recs[i].year : ymin;
        ymax = g->recs[i].year > ymax ? g->recs[i].year : ymax;
    }
    ny = ymax - ymin + 1;
    used = calloc(g->n_units ? g->n_units * 2 * (size_t)ny : 1, sizeof(*used));
    if (!used) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    /* The calendar warns of the years it lacks once, on first use; this
     * month's own days were looked up already, the replayed months' are no
     * concern of the user's. */
    level = sgs_log_get_level();
    if (level < SGS_LOG_ERROR)
        sgs_log_set_level(SGS_LOG_ERROR);
    y = ymin - 1;
    m = 12;
    while (rc == 0 && (y < g->year || (y == g->year && m < g->month))) {
        rc = replay_month(g, y, m, used, ymin, ny, errstr, errstr_size);
        sgs_month_add(&y, &m, 1);
    }
    sgs_log_set_level(level);
    if (rc != 0) {
        free(used);
        return -1;
    }
    *used_out = used;
    *ymin_out = ymin;
    *ny_out = ny;
    return 0;
}

/* sgs-gen: what units send about decisions already reported (REFERENCE §3 op):
 * updates (--updates: a decision sent again with op update, counted in
 * updates), revokes (--revokes: sent again with op revoke, counted in revoked)
 * and, with them, a few revokes of decisions never generated, which a consumer
 * rejects with unknown_record. Every choice comes from the extra stream.
 *
 * Exact counts need the original first: an update or revoke goes out later in
 * the month than its original and under the same key (keys.c), so in the same
 * partition, after it. A revoked decision is not re-sent otherwise (no
 * duplicate, update or other key), so nothing follows its revoke. */
#include "gen.h"

#include <stdlib.h>

/* The serials of decisions never generated: above any a month can number. */
#define PHANTOM_SERIAL 1000000000u

/* Revokes of decisions never generated that --revokes N adds: N / 10, at least 1. */
long gen_changes_phantoms(long revokes)
{
    return revokes > 0 ? (revokes + 9) / 10 : 0;
}

/* Valid records with reported_at (what may be sent again); with
 * not_resent, only those nothing else re-sends. */
static size_t candidates(const struct gen *g, uint32_t *cand, int not_resent)
{
    size_t n = 0;

    for (size_t i = 0; i < g->n_recs; i++) {
        const struct rec *rc = &g->recs[i];
        if (!rc->rule && !rc->no_reported && !(not_resent && rc->resent))
            cand[n++] = (uint32_t)i;
    }
    return n;
}

static int plan_updates(struct gen *g, uint32_t *cand, int64_t month_end, char *errstr,
                        size_t errstr_size)
{
    size_t n = candidates(g, cand, 0);

    if (n == 0) {
        snprintf(errstr, errstr_size, "--updates: no valid record with reported_at to update");
        return -1;
    }
    for (long k = 0; k < g->o.updates; k++) {
        uint32_t i = cand[rng_below(&g->extra, (uint32_t)n)];
        struct rec *rc = &g->recs[i];
        gen_resends_add(g, &g->extra, i, EV_UPDATE, month_end);
        rc->resent = rc->changed = 1;
        g->units[rc->unit].updates++;
    }
    return 0;
}

static int plan_revokes(struct gen *g, uint32_t *cand, uint32_t *pick, int64_t month_end,
                        char *errstr, size_t errstr_size)
{
    size_t n = candidates(g, cand, 1);

    if ((size_t)g->o.revokes > n) {
        snprintf(errstr, errstr_size,
                 "--revokes: %ld asked for, only %zu valid records with reported_at that are "
                 "not re-sent otherwise",
                 g->o.revokes, n);
        return -1;
    }
    gen_pick_k(&g->extra, cand, n, NULL, (size_t)g->o.revokes, pick);
    for (long k = 0; k < g->o.revokes; k++) {
        struct rec *rc = &g->recs[pick[k]];
        gen_resends_add(g, &g->extra, pick[k], EV_REVOKE, month_end);
        rc->changed = 1;
        g->units[rc->unit].revoked++;
    }
    return 0;
}

/* Revokes of decisions never generated: a valid record's twin with a serial
 * no record has. */
static void plan_phantoms(struct gen *g, const uint32_t *cand, size_t n, int64_t month_end)
{
    for (size_t k = 0; k < g->n_phantoms; k++) {
        size_t i = g->n_all_recs + k;
        struct rec *ph = &g->recs[i];
        *ph = g->recs[cand[rng_below(&g->extra, (uint32_t)n)]];
        ph->serial = PHANTOM_SERIAL + (uint32_t)k;
        ph->phantom = ph->changed = 1;
        ph->late = 0;
        gen_resends_add(g, &g->extra, (uint32_t)i, EV_REVOKE, month_end);
    }
}

int gen_changes_plan(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size)
{
    uint32_t *cand, *pick;
    size_t n;
    int rc = -1;

    if (g->o.updates <= 0 && g->o.revokes <= 0)
        return 0;
    cand = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    pick = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    if (g->o.updates > 0 && plan_updates(g, cand, month_end, errstr, errstr_size) != 0)
        goto out;
    if (g->o.revokes > 0) {
        if (plan_revokes(g, cand, pick, month_end, errstr, errstr_size) != 0)
            goto out;
        n = candidates(g, cand, 0);
        plan_phantoms(g, cand, n, month_end);
    }
    rc = 0;
out:
    free(cand);
    free(pick);
    return rc;
}

/* sgs-gen: the event of a record sent again (a duplicate, an update, a
 * revoke): later the same month than its original, often with another
 * spelling of its document number. The stages that plan re-sends (faults.c,
 * changes.c) add their events here. */
#include "gen.h"

struct ev *gen_resends_add(struct gen *g, rng *r, uint32_t i, uint8_t type, int64_t month_end)
{
    struct ev *e = &g->evs[g->n_evs];
    const struct rec *o = &g->recs[i];

    e->type = type;
    e->rec = i;
    /* later the same month, often spelt another way */
    e->ts = o->report_ts + (int64_t)(rng_unit(r) * (double)(month_end - o->report_ts));
    e->vseed = rng_chance(r, 0.3) ? REC_VSEED(o) : rng_next(r);
    e->seq = (uint32_t)g->n_evs++;
    return e;
}

/* sgs-gen: the stream. One event per message (a record, a duplicate, a
 * malformed message, an update, a revoke) in send order; its text (the
 * writers). */
#include "gen.h"

#include <stdlib.h>

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int gen_events_plan(struct gen *g, char *errstr, size_t errstr_size)
{
    int64_t month_end = gen_local_instant(g, g->last, 86399);
    int64_t month_start = gen_local_instant(g, g->first, 0);
    size_t n = g->n_all_recs + (size_t)g->o.duplicates + (size_t)g->o.malformed +
               (size_t)g->o.updates + (size_t)g->o.revokes + g->n_phantoms +
               (size_t)g->o.resend_other_key;

    g->evs = calloc(n ? n : 1, sizeof(struct ev));
    for (size_t i = 0; i < g->n_all_recs; i++) {
        struct ev *e = &g->evs[g->n_evs];
        e->type = EV_RECORD;
        e->rec = (uint32_t)i;
        e->ts = g->recs[i].report_ts;
        e->vseed = REC_VSEED(&g->recs[i]);
        e->seq = (uint32_t)g->n_evs++;
    }
    if (gen_faults_plan_duplicates(g, month_end, errstr, errstr_size) != 0)
        return -1;
    gen_faults_plan_malformed(g, month_start, month_end);
    /* what the options of the extra stream add (nothing by default) */
    if (gen_faults_plan_resends(g, month_end, errstr, errstr_size) != 0 ||
        gen_changes_plan(g, month_end, errstr, errstr_size) != 0)
        return -1;
    qsort(g->evs, g->n_evs, sizeof(struct ev), cmp_ev);
    return 0;
}

void gen_events_render(const struct gen *g, sgs_buf *b, const struct ev *e, int jsonl)
{
    sgs_buf_reserve(b, 8192);
    if (e->type == EV_MALFORMED) {
        gen_faults_render_malformed(g, b, e);
    } else {
        const struct rec *rc = &g->recs[e->rec];
        struct render m = {e->vseed,
                           e->type,
                           jsonl && rc->no_reported,
                           gen_times_kafka_ms(e),
                           jsonl && gen_keys_in_jsonl(g),
                           gen_keys_of(g, e)};
        if (rc->national)
            gen_national_render(g, b, rc, &m);
        else
            gen_native_render(g, b, rc, &m);
    }
}

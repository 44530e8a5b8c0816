/* sgs-gen: the stream. One event per message (a record, a duplicate, a
 * malformed message) in send order; its text (the writers) and its key. */
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
    size_t n = g->n_all_recs + (size_t)g->o.duplicates + (size_t)g->o.malformed;

    g->evs = calloc(n ? n : 1, sizeof(struct ev));
    for (size_t i = 0; i < g->n_all_recs; i++) {
        struct ev *e = &g->evs[g->n_evs];
        e->type = EV_RECORD;
        e->rec = (uint32_t)i;
        e->ts = g->recs[i].report_ts;
        e->vseed = g->recs[i].seed ^ 0xD1B54A32D192ED03ULL;
        e->seq = (uint32_t)g->n_evs++;
    }
    if (gen_faults_plan_duplicates(g, month_end, errstr, errstr_size) != 0)
        return -1;
    gen_faults_plan_malformed(g, month_start, month_end);
    qsort(g->evs, g->n_evs, sizeof(struct ev), cmp_ev);
    return 0;
}

static void render_record(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed,
                          int with_ts_field, int64_t ts_ms)
{
    if (rc->national)
        gen_national_render(g, b, rc, vseed, with_ts_field, ts_ms);
    else
        gen_native_render(g, b, rc, vseed, with_ts_field, ts_ms);
}

void gen_events_render(const struct gen *g, sgs_buf *b, const struct ev *e, int ts_field)
{
    sgs_buf_reserve(b, 8192);
    if (e->type == EV_MALFORMED) {
        gen_faults_render_malformed(g, b, e);
    } else {
        const struct rec *rc2 = &g->recs[e->rec];
        render_record(g, b, rc2, e->vseed, ts_field && rc2->no_reported, gen_times_kafka_ms(e));
    }
}

const char *gen_events_key(const struct gen *g, const struct ev *e)
{
    if (e->type == EV_MALFORMED)
        return g->n_units ? g->units[e->rec % g->n_units].u->id : NULL;
    return gen_units_rec_id(g, &g->recs[e->rec]);
}

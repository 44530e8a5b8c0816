/* sgs-gen: time. The deadline cache around the month, report days and times,
 * decision dates (late ones before their deadline, the others on or after
 * it), and the Kafka timestamps of messages (their send time, inside the
 * month). */
#include "gen.h"

#include <stdlib.h>
#include <time.h>

static sgs_day dl_of(const struct gen *g, int kind, sgs_day d)
{
    return g->deadline[kind][d - g->dl_base];
}

int64_t gen_local_instant(const struct gen *g, sgs_day day, long secs)
{
    return (int64_t)day * 86400 + secs - g->tz;
}

long gen_time_of_day(rng *r, int workday)
{
    double u = rng_unit(r);
    if (!workday)
        return rng_range(r, 9 * 3600, 18 * 3600 - 1);
    if (u < 0.45)
        return rng_range(r, 8 * 3600 + 1800, 12 * 3600 - 1);
    if (u < 0.85)
        return rng_range(r, 14 * 3600 + 1800, 18 * 3600 - 1);
    if (u < 0.95)
        return rng_range(r, 18 * 3600, 22 * 3600 - 1);
    return rng_range(r, 0, 86399);
}

/* A report day of the month: working days ten times likelier than others. */
static sgs_day pick_report_day(const struct gen *g, rng *r, const double *cum, size_t ndays)
{
    return g->first + (sgs_day)gen_pick_cumulative(r, cum, ndays);
}

void gen_times_setup(struct gen *g)
{
    size_t ndays = (size_t)(g->last - g->first + 1);

    /* deadlines around the month */
    g->dl_base = g->first - DL_BEFORE;
    g->dl_n = (size_t)(DL_BEFORE + (int)ndays + DL_AFTER);
    for (int k = KIND_LICENSE; k <= KIND_PENALTY; k++) {
        g->deadline[k] = malloc(g->dl_n * sizeof(sgs_day));
        for (size_t i = 0; i < g->dl_n; i++)
            g->deadline[k][i] = sgs_calendar_deadline(g->cal, g->dl_base + (sgs_day)i,
                                                      g->workdays[k], g->count_decision_day);
    }
    for (size_t i = 0; i < ndays; i++)
        g->day_cum[i] = (i ? g->day_cum[i - 1] : 0) +
                        (sgs_calendar_is_workday(g->cal, g->first + (sgs_day)i) ? 10.0 : 1.0);
}

void gen_times_report(const struct gen *g, rng *r, struct rec *rc)
{
    size_t ndays = (size_t)(g->last - g->first + 1);

    rc->report_day = pick_report_day(g, r, g->day_cum, ndays);
    rc->report_ts = gen_local_instant(
        g, rc->report_day, gen_time_of_day(r, sgs_calendar_is_workday(g->cal, rc->report_day)));
}

/* decision dates: late ones have a deadline before the report day, the others
 * (invalid ones too) on or after it */
int gen_times_decisions(struct gen *g, char *errstr, size_t errstr_size)
{
    rng *r = &g->plan;

    for (size_t i = 0; i < g->n_recs; i++) {
        struct rec *rc2 = &g->recs[i];
        sgs_day rd = rc2->report_day, cands[128];
        size_t n = 0;
        if (rc2->rule == R_FUTURE_DECISION) {
            rc2->decision = rd + 1 + (sgs_day)rng_below(r, 5);
        } else if (rc2->late) {
            for (sgs_day d = rd - 1; d > g->dl_base && n < ARRAY_LEN(cands); d--)
                if (dl_of(g, rc2->kind, d) < rd)
                    cands[n++] = d;
            if (n == 0) {
                snprintf(errstr, errstr_size,
                         "deadline.%s.workdays: %d working days are too many to make a record "
                         "of this month late",
                         rc2->kind == KIND_LICENSE ? "license" : "penalty", g->workdays[rc2->kind]);
                return -1;
            }
            double u = rng_unit(r);
            rc2->decision = cands[(size_t)(u * u * u * (double)n)];
        } else {
            for (sgs_day d = rd; d >= rd - 60 && n < ARRAY_LEN(cands); d--)
                if (dl_of(g, rc2->kind, d) >= rd)
                    cands[n++] = d;
            rc2->decision = cands[rng_below(r, (uint32_t)n)];
        }
        int y, m, d;
        sgs_day_to_ymd(rc2->rule == R_BAD_DATE ? rd : rc2->decision, &y, &m, &d);
        rc2->year = (uint16_t)y;
        (void)m;
        (void)d;
    }
    return 0;
}

int64_t gen_times_kafka_ms(const struct ev *e)
{
    return e->ts * 1000 + (int64_t)((e->seq * 7919u) % 1000u);
}

double gen_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

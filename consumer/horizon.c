/* The consumer's today (SGS_NOW when set, as the aggregator's) and the
 * calendar's horizon: the warning from 60 days before the calendar's last
 * listed year ends, logged at start-up and once a day while it is due, and the
 * fallback lookups of every calendar a run used (a SIGHUP replaces it). */
#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/date.h"
#include "sgs/log.h"

sgs_day sgs_consumer_today(const sgs_consumer *c)
{
    int64_t now = c->have_now ? c->now_fixed : sgs_clock_wall_ms() / 1000;
    return sgs_day_of_instant(now, c->rules.tz_offset);
}

uint64_t sgs_consumer_fallbacks(const sgs_consumer *c)
{
    return c->fallbacks_before + sgs_calendar_fallbacks(c->calendar);
}

void sgs_consumer_horizon_log(sgs_consumer *c)
{
    char text[SGS_CALENDAR_WARNING_MAX];
    sgs_day today = sgs_consumer_today(c);
    if (c->horizon_logged == today ||
        !sgs_calendar_horizon_warning(c->calendar, today, text, sizeof(text)))
        return;
    c->horizon_logged = today;
    sgs_warn("%s: %s", sgs_config_get(c->cfg, "calendar.file"), text);
}

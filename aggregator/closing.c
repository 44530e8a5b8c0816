/* When a month has closed: report.grace_workdays working days after its last
 * day have passed (grace 0: from the first day of the next month). watch
 * snapshots a month from then on; before it, snapshot makes a preview. */
#include "agg.h"

#include "sgs/calendar.h"

sgs_day sgs_agg_month_closes(const sgs_calendar *cal, long grace, int year, int month)
{
    sgs_day last = sgs_month_last(year, month);

    return (grace > 0 ? sgs_calendar_deadline(cal, last, (int)grace, 0) : last) + 1;
}

int sgs_agg_month_due(const sgs_calendar *cal, long grace, sgs_day today, int year, int month)
{
    return today >= sgs_agg_month_closes(cal, grace, year, month);
}

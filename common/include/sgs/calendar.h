/* Working-day calendar (REFERENCE §6): Monday-Friday minus holidays plus make-up
 * working days, for the years the file lists. Dates in other years fall back to
 * Monday-Friday: the first such use per year logs a warning, and every use bumps
 * a counter (sgs_calendar_fallbacks).
 *
 * A loaded calendar is read-only except for the fallback counter, which is an
 * atomic; it can be shared between threads. */
#ifndef SGS_CALENDAR_H
#define SGS_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "sgs/date.h"

typedef struct sgs_calendar sgs_calendar;

/* Loads the JSON calendar file {"name":..., "years":[...], "holidays":[...],
 * "workdays":[...]} (other keys are ignored, e.g. a "source" note). All four keys
 * are required; years are integers 1900-2199. Every date must be real and inside
 * a listed year, and a date may not be both holiday and workday. Holidays may
 * fall on weekends (the official notices list whole ranges); a workday that is
 * already a weekday is an error (it would mean nothing, so it is likely a typo).
 * On error returns NULL and writes one line "FILE: ..." naming the offending key
 * or entry (e.g. "calendar-cn.json: holidays[3]: '2023-02-29' is not a valid
 * date (YYYY-MM-DD)") into errstr. The result is freed with sgs_calendar_destroy. */
sgs_calendar *sgs_calendar_load(const char *path, char *errstr, size_t errstr_size);
/* Same from a JSON text in memory; name is used in messages. */
sgs_calendar *sgs_calendar_load_buffer(const char *name, const char *json, size_t len, char *errstr,
                                       size_t errstr_size);
void sgs_calendar_destroy(sgs_calendar *cal); /* NULL ok */

/* 1 if day is a working day. For a year the file does not list: Monday-Friday,
 * counted in sgs_calendar_fallbacks, warned once per year (sgs_warn). */
int sgs_calendar_is_workday(const sgs_calendar *cal, sgs_day day);
/* 1 if the calendar lists the year of day (no fallback needed). */
int sgs_calendar_covers(const sgs_calendar *cal, sgs_day day);
/* The n-th working day after decision (the decision day is day 0). When
 * count_decision_day is set and the decision day is itself a working day, it
 * counts as day 1 (some evaluators' rule). n >= 1. */
sgs_day sgs_calendar_deadline(const sgs_calendar *cal, sgs_day decision, int n,
                              int count_decision_day);
/* Working days in (from, to]: days after from up to and including to; 0 when
 * to <= from. workdays_late = sgs_calendar_workdays_between(cal, deadline, report).
 * Every day of the span in an unlisted year counts as one fallback lookup. */
int sgs_calendar_workdays_between(const sgs_calendar *cal, sgs_day from, sgs_day to);
/* Number of lookups that fell back to Monday-Friday so far. */
uint64_t sgs_calendar_fallbacks(const sgs_calendar *cal);
const char *sgs_calendar_name(const sgs_calendar *cal);

/* The horizon: the last listed year, and the days from today to its December
 * 31st (0 on that day, negative after it). */
int sgs_calendar_last_year(const sgs_calendar *cal);
long sgs_calendar_days_left(const sgs_calendar *cal, sgs_day today);
/* From this many days before the end of the last listed year on, the programs
 * warn that the next year's holidays (the State Council notice) must be added. */
#define SGS_CALENDAR_WARN_DAYS 60
/* 1 and the warning text in buf when due (days left <= SGS_CALENDAR_WARN_DAYS):
 * "工作日历只到2026年12月31日（还剩27天），请按国务院办公厅关于2027年部分节假日
 * 安排的通知补充2027年的节假日和调休上班日" ("已过N天" after the end); else 0 and
 * "". 512 bytes are enough. */
#define SGS_CALENDAR_WARNING_MAX 512
int sgs_calendar_horizon_warning(const sgs_calendar *cal, sgs_day today, char *buf, size_t size);

#endif

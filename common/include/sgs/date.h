/* Civil dates as day numbers (days since 1970-01-01, proleptic Gregorian) and
 * the time helpers every module shares. Pure functions, thread-safe. */
#ifndef SGS_DATE_H
#define SGS_DATE_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t sgs_day; /* days since 1970-01-01 */

/* Day number of y-m-d; the caller guarantees the date is valid. */
sgs_day sgs_day_from_ymd(int y, int m, int d);
void sgs_day_to_ymd(sgs_day day, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday */
int sgs_day_weekday(sgs_day day);
/* 1 if y-m-d is a real date with year 1..9999 (leap years per Gregorian rules). */
int sgs_date_valid(int y, int m, int d);
/* Parses exactly "YYYY-MM-DD" (len bytes, not NUL-terminated needed) into *out.
 * Returns 0, or -1 when the text is not a real calendar date. */
int sgs_day_parse(const char *s, size_t len, sgs_day *out);
/* Writes "YYYY-MM-DD" + NUL into buf (at least 11 bytes). Returns buf. Years
 * outside 0000-9999 do not fit and are clamped to them. */
char *sgs_day_format(sgs_day day, char *buf);
/* Writes "YYYY-MM" + NUL into buf (at least 8 bytes). Returns buf. */
char *sgs_day_format_month(sgs_day day, char *buf);

/* Parses exactly len bytes of an RFC 3339 date-time with a mandatory offset
 * ("Z"/"z", "+hh:mm" or "-hh:mm"), 'T' or 't' between date and time, fractional
 * seconds allowed (dropped: the instant is rounded down to the second):
 * "2023-12-05T10:31:00+08:00". Writes the instant as Unix seconds. Returns 0, or
 * -1 if malformed or not a real date/time (2023-02-29, hour 24, minute 60; a
 * leap second :60 is rejected too, Unix time cannot hold it). */
int sgs_rfc3339_parse(const char *s, size_t len, int64_t *unix_seconds);
/* Formats an instant in the given offset as RFC 3339 ("2023-12-05T10:31:00+08:00";
 * offset 0 is written "+00:00", seconds of the offset are dropped).
 * buf needs 26 bytes. Returns buf. */
char *sgs_rfc3339_format(int64_t unix_seconds, int offset_seconds, char *buf);
/* The local civil day of an instant at the given UTC offset (seconds). */
sgs_day sgs_day_of_instant(int64_t unix_seconds, int offset_seconds);
/* Parses a NUL-terminated "+08:00", "-05:30", "Z" or "+0800" into seconds east
 * of UTC (hours 00-23, minutes 00-59). 0 or -1. */
int sgs_tz_offset_parse(const char *s, int *offset_seconds);

/* ---- months ----------------------------------------------------------------
 * A month is (year, month) with month 1..12: the months of reports, counters
 * and Redis keys ("YYYY-MM"). Every module parses, formats and steps months
 * through these (sgs_day_format_month gives the month of a day). */

/* Parses a NUL-terminated "YYYY-MM" (year 0001-9999) into year and month. 0 or -1. */
int sgs_month_parse(const char *s, int *year, int *month);
/* Writes "YYYY-MM" + NUL into buf (at least 8 bytes). Returns buf. Years
 * outside 0000-9999 are clamped to them, as by sgs_day_format. */
char *sgs_month_format(int year, int month, char *buf);
/* Number of days of the month (28..31); month must be 1..12. */
int sgs_month_days(int year, int month);
/* Moves (year, month) by delta months, forward or (delta < 0) back. */
void sgs_month_add(int *year, int *month, int delta);
/* The first and the last day of the month. */
sgs_day sgs_month_first(int year, int month);
sgs_day sgs_month_last(int year, int month);

#endif

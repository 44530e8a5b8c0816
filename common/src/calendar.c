/* Working-day calendar. See sgs/calendar.h.
 *
 * The years from the first to the last listed year are kept as one array with a
 * byte per day (working, off, or "year not listed") plus a running count of
 * working days, so a lookup is one index and a count over any covered span is
 * one subtraction. Days outside the array, and days of unlisted years inside
 * it, fall back to Monday-Friday. */
#include "sgs/calendar.h"

#include "sgs/buf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sgs/log.h"

/* Range accepted in "years": the State Council notices exist since 1999; the
 * bounds only keep the day array small. */
#define YEAR_MIN 1900
#define YEAR_MAX 2199
/* Years for which "warned once" is tracked one by one; all other years share
 * slot 0 (only reachable through days far outside any sensible record). */
#define WARN_YEARS 10000
/* A calendar file is small; this only stops a wrong path (a device, a huge
 * file) from being read whole. */
#define MAX_FILE_BYTES (16 * 1024 * 1024)

enum day_kind { DAY_OFF = 0, DAY_WORK = 1, DAY_UNLISTED = 2 };

struct sgs_calendar {
    char *name;
    int first_year; /* first and last listed year */
    int last_year;
    sgs_day base;        /* first_year-01-01 */
    sgs_day end;         /* (last_year + 1)-01-01, exclusive */
    unsigned char *kind; /* enum day_kind per day in [base, end) */
    int32_t *cum;        /* cum[i] = working days in [base, base + i); end - base + 1
                            entries */
    atomic_uint_fast64_t fallbacks;
    atomic_bool warned[WARN_YEARS];
};

static int year_of(sgs_day day)
{
    int y;
    sgs_day_to_ymd(day, &y, NULL, NULL);
    return y;
}

/* Mon-Fri days in [anchor, day) where anchor is a Monday (1970-01-05 = day 4);
 * negative before the anchor, so differences count any span. */
static int64_t weekdays_before(int64_t day)
{
    int64_t x = day - 4;
    int64_t weeks = x >= 0 ? x / 7 : -((-x + 6) / 7);
    int64_t rest = x - weeks * 7; /* 0..6 */
    return weeks * 5 + (rest < 5 ? rest : 5);
}

static const char *weekday_name(sgs_day day)
{
    static const char *const names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
    return names[sgs_day_weekday(day)];
}

/* A lookup in a year the file does not list: warn the first time per year,
 * count every time. */
static void note_fallback(const sgs_calendar *cal, int year, uint64_t lookups)
{
    /* The counter and the flags are the only state that changes after load;
     * they are atomics, so the const calendar stays shareable between threads. */
    sgs_calendar *mut = (sgs_calendar *)cal;
    atomic_fetch_add_explicit(&mut->fallbacks, lookups, memory_order_relaxed);
    int slot = (year > 0 && year < WARN_YEARS) ? year : 0;
    if (!atomic_load_explicit(&mut->warned[slot], memory_order_relaxed) &&
        !atomic_exchange(&mut->warned[slot], true)) {
        if (slot == 0) {
            sgs_warn("calendar '%s': year %d is not in the calendar file; counting "
                     "Monday-Friday "
                     "as working days (further years outside 1-9999 are not reported)",
                     cal->name, year);
        } else {
            sgs_warn("calendar '%s': year %d is not in the calendar file; counting "
                     "Monday-Friday "
                     "as working days",
                     cal->name, year);
        }
    }
}

/* sgs_calendar_is_workday(), inlined into the deadline loop. */
static inline int is_workday(const sgs_calendar *cal, sgs_day day)
{
    if (day >= cal->base && day < cal->end) {
        unsigned char k = cal->kind[day - cal->base];
        if (k != DAY_UNLISTED) {
            return k == DAY_WORK;
        }
    }
    note_fallback(cal, year_of(day), 1);
    return sgs_day_weekday(day) < 5;
}

int sgs_calendar_is_workday(const sgs_calendar *cal, sgs_day day)
{
    return is_workday(cal, day);
}

int sgs_calendar_covers(const sgs_calendar *cal, sgs_day day)
{
    return day >= cal->base && day < cal->end && cal->kind[day - cal->base] != DAY_UNLISTED;
}

/* The left-th working day after decision from the running sums, into *out:
 * 1, or 0 when they do not reach (a day past the calendar, or an unlisted
 * year on the way: then the walk below counts its fallback lookups). With
 * f(d) the working days in (decision, d], which grows by at most one a day,
 * the deadline is the first d with f(d) = left; from any d before it, it is
 * at least left - f(d) days on, so each step jumps that far (two or three
 * steps over a weekend or a holiday) and never past it. The sums count
 * listed working days only, and unlisted days come in whole years: a span
 * of under a year from a listed day to a listed working day has none. */
static int deadline_by_sums(const sgs_calendar *cal, sgs_day decision, int left, sgs_day *out)
{
    int64_t d = (int64_t)decision + left, start;
    if (decision < cal->base || d >= cal->end ||
        cal->kind[decision + 1 - cal->base] == DAY_UNLISTED) {
        return 0;
    }
    start = cal->cum[decision + 1 - cal->base];
    for (;;) {
        int64_t got = cal->cum[d + 1 - cal->base] - start;
        if (got >= left) {
            if (got > left) {
                return 0; /* (cannot be: never past the deadline) */
            }
            break;
        }
        d += left - got;
        if (d >= cal->end || d - decision > 300) {
            return 0;
        }
    }
    *out = (sgs_day)d; /* (a DAY_WORK day: listed) */
    return 1;
}

sgs_day sgs_calendar_deadline(const sgs_calendar *cal, sgs_day decision, int n,
                              int count_decision_day)
{
    int left = n;
    if (count_decision_day && left > 0 && is_workday(cal, decision)) {
        left--;
    }
    sgs_day day = decision;
    if (left > 0 && left <= 200 && deadline_by_sums(cal, decision, left, &day)) {
        return day;
    }
    while (left > 0) {
        day++;
        if (is_workday(cal, day)) {
            left--;
        }
    }
    return day;
}

/* Working days in the inclusive span [a, b], all inside one calendar year y. */
static int64_t workdays_in_year_span(const sgs_calendar *cal, int y, int64_t a, int64_t b)
{
    if (y >= cal->first_year && y <= cal->last_year && cal->kind[a - cal->base] != DAY_UNLISTED) {
        return cal->cum[b + 1 - cal->base] - cal->cum[a - cal->base];
    }
    note_fallback(cal, y, (uint64_t)(b - a + 1));
    return weekdays_before(b + 1) - weekdays_before(a);
}

int sgs_calendar_workdays_between(const sgs_calendar *cal, sgs_day from, sgs_day to)
{
    if (to <= from) {
        return 0;
    }
    /* Walk (from, to] one calendar year at a time: each year is either listed
     * (count from the running sums) or a fallback year (count Mon-Fri). */
    int64_t count = 0;
    int64_t a = (int64_t)from + 1;
    int y = year_of((sgs_day)a);
    while (a <= to) {
        int64_t year_end = (int64_t)sgs_day_from_ymd(y + 1, 1, 1) - 1;
        int64_t b = year_end < to ? year_end : to;
        count += workdays_in_year_span(cal, y, a, b);
        a = b + 1;
        y++;
    }
    return count > INT32_MAX ? INT32_MAX : (int)count;
}

uint64_t sgs_calendar_fallbacks(const sgs_calendar *cal)
{
    return atomic_load_explicit(&((sgs_calendar *)cal)->fallbacks, memory_order_relaxed);
}

const char *sgs_calendar_name(const sgs_calendar *cal)
{
    return cal->name;
}

int sgs_calendar_last_year(const sgs_calendar *cal)
{
    return cal->last_year;
}

long sgs_calendar_days_left(const sgs_calendar *cal, sgs_day today)
{
    return (long)(cal->end - 1 - today);
}

int sgs_calendar_horizon_warning(const sgs_calendar *cal, sgs_day today, char *buf, size_t size)
{
    long left = sgs_calendar_days_left(cal, today);
    int next = cal->last_year + 1;

    if (size)
        buf[0] = '\0';
    if (left > SGS_CALENDAR_WARN_DAYS)
        return 0;
    if (left >= 0)
        snprintf(buf, size,
                 "工作日历只到%d年12月31日（还剩%ld天），请按国务院办公厅关于%d年部分节假日安排的"
                 "通知补充%d年的节假日和调休上班日",
                 cal->last_year, left, next, next);
    else
        snprintf(buf, size,
                 "工作日历只到%d年12月31日（已过%ld天），请按国务院办公厅关于%d年部分节假日安排的"
                 "通知补充%d年的节假日和调休上班日",
                 cal->last_year, -left, next, next);
    return 1;
}

void sgs_calendar_destroy(sgs_calendar *cal)
{
    if (cal == NULL) {
        return;
    }
    free(cal->name);
    free(cal->kind);
    free(cal->cum);
    free(cal);
}

/* Marks the dates of one list ("holidays" or "workdays"). mark is DAY_OFF or
 * DAY_WORK; seen[] records which list set each day, to find dates in both. */
static int apply_list(sgs_calendar *cal, const char *name, json_t *list, const char *key,
                      unsigned char mark, unsigned char *seen, char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v)) {
            sgs_set_error(errstr, errstr_size, "%s: %s[%zu]: expected a date string \"YYYY-MM-DD\"",
                          name, key, i);
            return -1;
        }
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        sgs_day day;
        if (sgs_day_parse(s, len, &day) != 0) {
            sgs_set_error(errstr, errstr_size,
                          "%s: %s[%zu]: '%.40s' is not a valid date (YYYY-MM-DD)", name, key, i, s);
            return -1;
        }
        int weekend = sgs_day_weekday(day) >= 5;
        if (day < cal->base || day >= cal->end || cal->kind[day - cal->base] == DAY_UNLISTED) {
            /* A year the file does not list counts Monday to Friday, whatever
             * its dates say: the public lists give 2023's New Year break as
             * 2022-12-31 to 2023-01-02, so such a date is expected. Said
             * louder when it would have changed a count. */
            int year = year_of(day);
            int matters = (mark == DAY_OFF) != weekend;
            sgs_log(matters ? SGS_LOG_WARN : SGS_LOG_INFO,
                    "%s: %s[%zu]: %s is in %d, a year the file does not list: not used (%d "
                    "counts Monday to Friday)",
                    name, key, i, s, year, year);
            continue;
        }
        size_t idx = (size_t)(day - cal->base);
        unsigned char bit = mark == DAY_WORK ? 2 : 1;
        unsigned char other = mark == DAY_WORK ? 1 : 2;
        if (seen[idx] & other) {
            sgs_set_error(errstr, errstr_size, "%s: %s is listed both as holiday and as workday",
                          name, s);
            return -1;
        }
        /* Holidays on a weekend are fine (the notices give whole ranges); a
         * make-up working day on a weekday would mean nothing, so it is
         * most likely a typo. */
        if (mark == DAY_WORK && !weekend) {
            sgs_set_error(errstr, errstr_size,
                          "%s: %s[%zu]: %s is a %s, already a working day (make-up working "
                          "days "
                          "fall on weekends)",
                          name, key, i, s, weekday_name(day));
            return -1;
        }
        seen[idx] |= bit;
        cal->kind[idx] = mark;
    }
    return 0;
}

static json_t *get_key(json_t *root, const char *name, const char *key, char *errstr,
                       size_t errstr_size)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL) {
        sgs_set_error(errstr, errstr_size, "%s: missing key \"%s\"", name, key);
    }
    return v;
}

/* Reads "years" into the span first..last and the listed flags. */
static int read_years(json_t *years, const char *name, int *first, int *last,
                      unsigned char listed[YEAR_MAX - YEAR_MIN + 1], char *errstr,
                      size_t errstr_size)
{
    if (!json_is_array(years) || json_array_size(years) == 0) {
        sgs_set_error(errstr, errstr_size, "%s: \"years\" must be a non-empty array of years",
                      name);
        return -1;
    }
    *first = YEAR_MAX;
    *last = YEAR_MIN;
    size_t i;
    json_t *v;
    json_array_foreach(years, i, v)
    {
        if (!json_is_integer(v)) {
            sgs_set_error(errstr, errstr_size, "%s: years[%zu]: expected an integer year", name, i);
            return -1;
        }
        json_int_t y = json_integer_value(v);
        if (y < YEAR_MIN || y > YEAR_MAX) {
            sgs_set_error(errstr, errstr_size, "%s: years[%zu]: year %lld is outside %d-%d", name,
                          i, (long long)y, YEAR_MIN, YEAR_MAX);
            return -1;
        }
        if (listed[y - YEAR_MIN]) {
            sgs_set_error(errstr, errstr_size, "%s: years[%zu]: year %lld is listed twice", name, i,
                          (long long)y);
            return -1;
        }
        listed[y - YEAR_MIN] = 1;
        if (y < *first) {
            *first = (int)y;
        }
        if (y > *last) {
            *last = (int)y;
        }
    }
    return 0;
}

sgs_calendar *sgs_calendar_load_buffer(const char *name, const char *json, size_t len, char *errstr,
                                       size_t errstr_size)
{
    sgs_calendar *cal = NULL;
    unsigned char *seen = NULL;
    json_t *root = NULL;
    size_t ndays;
    json_t *jname, *years, *holidays, *workdays;
    json_error_t jerr;
    unsigned char listed[YEAR_MAX - YEAR_MIN + 1] = {0};

    if (name == NULL) {
        name = "calendar";
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        sgs_set_error(errstr, errstr_size, "%s: line %d column %d: %s", name, jerr.line,
                      jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        sgs_set_error(errstr, errstr_size, "%s: expected a JSON object at the top level", name);
        goto fail;
    }
    /* Keys other than these four are ignored: room for "source" or notes. */
    jname = get_key(root, name, "name", errstr, errstr_size);
    years = jname ? get_key(root, name, "years", errstr, errstr_size) : NULL;
    holidays = years ? get_key(root, name, "holidays", errstr, errstr_size) : NULL;
    workdays = holidays ? get_key(root, name, "workdays", errstr, errstr_size) : NULL;
    if (workdays == NULL) {
        goto fail;
    }
    if (!json_is_string(jname)) {
        sgs_set_error(errstr, errstr_size, "%s: \"name\" must be a string", name);
        goto fail;
    }
    if (!json_is_array(holidays)) {
        sgs_set_error(errstr, errstr_size, "%s: \"holidays\" must be an array of date strings",
                      name);
        goto fail;
    }
    if (!json_is_array(workdays)) {
        sgs_set_error(errstr, errstr_size, "%s: \"workdays\" must be an array of date strings",
                      name);
        goto fail;
    }

    cal = calloc(1, sizeof(*cal));
    if (cal == NULL) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        goto fail;
    }
    atomic_init(&cal->fallbacks, 0);
    for (size_t i = 0; i < WARN_YEARS; i++) {
        atomic_init(&cal->warned[i], false);
    }
    if (read_years(years, name, &cal->first_year, &cal->last_year, listed, errstr, errstr_size) !=
        0) {
        goto fail;
    }
    cal->name = strdup(json_string_value(jname));
    cal->base = sgs_day_from_ymd(cal->first_year, 1, 1);
    cal->end = sgs_day_from_ymd(cal->last_year + 1, 1, 1);
    ndays = (size_t)(cal->end - cal->base);
    cal->kind = malloc(ndays);
    cal->cum = malloc((ndays + 1) * sizeof(*cal->cum));
    seen = calloc(ndays, 1);
    if (cal->name == NULL || cal->kind == NULL || cal->cum == NULL || seen == NULL) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        goto fail;
    }
    for (size_t i = 0; i < ndays; i++) {
        sgs_day day = cal->base + (sgs_day)i;
        if (!listed[year_of(day) - YEAR_MIN]) {
            cal->kind[i] = DAY_UNLISTED;
        } else {
            cal->kind[i] = sgs_day_weekday(day) < 5 ? DAY_WORK : DAY_OFF;
        }
    }
    if (apply_list(cal, name, holidays, "holidays", DAY_OFF, seen, errstr, errstr_size) != 0 ||
        apply_list(cal, name, workdays, "workdays", DAY_WORK, seen, errstr, errstr_size) != 0) {
        goto fail;
    }
    cal->cum[0] = 0;
    for (size_t i = 0; i < ndays; i++) {
        cal->cum[i + 1] = cal->cum[i] + (cal->kind[i] == DAY_WORK ? 1 : 0);
    }
    free(seen);
    json_decref(root);
    return cal;

fail:
    free(seen);
    sgs_calendar_destroy(cal);
    json_decref(root);
    return NULL;
}

sgs_calendar *sgs_calendar_load(const char *path, char *errstr, size_t errstr_size)
{
    sgs_buf buf = SGS_BUF_INIT;
    sgs_calendar *cal = NULL;
    if (sgs_buf_read_file(&buf, path, MAX_FILE_BYTES, errstr, errstr_size) == 0)
        cal = sgs_calendar_load_buffer(path, buf.data, buf.len, errstr, errstr_size);
    sgs_buf_free(&buf);
    return cal;
}

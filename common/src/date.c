/* Civil dates, months and RFC 3339 instants. See sgs/date.h.
 *
 * Day numbers are computed on the proleptic Gregorian calendar with years that
 * start on 1 March, so that the leap day is the last day of its year and month
 * lengths follow a fixed 5-month pattern (31 30 31 30 31 | 31 30 31 30 31 | 31
 * 28/29). A 400-year cycle has exactly 146097 days; the cycle is the unit of
 * the arithmetic, which keeps it exact for dates before 1970 too. */
#include "sgs/date.h"

#include <stdint.h>
#include <string.h>

#define SECONDS_PER_DAY 86400
/* Days from 0000-03-01 (start of a 400-year cycle) to 1970-01-01. */
#define DAYS_0000_03_01_TO_EPOCH 719468
#define DAYS_PER_400_YEARS       146097

/* floor(a / b) for b > 0 */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && a < 0) {
        q -= 1;
    }
    return q;
}

/* a mod b in [0, b) for b > 0 */
static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    if (r < 0) {
        r += b;
    }
    return r;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y)) {
        return 29;
    }
    return len[m - 1];
}

sgs_day sgs_day_from_ymd(int y, int m, int d)
{
    int64_t year = y;
    /* Month index counted from March: Mar = 0 ... Feb = 11. */
    int64_t mar_month = m > 2 ? m - 3 : m + 9;
    if (m <= 2) {
        year -= 1;
    }
    int64_t cycle = floor_div(year, 400);
    int64_t year_of_cycle = year - cycle * 400;                /* 0..399 */
    int64_t day_of_year = (153 * mar_month + 2) / 5 + (d - 1); /* 0..365 */
    int64_t day_of_cycle =
        year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year; /* 0..146096 */
    return (sgs_day)(cycle * DAYS_PER_400_YEARS + day_of_cycle - DAYS_0000_03_01_TO_EPOCH);
}

/* The civil date of a day, computed (sgs_day_to_ymd keeps the last ones). */
static void day_to_ymd(sgs_day day, int *y, int *m, int *d)
{
    int64_t z = (int64_t)day + DAYS_0000_03_01_TO_EPOCH;
    int64_t cycle = floor_div(z, DAYS_PER_400_YEARS);
    int64_t day_of_cycle = z - cycle * DAYS_PER_400_YEARS; /* 0..146096 */
    /* Remove the leap days before this point of the cycle, then divide by 365. */
    int64_t year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146096) / 365;
    int64_t day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    int64_t mar_month = (5 * day_of_year + 2) / 153; /* 0..11 */
    int64_t dd = day_of_year - (153 * mar_month + 2) / 5 + 1;
    int64_t mm = mar_month < 10 ? mar_month + 3 : mar_month - 9;
    int64_t yy = year_of_cycle + cycle * 400 + (mm <= 2 ? 1 : 0);
    if (y) {
        *y = (int)yy;
    }
    if (m) {
        *m = (int)mm;
    }
    if (d) {
        *d = (int)dd;
    }
}

/* Days converted lately, per thread, in a slot picked by the day: the
 * consumer converts each record's decision date and formats its report time. */
#define YMD_MEMO 256

typedef struct day_ymd {
    sgs_day day;
    int y;
    short m, d; /* m == 0: a free slot */
} day_ymd;

static _Thread_local day_ymd ymds[YMD_MEMO];

void sgs_day_to_ymd(sgs_day day, int *y, int *m, int *d)
{
    day_ymd *e = &ymds[(uint32_t)day % YMD_MEMO];
    if (e->m == 0 || e->day != day) {
        int yy, mm, dd;
        day_to_ymd(day, &yy, &mm, &dd);
        e->day = day;
        e->y = yy;
        e->m = (short)mm;
        e->d = (short)dd;
    }
    if (y) {
        *y = e->y;
    }
    if (m) {
        *m = e->m;
    }
    if (d) {
        *d = e->d;
    }
}

int sgs_day_weekday(sgs_day day)
{
    /* 1970-01-01 was a Thursday (3 when Monday is 0). */
    return (int)floor_mod((int64_t)day + 3, 7);
}

int sgs_date_valid(int y, int m, int d)
{
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) {
        return 0;
    }
    return d <= days_in_month(y, m);
}

/* Reads n ASCII digits; -1 if any is not a digit. */
static int read_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD" at s (10 bytes available) into a valid date. */
static int parse_ymd(const char *s, int *y, int *m, int *d)
{
    if (s[4] != '-' || s[7] != '-') {
        return -1;
    }
    *y = read_digits(s, 4);
    *m = read_digits(s + 5, 2);
    *d = read_digits(s + 8, 2);
    if (*y < 0 || *m < 0 || *d < 0 || !sgs_date_valid(*y, *m, *d)) {
        return -1;
    }
    return 0;
}

/* The days parsed and written last, per thread: a message has two or three
 * dates, nearly always of the last few weeks or months (decision dates,
 * report times, validity dates), and the consumer formats the report day of
 * each (its day and month) and the day of each counter. A slot is picked by
 * the day (formatting) or by the text (parsing); a slot whose text is empty is
 * free. 256 slots (4 KiB a table): with 16, nine parses in ten missed on a
 * generated month. */
#define DATE_MEMO 256

typedef struct day_text {
    sgs_day day;
    char text[11]; /* "YYYY-MM-DD" */
} day_text;

static _Thread_local day_text parsed[DATE_MEMO], formatted[DATE_MEMO];

/* The slot of parsed[] for the 10 bytes at s. */
static day_text *parsed_slot(const char *s)
{
    uint64_t w;
    uint16_t t;

    memcpy(&w, s, 8);
    memcpy(&t, s + 8, 2);
    w = (w ^ ((uint64_t)t << 17)) * 0x9E3779B97F4A7C15ULL;
    return &parsed[(w >> 32) % DATE_MEMO];
}

/* "YYYY-MM-DD" at s (10 bytes available) as a day: 0, or -1 when it is not a
 * valid date. */
static int parse_day(const char *s, sgs_day *out)
{
    day_text *m = parsed_slot(s);
    int y, mo, d;

    if (m->text[0] != '\0' && memcmp(m->text, s, 10) == 0) {
        *out = m->day;
        return 0;
    }
    if (parse_ymd(s, &y, &mo, &d) != 0) {
        return -1;
    }
    m->day = sgs_day_from_ymd(y, mo, d);
    memcpy(m->text, s, 10);
    m->text[10] = '\0';
    *out = m->day;
    return 0;
}

int sgs_day_parse(const char *s, size_t len, sgs_day *out)
{
    sgs_day day;

    if (s == NULL || len != 10 || parse_day(s, &day) != 0) {
        return -1;
    }
    if (out) {
        *out = day;
    }
    return 0;
}

/* Writes value as exactly n decimal digits, zero-padded. */
static char *put_digits(char *p, int value, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + n;
}

/* Writes "YYYY-MM" of day at p; years outside 0-9999 cannot be written in four
 * digits and are clamped (the fixed buffer sizes of the API assume them). */
static char *put_year_month(char *p, sgs_day day, int *d)
{
    int y, m;
    sgs_day_to_ymd(day, &y, &m, d);
    if (y < 0) {
        y = 0;
    } else if (y > 9999) {
        y = 9999;
    }
    p = put_digits(p, y, 4);
    *p++ = '-';
    return put_digits(p, m, 2);
}

/* The text of day from formatted[] (written there first when it is not). */
static const char *day_text_of(sgs_day day)
{
    day_text *m = &formatted[(uint32_t)day % DATE_MEMO];

    if (m->text[0] == '\0' || m->day != day) {
        int d;
        char *p = put_year_month(m->text, day, &d);
        *p++ = '-';
        p = put_digits(p, d, 2);
        *p = '\0';
        m->day = day;
    }
    return m->text;
}

char *sgs_day_format(sgs_day day, char *buf)
{
    memcpy(buf, day_text_of(day), 11);
    return buf;
}

char *sgs_day_format_month(sgs_day day, char *buf)
{
    memcpy(buf, day_text_of(day), 7);
    buf[7] = '\0';
    return buf;
}

/* "hh:mm" (colon == 1) or "hhmm" at s into seconds; hours 00-23, minutes 00-59.
 */
static int parse_hhmm(const char *s, int colon, int *seconds)
{
    int hh = read_digits(s, 2);
    int mm = read_digits(s + 2 + colon, 2);
    if (colon && s[2] != ':') {
        return -1;
    }
    if (hh < 0 || mm < 0 || hh > 23 || mm > 59) {
        return -1;
    }
    *seconds = hh * 3600 + mm * 60;
    return 0;
}

int sgs_rfc3339_parse(const char *s, size_t len, int64_t *unix_seconds)
{
    /* Shortest form: "YYYY-MM-DDThh:mm:ssZ" (20 bytes). */
    if (s == NULL || len < 20) {
        return -1;
    }
    sgs_day day;
    if (parse_day(s, &day) != 0) {
        return -1;
    }
    if (s[10] != 'T' && s[10] != 't') {
        return -1;
    }
    if (s[13] != ':' || s[16] != ':') {
        return -1;
    }
    int hh = read_digits(s + 11, 2);
    int mi = read_digits(s + 14, 2);
    int ss = read_digits(s + 17, 2);
    /* Leap seconds (:60) are rejected: Unix time has no way to represent them. */
    if (hh < 0 || mi < 0 || ss < 0 || hh > 23 || mi > 59 || ss > 59) {
        return -1;
    }
    size_t i = 19;
    if (s[i] == '.') {
        /* Fractional seconds: at least one digit, then dropped (the instant is
         * rounded down to the second, which is what a date needs). */
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i == start) {
            return -1;
        }
    }
    if (i >= len) {
        return -1;
    }
    int offset;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        offset = 0;
    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len) {
        if (parse_hhmm(s + i + 1, 1, &offset) != 0) {
            return -1;
        }
        if (s[i] == '-') {
            offset = -offset;
        }
    } else {
        return -1;
    }
    if (unix_seconds) {
        *unix_seconds = (int64_t)day * SECONDS_PER_DAY + (int64_t)hh * 3600 + mi * 60 + ss - offset;
    }
    return 0;
}

char *sgs_rfc3339_format(int64_t unix_seconds, int offset_seconds, char *buf)
{
    int64_t local = unix_seconds + offset_seconds;
    int sod = (int)floor_mod(local, SECONDS_PER_DAY);
    int off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
    int d;
    char *p = put_year_month(buf, (sgs_day)floor_div(local, SECONDS_PER_DAY), &d);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    /* Offsets are written to the minute; a UTC instant is written "+00:00" so
     * that every output has the same width (25 characters). */
    *p++ = offset_seconds < 0 ? '-' : '+';
    p = put_digits(p, off / 3600 % 100, 2);
    *p++ = ':';
    p = put_digits(p, off / 60 % 60, 2);
    *p = '\0';
    return buf;
}

sgs_day sgs_day_of_instant(int64_t unix_seconds, int offset_seconds)
{
    return (sgs_day)floor_div(unix_seconds + offset_seconds, SECONDS_PER_DAY);
}

int sgs_tz_offset_parse(const char *s, int *offset_seconds)
{
    if (s == NULL) {
        return -1;
    }
    int off;
    if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        off = 0;
    } else if (s[0] == '+' || s[0] == '-') {
        size_t n = 0;
        while (n < 6 && s[1 + n] != '\0') {
            n++;
        }
        if (s[1 + n] != '\0' || (n != 5 && n != 4)) {
            return -1;
        }
        if (parse_hhmm(s + 1, n == 5, &off) != 0) {
            return -1;
        }
        if (s[0] == '-') {
            off = -off;
        }
    } else {
        return -1;
    }
    if (offset_seconds) {
        *offset_seconds = off;
    }
    return 0;
}

int sgs_month_parse(const char *s, int *year, int *month)
{
    if (s == NULL) {
        return -1;
    }
    for (int i = 0; i < 7; i++) {
        if (s[i] == '\0') {
            return -1;
        }
    }
    if (s[7] != '\0' || s[4] != '-') {
        return -1;
    }
    int y = read_digits(s, 4);
    int m = read_digits(s + 5, 2);
    if (y < 1 || m < 1 || m > 12) {
        return -1;
    }
    if (year) {
        *year = y;
    }
    if (month) {
        *month = m;
    }
    return 0;
}

char *sgs_month_format(int year, int month, char *buf)
{
    int d;
    char *p = put_year_month(buf, sgs_month_first(year, month), &d);
    *p = '\0';
    return buf;
}

int sgs_month_days(int year, int month)
{
    return days_in_month(year, month);
}

void sgs_month_add(int *year, int *month, int delta)
{
    int64_t m = (int64_t)*year * 12 + (*month - 1) + delta;
    *year = (int)floor_div(m, 12);
    *month = (int)floor_mod(m, 12) + 1;
}

sgs_day sgs_month_first(int year, int month)
{
    return sgs_day_from_ymd(year, month, 1);
}

sgs_day sgs_month_last(int year, int month)
{
    return sgs_day_from_ymd(year, month, days_in_month(year, month));
}

/* libFuzzer target: sgs_calendar_load_buffer. The input is a calendar JSON.
 *
 * On a loaded calendar, for fixed dates (edges of the accepted years, the
 * shipped years, far past and future) and dates derived from the input's hash:
 * - is_workday and covers are 0/1, and outside covered years Monday-Friday;
 * - deadline(d, n) is a working day after d with exactly n working days in
 *   (d, deadline] and n - 1 before it; count_decision_day moves it by one
 *   working day exactly when d is one;
 * - workdays_between is 0 for empty spans, additive, and equals counting
 *   is_workday day by day over short spans;
 * - the fallback counter never goes down.
 * A refused file gives a one-line message naming it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgs/calendar.h"
#include "sgs/date.h"

#define NAME "fuzz-calendar.json"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

static uint64_t fallbacks_seen;

static void check_fallbacks(const sgs_calendar *cal)
{
    uint64_t now = sgs_calendar_fallbacks(cal);

    FUZZ_CHECK(now >= fallbacks_seen);
    fallbacks_seen = now;
}

static void check_day(const sgs_calendar *cal, sgs_day d)
{
    static const int ns[] = {1, 2, 7, 30};
    int w = sgs_calendar_is_workday(cal, d);
    int c = sgs_calendar_covers(cal, d);

    FUZZ_CHECK(w == 0 || w == 1);
    FUZZ_CHECK(c == 0 || c == 1);
    if (!c)
        FUZZ_CHECK(w == (sgs_day_weekday(d) < 5));
    FUZZ_CHECK(sgs_calendar_workdays_between(cal, d, d) == 0);
    FUZZ_CHECK(sgs_calendar_workdays_between(cal, d, d - 3) == 0);
    FUZZ_CHECK(sgs_calendar_workdays_between(cal, d - 1, d) == w);

    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        int n = ns[i];
        sgs_day dl = sgs_calendar_deadline(cal, d, n, 0);
        sgs_day dl1 = sgs_calendar_deadline(cal, d, n, 1);

        FUZZ_CHECK(dl > d);
        FUZZ_CHECK(sgs_calendar_is_workday(cal, dl) == 1);
        FUZZ_CHECK(sgs_calendar_workdays_between(cal, d, dl) == n);
        FUZZ_CHECK(sgs_calendar_workdays_between(cal, d, dl - 1) == n - 1);
        if (w) {
            FUZZ_CHECK(dl1 == (n == 1 ? d : sgs_calendar_deadline(cal, d, n - 1, 0)));
            FUZZ_CHECK(sgs_calendar_workdays_between(cal, d, dl1) == n - 1);
        } else {
            FUZZ_CHECK(dl1 == dl);
        }
    }
    check_fallbacks(cal);
}

/* Span (a, b]: additivity at its middle, and day-by-day counting when short. */
static void check_span(const sgs_calendar *cal, sgs_day a, sgs_day b)
{
    sgs_day m = a + (b - a) / 2;
    int total = sgs_calendar_workdays_between(cal, a, b);

    FUZZ_CHECK(total >= 0 && total <= b - a);
    FUZZ_CHECK(total ==
               sgs_calendar_workdays_between(cal, a, m) + sgs_calendar_workdays_between(cal, m, b));
    if (b - a <= 400) {
        int count = 0;

        for (sgs_day d = a + 1; d <= b; d++)
            count += sgs_calendar_is_workday(cal, d);
        FUZZ_CHECK(count == total);
    }
    check_fallbacks(cal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int fixed[][3] = {
        {1900, 1, 1},   {1900, 12, 31}, {1999, 12, 31}, {2023, 1, 1}, {2023, 10, 6},  {2024, 2, 29},
        {2024, 12, 31}, {2199, 12, 31}, {2200, 1, 1},   {1, 1, 1},    {1969, 12, 31}, {9999, 12, 1},
    };
    char err[512];
    sgs_calendar *cal;
    uint64_t h;

    err[0] = '\0';
    cal = sgs_calendar_load_buffer(NAME, (const char *)data, size, err, sizeof(err));
    if (cal == NULL) {
        FUZZ_CHECK(err[0] != '\0' && strncmp(err, NAME, strlen(NAME)) == 0);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    FUZZ_CHECK(sgs_calendar_name(cal) != NULL);
    fallbacks_seen = sgs_calendar_fallbacks(cal);
    FUZZ_CHECK(fallbacks_seen == 0);

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_day(cal, sgs_day_from_ymd(fixed[i][0], fixed[i][1], fixed[i][2]));

    /* Dates from the hash: years 1890-2209 (around the accepted range), and
     * spans of up to ~3 years, some short enough to count day by day. */
    h = fuzz_hash(data, size);
    for (int k = 0; k < 6; k++) {
        sgs_day base = sgs_day_from_ymd(1890, 1, 1);
        sgs_day a = base + (sgs_day)(h % (320 * 366));
        sgs_day b = a + (sgs_day)((h >> 24) % (k < 4 ? 400 : 1200));

        check_day(cal, a);
        check_span(cal, a, b);
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    check_span(cal, sgs_day_from_ymd(1, 1, 1), sgs_day_from_ymd(9999, 12, 31));
    sgs_calendar_destroy(cal);
    return 0;
}

/* Unit tests for sgs/calendar.h, against the shipped configs/calendar-cn.json
 * (found through SGS_CONFIGS, set by ctest) and in-memory bad files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "sgs/calendar.h"
#include "sgs/date.h"

static sgs_day D(const char *s)
{
    sgs_day d = 0;
    if (sgs_day_parse(s, strlen(s), &d) != 0) {
        fail_msg("bad date in test: %s", s);
    }
    return d;
}

static const char *configs_dir(void)
{
    const char *dir = getenv("SGS_CONFIGS");
    return dir ? dir : SGS_SOURCE_DIR "/configs";
}

static const char *data_dir(void)
{
    const char *dir = getenv("SGS_TEST_DATA");
    return dir ? dir : SGS_SOURCE_DIR "/tests/data";
}

static int setup_cn(void **state)
{
    char path[4096], err[512] = "";
    snprintf(path, sizeof(path), "%s/calendar-cn.json", configs_dir());
    sgs_calendar *cal = sgs_calendar_load(path, err, sizeof(err));
    if (cal == NULL) {
        fprintf(stderr, "cannot load %s: %s\n", path, err);
        return -1;
    }
    *state = cal;
    return 0;
}

static int teardown_cn(void **state)
{
    sgs_calendar_destroy(*state);
    return 0;
}

/* The test vectors of docs/RULES.md §1: decision date -> deadline (7 working
 * days, the decision day is day 0), and the same with the decision day counted
 * as day 1. Fri 2023-12-22 is day 0; 12-25..12-29 are days 1-5, 2024-01-01 is a
 * holiday, 01-02 is day 6 and 01-03 day 7 (an early version of the source
 * table said 01-02, which is what the count-decision-day variant gives). */
static const struct {
    const char *decided, *deadline, *deadline_counting_decision_day;
} vectors[] = {
    {"2023-01-19", "2023-02-02", "2023-02-01"}, {"2023-09-27", "2023-10-12", "2023-10-11"},
    {"2023-12-22", "2024-01-03", "2024-01-02"}, {"2024-02-08", "2024-02-23", "2024-02-22"},
    {"2024-04-03", "2024-04-15", "2024-04-12"}, {"2024-09-30", "2024-10-15", "2024-10-14"},
    {"2024-12-31", "2025-01-10", "2025-01-09"}, {"2025-01-24", "2025-02-10", "2025-02-08"},
    {"2025-04-30", "2025-05-14", "2025-05-13"}, {"2025-06-03", "2025-06-12", "2025-06-11"},
    {"2025-09-30", "2025-10-16", "2025-10-15"}, {"2026-02-12", "2026-02-28", "2026-02-27"},
    {"2026-09-24", "2026-10-12", "2026-10-10"},
};

static void test_deadline_vectors(void **state)
{
    const sgs_calendar *cal = *state;
    uint64_t fb = sgs_calendar_fallbacks(cal);
    char buf[11];
    assert_int_equal(sizeof(vectors) / sizeof(vectors[0]), 13);
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        sgs_day dl = sgs_calendar_deadline(cal, D(vectors[i].decided), 7, 0);
        assert_string_equal(sgs_day_format(dl, buf), vectors[i].deadline);
        /* The deadline is itself a working day and exactly 7 lie in (decided,
         * deadline]. */
        assert_true(sgs_calendar_is_workday(cal, dl));
        assert_int_equal(sgs_calendar_workdays_between(cal, D(vectors[i].decided), dl), 7);
    }
    assert_int_equal(sgs_calendar_fallbacks(cal), fb);
}

static void test_deadline_count_decision_day(void **state)
{
    const sgs_calendar *cal = *state;
    char buf[11];
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        sgs_day dl = sgs_calendar_deadline(cal, D(vectors[i].decided), 7, 1);
        assert_string_equal(sgs_day_format(dl, buf), vectors[i].deadline_counting_decision_day);
    }
    /* A decision on a day off: the variant changes nothing (02-10 is a
     * Saturday in the 春节 2024 holiday; 02-18 Sun is day 1). */
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2024-02-10"), 7, 0), buf),
                        "2024-02-26");
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2024-02-10"), 7, 1), buf),
                        "2024-02-26");
    /* n = 1 */
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2024-09-30"), 1, 0), buf),
                        "2024-10-08");
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2024-09-30"), 1, 1), buf),
                        "2024-09-30");
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2024-09-29"), 1, 1), buf),
                        "2024-09-29"); /* make-up Sunday */
}

static void test_workdays_per_year(void **state)
{
    const sgs_calendar *cal = *state;
    static const struct {
        int year, workdays;
    } want[] = {{2023, 249}, {2024, 251}, {2025, 248}, {2026, 248}};
    uint64_t fb = sgs_calendar_fallbacks(cal);
    for (size_t i = 0; i < 4; i++) {
        int y = want[i].year;
        sgs_day first = sgs_day_from_ymd(y, 1, 1), last = sgs_day_from_ymd(y, 12, 31);
        int n = 0;
        for (sgs_day d = first; d <= last; d++) {
            assert_true(sgs_calendar_covers(cal, d));
            n += sgs_calendar_is_workday(cal, d);
        }
        assert_int_equal(n, want[i].workdays);
        assert_int_equal(sgs_calendar_workdays_between(cal, first - 1, last), want[i].workdays);
    }
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2022-12-31"), D("2026-12-31")),
                     249 + 251 + 248 + 248);
    assert_int_equal(sgs_calendar_fallbacks(cal), fb);
}

static void test_special_days(void **state)
{
    const sgs_calendar *cal = *state;
    assert_true(sgs_calendar_is_workday(cal, D("2024-02-29")));
    assert_true(sgs_calendar_is_workday(cal, D("2024-02-04"))); /* Sunday, make-up */
    assert_true(sgs_calendar_is_workday(cal, D("2024-02-18"))); /* Sunday, make-up */
    assert_true(sgs_calendar_is_workday(cal, D("2026-02-28"))); /* Saturday, make-up */
    assert_true(sgs_calendar_is_workday(cal, D("2023-01-28")));
    assert_true(sgs_calendar_is_workday(cal, D("2023-01-29")));
    assert_false(sgs_calendar_is_workday(cal, D("2024-01-01")));
    assert_false(sgs_calendar_is_workday(cal, D("2024-02-15"))); /* Thursday, 春节 */
    assert_false(sgs_calendar_is_workday(cal, D("2025-10-08")));
    assert_false(sgs_calendar_is_workday(cal, D("2024-02-03"))); /* plain Saturday */
    assert_false(sgs_calendar_is_workday(cal, D("2023-01-01"))); /* Sunday, listed holiday */
    assert_true(sgs_calendar_is_workday(cal, D("2023-01-03")));
    assert_false(sgs_calendar_covers(cal, D("2022-12-31")));
    assert_false(sgs_calendar_covers(cal, D("2027-01-01")));
    assert_true(sgs_calendar_covers(cal, D("2023-01-01")));
    assert_true(sgs_calendar_covers(cal, D("2026-12-31")));
    assert_string_equal(sgs_calendar_name(cal), "cn (国务院办公厅 节假日安排 2023-2026)");
}

static void test_workdays_between(void **state)
{
    const sgs_calendar *cal = *state;
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2023-12-22"), D("2024-01-03")), 7);
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-01-03"), D("2024-01-05")), 2);
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-01-03"), D("2024-01-03")), 0);
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-01-05"), D("2024-01-03")), 0);
    /* A report on a holiday after the deadline: the holiday itself adds nothing.
     */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-09-30"), D("2024-10-07")), 0);
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-09-30"), D("2024-10-08")), 1);
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2024-02-03"), D("2024-02-04")), 1);

    /* The running sums agree with counting day by day, for many spans. */
    sgs_day lo = D("2023-01-01"), hi = D("2026-12-31");
    for (sgs_day from = lo - 1; from <= hi; from += 37) {
        int n = 0;
        for (sgs_day to = from + 1; to <= hi; to++) {
            n += sgs_calendar_is_workday(cal, to);
            if ((to - from) % 11 == 0 || to == hi) {
                assert_int_equal(sgs_calendar_workdays_between(cal, from, to), n);
            }
        }
    }
}

/* Calendar used by the fallback tests: its own counter and warned years. */
static sgs_calendar *load_cn(void)
{
    sgs_calendar *cal = NULL;
    assert_int_equal(setup_cn((void **)&cal), 0);
    return cal;
}

/* A calendar from the text of a good file: loaded, and without an error. */
static sgs_calendar *load_text(const char *name, const char *json)
{
    char err[256] = "";
    sgs_calendar *cal = sgs_calendar_load_buffer(name, json, strlen(json), err, sizeof(err));
    assert_non_null(cal);
    assert_string_equal(err, "");
    return cal;
}

/* Runs fn with stderr captured; returns how many captured lines contain needle.
 */
static int count_in_stderr(void (*fn)(sgs_calendar *), sgs_calendar *cal, const char *needle)
{
    char path[] = "/tmp/sgs-calendar-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    fn(cal);
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    close(fd);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        fputs(line, stderr); /* keep the log visible in test output */
        if (strstr(line, needle)) {
            n++;
        }
    }
    fclose(f);
    unlink(path);
    return n;
}

static void fallback_lookups(sgs_calendar *cal)
{
    assert_int_equal(sgs_calendar_fallbacks(cal), 0);
    assert_true(sgs_calendar_is_workday(cal, D("2027-03-01")));  /* Monday */
    assert_true(sgs_calendar_is_workday(cal, D("2027-03-05")));  /* Friday */
    assert_false(sgs_calendar_is_workday(cal, D("2027-03-06"))); /* Saturday */
    assert_false(sgs_calendar_is_workday(cal, D("2027-03-07"))); /* Sunday */
    assert_int_equal(sgs_calendar_fallbacks(cal), 4);
    /* Covered lookups do not count. */
    assert_true(sgs_calendar_is_workday(cal, D("2026-12-31")));
    assert_int_equal(sgs_calendar_fallbacks(cal), 4);
    assert_false(sgs_calendar_covers(cal, D("2027-03-01")));
    assert_int_equal(sgs_calendar_fallbacks(cal), 4);

    char buf[11];
    /* Fri 2027-03-05 + 7 Mon-Fri days: 03-08..03-12, 03-15, 03-16; 7 lookups */
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2027-03-05"), 7, 0), buf),
                        "2027-03-16");
    assert_int_equal(sgs_calendar_fallbacks(cal), 4 + 11);
    /* Across the end of the file: 2026-12-29..31 from the file, then Mon-Fri
     * (2027-01-01 is a Friday and counts: the file does not know it yet). */
    assert_string_equal(sgs_day_format(sgs_calendar_deadline(cal, D("2026-12-28"), 7, 0), buf),
                        "2027-01-06");
    assert_int_equal(sgs_calendar_fallbacks(cal), 15 + 6);
    /* (2026-12-30, 2027-01-05]: 12-31 from the file, 01-01, 01-04, 01-05 Mon-Fri;
     * each of the five 2027 days is a fallback lookup. */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2026-12-30"), D("2027-01-05")), 4);
    assert_int_equal(sgs_calendar_fallbacks(cal), 21 + 5);
    /* A whole fallback year: Mon-Fri days of 2027. */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2026-12-31"), D("2027-12-31")), 261);
    assert_int_equal(sgs_calendar_fallbacks(cal), 26 + 365);
    /* Before the file: 2022-12-30 Fri and 12-31 Sat fall back (12-31 is a
     * holiday in the notice, but the file does not list 2022). */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2022-12-29"), D("2023-01-04")), 3);
    assert_int_equal(sgs_calendar_fallbacks(cal), 391 + 2);
    assert_true(sgs_calendar_is_workday(cal, D("2028-06-01")));
    assert_int_equal(sgs_calendar_fallbacks(cal), 394);
}

static void more_2027_lookups(sgs_calendar *cal)
{
    for (int i = 0; i < 100; i++) {
        sgs_calendar_is_workday(cal, D("2027-06-01") + i);
    }
    assert_int_equal(sgs_calendar_fallbacks(cal), 494);
}

static void test_fallback_year(void **state)
{
    (void)state;
    sgs_calendar *cal = load_cn();
    /* One warning per year, however many lookups. */
    assert_int_equal(count_in_stderr(fallback_lookups, cal, "year 2027"), 1);
    assert_int_equal(count_in_stderr(more_2027_lookups, cal, "year 2027"), 0);
    sgs_calendar_destroy(cal);

    cal = load_cn();
    assert_int_equal(count_in_stderr(fallback_lookups, cal, "is not in the calendar"), 3);
    sgs_calendar_destroy(cal);
}

/* The counter and the warn-once flags are atomics: exact under contention. */
struct thread_arg {
    sgs_calendar *cal;
    int workdays;
};

static void *lookup_thread(void *p)
{
    struct thread_arg *a = p;
    sgs_day first = sgs_day_from_ymd(2030, 1, 1);
    for (int i = 0; i < 20000; i++) {
        a->workdays += sgs_calendar_is_workday(a->cal, first + i % 365);
    }
    return NULL;
}

static void threaded_lookups(sgs_calendar *cal)
{
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].cal = cal;
        args[i].workdays = 0;
        assert_int_equal(pthread_create(&t[i], NULL, lookup_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
    }
    for (int i = 1; i < 4; i++) {
        assert_int_equal(args[i].workdays, args[0].workdays);
    }
}

static void test_fallback_threads(void **state)
{
    (void)state;
    sgs_calendar *cal = load_cn();
    assert_int_equal(count_in_stderr(threaded_lookups, cal, "year 2030"), 1);
    assert_int_equal(sgs_calendar_fallbacks(cal), 4 * 20000);
    sgs_calendar_destroy(cal);
}

/* Loads text that must fail; checks the whole message. */
static void expect_error(const char *json, const char *want)
{
    char err[512];
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    sgs_calendar *cal = sgs_calendar_load_buffer("bad.json", json, strlen(json), err, sizeof(err));
    if (cal != NULL) {
        sgs_calendar_destroy(cal);
        fail_msg("loaded: %s", json);
    }
    assert_string_equal(err, want);
}

#define HEAD "{\"name\": \"t\", \"years\": [2023, 2024], "

static void test_bad_files(void **state)
{
    (void)state;
    /* impossible or malformed dates, naming the entry */
    expect_error(HEAD "\"holidays\": [\"2023-01-02\", \"2023-02-29\"], \"workdays\": []}",
                 "bad.json: holidays[1]: '2023-02-29' is not a valid date (YYYY-MM-DD)");
    expect_error(HEAD "\"holidays\": [], \"workdays\": [\"2023-1-28\"]}",
                 "bad.json: workdays[0]: '2023-1-28' is not a valid date (YYYY-MM-DD)");
    expect_error(HEAD "\"holidays\": [\"2023-01-02 \"], \"workdays\": []}",
                 "bad.json: holidays[0]: '2023-01-02 ' is not a valid date (YYYY-MM-DD)");
    /* both lists */
    expect_error(HEAD "\"holidays\": [\"2023-01-28\"], \"workdays\": [\"2023-01-28\"]}",
                 "bad.json: 2023-01-28 is listed both as holiday and as workday");
    /* a make-up working day on a weekday */
    expect_error(HEAD "\"holidays\": [], \"workdays\": [\"2023-01-30\"]}",
                 "bad.json: workdays[0]: 2023-01-30 is a Monday, already a working day "
                 "(make-up working days fall on weekends)");
    /* missing keys and wrong types, naming the key */
    expect_error("{\"name\": \"t\", \"years\": [2023], \"holidays\": []}",
                 "bad.json: missing key \"workdays\"");
    expect_error("{\"years\": [2023], \"holidays\": [], \"workdays\": []}",
                 "bad.json: missing key \"name\"");
    expect_error("{\"name\": \"t\", \"holidays\": [], \"workdays\": []}",
                 "bad.json: missing key \"years\"");
    expect_error("{\"name\": 5, \"years\": [2023], \"holidays\": [], \"workdays\": []}",
                 "bad.json: \"name\" must be a string");
    expect_error("{\"name\": \"t\", \"years\": 2023, \"holidays\": [], \"workdays\": []}",
                 "bad.json: \"years\" must be a non-empty array of years");
    expect_error("{\"name\": \"t\", \"years\": [], \"holidays\": [], \"workdays\": []}",
                 "bad.json: \"years\" must be a non-empty array of years");
    expect_error("{\"name\": \"t\", \"years\": [2023, \"2024\"], \"holidays\": [], "
                 "\"workdays\": []}",
                 "bad.json: years[1]: expected an integer year");
    expect_error("{\"name\": \"t\", \"years\": [2023.0], \"holidays\": [], "
                 "\"workdays\": []}",
                 "bad.json: years[0]: expected an integer year");
    expect_error("{\"name\": \"t\", \"years\": [2023, 2023], \"holidays\": [], "
                 "\"workdays\": []}",
                 "bad.json: years[1]: year 2023 is listed twice");
    expect_error("{\"name\": \"t\", \"years\": [99999999999999999], \"holidays\": [], "
                 "\"workdays\": []}",
                 "bad.json: years[0]: year 99999999999999999 is outside 1900-2199");
    expect_error(HEAD "\"holidays\": {}, \"workdays\": []}",
                 "bad.json: \"holidays\" must be an array of date strings");
    expect_error(HEAD "\"holidays\": [], \"workdays\": \"2023-01-28\"}",
                 "bad.json: \"workdays\" must be an array of date strings");
    expect_error(HEAD "\"holidays\": [20230101], \"workdays\": []}",
                 "bad.json: holidays[0]: expected a date string \"YYYY-MM-DD\"");
    expect_error(HEAD "\"holidays\": [null], \"workdays\": []}",
                 "bad.json: holidays[0]: expected a date string \"YYYY-MM-DD\"");
    /* not a JSON object */
    expect_error("[2023]", "bad.json: expected a JSON object at the top level");
}

/* Loads text that must fail; checks the start of the message and that it is one
 * line. */
static void expect_error_prefix(const char *json, size_t len, const char *prefix)
{
    char err[512] = "";
    sgs_calendar *cal = sgs_calendar_load_buffer("bad.json", json, len, err, sizeof(err));
    if (cal != NULL) {
        sgs_calendar_destroy(cal);
        fail_msg("loaded: %.*s", (int)len, json);
    }
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        fail_msg("message '%s' does not start with '%s'", err, prefix);
    }
    assert_null(strchr(err, '\n'));
}

static void test_not_json(void **state)
{
    (void)state;
    expect_error_prefix("", 0, "bad.json: line ");
    expect_error_prefix("not json", 8, "bad.json: line 1 column ");
    expect_error_prefix("\"text\"", 6, "bad.json: line 1 column ");
    const char *two_lines = "{\"name\": \"t\",\n \"years\": [2023,]}";
    expect_error_prefix(two_lines, strlen(two_lines), "bad.json: line 2 column ");
    expect_error_prefix("{\"name\": \"t\"", 12, "bad.json: line 1 column ");
    /* duplicate keys are refused by the parser */
    const char *dup = "{\"name\": \"t\", \"name\": \"u\", \"years\": [2023], \"holidays\": [], "
                      "\"workdays\": []}";
    expect_error_prefix(dup, strlen(dup), "bad.json: line 1 column ");
    /* the length given is the document: text after it is not read */
    const char *ok = "{\"name\": \"t\", \"years\": [2023], \"holidays\": [], "
                     "\"workdays\": []}";
    sgs_calendar *cal = load_text("ok.json", ok);
    assert_string_equal(sgs_calendar_name(cal), "t");
    sgs_calendar_destroy(cal);
    expect_error_prefix(ok, strlen(ok) - 1, "bad.json: line 1 column ");
}

static void test_small_calendar(void **state)
{
    (void)state;
    /* Two non-adjacent years: 2024 between them falls back. Extra keys ignored;
     * a repeated date inside one list is harmless. */
    const char *json = "{\"name\": \"small\", \"source\": \"test\", \"years\": [2025, 2023], "
                       "\"holidays\": [\"2023-01-02\", \"2023-01-02\", \"2025-01-01\", "
                       "\"2023-01-01\"], \"workdays\": [\"2025-01-04\"]}";
    sgs_calendar *cal = load_text("small.json", json);
    assert_false(sgs_calendar_is_workday(cal, D("2023-01-02")));
    assert_true(sgs_calendar_is_workday(cal, D("2023-01-03")));
    assert_true(sgs_calendar_is_workday(cal, D("2025-01-04")));
    assert_false(sgs_calendar_is_workday(cal, D("2025-01-01")));
    assert_true(sgs_calendar_covers(cal, D("2023-06-01")));
    assert_false(sgs_calendar_covers(cal, D("2024-06-01")));
    assert_true(sgs_calendar_covers(cal, D("2025-06-01")));
    assert_int_equal(sgs_calendar_fallbacks(cal), 0);
    /* 2023: 260 Mon-Fri minus 01-02; 2024 Mon-Fri (262, fallback); 2025: 261 - 1
     * + 1 */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2022-12-31"), D("2025-12-31")),
                     259 + 262 + 261);
    assert_int_equal(sgs_calendar_fallbacks(cal), 366);
    sgs_calendar_destroy(cal);
}

/* Dates in years the file does not list are not used (those years count
 * Monday to Friday), whatever the lists say of them; the load goes on. The
 * public lists give 2023's New Year break from 2022-12-31. */
static void test_dates_of_unlisted_years(void **state)
{
    (void)state;
    const char *json = "{\"name\": \"t\", \"years\": [2023, 2025], \"holidays\": "
                       "[\"2022-12-31\", \"2023-01-01\", \"2023-01-02\", \"2024-01-01\"], "
                       "\"workdays\": [\"2023-01-28\", \"2024-02-04\", \"2026-01-04\", "
                       "\"2026-01-05\"]}";
    sgs_calendar *cal = load_text("t.json", json);
    /* the listed years' dates are used */
    assert_false(sgs_calendar_is_workday(cal, D("2023-01-02")));
    assert_true(sgs_calendar_is_workday(cal, D("2023-01-28")));
    /* the others count Monday to Friday: 2024-01-01 is a Monday, 2024-02-04
     * a Sunday, 2022-12-31 a Saturday; a make-up day on a weekday in an
     * unlisted year (2026-01-05) is not refused either */
    assert_true(sgs_calendar_is_workday(cal, D("2024-01-01")));
    assert_false(sgs_calendar_is_workday(cal, D("2024-02-04")));
    assert_false(sgs_calendar_is_workday(cal, D("2022-12-31")));
    assert_false(sgs_calendar_is_workday(cal, D("2026-01-04")));
    assert_false(sgs_calendar_covers(cal, D("2024-01-01")));
    /* a decision on Friday 2022-12-30 (2022 unlisted): the 7 working days
     * run Mon-Fri through 2022-12-31, then by the 2023 list */
    assert_int_equal(sgs_calendar_workdays_between(cal, D("2022-12-30"), D("2023-01-03")), 1);
    sgs_calendar_destroy(cal);
}

/* The deadline as the rule says it, a day at a time. */
static sgs_day deadline_walk(const sgs_calendar *cal, sgs_day decision, int n,
                             int count_decision_day)
{
    int left = n;
    sgs_day day = decision;
    if (count_decision_day && left > 0 && sgs_calendar_is_workday(cal, decision)) {
        left--;
    }
    while (left > 0) {
        day++;
        left -= sgs_calendar_is_workday(cal, day);
    }
    return day;
}

/* sgs_calendar_deadline (the running sums where the days are listed) gives
 * the walk's day for every decision day in and around the calendar, every
 * count of days, both ways of counting the decision day; and as many
 * fallback lookups (the walk's over unlisted days). */
static void deadline_as_walked(sgs_calendar *cal, sgs_day from, sgs_day to)
{
    static const int counts[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,   9,   10,  11,  12,
                                 13, 14, 15, 20, 25, 30, 45, 60, 100, 199, 200, 201, 260};
    for (sgs_day d = from; d <= to; d++) {
        for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
            for (int first = 0; first < 2; first++) {
                uint64_t f0 = sgs_calendar_fallbacks(cal);
                sgs_day want = deadline_walk(cal, d, counts[k], first);
                uint64_t f1 = sgs_calendar_fallbacks(cal);
                sgs_day got = sgs_calendar_deadline(cal, d, counts[k], first);
                uint64_t f2 = sgs_calendar_fallbacks(cal);
                if (got != want || f2 - f1 != f1 - f0) {
                    char a[11], b[11], c[11];
                    fail_msg("decision %s, %d days (%s): %s, walked %s; fallback lookups %llu, "
                             "walked %llu",
                             sgs_day_format(d, a), counts[k], first ? "counted" : "day 0",
                             sgs_day_format(got, b), sgs_day_format(want, c),
                             (unsigned long long)(f2 - f1), (unsigned long long)(f1 - f0));
                }
            }
        }
    }
}

static void test_deadline_as_walked(void **state)
{
    (void)state;
    /* the shipped calendar (its own copy: its fallback counter), from a year
     * before it to one after */
    sgs_calendar *cal = load_cn();
    deadline_as_walked(cal, D("2022-01-01"), D("2028-01-31"));
    sgs_calendar_destroy(cal);
    /* an unlisted year between two listed ones, and around them */
    const char *json = "{\"name\": \"t\", \"years\": [2023, 2025], \"holidays\": "
                       "[\"2023-01-02\", \"2023-12-29\", \"2025-01-01\", \"2025-10-01\", "
                       "\"2025-10-02\", \"2025-10-03\", \"2025-10-06\", \"2025-10-07\"], "
                       "\"workdays\": [\"2023-01-28\", \"2025-09-28\", \"2025-10-11\"]}";
    sgs_calendar *gap = load_text("t.json", json);
    deadline_as_walked(gap, D("2022-10-01"), D("2026-03-31"));
    sgs_calendar_destroy(gap);
}

static void test_load_files(void **state)
{
    (void)state;
    char path[4096], err[512] = "";
    sgs_calendar *cal = sgs_calendar_load("/nonexistent/calendar.json", err, sizeof(err));
    assert_null(cal);
    assert_string_equal(err, "/nonexistent/calendar.json: cannot open: No such file or directory");

    /* A file's errors start with its path. */
    snprintf(path, sizeof(path), "%s/calendar-bad-both.json", data_dir());
    cal = sgs_calendar_load(path, err, sizeof(err));
    assert_null(cal);
    char want[4200];
    snprintf(want, sizeof(want), "%s: 2024-02-18 is listed both as holiday and as workday", path);
    assert_string_equal(err, want);

    /* destroy accepts NULL; a NULL or empty errstr is allowed */
    sgs_calendar_destroy(NULL);
    assert_null(sgs_calendar_load_buffer("x", "[]", 2, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest shipped[] = {
        cmocka_unit_test(test_deadline_vectors),
        cmocka_unit_test(test_deadline_count_decision_day),
        cmocka_unit_test(test_workdays_per_year),
        cmocka_unit_test(test_special_days),
        cmocka_unit_test(test_workdays_between),
    };
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_fallback_year),  cmocka_unit_test(test_fallback_threads),
        cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_small_calendar), cmocka_unit_test(test_dates_of_unlisted_years),
        cmocka_unit_test(test_load_files),     cmocka_unit_test(test_deadline_as_walked),
    };
    int failed = cmocka_run_group_tests_name("calendar-cn.json", shipped, setup_cn, teardown_cn);
    failed += cmocka_run_group_tests_name("calendar", others, NULL, NULL);
    return failed;
}

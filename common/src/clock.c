/* Clocks in milliseconds, and nanoseconds for durations (clock.h). */
#include "sgs/clock.h"

#include <string.h>
#include <time.h>

#include "sgs/date.h"

static int64_t ms_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sgs_clock_mono_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

int64_t sgs_clock_mono_coarse_ms(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    return ms_of(CLOCK_MONOTONIC_COARSE);
#else
    return ms_of(CLOCK_MONOTONIC);
#endif
}

int64_t sgs_clock_wall_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}

int64_t sgs_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int sgs_clock_parse_now(const char *text, int tz_offset, int64_t *instant)
{
    sgs_day day;
    int64_t t;

    if (sgs_day_parse(text, strlen(text), &day) == 0) {
        /* that date, at the current local time of day */
        int64_t now = sgs_clock_wall_ms() / 1000 + tz_offset;
        int64_t secs = now - (int64_t)sgs_day_of_instant(now, 0) * 86400;

        *instant = (int64_t)day * 86400 + secs - tz_offset;
        return 0;
    }
    if (sgs_rfc3339_parse(text, strlen(text), &t) == 0) {
        *instant = t;
        return 0;
    }
    return -1;
}

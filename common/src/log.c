/* One line per event on stderr; one fprintf per line keeps lines whole across threads. */
#include "sgs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *program = "sgs";
static enum sgs_log_level min_level = SGS_LOG_INFO;

void sgs_log_set_program(const char *name)
{
    program = name ? name : "sgs";
}

void sgs_log_set_level(enum sgs_log_level level)
{
    min_level = level;
}

enum sgs_log_level sgs_log_get_level(void)
{
    return min_level;
}

void sgs_log(enum sgs_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char line[2048];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %s: %s: %s\n", stamp, ts.tv_nsec / 1000000L, program, names[level],
            line);
}

void sgs_set_error(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    if (errstr == NULL || errstr_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    for (char *p = errstr; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

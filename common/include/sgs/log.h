/* Logging: one line per event on stderr,
 * "<UTC timestamp> <program>: <level>: <message>".
 * Thread-safe (one fprintf per line). */
#ifndef SGS_LOG_H
#define SGS_LOG_H

#include <stddef.h>

enum sgs_log_level { SGS_LOG_DEBUG = 0, SGS_LOG_INFO = 1, SGS_LOG_WARN = 2, SGS_LOG_ERROR = 3 };

/* Program name printed in front of every line (static string, not copied). */
void sgs_log_set_program(const char *name);
void sgs_log_set_level(enum sgs_log_level level);
enum sgs_log_level sgs_log_get_level(void);
void sgs_log(enum sgs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sgs_debug(...) sgs_log(SGS_LOG_DEBUG, __VA_ARGS__)
#define sgs_info(...)  sgs_log(SGS_LOG_INFO, __VA_ARGS__)
#define sgs_warn(...)  sgs_log(SGS_LOG_WARN, __VA_ARGS__)
#define sgs_error(...) sgs_log(SGS_LOG_ERROR, __VA_ARGS__)

/* An error for the caller's errstr (may be NULL or size 0: nothing written),
 * kept on one line whatever was quoted into it (line breaks become spaces). */
void sgs_set_error(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

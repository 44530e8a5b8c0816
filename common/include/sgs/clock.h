/* Clocks in milliseconds. */
#ifndef SGS_CLOCK_H
#define SGS_CLOCK_H

#include <stdint.h>

/* Monotonic time (for timeouts and durations). */
int64_t sgs_clock_mono_ms(void);
/* The same clock as of the last timer tick (1-10 ms behind, a fifth of the
 * cost): for reads once per message, where a tick's error does not matter. */
int64_t sgs_clock_mono_coarse_ms(void);
/* Monotonic time in nanoseconds (latencies). */
int64_t sgs_clock_mono_ns(void);
/* Real time, Unix epoch (for what is shown or stored). */
int64_t sgs_clock_wall_ms(void);

/* SGS_NOW, the programs' fixed clock for tests and demos: YYYY-MM-DD (that
 * local date at the current local time of day, tz_offset seconds east of UTC)
 * or an RFC 3339 instant, into Unix seconds. 0, or -1 when text is neither. */
int sgs_clock_parse_now(const char *text, int tz_offset, int64_t *instant);

#endif

/* Clocks in milliseconds. */
#ifndef SGS_CLOCK_H
#define SGS_CLOCK_H

#include <stdint.h>

/* Monotonic time (for timeouts and durations). */
int64_t sgs_clock_mono_ms(void);
/* Monotonic time in nanoseconds (latencies). */
int64_t sgs_clock_mono_ns(void);
/* Real time, Unix epoch (for what is shown or stored). */
int64_t sgs_clock_wall_ms(void);

#endif

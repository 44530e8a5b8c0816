/* The Prometheus text exposition format (version 0.0.4) for the programs'
 * /metrics: family headers, samples with escaped label values, histograms with
 * fixed buckets in seconds. Output goes to an sgs_buf. */
#ifndef SGS_PROM_H
#define SGS_PROM_H

#include <stdint.h>

#include "sgs/buf.h"

/* The Content-Type of the text format. */
#define SGS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds (seconds) of the latency histograms' buckets; +Inf is implied. */
#define SGS_PROM_N_BUCKETS 14
extern const double sgs_prom_buckets[SGS_PROM_N_BUCKETS];

/* A latency histogram: counts per bucket (not cumulative), sum, count. Not
 * synchronised: the owner locks or copies. */
typedef struct sgs_prom_hist {
    uint64_t bucket[SGS_PROM_N_BUCKETS + 1]; /* the last one is +Inf */
    uint64_t count;
    double sum;
} sgs_prom_hist;

void sgs_prom_hist_observe(sgs_prom_hist *h, double seconds);
/* Adds every observation of from to to. */
void sgs_prom_hist_merge(sgs_prom_hist *to, const sgs_prom_hist *from);

/* "# HELP name help\n# TYPE name type\n". */
void sgs_prom_family(sgs_buf *b, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. labels is the inside of the braces, already
 * escaped (sgs_prom_label), or NULL/"" for none. */
void sgs_prom_u64(sgs_buf *b, const char *name, const char *labels, uint64_t v);
void sgs_prom_i64(sgs_buf *b, const char *name, const char *labels, int64_t v);
void sgs_prom_double(sgs_buf *b, const char *name, const char *labels, double v);
/* Appends key="value" (value escaped: backslash, quote, newline), preceded by
 * a comma unless first. */
void sgs_prom_label(sgs_buf *b, const char *key, const char *value, int first);
/* The _bucket (cumulative, with le), _sum and _count lines of a histogram. */
void sgs_prom_hist_write(sgs_buf *b, const char *name, const char *labels, const sgs_prom_hist *h);
/* The families both programs export on the calendar's horizon and the SIGHUP
 * reloads: sgs_calendar_last_year, sgs_calendar_days_left (negative after the
 * last year) and sgs_config_reloads_total{result="ok|error"}. */
void sgs_prom_calendar(sgs_buf *b, int last_year, long days_left, uint64_t reloads_ok,
                       uint64_t reloads_error);

#endif

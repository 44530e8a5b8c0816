/* Prometheus text format (sgs/prom.h). */
#include "sgs/prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* From 1 ms (a batch script on loopback) to 10 s (a Redis that stalls). */
const double sgs_prom_buckets[SGS_PROM_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  5,     10,   30};

void sgs_prom_hist_observe(sgs_prom_hist *h, double seconds)
{
    size_t i = 0;

    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    while (i < SGS_PROM_N_BUCKETS && seconds > sgs_prom_buckets[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += seconds;
}

void sgs_prom_hist_merge(sgs_prom_hist *to, const sgs_prom_hist *from)
{
    for (size_t i = 0; i <= SGS_PROM_N_BUCKETS; i++)
        to->bucket[i] += from->bucket[i];
    to->count += from->count;
    to->sum += from->sum;
}

void sgs_prom_family(sgs_buf *b, const char *name, const char *type, const char *help)
{
    sgs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_head(sgs_buf *b, const char *name, const char *labels)
{
    sgs_buf_puts(b, name);
    if (labels && *labels) {
        sgs_buf_putc(b, '{');
        sgs_buf_puts(b, labels);
        sgs_buf_putc(b, '}');
    }
    sgs_buf_putc(b, ' ');
}

void sgs_prom_u64(sgs_buf *b, const char *name, const char *labels, uint64_t v)
{
    sample_head(b, name, labels);
    sgs_buf_printf(b, "%" PRIu64 "\n", v);
}

void sgs_prom_i64(sgs_buf *b, const char *name, const char *labels, int64_t v)
{
    sample_head(b, name, labels);
    sgs_buf_printf(b, "%" PRId64 "\n", v);
}

void sgs_prom_double(sgs_buf *b, const char *name, const char *labels, double v)
{
    sample_head(b, name, labels);
    if (isnan(v))
        sgs_buf_puts(b, "NaN\n");
    else if (isinf(v))
        sgs_buf_puts(b, v > 0 ? "+Inf\n" : "-Inf\n");
    else
        sgs_buf_printf(b, "%.17g\n", v);
}

void sgs_prom_label(sgs_buf *b, const char *key, const char *value, int first)
{
    if (!first)
        sgs_buf_putc(b, ',');
    sgs_buf_puts(b, key);
    sgs_buf_puts(b, "=\"");
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            sgs_buf_puts(b, "\\\\");
        else if (*p == '"')
            sgs_buf_puts(b, "\\\"");
        else if (*p == '\n')
            sgs_buf_puts(b, "\\n");
        else
            sgs_buf_putc(b, *p);
    }
    sgs_buf_putc(b, '"');
}

void sgs_prom_hist_write(sgs_buf *b, const char *name, const char *labels, const sgs_prom_hist *h)
{
    char metric[256], lab[512];
    uint64_t cum = 0;
    const char *sep = labels && *labels ? "," : "";

    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (size_t i = 0; i <= SGS_PROM_N_BUCKETS; i++) {
        cum += h->bucket[i];
        if (i < SGS_PROM_N_BUCKETS)
            snprintf(lab, sizeof(lab), "%s%sle=\"%g\"", labels ? labels : "", sep,
                     sgs_prom_buckets[i]);
        else
            snprintf(lab, sizeof(lab), "%s%sle=\"+Inf\"", labels ? labels : "", sep);
        sgs_prom_u64(b, metric, lab, cum);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    sgs_prom_double(b, metric, labels, h->sum);
    snprintf(metric, sizeof(metric), "%s_count", name);
    sgs_prom_u64(b, metric, labels, h->count);
}

void sgs_prom_calendar(sgs_buf *b, int last_year, long days_left, uint64_t reloads_ok,
                       uint64_t reloads_error)
{
    sgs_prom_family(b, "sgs_calendar_last_year", "gauge",
                    "the last year calendar.file lists (its holidays and make-up working days)");
    sgs_prom_i64(b, "sgs_calendar_last_year", NULL, last_year);
    sgs_prom_family(b, "sgs_calendar_days_left", "gauge",
                    "days from today to December 31st of the calendar's last year (negative "
                    "after it); at 60 or less the next year must be added");
    sgs_prom_i64(b, "sgs_calendar_days_left", NULL, days_left);
    sgs_prom_family(b, "sgs_config_reloads_total", "counter",
                    "reloads of units.file and calendar.file on SIGHUP, by result");
    sgs_prom_u64(b, "sgs_config_reloads_total", "result=\"ok\"", reloads_ok);
    sgs_prom_u64(b, "sgs_config_reloads_total", "result=\"error\"", reloads_error);
}

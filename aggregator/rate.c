/* Rates of the reports (late rate, quality rate, shares, growth): percentages
 * rounded half-up to 2 decimals in integer arithmetic, so that every report file
 * and every platform prints the same figure. */
#include "agg.h"

#include <string.h>

int64_t sgs_agg_rate_hundredths(int64_t num, int64_t den)
{
    if (den <= 0)
        return -1;
    if (num < 0)
        num = 0;
    /* round(num * 10000 / den) half-up: floor((2 * num * 10000 + den) / (2 * den)).
     * Counters stay far below 2^63 / 20000. */
    return (num * 20000 + den) / (2 * den);
}

json_t *sgs_agg_rate_json(int64_t num, int64_t den)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    /* h / 100.0 is the double nearest to the 2-decimal value; dumped with 15
     * significant digits it prints as that decimal. */
    return h < 0 ? json_null() : json_real((double)h / 100.0);
}

char *sgs_agg_rate_text(int64_t num, int64_t den, char *buf)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    if (h < 0)
        strcpy(buf, "-");
    else
        snprintf(buf, SGS_AGG_RATE_TEXT_MAX, "%lld.%02lld", (long long)(h / 100),
                 (long long)(h % 100));
    return buf;
}

void sgs_agg_rate_put(sgs_buf *b, int64_t num, int64_t den)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    /* what %.15g of h / 100.0 prints, with jansson's ".0" for whole numbers */
    if (h < 0)
        sgs_buf_puts(b, "null");
    else if (h % 100 == 0)
        sgs_buf_printf(b, "%lld.0", (long long)(h / 100));
    else if (h % 10 == 0)
        sgs_buf_printf(b, "%lld.%lld", (long long)(h / 100), (long long)(h % 100 / 10));
    else
        sgs_buf_printf(b, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
}

int64_t sgs_agg_rate_valid_count(int64_t records, int64_t invalid)
{
    return records > invalid ? records - invalid : 0;
}

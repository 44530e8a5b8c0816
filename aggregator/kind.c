/* Kinds of decision: the canonical names of the records and Redis identities
 * (sgs_kind_name: "license", "penalty"), the names a spot-check sample may use,
 * and the Chinese labels of the notice. */
#include "agg.h"

#include <string.h>

#include "sgs/record.h"

static int eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

enum sgs_kind sgs_agg_kind_of(const char *s, size_t len)
{
    if (eq(s, len, sgs_kind_name(SGS_KIND_LICENSE)))
        return SGS_KIND_LICENSE;
    if (eq(s, len, sgs_kind_name(SGS_KIND_PENALTY)))
        return SGS_KIND_PENALTY;
    return SGS_KIND_NONE;
}

const char *sgs_agg_kind_parse(const char *s, size_t len)
{
    enum sgs_kind k = sgs_agg_kind_of(s, len);

    if (k == SGS_KIND_NONE && (eq(s, len, "行政许可") || eq(s, len, "许可")))
        k = SGS_KIND_LICENSE;
    else if (k == SGS_KIND_NONE && (eq(s, len, "行政处罚") || eq(s, len, "处罚")))
        k = SGS_KIND_PENALTY;
    return k == SGS_KIND_NONE ? NULL : sgs_kind_name(k);
}

const char *sgs_agg_kind_label(const char *kind)
{
    return sgs_agg_kind_of(kind, strlen(kind)) == SGS_KIND_LICENSE ? "行政许可" : "行政处罚";
}

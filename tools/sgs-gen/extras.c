/* sgs-gen: what a message carries after its record's own items, in both
 * writers: the op of an update or revoke (native "op", national
 * "SYNC_STATUS"), then the extras of the JSONL file ("_kafka_timestamp_ms",
 * "_kafka_key"). */
#include "gen.h"

void gen_extras_put(sgs_buf *b, const struct render *m, int national, int *first)
{
    if (m->type == EV_UPDATE || m->type == EV_REVOKE) {
        int update = m->type == EV_UPDATE;
        if (national)
            jkv(b, "SYNC_STATUS", update ? "U" : "D", first);
        else
            jkv(b, "op", update ? "update" : "revoke", first);
    }
    if (m->with_ts) {
        jkey(b, "_kafka_timestamp_ms", first);
        sgs_buf_put_i64(b, m->ts_ms);
    }
    if (m->with_key)
        jkv_or_null(b, "_kafka_key", m->key, first);
}

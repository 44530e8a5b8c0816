/* Reading ahead (ahead.h): the messages in hand and their records. */
#include "ahead.h"

#include <stdlib.h>

struct sgs_ahead {
    const sgs_rules *rules;
    int n;
    int parsed; /* messages [0, parsed) have their record */
    rd_kafka_message_t *m[SGS_AHEAD_MAX];
    uint32_t gen[SGS_AHEAD_MAX];
    int64_t ts[SGS_AHEAD_MAX];
    sgs_record *rec; /* SGS_AHEAD_MAX of them, reused */
};

sgs_ahead *sgs_ahead_new(const sgs_rules *rules)
{
    sgs_ahead *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->rules = rules;
    /* only what a parse writes is ever touched: a valid record's first 2 KB */
    a->rec = malloc(SGS_AHEAD_MAX * sizeof(*a->rec));
    if (!a->rec) {
        free(a);
        return NULL;
    }
    return a;
}

void sgs_ahead_free(sgs_ahead *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->n; i++)
        rd_kafka_message_destroy(a->m[i]);
    free(a->rec);
    free(a);
}

int sgs_ahead_count(const sgs_ahead *a)
{
    return a->n;
}

int sgs_ahead_room(const sgs_ahead *a)
{
    return SGS_AHEAD_MAX - a->n;
}

void sgs_ahead_put(sgs_ahead *a, rd_kafka_message_t *m, int64_t timestamp_ms, uint32_t gen)
{
    a->m[a->n] = m;
    a->ts[a->n] = timestamp_ms;
    a->gen[a->n++] = gen;
}

void sgs_ahead_parse(sgs_ahead *a)
{
    for (; a->parsed < a->n; a->parsed++) {
        const rd_kafka_message_t *m = a->m[a->parsed];
        if (m->err)
            continue; /* an event (end of partition, error): taken as it is */
        sgs_record_parse(a->rules, m->payload ? m->payload : "", m->payload ? m->len : 0,
                         a->ts[a->parsed], &a->rec[a->parsed]);
    }
}

int sgs_ahead_take(sgs_ahead *a, int i, rd_kafka_message_t **m, uint32_t *gen,
                   const sgs_record **rec)
{
    if (i >= a->parsed)
        return 0;
    *m = a->m[i];
    *gen = a->gen[i];
    *rec = &a->rec[i];
    return 1;
}

void sgs_ahead_clear(sgs_ahead *a)
{
    a->n = 0;
    a->parsed = 0;
}

/* What a decided batch adds (tally.c): the counter increments per key and
 * field (P:T:m:<month>, P:T:d:<day>), and the rolling late rate of the units
 * it touches, from the day buckets and the late-rate state as the identity
 * cache holds them (idcache.h: kinds SGS_IDC_DAY and SGS_IDC_LR), so that the
 * batch script only adds and writes (docs/REDIS.md, "The batch script"). */
#ifndef SGS_CONSUMER_TALLY_H
#define SGS_CONSUMER_TALLY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "batch.h"
#include "idcache.h"
#include "sgs/buf.h"
#include "sgs/registry.h"

/* A counter key's suffix: ":m:YYYY-MM" or ":d:YYYY-MM-DD", NUL-padded. */
#define SGS_TALLY_KEY_MAX 16

/* One counter field's increment. */
typedef struct sgs_tally_cell {
    char key[SGS_TALLY_KEY_MAX]; /* the key suffix (key_len bytes, zeros after) */
    size_t field_off;            /* "<unit>|<counter>" in text */
    uint32_t key_len, field_len;
    int64_t delta;
} sgs_tally_cell;

/* Whether two cells are fields of one key (adjacent once the tally is sorted). */
static inline int sgs_tally_same_key(const sgs_tally_cell *x, const sgs_tally_cell *y)
{
    return memcmp(x->key, y->key, sizeof(x->key)) == 0;
}

/* A late-rate state change: P:T:lr <unit> -> value. */
typedef struct sgs_tally_lr {
    uint32_t unit; /* registry index */
    int64_t value;
} sgs_tally_lr;

/* The late-rate rule (alert.*). thr < 0: no late-rate alerts. */
typedef struct sgs_tally_conf {
    const char *topic;
    const sgs_registry *registry;
    long thr;    /* threshold, hundredths of a percent */
    long minrec; /* minimum records in the window */
    int window;  /* days */
    const char *thrtext;
} sgs_tally_conf;

typedef struct sgs_tally {
    sgs_buf text;          /* key suffixes, fields, alert JSON */
    sgs_tally_cell *cells; /* sorted by key when done: a key's fields are adjacent */
    size_t n_cells, cap_cells;
    uint32_t *slots; /* open addressing over cells (index + 1) */
    size_t cap_slots;
    sgs_tally_lr *lr;
    size_t n_lr, cap_lr;
    size_t *alerts; /* late_rate alerts: offsets in text, each followed by its length */
    size_t n_alerts, cap_alerts;
    uint32_t *alert_unit; /* the unit of each alert */
    int oom;
} sgs_tally;

/* The cache entries the late rate of batch b needs (day buckets of the
 * window of every unit it may count records for, and their late-rate
 * states), through need(ctx, kind, suffix, field, len): -1 on failure. */
typedef int (*sgs_tally_need_fn)(void *ctx, char kind, const char *sfx, const char *field,
                                 size_t field_len);
int sgs_tally_plan(const sgs_tally_conf *cf, const sgs_batch *b, sgs_tally_need_fn need, void *ctx);

/* Tallies decided batch b (ident.seen set) into t, adds its day-bucket
 * increments to the cache and decides the late-rate crossings (cache: the
 * state after the batch). -1 when out of memory. */
int sgs_tally_batch(sgs_tally *t, const sgs_tally_conf *cf, const sgs_batch *b, sgs_idcache *c);

void sgs_tally_free(sgs_tally *t);

#endif

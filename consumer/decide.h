/* Deciding a batch's identities in the consumer (docs/REDIS.md, "The identity
 * cache"): which identities the store already has, and the values of the
 * identity-store fields the batch changes, from the partition's cache
 * (idcache.h). Pure code over the batch and the cache: the reads of the
 * fields the cache lacks are the writer's. */
#ifndef SGS_CONSUMER_DECIDE_H
#define SGS_CONSUMER_DECIDE_H

#include <stddef.h>

#include "batch.h"
#include "idcache.h"
#include "tally.h"

/* The cache entries one batch uses. */
typedef struct sgs_decide_list {
    sgs_idc_entry **v;
    size_t n, cap;
} sgs_decide_list;

/* Links each identity of b to the cache entries it needs (added as pending
 * when missing) and lists the identity-store entries b uses in *used (each
 * once, sorted by key: a key's fields are adjacent), and in *miss those to
 * read from Redis first, with the day buckets and late-rate states the late
 * rate needs (tally.h). Starts a new mark of the cache. -1 when out of memory
 * (the cache is then cleared). */
int sgs_decide_plan(sgs_idcache *c, const sgs_tally_conf *cf, sgs_batch *b, sgs_decide_list *used,
                    sgs_decide_list *miss);

/* Adds to *miss, the entries a plan found missing, what the next batches
 * will likely need, when the cache lacks it and nothing listed it yet: the
 * chunk after each bitmap and gap chunk in *used (the same field with chunk +
 * 1; a chunk is 8,192 serials) and the same day-bucket field on the
 * SGS_DECIDE_DAYS_AHEAD days after each one in *miss. Read along with the
 * misses, they spare the reads a stream needs as its sequences go on into the
 * next chunk and its report days go by: at full speed, one such read every
 * round (docs/PERFORMANCE.md). -1 when out of memory (the cache is then
 * cleared). */
#define SGS_DECIDE_DAYS_AHEAD 3
int sgs_decide_ahead(sgs_idcache *c, const sgs_decide_list *used, sgs_decide_list *miss);

/* Decides, once every planned entry is known: drops the identity-store keys
 * whose expiry has come by the batch's clock (b->t0), sets ident.too_old for
 * the old identities that may have been in a dropped incarnation of their key
 * and ident.seen for the others from the store's state before the batch, then
 * adds the batch's new identities (bits, own fields, gap bits) to the cache,
 * marking the entries it changes dirty and giving every entry of a key
 * written the key's expiry, and the key its new expiry; then tallies the
 * batch into *t (counters, late rate). -1 when out of memory (the cache is
 * then cleared). */
int sgs_decide_apply(sgs_idcache *c, const sgs_tally_conf *cf, sgs_batch *b, sgs_tally *t);

/* The expiry the batch gives entry e's key: the latest (decision date +
 * horizon) of the identities it wrote or kept there (0: kept forever), or -1
 * when the batch gives none (gap fields; identities only looked up). */
int64_t sgs_decide_expiry(const sgs_idcache *c, const sgs_idc_entry *e);
/* The field of P:T:ik (an SGS_IDC_KEYS entry) that holds the state of the
 * identity-store key of that year: "b<year>" (bitmaps) or "x<year>" (own
 * identities). Its length (f holds at least 24 bytes). */
int sgs_decide_key_state_field(char *f, size_t size, int bitmap, int year);
/* The state of an identity-store key (an SGS_IDC_KEYS entry, P:T:ik): the
 * expiry the consumer gave its live incarnation (Unix seconds; 0 kept
 * forever; -1 none lives) and the latest expiry of an incarnation dropped
 * (0: never dropped). An empty entry is -1 0. 0, or -1 when the value is not
 * such a state. */
int sgs_decide_key_state(const sgs_idc_entry *ke, int64_t *expiry, int64_t *dropped);
/* Sets such a state as its text (not marking the entry dirty). -1 when out of
 * memory. */
int sgs_decide_key_state_put(sgs_idcache *c, sgs_idc_entry *ke, int64_t expiry, int64_t dropped);

/* The later of two expiries: 0 (kept forever) wins over any time, -1 (none)
 * loses to anything. */
int64_t sgs_decide_later(int64_t a, int64_t b);

void sgs_decide_list_free(sgs_decide_list *l);

#endif

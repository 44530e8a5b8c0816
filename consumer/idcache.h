/* The identity cache: the fields of one partition's identity store (bitmap
 * fields of P:T:b:<year>, gap fields of P:T:g:<month>, own fields of
 * P:T:x:<year>) as Redis holds them, so that the consumer decides which
 * identities are new and sends Redis the values to write, instead of having
 * the batch script read and merge bytes (docs/CONSUMER.md, "The identity cache").
 *
 * Why it can be trusted: only the partition's batch script writes these keys,
 * and every batch script is fenced by the partition's stored offset. A batch
 * that applies proves that Redis held the state this consumer built on; any
 * other outcome (fenced, refused, unknown, dropped, a partition lost or
 * reassigned) empties the partition's cache, and what is needed again is read
 * from Redis before the next batch is decided. Entries are also dropped after
 * SGS_IDCACHE_MAX_AGE_MS and when the cache holds more than
 * SGS_IDCACHE_MAX_BYTES, so a key that expires in Redis (a day bucket) is
 * read again soon; all but the identity keys' states (P:T:ik), which only
 * the partition's batches write, and which say when a key of the identity
 * store is dropped (by the batch that finds its expiry come: decide.c). */
#ifndef SGS_CONSUMER_IDCACHE_H
#define SGS_CONSUMER_IDCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SGS_IDCACHE_MAX_AGE_MS (10 * 60 * 1000)
#define SGS_IDCACHE_MAX_BYTES  ((size_t)4 << 20)

/* Kinds of entries: the key a field lives in. */
#define SGS_IDC_BITS 'b' /* P:T:b:<year>: bitmap field -> bits */
#define SGS_IDC_OWN  'x' /* P:T:x:<year>: identity -> 1 */
#define SGS_IDC_GAPS 'g' /* P:T:g:<month>: gap field -> bits */
#define SGS_IDC_DAY  'd' /* P:T:d:<day>: "<unit>|records" / "|late" -> count (tally.c) */
#define SGS_IDC_LR   'l' /* P:T:lr (no suffix): unit -> late-rate state (tally.c) */
#define SGS_IDC_KEYS 'k' /* P:T:ik (no suffix): "b<year>" / "x<year>" -> "<expiry> <dropped>" */

/* Entry states. */
#define SGS_IDC_KNOWN   0 /* value is what Redis holds (len 0: no field) */
#define SGS_IDC_PENDING 1 /* to be read before the batch is decided */

typedef struct sgs_idc_entry {
    uint64_t hash;
    uint32_t klen;    /* key: <kind><year or month> NUL <field> */
    uint32_t sfx;     /* bytes of <kind><year or month> */
    int state;        /* SGS_IDC_* */
    uint64_t mark;    /* the last batch that used it (sgs_idcache.mark) */
    uint64_t dirty;   /* the last batch that changed it */
    int64_t at;       /* the expiry that batch gives its key (decide.c), valid when */
    uint64_t at_mark; /* == mark */
    unsigned char *val;
    uint32_t len, cap;
    char key[];
} sgs_idc_entry;

typedef struct sgs_idcache {
    sgs_idc_entry **slots; /* open addressing, NULL: empty */
    size_t cap, n;
    size_t bytes;          /* keys and values held */
    int64_t created_ms;    /* monotonic ms of the first entry since the last clear */
    uint64_t mark;         /* batches decided with it */
    uint64_t seed;         /* of the table's hash (keys are producers' bytes) */
    int keys_complete;     /* every key with a state in P:T:ik has its entry (read at sync) */
    sgs_idc_entry **drops; /* SGS_IDC_KEYS entries of the keys batch drops_mark dropped */
    size_t n_drops, cap_drops;
    uint64_t drops_mark;
} sgs_idcache;

/* The entry of kind/suffix/field, added (PENDING, empty) when missing; sets
 * *added. NULL when out of memory or too long. */
sgs_idc_entry *sgs_idcache_get(sgs_idcache *c, char kind, const char *sfx, size_t sfx_len,
                               const char *field, size_t field_len, int *added);

/* The entry of kind/suffix/field, or NULL when the cache has none. */
sgs_idc_entry *sgs_idcache_find(const sgs_idcache *c, char kind, const char *sfx, size_t sfx_len,
                                const char *field, size_t field_len);

/* The field part of an entry's key. */
static inline const char *sgs_idc_field(const sgs_idc_entry *e, size_t *len)
{
    *len = e->klen - e->sfx - 1;
    return e->key + e->sfx + 1;
}

/* qsort() order of entry pointers that puts the fields of one key next to each
 * other: by key (<kind><year, month or day>), then field. */
int sgs_idc_entry_cmp(const void *x, const void *y);

/* Whether two entries are fields of one key (adjacent in that order). */
static inline int sgs_idc_same_key(const sgs_idc_entry *x, const sgs_idc_entry *y)
{
    return x->sfx == y->sfx && memcmp(x->key, y->key, x->sfx) == 0;
}

/* Makes the value at least n bytes long (zeros added). -1 when out of memory. */
int sgs_idcache_extend(sgs_idcache *c, sgs_idc_entry *e, size_t n);

/* Sets the value (a field read from Redis). -1 when out of memory. */
int sgs_idcache_set(sgs_idcache *c, sgs_idc_entry *e, const void *val, size_t len);

/* Sets bit `bit` (from the most significant bit of byte 0, as SETBIT);
 * returns its old value, or -1 when out of memory. */
int sgs_idcache_setbit(sgs_idcache *c, sgs_idc_entry *e, uint32_t bit);

/* The value of bit `bit`. */
static inline int sgs_idc_bit(const sgs_idc_entry *e, uint32_t bit)
{
    return bit / 8 < e->len && (e->val[bit / 8] & (0x80u >> (bit % 8))) != 0;
}

/* A count (SGS_IDC_DAY, SGS_IDC_LR): the value as an integer (0 when
 * none or not one), and set. */
int64_t sgs_idcache_int(const sgs_idc_entry *e);
int sgs_idcache_set_int(sgs_idcache *c, sgs_idc_entry *e, int64_t v);

/* Notes that the batch being decided (mark) drops the key of state entry e
 * (rare: once per key and horizon). -1 when out of memory. */
int sgs_idcache_note_drop(sgs_idcache *c, sgs_idc_entry *e);
/* Whether the batch being decided drops the key of state entry e. */
int sgs_idcache_drops(const sgs_idcache *c, const sgs_idc_entry *e);

/* Empties every entry of the key kind/suffix (known: no field), as after a
 * DEL of the key. */
void sgs_idcache_empty_key(sgs_idcache *c, char kind, const char *sfx, size_t sfx_len);

/* Drops every entry (keeps the table's memory). */
void sgs_idcache_clear(sgs_idcache *c);
/* Clears when older than SGS_IDCACHE_MAX_AGE_MS or bigger than
 * SGS_IDCACHE_MAX_BYTES, all but the keys' states (SGS_IDC_KEYS: only the
 * partition's own batches write them, so they cannot go stale). */
void sgs_idcache_age(sgs_idcache *c, int64_t now_ms);
void sgs_idcache_free(sgs_idcache *c);

#endif

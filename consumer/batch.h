/* A batch: what one partition's messages will do in Redis, built from parsed
 * records by pure code (no Kafka, no Redis), so that it can be tested alone.
 *
 * While reading, the consumer sorts each partition's messages into groups that
 * add the same counters (type, report day, unit, flags, workdays late) and
 * keeps the identities to de-duplicate; an identity seen twice in the same
 * batch is a duplicate right there. Late alerts and rejects are formatted as
 * the messages arrive. Every array keeps its capacity from batch to batch:
 * nothing is allocated per message once batches have reached their usual size. */
#ifndef SGS_CONSUMER_BATCH_H
#define SGS_CONSUMER_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "sgs/buf.h"
#include "sgs/date.h"
#include "sgs/record.h"
#include "sgs/registry.h"

struct sgs_idc_entry;

/* Group types (the script's protocol, script.c). The first three are decided
 * by Redis for the records with an identity: seen before or new. A record of
 * any of the first six whose identity may have been dropped with its key is
 * too_old instead (decide.c). */
#define SGS_GROUP_RECORD       'R' /* inserts: seen -> duplicate, new -> record */
#define SGS_GROUP_UPDATE       'u' /* updates: seen -> update, new -> record (a first report) */
#define SGS_GROUP_REVOKE       'v' /* revokes: seen -> revoked, new -> unknown_record */
#define SGS_GROUP_DUPLICATE    'D' /* inserts of an identity the batch already has */
#define SGS_GROUP_UPDATED      'P' /* updates of an identity the batch already has */
#define SGS_GROUP_REVOKED      'X' /* revokes of an identity the batch already has */
#define SGS_GROUP_UNATTRIBUTED 'U' /* unknown unit */
#define SGS_GROUP_MALFORMED    'M' /* not a JSON object */

/* Group flags ('R' only). */
#define SGS_GF_LATE    1
#define SGS_GF_INVALID 2
#define SGS_GF_LICENSE 4
#define SGS_GF_PENALTY 8
#define SGS_GF_ORGAN   16 /* attributed to its unit through the deciding organ */

/* What a producer delivery report's opaque points to (its first member). */
#define SGS_DR_OUTBOX  1
#define SGS_DR_FORWARD 2

/* Messages of one batch that add the same counters. The script gets one entry
 * per group and how many of its records' identities the store already has
 * (decided by the consumer, decide.c): those count the group's "seen" outcome
 * instead of its "new" one. */
typedef struct sgs_batch_group {
    char type;              /* SGS_GROUP_* */
    int flags;              /* SGS_GF_* */
    int wd;                 /* workdays late ('R' only) */
    uint32_t unit;          /* registry index ('R', 'D'), else UINT32_MAX */
    sgs_day day;            /* report day */
    uint32_t n;             /* messages */
    uint32_t n_ids;         /* identities of its records (ident.group) */
    uint32_t n_seen, n_old; /* of them, seen and too_old (sgs_batch_count_outcomes) */
} sgs_batch_group;

/* An identity to de-duplicate: bytes in the batch arena. */
typedef struct sgs_batch_ident {
    size_t off; /* the identity */
    uint32_t len;
    uint32_t group;   /* index in groups */
    int seen;         /* the store has it (decided when the batch is sent, decide.c) */
    int old;          /* decided a horizon or more before the batch's clock (t0): it may
                         turn out too_old, and has the items for that */
    int too_old;      /* its key was dropped after it could have been there (decide.c) */
    uint32_t dup_of;  /* an in-batch duplicate of an old identity: that identity's index
                         (its outcome follows that one's); else UINT32_MAX */
    int listed;       /* in the batch's table (not a revoke's lookup, not a mirror) */
    uint32_t slot_at; /* listed: its slot in ident_slots (while slots_moved is 0) */
    /* where the identity store keeps it (store.h) */
    int bitmap;       /* a bit of a bitmap field, else a field of its own */
    int year;         /* of P:T:b:<year> or P:T:x:<year> */
    size_t field_off; /* bitmap field (in the arena); own field: the identity */
    uint32_t field_len;
    uint32_t bit;
    int64_t expire_at; /* Unix seconds the identity may be dropped at (horizon) */
    size_t gap_off;    /* own field with a serial: its gap base (store.h), else 0 */
    uint32_t gap_len;
    uint32_t gap_lo, gap_hi; /* its serials */
    /* its entries in the partition's identity cache (decide.c; valid while
     * the batch is being sent) */
    struct sgs_idc_entry *ce;    /* bitmap or own field */
    struct sgs_idc_entry *ge[2]; /* gap fields (a range of an own field may span two) */
    struct sgs_idc_entry *ke;    /* its key's expiry and drop (SGS_IDC_KEYS) */
} sgs_batch_ident;

/* Item kinds and conditions (script.c). */
#define SGS_ITEM_ALERT   'a' /* to topic.alerts (also PUBLISHed and kept in P:T:al) */
#define SGS_ITEM_REJECT  'r' /* to topic.rejects */
#define SGS_ITEM_LEDGER  'l' /* a ledger entry of its report month (P:T:lg:YYYY-MM) */
#define SGS_ITEM_IF_NEW  'n' /* only when its record's identity turns out new */
#define SGS_ITEM_IF_SEEN 's' /* only when it turns out seen */
#define SGS_ITEM_IF_OLD  'o' /* only when it turns out too_old */
#define SGS_ITEM_IF_KEPT 'k' /* only when it does not turn out too_old */

/* What a record makes unless Redis decides otherwise: the late alert and the
 * ledger entry of a record that turns out to be counted, the unknown_record
 * reject of a revoke of a decision never seen. */
typedef struct sgs_batch_item {
    uint32_t ident;  /* UINT32_MAX: unconditional */
    char cond;       /* SGS_ITEM_IF_* (with an identity) */
    char kind;       /* SGS_ITEM_* */
    uint32_t unit;   /* registry index */
    sgs_day day;     /* report day (a ledger entry's month) */
    size_t off, len; /* JSON in the batch arena */
} sgs_batch_item;

/* A forward target or source and its sequence after the batch (fo/fi). */
typedef struct sgs_batch_seq {
    int32_t partition;
    int64_t next;
} sgs_batch_seq;

/* Delivery of a batch's forwarded copies (forward.c): the batch may go to Redis
 * only when every copy is acknowledged. Freed by whichever of the batch and the
 * last delivery report lets go of it last. */
typedef struct sgs_fwd_track {
    int kind;    /* SGS_DR_FORWARD */
    int pending; /* copies without a delivery report */
    int failed;  /* a copy was not delivered: the batch is dropped and re-read */
    int orphan;  /* the batch let go; the last report frees it */
} sgs_fwd_track;

typedef struct sgs_batch {
    size_t n_msgs;       /* Kafka messages of the partition, copies included */
    size_t n_orig;       /* of them, messages as producers sent them (not forwarded copies) */
    size_t n_fwd;        /* originals forwarded to their unit's partition */
    size_t n_skip;       /* forwarded copies already applied (replays) or stale */
    int64_t first, last; /* offsets of the first and last message */
    int64_t t0;          /* the batch's clock: Unix seconds at its first message (the
                            writer sets it; 0: no identity counts as old) */
    int kept, kept_year; /* the last key env->key_kept said lives past t0 (it stays so
                            while the batch is collected): bitmap + 1 (0: none), year */
    sgs_buf arena;       /* identity and alert bytes */
    sgs_batch_group *groups;
    size_t n_groups, cap_groups;
    uint32_t *group_slots; /* open addressing over groups (index + 1; 0: empty) */
    size_t cap_group_slots;
    sgs_batch_ident *idents;
    size_t n_idents, cap_idents;
    uint32_t *ident_slots; /* open addressing over idents (index + 1, hash bits above; 0: empty) */
    size_t cap_ident_slots;
    int slots_moved; /* ident_slots was rebuilt since the reset: slot_at is stale */
    sgs_batch_item *items;
    size_t n_items, cap_items;
    sgs_buf rejects; /* outbox-encoded rejects of the batch */
    size_t n_rejects;
    size_t n_acks; /* outbox acknowledgements this batch carries (when sent) */
    uint64_t gen;  /* identifies this batch in sgs_batch_env.unit_stamp */
    size_t *units; /* registry indexes of the units in the batch */
    size_t n_units, cap_units;
    sgs_fwd_track *track;   /* forwarded copies in delivery (NULL: none) */
    sgs_batch_seq *seq_out; /* fo after the batch: targets it forwarded to */
    size_t n_seq_out, cap_seq_out;
    sgs_batch_seq *seq_in; /* fi after the batch: sources of copies it applied */
    size_t n_seq_in, cap_seq_in;
    int oom;     /* an allocation failed: the batch must be dropped and re-read */
    int decided; /* its identities are decided (decide.c): sent again as it was */
} sgs_batch;

/* What the batch builder reads (and the per-unit stamps it writes). */
typedef struct sgs_batch_env {
    const char *topic;
    const sgs_registry *registry;
    size_t reject_max;    /* consumer.reject_payload_max */
    uint64_t hash_seed;   /* of the in-batch identity table */
    uint64_t *unit_stamp; /* per registry unit: gen of the last batch that listed it */
    int horizon_months;   /* consumer.identity_horizon_months (0: identities kept forever) */
    long fail_alloc;      /* debug.fail_alloc: JSON builds still to fail as if out of memory */
    /* Whether the identity-store key of an old identity (bitmap or own
     * fields, year) is known to live past `until`, never dropped: then the
     * identity cannot turn out too_old and needs no too_old reject (the
     * writer answers from the partition's cache; NULL: never known). */
    int (*key_kept)(void *ctx, int bitmap, int year, int64_t until);
    void *key_ctx;
    uint64_t gen_counter; /* last gen given to a batch */
    /* The identity hashes sgs_batch_prefetch computed for the last two
     * records it was asked for ([0] the last; NULL: none): the writer asks
     * for the next record's before it adds this one, so this one's is [1].
     * sgs_batch_add takes the hash of its record from either. The writer
     * clears them whenever the records in hand are replaced. */
    const struct sgs_record *hint_rec[2];
    uint64_t hint_hash[2];
    uint64_t hint_hits; /* identity hashes sgs_batch_add took from a hint */
    sgs_buf tmp;        /* scratch for JSON */
} sgs_batch_env;

/* One Kafka message as the batch needs it. A forwarded copy names its origin
 * (alert and reject ids, and a reject's source, are the origin's). */
typedef struct sgs_batch_msg {
    int32_t partition;
    int64_t offset;
    const char *payload; /* may be NULL (a tombstone) */
    size_t len;
    int copy;                 /* a forwarded copy */
    int32_t origin_partition; /* = partition unless a copy */
    int64_t origin_offset;    /* = offset unless a copy */
} sgs_batch_msg;

/* What applied batches did (the consumer's counters of this run). */
typedef struct sgs_batch_counts {
    uint64_t messages; /* as producers sent them (forwarded copies are not counted again) */
    uint64_t records, late, invalid, duplicates, rejects, unattributed, malformed;
    uint64_t updates, revoked, unknown_record, from_organ, too_old;
    uint64_t forwarded; /* sent on to their unit's partition */
    uint64_t replays;   /* forwarded copies already applied (or of a dead route epoch) */
} sgs_batch_counts;

/* Sets up env (stamps for every registry unit, a fresh seed). 0 or -1 (OOM). */
int sgs_batch_env_init(sgs_batch_env *env, const char *topic, const sgs_registry *registry,
                       size_t reject_max, int horizon_months);
void sgs_batch_env_free(sgs_batch_env *env);

/* Adds message m, parsed into r, to b. Allocation failures set b->oom (the
 * batch is then dropped whole and re-read). */
void sgs_batch_add(sgs_batch *b, sgs_batch_env *env, const sgs_batch_msg *m, const sgs_record *r);

/* A message that counts nowhere in this partition: an original forwarded to
 * its unit's partition (forwarded = 1), or a copy already applied. */
void sgs_batch_pass(sgs_batch *b, sgs_batch_env *env, const sgs_batch_msg *m, int forwarded);

/* Records a forward sequence after the batch (replacing an earlier value for
 * the same partition). out: fo (else fi). */
void sgs_batch_set_seq(sgs_batch *b, int out, int32_t partition, int64_t next);

/* Empties a batch, keeping its memory; lets go of its forward tracker. */
void sgs_batch_reset(sgs_batch *b);
void sgs_batch_free(sgs_batch *b);

/* Brings the slot of record r's identity in b's table into the cache: the
 * writer asks it for the next message in hand while it adds this one. The
 * table is a random read per message, and it missed the cache often enough
 * to be 40 % of sgs_batch_add. The hash is kept for sgs_batch_add (hint_rec),
 * with the one asked for before. */
void sgs_batch_prefetch(const sgs_batch *b, sgs_batch_env *env, const sgs_record *r);

/* Counts each group's identities that turned out seen and too_old, once
 * their outcomes are decided (decide.c), in one pass over the identities in
 * their order: walking each group's list later, after the next batch went
 * through the cache, missed it at almost every identity. */
void sgs_batch_count_outcomes(sgs_batch *b);

/* Whether item it goes out: unconditional, or its condition holds. */
int sgs_batch_item_emitted(const sgs_batch *b, const sgs_batch_item *it);

/* Adds what an applied batch did to *to, from its groups and the identities
 * the store already had (ident.seen). */
void sgs_batch_account(const sgs_batch *b, sgs_batch_counts *to);

/* The reason the consumer itself gives record r (field doc_no, messages in
 * Chinese and English): code SGS_REASON_TOO_OLD or SGS_REASON_UNKNOWN_RECORD. */
void sgs_batch_extra_reason(const sgs_batch_env *env, const sgs_record *r, const char *code,
                            sgs_reason *out);

/* The JSON texts (exposed for tests): a late alert, a reject (with the reason
 * extra first when not NULL), a ledger entry. Each reason is {"code",
 * "field", "message" (Chinese), "message_en"}. */
void sgs_batch_late_alert_json(const sgs_batch_env *env, const sgs_record *r, int32_t partition,
                               int64_t offset, sgs_buf *out);
void sgs_batch_reject_json(const sgs_batch_env *env, const sgs_record *r, const sgs_batch_msg *m,
                           const sgs_reason *extra, sgs_buf *out);
void sgs_batch_ledger_json(const sgs_batch_env *env, const sgs_record *r, const sgs_batch_msg *m,
                           sgs_buf *out);

#endif

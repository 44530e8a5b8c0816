/* The Redis layout of sgs (docs/REDIS.md), in one place: key names, field
 * names, the record identity and the outbox codec. Both daemons and the batch
 * script (assembled from the macros below) spell the layout only through this
 * module.
 *
 * Keys of one partition of the records topic share the hash tag
 * "{<topic>:<partition>}" so that everything one batch touches lies in one
 * slot: "<prefix>:{<topic>:<partition>}<suffix>[<arg>]". Global keys are
 * "<prefix>:<name>[<arg>]". Builders never take a daemon's context: only the
 * prefix, the topic and the partition. */
#ifndef SGS_STORE_H
#define SGS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sgs/buf.h"
#include "sgs/docno.h"

/* Large enough for every key of a usual configuration (a Kafka topic name has
 * at most 249 bytes); a builder says when a key does not fit. */
#define SGS_STORE_KEY_MAX 512

/* ---- suffixes of partition keys (after the "{topic:partition}" tag) ------ */
#define SGS_STORE_OFFSET      ":offset" /* string: next offset to consume */
#define SGS_STORE_LEGACY_SEEN ":seen"   /* hash of the identity layout before the store: refused */
#define SGS_STORE_IDBITS      ":b:" /* + document year: hash bitmap field -> bits (identity store) */
#define SGS_STORE_IDOWN       ":x:" /* + decision year: hash identity -> 1 (identity store) */
#define SGS_STORE_IDKEYS                                                                           \
    ":ik" /* hash "b<year>" / "x<year>" -> "<expiry> <dropped>": the identity store's keys         \
             (docs/REDIS.md, "Retention") */
#define SGS_STORE_GAPS                                                                             \
    ":g:"                           /* + YYYY-MM: hash gap field -> bits of the serials first      \
                                       counted that month (sequence gaps) */
#define SGS_STORE_MONTH   ":m:"     /* + YYYY-MM: hash of counters */
#define SGS_STORE_DAY     ":d:"     /* + YYYY-MM-DD: hash of counters, expires */
#define SGS_STORE_LR      ":lr"     /* hash: unit -> 1 while above the late-rate threshold */
#define SGS_STORE_OUTBOX  ":outbox" /* hash: batch end offset -> outbox items */
#define SGS_STORE_FWD_OUT ":fo"     /* hash: target partition -> next forward sequence */
#define SGS_STORE_FWD_IN                                                                           \
    ":fi"                            /* hash: source partition -> next sequence expected;          \
                                        also _epoch (the route's) and _start (first offset) */
#define SGS_STORE_ALERT_LIST ":al"   /* list: "<unix ms> <alert JSON>", newest first, bounded */
#define SGS_STORE_LEDGER     ":lg:"  /* + YYYY-MM: list of ledger entries (JSON), in order */
#define SGS_STORE_LEDGER_N   ":lgn:" /* + YYYY-MM: hash unit -> entries kept, unit|cut -> cut */
#define SGS_STORE_FI_EPOCH   "_epoch"
#define SGS_STORE_FI_START   "_start"

/* Longest "<suffix><arg>" of a partition key (a day bucket). A base
 * "<prefix>:{<topic>:<partition>}" shorter than SGS_STORE_KEY_MAX -
 * SGS_STORE_TAIL_MAX leaves room for every key of its partition. */
#define SGS_STORE_TAIL_MAX (sizeof(SGS_STORE_DAY "YYYY-MM-DD") - 1)

/* ---- global keys (after "<prefix>:") -------------------------------------- */
#define SGS_STORE_SNAPSHOT  "snapshot:"       /* + YYYY-MM + ":v" N / ":latest" */
#define SGS_STORE_MONTHS    "snapshot:months" /* set of months with a snapshot */
#define SGS_STORE_CONCEALED "concealed:"      /* + YYYY-MM: hash identity -> 1 */
#define SGS_STORE_WITHDRAWN                                                                        \
    "withdrawn:" /* + YYYY-MM: hash identity -> {"reason", "at"}: concealed findings withdrawn */
#define SGS_STORE_ALERTS  "alerts"  /* channel: every alert JSON */
#define SGS_STORE_ROUTE   "route"   /* string: how records are routed (route.c) */
#define SGS_STORE_REBUILD "rebuild" /* string: a rebuild is running since ... */

/* The value of hashes used as sets (concealed, lr): the field is the member. */
#define SGS_STORE_MEMBER_VALUE "1"

/* ---- counter fields: "<unit_id>|<counter>", global ones "_|<counter>" ------ */
#define SGS_STORE_FIELD_SEP      "|"
#define SGS_STORE_GLOBAL_UNIT    "_"
#define SGS_STORE_C_RECORDS      "records"
#define SGS_STORE_C_LATE         "late"
#define SGS_STORE_C_INVALID      "invalid"
#define SGS_STORE_C_DUP          "dup"
#define SGS_STORE_C_LIC          "lic"
#define SGS_STORE_C_PEN          "pen"
#define SGS_STORE_C_WDLATE       "wdlate" /* sum of workdays late */
#define SGS_STORE_C_UNATTRIBUTED "unattributed"
#define SGS_STORE_C_MALFORMED    "malformed"
#define SGS_STORE_C_UPD          "upd"    /* updates of decisions already seen */
#define SGS_STORE_C_REV          "rev"    /* revocations of decisions already seen */
#define SGS_STORE_C_UNKREC       "unkrec" /* revocations of decisions never seen (rejected) */
#define SGS_STORE_C_ORGAN        "organ"  /* records attributed by their deciding organ */
#define SGS_STORE_C_CUT          "cut"    /* ledger entries not kept (P:T:lgn: only) */
#define SGS_STORE_C_TOOOLD       "tooold" /* decided before the identity horizon (rejected) */

/* The counters a unit's field can name, in a fixed order. */
enum sgs_store_counter {
    SGS_STORE_RECORDS = 0,
    SGS_STORE_LATE,
    SGS_STORE_INVALID,
    SGS_STORE_DUP,
    SGS_STORE_LIC,
    SGS_STORE_PEN,
    SGS_STORE_WDLATE,
    SGS_STORE_UNATTRIBUTED,
    SGS_STORE_MALFORMED,
    SGS_STORE_UPD,
    SGS_STORE_REV,
    SGS_STORE_UNKREC,
    SGS_STORE_ORGAN,
    SGS_STORE_TOOOLD,
    SGS_STORE_N_COUNTERS,
    SGS_STORE_UNKNOWN_COUNTER = -1,
};

/* Name of a counter ("records"), or NULL. */
const char *sgs_store_counter_name(enum sgs_store_counter c);

/* A counter field split into its unit and counter. unit points into the field
 * (not NUL-terminated); global fields have unit "_". */
typedef struct sgs_store_field {
    const char *unit;
    size_t unit_len;
    int global;                     /* unit is "_" */
    enum sgs_store_counter counter; /* SGS_STORE_UNKNOWN_COUNTER when not ours */
} sgs_store_field;

/* Splits "<unit>|<counter>" at its last '|'. 0, or -1 when there is none. */
int sgs_store_field_parse(const char *field, size_t len, sgs_store_field *out);

/* ---- key builders ----------------------------------------------------------
 * Each writes a NUL-terminated key into buf and returns its length, or -1 when
 * it does not fit (buf[0] is then ""). */

/* "<prefix>:{<topic>:<partition>}": the base of a partition's keys. */
int sgs_store_base(char *buf, size_t size, const char *prefix, const char *topic,
                   int32_t partition);
/* "<prefix>:{<topic>:<partition>}<suffix><arg>" (arg may be NULL). */
int sgs_store_pkey(char *buf, size_t size, const char *prefix, const char *topic, int32_t partition,
                   const char *suffix, const char *arg);
/* The same from a member of the partitions set ("<topic>:<partition>"). */
int sgs_store_pkey_member(char *buf, size_t size, const char *prefix, const char *member,
                          const char *suffix, const char *arg);
/* "<topic>:<partition>", the member of the partitions set. */
int sgs_store_member(char *buf, size_t size, const char *topic, int32_t partition);
/* A SCAN MATCH pattern for the keys of every partition of a topic ending in
 * suffix ("" for all of them): "<prefix>:{<topic>:*}<suffix>", with the glob
 * characters of prefix and topic escaped. */
int sgs_store_scan_pattern(char *buf, size_t size, const char *prefix, const char *topic,
                           const char *suffix);
/* The partition of a key "<prefix>:{<topic>:<partition>}<suffix>" (exactly that
 * suffix), or -1 when the key is not one. */
int32_t sgs_store_key_partition(const char *key, size_t len, const char *prefix, const char *topic,
                                const char *suffix);

/* "<prefix>:<name><arg>" (arg may be NULL). */
int sgs_store_gkey(char *buf, size_t size, const char *prefix, const char *name, const char *arg);
/* "<prefix>:snapshot:<month>:v<version>", version < 0: "...:latest". */
int sgs_store_snapshot_key(char *buf, size_t size, const char *prefix, const char *month,
                           long version);

/* ---- identity: "<unit_id>|<kind>|<normalised doc_no>" --------------------- */

/* Builds the identity into buf. Its length, or -1 when it does not fit. */
int sgs_store_identity(char *buf, size_t size, const char *unit_id, const char *kind,
                       const char *norm_doc_no);

typedef struct sgs_store_ident_parts {
    const char *unit, *kind, *doc_no; /* pointers into the identity */
    size_t unit_len, kind_len, doc_no_len;
} sgs_store_ident_parts;

/* Splits an identity at its first two '|' (a unit id never holds one; a
 * normalised doc_no may). 0, or -1 when malformed. */
int sgs_store_identity_parse(const char *id, size_t len, sgs_store_ident_parts *out);

/* ---- the identity store ----------------------------------------------------
 * A decision's identity is kept in one of two ways (docs/REDIS.md):
 * - a document number of the usual shape, "<prefix>〔<year>〕<serial>号" (its
 *   normal form exactly that, one serial, at most SGS_STORE_SERIAL_MAX): one bit
 *   in a bitmap field "<unit>|<k>|<prefix>|<chunk>" (k: l licence, p penalty;
 *   chunk: serial / SGS_STORE_CHUNK_BITS; the bit: serial % SGS_STORE_CHUNK_BITS)
 *   of the hash P:T:b:<year>;
 * - any other: the identity itself as a field of the hash P:T:x:<decision year>
 *   (0 when the decision date is unknown).
 * Serials of sequences (any number with a serial after its year bracket,
 * ranges included) also set bits of gap fields "<year>|<unit>|<k>|<prefix>|
 * <chunk>" in P:T:g:<month first counted>, from which the aggregator finds
 * sequence gaps. Bits are numbered from the most significant bit of byte 0,
 * as Redis's GETBIT/SETBIT do. */
#define SGS_STORE_CHUNK_BITS 8192u      /* bits of one bitmap field (1 KiB) */
#define SGS_STORE_SERIAL_MAX 2147483647 /* larger serials: the identity itself */
#define SGS_STORE_FIELD_MAX  512        /* a field of the identity store, NUL included */

typedef struct sgs_store_ident_loc {
    int bitmap; /* 1: a bit of a bitmap field, 0: a field of its own */
    int year;   /* bitmap: the document's year; own field: the decision year (0: unknown) */
    char field[SGS_STORE_FIELD_MAX];
    size_t field_len;
    uint32_t bit; /* bitmap: the bit of the serial in its field */
} sgs_store_ident_loc;

/* Where the identity of (unit_id, kind name, document number) lives: a bit of
 * a bitmap field when the number has the usual shape (doc->usual, as
 * sgs_docno_normalize sets it) and a serial of 1 to SGS_STORE_SERIAL_MAX;
 * else a field of its own. identity: the identity string (the field of its
 * own). 0, or -1 when a field does not fit. */
int sgs_store_ident_locate(const char *unit_id, const char *kind, const sgs_docno *doc,
                           const char *identity, int decision_year, sgs_store_ident_loc *out);

/* The gap fields of a document number with a serial: "<year>|<unit>|<k>|<prefix>"
 * into buf (the chunk is appended as "|<chunk>"). Its length, or -1 when the
 * number has no serial or it does not fit. */
int sgs_store_gap_base(char *buf, size_t size, const char *unit_id, const char *kind,
                       const sgs_docno *doc);

/* A gap field "<year>|<unit>|<k>|<prefix>|<chunk>" split into its parts
 * (pointers into the field). 0, or -1 when it is not one. */
typedef struct sgs_store_gap_field {
    int year;
    const char *unit, *prefix;
    size_t unit_len, prefix_len;
    char kind; /* 'l' licence, 'p' penalty */
    uint64_t chunk;
} sgs_store_gap_field;
int sgs_store_gap_field_parse(const char *field, size_t len, sgs_store_gap_field *out);

/* ---- outbox items -----------------------------------------------------------
 * An outbox entry (the value of a P:T:outbox field) is a concatenation of items
 * "<type><key length>:<value length>:<key><value>", type 'a' (alert, to
 * topic.alerts) or 'r' (reject, to topic.rejects). The batch script writes the
 * same encoding (SGS_STORE_OUTBOX_FMT). */
#define SGS_STORE_OUTBOX_ALERT  'a'
#define SGS_STORE_OUTBOX_REJECT 'r'

void sgs_store_outbox_put(sgs_buf *b, char type, const char *key, size_t klen, const char *value,
                          size_t vlen);

typedef void (*sgs_store_outbox_fn)(void *arg, char type, const char *key, size_t klen,
                                    const char *value, size_t vlen);
/* Calls fn for each item of an entry, in order. 0, or -1 when the entry is
 * corrupt (fn was called for the items before the fault). */
int sgs_store_outbox_each(const char *entry, size_t len, sgs_store_outbox_fn fn, void *arg);

#endif

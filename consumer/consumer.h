/* sgs-consumer internals: the daemon context and the pieces main.c ties together. */
#ifndef SGS_CONSUMER_H
#define SGS_CONSUMER_H

#include <signal.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/record.h"
#include "sgs/registry.h"

extern const char sgs_consumer_script[];

/* Messages of one batch that add the same counters: same type, report day,
 * unit, flags and workdays late. The script gets one entry per group and the
 * identities of its records, and subtracts the few that Redis already has. */
typedef struct batch_group {
    char type;     /* 'R' record, 'D' duplicate within the batch, 'U' unattributed, 'M' malformed */
    int flags;     /* 1 late, 2 invalid, 4 licence, 8 penalty ('R' only) */
    int wd;        /* workdays late ('R' only) */
    uint32_t unit; /* registry index ('R', 'D'), else UINT32_MAX */
    sgs_day day;   /* report day */
    uint32_t n;    /* messages */
    uint32_t n_ids, head, tail; /* identities of its records, linked through batch_ident.next */
} batch_group;

/* An identity to de-duplicate: bytes in the batch arena. */
typedef struct batch_ident {
    size_t off;
    uint32_t len;
    uint32_t next;  /* next identity of the same group, UINT32_MAX: none */
    uint32_t group; /* index in part_batch.groups */
    uint32_t pos;   /* 1-based position in the script's identity list (set when sent) */
} batch_ident;

/* A late alert, sent unless its record turns out to be a duplicate. */
typedef struct batch_alert {
    uint32_t ident;  /* UINT32_MAX: the record has no identity (never a duplicate) */
    uint32_t unit;   /* registry index */
    size_t off, len; /* JSON in the batch arena */
} batch_alert;

/* What one partition's messages of a batch will do in Redis. Every array keeps
 * its capacity from batch to batch: nothing is allocated per message once the
 * batches have reached their usual size. */
typedef struct part_batch {
    size_t n_msgs;
    int64_t first, last; /* offsets of the first and last message */
    sgs_buf arena;       /* identity and alert bytes */
    batch_group *groups;
    size_t n_groups, cap_groups;
    uint32_t *group_slots; /* open addressing over groups (index + 1; 0: empty) */
    size_t cap_group_slots;
    batch_ident *idents;
    size_t n_idents, cap_idents;
    uint32_t *ident_slots; /* open addressing over idents (index + 1; 0: empty) */
    size_t cap_ident_slots;
    batch_alert *alerts;
    size_t n_alerts, cap_alerts;
    uint32_t *order; /* when sent: position - 1 -> identity index */
    size_t cap_order;
    sgs_buf rejects; /* outbox-encoded rejects of the batch */
    size_t n_rejects;
    size_t n_acks; /* outbox acknowledgements this batch carries (when sent) */
    uint64_t gen;  /* identifies this batch in sgs_consumer.unit_stamp */
    size_t *units; /* registry indexes of the units in the batch */
    size_t n_units, cap_units;
} part_batch;

/* An outbox entry being delivered to Kafka (one batch of one partition). */
typedef struct outbox_entry {
    struct outbox_entry *next;
    int32_t partition;
    int64_t end; /* the batch's end offset: the field in P:T:outbox */
    char *blob;
    size_t len;
    int pending; /* messages without a delivery report yet */
    int failed;  /* some delivery failed: re-send the entry */
    int64_t retry_at;
} outbox_entry;

typedef struct part_state {
    int assigned;
    int paused;
    int needs_sync; /* stored offset unknown (Redis was unavailable at assignment) */
    int at_eof;
    int resend;       /* re-send the outbox once no reply is owed */
    int64_t stored;   /* offset stored in Redis as we believe it (-1: none) */
    int64_t next;     /* next offset we expect (after the batch in hand) */
    part_batch batch; /* being collected */
    part_batch sent;  /* sent to Redis and not known to be applied (n_msgs > 0) */
    char **acks;      /* outbox fields delivered, to delete */
    size_t n_acks, cap_acks;
} part_state;

typedef struct sgs_consumer {
    sgs_config *cfg;
    sgs_registry *registry;
    sgs_calendar *calendar;
    sgs_rules rules;
    const char *topic;
    const char *prefix;

    rd_kafka_t *rk;            /* consumer */
    rd_kafka_queue_t *rkq;     /* the consumer queue (for its length) */
    struct sgs_kicker *kicker; /* fetcher wake-ups (kick.c) */
    int64_t last_kick;         /* monotonic ms of the last fetcher wake-up */
    int32_t kick_next;         /* rotating partition index for wake-ups */
    rd_kafka_t *producer;      /* alerts and rejects */
    int cooperative;
    int joined; /* a first assignment happened */

    redisContext *redis;
    char script_sha[41];
    int redis_down;   /* state for logging once per change */
    int64_t retry_at; /* monotonic ms of the next Redis retry */
    int retry_ms;     /* current backoff */
    int batch_paused; /* partitions paused because Redis is unavailable */

    part_state *parts;
    int32_t n_parts;

    outbox_entry *outbox; /* in delivery */
    size_t outbox_pending;

    /* Redis replies owed: the EVALSHAs of one submit, in this partition order. */
    int32_t *inflight;
    size_t n_inflight, cap_inflight;
    sgs_buf argtext; /* numbers and keys of the EVALSHA being built */
    uint64_t hash_seed;

    /* configuration read once (looked up per batch otherwise) */
    long cf_retention, cf_window, cf_minrec, cf_thr_h;
    char cf_thrtext[32];
    size_t cf_reject_max;
    int cf_retry_max;

    sgs_record rec;       /* reused for every message */
    uint64_t *unit_stamp; /* per registry unit: gen of the last batch that listed it */
    uint64_t gen_counter;
    sgs_buf tmp; /* scratch for building JSON */

    /* counters of this run */
    uint64_t messages, records, late, invalid, duplicates, rejects, unattributed, malformed;
    uint64_t fenced, alerts_sent, delivery_failures;
    int64_t ms_polling, ms_redis, ms_parsing; /* where the time went (stats) */
    int64_t first_msg_ms, last_msg_ms;        /* wall time of first and last applied message */
    size_t batch_msgs;                        /* messages in the batches being collected */
    size_t sent_msgs;                         /* messages sent to Redis, not yet known applied */
    int64_t batch_started;                    /* monotonic ms */

    volatile sig_atomic_t *stop;
    int fatal;
    double exit_on_idle; /* seconds, 0: off */
} sgs_consumer;

int64_t sgs_now_ms(void);  /* monotonic */
int64_t sgs_wall_ms(void); /* real time */

/* pipeline.c */
/* Reads the configuration the batches use; once, after loading it. */
void sgs_consumer_pipeline_init(sgs_consumer *c);
void sgs_consumer_add_message(sgs_consumer *c, const rd_kafka_message_t *m);
/* Waits for the batch in flight, then sends the batches being collected (one
 * pipelined EVALSHA per partition) without waiting for them: Redis applies
 * them while the next batch is read. 0, or -1 when Redis is unavailable (the
 * batches are kept for a retry). */
int sgs_consumer_submit(sgs_consumer *c);
/* Waits for the batch in flight and retries sent batches Redis did not apply.
 * 0 when nothing sent is left unapplied, -1 when Redis is unavailable. */
int sgs_consumer_settle(sgs_consumer *c);
/* submit + settle: every batch in hand applied (or fenced and dropped). */
int sgs_consumer_flush(sgs_consumer *c);
/* Connects to Redis if needed and loads the script. 0 or -1. */
int sgs_consumer_redis_ready(sgs_consumer *c);
/* sgs_consumer_redis_ready, and no EVALSHA reply owed (other commands may be
 * sent). 0 or -1. */
int sgs_consumer_redis_quiet(sgs_consumer *c);
void sgs_consumer_redis_lost(sgs_consumer *c, const char *why);
/* Drops the partition's batches (collected and sent); it continues from its
 * stored offset. */
void sgs_consumer_drop_batch(sgs_consumer *c, int32_t partition);
/* Moves the partition's fetch position (offset < 0: the beginning). */
void sgs_consumer_seek(sgs_consumer *c, int32_t partition, int64_t offset);
part_state *sgs_consumer_part(sgs_consumer *c, int32_t partition);
void sgs_consumer_batch_free(part_batch *b);
/* Reads the stored offsets of partitions (and re-sends their outboxes). -1 when
 * Redis is unavailable. */
int sgs_consumer_sync_partition(sgs_consumer *c, int32_t partition);
/* Deletes delivered outbox entries of partitions without a batch. */
int sgs_consumer_flush_acks(sgs_consumer *c);
void sgs_consumer_pipeline_free(sgs_consumer *c);

/* kick.c: watermark queries on a thread of their own, to wake librdkafka's
 * fetcher (see there). */
typedef struct sgs_kicker sgs_kicker;
sgs_kicker *sgs_kicker_start(rd_kafka_t *rk, const char *topic);
/* Whether no query is queued or running. */
int sgs_kicker_idle(sgs_kicker *k);
/* Queries the partitions' watermarks, unless a round is still going (then
 * nothing); returns at once. */
void sgs_kicker_ask(sgs_kicker *k, const int32_t *parts, size_t n);
void sgs_kicker_stop(sgs_kicker *k);

/* outbox.c */
void sgs_consumer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Produces an outbox entry (takes a copy of blob). */
void sgs_consumer_outbox_send(sgs_consumer *c, int32_t partition, int64_t end, const char *blob,
                              size_t len);
/* Handles entries whose deliveries all reported: queues acks, re-sends failures. */
void sgs_consumer_outbox_reap(sgs_consumer *c);
int sgs_consumer_outbox_tracked(const sgs_consumer *c, int32_t partition, int64_t end);
void sgs_consumer_outbox_free(sgs_consumer *c);
/* Appends one outbox item: 'a' alert or 'r' reject with its key. */
void sgs_outbox_put(sgs_buf *b, char type, const char *key, size_t klen, const char *value,
                    size_t vlen);

#endif

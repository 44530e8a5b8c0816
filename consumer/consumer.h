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

/* One value of the script's ARGV inside a partition batch: offset and length
 * into the batch's arena (the arena moves when it grows). */
typedef struct arg_ref {
    size_t off, len;
} arg_ref;

/* What one partition's messages of the current batch will do in Redis. */
typedef struct part_batch {
    size_t n_msgs;
    int64_t first, last; /* offsets of the first and last message */
    sgs_buf arena;       /* bytes of every ARGV value */
    arg_ref *args;       /* 8 per message */
    size_t n_args, cap_args;
    sgs_buf rejects; /* outbox-encoded rejects of the batch */
    size_t n_rejects;
    size_t n_records, n_late, n_invalid, n_unattributed, n_malformed;
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
    int64_t stored; /* offset stored in Redis as we believe it (-1: none) */
    int64_t next;   /* next offset we expect (after the batch in hand) */
    part_batch batch;
    char **acks; /* outbox fields delivered, to delete */
    size_t n_acks, cap_acks;
} part_state;

typedef struct sgs_consumer {
    sgs_config *cfg;
    sgs_registry *registry;
    sgs_calendar *calendar;
    sgs_rules rules;
    const char *topic;
    const char *prefix;

    rd_kafka_t *rk;        /* consumer */
    rd_kafka_queue_t *rkq; /* the consumer queue (for its length) */
    int64_t last_kick;     /* monotonic ms of the last fetcher wake-up */
    int32_t kick_next;     /* rotating partition index for wake-ups */
    rd_kafka_t *producer;  /* alerts and rejects */
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

    sgs_record rec;       /* reused for every message */
    uint64_t *unit_stamp; /* per registry unit: gen of the last batch that listed it */
    uint64_t gen_counter;
    sgs_buf tmp; /* scratch for building JSON */

    /* counters of this run */
    uint64_t messages, records, late, invalid, duplicates, rejects, unattributed, malformed;
    uint64_t fenced, alerts_sent, delivery_failures;
    int64_t ms_polling, ms_redis, ms_parsing; /* where the time went (stats) */
    int64_t first_msg_ms, last_msg_ms;        /* wall time of first and last applied message */
    size_t batch_msgs;                        /* messages in the batch in hand */
    int64_t batch_started;                    /* monotonic ms */

    volatile sig_atomic_t *stop;
    int fatal;
    double exit_on_idle; /* seconds, 0: off */
} sgs_consumer;

int64_t sgs_now_ms(void);  /* monotonic */
int64_t sgs_wall_ms(void); /* real time */

/* pipeline.c */
void sgs_consumer_add_message(sgs_consumer *c, const rd_kafka_message_t *m);
/* Applies the batch in hand to Redis (one round trip) and produces its alerts
 * and rejects. 0 when everything was applied (or fenced and dropped), -1 when
 * Redis is unavailable (the batch is kept for a retry). */
int sgs_consumer_flush(sgs_consumer *c);
/* Connects to Redis if needed and loads the script. 0 or -1. */
int sgs_consumer_redis_ready(sgs_consumer *c);
void sgs_consumer_redis_lost(sgs_consumer *c, const char *why);
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

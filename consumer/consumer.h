/* sgs-consumer internals: the daemon's context and the modules that work on it.
 *
 * Module map (each file calls only files listed below it; none calls back up):
 *   main.c       command line, signals, exit summary
 *   consumer.c   the context (create/destroy), the poll loop, idle, stats, drain
 *   rebalance.c  Kafka set-up, rebalance and error callbacks
 *   sync.c       partition sync: stored offsets on assignment, outbox re-sends,
 *                deleting delivered outbox entries
 *   writer.c     messages into batches (local, forwarded or skipped); batches to
 *                Redis: one EVALSHA per partition, pipelined; replies
 *   decide.c     which identities of a batch the store has, from the cache;
 *                the identity-store fields it changes
 *   tally.c      a decided batch's counter increments and late-rate crossings
 *   idcache.c    the identity cache: the store's fields as Redis holds them
 *   route.c      which partition counts a unit (P:route); forwarded copies' header
 *   forward.c    producing forwarded copies, their delivery reports
 *   outbox.c     alerts and rejects to Kafka (delivery reports, re-sends)
 *   rconn.c      the Redis connection, the script, backoff
 *   parts.c      the partition table; seeks, pauses, offsets for lag tools
 *   batch.c      messages -> counter groups, identities, alerts, rejects (pure)
 *   script.c     the Lua batch script (the atomic unit of exactly-once)
 *   kick.c       fetcher wake-ups for librdkafka 2.0 (#2879), on a thread
 *   health.c     Kafka brokers reachable (librdkafka's statistics), Redis probed
 *                while idle; the verdict of /healthz and the stats line
 *   metrics.c    metrics.listen: /metrics and /healthz served from a snapshot the
 *                poll loop copies (never waits for the HTTP thread) */
#ifndef SGS_CONSUMER_H
#define SGS_CONSUMER_H

#include <signal.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "decide.h"
#include "idcache.h"
#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/hash.h"
#include "sgs/rcluster.h"
#include "sgs/prom.h"
#include "sgs/record.h"
#include "sgs/registry.h"

/* script.c */
extern const char sgs_consumer_script[];

struct outbox_entry;

/* One alert or reject of an outbox entry, delivered on its own: a delivered
 * item is never produced again with the undelivered ones. */
typedef struct outbox_item {
    int kind; /* SGS_DR_OUTBOX (first member: the delivery report's opaque) */
    struct outbox_entry *entry;
    char type;                                 /* SGS_STORE_OUTBOX_ALERT / _REJECT */
    size_t key_off, key_len, val_off, val_len; /* in entry->blob */
    char *cut;      /* a reject cut to fit the broker's limit (owned), or NULL */
    size_t cut_len; /* its length */
    int state;      /* queued, in flight, delivered (outbox.c) */
} outbox_item;

/* An outbox entry being delivered to Kafka (one batch of one partition). */
typedef struct outbox_entry {
    struct outbox_entry *next;
    int32_t partition;
    int64_t end; /* the batch's end offset: the field in P:T:outbox */
    char *blob;
    size_t len;
    outbox_item *items;
    size_t n_items;
    int pending; /* items without a delivery report yet */
    int failed;  /* some delivery failed: the undelivered items go again */
    int room;    /* librdkafka's queue was full: the rest go as soon as it has room */
    int held;    /* gathered: goes with the next round of deliveries (outbox.c) */
    int64_t retry_at;
    int retry_ms;
    char last_error[160];
} outbox_entry;

/* A forwarded copy's header (route.c). */
#define SGS_FWD_HEADER "sgs-fwd"
typedef struct sgs_fwd_header {
    char epoch[17];
    int32_t partition; /* of the original */
    int64_t offset;    /* of the original */
    int64_t seq;       /* of the copies from that partition to this one */
} sgs_fwd_header;

/* The route (route.c): P:route as read from Redis. */
typedef struct sgs_route {
    int loaded;
    int32_t n; /* partitions that hold the units' state */
    char epoch[17];
    enum sgs_partitioner partitioner;
    /* each unit's partition (by its registry index) plus 1, 0 until asked:
     * the partitioner hashes the unit id byte by byte, once per message
     * otherwise (NULL when it could not be allocated) */
    int32_t *target_of;
    size_t n_units;
} sgs_route;

/* Forward sequences of a partition, per other partition: what Redis stores
 * (com) and what the batches in hand reached (cur). */
typedef struct seq_table {
    int64_t *cur, *com;
    int32_t n;
} seq_table;

typedef struct part_state {
    int assigned;
    int paused;
    int paused_at_revoke;    /* librdkafka keeps it paused into the next assignment */
    int needs_sync;          /* stored offset unknown (Redis was unavailable at assignment) */
    int committed_unknown;   /* sync.c: Kafka's committed offset could not be read (warned) */
    int64_t sync_not_before; /* sync.c: monotonic ms before which the sync is not retried */
    int at_eof;
    int resend;      /* re-send the outbox once no reply is owed */
    int seek_failed; /* a seek did not take: messages are ignored until a retry does */
    int64_t stored;  /* offset stored in Redis as we believe it (-1: none) */
    int64_t next;    /* next offset we expect (after the batch in hand) */
    /* Bumped whenever the partition's position moves other than by reading on
     * (a drop, a seek, an assignment): a message in hand polled under an older
     * generation is discarded (ahead.h). */
    uint32_t gen;
    sgs_batch batch;    /* being collected */
    sgs_batch closed;   /* collected, waiting for its forwarded copies' delivery */
    sgs_batch sent;     /* sent to Redis and not known to be applied (n_msgs > 0) */
    seq_table fo;       /* next sequence per target partition */
    seq_table fi;       /* next sequence expected per source partition */
    int64_t gap_warned; /* the missing sequence last warned about (writer.c take_copy) */
    char **acks;        /* outbox fields delivered, to delete */
    size_t n_acks, cap_acks;
    sgs_idcache idc;      /* the identity store's fields as Redis holds them (idcache.h) */
    sgs_decide_list used; /* the cache entries of the batch being sent */
    sgs_decide_list miss; /* of them, those to read from Redis first */
    sgs_tally tally;      /* what the batch being sent adds (tally.h) */
    sgs_buf outbox_entry; /* its alerts and rejects, outbox-encoded, as sent */
} part_state;

/* The EVALSHA being built: argument vectors reused for every one. A value
 * whose argv is NULL lies at off in text (which may move while it grows). */
typedef struct eval_args {
    const char **argv;
    size_t *len, *off;
    size_t n, cap;
    sgs_buf text;
} eval_args;

/* The producer's topics, in sgs_consumer.produced. */
enum { SGS_PRODUCED_ALERTS, SGS_PRODUCED_REJECTS, SGS_PRODUCED_RECORDS };

typedef struct sgs_consumer {
    sgs_config *cfg; /* owned */
    sgs_registry *registry;
    sgs_calendar *calendar;
    sgs_rules rules;
    const char *topic;  /* borrowed from cfg */
    const char *prefix; /* borrowed from cfg */

    rd_kafka_t *rk;                /* consumer */
    rd_kafka_queue_t *rkq;         /* the consumer queue (for its length) */
    int64_t last_kick;             /* monotonic ms of the last fetcher wake-up (kick.c) */
    int32_t kick_next;             /* rotating partition index for wake-ups */
    size_t fetch_queue_bytes;      /* queued.max.messages.kbytes, in bytes */
    uint64_t polled_bytes;         /* payload bytes and messages polled lately (their */
    uint64_t polled_count;         /* ratio: the mean message the queue holds) */
    rd_kafka_t *producer;          /* alerts and rejects */
    rd_kafka_topic_t *produced[3]; /* its topics: SGS_PRODUCED_* (rebalance.c) */
    int cooperative;
    int joined; /* an assignment happened, and no revoke took every partition since */

    sgs_rcl *rcl;       /* one Redis or a cluster (rconn.c) */
    sgs_rcl_pipe *pipe; /* the batches' EVALSHAs */
    char script_sha[41];
    int script_loaded;
    int redis_down;      /* state for logging once per change */
    int64_t policy_next; /* monotonic ms of the next maxmemory-policy check (rconn.c) */
    int policy_unknown_said;
    int64_t retry_at; /* monotonic ms of the next Redis retry */
    int retry_ms;     /* current backoff */
    int batch_paused; /* partitions paused because Redis is unavailable */

    part_state *parts;
    int32_t n_parts;

    outbox_entry *outbox;       /* in delivery, oldest first */
    outbox_entry **outbox_tail; /* the last entry's next (&outbox when empty) */
    int outbox_waits_room;      /* an entry waits for room in librdkafka's queue */
    int64_t outbox_round_at;    /* monotonic ms the gathered entries go at (0: none held) */
    int outbox_now;             /* stopping: gathered entries go at once */
    size_t outbox_pending;      /* entries */
    size_t outbox_bytes;        /* their bytes */
    int outbox_full;            /* at consumer.outbox.max_entries / max_bytes */
    int outbox_full_said;       /* ... as the log said last (outbox.c) */
    int outbox_paused;          /* partitions paused because the outbox is full */
    int copies_paused;          /* partitions paused: a batch waits for its forwarded copies and the
                                   one collected meanwhile is full too (consumer.c) */
    uint64_t outbox_full_times;

    sgs_route route;
    int rebuild;          /* --rebuild: wipe, then consume everything again */
    int lost;             /* refused: a partition's state is gone from Redis */
    char lost_line[1536]; /* the one line that says which and how to rebuild */

    /* Redis replies owed: the EVALSHAs of one submit, in this partition order,
     * and their units in the pipe. */
    int32_t *inflight;
    long *inflight_unit;
    size_t n_inflight, cap_inflight;
    eval_args args;

    /* configuration read once (looked up per batch otherwise) */
    long cf_retention, cf_window, cf_minrec, cf_thr_h;
    char cf_thrtext[32];
    int cf_retry_max;
    int cf_timeout_ms;
    size_t cf_batch_bytes; /* consumer.batch.max_bytes */
    size_t cf_outbox_entries, cf_outbox_bytes;
    long cf_alerts_kept; /* consumer.alerts_kept: latest alerts kept per partition (P:T:al) */
    long cf_ledger_max;  /* consumer.ledger.max_per_unit: ledger entries per unit and month */
    int cf_fail_seeks;   /* debug.fail_seeks: seeks still to fail (fault tests) */
    enum sgs_partitioner cf_partitioner;

    struct sgs_ahead *ahead; /* the messages in hand (ahead.h) */
    int taking_in_hand;      /* sgs_writer_take_in_hand is running */
    sgs_batch_env env;       /* what batches are built with */

    /* counters of this run */
    sgs_batch_counts n;
    uint64_t fenced, alerts_sent, delivery_failures, seek_failures, gaps;
    int64_t ms_polling, ms_redis;      /* where the time went (stats) */
    uint64_t ask_waits;                /* the Redis client's ask_waits last logged */
    int64_t first_msg_ms, last_msg_ms; /* wall time of first and last applied message */
    size_t batch_msgs;                 /* messages in the batches being collected */
    size_t sent_msgs;                  /* messages sent to Redis, not yet known applied */
    int64_t batch_started;             /* monotonic ms */
    int batch_full;                    /* a partition's batch reached consumer.batch.max_bytes */

    /* ---- health and metrics (issue 13: health.c, metrics.c) ---- */
    struct sgs_metrics *metrics;            /* the metrics.listen server, NULL when off */
    sgs_prom_hist batch_seconds;            /* EVALSHA written -> its reply read (writer.c) */
    int64_t batch_sent_ns;                  /* when the EVALSHAs in flight were written */
    uint64_t batches;                       /* batches applied */
    uint64_t redis_errors;                  /* Redis unavailable or refusing (each back-off) */
    uint64_t alerts_late, alerts_late_rate; /* alerts produced by type (outbox.c) */
    char redis_error[600];                  /* why Redis was last unavailable */
    int brokers_up, brokers_known;          /* brokers UP / known, librdkafka's statistics */
    int brokers_down;                       /* no broker reachable since brokers_down_ms (wall) */
    int64_t brokers_down_ms;
    int64_t next_redis_probe; /* monotonic ms */

    /* ---- the registry's and calendar's reload, the calendar's horizon ---- */
    volatile sig_atomic_t *reload;      /* SIGHUPs received (main.c); applied between batches */
    sig_atomic_t reloads_seen;          /* how many of them were handled */
    uint64_t reloads_ok, reloads_error; /* sgs_config_reloads_total{result} */
    uint64_t fallbacks_before;          /* fallback lookups of the calendars reloaded away */
    int have_now;                       /* SGS_NOW given: the fixed clock of tests */
    int64_t now_fixed;                  /* its instant, Unix seconds */
    sgs_day horizon_logged;             /* the day the horizon warning was last logged */
    int64_t next_second;                /* monotonic ms: the once-a-second chores */

    volatile sig_atomic_t *signals; /* signals received (main.c) */
    int fatal;
    double exit_on_idle; /* seconds, 0: off */
} sgs_consumer;

/* ---- consumer.c ------------------------------------------------------------ */

/* Builds the context from a loaded configuration: takes ownership of cfg (also
 * on failure), checks it and loads the registry and the calendar through the
 * one loader (sgs/loader.h, as every sgs-aggregator command), reads SGS_NOW,
 * starts the Kafka consumer
 * (subscribed) and producer. NULL with a message naming the file or key at
 * fault. signals: the counter main.c's handler increments; reload: the count
 * of SIGHUPs (units.file and calendar.file are loaded again once the batches
 * in hand are written, never in the middle of one). rebuild: wipe the
 * topic's partition state first and run until it is all counted again
 * (--rebuild). */
sgs_consumer *sgs_consumer_create(sgs_config *cfg, volatile sig_atomic_t *signals,
                                  volatile sig_atomic_t *reload, double exit_on_idle, int rebuild,
                                  char *errstr, size_t errstr_size);
/* Stops and frees everything; NULL ok. */
void sgs_consumer_destroy(sgs_consumer *c);
/* Stops every thread that logs (librdkafka's, the metrics server) and
 * frees the Kafka handles; the counters stay readable. After
 * sgs_consumer_drain, so that the exit summary is the last thing printed. */
void sgs_consumer_close_threads(sgs_consumer *c);
/* The poll loop, until a signal, a fatal error or --exit-on-idle. */
void sgs_consumer_run(sgs_consumer *c);
/* Finishes the batch in hand (retrying while Redis is down, until a signal
 * beyond stop_signals), leaves the group, delivers alerts and rejects. */
void sgs_consumer_drain(sgs_consumer *c, int stop_signals);
/* The info line of counters (secs: the interval msgs_before was taken at). */
void sgs_consumer_stats_line(sgs_consumer *c, double secs, uint64_t msgs_before);

/* ---- horizon.c ------------------------------------------------------------ */
/* Today by the consumer's clock (SGS_NOW when set, as the aggregator's) in
 * timezone.offset. */
sgs_day sgs_consumer_today(const sgs_consumer *c);
/* Fallback lookups of every calendar this run used (sgs_calendar_fallbacks). */
uint64_t sgs_consumer_fallbacks(const sgs_consumer *c);
/* The calendar's horizon warning, when due and not yet logged today. */
void sgs_consumer_horizon_log(sgs_consumer *c);

/* ---- rebalance.c ----------------------------------------------------------- */

/* Creates the Kafka consumer (rebalance, error and log callbacks) and the
 * producer, and subscribes to topic.records. 0, or -1 with errstr. */
int sgs_rebalance_start(sgs_consumer *c, char *errstr, size_t errstr_size);

/* ---- sync.c ---------------------------------------------------------------- */

/* --rebuild: marks the rebuild in Redis (P:rebuild) and deletes every key of
 * every partition of the records topic and the route (snapshots, spot-check
 * findings and other global keys stay). 0, or -1 with errstr. */
int sgs_sync_rebuild_start(sgs_consumer *c, char *errstr, size_t errstr_size);
/* 1 when every partition of the topic has stored an offset at or past the
 * end it had when the rebuild started (then the marker is removed), 0 not
 * yet, -1 Redis unavailable. */
int sgs_sync_rebuild_done(sgs_consumer *c);

/* Reads the stored offset of a partition and re-sends its undelivered outbox
 * entries. 0, or -1 when Redis is unavailable. */
int sgs_sync_partition(sgs_consumer *c, int32_t partition);
/* Syncs assigned partitions whose position is still unknown (Redis was down at
 * assignment, or Redis holds another state than the one this consumer wrote),
 * seeks and resumes them. */
void sgs_sync_pending(sgs_consumer *c);
/* With no batch in hand or in flight: compares every assigned partition's
 * offset in Redis with the one this consumer stored, and syncs again
 * (sgs_writer_resync) the ones that differ. 0, or -1 when Redis is unavailable. */
int sgs_sync_check_offsets(sgs_consumer *c);
/* Re-sends the outboxes of partitions marked for it (after a fenced batch). */
void sgs_sync_resends(sgs_consumer *c);
/* Deletes delivered outbox entries of partitions without a batch in flight. */
int sgs_sync_flush_acks(sgs_consumer *c);

/* ---- writer.c -------------------------------------------------------------- */

/* Gives the batch environment what it asks of the partitions' identity
 * caches (sgs_batch_env.key_kept). */
void sgs_writer_init_env(sgs_consumer *c);
/* Parses the messages in hand (polled, not yet in a batch: c->ahead) and
 * adds them to their batches in the order polled (ahead.h). The poll loop
 * calls it after polling; the rebalance callback before it changes anything. */
void sgs_writer_take_in_hand(sgs_consumer *c);
/* The bytes of the largest batch being collected (consumer.batch.max_bytes
 * counts them). */
size_t sgs_writer_batch_bytes_top(const sgs_consumer *c);
/* 1 when a partition's closed batch waits for its forwarded copies' delivery. */
int sgs_writer_copies_waiting(const sgs_consumer *c);
/* 1 when some copies a batch forwarded are not delivered yet (the batch
 * cannot go now). */
int sgs_writer_copies_pending(const sgs_consumer *c);
/* Waits for the batch in flight, then sends the batches being collected (one
 * pipelined EVALSHA per partition) without waiting for them: Redis applies
 * them while the next batch is read. 0, or -1 when Redis is unavailable (the
 * batches are kept for a retry). */
int sgs_writer_submit(sgs_consumer *c);
/* Waits for the batch in flight and retries sent batches Redis did not apply.
 * 0 when nothing sent is left unapplied, -1 when Redis is unavailable. */
int sgs_writer_settle(sgs_consumer *c);
/* submit + settle: every batch in hand applied (or fenced and dropped). 0,
 * -1 when Redis is unavailable, -2 when a batch's forwarded copies were still
 * undelivered after 30 s (the batches are kept in both cases). */
int sgs_writer_flush(sgs_consumer *c);
/* The connection ready and no EVALSHA reply owed (other commands may be sent).
 * 0 or -1. */
int sgs_writer_quiet(sgs_consumer *c);
/* Drops the partition's batches (collected and sent); it continues from its
 * stored offset. */
void sgs_writer_drop(sgs_consumer *c, int32_t partition);
/* Redis holds another state of the partition than the one this consumer built
 * on (its offset differs): drops what is in hand, pauses the partition and
 * marks it for sgs_sync_pending, which reads its offset and forward sequences
 * again and seeks there; its messages are ignored until then. */
void sgs_writer_resync(sgs_consumer *c, int32_t partition);
void sgs_writer_free(sgs_consumer *c);

/* ---- route.c --------------------------------------------------------------- */

/* Loads P:route (once); when it is missing and create is set, fixes it from
 * the topic's partition count and consumer.route.partitioner (the first
 * writer wins). 0 loaded, 1 missing, -1 Redis unavailable or the value is
 * not a route (then c->fatal). Needs a quiet connection. */
int sgs_route_load(sgs_consumer *c, int create);
/* The partition that counts the unit; -1 before the route is loaded. */
int32_t sgs_route_target(const sgs_consumer *c, const sgs_unit *u);
/* Frees what sgs_route_load allocated. */
void sgs_route_free(sgs_consumer *c);
/* The registry was loaded again: the units' partitions are asked anew. */
void sgs_route_units_changed(sgs_consumer *c);
/* The sgs-fwd header of a message: 1 and *h, 0 when there is none, -1 when it
 * is malformed. */
int sgs_route_header_parse(const rd_kafka_message_t *m, sgs_fwd_header *h);
/* Its value, "<epoch: 16 lowercase hex digits>:<partition>:<offset>:<seq>"
 * with unsigned decimals of at most 18 digits (forward.c writes it): 0 and
 * *h, -1 when it is anything else (a parser of its own: sscanf was 2 % of an
 * unkeyed run's CPU). */
int sgs_route_header_value_parse(const void *value, size_t len, sgs_fwd_header *h);

/* ---- forward.c ------------------------------------------------------------- */

/* Produces a copy of m to partition `to` of the records topic, tracked by b
 * (allocated on first use). 0, or -1 (b's tracker is marked failed, or b->oom). */
int sgs_forward_send(sgs_consumer *c, sgs_batch *b, const rd_kafka_message_t *m, int32_t to,
                     int64_t seq, const char *key);
/* A forwarded copy's delivery report (opaque: its tracker). */
void sgs_forward_on_dr(sgs_consumer *c, const rd_kafka_message_t *m);
/* Every copy of the batch acknowledged (or it forwarded none). */
int sgs_forward_ready(const sgs_batch *b);
/* A copy of the batch was not delivered. */
int sgs_forward_failed(const sgs_batch *b);

/* ---- outbox.c -------------------------------------------------------------- */

/* An alert's or reject's delivery report (opaque: its outbox item). */
void sgs_outbox_on_dr(sgs_consumer *c, const rd_kafka_message_t *m);
/* Produces an outbox entry (takes a copy of blob). */
void sgs_outbox_send(sgs_consumer *c, int32_t partition, int64_t end, const char *blob, size_t len);
/* Handles entries whose deliveries all reported: queues acks, re-sends failures. */
void sgs_outbox_reap(sgs_consumer *c);
int sgs_outbox_tracked(const sgs_consumer *c, int32_t partition, int64_t end);
void sgs_outbox_free(sgs_consumer *c);

/* ---- rconn.c --------------------------------------------------------------- */

/* The Redis handle from the configuration (redis.cluster, or redis.host/port),
 * without any I/O. 0, or -1 with errstr naming the key at fault. */
int sgs_rconn_create(sgs_consumer *c, char *errstr, size_t errstr_size);
void sgs_rconn_free(sgs_consumer *c);
/* Redis may be used: past the backoff, the script loaded on every master.
 * 0 or -1. */
int sgs_rconn_ready(sgs_consumer *c);
/* Redis could not be reached (why names the node): log once, back off. */
void sgs_rconn_lost(sgs_consumer *c, const char *why);
/* A command was refused (OOM, READONLY, WRONGTYPE...): log once, back off. */
void sgs_rconn_refused(sgs_consumer *c, const char *why);
/* A batch went through: log the recovery once. */
void sgs_rconn_recovered(sgs_consumer *c);
/* One command on the node of key's slot (hiredis format). The reply, or NULL
 * with errstr after backing off (unreachable, or refused: an error reply). */
redisReply *sgs_rconn_command(sgs_consumer *c, const char *key, char *errstr, size_t errstr_size,
                              const char *fmt, ...);

/* ---- parts.c --------------------------------------------------------------- */

/* (sgs_parts_get, asked several times a message, is inline in parts.h) */
/* Pauses (pause = 1) or resumes the assigned partitions (only = -1: all).
 * Only what was paused is resumed. */
void sgs_parts_pause(sgs_consumer *c, int32_t only, int pause);
/* Moves the partition's fetch position (offset < 0: the beginning), checking
 * the partition's own error in the result. A failure marks the partition
 * (seek_failed: its messages are ignored) and is retried by
 * sgs_parts_retry_seeks. 0 or -1. */
int sgs_parts_seek(sgs_consumer *c, int32_t partition, int64_t offset);
/* Retries the seeks that failed. */
void sgs_parts_retry_seeks(sgs_consumer *c);
/* The partition's forward sequences back to what Redis stores. */
void sgs_parts_seq_rollback(part_state *ps);
/* Sequence tables: the value for a partition (0 when none yet), set both cur
 * and com (loading from Redis), set cur (a batch in hand). -1 when OOM. */
int64_t sgs_parts_seq_get(const seq_table *t, int32_t partition);
int sgs_parts_seq_load(seq_table *t, int32_t partition, int64_t v);
int sgs_parts_seq_set(seq_table *t, int32_t partition, int64_t v);
/* A batch that reached v was applied: Redis stores v. */
int sgs_parts_seq_commit(seq_table *t, int32_t partition, int64_t v);
/* Refuses to go on: the partition's state is gone from Redis (why). Logs the
 * one line that names the partition and how to rebuild (c->lost_line), and
 * stops the consumer (exit status 1). */
void sgs_parts_lost(sgs_consumer *c, int32_t partition, const char *why);
/* Tells librdkafka the next offset, for the commits lag tools read. */
void sgs_parts_store_offset(sgs_consumer *c, int32_t partition, int64_t next);
/* Queues a delivered outbox field for deletion. */
void sgs_parts_add_ack(part_state *ps, int64_t end);
/* Forgets the first n queued acks (deleted in Redis). */
void sgs_parts_take_acks(part_state *ps, size_t n);
/* The records topic's partition count (metadata, up to 10 s); -1 on failure. */
int sgs_parts_count(sgs_consumer *c);
/* Messages behind the high watermarks of the assigned partitions. */
int64_t sgs_parts_lag(sgs_consumer *c);
void sgs_parts_free(sgs_consumer *c);

/* ---- health.c ---------------------------------------------------------------- */

/* Installs the statistics callback that tells which brokers are up (with
 * statistics.interval.ms = 1000 unless kafka.statistics.interval.ms is set). */
void sgs_health_kafka_conf(sgs_consumer *c, rd_kafka_conf_t *conf);
/* error_cb saw all brokers down (it logged so). */
void sgs_health_brokers_down(sgs_consumer *c);
/* Housekeeping: while nothing is in hand, Redis is connected (from the start)
 * and PINGed every second, so an outage is known and logged without a batch. */
void sgs_health_tick(sgs_consumer *c, int64_t now);
/* What /healthz answers: 0 unhealthy (Redis fails, Kafka has a fatal error,
 * a partition's state was lost: 503) with the reason in why; healthy (200):
 * SGS_HEALTH_OK (why empty), or SGS_HEALTH_KAFKA_DOWN while no broker is
 * reachable, said in why (librdkafka reconnects by itself). */
enum { SGS_HEALTH_OK = 1, SGS_HEALTH_KAFKA_DOWN = 2 };
int sgs_health_check(sgs_consumer *c, char *why, size_t why_size);

/* ---- metrics.c --------------------------------------------------------------- */

/* Serves /metrics and /healthz on metrics.listen (nothing when it is empty).
 * 0, or -1 with errstr. */
int sgs_metrics_start(sgs_consumer *c, char *errstr, size_t errstr_size);
/* Housekeeping: copies the figures the server shows, at most every 100 ms
 * (force: now). */
void sgs_metrics_tick(sgs_consumer *c, int64_t now, int force);
void sgs_metrics_stop(sgs_consumer *c);

/* ---- kick.c: wakes the broker threads that lead the partitions (their
 * fetchers, asleep once the queue was full), without waiting (see there). */
void sgs_kick_fetchers(rd_kafka_t *rk, const char *topic, const int32_t *parts, size_t n);

#endif

/* sgs-consumer: Kafka record events -> per-unit counters in Redis, exactly once
 * in effect; late alerts and rejects to Kafka, at least once. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consumer.h"
#include "sgs/date.h"
#include "sgs/kafkaconf.h"
#include "sgs/log.h"

extern char **environ;

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig)
{
    (void)sig;
    signals_seen++;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sgs-consumer -c FILE [-X key=value]... [--exit-on-idle SECONDS]\n"
                 "       sgs-consumer -X list      (print the configuration keys)\n");
}

static void pause_parts(sgs_consumer *c, int32_t only, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || (only >= 0 && p != only))
            continue;
        if (pause && !ps->paused) {
            rd_kafka_topic_partition_list_add(l, c->topic, p);
            ps->paused = 1;
        } else if (!pause && ps->paused && !ps->needs_sync) {
            rd_kafka_topic_partition_list_add(l, c->topic, p);
            ps->paused = 0;
        }
    }
    if (l->cnt) {
        rd_kafka_resp_err_t err =
            pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
        if (err)
            sgs_warn("%s partitions: %s", pause ? "pausing" : "resuming", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void on_assign(sgs_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int redis_ok = sgs_consumer_redis_quiet(c) == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = 0;

    if (redis_ok) {
        /* Register the partitions for the aggregator, before any batch. */
        for (int i = 0; i < parts->cnt && redis_ok; i++) {
            char member[300], key[300];
            snprintf(key, sizeof(key), "%s:partitions", c->prefix);
            snprintf(member, sizeof(member), "%s:%" PRId32, c->topic, parts->elems[i].partition);
            redisReply *r = redisCommand(c->redis, "SADD %s %s", key, member);
            if (!r) {
                sgs_consumer_redis_lost(c, c->redis->errstr);
                redis_ok = 0;
            } else {
                freeReplyObject(r);
            }
        }
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_state *ps = sgs_consumer_part(c, p);
        if (!ps)
            continue;
        ps->assigned = 1;
        ps->paused = 0;
        ps->at_eof = 0;
        ps->needs_sync = 1;
        ps->next = -1;
        if (redis_ok && sgs_consumer_sync_partition(c, p) == 0) {
            ps->needs_sync = 0;
            ps->next = ps->stored;
            /* Redis is the truth; without a stored offset, Kafka's committed one
             * (or auto.offset.reset) applies. */
            parts->elems[i].offset = ps->stored >= 0 ? ps->stored : RD_KAFKA_OFFSET_INVALID;
        } else {
            redis_ok = 0;
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        }
        sgs_info("assigned %s [%" PRId32 "] at %s%" PRId64, c->topic, p,
                 ps->needs_sync ? "(unknown until Redis answers) " : "",
                 ps->stored >= 0 ? ps->stored : (int64_t)-1);
    }
    if (c->cooperative)
        error = rd_kafka_incremental_assign(c->rk, parts);
    else
        err = rd_kafka_assign(c->rk, parts);
    if (error) {
        sgs_error("incremental assign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (err) {
        sgs_error("assign: %s", rd_kafka_err2str(err));
    }
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = sgs_consumer_part(c, parts->elems[i].partition);
        if (ps && ps->needs_sync)
            pause_parts(c, parts->elems[i].partition, 1);
    }
    if (c->batch_paused) /* Redis is down: do not start fetching new partitions */
        pause_parts(c, -1, 1);
    c->joined = 1;
}

static void on_revoke(sgs_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    int lost = rd_kafka_assignment_lost(c->rk);
    int in_hand = 0;
    rd_kafka_error_t *error = NULL;

    /* Lost partitions may have a new owner already: their batches are dropped
     * (a reply still owed for one is then ignored; the fence refuses it if the
     * new owner has written). The replies owed for the others are taken first. */
    for (int i = 0; lost && i < parts->cnt; i++)
        sgs_consumer_drop_batch(c, parts->elems[i].partition);
    if (c->n_inflight)
        sgs_consumer_settle(c);
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = sgs_consumer_part(c, parts->elems[i].partition);
        if (ps && (ps->batch.n_msgs || ps->sent.n_msgs))
            in_hand = 1;
    }
    /* The batches in hand are applied whole (one attempt) or dropped whole; if
     * the partitions were lost, a new owner may already be ahead: the fence
     * would refuse them anyway, so they are dropped. */
    if (in_hand && !lost) {
        c->retry_at = 0;
        if (sgs_consumer_flush(c) != 0)
            sgs_warn("revoke: Redis unavailable, dropping the batch in hand (the next owner "
                     "re-reads it)");
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_state *ps = sgs_consumer_part(c, p);
        if (!ps)
            continue;
        sgs_consumer_drop_batch(c, p);
        ps->assigned = 0;
        ps->paused = 0;
        ps->needs_sync = 0;
        ps->at_eof = 0;
        ps->stored = -1;
        ps->next = -1;
        sgs_info("revoked %s [%" PRId32 "]%s", c->topic, p, lost ? " (lost)" : "");
    }
    if (c->cooperative)
        error = rd_kafka_incremental_unassign(c->rk, parts);
    else
        rd_kafka_assign(c->rk, NULL);
    if (error) {
        sgs_error("incremental unassign: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    sgs_consumer *c = opaque;
    c->cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(c, parts);
    } else {
        sgs_error("rebalance failed: %s", rd_kafka_err2str(err));
        on_revoke(c, parts);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sgs_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        sgs_error("fatal Kafka error: %s: %s; draining and exiting", rd_kafka_err2name(orig), buf);
        c->fatal = 1;
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        sgs_warn("kafka: all brokers down (%s); retrying", reason);
    else
        sgs_debug("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sgs_error("librdkafka %s: %s", fac, buf);
    else if (level <= 4)
        sgs_warn("librdkafka %s: %s", fac, buf);
    else
        sgs_debug("librdkafka %s: %s", fac, buf);
}

static int load_inputs(sgs_consumer *c, char *err, size_t errsz)
{
    const char *tz = sgs_config_get(c->cfg, "timezone.offset");
    c->registry = sgs_registry_load(sgs_config_get(c->cfg, "units.file"), err, errsz);
    if (!c->registry)
        return -1;
    c->calendar = sgs_calendar_load(sgs_config_get(c->cfg, "calendar.file"), err, errsz);
    if (!c->calendar)
        return -1;
    c->unit_stamp = calloc(sgs_registry_count(c->registry) + 1, sizeof(*c->unit_stamp));
    if (!c->unit_stamp) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->rules.calendar = c->calendar;
    c->rules.registry = c->registry;
    c->rules.deadline_workdays[SGS_KIND_LICENSE] =
        (int)sgs_config_get_int(c->cfg, "deadline.license.workdays");
    c->rules.deadline_workdays[SGS_KIND_PENALTY] =
        (int)sgs_config_get_int(c->cfg, "deadline.penalty.workdays");
    c->rules.count_decision_day = sgs_config_get_bool(c->cfg, "deadline.count_decision_day");
    sgs_tz_offset_parse(tz, &c->rules.tz_offset);
    c->topic = sgs_config_get(c->cfg, "topic.records");
    c->prefix = sgs_config_get(c->cfg, "redis.prefix");
    sgs_consumer_pipeline_init(c);
    return 0;
}

static int start_kafka(sgs_consumer *c, char *err, size_t errsz)
{
    /* Fetch long polls are kept short (sgs_kafka_consumer_defaults) so that the
     * fetcher wake-ups (kick.c) never wait long behind one. */
    rd_kafka_conf_t *conf = sgs_kafka_conf_new(c->cfg, sgs_kafka_consumer_defaults, err, errsz);
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t e;
    char kerr[512];

    if (!conf)
        return -1;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof(kerr));
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errsz, "kafka consumer: %s", kerr);
        return -1;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->rkq = rd_kafka_queue_get_consumer(c->rk);
    c->kicker = sgs_kicker_start(c->rk, c->topic); /* without it: only slower */
    c->producer = sgs_kafka_producer_new(c->cfg, sgs_consumer_dr_cb, c, err, errsz);
    if (!c->producer)
        return -1;
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errsz, "subscribe to %s: %s", c->topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

static int64_t total_lag(sgs_consumer *c)
{
    int64_t lag = 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        int64_t lo, hi;
        part_state *ps = &c->parts[p];
        if (!ps->assigned)
            continue;
        if (rd_kafka_get_watermark_offsets(c->rk, c->topic, p, &lo, &hi) == 0 && hi >= 0) {
            int64_t pos = ps->next >= 0 ? ps->next : lo;
            if (hi > pos)
                lag += hi - pos;
        }
    }
    return lag;
}

static void stats_line(sgs_consumer *c, double secs, uint64_t msgs_before)
{
    sgs_info("stats: %.0f msg/s, messages %" PRIu64 ", records %" PRIu64 ", late %" PRIu64
             ", invalid %" PRIu64 ", duplicates %" PRIu64 ", rejects %" PRIu64
             ", unattributed %" PRIu64 ", lag %" PRId64 "%s; ms in poll %" PRId64
             ", in redis %" PRId64,
             secs > 0 ? (double)(c->messages - msgs_before) / secs : 0.0, c->messages, c->records,
             c->late, c->invalid, c->duplicates, c->rejects, c->unattributed, total_lag(c),
             c->redis_down ? ", redis down" : "", c->ms_polling, c->ms_redis);
}

/* Idle: every assigned partition at its end with nothing in hand or in flight. */
static int is_idle(sgs_consumer *c)
{
    int any = 0;
    if (!c->joined || c->batch_msgs || c->sent_msgs || c->outbox_pending)
        return 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned)
            continue;
        any = 1;
        if (!ps->at_eof || ps->needs_sync || ps->n_acks)
            return 0;
    }
    (void)any;
    return 1;
}

static void sync_pending(sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || !ps->needs_sync)
            continue;
        if (sgs_consumer_sync_partition(c, p) != 0)
            return;
        ps->needs_sync = 0;
        ps->next = ps->stored;
        if (ps->stored >= 0)
            sgs_consumer_seek(c, p, ps->stored);
        sgs_info("partition %" PRId32 ": position from Redis: %" PRId64, p, ps->stored);
        if (!c->batch_paused)
            pause_parts(c, p, 0);
    }
}

/* librdkafka 2.0.x can leave a partition unfetched for up to a second once its
 * prefetch queue was full (kick.c). When our queue runs low, the leaders of a
 * few partitions with a backlog get a watermark query (on the kicker's thread),
 * at most every 20 ms. */
static void kick_fetcher(sgs_consumer *c, int64_t now)
{
    int32_t parts[4];
    size_t n = 0;
    if (!c->kicker || now - c->last_kick < 20 || rd_kafka_queue_length(c->rkq) >= 2000 ||
        !sgs_kicker_idle(c->kicker))
        return;
    c->last_kick = now;
    for (int32_t i = 0; i < c->n_parts && n < 4; i++) {
        int32_t p = (c->kick_next + i) % c->n_parts;
        part_state *ps = &c->parts[p];
        int64_t lo, hi;
        if (!ps->assigned || ps->at_eof || ps->paused || ps->needs_sync || ps->next < 0)
            continue;
        if (rd_kafka_get_watermark_offsets(c->rk, c->topic, p, &lo, &hi) != 0 || hi <= ps->next)
            continue;
        parts[n++] = p;
        c->kick_next = p + 1;
    }
    sgs_kicker_ask(c->kicker, parts, n);
}

static void handle_message(sgs_consumer *c, rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        part_state *ps = sgs_consumer_part(c, m->partition);
        if (ps && ps->assigned && (ps->next < 0 || m->offset >= ps->next))
            ps->at_eof = 1;
    } else if (m->err) {
        static rd_kafka_resp_err_t last_err;
        if (m->err != last_err)
            sgs_warn("kafka: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "",
                     m->rkt ? rd_kafka_topic_name(m->rkt) : "");
        last_err = m->err;
    } else {
        sgs_consumer_add_message(c, m);
    }
}

static void run(sgs_consumer *c)
{
    int max_msgs = (int)sgs_config_get_int(c->cfg, "consumer.batch.max_messages");
    int max_ms = (int)sgs_config_get_int(c->cfg, "consumer.batch.max_ms");
    int stats_s = (int)sgs_config_get_int(c->cfg, "consumer.stats_interval_s");
    int64_t next_stats = sgs_now_ms() + stats_s * 1000LL, stats_at = sgs_now_ms();
    uint64_t stats_msgs = 0;
    int64_t idle_since = 0, next_housekeeping = 0;

    while (!signals_seen && !c->fatal) {
        int64_t now = sgs_now_ms();
        int timeout = 100;
        rd_kafka_message_t *m;

        /* Housekeeping at most every 5 ms, not once per message. */
        if (now >= next_housekeeping) {
            next_housekeeping = now + 5;
            rd_kafka_poll(c->producer, 0);
            sgs_consumer_outbox_reap(c);
            sync_pending(c);
            if (!c->batch_paused)
                kick_fetcher(c, now);
            if (stats_s > 0 && now >= next_stats) {
                stats_line(c, (double)(now - stats_at) / 1000.0, stats_msgs);
                stats_msgs = c->messages;
                stats_at = now;
                next_stats = now + stats_s * 1000LL;
            }
        }

        /* A full (or old enough) batch goes to Redis, which applies it while
         * the next one is read; while Redis is unavailable this is the retry. */
        if ((c->batch_msgs &&
             (c->batch_msgs >= (size_t)max_msgs || now - c->batch_started >= max_ms)) ||
            (c->batch_paused && (c->batch_msgs || c->sent_msgs))) {
            if (c->redis_down && now < c->retry_at) {
                timeout = (int)(c->retry_at - now);
                if (timeout > 100)
                    timeout = 100;
            } else if (sgs_consumer_submit(c) != 0) {
                if (!c->batch_paused) {
                    pause_parts(c, -1, 1);
                    c->batch_paused = 1;
                }
                continue;
            } else if (c->batch_paused) {
                c->batch_paused = 0;
                pause_parts(c, -1, 0);
            }
        }
        if (c->batch_msgs && !c->batch_paused) {
            int64_t left = c->batch_started + max_ms - now;
            timeout = left < 0 ? 0 : left > 100 ? 100 : (int)left;
        }
        if (c->n_inflight)
            timeout = 0; /* a reply is owed: collect it as soon as the queue is empty */
        int64_t t_poll = sgs_now_ms();
        m = rd_kafka_consumer_poll(c->rk, timeout);
        c->ms_polling += sgs_now_ms() - t_poll;
        if (m) {
            handle_message(c, m);
            rd_kafka_message_destroy(m);
        } else if ((c->batch_msgs || c->n_inflight) && !c->batch_paused) {
            /* nothing more right now: take the replies owed, write what we have */
            if (sgs_consumer_submit(c) != 0) {
                pause_parts(c, -1, 1);
                c->batch_paused = 1;
            }
        } else if (!c->batch_msgs && !c->sent_msgs && !c->redis_down) {
            /* a quiet moment: delete delivered outbox entries that no batch took along */
            rd_kafka_poll(c->producer, 0);
            sgs_consumer_outbox_reap(c);
            sgs_consumer_flush_acks(c);
        }

        if (m && c->batch_msgs)
            continue; /* in the middle of a batch: straight back to polling */
        now = sgs_now_ms();
        if (is_idle(c)) {
            if (!idle_since)
                idle_since = now;
            if (c->exit_on_idle > 0 && (double)(now - idle_since) >= c->exit_on_idle * 1000.0) {
                sgs_info("idle for %.1f s: every assigned partition is at its end; stopping",
                         c->exit_on_idle);
                break;
            }
        } else {
            idle_since = 0;
        }
    }
}

/* Finish the batch in hand (retrying while Redis is down, until a second
 * signal), leave the group, deliver the alerts and rejects. */
static void drain(sgs_consumer *c, int stop_signals)
{
    while ((c->batch_msgs || c->sent_msgs) && !c->fatal && signals_seen <= stop_signals) {
        if (sgs_consumer_flush(c) == 0)
            break;
        usleep(100 * 1000);
        rd_kafka_poll(c->producer, 0);
    }
    if (c->batch_msgs || c->sent_msgs)
        sgs_warn("stopping with %zu unwritten messages; they will be read again",
                 c->batch_msgs + c->sent_msgs);
    sgs_kicker_stop(c->kicker);
    c->kicker = NULL;
    /* close runs a final revoke through rebalance_cb (same flush/fence path) */
    rd_kafka_consumer_close(c->rk);
    for (int i = 0; i < 300 && c->outbox_pending && signals_seen <= stop_signals; i++) {
        rd_kafka_flush(c->producer, 100);
        sgs_consumer_outbox_reap(c);
    }
    sgs_consumer_outbox_reap(c);
    if (c->outbox_pending)
        sgs_warn("%zu batches of alerts/rejects not yet delivered; they stay in the Redis "
                 "outbox and are re-sent by the next owner",
                 c->outbox_pending);
    if (!c->redis_down || sgs_now_ms() >= c->retry_at)
        sgs_consumer_flush_acks(c);
}

static void destroy(sgs_consumer *c)
{
    sgs_kicker_stop(c->kicker);
    if (c->rkq)
        rd_kafka_queue_destroy(c->rkq);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    if (c->producer)
        rd_kafka_destroy(c->producer);
    sgs_consumer_outbox_free(c);
    for (int32_t p = 0; p < c->n_parts; p++) {
        sgs_consumer_batch_free(&c->parts[p].batch);
        sgs_consumer_batch_free(&c->parts[p].sent);
        for (size_t i = 0; i < c->parts[p].n_acks; i++)
            free(c->parts[p].acks[i]);
        free(c->parts[p].acks);
    }
    free(c->parts);
    free(c->unit_stamp);
    sgs_buf_free(&c->tmp);
    if (c->redis)
        redisFree(c->redis);
    sgs_registry_destroy(c->registry);
    sgs_calendar_destroy(c->calendar);
    sgs_config_destroy(c->cfg);
    sgs_consumer_pipeline_free(c);
}

int main(int argc, char **argv)
{
    sgs_consumer c;
    const char *file = NULL;
    char **xs = calloc((size_t)argc + 1, sizeof(*xs));
    size_t n_xs = 0;
    char err[1024];
    struct sigaction sa;
    int rc = 0;

    memset(&c, 0, sizeof(c));
    sgs_log_set_program("sgs-consumer");
    if (!xs)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(a, "-X") == 0 && i + 1 < argc) {
            if (strcmp(argv[i + 1], "list") == 0) {
                sgs_config_print_help(stdout);
                free(xs);
                return 0;
            }
            xs[n_xs++] = argv[++i];
        } else if (strcmp(a, "--exit-on-idle") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            c.exit_on_idle = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || c.exit_on_idle <= 0) {
                fprintf(stderr, "sgs-consumer: --exit-on-idle: expected seconds > 0, got '%s'\n",
                        argv[i]);
                free(xs);
                return 2;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(xs);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("sgs-consumer %s (librdkafka %s)\n", SGS_VERSION, rd_kafka_version_str());
            free(xs);
            return 0;
        } else {
            fprintf(stderr, "sgs-consumer: unknown or incomplete argument '%s' (see --help)\n", a);
            free(xs);
            return 2;
        }
    }
    c.cfg = sgs_config_new();
    if (!c.cfg || sgs_config_load(c.cfg, file, environ, xs, n_xs, err, sizeof(err)) != 0 ||
        load_inputs(&c, err, sizeof(err)) != 0) {
        fprintf(stderr, "sgs-consumer: %s\n", c.cfg ? err : "out of memory");
        free(xs);
        destroy(&c);
        return 2;
    }
    free(xs);
    sgs_log_set_level((enum sgs_log_level)sgs_config_log_level(c.cfg));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (start_kafka(&c, err, sizeof(err)) != 0) {
        fprintf(stderr, "sgs-consumer: %s\n", err);
        destroy(&c);
        return 2;
    }
    sgs_info("consuming %s as group %s; Redis %s:%s prefix %s", c.topic,
             sgs_config_get(c.cfg, "kafka.group.id"), sgs_config_get(c.cfg, "redis.host"),
             sgs_config_get(c.cfg, "redis.port"), c.prefix);
    run(&c);
    drain(&c, signals_seen ? 1 : 0);
    stats_line(&c, 0, c.messages);
    if (c.fatal)
        rc = 1;
    {
        double secs = c.first_msg_ms && c.last_msg_ms > c.first_msg_ms
                          ? (double)(c.last_msg_ms - c.first_msg_ms) / 1000.0
                          : 0.0;
        fprintf(stderr, "sgs-consumer: processed %" PRIu64 " messages in %.2f s (%.0f msg/s)\n",
                c.messages, secs, secs > 0 ? (double)c.messages / secs : 0.0);
    }
    if (sgs_calendar_fallbacks(c.calendar))
        sgs_warn("%" PRIu64 " deadline lookups used the Monday-Friday fallback (years missing "
                 "from %s)",
                 sgs_calendar_fallbacks(c.calendar), sgs_config_get(c.cfg, "calendar.file"));
    destroy(&c);
    return rc;
}

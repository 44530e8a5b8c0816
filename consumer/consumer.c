/* The consumer's context and its poll loop: messages into batches, batches to
 * Redis, housekeeping (delivery reports, outbox, partitions waiting for Redis,
 * fetcher wake-ups, stats), idle detection and the drain at shutdown. */
#include <inttypes.h>
#if defined(__GLIBC__) && !defined(SGS_JEMALLOC)
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ahead.h"
#include "consumer.h"
#include "parts.h"
#include "sgs/clock.h"
#include "sgs/date.h"
#include "sgs/loader.h"
#include "sgs/log.h"

/* Reads the configuration the batches use, loads the registry and calendar
 * (the one loader: the same checks as every sgs-aggregator command). */
static int load_inputs(sgs_consumer *c, char *err, size_t errsz)
{
    double thr = sgs_config_get_double(c->cfg, "alert.late_rate_threshold");
    const char *now = getenv("SGS_NOW");
    if (sgs_loader_load(c->cfg, &c->registry, &c->calendar, err, errsz) != 0)
        return -1;
    c->rules.calendar = c->calendar;
    c->rules.registry = c->registry;
    c->rules.deadline_workdays[SGS_KIND_LICENSE] =
        (int)sgs_config_get_int(c->cfg, "deadline.license.workdays");
    c->rules.deadline_workdays[SGS_KIND_PENALTY] =
        (int)sgs_config_get_int(c->cfg, "deadline.penalty.workdays");
    c->rules.count_decision_day = sgs_config_get_bool(c->cfg, "deadline.count_decision_day");
    sgs_tz_offset_parse(sgs_config_get(c->cfg, "timezone.offset"), &c->rules.tz_offset);
    if (now && *now) {
        if (sgs_clock_parse_now(now, c->rules.tz_offset, &c->now_fixed) != 0) {
            snprintf(err, errsz,
                     "environment: SGS_NOW: expected YYYY-MM-DD or an RFC 3339 time, got '%s'",
                     now);
            return -1;
        }
        c->have_now = 1;
    }
    c->topic = sgs_config_get(c->cfg, "topic.records");
    c->prefix = sgs_config_get(c->cfg, "redis.prefix");
    c->cf_retention = sgs_config_get_int(c->cfg, "consumer.day_retention_days");
    c->cf_window = sgs_config_get_int(c->cfg, "alert.window_days");
    c->cf_minrec = sgs_config_get_int(c->cfg, "alert.late_rate_min_records");
    c->cf_thr_h = (long)(thr * 100.0 + (thr < 0 ? -0.5 : 0.5));
    /* the threshold as compared (hundredths), one decimal at least: 10.0,
     * 12.5, 12.25 */
    if (c->cf_thr_h % 10 == 0)
        snprintf(c->cf_thrtext, sizeof(c->cf_thrtext), "%ld.%ld", c->cf_thr_h / 100,
                 c->cf_thr_h / 10 % 10);
    else
        snprintf(c->cf_thrtext, sizeof(c->cf_thrtext), "%ld.%02ld", c->cf_thr_h / 100,
                 c->cf_thr_h % 100);
    c->cf_retry_max = (int)sgs_config_get_int(c->cfg, "consumer.retry_max_ms");
    c->cf_timeout_ms = (int)sgs_config_get_int(c->cfg, "redis.timeout_ms");
    c->cf_batch_bytes = (size_t)sgs_config_get_int(c->cfg, "consumer.batch.max_bytes");
    c->cf_outbox_entries = (size_t)sgs_config_get_int(c->cfg, "consumer.outbox.max_entries");
    c->cf_outbox_bytes = (size_t)sgs_config_get_int(c->cfg, "consumer.outbox.max_bytes");
    c->cf_fail_seeks = (int)sgs_config_get_int(c->cfg, "debug.fail_seeks");
    c->cf_alerts_kept = sgs_config_get_int(c->cfg, "consumer.alerts_kept");
    c->cf_ledger_max = sgs_config_get_int(c->cfg, "consumer.ledger.max_per_unit");
    /* crc32 or murmur2 (sgs_loader_check_config) */
    c->cf_partitioner = strcmp(sgs_config_get(c->cfg, "consumer.route.partitioner"), "murmur2") == 0
                            ? SGS_PARTITIONER_MURMUR2
                            : SGS_PARTITIONER_CRC32;
    if (sgs_batch_env_init(&c->env, c->topic, c->registry,
                           (size_t)sgs_config_get_int(c->cfg, "consumer.reject_payload_max"),
                           (int)sgs_config_get_int(c->cfg, "consumer.identity_horizon_months")) !=
        0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->env.fail_alloc = sgs_config_get_int(c->cfg, "debug.fail_alloc");
    sgs_writer_init_env(c);
    return 0;
}

sgs_consumer *sgs_consumer_create(sgs_config *cfg, volatile sig_atomic_t *signals,
                                  volatile sig_atomic_t *reload, double exit_on_idle, int rebuild,
                                  char *errstr, size_t errstr_size)
{
    sgs_consumer *c = calloc(1, sizeof(*c));
    if (!c) {
        sgs_config_destroy(cfg);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->outbox_tail = &c->outbox;
    c->signals = signals;
    c->reload = reload;
    c->exit_on_idle = exit_on_idle;
    c->rebuild = rebuild;
    if (load_inputs(c, errstr, errstr_size) != 0 || sgs_rconn_create(c, errstr, errstr_size) != 0)
        goto fail;
    c->ahead = sgs_ahead_new(&c->rules);
    if (!c->ahead) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (sgs_rebalance_start(c, errstr, errstr_size) != 0)
        goto fail;
    /* The rebuild reads the topic's partitions and watermarks through the
     * consumer handle, so it comes after the Kafka set-up; the subscription's
     * rebalance callbacks run only from the poll loop, so the wipe still comes
     * before any partition is assigned. */
    if (rebuild && sgs_sync_rebuild_start(c, errstr, errstr_size) != 0)
        goto fail;
    if (sgs_metrics_start(c, errstr, errstr_size) != 0) /* issue 13: metrics.listen */
        goto fail;
    return c;
fail:
    sgs_consumer_destroy(c);
    return NULL;
}

void sgs_consumer_close_threads(sgs_consumer *c)
{
    sgs_metrics_stop(c);      /* issue 13 */
    sgs_ahead_free(c->ahead); /* before the handle its messages belong to */
    c->ahead = NULL;
    if (c->rkq)
        rd_kafka_queue_destroy(c->rkq);
    c->rkq = NULL;
    if (c->rk)
        rd_kafka_destroy(c->rk);
    c->rk = NULL;
    for (size_t i = 0; i < sizeof(c->produced) / sizeof(c->produced[0]); i++) {
        if (c->produced[i])
            rd_kafka_topic_destroy(c->produced[i]);
        c->produced[i] = NULL;
    }
    if (c->producer)
        rd_kafka_destroy(c->producer);
    c->producer = NULL;
}

void sgs_consumer_destroy(sgs_consumer *c)
{
    if (!c)
        return;
    sgs_consumer_close_threads(c);
    sgs_outbox_free(c);
    sgs_parts_free(c);
    sgs_writer_free(c);
    sgs_route_free(c);
    sgs_batch_env_free(&c->env);
    sgs_rconn_free(c);
    sgs_registry_destroy(c->registry);
    sgs_calendar_destroy(c->calendar);
    sgs_config_destroy(c->cfg);
    free(c);
}

/* SIGHUP: units.file and calendar.file again, with the start-up checks. Called
 * with no batch in hand, sent or in flight (their units are registry indexes),
 * so every batch is built and written under one registry and calendar. */
static void apply_reload(sgs_consumer *c)
{
    sgs_registry *reg;
    sgs_calendar *cal;
    uint64_t *stamp;
    char err[1024];
    if (sgs_loader_load_files(c->cfg, &reg, &cal, err, sizeof(err)) != 0) {
        sgs_error("reload refused, the registry and calendar in use stay: %s", err);
        c->reloads_error++;
        return;
    }
    stamp = calloc(sgs_registry_count(reg) + 1, sizeof(*stamp));
    if (!stamp) {
        sgs_error("reload refused, the registry and calendar in use stay: out of memory");
        sgs_calendar_destroy(cal);
        sgs_registry_destroy(reg);
        c->reloads_error++;
        return;
    }
    free(c->env.unit_stamp);
    c->env.unit_stamp = stamp;
    c->env.registry = reg;
    c->rules.registry = reg;
    c->rules.calendar = cal;
    c->fallbacks_before += sgs_calendar_fallbacks(c->calendar);
    sgs_registry_destroy(c->registry);
    sgs_calendar_destroy(c->calendar);
    c->registry = reg;
    c->calendar = cal;
    sgs_route_units_changed(c); /* a unit's index may name another unit now */
    c->reloads_ok++;
    c->horizon_logged = 0;
    sgs_info("reloaded %s (%zu units) and %s (years to %d)", sgs_config_get(c->cfg, "units.file"),
             sgs_registry_count(reg), sgs_config_get(c->cfg, "calendar.file"),
             sgs_calendar_last_year(cal));
    sgs_consumer_horizon_log(c);
}

/* A reload asked for: the batches in hand are written first (0 when done or
 * nothing to do, -1 when Redis is unavailable: asked again next time). */
static int reload_between_batches(sgs_consumer *c)
{
    if (c->reloads_seen == *c->reload)
        return 0;
    if ((c->batch_msgs || c->sent_msgs || c->n_inflight) &&
        (sgs_writer_flush(c) != 0 || sgs_writer_settle(c) != 0))
        return -1;
    c->reloads_seen = *c->reload;
    apply_reload(c);
    return 0;
}

void sgs_consumer_stats_line(sgs_consumer *c, double secs, uint64_t msgs_before)
{
    char extra[256] = "";
    size_t n = 0;
    if (c->n.forwarded || c->n.replays)
        n += (size_t)snprintf(extra + n, sizeof(extra) - n,
                              ", forwarded %" PRIu64 ", replays skipped %" PRIu64, c->n.forwarded,
                              c->n.replays);
    if (c->outbox_pending && n < sizeof(extra))
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", outbox %zu%s", c->outbox_pending,
                              c->outbox_full ? " (full: paused)" : "");
    if (c->fenced && n < sizeof(extra))
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", fenced %" PRIu64, c->fenced);
    if (c->redis_down && n < sizeof(extra))
        n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", redis down");
    /* issue 13: with every broker down the watermarks are stale: no lag */
    if (c->brokers_down && n < sizeof(extra))
        snprintf(extra + n, sizeof(extra) - n, ", kafka down");
    char lag[48];
    if (c->brokers_down)
        snprintf(lag, sizeof(lag), "unknown (no broker reachable)");
    else
        snprintf(lag, sizeof(lag), "%" PRId64, sgs_parts_lag(c));
    sgs_info("stats: %.0f msg/s, messages %" PRIu64 ", records %" PRIu64 ", late %" PRIu64
             ", invalid %" PRIu64 ", duplicates %" PRIu64 ", rejects %" PRIu64
             ", unattributed %" PRIu64 ", malformed %" PRIu64 ", lag %s%s; ms in poll %" PRId64
             ", in redis %" PRId64,
             secs > 0 ? (double)(c->n.messages - msgs_before) / secs : 0.0, c->n.messages,
             c->n.records, c->n.late, c->n.invalid, c->n.duplicates, c->n.rejects,
             c->n.unattributed, c->n.malformed, lag, extra, c->ms_polling, c->ms_redis);
}

/* Idle: every assigned partition at its end with nothing in hand or in flight. */
static int is_idle(sgs_consumer *c)
{
    if (!c->joined || c->batch_msgs || c->sent_msgs || c->outbox_pending)
        return 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned)
            continue;
        if (!ps->at_eof || ps->needs_sync || ps->n_acks)
            return 0;
    }
    return 1;
}

/* librdkafka 2.0.x can leave a partition unfetched for up to a second once its
 * prefetch queue was full (kick.c). Once our queue holds less than the
 * fetcher's limit (queued.max.messages.kbytes of payload; here its messages
 * counted at the mean payload polled lately), the fetcher would fetch but may
 * be asleep: the leaders of the partitions with a backlog get a request
 * that wakes them (kick.c), at most every 5 ms (a housekeeping round).
 * Waking it only when the queue had nearly run dry (2,000 messages, a few ms
 * of work, at most every 20 ms) left the consumer waiting in poll for 10-17 %
 * of its time while the refill came; waking it at half the limit gave back
 * most of the gain (docs/PERFORMANCE.md, "Waking the fetcher sooner"). */
static int queue_below_limit(sgs_consumer *c)
{
    size_t len = rd_kafka_queue_length(c->rkq);
    uint64_t mean;
    if (c->polled_count == 0 || c->fetch_queue_bytes == 0)
        return len < 2000;
    mean = c->polled_bytes / c->polled_count;
    return (uint64_t)len * (mean ? mean : 1) < c->fetch_queue_bytes;
}

/* Whether partition p, being read, has messages at its leader past those
 * read (its high watermark as the last fetch saw it). */
static int has_backlog(sgs_consumer *c, int32_t p)
{
    part_state *ps = &c->parts[p];
    int64_t lo, hi;
    if (!ps->assigned || ps->at_eof || ps->paused || ps->needs_sync || ps->next < 0)
        return 0;
    return rd_kafka_get_watermark_offsets(c->rk, c->topic, p, &lo, &hi) == 0 && hi > ps->next;
}

/* Whether a partition has a backlog while the queue is empty: then the
 * fetcher should be fetching, or is asleep and must be woken. */
static int backlog_unfetched(sgs_consumer *c)
{
    if (rd_kafka_queue_length(c->rkq) != 0)
        return 0;
    for (int32_t p = 0; p < c->n_parts; p++)
        if (has_backlog(c, p))
            return 1;
    return 0;
}

static void kick_fetcher(sgs_consumer *c, int64_t now)
{
    enum { KICK_MAX = 64 };
    int32_t parts[KICK_MAX];
    size_t n = 0;
    if (now - c->last_kick < 5 || !queue_below_limit(c))
        return;
    c->last_kick = now;
    for (int32_t i = 0; i < c->n_parts && n < KICK_MAX; i++) {
        int32_t p = (c->kick_next + i) % c->n_parts;
        if (!has_backlog(c, p))
            continue;
        parts[n++] = p;
        c->kick_next = p + 1;
    }
    sgs_kick_fetchers(c->rk, c->topic, parts, n);
}

/* At most what a message adds to its batch's bytes (consumer.batch.max_bytes
 * counts identities, items and rejects): up to three rejects (a revoke's
 * unknown_record and the rules it failed, a too_old), each with the payload
 * as written (escaped or base64) at most consumer.reject_payload_max bytes
 * and up to 16 reasons of ~600 bytes; a late alert, a ledger entry and the
 * identity, a few KB of escaped fields. */
static size_t batch_bytes_bound(const sgs_consumer *c, const rd_kafka_message_t *m)
{
    size_t len = m->err || !m->payload ? 0 : m->len;
    size_t written = len > c->env.reject_max / 6 ? c->env.reject_max : 6 * len;
    return 3 * (written + 16 * 1024);
}

/* Polls up to `room` messages into the hand (at most SGS_AHEAD_MAX): the
 * first poll waits up to timeout ms, the others not at all. The hand stops
 * short of what could fill a batch past consumer.batch.max_bytes: so a batch
 * closes as it did when messages came one at a time, one message past the
 * bytes at most (a batch beyond Redis's proto-max-bulk-len would be refused
 * for ever). Returns how many were polled, also those a rebalance callback
 * took in hand meanwhile. */
static int poll_in_hand(sgs_consumer *c, int timeout, int room)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout);
    size_t top = sgs_writer_batch_bytes_top(c), hand = 0;
    size_t room_bytes = c->cf_batch_bytes > top ? c->cf_batch_bytes - top : 0;
    int polled = 0;
    while (m) {
        part_state *ps = m->rkt ? sgs_parts_get(c, m->partition) : NULL;
        rd_kafka_timestamp_type_t tstype;
        sgs_ahead_put(c->ahead, m, m->err ? -1 : rd_kafka_message_timestamp(m, &tstype),
                      ps ? ps->gen : 0);
        if (!m->err) {
            c->polled_bytes += m->len; /* the mean of the last ~64k (kick_fetcher) */
            if (++c->polled_count >= 65536) {
                c->polled_bytes /= 2;
                c->polled_count /= 2;
            }
        }
        polled++;
        hand += batch_bytes_bound(c, m);
        if (polled >= room || hand >= room_bytes || sgs_ahead_room(c->ahead) == 0)
            break;
        m = rd_kafka_consumer_poll(c->rk, 0);
    }
    return polled;
}

/* Whether Redis still runs the batches in flight, looked at without waiting
 * (once per hand of messages). Meanwhile the loop reads on instead of waiting
 * in the socket read, which took ~5 % of the reading time at full speed
 * (docs/PERFORMANCE.md): a full batch goes on collecting, up to half its size
 * again, and an empty queue is polled again after a millisecond. For wait_ms
 * after the write at most: a Redis that does not answer is then waited for
 * in the collect, whose timeout (redis.timeout_ms) counts from there. */
static int replies_pending(sgs_consumer *c, int64_t wait_ms)
{
    return c->n_inflight && !c->batch_paused && !c->redis_down &&
           sgs_clock_mono_ns() - c->batch_sent_ns < wait_ms * 1000000 &&
           !sgs_rcl_pipe_replied(c->pipe);
}

/* Redis refused or is unreachable: pause every partition until a batch goes
 * through again. */
static void pause_for_redis(sgs_consumer *c)
{
    if (!c->batch_paused) {
        sgs_parts_pause(c, -1, 1);
        c->batch_paused = 1;
    }
}

/* Gives the heap's free pages back to the system, once a second. librdkafka's
 * threads allocate each fetched and decompressed message set and this thread
 * frees it; freed chunks between live ones stay resident, and glibc only
 * returns the top of a heap by itself. Without this the RSS crept up for the
 * whole run (48 -> 51 MiB anonymous over 1M records, more with 2M); with it,
 * it stays level and falls back to ~19 MiB when the topic is drained
 * (docs/PERFORMANCE.md, "Peak RSS"). A walk over the arenas' free lists: well
 * under a millisecond here. With jemalloc (the program's allocator, main.c)
 * there is nothing to do: it returns freed pages itself after 0.5 s. */
static void return_free_memory(void)
{
#if defined(__GLIBC__) && !defined(SGS_JEMALLOC)
    malloc_trim(0);
#endif
}

void sgs_consumer_run(sgs_consumer *c)
{
    int max_msgs = (int)sgs_config_get_int(c->cfg, "consumer.batch.max_messages");
    int max_ms = (int)sgs_config_get_int(c->cfg, "consumer.batch.max_ms");
    int stats_s = (int)sgs_config_get_int(c->cfg, "consumer.stats_interval_s");
    int64_t next_stats = sgs_clock_mono_ms() + stats_s * 1000LL, stats_at = sgs_clock_mono_ms();
    uint64_t stats_msgs = 0;
    int64_t idle_since = 0, next_housekeeping = 0, next_rebuild_check = 0;
    int64_t after_poll = 0;
    int fast = 0;        /* the last round only read a message into the batch */
    int owed_unread = 0; /* the last round found the queue empty and a reply owed */
    int dry_sent = 0;    /* a batch was sent when the queue last ran dry (or could not go) */
    /* a batch this big goes when the queue runs dry (below) */
    size_t dry_min = max_msgs / 8 > 1 ? (size_t)max_msgs / 8 : 1;
    /* replies owed are looked for without waiting this long after the write */
    int64_t reply_wait_ms = sgs_config_get_int(c->cfg, "redis.timeout_ms");
    if (reply_wait_ms > 50)
        reply_wait_ms = 50;
    /* and a batch may reach this many messages meanwhile */
    size_t stretch = (size_t)max_msgs + (size_t)max_msgs / 2;

    sgs_consumer_horizon_log(c);
    while (!*c->signals && !c->fatal) {
        /* two clock reads per message on the way of a batch being read (around
         * the poll), not three, and coarse ones: a timer tick's error is nothing
         * against consumer.batch.max_ms, and "ms in poll" sums many polls */
        int64_t now = fast ? after_poll : sgs_clock_mono_coarse_ms();
        int timeout = 100;
        int polled, room;

        fast = 0;
        /* Housekeeping at most every 5 ms, not once per message. */
        if (now >= next_housekeeping) {
            next_housekeeping = now + 5;
            rd_kafka_poll(c->producer, 0);
            sgs_outbox_reap(c);
            sgs_sync_pending(c);
            sgs_sync_resends(c);
            sgs_parts_retry_seeks(c);
            if (c->outbox_full && !c->outbox_paused) {
                sgs_parts_pause(c, -1, 1);
                c->outbox_paused = 1;
            } else if (!c->outbox_full && c->outbox_paused) {
                c->outbox_paused = 0;
                if (!c->batch_paused && !c->copies_paused)
                    sgs_parts_pause(c, -1, 0);
            }
            if (!c->batch_paused)
                kick_fetcher(c, now);
            if (now >= c->next_second) {
                /* the once-a-second chores: the horizon warning (logged once a
                 * day while the calendar's end is near) and the heap */
                c->next_second = now + 1000;
                sgs_consumer_horizon_log(c);
                return_free_memory();
            }
            if (c->reload && !c->batch_paused && reload_between_batches(c) != 0) {
                pause_for_redis(c);
                continue;
            }
            sgs_health_tick(c, now);     /* issue 13: Redis known without a batch */
            sgs_metrics_tick(c, now, 0); /* issue 13: the figures /metrics shows */
            if (stats_s > 0 && now >= next_stats) {
                sgs_consumer_stats_line(c, (double)(now - stats_at) / 1000.0, stats_msgs);
                stats_msgs = c->n.messages;
                stats_at = now;
                next_stats = now + stats_s * 1000LL;
            }
        }

        /* A full (or old enough) batch goes to Redis, which applies it while
         * the next one is read; while Redis is unavailable this is the retry. */
        if ((c->batch_msgs && (c->batch_msgs >= (size_t)max_msgs || c->batch_full ||
                               now - c->batch_started >= max_ms)) ||
            (c->batch_paused && (c->batch_msgs || c->sent_msgs))) {
            if (c->redis_down && now < c->retry_at) {
                timeout = (int)(c->retry_at - now);
                if (timeout > 100)
                    timeout = 100;
            } else if (c->batch_full || c->batch_msgs >= stretch ||
                       !replies_pending(c, reply_wait_ms)) {
                if (sgs_writer_submit(c) != 0) {
                    pause_for_redis(c);
                    continue;
                }
                if (c->batch_paused) {
                    c->batch_paused = 0;
                    if (!c->outbox_paused && !c->copies_paused)
                        sgs_parts_pause(c, -1, 0);
                }
            }
        }
        if (c->batch_msgs && !c->batch_paused) {
            int64_t left = c->batch_started + max_ms - now;
            timeout = left < 0 ? 0 : left > 100 ? 100 : (int)left;
        }
        if (c->n_inflight)
            /* a reply is owed: collect it as soon as the queue is empty; once
             * it was not in yet, look again after a millisecond at most */
            timeout = owed_unread ? 1 : 0;
        else if (c->batch_msgs >= dry_min && !c->batch_paused && !c->outbox_full && !dry_sent &&
                 !sgs_writer_copies_pending(c))
            /* nothing of ours in Redis and a batch of an eighth of
             * consumer.batch.max_messages or more: it goes as soon as the
             * queue runs dry, not when its consumer.batch.max_ms are up (the
             * last messages of a burst waited up to 50 ms for nothing: a
             * quarter of a mock benchmark's run). More messages would spread
             * a script's own cost (~0.1 ms) over more, which past a thousand
             * or so gains little. A smaller batch (a trickle) waits as above,
             * and so does one that could not go: the outbox full, or copies
             * it forwarded still in delivery. While a batch is in Redis the
             * next one collects as before. */
            timeout = 0;
        else if (c->batch_msgs && timeout > 2 && now - c->batch_started >= max_ms)
            timeout = 2; /* a batch waits for its forwarded copies' delivery reports */
        /* A batch waiting for its forwarded copies' delivery (a target's
         * leader away: librdkafka retries for up to message.timeout.ms) holds
         * back the one collected meanwhile. Once that one is full too, the
         * partitions pause (the poll goes on, so the group keeps the member)
         * until the waiting batch has gone: what is in hand stays bounded. */
        if (c->copies_paused ? !sgs_writer_copies_waiting(c)
                             : c->batch_msgs >= (size_t)max_msgs &&
                                   (c->batch_msgs >= 2 * (size_t)max_msgs ||
                                    sgs_writer_batch_bytes_top(c) >= c->cf_batch_bytes) &&
                                   sgs_writer_copies_waiting(c)) {
            c->copies_paused = !c->copies_paused;
            if (c->copies_paused) {
                sgs_warn("a batch waits for the delivery of copies it forwarded, and the one "
                         "read meanwhile is full: reading pauses until they are delivered");
                sgs_parts_pause(c, -1, 1);
            } else {
                sgs_info("forwarded copies delivered: reading goes on");
                if (!c->batch_paused && !c->outbox_paused)
                    sgs_parts_pause(c, -1, 0);
            }
        }
        /* With the queue run dry and a backlog at the leader, the fetcher may
         * be asleep until librdkafka's next one-second tick: a wake-up it
         * missed (it still counted the queue full) is not made up for while
         * the loop waits in the poll. So the poll waits 5 ms at most, and the
         * next housekeeping round wakes the fetcher again. Without this a
         * mock run waited 82 ms of its 400 in one such poll. */
        if (timeout > 5 && !c->batch_paused && !c->copies_paused && !c->outbox_paused &&
            backlog_unfetched(c))
            timeout = 5;
        /* alerts and rejects waiting for room in librdkafka's queue, or
         * gathered for their round, go at the next housekeeping round
         * (outbox.c), not after a 100 ms poll */
        if (timeout > 5 && (c->outbox_waits_room || c->outbox_round_at))
            timeout = 5;
        /* a batch takes no more than consumer.batch.max_messages, or half as
         * many more while the replies of the last one are owed */
        room = c->batch_msgs < (size_t)max_msgs           ? max_msgs - (int)c->batch_msgs
               : c->n_inflight && c->batch_msgs < stretch ? (int)(stretch - c->batch_msgs)
                                                          : 1;
        int64_t t_poll = sgs_clock_mono_coarse_ms(); /* "ms in poll": the polls alone */
        polled = poll_in_hand(c, timeout, room);
        after_poll = sgs_clock_mono_coarse_ms();
        c->ms_polling += after_poll - t_poll;
        owed_unread = 0;
        if (polled) {
            dry_sent = 0;
            sgs_writer_take_in_hand(c);
        } else if ((c->batch_msgs || c->n_inflight) && !c->batch_paused) {
            /* nothing more right now: take the replies owed, write what we
             * have; while Redis still runs the batches in flight, messages
             * that come meanwhile are read instead of waiting in the socket.
             * A batch left in hand (it could not go) is not tried again on a
             * dry queue before new messages come: no loop without a wait. */
            if (replies_pending(c, reply_wait_ms)) {
                owed_unread = 1;
            } else {
                dry_sent = 1;
                if (sgs_writer_submit(c) != 0)
                    pause_for_redis(c);
            }
        } else if (!c->batch_msgs && !c->sent_msgs && !c->redis_down) {
            /* a quiet moment: delete delivered outbox entries that no batch took along */
            rd_kafka_poll(c->producer, 0);
            sgs_outbox_reap(c);
            sgs_sync_flush_acks(c);
        }

        if (polled && c->batch_msgs) {
            fast = 1;
            continue; /* in the middle of a batch: straight back to polling */
        }
        now = sgs_clock_mono_coarse_ms();
        if (is_idle(c)) {
            if (!idle_since)
                idle_since = now;
            if (c->rebuild && now - idle_since >= 1000 && now >= next_rebuild_check) {
                int done = sgs_sync_rebuild_done(c);
                next_rebuild_check = now + 1000;
                if (done == 1) {
                    sgs_info("rebuild complete: every partition is counted again from the "
                             "topic; stopping");
                    break;
                }
            } else if (!c->rebuild && c->exit_on_idle > 0 &&
                       (double)(now - idle_since) >= c->exit_on_idle * 1000.0) {
                sgs_info("idle for %.1f s: every assigned partition is at its end; stopping",
                         c->exit_on_idle);
                break;
            }
        } else {
            idle_since = 0;
        }
    }
}

void sgs_consumer_drain(sgs_consumer *c, int stop_signals)
{
    while ((c->batch_msgs || c->sent_msgs) && !c->fatal && *c->signals <= stop_signals) {
        if (sgs_writer_flush(c) == 0)
            break;
        usleep(100 * 1000);
        rd_kafka_poll(c->producer, 0);
    }
    if (c->batch_msgs || c->sent_msgs)
        sgs_warn("stopping with %zu unwritten messages; they will be read again",
                 c->batch_msgs + c->sent_msgs);
    /* close runs a final revoke through the rebalance callback (same flush/fence path) */
    rd_kafka_consumer_close(c->rk);
    c->outbox_now = 1; /* what is gathered goes now */
    for (int i = 0; i < 300 && c->outbox_pending && *c->signals <= stop_signals; i++) {
        rd_kafka_flush(c->producer, 100);
        sgs_outbox_reap(c);
    }
    sgs_outbox_reap(c);
    if (c->outbox_pending)
        sgs_warn("%zu batches of alerts/rejects not yet delivered; they stay in the Redis "
                 "outbox and are re-sent by the next owner",
                 c->outbox_pending);
    if (!c->redis_down || sgs_clock_mono_ms() >= c->retry_at)
        sgs_sync_flush_acks(c);
    sgs_metrics_tick(c, sgs_clock_mono_ms(), 1); /* issue 13: the final figures */
}

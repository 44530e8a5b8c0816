/* ceiling_consumer: the throughput ceiling for sgs-consumer on a given broker.
 *
 * A bare librdkafka consumer-group member: it joins a group (a fresh group id
 * unless --group is given), reads topic.records from the beginning with
 * rd_kafka_consumer_poll and does nothing with the messages but count them.
 * It stops after --messages N messages, or once every assigned partition has
 * reached its end and nothing arrived for --idle S seconds, and prints
 *
 *     ceiling: N messages in S.SS s (R msg/s)
 *
 * on stderr, timed from the first message to the last one. The librdkafka
 * configuration is built exactly as sgs-consumer builds it (the same defaults,
 * sgs_kafka_consumer_defaults,
 * including its 8 MB prefetch cap, then every kafka.* key of the configuration
 * file, the environment and -X), so fetch sizes and queue limits are the same on
 * both sides of the comparison.
 * With --progress MS it also prints "ceiling: progress at T ms: N messages"
 * every MS milliseconds once messages arrive (T: CLOCK_MONOTONIC in ms), which
 * bench/throughput.py --allocs sets against the allocation counts of
 * bench/preload/alloc_count.c.
 * Nothing is committed: offsets are never stored (enable.auto.offset.store is
 * false, as in sgs-consumer), so a second run with the same group starts again
 * from the beginning.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "sgs/config.h"
#include "sgs/kafkaconf.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    char *at_eof;    /* per partition id: 1 when the partition is at its end */
    char *assigned;  /* per partition id: 1 when assigned to this member */
    int32_t n_slots; /* size of the two arrays */
    int32_t n_assigned;
    int32_t n_eof; /* assigned partitions at their end */
} part_track;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int track_grow(part_track *t, int32_t p)
{
    int32_t n = t->n_slots ? t->n_slots : 64;
    char *a, *b;
    if (p < t->n_slots)
        return 0;
    while (n <= p)
        n *= 2;
    a = realloc(t->at_eof, (size_t)n);
    if (!a)
        return -1;
    t->at_eof = a;
    b = realloc(t->assigned, (size_t)n);
    if (!b)
        return -1;
    t->assigned = b;
    memset(t->at_eof + t->n_slots, 0, (size_t)(n - t->n_slots));
    memset(t->assigned + t->n_slots, 0, (size_t)(n - t->n_slots));
    t->n_slots = n;
    return 0;
}

static void track_set_eof(part_track *t, int32_t p, int eof)
{
    if (p < 0 || p >= t->n_slots || !t->assigned[p] || t->at_eof[p] == (char)eof)
        return;
    t->at_eof[p] = (char)eof;
    t->n_eof += eof ? 1 : -1;
}

static void track_assign(part_track *t, const rd_kafka_topic_partition_list_t *l, int add)
{
    for (int i = 0; i < l->cnt; i++) {
        int32_t p = l->elems[i].partition;
        if (p < 0 || track_grow(t, p) != 0)
            continue;
        if (add && !t->assigned[p]) {
            t->assigned[p] = 1;
            t->n_assigned++;
        } else if (!add && t->assigned[p]) {
            if (t->at_eof[p])
                t->n_eof--;
            t->at_eof[p] = 0;
            t->assigned[p] = 0;
            t->n_assigned--;
        }
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    part_track *t = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        track_assign(t, parts, 1);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            e = rd_kafka_assign(rk, parts);
    } else {
        track_assign(t, parts, 0);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            e = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        fprintf(stderr, "ceiling: rebalance: %s\n", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e) {
        fprintf(stderr, "ceiling: rebalance: %s\n", rd_kafka_err2str(e));
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ceiling_consumer [-c FILE] [-X key=value]... [--group ID] [--topic NAME]\n"
            "                        [--messages N] [--idle SECONDS] [--timeout SECONDS]\n"
            "                        [--progress MS]\n"
            "  -c FILE, -X key=value  sgs configuration: kafka.* keys (bootstrap servers,\n"
            "                         fetch sizes ...) and topic.records, as for sgs-consumer\n"
            "  --group ID      consumer group (default: a fresh one, sgs-ceiling-<pid>-<time>)\n"
            "  --topic NAME    topic to read (default: topic.records)\n"
            "  --messages N    stop after N messages (default: read until idle)\n"
            "  --idle S        stop when every assigned partition is at its end and nothing\n"
            "                  arrived for S seconds (default 3)\n"
            "  --timeout S     give up (exit 1) after S seconds in all (default 1800)\n"
            "  --progress MS   every MS milliseconds once messages arrive, print\n"
            "                  'ceiling: progress at T ms: N messages' (T: CLOCK_MONOTONIC)\n"
            "prints on stderr: ceiling: N messages in S.SS s (R msg/s)\n");
}

static int parse_num(const char *opt, const char *s, double min, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (errno || *end || end == s || *out < min) {
        fprintf(stderr, "ceiling_consumer: %s: expected a number >= %g, got '%s'\n", opt, min, s);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *group = NULL, *topic = NULL;
    char **xs = calloc((size_t)argc + 1, sizeof(*xs));
    size_t n_xs = 0;
    double want = 0, idle = 3, timeout = 1800, progress = 0, next_progress = 0;
    char err[512], group_buf[128];
    sgs_config *cfg = NULL;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *topics;
    part_track track = {0};
    uint64_t n = 0, errors = 0;
    double t_start, t_first = 0, t_last = 0, t_activity;
    int rc = 0;
    struct sigaction sa;

    if (!xs)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "-c") == 0 && has) {
            file = argv[++i];
        } else if (strcmp(a, "-X") == 0 && has) {
            xs[n_xs++] = argv[++i];
        } else if (strcmp(a, "--group") == 0 && has) {
            group = argv[++i];
        } else if (strcmp(a, "--topic") == 0 && has) {
            topic = argv[++i];
        } else if (strcmp(a, "--messages") == 0 && has) {
            if (parse_num(a, argv[++i], 0, &want) != 0)
                goto usage_error;
        } else if (strcmp(a, "--idle") == 0 && has) {
            if (parse_num(a, argv[++i], 0.01, &idle) != 0)
                goto usage_error;
        } else if (strcmp(a, "--timeout") == 0 && has) {
            if (parse_num(a, argv[++i], 1, &timeout) != 0)
                goto usage_error;
        } else if (strcmp(a, "--progress") == 0 && has) {
            if (parse_num(a, argv[++i], 1, &progress) != 0)
                goto usage_error;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(xs);
            return 0;
        } else {
            fprintf(stderr, "ceiling_consumer: unknown or incomplete argument '%s'\n", a);
            goto usage_error;
        }
    }

    cfg = sgs_config_new();
    if (!cfg || sgs_config_load(cfg, file, environ, xs, n_xs, err, sizeof(err)) != 0) {
        fprintf(stderr, "ceiling_consumer: %s\n", cfg ? err : "out of memory");
        rc = 2;
        goto out;
    }
    if (!topic)
        topic = sgs_config_get(cfg, "topic.records");
    if (!group) {
        snprintf(group_buf, sizeof(group_buf), "sgs-ceiling-%ld-%ld", (long)getpid(),
                 (long)time(NULL));
        group = group_buf;
    }
    conf = sgs_kafka_conf_new(cfg, sgs_kafka_consumer_defaults, err, sizeof(err));
    if (!conf || rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) != 0) {
        fprintf(stderr, "ceiling_consumer: %s\n", err);
        rc = 2;
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &track);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "ceiling_consumer: kafka consumer: %s\n", err);
        rc = 2;
        goto out;
    }
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    {
        rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (e) {
            fprintf(stderr, "ceiling_consumer: subscribe to %s: %s\n", topic, rd_kafka_err2str(e));
            rc = 2;
            goto out;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    t_start = t_activity = now_s();
    while (!stop_requested) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        double t = now_s();
        if (m) {
            if (!m->err) {
                if (n == 0)
                    t_first = t;
                t_last = t_activity = t;
                n++;
                track_set_eof(&track, m->partition, 0);
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                track_set_eof(&track, m->partition, 1);
            } else {
                errors++;
                fprintf(stderr, "ceiling_consumer: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            if (want > 0 && (double)n >= want)
                break;
        }
        if (progress > 0 && n > 0 && t >= next_progress) {
            fprintf(stderr, "ceiling: progress at %.0f ms: %" PRIu64 " messages\n", t * 1000.0, n);
            next_progress = t + progress / 1000.0;
        }
        if (n > 0 && track.n_assigned > 0 && track.n_eof == track.n_assigned &&
            t - t_activity >= idle)
            break;
        if (t - t_start >= timeout) {
            fprintf(stderr, "ceiling_consumer: timed out after %.0f s with %" PRIu64 " messages\n",
                    timeout, n);
            rc = 1;
            break;
        }
    }
    {
        double secs = n > 1 ? t_last - t_first : 0.0;
        fprintf(stderr, "ceiling: %" PRIu64 " messages in %.2f s (%.0f msg/s)\n", n, secs,
                secs > 0 ? (double)n / secs : 0.0);
    }
    if (errors)
        fprintf(stderr, "ceiling_consumer: %" PRIu64 " consume errors\n", errors);
    rd_kafka_consumer_close(rk);

out:
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    sgs_config_destroy(cfg);
    free(track.at_eof);
    free(track.assigned);
    free(xs);
    return rc;

usage_error:
    usage(stderr);
    free(xs);
    return 2;
}

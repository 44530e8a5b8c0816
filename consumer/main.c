/* sgs-consumer: Kafka record events -> per-unit counters in Redis, exactly once
 * in effect; late alerts and rejects to Kafka, at least once. */
#include <errno.h>
#include <inttypes.h>
#if defined(__GLIBC__) && !defined(SGS_JEMALLOC)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/log.h"

#ifdef SGS_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc reads its options from this symbol at its first allocation
 * (MALLOC_CONF in the environment is applied after it, so an operator can
 * still change any of them). Freed pages go back to the system after 0.5 s
 * instead of 10 s, and at once rather than through a second "muzzy" stage:
 * with the default, librdkafka's freed fetch buffers stayed resident and the
 * peak RSS of a 1M run was 66-69 MiB instead of 53-58 (docs/PERFORMANCE.md). */
const char *malloc_conf = "dirty_decay_ms:500,muzzy_decay_ms:0";

/* "jemalloc 5.3.0 (dirty_decay_ms 500)" as the running library
 * reports it: the options in force, whatever set them. */
static const char *allocator(char *buf, size_t size)
{
    const char *version = "?";
    ssize_t decay = -2;
    size_t n = sizeof(version);
    mallctl("version", &version, &n, NULL, 0);
    n = sizeof(decay);
    mallctl("opt.dirty_decay_ms", &decay, &n, NULL, 0);
    snprintf(buf, size, "jemalloc %.*s (dirty_decay_ms %zd)", (int)strcspn(version, "-"), version,
             decay);
    return buf;
}
#else
static const char *allocator(char *buf, size_t size)
{
    snprintf(buf, size, "%s", "the C library's malloc");
    return buf;
}
#endif

extern char **environ;

static volatile sig_atomic_t signals_seen, reloads_asked;

static void on_signal(int sig)
{
    (void)sig;
    signals_seen++;
}

/* SIGHUP: reload units.file and calendar.file (between batches: consumer.c). */
static void on_hup(int sig)
{
    (void)sig;
    reloads_asked++;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sgs-consumer -c FILE [-X key=value]... [--exit-on-idle SECONDS]\n"
                 "       sgs-consumer -c FILE [-X key=value]... --rebuild\n"
                 "           deletes the state of every partition of topic.records in Redis (not\n"
                 "           the snapshots nor the spot-check findings), counts the topic again\n"
                 "           from its beginning and exits when it is all counted (stop the other\n"
                 "           consumers first; watch and snapshot wait meanwhile)\n"
                 "       sgs-consumer -X list      (print the configuration keys)\n");
}

/* Parses the command line into *file, xs and *exit_on_idle. -1: exit with
 * *status (0 after --help, -X list or --version; 2 on a usage error). */
static int parse_args(int argc, char **argv, const char **file, char **xs, size_t *n_xs,
                      double *exit_on_idle, int *rebuild, int *status)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            *file = argv[++i];
        } else if (strcmp(a, "-X") == 0 && i + 1 < argc) {
            if (strcmp(argv[i + 1], "list") == 0) {
                sgs_config_print_help(stdout);
                *status = 0;
                return -1;
            }
            xs[(*n_xs)++] = argv[++i];
        } else if (strcmp(a, "--exit-on-idle") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            *exit_on_idle = strtod(argv[++i], &end);
            if (errno || *end || end == argv[i] || *exit_on_idle <= 0) {
                fprintf(stderr, "sgs-consumer: --exit-on-idle: expected seconds > 0, got '%s'\n",
                        argv[i]);
                *status = 2;
                return -1;
            }
        } else if (strcmp(a, "--rebuild") == 0) {
            *rebuild = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            *status = 0;
            return -1;
        } else if (strcmp(a, "--version") == 0) {
            char alloc[128];
            printf("sgs-consumer %s (librdkafka %s, %s)\n", SGS_VERSION, rd_kafka_version_str(),
                   allocator(alloc, sizeof(alloc)));
            *status = 0;
            return -1;
        } else {
            fprintf(stderr, "sgs-consumer: unknown or incomplete argument '%s' (see --help)\n", a);
            *status = 2;
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    char **xs = calloc((size_t)argc + 1, sizeof(*xs));
    size_t n_xs = 0;
    double exit_on_idle = 0;
    int rebuild = 0;
    char err[1024];
    struct sigaction sa;
    sgs_config *cfg;
    sgs_consumer *c;
    int rc = 0;

    sgs_log_set_program("sgs-consumer");
#if defined(__GLIBC__) && !defined(SGS_JEMALLOC)
    /* glibc raises its mmap threshold to the size of every large block freed
     * (up to 32 MiB), so after librdkafka's first fetch buffers and the
     * batches' first growth, blocks of hundreds of KiB are carved from the
     * arenas and their pages stay resident: 8-10 MiB more peak RSS in a 1M
     * run (docs/PERFORMANCE.md). A fixed threshold keeps them mapped apart and
     * returned when freed. MALLOC_MMAP_THRESHOLD_ in the environment wins. */
    if (!getenv("MALLOC_MMAP_THRESHOLD_"))
        mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
    if (!xs)
        return 1;
    if (parse_args(argc, argv, &file, xs, &n_xs, &exit_on_idle, &rebuild, &rc) != 0) {
        free(xs);
        return rc;
    }
    cfg = sgs_config_new();
    if (!cfg || sgs_config_load(cfg, file, environ, xs, n_xs, err, sizeof(err)) != 0) {
        fprintf(stderr, "sgs-consumer: %s\n", cfg ? err : "out of memory");
        sgs_config_destroy(cfg);
        free(xs);
        return 2;
    }
    free(xs);
    sgs_log_set_level((enum sgs_log_level)sgs_config_log_level(cfg));

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    c = sgs_consumer_create(cfg, &signals_seen, &reloads_asked, exit_on_idle, rebuild, err,
                            sizeof(err)); /* owns cfg */
    cfg = NULL;
    if (!c) {
        fprintf(stderr, "sgs-consumer: %s\n", err);
        return 2;
    }
    {
        char alloc[128];
        sgs_info("consuming %s as group %s; Redis %s:%s prefix %s; %s", c->topic,
                 sgs_config_get(c->cfg, "kafka.group.id"), sgs_config_get(c->cfg, "redis.host"),
                 sgs_config_get(c->cfg, "redis.port"), c->prefix, allocator(alloc, sizeof(alloc)));
    }
    sgs_consumer_run(c);
    sgs_consumer_drain(c, signals_seen ? 1 : 0);
    sgs_consumer_stats_line(c, 0, c->n.messages);
    sgs_consumer_close_threads(c);
    if (c->fatal)
        rc = 1;
    {
        double secs = c->first_msg_ms && c->last_msg_ms > c->first_msg_ms
                          ? (double)(c->last_msg_ms - c->first_msg_ms) / 1000.0
                          : 0.0;
        fprintf(stderr, "sgs-consumer: processed %" PRIu64 " messages in %.2f s (%.0f msg/s)\n",
                c->n.messages, secs, secs > 0 ? (double)c->n.messages / secs : 0.0);
        /* issue 13: the other counters /metrics exports, as they ended */
        fprintf(stderr,
                "sgs-consumer: counters: batches %" PRIu64 ", fenced %" PRIu64
                ", alerts late %" PRIu64 ", alerts late_rate %" PRIu64
                ", delivery failures %" PRIu64 ", redis errors %" PRIu64 "\n",
                c->batches, c->fenced, c->alerts_late, c->alerts_late_rate, c->delivery_failures,
                c->redis_errors);
    }
    if (c->outbox_pending)
        fprintf(stderr,
                "sgs-consumer: %zu batches of alerts/rejects undelivered (%s); they stay "
                "in the Redis outbox\n",
                c->outbox_pending, c->outbox_full ? "outbox full" : "delivery pending");
    if (c->lost) {
        fprintf(stderr, "sgs-consumer: %s\n", c->lost_line);
        rc = 1;
    }
    if (sgs_consumer_fallbacks(c))
        sgs_warn("%" PRIu64 " deadline lookups used the Monday-Friday fallback (years missing "
                 "from %s)",
                 sgs_consumer_fallbacks(c), sgs_config_get(c->cfg, "calendar.file"));
    sgs_consumer_destroy(c);
    return rc;
}

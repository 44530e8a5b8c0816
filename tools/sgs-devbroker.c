/* sgs-devbroker: a stand-alone in-memory Kafka cluster for development and
 * tests, built on librdkafka's mock cluster (rdkafka_mock.h).
 *
 * Creates the cluster and the sgs topics, prints "bootstrap.servers=<addr>" on
 * stdout once clients can connect (and writes the address to --bootstrap-file),
 * then serves until SIGINT or SIGTERM. Fault-injection commands are read from
 * stdin, one per line, and each is answered by one line on stdout, "ok" or
 * "error: <why>" (see usage()). End of input only stops the reading; the
 * cluster keeps serving, so the program also runs with stdin at /dev/null.
 *
 * Limits of the mock (librdkafka 2.0.2): in memory only, about 5 MiB of batches
 * kept per partition, no admin API, no timestamp lookups, commits refused while
 * a group rebalances, idempotent retries not deduplicated. */
#include "sgs/log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS        64
#define MAX_TOPIC_NAME    249 /* Kafka's limit */
#define LINE_MAX_LEN      4096
#define MAX_PUSHED_ERRORS 100000

struct topic_spec {
    char name[MAX_TOPIC_NAME + 1];
    int partitions; /* -1: the --partitions default */
};

struct opts {
    int brokers;
    int partitions;
    const char *bootstrap_file;
    struct topic_spec topics[MAX_TOPICS];
    int topic_cnt;
};

static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sgs-devbroker [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...\n"
            "                     [--bootstrap-file FILE]\n"
            "  --brokers N          brokers in the mock cluster (default 1, ids 1..N)\n"
            "  --partitions N       partitions of topics given without a count (default 8)\n"
            "  --topic NAME[:P]     create this topic (repeatable; default sgs.records,\n"
            "                       sgs.alerts, sgs.rejects, sgs.snapshots); other topics are\n"
            "                       created with 4 partitions when a client first asks for them\n"
            "  --bootstrap-file F   write the bootstrap address to F once ready\n"
            "Prints \"bootstrap.servers=ADDR\" once ready; serves until SIGINT/SIGTERM.\n"
            "Commands on stdin (one per line, answered \"ok\" or \"error: ...\"):\n"
            "  push_errors APIKEY COUNT ERR   the next COUNT requests of APIKEY (number or\n"
            "                                 name: Produce, Fetch, OffsetCommit, ...) fail\n"
            "                                 with ERR (name such as NOT_LEADER_FOR_PARTITION,\n"
            "                                 _TRANSPORT = disconnect, or a numeric code)\n"
            "  clear_errors APIKEY            forget errors pushed for APIKEY\n"
            "  down ID | up ID                take broker ID down / bring it back\n"
            "  rtt ID MS                      delay broker ID's responses by MS ms\n"
            "  leader TOPIC PARTITION ID      move a partition's leadership (-1: none)\n"
            "  coordinator GROUP ID           make broker ID the coordinator of GROUP\n"
            "  topic NAME PARTITIONS          create a topic\n"
            "  ping                           answers ok (to synchronise)\n");
}

/* Whole-string decimal integer in [min, max]; 0 or -1. */
static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int add_topic(struct opts *o, const char *arg, char *errstr, size_t errstr_size)
{
    struct topic_spec *t;
    const char *colon = strrchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    long p = -1;

    if (o->topic_cnt == MAX_TOPICS) {
        snprintf(errstr, errstr_size, "--topic: at most %d topics", MAX_TOPICS);
        return -1;
    }
    if (len == 0 || len > MAX_TOPIC_NAME) {
        snprintf(errstr, errstr_size, "--topic '%s': name must be 1 to %d characters", arg,
                 MAX_TOPIC_NAME);
        return -1;
    }
    if (colon && parse_int(colon + 1, 1, 100000, &p) == -1) {
        snprintf(errstr, errstr_size, "--topic '%s': partitions must be an integer 1..100000", arg);
        return -1;
    }
    t = &o->topics[o->topic_cnt++];
    memcpy(t->name, arg, len);
    t->name[len] = '\0';
    t->partitions = (int)p;
    return 0;
}

/* 0 on success, 1 after --help, -1 on a usage error (message in errstr). */
static int parse_args(int argc, char **argv, struct opts *o, char *errstr, size_t errstr_size)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},   {"bootstrap-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    static const char *const defaults[] = {"sgs.records", "sgs.alerts", "sgs.rejects",
                                           "sgs.snapshots"};
    long v;
    int c;

    o->brokers = 1;
    o->partitions = 8;
    o->bootstrap_file = NULL;
    o->topic_cnt = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, 64, &v) == -1) {
                snprintf(errstr, errstr_size, "--brokers '%s': expected an integer 1..64", optarg);
                return -1;
            }
            o->brokers = (int)v;
            break;
        case 'p':
            if (parse_int(optarg, 1, 100000, &v) == -1) {
                snprintf(errstr, errstr_size, "--partitions '%s': expected an integer 1..100000",
                         optarg);
                return -1;
            }
            o->partitions = (int)v;
            break;
        case 't':
            if (add_topic(o, optarg, errstr, errstr_size) == -1)
                return -1;
            break;
        case 'f':
            o->bootstrap_file = optarg;
            break;
        case 'h':
            return 1;
        case ':':
            snprintf(errstr, errstr_size, "option '%s' needs a value", argv[optind - 1]);
            return -1;
        default:
            snprintf(errstr, errstr_size, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(errstr, errstr_size, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->topic_cnt == 0) {
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
            add_topic(o, defaults[i], errstr, errstr_size);
    }
    for (int i = 0; i < o->topic_cnt; i++) {
        if (o->topics[i].partitions < 0)
            o->topics[i].partitions = o->partitions;
    }
    return 0;
}

/* Kafka protocol request types by name (the numbers are the protocol's). */
static int parse_apikey(const char *s, int16_t *out)
{
    static const struct {
        const char *name;
        int16_t key;
    } keys[] = {
        {"Produce", 0},          {"Fetch", 1},
        {"ListOffsets", 2},      {"Metadata", 3},
        {"OffsetCommit", 8},     {"OffsetFetch", 9},
        {"FindCoordinator", 10}, {"JoinGroup", 11},
        {"Heartbeat", 12},       {"LeaveGroup", 13},
        {"SyncGroup", 14},       {"ApiVersions", 18},
        {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
        {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
        {"TxnOffsetCommit", 28},
    };
    long v;

    if (parse_int(s, 0, 32767, &v) == 0) {
        *out = (int16_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcasecmp(s, keys[i].name) == 0) {
            *out = keys[i].key;
            return 0;
        }
    }
    return -1;
}

/* An error by librdkafka name ("NOT_LEADER_FOR_PARTITION", "_TRANSPORT", with or
 * without the RD_KAFKA_RESP_ERR_ prefix, any case) or by numeric code. */
static int parse_error(const char *s, rd_kafka_resp_err_t *out)
{
    static const char prefix[] = "RD_KAFKA_RESP_ERR_";
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    long v;

    if (parse_int(s, INT_MIN, INT_MAX, &v) == 0) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    if (strncasecmp(s, prefix, sizeof(prefix) - 1) == 0)
        s += sizeof(prefix) - 1;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        if (descs[i].name && strcasecmp(s, descs[i].name) == 0) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static int parse_broker(const char *s, int32_t *out, char *errstr, size_t errstr_size)
{
    long v;

    if (parse_int(s, -1, INT32_MAX, &v) == -1) {
        snprintf(errstr, errstr_size, "broker id '%s' is not an integer", s ? s : "");
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* 0, or -1 with "<command> <first argument>: <librdkafka's reason>" in errstr. */
static int check_err(rd_kafka_resp_err_t err, char **argv, char *errstr, size_t errstr_size)
{
    if (err) {
        snprintf(errstr, errstr_size, "%s %s: %s", argv[0], argv[1], rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Runs one command line; 0 or -1 with the reason in errstr. */
static int run_command(rd_kafka_mock_cluster_t *mc, char *line, char *errstr, size_t errstr_size)
{
    char *save = NULL;
    char *argv[8];
    int argc = 0;
    char *tok;
    long v, v2;
    int16_t apikey;
    int32_t broker;
    rd_kafka_resp_err_t err;

    for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        if (argc == (int)(sizeof(argv) / sizeof(argv[0]))) {
            snprintf(errstr, errstr_size, "too many arguments");
            return -1;
        }
        argv[argc++] = tok;
    }
    if (argc == 0) {
        snprintf(errstr, errstr_size, "empty command");
        return -1;
    }

#define NEED_ARGS(n, synopsis)                                                                     \
    do {                                                                                           \
        if (argc != (n) + 1) {                                                                     \
            snprintf(errstr, errstr_size, "usage: %s %s", argv[0], synopsis);                      \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

    if (strcmp(argv[0], "ping") == 0) {
        NEED_ARGS(0, "");
        return 0;
    }
    if (strcmp(argv[0], "push_errors") == 0) {
        rd_kafka_resp_err_t *errs;

        NEED_ARGS(3, "APIKEY COUNT ERROR");
        if (parse_apikey(argv[1], &apikey) == -1) {
            snprintf(errstr, errstr_size, "unknown api key '%s'", argv[1]);
            return -1;
        }
        if (parse_int(argv[2], 1, MAX_PUSHED_ERRORS, &v) == -1) {
            snprintf(errstr, errstr_size, "count '%s': expected an integer 1..%d", argv[2],
                     MAX_PUSHED_ERRORS);
            return -1;
        }
        if (parse_error(argv[3], &err) == -1) {
            snprintf(errstr, errstr_size, "unknown error '%s'", argv[3]);
            return -1;
        }
        errs = malloc((size_t)v * sizeof(*errs));
        if (!errs) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        for (long i = 0; i < v; i++)
            errs[i] = err;
        rd_kafka_mock_push_request_errors_array(mc, apikey, (size_t)v, errs);
        free(errs);
        return 0;
    }
    if (strcmp(argv[0], "clear_errors") == 0) {
        NEED_ARGS(1, "APIKEY");
        if (parse_apikey(argv[1], &apikey) == -1) {
            snprintf(errstr, errstr_size, "unknown api key '%s'", argv[1]);
            return -1;
        }
        rd_kafka_mock_clear_request_errors(mc, apikey);
        return 0;
    }
    if (strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) {
        NEED_ARGS(1, "BROKER_ID");
        if (parse_broker(argv[1], &broker, errstr, errstr_size) == -1)
            return -1;
        err = argv[0][0] == 'd' ? rd_kafka_mock_broker_set_down(mc, broker)
                                : rd_kafka_mock_broker_set_up(mc, broker);
        return check_err(err, argv, errstr, errstr_size);
    }
    if (strcmp(argv[0], "rtt") == 0) {
        NEED_ARGS(2, "BROKER_ID MS");
        if (parse_broker(argv[1], &broker, errstr, errstr_size) == -1)
            return -1;
        if (parse_int(argv[2], 0, INT_MAX, &v) == -1) {
            snprintf(errstr, errstr_size, "rtt '%s': expected milliseconds >= 0", argv[2]);
            return -1;
        }
        return check_err(rd_kafka_mock_broker_set_rtt(mc, broker, (int)v), argv, errstr,
                         errstr_size);
    }
    if (strcmp(argv[0], "leader") == 0) {
        NEED_ARGS(3, "TOPIC PARTITION BROKER_ID");
        if (parse_int(argv[2], 0, INT32_MAX, &v) == -1) {
            snprintf(errstr, errstr_size, "partition '%s': expected an integer >= 0", argv[2]);
            return -1;
        }
        if (parse_broker(argv[3], &broker, errstr, errstr_size) == -1)
            return -1;
        return check_err(rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)v, broker), argv,
                         errstr, errstr_size);
    }
    if (strcmp(argv[0], "coordinator") == 0) {
        NEED_ARGS(2, "GROUP BROKER_ID");
        if (parse_broker(argv[2], &broker, errstr, errstr_size) == -1)
            return -1;
        return check_err(rd_kafka_mock_coordinator_set(mc, "group", argv[1], broker), argv, errstr,
                         errstr_size);
    }
    if (strcmp(argv[0], "topic") == 0) {
        NEED_ARGS(2, "NAME PARTITIONS");
        if (strlen(argv[1]) > MAX_TOPIC_NAME) {
            snprintf(errstr, errstr_size, "topic name longer than %d", MAX_TOPIC_NAME);
            return -1;
        }
        if (parse_int(argv[2], 1, 100000, &v2) == -1) {
            snprintf(errstr, errstr_size, "partitions '%s': expected an integer 1..100000",
                     argv[2]);
            return -1;
        }
        return check_err(rd_kafka_mock_topic_create(mc, argv[1], (int)v2, 1), argv, errstr,
                         errstr_size);
    }
#undef NEED_ARGS
    snprintf(errstr, errstr_size, "unknown command '%s'", argv[0]);
    return -1;
}

static void answer(int rc, const char *errstr)
{
    if (rc == 0)
        fputs("ok\n", stdout);
    else
        printf("error: %s\n", errstr);
    fflush(stdout);
}

/* Line assembly for stdin: complete lines are run as commands, an over-long
 * line is answered with one error and skipped. */
struct line_reader {
    char buf[LINE_MAX_LEN];
    size_t len;
    int overflow;
};

/* Reads what is available; returns 0, or -1 at end of input or on error. */
static int read_commands(rd_kafka_mock_cluster_t *mc, struct line_reader *lr)
{
    char errstr[512];
    ssize_t n = read(STDIN_FILENO, lr->buf + lr->len, sizeof(lr->buf) - 1 - lr->len);

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) { /* a last command without its newline still runs */
        if (lr->len > 0 && !lr->overflow && lr->buf[0] != '#') {
            lr->buf[lr->len] = '\0';
            answer(run_command(mc, lr->buf, errstr, sizeof(errstr)), errstr);
        }
        lr->len = 0;
        return -1;
    }
    lr->len += (size_t)n;
    for (;;) {
        char *nl = memchr(lr->buf, '\n', lr->len);
        size_t used;

        if (!nl) {
            if (lr->len == sizeof(lr->buf) - 1) { /* no newline in a full buffer */
                lr->overflow = 1;
                lr->len = 0;
            }
            return 0;
        }
        *nl = '\0';
        used = (size_t)(nl - lr->buf) + 1;
        if (lr->overflow) {
            lr->overflow = 0;
            answer(-1, "command line too long");
        } else if (lr->buf[0] != '\0' && lr->buf[0] != '#') {
            answer(run_command(mc, lr->buf, errstr, sizeof(errstr)), errstr);
        }
        memmove(lr->buf, lr->buf + used, lr->len - used);
        lr->len -= used;
    }
}

/* Written to a temporary name and renamed, so a reader never sees half of it. */
static int write_bootstrap_file(const char *path, const char *bootstraps, char *errstr,
                                size_t errstr_size)
{
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(errstr, errstr_size, "--bootstrap-file '%s': path too long", path);
        return -1;
    }
    f = fopen(tmp, "w");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", bootstraps);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct sigaction sa;
    struct line_reader lr = {.len = 0, .overflow = 0};
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    const char *bootstraps;
    int stdin_open = 1;
    int rc;
    int status = 1;

    sgs_log_set_program("sgs-devbroker");
    rc = parse_args(argc, argv, &o, errstr, sizeof(errstr));
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc == -1) {
        sgs_error("%s (try --help)", errstr);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL); /* a closed stdout must not kill the cluster */

    /* The mock cluster needs a client handle for its bookkeeping; this one never
     * connects anywhere (no bootstrap.servers), so it consumes no injected error.
     * Its notice about the missing bootstrap.servers is silenced by log_level. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        sgs_error("log_level: %s", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        sgs_error("cannot create the client handle: %s", errstr);
        goto out;
    }
    conf = NULL; /* owned by rk */
    mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (!mc) {
        sgs_error("cannot create a mock cluster of %d broker(s)", o.brokers);
        goto out;
    }
    for (int i = 0; i < o.topic_cnt; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, o.topics[i].name, o.topics[i].partitions, 1);
        if (err) {
            sgs_error("topic %s: %s", o.topics[i].name, rd_kafka_err2str(err));
            goto out;
        }
    }
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (o.bootstrap_file &&
        write_bootstrap_file(o.bootstrap_file, bootstraps, errstr, sizeof(errstr)) == -1) {
        sgs_error("%s", errstr);
        goto out;
    }
    printf("bootstrap.servers=%s\n", bootstraps);
    fflush(stdout);
    sgs_info("serving %d broker(s) at %s, %d topic(s)", o.brokers, bootstraps, o.topic_cnt);

    /* Short poll timeout: the signal flag is checked at least every 200 ms. */
    while (run) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};

        if (!stdin_open) {
            poll(NULL, 0, 200);
            continue;
        }
        rc = poll(&pfd, 1, 200);
        if (rc > 0 && read_commands(mc, &lr) == -1)
            stdin_open = 0;
        else if (rc < 0 && errno != EINTR)
            stdin_open = 0;
    }
    sgs_info("stopping");
    status = 0;

out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return status;
}

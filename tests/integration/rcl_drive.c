/* rcl_drive: a write/read workload through the Redis Cluster client
 * (common/rcluster.c) for tests/integration/test_rcluster.py, run while the
 * test kills masters and moves slots.
 *
 * Each round, like the consumer's batches:
 *   - one fenced script per tag, pipelined (SGS_RCL_IDEMPOTENT): "if GET
 *     {P:t}:c == expected then SET it to expected+1 and HINCRBY {P:t}:log
 *     <expected+1> 1"; a FENCED answer equal to our own next value means an
 *     earlier attempt had run (its reply was lost). The script also reads
 *     the tag's first --fill key, written long before c and log: a slot half
 *     moved by a reshard splits the script's keys (TRYAGAIN). With
 *     --undeclared 1 the script is of the consumer's kind instead: it
 *     declares only the tag's base {P:t} (a key that never exists) and
 *     reaches c, log and the filler by name, so a half-moved slot answers
 *     ASK, which the client waits out (SGS_RCL_SETTLED) instead of following
 *     it (ask_waits in the counts). --spin N adds a Lua loop of N steps
 *     (~1 ms per 100,000) to a script that applies, so that a kill finds
 *     scripts in flight and replies can be slower than the timeout;
 *   - in the same pipe, a GET of each tag's c, and --unique
 *     INCRBYs of fresh untagged keys (flags 0:
 *     never sent twice; a lost reply is reported as "may have run");
 *   - one MULTI GET c / HLEN log EXEC on one tag (they must agree);
 *   - --blocking INCRBYs of fresh keys with the blocking call;
 *   - every 25 rounds, sgs_rcl_scan of "{P:*}:c".
 * Between the pipe's send and its collect the driver waits until
 * sgs_rcl_pipe_replied says the replies are in (not_yet counts its noes), or
 * for redis.timeout_ms at most.
 * It runs until the --stop file exists (or --max-seconds), then repeats the
 * scripts of tags whose last attempt had no answer until every tag is settled,
 * writes what it expects to --out ("tag <t> <value>", "key <k> 0|1|?") and one
 * JSON line of counts to stdout. Progress goes to stderr once a second. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sgs/clock.h"
#include "sgs/config.h"
#include "sgs/rcluster.h"

static const char script[] = "redis.call('EXISTS', KEYS[3])\n"
                             "local cur = redis.call('GET', KEYS[1]) or '0'\n"
                             "if cur ~= ARGV[1] then return {'FENCED', cur} end\n"
                             "local x = 0\n"
                             "for i = 1, tonumber(ARGV[3]) do x = x + i end\n"
                             "redis.call('SET', KEYS[1], ARGV[2])\n"
                             "redis.call('HINCRBY', KEYS[2], ARGV[2], 1)\n"
                             "return {'OK', ARGV[2]}\n";

/* The same step reaching its keys undeclared, from the base KEYS[1] */
static const char script_undeclared[] = "local b = KEYS[1]\n"
                                        "redis.call('EXISTS', b .. ':f:0')\n"
                                        "local cur = redis.call('GET', b .. ':c') or '0'\n"
                                        "if cur ~= ARGV[1] then return {'FENCED', cur} end\n"
                                        "local x = 0\n"
                                        "for i = 1, tonumber(ARGV[3]) do x = x + i end\n"
                                        "redis.call('SET', b .. ':c', ARGV[2])\n"
                                        "redis.call('HINCRBY', b .. ':log', ARGV[2], 1)\n"
                                        "return {'OK', ARGV[2]}\n";

struct counts {
    uint64_t rounds, acked, recovered, mismatch, errors, unavailable, lost;
    uint64_t incr_ok, incr_notrun, incr_unknown, incr_bad;
    uint64_t blk_ok, blk_notrun, blk_unknown, blk_bad;
    uint64_t tx_ok, tx_bad, tx_failed;
    uint64_t scan_ok, scan_bad, scan_failed;
    uint64_t not_yet; /* sgs_rcl_pipe_replied said the replies were not in yet */
};

static struct {
    const char *prefix, *stop, *out;
    int tags, fill, unique, blocking, pause_ms, deadline_ms, max_s, undeclared;
    int timeout_ms; /* redis.timeout_ms */
    const char *spin;
} opt = {"rt", NULL, NULL, 64, 0, 16, 4, 20, 2000, 600, 0, 0, "0"};

static sgs_rcl *r;
static sgs_rcl_pipe *p;
static char sha[41];
static long *v;      /* per tag: the value acknowledged */
static int *pending; /* per tag: last attempt unanswered */
static struct counts n;
static FILE *out;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void key(char *buf, size_t size, int t, const char *suffix)
{
    snprintf(buf, size, "{%s:%d}:%s", opt.prefix, t, suffix);
}

static void say_error(const char *what, const char *err)
{
    static int said;
    if (said++ < 20)
        fprintf(stderr, "rcl_drive: %s: %s\n", what, err);
}

static int stopping(int64_t t0)
{
    if (opt.stop && access(opt.stop, F_OK) == 0)
        return 1;
    return sgs_clock_mono_ms() - t0 > (int64_t)opt.max_s * 1000;
}

/* The outcome of tag t's script. */
static void script_outcome(int t, size_t i)
{
    enum sgs_rcl_status st = sgs_rcl_pipe_status(p, i);
    const redisReply *rep = sgs_rcl_pipe_reply(p, i);
    if (st == SGS_RCL_UNAVAILABLE || st == SGS_RCL_LOST) {
        if (st == SGS_RCL_UNAVAILABLE)
            n.unavailable++;
        else
            n.lost++;
        say_error("script", sgs_rcl_pipe_error(p, i));
        pending[t] = 1;
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        n.errors++;
        say_error("script refused", rep->str);
        pending[t] = 1;
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        n.errors++;
        say_error("script", "unexpected reply");
        pending[t] = 1;
        return;
    }
    long got = strtol(rep->element[1]->str, NULL, 10);
    if (strcmp(rep->element[0]->str, "OK") == 0) {
        n.acked++;
        v[t]++;
    } else if (got == v[t] + 1) {
        n.recovered++; /* an attempt whose reply was lost had run */
        v[t]++;
    } else {
        char msg[128];
        snprintf(msg, sizeof(msg), "tag %d: stored %ld, expected %ld", t, got, v[t]);
        say_error("FENCE MISMATCH", msg);
        n.mismatch++;
        v[t] = got;
    }
    pending[t] = 0;
}

static void incr_outcome(const char *k, enum sgs_rcl_status st, const redisReply *rep, uint64_t *ok,
                         uint64_t *notrun, uint64_t *unknown, uint64_t *bad, const char *err)
{
    char e = '0';
    if (st == SGS_RCL_OK && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
        e = '1';
        (*ok)++;
    } else if (st == SGS_RCL_OK) {
        (*bad)++;
        e = '?';
        say_error("INCRBY", rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    } else if (st == SGS_RCL_LOST) {
        (*unknown)++;
        e = '?';
    } else {
        (*notrun)++;
        say_error("INCRBY", err);
    }
    fprintf(out, "key %s %c\n", k, e);
}

static void round_once(int final)
{
    char kc[128], kl[128], kf[128], tmp[64], next[32];
    size_t *idx = calloc((size_t)opt.tags, sizeof(*idx));
    long tx = -1, first_u = -1;
    int tx_tag = (int)(n.rounds % (uint64_t)opt.tags);

    sgs_rcl_pipe_reset(p);
    for (int t = 0; t < opt.tags; t++) {
        idx[t] = SIZE_MAX;
        if (final && !pending[t])
            continue;
        snprintf(tmp, sizeof(tmp), "%ld", v[t]);
        snprintf(next, sizeof(next), "%ld", v[t] + 1);
        if (opt.undeclared) {
            char kb[128];
            snprintf(kb, sizeof(kb), "{%s:%d}", opt.prefix, t);
            const char *argv[] = {"EVALSHA", sha, "1", kb, tmp, next, opt.spin};
            idx[t] =
                (size_t)sgs_rcl_pipe_append(p, sgs_rcl_slot(kb, strlen(kb)),
                                            SGS_RCL_IDEMPOTENT | SGS_RCL_SETTLED, 7, argv, NULL);
            continue;
        }
        key(kc, sizeof(kc), t, "c");
        key(kl, sizeof(kl), t, "log");
        key(kf, sizeof(kf), t, "f:0");
        const char *argv[] = {"EVALSHA", sha, "3", kc, kl, kf, tmp, next, opt.spin};
        long i =
            sgs_rcl_pipe_append(p, sgs_rcl_slot(kc, strlen(kc)), SGS_RCL_IDEMPOTENT, 9, argv, NULL);
        idx[t] = (size_t)i;
    }
    /* GET of each tag's c: a reshard moves a slot's newest keys first (Redis
     * 7.0 lists them newest first), so c is on the target, ASK, while the
     * fillers are still on the source */
    long first_f = -1;
    if (!final)
        for (int t = 0; t < opt.tags; t++) {
            key(kf, sizeof(kf), t, "c");
            const char *argv[] = {"GET", kf};
            long i = sgs_rcl_pipe_append(p, sgs_rcl_slot(kf, strlen(kf)), SGS_RCL_IDEMPOTENT, 2,
                                         argv, NULL);
            if (t == 0)
                first_f = i;
        }
    int uniq = final ? 0 : opt.unique;
    for (int j = 0; j < uniq; j++) {
        snprintf(kc, sizeof(kc), "%s:u:%" PRIu64 ":%d", opt.prefix, n.rounds, j);
        const char *argv[] = {"INCRBY", kc, "1"};
        long i = sgs_rcl_pipe_append(p, sgs_rcl_slot(kc, strlen(kc)), 0, 3, argv, NULL);
        if (j == 0)
            first_u = i;
    }
    if (!final) {
        key(kc, sizeof(kc), tx_tag, "c");
        key(kl, sizeof(kl), tx_tag, "log");
        uint16_t s = sgs_rcl_slot(kc, strlen(kc));
        tx = sgs_rcl_pipe_multi(p, s, SGS_RCL_IDEMPOTENT);
        sgs_rcl_pipe_appendf(p, s, 0, "GET %s", kc);
        sgs_rcl_pipe_appendf(p, s, 0, "HLEN %s", kl);
        sgs_rcl_pipe_exec(p);
    }
    sgs_rcl_pipe_send(p);
    /* as the consumer does: other work until the replies are in (a reply
     * said to be in when it is not, or never said to be, stalls the rounds) */
    for (int64_t t0 = sgs_clock_mono_ms();
         !sgs_rcl_pipe_replied(p) && sgs_clock_mono_ms() - t0 < opt.timeout_ms;) {
        struct timespec ts = {0, 200000};
        n.not_yet++;
        nanosleep(&ts, NULL);
    }
    sgs_rcl_pipe_collect(p, 0);
    for (int t = 0; t < opt.tags; t++)
        if (idx[t] != SIZE_MAX)
            script_outcome(t, idx[t]);
    for (int t = 0; first_f >= 0 && t < opt.tags; t++) {
        size_t i = (size_t)first_f + (size_t)t;
        const redisReply *rep = sgs_rcl_pipe_reply(p, i);
        long was = v[t] - (pending[t] == 0 && idx[t] != SIZE_MAX); /* before this round */
        long got = rep && rep->type == REDIS_REPLY_STRING ? strtol(rep->str, NULL, 10) : 0;
        if (sgs_rcl_pipe_status(p, i) != SGS_RCL_OK) {
            say_error("GET c", sgs_rcl_pipe_error(p, i));
        } else if (rep->type == REDIS_REPLY_ERROR || got < was || got > was + 1) {
            /* before or after this round's script, which may have run or not */
            char msg[96];
            snprintf(msg, sizeof(msg), "tag %d: %ld, expected %ld or %ld", t, got, was, was + 1);
            n.errors++;
            say_error("GET c", rep->type == REDIS_REPLY_ERROR ? rep->str : msg);
        }
    }
    for (int j = 0; j < uniq; j++) {
        size_t i = (size_t)first_u + (size_t)j;
        snprintf(kc, sizeof(kc), "%s:u:%" PRIu64 ":%d", opt.prefix, n.rounds, j);
        incr_outcome(kc, sgs_rcl_pipe_status(p, i), sgs_rcl_pipe_reply(p, i), &n.incr_ok,
                     &n.incr_notrun, &n.incr_unknown, &n.incr_bad, sgs_rcl_pipe_error(p, i));
    }
    if (tx >= 0) {
        const redisReply *rep = sgs_rcl_pipe_reply(p, (size_t)tx);
        if (sgs_rcl_pipe_status(p, (size_t)tx) != SGS_RCL_OK) {
            n.tx_failed++;
        } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                   rep->element[1]->type == REDIS_REPLY_INTEGER &&
                   (rep->element[0]->type == REDIS_REPLY_NIL
                        ? rep->element[1]->integer == 0
                        : rep->element[0]->type == REDIS_REPLY_STRING &&
                              strtoll(rep->element[0]->str, NULL, 10) ==
                                  rep->element[1]->integer)) {
            n.tx_ok++;
        } else {
            n.tx_bad++;
            say_error("MULTI GET/HLEN disagree", rep->type == REDIS_REPLY_ERROR ? rep->str : "");
        }
    }
    free(idx);
    if (final)
        return;
    for (int j = 0; j < opt.blocking; j++) {
        char err[256] = "";
        snprintf(kc, sizeof(kc), "%s:b:%" PRIu64 ":%d", opt.prefix, n.rounds, j);
        redisReply *rep = sgs_rcl_command(r, kc, 0, err, sizeof(err), "INCRBY %s 1", kc);
        enum sgs_rcl_status st = rep                           ? SGS_RCL_OK
                                 : strstr(err, "may have run") ? SGS_RCL_LOST
                                                               : SGS_RCL_UNAVAILABLE;
        incr_outcome(kc, st, rep, &n.blk_ok, &n.blk_notrun, &n.blk_unknown, &n.blk_bad, err);
        if (rep)
            freeReplyObject(rep);
    }
    if (n.rounds % 25 == 0) {
        char pat[128], err[256];
        sgs_rcl_keys ks;
        snprintf(pat, sizeof(pat), "{%s:*}:c", opt.prefix);
        if (sgs_rcl_scan(r, pat, 1500, &ks, err, sizeof(err)) != 0) {
            n.scan_failed++;
            say_error("scan", err);
        } else {
            /* every tag with a value has its key; a pending first write may */
            size_t must = 0, may = 0;
            for (int t = 0; t < opt.tags; t++) {
                must += v[t] > 0;
                may += v[t] > 0 || pending[t];
            }
            if (ks.n >= must && ks.n <= may) {
                n.scan_ok++;
            } else {
                char msg[128];
                snprintf(msg, sizeof(msg), "found %zu keys, expected %zu..%zu", ks.n, must, may);
                say_error("SCAN", msg);
                n.scan_bad++;
            }
            sgs_rcl_keys_free(&ks);
        }
    }
}

static int fill(void)
{
    char kc[128], val[32];
    for (int t = 0; t < opt.tags; t++) {
        sgs_rcl_pipe_reset(p);
        for (int i = 0; i < opt.fill; i++) {
            snprintf(kc, sizeof(kc), "{%s:%d}:f:%d", opt.prefix, t, i);
            snprintf(val, sizeof(val), "%d", i);
            const char *argv[] = {"SET", kc, val};
            sgs_rcl_pipe_append(p, sgs_rcl_slot(kc, strlen(kc)), SGS_RCL_IDEMPOTENT, 3, argv, NULL);
        }
        if (sgs_rcl_pipe_collect(p, 30000) != 0) {
            fprintf(stderr, "rcl_drive: fill: %s\n", sgs_rcl_pipe_error(p, 0));
            return -1;
        }
    }
    return 0;
}

static void stats_json(FILE *f, double secs)
{
    sgs_rcl_stats s;
    sgs_rcl_get_stats(r, &s);
    fprintf(f,
            "{\"seconds\": %.2f, \"cluster\": %d, \"rounds\": %" PRIu64 ", \"acked\": %" PRIu64
            ", \"recovered\": %" PRIu64 ", \"mismatch\": %" PRIu64 ", \"errors\": %" PRIu64
            ", \"unavailable\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"incr_ok\": %" PRIu64
            ", \"incr_notrun\": %" PRIu64 ", \"incr_unknown\": %" PRIu64 ", \"incr_bad\": %" PRIu64
            ", \"blk_ok\": %" PRIu64 ", \"blk_notrun\": %" PRIu64 ", \"blk_unknown\": %" PRIu64
            ", \"blk_bad\": %" PRIu64 ", \"tx_ok\": %" PRIu64 ", \"tx_bad\": %" PRIu64
            ", \"tx_failed\": %" PRIu64 ", \"scan_ok\": %" PRIu64 ", \"scan_bad\": %" PRIu64
            ", \"scan_failed\": %" PRIu64 ", \"moved\": %" PRIu64 ", \"ask\": %" PRIu64
            ", \"tryagain\": %" PRIu64 ", \"clusterdown\": %" PRIu64 ", \"busy\": %" PRIu64
            ", \"readonly\": %" PRIu64 ", \"noscript\": %" PRIu64 ", \"connects\": %" PRIu64
            ", \"connect_fails\": %" PRIu64 ", \"broken\": %" PRIu64 ", \"resent_lost\": %" PRIu64
            ", \"refreshes\": %" PRIu64 ", \"ask_waits\": %" PRIu64 ", \"masters\": %zu"
            ", \"not_yet\": %" PRIu64 "}\n",
            secs, sgs_rcl_is_cluster(r), n.rounds, n.acked, n.recovered, n.mismatch, n.errors,
            n.unavailable, n.lost, n.incr_ok, n.incr_notrun, n.incr_unknown, n.incr_bad, n.blk_ok,
            n.blk_notrun, n.blk_unknown, n.blk_bad, n.tx_ok, n.tx_bad, n.tx_failed, n.scan_ok,
            n.scan_bad, n.scan_failed, s.moved, s.ask, s.tryagain, s.clusterdown, s.busy,
            s.readonly, s.noscript, s.connects, s.connect_fails, s.broken, s.resent_lost,
            s.refreshes, s.ask_waits, sgs_rcl_master_count(r), n.not_yet);
    fflush(f);
}

static int usage(void)
{
    fprintf(stderr, "usage: rcl_drive [-X key=value]... --out FILE [--stop FILE] [--tags N] "
                    "[--fill N] [--unique N] [--blocking N] [--pause-ms N] [--deadline-ms N] "
                    "[--max-seconds N] [--prefix P] [--spin N] [--undeclared 0|1]\n");
    return 2;
}

static sgs_config *cfg;

/* Every exit path, error or not, frees what main made (the sanitizer build
 * checks for leaks at exit; atexit handlers run before its check). */
static void cleanup(void)
{
    sgs_rcl_pipe_free(p); /* before r */
    p = NULL;
    sgs_rcl_free(r);
    r = NULL;
    sgs_config_destroy(cfg);
    cfg = NULL;
}

int main(int argc, char **argv)
{
    char err[512];
    cfg = sgs_config_new();
    atexit(cleanup);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            return usage();
        i++;
        if (strcmp(a, "-X") == 0) {
            if (sgs_config_set_kv(cfg, val, "-X", err, sizeof(err)) != 0) {
                fprintf(stderr, "rcl_drive: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--out") == 0) {
            opt.out = val;
        } else if (strcmp(a, "--stop") == 0) {
            opt.stop = val;
        } else if (strcmp(a, "--prefix") == 0) {
            opt.prefix = val;
        } else if (strcmp(a, "--tags") == 0) {
            opt.tags = atoi(val);
        } else if (strcmp(a, "--fill") == 0) {
            opt.fill = atoi(val);
        } else if (strcmp(a, "--unique") == 0) {
            opt.unique = atoi(val);
        } else if (strcmp(a, "--blocking") == 0) {
            opt.blocking = atoi(val);
        } else if (strcmp(a, "--pause-ms") == 0) {
            opt.pause_ms = atoi(val);
        } else if (strcmp(a, "--deadline-ms") == 0) {
            opt.deadline_ms = atoi(val);
        } else if (strcmp(a, "--spin") == 0) {
            opt.spin = val;
        } else if (strcmp(a, "--undeclared") == 0) {
            opt.undeclared = atoi(val);
        } else if (strcmp(a, "--max-seconds") == 0) {
            opt.max_s = atoi(val);
        } else {
            return usage();
        }
    }
    if (!opt.out || opt.tags < 1)
        return usage();
    out = fopen(opt.out, "w");
    if (!out) {
        perror(opt.out);
        return 2;
    }
    opt.timeout_ms = (int)sgs_config_get_int(cfg, "redis.timeout_ms");
    r = sgs_rcl_connect(cfg, opt.timeout_ms, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "rcl_drive: %s\n", err);
        return 1;
    }
    sgs_rcl_set_deadline(r, opt.deadline_ms);
    if (sgs_rcl_script_load(r, opt.undeclared ? script_undeclared : script, sha, err,
                            sizeof(err)) != 0) {
        fprintf(stderr, "rcl_drive: %s\n", err);
        return 1;
    }
    p = sgs_rcl_pipe_new(r);
    v = calloc((size_t)opt.tags, sizeof(*v));
    pending = calloc((size_t)opt.tags, sizeof(*pending));
    if (!p || !v || !pending || fill() != 0)
        return 1;
    fprintf(stderr, "rcl_drive: ready, %zu masters, cluster %d\n", sgs_rcl_master_count(r),
            sgs_rcl_is_cluster(r));
    int64_t t0 = sgs_clock_mono_ms(), last = t0;
    while (!stopping(t0)) {
        round_once(0);
        n.rounds++;
        if (sgs_clock_mono_ms() - last >= 1000) {
            last = sgs_clock_mono_ms();
            fprintf(stderr, "rcl_drive: t=%.1f ", (double)(last - t0) / 1000.0);
            stats_json(stderr, (double)(last - t0) / 1000.0);
        }
        sleep_ms(opt.pause_ms);
    }
    /* settle every tag whose last attempt had no answer */
    int64_t tf = sgs_clock_mono_ms();
    for (;;) {
        int left = 0;
        for (int t = 0; t < opt.tags; t++)
            left += pending[t];
        if (!left || sgs_clock_mono_ms() - tf > 60000)
            break;
        round_once(1);
        sleep_ms(100);
    }
    int unsettled = 0;
    for (int t = 0; t < opt.tags; t++) {
        fprintf(out, "tag %d %ld%s\n", t, v[t], pending[t] ? " pending" : "");
        unsettled += pending[t];
    }
    fclose(out);
    stats_json(stdout, (double)(sgs_clock_mono_ms() - t0) / 1000.0);
    free(v); /* (cleanup frees the pipe, r and cfg) */
    free(pending);
    return unsettled ? 3 : 0;
}

/* rcl_bench: pipelined batch-like scripts through the Redis Cluster client
 * (common/rcluster.c), as the consumer will send them: per round one EVALSHA
 * per tag, all appended, written with one send per master, then collected.
 * Each script does --fields HINCRBYs on its tag's hash "{bench:<t>}:m".
 *
 *   rcl_bench [-X key=value]... [--scripts 10000] [--fields 100] [--tags 64] [--raw]
 *
 * --raw: the same against one Redis with plain hiredis pipelining (no module),
 * to see what the module itself costs. Prints one JSON line: scripts, seconds,
 * scripts/s, HINCRBY/s, client CPU seconds, masters. bench/rcl_bench.py runs it
 * against one Redis and a 3-master cluster. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sgs/clock.h"
#include "sgs/config.h"
#include "sgs/rcluster.h"

static const char script[] = "for i = 1, #ARGV do redis.call('HINCRBY', KEYS[1], ARGV[i], 1) end\n"
                             "return #ARGV\n";

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    char err[512], sha[41];
    int scripts = 10000, fields = 100, tags = 64, raw = 0;
    sgs_config *cfg = sgs_config_new();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--raw") == 0) {
            raw = 1;
            continue;
        }
        if (i + 1 >= argc)
            goto usage;
        const char *a = argv[i], *v = argv[++i];
        if (strcmp(a, "-X") == 0) {
            if (sgs_config_set_kv(cfg, v, "-X", err, sizeof(err)) != 0) {
                fprintf(stderr, "rcl_bench: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--scripts") == 0) {
            scripts = atoi(v);
        } else if (strcmp(a, "--fields") == 0) {
            fields = atoi(v);
        } else if (strcmp(a, "--tags") == 0) {
            tags = atoi(v);
        } else {
            goto usage;
        }
    }
    if (scripts < 1 || fields < 1 || tags < 1)
        goto usage;

    /* argv of tag t's script: EVALSHA sha 1 key f1..fN (fields differ per tag) */
    int ac = 4 + fields;
    char **keys = calloc((size_t)tags, sizeof(*keys));
    char ***args = calloc((size_t)tags, sizeof(*args));
    uint16_t *slots = calloc((size_t)tags, sizeof(*slots));
    for (int t = 0; t < tags; t++) {
        keys[t] = malloc(64);
        snprintf(keys[t], 64, "{bench:%d}:m", t);
        slots[t] = sgs_rcl_slot(keys[t], strlen(keys[t]));
        args[t] = calloc((size_t)ac, sizeof(char *));
        args[t][0] = "EVALSHA";
        args[t][1] = sha;
        args[t][2] = "1";
        args[t][3] = keys[t];
        for (int f = 0; f < fields; f++) {
            args[t][4 + f] = malloc(32);
            snprintf(args[t][4 + f], 32, "u%04d|records", (t * 37 + f * 11) % 1000);
        }
    }

    int timeout = (int)sgs_config_get_int(cfg, "redis.timeout_ms");
    int done = 0, bad = 0;
    size_t masters = 1;
    double c0, t0;
    if (raw) {
        redisContext *c = redisConnect(sgs_config_get(cfg, "redis.host"),
                                       (int)sgs_config_get_int(cfg, "redis.port"));
        if (!c || c->err) {
            fprintf(stderr, "rcl_bench: %s\n", c ? c->errstr : "no context");
            return 1;
        }
        redisReply *r = redisCommand(c, "SCRIPT LOAD %s", script);
        if (!r || r->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "rcl_bench: SCRIPT LOAD failed\n");
            return 1;
        }
        memcpy(sha, r->str, 41);
        freeReplyObject(r);
        c0 = cpu_seconds();
        t0 = (double)sgs_clock_mono_ms();
        while (done < scripts) {
            int n = 0;
            for (int t = 0; t < tags && done + n < scripts; t++, n++)
                redisAppendCommandArgv(c, ac, (const char **)args[t], NULL);
            for (int k = 0; k < n; k++) {
                if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                    fprintf(stderr, "rcl_bench: %s\n", c->errstr);
                    return 1;
                }
                bad += r->type != REDIS_REPLY_INTEGER || r->integer != fields;
                freeReplyObject(r);
            }
            done += n;
        }
        redisFree(c);
    } else {
        sgs_rcl *rc = sgs_rcl_connect(cfg, timeout, err, sizeof(err));
        if (!rc || sgs_rcl_script_load(rc, script, sha, err, sizeof(err)) != 0) {
            fprintf(stderr, "rcl_bench: %s\n", err);
            return 1;
        }
        masters = sgs_rcl_master_count(rc);
        sgs_rcl_pipe *p = sgs_rcl_pipe_new(rc);
        c0 = cpu_seconds();
        t0 = (double)sgs_clock_mono_ms();
        while (done < scripts) {
            int n = 0;
            sgs_rcl_pipe_reset(p);
            for (int t = 0; t < tags && done + n < scripts; t++, n++)
                sgs_rcl_pipe_append(p, slots[t], SGS_RCL_IDEMPOTENT, ac, (const char **)args[t],
                                    NULL);
            sgs_rcl_pipe_send(p);
            if (sgs_rcl_pipe_collect(p, 0) != 0) {
                fprintf(stderr, "rcl_bench: %s\n", sgs_rcl_pipe_error(p, 0));
                return 1;
            }
            for (int k = 0; k < n; k++) {
                const redisReply *r = sgs_rcl_pipe_reply(p, (size_t)k);
                bad += r->type != REDIS_REPLY_INTEGER || r->integer != fields;
            }
            done += n;
        }
        sgs_rcl_pipe_free(p);
        sgs_rcl_free(rc);
    }
    double secs = ((double)sgs_clock_mono_ms() - t0) / 1000.0;
    double cpu = cpu_seconds() - c0;
    printf("{\"scripts\": %d, \"fields\": %d, \"tags\": %d, \"raw\": %d, \"masters\": %zu, "
           "\"seconds\": %.3f, \"scripts_per_s\": %.0f, \"hincrby_per_s\": %.0f, "
           "\"client_cpu_s\": %.3f, \"bad_replies\": %d}\n",
           done, fields, tags, raw, masters, secs, done / secs, (double)done * fields / secs, cpu,
           bad);
    for (int t = 0; t < tags; t++) {
        for (int f = 0; f < fields; f++)
            free(args[t][4 + f]);
        free(args[t]);
        free(keys[t]);
    }
    free(args);
    free(keys);
    free(slots);
    sgs_config_destroy(cfg);
    return bad ? 1 : 0;
usage:
    fprintf(stderr, "usage: rcl_bench [-X key=value]... [--scripts N] [--fields N] [--tags N] "
                    "[--raw]\n");
    return 2;
}

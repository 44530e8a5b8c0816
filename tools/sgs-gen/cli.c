/* sgs-gen: the command line. */
#include "gen.h"

#include <errno.h>
#include <stdlib.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sgs-gen [-c FILE] [-X key=value]... --month YYYY-MM [options]\n"
               "  --seed N                  same seed, same bytes (default: from the clock)\n"
               "  --records N               records of registry units (default 11100)\n"
               "  --late-share F            share of records that are late (default 0.02)\n"
               "  --invalid N               records breaking one quality rule each (default 0)\n"
               "  --duplicates N            re-sent records (default 0)\n"
               "  --malformed N             messages that are not a JSON object (default 0)\n"
               "  --unknown-unit N          records of units not in the registry (default 0)\n"
               "  --gaps N                  document numbers left out of sequences (default 0)\n"
               "  --format native|national|mixed   (default native)\n"
               "  --no-reported-at-share F  share of records without reported_at (default 0)\n"
               "  --out FILE.jsonl          write one event per line (default: stdout)\n"
               "  --produce                 produce to topic.records (key = unit_id)\n"
               "  --no-timestamps           leave Kafka timestamps to librdkafka (default: the\n"
               "                            send time inside the month)\n"
               "  --expect FILE.json        write the counters a consumer must end up with\n"
               "config keys used: units.file calendar.file deadline.license.workdays\n"
               "  deadline.penalty.workdays deadline.count_decision_day timezone.offset\n"
               "  topic.records kafka.*\n");
}

static int parse_long(const char *opt, const char *s, long min, long *out, char *errstr,
                      size_t errstr_size)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        snprintf(errstr, errstr_size, "%s: expected an integer >= %ld, got '%s'", opt, min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_share(const char *opt, const char *s, double *out, char *errstr,
                       size_t errstr_size)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0)) {
        snprintf(errstr, errstr_size, "%s: expected a number from 0 to 1, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 ok, 1 help printed, -1 error in errstr */
int gen_cli_parse(int argc, char **argv, struct opts *o, char *errstr, size_t errstr_size)
{
    o->records = 11100;
    o->late_share = 0.02;
    o->format = FMT_NATIVE;
    o->xs = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *val = NULL, name[64];
        const char *eq = strchr(arg, '=');
        int has_inline = starts_with(arg, "--") && eq;
        if (has_inline) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
            val = (char *)eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg);
        }
        int flag = strcmp(name, "--produce") == 0 || strcmp(name, "--no-timestamps") == 0 ||
                   strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0;
        if (!flag && !val) {
            if (i + 1 >= argc) {
                snprintf(errstr, errstr_size, "%s: missing value", name);
                return -1;
            }
            val = argv[++i];
        }
        if (flag && has_inline) {
            snprintf(errstr, errstr_size, "%s: takes no value", name);
            return -1;
        }
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(name, "-c") == 0 || strcmp(name, "--config") == 0) {
            o->config_file = val;
        } else if (strcmp(name, "-X") == 0) {
            o->xs[o->n_xs++] = val;
        } else if (strcmp(name, "--month") == 0) {
            o->month = val;
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            errno = 0;
            o->seed = strtoull(val, &end, 10);
            if (errno || end == val || *end || *val == '-') {
                snprintf(errstr, errstr_size, "--seed: expected an unsigned integer, got '%s'",
                         val);
                return -1;
            }
            o->have_seed = 1;
        } else if (strcmp(name, "--records") == 0) {
            if (parse_long(name, val, 0, &o->records, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--late-share") == 0) {
            if (parse_share(name, val, &o->late_share, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--no-reported-at-share") == 0) {
            if (parse_share(name, val, &o->no_reported_share, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--invalid") == 0) {
            if (parse_long(name, val, 0, &o->invalid, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--duplicates") == 0) {
            if (parse_long(name, val, 0, &o->duplicates, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--malformed") == 0) {
            if (parse_long(name, val, 0, &o->malformed, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--unknown-unit") == 0) {
            if (parse_long(name, val, 0, &o->unknown, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--gaps") == 0) {
            if (parse_long(name, val, 0, &o->gaps, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "native") == 0)
                o->format = FMT_NATIVE;
            else if (strcmp(val, "national") == 0)
                o->format = FMT_NATIONAL;
            else if (strcmp(val, "mixed") == 0)
                o->format = FMT_MIXED;
            else {
                snprintf(errstr, errstr_size,
                         "--format: expected native, national or mixed, got '%s'", val);
                return -1;
            }
        } else if (strcmp(name, "--out") == 0) {
            o->out = val;
        } else if (strcmp(name, "--produce") == 0) {
            o->produce = 1;
        } else if (strcmp(name, "--no-timestamps") == 0) {
            o->no_timestamps = 1;
        } else if (strcmp(name, "--expect") == 0) {
            o->expect = val;
        } else {
            snprintf(errstr, errstr_size, "%s: unknown argument (see --help)", name);
            return -1;
        }
    }
    if (!o->month) {
        snprintf(errstr, errstr_size, "--month: required (YYYY-MM)");
        return -1;
    }
    if (o->out && o->produce) {
        snprintf(errstr, errstr_size, "--out: cannot be combined with --produce");
        return -1;
    }
    if (o->records > 50000000 || o->duplicates > 50000000 || o->malformed > 50000000 ||
        o->unknown > 50000000 || o->gaps > 50000000) {
        snprintf(errstr, errstr_size, "--records: at most 50,000,000 messages of each kind");
        return -1;
    }
    return 0;
}

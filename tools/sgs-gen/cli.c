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
               "  --produce                 produce to topic.records (key: see --key)\n"
               "  --no-timestamps           leave Kafka timestamps to librdkafka (default: the\n"
               "                            send time inside the month)\n"
               "  --expect FILE.json        write the counters a consumer must end up with\n"
               "  --key unit|none|alias|name|mixed\n"
               "                            how messages are keyed (default unit: the unit id;\n"
               "                            none: no key; alias: an alias id of the unit from\n"
               "                            the registry, its id where it has none; name: its\n"
               "                            name; mixed: one of these at random per decision).\n"
               "                            A decision's messages share its key; keyless ones\n"
               "                            of a decision with an update or revoke go to one\n"
               "                            partition. JSONL lines then carry \"_kafka_key\"\n"
               "  --updates N               decisions sent again with op update (default 0)\n"
               "  --revokes N               decisions sent again with op revoke, plus N/10 (at\n"
               "                            least 1) revokes of decisions never generated\n"
               "                            (default 0)\n"
               "  --national-by-organ N     national records without their source unit: the\n"
               "                            deciding organ names the unit (default 0)\n"
               "  --resend-other-key N      duplicates under another key than their original\n"
               "                            (default 0; JSONL lines then carry \"_kafka_key\")\n"
               "  (updates and revokes: \"op\" in the native format, \"SYNC_STATUS\" U / D in\n"
               "  the national one; these five options draw from a stream of their own, so the\n"
               "  records are those of the same run without them)\n"
               "consecutive months: a month's document numbers continue those the months before\n"
               "  it give each (unit, kind, year) with the same seed and options (--records,\n"
               "  --late-share, --invalid, --gaps, --format, --no-reported-at-share and the\n"
               "  configuration), so months fed together miss only the numbers of --gaps;\n"
               "  the earlier months are planned again to count them (no files), so a month\n"
               "  is the same whether they were generated or not. A year's numbers start at 1\n"
               "  in January (after any that the December before dated in the new year)\n"
               "expectation file (--expect), JSON:\n"
               "  month, messages           the month, messages written or produced\n"
               "  units                     per registry unit: records, late, invalid,\n"
               "                            duplicates (all re-sends of decisions seen),\n"
               "                            licenses, penalties; with --updates or --revokes\n"
               "                            also updates, revoked; with --national-by-organ\n"
               "                            also from_organ (records whose unit is the organ)\n"
               "  unattributed, malformed   unknown_unit and malformed_json rejects\n"
               "  rejects                   invalid + malformed + unattributed + unknown_record\n"
               "  late_alerts               late records (one alert each)\n"
               "  gaps                      per unit: [{kind, year, missing: [serial...]}]\n"
               "  doc_nos                   per unit: a few normalised doc_nos that were sent\n"
               "  updates, revoked, unknown_record   totals (with --updates or --revokes;\n"
               "                            unknown_record: revokes of decisions never seen)\n"
               "  from_organ                total (with --national-by-organ)\n"
               "  resent_other_key          with --resend-other-key: how many of the\n"
               "                            duplicates went under another key\n"
               "  key                       the --key mode, when not unit\n"
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
/* The options that take a count (an integer >= 0): where it goes, NULL for
 * another option. */
static long *count_option(struct opts *o, const char *name)
{
    const struct {
        const char *name;
        long *value;
    } counts[] = {
        {"--records", &o->records},
        {"--invalid", &o->invalid},
        {"--duplicates", &o->duplicates},
        {"--malformed", &o->malformed},
        {"--unknown-unit", &o->unknown},
        {"--gaps", &o->gaps},
        {"--updates", &o->updates},
        {"--revokes", &o->revokes},
        {"--national-by-organ", &o->by_organ},
        {"--resend-other-key", &o->resend_other_key},
    };

    for (size_t i = 0; i < ARRAY_LEN(counts); i++)
        if (strcmp(name, counts[i].name) == 0)
            return counts[i].value;
    return NULL;
}

int gen_cli_parse(int argc, char **argv, struct opts *o, char *errstr, size_t errstr_size)
{
    o->records = 11100;
    o->late_share = 0.02;
    o->format = FMT_NATIVE;
    o->xs = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *val = NULL, name[64];
        long *count;
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
        } else if ((count = count_option(o, name)) != NULL) {
            if (parse_long(name, val, 0, count, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--late-share") == 0) {
            if (parse_share(name, val, &o->late_share, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--no-reported-at-share") == 0) {
            if (parse_share(name, val, &o->no_reported_share, errstr, errstr_size))
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
        } else if (strcmp(name, "--key") == 0) {
            static const char *const modes[] = {"unit", "none", "alias", "name", "mixed"};
            size_t m = 0;
            while (m < ARRAY_LEN(modes) && strcmp(val, modes[m]) != 0)
                m++;
            if (m == ARRAY_LEN(modes)) {
                snprintf(errstr, errstr_size,
                         "--key: expected unit, none, alias, name or mixed, got '%s'", val);
                return -1;
            }
            o->key = (enum key_mode)m;
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
        o->unknown > 50000000 || o->gaps > 50000000 || o->updates > 50000000 ||
        o->revokes > 50000000 || o->by_organ > 50000000 || o->resend_other_key > 50000000) {
        snprintf(errstr, errstr_size, "--records: at most 50,000,000 messages of each kind");
        return -1;
    }
    return 0;
}

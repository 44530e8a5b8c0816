/* sgs-aggregator: command line (REFERENCE §7).
 *
 *   sgs-aggregator [-c FILE] [-X key=value]... [-v] COMMAND [options]
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration error,
 * always with a one-line message naming the file, key or argument at fault;
 * snapshot: 3 when the files were written but the publish failed. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sgs-aggregator [-c FILE] [-X key=value]... [-v] COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  snapshot --month YYYY-MM [--out DIR] [--final] [--no-publish]\n"
            "                                           build, version, write and publish a\n"
            "                                           month; one not closed (grace days) is\n"
            "                                           a preview (\"preview\": true, files\n"
            "                                           marked 临时) unless --final;\n"
            "                                           --no-publish: no Kafka\n"
            "  spot-check --month YYYY-MM --sample FILE concealment spot check (TSV unit_id, kind, "
            "doc_no)\n"
            "      [--dry-run]                          look up and show, store nothing\n"
            "      --withdraw --reason TEXT             withdraw the stored findings FILE names\n"
            "  status [--unit ID] [--json]              live counters per unit\n"
            "  watch                                    snapshot every closed month, re-version\n"
            "                                           it within a cycle of a change\n"
            "  serve [--listen HOST:PORT]               the web console, HTTP API and metrics "
            "(http.listen)\n"
            "\n"
            "options:\n"
            "  -c FILE        configuration file (key = value)\n"
            "  -X key=value   override a configuration key (repeatable); -X list prints the keys\n"
            "  -v             debug logging\n"
            "  -h, --help     this text\n"
            "\n"
            "environment: SGS_<KEY> overrides a key; SGS_NOW=YYYY-MM-DD (or an RFC 3339 time)\n"
            "pretends another date for status, snapshot and watch (tests).\n"
            "\n"
            "exit status: 0 success, 1 runtime failure (snapshot: also when the files are\n"
            "written and the version stored, but it could not be published), 2 usage or\n"
            "configuration error.\n");
}

struct args {
    const char *config_file;
    char **xs;
    size_t n_xs;
    int verbose;
    const char *command;
    const char *month, *out, *sample, *unit, *listen, *reason;
    int json;
    int final, no_publish, dry_run, withdraw;
};

/* Value of "--name VALUE" / "--name=VALUE" at argv[*i]; NULL when argv[*i] is not
 * that option. *missing is set when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(int argc, char **argv, struct args *a)
{
    a->xs = calloc((size_t)argc + 1, sizeof(*a->xs));
    if (!a->xs) {
        sgs_error("out of memory");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int missing = 0;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(SGS_AGG_EXIT_OK);
        } else if (strcmp(arg, "-v") == 0) {
            a->verbose = 1;
        } else if (strncmp(arg, "-c", 2) == 0) {
            if (arg[2])
                a->config_file = arg + 2;
            else if (i + 1 < argc)
                a->config_file = argv[++i];
            else
                goto needs_value;
        } else if (strncmp(arg, "-X", 2) == 0) {
            if (arg[2])
                a->xs[a->n_xs++] = (char *)arg + 2;
            else if (i + 1 < argc)
                a->xs[a->n_xs++] = argv[++i];
            else
                goto needs_value;
        } else if (!a->command && arg[0] != '-') {
            a->command = arg;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--month", &missing))) {
            a->month = v;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--out", &missing))) {
            a->out = v;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--sample", &missing))) {
            a->sample = v;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--unit", &missing))) {
            a->unit = v;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--listen", &missing))) {
            a->listen = v;
        } else if (a->command && (v = opt_value(argc, argv, &i, "--reason", &missing))) {
            a->reason = v;
        } else if (a->command && strcmp(arg, "--json") == 0) {
            a->json = 1;
        } else if (a->command && strcmp(arg, "--final") == 0) {
            a->final = 1;
        } else if (a->command && strcmp(arg, "--no-publish") == 0) {
            a->no_publish = 1;
        } else if (a->command && strcmp(arg, "--dry-run") == 0) {
            a->dry_run = 1;
        } else if (a->command && strcmp(arg, "--withdraw") == 0) {
            a->withdraw = 1;
        } else if (missing) {
            goto needs_value;
        } else {
            sgs_error("%s: unknown argument '%s' (see --help)", a->command ? a->command : "usage",
                      arg);
            return -1;
        }
        if (missing)
            goto needs_value;
        continue;
    needs_value:
        sgs_error("option '%s' needs a value", arg);
        return -1;
    }
    return 0;
}

/* The environment without SGS_NOW, which is the aggregator's own test hook and
 * not a configuration key. Entries are borrowed from environ. */
static char **config_env(void)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = calloc(n + 1, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "SGS_NOW=", 8) != 0)
            env[k++] = environ[i];
    }
    return env;
}

/* Checks that an option belongs to the command. */
static int only(const struct args *a, int month, int out, int sample, int unit, int json)
{
    const char *bad = NULL;

    if (!month && a->month)
        bad = "--month";
    else if (!out && a->out)
        bad = "--out";
    else if (!sample && a->sample)
        bad = "--sample";
    else if (!unit && a->unit)
        bad = "--unit";
    else if (!json && a->json)
        bad = "--json";
    else if (strcmp(a->command, "serve") != 0 && a->listen)
        bad = "--listen";
    else if (strcmp(a->command, "snapshot") != 0 && a->final)
        bad = "--final";
    else if (strcmp(a->command, "snapshot") != 0 && a->no_publish)
        bad = "--no-publish";
    else if (strcmp(a->command, "spot-check") != 0 && a->dry_run)
        bad = "--dry-run";
    else if (strcmp(a->command, "spot-check") != 0 && a->withdraw)
        bad = "--withdraw";
    else if (strcmp(a->command, "spot-check") != 0 && a->reason)
        bad = "--reason";
    if (bad) {
        sgs_error("%s: option %s does not apply to this command", a->command, bad);
        return -1;
    }
    return 0;
}

static int need_month(const struct args *a, int *year, int *month)
{
    if (!a->month) {
        sgs_error("%s: --month YYYY-MM is required", a->command);
        return -1;
    }
    /* No sgs data predates 1970: an earlier year is a typing error. */
    if (sgs_month_parse(a->month, year, month) != 0 || *year < 1970) {
        sgs_error("%s: --month '%s': expected YYYY-MM", a->command, a->month);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct args a;
    sgs_config *cfg;
    sgs_agg_ctx *ctx;
    char err[1024];
    char **env;
    int rc, year = 0, month = 0;
    char why[128];

    sgs_log_set_program("sgs-aggregator");
    memset(&a, 0, sizeof(a));
    if (parse_args(argc, argv, &a) != 0) {
        free(a.xs);
        return SGS_AGG_EXIT_USAGE;
    }
    for (size_t i = 0; i < a.n_xs; i++) {
        if (strcmp(a.xs[i], "list") == 0) {
            sgs_config_print_help(stdout);
            free(a.xs);
            return SGS_AGG_EXIT_OK;
        }
    }
    if (a.verbose)
        sgs_log_set_level(SGS_LOG_DEBUG); /* -v wins over log.level */
    if (!a.command) {
        /* one line (REFERENCE §7); --help has the rest */
        sgs_error("usage: a command is required (snapshot, spot-check, status, watch, serve; "
                  "sgs-aggregator --help)");
        free(a.xs);
        return SGS_AGG_EXIT_USAGE;
    }

    /* Command and options are checked before the configuration is loaded. */
    if (strcmp(a.command, "snapshot") == 0)
        rc = only(&a, 1, 1, 0, 0, 0) || need_month(&a, &year, &month);
    else if (strcmp(a.command, "spot-check") == 0) {
        rc = only(&a, 1, 0, 1, 0, 0) || need_month(&a, &year, &month);
        if (!rc && !a.sample) {
            sgs_error("spot-check: --sample FILE is required");
            rc = 1;
        } else if (!rc && a.withdraw && (!a.reason || !a.reason[0])) {
            sgs_error("spot-check: --withdraw needs --reason TEXT (why the findings are "
                      "withdrawn; not empty)");
            rc = 1;
        } else if (!rc && a.reason && !a.withdraw) {
            sgs_error("spot-check: --reason applies only with --withdraw");
            rc = 1;
        } else if (!rc && a.reason &&
                   sgs_agg_spotcheck_reason_check(a.reason, why, sizeof(why)) != 0) {
            sgs_error("spot-check: --reason: %s", why);
            rc = 1;
        }
    } else if (strcmp(a.command, "status") == 0)
        rc = only(&a, 0, 0, 0, 1, 1);
    else if (strcmp(a.command, "watch") == 0 || strcmp(a.command, "serve") == 0)
        rc = only(&a, 0, 0, 0, 0, 0);
    else {
        sgs_error("unknown command '%s' (snapshot, spot-check, status, watch, serve)", a.command);
        rc = 1;
    }
    if (rc) {
        free(a.xs);
        return SGS_AGG_EXIT_USAGE;
    }

    cfg = sgs_config_new();
    env = config_env();
    if (!cfg || !env) {
        sgs_error("out of memory");
        sgs_config_destroy(cfg);
        free(env);
        free(a.xs);
        return SGS_AGG_EXIT_RUNTIME;
    }
    rc = sgs_config_load(cfg, a.config_file, env, a.xs, a.n_xs, err, sizeof(err));
    free(env);
    free(a.xs);
    if (rc != 0) {
        sgs_error("%s", err);
        sgs_config_destroy(cfg);
        return SGS_AGG_EXIT_USAGE;
    }
    if (!a.verbose)
        sgs_log_set_level((enum sgs_log_level)sgs_config_log_level(cfg));
    ctx = sgs_agg_ctx_create(cfg, err, sizeof(err)); /* takes cfg */
    cfg = NULL;
    if (!ctx) {
        sgs_error("%s", err);
        return SGS_AGG_EXIT_USAGE;
    }

    if (strcmp(a.command, "snapshot") == 0)
        rc = sgs_agg_cmd_snapshot(ctx, year, month, a.out,
                                  (a.final ? SGS_AGG_SNAP_FINAL : 0u) |
                                      (a.no_publish ? SGS_AGG_SNAP_NO_PUBLISH : 0u));
    else if (strcmp(a.command, "spot-check") == 0)
        rc = sgs_agg_cmd_spotcheck(ctx, year, month, a.sample, a.withdraw ? a.reason : NULL,
                                   a.dry_run);
    else if (strcmp(a.command, "status") == 0)
        rc = sgs_agg_cmd_status(ctx, a.unit, a.json);
    else if (strcmp(a.command, "serve") == 0)
        rc = sgs_agg_cmd_serve(ctx, a.listen);
    else
        rc = sgs_agg_cmd_watch(ctx);
    sgs_agg_ctx_destroy(ctx);
    return rc;
}

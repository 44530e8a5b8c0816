/* sgs-gen: generates one month of record events and the expectation of what
 * a consumer counts from them (see gen.h for how the files share the work and
 * how the ground truth stays exact). The run: command line, configuration,
 * registry and calendar, then the stages in the order that the same seed
 * needs for the same bytes. */
#include "gen.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sgs/hash.h"
#include "sgs/log.h"

extern char **environ;

/* A relative path that does not exist here is also looked for in the source tree,
 * so that the defaults work from a build directory. */
static const char *resolve_path(const char *path, char *buf, size_t cap)
{
    if (path[0] == '/' || access(path, R_OK) == 0)
        return path;
#ifdef SGS_SOURCE_DIR
    snprintf(buf, cap, "%s/%s", SGS_SOURCE_DIR, path);
    if (access(buf, R_OK) == 0)
        return buf;
#else
    (void)buf;
    (void)cap;
#endif
    return path;
}

static void gen_free(struct gen *g)
{
    free(g->units);
    free(g->recs);
    free(g->foreign);
    free(g->evs);
    free(g->gap_groups);
    free(g->missing);
    free(g->deadline[1]);
    free(g->deadline[2]);
    free(g->o.xs);
    sgs_calendar_destroy(g->cal);
    sgs_registry_destroy(g->reg);
    sgs_config_destroy(g->cfg);
}

int main(int argc, char **argv)
{
    struct gen g;
    char errstr[512], pbuf[4096];
    const char *path;
    int y, m, rc = EXIT_RUNTIME;
    double t0 = gen_now_seconds();

    memset(&g, 0, sizeof(g));
    sgs_log_set_program("sgs-gen");
    switch (gen_cli_parse(argc, argv, &g.o, errstr, sizeof(errstr))) {
    case 1:
        free(g.o.xs);
        return 0;
    case -1:
        sgs_error("%s", errstr);
        free(g.o.xs);
        return EXIT_USAGE;
    default:
        break;
    }
    if (!g.o.have_seed)
        g.o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    g.plan.s = g.o.seed;
    g.extra.s = sgs_hash_mix64(g.o.seed ^ 0x6578747261ULL); /* "extra" */

    rc = EXIT_USAGE;
    if (sgs_month_parse(g.o.month, &y, &m) != 0) {
        sgs_error("--month: expected YYYY-MM, got '%s'", g.o.month);
        goto out;
    }
    g.year = y;
    g.month = m;
    g.first = sgs_day_from_ymd(y, m, 1);
    g.last = (m == 12 ? sgs_day_from_ymd(y + 1, 1, 1) : sgs_day_from_ymd(y, m + 1, 1)) - 1;

    g.cfg = sgs_config_new();
    if (!g.cfg) {
        sgs_error("out of memory");
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (sgs_config_load(g.cfg, g.o.config_file, environ, g.o.xs, g.o.n_xs, errstr,
                        sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    {
        const char *lvl = sgs_config_get(g.cfg, "log.level");
        if (lvl && strcmp(lvl, "debug") == 0)
            sgs_log_set_level(SGS_LOG_DEBUG);
        else if (lvl && (strcmp(lvl, "warning") == 0 || strcmp(lvl, "warn") == 0))
            sgs_log_set_level(SGS_LOG_WARN);
        else if (lvl && strcmp(lvl, "error") == 0)
            sgs_log_set_level(SGS_LOG_ERROR);
    }
    path = resolve_path(sgs_config_get(g.cfg, "units.file"), pbuf, sizeof(pbuf));
    g.reg = sgs_registry_load(path, errstr, sizeof(errstr));
    if (!g.reg) {
        sgs_error("units.file: %s", errstr);
        goto out;
    }
    path = resolve_path(sgs_config_get(g.cfg, "calendar.file"), pbuf, sizeof(pbuf));
    g.cal = sgs_calendar_load(path, errstr, sizeof(errstr));
    if (!g.cal) {
        sgs_error("calendar.file: %s", errstr);
        goto out;
    }
    g.workdays[KIND_LICENSE] = (int)sgs_config_get_int(g.cfg, "deadline.license.workdays");
    g.workdays[KIND_PENALTY] = (int)sgs_config_get_int(g.cfg, "deadline.penalty.workdays");
    g.count_decision_day = sgs_config_get_bool(g.cfg, "deadline.count_decision_day");
    if (sgs_tz_offset_parse(sgs_config_get(g.cfg, "timezone.offset"), &g.tz) != 0) {
        sgs_error("timezone.offset: expected +hh:mm, got '%s'",
                  sgs_config_get(g.cfg, "timezone.offset"));
        goto out;
    }
    if (g.workdays[KIND_LICENSE] < 1 || g.workdays[KIND_PENALTY] < 1) {
        sgs_error("deadline.*.workdays: must be at least 1");
        goto out;
    }

    gen_units_setup(&g);
    g.n_phantoms = (size_t)gen_changes_phantoms(g.o.revokes);
    if (gen_plan(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    gen_faults_plan_unknown(&g);
    if (gen_national_plan_by_organ(&g, errstr, sizeof(errstr)) != 0 ||
        gen_events_plan(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    gen_expect_count(&g);

    rc = EXIT_RUNTIME;
    if (g.o.expect && gen_expect_write(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("--expect: %s", errstr);
        goto out;
    }
    if (g.o.produce) {
        int prc = gen_produce(&g, t0, errstr, sizeof(errstr));
        if (prc != 0) {
            sgs_error("%s", errstr);
            rc = prc == -2 ? EXIT_USAGE : EXIT_RUNTIME;
            goto out;
        }
    } else {
        if (gen_jsonl_write(&g, errstr, sizeof(errstr)) != 0) {
            sgs_error("--out: %s", errstr);
            goto out;
        }
        fprintf(stderr,
                "sgs-gen: %s: %zu messages (%zu records, %ld late, %ld invalid, %ld duplicates, "
                "%ld malformed, %ld unknown-unit, %ld gaps) written to %s in %.2f s, seed "
                "%" PRIu64 "\n",
                g.o.month, g.n_evs, g.n_recs, g.n_late, g.o.invalid, g.o.duplicates, g.o.malformed,
                g.o.unknown, g.o.gaps, g.o.out ? g.o.out : "stdout", gen_now_seconds() - t0,
                g.o.seed);
        if (g.o.updates || g.o.revokes || g.o.by_organ || g.o.resend_other_key)
            fprintf(stderr,
                    "sgs-gen: %s: also %ld updates, %ld revokes (+%zu of decisions never "
                    "generated), %ld by organ, %ld duplicates under another key\n",
                    g.o.month, g.o.updates, g.o.revokes, g.n_phantoms, g.o.by_organ,
                    g.o.resend_other_key);
    }
    rc = 0;
out:
    gen_free(&g);
    return rc;
}

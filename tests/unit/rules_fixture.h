/* Shared fixture of the unit tests that parse records (record_test,
 * jsonscan_test, consumer_batch_test, consumer_ahead_test): the rules they
 * parse with. */
#ifndef SGS_RULES_FIXTURE_H
#define SGS_RULES_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/calendar.h"
#include "sgs/record.h"
#include "sgs/registry.h"

/* The shipped configuration directory: $SGS_CONFIGS, else the source tree's. */
static const char *rules_fixture_configs(void)
{
    const char *dir = getenv("SGS_CONFIGS");
    return dir ? dir : SGS_SOURCE_DIR "/configs";
}

/* *rules for reg: the shipped calendar (loaded into *cal: the deadlines are
 * facts of it), 7 working days for both kinds, day 1 the first working day
 * after the decision, +08:00. 0, or -1 with the reason on stderr. */
static int rules_fixture_init(sgs_rules *rules, sgs_registry *reg, sgs_calendar **cal)
{
    char err[512], path[4096];
    if (!reg)
        return -1; /* its loader said why */
    snprintf(path, sizeof(path), "%s/calendar-cn.json", rules_fixture_configs());
    *cal = sgs_calendar_load(path, err, sizeof(err));
    if (!*cal) {
        fprintf(stderr, "calendar: %s\n", err);
        return -1;
    }
    memset(rules, 0, sizeof(*rules));
    rules->calendar = *cal;
    rules->registry = reg;
    rules->deadline_workdays[SGS_KIND_LICENSE] = 7;
    rules->deadline_workdays[SGS_KIND_PENALTY] = 7;
    rules->count_decision_day = 0;
    rules->tz_offset = 8 * 3600;
    return 0;
}

#endif

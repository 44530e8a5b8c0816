/* The one loader of every program (sgs/loader.h): the configuration's checks,
 * the registry, the calendar, the group names against the registry. */
#include "sgs/loader.h"

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "sgs/kafkaconf.h"

/* "ORIGIN: key 'KEY'" or "key 'KEY'" for a value that has no origin (a default). */
static void where(const sgs_config *cfg, const char *key, char *buf, size_t size)
{
    const char *origin = sgs_config_origin(cfg, key);

    if (origin)
        snprintf(buf, size, "%s: key '%s'", origin, key);
    else
        snprintf(buf, size, "key '%s'", key);
}

int sgs_loader_check_config(const sgs_config *cfg, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *part = sgs_config_get(cfg, "consumer.route.partitioner");
    char at[600], err[256];
    int rc = 0;

    if (!conf) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    /* Each property on top of the consumer's defaults, as sgs-consumer sets
     * them (sgs_kafka_conf_new), so every program refuses what it refuses. */
    for (size_t i = 0; sgs_kafka_consumer_defaults[i]; i += 2)
        rd_kafka_conf_set(conf, sgs_kafka_consumer_defaults[i], sgs_kafka_consumer_defaults[i + 1],
                          err, sizeof(err));
    for (size_t i = 0; i < sgs_config_kafka_count(cfg) && rc == 0; i++) {
        const char *k, *v;
        char key[300];

        sgs_config_kafka_at(cfg, i, &k, &v);
        if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(key, sizeof(key), "kafka.%s", k);
            where(cfg, key, at, sizeof(at));
            snprintf(errstr, errstr_size, "%s: %s", at, err);
            rc = -1;
        }
    }
    rd_kafka_conf_destroy(conf);
    if (rc == 0 && (!part || (strcmp(part, "crc32") != 0 && strcmp(part, "murmur2") != 0))) {
        where(cfg, "consumer.route.partitioner", at, sizeof(at));
        snprintf(errstr, errstr_size, "%s: expected crc32 or murmur2, got '%s'", at,
                 part ? part : "");
        rc = -1;
    }
    return rc;
}

/* The registry's groups as "a, b, c" (cut with "..." when long). */
static void group_list(const sgs_registry *reg, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sgs_registry_group_count(reg) && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", sgs_registry_group_at(reg, i));

        if (w < 0 || (size_t)w >= size - n) {
            if (size > 4)
                memcpy(buf + size - 4, "...", 4);
            return;
        }
        n += (size_t)w;
    }
}

static int has_group(const sgs_registry *reg, const char *g, size_t len)
{
    for (size_t i = 0; i < sgs_registry_group_count(reg); i++) {
        const char *x = sgs_registry_group_at(reg, i);

        if (strlen(x) == len && memcmp(x, g, len) == 0)
            return 1;
    }
    return 0;
}

int sgs_loader_check_groups(const sgs_config *cfg, const sgs_registry *reg, char *errstr,
                            size_t errstr_size)
{
    const char *units = sgs_config_get(cfg, "units.file");
    const char *order = sgs_config_get(cfg, "groups");
    char at[600], known[400];

    for (size_t i = 0; i < sgs_config_group_count(cfg); i++) {
        const char *id, *name, *origin;
        char key[300];

        sgs_config_group_at(cfg, i, &id, &name, &origin);
        if (has_group(reg, id, strlen(id)))
            continue;
        snprintf(key, sizeof(key), "group.%s.name", id);
        where(cfg, key, at, sizeof(at));
        group_list(reg, known, sizeof(known));
        snprintf(errstr, errstr_size, "%s: no group '%s' in %s (its groups: %s)", at, id,
                 units ? units : "units.file", known);
        return -1;
    }
    while (order && *order) {
        const char *end = strchr(order, ',');
        const char *a = order, *b = end ? end : order + strlen(order);

        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && !has_group(reg, a, (size_t)(b - a))) {
            where(cfg, "groups", at, sizeof(at));
            group_list(reg, known, sizeof(known));
            snprintf(errstr, errstr_size, "%s: no group '%.*s' in %s (its groups: %s)", at,
                     (int)(b - a), a, units ? units : "units.file", known);
            return -1;
        }
        order = end ? end + 1 : NULL;
    }
    return 0;
}

int sgs_loader_load_files(const sgs_config *cfg, sgs_registry **reg_out, sgs_calendar **cal_out,
                          char *errstr, size_t errstr_size)
{
    const char *units = sgs_config_get(cfg, "units.file");
    const char *calendar = sgs_config_get(cfg, "calendar.file");
    sgs_registry *reg;
    sgs_calendar *cal;

    if (!units || !*units) {
        snprintf(errstr, errstr_size, "units.file: not set");
        return -1;
    }
    if (!calendar || !*calendar) {
        snprintf(errstr, errstr_size, "calendar.file: not set");
        return -1;
    }
    if (!(reg = sgs_registry_load(units, errstr, errstr_size)))
        return -1;
    if (!(cal = sgs_calendar_load(calendar, errstr, errstr_size)) ||
        sgs_loader_check_groups(cfg, reg, errstr, errstr_size) != 0) {
        sgs_calendar_destroy(cal);
        sgs_registry_destroy(reg);
        return -1;
    }
    *reg_out = reg;
    *cal_out = cal;
    return 0;
}

int sgs_loader_load(const sgs_config *cfg, sgs_registry **reg, sgs_calendar **cal, char *errstr,
                    size_t errstr_size)
{
    if (sgs_loader_check_config(cfg, errstr, errstr_size) != 0)
        return -1;
    return sgs_loader_load_files(cfg, reg, cal, errstr, errstr_size);
}

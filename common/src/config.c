/* Configuration: one table of keys (type, default, help), a value per key, and
 * the kafka.* pass-through list. Precedence is simply the order of application:
 * defaults, then the file, then the environment, then -X. */
#include "sgs/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/date.h"

/* (T_TOPIC last: the names of sgs_config_print_help) */
enum cfg_type { T_STRING, T_INT, T_DOUBLE, T_BOOL, T_TZ, T_LOGLEVEL, T_DATE, T_TOPIC };

struct cfg_key {
    const char *key;
    enum cfg_type type;
    const char *def; /* NULL: unset */
    double min, max; /* for T_INT / T_DOUBLE */
    const char *help;
};

/* Every key sgs knows, once. configs/sgs.conf documents the same keys (a unit
 * test checks that the two agree). */
static const struct cfg_key keys[] = {
    {"topic.records", T_TOPIC, "sgs.records", 0, 0, "topic of record events (input)"},
    {"topic.alerts", T_TOPIC, "sgs.alerts", 0, 0, "topic of alerts (late, late_rate)"},
    {"topic.rejects", T_TOPIC, "sgs.rejects", 0, 0, "topic of rejected messages with reasons"},
    {"topic.snapshots", T_TOPIC, "sgs.snapshots", 0, 0,
     "topic of monthly snapshots, key YYYY-MM (meant to be compacted)"},
    {"redis.host", T_STRING, "127.0.0.1", 0, 0, "Redis server host"},
    {"redis.port", T_INT, "6379", 1, 65535, "Redis server port"},
    {"redis.password", T_STRING, NULL, 0, 0, "Redis password (AUTH), none by default"},
    {"redis.db", T_INT, "0", 0, 1000000, "Redis database number"},
    {"redis.cluster", T_STRING, NULL, 0, 0,
     "Redis Cluster seeds, host:port comma separated; when set, redis.host/port are ignored"},
    {"redis.prefix", T_STRING, "sgs", 0, 0, "prefix of every Redis key and channel"},
    {"redis.timeout_ms", T_INT, "5000", 10, 600000, "Redis connect and command timeout"},
    {"units.file", T_STRING, "configs/units.tsv", 0, 0, "unit registry (TSV)"},
    {"calendar.file", T_STRING, "configs/calendar-cn.json", 0, 0, "working-day calendar (JSON)"},
    {"deadline.license.workdays", T_INT, "7", 1, 365, "deadline of licences in working days"},
    {"deadline.penalty.workdays", T_INT, "7", 1, 365, "deadline of penalties in working days"},
    {"deadline.count_decision_day", T_BOOL, "false", 0, 0,
     "count the decision day as day 1 when it is a working day (default: day 0)"},
    {"timezone.offset", T_TZ, "+08:00", 0, 0, "local time for report dates and months"},
    {"alert.late_rate_threshold", T_DOUBLE, "10", 0, 100,
     "percent; a late_rate alert when a unit's rolling late rate crosses it upward"},
    {"alert.late_rate_min_records", T_INT, "10", 1, 1000000,
     "records a unit needs in the window before a late_rate alert"},
    {"alert.window_days", T_INT, "30", 1, 366, "rolling window of the late_rate alert, days"},
    {"report.dir", T_STRING, "reports", 0, 0, "where snapshot files go"},
    {"report.low_volume", T_INT, "20", 0, 100000000,
     "a unit below this many records in a month is listed as low volume"},
    {"report.grace_workdays", T_INT, "3", 0, 60,
     "working days after a month closes before watch snapshots it"},
    {"report.publish_timeout_s", T_INT, "30", 1, 3600,
     "how long snapshot and watch wait for Kafka to acknowledge a snapshot"},
    {"report.title", T_STRING, "平顶山市", 0, 0, "issuing city or office named in the notice"},
    {"report.requirements", T_STRING,
     "各成员单位要高度重视“双公示”数据报送工作，严格落实行政许可、行政处罚信息自作出决定之日起7个"
     "工作日内上报的要求，做到应报尽报、及时准确。对迟报、漏报、瞒报问题突出的单位，要认真分析原因"
     "、"
     "限期整改，并于下月5日前将整改情况报市信用办。",
     0, 0, "the 三、工作要求 paragraph of the notice (empty: one naming the deadlines)"},
    {"notice.issuer", T_STRING, NULL, 0, 0,
     "issuing authority (发文机关) above the notice's title and over its date (empty: none)"},
    {"notice.doc_no", T_STRING, NULL, 0, 0,
     "document number (文号) of the notice; {year} and {month} become the notice month's year "
     "and 2-digit month (empty: none)"},
    {"notice.date", T_DATE, NULL, 0, 0,
     "date line of the notice, YYYY-MM-DD (empty: the snapshot's generated_at date)"},
    {"aggregator.watch_interval_s", T_INT, "60", 1, 86400, "how often watch checks months"},
    {"aggregator.watch_months", T_INT, "3", 1, 120,
     "closed months watch rebuilds every cycle (the others when their figures change)"},
    {"groups", T_STRING, NULL, 0, 0,
     "group order in reports, comma separated (default: order of first appearance)"},
    {"consumer.batch.max_messages", T_INT, "10000", 1, 1000000,
     "a batch closes at this many messages (half as many more while Redis runs the last)"},
    {"consumer.batch.max_ms", T_INT, "50", 1, 60000,
     "a batch closes after this many ms (one of max_messages/8 or more: when nothing is fetched)"},
    {"consumer.day_retention_days", T_INT, "400", 31, 36500,
     "day buckets (rolling windows) expire after this many days"},
    {"consumer.stats_interval_s", T_INT, "10", 0, 86400, "stats line interval (0: off)"},
    {"consumer.retry_max_ms", T_INT, "5000", 10, 600000,
     "cap of the exponential backoff while Redis is unavailable"},
    {"consumer.reject_payload_max", T_INT, "900000", 256, 100000000,
     "bytes a reject's payload takes at most, as written (JSON text or base64); longer ones "
     "are cut and flagged"},
    {"consumer.batch.max_bytes", T_INT, "16777216", 65536, 1073741824,
     "a batch closes when its alerts, rejects and identities reach this many bytes"},
    {"consumer.outbox.max_entries", T_INT, "10000", 1, 100000000,
     "batches of alerts/rejects in delivery at most; at the cap consumption pauses"},
    {"consumer.outbox.max_bytes", T_INT, "268435456", 65536, 68719476736.0,
     "bytes of alerts/rejects in delivery at most; at the cap consumption pauses"},
    {"consumer.identity_horizon_months", T_INT, "24", 0, 1200,
     "identities are kept at least this many months after their decision date, then dropped "
     "with their year's key; a decision that may have been in a dropped key is rejected as "
     "too_old (0: kept forever)"},
    {"consumer.alerts_kept", T_INT, "1000", 0, 1000000,
     "latest alerts kept in Redis per partition for the console (GET /api/v1/alerts)"},
    {"consumer.ledger.max_per_unit", T_INT, "5000", 0, 100000000,
     "ledger entries (late and invalid records) kept per unit and month; more are counted as "
     "cut"},
    {"consumer.route.partitioner", T_STRING, "crc32", 0, 0,
     "how a unit id maps to the partition that counts it, when sgs first consumes a topic: "
     "crc32 (librdkafka's default for keyed messages) or murmur2 (the Java client's)"},
    {"http.listen", T_STRING, "127.0.0.1:8080", 0, 0,
     "where sgs-aggregator serve answers (console, API, metrics): HOST:PORT"},
    {"http.token", T_STRING, NULL, 0, 0,
     "when set, every /api/ request needs 'Authorization: Bearer <token>'; requests that "
     "change data are refused unless it is set"},
    {"metrics.listen", T_STRING, NULL, 0, 0,
     "where sgs-consumer serves /metrics and /healthz, e.g. 0.0.0.0:9464 (empty: off)"},
    {"debug.fail_seeks", T_INT, "0", 0, 1000000,
     "fault tests only: the first N seeks of the consumer fail"},
    {"debug.fail_alloc", T_INT, "0", 0, 1000000,
     "fault tests only: the first N alerts, rejects or ledger entries the consumer builds fail "
     "as if out of memory (their batch is dropped and read again)"},
    {"log.level", T_LOGLEVEL, "info", 0, 0, "debug, info, warning or error"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct kv {
    char *key;
    char *value;
    char *origin; /* "FILE:LINE", "-X", "environment SGS_..." */
};

struct sgs_config {
    char *values[N_KEYS];
    char *origins[N_KEYS]; /* where each value was set; NULL: the default */
    struct kv *kafka;
    size_t n_kafka, cap_kafka;
    struct kv *groups; /* group.<id>.name */
    size_t n_groups, cap_groups;
    int deferred; /* loading layers: values are checked once, the winning one */
};

/* Variables the programs and scripts read themselves: not config keys. */
static const char *const env_not_keys[] = {"SGS_BUILD_DIR",
                                           "SGS_SOURCE_DIR",
                                           "SGS_NOW",
                                           "SGS_KAFKA",
                                           "SGS_CACHE_DIR",
                                           "SGS_KEEP_TMP",
                                           "SGS_TEST_DATA",
                                           "SGS_CONFIGS",
                                           "SGS_KAFKA_JARS",
                                           "SGS_KAFKA_HEAP",
                                           "SGS_TMP_DIR",
                                           "SGS_CTEST_ARGS",
                                           "SGS_CTEST_ASAN_ARGS",
                                           "SGS_RELIABILITY_OUT",
                                           "SGS_FAULT_SEED",
                                           "SGS_DEMO_PREBUILT",
                                           NULL};

static const char *kafka_defaults[][2] = {
    {"bootstrap.servers", "127.0.0.1:9092"},
    {"group.id", "sgs"},
};

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int kv_set(struct kv **arr, size_t *n, size_t *cap, const char *key, const char *value,
                  const char *origin)
{
    char *v, *o;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*arr)[i].key, key) == 0) {
            v = xstrdup(value);
            o = origin ? xstrdup(origin) : NULL;
            if (!v || (origin && !o)) {
                free(v);
                free(o);
                return -1;
            }
            free((*arr)[i].value);
            free((*arr)[i].origin);
            (*arr)[i].value = v;
            (*arr)[i].origin = o;
            return 0;
        }
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct kv *na = realloc(*arr, nc * sizeof(*na));
        if (!na)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[*n].key = xstrdup(key);
    (*arr)[*n].value = xstrdup(value);
    (*arr)[*n].origin = origin ? xstrdup(origin) : NULL;
    if (!(*arr)[*n].key || !(*arr)[*n].value || (origin && !(*arr)[*n].origin)) {
        free((*arr)[*n].key);
        free((*arr)[*n].value);
        free((*arr)[*n].origin);
        return -1;
    }
    (*n)++;
    return 0;
}

sgs_config *sgs_config_new(void)
{
    sgs_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].def && !(cfg->values[i] = xstrdup(keys[i].def)))
            goto fail;
    }
    for (size_t i = 0; i < sizeof(kafka_defaults) / sizeof(kafka_defaults[0]); i++) {
        if (kv_set(&cfg->kafka, &cfg->n_kafka, &cfg->cap_kafka, kafka_defaults[i][0],
                   kafka_defaults[i][1], NULL) != 0)
            goto fail;
    }
    return cfg;
fail:
    sgs_config_destroy(cfg);
    return NULL;
}

void sgs_config_destroy(sgs_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        free(cfg->values[i]);
        free(cfg->origins[i]);
    }
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
        free(cfg->kafka[i].origin);
    }
    for (size_t i = 0; i < cfg->n_groups; i++) {
        free(cfg->groups[i].key);
        free(cfg->groups[i].value);
        free(cfg->groups[i].origin);
    }
    free(cfg->kafka);
    free(cfg->groups);
    free(cfg);
}

static const struct cfg_key *find_key(const char *key, size_t *index)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].key, key) == 0) {
            if (index)
                *index = i;
            return &keys[i];
        }
    }
    return NULL;
}

int sgs_config_parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_level(const char *v)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, names[i]) == 0)
            return i;
    if (strcasecmp(v, "warn") == 0)
        return 2;
    return -1;
}

/* A name Kafka accepts for a topic: 1..249 of [a-zA-Z0-9._-], not "." or "..".
 * (The ids built from it, "late:<topic>:<partition>:<offset>", go into JSON
 * without escaping.) */
static int topic_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 249 || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '_' && v[i] != '-')
            return 0;
    return 1;
}

/* Checks value against the key's type; 0 or -1 with a message. */
static int check_value(const struct cfg_key *k, const char *value, const char *origin, char *errstr,
                       size_t errstr_size)
{
    char *end;
    int b, tz;
    switch (k->type) {
    case T_STRING:
        return 0;
    case T_TOPIC:
        if (!topic_name_ok(value)) {
            snprintf(errstr, errstr_size,
                     "%s: key '%s': expected a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -), "
                     "got '%s'",
                     origin, k->key, value);
            return -1;
        }
        return 0;
    case T_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < (long long)k->min || v > (long long)k->max) {
            snprintf(errstr, errstr_size, "%s: key '%s': expected an integer %.0f..%.0f, got '%s'",
                     origin, k->key, k->min, k->max, value);
            return -1;
        }
        return 0;
    }
    case T_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v) || v < k->min || v > k->max) {
            snprintf(errstr, errstr_size, "%s: key '%s': expected a number %g..%g, got '%s'",
                     origin, k->key, k->min, k->max, value);
            return -1;
        }
        return 0;
    }
    case T_BOOL:
        if (sgs_config_parse_bool(value, &b) != 0) {
            snprintf(errstr, errstr_size, "%s: key '%s': expected true or false, got '%s'", origin,
                     k->key, value);
            return -1;
        }
        return 0;
    case T_TZ:
        if (sgs_tz_offset_parse(value, &tz) != 0) {
            snprintf(errstr, errstr_size,
                     "%s: key '%s': expected a UTC offset like +08:00, got '%s'", origin, k->key,
                     value);
            return -1;
        }
        return 0;
    case T_DATE: {
        sgs_day day;

        if (*value && sgs_day_parse(value, strlen(value), &day) != 0) {
            snprintf(errstr, errstr_size, "%s: key '%s': expected a date YYYY-MM-DD, got '%s'",
                     origin, k->key, value);
            return -1;
        }
        return 0;
    }
    case T_LOGLEVEL:
        if (parse_level(value) < 0) {
            snprintf(errstr, errstr_size,
                     "%s: key '%s': expected debug, info, warning or error, got '%s'", origin,
                     k->key, value);
            return -1;
        }
        return 0;
    }
    return 0;
}

/* group.<id>.name: the id is one or more characters without dots or spaces. */
static int is_group_name_key(const char *key, const char **id, size_t *id_len)
{
    size_t n = strlen(key);
    if (n <= 11 || strncmp(key, "group.", 6) != 0 || strcmp(key + n - 5, ".name") != 0)
        return 0;
    *id = key + 6;
    *id_len = n - 11;
    for (size_t i = 0; i < *id_len; i++)
        if ((*id)[i] == '.' || isspace((unsigned char)(*id)[i]))
            return 0;
    return 1;
}

int sgs_config_set(sgs_config *cfg, const char *key, const char *value, const char *origin,
                   char *errstr, size_t errstr_size)
{
    size_t idx;
    const struct cfg_key *k;
    const char *gid;
    size_t gid_len;

    if (strncmp(key, "kafka.", 6) == 0) {
        if (key[6] == '\0') {
            snprintf(errstr, errstr_size,
                     "%s: key 'kafka.': a librdkafka property name must follow", origin);
            return -1;
        }
        if (kv_set(&cfg->kafka, &cfg->n_kafka, &cfg->cap_kafka, key + 6, value, origin) != 0)
            goto oom;
        return 0;
    }
    if (is_group_name_key(key, &gid, &gid_len)) {
        char id[256];
        if (gid_len >= sizeof(id)) {
            snprintf(errstr, errstr_size, "%s: key '%.60s...': group id too long", origin, key);
            return -1;
        }
        memcpy(id, gid, gid_len);
        id[gid_len] = '\0';
        if (kv_set(&cfg->groups, &cfg->n_groups, &cfg->cap_groups, id, value, origin) != 0)
            goto oom;
        return 0;
    }
    if (!(k = find_key(key, &idx))) {
        snprintf(errstr, errstr_size, "%s: unknown key '%s'", origin, key);
        return -1;
    }
    if (!cfg->deferred && check_value(k, value, origin, errstr, errstr_size) != 0)
        return -1;
    char *v = xstrdup(value), *o = xstrdup(origin);
    if (!v || !o) {
        free(v);
        free(o);
        goto oom;
    }
    free(cfg->values[idx]);
    free(cfg->origins[idx]);
    cfg->values[idx] = v;
    cfg->origins[idx] = o;
    return 0;
oom:
    snprintf(errstr, errstr_size, "%s: out of memory", origin);
    return -1;
}

int sgs_config_set_kv(sgs_config *cfg, const char *kv, const char *origin, char *errstr,
                      size_t errstr_size)
{
    const char *eq = strchr(kv, '=');
    char key[256];
    size_t n;
    if (!eq || eq == kv) {
        snprintf(errstr, errstr_size, "%s: expected key=value, got '%s'", origin, kv);
        return -1;
    }
    n = (size_t)(eq - kv);
    if (n >= sizeof(key)) {
        snprintf(errstr, errstr_size, "%s: key too long in '%.60s...'", origin, kv);
        return -1;
    }
    memcpy(key, kv, n);
    key[n] = '\0';
    return sgs_config_set(cfg, key, eq + 1, origin, errstr, errstr_size);
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int sgs_config_load_file(sgs_config *cfg, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char origin[512];
        char *s = line, *eq, *key, *value;
        lineno++;
        if (lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3; /* UTF-8 BOM */
        if ((size_t)len != strlen(line)) {
            snprintf(errstr, errstr_size, "%s:%d: NUL byte in line", path, lineno);
            rc = -1;
            break;
        }
        s = trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        /* "key = value  # a comment": a '#' after a space or tab starts a
         * comment ('#' inside a value, as in a password "a#b", is kept) */
        for (char *h = s + 1; *h; h++)
            if (*h == '#' && (h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                s = trim(s);
                break;
            }
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (!(eq = strchr(s, '='))) {
            snprintf(errstr, errstr_size, "%s: expected 'key = value', got '%.60s'", origin, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        key = trim(s);
        value = trim(eq + 1);
        if (*key == '\0') {
            snprintf(errstr, errstr_size, "%s: empty key before '='", origin);
            rc = -1;
            break;
        }
        if (sgs_config_set(cfg, key, value, origin, errstr, errstr_size) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* "SGS_REDIS_HOST" -> matches key "redis.host" when upper-cased with '.' -> '_'. */
static int env_matches(const char *name, size_t name_len, const char *key)
{
    size_t i;
    for (i = 0; i < name_len && key[i]; i++) {
        char c = key[i] == '.' ? '_' : (char)toupper((unsigned char)key[i]);
        if (c == '-')
            c = '_';
        if (name[i] != c)
            return 0;
    }
    return i == name_len && key[i] == '\0';
}

/* Sets head + part of an environment name in lower case (with dots for '_'
 * when dots) + tail: SGS_KAFKA_LINGER_MS -> kafka.linger.ms. */
static int set_env_key(sgs_config *cfg, const char *head, const char *part, size_t n, int dots,
                       const char *tail, const char *value, const char *origin, char *errstr,
                       size_t errstr_size)
{
    char key[256];
    size_t h = strlen(head), t = strlen(tail);

    if (h + n + t >= sizeof(key)) {
        snprintf(errstr, errstr_size, "%s: name too long", origin);
        return -1;
    }
    memcpy(key, head, h);
    for (size_t i = 0; i < n; i++)
        key[h + i] = dots && part[i] == '_' ? '.' : (char)tolower((unsigned char)part[i]);
    memcpy(key + h + n, tail, t + 1);
    return sgs_config_set(cfg, key, value, origin, errstr, errstr_size);
}

int sgs_config_apply_env(sgs_config *cfg, char **envp, char *errstr, size_t errstr_size)
{
    if (!envp)
        return 0;
    for (char **e = envp; *e; e++) {
        const char *var = *e, *eq = strchr(var, '=');
        const char *name;
        size_t name_len, i;
        char origin[300];
        int skip = 0;

        if (!eq || strncmp(var, "SGS_", 4) != 0)
            continue;
        for (i = 0; env_not_keys[i]; i++) {
            size_t n = strlen(env_not_keys[i]);
            if ((size_t)(eq - var) == n && strncmp(var, env_not_keys[i], n) == 0)
                skip = 1;
        }
        if (skip)
            continue;
        name = var + 4;
        name_len = (size_t)(eq - name);
        snprintf(origin, sizeof(origin), "environment %.*s", (int)(eq - var), var);
        if (name_len > 6 && strncmp(name, "KAFKA_", 6) == 0) {
            /* librdkafka names are lower case with dots: BOOTSTRAP_SERVERS -> bootstrap.servers */
            if (set_env_key(cfg, "kafka.", name + 6, name_len - 6, 1, "", eq + 1, origin, errstr,
                            errstr_size) != 0)
                return -1;
            continue;
        }
        for (i = 0; i < N_KEYS; i++) {
            if (env_matches(name, name_len, keys[i].key))
                break;
        }
        if (i == N_KEYS && name_len > 11 && strncmp(name, "GROUP_", 6) == 0 &&
            strncmp(name + name_len - 5, "_NAME", 5) == 0) {
            /* group.<id>.name: SGS_GROUP_CITY_NAME -> group.city.name (ids are
             * taken in lower case, '_' kept: SGS_GROUP_DEPT_A_NAME -> dept_a) */
            if (set_env_key(cfg, "group.", name + 6, name_len - 11, 0, ".name", eq + 1, origin,
                            errstr, errstr_size) != 0)
                return -1;
            continue;
        }
        if (i == N_KEYS) {
            snprintf(errstr, errstr_size, "%s: unknown key (no configuration key matches)", origin);
            return -1;
        }
        if (sgs_config_set(cfg, keys[i].key, eq + 1, origin, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

/* The layers in order (the command line wins); a value is checked only when
 * it is the one that wins, so a bad value in a lower layer that a higher one
 * overrides is not an error (unknown keys always are). */
static int load_layers(sgs_config *cfg, const char *file, char **envp, char *const *xs, size_t n_xs,
                       char *errstr, size_t errstr_size)
{
    if (file && sgs_config_load_file(cfg, file, errstr, errstr_size) != 0)
        return -1;
    if (sgs_config_apply_env(cfg, envp, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < n_xs; i++)
        if (sgs_config_set_kv(cfg, xs[i], "-X", errstr, errstr_size) != 0)
            return -1;
    return 0;
}

int sgs_config_load(sgs_config *cfg, const char *file, char **envp, char *const *xs, size_t n_xs,
                    char *errstr, size_t errstr_size)
{
    int rc;
    cfg->deferred = 1;
    rc = load_layers(cfg, file, envp, xs, n_xs, errstr, errstr_size);
    cfg->deferred = 0;
    if (rc != 0)
        return -1;
    for (size_t i = 0; i < N_KEYS; i++)
        if (cfg->origins[i] &&
            check_value(&keys[i], cfg->values[i], cfg->origins[i], errstr, errstr_size) != 0)
            return -1;
    return 0;
}

const char *sgs_config_get(const sgs_config *cfg, const char *key)
{
    size_t idx;
    if (strncmp(key, "kafka.", 6) == 0) {
        for (size_t i = cfg->n_kafka; i-- > 0;)
            if (strcmp(cfg->kafka[i].key, key + 6) == 0)
                return cfg->kafka[i].value;
        return NULL;
    }
    if (!find_key(key, &idx))
        return NULL;
    return cfg->values[idx];
}

long sgs_config_get_int(const sgs_config *cfg, const char *key)
{
    const char *v = sgs_config_get(cfg, key);
    return v ? strtol(v, NULL, 10) : 0;
}

double sgs_config_get_double(const sgs_config *cfg, const char *key)
{
    const char *v = sgs_config_get(cfg, key);
    return v ? strtod(v, NULL) : 0.0;
}

int sgs_config_get_bool(const sgs_config *cfg, const char *key)
{
    const char *v = sgs_config_get(cfg, key);
    int b = 0;
    if (v)
        sgs_config_parse_bool(v, &b);
    return b;
}

size_t sgs_config_kafka_count(const sgs_config *cfg)
{
    return cfg->n_kafka;
}

void sgs_config_kafka_at(const sgs_config *cfg, size_t i, const char **key, const char **value)
{
    *key = cfg->kafka[i].key;
    *value = cfg->kafka[i].value;
}

const char *sgs_config_group_name(const sgs_config *cfg, const char *group_id)
{
    for (size_t i = 0; i < cfg->n_groups; i++)
        if (strcmp(cfg->groups[i].key, group_id) == 0)
            return cfg->groups[i].value;
    return group_id;
}

const char *sgs_config_origin(const sgs_config *cfg, const char *key)
{
    size_t idx;
    const char *gid;
    size_t gid_len;
    if (strncmp(key, "kafka.", 6) == 0) {
        for (size_t i = cfg->n_kafka; i-- > 0;)
            if (strcmp(cfg->kafka[i].key, key + 6) == 0)
                return cfg->kafka[i].origin;
        return NULL;
    }
    if (is_group_name_key(key, &gid, &gid_len)) {
        for (size_t i = 0; i < cfg->n_groups; i++)
            if (strlen(cfg->groups[i].key) == gid_len &&
                memcmp(cfg->groups[i].key, gid, gid_len) == 0)
                return cfg->groups[i].origin;
        return NULL;
    }
    return find_key(key, &idx) ? cfg->origins[idx] : NULL;
}

size_t sgs_config_group_count(const sgs_config *cfg)
{
    return cfg->n_groups;
}

void sgs_config_group_at(const sgs_config *cfg, size_t i, const char **id, const char **name,
                         const char **origin)
{
    *id = cfg->groups[i].key;
    *name = cfg->groups[i].value;
    if (origin)
        *origin = cfg->groups[i].origin;
}

int sgs_config_log_level(const sgs_config *cfg)
{
    const char *v = sgs_config_get(cfg, "log.level");
    int l = v ? parse_level(v) : 1;
    return l < 0 ? 1 : l;
}

size_t sgs_config_key_count(void)
{
    return N_KEYS;
}

const char *sgs_config_key_at(size_t i, const char **def)
{
    if (def)
        *def = keys[i].def;
    return keys[i].key;
}

void sgs_config_print_help(FILE *out)
{
    static const char *const tnames[T_TOPIC + 1] = {
        [T_STRING] = "string", [T_INT] = "int",        [T_DOUBLE] = "number", [T_BOOL] = "bool",
        [T_TZ] = "offset",     [T_LOGLEVEL] = "level", [T_DATE] = "date",     [T_TOPIC] = "topic"};
    fprintf(out, "%-30s %-7s %-26s %s\n", "key", "type", "default", "meaning");
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *d = keys[i].def ? keys[i].def : "(none)";
        fprintf(out, "%-30s %-7s %-26.26s %s\n", keys[i].key, tnames[keys[i].type],
                strlen(d) > 26 ? "(a paragraph)" : d, keys[i].help);
    }
    fprintf(out, "%-30s %-7s %-26s %s\n", "group.<id>.name", "string", "(the id)",
            "display name of a group in reports");
    fprintf(out, "%-30s %-7s %-26s %s\n", "kafka.<property>", "string",
            "bootstrap.servers=127.0.0.1:9092, group.id=sgs",
            "passed to librdkafka without the prefix (see librdkafka CONFIGURATION.md)");
}

/* Configuration: file, environment and -X precedence; errors naming file, line and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgs/buf.h"
#include "sgs/config.h"

static char tmpfile_path[256];

static const char *write_tmp(const char *text)
{
    snprintf(tmpfile_path, sizeof(tmpfile_path), "/tmp/sgs-config-test-%d.conf", (int)getpid());
    FILE *f = fopen(tmpfile_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return tmpfile_path;
}

static void test_defaults(void **state)
{
    (void)state;
    sgs_config *cfg = sgs_config_new();
    assert_string_equal(sgs_config_get(cfg, "topic.records"), "sgs.records");
    assert_int_equal(sgs_config_get_int(cfg, "redis.port"), 6379);
    assert_null(sgs_config_get(cfg, "redis.password"));
    assert_string_equal(sgs_config_get(cfg, "kafka.bootstrap.servers"), "127.0.0.1:9092");
    assert_string_equal(sgs_config_get(cfg, "kafka.group.id"), "sgs");
    assert_true(sgs_config_get_double(cfg, "alert.late_rate_threshold") == 10.0);
    assert_int_equal(sgs_config_get_bool(cfg, "deadline.count_decision_day"), 0);
    assert_string_equal(sgs_config_group_name(cfg, "city"), "city");
    sgs_config_destroy(cfg);
}

static void test_file_env_x_precedence(void **state)
{
    (void)state;
    char err[512];
    const char *path = write_tmp("# comment\n"
                                 "redis.port = 7000\n"
                                 "  redis.host=10.0.0.1  \n"
                                 "\n"
                                 "kafka.linger.ms = 7\n"
                                 "group.city.name = 市直单位\n"
                                 "report.low_volume = 5 \r\n");
    char *env[] = {"PATH=/bin", "SGS_REDIS_HOST=envhost", "SGS_KAFKA_BOOTSTRAP_SERVERS=b:1",
                   "SGS_BUILD_DIR=/x", NULL};
    char *xs[] = {"redis.host=xhost", "kafka.linger.ms=9"};
    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_load(cfg, path, env, xs, 2, err, sizeof(err)), 0);
    assert_int_equal(sgs_config_get_int(cfg, "redis.port"), 7000);
    assert_string_equal(sgs_config_get(cfg, "redis.host"), "xhost");
    assert_string_equal(sgs_config_get(cfg, "kafka.bootstrap.servers"), "b:1");
    assert_string_equal(sgs_config_get(cfg, "kafka.linger.ms"), "9");
    assert_int_equal(sgs_config_get_int(cfg, "report.low_volume"), 5);
    assert_string_equal(sgs_config_group_name(cfg, "city"), "市直单位");
    /* kafka list keeps one entry per key */
    size_t n = sgs_config_kafka_count(cfg), linger = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        sgs_config_kafka_at(cfg, i, &k, &v);
        if (strcmp(k, "linger.ms") == 0)
            linger++;
    }
    assert_int_equal(linger, 1);
    sgs_config_destroy(cfg);
    unlink(path);
}

/* REFERENCE §6, "the command line wins": a bad value in a lower layer that a
 * higher one overrides is no error; the value that wins is checked, and its
 * error names where it came from. */
static void test_only_the_winning_value_is_checked(void **state)
{
    (void)state;
    char err[512];
    const char *path = write_tmp("redis.port = seven\n"
                                 "consumer.day_retention_days = 2\n");
    char *env[] = {"SGS_REDIS_PORT=abc", "SGS_CONSUMER_DAY_RETENTION_DAYS=45", NULL};
    char *xs[] = {"redis.port=6380"};
    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_load(cfg, path, env, xs, 1, err, sizeof(err)), 0);
    assert_int_equal(sgs_config_get_int(cfg, "redis.port"), 6380);
    assert_int_equal(sgs_config_get_int(cfg, "consumer.day_retention_days"), 45);
    sgs_config_destroy(cfg);
    /* without the command line the environment's bad value wins: refused */
    cfg = sgs_config_new();
    assert_int_equal(sgs_config_load(cfg, path, env, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "environment SGS_REDIS_PORT"));
    sgs_config_destroy(cfg);
    /* and without either, the file's, named by file and line */
    cfg = sgs_config_new();
    assert_int_equal(sgs_config_load(cfg, path, NULL, NULL, 0, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1"));
    assert_non_null(strstr(err, "seven"));
    sgs_config_destroy(cfg);
    /* an unknown key is an error even when nothing else is wrong */
    cfg = sgs_config_new();
    char *bad_env[] = {"SGS_REDIS_PORTT=1", NULL};
    assert_int_equal(sgs_config_load(cfg, NULL, bad_env, xs, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "SGS_REDIS_PORTT"));
    sgs_config_destroy(cfg);
    unlink(path);
}

/* REFERENCE §6: '#' starts a comment, also after a value; SGS_ + any key in the
 * environment, group names included. */
static void test_comments_and_group_env(void **state)
{
    (void)state;
    char err[512];
    const char *path = write_tmp("redis.port = 7001   # the local one\n"
                                 "redis.password = a#b\n"
                                 "redis.host = h\t# tab, then a comment = 1\n"
                                 "group.city.name = 市直单位 # shown in reports\n");
    char *env[] = {"SGS_GROUP_COUNTY_NAME=县区", "SGS_GROUP_DEPT_A_NAME=部门", NULL};
    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_load(cfg, path, env, NULL, 0, err, sizeof(err)), 0);
    assert_int_equal(sgs_config_get_int(cfg, "redis.port"), 7001);
    assert_string_equal(sgs_config_get(cfg, "redis.password"), "a#b");
    assert_string_equal(sgs_config_get(cfg, "redis.host"), "h");
    assert_string_equal(sgs_config_group_name(cfg, "city"), "市直单位");
    assert_string_equal(sgs_config_group_name(cfg, "county"), "县区");
    assert_string_equal(sgs_config_group_name(cfg, "dept_a"), "部门");
    sgs_config_destroy(cfg);
    unlink(path);
}

static void test_unknown_key_names_file_and_line(void **state)
{
    (void)state;
    char err[512], want[600];
    const char *path = write_tmp("redis.port = 1\n# x\nredis.hots = a\n");
    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3: unknown key 'redis.hots'", path);
    assert_string_equal(err, want);
    sgs_config_destroy(cfg);
    unlink(path);
}

static void test_bad_values(void **state)
{
    (void)state;
    char err[512], want[600];
    sgs_config *cfg = sgs_config_new();
    const char *path = write_tmp("redis.port = 70000\n");
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:1: key 'redis.port': expected an integer 1..65535, got '70000'", path);
    assert_string_equal(err, want);
    path = write_tmp("timezone.offset = Beijing\n");
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: key 'timezone.offset'"));
    path = write_tmp("# input\ntopic.records = sgs records\n");
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "%s:2: key 'topic.records': expected a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ "
             "-), got 'sgs records'",
             path);
    assert_string_equal(err, want);
    assert_int_equal(sgs_config_set_kv(cfg, "topic.alerts=a\"b", "-X", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "-X: key 'topic.alerts': expected a Kafka topic name"));
    assert_int_equal(sgs_config_set_kv(cfg, "topic.rejects=..", "-X", err, sizeof(err)), -1);
    assert_int_equal(sgs_config_set_kv(cfg, "topic.snapshots=", "-X", err, sizeof(err)), -1);
    {
        char name[300];
        memset(name, 'x', sizeof(name));
        memcpy(name, "topic.records=", 14);
        name[14 + 249] = '\0';
        assert_int_equal(sgs_config_set_kv(cfg, name, "-X", err, sizeof(err)), 0);
        name[14 + 249] = 'x';
        name[14 + 250] = '\0';
        assert_int_equal(sgs_config_set_kv(cfg, name, "-X", err, sizeof(err)), -1);
    }
    assert_int_equal(
        sgs_config_set_kv(cfg, "topic.records=City-2.records_v1", "-X", err, sizeof(err)), 0);
    path = write_tmp("just words\n");
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: expected 'key = value'"));
    assert_int_equal(
        sgs_config_set_kv(cfg, "alert.late_rate_threshold=abc", "-X", err, sizeof(err)), -1);
    assert_string_equal(err, "-X: key 'alert.late_rate_threshold': expected a number 0..100, got "
                             "'abc'");
    assert_int_equal(sgs_config_set_kv(cfg, "novalue", "-X", err, sizeof(err)), -1);
    assert_string_equal(err, "-X: expected key=value, got 'novalue'");
    char *env[] = {"SGS_NO_SUCH_KEY=1", NULL};
    assert_int_equal(sgs_config_apply_env(cfg, env, err, sizeof(err)), -1);
    assert_string_equal(err, "environment SGS_NO_SUCH_KEY: unknown key (no configuration key "
                             "matches)");
    assert_int_equal(sgs_config_load_file(cfg, "/nonexistent/x.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x.conf: cannot open"));
    sgs_config_destroy(cfg);
    unlink(tmpfile_path);
}

/* The shipped configs/sgs.conf loads and documents every key with its default. */
static void test_shipped_conf_documents_every_key(void **state)
{
    (void)state;
    char err[512], path[512];
    const char *dir = getenv("SGS_CONFIGS");
    assert_non_null(dir);
    snprintf(path, sizeof(path), "%s/sgs.conf", dir);
    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_load_file(cfg, path, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    sgs_buf text = SGS_BUF_INIT;
    while (fgets(line, sizeof(line), f))
        sgs_buf_puts(&text, line);
    fclose(f);
    for (size_t i = 0; i < sgs_config_key_count(); i++) {
        const char *def;
        const char *key = sgs_config_key_at(i, &def);
        char needle[300];
        snprintf(needle, sizeof(needle), "\n%s = ", key);
        char commented[300];
        snprintf(commented, sizeof(commented), "\n# %s =", key);
        if (!strstr(text.data, needle) && !strstr(text.data, commented))
            fail_msg("configs/sgs.conf does not document key '%s'", key);
        /* values set in the shipped file are the defaults */
        if (def && strstr(text.data, needle) && strcmp(key, "groups") != 0)
            assert_string_equal(sgs_config_get(cfg, key), def);
    }
    sgs_buf_free(&text);
    sgs_config_destroy(cfg);
}

/* yes/no texts: the spellings boolean keys and yes/no arguments take. */
static void test_parse_bool(void **state)
{
    (void)state;
    static const char *const yes[] = {"1", "true", "TRUE", "yes", "On"};
    static const char *const no[] = {"0", "false", "No", "off", "OFF"};
    static const char *const neither[] = {"", "2", "y", "truee", " 1", "1 ", "nope"};
    int b;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = -1;
        assert_int_equal(sgs_config_parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = -1;
        assert_int_equal(sgs_config_parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    for (size_t i = 0; i < sizeof(neither) / sizeof(neither[0]); i++) {
        b = 7;
        assert_int_equal(sgs_config_parse_bool(neither[i], &b), -1);
        assert_int_equal(b, 7); /* untouched */
    }
}

/* -X list: every key with one of the type names (a new type needs its name). */
static void test_print_help_names_every_type(void **state)
{
    (void)state;
    char buf[65536];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    sgs_config_print_help(f);
    assert_int_equal(fclose(f), 0);
    size_t n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), n++) {
        char key[64], type[16];
        assert_int_equal(sscanf(line, "%63s %15s", key, type), 2);
        if (n == 0)
            continue;
        if (strcmp(type, "string") && strcmp(type, "int") && strcmp(type, "number") &&
            strcmp(type, "bool") && strcmp(type, "offset") && strcmp(type, "level") &&
            strcmp(type, "date") && strcmp(type, "topic"))
            fail_msg("%s: type '%s'", key, type);
        if (strcmp(key, "topic.records") == 0)
            assert_string_equal(type, "topic");
    }
    assert_true(n > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_env_x_precedence),
        cmocka_unit_test(test_only_the_winning_value_is_checked),
        cmocka_unit_test(test_comments_and_group_env),
        cmocka_unit_test(test_unknown_key_names_file_and_line),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_shipped_conf_documents_every_key),
        cmocka_unit_test(test_print_help_names_every_type),
        cmocka_unit_test(test_parse_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target: the configuration loaders. The input is a config file:
 *
 *   1. sgs_config_load_file on it (written to one memory file, reused);
 *   2. sgs_config_set_kv on each line, as -X would get it;
 *   3. sgs_config_apply_env on the lines that start with "SGS_".
 *
 * Invariants: errors are one line naming where they came from; every getter
 * works afterwards; a value that was accepted reads back unchanged. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "sgs/config.h"

static int mem_fd = -1;
static char mem_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    mem_fd = memfd_create("sgs-fuzz-config", 0);
    if (mem_fd < 0) {
        perror("fuzz_config: memfd_create");
        exit(2);
    }
    snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
    return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
    size_t done = 0;

    FUZZ_CHECK(ftruncate(mem_fd, 0) == 0);
    while (done < size) {
        ssize_t n = pwrite(mem_fd, data + done, size - done, (off_t)done);

        FUZZ_CHECK(n > 0);
        done += (size_t)n;
    }
}

/* An error message: set, one line, starting with where it came from. */
static void check_error(const char *err, size_t cap, const char *origin)
{
    FUZZ_CHECK(fuzz_terminated(err, cap));
    FUZZ_CHECK(err[0] != '\0');
    FUZZ_CHECK(strchr(err, '\n') == NULL);
    FUZZ_CHECK(strncmp(err, origin, strlen(origin)) == 0);
}

/* Every getter on every key, whatever state the config is in. */
static void read_everything(const sgs_config *cfg)
{
    const char *key, *value, *def;
    int level = sgs_config_log_level(cfg);

    FUZZ_CHECK(level >= 0 && level <= 3);
    for (size_t i = 0; i < sgs_config_key_count(); i++) {
        key = sgs_config_key_at(i, &def);
        FUZZ_CHECK(key != NULL && key[0] != '\0');
        value = sgs_config_get(cfg, key);
        if (value != NULL)
            FUZZ_CHECK(strlen(value) < (size_t)-1);
        (void)sgs_config_get_int(cfg, key);
        (void)sgs_config_get_double(cfg, key);
        (void)sgs_config_get_bool(cfg, key);
    }
    for (size_t i = 0; i < sgs_config_kafka_count(cfg); i++) {
        char name[300];

        sgs_config_kafka_at(cfg, i, &key, &value);
        FUZZ_CHECK(key != NULL && value != NULL);
        /* Later entries override earlier ones: the key reads back some value. */
        snprintf(name, sizeof(name), "kafka.%s", key);
        if (strlen(key) < 200)
            FUZZ_CHECK(sgs_config_get(cfg, name) != NULL);
    }
    FUZZ_CHECK(sgs_config_group_name(cfg, "city") != NULL);
}

/* group.<id>.name with an id of one or more characters without dots or spaces. */
static int group_key(const char *key, char *id, size_t cap)
{
    size_t n = strlen(key);

    if (n <= 11 || strncmp(key, "group.", 6) != 0 || strcmp(key + n - 5, ".name") != 0)
        return 0;
    if (n - 11 >= cap)
        return 0;
    memcpy(id, key + 6, n - 11);
    id[n - 11] = '\0';
    for (const char *p = id; *p; p++)
        if (*p == '.' || *p == ' ' || (*p >= '\t' && *p <= '\r'))
            return 0;
    return 1;
}

/* After a successful -X key=value, the value reads back as given. */
static void check_set(const sgs_config *cfg, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[256], id[256];
    size_t n;

    FUZZ_CHECK(eq != NULL && eq != kv);
    n = (size_t)(eq - kv);
    FUZZ_CHECK(n < sizeof(key));
    memcpy(key, kv, n);
    key[n] = '\0';
    if (strncmp(key, "kafka.", 6) == 0) {
        const char *v = sgs_config_get(cfg, key);

        FUZZ_CHECK(v != NULL && strcmp(v, eq + 1) == 0);
    } else if (group_key(key, id, sizeof(id))) {
        FUZZ_CHECK(strcmp(sgs_config_group_name(cfg, id), eq + 1) == 0);
    } else {
        const char *v = sgs_config_get(cfg, key);

        FUZZ_CHECK(v != NULL && strcmp(v, eq + 1) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    sgs_config *cfg;
    char *text, *line, *next;
    char **envp;
    size_t n_env = 0, n_lines = 1;
    int rc;

    /* 1. The file loader. */
    write_file(data, size);
    cfg = sgs_config_new();
    FUZZ_CHECK(cfg != NULL);
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    rc = sgs_config_load_file(cfg, mem_path, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0)
        check_error(err, sizeof(err), mem_path);
    read_everything(cfg);
    sgs_config_destroy(cfg);

    /* 2. Each line as -X key=value (the line as is: no trimming). */
    text = fuzz_strndup(data, size);
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n_lines++;
    envp = calloc(n_lines + 1, sizeof(*envp));
    FUZZ_CHECK(envp != NULL);
    cfg = sgs_config_new();
    FUZZ_CHECK(cfg != NULL);
    for (line = text; line != NULL; line = next) {
        /* Lines end at '\n' (a NUL inside cuts the C string, not the loop). */
        next = memchr(line, '\n', (size_t)(text + size - line));
        if (next != NULL)
            *next++ = '\0';
        if (strncmp(line, "SGS_", 4) == 0 && n_env < n_lines)
            envp[n_env++] = line;
        rc = sgs_config_set_kv(cfg, line, "-X", err, sizeof(err));
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == 0)
            check_set(cfg, line);
        else
            check_error(err, sizeof(err), "-X");
    }
    read_everything(cfg);
    sgs_config_destroy(cfg);

    /* 3. The SGS_* lines as the environment. */
    envp[n_env] = NULL;
    cfg = sgs_config_new();
    FUZZ_CHECK(cfg != NULL);
    rc = sgs_config_apply_env(cfg, envp, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0)
        check_error(err, sizeof(err), "environment ");
    read_everything(cfg);
    sgs_config_destroy(cfg);

    free(envp);
    free(text);
    return 0;
}

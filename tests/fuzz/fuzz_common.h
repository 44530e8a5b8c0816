/* Shared by the libFuzzer targets tests/fuzz/fuzz_*.c (built with -DSGS_FUZZ=ON,
 * run by scripts/fuzz.sh): the invariant check that aborts, UTF-8 helpers, and
 * a small registry and calendar loaded once.
 *
 * The registry and calendar are built in (a few units of configs/units.tsv with
 * the same ids, the 2023-2024 part of configs/calendar-cn.json), so the targets
 * do not depend on the shipped files changing. SGS_FUZZ_CONFIGS=<dir> loads
 * <dir>/units.tsv and <dir>/calendar-cn.json instead. */
#ifndef SGS_FUZZ_COMMON_H
#define SGS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/log.h"
#include "sgs/registry.h"

/* A broken invariant is a crash: libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char fuzz_units_tsv[] =
    "# fuzz registry: a few units of configs/units.tsv (same ids)\n"
    "unit_id\tname\tgroup\taliases\n"
    "11410400MB0000001P\t市市场监管局\tcity\t市市场监督管理局,平顶山市市场监管局,"
    "平顶山市市场监督管理局\n"
    "11410400MB0000002T\t市公安局\tcity\t平顶山市公安局\n"
    "11410400MB0000003X\t市交通局\tcity\t市交通运输局，平顶山市交通局\n"
    "410423\t鲁山县\tcounty\t平顶山市鲁山县, 11410423MB1234567Q\n"
    "410482\t汝州市\tcounty\t平顶山市汝州市\n"
    "410400-GXQ\t高新技术产业开发区\tcounty\t平顶山市高新技术产业开发区,高新区,平顶山高新区\n";

static const char fuzz_calendar_json[] =
    "{\"name\": \"fuzz (cn 2023-2024)\", \"years\": [2023, 2024], \"holidays\": ["
    "\"2023-01-01\",\"2023-01-02\",\"2023-01-21\",\"2023-01-22\",\"2023-01-23\",\"2023-01-24\","
    "\"2023-01-25\",\"2023-01-26\",\"2023-01-27\",\"2023-04-05\",\"2023-04-29\",\"2023-04-30\","
    "\"2023-05-01\",\"2023-05-02\",\"2023-05-03\",\"2023-06-22\",\"2023-06-23\",\"2023-06-24\","
    "\"2023-09-29\",\"2023-09-30\",\"2023-10-01\",\"2023-10-02\",\"2023-10-03\",\"2023-10-04\","
    "\"2023-10-05\",\"2023-10-06\",\"2024-01-01\",\"2024-02-10\",\"2024-02-11\",\"2024-02-12\","
    "\"2024-02-13\",\"2024-02-14\",\"2024-02-15\",\"2024-02-16\",\"2024-02-17\",\"2024-04-04\","
    "\"2024-04-05\",\"2024-04-06\",\"2024-05-01\",\"2024-05-02\",\"2024-05-03\",\"2024-05-04\","
    "\"2024-05-05\",\"2024-06-10\",\"2024-09-15\",\"2024-09-16\",\"2024-09-17\",\"2024-10-01\","
    "\"2024-10-02\",\"2024-10-03\",\"2024-10-04\",\"2024-10-05\",\"2024-10-06\",\"2024-10-07\"],"
    " \"workdays\": [\"2023-01-28\",\"2023-01-29\",\"2023-04-23\",\"2023-05-06\",\"2023-06-25\","
    "\"2023-10-07\",\"2023-10-08\",\"2024-02-04\",\"2024-02-18\",\"2024-04-07\",\"2024-04-28\","
    "\"2024-05-11\",\"2024-09-14\",\"2024-09-29\",\"2024-10-12\"]}";

/* Quiet logs: warnings (calendar fallbacks, ...) would flood the fuzzer's output. */
static inline void fuzz_quiet(void)
{
    if (getenv("SGS_FUZZ_LOG") == NULL)
        sgs_log_set_level(SGS_LOG_ERROR);
}

/* The registry (and calendar when cal != NULL) of the targets; exits on failure. */
static inline void fuzz_load_configs(sgs_registry **reg, sgs_calendar **cal)
{
    const char *dir = getenv("SGS_FUZZ_CONFIGS");
    char err[512], path[4096];

    if (dir != NULL && dir[0] != '\0') {
        snprintf(path, sizeof(path), "%s/units.tsv", dir);
        *reg = sgs_registry_load(path, err, sizeof(err));
    } else {
        *reg = sgs_registry_load_buffer("fuzz-units.tsv", fuzz_units_tsv,
                                        sizeof(fuzz_units_tsv) - 1, err, sizeof(err));
    }
    if (*reg == NULL) {
        fprintf(stderr, "fuzz: registry: %s\n", err);
        exit(2);
    }
    if (cal == NULL)
        return;
    if (dir != NULL && dir[0] != '\0') {
        snprintf(path, sizeof(path), "%s/calendar-cn.json", dir);
        *cal = sgs_calendar_load(path, err, sizeof(err));
    } else {
        *cal = sgs_calendar_load_buffer("fuzz-calendar.json", fuzz_calendar_json,
                                        sizeof(fuzz_calendar_json) - 1, err, sizeof(err));
    }
    if (*cal == NULL) {
        fprintf(stderr, "fuzz: calendar: %s\n", err);
        exit(2);
    }
}

/* 1 if a NUL lies within the cap bytes of s. */
static inline int fuzz_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* A NUL-terminated, valid UTF-8 string inside its array. */
static inline int fuzz_text_ok(const char *s, size_t cap)
{
    return fuzz_terminated(s, cap) && sgs_utf8_valid(s, strlen(s));
}

/* Code points of valid UTF-8 text (continuation bytes are not counted). */
static inline size_t fuzz_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* FNV-1a of the input: derives extra parameters (dates, timestamps) from it, so
 * that a saved input reproduces exactly. */
/* Whether key is the unit's id, name or one of its aliases. */
static inline int fuzz_unit_has_key(const sgs_unit *u, const char *key, size_t len)
{
    if ((strlen(u->id) == len && memcmp(u->id, key, len) == 0) ||
        (strlen(u->name) == len && memcmp(u->name, key, len) == 0))
        return 1;
    for (size_t i = 0; i < u->n_aliases; i++)
        if (strlen(u->aliases[i]) == len && memcmp(u->aliases[i], key, len) == 0)
            return 1;
    return 0;
}

static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < size; i++) {
        h ^= data[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* A NUL-terminated copy (NUL bytes in the input stay and cut the C string). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif

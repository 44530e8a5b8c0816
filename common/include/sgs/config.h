/* Configuration (REFERENCE §6): defaults < file (-c) < environment (SGS_*) < -X.
 * Every key is declared once in the table in config.c (type, default, help);
 * unknown keys are errors, except kafka.* (kept in order, passed to librdkafka)
 * and group.<id>.name. */
#ifndef SGS_CONFIG_H
#define SGS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct sgs_config sgs_config;

/* A config holding the defaults. NULL only on allocation failure. */
sgs_config *sgs_config_new(void);
void sgs_config_destroy(sgs_config *cfg); /* NULL ok */

/* Reads a key = value file. Errors: "FILE:LINE: unknown key 'x'", "FILE:LINE:
 * key 'redis.port': expected an integer 1..65535, got 'abc'", "FILE: cannot open: ...". */
int sgs_config_load_file(sgs_config *cfg, const char *path, char *errstr, size_t errstr_size);
/* Applies SGS_* variables of envp (NULL-terminated "NAME=value" strings). SGS_ +
 * key upper-cased with '.' as '_'; for kafka.* keys: SGS_KAFKA_ + librdkafka key
 * upper-cased with '.' as '_' (SGS_KAFKA_BOOTSTRAP_SERVERS). Variables that name
 * no key are errors ("environment: SGS_FOO: unknown key"), except the names in
 * the table of variables the tools themselves read (SGS_BUILD_DIR, ...). */
int sgs_config_apply_env(sgs_config *cfg, char **envp, char *errstr, size_t errstr_size);
/* Sets one key; origin names where it came from in messages ("-X", "FILE:LINE"). */
int sgs_config_set(sgs_config *cfg, const char *key, const char *value, const char *origin,
                   char *errstr, size_t errstr_size);
/* "key=value" form of -X. */
int sgs_config_set_kv(sgs_config *cfg, const char *kv, const char *origin, char *errstr,
                      size_t errstr_size);
/* The usual order: file (may be NULL), then envp (may be NULL), then each -X. */
int sgs_config_load(sgs_config *cfg, const char *file, char **envp, char *const *xs, size_t n_xs,
                    char *errstr, size_t errstr_size);

const char *sgs_config_get(const sgs_config *cfg, const char *key); /* NULL: unset/unknown */
long sgs_config_get_int(const sgs_config *cfg, const char *key);
double sgs_config_get_double(const sgs_config *cfg, const char *key);
int sgs_config_get_bool(const sgs_config *cfg, const char *key);
/* A yes/no text as boolean keys take it (true/yes/on/1, false/no/off/0, any
 * case; also for yes/no arguments elsewhere): 0 with *out, -1 when neither. */
int sgs_config_parse_bool(const char *v, int *out);

/* kafka.* entries in the order they were set (later ones override earlier ones). */
size_t sgs_config_kafka_count(const sgs_config *cfg);
void sgs_config_kafka_at(const sgs_config *cfg, size_t i, const char **key, const char **value);

/* Display name of a group: group.<id>.name, or the id itself. */
const char *sgs_config_group_name(const sgs_config *cfg, const char *group_id);

/* Where a key's value was set: "FILE:LINE", "-X" or "environment SGS_..."; NULL
 * while it has its default. Also for kafka.<property> and group.<id>.name. */
const char *sgs_config_origin(const sgs_config *cfg, const char *key);
/* The group.<id>.name entries in the order they were first set: id, display
 * name and where it was set (origin may be NULL). */
size_t sgs_config_group_count(const sgs_config *cfg);
void sgs_config_group_at(const sgs_config *cfg, size_t i, const char **id, const char **name,
                         const char **origin);

/* log.level as enum sgs_log_level (0 debug .. 3 error). */
int sgs_config_log_level(const sgs_config *cfg);
/* The key table, for documentation checks: count, and key i with its default. */
size_t sgs_config_key_count(void);
const char *sgs_config_key_at(size_t i, const char **def);

/* Prints every key with type, default and help (for -X list). */
void sgs_config_print_help(FILE *out);

#endif

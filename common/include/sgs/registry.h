/* Unit registry (REFERENCE §6): TSV with header "unit_id	name	group	aliases".
 * Every id, name and alias is unique across the whole file (an alias may not
 * equal another unit's id or name either). Read-only after load: shareable. */
#ifndef SGS_REGISTRY_H
#define SGS_REGISTRY_H

#include <stddef.h>

typedef struct sgs_unit {
    const char *id;
    const char *name;
    const char *group;
    const char *const *aliases; /* n_aliases entries */
    size_t n_aliases;
    size_t index; /* position in file order, 0-based */
    int line;     /* line number in the file */
} sgs_unit;

typedef struct sgs_registry sgs_registry;

/* Loads the TSV (UTF-8, a leading BOM is skipped, LF or CRLF line ends). Lines
 * starting with '#' and blank lines are skipped; the first other line is the
 * header, exactly the columns unit_id, name, group and optionally aliases. Fields
 * are trimmed of spaces (also U+3000). Aliases are separated by ',' or '，';
 * empty pieces are skipped. id, name and group must not be empty. Ids may not
 * contain '|' or white space (they are part of Redis field names); groups are
 * ASCII letters, digits, '_' and '-' (they appear in config keys and file names).
 * Errors are one line naming file and line: "units.tsv:7: unit id '410423'
 * already used at line 5", "units.tsv:9: alias '市交通局' already used at line 4",
 * "units.tsv:3: expected 3 or 4 tab-separated columns, got 2",
 * "units.tsv:6: column 2 (name) is empty". A file without units is an error.
 * The result is freed with sgs_registry_destroy. */
sgs_registry *sgs_registry_load(const char *path, char *errstr, size_t errstr_size);
sgs_registry *sgs_registry_load_buffer(const char *name, const char *tsv, size_t len, char *errstr,
                                       size_t errstr_size);
void sgs_registry_destroy(sgs_registry *reg); /* NULL ok */

size_t sgs_registry_count(const sgs_registry *reg);
/* The unit at index (file order), NULL when index >= count. */
const sgs_unit *sgs_registry_at(const sgs_registry *reg, size_t index);
/* Exact id lookup (also matches an alias that is an id-like code, e.g. a
 * county department's credit code listed as an alias: an alias of printable
 * ASCII without spaces or '|'). Keys are compared byte for byte over len bytes.
 * NULL when unknown. */
const sgs_unit *sgs_registry_find_id(const sgs_registry *reg, const char *id, size_t len);
/* Lookup by id, name or alias (spot-check files, national-format unit names). */
const sgs_unit *sgs_registry_find(const sgs_registry *reg, const char *key, size_t len);
/* Groups in order of first appearance. */
size_t sgs_registry_group_count(const sgs_registry *reg);
const char *sgs_registry_group_at(const sgs_registry *reg, size_t index); /* NULL past the end */

#endif

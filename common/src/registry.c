/* Unit registry. See sgs/registry.h.
 *
 * The whole file is copied once and split in place: every string a unit points
 * to lives in that one buffer. One open-addressing hash table holds every id,
 * name and alias, which both answers lookups and finds duplicates while
 * loading. */
#include "sgs/registry.h"

#include "sgs/buf.h"
#include "sgs/hash.h"
#include "sgs/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (64 * 1024 * 1024)

enum key_kind { KEY_ID = 0, KEY_NAME = 1, KEY_ALIAS = 2 };

struct entry {
    const char *key; /* NULL: free slot */
    size_t len;
    size_t unit;
    unsigned char kind;    /* enum key_kind */
    unsigned char id_like; /* 1 when sgs_registry_find_id may return it */
};

struct sgs_registry {
    char *text; /* copy of the file; all strings point into it */
    sgs_unit *units;
    size_t n_units, cap_units;
    const char **aliases; /* all aliases in file order; units point into it */
    size_t n_aliases, cap_aliases;
    const char **groups;
    size_t n_groups, cap_groups;
    struct entry *table;
    size_t table_cap; /* power of two */
    size_t table_used;
};

static const char *const kind_word[3] = {"unit id", "name", "alias"};
static const char *const column_name[4] = {"unit_id", "name", "group", "aliases"};

static const struct entry *table_get(const sgs_registry *reg, const char *key, size_t len)
{
    if (reg->table_cap == 0) {
        return NULL;
    }
    size_t mask = reg->table_cap - 1;
    for (size_t i = (size_t)sgs_hash_fnv1a(key, len) & mask;; i = (i + 1) & mask) {
        const struct entry *e = &reg->table[i];
        if (e->key == NULL) {
            return NULL;
        }
        if (e->len == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
}

static void table_put_slot(struct entry *table, size_t cap, const struct entry *e)
{
    size_t mask = cap - 1;
    size_t i = (size_t)sgs_hash_fnv1a(e->key, e->len) & mask;
    while (table[i].key != NULL) {
        i = (i + 1) & mask;
    }
    table[i] = *e;
}

/* Adds a key that table_get has shown to be absent; keeps the load under 1/2.
 */
static int table_add(sgs_registry *reg, const struct entry *e)
{
    if ((reg->table_used + 1) * 2 > reg->table_cap) {
        size_t ncap = reg->table_cap ? reg->table_cap * 2 : 256;
        struct entry *nt = calloc(ncap, sizeof(*nt));
        if (nt == NULL) {
            return -1;
        }
        for (size_t i = 0; i < reg->table_cap; i++) {
            if (reg->table[i].key != NULL) {
                table_put_slot(nt, ncap, &reg->table[i]);
            }
        }
        free(reg->table);
        reg->table = nt;
        reg->table_cap = ncap;
    }
    table_put_slot(reg->table, reg->table_cap, e);
    reg->table_used++;
    return 0;
}

/* U+3000 IDEOGRAPHIC SPACE, common in hand-typed Chinese tables. */
static int is_ideographic_space(const char *s, const char *end)
{
    return end - s >= 3 && (unsigned char)s[0] == 0xE3 && (unsigned char)s[1] == 0x80 &&
           (unsigned char)s[2] == 0x80;
}

/* Trims ASCII blanks and U+3000 around [s, end); NUL-terminates the result. */
static char *trim(char *s, char *end)
{
    for (;;) {
        if (s < end && (*s == ' ' || *s == '\t')) {
            s++;
        } else if (is_ideographic_space(s, end)) {
            s += 3;
        } else {
            break;
        }
    }
    for (;;) {
        if (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        } else if (end - s >= 3 && is_ideographic_space(end - 3, end)) {
            end -= 3;
        } else {
            break;
        }
    }
    *end = '\0';
    return s;
}

/* Ids become parts of Redis field names joined with '|'. */
static int id_ok(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '|' || *p == ' ' || *p == '\t' || is_ideographic_space(p, p + 3) ||
            ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0)) {
            return 0;
        }
    }
    return 1;
}

/* An alias that could be an id (printable ASCII, id rules) is also found by
 * sgs_registry_find_id: e.g. a county department's credit code. */
static int id_like(const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F || *p == '|') {
            return 0;
        }
    }
    return *s != '\0';
}

/* Group ids appear in configuration keys (group.<id>.name) and report file
 * names, so they are kept to a safe alphabet. */
static int group_ok(const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Registers one key of unit u (defined at line); reports a duplicate. */
static int add_key(sgs_registry *reg, const char *name, int line, size_t u, const char *key,
                   enum key_kind kind, char *errstr, size_t errstr_size)
{
    size_t len = strlen(key);
    const struct entry *old = table_get(reg, key, len);
    if (old != NULL) {
        sgs_set_error(errstr, errstr_size, "%s:%d: %s '%s' already used at line %d", name, line,
                      kind_word[kind], key, reg->units[old->unit].line);
        return -1;
    }
    struct entry e = {key, len, u, (unsigned char)kind, 0};
    e.id_like = kind == KEY_ID || (kind == KEY_ALIAS && id_like(key));
    if (table_add(reg, &e) != 0) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

/* Splits aliases on ',' and '，' (U+FF0C); empty pieces are skipped. */
static int add_aliases(sgs_registry *reg, const char *name, int line, size_t u, char *field,
                       char *errstr, size_t errstr_size)
{
    sgs_unit *unit = &reg->units[u];
    char *p = field;
    for (;;) {
        char *q = p;
        size_t sep = 0;
        while (*q) {
            if (*q == ',') {
                sep = 1;
                break;
            }
            if ((unsigned char)q[0] == 0xEF && (unsigned char)q[1] == 0xBC &&
                (unsigned char)q[2] == 0x8C) {
                sep = 3;
                break;
            }
            q++;
        }
        char *piece = trim(p, q); /* writes NUL at or before q */
        if (*piece != '\0') {
            if (add_key(reg, name, line, u, piece, KEY_ALIAS, errstr, errstr_size) != 0) {
                return -1;
            }
            if (sgs_array_grow((void **)&reg->aliases, &reg->cap_aliases, reg->n_aliases,
                               sizeof(*reg->aliases), 16) != 0) {
                sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
                return -1;
            }
            reg->aliases[reg->n_aliases++] = piece;
            unit->n_aliases++;
        }
        if (sep == 0) {
            return 0;
        }
        p = q + sep;
    }
}

static int add_group(sgs_registry *reg, const char *group)
{
    for (size_t i = 0; i < reg->n_groups; i++) {
        if (strcmp(reg->groups[i], group) == 0) {
            return 0;
        }
    }
    if (sgs_array_grow((void **)&reg->groups, &reg->cap_groups, reg->n_groups, sizeof(*reg->groups),
                       16) != 0) {
        return -1;
    }
    reg->groups[reg->n_groups++] = group;
    return 0;
}

/* Checks the header columns; *ncols becomes 3 or 4. */
static int check_header(const char *name, int line, char **cols, size_t n, size_t *ncols,
                        char *errstr, size_t errstr_size)
{
    if (n < 3 || n > 4) {
        sgs_set_error(errstr, errstr_size,
                      "%s:%d: header has %zu tab-separated columns, expected "
                      "unit_id, name, group and optionally aliases",
                      name, line, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i], column_name[i]) != 0) {
            sgs_set_error(errstr, errstr_size, "%s:%d: header column %zu is '%.40s', expected '%s'",
                          name, line, i + 1, cols[i], column_name[i]);
            return -1;
        }
    }
    *ncols = n;
    return 0;
}

static int parse_row(sgs_registry *reg, const char *name, int line, char **cols, size_t n,
                     size_t header_cols, char *errstr, size_t errstr_size)
{
    if (n < 3 || n > header_cols) {
        sgs_set_error(errstr, errstr_size, "%s:%d: expected %s tab-separated columns, got %zu",
                      name, line, header_cols == 4 ? "3 or 4" : "3", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        for (const char *p = cols[i]; *p; p++) {
            if (sgs_is_ctrl((unsigned char)*p)) {
                sgs_set_error(errstr, errstr_size,
                              "%s:%d: column %zu (%s) contains a control character", name, line,
                              i + 1, column_name[i]);
                return -1;
            }
        }
        if (i < 3 && cols[i][0] == '\0') {
            sgs_set_error(errstr, errstr_size, "%s:%d: column %zu (%s) is empty", name, line, i + 1,
                          column_name[i]);
            return -1;
        }
    }
    if (!id_ok(cols[0])) {
        sgs_set_error(errstr, errstr_size, "%s:%d: unit id '%s' may not contain white space or '|'",
                      name, line, cols[0]);
        return -1;
    }
    if (!group_ok(cols[2])) {
        sgs_set_error(errstr, errstr_size,
                      "%s:%d: group '%s' may contain only ASCII letters, digits, '_' and '-'", name,
                      line, cols[2]);
        return -1;
    }
    if (sgs_array_grow((void **)&reg->units, &reg->cap_units, reg->n_units, sizeof(*reg->units),
                       16) != 0) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        return -1;
    }
    size_t u = reg->n_units++;
    sgs_unit *unit = &reg->units[u];
    memset(unit, 0, sizeof(*unit));
    unit->id = cols[0];
    unit->name = cols[1];
    unit->group = cols[2];
    unit->index = u;
    unit->line = line;
    if (add_key(reg, name, line, u, cols[0], KEY_ID, errstr, errstr_size) != 0 ||
        add_key(reg, name, line, u, cols[1], KEY_NAME, errstr, errstr_size) != 0) {
        return -1;
    }
    if (n == 4 && add_aliases(reg, name, line, u, cols[3], errstr, errstr_size) != 0) {
        return -1;
    }
    if (add_group(reg, cols[2]) != 0) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

/* A line of only blanks is skipped like an empty one. */
static int is_blank(const char *s)
{
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t') {
            return 0;
        }
    }
    return 1;
}

sgs_registry *sgs_registry_load_buffer(const char *name, const char *tsv, size_t len, char *errstr,
                                       size_t errstr_size)
{
    if (name == NULL) {
        name = "units";
    }
    sgs_registry *reg = calloc(1, sizeof(*reg));
    if (reg == NULL || (reg->text = malloc(len + 1)) == NULL) {
        sgs_set_error(errstr, errstr_size, "%s: out of memory", name);
        goto fail;
    }
    if (len > 0) {
        memcpy(reg->text, tsv, len);
    }
    reg->text[len] = '\0';

    char *p = reg->text;
    char *end = reg->text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    size_t header_cols = 0; /* 0 until the header line is read */
    int line = 0;
    while (p < end) {
        line++;
        size_t rest = (size_t)(end - p);
        char *nl = memchr(p, '\n', rest);
        size_t llen = nl ? (size_t)(nl - p) : rest;
        char *next = nl ? nl + 1 : end;
        if (llen > 0 && p[llen - 1] == '\r') {
            llen--;
        }
        char *le = p + llen;
        *le = '\0';
        if (memchr(p, '\0', llen) != NULL) {
            sgs_set_error(errstr, errstr_size, "%s:%d: NUL byte in line", name, line);
            goto fail;
        }
        if (!sgs_utf8_valid(p, llen)) {
            sgs_set_error(errstr, errstr_size, "%s:%d: not valid UTF-8", name, line);
            goto fail;
        }
        if (p[0] != '#' && !is_blank(p)) {
            char *cols[5];
            size_t n = 0;
            char *c = p;
            for (;;) {
                char *tab = strchr(c, '\t');
                char *cend = tab ? tab : le;
                if (n < 5) {
                    cols[n] = trim(c, cend);
                }
                n++;
                if (tab == NULL) {
                    break;
                }
                c = tab + 1;
            }
            if (header_cols == 0) {
                if (check_header(name, line, cols, n, &header_cols, errstr, errstr_size) != 0) {
                    goto fail;
                }
            } else if (parse_row(reg, name, line, cols, n, header_cols, errstr, errstr_size) != 0) {
                goto fail;
            }
        }
        p = next;
    }
    if (header_cols == 0) {
        sgs_set_error(errstr, errstr_size,
                      "%s: no header line (expected unit_id, name, group and optionally "
                      "aliases)",
                      name);
        goto fail;
    }
    if (reg->n_units == 0) {
        sgs_set_error(errstr, errstr_size, "%s: no units after the header", name);
        goto fail;
    }
    /* Aliases were appended in unit order; the array no longer moves. */
    size_t off = 0;
    for (size_t i = 0; i < reg->n_units; i++) {
        reg->units[i].aliases = reg->aliases ? reg->aliases + off : NULL;
        off += reg->units[i].n_aliases;
    }
    return reg;

fail:
    sgs_registry_destroy(reg);
    return NULL;
}

sgs_registry *sgs_registry_load(const char *path, char *errstr, size_t errstr_size)
{
    sgs_buf buf = SGS_BUF_INIT;
    sgs_registry *reg = NULL;
    if (sgs_buf_read_file(&buf, path, MAX_FILE_BYTES, errstr, errstr_size) == 0)
        reg = sgs_registry_load_buffer(path, buf.data, buf.len, errstr, errstr_size);
    sgs_buf_free(&buf);
    return reg;
}

void sgs_registry_destroy(sgs_registry *reg)
{
    if (reg == NULL) {
        return;
    }
    free(reg->text);
    free(reg->units);
    free(reg->aliases);
    free(reg->groups);
    free(reg->table);
    free(reg);
}

size_t sgs_registry_count(const sgs_registry *reg)
{
    return reg->n_units;
}

const sgs_unit *sgs_registry_at(const sgs_registry *reg, size_t index)
{
    return index < reg->n_units ? &reg->units[index] : NULL;
}

const sgs_unit *sgs_registry_find_id(const sgs_registry *reg, const char *id, size_t len)
{
    if (id == NULL) {
        return NULL;
    }
    const struct entry *e = table_get(reg, id, len);
    return (e != NULL && e->id_like) ? &reg->units[e->unit] : NULL;
}

const sgs_unit *sgs_registry_find(const sgs_registry *reg, const char *key, size_t len)
{
    if (key == NULL) {
        return NULL;
    }
    const struct entry *e = table_get(reg, key, len);
    return e != NULL ? &reg->units[e->unit] : NULL;
}

size_t sgs_registry_group_count(const sgs_registry *reg)
{
    return reg->n_groups;
}

const char *sgs_registry_group_at(const sgs_registry *reg, size_t index)
{
    return index < reg->n_groups ? reg->groups[index] : NULL;
}

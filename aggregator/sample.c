/* Spot-check samples (sgs-aggregator spot-check --sample FILE, docs/AGGREGATOR.md):
 * the TSV "unit_id<TAB>kind<TAB>doc_no" read into identities. Pure: no files, no
 * Redis (the fuzz target tests/fuzz/fuzz_sample.c runs it). */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/docno.h"
#include "sgs/log.h"
#include "sgs/store.h"

void sgs_agg_sample_free(sgs_agg_sample *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].doc_no);
        free(s->items[i].identity);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

static void trim(const char **a, const char **b)
{
    while (*a < *b && (**a == ' ' || **a == '\t'))
        (*a)++;
    while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t'))
        (*b)--;
}

/* Validates one data line and appends its item (repeats of an identity are kept
 * once). 0, or -1 with "FILE:LINE: why". */
static int parse_line(const sgs_registry *reg, const char *path, int lineno, const char *line,
                      size_t len, sgs_agg_sample *s, sgs_agg_idmap *seen, sgs_docno *d,
                      char *errstr, size_t errstr_size)
{
    const char *col[3], *end[3];
    const char *p = line, *stop = line + len;
    size_t ncol = 0;
    const sgs_unit *unit;
    const char *kind;
    size_t idsize;
    int idlen;
    char *identity;
    sgs_store_ident_parts parts;

    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(stop - p));
        const char *e = tab ? tab : stop;

        if (ncol < 3) {
            col[ncol] = p;
            end[ncol] = e;
        }
        ncol++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (ncol != 3) {
        snprintf(errstr, errstr_size,
                 "%s:%d: expected 3 tab-separated columns (unit_id, kind, doc_no), got %zu", path,
                 lineno, ncol);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        trim(&col[i], &end[i]);
    unit = sgs_registry_find(reg, col[0], (size_t)(end[0] - col[0]));
    if (!unit) {
        snprintf(errstr, errstr_size, "%s:%d: unknown unit '%.*s' (not an id, name or alias in %s)",
                 path, lineno, (int)(end[0] - col[0]), col[0], "the registry");
        return -1;
    }
    kind = sgs_agg_kind_parse(col[1], (size_t)(end[1] - col[1]));
    if (!kind) {
        snprintf(errstr, errstr_size,
                 "%s:%d: kind '%.*s': expected license or penalty (行政许可/行政处罚, 许可/处罚)",
                 path, lineno, (int)(end[1] - col[1]), col[1]);
        return -1;
    }
    /* The consumer's identity rule: the normal form must have 4-64 characters. */
    if (sgs_docno_normalize(col[2], (size_t)(end[2] - col[2]), d) != 0 || d->norm_chars < 4 ||
        d->norm_chars > 64) {
        snprintf(errstr, errstr_size,
                 "%s:%d: doc_no '%.*s' does not normalise to a document number of 4-64 characters",
                 path, lineno, (int)(end[2] - col[2]), col[2]);
        return -1;
    }
    s->lines++;
    idsize = strlen(unit->id) + strlen(kind) + strlen(d->norm) + 3;
    identity = malloc(idsize);
    if (!identity) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    idlen = sgs_store_identity(identity, idsize, unit->id, kind, d->norm);
    if (idlen < 0 || sgs_store_identity_parse(identity, (size_t)idlen, &parts) != 0) {
        free(identity); /* not reached: the size is exact and the parts are not empty */
        snprintf(errstr, errstr_size, "%s:%d: cannot build the identity", path, lineno);
        return -1;
    }
    switch (sgs_agg_idmap_put(seen, identity, (size_t)idlen, s->n)) {
    case 1:
        sgs_info("%s:%d: repeats an earlier line (%s); counted once", path, lineno, identity);
        free(identity);
        return 0;
    case 0:
        break;
    default:
        free(identity);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sgs_agg_sample_item *items = realloc(s->items, cap * sizeof(*items));

        if (!items) {
            free(identity);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n].line = lineno;
    s->items[s->n].unit = unit;
    s->items[s->n].kind = kind;
    s->items[s->n].doc_no = strndup(col[2], (size_t)(end[2] - col[2]));
    s->items[s->n].identity = identity;
    s->items[s->n].normalized = parts.doc_no;
    s->items[s->n].found = 0;
    if (!s->items[s->n].doc_no) {
        free(identity);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    s->n++;
    return 0;
}

/* Whether a line that should be the header is a decision: its second
 * tab-separated column, trimmed as a data line's, is a kind (a header's is a
 * column name). */
static int looks_like_decision(const char *p, size_t l)
{
    const char *a = memchr(p, '\t', l), *b;

    if (!a)
        return 0;
    a++;
    b = memchr(a, '\t', (size_t)(p + l - a));
    if (!b)
        b = p + l;
    trim(&a, &b);
    return sgs_agg_kind_parse(a, (size_t)(b - a)) != NULL;
}

int sgs_agg_sample_parse(const sgs_registry *reg, const char *path, const char *text, size_t len,
                         sgs_agg_sample *s, char *errstr, size_t errstr_size)
{
    sgs_agg_idmap *seen = sgs_agg_idmap_new(256);
    sgs_docno *d = malloc(sizeof(*d));
    const char *p, *stop;
    int lineno = 0, header = 0, rc = -1;

    memset(s, 0, sizeof(*s));
    if (!seen || !d) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    p = text;
    stop = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *e = nl ? nl : stop;
        size_t l;

        lineno++;
        if (e > p && e[-1] == '\r')
            e--;
        l = (size_t)(e - p);
        if (memchr(p, '\0', l)) {
            snprintf(errstr, errstr_size, "%s:%d: contains a NUL byte", path, lineno);
            goto out;
        }
        if (l > 0 && p[0] != '#') {
            if (!header) {
                if (looks_like_decision(p, l)) {
                    snprintf(errstr, errstr_size,
                             "%s:%d: expected the header line unit_id\tkind\tdoc_no first, got "
                             "a decision (its second column is a kind): add the header, or it "
                             "would be skipped",
                             path, lineno);
                    goto out;
                }
                header = 1;
            } else if (parse_line(reg, path, lineno, p, l, s, seen, d, errstr, errstr_size) != 0)
                goto out;
        }
        p = nl ? nl + 1 : stop;
    }
    if (!header) {
        snprintf(errstr, errstr_size, "%s: empty; expected a header line unit_id\tkind\tdoc_no",
                 path);
        goto out;
    }
    rc = 0;
out:
    free(d);
    sgs_agg_idmap_free(seen);
    return rc;
}

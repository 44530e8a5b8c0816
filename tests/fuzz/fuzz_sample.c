/* libFuzzer target: spot-check samples (sgs-aggregator spot-check --sample FILE,
 * docs/AGGREGATOR.md). The input is a sample TSV "unit_id<TAB>kind<TAB>doc_no".
 *
 * The target walks the documented format with the pieces it is made of (the
 * line and column rules, sgs_registry_find, sgs_agg_kind_parse (aggregator/kind.c)
 * and the identity map (aggregator/idmap.c), sgs_docno_normalize with the 4-64
 * character rule, and the identity "<unit_id>|<kind>|<norm>"), runs the parser
 * sgs_agg_sample_parse (aggregator/sample.c, free of files and Redis) on the same
 * input, and compares: same verdict, same items, same identities.
 *
 * Invariants: a found unit really has the key; the kind is canonical; every
 * identity is valid UTF-8, splits back into the unit id, the kind and a normal
 * form that is a fixed point, and the spot-check output's "normalized" (text
 * after the second '|') is that normal form; a repeated identity is reported as
 * such by the map exactly when it was seen before. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "fuzz_common.h"
#include "sgs/docno.h"
#include "sgs/registry.h"

static sgs_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    fuzz_load_configs(&reg, NULL);
    return 0;
}

static void trim(const char **a, const char **b)
{
    while (*a < *b && (**a == ' ' || **a == '\t'))
        (*a)++;
    while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t'))
        (*b)--;
}

struct walk {
    sgs_agg_idmap *seen;
    size_t items; /* distinct identities */
    size_t lines; /* data lines accepted, repeats included */
    char **ids;   /* identities in order of first appearance */
    size_t cap;
};

/* One data line; 0 accepted, -1 refused (the whole sample then fails). */
static int walk_line(struct walk *w, const char *p, size_t len)
{
    const char *col[3], *end[3], *stop = p + len;
    size_t ncol = 0, idlen, at;
    const sgs_unit *unit;
    const char *kind;
    sgs_docno d, again;
    char *identity, *bar1, *bar2;
    int put;

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
    if (ncol != 3)
        return -1;
    for (int i = 0; i < 3; i++)
        trim(&col[i], &end[i]);

    unit = sgs_registry_find(reg, col[0], (size_t)(end[0] - col[0]));
    if (unit == NULL)
        return -1;
    FUZZ_CHECK(fuzz_unit_has_key(unit, col[0], (size_t)(end[0] - col[0])));

    kind = sgs_agg_kind_parse(col[1], (size_t)(end[1] - col[1]));
    if (kind == NULL)
        return -1;
    FUZZ_CHECK(strcmp(kind, "license") == 0 || strcmp(kind, "penalty") == 0);

    if (sgs_docno_normalize(col[2], (size_t)(end[2] - col[2]), &d) != 0 || d.norm_chars < 4 ||
        d.norm_chars > 64)
        return -1;

    idlen = strlen(unit->id) + strlen(kind) + strlen(d.norm) + 3;
    identity = malloc(idlen);
    FUZZ_CHECK(identity != NULL);
    FUZZ_CHECK((size_t)snprintf(identity, idlen, "%s|%s|%s", unit->id, kind, d.norm) == idlen - 1);
    FUZZ_CHECK(sgs_utf8_valid(identity, idlen - 1));

    /* Splits back: ids have no '|', so the first two bars delimit the parts. */
    bar1 = strchr(identity, '|');
    FUZZ_CHECK(bar1 != NULL && (size_t)(bar1 - identity) == strlen(unit->id));
    bar2 = strchr(bar1 + 1, '|');
    FUZZ_CHECK(bar2 != NULL && strncmp(bar1 + 1, kind, (size_t)(bar2 - bar1 - 1)) == 0);
    FUZZ_CHECK(strcmp(bar2 + 1, d.norm) == 0);
    FUZZ_CHECK(sgs_docno_normalize(bar2 + 1, strlen(bar2 + 1), &again) == 0);
    FUZZ_CHECK(strcmp(again.norm, d.norm) == 0);

    w->lines++;
    at = 0;
    {
        int known = sgs_agg_idmap_get(w->seen, identity, strlen(identity), &at);

        put = sgs_agg_idmap_put(w->seen, identity, strlen(identity), w->items);
        FUZZ_CHECK(put == known);
    }
    if (put == 1) {
        FUZZ_CHECK(at < w->items && strcmp(w->ids[at], identity) == 0);
        free(identity);
        return 0;
    }
    FUZZ_CHECK(put == 0);
    if (w->items == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        char **ids = realloc(w->ids, cap * sizeof(*ids));

        FUZZ_CHECK(ids != NULL);
        w->ids = ids;
        w->cap = cap;
    }
    w->ids[w->items++] = identity;
    return 0;
}

/* Whether the header line is a decision instead: a second tab-separated
 * column that, trimmed, is a kind. */
static int header_is_decision(const char *p, size_t l)
{
    const char *stop = p + l, *tab = memchr(p, '\t', l), *a, *b;

    if (tab == NULL)
        return 0;
    a = tab + 1;
    b = memchr(a, '\t', (size_t)(stop - a));
    if (b == NULL)
        b = stop;
    trim(&a, &b);
    return sgs_agg_kind_parse(a, (size_t)(b - a)) != NULL;
}

/* The whole sample: BOM, LF/CRLF, '#' comments and empty lines skipped, the
 * first other line is the header (refused when it is a decision), a NUL byte
 * refuses the file. 0 or -1. */
static int walk_sample(struct walk *w, const char *text, size_t len)
{
    const char *p = text, *stop = text + len;
    int header = 0;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *e = nl ? nl : stop;
        size_t l;

        if (e > p && e[-1] == '\r')
            e--;
        l = (size_t)(e - p);
        if (memchr(p, '\0', l))
            return -1;
        if (l > 0 && p[0] != '#') {
            if (!header) {
                if (header_is_decision(p, l))
                    return -1;
                header = 1;
            } else if (walk_line(w, p, l) != 0) {
                return -1;
            }
        }
        p = nl ? nl + 1 : stop;
    }
    return header ? 0 : -1;
}

#ifdef SGS_FUZZ_SAMPLE_PARSE
/* The real parser, compared with the walk above. */
static void compare_with_parser(const char *text, size_t len, int verdict, const struct walk *w)
{
    sgs_agg_sample s;
    char err[1024];
    int rc;

    memset(&s, 0, sizeof(s));
    err[0] = '\0';
    rc = sgs_agg_sample_parse(reg, "fuzz-sample.tsv", text, len, &s, err, sizeof(err));
    FUZZ_CHECK(rc == verdict);
    if (rc != 0) {
        FUZZ_CHECK(strncmp(err, "fuzz-sample.tsv", 15) == 0 && strchr(err, '\n') == NULL);
    } else {
        FUZZ_CHECK(s.n == w->items && s.lines == w->lines);
        for (size_t i = 0; i < s.n; i++) {
            /* the spot-check output's "normalized": the text after the second '|' */
            const char *norm = strchr(strchr(w->ids[i], '|') + 1, '|') + 1;

            FUZZ_CHECK(strcmp(s.items[i].identity, w->ids[i]) == 0);
            FUZZ_CHECK(strcmp(s.items[i].normalized, norm) == 0);
            FUZZ_CHECK(s.items[i].unit != NULL && s.items[i].line >= 1);
            FUZZ_CHECK(sgs_utf8_valid(s.items[i].doc_no, strlen(s.items[i].doc_no)));
        }
    }
    sgs_agg_sample_free(&s);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct walk w;
    int verdict;

    memset(&w, 0, sizeof(w));
    w.seen = sgs_agg_idmap_new(16);
    FUZZ_CHECK(w.seen != NULL);
    verdict = walk_sample(&w, (const char *)data, size);
#ifdef SGS_FUZZ_SAMPLE_PARSE
    compare_with_parser((const char *)data, size, verdict, &w);
#else
    (void)verdict;
#endif
    for (size_t i = 0; i < w.items; i++)
        free(w.ids[i]);
    free(w.ids);
    sgs_agg_idmap_free(w.seen);
    return 0;
}

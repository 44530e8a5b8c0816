/* Sequence gaps (发文字号核查, RULES §4): within one unit, kind, normalised issuer
 * prefix and year, serial numbers missing between the lowest and the highest seen
 * are suspected omissions.
 *
 * Input: the gap hashes P:T:g:YYYY-MM of the months January..M of the snapshot's
 * year (HGETALL replies): fields "<year>|<unit>|<k>|<prefix>|<chunk>" whose bits
 * are the serials first counted in that month (store.h). Only numbers whose year
 * (inside the year bracket) is the snapshot's year count, so a year's sequence is
 * judged on the numbers first counted in that year up to the month.
 *
 * Bounds: the missing numbers are counted arithmetically over merged intervals (a
 * stray serial like 99999 costs nothing to count), and every gap entry carries its
 * full missing_count. They are listed one by one (REFERENCE §8, §10: the ledger
 * has a row per suspected gap) within two bounds that no real sequence reaches
 * and that keep one wrong number from filling the snapshot (it is published on
 * Kafka, ~8 bytes per listed number) and the ledger (a row each):
 *   - a block of more than GAPS_BLOCK_LISTED consecutive missing numbers is
 *     counted, not listed: no unit leaves a thousand decisions in a row
 *     unreported; a typo (999999 for 999) or a restarted numbering does;
 *   - at most GAPS_LISTED_PER_UNIT numbers are listed per unit over all its
 *     entries (a county with ~10,000 decisions a year and one in ten missing
 *     stays well below it).
 * The ledger notes the numbers counted but not listed (ledger.c).
 *
 * A number the spot checks of the year found concealed (P:concealed of
 * January..M, without the findings withdrawn) is known missing: it is 瞒报,
 * listed as such, and is neither counted nor listed as a suspected gap. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/docno.h"
#include "sgs/record.h"
#include "sgs/store.h"

#define GAPS_LISTED_PER_UNIT 5000 /* missing numbers listed per unit, at most */
#define GAPS_BLOCK_LISTED    1000 /* a longer block of consecutive missing numbers: not listed */

struct entry {
    uint32_t row;
    uint32_t kind; /* enum sgs_kind: licences sort first */
    uint32_t prefix;
    uint64_t lo, hi;
};

struct prefixes {
    sgs_agg_idmap *map;
    char **names;
    uint32_t *rank;
    size_t n, cap;
};

static long prefix_id(struct prefixes *p, const char *name)
{
    size_t len = strlen(name), i;

    if (sgs_agg_idmap_get(p->map, name, len, &i))
        return (long)i;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **names = realloc(p->names, cap * sizeof(*names));

        if (!names)
            return -1;
        p->names = names;
        p->cap = cap;
    }
    p->names[p->n] = strdup(name);
    if (!p->names[p->n] || sgs_agg_idmap_put(p->map, name, len, p->n) < 0) {
        free(p->names[p->n]);
        return -1;
    }
    return (long)p->n++;
}

/* qsort has no context argument; one per thread (serve builds months on several) */
static _Thread_local const char *const *g_names;

static int cmp_prefix_index(const void *a, const void *b)
{
    return strcmp(g_names[*(const uint32_t *)a], g_names[*(const uint32_t *)b]);
}

/* rank[id] = position of the prefix in byte order, so entries sort by name. */
static int rank_prefixes(struct prefixes *p)
{
    uint32_t *order = calloc(p->n ? p->n : 1, sizeof(*order));

    p->rank = calloc(p->n ? p->n : 1, sizeof(*p->rank));
    if (!order || !p->rank) {
        free(order);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++)
        order[i] = (uint32_t)i;
    g_names = (const char *const *)p->names;
    qsort(order, p->n, sizeof(*order), cmp_prefix_index);
    g_names = NULL;
    for (size_t i = 0; i < p->n; i++)
        p->rank[order[i]] = (uint32_t)i;
    free(order);
    return 0;
}

/* Order of runs: row, kind, prefix. */
static int cmp_run(const struct entry *x, const struct entry *y)
{
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = cmp_run(x, y);

    if (c != 0)
        return c;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Serials of a..b inside the known ranges k[0..nk) (sorted, disjoint). */
static uint64_t known_in(const struct entry *k, size_t nk, uint64_t a, uint64_t b)
{
    uint64_t n = 0;

    for (size_t i = 0; i < nk; i++) {
        uint64_t lo = k[i].lo > a ? k[i].lo : a, hi = k[i].hi < b ? k[i].hi : b;

        if (lo <= hi)
            n += hi - lo + 1;
    }
    return n;
}

/* Gaps of one (row, kind, prefix) run e[0..n): appends a gap object to the row
 * when numbers are missing. k[0..nk): the run's concealed serials (sorted,
 * disjoint ranges), which are not gaps. */
static int emit_run(sgs_agg_row *row, const struct entry *e, size_t n, const char *prefix, int year,
                    size_t *listed, const struct entry *k, size_t nk)
{
    json_t *missing = NULL, *gap;
    uint64_t hi = e[0].hi, count = 0;

    for (size_t i = 1; i < n; i++) {
        if (e[i].lo > hi + 1) {
            uint64_t a = hi + 1, b = e[i].lo - 1;

            count += b - a + 1 - known_in(k, nk, a, b);
            if (b - a + 1 > GAPS_BLOCK_LISTED)
                b = a - 1; /* counted, not listed */
            for (uint64_t v = a; v <= b && *listed < GAPS_LISTED_PER_UNIT; v++) {
                char buf[24];

                if (nk && known_in(k, nk, v, v))
                    continue;
                if (!missing && !(missing = json_array()))
                    return -1;
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
                json_array_append_new(missing, json_string(buf));
                (*listed)++;
            }
        }
        if (e[i].hi > hi)
            hi = e[i].hi;
    }
    if (count == 0)
        return 0;
    if (!row->gaps && !(row->gaps = json_array())) {
        json_decref(missing);
        return -1;
    }
    gap = json_pack("{s:s, s:s, s:i, s:o, s:I}", "kind", sgs_kind_name((enum sgs_kind)e[0].kind),
                    "prefix", prefix, "year", year, "missing", missing ? missing : json_array(),
                    "missing_count", (json_int_t)count);
    if (!gap)
        return -1;
    json_array_append_new(row->gaps, gap);
    row->gaps_missing += (int64_t)count;
    return 0;
}

/* The concealed serials of the year that fall in a known prefix (the
 * identities of concealed[m] not in withdrawn[m]) as entries (row, kind,
 * prefix rank, lo..hi), sorted, and ranges of one run merged. *out is
 * malloc'ed. 0 / -1 (OOM). */
static int known_serials(const struct prefixes *pre, const sgs_agg_idmap *map,
                         const sgs_registry *reg, int year, const redisReply *const *concealed,
                         const redisReply *const *withdrawn, size_t n_months, struct entry **out,
                         size_t *n_out)
{
    struct entry *v = NULL;
    size_t n = 0, cap = 0, m = 0;
    sgs_docno *doc = malloc(sizeof(*doc));

    *out = NULL;
    *n_out = 0;
    if (!doc)
        return -1;
    for (size_t mi = 0; mi < n_months; mi++) {
        const redisReply *h = concealed[mi];

        if (!h || h->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t i = 0; i + 1 < h->elements; i += 2) {
            const redisReply *f = h->element[i];
            sgs_store_ident_parts id;
            enum sgs_kind kind;
            size_t pid;
            long row;

            if (f->type != REDIS_REPLY_STRING ||
                sgs_store_identity_parse(f->str, f->len, &id) != 0 ||
                (withdrawn && sgs_agg_spot_has(withdrawn[mi], f->str, f->len)))
                continue;
            kind = sgs_agg_kind_of(id.kind, id.kind_len);
            row = sgs_agg_idmap_unit_row(map, reg, id.unit, id.unit_len);
            if (kind == SGS_KIND_NONE || row < 0 ||
                sgs_docno_normalize(id.doc_no, id.doc_no_len, doc) != 0 || !doc->has_serial ||
                doc->year != year ||
                !sgs_agg_idmap_get(pre->map, doc->prefix, strlen(doc->prefix), &pid))
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct entry *p = realloc(v, ncap * sizeof(*v));

                if (!p) {
                    free(v);
                    free(doc);
                    return -1;
                }
                v = p;
                cap = ncap;
            }
            v[n].row = (uint32_t)row;
            v[n].kind = (uint32_t)kind;
            v[n].prefix = pre->rank[pid];
            v[n].lo = doc->serial_lo;
            v[n].hi = doc->serial_hi >= doc->serial_lo ? doc->serial_hi : doc->serial_lo;
            n++;
        }
    }
    free(doc);
    if (n)
        qsort(v, n, sizeof(*v), cmp_entry);
    /* merge overlapping ranges of a run (a decision found in two months) */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && v[m - 1].row == v[i].row && v[m - 1].kind == v[i].kind &&
            v[m - 1].prefix == v[i].prefix && v[i].lo <= v[m - 1].hi + 1) {
            if (v[i].hi > v[m - 1].hi)
                v[m - 1].hi = v[i].hi;
            continue;
        }
        v[m++] = v[i];
    }
    *out = v;
    *n_out = m;
    return 0;
}

int sgs_agg_gaps_compute(sgs_agg_row *rows, size_t n_rows, const sgs_agg_idmap *map,
                         const sgs_registry *reg, redisReply *const *lists, size_t n_lists,
                         int year, const redisReply *const *concealed,
                         const redisReply *const *withdrawn, size_t n_months, char *errstr,
                         size_t errstr_size)
{
    struct prefixes pre;
    struct entry *es = NULL, *known = NULL;
    size_t n = 0, cap = 0, n_known = 0, ki = 0;
    int rc = -1;

    memset(&pre, 0, sizeof(pre));
    pre.map = sgs_agg_idmap_new(256);
    if (!pre.map)
        goto out;

    for (size_t si = 0; si < n_lists; si++) {
        const redisReply *h = lists[si];

        if (h->type != REDIS_REPLY_ARRAY)
            continue; /* no such month in this partition */
        for (size_t fi = 0; fi + 1 < h->elements; fi += 2) {
            const redisReply *f = h->element[fi], *v = h->element[fi + 1];
            sgs_store_gap_field gf;
            enum sgs_kind kind;
            char prefix[SGS_DOCNO_MAX];
            long row, pid;

            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
                sgs_store_gap_field_parse(f->str, f->len, &gf) != 0 || gf.year != year ||
                gf.prefix_len >= sizeof(prefix))
                continue;
            kind = gf.kind == 'p' ? SGS_KIND_PENALTY : SGS_KIND_LICENSE;
            row = sgs_agg_idmap_unit_row(map, reg, gf.unit, gf.unit_len);
            if (row < 0 || (size_t)row >= n_rows)
                continue;
            memcpy(prefix, gf.prefix, gf.prefix_len);
            prefix[gf.prefix_len] = '\0';
            pid = prefix_id(&pre, prefix);
            if (pid < 0)
                goto out;
            /* every run of set bits is one entry (bit 0: the most significant of byte 0) */
            for (size_t b = 0; b < v->len * 8;) {
                uint64_t lo;
                if (!((unsigned char)v->str[b / 8] & (0x80u >> (b % 8)))) {
                    b++;
                    continue;
                }
                lo = gf.chunk * SGS_STORE_CHUNK_BITS + b;
                while (b < v->len * 8 && ((unsigned char)v->str[b / 8] & (0x80u >> (b % 8))))
                    b++;
                if (n == cap) {
                    size_t ncap = cap ? cap * 2 : 1024;
                    struct entry *p = realloc(es, ncap * sizeof(*es));

                    if (!p)
                        goto out;
                    es = p;
                    cap = ncap;
                }
                es[n].row = (uint32_t)row;
                es[n].kind = (uint32_t)kind;
                es[n].prefix = (uint32_t)pid;
                es[n].lo = lo;
                es[n].hi = gf.chunk * SGS_STORE_CHUNK_BITS + b - 1;
                n++;
            }
        }
    }
    if (rank_prefixes(&pre) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        es[i].prefix = pre.rank[es[i].prefix];
    if (known_serials(&pre, map, reg, year, concealed, withdrawn, n_months, &known, &n_known) != 0)
        goto out;
    /* rank -> name for the output */
    {
        char **by_rank = calloc(pre.n ? pre.n : 1, sizeof(*by_rank));
        size_t listed = 0;
        uint32_t cur_row = UINT32_MAX;

        if (!by_rank)
            goto out;
        for (size_t i = 0; i < pre.n; i++)
            by_rank[pre.rank[i]] = pre.names[i];
        if (n)
            qsort(es, n, sizeof(*es), cmp_entry);
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;

            while (j < n && es[j].row == es[i].row && es[j].kind == es[i].kind &&
                   es[j].prefix == es[i].prefix)
                j++;
            if (es[i].row != cur_row) {
                cur_row = es[i].row;
                listed = 0;
            }
            size_t k0;

            /* the run's concealed serials: known is in the same order */
            while (ki < n_known && cmp_run(&known[ki], &es[i]) < 0)
                ki++;
            for (k0 = ki; ki < n_known && cmp_run(&known[ki], &es[i]) == 0; ki++)
                ;
            if (emit_run(&rows[es[i].row], es + i, j - i, by_rank[es[i].prefix], year, &listed,
                         known + k0, ki - k0) != 0) {
                free(by_rank);
                goto out;
            }
            i = j;
        }
        free(by_rank);
    }
    rc = 0;
out:
    if (rc != 0)
        snprintf(errstr, errstr_size, "out of memory computing sequence gaps");
    free(es);
    free(known);
    sgs_agg_idmap_free(pre.map);
    sgs_agg_strv_free(pre.names, pre.n);
    free(pre.rank);
    return rc;
}

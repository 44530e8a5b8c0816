/* sgs-gen: document numbers. Serials are consecutive per (unit, kind, year)
 * in decision order, invalid records' on top, with the holes --gaps asks for
 * (where they go drawn here) inside runs of valid ones; each number is written in one of its
 * real-world spellings (RULES §4), whose normal form is always
 * <prefix>〔<year>〕<serial>号.
 *
 * Consecutive months fit together: a month's sequence of (unit, kind, year)
 * starts right after the numbers the earlier months generated with the same
 * seed and options gave it, so November and December together show only the
 * holes of --gaps. A sequence begins in the December before its year (a
 * decision dated in the new year, reported late in December, is numbered
 * there); every month from then on numbers a block of its own. The blocks are
 * counted by replaying the plans of the earlier months (plan.c; the plan draws
 * nothing from the serials' starts), not read from files, so a month is the
 * same whether the months before it were generated or not. Invalid records
 * keep their numbers (a consumer sees them too), so a month's block has no
 * hole but those of --gaps, and neither has the join of two blocks. */
#include "gen.h"

#include <inttypes.h>
#include <stdlib.h>

/* Doc numbers that fail bad_doc_no (normalised length outside 4..64). */
static const char *const junk_doc_nos[] = {
    "无", "暂无", "12", "罚-1",
    "关于对当事人违法行为给予行政处罚的决定书，文书号由系统自动生成，导入时误将文书标题及其正文摘要"
    "填入本字段，请核实后重新报送，平顶山市信用信息共享平台数据校验提示"};

static const char *const year_brackets[][2] = {
    {"〔", "〕"}, {"[", "]"}, {"（", "）"}, {"【", "】"},
    {"［", "］"}, {"(", ")"}, {"﹝", "﹞"}, {"〖", "〗"},
};
static const unsigned year_bracket_weights[] = {55, 10, 8, 7, 6, 6, 5, 3};

static void put_digits(sgs_buf *b, const char *digits, int fullwidth)
{
    for (const char *p = digits; *p; p++) {
        if (fullwidth) {
            char fw[4] = {(char)0xEF, (char)0xBC, (char)(0x90 + (*p - '0')), 0};
            bputs(b, fw);
        } else {
            bputc(b, *p);
        }
    }
}

/* Writes a doc number in one of its real-world spellings; vseed picks it. The
 * normal form is always <prefix>〔<year>〕<serial>号. */
static void put_doc_no(sgs_buf *b, const char *prefix, int year, uint32_t serial, uint64_t vseed)
{
    rng r = {vseed};
    unsigned total = 0, u;
    size_t bi = 0;
    char digits[16];

    for (size_t i = 0; i < ARRAY_LEN(year_bracket_weights); i++)
        total += year_bracket_weights[i];
    u = rng_below(&r, total);
    while (u >= year_bracket_weights[bi]) {
        u -= year_bracket_weights[bi];
        bi++;
    }
    int di = rng_chance(&r, 0.12);
    int pad = rng_chance(&r, 0.12) ? (serial < 100 ? 3 : serial < 10000 ? 5 : 7) : 0;
    int fw_serial = rng_chance(&r, 0.06);
    int fw_year = rng_chance(&r, 0.03);
    int space = (int)rng_below(&r, 25); /* 0: space before 号, 1: ideographic space */

    bputs(b, prefix);
    if (space == 1)
        bputs(b, "\xE3\x80\x80");
    bputs(b, year_brackets[bi][0]);
    snprintf(digits, sizeof(digits), "%04d", year);
    put_digits(b, digits, fw_year);
    bputs(b, year_brackets[bi][1]);
    if (di)
        bputs(b, "第");
    snprintf(digits, sizeof(digits), "%0*" PRIu32, pad, serial);
    put_digits(b, digits, fw_serial);
    if (space == 0)
        bputc(b, ' ');
    bputs(b, "号");
}

static const char *rec_prefix(const struct gen *g, const struct rec *rc)
{
    return rc->foreign ? g->foreign[rc->unit].prefix[rc->kind]
                       : g->units[rc->unit].prefix[rc->kind];
}

void gen_serials_put_doc(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed)
{
    bputc(b, '"');
    if (rc->rule == R_BAD_DOC_NO)
        bputs(b, junk_doc_nos[rc->seed % ARRAY_LEN(junk_doc_nos)]);
    else
        put_doc_no(b, rec_prefix(g, rc), rc->year, rc->serial, vseed);
    bputc(b, '"');
}

void gen_serials_norm(const struct gen *g, const struct rec *rc2, char *out, size_t cap)
{
    snprintf(out, cap, "%s〔%d〕%" PRIu32 "号", rec_prefix(g, rc2), rc2->year, rc2->serial);
}

/* Sequence order: unit, kind, year, valid < invalid with a number < junk number,
 * decision date, report time, index; packed into one key (units < 2^20, years
 * within 8 of the month's, decisions within 512 days before it). */
static uint64_t seq_key(const struct gen *g, const struct rec *x)
{
    uint64_t cls = x->rule ? (x->rule == R_BAD_DOC_NO ? 2 : 1) : 0;
    uint64_t yoff = (uint64_t)(x->year - g->year + 8) & 15;
    uint64_t doff = (uint64_t)(x->decision - (g->first - 512)) & 1023;
    uint64_t toff = (uint64_t)(x->report_ts - gen_local_instant(g, g->first, 0)) & ((1u << 26) - 1);
    return (uint64_t)x->unit << 44 | (uint64_t)x->kind << 42 | yoff << 38 | cls << 36 | doff << 26 |
           toff;
}

/* A run of document numbers: the records of one (unit, kind, year) in serial
 * order, where --gaps leaves holes. */
struct serial_group {
    size_t start, n_valid, n_numbered;
};

/* A hole: before the slot-th valid record of a group. */
struct gap_pick {
    uint32_t group, slot;
};

struct seqkey {
    uint64_t key;
    uint32_t idx;
};

static int cmp_seqkey(const void *a, const void *b)
{
    const struct seqkey *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The records in sequence order (order, n_recs entries) cut into runs of one
 * (unit, kind, year): *groups (malloc'ed), their number returned. */
static size_t serial_groups(const struct gen *g, uint32_t *order, struct serial_group **groups_out)
{
    struct serial_group *groups = NULL;
    size_t n_groups = 0, cap_groups = 0;
    struct seqkey *sk = malloc((g->n_recs ? g->n_recs : 1) * sizeof(*sk));
    for (size_t i = 0; i < g->n_recs; i++) {
        sk[i].key = seq_key(g, &g->recs[i]);
        sk[i].idx = (uint32_t)i;
    }
    qsort(sk, g->n_recs, sizeof(*sk), cmp_seqkey);
    for (size_t i = 0; i < g->n_recs; i++)
        order[i] = sk[i].idx;
    free(sk);
    for (size_t i = 0; i < g->n_recs;) {
        const struct rec *h = &g->recs[order[i]];
        size_t j = i, nv = 0, nn = 0;
        while (j < g->n_recs && g->recs[order[j]].unit == h->unit &&
               g->recs[order[j]].kind == h->kind && g->recs[order[j]].year == h->year) {
            const struct rec *x = &g->recs[order[j]];
            nv += x->rule == R_NONE;
            nn += x->rule != R_BAD_DOC_NO;
            j++;
        }
        if (n_groups == cap_groups) {
            cap_groups = cap_groups ? 2 * cap_groups : 256;
            groups = realloc(groups, cap_groups * sizeof(*groups));
        }
        groups[n_groups].start = i;
        groups[n_groups].n_valid = nv;
        groups[n_groups].n_numbered = nn;
        n_groups++;
        i = j;
    }
    *groups_out = groups;
    return n_groups;
}

static int cmp_gap_pick(const void *a, const void *b)
{
    const struct gap_pick *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Where --gaps leaves holes: groups weighted by their size, any slot between
 * two valid neighbours. The picks sorted in *gp_out (freed by the caller);
 * g->missing and g->gap_groups made. */
static int pick_gaps(struct gen *g, const struct serial_group *groups, size_t n_groups,
                     struct gap_pick **gp_out, char *errstr, size_t errstr_size)
{
    rng *r = &g->plan;
    struct gap_pick *gp = calloc(g->o.gaps ? (size_t)g->o.gaps : 1, sizeof(*gp));
    if (g->o.gaps > 0) {
        double *cumw = malloc((n_groups ? n_groups : 1) * sizeof(double));
        double tot = 0;
        for (size_t k = 0; k < n_groups; k++) {
            tot += groups[k].n_valid >= 2 ? (double)groups[k].n_valid : 0;
            cumw[k] = tot;
        }
        if (tot <= 0) {
            free(cumw);
            free(gp);
            snprintf(errstr, errstr_size,
                     "--gaps: no unit has two valid records of one kind and year to leave "
                     "numbers out between");
            return -1;
        }
        for (long k = 0; k < g->o.gaps; k++) {
            size_t lo = gen_pick_cumulative(r, cumw, n_groups);
            gp[k].group = (uint32_t)lo;
            gp[k].slot = 1 + rng_below(r, (uint32_t)(groups[lo].n_valid - 1));
        }
        free(cumw);
        qsort(gp, (size_t)g->o.gaps, sizeof(*gp), cmp_gap_pick);
        g->missing = malloc((size_t)g->o.gaps * sizeof(uint32_t));
        g->gap_groups = calloc((size_t)g->o.gaps, sizeof(*g->gap_groups));
    }
    *gp_out = gp;
    return 0;
}

/* An earlier month replayed (g->replay): the serials of each of its
 * sequences (numbered records and holes) added to g->used. The groups of
 * serial_groups() and the holes of pick_gaps(), counted instead of sorted:
 * here a group per (unit, kind, year) in that order, empty ones included,
 * which weigh nothing, so the holes fall in the same sequences. */
static void count_replayed(struct gen *g)
{
    int ylo = g->year, yhi = g->year;
    size_t nyr, n_slots;
    struct serial_group *groups;
    struct gap_pick *gp;
    char why[256];

    for (size_t i = 0; i < g->n_recs; i++) {
        ylo = g->recs[i].year < ylo ? g->recs[i].year : ylo;
        yhi = g->recs[i].year > yhi ? g->recs[i].year : yhi;
    }
    nyr = (size_t)(yhi - ylo + 1);
    n_slots = g->n_units * 2 * nyr;
    groups = calloc(n_slots ? n_slots : 1, sizeof(*groups));
    for (size_t i = 0; i < g->n_recs; i++) {
        const struct rec *x = &g->recs[i];
        struct serial_group *sg =
            &groups[((size_t)x->unit * 2 + x->kind - 1) * nyr + (size_t)(x->year - ylo)];
        sg->n_valid += x->rule == R_NONE;
        sg->n_numbered += x->rule != R_BAD_DOC_NO;
    }
    /* A month with no room for the holes asked for cannot be generated with
     * these options; it has none then (the month asked for may have room). */
    if (pick_gaps(g, groups, n_slots, &gp, why, sizeof(why)) != 0)
        gp = NULL;
    for (long k = 0; gp && k < g->o.gaps; k++)
        groups[gp[k].group].n_numbered++;
    for (size_t k = 0; k < n_slots; k++) {
        int year = ylo + (int)(k % nyr);
        if (year >= g->used_ymin && year < g->used_ymin + g->used_ny)
            g->used[(k / nyr) * (size_t)g->used_ny + (size_t)(year - g->used_ymin)] +=
                (uint32_t)groups[k].n_numbered;
    }
    free(gp);
    free(groups);
}

int gen_serials_plan(struct gen *g, const uint32_t *used, int ymin, int ny, char *errstr,
                     size_t errstr_size)
{
    rng *r = &g->plan;
    uint32_t *order;
    struct serial_group *groups;
    size_t n_groups;
    struct gap_pick *gp;

    if (g->replay) {
        count_replayed(g);
        return 0;
    }
    order = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    n_groups = serial_groups(g, order, &groups);
    if (pick_gaps(g, groups, n_groups, &gp, errstr, errstr_size) != 0) {
        free(groups);
        free(order);
        return -1;
    }
    size_t gi = 0;
    for (size_t k = 0; k < n_groups; k++) {
        const struct rec *h = &g->recs[order[groups[k].start]];
        size_t slot = ((size_t)h->unit * 2 + h->kind - 1) * (size_t)ny + (size_t)(h->year - ymin);
        /* This draw made the start of the sequence before months continued
         * each other; it stays so that the stages after this one draw what
         * they drew. */
        (void)rng_unit(r);
        uint32_t serial = 1 + used[slot];
        size_t valid_seen = 0;
        struct gap_group *gg = NULL;
        for (size_t j = 0; j < groups[k].n_numbered; j++) {
            struct rec *x = &g->recs[order[groups[k].start + j]];
            if (x->rule == R_NONE) {
                while (gi < (size_t)g->o.gaps && gp[gi].group == k && gp[gi].slot == valid_seen) {
                    if (!gg) {
                        gg = &g->gap_groups[g->n_gap_groups++];
                        gg->unit = x->unit;
                        gg->kind = x->kind;
                        gg->year = x->year;
                        gg->first_missing = g->n_missing;
                    }
                    g->missing[g->n_missing++] = serial++;
                    gg->n_missing++;
                    gi++;
                }
                valid_seen++;
            }
            x->serial = serial++;
        }
    }
    free(gp);
    free(groups);
    free(order);
    return 0;
}

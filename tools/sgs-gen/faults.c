/* sgs-gen: what a consumer must refuse or see through, each exactly as many
 * times as asked: invalid records (one rule broken each, the rules in
 * rotation; native.c writes the broken rule), records of units not in the
 * registry, messages that are not a JSON object, and duplicates (re-sent
 * valid records, their events made by resends.c). The holes in document
 * number sequences (--gaps) are serials.c's. */
#include "gen.h"

#include <stdlib.h>

#include "sgs/ident.h"

/* Names for events from units that are not in the registry. */
static const struct foreign_unit foreign_units[] = {
    {"市烟草专卖局", "烟"},           {"市邮政管理局", "邮"}, {"市消防救援支队", "消"},
    {"市税务局稽查局", "税稽"},       {"市通信管理办", "通"}, {"市地震局", "震"},
    {"市未登记数据来源单位", "未登"},
};

static const char *const not_json_texts[] = {
    "平市监罚〔2023〕15号,平顶山市某某商贸有限公司,2023-12-01,罚款",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><record><kind>penalty</kind></record>",
    "kind=license&unit_id=410423&doc_no=%E9%B2%81",
    "ERROR 504: upstream timeout while exporting records",
    "{kind: 'license', doc_no: '平交许〔2023〕8号'}",
    "record_id\tkind\tdoc_no",
    "{\"kind\": \"penalty\",, \"doc_no\": \"x\"}",
};

/* invalid records, the rules in rotation */
int gen_faults_plan_invalid(struct gen *g, uint32_t *cand, uint32_t *pick, char *errstr,
                            size_t errstr_size)
{
    rng *r = &g->plan;

    if (g->o.invalid > g->o.records) {
        snprintf(errstr, errstr_size, "--invalid: %ld is more than the %ld records", g->o.invalid,
                 g->o.records);
        return -1;
    }
    for (size_t i = 0; i < g->n_recs; i++)
        cand[i] = (uint32_t)i;
    gen_pick_k(r, cand, g->n_recs, NULL, (size_t)g->o.invalid, pick);
    for (long k = 0; k < g->o.invalid; k++) {
        struct rec *rc2 = &g->recs[pick[k]];
        rc2->rule = (uint8_t)(1 + k % (N_RULES - 1));
        if (rc2->rule == R_BAD_VALIDITY)
            rc2->kind = KIND_LICENSE;
        else if (rc2->rule == R_BAD_AMOUNT)
            rc2->kind = KIND_PENALTY;
    }
    return 0;
}

/* Units that are not in the registry: credit codes of real shape that no id or
 * alias of the registry has. */
void gen_faults_plan_unknown(struct gen *g)
{
    rng *r = &g->plan;
    size_t ndays = (size_t)(g->last - g->first + 1);
    if (g->o.unknown <= 0)
        return;
    g->foreign = calloc(ARRAY_LEN(foreign_units), sizeof(*g->foreign));
    for (size_t i = 0; i < ARRAY_LEN(foreign_units); i++) {
        const struct foreign_unit *fu = &foreign_units[i];
        char full[128];
        /* a name the registry knows would let the national adapter find a unit */
        snprintf(full, sizeof(full), "平顶山%s", fu->name);
        int last = i + 1 == ARRAY_LEN(foreign_units); /* the fallback name */
        if (last ? g->n_foreign > 0
                 : (sgs_registry_find(g->reg, fu->name, strlen(fu->name)) ||
                    sgs_registry_find(g->reg, full, strlen(full))))
            continue;
        struct foreign_id *f = &g->foreign[g->n_foreign++];
        f->fu = fu;
        do {
            char s17[18];
            snprintf(s17, sizeof(s17), "11410400MB%07u", (unsigned)(rng_next(r) % 10000000u));
            memcpy(f->id, s17, 17);
            f->id[17] = sgs_uscc_check_char(s17);
            f->id[18] = '\0';
        } while (sgs_registry_find(g->reg, f->id, 18));
        snprintf(f->auth_name, sizeof(f->auth_name), "%s", full);
        snprintf(f->prefix[KIND_LICENSE], sizeof(f->prefix[0]), "平%.60s许", fu->abbr);
        snprintf(f->prefix[KIND_PENALTY], sizeof(f->prefix[0]), "平%.60s罚", fu->abbr);
    }
    for (long k = 0; k < g->o.unknown; k++) {
        struct rec *rc2 = &g->recs[g->n_recs + (size_t)k];
        int y, m, d;
        rc2->foreign = 1;
        rc2->unit = rng_below(r, (uint32_t)g->n_foreign);
        rc2->seed = rng_next(r);
        rc2->kind = rng_chance(r, 0.5) ? KIND_LICENSE : KIND_PENALTY;
        rc2->report_day = g->first + (sgs_day)rng_below(r, (uint32_t)ndays);
        rc2->report_ts = gen_local_instant(g, rc2->report_day, gen_time_of_day(r, 1));
        rc2->decision = rc2->report_day - (sgs_day)rng_below(r, 3);
        sgs_day_to_ymd(rc2->decision, &y, &m, &d);
        rc2->year = (uint16_t)y;
        rc2->serial = 1 + rng_below(r, 300);
        if (g->o.format == FMT_NATIONAL)
            rc2->national = 1;
        else if (g->o.format == FMT_MIXED)
            rc2->national = rng_chance(r, 0.5);
    }
}

void gen_faults_render_malformed(const struct gen *g, sgs_buf *b, const struct ev *e)
{
    rng r = {e->vseed};
    switch (g->n_recs ? e->seq % 3 : 0) {
    case 0:
        bputs(b, not_json_texts[rng_below(&r, ARRAY_LEN(not_json_texts))]);
        break;
    case 1: { /* a real event cut short */
        sgs_buf tmp = SGS_BUF_INIT;
        size_t cut;
        struct render m = {rng_next(&r), EV_RECORD, 0, 0, 0, NULL};
        gen_native_render(g, &tmp, &g->recs[e->rec], &m);
        cut = 10 + rng_below(&r, (uint32_t)(tmp.len - 11));
        while (cut > 1 && ((unsigned char)tmp.data[cut] & 0xC0) == 0x80)
            cut--;
        bmem(b, tmp.data, cut);
        sgs_buf_free(&tmp);
        break;
    }
    default:
        if (rng_chance(&r, 0.6)) {
            bputc(b, '[');
            struct render m = {rng_next(&r), EV_RECORD, 0, 0, 0, NULL};
            gen_native_render(g, b, &g->recs[e->rec], &m);
            bputc(b, ']');
        } else {
            bputs(b, rng_chance(&r, 0.5) ? "[]" : "[1,2,3]");
        }
        break;
    }
}

/* Valid records that have reported_at, re-sent later the same month; r is the
 * stream they are drawn from, other_key whether under another key. */
static int plan_resends(struct gen *g, rng *r, long count, int other_key, int64_t month_end,
                        const char *opt, char *errstr, size_t errstr_size)
{
    uint32_t *orig;
    size_t n_orig = 0;

    if (count <= 0)
        return 0;
    orig = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < g->n_recs; i++)
        if (!g->recs[i].rule && !g->recs[i].no_reported)
            orig[n_orig++] = (uint32_t)i;
    if (n_orig == 0) {
        free(orig);
        snprintf(errstr, errstr_size, "%s: no valid record with reported_at to re-send", opt);
        return -1;
    }
    for (long k = 0; k < count; k++) {
        uint32_t i = orig[rng_below(r, (uint32_t)n_orig)];
        struct rec *o = &g->recs[i];
        gen_resends_add(g, r, i, EV_DUPLICATE, month_end)->other_key = (uint8_t)other_key;
        o->resent = 1;
        g->units[o->unit].duplicates++;
    }
    free(orig);
    return 0;
}

/* Duplicates: under the same key (so in the same partition), often spelt
 * another way. */
int gen_faults_plan_duplicates(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size)
{
    return plan_resends(g, &g->plan, g->o.duplicates, 0, month_end, "--duplicates", errstr,
                        errstr_size);
}

/* --resend-other-key: duplicates under another key than their original's
 * (keys.c), from the extra stream. */
int gen_faults_plan_resends(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size)
{
    return plan_resends(g, &g->extra, g->o.resend_other_key, 1, month_end, "--resend-other-key",
                        errstr, errstr_size);
}

void gen_faults_plan_malformed(struct gen *g, int64_t month_start, int64_t month_end)
{
    rng *r = &g->plan;

    for (long k = 0; k < g->o.malformed; k++) {
        struct ev *e = &g->evs[g->n_evs];
        e->type = EV_MALFORMED;
        e->rec = g->n_recs ? rng_below(r, (uint32_t)g->n_recs) : 0;
        e->ts = month_start + (int64_t)(rng_unit(r) * (double)(month_end - month_start));
        e->vseed = rng_next(r);
        e->seq = (uint32_t)g->n_evs++;
    }
}

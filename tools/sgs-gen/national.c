/* sgs-gen: the national writer: the data items of RULES §5 (only valid
 * records are written this way), dates in the feeds' several spellings; and
 * the records of --national-by-organ, written without their source unit. */
#include "gen.h"

#include <stdlib.h>

#include "sgs/ident.h"

static const char *const subj_type_national[] = {"法人及非法人组织", "个体工商户", "自然人"};

static void national_date(sgs_buf *b, const char *key, sgs_day d, rng *r, int *first)
{
    int y, m, dd;
    char buf[32];
    sgs_day_to_ymd(d, &y, &m, &dd);
    switch (rng_below(r, 20)) {
    case 0:
    case 1:
    case 2:
    case 3:
        snprintf(buf, sizeof(buf), "%04d/%02d/%02d", y, m, dd);
        break;
    case 4:
    case 5:
    case 6:
        snprintf(buf, sizeof(buf), "%04d%02d%02d", y, m, dd);
        break;
    case 7:
    case 8:
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d 00:00:00", y, m, dd);
        break;
    default:
        snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, dd);
        break;
    }
    jkv(b, key, buf, first);
}

/* The deciding organ, name and code. A record written without its source unit
 * sometimes has the name only, where the name finds the unit. */
static void put_organ(const struct gen *g, sgs_buf *b, const struct rec *rc, const char *name_key,
                      const char *code_key, int *first)
{
    const char *auth_name, *auth_uscc;

    gen_units_authority(g, rc, &auth_name, &auth_uscc);
    jkv(b, name_key, auth_name, first);
    if (!(rc->by_organ && g->units[rc->unit].organ_by_name && (rc->seed >> 8) % 2))
        jkv(b, code_key, auth_uscc, first);
}

/* The source unit, name and code; a record of --national-by-organ has none:
 * the items left out, empty, or the placeholder code (which names no unit). */
static void put_source(const struct gen *g, sgs_buf *b, const struct rec *rc, const char *name_key,
                       const char *code_key, int *first)
{
    const char *src_name = rc->foreign ? g->foreign[rc->unit].fu->name : g->units[rc->unit].u->name;

    if (!rc->by_organ) {
        jkv(b, name_key, src_name, first);
        jkv(b, code_key, gen_units_rec_id(g, rc), first);
        return;
    }
    switch (rc->seed % 3) {
    case 0:
        break;
    case 1:
        jkv(b, name_key, "", first);
        jkv(b, code_key, "", first);
        break;
    default:
        jkv(b, code_key, SGS_USCC_PLACEHOLDER, first);
        break;
    }
}

/* National data items (RULES §5); only valid records are written this way.
 * reported_at is kept as an extra item, and the Kafka timestamp says the same. */
void gen_national_render(const struct gen *g, sgs_buf *b, const struct rec *rc,
                         const struct render *msg)
{
    struct content c;
    char buf[512];
    int first = 1;
    rng r = {rc->seed ^ 0x5DEECE66DULL};
    int lic = rc->kind == KIND_LICENSE;

    gen_fields_build(g, rc, &c);
    bputc(b, '{');
    jkv(b, lic ? "XK_XDR_MC" : "CF_XDR_MC", c.subj_name, &first);
    jkv(b, lic ? "XK_XDR_LB" : "CF_XDR_LB", subj_type_national[c.subj], &first);
    if (c.uscc[0])
        jkv(b, lic ? "XK_XDR_SHXYM" : "CF_XDR_SHXYM", c.uscc, &first);
    if (c.id_no[0]) {
        jkv(b, lic ? "XK_XDR_ZJLX" : "CF_XDR_ZJLX", "身份证", &first);
        jkv(b, lic ? "XK_XDR_ZJHM" : "CF_XDR_ZJHM", c.id_no, &first);
    }
    if (c.subj != SUBJ_NATURAL)
        jkv(b, lic ? "XK_FRDB" : "CF_FRDB", c.rep, &first);
    if (lic) {
        snprintf(buf, sizeof(buf), "%s决定书", c.lic->content);
        jkv(b, "XK_XKWS", buf, &first);
        jkey(b, "XK_WSH", &first);
        gen_serials_put_doc(g, b, rc, msg->vseed);
        jkv(b, "XK_XKLB", c.lic->category, &first);
        jkv(b, "XK_NR", c.lic->content, &first);
        national_date(b, "XK_JDRQ", rc->decision, &r, &first);
        jday(b, "XK_YXQZ", c.valid_from, &first);
        if (c.has_valid_to)
            jday(b, "XK_YXQZI", c.valid_to, &first);
        put_organ(g, b, rc, "XK_XKJG", "XK_XKJGDM", &first);
        jkv(b, "XK_ZT", "有效", &first);
        put_source(g, b, rc, "XK_LYDW", "XK_LYDWDM", &first);
    } else {
        char text[512];
        jkey(b, "CF_WSH", &first);
        gen_serials_put_doc(g, b, rc, msg->vseed);
        jkv(b, "CF_WFXW", c.pen->violation, &first);
        snprintf(buf, sizeof(buf), "经查，当事人存在%s的违法行为。", c.pen->violation);
        jkv(b, "CF_SY", buf, &first);
        jkv(b, "CF_YJ", c.pen->basis, &first);
        text[0] = '\0';
        for (size_t i = 0; i < ARRAY_LEN(gen_cat_names); i++)
            if (c.cats & (1u << i)) {
                if (text[0])
                    sappend(text, sizeof(text), ";");
                sappend(text, sizeof(text), gen_cat_names[i]);
            }
        jkv(b, "CF_CFLB", text, &first);
        gen_fields_penalty_text(&c, text, sizeof(text));
        jkv(b, "CF_NR", text, &first);
        if (c.fine >= 0) {
            gen_fields_format_wan(buf, sizeof(buf), c.fine);
            jkey(b, "CF_NR_FK", &first);
            bputs(b, buf);
        }
        if (c.confisc >= 0) {
            gen_fields_format_wan(buf, sizeof(buf), c.confisc);
            jkey(b, "CF_NR_WFFF", &first);
            bputs(b, buf);
        }
        if (c.cats & C_SUSPEND)
            jkv(b, "CF_NR_ZKDX", "许可证件", &first);
        national_date(b, "CF_JDRQ", rc->decision, &r, &first);
        jday(b, "CF_YXQ", rc->decision + 365, &first);
        jday(b, "CF_GSJZQ", rc->decision + 3 * 365, &first);
        put_organ(g, b, rc, "CF_CFJG", "CF_CFJGDM", &first);
        put_source(g, b, rc, "CF_SJLY", "CF_SJLYDM", &first);
    }
    if (!rc->no_reported)
        jkv(b, "reported_at", sgs_rfc3339_format(rc->report_ts, g->tz, buf), &first);
    gen_extras_put(b, msg, 1, &first);
    bputc(b, '}');
}

int gen_national_plan_by_organ(struct gen *g, char *errstr, size_t errstr_size)
{
    uint32_t *cand, *pick;
    size_t n = 0;

    if (g->o.by_organ <= 0)
        return 0;
    cand = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    pick = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < g->n_recs; i++)
        if (!g->recs[i].rule && g->units[g->recs[i].unit].organ_ok)
            cand[n++] = (uint32_t)i;
    if ((size_t)g->o.by_organ > n) {
        snprintf(errstr, errstr_size,
                 "--national-by-organ: %ld asked for, only %zu valid records of units that their "
                 "authority's code or name names in the registry",
                 g->o.by_organ, n);
        free(cand);
        free(pick);
        return -1;
    }
    gen_pick_k(&g->extra, cand, n, NULL, (size_t)g->o.by_organ, pick);
    for (long k = 0; k < g->o.by_organ; k++) {
        struct rec *rc = &g->recs[pick[k]];
        rc->national = rc->by_organ = 1;
        g->units[rc->unit].from_organ++;
    }
    free(cand);
    free(pick);
    return 0;
}

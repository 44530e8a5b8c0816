/* sgs-gen: the units of the registry as sources of records: each one's
 * profile (what it decides), authority name and credit code, document-number
 * prefixes, share of the month's records and lateness. */
#include "gen.h"

#include <stdlib.h>

#include "sgs/hash.h"
#include "sgs/ident.h"

/* sgs-gen's FNV-1a basis: FNV-1a's 64-bit offset basis with its last digit
 * dropped (14695981039346656037 -> 1469598103934665603), as it always was;
 * kept because every unit's random stream starts from it, and with it every
 * byte of the output for a given seed. */
#define GEN_HASH_BASIS 1469598103934665603ULL

/* City departments (RULES §6): matched by a word of the name or an alias. */
struct dept {
    const char *match[3];
    const char *abbr; /* doc-number prefix 平<abbr>许 / 平<abbr>罚 */
    double weight;    /* share of the city departments' records */
    double lic_share; /* share of licences */
    enum profile profile;
    const char *pen_prefix; /* NULL: 平<abbr>罚 */
};
static const struct dept depts[] = {
    {{"市场监", NULL, NULL}, "市监", 40, 0.55, P_MARKET, NULL},
    {{"公安", NULL, NULL}, "公", 8, 0.15, P_POLICE, "平公（治）行罚决字"},
    {{"交通", NULL, NULL}, "交", 6, 0.45, P_TRAFFIC, NULL},
    {{"卫健", "卫生", NULL}, "卫", 5, 0.6, P_HEALTH, "平卫医罚"},
    {{"房管", NULL, NULL}, "房", 1.2, 0.7, P_MISC, NULL},
    {{"住建", "住房", NULL}, "建", 4, 0.6, P_HOUSING, NULL},
    {{"城管", "城市管理", NULL}, "城管", 4, 0.25, P_URBAN, NULL},
    {{"生态", "环境", NULL}, "环", 3, 0.4, P_ENV, NULL},
    {{"应急", NULL, NULL}, "应急", 2, 0.5, P_SAFETY, NULL},
    {{"文广旅", "文化", NULL}, "文旅", 1.0, 0.6, P_MISC, NULL},
    {{"商务", NULL, NULL}, "商", 0.6, 0.6, P_MISC, NULL},
    {{"农业", NULL, NULL}, "农", 1.0, 0.5, P_MISC, NULL},
    {{"水利", NULL, NULL}, "水", 0.5, 0.6, P_MISC, NULL},
    {{"民政", NULL, NULL}, "民", 0.4, 0.8, P_MISC, NULL},
    {{"自然资源", NULL, NULL}, "自然资", 1.0, 0.5, P_MISC, NULL},
    {{"国动", "人防", NULL}, "人防", 0.3, 0.6, P_MISC, NULL},
    {{"发改", "发展和改革", NULL}, "发改", 0.5, 0.8, P_MISC, NULL},
    {{"金融", NULL, NULL}, "金", 0.2, 0.6, P_MISC, NULL},
    {{"教体", "教育", NULL}, "教体", 0.6, 0.6, P_MISC, NULL},
    {{"财政", NULL, NULL}, "财", 0.3, 0.6, P_MISC, NULL},
    {{"人社", "人力资源", NULL}, "人社", 0.8, 0.5, P_MISC, NULL},
    {{"司法", NULL, NULL}, "司", 0.4, 0.6, P_MISC, NULL},
    {{"审计", NULL, NULL}, "审", 0.1, 0.2, P_MISC, NULL},
    {{"统计", NULL, NULL}, "统", 0.2, 0.3, P_MISC, NULL},
    {{"粮食", NULL, NULL}, "粮", 0.3, 0.6, P_MISC, NULL},
    {{"林业", NULL, NULL}, "林", 0.4, 0.6, P_MISC, NULL},
    {{"气象", NULL, NULL}, "气", 0.3, 0.6, P_MISC, NULL},
    {{"医疗保障", "医保", NULL}, "医保", 0.5, 0.4, P_MISC, NULL},
};

static int name_matches(const sgs_unit *u, const char *word)
{
    if (strstr(u->name, word))
        return 1;
    for (size_t i = 0; i < u->n_aliases; i++)
        if (strstr(u->aliases[i], word))
            return 1;
    return 0;
}

static void take_chars(const char *s, size_t nchars, char *out, size_t cap)
{
    size_t i = 0, n = 0;
    while (s[i] && n <= nchars) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == nchars)
                break;
            n++;
        }
        i++;
    }
    if (i >= cap)
        i = cap - 1;
    memcpy(out, s, i);
    out[i] = '\0';
}

static uint64_t hash_str(const char *s)
{
    return sgs_hash_fnv1a_from(GEN_HASH_BASIS, s, strlen(s));
}

static void setup_unit(struct gen *g, struct gunit *gu)
{
    const sgs_unit *u = gu->u;
    rng r = {hash_str(u->id) ^ g->o.seed};
    char short_name[64];

    gu->is_city = starts_with(u->name, "市") || strcmp(u->group, "city") == 0;
    gu->misc = -1;
    gu->area = &gen_areas[0];
    if (!gu->is_city) {
        for (size_t i = 0; i < gen_n_areas; i++)
            if (strcmp(u->id, gen_areas[i].code) == 0 || strstr(u->name, gen_areas[i].name))
                gu->area = &gen_areas[i];
    }

    /* authority */
    if (sgs_uscc_check(u->id, strlen(u->id)) == SGS_USCC_OK) {
        memcpy(gu->auth_uscc, u->id, 19);
    } else {
        rng hr = {hash_str(u->name)};
        char s17[18];
        snprintf(s17, sizeof(s17), "11%s00%07u", gu->area->code,
                 (unsigned)(rng_next(&hr) % 10000000u));
        memcpy(gu->auth_uscc, s17, 17);
        gu->auth_uscc[17] = sgs_uscc_check_char(s17);
        gu->auth_uscc[18] = '\0';
    }

    if (gu->is_city) {
        const struct dept *dp = NULL;
        for (size_t i = 0; i < ARRAY_LEN(depts) && !dp; i++)
            for (size_t j = 0; j < 3 && depts[i].match[j]; j++)
                if (name_matches(u, depts[i].match[j])) {
                    dp = &depts[i];
                    break;
                }
        gu->auth_name[0] = '\0';
        for (size_t i = 0; i < u->n_aliases; i++)
            if (starts_with(u->aliases[i], "平顶山市")) {
                snprintf(gu->auth_name, sizeof(gu->auth_name), "%s", u->aliases[i]);
                break;
            }
        if (!gu->auth_name[0])
            snprintf(gu->auth_name, sizeof(gu->auth_name), "%s%s",
                     starts_with(u->name, "市") ? "平顶山" : "平顶山市", u->name);
        snprintf(gu->place, sizeof(gu->place), "平顶山市");
        if (dp) {
            gu->profile = dp->profile;
            gu->weight =
                (dp->profile == P_MISC ? 2.0 : 1.0) * dp->weight * exp(0.25 * rng_normal(&r));
            gu->lic_share = dp->lic_share;
            snprintf(gu->prefix[KIND_LICENSE], sizeof(gu->prefix[0]), "平%s许", dp->abbr);
            if (dp->pen_prefix)
                snprintf(gu->prefix[KIND_PENALTY], sizeof(gu->prefix[0]), "%s", dp->pen_prefix);
            else
                snprintf(gu->prefix[KIND_PENALTY], sizeof(gu->prefix[0]), "平%s罚", dp->abbr);
        } else {
            char abbr[16];
            take_chars(starts_with(u->name, "市") ? u->name + 3 : u->name, 2, abbr, sizeof(abbr));
            gu->profile = P_MISC;
            gu->weight = 0.8 * exp(0.5 * rng_normal(&r));
            gu->lic_share = 0.5;
            snprintf(gu->prefix[KIND_LICENSE], sizeof(gu->prefix[0]), "平%s许", abbr);
            snprintf(gu->prefix[KIND_PENALTY], sizeof(gu->prefix[0]), "平%s罚", abbr);
        }
        if (gu->profile == P_MISC)
            for (size_t i = 0; i < gen_n_misc_items; i++)
                if (name_matches(u, gen_misc_items[i].match)) {
                    gu->misc = (int)i;
                    break;
                }
    } else {
        if (utf8_chars(u->name) <= 3)
            snprintf(short_name, sizeof(short_name), "%s", u->name);
        else if (strstr(u->name, "示范区"))
            snprintf(short_name, sizeof(short_name), "平示范区");
        else if (strstr(u->name, "高新"))
            snprintf(short_name, sizeof(short_name), "平高新区");
        else {
            char two[16];
            take_chars(u->name, 2, two, sizeof(two));
            snprintf(short_name, sizeof(short_name), "平%s", two);
        }
        snprintf(gu->auth_name, sizeof(gu->auth_name), "%s%s市场监督管理局",
                 utf8_chars(u->name) <= 3 ? "" : "平顶山市", u->name);
        snprintf(gu->place, sizeof(gu->place), "%s",
                 gu->area != &gen_areas[0]  ? gu->area->name
                 : utf8_chars(u->name) <= 3 ? u->name
                                            : "平顶山市");
        snprintf(gu->prefix[KIND_LICENSE], sizeof(gu->prefix[0]), "%s市监许", short_name);
        snprintf(gu->prefix[KIND_PENALTY], sizeof(gu->prefix[0]), "%s市监罚", short_name);
        gu->profile = P_MARKET;
        gu->weight = exp(0.45 * rng_normal(&r));
        gu->lic_share = 0.45 + 0.2 * rng_unit(&r);
    }
    /* lateness differs a lot between units: a third are almost never late */
    gu->late_prop = rng_chance(&r, 0.33) ? 0.02 : exp(0.9 * rng_normal(&r));
}

/* How readers find the unit other than by its id: an alias id (--key alias),
 * and its authority as the deciding organ (--national-by-organ), looked up as
 * a national reader does: by the organ's code, else by its name. */
static void other_names(const struct gen *g, struct gunit *gu)
{
    const sgs_unit *u = gu->u, *by_id, *by_name;

    for (size_t i = 0; i < u->n_aliases && !gu->alias_id; i++)
        if (sgs_registry_find_id(g->reg, u->aliases[i], strlen(u->aliases[i])) == u)
            gu->alias_id = u->aliases[i];
    by_id = sgs_uscc_is_placeholder(gu->auth_uscc, strlen(gu->auth_uscc))
                ? NULL
                : sgs_registry_find_id(g->reg, gu->auth_uscc, strlen(gu->auth_uscc));
    by_name = sgs_registry_find(g->reg, gu->auth_name, strlen(gu->auth_name));
    gu->organ_ok = by_id == u || (by_id == NULL && by_name == u);
    gu->organ_by_name = by_name == u;
}

void gen_units_setup(struct gen *g)
{
    size_t n_city = 0, n_county = 0;
    double w_city = 0, w_county = 0;

    g->n_units = sgs_registry_count(g->reg);
    g->units = calloc(g->n_units ? g->n_units : 1, sizeof(*g->units));
    for (size_t i = 0; i < g->n_units; i++) {
        g->units[i].u = sgs_registry_at(g->reg, i);
        setup_unit(g, &g->units[i]);
        other_names(g, &g->units[i]);
        if (g->units[i].is_city) {
            n_city++;
            w_city += g->units[i].weight;
        } else {
            n_county++;
            w_county += g->units[i].weight;
        }
    }
    /* ≈1,100 of ≈11,100 records from city departments (RULES §6) */
    for (size_t i = 0; i < g->n_units; i++) {
        struct gunit *gu = &g->units[i];
        double share = (n_city && n_county) ? (gu->is_city ? 1100.0 : 10000.0) : 1.0;
        gu->weight = share * gu->weight / (gu->is_city ? w_city : w_county);
    }
    /* one or two units with nothing, a few with very little (about 0.1 of an average
     * city department): chosen among the smaller city departments, or any units
     * when there are few of those */
    if (g->n_units >= 5) {
        rng r = {g->o.seed ^ 0xA5A5A5A5ULL};
        size_t n_zero = 1 + rng_below(&r, 2), n_few = 3, cand[512], n_cand = 0;
        double mean = 0;
        for (size_t i = 0; i < g->n_units && n_cand < ARRAY_LEN(cand); i++)
            if (g->units[i].is_city || n_city < 5) {
                cand[n_cand++] = i;
                mean += g->units[i].weight;
            }
        mean /= (double)(n_cand ? n_cand : 1);
        /* sort candidates by weight ascending (insertion sort, few) */
        for (size_t i = 1; i < n_cand; i++) {
            size_t v = cand[i], j = i;
            while (j > 0 && g->units[cand[j - 1]].weight > g->units[v].weight) {
                cand[j] = cand[j - 1];
                j--;
            }
            cand[j] = v;
        }
        for (size_t k = 0; k < n_cand && k < n_zero + n_few; k++) {
            /* pick among the smaller half so that it is not always the same unit */
            size_t pool = n_cand / 2 > k + 1 ? n_cand / 2 : k + 1;
            size_t j = k + rng_below(&r, (uint32_t)(pool - k));
            size_t t = cand[k];
            cand[k] = cand[j];
            cand[j] = t;
            g->units[cand[k]].weight = k < n_zero ? 0.0 : mean * (0.05 + 0.1 * rng_unit(&r));
        }
    }
}

/* Largest-remainder allocation of n over weights: exact and deterministic. */
void gen_units_allocate(long n, const double *w, size_t k, long *out)
{
    double sum = 0;
    long given = 0;
    double *frac = malloc((k ? k : 1) * sizeof(double));
    for (size_t i = 0; i < k; i++)
        sum += w[i];
    for (size_t i = 0; i < k; i++) {
        double q = sum > 0 ? (double)n * w[i] / sum : 0;
        out[i] = (long)floor(q);
        frac[i] = q - floor(q);
        given += out[i];
    }
    while (given < n && sum > 0) {
        size_t best = k;
        for (size_t i = 0; i < k; i++)
            if (w[i] > 0 && (best == k || frac[i] > frac[best]))
                best = i;
        if (best == k)
            break;
        out[best]++;
        frac[best] = -1;
        given++;
        if (given < n) { /* all remainders used: start another round */
            int left = 0;
            for (size_t i = 0; i < k; i++)
                left |= frac[i] >= 0 && w[i] > 0;
            if (!left)
                for (size_t i = 0; i < k; i++)
                    frac[i] = w[i] / sum;
        }
    }
    free(frac);
}

const char *gen_units_rec_id(const struct gen *g, const struct rec *rc)
{
    return rc->foreign ? g->foreign[rc->unit].id : g->units[rc->unit].u->id;
}

void gen_units_authority(const struct gen *g, const struct rec *rc, const char **name,
                         const char **uscc)
{
    if (rc->foreign) {
        *name = g->foreign[rc->unit].auth_name;
        *uscc = g->foreign[rc->unit].id;
    } else {
        *name = g->units[rc->unit].auth_name;
        *uscc = g->units[rc->unit].auth_uscc;
    }
}

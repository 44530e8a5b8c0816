/* sgs-gen: a record's fields, derived from the record's own seed (so a record
 * renders the same wherever it is re-sent): the subject (a company, a shop or
 * a person, with a credit code or resident ID of real shape), the licence or
 * the penalty (categories, fine, confiscation, suspension), the text of a
 * penalty, fines in 万元. */
#include "gen.h"

#include <inttypes.h>

#include "sgs/ident.h"

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高",
    "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "程",
    "曹", "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁",
    "魏", "薛", "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "任", "姜", "范",
    "方", "石", "姚", "谭", "廖", "邹", "熊", "金", "陆", "郝", "孔", "白", "崔", "康", "毛",
    "邱", "秦", "江", "史", "顾", "侯", "邵", "孟", "龙", "段", "雷", "汤", "尹", "常", "武",
    "乔", "贺", "龚", "文", "牛", "樊", "葛", "翟", "申", "付"};
static const char *const given_chars[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "志", "红",
    "海", "鹏", "飞", "斌", "辉", "鑫", "宇", "浩", "凯", "晨", "晓", "雪", "梅", "林", "峰",
    "波", "婷", "琳", "欣", "博", "文", "俊", "亮", "成", "龙", "振", "永", "春", "利", "新",
    "怡", "佳", "子", "涵", "思", "雨", "泽", "一", "诺", "梓", "轩", "彤", "瑞", "帅", "旭"};
static const char *const brand_words[] = {
    "鑫源", "华通",   "瑞丰", "恒泰",   "金鼎", "宏达", "博远", "嘉禾",   "盛世", "顺达",
    "天成", "永兴",   "福润", "佳美",   "汇丰", "正阳", "鹰城", "尧山",   "龙腾", "新锐",
    "众诚", "泰和",   "德润", "锦程",   "广源", "安泰", "隆昌", "昊天",   "润泽", "晨光",
    "凯旋", "兴业",   "和美", "东方",   "百川", "万家", "聚福", "康宁",   "益民", "豫丰",
    "中鼎", "华信",   "宏远", "明辉",   "祥瑞", "金源", "亿达", "联创",   "天瑞", "诚信",
    "丰收", "绿源",   "春晖", "腾飞",   "恒通", "世纪", "金盾", "新天地", "银河", "汇通",
    "沙河", "白龟湖", "香山", "石人山", "翰林", "御景", "九州", "信合",   "中州", "建业"};
static const char *const brand_suffix[] = {"达", "祥", "鑫", "通", "源", "盛", "兴", "和"};
static const char *const coop_kinds[] = {"种植", "养殖", "农机", "果蔬", "中药材"};

const char gen_uscc_alphabet[32] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static void make_uscc(rng *r, char out[19], const char *head2, const char *area, int old_style)
{
    memcpy(out, head2, 2);
    memcpy(out + 2, area, 6);
    if (old_style) { /* an organisation code from before 2015: 8 digits + check */
        for (int i = 8; i < 16; i++)
            out[i] = (char)('0' + rng_below(r, 10));
        out[16] = rng_chance(r, 0.1) ? 'X' : (char)('0' + rng_below(r, 10));
    } else {
        out[8] = 'M';
        out[9] = 'A';
        for (int i = 10; i < 17; i++)
            out[i] = gen_uscc_alphabet[rng_below(r, 31)];
    }
    out[17] = '\0';
    out[17] = sgs_uscc_check_char(out);
    out[18] = '\0';
}

static void make_id_no(rng *r, char out[19], const char *area)
{
    int y, m, d;
    sgs_day birth = sgs_day_from_ymd(1950, 1, 1) + (sgs_day)rng_below(r, 20000); /* to 2004 */
    sgs_day_to_ymd(birth, &y, &m, &d);
    snprintf(out, 19, "%.6s%04d%02d%02d%03u", area, y, m, d, 1 + rng_below(r, 998));
    out[17] = sgs_idno_check_char(out);
    out[18] = '\0';
}

static void person_name(rng *r, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", PICK(r, surnames), PICK(r, given_chars),
             rng_chance(r, 0.7) ? PICK(r, given_chars) : "");
}

/* Fine in 万元 as exact decimal text from an amount in yuan. */
void gen_fields_format_wan(char *out, size_t cap, long yuan)
{
    long ip = yuan / 10000, fp = yuan % 10000;
    if (fp == 0) {
        snprintf(out, cap, "%ld", ip);
        return;
    }
    char frac[8];
    snprintf(frac, sizeof(frac), "%04ld", fp);
    for (int i = 3; i > 0 && frac[i] == '0'; i--)
        frac[i] = '\0';
    snprintf(out, cap, "%ld.%s", ip, frac);
}

static const long fine_ladder[] = {
    20,    50,    100,   200,   300,   500,   800,    1000,   1500,   2000,   3000,   5000,   8000,
    10000, 15000, 20000, 30000, 50000, 80000, 100000, 150000, 200000, 300000, 500000, 1000000};

static long pick_fine(rng *r, long lo, long hi)
{
    size_t idx[ARRAY_LEN(fine_ladder)], n = 0;
    for (size_t i = 0; i < ARRAY_LEN(fine_ladder); i++)
        if (fine_ladder[i] >= lo && fine_ladder[i] <= hi)
            idx[n++] = i;
    if (n == 0)
        return lo > 0 ? lo : 1000;
    /* lower amounts are more common */
    double u = rng_unit(r);
    return fine_ladder[idx[(size_t)(u * u * (double)n)]];
}

static const char *const cn_numbers[] = {"一", "二", "三", "四", "五",   "六",
                                         "七", "八", "九", "十", "十一", "十二"};

static int pick_subject(rng *r, const double *w, unsigned who)
{
    double ws[3], sum = 0;
    for (int i = 0; i < 3; i++) {
        ws[i] = (who & (1u << i)) ? w[i] + 0.01 : 0;
        sum += ws[i];
    }
    if (sum <= 0)
        return SUBJ_LEGAL;
    double u = rng_unit(r) * sum;
    for (int i = 0; i < 3; i++) {
        if (u < ws[i])
            return i;
        u -= ws[i];
    }
    return SUBJ_LEGAL;
}

static void legal_name(rng *r, const struct gunit *gu, const struct profile_def *pd, char *out,
                       size_t cap, int *coop)
{
    char brand[32];
    const char *place = gu ? gu->place : "平顶山市";
    snprintf(brand, sizeof(brand), "%s%s", PICK(r, brand_words),
             rng_chance(r, 0.2) ? PICK(r, brand_suffix) : "");
    double u = rng_unit(r);
    if (u < 0.08)
        place = "河南";
    else if (u < 0.12)
        place = "河南省";
    *coop = rng_chance(r, 0.05);
    if (*coop) {
        snprintf(out, cap, "%s%s%s专业合作社", gu ? gu->place : "平顶山市", brand,
                 PICK(r, coop_kinds));
        return;
    }
    double f = rng_unit(r);
    const char *form = f < 0.62   ? "有限公司"
                       : f < 0.9  ? "有限责任公司"
                       : f < 0.95 ? "股份有限公司"
                                  : "有限公司分公司";
    const char *ind = pd->industries[rng_below(r, (uint32_t)pd->n_industries)];
    if (strcmp(form, "有限公司分公司") == 0)
        snprintf(out, cap, "河南%s%s有限公司%s分公司", brand, ind,
                 gu && !gu->is_city ? gu->place : "平顶山");
    else
        snprintf(out, cap, "%s%s%s%s", place, brand, ind, form);
}

static void shop_name(rng *r, const struct gunit *gu, const struct profile_def *pd, char *out,
                      size_t cap)
{
    char brand[32];
    const char *sn = PICK(r, surnames);
    switch (rng_below(r, 5)) {
    case 0:
        snprintf(brand, sizeof(brand), "%s记", sn);
        break;
    case 1:
        snprintf(brand, sizeof(brand), "老%s", sn);
        break;
    case 2:
        snprintf(brand, sizeof(brand), "小%s", sn);
        break;
    case 3:
        snprintf(brand, sizeof(brand), "%s", PICK(r, brand_words));
        break;
    default:
        snprintf(brand, sizeof(brand), "%s%s", sn, PICK(r, given_chars));
        break;
    }
    const char *shop = pd->shops[rng_below(r, (uint32_t)pd->n_shops)];
    if (rng_chance(r, 0.3))
        snprintf(out, cap, "%s%s", brand, shop);
    else
        snprintf(out, cap, "%s%s%s", gu ? gu->place : "平顶山市", brand, shop);
}

static const struct lic_item *pick_lic(rng *r, enum profile p, int misc)
{
    if (p == P_MISC)
        return &gen_misc_items[misc >= 0 ? (size_t)misc : rng_below(r, (uint32_t)gen_n_misc_items)]
                    .lic;
    return &gen_profiles[p].lic[rng_below(r, (uint32_t)gen_profiles[p].n_lic)];
}

static const struct pen_item *pick_pen(rng *r, enum profile p, int misc)
{
    if (p == P_MISC)
        return &gen_misc_items[misc >= 0 ? (size_t)misc : rng_below(r, (uint32_t)gen_n_misc_items)]
                    .pen;
    return &gen_profiles[p].pen[rng_below(r, (uint32_t)gen_profiles[p].n_pen)];
}

void gen_fields_build(const struct gen *g, const struct rec *rc, struct content *c)
{
    rng r = {rc->seed};
    const struct gunit *gu = rc->foreign ? NULL : &g->units[rc->unit];
    enum profile prof = gu ? gu->profile : P_MARKET;
    int misc = gu ? gu->misc : -1;
    const struct profile_def *pd = &gen_profiles[prof];
    const struct area *area = gu ? gu->area : &gen_areas[0];
    int forced = rc->rule == R_BAD_USCC ? SUBJ_LEGAL : rc->rule == R_BAD_ID_NO ? SUBJ_NATURAL : -1;
    unsigned who;

    memset(c, 0, sizeof(*c));
    c->fine = c->confisc = -1;
    c->variant = (int)rng_below(&r, 6);
    if (rc->kind == KIND_LICENSE) {
        for (int tries = 0; tries < 16; tries++) {
            c->lic = pick_lic(&r, prof, misc);
            if (forced < 0 || (c->lic->who & (1u << forced)))
                break;
        }
        who = c->lic->who;
        c->subj = forced >= 0 ? forced : pick_subject(&r, pd->subj_lic, who);
    } else {
        for (int tries = 0; tries < 16; tries++) {
            c->pen = pick_pen(&r, prof, misc);
            if (forced < 0 || (c->pen->who & (1u << forced)))
                break;
        }
        who = c->pen->who;
        c->subj = forced >= 0 ? forced : pick_subject(&r, pd->subj_pen, who);
    }

    /* subject */
    const char *subj_area =
        rng_chance(&r, 0.75) ? area->code : gen_areas[rng_below(&r, (uint32_t)gen_n_areas)].code;
    person_name(&r, c->rep, sizeof(c->rep));
    if (c->subj == SUBJ_LEGAL) {
        int coop;
        legal_name(&r, gu, pd, c->subj_name, sizeof(c->subj_name), &coop);
        make_uscc(&r, c->uscc, coop ? "93" : "91", subj_area, rng_chance(&r, 0.15));
    } else if (c->subj == SUBJ_INDIV) {
        shop_name(&r, gu, pd, c->subj_name, sizeof(c->subj_name));
        if (rng_chance(&r, 0.15))
            strcpy(c->uscc, "00000000000000000X");
        else
            make_uscc(&r, c->uscc, "92", subj_area, 0);
    } else {
        snprintf(c->subj_name, sizeof(c->subj_name), "%s", c->rep);
        /* people are registered in a district or county, not at the city level */
        make_id_no(&r, c->id_no,
                   strcmp(subj_area, gen_areas[0].code)
                       ? subj_area
                       : gen_areas[1 + rng_below(&r, (uint32_t)gen_n_areas - 1)].code);
    }

    /* decision content */
    if (rc->kind == KIND_LICENSE) {
        c->valid_from = rc->decision + (rng_chance(&r, 0.8) ? 0 : (sgs_day)rng_below(&r, 4));
        if (c->lic->years > 0 || rng_chance(&r, 0.3)) {
            int y, m, d, years = c->lic->years > 0 ? c->lic->years : 5;
            sgs_day_to_ymd(c->valid_from, &y, &m, &d);
            if (m == 2 && d == 29)
                d = 28;
            c->has_valid_to = 1;
            c->valid_to = sgs_day_from_ymd(y + years, m, d) - 1;
        }
    } else {
        c->cats = rng_chance(&r, 0.75) ? c->pen->cats : c->pen->alt_cats;
        if (c->subj != SUBJ_NATURAL)
            c->cats &= ~(unsigned)C_DETAIN;
        if (c->cats == 0)
            c->cats = C_WARN;
        if (c->cats & C_FINE)
            c->fine = pick_fine(&r, c->pen->fine_min, c->pen->fine_max);
        if (c->cats & C_CONFISC)
            c->confisc = 100 * rng_range(&r, 1, 300);
        if (c->cats & C_DETAIN)
            c->detain_days = (int)PICK(&r, ((const int[]){3, 5, 7, 10, 15}));
        if (c->cats & C_STOP)
            c->stop_days = (int)PICK(&r, ((const int[]){7, 10, 15, 30, 60}));
        if (c->cats & C_SUSPEND)
            c->suspend_months = (int)rng_range(&r, 1, 6);
    }
    if (rng_chance(&r, 0.6)) {
        int y, m, d;
        sgs_day_to_ymd(rc->decision, &y, &m, &d);
        snprintf(c->record_id, sizeof(c->record_id), "%s%04d%02d%02d%08" PRIu32,
                 rc->kind == KIND_LICENSE ? "XK" : "CF", y, m, d,
                 (uint32_t)(rng_next(&r) % 100000000u));
    }
}

void gen_fields_penalty_text(const struct content *c, char *out, size_t cap)
{
    char part[128];
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_LEN(gen_cat_names); i++) {
        unsigned bit = 1u << i;
        if (!(c->cats & bit))
            continue;
        switch (bit) {
        case C_FINE:
            snprintf(part, sizeof(part), "罚款人民币%ld元", c->fine);
            break;
        case C_CONFISC:
            snprintf(part, sizeof(part), "没收违法所得%ld元", c->confisc);
            break;
        case C_CONFPROP:
            snprintf(part, sizeof(part), "没收涉案物品");
            break;
        case C_DETAIN:
            snprintf(part, sizeof(part), "行政拘留%d日", c->detain_days);
            break;
        case C_STOP:
            snprintf(part, sizeof(part), "责令停产停业%d日", c->stop_days);
            break;
        case C_SUSPEND:
            snprintf(part, sizeof(part), "暂扣许可证件%s个月", cn_numbers[c->suspend_months - 1]);
            break;
        default:
            snprintf(part, sizeof(part), "%s", gen_cat_names[i]);
            break;
        }
        if (out[0])
            sappend(out, cap, "；");
        sappend(out, cap, part);
    }
}

/* sgs-gen: generates one month of realistic record events (DESIGN.md §3, the
 * national data items of DOMAIN.md §5) and, from its own choices (not by parsing
 * its output), the exact counters a correct consumer ends up with (--expect).
 *
 * How the ground truth stays exact:
 * - every record is planned first (unit, kind, report day, late or on time,
 *   invalid rule), then dated: a late record gets a decision date whose deadline
 *   (sgs_calendar_deadline) is before its report day, an on-time one a date whose
 *   deadline is on or after it; invalid records are always on time (or have no
 *   deadline at all), so "late" never depends on how a rule failure is handled;
 * - every invalid record breaks exactly one rule and is written in the native
 *   format (the national adapter has no say in it);
 * - document numbers are consecutive per (unit, kind, year); invalid records take
 *   the serials above all valid ones, so whether a consumer keeps their numbers or
 *   not, the only holes are the ones --gaps asked for;
 * - a duplicate re-sends a valid record that has reported_at, later in the stream,
 *   under the same key (so in the same partition), often with another spelling of
 *   its document number; counts are per report month, which is the same.
 * - every message produced carries a Kafka timestamp inside the month (its send
 *   time), so messages without a usable reported_at (malformed ones, the
 *   --no-reported-at share) fall into the month too; --no-timestamps leaves the
 *   timestamp to librdkafka.
 *
 * Text in events is built from literals of this file only (no quotes, no
 * backslashes, valid UTF-8), so it is written into JSON without escaping. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/date.h"
#include "sgs/ident.h"
#include "sgs/kafkaconf.h"
#include "sgs/log.h"
#include "sgs/registry.h"

extern char **environ;

#define EXIT_USAGE   2
#define EXIT_RUNTIME 1

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream for the plan and one per record for
 * its content, so a record renders the same wherever it is re-sent. */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static int rng_chance(rng *r, double p)
{
    return rng_unit(r) < p;
}

static double rng_normal(rng *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static long rng_range(rng *r, long lo, long hi) /* inclusive */
{
    return lo + (long)rng_below(r, (uint32_t)(hi - lo + 1));
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)ARRAY_LEN(arr))])

/* ------------------------------------------------------------------------ */
/* Output buffer appends with the common case inline (the buffer is reserved per
 * event); the sgs_buf functions handle growth and allocation failure. */

static inline void bmem(sgs_buf *b, const char *p, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else {
        sgs_buf_append(b, p, n);
    }
}

static inline void bputs(sgs_buf *b, const char *s)
{
    bmem(b, s, strlen(s));
}

static inline void bputc(sgs_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        sgs_buf_putc(b, c);
    }
}

/* ------------------------------------------------------------------------ */
/* Domain tables */

enum { WHO_L = 1, WHO_I = 2, WHO_N = 4, WHO_ALL = 7 };
enum { SUBJ_LEGAL = 0, SUBJ_INDIV = 1, SUBJ_NATURAL = 2 };
static const char *const subj_type_native[] = {"legal_person", "individual_business",
                                               "natural_person"};
static const char *const subj_type_national[] = {"法人及非法人组织", "个体工商户", "自然人"};

enum kind { KIND_LICENSE = 1, KIND_PENALTY = 2 };

/* Penalty categories (行政处罚法 2021 art. 9), bit i = name i. */
enum {
    C_WARN = 1 << 0,
    C_CRITIC = 1 << 1,
    C_FINE = 1 << 2,
    C_CONFISC = 1 << 3,
    C_CONFPROP = 1 << 4,
    C_SUSPEND = 1 << 5,
    C_LOWER = 1 << 6,
    C_REVOKE = 1 << 7,
    C_LIMIT = 1 << 8,
    C_STOP = 1 << 9,
    C_CLOSE = 1 << 10,
    C_BAN = 1 << 11,
    C_DETAIN = 1 << 12,
    C_OTHER = 1 << 13,
};
static const char *const cat_names[] = {"警告",         "通报批评",     "罚款",
                                        "没收违法所得", "没收非法财物", "暂扣许可证件",
                                        "降低资质等级", "吊销许可证件", "限制开展生产经营活动",
                                        "责令停产停业", "责令关闭",     "限制从业",
                                        "行政拘留",     "其他"};

struct lic_item {
    const char *content;
    const char *category; /* 普通 特许 认可 核准 登记 其他 */
    int years;            /* validity in years, 0: no end date */
    unsigned who;
};

struct pen_item {
    const char *violation;
    const char *basis;
    unsigned cats, alt_cats;
    long fine_min, fine_max; /* yuan, when C_FINE */
    unsigned who;
};

enum profile {
    P_MARKET,
    P_POLICE,
    P_TRAFFIC,
    P_HEALTH,
    P_HOUSING,
    P_URBAN,
    P_ENV,
    P_SAFETY,
    P_MISC,
    N_PROFILES
};

static const struct lic_item lic_market[] = {
    {"食品经营许可", "普通", 5, WHO_L | WHO_I}, {"食品生产许可", "普通", 5, WHO_L},
    {"小餐饮经营许可", "普通", 3, WHO_I},       {"药品零售企业经营许可", "普通", 5, WHO_L | WHO_I},
    {"特种设备使用登记", "登记", 0, WHO_L},     {"食品小作坊登记", "登记", 3, WHO_I},
    {"工业产品生产许可", "普通", 5, WHO_L},     {"计量标准考核", "认可", 4, WHO_L},
};
static const struct pen_item pen_market[] = {
    {"销售超过保质期的食品", "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
     C_FINE | C_CONFISC, C_FINE, 5000, 50000, WHO_ALL},
    {"未按规定公示食品经营许可证", "《食品经营许可和备案管理办法》第五十三条", C_WARN,
     C_WARN | C_FINE, 1000, 5000, WHO_L | WHO_I},
    {"经营不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条第一款",
     C_FINE | C_CONFISC | C_CONFPROP, C_FINE | C_CONFISC, 50000, 150000, WHO_L | WHO_I},
    {"发布虚假广告", "《中华人民共和国广告法》第五十五条第一款", C_FINE, C_FINE | C_CONFISC, 10000,
     200000, WHO_L},
    {"不明码标价", "《明码标价和禁止价格欺诈规定》第二十一条", C_FINE, C_WARN, 500, 5000,
     WHO_L | WHO_I},
    {"特种设备未经定期检验继续使用", "《中华人民共和国特种设备安全法》第八十四条第（一）项",
     C_FINE | C_STOP, C_FINE, 30000, 300000, WHO_L},
    {"销售不合格产品", "《中华人民共和国产品质量法》第五十条", C_FINE | C_CONFISC, C_FINE, 2000,
     30000, WHO_ALL},
    {"未取得食品经营许可从事食品经营活动", "《中华人民共和国食品安全法》第一百二十二条第一款",
     C_FINE | C_CONFISC | C_CONFPROP, C_FINE | C_CONFPROP, 50000, 100000, WHO_I | WHO_N},
};

static const struct lic_item lic_police[] = {
    {"旅馆业特种行业许可", "特许", 0, WHO_L | WHO_I},
    {"公章刻制业特种行业许可", "特许", 0, WHO_L | WHO_I},
    {"大型群众性活动安全许可", "普通", 0, WHO_L},
    {"剧毒化学品购买许可", "普通", 1, WHO_L},
    {"烟花爆竹道路运输许可", "普通", 1, WHO_L},
    {"保安服务许可", "普通", 0, WHO_L},
};
static const struct pen_item pen_police[] = {
    {"殴打他人", "《中华人民共和国治安管理处罚法》第四十三条第一款", C_DETAIN | C_FINE, C_DETAIN,
     200, 500, WHO_N},
    {"参与赌博赌资较大", "《中华人民共和国治安管理处罚法》第七十条", C_DETAIN | C_FINE, C_FINE, 500,
     3000, WHO_N},
    {"无证驾驶机动车", "《中华人民共和国道路交通安全法》第九十九条第一款第（一）项",
     C_FINE | C_DETAIN, C_FINE, 200, 2000, WHO_N},
    {"饮酒后驾驶机动车", "《中华人民共和国道路交通安全法》第九十一条第一款", C_FINE | C_SUSPEND,
     C_FINE | C_SUSPEND, 1000, 2000, WHO_N},
    {"旅馆未按规定登记住宿旅客身份信息", "《中华人民共和国反恐怖主义法》第八十六条第二款", C_FINE,
     C_WARN, 10000, 100000, WHO_L | WHO_I},
    {"违反规定燃放烟花爆竹", "《烟花爆竹安全管理条例》第四十二条第二款", C_FINE, C_FINE, 100, 500,
     WHO_N},
};

static const struct lic_item lic_traffic[] = {
    {"道路货物运输经营许可", "普通", 4, WHO_L | WHO_I},
    {"道路旅客运输经营许可", "普通", 4, WHO_L},
    {"出租汽车经营许可", "特许", 6, WHO_L},
    {"超限运输车辆行驶公路许可", "普通", 1, WHO_L | WHO_I},
    {"道路运输从业人员从业资格", "认可", 6, WHO_N},
    {"机动车驾驶员培训经营许可", "普通", 4, WHO_L},
};
static const struct pen_item pen_traffic[] = {
    {"未取得道路运输经营许可擅自从事道路普通货物运输经营",
     "《中华人民共和国道路运输条例》第六十三条", C_FINE | C_CONFISC, C_FINE, 10000, 100000,
     WHO_ALL},
    {"车辆超限运输", "《公路安全保护条例》第六十四条", C_FINE, C_FINE, 500, 30000, WHO_ALL},
    {"客运车辆不按批准的客运站点停靠", "《中华人民共和国道路运输条例》第六十九条", C_FINE, C_WARN,
     1000, 3000, WHO_L | WHO_N},
    {"巡游出租汽车驾驶员拒载", "《巡游出租汽车经营服务管理规定》第四十六条", C_FINE, C_WARN, 200,
     500, WHO_N},
    {"未按规定携带车辆营运证", "《中华人民共和国道路运输条例》第六十八条", C_WARN, C_WARN | C_FINE,
     20, 200, WHO_ALL},
};

static const struct lic_item lic_health[] = {
    {"医疗机构执业许可", "普通", 5, WHO_L | WHO_I},
    {"公共场所卫生许可", "普通", 4, WHO_L | WHO_I},
    {"放射诊疗许可", "普通", 4, WHO_L},
    {"医师执业注册", "认可", 0, WHO_N},
    {"护士执业注册", "认可", 5, WHO_N},
    {"生活饮用水供水单位卫生许可", "普通", 4, WHO_L},
};
static const struct pen_item pen_health[] = {
    {"公共场所未取得卫生许可证擅自营业", "《公共场所卫生管理条例实施细则》第三十五条第一款",
     C_WARN | C_FINE, C_WARN, 500, 5000, WHO_L | WHO_I},
    {"未取得医疗机构执业许可证擅自执业",
     "《中华人民共和国基本医疗卫生与健康促进法》第九十九条第一款", C_FINE | C_CONFISC | C_CONFPROP,
     C_FINE | C_CONFPROP, 50000, 200000, WHO_I | WHO_N},
    {"使用非卫生技术人员从事医疗卫生技术工作", "《医疗机构管理条例》第四十七条", C_FINE,
     C_WARN | C_FINE, 5000, 30000, WHO_L | WHO_I},
    {"供水单位水质不符合国家卫生标准", "《生活饮用水卫生监督管理办法》第二十六条", C_WARN | C_FINE,
     C_FINE, 200, 5000, WHO_L},
    {"从业人员未取得健康合格证明上岗", "《公共场所卫生管理条例实施细则》第三十八条",
     C_WARN | C_FINE, C_WARN, 500, 5000, WHO_L | WHO_I},
};

static const struct lic_item lic_housing[] = {
    {"建筑工程施工许可", "普通", 0, WHO_L},       {"商品房预售许可", "普通", 0, WHO_L},
    {"建筑业企业资质核准", "核准", 5, WHO_L},     {"燃气经营许可", "特许", 3, WHO_L},
    {"房地产开发企业资质核定", "核准", 3, WHO_L},
};
static const struct pen_item pen_housing[] = {
    {"未取得施工许可证擅自施工", "《中华人民共和国建筑法》第六十四条", C_FINE, C_FINE | C_STOP,
     10000, 100000, WHO_L},
    {"违反工程建设强制性标准", "《建设工程质量管理条例》第六十七条", C_FINE, C_FINE | C_LOWER,
     200000, 500000, WHO_L},
    {"施工工地未采取扬尘污染防治措施", "《中华人民共和国大气污染防治法》第一百一十五条第一款",
     C_FINE | C_STOP, C_FINE, 10000, 100000, WHO_L},
    {"未取得商品房预售许可证擅自预售", "《城市房地产开发经营管理条例》第三十九条",
     C_FINE | C_CONFISC, C_FINE, 10000, 100000, WHO_L},
};

static const struct lic_item lic_urban[] = {
    {"城市建筑垃圾处置核准", "核准", 1, WHO_L | WHO_I},
    {"设置大型户外广告审批", "普通", 2, WHO_L | WHO_I},
    {"临时占用城市道路许可", "普通", 1, WHO_ALL},
    {"城市道路挖掘许可", "普通", 1, WHO_L},
};
static const struct pen_item pen_urban[] = {
    {"擅自占用城市道路摆摊设点", "《城市市容和环境卫生管理条例》第三十六条第（二）项",
     C_WARN | C_FINE, C_WARN, 50, 500, WHO_I | WHO_N},
    {"未经批准擅自设置户外广告", "《城市市容和环境卫生管理条例》第三十六条第（三）项", C_FINE,
     C_WARN | C_FINE, 500, 5000, WHO_L | WHO_I},
    {"随意倾倒建筑垃圾", "《城市建筑垃圾管理规定》第二十六条", C_FINE, C_FINE, 5000, 50000,
     WHO_ALL},
    {"擅自挖掘城市道路", "《城市道路管理条例》第四十二条", C_FINE, C_WARN | C_FINE, 500, 20000,
     WHO_L},
};

static const struct lic_item lic_env[] = {
    {"排污许可", "普通", 5, WHO_L},
    {"建设项目环境影响评价文件审批", "普通", 0, WHO_L},
    {"危险废物经营许可", "普通", 5, WHO_L},
    {"辐射安全许可", "普通", 5, WHO_L},
};
static const struct pen_item pen_env[] = {
    {"超过大气污染物排放标准排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条第（二）项",
     C_FINE | C_STOP, C_FINE, 100000, 1000000, WHO_L},
    {"建设项目环境影响报告表未经批准擅自开工建设",
     "《中华人民共和国环境影响评价法》第三十一条第一款", C_FINE, C_FINE | C_STOP, 50000, 200000,
     WHO_L},
    {"未按照国家环境保护标准贮存危险废物",
     "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款第（六）项", C_FINE,
     C_FINE | C_CLOSE, 100000, 1000000, WHO_L},
    {"未依法取得排污许可证排放污染物", "《排污许可管理条例》第三十三条", C_FINE | C_STOP,
     C_FINE | C_CLOSE, 200000, 1000000, WHO_L | WHO_I},
};

static const struct lic_item lic_safety[] = {
    {"危险化学品经营许可", "普通", 3, WHO_L},
    {"烟花爆竹经营（零售）许可", "普通", 1, WHO_L | WHO_I},
    {"非煤矿山安全生产许可", "普通", 3, WHO_L},
    {"危险化学品安全使用许可", "普通", 3, WHO_L},
};
static const struct pen_item pen_safety[] = {
    {"未按照规定对从业人员进行安全生产教育和培训",
     "《中华人民共和国安全生产法》第九十七条第（三）项", C_FINE, C_FINE | C_STOP, 10000, 100000,
     WHO_L},
    {"未建立事故隐患排查治理制度", "《中华人民共和国安全生产法》第一百零一条第（五）项",
     C_FINE | C_STOP, C_FINE, 20000, 100000, WHO_L},
    {"未取得危险化学品经营许可证从事经营", "《危险化学品安全管理条例》第七十七条第三款",
     C_FINE | C_CONFISC | C_CONFPROP, C_FINE | C_CONFPROP, 100000, 200000, WHO_L | WHO_I},
    {"烟花爆竹零售点超量储存", "《烟花爆竹安全管理条例》第三十八条", C_FINE | C_CONFPROP,
     C_WARN | C_FINE, 2000, 20000, WHO_I},
};

/* Departments without a profile of their own: one licence and one penalty each,
 * matched by a word of the unit name. Unmatched units draw from all of them. */
struct misc_item {
    const char *match;
    struct lic_item lic;
    struct pen_item pen;
};
static const struct misc_item misc_items[] = {
    {"文",
     {"娱乐场所经营许可", "普通", 0, WHO_L | WHO_I},
     {"娱乐场所未按规定悬挂未成年人禁入标志", "《娱乐场所管理条例》第五十条", C_WARN | C_FINE,
      C_WARN, 5000, 20000, WHO_L | WHO_I}},
    {"商务",
     {"成品油零售经营资格审批", "普通", 5, WHO_L},
     {"未按规定办理单用途商业预付卡备案", "《单用途商业预付卡管理办法（试行）》第三十六条", C_FINE,
      C_WARN, 10000, 30000, WHO_L}},
    {"农",
     {"农药经营许可", "普通", 5, WHO_L | WHO_I},
     {"经营假农药", "《农药管理条例》第五十五条第一款", C_FINE | C_CONFISC | C_CONFPROP,
      C_FINE | C_CONFISC, 5000, 50000, WHO_L | WHO_I}},
    {"水利",
     {"取水许可", "普通", 5, WHO_L},
     {"未经批准擅自取水", "《中华人民共和国水法》第六十九条第（二）项", C_FINE, C_FINE, 20000,
      100000, WHO_L | WHO_I}},
    {"民政",
     {"民办非企业单位成立登记", "登记", 0, WHO_L},
     {"社会组织未按规定接受年度检查", "《民办非企业单位登记管理暂行条例》第二十五条", C_WARN,
      C_WARN | C_FINE, 1000, 5000, WHO_L}},
    {"自然资源",
     {"建设用地规划许可", "普通", 0, WHO_L},
     {"非法占用土地", "《中华人民共和国土地管理法》第七十七条第一款", C_FINE | C_CONFPROP, C_FINE,
      50000, 500000, WHO_ALL}},
    {"国动",
     {"拆除人民防空工程审批", "普通", 0, WHO_L},
     {"未按规定修建防空地下室", "《中华人民共和国人民防空法》第四十八条", C_WARN | C_FINE, C_WARN,
      10000, 50000, WHO_L}},
    {"发",
     {"固定资产投资项目节能审查", "核准", 0, WHO_L},
     {"未按规定进行节能审查擅自开工建设", "《固定资产投资项目节能审查办法》第二十八条",
      C_STOP | C_FINE, C_STOP, 10000, 50000, WHO_L}},
    {"金融",
     {"典当行设立审核", "核准", 0, WHO_L},
     {"小额贷款公司超范围经营", "《河南省地方金融监督管理条例》第五十八条", C_WARN | C_FINE, C_FINE,
      10000, 100000, WHO_L}},
    {"教",
     {"民办学校办学许可", "普通", 5, WHO_L},
     {"民办学校违规招生", "《中华人民共和国民办教育促进法》第六十二条", C_WARN | C_FINE, C_WARN,
      10000, 50000, WHO_L}},
    {"财政",
     {"代理记账许可", "普通", 0, WHO_L},
     {"代理记账机构未按规定报送备案信息", "《代理记账管理办法》第二十八条", C_WARN, C_WARN | C_FINE,
      1000, 20000, WHO_L}},
    {"人",
     {"人力资源服务许可", "普通", 0, WHO_L},
     {"用人单位未按规定办理社会保险登记", "《中华人民共和国社会保险法》第八十四条", C_FINE, C_FINE,
      1000, 30000, WHO_L | WHO_I}},
    {"司法",
     {"基层法律服务工作者执业核准", "核准", 0, WHO_N},
     {"律师违规收取费用", "《律师和律师事务所违法行为处罚办法》第十三条", C_WARN | C_CONFISC,
      C_WARN, 0, 0, WHO_N}},
    {"审计",
     {"内部审计机构设立核准", "其他", 0, WHO_L},
     {"拒绝提供与审计事项有关的资料", "《中华人民共和国审计法》第四十七条", C_WARN | C_FINE,
      C_CRITIC, 2000, 50000, WHO_L}},
    {"统计",
     {"涉外调查机构资格认定", "认可", 3, WHO_L},
     {"拒绝提供统计资料", "《中华人民共和国统计法》第四十一条第一款", C_WARN | C_FINE, C_WARN,
      10000, 50000, WHO_L | WHO_I}},
    {"粮",
     {"粮食收购资格认定", "认可", 3, WHO_L | WHO_I},
     {"粮食收购者未按规定备案", "《粮食流通管理条例》第四十六条", C_WARN | C_FINE, C_WARN, 2000,
      50000, WHO_L | WHO_I}},
    {"林",
     {"林木采伐许可", "普通", 1, WHO_ALL},
     {"滥伐林木", "《中华人民共和国森林法》第七十六条第二款", C_FINE, C_FINE | C_OTHER, 1000, 30000,
      WHO_ALL}},
    {"气象",
     {"雷电防护装置设计审核", "普通", 0, WHO_L},
     {"防雷装置未经竣工验收擅自投入使用", "《气象灾害防御条例》第四十五条", C_WARN | C_FINE, C_FINE,
      10000, 50000, WHO_L}},
    {"医疗保障",
     {"定点医药机构协议管理", "其他", 1, WHO_L | WHO_I},
     {"定点医药机构违规结算医疗保障基金", "《医疗保障基金使用监督管理条例》第三十八条",
      C_FINE | C_CONFISC, C_FINE, 10000, 100000, WHO_L | WHO_I}},
    {"房",
     {"房屋租赁登记备案", "登记", 0, WHO_L | WHO_N},
     {"房地产经纪机构未按规定公示服务信息", "《房地产经纪管理办法》第三十五条", C_WARN | C_FINE,
      C_FINE, 1000, 10000, WHO_L}},
};

struct profile_def {
    const struct lic_item *lic;
    size_t n_lic;
    const struct pen_item *pen;
    size_t n_pen;
    double subj_lic[3], subj_pen[3]; /* legal, individual business, natural person */
    const char *const *industries;
    size_t n_industries;
    const char *const *shops;
    size_t n_shops;
};

static const char *const ind_market[] = {"商贸",     "食品",     "餐饮管理", "超市",
                                         "医药连锁", "农副产品", "电子科技", "服饰",
                                         "酒业",     "粮油",     "日用品",   "供应链管理"};
static const char *const ind_police[] = {"酒店管理", "宾馆",     "保安服务",
                                         "印章",     "文化传媒", "烟花爆竹"};
static const char *const ind_traffic[] = {"物流", "运输",     "汽车服务",
                                          "客运", "出租汽车", "驾驶员培训"};
static const char *const ind_health[] = {"医院管理", "医疗器械", "健康管理",
                                         "口腔医疗", "养老服务", "水务"};
static const char *const ind_housing[] = {"建筑工程", "建设",     "房地产开发",
                                          "建材",     "装饰工程", "燃气"};
static const char *const ind_urban[] = {"广告", "建筑垃圾清运", "环卫服务", "市政工程", "园林绿化"};
static const char *const ind_env[] = {"化工",     "机械制造", "新材料", "煤业",
                                      "环保科技", "陶瓷",     "焦化"};
static const char *const ind_safety[] = {"化工", "能源", "燃气", "矿业", "烟花爆竹", "石化"};
static const char *const ind_misc[] = {"科技",     "文化传媒", "农业开发", "教育咨询",
                                       "信息技术", "置业",     "实业",     "投资管理"};

static const char *const shop_market[] = {
    "烩面馆",   "便利店", "副食店", "烟酒店", "饭店",   "超市",   "水果店",   "粮油店",
    "百货商店", "早餐店", "烧烤店", "大药房", "熟食店", "蛋糕店", "羊肉汤馆", "饺子馆"};
static const char *const shop_traffic[] = {"汽修部", "货运部", "洗车行", "汽车配件门市部"};
static const char *const shop_health[] = {"诊所", "美容院", "理发店", "足疗店", "浴池"};
static const char *const shop_other[] = {"五金店", "建材门市部", "农资店", "服装店", "手机店",
                                         "网吧",   "台球厅",     "宾馆",   "广告部", "家电维修部"};

#define LIST(a) a, ARRAY_LEN(a)
static const struct profile_def profiles[N_PROFILES] = {
    [P_MARKET] = {LIST(lic_market),
                  LIST(pen_market),
                  {30, 60, 10},
                  {40, 50, 10},
                  LIST(ind_market),
                  LIST(shop_market)},
    [P_POLICE] = {LIST(lic_police),
                  LIST(pen_police),
                  {80, 20, 0},
                  {10, 10, 80},
                  LIST(ind_police),
                  LIST(shop_other)},
    [P_TRAFFIC] = {LIST(lic_traffic),
                   LIST(pen_traffic),
                   {45, 30, 25},
                   {40, 25, 35},
                   LIST(ind_traffic),
                   LIST(shop_traffic)},
    [P_HEALTH] = {LIST(lic_health),
                  LIST(pen_health),
                  {40, 35, 25},
                  {35, 45, 20},
                  LIST(ind_health),
                  LIST(shop_health)},
    [P_HOUSING] = {LIST(lic_housing),
                   LIST(pen_housing),
                   {100, 0, 0},
                   {100, 0, 0},
                   LIST(ind_housing),
                   LIST(shop_other)},
    [P_URBAN] = {LIST(lic_urban),
                 LIST(pen_urban),
                 {50, 35, 15},
                 {20, 40, 40},
                 LIST(ind_urban),
                 LIST(shop_other)},
    [P_ENV] =
        {LIST(lic_env), LIST(pen_env), {100, 0, 0}, {90, 10, 0}, LIST(ind_env), LIST(shop_other)},
    [P_SAFETY] = {LIST(lic_safety),
                  LIST(pen_safety),
                  {80, 20, 0},
                  {70, 30, 0},
                  LIST(ind_safety),
                  LIST(shop_other)},
    [P_MISC] = {NULL, 0, NULL, 0, {60, 25, 15}, {55, 25, 20}, LIST(ind_misc), LIST(shop_other)},
};

/* City departments (DOMAIN §6): matched by a word of the name or an alias. */
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

/* Pingdingshan's area codes (GB/T 2260). */
struct area {
    const char *code;
    const char *name;
};
static const struct area areas[] = {
    {"410400", "平顶山市"}, {"410402", "新华区"}, {"410403", "卫东区"}, {"410404", "石龙区"},
    {"410411", "湛河区"},   {"410421", "宝丰县"}, {"410422", "叶县"},   {"410423", "鲁山县"},
    {"410425", "郏县"},     {"410481", "舞钢市"}, {"410482", "汝州市"},
};

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

/* Names for events from units that are not in the registry. */
struct foreign_unit {
    const char *name;
    const char *abbr;
};
static const struct foreign_unit foreign_units[] = {
    {"市烟草专卖局", "烟"},           {"市邮政管理局", "邮"}, {"市消防救援支队", "消"},
    {"市税务局稽查局", "税稽"},       {"市通信管理办", "通"}, {"市地震局", "震"},
    {"市未登记数据来源单位", "未登"},
};

/* Doc numbers that fail bad_doc_no (normalised length outside 4..64). */
static const char *const junk_doc_nos[] = {
    "无", "暂无", "12", "罚-1",
    "关于对当事人违法行为给予行政处罚的决定书，文书号由系统自动生成，导入时误将文书标题及其正文摘要"
    "填入本字段，请核实后重新报送，平顶山市信用信息共享平台数据校验提示"};

static const char *const not_json_texts[] = {
    "平市监罚〔2023〕15号,平顶山市某某商贸有限公司,2023-12-01,罚款",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><record><kind>penalty</kind></record>",
    "kind=license&unit_id=410423&doc_no=%E9%B2%81",
    "ERROR 504: upstream timeout while exporting records",
    "{kind: 'license', doc_no: '平交许〔2023〕8号'}",
    "record_id\tkind\tdoc_no",
    "{\"kind\": \"penalty\",, \"doc_no\": \"x\"}",
};

/* ------------------------------------------------------------------------ */
/* Units and the plan */

struct gunit {
    const sgs_unit *u;
    int is_city;
    enum profile profile;
    int misc; /* misc_items index for P_MISC, -1: draw per record */
    const struct area *area;
    double weight, lic_share, late_prop;
    char auth_name[160];
    char auth_uscc[19];
    char prefix[3][96]; /* indexed by kind */
    char place[64];     /* place name used in subject names */
    /* expectation */
    long records, late, invalid, duplicates, licenses, penalties;
};

enum rule {
    R_NONE = 0,
    R_BAD_USCC,
    R_BAD_ID_NO,
    R_MISSING_FIELD,
    R_BAD_DATE,
    R_FUTURE_DECISION,
    R_BAD_VALIDITY,
    R_BAD_AMOUNT,
    R_BAD_KIND,
    R_BAD_DOC_NO,
    N_RULES
};

struct rec {
    uint64_t seed;     /* content */
    int64_t report_ts; /* Unix seconds */
    sgs_day decision;  /* the real decision date (bad_date writes a false one) */
    sgs_day report_day;
    uint32_t serial; /* 0: no serial (junk doc_no) */
    uint32_t unit;   /* index into units, or into foreign ids when foreign */
    uint16_t year;   /* year of the doc number */
    uint8_t kind;
    uint8_t rule;
    uint8_t late;
    uint8_t national;
    uint8_t no_reported;
    uint8_t foreign; /* unit not in the registry */
};

enum ev_type { EV_RECORD, EV_DUPLICATE, EV_MALFORMED };

struct ev {
    int64_t ts; /* send time, Unix seconds */
    uint64_t vseed;
    uint32_t seq;
    uint32_t rec; /* record index (EV_RECORD, EV_DUPLICATE) */
    uint8_t type;
};

struct foreign_id {
    char id[19];
    const struct foreign_unit *fu;
    char auth_name[160];
    char prefix[3][96];
};

struct gap_group { /* one (unit, kind, year) sequence with holes */
    uint32_t unit;
    uint8_t kind;
    uint16_t year;
    size_t first_missing, n_missing; /* into gen.missing */
};

enum out_format { FMT_NATIVE, FMT_NATIONAL, FMT_MIXED };

struct opts {
    const char *config_file;
    char **xs;
    size_t n_xs;
    const char *month;
    uint64_t seed;
    int have_seed;
    long records;
    double late_share;
    long invalid, duplicates, malformed, unknown, gaps;
    enum out_format format;
    const char *out;
    int produce;
    const char *expect;
    double no_reported_share;
    int no_timestamps;
};

#define DL_BEFORE 120 /* days of deadlines cached before the month */
#define DL_AFTER  40

struct gen {
    struct opts o;
    sgs_config *cfg;
    sgs_registry *reg;
    sgs_calendar *cal;
    int workdays[3];
    int count_decision_day;
    int tz;
    int year, month;
    sgs_day first, last;
    rng plan;

    struct gunit *units;
    size_t n_units;

    struct rec *recs;
    size_t n_recs;     /* registry records */
    size_t n_all_recs; /* + foreign ones after them */
    struct foreign_id *foreign;
    size_t n_foreign;

    struct ev *evs;
    size_t n_evs;

    struct gap_group *gap_groups;
    size_t n_gap_groups;
    uint32_t *missing;
    size_t n_missing;

    sgs_day dl_base;
    size_t dl_n;
    sgs_day *deadline[3]; /* by kind, day dl_base + i */

    long n_late;
};

/* ------------------------------------------------------------------------ */
/* Small text helpers */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void sappend(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + m + 1 > cap)
        m = cap - n - 1;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

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
            out[i] = uscc_alphabet[rng_below(r, 31)];
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
static void format_wan(char *out, size_t cap, long yuan)
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

/* ------------------------------------------------------------------------ */
/* Record content, derived from the record's own seed */

struct content {
    int subj;
    char subj_name[200];
    char uscc[19]; /* "" none */
    char id_no[19];
    char rep[32]; /* legal representative / operator */
    const struct lic_item *lic;
    const struct pen_item *pen;
    unsigned cats;
    long fine, confisc; /* yuan, -1 none */
    int detain_days, stop_days, suspend_months;
    sgs_day valid_from;
    int has_valid_to;
    sgs_day valid_to;
    char record_id[40];
    int variant; /* which form of the broken rule */
};

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
        return &misc_items[misc >= 0 ? (size_t)misc : rng_below(r, ARRAY_LEN(misc_items))].lic;
    return &profiles[p].lic[rng_below(r, (uint32_t)profiles[p].n_lic)];
}

static const struct pen_item *pick_pen(rng *r, enum profile p, int misc)
{
    if (p == P_MISC)
        return &misc_items[misc >= 0 ? (size_t)misc : rng_below(r, ARRAY_LEN(misc_items))].pen;
    return &profiles[p].pen[rng_below(r, (uint32_t)profiles[p].n_pen)];
}

static void build_content(const struct gen *g, const struct rec *rc, struct content *c)
{
    rng r = {rc->seed};
    const struct gunit *gu = rc->foreign ? NULL : &g->units[rc->unit];
    enum profile prof = gu ? gu->profile : P_MARKET;
    int misc = gu ? gu->misc : -1;
    const struct profile_def *pd = &profiles[prof];
    const struct area *area = gu ? gu->area : &areas[0];
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
    const char *subj_area = rng_chance(&r, 0.75) ? area->code : PICK(&r, areas).code;
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
                   strcmp(subj_area, areas[0].code)
                       ? subj_area
                       : areas[1 + rng_below(&r, ARRAY_LEN(areas) - 1)].code);
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

/* ------------------------------------------------------------------------ */
/* Document numbers */

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

static const char *rec_unit_id(const struct gen *g, const struct rec *rc)
{
    return rc->foreign ? g->foreign[rc->unit].id : g->units[rc->unit].u->id;
}

static void put_doc_field(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed)
{
    bputc(b, '"');
    if (rc->rule == R_BAD_DOC_NO)
        bputs(b, junk_doc_nos[rc->seed % ARRAY_LEN(junk_doc_nos)]);
    else
        put_doc_no(b, rec_prefix(g, rc), rc->year, rc->serial, vseed);
    bputc(b, '"');
}

/* ------------------------------------------------------------------------ */
/* JSON writing (text is safe by construction, see the top of the file) */

static void jkey(sgs_buf *b, const char *key, int *first)
{
    if (!*first)
        bputc(b, ',');
    *first = 0;
    bputc(b, '"');
    bputs(b, key);
    bputs(b, "\":");
}

static void jstr(sgs_buf *b, const char *s)
{
    bputc(b, '"');
    bputs(b, s);
    bputc(b, '"');
}

static void jkv(sgs_buf *b, const char *key, const char *s, int *first)
{
    jkey(b, key, first);
    jstr(b, s);
}

static void jkv_or_null(sgs_buf *b, const char *key, const char *s, int *first)
{
    jkey(b, key, first);
    if (s && *s)
        jstr(b, s);
    else
        bputs(b, "null");
}

static void jday(sgs_buf *b, const char *key, sgs_day d, int *first)
{
    char buf[16];
    jkv(b, key, sgs_day_format(d, buf), first);
}

static void penalty_text(const struct content *c, char *out, size_t cap)
{
    char part[128];
    out[0] = '\0';
    for (size_t i = 0; i < ARRAY_LEN(cat_names); i++) {
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
            snprintf(part, sizeof(part), "%s", cat_names[i]);
            break;
        }
        if (out[0])
            sappend(out, cap, "；");
        sappend(out, cap, part);
    }
}

static void bad_check(char *code, const char *alphabet)
{
    /* replace the last character by another one of the alphabet */
    const char *p = strchr(alphabet, code[17]);
    size_t n = strlen(alphabet), i = p ? (size_t)(p - alphabet) : 0;
    code[17] = alphabet[(i + 1 + (unsigned char)code[9] % (n - 1)) % n];
}

static void render_native(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed,
                          int with_ts_field, int64_t ts_ms)
{
    struct content c;
    char buf[512];
    int first = 1;
    const struct gunit *gu = rc->foreign ? NULL : &g->units[rc->unit];
    const char *auth_name = gu ? gu->auth_name : g->foreign[rc->unit].auth_name;
    const char *auth_uscc = gu ? gu->auth_uscc : g->foreign[rc->unit].id;
    char auth_bad[19];

    build_content(g, rc, &c);
    bputc(b, '{');
    if (c.record_id[0])
        jkv(b, "record_id", c.record_id, &first);
    jkv(b, "kind", rc->kind == KIND_LICENSE ? "license" : "penalty", &first);
    jkv(b, "unit_id", rec_unit_id(g, rc), &first);
    jkey(b, "doc_no", &first);
    put_doc_field(g, b, rc, vseed);
    if (rc->rule == R_BAD_DATE) {
        int y, m, d;
        static const char *const bad_md[] = {"02-30", "02-31", "04-31", "06-31",
                                             "09-31", "11-31", "13-01", "00-15"};
        sgs_day_to_ymd(rc->report_day, &y, &m, &d);
        snprintf(buf, sizeof(buf), "%04d-%s", y, bad_md[rc->seed % ARRAY_LEN(bad_md)]);
        jkv(b, "decision_date", buf, &first);
    } else {
        jday(b, "decision_date", rc->decision, &first);
    }
    if (!rc->no_reported)
        jkv(b, "reported_at", sgs_rfc3339_format(rc->report_ts, g->tz, buf), &first);

    /* subject */
    jkey(b, "subject", &first);
    {
        int f2 = 1;
        bputc(b, '{');
        if (rc->rule == R_MISSING_FIELD && c.variant % 2 == 0)
            jkv(b, "name", "", &f2);
        else
            jkv(b, "name", c.subj_name, &f2);
        jkv(b, "type", subj_type_native[c.subj], &f2);
        if (rc->rule == R_BAD_USCC && c.variant % 3 != 2)
            bad_check(c.uscc, uscc_alphabet);
        jkv_or_null(b, "uscc", c.uscc, &f2);
        if (rc->rule == R_BAD_ID_NO) {
            if (c.variant % 2 == 0) {
                bad_check(c.id_no, "10X98765432");
            } else { /* a birth date that does not exist, with a right check digit */
                memcpy(c.id_no + 10, "0230", 4);
                c.id_no[17] = sgs_idno_check_char(c.id_no);
            }
        }
        jkv_or_null(b, "id_no", c.id_no, &f2);
        bputc(b, '}');
    }
    jkey(b, "authority", &first);
    {
        int f2 = 1;
        bputc(b, '{');
        if (!(rc->rule == R_MISSING_FIELD && c.variant % 2 == 1))
            jkv(b, "name", auth_name, &f2);
        if (rc->rule == R_BAD_USCC && c.variant % 3 == 2) {
            memcpy(auth_bad, auth_uscc, 19);
            bad_check(auth_bad, uscc_alphabet);
            auth_uscc = auth_bad;
        }
        jkv(b, "uscc", auth_uscc, &f2);
        bputc(b, '}');
    }

    /* license / penalty */
    jkey(b, "license", &first);
    if (rc->kind == KIND_LICENSE && rc->rule != R_BAD_KIND) {
        int f2 = 1;
        bputc(b, '{');
        jkv(b, "category", c.lic->category, &f2);
        jkv(b, "content", c.lic->content, &f2);
        jday(b, "valid_from", c.valid_from, &f2);
        if (rc->rule == R_BAD_VALIDITY)
            jday(b, "valid_to", c.valid_from - 1 - (sgs_day)(rc->seed % 400), &f2);
        else if (c.has_valid_to)
            jday(b, "valid_to", c.valid_to, &f2);
        else
            jkv_or_null(b, "valid_to", NULL, &f2);
        bputc(b, '}');
    } else {
        bputs(b, "null");
    }
    jkey(b, "penalty", &first);
    if (rc->kind == KIND_PENALTY && rc->rule != R_BAD_KIND) {
        int f2 = 1, f3 = 1;
        char text[512];
        bputc(b, '{');
        jkey(b, "category", &f2);
        bputc(b, '[');
        for (size_t i = 0; i < ARRAY_LEN(cat_names); i++)
            if (c.cats & (1u << i)) {
                if (!f3)
                    bputc(b, ',');
                f3 = 0;
                jstr(b, cat_names[i]);
            }
        bputc(b, ']');
        penalty_text(&c, text, sizeof(text));
        jkv(b, "content", text, &f2);
        jkey(b, "fine_amount", &f2);
        if (rc->rule == R_BAD_AMOUNT) {
            format_wan(buf, sizeof(buf), c.fine > 0 ? c.fine : 5000);
            bputc(b, '-');
            bputs(b, buf);
        } else if (c.fine >= 0) {
            format_wan(buf, sizeof(buf), c.fine);
            bputs(b, buf);
        } else {
            bputs(b, "null");
        }
        jkv(b, "violation", c.pen->violation, &f2);
        jkv(b, "basis", c.pen->basis, &f2);
        bputc(b, '}');
    } else {
        bputs(b, "null");
    }
    if (with_ts_field) {
        jkey(b, "_kafka_timestamp_ms", &first);
        sgs_buf_put_i64(b, ts_ms);
    }
    bputc(b, '}');
}

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

/* National data items (DOMAIN §5); only valid records are written this way.
 * reported_at is kept as an extra item, and the Kafka timestamp says the same. */
static void render_national(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed,
                            int with_ts_field, int64_t ts_ms)
{
    struct content c;
    char buf[512];
    int first = 1;
    const struct gunit *gu = rc->foreign ? NULL : &g->units[rc->unit];
    const char *auth_name = gu ? gu->auth_name : g->foreign[rc->unit].auth_name;
    const char *auth_uscc = gu ? gu->auth_uscc : g->foreign[rc->unit].id;
    const char *src_name = gu ? gu->u->name : g->foreign[rc->unit].fu->name;
    rng r = {rc->seed ^ 0x5DEECE66DULL};
    int lic = rc->kind == KIND_LICENSE;

    build_content(g, rc, &c);
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
        put_doc_field(g, b, rc, vseed);
        jkv(b, "XK_XKLB", c.lic->category, &first);
        jkv(b, "XK_NR", c.lic->content, &first);
        national_date(b, "XK_JDRQ", rc->decision, &r, &first);
        jday(b, "XK_YXQZ", c.valid_from, &first);
        if (c.has_valid_to)
            jday(b, "XK_YXQZI", c.valid_to, &first);
        jkv(b, "XK_XKJG", auth_name, &first);
        jkv(b, "XK_XKJGDM", auth_uscc, &first);
        jkv(b, "XK_ZT", "有效", &first);
        jkv(b, "XK_LYDW", src_name, &first);
        jkv(b, "XK_LYDWDM", rec_unit_id(g, rc), &first);
    } else {
        char text[512];
        jkey(b, "CF_WSH", &first);
        put_doc_field(g, b, rc, vseed);
        jkv(b, "CF_WFXW", c.pen->violation, &first);
        snprintf(buf, sizeof(buf), "经查，当事人存在%s的违法行为。", c.pen->violation);
        jkv(b, "CF_SY", buf, &first);
        jkv(b, "CF_YJ", c.pen->basis, &first);
        text[0] = '\0';
        for (size_t i = 0; i < ARRAY_LEN(cat_names); i++)
            if (c.cats & (1u << i)) {
                if (text[0])
                    sappend(text, sizeof(text), ";");
                sappend(text, sizeof(text), cat_names[i]);
            }
        jkv(b, "CF_CFLB", text, &first);
        penalty_text(&c, text, sizeof(text));
        jkv(b, "CF_NR", text, &first);
        if (c.fine >= 0) {
            format_wan(buf, sizeof(buf), c.fine);
            jkey(b, "CF_NR_FK", &first);
            bputs(b, buf);
        }
        if (c.confisc >= 0) {
            format_wan(buf, sizeof(buf), c.confisc);
            jkey(b, "CF_NR_WFFF", &first);
            bputs(b, buf);
        }
        if (c.cats & C_SUSPEND)
            jkv(b, "CF_NR_ZKDX", "许可证件", &first);
        national_date(b, "CF_JDRQ", rc->decision, &r, &first);
        jday(b, "CF_YXQ", rc->decision + 365, &first);
        jday(b, "CF_GSJZQ", rc->decision + 3 * 365, &first);
        jkv(b, "CF_CFJG", auth_name, &first);
        jkv(b, "CF_CFJGDM", auth_uscc, &first);
        jkv(b, "CF_SJLY", src_name, &first);
        jkv(b, "CF_SJLYDM", rec_unit_id(g, rc), &first);
    }
    if (!rc->no_reported)
        jkv(b, "reported_at", sgs_rfc3339_format(rc->report_ts, g->tz, buf), &first);
    if (with_ts_field) {
        jkey(b, "_kafka_timestamp_ms", &first);
        sgs_buf_put_i64(b, ts_ms);
    }
    bputc(b, '}');
}

static void render_record(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed,
                          int with_ts_field, int64_t ts_ms)
{
    if (rc->national)
        render_national(g, b, rc, vseed, with_ts_field, ts_ms);
    else
        render_native(g, b, rc, vseed, with_ts_field, ts_ms);
}

static void render_malformed(const struct gen *g, sgs_buf *b, const struct ev *e)
{
    rng r = {e->vseed};
    switch (g->n_recs ? e->seq % 3 : 0) {
    case 0:
        bputs(b, not_json_texts[rng_below(&r, ARRAY_LEN(not_json_texts))]);
        break;
    case 1: { /* a real event cut short */
        sgs_buf tmp = SGS_BUF_INIT;
        size_t cut;
        render_native(g, &tmp, &g->recs[e->rec], rng_next(&r), 0, 0);
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
            render_native(g, b, &g->recs[e->rec], rng_next(&r), 0, 0);
            bputc(b, ']');
        } else {
            bputs(b, rng_chance(&r, 0.5) ? "[]" : "[1,2,3]");
        }
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Setup: units */

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
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void setup_unit(struct gen *g, struct gunit *gu)
{
    const sgs_unit *u = gu->u;
    rng r = {hash_str(u->id) ^ g->o.seed};
    char short_name[64];

    gu->is_city = starts_with(u->name, "市") || strcmp(u->group, "city") == 0;
    gu->misc = -1;
    gu->area = &areas[0];
    if (!gu->is_city) {
        for (size_t i = 0; i < ARRAY_LEN(areas); i++)
            if (strcmp(u->id, areas[i].code) == 0 || strstr(u->name, areas[i].name))
                gu->area = &areas[i];
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
            for (size_t i = 0; i < ARRAY_LEN(misc_items); i++)
                if (name_matches(u, misc_items[i].match)) {
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
                 gu->area != &areas[0]      ? gu->area->name
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

static void setup_units(struct gen *g)
{
    size_t n_city = 0, n_county = 0;
    double w_city = 0, w_county = 0;

    g->n_units = sgs_registry_count(g->reg);
    g->units = calloc(g->n_units ? g->n_units : 1, sizeof(*g->units));
    for (size_t i = 0; i < g->n_units; i++) {
        g->units[i].u = sgs_registry_at(g->reg, i);
        setup_unit(g, &g->units[i]);
        if (g->units[i].is_city) {
            n_city++;
            w_city += g->units[i].weight;
        } else {
            n_county++;
            w_county += g->units[i].weight;
        }
    }
    /* ≈1,100 of ≈11,100 records from city departments (DOMAIN §6) */
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
static void allocate(long n, const double *w, size_t k, long *out)
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

/* ------------------------------------------------------------------------ */
/* The plan */

static sgs_day dl_of(const struct gen *g, int kind, sgs_day d)
{
    return g->deadline[kind][d - g->dl_base];
}

static int64_t local_instant(const struct gen *g, sgs_day day, long secs)
{
    return (int64_t)day * 86400 + secs - g->tz;
}

static long time_of_day(rng *r, int workday)
{
    double u = rng_unit(r);
    if (!workday)
        return rng_range(r, 9 * 3600, 18 * 3600 - 1);
    if (u < 0.45)
        return rng_range(r, 8 * 3600 + 1800, 12 * 3600 - 1);
    if (u < 0.85)
        return rng_range(r, 14 * 3600 + 1800, 18 * 3600 - 1);
    if (u < 0.95)
        return rng_range(r, 18 * 3600, 22 * 3600 - 1);
    return rng_range(r, 0, 86399);
}

/* A report day of the month: working days ten times likelier than others. */
static sgs_day pick_report_day(const struct gen *g, rng *r, const double *cum, size_t ndays)
{
    double u = rng_unit(r) * cum[ndays - 1];
    size_t lo = 0, hi = ndays - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return g->first + (sgs_day)lo;
}

struct keyed {
    double key;
    uint32_t idx;
};

static int keyed_before(const struct keyed *x, const struct keyed *y)
{
    return x->key > y->key || (x->key == y->key && x->idx < y->idx);
}

/* Moves the k first (in keyed_before order) of ks[0..n) to the front, any order.
 * Quickselect with a Lomuto partition: the pivot leaves the range every round, so
 * it always ends; the keys are random, so the middle element is a fair pivot. */
static void select_top(struct keyed *ks, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        struct keyed t, pivot = ks[lo + (hi - lo) / 2];
        size_t store = lo;
        ks[lo + (hi - lo) / 2] = ks[hi - 1];
        ks[hi - 1] = pivot;
        for (size_t i = lo; i + 1 < hi; i++)
            if (keyed_before(&ks[i], &pivot)) {
                t = ks[i];
                ks[i] = ks[store];
                ks[store++] = t;
            }
        ks[hi - 1] = ks[store];
        ks[store] = pivot;
        /* [lo, store) before the pivot, (store, hi) after it */
        if (store + 1 == k || store == k)
            return;
        if (store > k)
            hi = store;
        else
            lo = store + 1;
    }
}

/* Picks exactly k of the n candidates: uniformly (w NULL, partial Fisher-Yates) or
 * weighted without replacement (Efraimidis-Spirakis keys, top k by quickselect).
 * Sorts the picks by record index so that later draws do not depend on the method. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void pick_weighted_k(rng *r, const uint32_t *cand, size_t n, const double *w, size_t k,
                            uint32_t *out)
{
    if (k == 0)
        return;
    if (!w) {
        uint32_t *tmp = malloc(n * sizeof(uint32_t));
        memcpy(tmp, cand, n * sizeof(uint32_t));
        for (size_t i = 0; i < k; i++) {
            size_t j = i + rng_below(r, (uint32_t)(n - i));
            uint32_t t = tmp[i];
            tmp[i] = tmp[j];
            tmp[j] = t;
            out[i] = tmp[i];
        }
        free(tmp);
    } else {
        struct keyed *ks = malloc(n * sizeof(*ks));
        for (size_t i = 0; i < n; i++) {
            double u = rng_unit(r);
            if (u < 1e-300)
                u = 1e-300;
            ks[i].key = log(u) / w[i];
            ks[i].idx = cand[i];
        }
        if (k < n)
            select_top(ks, n, k);
        for (size_t i = 0; i < k; i++)
            out[i] = ks[i].idx;
        free(ks);
    }
    qsort(out, k, sizeof(uint32_t), cmp_u32);
}

/* Sequence order: unit, kind, year, valid < invalid with a number < junk number,
 * decision date, report time, index; packed into one key (units < 2^20, years
 * within 8 of the month's, decisions within 512 days before it). */
static uint64_t seq_key(const struct gen *g, const struct rec *x)
{
    uint64_t cls = x->rule ? (x->rule == R_BAD_DOC_NO ? 2 : 1) : 0;
    uint64_t yoff = (uint64_t)(x->year - g->year + 8) & 15;
    uint64_t doff = (uint64_t)(x->decision - (g->first - 512)) & 1023;
    uint64_t toff = (uint64_t)(x->report_ts - local_instant(g, g->first, 0)) & ((1u << 26) - 1);
    return (uint64_t)x->unit << 44 | (uint64_t)x->kind << 42 | yoff << 38 | cls << 36 | doff << 26 |
           toff;
}

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

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct gap_pick {
    uint32_t group, slot;
};

static int cmp_gap_pick(const void *a, const void *b)
{
    const struct gap_pick *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int plan(struct gen *g, char *errstr, size_t errstr_size)
{
    rng *r = &g->plan;
    size_t ndays = (size_t)(g->last - g->first + 1);
    double cum[31];
    long *counts = calloc(g->n_units ? g->n_units : 1, sizeof(long));
    double *weights = calloc(g->n_units ? g->n_units : 1, sizeof(double));
    long n_records = g->o.records;
    uint32_t *cand = NULL, *pick = NULL;
    double *cw = NULL;
    int rc = -1;

    /* deadlines around the month */
    g->dl_base = g->first - DL_BEFORE;
    g->dl_n = (size_t)(DL_BEFORE + (int)ndays + DL_AFTER);
    for (int k = KIND_LICENSE; k <= KIND_PENALTY; k++) {
        g->deadline[k] = malloc(g->dl_n * sizeof(sgs_day));
        for (size_t i = 0; i < g->dl_n; i++)
            g->deadline[k][i] = sgs_calendar_deadline(g->cal, g->dl_base + (sgs_day)i,
                                                      g->workdays[k], g->count_decision_day);
    }
    for (size_t i = 0; i < ndays; i++)
        cum[i] = (i ? cum[i - 1] : 0) +
                 (sgs_calendar_is_workday(g->cal, g->first + (sgs_day)i) ? 10.0 : 1.0);

    /* records per unit */
    if (n_records > 0 && g->n_units == 0) {
        snprintf(errstr, errstr_size, "%s: the registry has no units",
                 sgs_config_get(g->cfg, "units.file"));
        goto out;
    }
    for (size_t i = 0; i < g->n_units; i++)
        weights[i] = g->units[i].weight;
    allocate(n_records, weights, g->n_units, counts);

    g->n_recs = (size_t)n_records;
    g->n_all_recs = g->n_recs + (size_t)g->o.unknown;
    g->recs = calloc(g->n_all_recs ? g->n_all_recs : 1, sizeof(struct rec));
    {
        size_t k = 0;
        for (size_t u = 0; u < g->n_units; u++)
            for (long j = 0; j < counts[u]; j++, k++) {
                struct rec *rc2 = &g->recs[k];
                rc2->unit = (uint32_t)u;
                rc2->seed = rng_next(r);
                rc2->kind = rng_chance(r, g->units[u].lic_share) ? KIND_LICENSE : KIND_PENALTY;
                rc2->report_day = pick_report_day(g, r, cum, ndays);
                rc2->report_ts =
                    local_instant(g, rc2->report_day,
                                  time_of_day(r, sgs_calendar_is_workday(g->cal, rc2->report_day)));
            }
    }

    /* invalid records, the rules in rotation */
    if (g->o.invalid > n_records) {
        snprintf(errstr, errstr_size, "--invalid: %ld is more than the %ld records", g->o.invalid,
                 n_records);
        goto out;
    }
    cand = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    pick = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
    cw = malloc((g->n_recs ? g->n_recs : 1) * sizeof(double));
    for (size_t i = 0; i < g->n_recs; i++)
        cand[i] = (uint32_t)i;
    pick_weighted_k(r, cand, g->n_recs, NULL, (size_t)g->o.invalid, pick);
    for (long k = 0; k < g->o.invalid; k++) {
        struct rec *rc2 = &g->recs[pick[k]];
        rc2->rule = (uint8_t)(1 + k % (N_RULES - 1));
        if (rc2->rule == R_BAD_VALIDITY)
            rc2->kind = KIND_LICENSE;
        else if (rc2->rule == R_BAD_AMOUNT)
            rc2->kind = KIND_PENALTY;
    }

    /* late records: exactly the share asked for, among valid ones, more in some units */
    g->n_late = lround(g->o.late_share * (double)n_records);
    {
        size_t n = 0;
        for (size_t i = 0; i < g->n_recs; i++)
            if (!g->recs[i].rule) {
                cand[n] = (uint32_t)i;
                cw[n] = g->units[g->recs[i].unit].late_prop;
                n++;
            }
        if ((size_t)g->n_late > n) {
            snprintf(errstr, errstr_size,
                     "--late-share: %ld late records asked for, only %zu valid records", g->n_late,
                     n);
            goto out;
        }
        pick_weighted_k(r, cand, n, cw, (size_t)g->n_late, pick);
        for (long k = 0; k < g->n_late; k++)
            g->recs[pick[k]].late = 1;
    }

    /* decision dates: late ones have a deadline before the report day, the others
     * (invalid ones too) on or after it */
    for (size_t i = 0; i < g->n_recs; i++) {
        struct rec *rc2 = &g->recs[i];
        sgs_day rd = rc2->report_day, cands[128];
        size_t n = 0;
        if (rc2->rule == R_FUTURE_DECISION) {
            rc2->decision = rd + 1 + (sgs_day)rng_below(r, 5);
        } else if (rc2->late) {
            for (sgs_day d = rd - 1; d > g->dl_base && n < ARRAY_LEN(cands); d--)
                if (dl_of(g, rc2->kind, d) < rd)
                    cands[n++] = d;
            if (n == 0) {
                snprintf(errstr, errstr_size,
                         "deadline.%s.workdays: %d working days are too many to make a record "
                         "of this month late",
                         rc2->kind == KIND_LICENSE ? "license" : "penalty", g->workdays[rc2->kind]);
                goto out;
            }
            double u = rng_unit(r);
            rc2->decision = cands[(size_t)(u * u * u * (double)n)];
        } else {
            for (sgs_day d = rd; d >= rd - 60 && n < ARRAY_LEN(cands); d--)
                if (dl_of(g, rc2->kind, d) >= rd)
                    cands[n++] = d;
            rc2->decision = cands[rng_below(r, (uint32_t)n)];
        }
        int y, m, d;
        sgs_day_to_ymd(rc2->rule == R_BAD_DATE ? rd : rc2->decision, &y, &m, &d);
        rc2->year = (uint16_t)y;
        (void)m;
        (void)d;
    }

    /* formats and missing reported_at */
    for (size_t i = 0; i < g->n_recs; i++) {
        struct rec *rc2 = &g->recs[i];
        if (g->o.format == FMT_NATIONAL)
            rc2->national = rc2->rule == R_NONE;
        else if (g->o.format == FMT_MIXED)
            rc2->national = rc2->rule == R_NONE && rng_chance(r, 0.5);
    }
    {
        long want = lround(g->o.no_reported_share * (double)n_records);
        size_t n = 0;
        for (size_t i = 0; i < g->n_recs; i++)
            if (!g->recs[i].rule)
                cand[n++] = (uint32_t)i;
        if ((size_t)want > n) {
            snprintf(errstr, errstr_size,
                     "--no-reported-at-share: %ld records asked for, only %zu valid records", want,
                     n);
            goto out;
        }
        pick_weighted_k(r, cand, n, NULL, (size_t)want, pick);
        for (long k = 0; k < want; k++)
            g->recs[pick[k]].no_reported = 1;
    }

    /* serials: consecutive per (unit, kind, year) in decision order, invalid ones on
     * top, with the holes --gaps asks for inside runs of valid ones */
    {
        uint32_t *order = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
        struct {
            size_t start, n_valid, n_numbered;
        } *groups = NULL;
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
        /* where the holes go: groups weighted by their size, any slot between two
         * valid neighbours */
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
                free(groups);
                free(order);
                snprintf(errstr, errstr_size,
                         "--gaps: no unit has two valid records of one kind and year to leave "
                         "numbers out between");
                goto out;
            }
            for (long k = 0; k < g->o.gaps; k++) {
                double u = rng_unit(r) * tot;
                size_t lo = 0, hi = n_groups - 1;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (cumw[mid] > u)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                gp[k].group = (uint32_t)lo;
                gp[k].slot = 1 + rng_below(r, (uint32_t)(groups[lo].n_valid - 1));
            }
            free(cumw);
            qsort(gp, (size_t)g->o.gaps, sizeof(*gp), cmp_gap_pick);
            g->missing = malloc((size_t)g->o.gaps * sizeof(uint32_t));
            g->gap_groups = calloc((size_t)g->o.gaps, sizeof(*g->gap_groups));
        }
        size_t gi = 0;
        for (size_t k = 0; k < n_groups; k++) {
            const struct rec *h = &g->recs[order[groups[k].start]];
            double per_month = (double)groups[k].n_numbered * (0.8 + 0.4 * rng_unit(r));
            int months_before = h->year == g->year ? g->month - 1 : h->year < g->year ? 11 : 0;
            uint32_t serial = 1 + (uint32_t)(months_before * per_month);
            size_t valid_seen = 0;
            struct gap_group *gg = NULL;
            for (size_t j = 0; j < groups[k].n_numbered; j++) {
                struct rec *x = &g->recs[order[groups[k].start + j]];
                if (x->rule == R_NONE) {
                    while (gi < (size_t)g->o.gaps && gp[gi].group == k &&
                           gp[gi].slot == valid_seen) {
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
    }
    rc = 0;
out:
    free(counts);
    free(weights);
    free(cand);
    free(pick);
    free(cw);
    return rc;
}

/* Units that are not in the registry: credit codes of real shape that no id or
 * alias of the registry has. */
static void plan_foreign(struct gen *g)
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
        rc2->report_ts = local_instant(g, rc2->report_day, time_of_day(r, 1));
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

static int plan_events(struct gen *g, char *errstr, size_t errstr_size)
{
    rng *r = &g->plan;
    int64_t month_end = local_instant(g, g->last, 86399);
    int64_t month_start = local_instant(g, g->first, 0);
    size_t n = g->n_all_recs + (size_t)g->o.duplicates + (size_t)g->o.malformed;
    uint32_t *orig = NULL;
    size_t n_orig = 0;

    g->evs = calloc(n ? n : 1, sizeof(struct ev));
    for (size_t i = 0; i < g->n_all_recs; i++) {
        struct ev *e = &g->evs[g->n_evs];
        e->type = EV_RECORD;
        e->rec = (uint32_t)i;
        e->ts = g->recs[i].report_ts;
        e->vseed = g->recs[i].seed ^ 0xD1B54A32D192ED03ULL;
        e->seq = (uint32_t)g->n_evs++;
    }
    if (g->o.duplicates > 0) {
        orig = malloc((g->n_recs ? g->n_recs : 1) * sizeof(uint32_t));
        for (size_t i = 0; i < g->n_recs; i++)
            if (!g->recs[i].rule && !g->recs[i].no_reported)
                orig[n_orig++] = (uint32_t)i;
        if (n_orig == 0) {
            free(orig);
            snprintf(errstr, errstr_size,
                     "--duplicates: no valid record with reported_at to re-send");
            return -1;
        }
        for (long k = 0; k < g->o.duplicates; k++) {
            struct ev *e = &g->evs[g->n_evs];
            uint32_t i = orig[rng_below(r, (uint32_t)n_orig)];
            const struct rec *o = &g->recs[i];
            e->type = EV_DUPLICATE;
            e->rec = i;
            /* re-sent later the same month, often spelt another way */
            e->ts = o->report_ts + (int64_t)(rng_unit(r) * (double)(month_end - o->report_ts));
            e->vseed = rng_chance(r, 0.3) ? o->seed ^ 0xD1B54A32D192ED03ULL : rng_next(r);
            e->seq = (uint32_t)g->n_evs++;
            g->units[o->unit].duplicates++;
        }
        free(orig);
    }
    for (long k = 0; k < g->o.malformed; k++) {
        struct ev *e = &g->evs[g->n_evs];
        e->type = EV_MALFORMED;
        e->rec = g->n_recs ? rng_below(r, (uint32_t)g->n_recs) : 0;
        e->ts = month_start + (int64_t)(rng_unit(r) * (double)(month_end - month_start));
        e->vseed = rng_next(r);
        e->seq = (uint32_t)g->n_evs++;
    }
    qsort(g->evs, g->n_evs, sizeof(struct ev), cmp_ev);
    return 0;
}

static void count_expectation(struct gen *g)
{
    for (size_t i = 0; i < g->n_recs; i++) {
        const struct rec *rc2 = &g->recs[i];
        struct gunit *gu = &g->units[rc2->unit];
        gu->records++;
        gu->late += rc2->late;
        gu->invalid += rc2->rule != R_NONE;
        if (rc2->kind == KIND_LICENSE)
            gu->licenses++;
        else
            gu->penalties++;
    }
}

/* ------------------------------------------------------------------------ */
/* Output */

struct produce_state {
    long delivered, failed;
    char first_error[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct produce_state *st = opaque;
    (void)rk;
    if (m->err) {
        if (st->failed++ == 0)
            snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
    } else {
        st->delivered++;
    }
}

static int64_t ev_ts_ms(const struct ev *e)
{
    return e->ts * 1000 + (int64_t)((e->seq * 7919u) % 1000u);
}

static void render_event(const struct gen *g, sgs_buf *b, const struct ev *e, int ts_field)
{
    sgs_buf_reserve(b, 8192);
    if (e->type == EV_MALFORMED) {
        render_malformed(g, b, e);
    } else {
        const struct rec *rc2 = &g->recs[e->rec];
        render_record(g, b, rc2, e->vseed, ts_field && rc2->no_reported, ev_ts_ms(e));
    }
}

static const char *event_key(const struct gen *g, const struct ev *e)
{
    if (e->type == EV_MALFORMED)
        return g->n_units ? g->units[e->rec % g->n_units].u->id : NULL;
    return rec_unit_id(g, &g->recs[e->rec]);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_jsonl(const struct gen *g, char *errstr, size_t errstr_size)
{
    const char *path = g->o.out;
    int to_stdout = !path || strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    sgs_buf b = SGS_BUF_INIT;
    int rc = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open for writing: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < g->n_evs; i++) {
        render_event(g, &b, &g->evs[i], 1);
        bputc(&b, '\n');
        if (b.len >= (1u << 20) || i + 1 == g->n_evs) {
            if (b.oom || fwrite(b.data, 1, b.len, f) != b.len) {
                rc = -1;
                break;
            }
            sgs_buf_reset(&b);
        }
    }
    if (fflush(f) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(errstr, errstr_size, "%s: write failed: %s", to_stdout ? "stdout" : path,
                 b.oom ? "out of memory" : strerror(errno));
    if (!to_stdout && fclose(f) != 0 && rc == 0) {
        snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
        rc = -1;
    }
    sgs_buf_free(&b);
    return rc;
}

static int produce(const struct gen *g, double t0, char *errstr, size_t errstr_size)
{
    struct produce_state st = {0, 0, ""};
    const char *topic = sgs_config_get(g->cfg, "topic.records");
    rd_kafka_t *rk = sgs_kafka_producer_new(g->cfg, dr_cb, &st, errstr, errstr_size);
    sgs_buf b = SGS_BUF_INIT;
    int rc = 0;

    if (!rk)
        return -2; /* configuration error */
    for (size_t i = 0; i < g->n_evs; i++) {
        const struct ev *e = &g->evs[i];
        const char *key = event_key(g, e);
        rd_kafka_resp_err_t err;
        sgs_buf_reset(&b);
        render_event(g, &b, e, 0);
        for (;;) {
            if (g->o.no_timestamps)
                err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                        RD_KAFKA_V_VALUE(b.data, b.len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            else
                err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                    RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(ev_ts_ms(e)), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 50); /* queue full: let delivery reports drain it */
        }
        if (err) {
            snprintf(errstr, errstr_size, "%s: produce failed: %s", topic, rd_kafka_err2str(err));
            rc = -1;
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    /* every delivery report, however long it takes (message.timeout.ms bounds it) */
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    sgs_buf_free(&b);
    rd_kafka_destroy(rk);
    if (rc == 0 && st.failed > 0) {
        snprintf(errstr, errstr_size, "%s: %ld of %zu messages not delivered, first: %s", topic,
                 st.failed, g->n_evs, st.first_error);
        rc = -1;
    }
    fprintf(stderr, "sgs-gen: %s: produced %ld of %zu messages to %s (%ld failed) in %.2f s\n",
            g->o.month, st.delivered, g->n_evs, topic, st.failed, now_seconds() - t0);
    return rc;
}

static json_t *unit_counts(const struct gunit *gu)
{
    return json_pack("{sI sI sI sI sI sI}", "records", (json_int_t)gu->records, "late",
                     (json_int_t)gu->late, "invalid", (json_int_t)gu->invalid, "duplicates",
                     (json_int_t)gu->duplicates, "licenses", (json_int_t)gu->licenses, "penalties",
                     (json_int_t)gu->penalties);
}

static void norm_doc_no(const struct gen *g, const struct rec *rc2, char *out, size_t cap)
{
    snprintf(out, cap, "%s〔%d〕%" PRIu32 "号", rec_prefix(g, rc2), rc2->year, rc2->serial);
}

static int write_expect(const struct gen *g, char *errstr, size_t errstr_size)
{
    json_t *root = json_object(), *units = json_object(), *gaps = json_object(),
           *docs = json_object();
    long late = 0, invalid = 0;
    char buf[512];

    for (size_t i = 0; i < g->n_units; i++) {
        const struct gunit *gu = &g->units[i];
        json_object_set_new(units, gu->u->id, unit_counts(gu));
        json_object_set_new(gaps, gu->u->id, json_array());
        json_object_set_new(docs, gu->u->id, json_array());
        late += gu->late;
        invalid += gu->invalid;
    }
    for (size_t k = 0; k < g->n_gap_groups; k++) {
        const struct gap_group *gg = &g->gap_groups[k];
        json_t *missing = json_array();
        for (size_t j = 0; j < gg->n_missing; j++) {
            snprintf(buf, sizeof(buf), "%" PRIu32, g->missing[gg->first_missing + j]);
            json_array_append_new(missing, json_string(buf));
        }
        json_array_append_new(json_object_get(gaps, g->units[gg->unit].u->id),
                              json_pack("{ss si so}", "kind",
                                        gg->kind == KIND_LICENSE ? "license" : "penalty", "year",
                                        (int)gg->year, "missing", missing));
    }
    /* a few sent numbers per unit: its first, middle and last valid record */
    {
        size_t i = 0;
        while (i < g->n_recs) {
            size_t j = i, nv = 0;
            while (j < g->n_recs && g->recs[j].unit == g->recs[i].unit) {
                nv += g->recs[j].rule == R_NONE;
                j++;
            }
            size_t want[3] = {0, nv / 2, nv ? nv - 1 : 0}, seen = 0, w = 0;
            json_t *arr = json_object_get(docs, g->units[g->recs[i].unit].u->id);
            for (size_t k = i; k < j && w < 3 && nv; k++) {
                if (g->recs[k].rule != R_NONE)
                    continue;
                while (w < 3 && want[w] == seen) {
                    if (w == 0 || want[w] != want[w - 1]) {
                        norm_doc_no(g, &g->recs[k], buf, sizeof(buf));
                        json_array_append_new(arr, json_string(buf));
                    }
                    w++;
                }
                seen++;
            }
            i = j;
        }
    }
    json_object_set_new(root, "month", json_string(g->o.month));
    json_object_set_new(root, "messages", json_integer((json_int_t)g->n_evs));
    json_object_set_new(root, "units", units);
    json_object_set_new(root, "unattributed", json_integer(g->o.unknown));
    json_object_set_new(root, "malformed", json_integer(g->o.malformed));
    json_object_set_new(root, "rejects", json_integer(invalid + g->o.malformed + g->o.unknown));
    json_object_set_new(root, "late_alerts", json_integer(late));
    json_object_set_new(root, "gaps", gaps);
    json_object_set_new(root, "doc_nos", docs);
    if (json_dump_file(root, g->o.expect, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot write: %s", g->o.expect, strerror(errno));
        json_decref(root);
        return -1;
    }
    json_decref(root);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Command line */

static void usage(FILE *f)
{
    fprintf(f, "usage: sgs-gen [-c FILE] [-X key=value]... --month YYYY-MM [options]\n"
               "  --seed N                  same seed, same bytes (default: from the clock)\n"
               "  --records N               records of registry units (default 11100)\n"
               "  --late-share F            share of records that are late (default 0.02)\n"
               "  --invalid N               records breaking one quality rule each (default 0)\n"
               "  --duplicates N            re-sent records (default 0)\n"
               "  --malformed N             messages that are not a JSON object (default 0)\n"
               "  --unknown-unit N          records of units not in the registry (default 0)\n"
               "  --gaps N                  document numbers left out of sequences (default 0)\n"
               "  --format native|national|mixed   (default native)\n"
               "  --no-reported-at-share F  share of records without reported_at (default 0)\n"
               "  --out FILE.jsonl          write one event per line (default: stdout)\n"
               "  --produce                 produce to topic.records (key = unit_id)\n"
               "  --no-timestamps           leave Kafka timestamps to librdkafka (default: the\n"
               "                            send time inside the month)\n"
               "  --expect FILE.json        write the counters a consumer must end up with\n"
               "config keys used: units.file calendar.file deadline.license.workdays\n"
               "  deadline.penalty.workdays deadline.count_decision_day timezone.offset\n"
               "  topic.records kafka.*\n");
}

static int parse_long(const char *opt, const char *s, long min, long *out, char *errstr,
                      size_t errstr_size)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        snprintf(errstr, errstr_size, "%s: expected an integer >= %ld, got '%s'", opt, min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_share(const char *opt, const char *s, double *out, char *errstr,
                       size_t errstr_size)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0)) {
        snprintf(errstr, errstr_size, "%s: expected a number from 0 to 1, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* 0 ok, 1 help printed, -1 error in errstr */
static int parse_args(int argc, char **argv, struct opts *o, char *errstr, size_t errstr_size)
{
    o->records = 11100;
    o->late_share = 0.02;
    o->format = FMT_NATIVE;
    o->xs = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i], *val = NULL, name[64];
        const char *eq = strchr(arg, '=');
        int has_inline = starts_with(arg, "--") && eq;
        if (has_inline) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
            val = (char *)eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg);
        }
        int flag = strcmp(name, "--produce") == 0 || strcmp(name, "--no-timestamps") == 0 ||
                   strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0;
        if (!flag && !val) {
            if (i + 1 >= argc) {
                snprintf(errstr, errstr_size, "%s: missing value", name);
                return -1;
            }
            val = argv[++i];
        }
        if (flag && has_inline) {
            snprintf(errstr, errstr_size, "%s: takes no value", name);
            return -1;
        }
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(name, "-c") == 0 || strcmp(name, "--config") == 0) {
            o->config_file = val;
        } else if (strcmp(name, "-X") == 0) {
            o->xs[o->n_xs++] = val;
        } else if (strcmp(name, "--month") == 0) {
            o->month = val;
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            errno = 0;
            o->seed = strtoull(val, &end, 10);
            if (errno || end == val || *end || *val == '-') {
                snprintf(errstr, errstr_size, "--seed: expected an unsigned integer, got '%s'",
                         val);
                return -1;
            }
            o->have_seed = 1;
        } else if (strcmp(name, "--records") == 0) {
            if (parse_long(name, val, 0, &o->records, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--late-share") == 0) {
            if (parse_share(name, val, &o->late_share, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--no-reported-at-share") == 0) {
            if (parse_share(name, val, &o->no_reported_share, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--invalid") == 0) {
            if (parse_long(name, val, 0, &o->invalid, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--duplicates") == 0) {
            if (parse_long(name, val, 0, &o->duplicates, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--malformed") == 0) {
            if (parse_long(name, val, 0, &o->malformed, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--unknown-unit") == 0) {
            if (parse_long(name, val, 0, &o->unknown, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--gaps") == 0) {
            if (parse_long(name, val, 0, &o->gaps, errstr, errstr_size))
                return -1;
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "native") == 0)
                o->format = FMT_NATIVE;
            else if (strcmp(val, "national") == 0)
                o->format = FMT_NATIONAL;
            else if (strcmp(val, "mixed") == 0)
                o->format = FMT_MIXED;
            else {
                snprintf(errstr, errstr_size,
                         "--format: expected native, national or mixed, got '%s'", val);
                return -1;
            }
        } else if (strcmp(name, "--out") == 0) {
            o->out = val;
        } else if (strcmp(name, "--produce") == 0) {
            o->produce = 1;
        } else if (strcmp(name, "--no-timestamps") == 0) {
            o->no_timestamps = 1;
        } else if (strcmp(name, "--expect") == 0) {
            o->expect = val;
        } else {
            snprintf(errstr, errstr_size, "%s: unknown argument (see --help)", name);
            return -1;
        }
    }
    if (!o->month) {
        snprintf(errstr, errstr_size, "--month: required (YYYY-MM)");
        return -1;
    }
    if (o->out && o->produce) {
        snprintf(errstr, errstr_size, "--out: cannot be combined with --produce");
        return -1;
    }
    if (o->records > 50000000 || o->duplicates > 50000000 || o->malformed > 50000000 ||
        o->unknown > 50000000 || o->gaps > 50000000) {
        snprintf(errstr, errstr_size, "--records: at most 50,000,000 messages of each kind");
        return -1;
    }
    return 0;
}

/* A relative path that does not exist here is also looked for in the source tree,
 * so that the defaults work from a build directory. */
static const char *resolve_path(const char *path, char *buf, size_t cap)
{
    if (path[0] == '/' || access(path, R_OK) == 0)
        return path;
#ifdef SGS_SOURCE_DIR
    snprintf(buf, cap, "%s/%s", SGS_SOURCE_DIR, path);
    if (access(buf, R_OK) == 0)
        return buf;
#else
    (void)buf;
    (void)cap;
#endif
    return path;
}

static void gen_free(struct gen *g)
{
    free(g->units);
    free(g->recs);
    free(g->foreign);
    free(g->evs);
    free(g->gap_groups);
    free(g->missing);
    free(g->deadline[1]);
    free(g->deadline[2]);
    free(g->o.xs);
    sgs_calendar_destroy(g->cal);
    sgs_registry_destroy(g->reg);
    sgs_config_destroy(g->cfg);
}

int main(int argc, char **argv)
{
    struct gen g;
    char errstr[512], pbuf[4096];
    const char *path;
    int y, m, rc = EXIT_RUNTIME;
    double t0 = now_seconds();

    memset(&g, 0, sizeof(g));
    sgs_log_set_program("sgs-gen");
    switch (parse_args(argc, argv, &g.o, errstr, sizeof(errstr))) {
    case 1:
        free(g.o.xs);
        return 0;
    case -1:
        sgs_error("%s", errstr);
        free(g.o.xs);
        return EXIT_USAGE;
    default:
        break;
    }
    if (!g.o.have_seed)
        g.o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    g.plan.s = g.o.seed;

    rc = EXIT_USAGE;
    if (sgs_month_parse(g.o.month, &y, &m) != 0) {
        sgs_error("--month: expected YYYY-MM, got '%s'", g.o.month);
        goto out;
    }
    g.year = y;
    g.month = m;
    g.first = sgs_day_from_ymd(y, m, 1);
    g.last = (m == 12 ? sgs_day_from_ymd(y + 1, 1, 1) : sgs_day_from_ymd(y, m + 1, 1)) - 1;

    g.cfg = sgs_config_new();
    if (!g.cfg) {
        sgs_error("out of memory");
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (sgs_config_load(g.cfg, g.o.config_file, environ, g.o.xs, g.o.n_xs, errstr,
                        sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    {
        const char *lvl = sgs_config_get(g.cfg, "log.level");
        if (lvl && strcmp(lvl, "debug") == 0)
            sgs_log_set_level(SGS_LOG_DEBUG);
        else if (lvl && (strcmp(lvl, "warning") == 0 || strcmp(lvl, "warn") == 0))
            sgs_log_set_level(SGS_LOG_WARN);
        else if (lvl && strcmp(lvl, "error") == 0)
            sgs_log_set_level(SGS_LOG_ERROR);
    }
    path = resolve_path(sgs_config_get(g.cfg, "units.file"), pbuf, sizeof(pbuf));
    g.reg = sgs_registry_load(path, errstr, sizeof(errstr));
    if (!g.reg) {
        sgs_error("units.file: %s", errstr);
        goto out;
    }
    path = resolve_path(sgs_config_get(g.cfg, "calendar.file"), pbuf, sizeof(pbuf));
    g.cal = sgs_calendar_load(path, errstr, sizeof(errstr));
    if (!g.cal) {
        sgs_error("calendar.file: %s", errstr);
        goto out;
    }
    g.workdays[KIND_LICENSE] = (int)sgs_config_get_int(g.cfg, "deadline.license.workdays");
    g.workdays[KIND_PENALTY] = (int)sgs_config_get_int(g.cfg, "deadline.penalty.workdays");
    g.count_decision_day = sgs_config_get_bool(g.cfg, "deadline.count_decision_day");
    if (sgs_tz_offset_parse(sgs_config_get(g.cfg, "timezone.offset"), &g.tz) != 0) {
        sgs_error("timezone.offset: expected +hh:mm, got '%s'",
                  sgs_config_get(g.cfg, "timezone.offset"));
        goto out;
    }
    if (g.workdays[KIND_LICENSE] < 1 || g.workdays[KIND_PENALTY] < 1) {
        sgs_error("deadline.*.workdays: must be at least 1");
        goto out;
    }

    setup_units(&g);
    if (plan(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    plan_foreign(&g);
    if (plan_events(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("%s", errstr);
        goto out;
    }
    count_expectation(&g);

    rc = EXIT_RUNTIME;
    if (g.o.expect && write_expect(&g, errstr, sizeof(errstr)) != 0) {
        sgs_error("--expect: %s", errstr);
        goto out;
    }
    if (g.o.produce) {
        int prc = produce(&g, t0, errstr, sizeof(errstr));
        if (prc != 0) {
            sgs_error("%s", errstr);
            rc = prc == -2 ? EXIT_USAGE : EXIT_RUNTIME;
            goto out;
        }
    } else {
        if (write_jsonl(&g, errstr, sizeof(errstr)) != 0) {
            sgs_error("--out: %s", errstr);
            goto out;
        }
        fprintf(stderr,
                "sgs-gen: %s: %zu messages (%zu records, %ld late, %ld invalid, %ld duplicates, "
                "%ld malformed, %ld unknown-unit, %ld gaps) written to %s in %.2f s, seed "
                "%" PRIu64 "\n",
                g.o.month, g.n_evs, g.n_recs, g.n_late, g.o.invalid, g.o.duplicates, g.o.malformed,
                g.o.unknown, g.o.gaps, g.o.out ? g.o.out : "stdout", now_seconds() - t0, g.o.seed);
    }
    rc = 0;
out:
    gen_free(&g);
    return rc;
}

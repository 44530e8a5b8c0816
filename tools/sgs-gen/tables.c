/* sgs-gen: domain vocabulary that units and record fields share: penalty
 * categories (行政处罚法 2021 art. 9), licence and penalty items by profile,
 * departments without a profile of their own, Pingdingshan's areas. */
#include "gen.h"

_Static_assert(C_OTHER == 1 << (N_CATS - 1), "a name for every category bit");
const char *const gen_cat_names[N_CATS] = {"警告",         "通报批评",     "罚款",
                                           "没收违法所得", "没收非法财物", "暂扣许可证件",
                                           "降低资质等级", "吊销许可证件", "限制开展生产经营活动",
                                           "责令停产停业", "责令关闭",     "限制从业",
                                           "行政拘留",     "其他"};

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

const struct misc_item gen_misc_items[] = {
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
const size_t gen_n_misc_items = ARRAY_LEN(gen_misc_items);

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
const struct profile_def gen_profiles[N_PROFILES] = {
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

/* Pingdingshan's area codes (GB/T 2260). */
const struct area gen_areas[] = {
    {"410400", "平顶山市"}, {"410402", "新华区"}, {"410403", "卫东区"}, {"410404", "石龙区"},
    {"410411", "湛河区"},   {"410421", "宝丰县"}, {"410422", "叶县"},   {"410423", "鲁山县"},
    {"410425", "郏县"},     {"410481", "舞钢市"}, {"410482", "汝州市"},
};
const size_t gen_n_areas = ARRAY_LEN(gen_areas);

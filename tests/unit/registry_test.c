/* Unit tests for sgs/registry.h, with in-memory files and the shipped
 * configs/units.tsv (found through SGS_CONFIGS, set by ctest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/registry.h"

static const char *configs_dir(void)
{
    const char *dir = getenv("SGS_CONFIGS");
    return dir ? dir : SGS_SOURCE_DIR "/configs";
}

static sgs_registry *load(const char *text, char *err, size_t err_size)
{
    return sgs_registry_load_buffer("t.tsv", text, strlen(text), err, err_size);
}

static sgs_registry *load_ok(const char *text)
{
    char err[512] = "";
    sgs_registry *reg = load(text, err, sizeof(err));
    if (reg == NULL) {
        fail_msg("load failed: %s", err);
    }
    return reg;
}

static void expect_error(const char *text, const char *want)
{
    char err[512];
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    sgs_registry *reg = load(text, err, sizeof(err));
    if (reg != NULL) {
        sgs_registry_destroy(reg);
        fail_msg("loaded, expected: %s", want);
    }
    assert_string_equal(err, want);
}

static const sgs_unit *find(const sgs_registry *reg, const char *key)
{
    return sgs_registry_find(reg, key, strlen(key));
}

static const sgs_unit *find_id(const sgs_registry *reg, const char *key)
{
    return sgs_registry_find_id(reg, key, strlen(key));
}

static const char *const sample = "# units for the test\n"
                                  "\n"
                                  "unit_id\tname\tgroup\taliases\n"
                                  "11410400MB0000001P\t市市场监管局\tcity\t"
                                  "平顶山市市场监督管理局, 市场监管局 ，11410423MB1234567X\n"
                                  "410423\t鲁山县\tcounty\t平顶山市鲁山县\n"
                                  "   \t \n"
                                  "# a comment between units\n"
                                  "11410400MB0000003X\t市交通局\tcity\t市交通运输局,,\n"
                                  "410400-GXQ\t 高新技术产业开发区 \tzone\n";

static void test_lookups(void **state)
{
    (void)state;
    sgs_registry *reg = load_ok(sample);
    assert_int_equal(sgs_registry_count(reg), 4);

    const sgs_unit *u = sgs_registry_at(reg, 0);
    assert_non_null(u);
    assert_string_equal(u->id, "11410400MB0000001P");
    assert_string_equal(u->name, "市市场监管局");
    assert_string_equal(u->group, "city");
    assert_int_equal(u->n_aliases, 3);
    assert_string_equal(u->aliases[0], "平顶山市市场监督管理局");
    assert_string_equal(u->aliases[1], "市场监管局");
    assert_string_equal(u->aliases[2], "11410423MB1234567X");
    assert_int_equal(u->index, 0);
    assert_int_equal(u->line, 4);

    /* id, name and alias all find the unit */
    assert_ptr_equal(find(reg, "11410400MB0000001P"), u);
    assert_ptr_equal(find(reg, "市市场监管局"), u);
    assert_ptr_equal(find(reg, "平顶山市市场监督管理局"), u);
    assert_ptr_equal(find(reg, "市场监管局"), u);
    assert_ptr_equal(find(reg, "11410423MB1234567X"), u);
    /* find_id: ids and id-like aliases only */
    assert_ptr_equal(find_id(reg, "11410400MB0000001P"), u);
    assert_ptr_equal(find_id(reg, "11410423MB1234567X"), u);
    assert_null(find_id(reg, "市市场监管局"));
    assert_null(find_id(reg, "市场监管局"));
    /* exact bytes only */
    assert_null(find(reg, "11410400mb0000001p"));
    assert_null(find(reg, " 410423"));
    assert_null(find(reg, "410423 "));
    assert_null(find(reg, "鲁山"));
    assert_null(find(reg, ""));
    assert_null(find_id(reg, "unknown"));
    assert_null(sgs_registry_find(reg, NULL, 0));
    /* len, not NUL, ends the key */
    assert_ptr_equal(sgs_registry_find_id(reg, "410423|license", 6), sgs_registry_at(reg, 1));
    assert_ptr_equal(sgs_registry_find(reg, "鲁山县 extra", strlen("鲁山县")),
                     sgs_registry_at(reg, 1));

    u = sgs_registry_at(reg, 1);
    assert_string_equal(u->id, "410423");
    assert_int_equal(u->index, 1);
    assert_int_equal(u->line, 5);
    assert_ptr_equal(find(reg, "平顶山市鲁山县"), u);
    assert_ptr_equal(find_id(reg, "410423"), u);

    u = sgs_registry_at(reg, 2);
    assert_string_equal(u->name, "市交通局");
    assert_int_equal(u->line, 8);
    assert_int_equal(u->n_aliases, 1); /* empty pieces skipped */
    assert_string_equal(u->aliases[0], "市交通运输局");
    assert_ptr_equal(find(reg, "市交通运输局"), u);

    u = sgs_registry_at(reg, 3);
    assert_string_equal(u->id, "410400-GXQ");
    assert_string_equal(u->name, "高新技术产业开发区"); /* trimmed */
    assert_string_equal(u->group, "zone");
    assert_int_equal(u->n_aliases, 0);
    assert_int_equal(u->line, 9);
    assert_null(sgs_registry_at(reg, 4));

    /* groups in order of first appearance */
    assert_int_equal(sgs_registry_group_count(reg), 3);
    assert_string_equal(sgs_registry_group_at(reg, 0), "city");
    assert_string_equal(sgs_registry_group_at(reg, 1), "county");
    assert_string_equal(sgs_registry_group_at(reg, 2), "zone");
    assert_null(sgs_registry_group_at(reg, 3));
    sgs_registry_destroy(reg);
    sgs_registry_destroy(NULL);
}

static void test_duplicates(void **state)
{
    (void)state;
    /* the example of the brief: a name used twice */
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "# comment\n"
                 "a1\t市公安局\tcity\n"
                 "a2\t市交通局\tcity\n"
                 "a3\t市财政局\tcity\n"
                 "\n"
                 "a4\t市审计局\tcity\n"
                 "# another comment\n"
                 "a5\t市交通局\tcity\n",
                 "t.tsv:9: name '市交通局' already used at line 4");
    expect_error("unit_id\tname\tgroup\n"
                 "410421\t宝丰县\tcounty\n"
                 "410423\t鲁山县\tcounty\n"
                 "410423\t郏县\tcounty\n",
                 "t.tsv:4: unit id '410423' already used at line 3");
    /* an alias equal to another unit's alias, id or name */
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\t市交通运输局\n"
                 "a2\t市住建局\tcity\t市住房和城乡建设局,市交通运输局\n",
                 "t.tsv:3: alias '市交通运输局' already used at line 2");
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "410423\t鲁山县\tcounty\n"
                 "410421\t宝丰县\tcounty\t410423\n",
                 "t.tsv:3: alias '410423' already used at line 2");
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\n"
                 "a2\t市交通运输局\tcity\t市交通局\n",
                 "t.tsv:3: alias '市交通局' already used at line 2");
    /* a name or id equal to an earlier alias */
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\t市交通运输局\n"
                 "a2\t市交通运输局\tcity\n",
                 "t.tsv:3: name '市交通运输局' already used at line 2");
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\tb7\n"
                 "b7\t市住建局\tcity\n",
                 "t.tsv:3: unit id 'b7' already used at line 2");
    /* inside one line, and after trimming / either comma */
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\t市交通运输局， 市交通运输局 \n",
                 "t.tsv:2: alias '市交通运输局' already used at line 2");
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "a1\t市交通局\tcity\t市交通局\n",
                 "t.tsv:2: alias '市交通局' already used at line 2");
    expect_error("unit_id\tname\tgroup\taliases\n"
                 "x\tx\tcity\n",
                 "t.tsv:2: name 'x' already used at line 2");
}

static void test_bad_header(void **state)
{
    (void)state;
    expect_error("id\tname\tgroup\taliases\na\tb\tc\n",
                 "t.tsv:1: header column 1 is 'id', expected 'unit_id'");
    expect_error("# c\nunit_id\tname\tgroups\na\tb\tc\n",
                 "t.tsv:2: header column 3 is 'groups', expected 'group'");
    expect_error("unit_id\tname\tgroup\talias\na\tb\tc\n",
                 "t.tsv:1: header column 4 is 'alias', expected 'aliases'");
    expect_error("unit_id\tname\na\tb\n", "t.tsv:1: header has 2 tab-separated columns, expected "
                                          "unit_id, name, group and optionally aliases");
    expect_error("unit_id\tname\tgroup\taliases\textra\n",
                 "t.tsv:1: header has 5 tab-separated columns, expected unit_id, "
                 "name, group "
                 "and optionally aliases");
    expect_error("unit_id name group aliases\n",
                 "t.tsv:1: header has 1 tab-separated columns, expected unit_id, "
                 "name, group "
                 "and optionally aliases");
    /* a data line where the header should be */
    expect_error("410423\t鲁山县\tcounty\n",
                 "t.tsv:1: header column 1 is '410423', expected 'unit_id'");
    expect_error("", "t.tsv: no header line (expected unit_id, name, group and optionally "
                     "aliases)");
    expect_error("# only\n# comments\n\n", "t.tsv: no header line (expected unit_id, name, group "
                                           "and optionally aliases)");
    expect_error("unit_id\tname\tgroup\taliases\n# nothing\n", "t.tsv: no units after the header");
}

static void test_bad_rows(void **state)
{
    (void)state;
    expect_error("unit_id\tname\tgroup\taliases\na\tb\tc\n410423\t鲁山县\n",
                 "t.tsv:3: expected 3 or 4 tab-separated columns, got 2");
    expect_error("unit_id\tname\tgroup\taliases\n410423\n",
                 "t.tsv:2: expected 3 or 4 tab-separated columns, got 1");
    expect_error("unit_id\tname\tgroup\taliases\na\tb\tc\td\te\n",
                 "t.tsv:2: expected 3 or 4 tab-separated columns, got 5");
    expect_error("unit_id\tname\tgroup\na\tb\tc\td\n",
                 "t.tsv:2: expected 3 tab-separated columns, got 4");
    /* empty id, name or group */
    expect_error("unit_id\tname\tgroup\taliases\n\t鲁山县\tcounty\n",
                 "t.tsv:2: column 1 (unit_id) is empty");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t \tcounty\n",
                 "t.tsv:2: column 2 (name) is empty");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t鲁山县\t\t平顶山市鲁山县\n",
                 "t.tsv:2: column 3 (group) is empty");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t\u3000\tcounty\n",
                 "t.tsv:2: column 2 (name) is empty");
    /* ids: no white space, no '|' */
    expect_error("unit_id\tname\tgroup\taliases\n4104 23\t鲁山县\tcounty\n",
                 "t.tsv:2: unit id '4104 23' may not contain white space or '|'");
    expect_error("unit_id\tname\tgroup\taliases\n410|423\t鲁山县\tcounty\n",
                 "t.tsv:2: unit id '410|423' may not contain white space or '|'");
    expect_error("unit_id\tname\tgroup\taliases\n4104\u300023\t鲁山县\tcounty\n",
                 "t.tsv:2: unit id '4104\u300023' may not contain white space or '|'");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t鲁山县\t县 区\n",
                 "t.tsv:2: group '县 区' may contain only ASCII letters, digits, "
                 "'_' and '-'");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t鲁山\r县\tcounty\n",
                 "t.tsv:2: column 2 (name) contains a control character");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t\xe9\xb2\tcounty\n",
                 "t.tsv:2: not valid UTF-8");
    expect_error("unit_id\tname\tgroup\taliases\n410423\t\xed\xa0\x80\tcounty\n",
                 "t.tsv:2: not valid UTF-8"); /* a surrogate */
    expect_error("unit_id\tname\tgroup\taliases\n410423\t\xc0\xaf\tcounty\n",
                 "t.tsv:2: not valid UTF-8"); /* overlong */

    char err[256] = "";
    static const char with_nul[] = "unit_id\tname\tgroup\n41\0 23\tx\tc\n";
    assert_null(
        sgs_registry_load_buffer("t.tsv", with_nul, sizeof(with_nul) - 1, err, sizeof(err)));
    assert_string_equal(err, "t.tsv:2: NUL byte in line");
}

static void test_bom_crlf(void **state)
{
    (void)state;
    sgs_registry *reg = load_ok("\xEF\xBB\xBF"
                                "unit_id\tname\tgroup\taliases\r\n"
                                "# comment\r\n"
                                "\r\n"
                                "410423\t鲁山县\tcounty\t平顶山市鲁山县\r\n"
                                "410421\t宝丰县\tcounty\r\n"
                                "410425\t郏县\tcounty"); /* no final line end */
    assert_int_equal(sgs_registry_count(reg), 3);
    const sgs_unit *u = sgs_registry_at(reg, 0);
    assert_string_equal(u->id, "410423");
    assert_string_equal(u->aliases[0], "平顶山市鲁山县");
    assert_int_equal(u->line, 4);
    u = sgs_registry_at(reg, 1);
    assert_string_equal(u->group, "county");
    assert_int_equal(u->n_aliases, 0);
    u = sgs_registry_at(reg, 2);
    assert_string_equal(u->name, "郏县");
    assert_int_equal(u->line, 6);
    assert_ptr_equal(find(reg, "郏县"), u);
    assert_int_equal(sgs_registry_group_count(reg), 1);
    sgs_registry_destroy(reg);

    /* A BOM only counts at the very start; a header with 3 columns works too. */
    reg = load_ok("\xEF\xBB\xBFunit_id\tname\tgroup\na\tb\tc\n");
    assert_int_equal(sgs_registry_count(reg), 1);
    sgs_registry_destroy(reg);
    expect_error("\n\xEF\xBB\xBFunit_id\tname\tgroup\na\tb\tc\n",
                 "t.tsv:2: header column 1 is '\xEF\xBB\xBFunit_id', expected 'unit_id'");
}

/* GB 32100-2015 check character, from RULES §3. */
static int uscc_ok(const char *s)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    static const int weights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    if (strlen(s) != 18) {
        return 0;
    }
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        const char *p = strchr(alphabet, s[i]);
        if (p == NULL || s[i] == '\0') {
            return 0;
        }
        sum += (int)(p - alphabet) * weights[i];
    }
    return s[17] == alphabet[(31 - sum % 31) % 31];
}

static void test_uscc_helper(void **state)
{
    (void)state;
    assert_true(uscc_ok("91350100M000100Y43"));
    assert_true(uscc_ok("91310110666007217T"));
    assert_true(uscc_ok("9144030071526726XG"));
    assert_true(uscc_ok("11230500001755309F"));
    assert_false(uscc_ok("11230500001755309G"));
    assert_false(uscc_ok("11410400MB0000000X"));
}

static void test_shipped_units(void **state)
{
    (void)state;
    char path[4096], err[512] = "";
    snprintf(path, sizeof(path), "%s/units.tsv", configs_dir());
    sgs_registry *reg = sgs_registry_load(path, err, sizeof(err));
    if (reg == NULL) {
        fail_msg("%s", err);
    }
    assert_int_equal(sgs_registry_count(reg), 42);
    assert_int_equal(sgs_registry_group_count(reg), 2);
    assert_string_equal(sgs_registry_group_at(reg, 0), "city");
    assert_string_equal(sgs_registry_group_at(reg, 1), "county");

    size_t city = 0, county = 0;
    for (size_t i = 0; i < sgs_registry_count(reg); i++) {
        const sgs_unit *u = sgs_registry_at(reg, i);
        assert_int_equal(u->index, i);
        assert_ptr_equal(find_id(reg, u->id), u);
        assert_ptr_equal(find(reg, u->name), u);
        for (size_t k = 0; k < u->n_aliases; k++) {
            assert_ptr_equal(find(reg, u->aliases[k]), u);
        }
        if (strcmp(u->group, "city") == 0) {
            city++;
            if (!uscc_ok(u->id) || strncmp(u->id, "11410400", 8) != 0) {
                fail_msg("city unit %s has id %s, not a valid 11410400 USCC", u->name, u->id);
            }
            assert_true(u->n_aliases >= 1);
        } else {
            assert_string_equal(u->group, "county");
            county++;
            char full[256];
            snprintf(full, sizeof(full), "平顶山市%s", u->name);
            assert_ptr_equal(find(reg, full), u);
        }
    }
    assert_int_equal(city, 30);
    assert_int_equal(county, 12);

    const sgs_unit *u = find(reg, "平顶山市市场监督管理局");
    assert_non_null(u);
    assert_string_equal(u->name, "市市场监管局");
    u = find(reg, "市交通运输局");
    assert_non_null(u);
    assert_string_equal(u->name, "市交通局");
    u = find(reg, "平顶山市交通运输局");
    assert_non_null(u);
    assert_string_equal(u->name, "市交通局");
    u = find(reg, "市自然资源局");
    assert_non_null(u);
    assert_string_equal(u->name, "市自然资源和规划局");
    static const struct {
        const char *id, *name;
    } counties[] = {
        {"410423", "鲁山县"},
        {"410421", "宝丰县"},
        {"410425", "郏县"},
        {"410422", "叶县"},
        {"410402", "新华区"},
        {"410403", "卫东区"},
        {"410411", "湛河区"},
        {"410482", "汝州市"},
        {"410481", "舞钢市"},
        {"410404", "石龙区"},
        {"410400-CXYTH", "城乡一体化示范区"},
        {"410400-GXQ", "高新技术产业开发区"},
    };
    for (size_t i = 0; i < 12; i++) {
        u = find_id(reg, counties[i].id);
        assert_non_null(u);
        assert_string_equal(u->name, counties[i].name);
        assert_string_equal(u->group, "county");
    }
    assert_null(find_id(reg, "平顶山市鲁山县"));
    sgs_registry_destroy(reg);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(sgs_registry_load("/nonexistent/units.tsv", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/units.tsv: cannot open: No such file or directory");
    assert_null(sgs_registry_load_buffer("t.tsv", "x", 1, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),       cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_bad_header),    cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_bom_crlf),      cmocka_unit_test(test_uscc_helper),
        cmocka_unit_test(test_shipped_units), cmocka_unit_test(test_load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

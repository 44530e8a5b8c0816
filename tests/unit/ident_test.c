/* Unit tests of the identifier checks (GB 32100-2015, GB 11643-1999). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/ident.h"

static enum sgs_uscc_result uscc(const char *s)
{
    return sgs_uscc_check(s, strlen(s));
}

static enum sgs_idno_result idno(const char *s)
{
    return sgs_idno_check(s, strlen(s));
}

/* The check character by the standard's definition, one character at a
 * time: the reference the library's (16 at once) must match. */
static char uscc_check_char_reference(const unsigned char *s17)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    int sum = 0, w = 1;

    for (int i = 0; i < 17; i++) {
        const char *at = s17[i] != 0 ? strchr(alphabet, s17[i]) : NULL;
        if (at == NULL) {
            return '\0';
        }
        sum += (int)(at - alphabet) * w;
        w = w * 3 % 31;
    }
    return alphabet[(31 - sum % 31) % 31];
}

/* Every byte value at every position of many codes, against the reference:
 * digits, each letter (the left-out I O S V Z and the lower case among the
 * rest), bytes of 0x80 and more. */
static void test_uscc_every_byte_everywhere(void **state)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    unsigned seed = 12345;
    unsigned char code[19];

    (void)state;
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < 18; i++) {
            seed = seed * 1103515245u + 12345u;
            code[i] = (unsigned char)alphabet[(seed >> 16) % 31];
        }
        code[18] = 0;
        for (int pos = 0; pos < 17; pos++) {
            unsigned char was = code[pos];
            for (int c = 0; c < 256; c++) {
                char want;
                code[pos] = (unsigned char)c;
                want = uscc_check_char_reference(code);
                assert_int_equal(sgs_uscc_check_char((const char *)code), want);
                code[17] = want != '\0' ? (unsigned char)want : '0';
                assert_int_equal(sgs_uscc_check((const char *)code, 18),
                                 want != '\0' ? SGS_USCC_OK : SGS_USCC_BAD_CHAR);
            }
            code[pos] = was;
        }
    }
}

static void test_uscc_valid_examples(void **state)
{
    static const char *const valid[] = {"91350100M000100Y43", "91310110666007217T",
                                        "9144030071526726XG", "11230500001755309F"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        assert_int_equal(uscc(valid[i]), SGS_USCC_OK);
        assert_int_equal(sgs_uscc_check_char(valid[i]), valid[i][17]);
    }
}

static void test_uscc_wrong_check_char(void **state)
{
    (void)state;
    assert_int_equal(uscc("91350100M000100Y44"), SGS_USCC_BAD_CHECK);
    assert_int_equal(uscc("91310110666007217U"), SGS_USCC_BAD_CHECK);
    /* An early Xiamen code: real, but fails the check (the record rule tolerates
     * it). */
    assert_int_equal(uscc("91350211M00013FA1N"), SGS_USCC_BAD_CHECK);
}

static void test_uscc_lower_case(void **state)
{
    (void)state;
    assert_int_equal(uscc("91310110666007217t"), SGS_USCC_BAD_CHAR);
    assert_int_equal(uscc("91350100m000100Y43"), SGS_USCC_BAD_CHAR);
    assert_int_equal(sgs_uscc_check_char("91350100m000100Y4"), '\0');
}

static void test_uscc_forbidden_letters(void **state)
{
    static const char forbidden[] = "IOSVZ";
    size_t i;

    (void)state;
    for (i = 0; forbidden[i] != '\0'; i++) {
        char code[19];
        memcpy(code, "91350100M000100Y43", 19);
        code[8] = forbidden[i];
        assert_int_equal(uscc(code), SGS_USCC_BAD_CHAR);
        assert_int_equal(sgs_uscc_char_value(forbidden[i]), -1);
        /* As the check character too. */
        memcpy(code, "91350100M000100Y43", 19);
        code[17] = forbidden[i];
        assert_int_equal(uscc(code), SGS_USCC_BAD_CHAR);
    }
    assert_int_equal(sgs_uscc_char_value('0'), 0);
    assert_int_equal(sgs_uscc_char_value('H'), 17);
    assert_int_equal(sgs_uscc_char_value('J'), 18);
    assert_int_equal(sgs_uscc_char_value('Y'), 30);
}

static void test_uscc_length(void **state)
{
    (void)state;
    assert_int_equal(uscc(""), SGS_USCC_BAD_LENGTH);
    assert_int_equal(uscc("91350100M000100Y4"), SGS_USCC_BAD_LENGTH);
    assert_int_equal(uscc("91350100M000100Y433"), SGS_USCC_BAD_LENGTH);
    assert_int_equal(sgs_uscc_check(NULL, 18), SGS_USCC_BAD_LENGTH);
    /* len, not the NUL, decides. */
    assert_int_equal(sgs_uscc_check("91350100M000100Y43trailing", 18), SGS_USCC_OK);
}

static void test_uscc_placeholder(void **state)
{
    (void)state;
    assert_true(sgs_uscc_is_placeholder("00000000000000000X", 18));
    assert_false(sgs_uscc_is_placeholder("00000000000000000X", 17));
    assert_false(sgs_uscc_is_placeholder("000000000000000000", 18));
    assert_false(sgs_uscc_is_placeholder(NULL, 18));
    /* Not special for the check itself. */
    assert_int_equal(uscc(SGS_USCC_PLACEHOLDER), SGS_USCC_BAD_CHECK);
}

static void test_idno_valid_examples(void **state)
{
    (void)state;
    assert_int_equal(idno("11010519491231002X"), SGS_IDNO_OK);
    assert_int_equal(idno("440524188001010014"), SGS_IDNO_OK);
    assert_int_equal(sgs_idno_check_char("11010519491231002"), 'X');
    assert_int_equal(sgs_idno_check_char("44052418800101001"), '4');
}

static void test_idno_bad_check(void **state)
{
    (void)state;
    assert_int_equal(idno("110105194912310021"), SGS_IDNO_BAD_CHECK);
    assert_int_equal(idno("440524188001010015"), SGS_IDNO_BAD_CHECK);
}

static void test_idno_bad_chars_and_length(void **state)
{
    (void)state;
    assert_int_equal(idno("11010519491231002x"), SGS_IDNO_BAD_CHAR); /* lower case x */
    assert_int_equal(idno("1101051949123100AX"), SGS_IDNO_BAD_CHAR);
    assert_int_equal(idno("X10105194912310021"), SGS_IDNO_BAD_CHAR);
    assert_int_equal(idno("11010519491231002"), SGS_IDNO_BAD_LENGTH);
    assert_int_equal(idno("110105194912310"), SGS_IDNO_BAD_LENGTH); /* old 15-digit form */
    assert_int_equal(idno(""), SGS_IDNO_BAD_LENGTH);
    assert_int_equal(sgs_idno_check(NULL, 18), SGS_IDNO_BAD_LENGTH);
    assert_int_equal(sgs_idno_check_char("1101051949123100A"), '\0');
}

/* Builds an ID around a birth date with a correct check digit, so that only the
 * date can be at fault. */
static enum sgs_idno_result idno_born(const char *yyyymmdd)
{
    char id[19];

    memcpy(id, "110105", 6);
    memcpy(id + 6, yyyymmdd, 8);
    memcpy(id + 14, "002", 3);
    id[17] = sgs_idno_check_char(id);
    id[18] = '\0';
    return idno(id);
}

static void test_idno_birth_date(void **state)
{
    (void)state;
    assert_int_equal(idno_born("19491231"), SGS_IDNO_OK);
    assert_int_equal(idno_born("20000229"), SGS_IDNO_OK);            /* leap year */
    assert_int_equal(idno_born("19490229"), SGS_IDNO_BAD_BIRTHDATE); /* not a leap year */
    assert_int_equal(idno_born("19000229"), SGS_IDNO_BAD_BIRTHDATE); /* century rule */
    assert_int_equal(idno_born("19491301"), SGS_IDNO_BAD_BIRTHDATE);
    assert_int_equal(idno_born("19490000"), SGS_IDNO_BAD_BIRTHDATE);
    assert_int_equal(idno_born("19490431"), SGS_IDNO_BAD_BIRTHDATE);
    assert_int_equal(idno_born("19491232"), SGS_IDNO_BAD_BIRTHDATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uscc_valid_examples),
        cmocka_unit_test(test_uscc_every_byte_everywhere),
        cmocka_unit_test(test_uscc_wrong_check_char),
        cmocka_unit_test(test_uscc_lower_case),
        cmocka_unit_test(test_uscc_forbidden_letters),
        cmocka_unit_test(test_uscc_length),
        cmocka_unit_test(test_uscc_placeholder),
        cmocka_unit_test(test_idno_valid_examples),
        cmocka_unit_test(test_idno_bad_check),
        cmocka_unit_test(test_idno_bad_chars_and_length),
        cmocka_unit_test(test_idno_birth_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

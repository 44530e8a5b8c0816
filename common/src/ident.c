/* Check characters of the Unified Social Credit Code (GB 32100-2015) and of the
 * resident ID number (GB 11643-1999). Pure functions, no state. */
#include "sgs/ident.h"

#include "sgs/date.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* GB 32100-2015 code alphabet, value = index: digits, then A-Z without I O S V
 * Z. */
static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* 1 + value of each byte of the GB 32100 alphabet; 0 for every other byte. */
static const unsigned char uscc_values[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['G'] = 17, ['H'] = 18, ['J'] = 19, ['K'] = 20, ['L'] = 21, ['M'] = 22, ['N'] = 23, ['P'] = 24,
    ['Q'] = 25, ['R'] = 26, ['T'] = 27, ['U'] = 28, ['W'] = 29, ['X'] = 30, ['Y'] = 31};

int sgs_uscc_char_value(char c)
{
    return (int)uscc_values[(unsigned char)c] - 1;
}

#if !defined(__SSE2__)
/* Weight of position i (0-based): 3^i mod 31. */
static const unsigned char uscc_weights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                               29, 25, 13, 8,  24, 10, 30, 28};
#endif

/* The weighted sum of the first 17 characters of s17, -1 if one of them is not
 * in the alphabet. */
#if defined(__SSE2__)
/* The first 16 characters at once: a byte's value is c - '0' for a digit and
 * c - 'A' + 10 for a letter, less one for each of I, O, S and V below it;
 * the values, widened to 16 bits, are multiplied by their weights and summed
 * in pairs (pmaddwd), then across. A byte of 0x80 or more compares below
 * every bound (signed) and is in neither range. ~40 instructions against
 * ~170 a byte at a time (a record has two codes). The 17th by the table. */
static int uscc_sum(const char *s17)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s17);
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                        _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                                         _mm_cmplt_epi8(v, _mm_set1_epi8('Y' + 1)));
    const __m128i left_out = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('I')), _mm_cmpeq_epi8(v, _mm_set1_epi8('O'))),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('S')), _mm_cmpeq_epi8(v, _mm_set1_epi8('V'))));
    const __m128i ok = _mm_or_si128(digit, _mm_andnot_si128(left_out, letter));
    /* (the compares give -1 where true: added, each takes one off) */
    const __m128i passed = _mm_add_epi8(
        _mm_add_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8('I')), _mm_cmpgt_epi8(v, _mm_set1_epi8('O'))),
        _mm_add_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8('S')), _mm_cmpgt_epi8(v, _mm_set1_epi8('V'))));
    const __m128i value =
        _mm_add_epi8(_mm_sub_epi8(_mm_sub_epi8(v, _mm_set1_epi8('0')),
                                  _mm_and_si128(letter, _mm_set1_epi8('A' - 10 - '0'))),
                     passed);
    const __m128i zero = _mm_setzero_si128();
    __m128i sum = _mm_add_epi32(
        _mm_madd_epi16(_mm_unpacklo_epi8(value, zero), _mm_setr_epi16(1, 3, 9, 27, 19, 26, 16, 17)),
        _mm_madd_epi16(_mm_unpackhi_epi8(value, zero),
                       _mm_setr_epi16(20, 29, 25, 13, 8, 24, 10, 30)));
    int last = uscc_values[(unsigned char)s17[16]];

    if (_mm_movemask_epi8(ok) != 0xFFFF || last == 0) {
        return -1;
    }
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(sum) + (last - 1) * 28;
}
#else
/* Without a branch per character: the table holds 1 + value, so the sum of
 * the table's numbers is the sum wanted plus that of the weights, and a 0
 * among them marks a character outside the alphabet. */
static int uscc_sum(const char *s17)
{
    enum {
        WEIGHTS = 1 + 3 + 9 + 27 + 19 + 26 + 16 + 17 + 20 + 29 + 25 + 13 + 8 + 24 + 10 + 30 + 28
    };
    int sum = 0, bad = 0;
    int i;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 17 /* the weights become constants */
#endif
    for (i = 0; i < 17; i++) {
        int v = uscc_values[(unsigned char)s17[i]];
        bad |= v == 0;
        sum += v * uscc_weights[i];
    }
    return bad ? -1 : sum - WEIGHTS;
}
#endif

/* The check character's value for a weighted sum (31 - sum mod 31, 0 for 31). */
static int check_of(int sum)
{
    int r = sum % 31;
    return r != 0 ? 31 - r : 0;
}

char sgs_uscc_check_char(const char *s17)
{
    int sum = uscc_sum(s17);

    if (sum < 0) {
        return '\0';
    }
    return uscc_alphabet[check_of(sum)];
}

enum sgs_uscc_result sgs_uscc_check(const char *s, size_t len)
{
    int sum;

    if (s == NULL || len != 18) {
        return SGS_USCC_BAD_LENGTH;
    }
    sum = uscc_sum(s);
    if (sum < 0 || sgs_uscc_char_value(s[17]) < 0) {
        return SGS_USCC_BAD_CHAR;
    }
    return uscc_alphabet[check_of(sum)] == s[17] ? SGS_USCC_OK : SGS_USCC_BAD_CHECK;
}

int sgs_uscc_is_placeholder(const char *s, size_t len)
{
    static const char placeholder[] = SGS_USCC_PLACEHOLDER;
    size_t i;

    if (s == NULL || len != sizeof(placeholder) - 1) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] != placeholder[i]) {
            return 0;
        }
    }
    return 1;
}

char sgs_idno_check_char(const char *s17)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[] = "10X98765432";
    int sum = 0;
    int i;

    for (i = 0; i < 17; i++) {
        if (s17[i] < '0' || s17[i] > '9') {
            return '\0';
        }
        sum += (s17[i] - '0') * weights[i];
    }
    return checks[sum % 11];
}

static int digits_value(const char *s, int n)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

enum sgs_idno_result sgs_idno_check(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len != 18) {
        return SGS_IDNO_BAD_LENGTH;
    }
    for (i = 0; i < 17; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return SGS_IDNO_BAD_CHAR;
        }
    }
    if (!((s[17] >= '0' && s[17] <= '9') || s[17] == 'X')) {
        return SGS_IDNO_BAD_CHAR;
    }
    /* Positions 7-14 (1-based) are the birth date YYYYMMDD. */
    if (!sgs_date_valid(digits_value(s + 6, 4), digits_value(s + 10, 2), digits_value(s + 12, 2))) {
        return SGS_IDNO_BAD_BIRTHDATE;
    }
    return sgs_idno_check_char(s) == s[17] ? SGS_IDNO_OK : SGS_IDNO_BAD_CHECK;
}

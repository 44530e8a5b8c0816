/* Normal form of decision document numbers (DOMAIN.md §4).
 *
 * Two passes over a bounded buffer of code points: the first decodes the UTF-8
 * strictly, maps full-width digits and letters to ASCII and drops white space;
 * the second finds the brackets that enclose a 4-digit year, rewrites them as
 * 〔〕 and reads the serial after the last of them. Nothing is allocated. */
#include "sgs/docno.h"

#include <stdint.h>
#include <string.h>

/* Most code points kept after white space is dropped. A real doc_no has a few
 * dozen; anything longer than this could not be a valid one (the record rule is
 * at most 64 characters), so it is refused rather than truncated. */
#define DOCNO_CP_MAX 1024

/* A serial with more significant digits than this is not read as a number. */
#define SERIAL_DIGITS_MAX 18

#define CP_DI    0x7B2C /* 第 */
#define CP_HAO   0x53F7 /* 号 */
#define CP_OPEN  0x3014 /* 〔 */
#define CP_CLOSE 0x3015 /* 〕 */

/* Strict UTF-8 decoding (no overlong forms, no surrogates, nothing above
 * U+10FFFF). Returns the sequence length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n, i;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F; /* U+D800-DFFF are surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (len < n) {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

/* Appends cp as UTF-8 to buf (capacity cap including the final NUL). -1 when it
 * does not fit. */
static int utf8_put(char *buf, size_t cap, size_t *used, uint32_t cp)
{
    unsigned char tmp[4];
    size_t n;

    if (cp < 0x80) {
        tmp[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (unsigned char)(0xC0 | (cp >> 6));
        tmp[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (unsigned char)(0xE0 | (cp >> 12));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (unsigned char)(0xF0 | (cp >> 18));
        tmp[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (*used + n >= cap) {
        return -1;
    }
    memcpy(buf + *used, tmp, n);
    *used += n;
    buf[*used] = '\0';
    return 0;
}

static int is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

static uint32_t map_fullwidth(uint32_t cp)
{
    if (cp >= 0xFF10 && cp <= 0xFF19) {
        return '0' + (cp - 0xFF10);
    }
    if (cp >= 0xFF21 && cp <= 0xFF3A) {
        return 'A' + (cp - 0xFF21);
    }
    if (cp >= 0xFF41 && cp <= 0xFF5A) {
        return 'a' + (cp - 0xFF41);
    }
    return cp;
}

/* Brackets that may enclose the year: 〔〕 [] ［］ 【】 （） () ﹝﹞ 〖〗, and
 * 〘〙. Any opener pairs with any closer: sloppy data mixes them ("〔2023]").
 */
static int is_open(uint32_t cp)
{
    return cp == 0x3014 || cp == '[' || cp == 0xFF3B || cp == 0x3010 || cp == 0xFF08 || cp == '(' ||
           cp == 0xFE5D || cp == 0x3016 || cp == 0x3018;
}

static int is_close(uint32_t cp)
{
    return cp == 0x3015 || cp == ']' || cp == 0xFF3D || cp == 0x3011 || cp == 0xFF09 || cp == ')' ||
           cp == 0xFE5E || cp == 0x3017 || cp == 0x3019;
}

/* Separators of a serial range "12号-13号": hyphens, dashes, tildes, 至. */
static int is_range_sep(uint32_t cp)
{
    return cp == '-' || cp == '~' || (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 ||
           cp == 0xFF0D || cp == 0xFF5E || cp == 0x301C || cp == 0x81F3;
}

static int is_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

static int is_year_bracket(const uint32_t *cps, size_t n, size_t i)
{
    return i + 5 < n && is_open(cps[i]) && is_digit(cps[i + 1]) && is_digit(cps[i + 2]) &&
           is_digit(cps[i + 3]) && is_digit(cps[i + 4]) && is_close(cps[i + 5]);
}

/* Reads the decimal digits at cps[*i]. On success (at least one digit and at
 * most SERIAL_DIGITS_MAX significant ones) stores the value, advances *i past
 * them and returns 0; otherwise returns -1 and leaves *i. */
static int read_serial(const uint32_t *cps, size_t n, size_t *i, uint64_t *value)
{
    size_t j = *i;
    int significant = 0;
    uint64_t v = 0;

    if (j >= n || !is_digit(cps[j])) {
        return -1;
    }
    for (; j < n && is_digit(cps[j]); j++) {
        if (v == 0 && cps[j] == '0') {
            continue; /* leading zero */
        }
        if (++significant > SERIAL_DIGITS_MAX) {
            return -1;
        }
        v = v * 10 + (cps[j] - '0');
    }
    *value = v;
    *i = j;
    return 0;
}

static int put_decimal(char *buf, size_t cap, size_t *used, size_t *chars, uint64_t v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        if (utf8_put(buf, cap, used, (uint32_t)tmp[--n]) != 0) {
            return -1;
        }
        (*chars)++;
    }
    return 0;
}

static int fail(sgs_docno *out)
{
    memset(out, 0, sizeof(*out));
    return -1;
}

int sgs_docno_normalize(const char *s, size_t len, sgs_docno *out)
{
    uint32_t cps[DOCNO_CP_MAX];
    size_t n = 0;
    size_t pos = 0;
    size_t i;
    size_t last_year = SIZE_MAX;
    size_t used = 0;
    size_t chars = 0;
    char *buf = out->norm;
    const size_t cap = sizeof(out->norm);

    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return fail(out);
    }

    /* Pass 1: decode, map full-width, drop white space. */
    while (pos < len) {
        uint32_t cp;
        size_t k = utf8_decode((const unsigned char *)s + pos, len - pos, &cp);
        if (k == 0 || cp == 0) {
            return fail(out); /* invalid UTF-8, or a NUL that would cut the C string */
        }
        pos += k;
        if (is_space(cp)) {
            continue;
        }
        if (n == DOCNO_CP_MAX) {
            return fail(out);
        }
        cps[n++] = map_fullwidth(cp);
    }

    for (i = 0; i < n; i++) {
        if (is_year_bracket(cps, n, i)) {
            last_year = i;
        }
    }

    /* Pass 2: write the normal form. */
    i = 0;
    while (i < n) {
        size_t k;

        if (!is_year_bracket(cps, n, i)) {
            if (utf8_put(buf, cap, &used, cps[i]) != 0) {
                return fail(out);
            }
            chars++;
            i++;
            continue;
        }
        if (i == last_year) {
            memcpy(out->prefix, buf, used + 1);
            out->year = (int)((cps[i + 1] - '0') * 1000 + (cps[i + 2] - '0') * 100 +
                              (cps[i + 3] - '0') * 10 + (cps[i + 4] - '0'));
        }
        if (utf8_put(buf, cap, &used, CP_OPEN) != 0) {
            return fail(out);
        }
        for (k = 1; k <= 4; k++) {
            if (utf8_put(buf, cap, &used, cps[i + k]) != 0) {
                return fail(out);
            }
        }
        if (utf8_put(buf, cap, &used, CP_CLOSE) != 0) {
            return fail(out);
        }
        chars += 6;
        i += 6;
        if (i - 6 != last_year) {
            continue;
        }

        /* The serial: optional 第, digits, and maybe a range "12号-13号". */
        {
            size_t j = i;
            uint64_t lo, hi;

            if (j < n && cps[j] == CP_DI && j + 1 < n && is_digit(cps[j + 1])) {
                j++;
            }
            if (read_serial(cps, n, &j, &lo) != 0) {
                continue; /* no serial (or an absurd one): the rest is copied as is */
            }
            out->has_serial = 1;
            out->serial_lo = out->serial_hi = lo;
            if (put_decimal(buf, cap, &used, &chars, lo) != 0) {
                return fail(out);
            }
            i = j;
            /* Range: [号] separator [第] digits, with a larger second number. */
            if (j < n && cps[j] == CP_HAO) {
                j++;
            }
            if (j < n && is_range_sep(cps[j])) {
                j++;
                if (j < n && cps[j] == CP_DI) {
                    j++;
                }
                if (read_serial(cps, n, &j, &hi) == 0 && hi > lo) {
                    out->serial_hi = hi;
                    if (utf8_put(buf, cap, &used, '-') != 0 ||
                        put_decimal(buf, cap, &used, &chars, hi) != 0) {
                        return fail(out);
                    }
                    chars++;
                    i = j;
                }
            }
        }
    }
    out->norm_chars = chars;
    return 0;
}

/* Normal form of decision document numbers (RULES §4).
 *
 * The leading characters that stay as they are (CJK, most ASCII) are copied;
 * when the rest has the usual shape "〔2023〕45号" (or 第045号) it is written
 * directly. Otherwise the rest takes two passes over a bounded buffer of code
 * points: the first decodes the UTF-8 strictly, maps full-width digits and
 * letters to ASCII, drops white space and rewrites the brackets that enclose a
 * 4-digit year as 〔〕; the second writes the normal form and reads the serial
 * after the last year bracket. Nothing is allocated. */
#include "sgs/docno.h"

#include <stdatomic.h>
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

/* UTF-8 length of cp. */
static size_t utf8_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Appends the n code points at cps as UTF-8 to buf, which holds SGS_DOCNO_MAX
 * bytes with the final NUL (the caller has zeroed it). -1 when they do not fit. */
static int put_cps(char *buf, size_t *used, const uint32_t *cps, size_t n)
{
    unsigned char *p = (unsigned char *)buf;
    size_t u = *used;
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t cp = cps[i];
        size_t k = utf8_len(cp);

        if (u + k >= SGS_DOCNO_MAX) {
            return -1;
        }
        switch (k) {
        case 1:
            p[u] = (unsigned char)cp;
            break;
        case 2:
            p[u] = (unsigned char)(0xC0 | (cp >> 6));
            p[u + 1] = (unsigned char)(0x80 | (cp & 0x3F));
            break;
        case 3:
            p[u] = (unsigned char)(0xE0 | (cp >> 12));
            p[u + 1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            p[u + 2] = (unsigned char)(0x80 | (cp & 0x3F));
            break;
        default:
            p[u] = (unsigned char)(0xF0 | (cp >> 18));
            p[u + 1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            p[u + 2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            p[u + 3] = (unsigned char)(0x80 | (cp & 0x3F));
            break;
        }
        u += k;
    }
    *used = u;
    return 0;
}

static int is_space(uint32_t cp)
{
    if (cp > 0x3000) {
        return cp == 0xFEFF; /* the common case, CJK, in two comparisons */
    }
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

static uint32_t map_fullwidth(uint32_t cp)
{
    if (cp < 0xFF10) {
        return cp;
    }
    if (cp <= 0xFF19) {
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

/* Appends v in decimal to buf (as put_cps) and counts its digits in *chars. */
static int put_decimal(char *buf, size_t *used, size_t *chars, uint64_t v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (*used + n >= SGS_DOCNO_MAX) {
        return -1;
    }
    *chars += n;
    while (n > 0) {
        buf[(*used)++] = tmp[--n];
    }
    return 0;
}

static int fail(sgs_docno *out)
{
    memset(out, 0, sizeof(*out));
    return -1;
}

/* Bytes of the leading characters of s that the normal form keeps as they are
 * and that cannot start a year bracket: printable ASCII other than '[' and '(',
 * and U+4000-U+9FFF (lead bytes E4-E9, which covers the CJK ideographs). Their
 * number goes to *chars. */
static size_t plain_prefix(const unsigned char *s, size_t len, size_t *chars)
{
    size_t i = 0, n = 0;

    while (i < len) {
        if (s[i] >= 0xE4 && s[i] <= 0xE9 && len - i >= 3 && (s[i + 1] & 0xC0) == 0x80 &&
            (s[i + 2] & 0xC0) == 0x80) {
            i += 3;
        } else if (s[i] > 0x20 && s[i] < 0x7F && s[i] != '[' && s[i] != '(') {
            i++;
        } else {
            break;
        }
        n++;
    }
    *chars = n;
    return i;
}

static int is_ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Bytes of the year bracket's opener (open) or closer at t, one of those
 * is_open and is_close accept: ASCII, or three bytes with lead E3 (U+3000-
 * U+3FFF: 〔〕【】〖〗〘〙) or EF (U+F000-U+FFFF: ［］（）﹝﹞); 0 when none is. */
static size_t bracket_at(const unsigned char *t, size_t n, int open)
{
    uint32_t cp;
    size_t k;

    if (n == 0) {
        return 0;
    }
    if (t[0] < 0x80) {
        cp = t[0];
        k = 1;
    } else if (n >= 3 && (t[0] == 0xE3 || t[0] == 0xEF) && (t[1] & 0xC0) == 0x80 &&
               (t[2] & 0xC0) == 0x80) {
        cp = (uint32_t)(t[0] & 0x0F) << 12 | (uint32_t)(t[1] & 0x3F) << 6 | (t[2] & 0x3F);
        k = 3;
    } else {
        return 0;
    }
    return (open ? is_open(cp) : is_close(cp)) ? k : 0;
}

/* The usual rest of a doc_no after its plain prefix, already in out->norm
 * (used bytes, chars characters): "〔2023〕45号" or "〔2023〕第045号", ASCII
 * digits, nothing else; the year's brackets may be any pair the general rules
 * take ("[2023]", "（2023）"...), written 〔〕 as they write them. Writes its
 * normal form and the parts and returns 0, or returns -1 without writing
 * anything when t (n bytes) has another shape or the form would not fit. */
static int usual_rest(const unsigned char *t, size_t n, size_t used, size_t chars, sgs_docno *out)
{
    size_t i, first, digits, ob = bracket_at(t, n, 1), cb;
    uint64_t v = 0;

    if (ob == 0 || n < ob + 4 || !is_ascii_digit(t[ob]) || !is_ascii_digit(t[ob + 1]) ||
        !is_ascii_digit(t[ob + 2]) || !is_ascii_digit(t[ob + 3])) {
        return -1;
    }
    cb = bracket_at(t + ob + 4, n - ob - 4, 0);
    if (cb == 0) {
        return -1;
    }
    i = ob + 4 + cb;
    if (n - i >= 3 && memcmp(t + i, "第", 3) == 0) {
        i += 3;
    }
    first = i;
    while (i < n && t[i] == '0') {
        i++; /* leading zeros, or the serial 0 */
    }
    for (digits = 0; i + digits < n && is_ascii_digit(t[i + digits]); digits++) {
        v = v * 10 + (t[i + digits] - '0');
    }
    if (i + digits == first || digits > SERIAL_DIGITS_MAX || n - i - digits != 3 ||
        memcmp(t + i + digits, "号", 3) != 0 ||
        used + 10 + (digits ? digits : 1) + 3 >= SGS_DOCNO_MAX) {
        return -1;
    }
    memcpy(out->prefix, out->norm, used);
    out->prefix_len = used;
    out->usual = t[ob] != '0';
    out->year =
        (t[ob] - '0') * 1000 + (t[ob + 1] - '0') * 100 + (t[ob + 2] - '0') * 10 + (t[ob + 3] - '0');
    out->has_serial = 1;
    out->serial_lo = out->serial_hi = v;
    memcpy(out->norm + used, "〔", 3);
    memcpy(out->norm + used + 3, t + ob, 4);
    memcpy(out->norm + used + 7, "〕", 3);
    used += 10;
    if (digits == 0) {
        out->norm[used++] = '0';
        digits = 1;
    } else {
        memcpy(out->norm + used, t + i, digits);
        used += digits;
    }
    memcpy(out->norm + used, "号", 3);
    out->norm_chars = chars + 6 + digits + 1;
    return 0;
}

/* sgs_docno_set_direct's setting less 1: 0 (the default) the direct way
 * first, -1 the general way only (tests) */
static atomic_int direct_mode;

int sgs_docno_set_direct(int on)
{
    return atomic_exchange_explicit(&direct_mode, on - 1, memory_order_relaxed) + 1;
}

int sgs_docno_normalize(const char *s, size_t len, sgs_docno *out)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cps[DOCNO_CP_MAX];
    size_t n = 0;
    size_t pos, chars;
    size_t i, j;
    size_t last_year = SIZE_MAX;
    size_t used;
    uint64_t lo, hi;
    char *buf = out->norm;

    /* The output is written into the zeroed out->norm without NULs of its own,
     * and stays NUL-terminated as long as it fits (put_cps, put_decimal). */
    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return fail(out);
    }

    /* The plain characters at the start are copied as they are (the normal
     * form starts with them: too many cannot fit); then the usual "〔2023〕45号"
     * needs no decoding. Its normal form is never longer than the input, so an
     * input shorter than SGS_DOCNO_MAX fits, without the character limit. */
    pos = used = plain_prefix(u, len, &chars);
    if (used >= SGS_DOCNO_MAX) {
        return fail(out);
    }
    memcpy(buf, s, used);
    if (len < SGS_DOCNO_MAX && atomic_load_explicit(&direct_mode, memory_order_relaxed) == 0 &&
        usual_rest(u + pos, len - pos, used, chars, out) == 0) {
        return 0;
    }

    /* Pass 1 over the rest: decode, map full-width, drop white space, and turn
     * the brackets of every year bracket into 〔〕 as its closer arrives (year
     * brackets cannot overlap: their inside is digits, which are neither
     * openers nor closers). */
    while (pos < len) {
        uint32_t cp;
        size_t k = utf8_decode(u + pos, len - pos, &cp);
        if (k == 0 || cp == 0) {
            return fail(out); /* invalid UTF-8, or a NUL that would cut the C string */
        }
        pos += k;
        if (is_space(cp)) {
            continue;
        }
        if (chars + n == DOCNO_CP_MAX) {
            return fail(out);
        }
        cps[n++] = map_fullwidth(cp);
        if (n >= 6 && !is_digit(cps[n - 1]) && is_digit(cps[n - 2]) &&
            is_year_bracket(cps, n, n - 6)) {
            cps[n - 6] = CP_OPEN;
            cps[n - 1] = CP_CLOSE;
            last_year = n - 6;
        }
    }

    /* Pass 2: write the normal form. Without a year bracket it is the text of
     * pass 1; with one, the serial after the last one is rewritten. */
    if (last_year == SIZE_MAX) {
        if (put_cps(buf, &used, cps, n) != 0) {
            return fail(out);
        }
        out->norm_chars = chars + n;
        return 0;
    }
    if (put_cps(buf, &used, cps, last_year) != 0) {
        return fail(out);
    }
    memcpy(out->prefix, buf, used);
    out->prefix_len = used;
    out->year = (int)((cps[last_year + 1] - '0') * 1000 + (cps[last_year + 2] - '0') * 100 +
                      (cps[last_year + 3] - '0') * 10 + (cps[last_year + 4] - '0'));
    i = last_year + 6;
    if (put_cps(buf, &used, cps + last_year, 6) != 0) {
        return fail(out);
    }
    out->norm_chars = chars + i;

    /* The serial: optional 第, digits, and maybe a range "12号-13号". Without
     * one (or with an absurd one) the rest is copied as it is. */
    j = i;
    if (j < n && cps[j] == CP_DI && j + 1 < n && is_digit(cps[j + 1])) {
        j++;
    }
    if (read_serial(cps, n, &j, &lo) == 0) {
        out->has_serial = 1;
        out->serial_lo = out->serial_hi = lo;
        if (put_decimal(buf, &used, &out->norm_chars, lo) != 0) {
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
                if (used + 1 >= SGS_DOCNO_MAX) {
                    return fail(out);
                }
                buf[used++] = '-';
                out->norm_chars++;
                if (put_decimal(buf, &used, &out->norm_chars, hi) != 0) {
                    return fail(out);
                }
                i = j;
            }
        }
    }
    /* the usual shape: one serial, then 号 and nothing else */
    out->usual = out->has_serial && out->serial_lo == out->serial_hi && out->year >= 1000 &&
                 n - i == 1 && cps[i] == CP_HAO;
    if (put_cps(buf, &used, cps + i, n - i) != 0) {
        return fail(out);
    }
    out->norm_chars += n - i;
    return 0;
}

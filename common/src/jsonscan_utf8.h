/* Private to common/src: the checks of JSON text that the tokenizer
 * (jsonscan.c) and the direct record reader (record_fast.c) share, inline in
 * both (a message has some forty strings): white space between values, and
 * the text inside strings (buf.c uses the latter too).
 *
 * A string is valid as jansson 2.14 reads it: UTF-8 without overlong forms,
 * surrogates or code points above U+10FFFF, no control character U+0000-U+001F
 * unescaped, escapes as JSON has them (checked by the tokenizer only). */
#ifndef SGS_JSONSCAN_UTF8_H
#define SGS_JSONSCAN_UTF8_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------------ */
/* White space between values                                                */

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline __attribute__((always_inline)) const unsigned char *skip_ws(const unsigned char *p,
                                                                          const unsigned char *end)
{
    if (p<end && * p> ' ') {
        return p; /* compact JSON: the usual case */
    }
    while (p < end && is_ws(*p)) {
        p++;
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Byte classes inside strings                                               */

enum {
    C_PLAIN = 0, /* printable ASCII other than '"' and '\\' (0x7F included, as in jansson) */
    C_QUOTE,
    C_ESC,
    C_CTRL, /* U+0000-U+001F */
    C_BAD,  /* never valid in UTF-8: 80-C1, F5-FF */
    C_U2,   /* C2-DF: one continuation byte */
    C_U3,   /* E1-EC, EE-EF: two */
    C_E0,   /* E0: second byte A0-BF (no overlong form) */
    C_ED,   /* ED: second byte 80-9F (no surrogates) */
    C_U4,   /* F1-F3: three */
    C_F0,   /* F0: second byte 90-BF */
    C_F4,   /* F4: second byte 80-8F (nothing above U+10FFFF) */
};

static const unsigned char str_class[256] = {
    3,  3, 3, 3, 3,  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 00 */
    3,  3, 3, 3, 3,  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 10 */
    0,  0, 1, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 50 */
    0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    4,  4, 4, 4, 4,  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 80 */
    4,  4, 4, 4, 4,  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 90 */
    4,  4, 4, 4, 4,  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* A0 */
    4,  4, 4, 4, 4,  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* B0 */
    4,  4, 5, 5, 5,  5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* C0 */
    5,  5, 5, 5, 5,  5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* D0 */
    7,  6, 6, 6, 6,  6, 6, 6, 6, 6, 6, 6, 6, 8, 6, 6, /* E0 */
    10, 9, 9, 9, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* F0 */
};

static inline int is_cont(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

#if defined(__SSE2__)
/* Of a block of 16 bytes: the continuation bytes (80-BF) in *cont, and the
 * leads of the common 3-byte characters (E1-EC, EE-EF: CJK) returned, a bit
 * per byte. Each such lead expects continuation bytes in the 2 bytes after it. */
static inline __attribute__((always_inline)) unsigned block_leads(__m128i v, unsigned *cont)
{
    *cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0)));
    return (unsigned)_mm_movemask_epi8(
               _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)0xE0)),
                             _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xF0)))) &
           ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED)));
}
#endif

/* How far back from a block boundary the character it cut starts, from the
 * continuation bytes its lead still expects there (bits 0-1 of carry: at the
 * boundary and after it): 1 for a lead just before it, 2 for a lead and one
 * continuation byte, 0 when it cut none. */
static inline __attribute__((always_inline)) size_t cut_back(uint64_t carry)
{
    return carry == 3 ? 1 : carry == 1 ? 2 : 0;
}

/* Skips what needs no attention inside a string: printable ASCII other than
 * '"' and '\\', and the common 3-byte UTF-8 characters (lead E1-EC or EE-EF,
 * which covers CJK). Returns p moved forward to a character boundary: at a
 * quote, a backslash or a control character, at a character that needs the
 * full check, or within 16 bytes of end. scan_string() checks from there. */
static inline __attribute__((always_inline)) const unsigned char *
skip_simple(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
    /* 16 bytes at a time: masks of ASCII bytes, continuation bytes (80-BF),
     * common leads and special bytes; the block is simple when each lead is
     * followed by exactly two continuation bytes and nothing else occurs (up
     * to the first special byte). Leads near the end carry expectations into
     * the next block. */
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    unsigned carry = 0; /* bits 0-1: continuation bytes expected at p, p + 1 */

    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned high = (unsigned)_mm_movemask_epi8(v); /* bytes >= 0x80 */
        unsigned special = (unsigned)_mm_movemask_epi8(_mm_or_si128(
                               _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                               _mm_cmplt_epi8(v, space))) &
                           ~high;
        unsigned upto = special != 0 ? (special & (0u - special)) - 1 : 0xFFFF;
        unsigned cont, lead, expect;

        if (((high & upto) | carry) == 0) {
            /* ASCII up to the special byte or through the block */
            if (special != 0) {
                return p + __builtin_ctz(special);
            }
            p += 16;
            continue;
        }
        lead = block_leads(v, &cont);
        expect = (lead << 1) | (lead << 2) | carry;
        if ((high & ~(cont | lead) & upto) != 0 || (cont & upto) != (expect & upto)) {
            break; /* something to check closely in this block */
        }
        if (special != 0) {
            if ((expect & ~upto) != 0) {
                break; /* a character cut short by the special byte */
            }
            return p + __builtin_ctz(special);
        }
        carry = expect >> 16;
        p += 16;
    }
    /* Back to the start of a character cut by the block boundary. */
    return p - cut_back(carry);
#else
    while (p < end && str_class[*p] == C_PLAIN) {
        p++;
    }
    return p;
#endif
}

/* The length of the valid multi-byte UTF-8 character at p (2 to 4 bytes, none
 * overlong, no surrogate, nothing above U+10FFFF), 0 when it is not one. */
static inline size_t utf8_char_len(const unsigned char *p, const unsigned char *end)
{
    switch (str_class[*p]) {
    case C_U2:
        return end - p >= 2 && is_cont(p[1]) ? 2 : 0;
    case C_U3:
        return end - p >= 3 && is_cont(p[1]) && is_cont(p[2]) ? 3 : 0;
    case C_E0:
        return end - p >= 3 && p[1] >= 0xA0 && p[1] <= 0xBF && is_cont(p[2]) ? 3 : 0;
    case C_ED:
        return end - p >= 3 && p[1] >= 0x80 && p[1] <= 0x9F && is_cont(p[2]) ? 3 : 0;
    case C_U4:
        return end - p >= 4 && is_cont(p[1]) && is_cont(p[2]) && is_cont(p[3]) ? 4 : 0;
    case C_F0:
        return end - p >= 4 && p[1] >= 0x90 && p[1] <= 0xBF && is_cont(p[2]) && is_cont(p[3]) ? 4
                                                                                              : 0;
    case C_F4:
        return end - p >= 4 && p[1] >= 0x80 && p[1] <= 0x8F && is_cont(p[2]) && is_cont(p[3]) ? 4
                                                                                              : 0;
    default:
        return 0;
    }
}

/* The characters from p (a character boundary) to until at least, or to
 * end, one at a time as text_plain takes them: the position after the last
 * one, NULL at one that is not plain. */
static inline __attribute__((always_inline)) const unsigned char *
plain_chars(const unsigned char *p, const unsigned char *until, const unsigned char *end)
{
    while (p < until) {
        unsigned char c = str_class[*p];
        size_t n = c == C_PLAIN || c == C_QUOTE ? 1 : utf8_char_len(p, end);
        if (n == 0) {
            return NULL;
        }
        p += n;
    }
    return p;
}

/* Whether the whole text [p, end) is plain: no backslash, no control
 * character (U+0000-U+001F) and valid UTF-8 as a string must be (the
 * checks of plain_string_end, with the quote taken as any ASCII byte). In
 * such a text every string is plain too: a quote is never part of a
 * multi-byte character, so each string holds whole characters, and its end
 * is its next quote (next_quote). The direct reader checks a message so
 * once, with 16 bytes a step, instead of string by string. */
static inline int text_plain(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    unsigned carry = 0; /* as in skip_simple */

    for (;;) {
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned high = (unsigned)_mm_movemask_epi8(v);
            unsigned cont, lead, expect;
            /* (bytes >= 0x80 compare below the space as signed: taken out) */
            if (((unsigned)_mm_movemask_epi8(
                     _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmplt_epi8(v, space))) &
                 ~high) != 0) {
                return 0;
            }
            if ((high | carry) == 0) {
                p += 16;
                continue;
            }
            lead = block_leads(v, &cont);
            expect = (lead << 1) | (lead << 2) | carry;
            if ((high & ~(cont | lead)) != 0 || cont != (expect & 0xFFFF)) {
                break; /* a block to check character by character */
            }
            carry = expect >> 16;
            p += 16;
        }
        /* From the start of the character the block boundary cut: at least 16
         * bytes one character at a time (or to the end), then blocks again. */
        p -= cut_back(carry);
        carry = 0;
        p = plain_chars(p, end - p > 16 ? p + 16 : end, end);
        if (p == NULL) {
            return 0;
        }
        if (p >= end) {
            return 1;
        }
    }
#else
    return plain_chars(p, end, end) != NULL;
#endif
}

/* The first quote at or after p, NULL when there is none before end. */
static inline __attribute__((always_inline)) const char *next_quote(const char *s, const char *e)
{
    const unsigned char *p = (const unsigned char *)s, *end = (const unsigned char *)e;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    while (end - p >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), quote));
        if (m != 0) {
            return (const char *)p + __builtin_ctz(m);
        }
        p += 16;
    }
#endif
    while (p < end && *p != '"') {
        p++;
    }
    return p < end ? (const char *)p : NULL;
}

/* The closing quote of the string whose first byte (after the opening quote)
 * is at p, when it has no escape and is valid (as scan_string in jsonscan.c
 * checks it); NULL otherwise: an escape, a control character, bytes that are
 * not UTF-8, or no closing quote before end. */
static inline __attribute__((always_inline)) const char *plain_string_end(const char *s,
                                                                          const char *e)
{
    const unsigned char *p = (const unsigned char *)s, *end = (const unsigned char *)e;

    p = skip_simple(p, end);
    if (p < end && *p == '"') {
        return (const char *)p; /* the usual way out */
    }
    for (;;) {
        /* As scan_string: at least 16 bytes one character at a time, then the
         * fast skip again. An escape, a control character or a byte that is
         * not UTF-8 ends it (utf8_char_len is 0 for them). */
        const unsigned char *slow_until = end - p > 16 ? p + 16 : end;
        do {
            size_t n;
            if (p >= end) {
                return NULL;
            }
            if (*p == '"') {
                return (const char *)p;
            }
            n = str_class[*p] == C_PLAIN ? 1 : utf8_char_len(p, end);
            if (n == 0) {
                return NULL;
            }
            p += n;
        } while (p < slow_until);
        p = skip_simple(p, end);
    }
}

#endif

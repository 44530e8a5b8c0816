/* Strict JSON tokenizer: one pass, explicit stack, tokens into a reusable
 * array, no allocation once the context has grown to the messages it sees.
 * See sgs/jsonscan.h for what is accepted; the rules follow jansson 2.14's
 * json_loadb with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY. */
#include "sgs/jsonscan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonscan_utf8.h" /* the byte classes and checks of strings */

#define INITIAL_TOKENS 512
#define MIN_DUP_SLOTS  32
#define FILTER_KEYS    32 /* objects up to this many keys: checked as each key comes */

/* One slot of the duplicate-key table: a key of the object being closed. Slots
 * whose gen is not the current one are empty, so the table is never cleared
 * between objects. */
typedef struct dup_slot {
    uint64_t hash;
    uint32_t key; /* token index */
    uint32_t gen;
} dup_slot;

struct sgs_jsonscan {
    sgs_jsonscan_token *tok;
    uint32_t n, cap, max;
    const unsigned char *buf;
    size_t len;
    dup_slot *dup;
    uint32_t dup_cap, gen;
    uint64_t seed;
    sgs_jsonscan_error err;
    uint32_t stack[SGS_JSONSCAN_MAX_DEPTH]; /* open containers (token indices) */
    uint64_t seen[SGS_JSONSCAN_MAX_DEPTH];  /* per open object: filter of its keys */
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

__attribute__((format(printf, 3, 4))) static int fail(sgs_jsonscan *js, const unsigned char *at,
                                                      const char *fmt, ...)
{
    const unsigned char *p;
    va_list ap;
    int line = 1, column = 1;

    js->err.position = (size_t)(at - js->buf);
    for (p = js->buf; p < at; p++) {
        if (*p == '\n') {
            line++;
            column = 1;
        } else if (!is_cont(*p)) {
            column++;
        }
    }
    js->err.line = line;
    js->err.column = column;
    va_start(ap, fmt);
    vsnprintf(js->err.text, sizeof(js->err.text), fmt, ap);
    va_end(ap);
    return -1;
}

/* A byte shown in a message: the character when printable ASCII. */
static const char *show_byte(unsigned char c, char out[8])
{
    if (c > 0x20 && c < 0x7F && c != '\'') {
        out[0] = '\'';
        out[1] = (char)c;
        out[2] = '\'';
        out[3] = '\0';
    } else {
        snprintf(out, 8, "0x%02x", c);
    }
    return out;
}

static int fail_end(sgs_jsonscan *js, const unsigned char *end, const char *expected)
{
    return fail(js, end, "unexpected end of input, expected %s", expected);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* The 4 hex digits at p (which has at least 4 bytes), -1 when not hex. */
static long hex4(const unsigned char *p)
{
    int a = hex_value(p[0]), b = hex_value(p[1]), c = hex_value(p[2]), d = hex_value(p[3]);

    if ((a | b | c | d) < 0) {
        return -1;
    }
    return (long)((a << 12) | (b << 8) | (c << 4) | d);
}

/* Checks the escape at p (the backslash). Returns the byte after it, or NULL
 * after setting the error. */
static const unsigned char *check_escape(sgs_jsonscan *js, const unsigned char *p,
                                         const unsigned char *end)
{
    long u, lo;
    char b[8];

    if (end - p < 2) {
        fail_end(js, end, "an escape");
        return NULL;
    }
    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 2;
    case 'u':
        break;
    default:
        fail(js, p, "invalid escape '\\%s' in a string",
             p[1] > 0x20 && p[1] < 0x7F ? (b[0] = (char)p[1], b[1] = '\0', b) : show_byte(p[1], b));
        return NULL;
    }
    for (u = 0; u < 4; u++) {
        if (p + 2 + u >= end) {
            fail_end(js, end, "4 hex digits after \\u");
            return NULL;
        }
        if (hex_value(p[2 + u]) < 0) {
            fail(js, p, "invalid escape '%.*s' (\\u needs 4 hex digits)", (int)(u + 3),
                 (const char *)p);
            return NULL;
        }
    }
    u = hex4(p + 2);
    if (u == 0) {
        fail(js, p, "\\u0000 is not allowed in a string");
        return NULL;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
        fail(js, p, "invalid Unicode '\\u%04lX' (a low surrogate without a high one)", u);
        return NULL;
    }
    if (u < 0xD800 || u > 0xDBFF) {
        return p + 6;
    }
    /* A high surrogate: a low one must follow. */
    if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' && (lo = hex4(p + 8)) >= 0xDC00 &&
        lo <= 0xDFFF) {
        return p + 12;
    }
    fail(js, p, "invalid Unicode '\\u%04lX' (a high surrogate without a low one)", u);
    return NULL;
}

/* scan_string() from p, a character boundary where skip_simple() stopped. */
static const unsigned char *scan_string_slow(sgs_jsonscan *js, const unsigned char *p,
                                             const unsigned char *end, uint8_t *flags)
{
    char b[8];

    for (;;) {
        /* One character at a time for at least 16 bytes (so that a block the
         * fast skip cannot take is not retried at every character), then the
         * fast skip again. */
        const unsigned char *slow_until = end - p > 16 ? p + 16 : end;
    slow:
        if (p >= end) {
            fail_end(js, end, "'\"' to close a string");
            return NULL;
        }
        switch (str_class[*p]) {
        case C_PLAIN:
            p++;
            break;
        case C_QUOTE:
            return p;
        case C_ESC:
            *flags |= SGS_JSON_ESCAPED;
            p = check_escape(js, p, end);
            if (p == NULL) {
                return NULL;
            }
            break;
        case C_CTRL:
            fail(js, p, "control character 0x%02x in a string (it must be escaped)", *p);
            return NULL;
        default: {
            size_t n = utf8_char_len(p, end);
            if (n == 0) {
                goto bad;
            }
            p += n;
            break;
        }
        }
        if (p < slow_until) {
            goto slow;
        }
        p = skip_simple(p, end);
        if (p < end && *p == '"') {
            return p;
        }
    }
bad:
    fail(js, p, "unable to decode byte %s (not UTF-8)", show_byte(*p, b));
    return NULL;
}

/* Scans a string whose opening quote is at p[-1]. Returns the closing quote, or
 * NULL after setting the error. Sets SGS_JSON_ESCAPED in *flags when the string
 * has escapes. */
static inline __attribute__((always_inline)) const unsigned char *
scan_string(sgs_jsonscan *js, const unsigned char *p, const unsigned char *end, uint8_t *flags)
{
    p = skip_simple(p, end);
    if (p < end && *p == '"') {
        return p; /* the usual way out */
    }
    return scan_string_slow(js, p, end, flags);
}

static size_t utf8_put(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the (validated) escape at p into out (up to 4 bytes); returns the
 * byte after the escape and the decoded length in *n. */
static const unsigned char *decode_escape(const unsigned char *p, unsigned char *out, size_t *n)
{
    uint32_t u;

    switch (p[1]) {
    case 'b':
        out[0] = '\b';
        break;
    case 'f':
        out[0] = '\f';
        break;
    case 'n':
        out[0] = '\n';
        break;
    case 'r':
        out[0] = '\r';
        break;
    case 't':
        out[0] = '\t';
        break;
    case 'u':
        u = (uint32_t)hex4(p + 2);
        if (u >= 0xD800 && u <= 0xDBFF) {
            uint32_t lo = (uint32_t)hex4(p + 8);
            *n = utf8_put(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), out);
            return p + 12;
        }
        *n = utf8_put(u, out);
        return p + 6;
    default: /* " \ / */
        out[0] = p[1];
        break;
    }
    *n = 1;
    return p + 2;
}

/* Reads the decoded bytes of a validated string one at a time. */
typedef struct decoder {
    const unsigned char *p, *end;
    unsigned char pending[4];
    size_t n_pending, i_pending;
} decoder;

static void decoder_init(decoder *d, const char *buf, const sgs_jsonscan_token *t)
{
    d->p = (const unsigned char *)buf + t->start;
    d->end = d->p + t->len;
    d->n_pending = d->i_pending = 0;
}

static int decoder_next(decoder *d)
{
    if (d->i_pending < d->n_pending) {
        return d->pending[d->i_pending++];
    }
    if (d->p >= d->end) {
        return -1;
    }
    if (*d->p != '\\') {
        return *d->p++;
    }
    d->p = decode_escape(d->p, d->pending, &d->n_pending);
    d->i_pending = 1;
    return d->pending[0];
}

size_t sgs_jsonscan_string(const char *buf, const sgs_jsonscan_token *t, char *dst)
{
    const unsigned char *p = (const unsigned char *)buf + t->start;
    const unsigned char *end = p + t->len;
    unsigned char *out = (unsigned char *)dst;

    if (!(t->flags & SGS_JSON_ESCAPED)) {
        memcpy(dst, p, t->len);
        return t->len;
    }
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t n;
        if (bs == NULL) {
            bs = end;
        }
        memcpy(out, p, (size_t)(bs - p));
        out += bs - p;
        p = bs;
        if (p < end) {
            p = decode_escape(p, out, &n);
            out += n;
        }
    }
    return (size_t)(out - (unsigned char *)dst);
}

size_t sgs_jsonscan_string_prefix(const char *buf, const sgs_jsonscan_token *t, char *dst,
                                  size_t cap)
{
    const unsigned char *p = (const unsigned char *)buf + t->start;
    const unsigned char *end = p + t->len;
    size_t o = 0;

    while (p < end) {
        unsigned char tmp[4];
        size_t n = 1;
        if (*p == '\\') {
            p = decode_escape(p, tmp, &n);
        } else {
            /* a whole UTF-8 character: the lead byte and its continuations */
            tmp[0] = *p++;
            while (p < end && is_cont(*p) && n < 4) {
                tmp[n++] = *p++;
            }
        }
        if (o + n > cap) {
            break;
        }
        memcpy(dst + o, tmp, n);
        o += n;
    }
    return o;
}

int sgs_jsonscan_string_equal(const char *buf, const sgs_jsonscan_token *t, const char *s, size_t n)
{
    decoder d;
    size_t i;
    int c;

    if (!(t->flags & SGS_JSON_ESCAPED)) {
        return t->len == n && memcmp(buf + t->start, s, n) == 0;
    }
    if (t->len < n) {
        return 0; /* decoding never makes a string longer */
    }
    decoder_init(&d, buf, t);
    for (i = 0; i < n; i++) {
        if ((c = decoder_next(&d)) != (unsigned char)s[i]) {
            return 0;
        }
    }
    return decoder_next(&d) < 0;
}

/* ------------------------------------------------------------------------ */
/* Duplicate keys                                                            */

/* n (at most 8) bytes at p as a little-endian word. */
static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t w = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        w |= (uint64_t)p[i] << (8 * i);
    }
    return w;
}

static uint64_t load_le8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 32);
}

/* Hash of a key's decoded bytes: 8 bytes at a time, little-endian, so that a
 * key with escapes and the same key without hash alike. */
static uint64_t key_hash(const sgs_jsonscan *js, const sgs_jsonscan_token *t)
{
    uint64_t h = js->seed;
    const unsigned char *p = js->buf + t->start;
    size_t n = t->len, total;

    if (!(t->flags & SGS_JSON_ESCAPED)) {
        total = n;
        while (n >= 8) {
            h = mix(h, load_le8(p));
            p += 8;
            n -= 8;
        }
        if (n > 0) {
            /* The tail: one load and a mask when 8 bytes are readable. */
            h = mix(h, (size_t)(js->buf + js->len - p) >= 8
                           ? load_le8(p) & (~(uint64_t)0 >> (64 - 8 * n))
                           : load_le(p, n));
        }
    } else {
        decoder d;
        unsigned char w[8];
        size_t k = 0;
        int c;
        total = 0;
        decoder_init(&d, (const char *)js->buf, t);
        while ((c = decoder_next(&d)) >= 0) {
            w[k++] = (unsigned char)c;
            total++;
            if (k == 8) {
                h = mix(h, load_le8(w));
                k = 0;
            }
        }
        if (k > 0) {
            h = mix(h, load_le(w, k));
        }
    }
    return mix(h, total);
}

static int keys_equal(const sgs_jsonscan *js, const sgs_jsonscan_token *a,
                      const sgs_jsonscan_token *b)
{
    decoder da, db;
    int ca, cb;

    if (!((a->flags | b->flags) & SGS_JSON_ESCAPED)) {
        return a->len == b->len && memcmp(js->buf + a->start, js->buf + b->start, a->len) == 0;
    }
    decoder_init(&da, (const char *)js->buf, a);
    decoder_init(&db, (const char *)js->buf, b);
    do {
        ca = decoder_next(&da);
        cb = decoder_next(&db);
        if (ca != cb) {
            return 0;
        }
    } while (ca >= 0);
    return 1;
}

/* A key quoted in a message: its first bytes, cut on a character boundary. */
static void key_excerpt(const sgs_jsonscan *js, const sgs_jsonscan_token *t, char *out, size_t cap)
{
    size_t n = t->len < cap - 4 ? t->len : cap - 4;
    size_t i;

    while (n > 0 && n < t->len && is_cont(js->buf[t->start + n])) {
        n--;
    }
    memcpy(out, js->buf + t->start, n);
    for (i = 0; i < n; i++) {
        if (out[i] == '\'') {
            out[i] = '"';
        }
    }
    if (n < t->len) {
        memcpy(out + n, "...", 4);
    } else {
        out[n] = '\0';
    }
}

/* Duplicate keys are found in two ways. The first FILTER_KEYS keys of an
 * object go through a 64-bit filter as they are read: a key whose filter bit is
 * already set is compared with the earlier keys, which happens rarely for
 * distinct keys. An object with more keys gets the hash table of
 * check_duplicates() when it closes, so that huge objects stay linear. */

/* Filter hash of a key, from its first 16 decoded bytes: bits 58-63 pick the
 * filter bit, bits 16-31 are kept in the token as a fingerprint. */
static uint64_t key_filter_hash(const sgs_jsonscan *js, const sgs_jsonscan_token *t)
{
    const unsigned char *p = js->buf + t->start;
    size_t n = t->len;
    uint64_t w0, w1;

    if (t->flags & SGS_JSON_ESCAPED) {
        unsigned char b[16];
        decoder d;
        size_t i;
        int ch;
        memset(b, 0, sizeof(b));
        decoder_init(&d, (const char *)js->buf, t);
        for (i = 0; i < sizeof(b) && (ch = decoder_next(&d)) >= 0; i++) {
            b[i] = (unsigned char)ch;
        }
        w0 = load_le8(b);
        w1 = load_le8(b + 8);
    } else if ((size_t)(js->buf + js->len - p) >= 16) {
        w0 = load_le8(p);
        w1 = load_le8(p + 8);
        if (n < 8) {
            w0 = n == 0 ? 0 : w0 & (~(uint64_t)0 >> (64 - 8 * n));
            w1 = 0;
        } else if (n == 8) {
            w1 = 0;
        } else if (n < 16) {
            w1 &= ~(uint64_t)0 >> (64 - 8 * (n - 8));
        }
    } else {
        w0 = load_le(p, n < 8 ? n : 8);
        w1 = n > 8 ? load_le(p + 8, n < 16 ? n - 8 : 8) : 0;
    }
    return (w0 ^ (w1 << 29 | w1 >> 35)) * 0x9E3779B97F4A7C15ULL;
}

/* Key token k of object obj against the earlier keys of obj. */
static int earlier_duplicate(sgs_jsonscan *js, uint32_t obj, uint32_t k)
{
    uint32_t e = obj + 1;

    while (e < k) {
        if (js->tok[e].reserved == js->tok[k].reserved &&
            keys_equal(js, &js->tok[e], &js->tok[k])) {
            char ex[48];
            key_excerpt(js, &js->tok[k], ex, sizeof(ex));
            return fail(js, js->buf + js->tok[k].start - 1, "duplicate object key '%s'", ex);
        }
        e = js->tok[e + 1].next;
    }
    return 0;
}

/* Checks all the keys of object obj (just closed, more than FILTER_KEYS of
 * them) for duplicates, with a table sized for them and a seeded hash. */
static int check_duplicates(sgs_jsonscan *js, uint32_t obj)
{
    uint32_t m = js->tok[obj].len;
    uint32_t size = MIN_DUP_SLOTS, mask, i, k;

    if (m < 2) {
        return 0;
    }
    while (size < 2 * m) {
        size *= 2;
    }
    if (size > js->dup_cap) {
        dup_slot *nd = realloc(js->dup, (size_t)size * sizeof(*nd));
        if (nd == NULL) {
            return fail(js, js->buf + js->tok[obj].start, "out of memory");
        }
        memset(nd, 0, (size_t)size * sizeof(*nd));
        js->dup = nd;
        js->dup_cap = size;
        js->gen = 0;
    }
    if (++js->gen == 0) {
        memset(js->dup, 0, (size_t)js->dup_cap * sizeof(*js->dup));
        js->gen = 1;
    }
    mask = size - 1;
    k = obj + 1;
    for (i = 0; i < m; i++) {
        const sgs_jsonscan_token *key = &js->tok[k];
        uint64_t h = key_hash(js, key);
        uint32_t slot = (uint32_t)(h ^ (h >> 29)) & mask;
        while (js->dup[slot].gen == js->gen) {
            if (js->dup[slot].hash == h && keys_equal(js, &js->tok[js->dup[slot].key], key)) {
                char ex[48];
                key_excerpt(js, key, ex, sizeof(ex));
                return fail(js, js->buf + key->start - 1, "duplicate object key '%s'", ex);
            }
            slot = (slot + 1) & mask;
        }
        js->dup[slot].hash = h;
        js->dup[slot].key = k;
        js->dup[slot].gen = js->gen;
        k = js->tok[k + 1].next;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Numbers                                                                   */

/* Why a number is not valid (number_end). */
enum number_error {
    NUM_OK = 0,
    NUM_END,     /* the input ends before its digits */
    NUM_LEADING, /* a leading zero */
    NUM_MINUS,   /* '-' without digits */
    NUM_FRAC,    /* no digits after '.' */
    NUM_EXP,     /* no digits in the exponent */
};

/* The end of the number starting at p (a '-' or a digit), SGS_JSON_REAL set in
 * *flags when it is read as a real; NULL with *why set when it is not valid. */
static const unsigned char *number_end(const unsigned char *p, const unsigned char *end,
                                       uint8_t *flags, enum number_error *why)
{
    const unsigned char *q = p, *int_start, *int_end, *frac;
    int real = 0;

    if (*q == '-') {
        q++;
    }
    int_start = q;
    if (q == end) {
        *why = NUM_END;
        return NULL;
    }
    if (*q == '0') {
        q++;
        if (q < end && is_digit(*q)) {
            *why = NUM_LEADING;
            return NULL;
        }
    } else if (is_digit(*q)) {
        while (q < end && is_digit(*q)) {
            q++;
        }
    } else {
        *why = NUM_MINUS;
        return NULL;
    }
    int_end = q;
    if (q < end && *q == '.') {
        q++;
        frac = q;
        while (q < end && is_digit(*q)) {
            q++;
        }
        if (q == frac) {
            *why = NUM_FRAC;
            return NULL;
        }
        real = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const unsigned char *e0;
        q++;
        if (q < end && (*q == '+' || *q == '-')) {
            q++;
        }
        e0 = q;
        while (q < end && is_digit(*q)) {
            q++;
        }
        if (q == e0) {
            *why = NUM_EXP;
            return NULL;
        }
        real = 1;
    }

    /* An integer in int64 is kept as jansson keeps it. A bigger one, and a
     * real beyond a double, are valid JSON too (jansson refuses them): read as
     * reals, the latter infinite. */
    if (!real) {
        size_t nd = (size_t)(int_end - int_start);
        real =
            nd > 19 ||
            (nd == 19 &&
             memcmp(int_start, *p == '-' ? "9223372036854775808" : "9223372036854775807", 19) > 0);
    }
    if (real) {
        *flags |= SGS_JSON_REAL;
    }
    return q;
}

/* Scans a number starting at p (a '-' or a digit). Returns the byte after it,
 * or NULL after setting the error. */
static const unsigned char *scan_number(sgs_jsonscan *js, const unsigned char *p,
                                        const unsigned char *end, uint8_t *flags)
{
    enum number_error why = NUM_OK;
    const unsigned char *q = number_end(p, end, flags, &why);

    switch (q != NULL ? NUM_OK : why) {
    case NUM_OK:
        break;
    case NUM_END:
        fail_end(js, end, "digits of a number");
        break;
    case NUM_LEADING:
        fail(js, p, "invalid number (leading zero)");
        break;
    case NUM_MINUS:
        fail(js, p, "invalid number ('-' without digits)");
        break;
    case NUM_FRAC:
        fail(js, p, "invalid number (no digits after '.')");
        break;
    case NUM_EXP:
        fail(js, p, "invalid number (no digits in the exponent)");
        break;
    }
    return q;
}

const char *sgs_jsonscan_number_end(const char *p, const char *end, uint8_t *flags)
{
    enum number_error why;

    return (const char *)number_end((const unsigned char *)p, (const unsigned char *)end, flags,
                                    &why);
}

/* Significant digits kept when a long real is rewritten for strtod: more than
 * the 767 that a halfway point between two doubles can have, so a nonzero rest
 * only needs to be marked (by one more digit '1') for the rounding to stay the
 * same. */
#define REAL_DIGITS 800

/* Exponent digits read; beyond this every double is 0 or infinite anyway. */
static int64_t read_exponent(const unsigned char *q, const unsigned char *end)
{
    int64_t e = 0;
    int neg = 0;

    if (q >= end) {
        return 0;
    }
    q++; /* 'e' or 'E' */
    if (*q == '+' || *q == '-') {
        neg = *q == '-';
        q++;
    }
    for (; q < end; q++) {
        if (e < 1000000000) {
            e = e * 10 + (*q - '0');
        }
    }
    return neg ? -e : e;
}

/* A real of any length through strtod: rewritten as an integer of at most
 * REAL_DIGITS significant digits (plus the sticky '1') and an exponent,
 * "ddd...e<exp>". Without a decimal point the text means the same in every
 * locale (jansson, too, makes strtod independent of LC_NUMERIC). */
static double slow_real(const unsigned char *p, const unsigned char *end, int neg)
{
    char tmp[REAL_DIGITS + 40];
    size_t o = 0;
    int64_t lead = 0; /* decimal exponent of the first significant digit */
    int64_t pos;      /* decimal exponent of the digit at q, before the exponent part */
    const unsigned char *q, *dot;
    int ndig = 0, written = 0;

    for (dot = p; dot < end && *dot != '.' && *dot != 'e' && *dot != 'E'; dot++) {
    }
    pos = (int64_t)(dot - p) - 1;
    if (neg) {
        tmp[o++] = '-';
    }
    for (q = p; q < end && *q != 'e' && *q != 'E'; q++) {
        if (*q == '.') {
            continue;
        }
        if (ndig == 0 && *q == '0') {
            pos--;
            continue;
        }
        if (ndig == 0) {
            lead = pos;
        }
        if (ndig < REAL_DIGITS) {
            tmp[o++] = (char)*q;
            written++;
        } else if (*q != '0' && written == REAL_DIGITS) {
            tmp[o++] = '1'; /* sticky: the rest is not zero */
            written++;
        }
        ndig++;
        pos--;
    }
    if (ndig == 0) {
        return neg ? -0.0 : 0.0;
    }
    lead += read_exponent(q, end);
    snprintf(tmp + o, sizeof(tmp) - o, "e%lld", (long long)(lead - (written - 1)));
    return strtod(tmp, NULL);
}

double sgs_jsonscan_number(const char *buf, const sgs_jsonscan_token *t)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *p = (const unsigned char *)buf + t->start;
    const unsigned char *end = p + t->len, *q;
    int neg = *p == '-';
    uint64_t m = 0;
    int64_t scale = 0;
    int sig = 0, in_frac = 0;
    double v;

    if (neg) {
        p++;
    }
    if (!(t->flags & SGS_JSON_REAL)) {
        /* In int64 range (checked when scanning), converted as jansson does. */
        for (q = p; q < end; q++) {
            m = m * 10 + (uint64_t)(*q - '0');
        }
        return neg ? (double)(int64_t)(0 - m) : (double)(int64_t)m;
    }
    /* Fast path: at most 15 significant digits (an exact integer m) and a
     * power of ten up to 22 (exact too): a single rounding, as strtod does. */
    for (q = p; q < end && *q != 'e' && *q != 'E'; q++) {
        if (*q == '.') {
            in_frac = 1;
            continue;
        }
        if (sig == 0 && *q == '0') {
            scale -= in_frac;
            continue;
        }
        if (++sig > 15) {
            return slow_real(p, end, neg);
        }
        m = m * 10 + (uint64_t)(*q - '0');
        scale -= in_frac;
    }
    scale += read_exponent(q, end);
    if (m == 0) {
        return neg ? -0.0 : 0.0;
    }
    if (scale < -22 || scale > 22) {
        return slow_real(p, end, neg);
    }
    v = (double)m;
    v = scale < 0 ? v / pow10[-scale] : v * pow10[scale];
    return neg ? -v : v;
}

/* ------------------------------------------------------------------------ */
/* The parser                                                                */

sgs_jsonscan *sgs_jsonscan_create(size_t max_tokens)
{
    sgs_jsonscan *js = calloc(1, sizeof(*js));
    struct timespec ts;

    if (js == NULL) {
        return NULL;
    }
    if (max_tokens == 0 || max_tokens > UINT32_MAX / 2) {
        max_tokens = SGS_JSONSCAN_MAX_TOKENS;
    }
    js->max = (uint32_t)max_tokens;
    js->cap = js->max < INITIAL_TOKENS ? js->max : INITIAL_TOKENS;
    js->tok = malloc((size_t)js->cap * sizeof(*js->tok));
    if (js->tok == NULL) {
        free(js);
        return NULL;
    }
    /* A per-context seed keeps crafted colliding keys from making the duplicate
     * check quadratic. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    js->seed = mix((uint64_t)(uintptr_t)js, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30));
    return js;
}

void sgs_jsonscan_destroy(sgs_jsonscan *js)
{
    if (js == NULL) {
        return;
    }
    free(js->tok);
    free(js->dup);
    free(js);
}

const sgs_jsonscan_token *sgs_jsonscan_tokens(const sgs_jsonscan *js, size_t *count)
{
    if (count != NULL) {
        *count = js->n;
    }
    return js->tok;
}

const sgs_jsonscan_error *sgs_jsonscan_last_error(const sgs_jsonscan *js)
{
    return &js->err;
}

static int grow(sgs_jsonscan *js, const unsigned char *at)
{
    uint32_t ncap;
    sgs_jsonscan_token *nt;

    if (js->cap >= js->max) {
        return fail(js, at, "more than %u JSON values (the limit of this reader)", js->max);
    }
    ncap = js->cap > js->max / 2 ? js->max : js->cap * 2;
    nt = realloc(js->tok, (size_t)ncap * sizeof(*nt));
    if (nt == NULL) {
        return fail(js, at, "out of memory");
    }
    js->tok = nt;
    js->cap = ncap;
    return 0;
}

int sgs_jsonscan_parse(sgs_jsonscan *js, const char *buf, size_t len)
{
    const unsigned char *base = (const unsigned char *)buf;
    const unsigned char *p = base, *end = base + len, *q;
    uint32_t sp = 0, n = 0, top;
    sgs_jsonscan_token *t;
    char b[8];

    js->buf = base;
    js->len = len;
    js->n = 0;
    js->err.text[0] = '\0';
    if (len >= UINT32_MAX) {
        return fail(js, base, "message too large (%zu bytes)", len);
    }

value:
    p = skip_ws(p, end);
    if (p == end) {
        return fail_end(js, end, "a value");
    }
    if (sp >= SGS_JSONSCAN_MAX_DEPTH) {
        return fail(js, p, "maximum parsing depth reached (values nested %d deep)",
                    SGS_JSONSCAN_MAX_DEPTH);
    }
    if (n == js->cap && grow(js, p) != 0) {
        return -1;
    }
    t = &js->tok[n];
    t->start = (uint32_t)(p - base);
    t->flags = 0;
    t->reserved = 0;
    switch (*p) {
    case '{':
        t->type = SGS_JSON_OBJECT;
        t->len = 0;
        js->seen[sp] = 0;
        js->stack[sp++] = n++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            goto close;
        }
        goto key;
    case '[':
        t->type = SGS_JSON_ARRAY;
        t->len = 0;
        js->stack[sp++] = n++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            goto close;
        }
        goto value;
    case '"':
        t->type = SGS_JSON_STRING;
        q = scan_string(js, p + 1, end, &t->flags);
        if (q == NULL) {
            return -1;
        }
        t->start++;
        t->len = (uint32_t)(q - p - 1);
        p = q + 1;
        break;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0) {
            return fail(js, p, "invalid literal (expected true)");
        }
        t->type = SGS_JSON_TRUE;
        t->len = 4;
        p += 4;
        break;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0) {
            return fail(js, p, "invalid literal (expected false)");
        }
        t->type = SGS_JSON_FALSE;
        t->len = 5;
        p += 5;
        break;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0) {
            return fail(js, p, "invalid literal (expected null)");
        }
        t->type = SGS_JSON_NULL;
        t->len = 4;
        p += 4;
        break;
    default:
        if (*p != '-' && !is_digit(*p)) {
            if (*p >= 0x80) {
                return fail(js, p, "unexpected byte %s, expected a value", show_byte(*p, b));
            }
            return fail(js, p, "unexpected %s, expected a value", show_byte(*p, b));
        }
        t->type = SGS_JSON_NUMBER;
        q = scan_number(js, p, end, &t->flags);
        if (q == NULL) {
            return -1;
        }
        t->len = (uint32_t)(q - p);
        p = q;
        break;
    }
    t->next = ++n;

after:
    /* A value is complete; p is just after it. */
    if (sp == 0) {
        p = skip_ws(p, end);
        if (p != end) {
            return fail(js, p, "end of input expected after the value, got %s", show_byte(*p, b));
        }
        js->n = n;
        return 0;
    }
    p = skip_ws(p, end);
    top = js->stack[sp - 1];
    if (js->tok[top].type == SGS_JSON_OBJECT) {
        if (p == end) {
            return fail_end(js, end, "',' or '}'");
        }
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            goto key;
        }
        if (*p == '}') {
            p++;
            goto close;
        }
        return fail(js, p, "expected ',' or '}' after an object member, got %s", show_byte(*p, b));
    }
    js->tok[top].len++;
    if (p == end) {
        return fail_end(js, end, "',' or ']'");
    }
    if (*p == ',') {
        p++;
        goto value;
    }
    if (*p == ']') {
        p++;
        goto close;
    }
    return fail(js, p, "expected ',' or ']' after an array element, got %s", show_byte(*p, b));

key:
    /* p is at the first non-white-space byte where a key must start. */
    if (p == end) {
        return fail_end(js, end, "a string key");
    }
    if (*p != '"') {
        return fail(js, p, "expected a string key, got %s", show_byte(*p, b));
    }
    if (n == js->cap && grow(js, p) != 0) {
        return -1;
    }
    t = &js->tok[n];
    t->type = SGS_JSON_STRING;
    t->flags = 0;
    t->reserved = 0;
    q = scan_string(js, p + 1, end, &t->flags);
    if (q == NULL) {
        return -1;
    }
    t->start = (uint32_t)(p + 1 - base);
    t->len = (uint32_t)(q - p - 1);
    t->next = ++n;
    top = js->stack[sp - 1];
    if (++js->tok[top].len <= FILTER_KEYS) {
        uint64_t h = key_filter_hash(js, t);
        uint64_t bit = (uint64_t)1 << (h >> 58);
        t->reserved = (uint16_t)(h >> 16);
        if ((js->seen[sp - 1] & bit) != 0 && earlier_duplicate(js, top, n - 1) != 0) {
            return -1;
        }
        js->seen[sp - 1] |= bit;
    }
    p = skip_ws(q + 1, end);
    if (p == end) {
        return fail_end(js, end, "':'");
    }
    if (*p != ':') {
        return fail(js, p, "expected ':' after an object key, got %s", show_byte(*p, b));
    }
    p++;
    goto value;

close:
    /* The container on top of the stack ends at p. */
    top = js->stack[--sp];
    js->tok[top].next = n;
    if (js->tok[top].type == SGS_JSON_OBJECT && js->tok[top].len > FILTER_KEYS &&
        check_duplicates(js, top) != 0) {
        return -1;
    }
    goto after;
}

size_t sgs_jsonscan_find(const sgs_jsonscan *js, const char *buf, size_t obj, const char *key,
                         size_t n)
{
    const sgs_jsonscan_token *tok = js->tok;
    size_t k, i;

    if (obj >= js->n || tok[obj].type != SGS_JSON_OBJECT) {
        return 0;
    }
    k = obj + 1;
    for (i = 0; i < tok[obj].len; i++) {
        if (sgs_jsonscan_string_equal(buf, &tok[k], key, n)) {
            return k + 1;
        }
        k = tok[k + 1].next;
    }
    return 0;
}

/* Growable buffer, JSON string escaping and UTF-8 checks. */
#include "sgs/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan_utf8.h" /* skip_simple: the runs a JSON string copies as they are */

int sgs_array_grow(void **arr, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap : first ? first : 1;
    while (nc <= n)
        nc *= 2;
    void *na = realloc(*arr, nc * size);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

void sgs_buf_free(sgs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

int sgs_buf_reserve(sgs_buf *b, size_t n)
{
    size_t need, cap;
    char *p;
    if (b->oom)
        return -1;
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void sgs_buf_append_grow(sgs_buf *b, const void *p, size_t n)
{
    if (sgs_buf_reserve(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sgs_buf_puts(sgs_buf *b, const char *s)
{
    sgs_buf_append(b, s, strlen(s));
}

void sgs_buf_vprintf(sgs_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    int n;
    char small[256];
    va_copy(again, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0 || (size_t)n < sizeof(small)) {
        if (n > 0)
            sgs_buf_append(b, small, (size_t)n);
        va_end(again);
        return;
    }
    if (sgs_buf_reserve(b, (size_t)n) == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void sgs_buf_printf(sgs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sgs_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

size_t sgs_fmt_i64(char *out, int64_t v)
{
    char tmp[SGS_I64_CHARS], *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v; /* INT64_MIN too */
    size_t n;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

void sgs_buf_put_i64(sgs_buf *b, int64_t v)
{
    char tmp[SGS_I64_CHARS];
    sgs_buf_append(b, tmp, sgs_fmt_i64(tmp, v));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid: the
 * tokenizer's check (jsonscan_utf8.h). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    return p[0] < 0x80 ? 1 : utf8_char_len(p, p + n);
}

int sgs_utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    while (s < end) {
        /* runs of what is surely valid (most ASCII, the common 3-byte
         * characters) at once; where the skip stops, one character */
        s = skip_simple(s, end);
        if (s >= end)
            break;
        if (*s < 0x80) {
            s++;
            continue;
        }
        size_t k = utf8_seq(s, (size_t)(end - s));
        if (!k)
            return 0;
        s += k;
    }
    return 1;
}

size_t sgs_utf8_cut(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = n;
    /* step back over at most 3 continuation bytes to the start of the last sequence */
    while (i > 0 && n - i < 4 && (s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return n;
    {
        unsigned c = s[i - 1];
        size_t want = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (n - (i - 1) < want)
            return i - 1;
    }
    return n;
}

/* Input bytes escaped per reservation: the output has room for the worst, 6
 * bytes ("\u00XX") for each. */
#define JSON_PIECE 4096

size_t sgs_json_string_prefix(const char *s, size_t n, size_t budget)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, used = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, w = k;
        /* as sgs_buf_put_json_string escapes: \" \\ \n \r \t \b \f, \u00XX */
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            w = 2;
        else if (c < 0x20)
            w = 6;
        if (i + k > n || used + w > budget)
            break;
        used += w;
        i += k;
    }
    return i;
}

void sgs_buf_put_json_string(sgs_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str, *end = s + n;

    sgs_buf_putc(b, '"');
    while (s < end) {
        size_t piece = (size_t)(end - s) < JSON_PIECE ? (size_t)(end - s) : JSON_PIECE;
        const unsigned char *stop = s + piece;
        char *o;
        if (sgs_buf_reserve(b, piece * 6) != 0)
            return;
        /* Written in place: runs of what needs nothing (printable ASCII but
         * '"' and '\\', the common 3-byte characters) at once, the rest one
         * character at a time. A character may end past stop: it started
         * before, and its bytes were reserved. */
        o = b->data + b->len;
        while (s < stop) {
            const unsigned char *q = skip_simple(s, stop);
            unsigned c;
            size_t k;
            memcpy(o, s, (size_t)(q - s));
            o += q - s;
            s = q;
            if (s >= stop)
                break;
            c = *s;
            if (c >= 0x80) {
                k = utf8_seq(s, (size_t)(end - s));
                if (k) {
                    memcpy(o, s, k);
                    o += k;
                    s += k;
                } else {
                    memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for each bad byte */
                    o += 3;
                    s++;
                }
                continue;
            }
            s++;
            if (c >= 0x20 && c != '"' && c != '\\') {
                *o++ = (char)c; /* within 16 bytes of stop, where the skip stops */
                continue;
            }
            *o++ = '\\';
            switch (c) {
            case '"':
            case '\\':
                *o++ = (char)c;
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            default:
                memcpy(o, "u00", 3);
                o[3] = hex[c >> 4];
                o[4] = hex[c & 15];
                o += 5;
            }
        }
        b->len = (size_t)(o - b->data);
        b->data[b->len] = '\0';
    }
    sgs_buf_putc(b, '"');
}

void sgs_buf_put_base64(sgs_buf *b, const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    size_t i;
    char *o;
    if (sgs_buf_reserve(b, (n + 2) / 3 * 4) != 0)
        return;
    o = b->data + b->len;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

int sgs_buf_read_file(sgs_buf *b, const char *path, size_t max, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    int rc = 0;
    sgs_buf_reset(b);
    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (sgs_buf_reserve(b, 64 * 1024) != 0) {
            snprintf(errstr, errstr_size, "%s: out of memory", path);
            rc = -1;
            break;
        }
        size_t got = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
        b->len += got;
        b->data[b->len] = '\0';
        if (b->len > max) {
            snprintf(errstr, errstr_size, "%s: file larger than %zu bytes", path, max);
            rc = -1;
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                snprintf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
                rc = -1;
            }
            break;
        }
    }
    fclose(f);
    return rc;
}

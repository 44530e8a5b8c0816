/* A growable byte buffer and JSON text helpers for building output messages
 * without a DOM. A buffer is reused across messages (sgs_buf_reset keeps the
 * memory), so steady-state output allocates nothing. */
#ifndef SGS_BUF_H
#define SGS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sgs_buf {
    char *data; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    int oom; /* set when an allocation failed; appends become no-ops */
} sgs_buf;

#define SGS_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

static inline void sgs_buf_init(sgs_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
void sgs_buf_free(sgs_buf *b);

/* Grows *arr, an array of elements of `size` bytes with room for *cap, to hold
 * at least n + 1 (doubling; `first` elements the first time). 0, or -1 when out
 * of memory (*arr and *cap unchanged). */
int sgs_array_grow(void **arr, size_t *cap, size_t n, size_t size, size_t first);
static inline void sgs_buf_reset(sgs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
/* Makes room for n more bytes. 0, or -1 (and b->oom) on allocation failure. */
int sgs_buf_reserve(sgs_buf *b, size_t n);
/* sgs_buf_append when the bytes do not fit (grows, or does nothing after
 * an allocation failed). */
void sgs_buf_append_grow(sgs_buf *b, const void *p, size_t n);
/* Appends n bytes and the NUL after them; inline while they fit (the
 * consumer appends a few times per message). */
static inline void sgs_buf_append(sgs_buf *b, const void *p, size_t n)
{
    if (!b->oom && n < b->cap - b->len) {
        if (n)
            __builtin_memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return;
    }
    sgs_buf_append_grow(b, p, n);
}
static inline void sgs_buf_putc(sgs_buf *b, char c)
{
    sgs_buf_append(b, &c, 1);
}
void sgs_buf_puts(sgs_buf *b, const char *s);
void sgs_buf_printf(sgs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sgs_buf_vprintf(sgs_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void sgs_buf_put_i64(sgs_buf *b, int64_t v);
/* Writes v in decimal and a NUL into out (at least SGS_I64_CHARS bytes);
 * returns the digits' length (the per-message paths' snprintf("%lld"),
 * without its ~600 instructions). */
#define SGS_I64_CHARS 21
size_t sgs_fmt_i64(char *out, int64_t v);
/* Appends s as a JSON string literal with quotes; invalid UTF-8 sequences become
 * U+FFFD and control characters are escaped, so the output is always valid. */
void sgs_buf_put_json_string(sgs_buf *b, const char *s, size_t n);
/* The longest prefix of valid UTF-8 text s[0, n), cut at a character's
 * start, that sgs_buf_put_json_string writes in at most budget bytes (its
 * quotes not counted). */
size_t sgs_json_string_prefix(const char *s, size_t n, size_t budget);
/* Appends base64 (RFC 4648, padded). */
void sgs_buf_put_base64(sgs_buf *b, const void *p, size_t n);

/* Reads a whole file into b (replacing its content). Refuses files larger than
 * max bytes. 0, or -1 with "PATH: cannot open: ..." etc. in errstr. */
int sgs_buf_read_file(sgs_buf *b, const char *path, size_t max, char *errstr, size_t errstr_size);

/* 1 if p[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int sgs_utf8_valid(const char *p, size_t n);
/* 1 for an ASCII control character (00-1F, 7F): what one line of text must
 * not hold. */
static inline int sgs_is_ctrl(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}
/* Largest m <= n such that p[0..m) does not end inside a UTF-8 sequence. */
size_t sgs_utf8_cut(const char *p, size_t n);

#endif

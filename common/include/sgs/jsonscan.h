/* A strict, validating JSON tokenizer that allocates nothing per message.
 *
 * sgs_jsonscan_parse() reads one JSON text in a single pass into an array of
 * tokens held by a reusable context: the array grows (doubling) only when a
 * message has more values than any before, up to a cap, so a steady stream of
 * similar messages allocates nothing. Strings stay where they are: a token is an
 * offset and a length into the caller's buffer, and escapes are decoded on
 * demand (sgs_jsonscan_string) into a buffer of the caller.
 *
 * It accepts what jansson's json_loadb(buf, len, JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY) accepts, and also the numbers jansson cannot hold (valid
 * JSON): integers outside int64 are read as reals, reals beyond a double as
 * infinite. It rejects:
 * - bytes that are not UTF-8 (overlong forms, encoded surrogates, > U+10FFFF);
 * - control characters (U+0000-U+001F) in strings, unknown escapes, \u with
 *   fewer than 4 hex digits, unpaired surrogates ("\ud800", "\udc00",
 *   "\ud800\u0041"), and "\u0000" (in keys as in values: every decoded string
 *   is a C string);
 * - numbers outside the JSON grammar ("01", "1.", ".5", "+1"); a number of
 *   any size in it is fine (1e400 reads as infinity, 1e-400 as 0);
 * - a key that appears twice in one object, at any depth (compared decoded:
 *   "a" and "\u0061" are the same key);
 * - values nested deeper than SGS_JSONSCAN_MAX_DEPTH (jansson's limit: a value
 *   inside 2048 open arrays/objects is too deep);
 * - empty input, trailing non-white-space, anything after the first value.
 * One more difference, a jansson 2.14 bug: jansson skips a NUL byte that directly
 * follows a number or a literal ("1\0", {"a":null\0}); this reader refuses it
 * like any other NUL outside a string.
 * In addition (a limit of this reader, not of JSON): more than the context's
 * maximum number of values (SGS_JSONSCAN_MAX_TOKENS by default, which no
 * message under 2 MB can reach) is an error, as is a message of 4 GiB or more.
 *
 * Top-level values of any type are accepted; the caller decides what it wants.
 *
 * Token layout: values in document order (pre-order). An object is followed by
 * its members, each a key token (type STRING) and then its value; an array by
 * its elements. tok[i].next is the index of the first token after the value i
 * and everything inside it, so the members of object o are found by starting at
 * k = o + 1 and stepping k = tok[k + 1].next for tok[o].len members.
 *
 * A context is used by one thread at a time. */
#ifndef SGS_JSONSCAN_H
#define SGS_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

#define SGS_JSONSCAN_MAX_DEPTH  2048       /* as jansson's JSON_PARSER_MAX_DEPTH */
#define SGS_JSONSCAN_MAX_TOKENS (1u << 20) /* default cap: 16 MiB of tokens */

enum sgs_json_type {
    SGS_JSON_OBJECT = 1,
    SGS_JSON_ARRAY,
    SGS_JSON_STRING,
    SGS_JSON_NUMBER,
    SGS_JSON_TRUE,
    SGS_JSON_FALSE,
    SGS_JSON_NULL,
};

/* Token flags */
#define SGS_JSON_ESCAPED 0x01 /* string: has at least one backslash escape */
#define SGS_JSON_REAL    0x02 /* number: has a fraction or an exponent */

typedef struct sgs_jsonscan_token {
    uint32_t start;    /* byte offset: the first byte of the value; for a string the
                          first byte after the opening quote */
    uint32_t len;      /* string: bytes between the quotes, escapes not decoded
                          (the decoded text is never longer); number, literal: bytes
                          of its text; object: members; array: elements */
    uint32_t next;     /* index of the first token after this value */
    uint8_t type;      /* enum sgs_json_type */
    uint8_t flags;     /* SGS_JSON_ESCAPED, SGS_JSON_REAL */
    uint16_t reserved; /* used by the duplicate-key check */
} sgs_jsonscan_token;

typedef struct sgs_jsonscan_error {
    size_t position; /* byte offset (0-based) where the input stops being valid:
                        the first byte of the offending character, escape, number
                        or key; the input length when it ends too early */
    int line;        /* 1-based, at position */
    int column;      /* 1-based, in characters, at position */
    char text[160];  /* what is wrong, e.g. "duplicate object key 'kind'" */
} sgs_jsonscan_error;

typedef struct sgs_jsonscan sgs_jsonscan;

/* A context with room for a few hundred tokens that grows up to max_tokens
 * (0: SGS_JSONSCAN_MAX_TOKENS). NULL when out of memory. */
sgs_jsonscan *sgs_jsonscan_create(size_t max_tokens);
void sgs_jsonscan_destroy(sgs_jsonscan *js); /* NULL ok */

/* Tokenizes and validates buf (len bytes, no NUL needed). Returns 0, or -1 with
 * sgs_jsonscan_last_error() filled ("out of memory" when the token array could not
 * grow). The tokens refer to buf and are valid until the next parse. */
int sgs_jsonscan_parse(sgs_jsonscan *js, const char *buf, size_t len);

/* The tokens of the last successful parse and their number (token 0 is the
 * top-level value). */
const sgs_jsonscan_token *sgs_jsonscan_tokens(const sgs_jsonscan *js, size_t *count);
/* Why the last parse failed. */
const sgs_jsonscan_error *sgs_jsonscan_last_error(const sgs_jsonscan *js);

/* Writes the decoded text of string token t of buf into dst, which must have
 * room for t->len bytes (no NUL is added), and returns its length. The text is
 * valid UTF-8 without NUL. */
size_t sgs_jsonscan_string(const char *buf, const sgs_jsonscan_token *t, char *dst);
/* Writes at most cap bytes of the decoded start of string token t into dst
 * (whole characters and escapes only) and returns how many. */
size_t sgs_jsonscan_string_prefix(const char *buf, const sgs_jsonscan_token *t, char *dst,
                                  size_t cap);
/* 1 if string token t decodes to exactly s (n bytes). */
int sgs_jsonscan_string_equal(const char *buf, const sgs_jsonscan_token *t, const char *s,
                              size_t n);
/* The value of number token t as jansson gives it: an integer converted from
 * int64 to double, a real as strtod() rounds it (correctly rounded; an underflow
 * gives 0 or a subnormal). */
double sgs_jsonscan_number(const char *buf, const sgs_jsonscan_token *t);
/* Index of the value of member key (n bytes) of object token obj, 0 when the
 * object has no such member (token 0 is never a member value). */
size_t sgs_jsonscan_find(const sgs_jsonscan *js, const char *buf, size_t obj, const char *key,
                         size_t n);

/* For a reader that walks a message itself and leaves everything unusual to
 * sgs_jsonscan_parse (record_fast.c): the end of the number that starts at p (a '-' or a digit) as
 * sgs_jsonscan_parse reads it, with SGS_JSON_REAL or'ed into *flags as in its
 * token; NULL when it is not a valid number. */
const char *sgs_jsonscan_number_end(const char *p, const char *end, uint8_t *flags);

#endif

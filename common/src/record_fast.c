/* The direct reader (record_view.h): the usual native record event read
 * straight into a view, in one pass over the text, without the tokens that
 * sgs_jsonscan_parse writes and sgs_record_members and sgs_record_read_native
 * then read back.
 *
 * It reads only what it can read exactly as they would, and gives up (0) on
 * anything else, leaving the whole message to them from its start: so every
 * error, every message in the national format and every unusual one is read
 * the general way, and a message this reader takes gives the same view.
 * What it takes:
 *
 *   - a message of at most FAST_MAX_LEN bytes (it then has fewer values than
 *     the tokenizer's limit) whose top level is an object without keys of the
 *     national format (none of its names, nothing starting with XK_ or CF_:
 *     is_national in record_national.c is then false whatever else the
 *     message holds);
 *   - keys and strings without escapes (the tokenizer's own check of each
 *     string, plain_string_end in jsonscan_utf8.h; or, when the whole message
 *     is plain, text_plain, checked once for all its strings, which then end
 *     at their next quote), numbers as the tokenizer reads them
 *     (sgs_jsonscan_number_end, read by sgs_jsonscan_number), literals;
 *   - objects only as the values of subject, authority, license and penalty,
 *     whose members are scalars or arrays; arrays of scalars or arrays, at
 *     most FAST_MAX_DEPTH deep;
 *   - at most FAST_MAX_OTHERS members of an object with other names, checked
 *     for duplicates against each other (the names read, by a bit each).
 *
 * Each step takes the position p and returns the one after what it read, or
 * NULL when it gives up: the position stays in a register (through a pointer
 * it was reloaded after every store into the view). White space is looked
 * for only where a compact message has none of it.
 *
 * A plain message (no escape, no control character) laid out as one read
 * before is read along that layout instead of key by key: its constant text
 * compared a step at a time, only its values read (Layouts, below).
 *
 * The differential tests (tests/unit/record_test.c) and fuzz_record compare
 * the records of every way on the same input: along the layouts, key by key,
 * and the general way. */
#include "jsonscan_utf8.h"
#include "record_view.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAST_MAX_LEN    (1u << 20) /* 2 bytes or more a value: fewer than SGS_JSONSCAN_MAX_TOKENS */
#define FAST_MAX_DEPTH  16
#define FAST_MAX_OTHERS 16

#define INLINE static inline __attribute__((always_inline))

/* The tokenizer's skip_ws (jsonscan_utf8.h), over the reader's char pointers. */
INLINE const char *past_ws(const char *p, const char *end)
{
    return (const char *)skip_ws((const unsigned char *)p, (const unsigned char *)end);
}

/* p at the byte expected to be c, or at white space before it: the position
 * after c, NULL when it is not there. */
INLINE const char *expect(const char *p, const char *end, char c)
{
    if (p < end && *p == c) {
        return p + 1; /* compact: the usual case */
    }
    p = past_ws(p, end);
    return p < end && *p == c ? p + 1 : NULL;
}

/* The string whose opening quote is at p, into (s, len); in a plain message
 * (text_plain) it ends at the next quote. */
INLINE const char *string(const char *p, const char *end, int plain, const char **s, size_t *len)
{
    const char *q;

    if (p >= end || *p != '"') {
        return NULL;
    }
    q = plain ? next_quote(p + 1, end) : plain_string_end(p + 1, end);
    if (q == NULL) {
        return NULL;
    }
    *s = p + 1;
    *len = (size_t)(q - p - 1);
    return q + 1;
}

INLINE const char *literal(const char *p, const char *end, const char *text, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, text, n) == 0 ? p + n : NULL;
}

static const char *read_array(const char *p, const char *end, int plain, int depth);

/* The number at p (as the tokenizer reads it) into *num; NULL when there is
 * none (an object, or not JSON). */
INLINE const char *number(const char *p, const char *end, double *num)
{
    sgs_jsonscan_token t;
    const char *q;

    if (p >= end || (*p != '-' && (*p < '0' || *p > '9'))) {
        return NULL;
    }
    memset(&t, 0, sizeof(t));
    q = sgs_jsonscan_number_end(p, end, &t.flags);
    if (q == NULL) {
        return NULL;
    }
    t.type = SGS_JSON_NUMBER;
    t.len = (uint32_t)(q - p);
    *num = sgs_jsonscan_number(p, &t);
    return q;
}

/* The scalar or array at p into v (set as rval_tok sets it; an array by its
 * type only). Objects are left to the general way. */
INLINE const char *read_value(const char *p, const char *end, int plain, rval *v, int depth)
{
    /* (field by field: a memset of the 32 bytes became "rep stos", slow to start) */
    v->s = NULL;
    v->len = 0;
    v->num = 0;
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '"':
        v->type = V_STRING;
        return string(p, end, plain, &v->s, &v->len);
    case 't':
        v->type = V_BOOL;
        return literal(p, end, "true", 4);
    case 'f':
        v->type = V_BOOL;
        return literal(p, end, "false", 5);
    case 'n':
        v->type = V_NULL;
        return literal(p, end, "null", 4);
    case '[':
        v->type = V_ARRAY;
        return read_array(p, end, plain, depth);
    default:
        v->type = V_NUMBER;
        return number(p, end, &v->num);
    }
}

/* The elements of the array at p (its '['), depth arrays deep. */
static const char *read_array(const char *p, const char *end, int plain, int depth)
{
    rval e;

    if (depth >= FAST_MAX_DEPTH) {
        return NULL;
    }
    p = past_ws(p + 1, end);
    if (p < end && *p == ']') {
        return p + 1;
    }
    for (;;) {
        p = read_value(p, end, plain, &e, depth + 1);
        if (p == NULL) {
            return NULL;
        }
        p = past_ws(p, end);
        if (p >= end) {
            return NULL;
        }
        if (*p == ']') {
            return p + 1;
        }
        if (*p != ',') {
            return NULL;
        }
        p = past_ws(p + 1, end);
    }
}

/* Keys of one object: those with a name by a bit of their id, the others by
 * their text. 1 when the key is new. */
typedef struct keys_seen {
    uint64_t ids;
    int n_others;
    const char *other[FAST_MAX_OTHERS];
    size_t other_len[FAST_MAX_OTHERS];
} keys_seen;

INLINE int key_new(keys_seen *k, int id, const char *s, size_t n)
{
    if (id != 0) {
        uint64_t bit = (uint64_t)1 << id;
        if (k->ids & bit) {
            return 0;
        }
        k->ids |= bit;
        return 1;
    }
    for (int i = 0; i < k->n_others; i++) {
        if (k->other_len[i] == n && memcmp(k->other[i], s, n) == 0) {
            return 0;
        }
    }
    if (k->n_others == FAST_MAX_OTHERS) {
        return 0;
    }
    k->other[k->n_others] = s;
    k->other_len[k->n_others++] = n;
    return 1;
}

/* The key expected after a key of an object, learned from the messages
 * before: a producer writes the members in the same order (where a member
 * may be left out, the key after the one before it still comes next). text
 * is the key as it stood there, quoted and followed by its colon ("name":,
 * zero padded), len the name's bytes (0: nothing learned), id its id. Where
 * the same 16 bytes stand again, the key is that one: the bytes were read as
 * a key once (a string without escapes, valid), and the same bytes give the
 * same name, id and colon. */
typedef struct key_guess {
    unsigned char text[16];
    unsigned char len;
    unsigned char id;
} key_guess;

#define GUESS_NAME 13 /* the longest name guessed ("decision_date") */
/* What a guess follows: the object's start (0), a key by its id (below 64),
 * another name by its first byte and length (64 to 95). */
#define GUESS_AFTER 96

enum { GUESS_TOP, GUESS_SUBJECT, GUESS_AUTHORITY, GUESS_LICENSE, GUESS_PENALTY, GUESS_OBJECTS };

/* The calling thread's guesses, per object and the key before. */
static _Thread_local key_guess guesses[GUESS_OBJECTS][GUESS_AFTER];

_Static_assert(TK_COUNT <= 64 && SK_COUNT <= 64, "a key's id is below 64 (keys_seen, key_guess)");

/* Where the guess after key (id, s, n) is. */
INLINE int guess_after(int id, const char *s, size_t n)
{
    return id != 0 ? id : 64 + (int)(((unsigned char)(n != 0 ? s[0] : 0) + n) & 31);
}

/* A key at p (white space before it skipped), new in seen, and its colon:
 * its id in t and the position of its value. g is the guess of this member:
 * tried first, learned when it was not right. */
INLINE const char *read_key(const char *p, const char *end, int plain, const key_table *t,
                            keys_seen *seen, key_guess *g, int *id, const char **s, size_t *n)
{
    const char *q;

    p = past_ws(p, end);
#if defined(__SSE2__)
    if (g->len != 0 && end - p >= 16) {
        unsigned same = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
                           _mm_loadu_si128((const __m128i *)(const void *)g->text)));
        if (((same | (0xFFFFu << (g->len + 3))) & 0xFFFFu) == 0xFFFFu) {
            *id = g->id;
            *s = p + 1;
            *n = g->len;
            return key_new(seen, *id, *s, *n) ? past_ws(p + g->len + 3, end) : NULL;
        }
    }
#endif
    q = string(p, end, plain, s, n);
    if (q == NULL) {
        return NULL;
    }
    *id = key_id(t, *s, *n, end);
    if (!key_new(seen, *id, *s, *n)) {
        return NULL;
    }
    if (*n <= GUESS_NAME && q < end && *q == ':') {
        memset(g->text, 0, sizeof(g->text));
        g->text[0] = '"';
        memcpy(g->text + 1, *s, *n);
        g->text[*n + 1] = '"';
        g->text[*n + 2] = ':';
        g->len = (unsigned char)*n;
        g->id = (unsigned char)*id;
    }
    q = expect(q, end, ':');
    return q != NULL ? past_ws(q, end) : NULL;
}

/* After a member's value at p: the next key's position after a ',' (*more
 * set), or the position after the closing brace; NULL for anything else. */
INLINE const char *next_member(const char *p, const char *end, int *more)
{
    if (p < end && *p == ',') {
        *more = 1;
        return p + 1; /* compact: the usual case */
    }
    p = past_ws(p, end);
    if (p < end && (*p == ',' || *p == '}')) {
        *more = *p == ',';
        return p + 1;
    }
    return NULL;
}

/* ---- What a message looked like: the trace the layouts learn from ---- */

/* The values of a message as the reader met them, in the order of the text:
 * strings (start after the opening quote, end after the closing one),
 * numbers and arrays, each with the offset in the view where it went (0: not
 * kept); and the constants kept in the view (null, true, false, a parent's
 * opening brace) with the type they set. Constants not kept are only text. */
enum { LV_NONE, LV_STRING, LV_NUMBER, LV_ARRAY, LV_END };

#define TRACE_MAX 64

typedef struct trace_event {
    const char *start, *end;
    uint16_t slot;
    uint8_t value; /* LV_STRING, LV_NUMBER, LV_ARRAY; LV_NONE: a constant kept */
    uint8_t type;  /* a constant's type (enum vtype) */
    uint8_t depth; /* an array's depth, as read_array counts it */
} trace_event;

typedef struct layout_trace {
    int n, over;
    trace_event ev[TRACE_MAX];
} layout_trace;

/* The value read at [start, end) into the view at slot (0: not kept). */
static void trace_value(layout_trace *tr, const char *start, const char *end, unsigned slot,
                        int depth)
{
    trace_event *e;
    uint8_t value = LV_NUMBER, type = 0;

    switch (*start) {
    case '"':
        value = LV_STRING;
        start++;
        break;
    case '[':
        value = LV_ARRAY;
        break;
    case 't':
    case 'f':
        value = LV_NONE;
        type = V_BOOL;
        break;
    case 'n':
        value = LV_NONE;
        type = V_NULL;
        break;
    case '{':
        value = LV_NONE;
        type = V_OBJECT;
        break;
    default:
        break;
    }
    if (value == LV_NONE && slot == 0) {
        return; /* text only */
    }
    if (tr->n == TRACE_MAX) {
        tr->over = 1;
        return;
    }
    e = &tr->ev[tr->n++];
    e->start = start;
    e->end = end;
    e->slot = (uint16_t)slot;
    e->value = value;
    e->type = type;
    e->depth = (uint8_t)depth;
}

/* Where the members of each parent go: the offset in the view of the value of
 * the member with sub id i, 0 for a member not read. */
typedef uint16_t slots[SK_COUNT];

static const slots subject_slots = {
    [SK_NAME] = offsetof(record_view, subject_name),
    [SK_TYPE] = offsetof(record_view, subject_type),
    [SK_USCC] = offsetof(record_view, subject_uscc),
    [SK_ID_NO] = offsetof(record_view, subject_id_no),
};
static const slots authority_slots = {
    [SK_NAME] = offsetof(record_view, authority_name),
    [SK_USCC] = offsetof(record_view, authority_uscc),
};
static const slots license_slots = {
    [SK_VALID_FROM] = offsetof(record_view, valid_from),
    [SK_VALID_TO] = offsetof(record_view, valid_to),
};
static const slots penalty_slots = {
    [SK_FINE_AMOUNT] = offsetof(record_view, fine_amount),
};

/* The same for the top level's members (those below TK_SYNC_STATUS). */
static const uint16_t top_slots[TK_COUNT] = {
    [TK_UNIT_ID] = offsetof(record_view, unit_id),
    [TK_KIND] = offsetof(record_view, kind),
    [TK_DOC_NO] = offsetof(record_view, doc_no),
    [TK_DECISION_DATE] = offsetof(record_view, decision_date),
    [TK_REPORTED_AT] = offsetof(record_view, reported_at),
    [TK_OP] = offsetof(record_view, op),
    [TK_SUBJECT] = offsetof(record_view, subject),
    [TK_AUTHORITY] = offsetof(record_view, authority),
    [TK_LICENSE] = offsetof(record_view, license),
    [TK_PENALTY] = offsetof(record_view, penalty),
};

/* The members of a parent object (p at its '{') into raw, as slot says;
 * object: its guesses; tr, when not NULL, traces them. */
static const char *parent(const char *p, const char *end, int plain, record_view *raw,
                          const slots slot, int object, layout_trace *tr)
{
    keys_seen seen;
    int more = 1, after = 0;

    seen.ids = 0;
    seen.n_others = 0;
    p = past_ws(p + 1, end);
    if (p < end && *p == '}') {
        return p + 1;
    }
    while (more) {
        const char *s, *start;
        size_t n;
        int id;
        rval other;
        p = read_key(p, end, plain, &sgs_record_sub_keys, &seen, &guesses[object][after], &id, &s,
                     &n);
        if (p == NULL) {
            return NULL;
        }
        after = guess_after(id, s, n);
        start = p;
        p = read_value(p, end, plain,
                       slot[id] != 0 ? (rval *)(void *)((char *)raw + slot[id]) : &other, 1);
        if (p == NULL) {
            return NULL;
        }
        if (tr != NULL) {
            trace_value(tr, start, p, slot[id], 1);
        }
        if ((p = next_member(p, end, &more)) == NULL) {
            return NULL;
        }
    }
    return p;
}

/* The value of subject, authority, license or penalty into v; when it is an
 * object its members into raw as slot says. */
INLINE const char *parent_value(const char *p, const char *end, int plain, rval *v,
                                record_view *raw, const slots slot, int object, layout_trace *tr)
{
    if (p < end && *p == '{') {
        v->type = V_OBJECT;
        v->s = NULL;
        v->len = 0;
        v->num = 0;
        return parent(p, end, plain, raw, slot, object, tr);
    }
    return read_value(p, end, plain, v, 0);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_WIDE 1
#include <immintrin.h>

/* text_plain (jsonscan_utf8.h) 32 bytes a step with AVX2, by the lookup
 * method of Keiser and Lemire ("Validating UTF-8 in less than one
 * instruction per byte", 2021): each byte with the one before it is looked up
 * in three tables of 16 (by the high and the low half of the byte before, by
 * the high half of this one); the three answers share a bit only when the
 * pair is an error of some kind (a lead without its continuation, a
 * continuation without a lead, an overlong form, a surrogate, beyond
 * U+10FFFF, two continuations in a row). Two continuations in a row are an
 * error unless the byte two or three back is a lead of 3 or 4 bytes. No
 * branch but the loop's: the errors, backslashes and control characters of
 * every block are gathered and looked at once, at the end. The last block is
 * read through a copy padded with spaces, which also ends a character cut
 * short by the end of the text (a lead then meets a space). */
enum {
    U8_TOO_SHORT = 1 << 0,      /* a lead, then no continuation */
    U8_TOO_LONG = 1 << 1,       /* ASCII, then a continuation */
    U8_OVERLONG_3 = 1 << 2,     /* E0 80-9F */
    U8_TOO_LARGE = 1 << 3,      /* F4 90-BF, F5-FF */
    U8_SURROGATE = 1 << 4,      /* ED A0-BF */
    U8_OVERLONG_2 = 1 << 5,     /* C0-C1 */
    U8_TOO_LARGE_1000 = 1 << 6, /* F5-FF 80-8F */
    U8_OVERLONG_4 = 1 << 6,     /* F0 80-8F */
    U8_TWO_CONTS = -128,        /* a continuation, then another: bit 7 (-128 as a char) */
    U8_CARRY = U8_TOO_SHORT | U8_TOO_LONG | U8_TWO_CONTS
};

#define U8_REPEAT16(...) __VA_ARGS__, __VA_ARGS__

__attribute__((target("avx2"))) static inline __m256i u8_prev(__m256i v, __m256i before, int n)
{
    /* (the bytes n back: the last n of before, then v's; alignr works per
     * 16-byte lane, so the lane boundary comes from a permute) */
    __m256i cross = _mm256_permute2x128_si256(before, v, 0x21);
    switch (n) {
    case 1:
        return _mm256_alignr_epi8(v, cross, 15);
    case 2:
        return _mm256_alignr_epi8(v, cross, 14);
    default:
        return _mm256_alignr_epi8(v, cross, 13);
    }
}

/* The errors of block v after block before (a bit set in a byte: an error
 * there), with its backslashes and control characters. */
__attribute__((target("avx2"))) static inline __m256i u8_block(__m256i v, __m256i before)
{
    const __m256i by_high_1 = _mm256_setr_epi8(U8_REPEAT16(
        U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG, U8_TOO_LONG,
        U8_TOO_LONG, U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS, U8_TWO_CONTS,
        U8_TOO_SHORT | U8_OVERLONG_2, U8_TOO_SHORT, U8_TOO_SHORT | U8_OVERLONG_3 | U8_SURROGATE,
        U8_TOO_SHORT | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_OVERLONG_4));
    const __m256i by_low_1 = _mm256_setr_epi8(U8_REPEAT16(
        U8_CARRY | U8_OVERLONG_3 | U8_OVERLONG_2 | U8_OVERLONG_4, U8_CARRY | U8_OVERLONG_2,
        U8_CARRY, U8_CARRY, U8_CARRY | U8_TOO_LARGE, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000 | U8_SURROGATE,
        U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000, U8_CARRY | U8_TOO_LARGE | U8_TOO_LARGE_1000));
    const __m256i by_high_2 = _mm256_setr_epi8(
        U8_REPEAT16(U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT,
                    U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT,
                    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE_1000 |
                        U8_OVERLONG_4,
                    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_OVERLONG_3 | U8_TOO_LARGE,
                    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
                    U8_TOO_LONG | U8_OVERLONG_2 | U8_TWO_CONTS | U8_SURROGATE | U8_TOO_LARGE,
                    U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT, U8_TOO_SHORT));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i prev1 = u8_prev(v, before, 1);
    const __m256i special = _mm256_and_si256(
        _mm256_and_si256(
            _mm256_shuffle_epi8(by_high_1, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low4)),
            _mm256_shuffle_epi8(by_low_1, _mm256_and_si256(prev1, low4))),
        _mm256_shuffle_epi8(by_high_2, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4)));
    /* the third byte of a 3- or 4-byte character, or the fourth of a 4-byte
     * one: two continuations in a row are expected there (saturating: 0x80
     * and up only from E0 and F0 up) */
    const __m256i must = _mm256_and_si256(
        _mm256_or_si256(_mm256_subs_epu8(u8_prev(v, before, 2), _mm256_set1_epi8(0xE0 - 0x80)),
                        _mm256_subs_epu8(u8_prev(v, before, 3), _mm256_set1_epi8(0xF0 - 0x80))),
        _mm256_set1_epi8((char)0x80));
    /* backslashes, and bytes below the space (unsigned) */
    const __m256i text =
        _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')),
                        _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1F)), v));
    return _mm256_or_si256(_mm256_xor_si256(special, must), text);
}

__attribute__((target("avx2"))) static int text_plain_wide(const unsigned char *p,
                                                           const unsigned char *end)
{
    __m256i before = _mm256_setzero_si256(), errors = _mm256_setzero_si256(), v;
    unsigned char last[32];
    size_t rest;

    while (end - p >= 32) {
        v = _mm256_loadu_si256((const __m256i *)(const void *)p);
        errors = _mm256_or_si256(errors, u8_block(v, before));
        before = v;
        p += 32;
    }
    rest = (size_t)(end - p);
    memset(last, ' ', sizeof(last));
    memcpy(last, p, rest);
    v = _mm256_loadu_si256((const __m256i *)(const void *)last);
    errors = _mm256_or_si256(errors, u8_block(v, before));
    return _mm256_testz_si256(errors, errors);
}
#endif

/* text_plain over the message, 32 bytes a step where the processor can and
 * wide is set (sgs_record_set_direct(2) leaves it unset: tests). */
int sgs_record_text_plain(const char *buf, size_t len, int wide)
{
    const char *end = buf + len;

#ifdef HAVE_WIDE
    if (wide && __builtin_cpu_supports("avx2")) {
        return text_plain_wide((const unsigned char *)buf, (const unsigned char *)end);
    }
#else
    (void)wide;
#endif
    return text_plain((const unsigned char *)buf, (const unsigned char *)end);
}

/* The message read key by key, its keys guessed (read_key): 1 when it is one
 * the direct reader takes. *close: the position after its closing brace; tr,
 * when not NULL, traces its values. */
static int read_guessing(const char *buf, const char *end, int plain, record_view *raw,
                         layout_trace *tr, const char **close)
{
    const char *p = buf;
    keys_seen seen;
    int more = 1, after = 0;

    p = past_ws(p, end);
    if (p >= end || *p != '{') {
        return 0;
    }
    seen.ids = 0;
    seen.n_others = 0;
    p = past_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        more = 0;
    }
    while (more) {
        const char *s, *start;
        size_t n;
        int id;
        rval other;
        p = read_key(p, end, plain, &sgs_record_top_keys, &seen, &guesses[GUESS_TOP][after], &id,
                     &s, &n);
        if (p == NULL || id >= TK_SYNC_STATUS ||
            (n >= 3 && (memcmp(s, "XK_", 3) == 0 || memcmp(s, "CF_", 3) == 0))) {
            return 0;
        }
        after = guess_after(id, s, n);
        start = p;
        if (tr != NULL && p < end && *p == '{') {
            trace_value(tr, p, p + 1, top_slots[id], 0); /* a parent's brace, before its members */
        }
        switch (id) {
        case TK_UNIT_ID:
            p = read_value(p, end, plain, &raw->unit_id, 0);
            break;
        case TK_KIND:
            p = read_value(p, end, plain, &raw->kind, 0);
            break;
        case TK_DOC_NO:
            p = read_value(p, end, plain, &raw->doc_no, 0);
            break;
        case TK_DECISION_DATE:
            p = read_value(p, end, plain, &raw->decision_date, 0);
            break;
        case TK_REPORTED_AT:
            p = read_value(p, end, plain, &raw->reported_at, 0);
            break;
        case TK_OP:
            p = read_value(p, end, plain, &raw->op, 0);
            break;
        case TK_SUBJECT:
            p = parent_value(p, end, plain, &raw->subject, raw, subject_slots, GUESS_SUBJECT, tr);
            break;
        case TK_AUTHORITY:
            p = parent_value(p, end, plain, &raw->authority, raw, authority_slots, GUESS_AUTHORITY,
                             tr);
            break;
        case TK_LICENSE:
            p = parent_value(p, end, plain, &raw->license, raw, license_slots, GUESS_LICENSE, tr);
            break;
        case TK_PENALTY:
            p = parent_value(p, end, plain, &raw->penalty, raw, penalty_slots, GUESS_PENALTY, tr);
            break;
        default:
            p = read_value(p, end, plain, &other, 0);
            break;
        }
        if (p == NULL) {
            return 0;
        }
        if (tr != NULL && *start != '{') {
            trace_value(tr, start, p, top_slots[id], 0);
        }
        if ((p = next_member(p, end, &more)) == NULL) {
            return 0;
        }
    }
    *close = p;
    return past_ws(p, end) == end;
}

/* ---- Layouts: the messages of a producer read as it writes them ---- */

/* A producer writes its messages alike: the same members in the same order,
 * the same spacing; what changes is the values. A layout is such a message
 * with its values taken out: steps of constant text (keys, colons, commas,
 * braces, spacing and the constants null, true and false), each followed by a
 * value of one type (a string, a number, an array) or by the end. The
 * thread's layouts are kept as a tree: the first steps of the layouts a
 * message may have are the children of the root, and the steps that may
 * follow a step its children, so layouts that begin alike share their first
 * steps. A message is read along the tree: at each step the text must be the
 * step's text, byte for byte, and the value there of its type; otherwise the
 * next child is tried, and when none fits the message is read key by key
 * (read_guessing), which traces it, and its layout is learned.
 *
 * Why a message read along a layout gives what read_guessing gives: every
 * layout is learned from a message read_guessing took, which was plain
 * (sgs_record_text_plain: no escapes, so a string ends at its next quote). A
 * plain message that is a layout's text with values of the same types in
 * the same places is valid JSON of the same structure: the same keys, in the
 * same objects, in the same order (so no duplicate key, no key of the
 * national format, no more other keys than read_guessing takes); numbers and
 * arrays are read by the same functions. Its values go where read_guessing
 * puts them, and the constants of the text set what they set there. A step's
 * value is read before anything is written, so a child that does not fit
 * leaves the view as it was; a message that leaves the tree part way is read
 * key by key into a cleared view.
 *
 * The tree has a fixed number of steps: when a layout does not fit, the tree
 * is emptied and learns again. A producer that writes its members in ever
 * new orders would have every message learned, and the tree emptied again
 * and again: when more than half of LAYOUT_WINDOW messages are not read
 * along the tree, it learns nothing for the next LAYOUT_PAUSE messages (and
 * is still read). */
#define LAYOUT_GAP    48 /* constant text a step compares: three 16-byte blocks */
#define LAYOUT_SETS   4  /* constants kept in the view, a step */
#define LAYOUT_STEPS  1024
#define LAYOUT_WINDOW 1024
#define LAYOUT_PAUSE  16384

typedef struct layout_set {
    uint16_t slot;
    uint8_t type;
} layout_set;

typedef struct layout_step {
    unsigned char gap[LAYOUT_GAP]; /* the text before the value, zero padded */
    uint8_t gap_len;
    uint8_t value; /* LV_NONE (text only), LV_STRING, LV_NUMBER, LV_ARRAY, LV_END */
    uint8_t depth; /* an array's, for read_array */
    uint8_t n_sets;
    uint8_t blocks;     /* 16-byte blocks of the gap (1 for an empty one) */
    uint16_t last_mask; /* the gap's bytes in the last block, a bit each */
    uint16_t slot;      /* where the value goes in the view, 0: not kept */
    layout_set set[LAYOUT_SETS];
    /* (the tree; not compared when a step is learned) */
    uint16_t child, sibling;
} layout_step;

struct sgs_layouts {
    unsigned used;          /* steps in use; step 0 is the root */
    unsigned tried, missed; /* in this window */
    unsigned paused;        /* messages left to read without learning */
    layout_step step[LAYOUT_STEPS];
};

static _Thread_local uint64_t n_layout; /* messages read along a layout */

uint64_t sgs_record_layout_reads(void)
{
    return n_layout;
}

/* Whether the text at p is the step's: 16 bytes at a time where the text
 * has them (the last block's bytes beyond the gap masked out). */
INLINE int gap_same(const char *p, const char *end, const layout_step *st)
{
#if defined(__SSE2__)
    if (end - p >= 16 * st->blocks) {
        unsigned i, last = 16u * (st->blocks - 1u), same;
        for (i = 0; i < last; i += 16) {
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(
                    _mm_loadu_si128((const __m128i *)(const void *)(p + i)),
                    _mm_loadu_si128((const __m128i *)(const void *)(st->gap + i)))) != 0xFFFF) {
                return 0;
            }
        }
        same = (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + last)),
                           _mm_loadu_si128((const __m128i *)(const void *)(st->gap + last))));
        return (same & st->last_mask) == st->last_mask;
    }
#endif
    return (size_t)(end - p) >= st->gap_len && memcmp(p, st->gap, st->gap_len) == 0;
}

/* The message read along the tree: 1 when a layout fits it whole. */
static int layout_read(const struct sgs_layouts *L, const char *p, const char *end,
                       record_view *raw)
{
    unsigned node = 0;

    for (;;) {
        const layout_step *st = NULL;
        unsigned c;
        for (c = L->step[node].child; c != 0; c = st->sibling) {
            const char *q, *e;
            double num = 0;
            st = &L->step[c];
            if (!gap_same(p, end, st)) {
                continue;
            }
            q = p + st->gap_len;
            switch (st->value) {
            case LV_STRING:
                e = next_quote(q, end);
                break;
            case LV_NUMBER:
                e = number(q, end, &num);
                break;
            case LV_ARRAY:
                e = q < end && *q == '[' ? read_array(q, end, 1, st->depth) : NULL;
                break;
            case LV_END:
                e = past_ws(q, end) == end ? end : NULL;
                break;
            default:
                e = q;
                break;
            }
            if (e == NULL) {
                continue;
            }
            for (unsigned i = 0; i < st->n_sets; i++) {
                ((rval *)(void *)((char *)raw + st->set[i].slot))->type =
                    (enum vtype)st->set[i].type;
            }
            if (st->slot != 0) {
                rval *v = (rval *)(void *)((char *)raw + st->slot);
                switch (st->value) {
                case LV_STRING:
                    v->type = V_STRING;
                    v->s = q;
                    v->len = (size_t)(e - q);
                    break;
                case LV_NUMBER:
                    v->type = V_NUMBER;
                    v->num = num;
                    break;
                default:
                    v->type = V_ARRAY;
                    break;
                }
            }
            if (st->value == LV_END) {
                return 1;
            }
            p = st->value == LV_STRING ? e + 1 : e;
            break;
        }
        if (c == 0) {
            return 0;
        }
        node = c;
    }
}

/* The child of node that is the step want, added when there is none: its
 * index, 0 when the tree is full. */
static unsigned layout_child(struct sgs_layouts *L, unsigned node, const layout_step *want)
{
    unsigned c;

    for (c = L->step[node].child; c != 0; c = L->step[c].sibling) {
        if (memcmp(&L->step[c], want, offsetof(layout_step, child)) == 0) {
            return c;
        }
    }
    if (L->used == LAYOUT_STEPS) {
        return 0;
    }
    c = L->used++;
    memcpy(&L->step[c], want, sizeof(*want)); /* (padding too: compared as bytes) */
    L->step[c].child = 0;
    L->step[c].sibling = L->step[node].child;
    L->step[node].child = (uint16_t)c;
    return c;
}

/* The steps of the gap [p, q) and the value after it (value; NULL: the
 * end), with the constants kept in the view that are pending (sets, n): as
 * many steps as the gap's length and the constants need (steps of text only,
 * then the value's). The node of the last step, 0 when the tree is full. */
static unsigned layout_steps(struct sgs_layouts *L, unsigned node, const char *p, const char *q,
                             const trace_event *value, const trace_event *sets, int n)
{
    layout_step st;

    do {
        size_t len = (size_t)(q - p);
        int k = n < LAYOUT_SETS ? n : LAYOUT_SETS;
        if (len > LAYOUT_GAP) {
            len = LAYOUT_GAP;
        }
        memset(&st, 0, sizeof(st));
        memcpy(st.gap, p, len);
        st.gap_len = (uint8_t)len;
        st.blocks = (uint8_t)(len == 0 ? 1 : (len + 15) / 16);
        st.last_mask = (uint16_t)((1u << (len - 16u * (st.blocks - 1u))) - 1u);
        p += len;
        for (int i = 0; i < k; i++) {
            st.set[i].slot = sets[i].slot;
            st.set[i].type = sets[i].type;
        }
        st.n_sets = (uint8_t)k;
        sets += k;
        n -= k;
        st.value = LV_NONE;
        if (p == q && n == 0) { /* the value's step */
            st.value = value != NULL ? value->value : LV_END;
            st.slot = value != NULL ? value->slot : 0;
            st.depth = value != NULL ? value->depth : 0;
        }
        node = layout_child(L, node, &st);
    } while (node != 0 && (p != q || n != 0));
    return node;
}

/* Learns the layout of the message buf traced in tr, whose closing brace
 * ends at close. 0 when the tree had no room. */
static int layout_add(struct sgs_layouts *L, const char *buf, const char *close,
                      const layout_trace *tr)
{
    const char *p = buf;
    unsigned node = 0;
    int i, first = 0;

    for (i = 0; i < tr->n; i++) {
        const trace_event *e = &tr->ev[i];
        if (e->value == LV_NONE) {
            continue; /* a constant: text of the next gap, set at its step */
        }
        node = layout_steps(L, node, p, e->start, e, &tr->ev[first], i - first);
        if (node == 0) {
            return 0;
        }
        p = e->end;
        first = i + 1;
    }
    return layout_steps(L, node, p, close, NULL, &tr->ev[first], i - first) != 0;
}

/* The tree with its root only. */
static void layouts_empty(struct sgs_layouts *L)
{
    L->used = 1;
    L->step[0].child = 0;
}

static void layout_learn(struct sgs_layouts *L, const char *buf, const char *close,
                         const layout_trace *tr)
{
    if (!layout_add(L, buf, close, tr)) {
        /* full: emptied, and learned again */
        layouts_empty(L);
        (void)layout_add(L, buf, close, tr);
    }
}

void sgs_record_layouts_reset(void)
{
    reader *rd = sgs_record_reader();

    if (rd != NULL && rd->layouts != NULL) {
        memset(rd->layouts, 0, offsetof(struct sgs_layouts, step));
        layouts_empty(rd->layouts);
    }
}

/* The thread's layouts, made on first use; NULL without memory. */
static struct sgs_layouts *layouts_of(reader *rd)
{
    if (rd->layouts == NULL) {
        rd->layouts = calloc(1, sizeof(*rd->layouts));
        if (rd->layouts != NULL) {
            layouts_empty(rd->layouts);
        }
    }
    return rd->layouts;
}

int sgs_record_read_fast(reader *rd, const char *buf, size_t len, record_view *raw, int mode)
{
    const char *end = buf + len, *close = NULL;
    struct sgs_layouts *L = NULL;
    layout_trace trace, *tr = NULL;
    int plain;

    if (len > FAST_MAX_LEN) {
        return 0;
    }
    plain = sgs_record_text_plain(buf, len, mode != 1);
    if (plain && mode != 2 && (L = layouts_of(rd)) != NULL) {
        int along = layout_read(L, buf, end, raw);
        if (L->paused != 0) {
            L->paused--;
        } else {
            if (!along) {
                L->missed++;
                trace.n = 0;
                trace.over = 0;
                tr = &trace;
            }
            if (++L->tried == LAYOUT_WINDOW) {
                if (L->missed > LAYOUT_WINDOW / 2) {
                    L->paused = LAYOUT_PAUSE;
                }
                L->tried = 0;
                L->missed = 0;
            }
        }
        if (along) {
            n_layout++;
            goto done;
        }
        memset(raw, 0, VIEW_CLEAR);
    }
    if (!read_guessing(buf, end, plain, raw, tr, &close)) {
        return 0;
    }
    if (tr != NULL && !tr->over) {
        layout_learn(L, buf, close, tr);
    }
done:
    raw->format = SGS_FORMAT_NATIVE;
    raw->names = &sgs_record_native_names;
    return 1;
}

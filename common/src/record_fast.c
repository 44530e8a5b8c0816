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
 *   - a top-level object without keys of the national format (none of its
 *     names, nothing starting with XK_ or CF_: is_national in
 *     record_national.c is then false whatever else the message holds);
 *   - keys and strings without escapes (the tokenizer's own check of each
 *     string, plain_string_end), numbers as the tokenizer reads
 *     them (sgs_jsonscan_number_end, read by sgs_jsonscan_number), literals;
 *   - objects only as the values of subject, authority, license and penalty,
 *     whose members are scalars or arrays; arrays of scalars or arrays, at
 *     most FAST_MAX_DEPTH deep;
 *   - at most FAST_MAX_OTHERS members of an object with other names, checked
 *     for duplicates against each other (the names read, by a bit each), and
 *     at most FAST_MAX_VALUES values in all (far below the tokenizer's limit).
 *
 * The differential test (tests/unit/record_test.c) and fuzz_record compare
 * the records of both ways on the same input. */
#include "jsonscan_utf8.h"
#include "record_view.h"

#include <stdint.h>
#include <string.h>

#define FAST_MAX_DEPTH  16
#define FAST_MAX_OTHERS 16
#define FAST_MAX_VALUES 4096

typedef struct cursor {
    const char *p, *end;
    unsigned values;
} cursor;

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline __attribute__((always_inline)) void skip_ws(cursor *c)
{
    while (c->p < c->end && (unsigned char)*c->p <= ' ' && is_ws(*c->p)) {
        c->p++;
    }
}

/* The string whose opening quote is at c->p, into (s, len); c->p after it. */
static inline __attribute__((always_inline)) int string(cursor *c, const char **s, size_t *len)
{
    const char *q;

    if (c->p >= c->end || *c->p != '"') {
        return 0;
    }
    q = plain_string_end(c->p + 1, c->end);
    if (q == NULL) {
        return 0;
    }
    *s = c->p + 1;
    *len = (size_t)(q - c->p - 1);
    c->p = q + 1;
    return 1;
}

static inline __attribute__((always_inline)) int literal(cursor *c, const char *text, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, text, n) != 0) {
        return 0;
    }
    c->p += n;
    return 1;
}

static int array(cursor *c, int depth);

/* The scalar or array at c->p into v (set as rval_tok sets it; an array by its
 * type only). Objects are left to the general way. */
static inline __attribute__((always_inline)) int value(cursor *c, rval *v, int depth)
{
    memset(v, 0, sizeof(*v));
    if (++c->values > FAST_MAX_VALUES || c->p >= c->end) {
        return 0;
    }
    switch (*c->p) {
    case '"':
        v->type = V_STRING;
        return string(c, &v->s, &v->len);
    case 't':
        v->type = V_BOOL;
        return literal(c, "true", 4);
    case 'f':
        v->type = V_BOOL;
        return literal(c, "false", 5);
    case 'n':
        v->type = V_NULL;
        return literal(c, "null", 4);
    case '[':
        v->type = V_ARRAY;
        return array(c, depth);
    default: {
        sgs_jsonscan_token t;
        const char *q;
        if (*c->p != '-' && (*c->p < '0' || *c->p > '9')) {
            return 0; /* an object, or not JSON */
        }
        memset(&t, 0, sizeof(t));
        q = sgs_jsonscan_number_end(c->p, c->end, &t.flags);
        if (q == NULL) {
            return 0;
        }
        t.type = SGS_JSON_NUMBER;
        t.len = (uint32_t)(q - c->p);
        v->type = V_NUMBER;
        v->num = sgs_jsonscan_number(c->p, &t);
        c->p = q;
        return 1;
    }
    }
}

/* The elements of the array at c->p (its '['), depth arrays deep. */
static int array(cursor *c, int depth)
{
    rval e;

    if (depth >= FAST_MAX_DEPTH) {
        return 0;
    }
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 1;
    }
    for (;;) {
        if (!value(c, &e, depth + 1)) {
            return 0;
        }
        skip_ws(c);
        if (c->p >= c->end) {
            return 0;
        }
        if (*c->p == ']') {
            c->p++;
            return 1;
        }
        if (*c->p != ',') {
            return 0;
        }
        c->p++;
        skip_ws(c);
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

static inline __attribute__((always_inline)) int key_new(keys_seen *k, int id, const char *s,
                                                         size_t n)
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

/* After a member's value: ',' (then the next key is at c->p) or the closing
 * brace. 1 for a ',', 2 for the end of the object, 0 otherwise. */
static inline __attribute__((always_inline)) int next_member(cursor *c)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        skip_ws(c);
        return 1;
    }
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 2;
    }
    return 0;
}

/* A key and its colon at c->p: its text and id in set. */
static inline __attribute__((always_inline)) int key(cursor *c, enum member_set set, const char **s,
                                                     size_t *n, int *id)
{
    if (!string(c, s, n)) {
        return 0;
    }
    *id = key_id(set == MEMBERS_TOP ? &sgs_record_top_keys : &sgs_record_sub_keys, *s, *n, c->end);
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') {
        return 0;
    }
    c->p++;
    skip_ws(c);
    return 1;
}

/* The members of a parent object (c->p at its '{'): the value of the member
 * with sub id i into slot[i] when slot[i] is set. */
static int parent(cursor *c, rval *const slot[SK_COUNT])
{
    keys_seen seen;
    int more;

    seen.ids = 0;
    seen.n_others = 0;
    if (++c->values > FAST_MAX_VALUES) {
        return 0;
    }
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 1;
    }
    do {
        const char *s;
        size_t n;
        int id;
        rval other;
        if (!key(c, MEMBERS_SUB, &s, &n, &id) || !key_new(&seen, id, s, n) ||
            !value(c, slot[id] != NULL ? slot[id] : &other, 1)) {
            return 0;
        }
    } while ((more = next_member(c)) == 1);
    return more == 2;
}

/* The value of subject, authority, license or penalty into v; when it is an
 * object its members into slot. */
static inline __attribute__((always_inline)) int parent_value(cursor *c, rval *v,
                                                              rval *const slot[SK_COUNT])
{
    if (c->p < c->end && *c->p == '{') {
        memset(v, 0, sizeof(*v));
        v->type = V_OBJECT;
        return parent(c, slot);
    }
    return value(c, v, 0);
}

int sgs_record_read_fast(const char *buf, size_t len, record_view *raw)
{
    cursor c = {buf, buf + len, 0};
    rval *const subject[SK_COUNT] = {[SK_NAME] = &raw->subject_name,
                                     [SK_TYPE] = &raw->subject_type,
                                     [SK_USCC] = &raw->subject_uscc,
                                     [SK_ID_NO] = &raw->subject_id_no};
    rval *const authority[SK_COUNT] = {
        [SK_NAME] = &raw->authority_name, [SK_USCC] = &raw->authority_uscc};
    rval *const license[SK_COUNT] = {
        [SK_VALID_FROM] = &raw->valid_from, [SK_VALID_TO] = &raw->valid_to};
    rval *const penalty[SK_COUNT] = {[SK_FINE_AMOUNT] = &raw->fine_amount};
    keys_seen seen;
    int more;

    if (len >= UINT32_MAX) {
        return 0;
    }
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        return 0;
    }
    c.p++;
    c.values++;
    seen.ids = 0;
    seen.n_others = 0;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
        more = 2;
    } else {
        do {
            const char *s;
            size_t n;
            int id, ok;
            rval other;
            if (!key(&c, MEMBERS_TOP, &s, &n, &id) || id >= TK_SYNC_STATUS ||
                (n >= 3 && (memcmp(s, "XK_", 3) == 0 || memcmp(s, "CF_", 3) == 0)) ||
                !key_new(&seen, id, s, n)) {
                return 0;
            }
            switch (id) {
            case TK_UNIT_ID:
                ok = value(&c, &raw->unit_id, 0);
                break;
            case TK_KIND:
                ok = value(&c, &raw->kind, 0);
                break;
            case TK_DOC_NO:
                ok = value(&c, &raw->doc_no, 0);
                break;
            case TK_DECISION_DATE:
                ok = value(&c, &raw->decision_date, 0);
                break;
            case TK_REPORTED_AT:
                ok = value(&c, &raw->reported_at, 0);
                break;
            case TK_OP:
                ok = value(&c, &raw->op, 0);
                break;
            case TK_SUBJECT:
                ok = parent_value(&c, &raw->subject, subject);
                break;
            case TK_AUTHORITY:
                ok = parent_value(&c, &raw->authority, authority);
                break;
            case TK_LICENSE:
                ok = parent_value(&c, &raw->license, license);
                break;
            case TK_PENALTY:
                ok = parent_value(&c, &raw->penalty, penalty);
                break;
            default:
                ok = value(&c, &other, 0);
                break;
            }
            if (!ok) {
                return 0;
            }
        } while ((more = next_member(&c)) == 1);
    }
    if (more != 2) {
        return 0;
    }
    skip_ws(&c);
    if (c.p != c.end) {
        return 0;
    }
    raw->format = SGS_FORMAT_NATIVE;
    raw->names = &sgs_record_native_names;
    return 1;
}

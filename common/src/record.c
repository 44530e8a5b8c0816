/* Record events: reading (native and national format) and the quality rules of
 * DESIGN §4.
 *
 * Two stages, kept apart so that the reader can change without touching the
 * rules:
 *
 *   1. read: sgs_jsonscan tokenizes and validates the message (strict, as
 *      jansson's json_loadb with JSON_REJECT_DUPLICATES); extract() walks the
 *      top-level object once, picks the members the rules need and fills a
 *      raw_record, a view of borrowed (pointer, length) values in the same
 *      shape for both formats (extract_native() / extract_national());
 *   2. check: check_record() applies every rule to the raw_record and fills the
 *      sgs_record. It knows nothing about JSON.
 *
 * Nothing is allocated per message: the tokenizer's context and the buffer for
 * strings with escapes belong to the thread and are reused (they grow to the
 * largest message seen). Every text copied into the record is bounded and cut
 * on a UTF-8 character boundary. */
#include "sgs/record.h"
#include "sgs/store.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/ident.h"
#include "sgs/jsonscan.h"
#include "sgs/log.h"

/* Quoted values in messages are cut to this many bytes (then "..." follows). */
#define QUOTE_MAX 40
/* The input shown after a JSON error ("near '...'") */
#define NEAR_MAX 24

/* ------------------------------------------------------------------------ */
/* Stage 1: the parser's view of a message                                   */

enum vtype { V_ABSENT = 0, V_NULL, V_STRING, V_NUMBER, V_BOOL, V_OBJECT, V_ARRAY };

/* One value as the reader found it. s/len point into the message or into the
 * reader's text buffer (valid UTF-8, no NUL) and are valid until the next
 * message of the thread. */
typedef struct rval {
    enum vtype type;
    const char *s;
    size_t len;
    double num;
} rval;

/* The fields the rules look at, by meaning. Parents (subject, authority,
 * license, penalty) only carry their type; for the national format they are
 * V_OBJECT when the record has that part. */
typedef struct raw_record {
    enum sgs_record_format format;
    enum sgs_kind national_kind; /* national: from the field family, NONE when both */
    rval unit_id;                /* native unit_id; national *_LYDWDM / CF_SJLYDM */
    rval unit_name;              /* national XK_LYDW / CF_SJLY */
    rval kind;
    rval license, penalty;
    rval doc_no, decision_date, reported_at;
    rval subject, subject_name, subject_type, subject_uscc, subject_id_type, subject_id_no;
    rval authority, authority_name, authority_uscc;
    rval valid_from, valid_to;
    rval fine_amount;
} raw_record;

/* Field names used in reasons, per format. */
typedef struct field_names {
    const char *unit_id, *unit_name, *kind, *doc_no, *decision_date, *reported_at;
    const char *subject, *subject_name, *subject_type, *subject_uscc, *subject_id_no;
    const char *authority, *authority_name, *authority_uscc;
    const char *valid_from, *valid_to, *fine_amount;
    const char *id_type;
} field_names;

static const field_names native_names = {
    .unit_id = "unit_id",
    .unit_name = "",
    .kind = "kind",
    .doc_no = "doc_no",
    .decision_date = "decision_date",
    .reported_at = "reported_at",
    .subject = "subject",
    .subject_name = "subject.name",
    .subject_type = "subject.type",
    .subject_uscc = "subject.uscc",
    .subject_id_no = "subject.id_no",
    .authority = "authority",
    .authority_name = "authority.name",
    .authority_uscc = "authority.uscc",
    .valid_from = "license.valid_from",
    .valid_to = "license.valid_to",
    .fine_amount = "penalty.fine_amount",
    .id_type = "",
};

/* National data items (DOMAIN §5). There is no report time field: a
 * "reported_at" key is honoured when present, else the message timestamp. */
static const field_names license_names = {
    .unit_id = "XK_LYDWDM",
    .unit_name = "XK_LYDW",
    .kind = "XK_WSH",
    .doc_no = "XK_WSH",
    .decision_date = "XK_JDRQ",
    .reported_at = "reported_at",
    .subject = "",
    .subject_name = "XK_XDR_MC",
    .subject_type = "XK_XDR_LB",
    .subject_uscc = "XK_XDR_SHXYM",
    .subject_id_no = "XK_XDR_ZJHM",
    .authority = "",
    .authority_name = "XK_XKJG",
    .authority_uscc = "XK_XKJGDM",
    .valid_from = "XK_YXQZ",
    .valid_to = "XK_YXQZI",
    .fine_amount = "",
    .id_type = "XK_XDR_ZJLX",
};

static const field_names penalty_names = {
    .unit_id = "CF_SJLYDM",
    .unit_name = "CF_SJLY",
    .kind = "CF_WSH",
    .doc_no = "CF_WSH",
    .decision_date = "CF_JDRQ",
    .reported_at = "reported_at",
    .subject = "",
    .subject_name = "CF_XDR_MC",
    .subject_type = "CF_XDR_LB",
    .subject_uscc = "CF_XDR_SHXYM",
    .subject_id_no = "CF_XDR_ZJHM",
    .authority = "",
    .authority_name = "CF_CFJG",
    .authority_uscc = "CF_CFJGDM",
    .valid_from = "",
    .valid_to = "",
    .fine_amount = "CF_NR_FK",
    .id_type = "CF_XDR_ZJLX",
};

/* What a thread keeps between messages: the tokenizer's context and a buffer
 * for the decoded text of strings with escapes (strings without escapes are
 * read where they are, in the message). Both grow to the largest message seen
 * and are reused: nothing is allocated per message in steady state. */
typedef struct reader {
    sgs_jsonscan *scan;
    char *text;
    size_t text_cap, text_used;
    int text_ready; /* text has room for this message */
    int oom;        /* the text buffer could not grow for this message */
    const char *buf;
    size_t len;
    const sgs_jsonscan_token *tok;
} reader;

/* Top-level members the rules look at, both formats. */
enum top_key {
    TK_NONE = 0,
    TK_UNIT_ID,
    TK_KIND,
    TK_DOC_NO,
    TK_DECISION_DATE,
    TK_REPORTED_AT,
    TK_SUBJECT,
    TK_AUTHORITY,
    TK_LICENSE,
    TK_PENALTY,
    TK_XK_WSH,
    TK_XK_LYDWDM,
    TK_XK_LYDW,
    TK_XK_JDRQ,
    TK_XK_XDR_MC,
    TK_XK_XDR_LB,
    TK_XK_XDR_SHXYM,
    TK_XK_XDR_ZJLX,
    TK_XK_XDR_ZJHM,
    TK_XK_XKJG,
    TK_XK_XKJGDM,
    TK_XK_YXQZ,
    TK_XK_YXQZI,
    TK_CF_WSH,
    TK_CF_SJLYDM,
    TK_CF_SJLY,
    TK_CF_JDRQ,
    TK_CF_XDR_MC,
    TK_CF_XDR_LB,
    TK_CF_XDR_SHXYM,
    TK_CF_XDR_ZJLX,
    TK_CF_XDR_ZJHM,
    TK_CF_CFJG,
    TK_CF_CFJGDM,
    TK_CF_NR_FK,
    TK_COUNT
};

/* Members of the native subject, authority, license and penalty objects. */
enum sub_key {
    SK_NONE = 0,
    SK_NAME,
    SK_TYPE,
    SK_USCC,
    SK_ID_NO,
    SK_VALID_FROM,
    SK_VALID_TO,
    SK_FINE_AMOUNT,
    SK_COUNT
};

typedef struct key_name {
    const char *name;
    int id;
} key_name;

static const key_name top_keys[] = {
    {"kind", TK_KIND},
    {"doc_no", TK_DOC_NO},
    {"XK_WSH", TK_XK_WSH},
    {"CF_WSH", TK_CF_WSH},
    {"unit_id", TK_UNIT_ID},
    {"subject", TK_SUBJECT},
    {"license", TK_LICENSE},
    {"penalty", TK_PENALTY},
    {"XK_LYDW", TK_XK_LYDW},
    {"XK_JDRQ", TK_XK_JDRQ},
    {"XK_XKJG", TK_XK_XKJG},
    {"XK_YXQZ", TK_XK_YXQZ},
    {"CF_SJLY", TK_CF_SJLY},
    {"CF_JDRQ", TK_CF_JDRQ},
    {"CF_CFJG", TK_CF_CFJG},
    {"XK_YXQZI", TK_XK_YXQZI},
    {"CF_NR_FK", TK_CF_NR_FK},
    {"authority", TK_AUTHORITY},
    {"XK_LYDWDM", TK_XK_LYDWDM},
    {"XK_XDR_MC", TK_XK_XDR_MC},
    {"XK_XDR_LB", TK_XK_XDR_LB},
    {"XK_XKJGDM", TK_XK_XKJGDM},
    {"CF_SJLYDM", TK_CF_SJLYDM},
    {"CF_XDR_MC", TK_CF_XDR_MC},
    {"CF_XDR_LB", TK_CF_XDR_LB},
    {"CF_CFJGDM", TK_CF_CFJGDM},
    {"reported_at", TK_REPORTED_AT},
    {"XK_XDR_ZJLX", TK_XK_XDR_ZJLX},
    {"XK_XDR_ZJHM", TK_XK_XDR_ZJHM},
    {"CF_XDR_ZJLX", TK_CF_XDR_ZJLX},
    {"CF_XDR_ZJHM", TK_CF_XDR_ZJHM},
    {"XK_XDR_SHXYM", TK_XK_XDR_SHXYM},
    {"CF_XDR_SHXYM", TK_CF_XDR_SHXYM},
    {"decision_date", TK_DECISION_DATE},
};

static const key_name sub_keys[] = {
    {"name", SK_NAME},
    {"type", SK_TYPE},
    {"uscc", SK_USCC},
    {"id_no", SK_ID_NO},
    {"valid_to", SK_VALID_TO},
    {"valid_from", SK_VALID_FROM},
    {"fine_amount", SK_FINE_AMOUNT},
};

#define KEY_MAX   16  /* longer than every name above */
#define KEY_SLOTS 128 /* a power of two, well above the number of names */

/* A key of at most KEY_MAX bytes as two words, its bytes 0-7 and 8-15, zero
 * padded: the same words and length mean the same key. */
typedef struct key_words {
    uint64_t w0, w1;
    size_t len;
} key_words;

/* From a key to its id, built once from a names table. The multiplier of the
 * hash is chosen so that every name has a slot of its own: a lookup reads one
 * slot. */
typedef struct key_table {
    key_words words[KEY_SLOTS];
    unsigned char id[KEY_SLOTS]; /* 0: empty slot */
    uint64_t mul;
} key_table;

static key_table top_table, sub_table;
static pthread_once_t key_tables_once = PTHREAD_ONCE_INIT;

static void key_words_of(const char *s, size_t n, key_words *k)
{
    unsigned char b[KEY_MAX];

    memset(b, 0, sizeof(b));
    memcpy(b, s, n);
    memcpy(&k->w0, b, 8);
    memcpy(&k->w1, b + 8, 8);
    k->len = n;
}

static size_t key_slot(const key_table *t, const key_words *k)
{
    uint64_t h = (k->w0 ^ (k->w1 << 1 | k->w1 >> 63) ^ k->len) * t->mul;
    return (size_t)(h >> 57) & (KEY_SLOTS - 1);
}

/* Fills t with the names, hashed with multiplier mul: 0, or -1 when two of
 * them fall into the same slot. */
static int key_table_try(key_table *t, const key_name *names, size_t count, uint64_t mul)
{
    size_t i;

    memset(t, 0, sizeof(*t));
    t->mul = mul;
    for (i = 0; i < count; i++) {
        key_words k;
        size_t h;
        key_words_of(names[i].name, strlen(names[i].name), &k);
        h = key_slot(t, &k);
        if (t->id[h] != 0) {
            return -1;
        }
        t->words[h] = k;
        t->id[h] = (unsigned char)names[i].id;
    }
    return 0;
}

static void key_table_build(key_table *t, const key_name *names, size_t count)
{
    uint64_t mul = 0x9E3779B97F4A7C15ULL;

    /* Odd multipliers from a fixed sequence until one separates the names. The
     * names are fixed, so this always ends the same way (after 89 tries for the
     * top-level names, at once for the others). */
    while (key_table_try(t, names, count, mul) != 0) {
        mul = (mul * 6364136223846793005ULL + 1442695040888963407ULL) | 1;
    }
}

static void key_tables_build(void)
{
    key_table_build(&top_table, top_keys, sizeof(top_keys) / sizeof(top_keys[0]));
    key_table_build(&sub_table, sub_keys, sizeof(sub_keys) / sizeof(sub_keys[0]));
}

static uint64_t load8(const char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

/* A word whose low n bytes (n <= 8) are ones. */
static uint64_t byte_mask(size_t n)
{
    return n >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * n)) - 1;
}

/* key_words_of() by direct loads when 16 bytes can be read at s (a key in the
 * message usually has more after it), which avoids a store-to-load stall. */
static void key_words_at(const char *s, size_t n, const char *limit, key_words *k)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (limit - s >= 16) {
        k->w0 = load8(s) & byte_mask(n);
        k->w1 = load8(s + 8) & byte_mask(n > 8 ? n - 8 : 0);
        k->len = n;
        return;
    }
#else
    (void)limit;
#endif
    key_words_of(s, n, k);
}

/* The id of key s (n bytes, readable up to limit) in t, 0 when it is not one
 * of the names. */
static int key_id(const key_table *t, const char *s, size_t n, const char *limit)
{
    const key_words *e;
    key_words k;
    size_t h;

    if (n > KEY_MAX) {
        return 0;
    }
    key_words_at(s, n, limit, &k);
    h = key_slot(t, &k);
    e = &t->words[h];
    return ((e->w0 == k.w0) & (e->w1 == k.w1) & (e->len == n)) ? t->id[h] : 0;
}

/* The decoded key of token k: in place when it has no escapes, else its first
 * KEY_MAX bytes decoded into tmp (*truncated set when there is more). */
static const char *key_text(const reader *rd, size_t k, char *tmp, size_t *n, int *truncated)
{
    const sgs_jsonscan_token *t = &rd->tok[k];

    *truncated = 0;
    if (!(t->flags & SGS_JSON_ESCAPED)) {
        *n = t->len;
        return rd->buf + t->start;
    }
    *n = sgs_jsonscan_string_prefix(rd->buf, t, tmp, KEY_MAX);
    *truncated = !sgs_jsonscan_string_equal(rd->buf, t, tmp, *n);
    return tmp;
}

/* Finds the members named in names among those of object token obj: at[id] is
 * the token of its value (0 when absent). at[0] (no id) takes the others. */
static void find_members(const reader *rd, size_t obj, const key_table *names, size_t *at)
{
    size_t k = obj + 1, i, n;
    char tmp[KEY_MAX];
    int truncated, id;

    for (i = 0; i < rd->tok[obj].len; i++) {
        const char *s = key_text(rd, k, tmp, &n, &truncated);
        /* (a decoded key in tmp is read with the safe copy: limit == s) */
        id = truncated ? 0 : key_id(names, s, n, s == tmp ? s : rd->buf + rd->len);
        at[id] = k + 1;
        k = rd->tok[k + 1].next;
    }
}

/* Whether a key of the top-level object starts with prefix (3 bytes). */
static int has_key_prefix(const reader *rd, const char *prefix)
{
    size_t k = 1, i, n;
    char tmp[KEY_MAX];
    int truncated;

    for (i = 0; i < rd->tok[0].len; i++) {
        const char *s = key_text(rd, k, tmp, &n, &truncated);
        if (n >= 3 && memcmp(s, prefix, 3) == 0) {
            return 1;
        }
        k = rd->tok[k + 1].next;
    }
    return 0;
}

/* The value of token i (0: absent) as an rval. Strings with escapes are decoded
 * into the reader's text buffer. */
static void rval_tok(reader *rd, size_t i, rval *v)
{
    const sgs_jsonscan_token *t = &rd->tok[i];

    memset(v, 0, sizeof(*v));
    if (i == 0) {
        v->type = V_ABSENT;
        return;
    }
    switch ((enum sgs_json_type)t->type) {
    case SGS_JSON_STRING:
        v->type = V_STRING;
        if (!(t->flags & SGS_JSON_ESCAPED)) {
            v->s = rd->buf + t->start;
            v->len = t->len;
            break;
        }
        if (!rd->text_ready) {
            /* Room for every string of the message at once (decoding never
             * makes a string longer), made before the first one is decoded:
             * the buffer never moves under an rval. */
            if (rd->text_cap < rd->len) {
                char *nt = realloc(rd->text, rd->len);
                if (nt == NULL) {
                    rd->oom = 1;
                    v->s = "";
                    break;
                }
                rd->text = nt;
                rd->text_cap = rd->len;
            }
            rd->text_ready = 1;
        }
        v->s = rd->text + rd->text_used;
        v->len = sgs_jsonscan_string(rd->buf, t, rd->text + rd->text_used);
        rd->text_used += v->len;
        break;
    case SGS_JSON_NUMBER:
        v->type = V_NUMBER;
        v->num = sgs_jsonscan_number(rd->buf, t);
        break;
    case SGS_JSON_TRUE:
    case SGS_JSON_FALSE:
        v->type = V_BOOL;
        break;
    case SGS_JSON_NULL:
        v->type = V_NULL;
        break;
    case SGS_JSON_OBJECT:
        v->type = V_OBJECT;
        break;
    case SGS_JSON_ARRAY:
        v->type = V_ARRAY;
        break;
    }
}

static void extract_native(reader *rd, const size_t *at, raw_record *raw)
{
    size_t sub[SK_COUNT];
    size_t subject = at[TK_SUBJECT], authority = at[TK_AUTHORITY];
    size_t license = at[TK_LICENSE], penalty = at[TK_PENALTY];

    raw->format = SGS_FORMAT_NATIVE;
    rval_tok(rd, at[TK_UNIT_ID], &raw->unit_id);
    rval_tok(rd, at[TK_KIND], &raw->kind);
    rval_tok(rd, at[TK_DOC_NO], &raw->doc_no);
    rval_tok(rd, at[TK_DECISION_DATE], &raw->decision_date);
    rval_tok(rd, at[TK_REPORTED_AT], &raw->reported_at);

    rval_tok(rd, subject, &raw->subject);
    memset(sub, 0, sizeof(sub));
    if (raw->subject.type == V_OBJECT) {
        find_members(rd, subject, &sub_table, sub);
    }
    rval_tok(rd, sub[SK_NAME], &raw->subject_name);
    rval_tok(rd, sub[SK_TYPE], &raw->subject_type);
    rval_tok(rd, sub[SK_USCC], &raw->subject_uscc);
    rval_tok(rd, sub[SK_ID_NO], &raw->subject_id_no);

    rval_tok(rd, authority, &raw->authority);
    memset(sub, 0, sizeof(sub));
    if (raw->authority.type == V_OBJECT) {
        find_members(rd, authority, &sub_table, sub);
    }
    rval_tok(rd, sub[SK_NAME], &raw->authority_name);
    rval_tok(rd, sub[SK_USCC], &raw->authority_uscc);

    rval_tok(rd, license, &raw->license);
    memset(sub, 0, sizeof(sub));
    if (raw->license.type == V_OBJECT) {
        find_members(rd, license, &sub_table, sub);
    }
    rval_tok(rd, sub[SK_VALID_FROM], &raw->valid_from);
    rval_tok(rd, sub[SK_VALID_TO], &raw->valid_to);

    rval_tok(rd, penalty, &raw->penalty);
    memset(sub, 0, sizeof(sub));
    if (raw->penalty.type == V_OBJECT) {
        find_members(rd, penalty, &sub_table, sub);
    }
    rval_tok(rd, sub[SK_FINE_AMOUNT], &raw->fine_amount);
}

/* The members of each national family, by meaning (field_names holds their
 * names for messages). */
typedef struct national_keys {
    int unit_id, unit_name, doc_no, decision_date;
    int subject_name, subject_type, subject_uscc, id_type, subject_id_no;
    int authority_name, authority_uscc;
} national_keys;

static const national_keys license_keys = {
    TK_XK_LYDWDM,    TK_XK_LYDW,     TK_XK_WSH,      TK_XK_JDRQ, TK_XK_XDR_MC, TK_XK_XDR_LB,
    TK_XK_XDR_SHXYM, TK_XK_XDR_ZJLX, TK_XK_XDR_ZJHM, TK_XK_XKJG, TK_XK_XKJGDM,
};

static const national_keys penalty_keys = {
    TK_CF_SJLYDM,    TK_CF_SJLY,     TK_CF_WSH,      TK_CF_JDRQ, TK_CF_XDR_MC, TK_CF_XDR_LB,
    TK_CF_XDR_SHXYM, TK_CF_XDR_ZJLX, TK_CF_XDR_ZJHM, TK_CF_CFJG, TK_CF_CFJGDM,
};

/* The national format is recognised by its document number field, or, when a
 * record has no "kind", by any XK_ / CF_ field. */
static int is_national(const reader *rd, const size_t *at, int *xk, int *cf)
{
    *xk = at[TK_XK_WSH] != 0;
    *cf = at[TK_CF_WSH] != 0;
    if (*xk || *cf) {
        return 1;
    }
    if (at[TK_KIND] != 0) {
        return 0;
    }
    *xk = has_key_prefix(rd, "XK_");
    *cf = has_key_prefix(rd, "CF_");
    return *xk || *cf;
}

static void extract_national(reader *rd, const size_t *at, int xk, int cf, raw_record *raw)
{
    const national_keys *k = xk ? &license_keys : &penalty_keys;

    raw->format = SGS_FORMAT_NATIONAL;
    raw->national_kind = xk && cf ? SGS_KIND_NONE : xk ? SGS_KIND_LICENSE : SGS_KIND_PENALTY;
    rval_tok(rd, at[k->unit_id], &raw->unit_id);
    rval_tok(rd, at[k->unit_name], &raw->unit_name);
    if (xk && cf && raw->unit_id.type != V_STRING && raw->unit_name.type != V_STRING) {
        rval_tok(rd, at[penalty_keys.unit_id], &raw->unit_id);
        rval_tok(rd, at[penalty_keys.unit_name], &raw->unit_name);
    }
    rval_tok(rd, at[k->doc_no], &raw->doc_no);
    rval_tok(rd, at[k->decision_date], &raw->decision_date);
    rval_tok(rd, at[TK_REPORTED_AT], &raw->reported_at);
    raw->subject.type = V_OBJECT;
    rval_tok(rd, at[k->subject_name], &raw->subject_name);
    rval_tok(rd, at[k->subject_type], &raw->subject_type);
    rval_tok(rd, at[k->subject_uscc], &raw->subject_uscc);
    rval_tok(rd, at[k->id_type], &raw->subject_id_type);
    rval_tok(rd, at[k->subject_id_no], &raw->subject_id_no);
    raw->authority.type = V_OBJECT;
    rval_tok(rd, at[k->authority_name], &raw->authority_name);
    rval_tok(rd, at[k->authority_uscc], &raw->authority_uscc);
    if (raw->national_kind == SGS_KIND_LICENSE) {
        raw->license.type = V_OBJECT;
        rval_tok(rd, at[TK_XK_YXQZ], &raw->valid_from);
        rval_tok(rd, at[TK_XK_YXQZI], &raw->valid_to);
    } else if (raw->national_kind == SGS_KIND_PENALTY) {
        raw->penalty.type = V_OBJECT;
        rval_tok(rd, at[TK_CF_NR_FK], &raw->fine_amount);
    }
}

/* Reads the tokens of a message whose top level is an object into raw. */
static void extract(reader *rd, raw_record *raw)
{
    size_t at[TK_COUNT];
    int xk, cf;

    memset(at, 0, sizeof(at));
    find_members(rd, 0, &top_table, at);
    if (is_national(rd, at, &xk, &cf)) {
        extract_national(rd, at, xk, cf, raw);
    } else {
        extract_native(rd, at, raw);
    }
}

/* ------------------------------------------------------------------------ */
/* Text helpers                                                              */

/* Length of the valid UTF-8 sequence at s (strict: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return n;
}

enum { TEXT_RAW = 0, TEXT_QUOTE = 1 };

/* Copies up to max bytes of s (len bytes) into dst (capacity cap), always
 * NUL-terminated and valid UTF-8: invalid bytes become '?', a character that
 * does not fit whole is left out. With TEXT_QUOTE, control characters become
 * '?' too and "..." marks a cut. */
static void put_text(char *dst, size_t cap, const char *s, size_t len, size_t max, int mode)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t in = 0, outn = 0;
    int cut = 0;

    if (cap == 0) {
        return;
    }
    if (max > cap - 1) {
        max = cap - 1;
    }
    if (mode == TEXT_QUOTE && max >= 3 && len > max) {
        max -= 3; /* room for "..." */
    }
    while (in < len) {
        size_t n = utf8_seq(u + in, len - in);
        if (n == 0 || u[in] == 0 || (mode == TEXT_QUOTE && (u[in] < 0x20 || u[in] == 0x7F))) {
            if (outn + 1 > max) {
                cut = 1;
                break;
            }
            dst[outn++] = '?';
            in += n == 0 ? 1 : n;
            continue;
        }
        if (outn + n > max) {
            cut = 1;
            break;
        }
        memcpy(dst + outn, u + in, n);
        outn += n;
        in += n;
    }
    if (cut && mode == TEXT_QUOTE && outn + 3 < cap) {
        memcpy(dst + outn, "...", 3);
        outn += 3;
    }
    dst[outn] = '\0';
}

/* put_text(TEXT_RAW) for a string from the reader, which is valid UTF-8
 * without NUL: the longest prefix of whole characters that fits. */
static void put_valid(char *dst, size_t cap, const char *s, size_t len, size_t max)
{
    size_t n = len;

    if (cap == 0) {
        return;
    }
    if (max > cap - 1) {
        max = cap - 1;
    }
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--; /* s[n] continues the character that does not fit */
        }
    }
    /* memmove, not memcpy: gcc expands this memcpy inline into "rep movsq",
     * whose start-up costs more than copying a short string; memmove is left to
     * the C library. */
    memmove(dst, s, n);
    dst[n] = '\0';
}

/* A string value quoted in a message: at most QUOTE_MAX bytes, then "...". */
typedef struct quoted {
    char s[QUOTE_MAX + 8];
} quoted;

static const char *quote(quoted *q, const char *s, size_t len)
{
    put_text(q->s, sizeof(q->s), s, len, QUOTE_MAX, TEXT_QUOTE);
    return q->s;
}

static const char *type_name(enum vtype t)
{
    switch (t) {
    case V_ABSENT:
        return "nothing";
    case V_NULL:
        return "null";
    case V_STRING:
        return "a string";
    case V_NUMBER:
        return "a number";
    case V_BOOL:
        return "a boolean";
    case V_OBJECT:
        return "an object";
    case V_ARRAY:
        return "an array";
    }
    return "?";
}

static int is_blank(const rval *v)
{
    size_t i;

    for (i = 0; i < v->len; i++) {
        char c = v->s[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return 0;
        }
    }
    return 1;
}

/* A non-empty string: what an optional field must be when it is "present"
 * (absent, null and "" count as not given). */
static int given(const rval *v)
{
    return v->type == V_STRING && v->len > 0;
}

/* Characters (code points) of a valid UTF-8 string. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

static int rval_eq(const rval *v, const char *lit)
{
    size_t n = strlen(lit);
    return v->type == V_STRING && v->len == n && memcmp(v->s, lit, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* Stage 2: the rules                                                        */

#define CODE_MALFORMED    SGS_REASON_MALFORMED_JSON
#define CODE_UNKNOWN_UNIT SGS_REASON_UNKNOWN_UNIT
#define CODE_MISSING      SGS_REASON_MISSING_FIELD
#define CODE_KIND         SGS_REASON_BAD_KIND
#define CODE_DATE         SGS_REASON_BAD_DATE
#define CODE_FUTURE       SGS_REASON_FUTURE_DECISION
#define CODE_USCC         SGS_REASON_BAD_USCC
#define CODE_IDNO         SGS_REASON_BAD_ID_NO
#define CODE_VALIDITY     SGS_REASON_BAD_VALIDITY
#define CODE_AMOUNT       SGS_REASON_BAD_AMOUNT
#define CODE_DOCNO        SGS_REASON_BAD_DOC_NO

__attribute__((format(printf, 4, 5))) static void
add_reason(sgs_record *out, const char *code, const char *field, const char *fmt, ...)
{
    char tmp[512];
    sgs_reason *r;
    va_list ap;

    if (out->n_reasons >= SGS_MAX_REASONS) {
        return;
    }
    r = &out->reasons[out->n_reasons++];
    r->code = code;
    put_text(r->field, sizeof(r->field), field, strlen(field), sizeof(r->field) - 1, TEXT_RAW);
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put_text(r->message, sizeof(r->message), tmp, strlen(tmp), sizeof(r->message) - 1, TEXT_RAW);
}

/* A required text field: a string with something in it. Adds missing_field and
 * returns 0 otherwise. parent/parent_name describe the enclosing object of a
 * native nested field (NULL for top-level and national fields). */
static int require_string(sgs_record *out, const char *field, const rval *v, const rval *parent,
                          const char *parent_name)
{
    if (parent != NULL && parent->type != V_OBJECT) {
        if (parent->type == V_ABSENT || parent->type == V_NULL) {
            add_reason(out, CODE_MISSING, field, "missing (no %s object)", parent_name);
        } else {
            add_reason(out, CODE_MISSING, field, "missing (%s is %s, expected an object)",
                       parent_name, type_name(parent->type));
        }
        return 0;
    }
    switch (v->type) {
    case V_STRING:
        if (is_blank(v)) {
            add_reason(out, CODE_MISSING, field, "empty");
            return 0;
        }
        return 1;
    case V_ABSENT:
        add_reason(out, CODE_MISSING, field, "missing");
        return 0;
    case V_NULL:
        add_reason(out, CODE_MISSING, field, "null, expected a non-empty string");
        return 0;
    default:
        add_reason(out, CODE_MISSING, field, "expected a string, got %s", type_name(v->type));
        return 0;
    }
}

/* Parses 1 or 2 digits at s[*i] into *v. */
static int digits12(const char *s, size_t len, size_t *i, int *v)
{
    size_t j = *i;
    int n = 0;

    while (j < len && j - *i < 2 && s[j] >= '0' && s[j] <= '9') {
        n = n * 10 + (s[j] - '0');
        j++;
    }
    if (j == *i) {
        return -1;
    }
    *v = n;
    *i = j;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* A time of day after a national date: H:MM, H:MM:SS, H:MM:SS.fff (hour 1 or 2
 * digits). */
static int time_of_day_ok(const char *s, size_t len)
{
    size_t i = 0;
    int h, m, sec = 0;

    if (digits12(s, len, &i, &h) != 0 || i >= len || s[i] != ':' || h > 23) {
        return 0;
    }
    i++;
    if (len - i < 2 || !all_digits(s + i, 2)) {
        return 0;
    }
    m = (s[i] - '0') * 10 + (s[i + 1] - '0');
    i += 2;
    if (i < len && s[i] == ':') {
        i++;
        if (len - i < 2 || !all_digits(s + i, 2)) {
            return 0;
        }
        sec = (s[i] - '0') * 10 + (s[i + 1] - '0');
        i += 2;
        if (i < len && s[i] == '.') {
            i++;
            if (i == len || !all_digits(s + i, len - i)) {
                return 0;
            }
            i = len;
        }
    }
    return i == len && m <= 59 && sec <= 60;
}

/* National dates: YYYY-MM-DD, YYYY/MM/DD (month and day may have one digit),
 * YYYYMMDD, each optionally followed by " " or "T" and a time of day. */
static int national_date_parse(const char *s, size_t len, sgs_day *out)
{
    int y, m, d;
    size_t i;

    if (len < 8 || !all_digits(s, 4)) {
        return -1;
    }
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (all_digits(s + 4, 4)) {
        m = (s[4] - '0') * 10 + (s[5] - '0');
        d = (s[6] - '0') * 10 + (s[7] - '0');
        i = 8;
    } else {
        char sep = s[4];
        if (sep != '-' && sep != '/') {
            return -1;
        }
        i = 5;
        if (digits12(s, len, &i, &m) != 0 || i >= len || s[i] != sep) {
            return -1;
        }
        i++;
        if (digits12(s, len, &i, &d) != 0) {
            return -1;
        }
    }
    if (i < len) {
        if ((s[i] != ' ' && s[i] != 'T') || !time_of_day_ok(s + i + 1, len - i - 1)) {
            return -1;
        }
    }
    if (!sgs_date_valid(y, m, d)) {
        return -1;
    }
    *out = sgs_day_from_ymd(y, m, d);
    return 0;
}

static int date_parse(enum sgs_record_format format, const rval *v, sgs_day *out)
{
    if (format == SGS_FORMAT_NATIONAL) {
        return national_date_parse(v->s, v->len, out);
    }
    return sgs_day_parse(v->s, v->len, out);
}

static const char *date_formats(enum sgs_record_format format)
{
    return format == SGS_FORMAT_NATIONAL ? "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD" : "YYYY-MM-DD";
}

/* Sets the report instant and the local day, month and day text. */
static void set_report_time(sgs_record *out, const sgs_rules *rules, int64_t instant)
{
    out->reported_at = instant;
    out->report_day = sgs_day_of_instant(instant, rules->tz_offset);
    sgs_day_format(out->report_day, out->day);
    memcpy(out->month, out->day, 7); /* "YYYY-MM" of "YYYY-MM-DD" */
    out->month[7] = '\0';
}

static int64_t fallback_instant(int64_t msg_timestamp_ms)
{
    if (msg_timestamp_ms >= 0) {
        return msg_timestamp_ms / 1000;
    }
    return (int64_t)time(NULL);
}

static void check_report_time(sgs_record *out, const sgs_rules *rules, const field_names *f,
                              const raw_record *raw, int64_t msg_timestamp_ms)
{
    const rval *v = &raw->reported_at;
    int64_t instant;
    quoted q;

    if (v->type == V_ABSENT || v->type == V_NULL) {
        /* No report time in the record: the platform's receive time is. */
        instant = fallback_instant(msg_timestamp_ms);
        out->has_reported_at = 1;
        out->reported_from_timestamp = 1;
        set_report_time(out, rules, instant);
        sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
        return;
    }
    if (require_string(out, f->reported_at, v, NULL, NULL)) {
        if (sgs_rfc3339_parse(v->s, v->len, &instant) == 0) {
            out->has_reported_at = 1;
            set_report_time(out, rules, instant);
            if (v->len < sizeof(out->reported_at_text)) {
                memcpy(out->reported_at_text, v->s, v->len);
                out->reported_at_text[v->len] = '\0';
            } else {
                sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
            }
            return;
        }
        add_reason(out, CODE_DATE, f->reported_at,
                   "'%s' is not an RFC 3339 date-time with an offset "
                   "(like 2023-12-05T10:31:00+08:00)",
                   quote(&q, v->s, v->len));
    }
    /* Unusable: the month is decided by the message timestamp (or now). */
    instant = fallback_instant(msg_timestamp_ms);
    set_report_time(out, rules, instant);
    sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
}

static void check_kind(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->kind;
    quoted q;

    if (raw->format == SGS_FORMAT_NATIONAL) {
        out->kind = raw->national_kind;
        if (out->kind == SGS_KIND_NONE) {
            add_reason(out, CODE_KIND, f->kind,
                       "both licence (XK_) and penalty (CF_) fields: cannot tell the kind");
        }
        return;
    }
    if (!require_string(out, f->kind, v, NULL, NULL)) {
        return;
    }
    if (rval_eq(v, "license")) {
        out->kind = SGS_KIND_LICENSE;
    } else if (rval_eq(v, "penalty")) {
        out->kind = SGS_KIND_PENALTY;
    } else {
        add_reason(out, CODE_KIND, f->kind, "'%s' is not license or penalty",
                   quote(&q, v->s, v->len));
        return;
    }
    {
        const char *name = sgs_kind_name(out->kind);
        const rval *obj = out->kind == SGS_KIND_LICENSE ? &raw->license : &raw->penalty;
        if (obj->type == V_ABSENT || obj->type == V_NULL) {
            add_reason(out, CODE_KIND, name, "kind is %s but there is no %s object", name, name);
        } else if (obj->type != V_OBJECT) {
            add_reason(out, CODE_KIND, name, "kind is %s but %s is %s, expected an object", name,
                       name, type_name(obj->type));
        }
    }
}

static void check_doc_no(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->doc_no;
    quoted q;

    if (!require_string(out, f->doc_no, v, NULL, NULL)) {
        return;
    }
    put_valid(out->doc_no, sizeof(out->doc_no), v->s, v->len, sizeof(out->doc_no) - 1);
    if (sgs_docno_normalize(v->s, v->len, &out->doc) != 0) {
        add_reason(out, CODE_DOCNO, f->doc_no, "'%s' cannot be normalised (%zu bytes, too long)",
                   quote(&q, v->s, v->len), v->len);
        return;
    }
    if (out->doc.norm_chars < 4 || out->doc.norm_chars > 64) {
        add_reason(out, CODE_DOCNO, f->doc_no,
                   "'%s' normalises to %zu characters, expected 4 to 64",
                   quote(&q, out->doc.norm, strlen(out->doc.norm)), out->doc.norm_chars);
    }
}

static void check_decision_date(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->decision_date;
    quoted q;

    if (!require_string(out, f->decision_date, v, NULL, NULL)) {
        return;
    }
    if (date_parse(raw->format, v, &out->decision_date) != 0) {
        add_reason(out, CODE_DATE, f->decision_date, "'%s' is not a real date (%s)",
                   quote(&q, v->s, v->len), date_formats(raw->format));
        return;
    }
    out->has_decision_date = 1;
}

static enum sgs_subject_type subject_type_of(const rval *v)
{
    static const struct {
        const char *label;
        enum sgs_subject_type type;
    } labels[] = {
        {"legal_person", SGS_SUBJECT_LEGAL_PERSON},
        {"individual_business", SGS_SUBJECT_INDIVIDUAL_BUSINESS},
        {"natural_person", SGS_SUBJECT_NATURAL_PERSON},
        /* National labels (DOMAIN §5) and their common variants. */
        {"法人及非法人组织", SGS_SUBJECT_LEGAL_PERSON},
        {"法人和非法人组织", SGS_SUBJECT_LEGAL_PERSON},
        {"法人", SGS_SUBJECT_LEGAL_PERSON},
        {"非法人组织", SGS_SUBJECT_LEGAL_PERSON},
        {"个体工商户", SGS_SUBJECT_INDIVIDUAL_BUSINESS},
        {"自然人", SGS_SUBJECT_NATURAL_PERSON},
    };
    size_t i;

    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (rval_eq(v, labels[i].label)) {
            return labels[i].type;
        }
    }
    return SGS_SUBJECT_OTHER;
}

static void check_subject(sgs_record *out, const field_names *f, const raw_record *raw)
{
    quoted q;

    require_string(out, f->subject_name, &raw->subject_name, &raw->subject, f->subject);
    if (require_string(out, f->subject_type, &raw->subject_type, &raw->subject, f->subject)) {
        out->subject_type = subject_type_of(&raw->subject_type);
        if (out->subject_type == SGS_SUBJECT_OTHER) {
            /* No code of its own in DESIGN §4: the field has no usable value. */
            add_reason(out, CODE_MISSING, f->subject_type,
                       "'%s' is not a subject type (legal_person, individual_business, "
                       "natural_person)",
                       quote(&q, raw->subject_type.s, raw->subject_type.len));
        }
    }
}

/* Checks a credit code that is present (a non-empty string). */
static void check_uscc_value(sgs_record *out, const char *field, const rval *v)
{
    quoted q;
    size_t i;

    switch (sgs_uscc_check(v->s, v->len)) {
    case SGS_USCC_OK:
        return;
    case SGS_USCC_BAD_LENGTH:
        add_reason(out, CODE_USCC, field, "'%s' has %zu characters, expected 18",
                   quote(&q, v->s, v->len), utf8_chars(v->s, v->len));
        return;
    case SGS_USCC_BAD_CHAR:
        for (i = 0; i < v->len && sgs_uscc_char_value(v->s[i]) >= 0; i++) {
        }
        if ((unsigned char)v->s[i] >= 0x20 && (unsigned char)v->s[i] < 0x7F) {
            add_reason(out, CODE_USCC, field,
                       "'%s': character %zu '%c' is not in the code alphabet "
                       "(0-9 and A-Z without I O S V Z)",
                       quote(&q, v->s, v->len), i + 1, v->s[i]);
        } else {
            add_reason(out, CODE_USCC, field,
                       "'%s': character %zu is not in the code alphabet "
                       "(0-9 and A-Z without I O S V Z)",
                       quote(&q, v->s, v->len), i + 1);
        }
        return;
    case SGS_USCC_BAD_CHECK:
        if (memcmp(v->s, "91350", 5) == 0) {
            /* Some early Xiamen codes are real and fail the check (DOMAIN §3). */
            sgs_debug("%s '%s' fails the check character, accepted as an early 91350 code", field,
                      quote(&q, v->s, v->len));
            return;
        }
        add_reason(out, CODE_USCC, field, "'%s': check character is '%c', expected '%c'%s",
                   quote(&q, v->s, v->len), v->s[17], sgs_uscc_check_char(v->s),
                   sgs_uscc_is_placeholder(v->s, v->len)
                       ? " (the placeholder is accepted for individual businesses only)"
                       : "");
        return;
    }
}

/* An optional credit code: absent, null and "" are fine, any other non-string
 * is not. */
static void check_uscc_optional(sgs_record *out, const char *field, const rval *v)
{
    if (given(v)) {
        check_uscc_value(out, field, v);
    } else if (v->type != V_ABSENT && v->type != V_NULL && v->type != V_STRING) {
        add_reason(out, CODE_USCC, field, "expected a string, got %s", type_name(v->type));
    }
}

static void check_usccs(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->subject_uscc;

    if (raw->subject.type == V_OBJECT) {
        switch (out->subject_type) {
        case SGS_SUBJECT_LEGAL_PERSON:
            if (!given(v) && (v->type == V_ABSENT || v->type == V_NULL || v->type == V_STRING)) {
                add_reason(out, CODE_USCC, f->subject_uscc, "required for a legal person");
            } else {
                check_uscc_optional(out, f->subject_uscc, v);
            }
            break;
        case SGS_SUBJECT_INDIVIDUAL_BUSINESS:
            if (!(given(v) && sgs_uscc_is_placeholder(v->s, v->len))) {
                check_uscc_optional(out, f->subject_uscc, v);
            }
            break;
        default:
            check_uscc_optional(out, f->subject_uscc, v);
            break;
        }
    }
    if (raw->authority.type == V_OBJECT) {
        check_uscc_optional(out, f->authority_uscc, &raw->authority_uscc);
    }
}

/* The national ID type, when given, says whether the number is a resident ID.
 */
static int is_resident_id_type(const rval *t)
{
    static const char *const types[] = {"身份证", "居民身份证", "中华人民共和国居民身份证", "001"};
    size_t i;

    if (!given(t)) {
        return 1;
    }
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (rval_eq(t, types[i])) {
            return 1;
        }
    }
    return 0;
}

static void check_id_no(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->subject_id_no;
    quoted q;
    char want;

    if (raw->subject.type != V_OBJECT || out->subject_type != SGS_SUBJECT_NATURAL_PERSON) {
        return;
    }
    if (!given(v)) {
        if (v->type != V_ABSENT && v->type != V_NULL && v->type != V_STRING) {
            add_reason(out, CODE_IDNO, f->subject_id_no, "expected a string, got %s",
                       type_name(v->type));
        }
        return;
    }
    if (raw->format == SGS_FORMAT_NATIONAL && !is_resident_id_type(&raw->subject_id_type)) {
        return; /* a passport or other document: no check defined */
    }
    switch (sgs_idno_check(v->s, v->len)) {
    case SGS_IDNO_OK:
        return;
    case SGS_IDNO_BAD_LENGTH:
        add_reason(out, CODE_IDNO, f->subject_id_no, "'%s' has %zu characters, expected 18",
                   quote(&q, v->s, v->len), utf8_chars(v->s, v->len));
        return;
    case SGS_IDNO_BAD_CHAR:
        add_reason(out, CODE_IDNO, f->subject_id_no,
                   "'%s' is not 17 digits followed by a digit or X", quote(&q, v->s, v->len));
        return;
    case SGS_IDNO_BAD_BIRTHDATE:
        add_reason(out, CODE_IDNO, f->subject_id_no, "'%s': birth date %.8s does not exist",
                   quote(&q, v->s, v->len), v->s + 6);
        return;
    case SGS_IDNO_BAD_CHECK:
        want = sgs_idno_check_char(v->s);
        add_reason(out, CODE_IDNO, f->subject_id_no, "'%s': check character is '%c', expected '%c'",
                   quote(&q, v->s, v->len), v->s[17], want);
        return;
    }
}

/* "长期" (long-term) and the like stand for a licence without an end. */
static int is_open_ended(const rval *v)
{
    return rval_eq(v, "长期") || rval_eq(v, "长期有效") || rval_eq(v, "永久");
}

/* Reads an optional validity date. 1 when a date was read, 0 when there is none
 * (or it is open-ended), -1 after adding a reason. */
static int validity_date(sgs_record *out, enum sgs_record_format format, const char *field,
                         const rval *v, sgs_day *day)
{
    quoted q;

    if (!given(v)) {
        if (v->type != V_ABSENT && v->type != V_NULL && v->type != V_STRING) {
            add_reason(out, CODE_VALIDITY, field, "expected a string, got %s", type_name(v->type));
            return -1;
        }
        return 0;
    }
    if (is_open_ended(v)) {
        return 0;
    }
    if (date_parse(format, v, day) != 0) {
        add_reason(out, CODE_VALIDITY, field, "'%s' is not a real date (%s)",
                   quote(&q, v->s, v->len), date_formats(format));
        return -1;
    }
    return 1;
}

static void check_validity(sgs_record *out, const field_names *f, const raw_record *raw)
{
    sgs_day from = 0, to = 0;
    int has_from, has_to;
    char a[11], b[11];

    if (out->kind != SGS_KIND_LICENSE || raw->license.type != V_OBJECT) {
        return;
    }
    has_from = validity_date(out, raw->format, f->valid_from, &raw->valid_from, &from);
    has_to = validity_date(out, raw->format, f->valid_to, &raw->valid_to, &to);
    if (has_from == 1 && has_to == 1 && to < from) {
        add_reason(out, CODE_VALIDITY, f->valid_to, "valid to %s is before valid from %s",
                   sgs_day_format(to, a), sgs_day_format(from, b));
    }
}

/* A fine given as text in the national feed: "0.5", "10", " 3.20 ". Returns 0
 * and the value, or -1 when it is not a plain decimal number. */
static int numeric_text(const rval *v, double *value)
{
    char tmp[64];
    char *end;
    size_t i = 0, n = v->len;

    while (i < n && v->s[i] == ' ') {
        i++;
    }
    while (n > i && v->s[n - 1] == ' ') {
        n--;
    }
    if (n - i == 0 || n - i >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, v->s + i, n - i);
    tmp[n - i] = '\0';
    for (i = 0; tmp[i] != '\0'; i++) {
        if (!((tmp[i] >= '0' && tmp[i] <= '9') || tmp[i] == '.' || (i == 0 && tmp[i] == '-'))) {
            return -1;
        }
    }
    *value = strtod(tmp, &end);
    return *end == '\0' && end != tmp ? 0 : -1;
}

static void check_amount(sgs_record *out, const field_names *f, const raw_record *raw)
{
    const rval *v = &raw->fine_amount;
    double amount;
    quoted q;

    if (out->kind != SGS_KIND_PENALTY || raw->penalty.type != V_OBJECT) {
        return;
    }
    switch (v->type) {
    case V_ABSENT:
    case V_NULL:
        return;
    case V_NUMBER:
        amount = v->num;
        break;
    case V_STRING:
        if (raw->format == SGS_FORMAT_NATIONAL) {
            if (v->len == 0 || is_blank(v)) {
                return;
            }
            if (numeric_text(v, &amount) == 0) {
                break;
            }
            add_reason(out, CODE_AMOUNT, f->fine_amount, "'%s' is not a number",
                       quote(&q, v->s, v->len));
            return;
        }
        add_reason(out, CODE_AMOUNT, f->fine_amount, "expected a number or null, got a string '%s'",
                   quote(&q, v->s, v->len));
        return;
    default:
        add_reason(out, CODE_AMOUNT, f->fine_amount, "expected a number or null, got %s",
                   type_name(v->type));
        return;
    }
    if (!isfinite(amount) || amount < 0) {
        add_reason(out, CODE_AMOUNT, f->fine_amount, "%g is not a finite number >= 0", amount);
    }
}

static void check_deadline(sgs_record *out, const sgs_rules *rules, const field_names *f)
{
    char a[11], b[11];
    int n;

    if (out->has_decision_date && out->has_reported_at && out->decision_date > out->report_day) {
        add_reason(out, CODE_FUTURE, f->decision_date, "decided %s, after the report date %s",
                   sgs_day_format(out->decision_date, a), sgs_day_format(out->report_day, b));
    }
    if (!out->has_decision_date || out->kind == SGS_KIND_NONE || rules->calendar == NULL) {
        return;
    }
    n = rules->deadline_workdays[out->kind];
    if (n < 1) {
        n = 7; /* DESIGN §6 default, for a rules struct that leaves it unset */
    }
    out->deadline =
        sgs_calendar_deadline(rules->calendar, out->decision_date, n, rules->count_decision_day);
    out->has_deadline = 1;
    if (out->has_reported_at && out->report_day > out->deadline) {
        out->late = 1;
        out->workdays_late =
            sgs_calendar_workdays_between(rules->calendar, out->deadline, out->report_day);
    }
}

/* Finds the unit; 0, or -1 after adding unknown_unit. */
static int resolve_unit(sgs_record *out, const sgs_rules *rules, const field_names *f,
                        const raw_record *raw)
{
    const rval *id = &raw->unit_id;
    const rval *name = &raw->unit_name;
    quoted q1, q2;

    if (id->type == V_STRING) {
        put_valid(out->unit_id, sizeof(out->unit_id), id->s, id->len, sizeof(out->unit_id) - 1);
        if (id->len > 0 && rules->registry != NULL) {
            out->unit = sgs_registry_find_id(rules->registry, id->s, id->len);
        }
    }
    if (out->unit == NULL && raw->format == SGS_FORMAT_NATIONAL && given(name) &&
        rules->registry != NULL) {
        out->unit = sgs_registry_find(rules->registry, name->s, name->len);
    }
    if (out->unit != NULL) {
        /* (the registry checked that its ids are UTF-8 without NUL) */
        put_valid(out->unit_id, sizeof(out->unit_id), out->unit->id, strlen(out->unit->id),
                  sizeof(out->unit_id) - 1);
        return 0;
    }

    if (raw->format == SGS_FORMAT_NATIONAL) {
        if (given(id) && given(name)) {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                       "source unit '%s' (%s '%s') is not in the registry",
                       quote(&q1, id->s, id->len), f->unit_name, quote(&q2, name->s, name->len));
        } else if (given(id)) {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                       "source unit '%s' is not in the registry", quote(&q1, id->s, id->len));
        } else if (given(name)) {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_name,
                       "source unit '%s' is not in the registry", quote(&q2, name->s, name->len));
        } else if (id->type != V_ABSENT && id->type != V_NULL && id->type != V_STRING) {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id, "expected a string, got %s",
                       type_name(id->type));
        } else {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                       "no source unit: %s and %s are missing or empty", f->unit_id, f->unit_name);
        }
        return -1;
    }
    switch (id->type) {
    case V_STRING:
        if (id->len == 0) {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id, "empty");
        } else {
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id, "unit '%s' is not in the registry",
                       quote(&q1, id->s, id->len));
        }
        break;
    case V_ABSENT:
        add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id, "missing");
        break;
    default:
        add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id, "expected a string, got %s",
                   type_name(id->type));
        break;
    }
    return -1;
}

static void check_record(const sgs_rules *rules, const raw_record *raw, int64_t msg_timestamp_ms,
                         sgs_record *out)
{
    const field_names *f = &native_names;
    int unit_ok;

    out->format = raw->format;
    if (raw->format == SGS_FORMAT_NATIONAL) {
        f = raw->national_kind == SGS_KIND_PENALTY ? &penalty_names : &license_names;
    }
    unit_ok = resolve_unit(out, rules, f, raw) == 0;

    /* The rules run for unknown units too, so that the record carries its month,
     * kind and dates; only the unknown_unit reason is kept then (DESIGN §4). */
    check_kind(out, f, raw);
    check_doc_no(out, f, raw);
    check_decision_date(out, f, raw);
    check_report_time(out, rules, f, raw, msg_timestamp_ms);
    check_subject(out, f, raw);
    require_string(out, f->authority_name, &raw->authority_name, &raw->authority, f->authority);
    check_usccs(out, f, raw);
    check_id_no(out, f, raw);
    check_validity(out, f, raw);
    check_amount(out, f, raw);
    check_deadline(out, rules, f);

    if (!unit_ok) {
        out->n_reasons = 1; /* unknown_unit, added first by resolve_unit() */
        out->status = SGS_RECORD_UNKNOWN_UNIT;
        return;
    }
    if (out->kind != SGS_KIND_NONE && out->doc.norm_chars >= 4 && out->doc.norm_chars <= 64) {
        /* "<unit_id>|<kind>|<normalised doc_no>", when it fits. */
        out->has_identity = sgs_store_identity(out->identity, sizeof(out->identity), out->unit_id,
                                               sgs_kind_name(out->kind), out->doc.norm) >= 0;
    }
    out->status = out->n_reasons > 0 ? SGS_RECORD_INVALID : SGS_RECORD_VALID;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */

const char *sgs_kind_name(enum sgs_kind kind)
{
    switch (kind) {
    case SGS_KIND_LICENSE:
        return "license";
    case SGS_KIND_PENALTY:
        return "penalty";
    default:
        return "";
    }
}

static void reset(sgs_record *out)
{
    /* Field by field would save little: the struct is a few KB and has no
     * pointers to free. */
    memset(out, 0, sizeof(*out));
}

static const char *json_type_text(enum sgs_json_type type)
{
    switch (type) {
    case SGS_JSON_ARRAY:
        return "JSON array";
    case SGS_JSON_STRING:
        return "JSON string";
    case SGS_JSON_NUMBER:
        return "JSON number";
    case SGS_JSON_TRUE:
    case SGS_JSON_FALSE:
        return "JSON boolean";
    case SGS_JSON_NULL:
        return "JSON null";
    default:
        return "JSON value";
    }
}

static void malformed(sgs_record *out, const sgs_rules *rules, int64_t msg_timestamp_ms)
{
    int64_t instant = fallback_instant(msg_timestamp_ms);

    out->status = SGS_RECORD_MALFORMED;
    set_report_time(out, rules, instant);
    sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
}

/* One reader per thread, made on first use and freed when the thread ends
 * (the main thread's lives until exit). */
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;
static int reader_key_ok;
static _Thread_local reader *thread_reader;

static void reader_free(void *p)
{
    reader *rd = p;

    if (rd != NULL) {
        sgs_jsonscan_destroy(rd->scan);
        free(rd->text);
        free(rd);
    }
}

static void reader_key_init(void)
{
    reader_key_ok = pthread_key_create(&reader_key, reader_free) == 0;
}

static reader *reader_get(void)
{
    reader *rd = thread_reader;

    if (rd != NULL) {
        return rd;
    }
    pthread_once(&reader_once, reader_key_init);
    pthread_once(&key_tables_once, key_tables_build);
    rd = calloc(1, sizeof(*rd));
    if (rd == NULL) {
        return NULL;
    }
    rd->scan = sgs_jsonscan_create(0);
    if (rd->scan == NULL) {
        free(rd);
        return NULL;
    }
    if (reader_key_ok) {
        pthread_setspecific(reader_key, rd);
    }
    thread_reader = rd;
    return rd;
}

void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out)
{
    reader *rd;
    raw_record raw;
    size_t ntok;

    reset(out);
    if (buf == NULL || len == 0) {
        add_reason(out, CODE_MALFORMED, "", "empty message, expected a JSON object");
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    rd = reader_get();
    if (rd == NULL) {
        add_reason(out, CODE_MALFORMED, "", "out of memory reading the message");
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    /* The tokenizer refuses what jansson's json_loadb with
     * JSON_REJECT_DUPLICATES refuses (see sgs/jsonscan.h): invalid UTF-8, lone
     * surrogates, "\u0000" (so every string the rules see is a C string without
     * NUL), numbers a double or int64 cannot hold, duplicate keys, nesting
     * deeper than 2048. */
    if (sgs_jsonscan_parse(rd->scan, buf, len) != 0) {
        const sgs_jsonscan_error *err = sgs_jsonscan_last_error(rd->scan);
        char text[sizeof(err->text)], near[NEAR_MAX + 8];
        put_text(text, sizeof(text), err->text, strnlen(err->text, sizeof(err->text)),
                 sizeof(text) - 1, TEXT_QUOTE);
        /* what follows the position, as jansson's "near '...'" showed */
        put_text(near, sizeof(near), buf + err->position, len - err->position, NEAR_MAX,
                 TEXT_QUOTE);
        add_reason(out, CODE_MALFORMED, "",
                   "invalid JSON at byte %zu (line %d, column %d): %s%s%s%s", err->position,
                   err->line, err->column, text, near[0] != '\0' ? ", near '" : "", near,
                   near[0] != '\0' ? "'" : "");
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    rd->buf = buf;
    rd->len = len;
    rd->tok = sgs_jsonscan_tokens(rd->scan, &ntok);
    rd->text_used = 0;
    rd->text_ready = 0;
    rd->oom = 0;
    if (rd->tok[0].type != SGS_JSON_OBJECT) {
        add_reason(out, CODE_MALFORMED, "", "%s, expected an object",
                   json_type_text((enum sgs_json_type)rd->tok[0].type));
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    memset(&raw, 0, sizeof(raw));
    extract(rd, &raw);
    if (rd->oom) {
        add_reason(out, CODE_MALFORMED, "", "out of memory reading the message");
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    check_record(rules, &raw, msg_timestamp_ms, out);
}

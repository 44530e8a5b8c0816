/* Private to the record module (sgs/record.h): what its files share.
 *
 *   record.c           sgs_record_parse: tokenize, dispatch to a format, check
 *   record_view.c      what the readers share: the thread's reader (tokenizer
 *                      and text buffer), the member names and their lookup
 *   record_native.c    the native record event (REFERENCE §3) into a view
 *   record_fast.c      the usual native event into a view without tokens,
 *                      everything else left to the two above
 *   record_national.c  the national data items (RULES §5) into a view
 *   record_rules.c     the rules of REFERENCE §4 over a view, into an sgs_record
 *                      (national date spellings included); kind and op names
 *
 * A record_view is format-neutral: borrowed (pointer, length) values by
 * meaning, and the field names that reasons quote. The readers know JSON and
 * their format, the rules know neither. Nothing here is part of the public API.
 */
#ifndef SGS_RECORD_VIEW_H
#define SGS_RECORD_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "sgs/jsonscan.h"
#include "sgs/record.h"

/* ------------------------------------------------------------------------ */
/* The view                                                                  */

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

/* Field names used in reasons, per format (each reader has its own). */
typedef struct field_names {
    const char *unit_id, *unit_name, *kind, *doc_no, *decision_date, *reported_at;
    const char *subject, *subject_name, *subject_type, *subject_uscc, *subject_id_no;
    const char *authority, *authority_name, *authority_uscc;
    const char *valid_from, *valid_to, *fine_amount;
    const char *id_type;
    const char *op;
} field_names;

/* The native names (record_native.c), the national licence (XK_) and penalty
 * (CF_) items (record_national.c). */
extern const field_names sgs_record_native_names;
extern const field_names sgs_record_license_names;
extern const field_names sgs_record_penalty_names;

/* The fields the rules look at, by meaning. Parents (subject, authority,
 * license, penalty) only carry their type; for the national format they are
 * V_OBJECT when the record has that part. */
typedef struct record_view {
    enum sgs_record_format format;
    const field_names *names;    /* of this format (and national family), or names_buf */
    int legacy;                  /* national: some item has a legacy name (record.h) */
    const char *old_code_field;  /* national: a legacy subject code item present
                                    (organisation, registration, tax), else NULL */
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
    rval op; /* native op, national SYNC_STATUS */
    /* Last, and not cleared for a message (VIEW_CLEAR): national, the family's
     * names with those of the legacy items read, when there are any. */
    field_names names_buf;
} record_view;

/* The bytes of a view a reader expects zero. */
#define VIEW_CLEAR offsetof(record_view, names_buf)

/* ------------------------------------------------------------------------ */
/* Reading (record_view.c): what record.c and the format readers use         */

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
    struct sgs_layouts *layouts; /* the direct reader's (record_fast.c): one block, made on
                                    first use, freed with the reader */
} reader;

/* Top-level members either format reads; the value token of each is found in
 * one pass over the object (sgs_record_members). record_view.c lists their
 * names. */
enum top_key {
    TK_NONE = 0,
    /* native (also kind and reported_at for the national reader) */
    TK_UNIT_ID,
    TK_KIND,
    TK_DOC_NO,
    TK_DECISION_DATE,
    TK_REPORTED_AT,
    TK_SUBJECT,
    TK_AUTHORITY,
    TK_LICENSE,
    TK_PENALTY,
    TK_OP,
    /* national, both families */
    TK_SYNC_STATUS,
    /* national, licences */
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
    /* national, penalties */
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
    /* national, legacy item names (record.h) */
    TK_XK_XDR,
    TK_XK_XDR_SFZ,
    TK_XK_XZJG,
    TK_XK_JZQ,
    TK_XK_XDR_ZDM,
    TK_XK_XDR_GSDJ,
    TK_XK_XDR_SWDJ,
    TK_CF_XDR_SFZ,
    TK_CF_XZJG,
    TK_CF_XDR_ZDM,
    TK_CF_XDR_GSDJ,
    TK_CF_XDR_SWDJ,
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

/* The names of each reader's members (at most 16 bytes each), in
 * record_view.c. */
extern const key_name sgs_record_native_keys[];
extern const size_t sgs_record_native_key_count;
extern const key_name sgs_record_native_sub_keys[];
extern const size_t sgs_record_native_sub_key_count;
extern const key_name sgs_record_national_keys[];
extern const size_t sgs_record_national_key_count;

/* The calling thread's reader, made on its first use (the member lookup's
 * tables are built then, once for all threads) and freed when the thread
 * ends. NULL when out of memory. */
reader *sgs_record_reader(void);

enum member_set { MEMBERS_TOP, MEMBERS_SUB };

/* Finds the members of object token obj named in set (enum top_key or enum
 * sub_key): at[id] is the token of its value (0 when absent). at[0] (no id)
 * takes the others. */
void sgs_record_members(const reader *rd, size_t obj, enum member_set set, size_t *at);

/* From a key to its id: one table for the top-level names (both formats),
 * one for the members of the native parents, built with the first reader
 * (sgs_record_reader). Inline: both readers look up every key of a message. */
#define KEY_MAX   16              /* at least the longest name a reader lists */
#define KEY_BITS  8               /* a slot is the top KEY_BITS bits of the hash */
#define KEY_SLOTS (1 << KEY_BITS) /* well above the number of names (48) */

/* A key of at most KEY_MAX bytes as two words, its bytes 0-7 and 8-15, zero
 * padded: the same words and length mean the same key. */
typedef struct key_words {
    uint64_t w0, w1;
    size_t len;
} key_words;

/* The multiplier of the hash is chosen so that every name has a slot of its
 * own: a lookup reads one slot. */
typedef struct key_table {
    key_words words[KEY_SLOTS];
    unsigned char id[KEY_SLOTS]; /* 0: empty slot */
    uint64_t mul;
} key_table;

extern key_table sgs_record_top_keys, sgs_record_sub_keys;

/* key_words of s (n <= KEY_MAX bytes) through a zeroed copy. */
void sgs_record_key_words(const char *s, size_t n, key_words *k);

static inline size_t key_slot(const key_table *t, const key_words *k)
{
    uint64_t h = (k->w0 ^ (k->w1 << 1 | k->w1 >> 63) ^ k->len) * t->mul;
    return (size_t)(h >> (64 - KEY_BITS));
}

static inline uint64_t key_load8(const char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

/* A word whose low n bytes (n <= 8) are ones. */
static inline uint64_t key_byte_mask(size_t n)
{
    return n >= 8 ? ~(uint64_t)0 : ((uint64_t)1 << (8 * n)) - 1;
}

/* The id of key s (n bytes, no escapes, readable up to limit) in t, 0 when it
 * is not one of the names. When 16 bytes can be read at s (a key in a message
 * usually has more after it) its words are loaded directly, which avoids a
 * store-to-load stall. */
static inline int key_id(const key_table *t, const char *s, size_t n, const char *limit)
{
    const key_words *e;
    key_words k;
    size_t h;

    if (n > KEY_MAX) {
        return 0;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (limit - s >= 16) {
        k.w0 = key_load8(s) & key_byte_mask(n);
        k.w1 = key_load8(s + 8) & key_byte_mask(n > 8 ? n - 8 : 0);
        k.len = n;
    } else
#else
    (void)limit;
#endif
    {
        sgs_record_key_words(s, n, &k);
    }
    h = key_slot(t, &k);
    e = &t->words[h];
    return ((e->w0 == k.w0) & (e->w1 == k.w1) & (e->len == n)) ? t->id[h] : 0;
}

/* Whether a key of the top-level object starts with prefix (3 bytes). */
int sgs_record_has_key_prefix(const reader *rd, const char *prefix);

/* The escaped strings of a message go into the reader's text buffer (see
 * record_view.c); -1 when it cannot grow. */
int sgs_record_text_room(reader *rd);

/* The value of token i (0: absent) as an rval. Strings with escapes are decoded
 * into the reader's text buffer. Inline: a reader calls it some 25 times per
 * message, the consumer's hot path. */
static inline void rval_tok(reader *rd, size_t i, rval *v)
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
        if (!rd->text_ready && sgs_record_text_room(rd) != 0) {
            v->s = "";
            break;
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

/* ------------------------------------------------------------------------ */
/* The formats                                                               */

/* Reads a native record event (top-level members at) into view. */
void sgs_record_read_native(reader *rd, const size_t *at, record_view *view);

/* The direct reader (record_fast.c): the usual native record event (buf, len)
 * read straight into view (cleared), without tokens, when it is one whose
 * every part it can read exactly as sgs_jsonscan_parse and
 * sgs_record_read_native would: 1. Else 0, with view partly written: the
 * caller clears it and reads the message the general way, from its start.
 * rd keeps the layouts the reader learned. mode: 0 at its fastest; 1 the
 * message checked 16 bytes a step (no AVX2); 2 without layouts (every
 * message read key by key). */
int sgs_record_read_fast(reader *rd, const char *buf, size_t len, record_view *view, int mode);

/* Whether the text (buf, len) is plain as the direct reader takes it: no
 * backslash, no control character (U+0000-U+001F), valid UTF-8 (no overlong
 * form, no surrogate, nothing above U+10FFFF). wide: 32 bytes a step where
 * the processor has AVX2 (a table lookup per byte pair), else 16 bytes a step
 * (text_plain, jsonscan_utf8.h). */
int sgs_record_text_plain(const char *buf, size_t len, int wide);

/* Reads the message as national data items when it is one (an object with
 * XK_WSH or CF_WSH, or without "kind" and with any XK_ / CF_ key): 1, else 0
 * and view untouched. */
int sgs_record_read_national(reader *rd, const size_t *at, record_view *view);

/* ------------------------------------------------------------------------ */
/* The rules (record_rules.c)                                                */

/* Applies every rule to view and fills out (reset by the caller). */
void sgs_record_check(const sgs_rules *rules, const record_view *view, int64_t msg_timestamp_ms,
                      sgs_record *out);

/* Makes out a malformed_json record with the Chinese message fmt (the report
 * time from the message timestamp, else now). Returns its reason, for
 * sgs_record_reason_en. */
__attribute__((format(printf, 4, 5))) sgs_reason *sgs_record_malformed(sgs_record *out,
                                                                       const sgs_rules *rules,
                                                                       int64_t msg_timestamp_ms,
                                                                       const char *fmt, ...);

/* Sets the English message (message_en) of reason r; nothing when r is NULL
 * (a reason that did not fit). */
__attribute__((format(printf, 2, 3))) void sgs_record_reason_en(sgs_reason *r, const char *fmt,
                                                                ...);

/* Copies up to max bytes of s into dst (capacity cap) to be quoted in a
 * message: valid UTF-8, control characters and invalid bytes as '?', "..." at a
 * cut, always NUL-terminated. */
void sgs_record_quote_text(char *dst, size_t cap, const char *s, size_t len, size_t max);

#endif

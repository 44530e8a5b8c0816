/* The reading both record formats share (record_view.h): the thread's reader
 * (the tokenizer's context and the text buffer), the names of the members
 * either format reads, and their lookup. record.c parses with it, the format
 * readers (record_native.c, record_national.c) fill their views with it.
 *
 * Nothing is allocated per message: the tokenizer's context and the buffer for
 * strings with escapes belong to the thread and are reused (they grow to the
 * largest message seen). */
#include "record_view.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Member names                                                              */

/* The native record event (record_native.c): top-level members, and those of
 * its subject, authority, license and penalty objects. */
const key_name sgs_record_native_keys[] = {
    {"kind", TK_KIND},
    {"doc_no", TK_DOC_NO},
    {"unit_id", TK_UNIT_ID},
    {"subject", TK_SUBJECT},
    {"license", TK_LICENSE},
    {"penalty", TK_PENALTY},
    {"authority", TK_AUTHORITY},
    {"reported_at", TK_REPORTED_AT},
    {"decision_date", TK_DECISION_DATE},
    {"op", TK_OP},
};
const size_t sgs_record_native_key_count =
    sizeof(sgs_record_native_keys) / sizeof(sgs_record_native_keys[0]);

const key_name sgs_record_native_sub_keys[] = {
    {"name", SK_NAME},
    {"type", SK_TYPE},
    {"uscc", SK_USCC},
    {"id_no", SK_ID_NO},
    {"valid_to", SK_VALID_TO},
    {"valid_from", SK_VALID_FROM},
    {"fine_amount", SK_FINE_AMOUNT},
};
const size_t sgs_record_native_sub_key_count =
    sizeof(sgs_record_native_sub_keys) / sizeof(sgs_record_native_sub_keys[0]);

/* The national data items (record_national.c), both families. */
const key_name sgs_record_national_keys[] = {
    {"XK_WSH", TK_XK_WSH},
    {"CF_WSH", TK_CF_WSH},
    {"XK_LYDW", TK_XK_LYDW},
    {"XK_JDRQ", TK_XK_JDRQ},
    {"XK_XKJG", TK_XK_XKJG},
    {"XK_YXQZ", TK_XK_YXQZ},
    {"CF_SJLY", TK_CF_SJLY},
    {"CF_JDRQ", TK_CF_JDRQ},
    {"CF_CFJG", TK_CF_CFJG},
    {"XK_YXQZI", TK_XK_YXQZI},
    {"CF_NR_FK", TK_CF_NR_FK},
    {"XK_LYDWDM", TK_XK_LYDWDM},
    {"XK_XDR_MC", TK_XK_XDR_MC},
    {"XK_XDR_LB", TK_XK_XDR_LB},
    {"XK_XKJGDM", TK_XK_XKJGDM},
    {"CF_SJLYDM", TK_CF_SJLYDM},
    {"CF_XDR_MC", TK_CF_XDR_MC},
    {"CF_XDR_LB", TK_CF_XDR_LB},
    {"CF_CFJGDM", TK_CF_CFJGDM},
    {"XK_XDR_ZJLX", TK_XK_XDR_ZJLX},
    {"XK_XDR_ZJHM", TK_XK_XDR_ZJHM},
    {"CF_XDR_ZJLX", TK_CF_XDR_ZJLX},
    {"CF_XDR_ZJHM", TK_CF_XDR_ZJHM},
    {"XK_XDR_SHXYM", TK_XK_XDR_SHXYM},
    {"CF_XDR_SHXYM", TK_CF_XDR_SHXYM},
    {"SYNC_STATUS", TK_SYNC_STATUS},
    /* legacy item names (sgs/record.h) */
    {"XK_XDR", TK_XK_XDR},
    {"XK_XDR_SFZ", TK_XK_XDR_SFZ},
    {"XK_XZJG", TK_XK_XZJG},
    {"XK_JZQ", TK_XK_JZQ},
    {"XK_XDR_ZDM", TK_XK_XDR_ZDM},
    {"XK_XDR_GSDJ", TK_XK_XDR_GSDJ},
    {"XK_XDR_SWDJ", TK_XK_XDR_SWDJ},
    {"CF_XDR_SFZ", TK_CF_XDR_SFZ},
    {"CF_XZJG", TK_CF_XZJG},
    {"CF_XDR_ZDM", TK_CF_XDR_ZDM},
    {"CF_XDR_GSDJ", TK_CF_XDR_GSDJ},
    {"CF_XDR_SWDJ", TK_CF_XDR_SWDJ},
};
const size_t sgs_record_national_key_count =
    sizeof(sgs_record_national_keys) / sizeof(sgs_record_national_keys[0]);

/* ------------------------------------------------------------------------ */
/* Member lookup                                                             */

key_table sgs_record_top_keys, sgs_record_sub_keys;
static pthread_once_t key_tables_once = PTHREAD_ONCE_INIT;

void sgs_record_key_words(const char *s, size_t n, key_words *k)
{
    unsigned char b[KEY_MAX];

    memset(b, 0, sizeof(b));
    memcpy(b, s, n);
    memcpy(&k->w0, b, 8);
    memcpy(&k->w1, b + 8, 8);
    k->len = n;
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
        sgs_record_key_words(names[i].name, strlen(names[i].name), &k);
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
     * names are fixed, so this always ends the same way (after 111 tries for the
     * 48 top-level names, at once for the others). */
    while (key_table_try(t, names, count, mul) != 0) {
        mul = (mul * 6364136223846793005ULL + 1442695040888963407ULL) | 1;
    }
}

static void key_tables_build(void)
{
    key_name all[TK_COUNT];
    size_t n = 0, i;

    /* One table for the top-level names of both formats: a message is looked
     * at once, before its format is known. */
    for (i = 0; i < sgs_record_native_key_count; i++) {
        all[n++] = sgs_record_native_keys[i];
    }
    for (i = 0; i < sgs_record_national_key_count; i++) {
        all[n++] = sgs_record_national_keys[i];
    }
    key_table_build(&sgs_record_top_keys, all, n);
    key_table_build(&sgs_record_sub_keys, sgs_record_native_sub_keys,
                    sgs_record_native_sub_key_count);
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

void sgs_record_members(const reader *rd, size_t obj, enum member_set set, size_t *at)
{
    const key_table *names = set == MEMBERS_TOP ? &sgs_record_top_keys : &sgs_record_sub_keys;
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

int sgs_record_has_key_prefix(const reader *rd, const char *prefix)
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

/* ------------------------------------------------------------------------ */
/* Text buffer                                                               */

int sgs_record_text_room(reader *rd)
{
    /* Room for every string of the message at once (decoding never makes a
     * string longer), made before the first one is decoded: the buffer never
     * moves under an rval. */
    if (rd->text_cap < rd->len) {
        char *nt = realloc(rd->text, rd->len);
        if (nt == NULL) {
            rd->oom = 1;
            return -1;
        }
        rd->text = nt;
        rd->text_cap = rd->len;
    }
    rd->text_ready = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The thread's reader                                                       */

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
        free(rd->layouts); /* one block (record_fast.c) */
        free(rd->text);
        free(rd);
    }
}

static void reader_key_init(void)
{
    reader_key_ok = pthread_key_create(&reader_key, reader_free) == 0;
}

reader *sgs_record_reader(void)
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

/* Record events: reading (native and national format) and the quality rules of
 * DESIGN §4.
 *
 * Two stages, kept apart so that the parser can be swapped (a tokenizer instead
 * of jansson's DOM) without touching the rules:
 *
 *   1. read: jansson parses the message; extract_native() / extract_national()
 *      fill a raw_record, a view of borrowed (pointer, length) values of the
 *      fields the rules need, in the same shape for both formats;
 *   2. check: check_record() applies every rule to the raw_record and fills the
 *      sgs_record. It knows nothing about JSON libraries.
 *
 * Nothing is allocated here beyond jansson's DOM; every text copied into the
 * record is bounded and cut on a UTF-8 character boundary. */
#include "sgs/record.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/ident.h"
#include "sgs/log.h"

/* Quoted values in messages are cut to this many bytes (then "..." follows). */
#define QUOTE_MAX 40

/* ------------------------------------------------------------------------ */
/* Stage 1: the parser's view of a message                                   */

enum vtype { V_ABSENT = 0, V_NULL, V_STRING, V_NUMBER, V_BOOL, V_OBJECT, V_ARRAY };

/* One value as the parser found it. s/len point into the parser's storage
 * (valid UTF-8, no NUL) and are valid until the DOM is released. */
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

static void rval_set(const json_t *j, rval *v)
{
    memset(v, 0, sizeof(*v));
    if (j == NULL) {
        v->type = V_ABSENT;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->type = V_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->type = V_NUMBER;
        v->num = (double)json_integer_value(j);
        break;
    case JSON_REAL:
        v->type = V_NUMBER;
        v->num = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = V_BOOL;
        break;
    case JSON_NULL:
        v->type = V_NULL;
        break;
    case JSON_OBJECT:
        v->type = V_OBJECT;
        break;
    case JSON_ARRAY:
        v->type = V_ARRAY;
        break;
    }
}

static void get(const json_t *obj, const char *key, rval *v)
{
    rval_set(json_is_object(obj) ? json_object_get(obj, key) : NULL, v);
}

static void extract_native(const json_t *root, raw_record *raw)
{
    const json_t *subject = json_object_get(root, "subject");
    const json_t *authority = json_object_get(root, "authority");
    const json_t *license = json_object_get(root, "license");
    const json_t *penalty = json_object_get(root, "penalty");

    raw->format = SGS_FORMAT_NATIVE;
    get(root, "unit_id", &raw->unit_id);
    get(root, "kind", &raw->kind);
    get(root, "doc_no", &raw->doc_no);
    get(root, "decision_date", &raw->decision_date);
    get(root, "reported_at", &raw->reported_at);
    rval_set(subject, &raw->subject);
    get(subject, "name", &raw->subject_name);
    get(subject, "type", &raw->subject_type);
    get(subject, "uscc", &raw->subject_uscc);
    get(subject, "id_no", &raw->subject_id_no);
    rval_set(authority, &raw->authority);
    get(authority, "name", &raw->authority_name);
    get(authority, "uscc", &raw->authority_uscc);
    rval_set(license, &raw->license);
    get(license, "valid_from", &raw->valid_from);
    get(license, "valid_to", &raw->valid_to);
    rval_set(penalty, &raw->penalty);
    get(penalty, "fine_amount", &raw->fine_amount);
}

/* The national format is recognised by its document number field, or, when a
 * record has no "kind", by any XK_ / CF_ field. */
static int is_national(const json_t *root, int *xk, int *cf)
{
    const char *key;
    const json_t *value;

    *xk = json_object_get(root, "XK_WSH") != NULL;
    *cf = json_object_get(root, "CF_WSH") != NULL;
    if (*xk || *cf) {
        return 1;
    }
    if (json_object_get(root, "kind") != NULL) {
        return 0;
    }
    json_object_foreach((json_t *)root, key, value)
    {
        (void)value;
        if (strncmp(key, "XK_", 3) == 0) {
            *xk = 1;
        } else if (strncmp(key, "CF_", 3) == 0) {
            *cf = 1;
        }
    }
    return *xk || *cf;
}

static void extract_national(const json_t *root, int xk, int cf, raw_record *raw)
{
    const field_names *f = xk ? &license_names : &penalty_names;

    raw->format = SGS_FORMAT_NATIONAL;
    raw->national_kind = xk && cf ? SGS_KIND_NONE : xk ? SGS_KIND_LICENSE : SGS_KIND_PENALTY;
    get(root, f->unit_id, &raw->unit_id);
    get(root, f->unit_name, &raw->unit_name);
    if (xk && cf && raw->unit_id.type != V_STRING && raw->unit_name.type != V_STRING) {
        get(root, penalty_names.unit_id, &raw->unit_id);
        get(root, penalty_names.unit_name, &raw->unit_name);
    }
    get(root, f->doc_no, &raw->doc_no);
    get(root, f->decision_date, &raw->decision_date);
    get(root, "reported_at", &raw->reported_at);
    raw->subject.type = V_OBJECT;
    get(root, f->subject_name, &raw->subject_name);
    get(root, f->subject_type, &raw->subject_type);
    get(root, f->subject_uscc, &raw->subject_uscc);
    get(root, f->id_type, &raw->subject_id_type);
    get(root, f->subject_id_no, &raw->subject_id_no);
    raw->authority.type = V_OBJECT;
    get(root, f->authority_name, &raw->authority_name);
    get(root, f->authority_uscc, &raw->authority_uscc);
    if (raw->national_kind == SGS_KIND_LICENSE) {
        raw->license.type = V_OBJECT;
        get(root, license_names.valid_from, &raw->valid_from);
        get(root, license_names.valid_to, &raw->valid_to);
    } else if (raw->national_kind == SGS_KIND_PENALTY) {
        raw->penalty.type = V_OBJECT;
        get(root, penalty_names.fine_amount, &raw->fine_amount);
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
    sgs_day_format_month(out->report_day, out->month);
    sgs_day_format(out->report_day, out->day);
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
    put_text(out->doc_no, sizeof(out->doc_no), v->s, v->len, sizeof(out->doc_no) - 1, TEXT_RAW);
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
        put_text(out->unit_id, sizeof(out->unit_id), id->s, id->len, sizeof(out->unit_id) - 1,
                 TEXT_RAW);
        if (id->len > 0 && rules->registry != NULL) {
            out->unit = sgs_registry_find_id(rules->registry, id->s, id->len);
        }
    }
    if (out->unit == NULL && raw->format == SGS_FORMAT_NATIONAL && given(name) &&
        rules->registry != NULL) {
        out->unit = sgs_registry_find(rules->registry, name->s, name->len);
    }
    if (out->unit != NULL) {
        put_text(out->unit_id, sizeof(out->unit_id), out->unit->id, strlen(out->unit->id),
                 sizeof(out->unit_id) - 1, TEXT_RAW);
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
        int n = snprintf(out->identity, sizeof(out->identity), "%s|%s|%s", out->unit_id,
                         sgs_kind_name(out->kind), out->doc.norm);
        out->has_identity = n > 0 && (size_t)n < sizeof(out->identity);
        if (!out->has_identity) {
            out->identity[0] = '\0';
        }
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

static const char *json_type_text(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY:
        return "JSON array";
    case JSON_STRING:
        return "JSON string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "JSON number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "JSON boolean";
    case JSON_NULL:
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

void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out)
{
    json_error_t err;
    json_t *root;
    raw_record raw;
    int xk, cf;

    reset(out);
    if (buf == NULL || len == 0) {
        add_reason(out, CODE_MALFORMED, "", "empty message, expected a JSON object");
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    /* No JSON_ALLOW_NUL: "\u0000" in a string is an error, so every string the
     * rules see is a C string. jansson also refuses invalid UTF-8, lone
     * surrogates, numbers it cannot hold and nesting deeper than
     * JSON_PARSER_MAX_DEPTH. */
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (root == NULL) {
        char text[JSON_ERROR_TEXT_LENGTH];
        put_text(text, sizeof(text), err.text, strnlen(err.text, sizeof(err.text)),
                 sizeof(text) - 1, TEXT_QUOTE);
        add_reason(out, CODE_MALFORMED, "", "invalid JSON at byte %d (line %d, column %d): %s",
                   err.position, err.line, err.column, text);
        malformed(out, rules, msg_timestamp_ms);
        return;
    }
    if (!json_is_object(root)) {
        add_reason(out, CODE_MALFORMED, "", "%s, expected an object", json_type_text(root));
        malformed(out, rules, msg_timestamp_ms);
        json_decref(root);
        return;
    }
    memset(&raw, 0, sizeof(raw));
    if (is_national(root, &xk, &cf)) {
        extract_national(root, xk, cf, &raw);
    } else {
        extract_native(root, &raw);
    }
    check_record(rules, &raw, msg_timestamp_ms, out);
    json_decref(root);
}

/* The quality rules of REFERENCE §4 over a record view (record_view.h): every
 * rule, the reasons, the dates (the national feeds' spellings too), the
 * deadline, the unit; and the names of kinds and ops (sgs/record.h). Nothing here knows JSON or
 * which format a field came in, beyond the view's format and field names.
 *
 * Every text copied into the record is bounded and cut on a UTF-8 character
 * boundary. */
#include "record_view.h"

#include "sgs/store.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/buf.h"
#include "sgs/ident.h"
#include "sgs/log.h"

/* Quoted values in messages are cut to this many bytes (then "..." follows). */
#define QUOTE_MAX 40

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
        if (n == 0 || u[in] == 0 || (mode == TEXT_QUOTE && sgs_is_ctrl(u[in]))) {
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
/* Dates                                                                     */

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

/* A national date: YYYY-MM-DD, YYYY/MM/DD (month and day may have one digit),
 * YYYYMMDD, each optionally followed by " " or "T" and a time of day. 0, or -1
 * when it is none of them or not a real date. */
static int national_date(const char *s, size_t len, sgs_day *out)
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

/* ------------------------------------------------------------------------ */
/* The rules                                                                */

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
#define CODE_OP           SGS_REASON_BAD_OP

/* The fields reasons name, by their name in the message (native, national,
 * legacy national), and their Chinese names in the forms the units fill in. */
static const struct {
    const char *field, *label;
} field_labels[] = {
    {"unit_id", "单位代码"},
    {"kind", "决定类别"},
    {"license", "行政许可信息"},
    {"penalty", "行政处罚信息"},
    {"doc_no", "文书号"},
    {"decision_date", "决定日期"},
    {"reported_at", "报送时间"},
    {"subject.name", "行政相对人名称"},
    {"subject.type", "行政相对人类别"},
    {"subject.uscc", "行政相对人统一社会信用代码"},
    {"subject.id_no", "行政相对人证件号码"},
    {"authority.name", "决定机关名称"},
    {"authority.uscc", "决定机关统一社会信用代码"},
    {"license.valid_from", "有效期自"},
    {"license.valid_to", "有效期至"},
    {"penalty.fine_amount", "罚款金额"},
    {"op", "操作类型"},
    {"XK_LYDWDM", "数据来源单位统一社会信用代码"},
    {"CF_SJLYDM", "数据来源单位统一社会信用代码"},
    {"XK_LYDW", "数据来源单位"},
    {"CF_SJLY", "数据来源单位"},
    {"XK_WSH", "行政许可决定文书号"},
    {"CF_WSH", "行政处罚决定书文号"},
    {"XK_JDRQ", "许可决定日期"},
    {"CF_JDRQ", "处罚决定日期"},
    {"XK_XDR_MC", "行政相对人名称"},
    {"CF_XDR_MC", "行政相对人名称"},
    {"XK_XDR", "行政相对人名称"},
    {"XK_XDR_LB", "行政相对人类别"},
    {"CF_XDR_LB", "行政相对人类别"},
    {"XK_XDR_SHXYM", "行政相对人统一社会信用代码"},
    {"CF_XDR_SHXYM", "行政相对人统一社会信用代码"},
    {"XK_XDR_ZJHM", "行政相对人证件号码"},
    {"CF_XDR_ZJHM", "行政相对人证件号码"},
    {"XK_XDR_SFZ", "行政相对人居民身份证号"},
    {"CF_XDR_SFZ", "行政相对人居民身份证号"},
    {"XK_XKJG", "许可机关"},
    {"XK_XZJG", "许可机关"},
    {"CF_CFJG", "处罚机关"},
    {"CF_XZJG", "处罚机关"},
    {"XK_XKJGDM", "许可机关统一社会信用代码"},
    {"CF_CFJGDM", "处罚机关统一社会信用代码"},
    {"XK_YXQZ", "有效期自"},
    {"XK_YXQZI", "有效期至"},
    {"XK_JZQ", "许可截止期"},
    {"CF_NR_FK", "罚款金额"},
    {"SYNC_STATUS", "同步状态"},
};

/* The Chinese name of a field, or the field's own name when it has none.
 * (A failing record's cost only: the valid ones never ask.) */
static const char *label(const char *field)
{
    size_t i;

    for (i = 0; i < sizeof(field_labels) / sizeof(field_labels[0]); i++) {
        if (strcmp(field_labels[i].field, field) == 0) {
            return field_labels[i].label;
        }
    }
    return field;
}

static const char *type_name_zh(enum vtype t)
{
    switch (t) {
    case V_ABSENT:
        return "空缺";
    case V_NULL:
        return "null";
    case V_STRING:
        return "文本";
    case V_NUMBER:
        return "数字";
    case V_BOOL:
        return "布尔值";
    case V_OBJECT:
        return "对象";
    case V_ARRAY:
        return "数组";
    }
    return "?";
}

/* Formats a message into dst (capacity cap): valid UTF-8, cut between
 * characters when it does not fit (quoted values are already short). */
__attribute__((format(printf, 3, 0))) static void put_message(char *dst, size_t cap,
                                                              const char *fmt, va_list ap)
{
    char tmp[SGS_REASON_MESSAGE_MAX + 256];

    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    put_text(dst, cap, tmp, strlen(tmp), cap - 1, TEXT_RAW);
}

/* Adds a reason with the Chinese message fmt; the English one follows with
 * sgs_record_reason_en(). Returns the reason, or NULL when the record has
 * SGS_MAX_REASONS already (and the reason is dropped). */
__attribute__((format(printf, 4, 0))) static sgs_reason *
add_reason_v(sgs_record *out, const char *code, const char *field, const char *fmt, va_list ap)
{
    sgs_reason *r;

    if (out->n_reasons >= SGS_MAX_REASONS) {
        return NULL;
    }
    r = &out->reasons[out->n_reasons++];
    memset(r, 0, sizeof(*r)); /* not cleared with the record (sgs/record.h) */
    r->code = code;
    put_text(r->field, sizeof(r->field), field, strlen(field), sizeof(r->field) - 1, TEXT_RAW);
    put_message(r->message, sizeof(r->message), fmt, ap);
    return r;
}

__attribute__((format(printf, 4, 5))) static sgs_reason *
add_reason(sgs_record *out, const char *code, const char *field, const char *fmt, ...)
{
    sgs_reason *r;
    va_list ap;

    va_start(ap, fmt);
    r = add_reason_v(out, code, field, fmt, ap);
    va_end(ap);
    return r;
}

/* A required text field: a string with something in it. Adds missing_field and
 * returns 0 otherwise. parent/parent_name describe the enclosing object of a
 * native nested field (NULL for top-level and national fields). */
static int require_string(sgs_record *out, const char *field, const rval *v, const rval *parent,
                          const char *parent_name)
{
    if (parent != NULL && parent->type != V_OBJECT) {
        if (parent->type == V_ABSENT || parent->type == V_NULL) {
            sgs_record_reason_en(add_reason(out, CODE_MISSING, field,
                                            "缺少必填项%s（没有%s对象），应为非空文本",
                                            label(field), parent_name),
                                 "missing (no %s object)", parent_name);
        } else {
            sgs_record_reason_en(
                add_reason(out, CODE_MISSING, field, "缺少必填项%s（%s为%s，应为对象）",
                           label(field), parent_name, type_name_zh(parent->type)),
                "missing (%s is %s, expected an object)", parent_name, type_name(parent->type));
        }
        return 0;
    }
    switch (v->type) {
    case V_STRING:
        if (is_blank(v)) {
            sgs_record_reason_en(
                add_reason(out, CODE_MISSING, field, "%s为空，应为非空文本", label(field)),
                "empty");
            return 0;
        }
        return 1;
    case V_ABSENT:
        sgs_record_reason_en(
            add_reason(out, CODE_MISSING, field, "缺少必填项%s，应为非空文本", label(field)),
            "missing");
        return 0;
    case V_NULL:
        sgs_record_reason_en(
            add_reason(out, CODE_MISSING, field, "%s为null，应为非空文本", label(field)),
            "null, expected a non-empty string");
        return 0;
    default:
        sgs_record_reason_en(add_reason(out, CODE_MISSING, field, "%s为%s，应为非空文本",
                                        label(field), type_name_zh(v->type)),
                             "expected a string, got %s", type_name(v->type));
        return 0;
    }
}

static int date_parse(enum sgs_record_format format, const rval *v, sgs_day *out)
{
    if (format == SGS_FORMAT_NATIONAL) {
        return national_date(v->s, v->len, out);
    }
    return sgs_day_parse(v->s, v->len, out);
}

static const char *date_formats(enum sgs_record_format format)
{
    return format == SGS_FORMAT_NATIONAL ? "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD" : "YYYY-MM-DD";
}

static const char *date_formats_zh(enum sgs_record_format format)
{
    return format == SGS_FORMAT_NATIONAL ? "YYYY-MM-DD、YYYY/MM/DD或YYYYMMDD" : "YYYY-MM-DD";
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
                              const record_view *raw, int64_t msg_timestamp_ms)
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
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_DATE, f->reported_at,
                                        "%s“%s”不是带时区的日期时间，应为RFC 3339格式"
                                        "（如2023-12-05T10:31:00+08:00）",
                                        label(f->reported_at), q.s),
                             "'%s' is not an RFC 3339 date-time with an offset "
                             "(like 2023-12-05T10:31:00+08:00)",
                             q.s);
    }
    /* Unusable: the month is decided by the message timestamp (or now). */
    instant = fallback_instant(msg_timestamp_ms);
    set_report_time(out, rules, instant);
    sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
}

static void check_kind(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *v = &raw->kind;
    quoted q;

    if (raw->format == SGS_FORMAT_NATIONAL) {
        out->kind = raw->national_kind;
        if (out->kind == SGS_KIND_NONE) {
            sgs_record_reason_en(
                add_reason(out, CODE_KIND, f->kind,
                           "同时含有行政许可（XK_）和行政处罚（CF_）数据项，无法判断决定类别，"
                           "应只含其中一类"),
                "both licence (XK_) and penalty (CF_) fields: cannot tell the kind");
        }
        return;
    }
    if (v->type != V_STRING && v->type != V_ABSENT && v->type != V_NULL) {
        /* present, but not a kind (REFERENCE §4: bad_kind, not missing_field) */
        sgs_record_reason_en(add_reason(out, CODE_KIND, f->kind,
                                        "%s为%s，应为license（行政许可）或penalty（行政处罚）",
                                        label(f->kind), type_name_zh(v->type)),
                             "expected license or penalty, got %s", type_name(v->type));
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
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_KIND, f->kind,
                                        "%s“%s”无效，应为license（行政许可）或penalty（行政处罚）",
                                        label(f->kind), q.s),
                             "'%s' is not license or penalty", q.s);
        return;
    }
    {
        const char *name = sgs_kind_name(out->kind);
        const rval *obj = out->kind == SGS_KIND_LICENSE ? &raw->license : &raw->penalty;
        if (obj->type == V_ABSENT || obj->type == V_NULL) {
            sgs_record_reason_en(add_reason(out, CODE_KIND, name,
                                            "决定类别为%s，但缺少%s（%s对象），应提供该对象", name,
                                            label(name), name),
                                 "kind is %s but there is no %s object", name, name);
        } else if (obj->type != V_OBJECT) {
            sgs_record_reason_en(
                add_reason(out, CODE_KIND, name, "决定类别为%s，但%s（%s）为%s，应为对象", name,
                           label(name), name, type_name_zh(obj->type)),
                "kind is %s but %s is %s, expected an object", name, name, type_name(obj->type));
        }
    }
}

static void check_doc_no(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *v = &raw->doc_no;
    quoted q;

    if (!require_string(out, f->doc_no, v, NULL, NULL)) {
        return;
    }
    put_valid(out->doc_no, sizeof(out->doc_no), v->s, v->len, sizeof(out->doc_no) - 1);
    if (sgs_docno_normalize(v->s, v->len, &out->doc) != 0) {
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_DOCNO, f->doc_no,
                                        "%s“%s”过长（%zu字节），无法规范化，应为4至64个字符",
                                        label(f->doc_no), q.s, v->len),
                             "'%s' cannot be normalised (%zu bytes, too long)", q.s, v->len);
        return;
    }
    if (out->doc.norm_chars < 4 || out->doc.norm_chars > 64) {
        quote(&q, out->doc.norm, strlen(out->doc.norm));
        sgs_record_reason_en(
            add_reason(out, CODE_DOCNO, f->doc_no, "%s“%s”规范化后为%zu个字符，应为4至64个字符",
                       label(f->doc_no), q.s, out->doc.norm_chars),
            "'%s' normalises to %zu characters, expected 4 to 64", q.s, out->doc.norm_chars);
    }
}

static void check_decision_date(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *v = &raw->decision_date;
    quoted q;

    if (!require_string(out, f->decision_date, v, NULL, NULL)) {
        return;
    }
    if (date_parse(raw->format, v, &out->decision_date) != 0) {
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_DATE, f->decision_date,
                                        "%s“%s”不是有效日期，应为%s格式的真实日期",
                                        label(f->decision_date), q.s, date_formats_zh(raw->format)),
                             "'%s' is not a real date (%s)", q.s, date_formats(raw->format));
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
        /* National labels (RULES §5) and their common variants. */
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

static void check_subject(sgs_record *out, const field_names *f, const record_view *raw)
{
    quoted q;

    require_string(out, f->subject_name, &raw->subject_name, &raw->subject, f->subject);
    if (raw->legacy && raw->subject_type.type == V_ABSENT) {
        sgs_record_reason_en(
            add_reason(out, CODE_MISSING, f->subject_type,
                       "缺少%s（旧版数据项没有该项），应为法人及非法人组织、个体工商户或自然人",
                       label(f->subject_type)),
            "missing (the legacy items have no subject type)");
        return;
    }
    if (require_string(out, f->subject_type, &raw->subject_type, &raw->subject, f->subject)) {
        out->subject_type = subject_type_of(&raw->subject_type);
        if (out->subject_type == SGS_SUBJECT_OTHER) {
            /* No code of its own in REFERENCE §4: the field has no usable value. */
            quote(&q, raw->subject_type.s, raw->subject_type.len);
            sgs_record_reason_en(add_reason(out, CODE_MISSING, f->subject_type,
                                            "%s“%s”无效，应为法人及非法人组织、个体工商户或自然人"
                                            "（legal_person、individual_business、natural_person）",
                                            label(f->subject_type), q.s),
                                 "'%s' is not a subject type (legal_person, individual_business, "
                                 "natural_person)",
                                 q.s);
        }
    }
}

/* Checks a credit code that is present (a non-empty string). */
static void check_uscc_value(sgs_record *out, const char *field, const rval *v)
{
    quoted q;
    size_t i;
    int placeholder;

    switch (sgs_uscc_check(v->s, v->len)) {
    case SGS_USCC_OK:
        return;
    case SGS_USCC_BAD_LENGTH:
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_USCC, field, "%s“%s”为%zu个字符，应为18个字符",
                                        label(field), q.s, utf8_chars(v->s, v->len)),
                             "'%s' has %zu characters, expected 18", q.s, utf8_chars(v->s, v->len));
        return;
    case SGS_USCC_BAD_CHAR:
        for (i = 0; i < v->len && sgs_uscc_char_value(v->s[i]) >= 0; i++) {
        }
        quote(&q, v->s, v->len);
        if ((unsigned char)v->s[i] >= 0x20 && (unsigned char)v->s[i] < 0x7F) {
            sgs_record_reason_en(add_reason(out, CODE_USCC, field,
                                            "%s“%s”第%zu个字符“%c”不在代码字符集内，"
                                            "应为数字0-9或除I、O、S、V、Z以外的大写字母",
                                            label(field), q.s, i + 1, v->s[i]),
                                 "'%s': character %zu '%c' is not in the code alphabet "
                                 "(0-9 and A-Z without I O S V Z)",
                                 q.s, i + 1, v->s[i]);
        } else {
            sgs_record_reason_en(add_reason(out, CODE_USCC, field,
                                            "%s“%s”第%zu个字符不在代码字符集内，"
                                            "应为数字0-9或除I、O、S、V、Z以外的大写字母",
                                            label(field), q.s, i + 1),
                                 "'%s': character %zu is not in the code alphabet "
                                 "(0-9 and A-Z without I O S V Z)",
                                 q.s, i + 1);
        }
        return;
    case SGS_USCC_BAD_CHECK:
        if (memcmp(v->s, "91350", 5) == 0) {
            /* Some early Xiamen codes are real and fail the check (RULES §3). */
            sgs_debug("%s '%s' fails the check character, accepted as an early 91350 code", field,
                      quote(&q, v->s, v->len));
            return;
        }
        quote(&q, v->s, v->len);
        placeholder = sgs_uscc_is_placeholder(v->s, v->len);
        sgs_record_reason_en(
            add_reason(out, CODE_USCC, field, "%s“%s”的校验码为“%c”，应为“%c”%s", label(field), q.s,
                       v->s[17], sgs_uscc_check_char(v->s),
                       placeholder ? "（该占位代码仅适用于个体工商户）" : ""),
            "'%s': check character is '%c', expected '%c'%s", q.s, v->s[17],
            sgs_uscc_check_char(v->s),
            placeholder ? " (the placeholder is accepted for individual businesses only)" : "");
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
        sgs_record_reason_en(add_reason(out, CODE_USCC, field, "%s为%s，应为文本", label(field),
                                        type_name_zh(v->type)),
                             "expected a string, got %s", type_name(v->type));
    }
}

static void check_usccs(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *v = &raw->subject_uscc;

    if (raw->subject.type == V_OBJECT) {
        switch (out->subject_type) {
        case SGS_SUBJECT_LEGAL_PERSON:
            if (!given(v) && (v->type == V_ABSENT || v->type == V_NULL || v->type == V_STRING)) {
                if (raw->old_code_field != NULL) {
                    sgs_record_reason_en(
                        add_reason(out, CODE_USCC, f->subject_uscc,
                                   "行政相对人为法人及非法人组织，缺少%s，应为18位统一社会信用代码"
                                   "（旧版数据项%s不是统一社会信用代码）",
                                   label(f->subject_uscc), raw->old_code_field),
                        "required for a legal person (%s, a legacy item, is not a "
                        "credit code)",
                        raw->old_code_field);
                } else {
                    sgs_record_reason_en(
                        add_reason(out, CODE_USCC, f->subject_uscc,
                                   "行政相对人为法人及非法人组织，缺少%s，应为18位统一社会信用代码",
                                   label(f->subject_uscc)),
                        "required for a legal person");
                }
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

static void check_id_no(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *v = &raw->subject_id_no;
    const char *name;
    quoted q;
    char want;

    if (raw->subject.type != V_OBJECT || out->subject_type != SGS_SUBJECT_NATURAL_PERSON) {
        return;
    }
    if (!given(v)) {
        if (v->type != V_ABSENT && v->type != V_NULL && v->type != V_STRING) {
            sgs_record_reason_en(add_reason(out, CODE_IDNO, f->subject_id_no, "%s为%s，应为文本",
                                            label(f->subject_id_no), type_name_zh(v->type)),
                                 "expected a string, got %s", type_name(v->type));
        }
        return;
    }
    if (raw->format == SGS_FORMAT_NATIONAL && !is_resident_id_type(&raw->subject_id_type)) {
        return; /* a passport or other document: no check defined */
    }
    name = label(f->subject_id_no);
    switch (sgs_idno_check(v->s, v->len)) {
    case SGS_IDNO_OK:
        return;
    case SGS_IDNO_BAD_LENGTH:
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_IDNO, f->subject_id_no,
                                        "%s“%s”为%zu个字符，应为18位居民身份证号码", name, q.s,
                                        utf8_chars(v->s, v->len)),
                             "'%s' has %zu characters, expected 18", q.s, utf8_chars(v->s, v->len));
        return;
    case SGS_IDNO_BAD_CHAR:
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_IDNO, f->subject_id_no,
                                        "%s“%s”含有不允许的字符，应为17位数字加1位数字或X", name,
                                        q.s),
                             "'%s' is not 17 digits followed by a digit or X", q.s);
        return;
    case SGS_IDNO_BAD_BIRTHDATE:
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_IDNO, f->subject_id_no,
                                        "%s“%s”中的出生日期%.8s不存在，应为真实的出生日期", name,
                                        q.s, v->s + 6),
                             "'%s': birth date %.8s does not exist", q.s, v->s + 6);
        return;
    case SGS_IDNO_BAD_CHECK:
        quote(&q, v->s, v->len);
        want = sgs_idno_check_char(v->s);
        sgs_record_reason_en(add_reason(out, CODE_IDNO, f->subject_id_no,
                                        "%s“%s”的校验码为“%c”，应为“%c”", name, q.s, v->s[17],
                                        want),
                             "'%s': check character is '%c', expected '%c'", q.s, v->s[17], want);
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
            sgs_record_reason_en(add_reason(out, CODE_VALIDITY, field, "%s为%s，应为日期文本",
                                            label(field), type_name_zh(v->type)),
                                 "expected a string, got %s", type_name(v->type));
            return -1;
        }
        return 0;
    }
    if (is_open_ended(v)) {
        return 0;
    }
    if (date_parse(format, v, day) != 0) {
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_VALIDITY, field,
                                        "%s“%s”不是有效日期，应为%s格式的真实日期或“长期”",
                                        label(field), q.s, date_formats_zh(format)),
                             "'%s' is not a real date (%s)", q.s, date_formats(format));
        return -1;
    }
    return 1;
}

static void check_validity(sgs_record *out, const field_names *f, const record_view *raw)
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
        sgs_day_format(to, a);
        sgs_day_format(from, b);
        sgs_record_reason_en(add_reason(out, CODE_VALIDITY, f->valid_to, "%s%s早于%s%s，应不早于%s",
                                        label(f->valid_to), a, label(f->valid_from), b,
                                        label(f->valid_from)),
                             "valid to %s is before valid from %s", a, b);
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

static void check_amount(sgs_record *out, const field_names *f, const record_view *raw)
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
            quote(&q, v->s, v->len);
            sgs_record_reason_en(add_reason(out, CODE_AMOUNT, f->fine_amount,
                                            "%s“%s”不是数字，应为不小于0的数字（单位：万元）或空",
                                            label(f->fine_amount), q.s),
                                 "'%s' is not a number", q.s);
            return;
        }
        quote(&q, v->s, v->len);
        sgs_record_reason_en(add_reason(out, CODE_AMOUNT, f->fine_amount,
                                        "%s为文本“%s”，应为数字或null", label(f->fine_amount), q.s),
                             "expected a number or null, got a string '%s'", q.s);
        return;
    default:
        sgs_record_reason_en(add_reason(out, CODE_AMOUNT, f->fine_amount, "%s为%s，应为数字或null",
                                        label(f->fine_amount), type_name_zh(v->type)),
                             "expected a number or null, got %s", type_name(v->type));
        return;
    }
    if (!isfinite(amount)) {
        sgs_record_reason_en(add_reason(out, CODE_AMOUNT, f->fine_amount,
                                        "%s超出数值范围，应为不小于0的有限数字（单位：万元）",
                                        label(f->fine_amount)),
                             "beyond the range of a number, expected a finite number >= 0");
    } else if (amount < 0) {
        sgs_record_reason_en(add_reason(out, CODE_AMOUNT, f->fine_amount,
                                        "%s%g无效，应为不小于0的有限数字", label(f->fine_amount),
                                        amount),
                             "%g is not a finite number >= 0", amount);
    }
}

static void check_deadline(sgs_record *out, const sgs_rules *rules, const field_names *f)
{
    char a[11], b[11];
    int n;

    if (out->has_decision_date && out->has_reported_at && out->decision_date > out->report_day) {
        sgs_day_format(out->decision_date, a);
        sgs_day_format(out->report_day, b);
        sgs_record_reason_en(add_reason(out, CODE_FUTURE, f->decision_date,
                                        "%s%s晚于报送日期%s，决定日期应不晚于报送日期",
                                        label(f->decision_date), a, b),
                             "decided %s, after the report date %s", a, b);
    }
    if (!out->has_decision_date || out->kind == SGS_KIND_NONE || rules->calendar == NULL) {
        return;
    }
    n = rules->deadline_workdays[out->kind];
    if (n < 1) {
        n = 7; /* REFERENCE §6 default, for a rules struct that leaves it unset */
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

/* A unit by id (ids and alias ids); the placeholder code never names one. */
static const sgs_unit *unit_by_id(const sgs_rules *rules, const rval *v)
{
    if (!given(v) || rules->registry == NULL || sgs_uscc_is_placeholder(v->s, v->len)) {
        return NULL;
    }
    return sgs_registry_find_id(rules->registry, v->s, v->len);
}

/* A unit by name, alias or id. */
static const sgs_unit *unit_by_name(const sgs_rules *rules, const rval *v)
{
    if (!given(v) || rules->registry == NULL) {
        return NULL;
    }
    return sgs_registry_find(rules->registry, v->s, v->len);
}

/* Whether a national record names its source unit: a code other than the
 * placeholder, or a name. */
static int names_source(const record_view *raw)
{
    return (given(&raw->unit_id) && !sgs_uscc_is_placeholder(raw->unit_id.s, raw->unit_id.len)) ||
           given(&raw->unit_name);
}

/* National: the unit is the data-source unit (REFERENCE §3); only a record that
 * names no source unit falls back to the deciding organ. A source unit named
 * but not in the registry is unknown_unit (REFERENCE §4), whatever the organ. */
static const sgs_unit *national_unit(sgs_record *out, const sgs_rules *rules,
                                     const record_view *raw)
{
    const sgs_unit *u = unit_by_id(rules, &raw->unit_id);

    if (u == NULL) {
        u = unit_by_name(rules, &raw->unit_name);
    }
    if (u == NULL && !names_source(raw)) {
        u = unit_by_id(rules, &raw->authority_uscc);
        if (u == NULL) {
            u = unit_by_name(rules, &raw->authority_name);
        }
        out->unit_from_organ = u != NULL;
    }
    return u;
}

/* National unknown_unit: what was given of the source unit, and of the organ. */
static void national_unknown(sgs_record *out, const field_names *f, const record_view *raw)
{
    const rval *id = &raw->unit_id, *name = &raw->unit_name;
    const rval *organ = given(&raw->authority_name) ? &raw->authority_name : &raw->authority_uscc;
    const char *organ_field = organ == &raw->authority_name ? f->authority_name : f->authority_uscc;
    char nor[QUOTE_MAX + 64], nor_zh[QUOTE_MAX + 96];
    quoted q1, q2;

    nor[0] = '\0';
    nor_zh[0] = '\0';
    if (given(organ) && !names_source(raw)) { /* the organ was looked up too */
        quote(&q1, organ->s, organ->len);
        snprintf(nor, sizeof(nor), ", nor is the deciding organ %s '%s'", organ_field, q1.s);
        snprintf(nor_zh, sizeof(nor_zh), "，%s“%s”也不在名录中", label(organ_field), q1.s);
    }
    if (given(id) && given(name)) {
        quote(&q1, id->s, id->len);
        quote(&q2, name->s, name->len);
        sgs_record_reason_en(
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                       "数据来源单位“%s”（%s“%s”）不在单位名录中%s，应为名录中单位的代码或名称",
                       q1.s, label(f->unit_name), q2.s, nor_zh),
            "source unit '%s' (%s '%s') is not in the registry%s", q1.s, f->unit_name, q2.s, nor);
    } else if (given(id)) {
        quote(&q1, id->s, id->len);
        sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                        "%s“%s”不在单位名录中%s，应为名录中单位的代码",
                                        label(f->unit_id), q1.s, nor_zh),
                             "source unit '%s' is not in the registry%s", q1.s, nor);
    } else if (given(name)) {
        quote(&q2, name->s, name->len);
        sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_name,
                                        "%s“%s”不在单位名录中%s，应为名录中单位的名称",
                                        label(f->unit_name), q2.s, nor_zh),
                             "source unit '%s' is not in the registry%s", q2.s, nor);
    } else if (id->type != V_ABSENT && id->type != V_NULL && id->type != V_STRING) {
        sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                        "%s为%s%s，应为名录中单位的代码", label(f->unit_id),
                                        type_name_zh(id->type), nor_zh),
                             "expected a string, got %s%s", type_name(id->type), nor);
    } else {
        sgs_record_reason_en(
            add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                       "缺少数据来源单位：%s（%s）和%s（%s）均未填写%s，"
                       "应填写名录中单位的代码或名称",
                       label(f->unit_id), f->unit_id, label(f->unit_name), f->unit_name, nor_zh),
            "no source unit: %s and %s are missing or empty%s", f->unit_id, f->unit_name, nor);
    }
}

/* Finds the unit; 0, or -1 after adding unknown_unit. */
static int resolve_unit(sgs_record *out, const sgs_rules *rules, const field_names *f,
                        const record_view *raw)
{
    const rval *id = &raw->unit_id;
    quoted q1;

    if (id->type == V_STRING) {
        put_valid(out->unit_id, sizeof(out->unit_id), id->s, id->len, sizeof(out->unit_id) - 1);
    }
    if (raw->format == SGS_FORMAT_NATIONAL) {
        out->unit = national_unit(out, rules, raw);
    } else {
        /* an id, else a name or an alias (names and other ids "count as this
         * unit": REFERENCE §6's units file) */
        out->unit = unit_by_id(rules, id);
        if (out->unit == NULL) {
            out->unit = unit_by_name(rules, id);
        }
    }
    if (out->unit != NULL) {
        /* (the registry checked that its ids are UTF-8 without NUL) */
        put_valid(out->unit_id, sizeof(out->unit_id), out->unit->id, strlen(out->unit->id),
                  sizeof(out->unit_id) - 1);
        return 0;
    }
    if (raw->format == SGS_FORMAT_NATIONAL) {
        national_unknown(out, f, raw);
        return -1;
    }
    switch (id->type) {
    case V_STRING:
        if (id->len == 0) {
            sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                            "%s为空，应为单位名录中的单位代码", label(f->unit_id)),
                                 "empty");
        } else {
            quote(&q1, id->s, id->len);
            sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                            "%s“%s”不在单位名录中，应为单位名录中的单位代码",
                                            label(f->unit_id), q1.s),
                                 "unit '%s' is not in the registry", q1.s);
        }
        break;
    case V_ABSENT:
        sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                        "缺少%s（%s），应为单位名录中的单位代码", label(f->unit_id),
                                        f->unit_id),
                             "missing");
        break;
    default:
        sgs_record_reason_en(add_reason(out, CODE_UNKNOWN_UNIT, f->unit_id,
                                        "%s为%s，应为单位名录中的单位代码（文本）",
                                        label(f->unit_id), type_name_zh(id->type)),
                             "expected a string, got %s", type_name(id->type));
        break;
    }
    return -1;
}

/* op (native) or SYNC_STATUS (national): absent, null or blank is insert. */
static void check_op(sgs_record *out, const field_names *f, const record_view *raw)
{
    static const char *const native_ops[] = {"insert", "update", "revoke"};
    static const char *const national_ops[] = {"I", "U", "D"};
    const char *const *ops = raw->format == SGS_FORMAT_NATIONAL ? national_ops : native_ops;
    const rval *v = &raw->op;
    quoted q;
    int i;

    out->op = SGS_OP_INSERT;
    if (v->type == V_ABSENT || v->type == V_NULL) {
        return;
    }
    if (v->type != V_STRING) {
        sgs_record_reason_en(add_reason(out, CODE_OP, f->op, "%s为%s，应为%s、%s或%s（文本）",
                                        label(f->op), type_name_zh(v->type), ops[0], ops[1],
                                        ops[2]),
                             "expected a string, got %s", type_name(v->type));
        return;
    }
    if (is_blank(v)) {
        return;
    }
    for (i = 0; i < 3; i++) {
        if (rval_eq(v, ops[i])) {
            out->op = (enum sgs_op)(SGS_OP_INSERT + i);
            return;
        }
    }
    quote(&q, v->s, v->len);
    sgs_record_reason_en(add_reason(out, CODE_OP, f->op,
                                    "%s“%s”无效，应为%s（新增）、%s（更正）或%s（撤销）",
                                    label(f->op), q.s, ops[0], ops[1], ops[2]),
                         "'%s' is not %s, %s or %s", q.s, ops[0], ops[1], ops[2]);
}

void sgs_record_check(const sgs_rules *rules, const record_view *raw, int64_t msg_timestamp_ms,
                      sgs_record *out)
{
    const field_names *f = raw->names;
    int unit_ok;

    out->format = raw->format;
    unit_ok = resolve_unit(out, rules, f, raw) == 0;

    /* The rules run for unknown units too, so that the record carries its month,
     * kind and dates; only the unknown_unit reason is kept then (REFERENCE §4). */
    check_kind(out, f, raw);
    check_op(out, f, raw);
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
        int n = sgs_store_identity(out->identity, sizeof(out->identity), out->unit_id,
                                   sgs_kind_name(out->kind), out->doc.norm);
        out->has_identity = n >= 0;
        out->identity_len = n >= 0 ? (size_t)n : 0;
    }
    out->status = out->n_reasons > 0 ? SGS_RECORD_INVALID : SGS_RECORD_VALID;
}

sgs_reason *sgs_record_malformed(sgs_record *out, const sgs_rules *rules, int64_t msg_timestamp_ms,
                                 const char *fmt, ...)
{
    int64_t instant = fallback_instant(msg_timestamp_ms);
    sgs_reason *r;
    va_list ap;

    va_start(ap, fmt);
    r = add_reason_v(out, CODE_MALFORMED, "", fmt, ap);
    va_end(ap);
    out->status = SGS_RECORD_MALFORMED;
    set_report_time(out, rules, instant);
    sgs_rfc3339_format(instant, rules->tz_offset, out->reported_at_text);
    return r;
}

void sgs_record_reason_en(sgs_reason *r, const char *fmt, ...)
{
    va_list ap;

    if (r == NULL) {
        return;
    }
    va_start(ap, fmt);
    put_message(r->message_en, sizeof(r->message_en), fmt, ap);
    va_end(ap);
}

void sgs_record_quote(char *dst, size_t cap, const char *s, size_t len)
{
    put_text(dst, cap, s, len, QUOTE_MAX, TEXT_QUOTE);
}

void sgs_record_quote_text(char *dst, size_t cap, const char *s, size_t len, size_t max)
{
    put_text(dst, cap, s, len, max, TEXT_QUOTE);
}

/* ------------------------------------------------------------------------ */
/* Names of kinds and ops (sgs/record.h)                                     */

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

const char *sgs_op_name(enum sgs_op op)
{
    switch (op) {
    case SGS_OP_INSERT:
        return "insert";
    case SGS_OP_UPDATE:
        return "update";
    case SGS_OP_REVOKE:
        return "revoke";
    default:
        return "";
    }
}

/* Record events (REFERENCE §3, both the native and the national format) and the
 * quality rules of REFERENCE §4.
 *
 * sgs_record_parse() is the hot path of the consumer: it must not keep pointers
 * into buf after it returns, and a record struct is meant to be reused. Inside,
 * reading (the strict zero-allocation tokenizer of jsonscan.h, into a format-neutral view) and the
 * rules are separate stages, so the parser can be replaced without touching the rules. */
#ifndef SGS_RECORD_H
#define SGS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "sgs/calendar.h"
#include "sgs/date.h"
#include "sgs/docno.h"
#include "sgs/registry.h"

enum sgs_kind { SGS_KIND_NONE = 0, SGS_KIND_LICENSE = 1, SGS_KIND_PENALTY = 2 };
enum sgs_subject_type {
    SGS_SUBJECT_NONE = 0,
    SGS_SUBJECT_LEGAL_PERSON,
    SGS_SUBJECT_INDIVIDUAL_BUSINESS,
    SGS_SUBJECT_NATURAL_PERSON,
    SGS_SUBJECT_OTHER, /* present but not one of the three */
};
enum sgs_record_format { SGS_FORMAT_NATIVE = 0, SGS_FORMAT_NATIONAL = 1 };
/* What a message does to its decision (REFERENCE §3 "op"; national SYNC_STATUS). */
enum sgs_op {
    SGS_OP_INSERT = 0, /* a report of the decision (the default) */
    SGS_OP_UPDATE,     /* a correction: of a decision already seen it counts in updates
                          (not a record, not a duplicate); of one never seen it is a
                          first report like an insert */
    SGS_OP_REVOKE,     /* 撤销公示: of a decision already seen it counts in revoked and
                          leaves the decision counted; of one never seen it is rejected
                          with unknown_record */
};
enum sgs_record_status {
    SGS_RECORD_VALID = 0,    /* counts as a record of its unit */
    SGS_RECORD_INVALID,      /* counts as a record and as invalid; also rejected */
    SGS_RECORD_UNKNOWN_UNIT, /* rejected with unknown_unit; counts as unattributed */
    SGS_RECORD_MALFORMED,    /* rejected with malformed_json; counts nowhere else */
};

/* Reason codes (sgs_reason.code points to one of these strings). */
#define SGS_REASON_MALFORMED_JSON  "malformed_json"
#define SGS_REASON_UNKNOWN_UNIT    "unknown_unit"
#define SGS_REASON_MISSING_FIELD   "missing_field"
#define SGS_REASON_BAD_KIND        "bad_kind"
#define SGS_REASON_BAD_DATE        "bad_date"
#define SGS_REASON_FUTURE_DECISION "future_decision"
#define SGS_REASON_BAD_USCC        "bad_uscc"
#define SGS_REASON_BAD_ID_NO       "bad_id_no"
#define SGS_REASON_BAD_VALIDITY    "bad_validity"
#define SGS_REASON_BAD_AMOUNT      "bad_amount"
#define SGS_REASON_BAD_DOC_NO      "bad_doc_no"
/* op (native) or SYNC_STATUS (national) is present and not one of its values
 * (insert, update, revoke; I, U, D). sgs's own code (the original rule table
 * had none), a quality failure like the others (the record is invalid). */
#define SGS_REASON_BAD_OP "bad_op"
/* Decided by the consumer, never by sgs_record_parse (they need what was seen
 * before): a revoke of a decision never seen (REFERENCE §3), and a decision older
 * than the identity horizon (the consumer no longer knows whether it was seen). */
#define SGS_REASON_UNKNOWN_RECORD "unknown_record"
#define SGS_REASON_TOO_OLD        "too_old"

#define SGS_MAX_REASONS  16 /* more are dropped (a record has at most ~12 in practice) */
#define SGS_UNIT_ID_MAX  128
#define SGS_IDENTITY_MAX (SGS_UNIT_ID_MAX + 16 + SGS_DOCNO_MAX)

/* A reason's messages: valid UTF-8, quoted values shortened to ~40 bytes +
 * "...", cut (if ever) between characters. */
#define SGS_REASON_MESSAGE_MAX    320 /* bytes of message, NUL included */
#define SGS_REASON_MESSAGE_EN_MAX 200 /* bytes of message_en, NUL included */

typedef struct sgs_reason {
    const char *code; /* static string, one of SGS_REASON_* */
    char field[48];   /* "subject.uscc" (native) or the national code ("XK_XDR_SHXYM");
                         "" for malformed_json */
    /* For the unit that must fix the record, in Chinese: the field by its name
     * in the forms, its value quoted, what is wrong and what is expected
     * ("文书号“AB”规范化后为2个字符，应为4至64个字符"). */
    char message[SGS_REASON_MESSAGE_MAX];
    char message_en[SGS_REASON_MESSAGE_EN_MAX]; /* the same in English, for operators */
} sgs_reason;

typedef struct sgs_rules {
    const sgs_calendar *calendar;
    const sgs_registry *registry;
    int deadline_workdays[3]; /* indexed by enum sgs_kind (1, 2); < 1 means 7 */
    int count_decision_day;   /* deadline counting variant, see sgs_calendar_deadline */
    int tz_offset;            /* seconds east of UTC for report days and months */
} sgs_rules;

typedef struct sgs_record {
    enum sgs_record_status status;
    enum sgs_record_format format;
    enum sgs_kind kind;
    enum sgs_subject_type subject_type;
    /* From op (native) or SYNC_STATUS (national); SGS_OP_INSERT when absent, null or
     * blank, and when the value is unknown (then the record is invalid, bad_op). Set
     * for every status but malformed. The rules are the same whatever the op: a
     * revoke or an update is the decision's record sent again. */
    enum sgs_op op;

    const sgs_unit *unit;          /* NULL when unknown */
    char unit_id[SGS_UNIT_ID_MAX]; /* the registry id when known, else the id as given
                                      (truncated, "" when missing or not a string) */
    /* National format: the data-source unit (*_LYDWDM / CF_SJLYDM, *_LYDW / CF_SJLY)
     * is missing or unknown and the unit is the deciding organ (XK_XKJGDM /
     * CF_CFJGDM by id, else XK_XKJG / CF_CFJG by name). The record counts for that
     * unit; count such records too (they tell a feed that lacks its source unit). */
    int unit_from_organ;

    char doc_no[SGS_DOCNO_MAX]; /* doc_no as given (truncated), "" when missing */
    sgs_docno doc;              /* normalised form */
    int has_identity;           /* unit known, kind valid and doc_no normalised to 4-64 chars */
    char identity[SGS_IDENTITY_MAX]; /* "<unit_id>|<kind>|<normalised doc_no>" */
    size_t identity_len;             /* strlen(identity) */

    int has_decision_date;
    sgs_day decision_date;
    /* The report time. reported_at absent or null: the Kafka timestamp (else now)
     * is the report time, has_reported_at = reported_from_timestamp = 1.
     * reported_at present but unusable (bad_date, or missing_field for "" or a
     * non-string): has_reported_at = 0, and reported_at, report_day, month and
     * day come from the timestamp (else now) only to place the record in a month.
     * Also filled for unknown_unit and malformed_json records. */
    int has_reported_at;         /* the report time is known (record or timestamp) */
    int reported_from_timestamp; /* reported_at absent: the Kafka timestamp was used */
    int64_t reported_at;         /* Unix seconds */
    char reported_at_text[40];   /* RFC 3339 as given, or formatted in tz_offset */
    sgs_day report_day;          /* local date of reported_at (or of the fallback time) */
    char month[8];               /* "YYYY-MM" of report_day */
    char day[11];                /* "YYYY-MM-DD" of report_day */

    /* Deadline: whenever decision_date is valid and the kind known (also when
     * other rules fail). late and workdays_late only when has_reported_at. */
    int has_deadline;
    sgs_day deadline;
    int late;          /* report_day > deadline */
    int workdays_late; /* sgs_calendar_workdays_between(deadline, report_day) when late */

    int n_reasons;
    /* Last: only reasons[0 .. n_reasons - 1] are set (each in full, zeros after
     * its texts); a parse leaves the others as they were, so that a valid record
     * does not pay for clearing some 8 KB it never reads. */
    sgs_reason reasons[SGS_MAX_REASONS];
} sgs_record;

/* Copies s (len bytes) into dst (capacity cap) as reasons quote a value: at
 * most ~40 bytes of whole UTF-8 characters then "...", control characters and
 * invalid bytes as '?', always NUL-terminated. For reasons decided outside
 * sgs_record_parse (the consumer's too_old and unknown_record). */
void sgs_record_quote(char *dst, size_t cap, const char *s, size_t len);

const char *sgs_kind_name(enum sgs_kind kind); /* "license", "penalty", "" */
const char *sgs_op_name(enum sgs_op op);       /* "insert", "update", "revoke", "" */

/* Parses one message value and applies every rule. Always fills *out (status,
 * reasons, and whatever could be read); never fails otherwise. Thread-safe given
 * a separate *out per thread; rules are only read. msg_timestamp_ms is the Kafka
 * message timestamp (-1 when unknown): it is the report time when the record has
 * no reported_at, and the time that decides the month when reported_at is
 * unusable; with neither, the current time is used.
 *
 * Reasons:
 * - malformed_json (status MALFORMED, the only reason): not a UTF-8 JSON object.
 *   The message says why and at which byte (the tokenizer's text), or what the top
 *   level was ("JSON array, expected an object"). Also: \u0000 in a string, lone
 *   surrogates, duplicate keys and nesting deeper than 2048 levels (jansson's limit
 *   too). Numbers of any size are JSON: a fine beyond a double is bad_amount.
 * - unknown_unit (status UNKNOWN_UNIT, the only reason): unit_id missing, not a
 *   string, or not found by sgs_registry_find_id. National format: the data-source
 *   unit, XK_LYDWDM / CF_SJLYDM by sgs_registry_find_id (ids and alias ids), else
 *   XK_LYDW / CF_SJLY by sgs_registry_find (names and aliases); when that is
 *   missing or unknown, the deciding organ the same way, XK_XKJGDM / CF_CFJGDM
 *   by id, else XK_XKJG / CF_CFJG by name (unit_from_organ = 1). The placeholder
 *   code SGS_USCC_PLACEHOLDER never identifies a unit (it is not looked up). The
 *   reason names XK_LYDWDM / CF_SJLYDM (XK_LYDW / CF_SJLY when only the name was
 *   given) and quotes the organ too. The other fields are still read (month, kind,
 *   dates, op).
 * - otherwise every rule of REFERENCE §4, all failures listed (status INVALID):
 *   a required field that is absent, null, blank or not a string is
 *   missing_field ("expected a string, got a number"); a subject type that is
 *   none of the three is missing_field for subject.type too (REFERENCE §4 has no
 *   code of its own for it). subject.uscc: required for legal_person, optional
 *   for individual_business (SGS_USCC_PLACEHOLDER accepted there only), checked
 *   when given for anyone else; authority.uscc checked when given; a "91350"
 *   code that fails only the check character is accepted (debug log).
 *   subject.id_no is checked for natural persons only (national: unless
 *   *_XDR_ZJLX names a document other than the resident ID). Validity dates
 *   "长期"/"长期有效"/"永久" mean open-ended. fine_amount: absent, null or a number
 *   >= 0 (national CF_NR_FK also "" or a decimal string). op: absent, null or
 *   blank is insert; "insert", "update", "revoke" (national SYNC_STATUS "I",
 *   "U", "D", exactly these); anything else is bad_op (a non-string: "expected a
 *   string, got a number").
 *
 * National format: an object with XK_WSH or CF_WSH, or without "kind" and with
 * any XK_ / CF_ key. Dates YYYY-MM-DD, YYYY/MM/DD (one-digit month/day allowed)
 * or YYYYMMDD, optionally + " " or "T" + H:MM[:SS[.f]]. Subject type labels
 * 法人及非法人组织 (also 法人, 非法人组织) / 个体工商户 / 自然人, or the English codes.
 * Reasons name the national field codes. Both XK_ and CF_ families: bad_kind.
 *
 * Legacy item names. Older feeds still use item names of the first national
 * template (2016). Where one means exactly what a current item means it is read
 * in that item's place, when the current item is absent, and reasons name the
 * item as the message has it:
 *
 *   legacy       meaning (legacy template)          read as
 *   XK_XDR       行政相对人名称                      XK_XDR_MC (subject name)
 *   XK_XDR_SFZ   行政相对人代码_5 (居民身份证号)    XK_XDR_ZJHM, as a resident ID
 *   CF_XDR_SFZ   the same, penalties                CF_XDR_ZJHM, as a resident ID
 *   XK_XZJG      许可机关                            XK_XKJG (deciding organ, name)
 *   CF_XZJG      处罚机关                            CF_CFJG (deciding organ, name)
 *   XK_JZQ       许可截止期                          XK_YXQZI (valid to)
 *
 * Not read, with a reason that names them where a rule needs what they hold:
 * *_XDR_ZDM, *_XDR_GSDJ, *_XDR_SWDJ (organisation code, business registration
 * and tax registration numbers of before the credit code): a legal person with
 * only these fails bad_uscc on *_XDR_SHXYM, naming them. The legacy template has
 * no subject type: missing_field on *_XDR_LB says so. Not read because no rule
 * needs them (and some do not map cleanly): XK_XMMC, XK_SPLB, XK_FR, CF_CFMC,
 * CF_AJMC, CF_CFLB1/CF_CFLB2 (categories, coded 0-6), CF_JG, CF_FR, CF_JZRQ
 * (a 截止日期 whose meaning differs between feeds), CF_ZT/XK_ZT (the decision's
 * status; "1 = 撤销" there is not SYNC_STATUS D), DFBM (an area code, not the
 * unit), SJC (an update time stamp, not the report time). */
void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out);

/* sgs_record_parse reads the usual native message directly, without the
 * tokenizer's tokens, and every other message (national, with escapes, not
 * valid JSON...) the general way; both give the same record. For tests and
 * benchmarks: sgs_record_set_direct(0) makes every message go the general way
 * and sgs_record_set_direct(2) has the direct reader check a message 16 bytes
 * a step, as on a processor without AVX2; sgs_record_set_direct(3) has it
 * read every message key by key, without the layouts it learns of the
 * messages before (process-wide; 1, the default, is the direct reader at its
 * fastest; returns the previous setting). sgs_record_direct_reads counts the
 * messages the calling thread read directly, sgs_record_layout_reads those of
 * them read along a layout. sgs_record_layouts_reset forgets the calling
 * thread's layouts, and that it paused learning them (tests). */
int sgs_record_set_direct(int on);
uint64_t sgs_record_direct_reads(void);
uint64_t sgs_record_layout_reads(void);
void sgs_record_layouts_reset(void);

#endif

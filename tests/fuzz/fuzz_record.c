/* libFuzzer target: sgs_record_parse (both input formats) and the rules, with
 * the invariants every parsed record must satisfy whatever the input was.
 *
 * Each input is parsed three times: into the record of the previous input and,
 * the general way (without the direct reader of the usual native message),
 * into one filled with garbage (the two must be identical: a record is reused,
 * and both ways read a message alike),
 * then with other rules (count_decision_day, unset deadline, another offset)
 * and a message timestamp chosen from the input's hash (among them year 9999
 * and INT64_MAX). Whether a message is malformed is judged against jansson's
 * json_loadb, the yardstick the record reader (sgs/jsonscan.h) promises to match
 * (except for numbers jansson cannot hold: valid JSON the reader reads). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgs/calendar.h"
#include "sgs/date.h"
#include "sgs/docno.h"
#include "sgs/record.h"
#include "sgs/registry.h"

#define TS_FIXED 1701743460000LL /* 2023-12-05T02:31:00Z */

static sgs_registry *reg;
static sgs_calendar *cal;
static sgs_rules rules, rules_alt;
static sgs_record rec_a, rec_b, rec_c; /* a few KB each: static, like the consumer */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    fuzz_load_configs(&reg, &cal);
    rules.calendar = cal;
    rules.registry = reg;
    rules.deadline_workdays[SGS_KIND_LICENSE] = 7;
    rules.deadline_workdays[SGS_KIND_PENALTY] = 7;
    rules.count_decision_day = 0;
    rules.tz_offset = 8 * 3600;
    rules_alt = rules;
    rules_alt.deadline_workdays[SGS_KIND_LICENSE] = 1;
    rules_alt.deadline_workdays[SGS_KIND_PENALTY] = 0; /* < 1: the default 7 */
    rules_alt.count_decision_day = 1;
    rules_alt.tz_offset = -(9 * 3600 + 30 * 60);
    return 0;
}

static int known_code(const char *code)
{
    static const char *const codes[] = {
        SGS_REASON_MALFORMED_JSON, SGS_REASON_UNKNOWN_UNIT, SGS_REASON_MISSING_FIELD,
        SGS_REASON_BAD_KIND,       SGS_REASON_BAD_DATE,     SGS_REASON_FUTURE_DECISION,
        SGS_REASON_BAD_USCC,       SGS_REASON_BAD_ID_NO,    SGS_REASON_BAD_VALIDITY,
        SGS_REASON_BAD_AMOUNT,     SGS_REASON_BAD_DOC_NO,   SGS_REASON_BAD_OP,
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return 1;
    return 0;
}

/* "YYYY-MM-DD" that sgs_day_format writes: digits and dashes in place. */
static int day_text_shape(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return 0;
        } else if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return s[10] == '\0';
}

static void check_reasons(const sgs_record *r)
{
    FUZZ_CHECK(r->n_reasons >= 0 && r->n_reasons <= SGS_MAX_REASONS);
    for (int i = 0; i < r->n_reasons; i++) {
        const sgs_reason *x = &r->reasons[i];

        FUZZ_CHECK(x->code != NULL && x->code[0] != '\0');
        FUZZ_CHECK(known_code(x->code));
        FUZZ_CHECK(fuzz_text_ok(x->field, sizeof(x->field)));
        /* message (Chinese) and message_en: both set, valid UTF-8 in bounds */
        FUZZ_CHECK(fuzz_text_ok(x->message, sizeof(x->message)));
        FUZZ_CHECK(x->message[0] != '\0');
        FUZZ_CHECK(fuzz_text_ok(x->message_en, sizeof(x->message_en)));
        FUZZ_CHECK(x->message_en[0] != '\0');
        /* These two codes are only ever the single reason of their status. */
        if (strcmp(x->code, SGS_REASON_MALFORMED_JSON) == 0)
            FUZZ_CHECK(r->status == SGS_RECORD_MALFORMED && x->field[0] == '\0');
        if (strcmp(x->code, SGS_REASON_UNKNOWN_UNIT) == 0)
            FUZZ_CHECK(r->status == SGS_RECORD_UNKNOWN_UNIT);
    }
    switch (r->status) {
    case SGS_RECORD_VALID:
        FUZZ_CHECK(r->n_reasons == 0);
        break;
    case SGS_RECORD_INVALID:
        FUZZ_CHECK(r->n_reasons > 0);
        break;
    case SGS_RECORD_UNKNOWN_UNIT:
        FUZZ_CHECK(r->n_reasons == 1);
        FUZZ_CHECK(strcmp(r->reasons[0].code, SGS_REASON_UNKNOWN_UNIT) == 0);
        break;
    case SGS_RECORD_MALFORMED:
        FUZZ_CHECK(r->n_reasons == 1);
        FUZZ_CHECK(strcmp(r->reasons[0].code, SGS_REASON_MALFORMED_JSON) == 0);
        break;
    default:
        FUZZ_CHECK(!"status out of range");
    }
}

static void check_strings(const sgs_record *r)
{
    char buf[16];

    FUZZ_CHECK(fuzz_text_ok(r->unit_id, sizeof(r->unit_id)));
    FUZZ_CHECK(fuzz_text_ok(r->doc_no, sizeof(r->doc_no)));
    FUZZ_CHECK(fuzz_text_ok(r->doc.norm, sizeof(r->doc.norm)));
    FUZZ_CHECK(fuzz_text_ok(r->doc.prefix, sizeof(r->doc.prefix)));
    FUZZ_CHECK(fuzz_text_ok(r->identity, sizeof(r->identity)));
    FUZZ_CHECK(r->identity_len == strlen(r->identity));
    FUZZ_CHECK(fuzz_text_ok(r->reported_at_text, sizeof(r->reported_at_text)));
    FUZZ_CHECK(fuzz_terminated(r->month, sizeof(r->month)));
    FUZZ_CHECK(fuzz_terminated(r->day, sizeof(r->day)));

    /* Month and day: always set (also for malformed input), the text of report_day. */
    FUZZ_CHECK(strlen(r->month) == 7 && strlen(r->day) == 10);
    FUZZ_CHECK(day_text_shape(r->day));
    FUZZ_CHECK(strncmp(r->month, r->day, 7) == 0);
    FUZZ_CHECK(strcmp(r->day, sgs_day_format(r->report_day, buf)) == 0);
    FUZZ_CHECK(strcmp(r->month, sgs_day_format_month(r->report_day, buf)) == 0);
    FUZZ_CHECK(r->reported_at_text[0] != '\0');
}

static void check_times(const sgs_rules *ru, const sgs_record *r)
{
    char buf[16];

    FUZZ_CHECK(r->report_day == sgs_day_of_instant(r->reported_at, ru->tz_offset));
    if (r->reported_from_timestamp)
        FUZZ_CHECK(r->has_reported_at);
    /* The text denotes the instant (as given, or formatted in tz_offset), at least
     * while the local year fits the four digits (outside, formatting clamps). */
    if (r->reported_at > -62135596800LL + 86400 && r->reported_at < 253402300799LL - 86400) {
        int64_t t;

        FUZZ_CHECK(sgs_rfc3339_parse(r->reported_at_text, strlen(r->reported_at_text), &t) == 0);
        FUZZ_CHECK(t == r->reported_at);
    }
    if (r->has_decision_date) {
        FUZZ_CHECK(sgs_day_parse(sgs_day_format(r->decision_date, buf), 10, NULL) == 0);
    }
    if (r->has_deadline) {
        int n = ru->deadline_workdays[r->kind] < 1 ? 7 : ru->deadline_workdays[r->kind];

        FUZZ_CHECK(r->has_decision_date && r->kind != SGS_KIND_NONE);
        FUZZ_CHECK(r->deadline >= r->decision_date);
        if (!ru->count_decision_day)
            FUZZ_CHECK(r->deadline > r->decision_date);
        FUZZ_CHECK(r->deadline == sgs_calendar_deadline(ru->calendar, r->decision_date, n,
                                                        ru->count_decision_day));
        FUZZ_CHECK(r->late == (r->has_reported_at && r->report_day > r->deadline));
    } else if (r->status != SGS_RECORD_MALFORMED) {
        FUZZ_CHECK(!(r->has_decision_date && r->kind != SGS_KIND_NONE));
    }
    if (r->late) {
        FUZZ_CHECK(r->has_deadline && r->has_reported_at);
        FUZZ_CHECK(r->workdays_late >= 0);
        FUZZ_CHECK(r->workdays_late ==
                   sgs_calendar_workdays_between(ru->calendar, r->deadline, r->report_day));
    } else {
        FUZZ_CHECK(r->workdays_late == 0);
    }
}

static void check_unit_identity(const sgs_record *r)
{
    char expect[SGS_IDENTITY_MAX + 8];

    FUZZ_CHECK((int)r->kind >= SGS_KIND_NONE && (int)r->kind <= SGS_KIND_PENALTY);
    FUZZ_CHECK((int)r->subject_type >= SGS_SUBJECT_NONE &&
               (int)r->subject_type <= SGS_SUBJECT_OTHER);
    FUZZ_CHECK(r->format == SGS_FORMAT_NATIVE || r->format == SGS_FORMAT_NATIONAL);
    FUZZ_CHECK((int)r->op >= SGS_OP_INSERT && (int)r->op <= SGS_OP_REVOKE);
    /* Only a national record's unit comes from its organ, and then it is known. */
    if (r->unit_from_organ)
        FUZZ_CHECK(r->format == SGS_FORMAT_NATIONAL && r->unit != NULL);

    /* The unit is known exactly for valid and invalid records. */
    if (r->status == SGS_RECORD_VALID || r->status == SGS_RECORD_INVALID) {
        FUZZ_CHECK(r->unit != NULL);
        FUZZ_CHECK(strcmp(r->unit_id, r->unit->id) == 0);
        FUZZ_CHECK(sgs_registry_find_id(reg, r->unit->id, strlen(r->unit->id)) == r->unit);
    } else {
        FUZZ_CHECK(r->unit == NULL);
    }
    if (r->status == SGS_RECORD_MALFORMED) {
        FUZZ_CHECK(r->kind == SGS_KIND_NONE && !r->has_decision_date && !r->has_deadline);
        FUZZ_CHECK(r->unit_id[0] == '\0' && r->doc_no[0] == '\0');
    }

    /* Identity: present only with a known unit, a kind and a 4-64 character
     * doc_no, and then always. */
    if (r->has_identity) {
        FUZZ_CHECK(r->unit != NULL);
        FUZZ_CHECK(r->kind != SGS_KIND_NONE);
        FUZZ_CHECK(r->doc.norm_chars >= 4 && r->doc.norm_chars <= 64);
        snprintf(expect, sizeof(expect), "%s|%s|%s", r->unit->id, sgs_kind_name(r->kind),
                 r->doc.norm);
        FUZZ_CHECK(strcmp(r->identity, expect) == 0);
    } else {
        FUZZ_CHECK(r->identity[0] == '\0');
        if (r->unit != NULL)
            FUZZ_CHECK(
                !(r->kind != SGS_KIND_NONE && r->doc.norm_chars >= 4 && r->doc.norm_chars <= 64));
    }

    /* The normal form is a fixed point and counts its characters right. */
    if (r->doc.norm[0] != '\0') {
        sgs_docno again;

        FUZZ_CHECK(r->doc.norm_chars == fuzz_utf8_chars(r->doc.norm, strlen(r->doc.norm)));
        FUZZ_CHECK(sgs_docno_normalize(r->doc.norm, strlen(r->doc.norm), &again) == 0);
        FUZZ_CHECK(strcmp(again.norm, r->doc.norm) == 0);
    } else {
        FUZZ_CHECK(r->doc.norm_chars == 0 && !r->has_identity);
    }
}

static void check(const sgs_rules *ru, const sgs_record *r, const uint8_t *data, size_t size)
{
    check_reasons(r);
    check_strings(r);
    check_times(ru, r);
    check_unit_identity(r);
    /* Malformed exactly when jansson (the reader's yardstick) refuses the text
     * or it is not an object; and for any NUL byte, which jansson lets through
     * right after a literal (akheron/jansson#331) but is not JSON. */
    if (size == 0 || !sgs_utf8_valid((const char *)data, size) ||
        memchr(data, '\0', size) != NULL) {
        FUZZ_CHECK(r->status == SGS_RECORD_MALFORMED);
    } else {
        json_error_t err;
        json_t *root =
            json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

        /* jansson refuses valid JSON numbers it cannot hold (beyond int64 or
         * a double): the reader reads them, and may then find an error after
         * the number that jansson never reached */
        if (root != NULL ||
            (strstr(err.text, "too big") == NULL && strstr(err.text, "overflow") == NULL))
            FUZZ_CHECK((r->status == SGS_RECORD_MALFORMED) ==
                       (root == NULL || !json_is_object(root)));
        json_decref(root);
    }
}

/* Parses buf again with sgs_record_set_direct(mode), into rec_b full of fill
 * first, and requires rec_a: every byte up to the reasons, and the reasons
 * set (the rest is left as it was, sgs/record.h). */
static void same_as_a(const char *buf, size_t size, int mode, int fill)
{
    memset(&rec_b, fill, sizeof(rec_b));
    FUZZ_CHECK(sgs_record_set_direct(mode) == 1);
    sgs_record_parse(&rules, buf, size, TS_FIXED, &rec_b);
    FUZZ_CHECK(sgs_record_set_direct(1) == mode);
    FUZZ_CHECK(memcmp(&rec_a, &rec_b,
                      offsetof(sgs_record, reasons) +
                          (size_t)rec_a.n_reasons * sizeof(rec_a.reasons[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t stamps[] = {
        0,
        TS_FIXED,
        946684800000LL /* 2000-01-01 */,
        253402300799000LL /* 9999-12-31 */,
        4102444800000LL /* 2100-01-01 */,
        1703980800000LL /* 2023-12-31 */,
        INT64_MAX,
        1735603200123LL /* 2024-12-31 */,
    };
    const char *buf = (const char *)data;
    uint64_t h = fuzz_hash(data, size);

    sgs_record_parse(&rules, buf, size, TS_FIXED, &rec_a);
    check(&rules, &rec_a, data, size);

    /* The same input read the general way (not by the direct reader of the
     * usual native message, record_fast.c), with the direct reader checking
     * 16 bytes a step (no AVX2), and with it reading key by key (not along
     * the layouts it learned of the inputs before: inputs mutated from one
     * another are read along them), gives the same record. */
    same_as_a(buf, size, 0, 0xA5);
    same_as_a(buf, size, 2, 0x5A);
    same_as_a(buf, size, 3, 0xC3);

    sgs_record_parse(&rules_alt, buf, size, stamps[h % (sizeof(stamps) / sizeof(stamps[0]))],
                     &rec_c);
    check(&rules_alt, &rec_c, data, size);
    /* Other rules and times change dates and lateness, not what the record is. */
    FUZZ_CHECK((rec_c.status == SGS_RECORD_MALFORMED) == (rec_a.status == SGS_RECORD_MALFORMED));
    FUZZ_CHECK((rec_c.status == SGS_RECORD_UNKNOWN_UNIT) ==
               (rec_a.status == SGS_RECORD_UNKNOWN_UNIT));
    FUZZ_CHECK(rec_c.kind == rec_a.kind && rec_c.format == rec_a.format &&
               rec_c.unit == rec_a.unit && rec_c.has_identity == rec_a.has_identity &&
               rec_c.op == rec_a.op && rec_c.unit_from_organ == rec_a.unit_from_organ);
    return 0;
}

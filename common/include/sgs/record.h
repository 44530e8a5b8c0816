/* Record events (DESIGN §3, both the native and the national format) and the
 * quality rules of DESIGN §4.
 *
 * sgs_record_parse() is the hot path of the consumer: it must not keep pointers
 * into buf after it returns, and a record struct is meant to be reused. */
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
enum sgs_record_status {
    SGS_RECORD_VALID = 0,    /* counts as a record of its unit */
    SGS_RECORD_INVALID,      /* counts as a record and as invalid; also rejected */
    SGS_RECORD_UNKNOWN_UNIT, /* rejected with unknown_unit; counts as unattributed */
    SGS_RECORD_MALFORMED,    /* rejected with malformed_json; counts nowhere else */
};

#define SGS_MAX_REASONS  16
#define SGS_UNIT_ID_MAX  128
#define SGS_IDENTITY_MAX (SGS_UNIT_ID_MAX + 16 + SGS_DOCNO_MAX)

typedef struct sgs_reason {
    const char *code; /* static string: "missing_field", "bad_uscc", ... */
    char field[48];   /* "subject.uscc", "" for whole-message reasons */
    char message[200];
} sgs_reason;

typedef struct sgs_rules {
    const sgs_calendar *calendar;
    const sgs_registry *registry;
    int deadline_workdays[3]; /* indexed by enum sgs_kind (1, 2) */
    int count_decision_day;   /* deadline counting variant, see sgs_calendar_deadline */
    int tz_offset;            /* seconds east of UTC for report days and months */
} sgs_rules;

typedef struct sgs_record {
    enum sgs_record_status status;
    enum sgs_record_format format;
    enum sgs_kind kind;
    enum sgs_subject_type subject_type;

    const sgs_unit *unit;          /* NULL when unknown */
    char unit_id[SGS_UNIT_ID_MAX]; /* the registry id when known, else the id as given
                                      (truncated, "" when missing or not a string) */

    char doc_no[SGS_DOCNO_MAX]; /* doc_no as given (truncated), "" when missing */
    sgs_docno doc;              /* normalised form */
    int has_identity;           /* unit known, kind valid and doc_no normalised to 4-64 chars */
    char identity[SGS_IDENTITY_MAX]; /* "<unit_id>|<kind>|<normalised doc_no>" */

    int has_decision_date;
    sgs_day decision_date;
    int has_reported_at;         /* reported_at parsed (from the record or the timestamp) */
    int reported_from_timestamp; /* reported_at absent: the Kafka timestamp was used */
    int64_t reported_at;         /* Unix seconds */
    char reported_at_text[40];   /* RFC 3339 as given, or formatted in tz_offset */
    sgs_day report_day;          /* local date of reported_at (or of the fallback time) */
    char month[8];               /* "YYYY-MM" of report_day */
    char day[11];                /* "YYYY-MM-DD" of report_day */

    int has_deadline;
    sgs_day deadline;
    int late;          /* report_day > deadline */
    int workdays_late; /* sgs_calendar_workdays_between(deadline, report_day) when late */

    int n_reasons;
    sgs_reason reasons[SGS_MAX_REASONS];
} sgs_record;

const char *sgs_kind_name(enum sgs_kind kind); /* "license", "penalty", "" */

/* Parses one message value and applies every rule. Always fills *out (status,
 * reasons, and whatever could be read); never fails otherwise. msg_timestamp_ms is
 * the Kafka message timestamp (-1 when unknown): it is the report time when the
 * record has no reported_at, and the time that decides the month when reported_at
 * is unusable; with neither, the current time is used.
 * Reasons: malformed_json (not a UTF-8 JSON object: the message says why and at
 * which byte), unknown_unit, and the codes of DESIGN §4, all of them, each with
 * the field and a message quoting the bad value (shortened). */
void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out);

#endif

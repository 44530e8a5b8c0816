/* The native record event (REFERENCE §3) into a record view (record_view.h). Its
 * member names are listed in record_view.c. */
#include "record_view.h"

#include <string.h>

const field_names sgs_record_native_names = {
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
    .op = "op",
};

/* The members of a nested object (token obj, whose value is v) in sub; all 0
 * when v is not an object. */
static void nested(const reader *rd, size_t obj, const rval *v, size_t *sub)
{
    memset(sub, 0, SK_COUNT * sizeof(*sub));
    if (v->type == V_OBJECT) {
        sgs_record_members(rd, obj, MEMBERS_SUB, sub);
    }
}

void sgs_record_read_native(reader *rd, const size_t *at, record_view *raw)
{
    size_t sub[SK_COUNT];
    size_t subject = at[TK_SUBJECT], authority = at[TK_AUTHORITY];
    size_t license = at[TK_LICENSE], penalty = at[TK_PENALTY];

    raw->format = SGS_FORMAT_NATIVE;
    raw->names = &sgs_record_native_names;
    rval_tok(rd, at[TK_UNIT_ID], &raw->unit_id);
    rval_tok(rd, at[TK_KIND], &raw->kind);
    rval_tok(rd, at[TK_DOC_NO], &raw->doc_no);
    rval_tok(rd, at[TK_DECISION_DATE], &raw->decision_date);
    rval_tok(rd, at[TK_REPORTED_AT], &raw->reported_at);
    rval_tok(rd, at[TK_OP], &raw->op);

    rval_tok(rd, subject, &raw->subject);
    nested(rd, subject, &raw->subject, sub);
    rval_tok(rd, sub[SK_NAME], &raw->subject_name);
    rval_tok(rd, sub[SK_TYPE], &raw->subject_type);
    rval_tok(rd, sub[SK_USCC], &raw->subject_uscc);
    rval_tok(rd, sub[SK_ID_NO], &raw->subject_id_no);

    rval_tok(rd, authority, &raw->authority);
    nested(rd, authority, &raw->authority, sub);
    rval_tok(rd, sub[SK_NAME], &raw->authority_name);
    rval_tok(rd, sub[SK_USCC], &raw->authority_uscc);

    rval_tok(rd, license, &raw->license);
    nested(rd, license, &raw->license, sub);
    rval_tok(rd, sub[SK_VALID_FROM], &raw->valid_from);
    rval_tok(rd, sub[SK_VALID_TO], &raw->valid_to);

    rval_tok(rd, penalty, &raw->penalty);
    nested(rd, penalty, &raw->penalty, sub);
    rval_tok(rd, sub[SK_FINE_AMOUNT], &raw->fine_amount);
}

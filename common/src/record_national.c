/* The national data items of RULES §5 (provincial feeds) into a record view
 * (record_view.h). Their member names are listed in record_view.c, their date
 * spellings are checked by the rules (record_rules.c). */
#include "record_view.h"

#include <stddef.h>
#include <string.h>

/* National data items (RULES §5). There is no report time field: a
 * "reported_at" key is honoured when present, else the message timestamp. */
const field_names sgs_record_license_names = {
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
    .op = "SYNC_STATUS",
};

const field_names sgs_record_penalty_names = {
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
    .op = "SYNC_STATUS",
};

/* The members of each national family, by meaning (field_names holds their
 * names for messages), and the legacy items that stand for some of them
 * (TK_NONE: none). */
typedef struct national_keys {
    int unit_id, unit_name, doc_no, decision_date;
    int subject_name, subject_type, subject_uscc, id_type, subject_id_no;
    int authority_name, authority_uscc;
    int old_subject_name, old_id_no, old_authority_name, old_valid_to;
    int old_codes[3]; /* organisation, registration and tax codes: not read */
} national_keys;

static const national_keys license_keys = {
    TK_XK_LYDWDM,   TK_XK_LYDW,   TK_XK_WSH,       TK_XK_JDRQ,
    TK_XK_XDR_MC,   TK_XK_XDR_LB, TK_XK_XDR_SHXYM, TK_XK_XDR_ZJLX,
    TK_XK_XDR_ZJHM, TK_XK_XKJG,   TK_XK_XKJGDM,    TK_XK_XDR,
    TK_XK_XDR_SFZ,  TK_XK_XZJG,   TK_XK_JZQ,       {TK_XK_XDR_ZDM, TK_XK_XDR_GSDJ, TK_XK_XDR_SWDJ},
};

static const national_keys penalty_keys = {
    TK_CF_SJLYDM,   TK_CF_SJLY,   TK_CF_WSH,       TK_CF_JDRQ,
    TK_CF_XDR_MC,   TK_CF_XDR_LB, TK_CF_XDR_SHXYM, TK_CF_XDR_ZJLX,
    TK_CF_XDR_ZJHM, TK_CF_CFJG,   TK_CF_CFJGDM,    TK_NONE,
    TK_CF_XDR_SFZ,  TK_CF_XZJG,   TK_NONE,         {TK_CF_XDR_ZDM, TK_CF_XDR_GSDJ, TK_CF_XDR_SWDJ},
};

/* The name of a legacy key id, for messages. */
static const char *key_name_of(int id)
{
    size_t i;

    for (i = 0; i < sgs_record_national_key_count; i++) {
        if (sgs_record_national_keys[i].id == id) {
            return sgs_record_national_keys[i].name;
        }
    }
    return "";
}

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
    *xk = sgs_record_has_key_prefix(rd, "XK_");
    *cf = sgs_record_has_key_prefix(rd, "CF_");
    return *xk || *cf;
}

/* The item id into v, or when it is absent the legacy item old (TK_NONE: none),
 * whose name then becomes the field name at offset name_off of the view's
 * field names (a copy of the family's, made then). 1 when the legacy item was
 * read. */
static int item(reader *rd, const size_t *at, int id, int old, record_view *raw, size_t name_off,
                rval *v)
{
    const char *name;

    if (at[id] != 0 || old == TK_NONE || at[old] == 0) {
        rval_tok(rd, at[id], v);
        return 0;
    }
    rval_tok(rd, at[old], v);
    raw->legacy = 1;
    if (raw->names != &raw->names_buf) {
        raw->names_buf = *raw->names;
        raw->names = &raw->names_buf;
    }
    name = key_name_of(old);
    memcpy((char *)&raw->names_buf + name_off, &name, sizeof(name));
    return 1;
}

int sgs_record_read_national(reader *rd, const size_t *at, record_view *raw)
{
    const national_keys *k;
    int xk, cf;
    size_t i;

    if (!is_national(rd, at, &xk, &cf)) {
        return 0;
    }
    k = xk ? &license_keys : &penalty_keys;
    raw->format = SGS_FORMAT_NATIONAL;
    raw->national_kind = xk && cf ? SGS_KIND_NONE : xk ? SGS_KIND_LICENSE : SGS_KIND_PENALTY;
    /* (both families: the licence names, bad_kind names XK_WSH) */
    raw->names = raw->national_kind == SGS_KIND_PENALTY ? &sgs_record_penalty_names
                                                        : &sgs_record_license_names;
    rval_tok(rd, at[k->unit_id], &raw->unit_id);
    rval_tok(rd, at[k->unit_name], &raw->unit_name);
    if (xk && cf && raw->unit_id.type != V_STRING && raw->unit_name.type != V_STRING) {
        rval_tok(rd, at[penalty_keys.unit_id], &raw->unit_id);
        rval_tok(rd, at[penalty_keys.unit_name], &raw->unit_name);
    }
    rval_tok(rd, at[k->doc_no], &raw->doc_no);
    rval_tok(rd, at[k->decision_date], &raw->decision_date);
    rval_tok(rd, at[TK_REPORTED_AT], &raw->reported_at);
    rval_tok(rd, at[TK_SYNC_STATUS], &raw->op);
    raw->subject.type = V_OBJECT;
    item(rd, at, k->subject_name, k->old_subject_name, raw, offsetof(field_names, subject_name),
         &raw->subject_name);
    rval_tok(rd, at[k->subject_type], &raw->subject_type);
    rval_tok(rd, at[k->subject_uscc], &raw->subject_uscc);
    rval_tok(rd, at[k->id_type], &raw->subject_id_type);
    if (item(rd, at, k->subject_id_no, k->old_id_no, raw, offsetof(field_names, subject_id_no),
             &raw->subject_id_no)) {
        /* the legacy item is a resident ID by definition, whatever a type says */
        raw->subject_id_type.type = V_ABSENT;
    }
    for (i = 0; i < 3; i++) {
        if (at[k->old_codes[i]] != 0) {
            raw->legacy = 1;
            if (raw->old_code_field == NULL) {
                raw->old_code_field = key_name_of(k->old_codes[i]);
            }
        }
    }
    raw->authority.type = V_OBJECT;
    item(rd, at, k->authority_name, k->old_authority_name, raw,
         offsetof(field_names, authority_name), &raw->authority_name);
    rval_tok(rd, at[k->authority_uscc], &raw->authority_uscc);
    if (raw->national_kind == SGS_KIND_LICENSE) {
        raw->license.type = V_OBJECT;
        rval_tok(rd, at[TK_XK_YXQZ], &raw->valid_from);
        item(rd, at, TK_XK_YXQZI, k->old_valid_to, raw, offsetof(field_names, valid_to),
             &raw->valid_to);
    } else if (raw->national_kind == SGS_KIND_PENALTY) {
        raw->penalty.type = V_OBJECT;
        rval_tok(rd, at[TK_CF_NR_FK], &raw->fine_amount);
    }
    return 1;
}

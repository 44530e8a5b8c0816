/* sgs-gen: the native writer: a record event of REFERENCE §3, with the one rule
 * an invalid record breaks written into it. */
#include "gen.h"

#include "sgs/ident.h"

static const char *const subj_type_native[] = {"legal_person", "individual_business",
                                               "natural_person"};

/* Replaces the check character (position 17) by another one of alphabet. */
static void bad_check(char *code, const char *alphabet)
{
    /* replace the last character by another one of the alphabet */
    const char *p = strchr(alphabet, code[17]);
    size_t n = strlen(alphabet), i = p ? (size_t)(p - alphabet) : 0;
    code[17] = alphabet[(i + 1 + (unsigned char)code[9] % (n - 1)) % n];
}

void gen_native_render(const struct gen *g, sgs_buf *b, const struct rec *rc,
                       const struct render *msg)
{
    struct content c;
    char buf[512];
    int first = 1;
    const char *auth_name, *auth_uscc;
    char auth_bad[19];

    gen_units_authority(g, rc, &auth_name, &auth_uscc);
    gen_fields_build(g, rc, &c);
    bputc(b, '{');
    if (c.record_id[0])
        jkv(b, "record_id", c.record_id, &first);
    jkv(b, "kind", rc->kind == KIND_LICENSE ? "license" : "penalty", &first);
    jkv(b, "unit_id", gen_units_rec_id(g, rc), &first);
    jkey(b, "doc_no", &first);
    gen_serials_put_doc(g, b, rc, msg->vseed);
    if (rc->rule == R_BAD_DATE) {
        int y, m, d;
        static const char *const bad_md[] = {"02-30", "02-31", "04-31", "06-31",
                                             "09-31", "11-31", "13-01", "00-15"};
        sgs_day_to_ymd(rc->report_day, &y, &m, &d);
        snprintf(buf, sizeof(buf), "%04d-%s", y, bad_md[rc->seed % ARRAY_LEN(bad_md)]);
        jkv(b, "decision_date", buf, &first);
    } else {
        jday(b, "decision_date", rc->decision, &first);
    }
    if (!rc->no_reported)
        jkv(b, "reported_at", sgs_rfc3339_format(rc->report_ts, g->tz, buf), &first);

    /* subject */
    jkey(b, "subject", &first);
    {
        int f2 = 1;
        bputc(b, '{');
        if (rc->rule == R_MISSING_FIELD && c.variant % 2 == 0)
            jkv(b, "name", "", &f2);
        else
            jkv(b, "name", c.subj_name, &f2);
        jkv(b, "type", subj_type_native[c.subj], &f2);
        if (rc->rule == R_BAD_USCC && c.variant % 3 != 2)
            bad_check(c.uscc, gen_uscc_alphabet);
        jkv_or_null(b, "uscc", c.uscc, &f2);
        if (rc->rule == R_BAD_ID_NO) {
            if (c.variant % 2 == 0) {
                bad_check(c.id_no, "10X98765432");
            } else { /* a birth date that does not exist, with a right check digit */
                memcpy(c.id_no + 10, "0230", 4);
                c.id_no[17] = sgs_idno_check_char(c.id_no);
            }
        }
        jkv_or_null(b, "id_no", c.id_no, &f2);
        bputc(b, '}');
    }
    jkey(b, "authority", &first);
    {
        int f2 = 1;
        bputc(b, '{');
        if (!(rc->rule == R_MISSING_FIELD && c.variant % 2 == 1))
            jkv(b, "name", auth_name, &f2);
        if (rc->rule == R_BAD_USCC && c.variant % 3 == 2) {
            memcpy(auth_bad, auth_uscc, 19);
            bad_check(auth_bad, gen_uscc_alphabet);
            auth_uscc = auth_bad;
        }
        jkv(b, "uscc", auth_uscc, &f2);
        bputc(b, '}');
    }

    /* license / penalty */
    jkey(b, "license", &first);
    if (rc->kind == KIND_LICENSE && rc->rule != R_BAD_KIND) {
        int f2 = 1;
        bputc(b, '{');
        jkv(b, "category", c.lic->category, &f2);
        jkv(b, "content", c.lic->content, &f2);
        jday(b, "valid_from", c.valid_from, &f2);
        if (rc->rule == R_BAD_VALIDITY)
            jday(b, "valid_to", c.valid_from - 1 - (sgs_day)(rc->seed % 400), &f2);
        else if (c.has_valid_to)
            jday(b, "valid_to", c.valid_to, &f2);
        else
            jkv_or_null(b, "valid_to", NULL, &f2);
        bputc(b, '}');
    } else {
        bputs(b, "null");
    }
    jkey(b, "penalty", &first);
    if (rc->kind == KIND_PENALTY && rc->rule != R_BAD_KIND) {
        int f2 = 1, f3 = 1;
        char text[512];
        bputc(b, '{');
        jkey(b, "category", &f2);
        bputc(b, '[');
        for (size_t i = 0; i < ARRAY_LEN(gen_cat_names); i++)
            if (c.cats & (1u << i)) {
                if (!f3)
                    bputc(b, ',');
                f3 = 0;
                jstr(b, gen_cat_names[i]);
            }
        bputc(b, ']');
        gen_fields_penalty_text(&c, text, sizeof(text));
        jkv(b, "content", text, &f2);
        jkey(b, "fine_amount", &f2);
        if (rc->rule == R_BAD_AMOUNT) {
            gen_fields_format_wan(buf, sizeof(buf), c.fine > 0 ? c.fine : 5000);
            bputc(b, '-');
            bputs(b, buf);
        } else if (c.fine >= 0) {
            gen_fields_format_wan(buf, sizeof(buf), c.fine);
            bputs(b, buf);
        } else {
            bputs(b, "null");
        }
        jkv(b, "violation", c.pen->violation, &f2);
        jkv(b, "basis", c.pen->basis, &f2);
        bputc(b, '}');
    } else {
        bputs(b, "null");
    }
    gen_extras_put(b, msg, 0, &first);
    bputc(b, '}');
}

/* sgs-gen: the expectation file (--expect): what a correct consumer counts,
 * from the generator's own choices (not by parsing its output). */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>

#include <jansson.h>

void gen_expect_count(struct gen *g)
{
    for (size_t i = 0; i < g->n_recs; i++) {
        const struct rec *rc2 = &g->recs[i];
        struct gunit *gu = &g->units[rc2->unit];
        gu->records++;
        gu->late += rc2->late;
        gu->invalid += rc2->rule != R_NONE;
        if (rc2->kind == KIND_LICENSE)
            gu->licenses++;
        else
            gu->penalties++;
    }
}

static json_t *unit_counts(const struct gunit *gu)
{
    return json_pack("{sI sI sI sI sI sI}", "records", (json_int_t)gu->records, "late",
                     (json_int_t)gu->late, "invalid", (json_int_t)gu->invalid, "duplicates",
                     (json_int_t)gu->duplicates, "licenses", (json_int_t)gu->licenses, "penalties",
                     (json_int_t)gu->penalties);
}

/* What the options of the extra stream add; nothing without them (so the
 * file stays what it was). */
static void add_extras(const struct gen *g, json_t *root, json_t *units)
{
    static const char *const key_names[] = {"unit", "none", "alias", "name", "mixed"};
    int changes = g->o.updates > 0 || g->o.revokes > 0, organ = g->o.by_organ > 0;
    long updates = 0, revoked = 0, from_organ = 0;

    for (size_t i = 0; i < g->n_units; i++) {
        const struct gunit *gu = &g->units[i];
        json_t *u = json_object_get(units, gu->u->id);
        if (changes) {
            json_object_set_new(u, "updates", json_integer(gu->updates));
            json_object_set_new(u, "revoked", json_integer(gu->revoked));
        }
        if (organ)
            json_object_set_new(u, "from_organ", json_integer(gu->from_organ));
        updates += gu->updates;
        revoked += gu->revoked;
        from_organ += gu->from_organ;
    }
    if (changes) {
        json_object_set_new(root, "updates", json_integer(updates));
        json_object_set_new(root, "revoked", json_integer(revoked));
        json_object_set_new(root, "unknown_record", json_integer((json_int_t)g->n_phantoms));
    }
    if (organ)
        json_object_set_new(root, "from_organ", json_integer(from_organ));
    if (g->o.resend_other_key > 0)
        json_object_set_new(root, "resent_other_key", json_integer(g->o.resend_other_key));
    if (g->o.key != KEY_UNIT)
        json_object_set_new(root, "key", json_string(key_names[g->o.key]));
}

int gen_expect_write(const struct gen *g, char *errstr, size_t errstr_size)
{
    json_t *root = json_object(), *units = json_object(), *gaps = json_object(),
           *docs = json_object();
    long late = 0, invalid = 0;
    char buf[512];

    for (size_t i = 0; i < g->n_units; i++) {
        const struct gunit *gu = &g->units[i];
        json_object_set_new(units, gu->u->id, unit_counts(gu));
        json_object_set_new(gaps, gu->u->id, json_array());
        json_object_set_new(docs, gu->u->id, json_array());
        late += gu->late;
        invalid += gu->invalid;
    }
    for (size_t k = 0; k < g->n_gap_groups; k++) {
        const struct gap_group *gg = &g->gap_groups[k];
        json_t *missing = json_array();
        for (size_t j = 0; j < gg->n_missing; j++) {
            snprintf(buf, sizeof(buf), "%" PRIu32, g->missing[gg->first_missing + j]);
            json_array_append_new(missing, json_string(buf));
        }
        json_array_append_new(json_object_get(gaps, g->units[gg->unit].u->id),
                              json_pack("{ss si so}", "kind",
                                        gg->kind == KIND_LICENSE ? "license" : "penalty", "year",
                                        (int)gg->year, "missing", missing));
    }
    /* a few sent numbers per unit: its first, middle and last valid record */
    {
        size_t i = 0;
        while (i < g->n_recs) {
            size_t j = i, nv = 0;
            while (j < g->n_recs && g->recs[j].unit == g->recs[i].unit) {
                nv += g->recs[j].rule == R_NONE;
                j++;
            }
            size_t want[3] = {0, nv / 2, nv ? nv - 1 : 0}, seen = 0, w = 0;
            json_t *arr = json_object_get(docs, g->units[g->recs[i].unit].u->id);
            for (size_t k = i; k < j && w < 3 && nv; k++) {
                if (g->recs[k].rule != R_NONE)
                    continue;
                while (w < 3 && want[w] == seen) {
                    if (w == 0 || want[w] != want[w - 1]) {
                        gen_serials_norm(g, &g->recs[k], buf, sizeof(buf));
                        json_array_append_new(arr, json_string(buf));
                    }
                    w++;
                }
                seen++;
            }
            i = j;
        }
    }
    json_object_set_new(root, "month", json_string(g->o.month));
    json_object_set_new(root, "messages", json_integer((json_int_t)g->n_evs));
    json_object_set_new(root, "units", units);
    json_object_set_new(root, "unattributed", json_integer(g->o.unknown));
    json_object_set_new(root, "malformed", json_integer(g->o.malformed));
    json_object_set_new(
        root, "rejects",
        json_integer(invalid + g->o.malformed + g->o.unknown + (json_int_t)g->n_phantoms));
    json_object_set_new(root, "late_alerts", json_integer(late));
    json_object_set_new(root, "gaps", gaps);
    json_object_set_new(root, "doc_nos", docs);
    add_extras(g, root, units);
    if (json_dump_file(root, g->o.expect, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        snprintf(errstr, errstr_size, "%s: cannot write: %s", g->o.expect, strerror(errno));
        json_decref(root);
        return -1;
    }
    json_decref(root);
    return 0;
}

/* sgs-gen: message keys (--key, --resend-other-key). Feeds key their messages
 * every way (REFERENCE §2): the unit id, nothing, an alias id of the unit, its
 * name. A decision's messages (its original, duplicates, updates, revoke)
 * share one key, so they share a partition and its order; only a duplicate of
 * --resend-other-key goes under another one. */
#include "gen.h"

#include "sgs/hash.h"

/* The kinds of key; KEY_MIXED picks one of the others per decision. */
enum { N_KEY_KINDS = 4 }; /* KEY_UNIT, KEY_NONE, KEY_ALIAS, KEY_NAME */

#define KEY_SALT   0x6B65792D6B696E64ULL /* the key kind of a decision (mixed) */
#define OTHER_SALT 0x6F746865722D6B79ULL /* the other key of a re-sent duplicate */

/* The key of a record's messages under kind. */
static const char *key_text(const struct gen *g, const struct rec *rc, enum key_mode kind)
{
    const char *id = gen_units_rec_id(g, rc);

    switch (kind) {
    case KEY_NONE:
        return NULL;
    case KEY_ALIAS:
        if (!rc->foreign && g->units[rc->unit].alias_id)
            return g->units[rc->unit].alias_id;
        return id; /* a unit without an alias id: its id */
    case KEY_NAME:
        return rc->foreign ? g->foreign[rc->unit].fu->name : g->units[rc->unit].u->name;
    default:
        return id;
    }
}

static enum key_mode kind_of(const struct gen *g, uint64_t seed)
{
    rng r = {seed ^ KEY_SALT};

    if (g->o.key != KEY_MIXED)
        return g->o.key;
    return (enum key_mode)rng_below(&r, N_KEY_KINDS);
}

static int same_key(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

const char *gen_keys_of(const struct gen *g, const struct ev *e)
{
    const struct rec *rc;
    const char *key;

    if (e->type == EV_MALFORMED) {
        const struct gunit *gu;
        if (!g->n_units)
            return NULL;
        gu = &g->units[e->rec % g->n_units];
        switch (kind_of(g, e->vseed)) {
        case KEY_NONE:
            return NULL;
        case KEY_ALIAS:
            return gu->alias_id ? gu->alias_id : gu->u->id;
        case KEY_NAME:
            return gu->u->name;
        default:
            return gu->u->id;
        }
    }
    rc = &g->recs[e->rec];
    key = key_text(g, rc, kind_of(g, rc->seed));
    if (e->other_key) {
        /* another kind whose key differs (there is always one: none or the id) */
        const char *others[N_KEY_KINDS];
        size_t n = 0;
        rng r = {e->vseed ^ OTHER_SALT};
        for (int k = 0; k < N_KEY_KINDS; k++) {
            const char *o = key_text(g, rc, (enum key_mode)k);
            int dup = same_key(o, key);
            for (size_t j = 0; j < n && !dup; j++)
                dup = same_key(o, others[j]);
            if (!dup)
                others[n++] = o;
        }
        key = others[rng_below(&r, (uint32_t)n)];
    }
    return key;
}

int gen_keys_in_jsonl(const struct gen *g)
{
    return g->o.key != KEY_UNIT || g->o.resend_other_key > 0;
}

int gen_keys_partition(const struct gen *g, const struct ev *e, int n_partitions)
{
    const struct rec *rc;

    if (e->type == EV_MALFORMED || n_partitions <= 0)
        return -1;
    rc = &g->recs[e->rec];
    if (!rc->changed || gen_keys_of(g, e) != NULL)
        return -1;
    return (int)(sgs_hash_mix64(rc->seed) % (uint64_t)n_partitions);
}

/* An open-addressing map from an id (bytes) to an index: registry ids to rows,
 * warnings already given, identities of a sample, prefixes of document numbers.
 * Keys are hashed with FNV-1a (sgs/hash.h): the keys come from the registry,
 * Redis or files the operator controls, and a stable hash keeps runs alike. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/hash.h"

struct idmap_slot {
    char *key; /* NULL: empty */
    size_t len;
    size_t value;
    uint64_t hash;
};

struct sgs_agg_idmap {
    struct idmap_slot *slots;
    size_t cap; /* power of two */
    size_t used;
};

sgs_agg_idmap *sgs_agg_idmap_new(size_t expected)
{
    sgs_agg_idmap *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->cap = 16;
    while (m->cap < expected * 2)
        m->cap *= 2;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void sgs_agg_idmap_free(sgs_agg_idmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or the empty slot where it would go. The table is never
 * more than half full, so the probe ends. */
static struct idmap_slot *idmap_find(const sgs_agg_idmap *m, const char *key, size_t len,
                                     uint64_t h)
{
    size_t i = (size_t)h & (m->cap - 1);

    for (;;) {
        struct idmap_slot *s = &m->slots[i];

        if (!s->key)
            return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

static int idmap_grow(sgs_agg_idmap *m)
{
    struct idmap_slot *old = m->slots;
    size_t old_cap = m->cap;
    struct idmap_slot *slots = calloc(old_cap * 2, sizeof(*slots));

    if (!slots)
        return -1;
    m->slots = slots;
    m->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key)
            *idmap_find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    }
    free(old);
    return 0;
}

int sgs_agg_idmap_put(sgs_agg_idmap *m, const char *key, size_t len, size_t value)
{
    uint64_t h = sgs_hash_fnv1a(key, len);
    struct idmap_slot *s;

    if ((m->used + 1) * 2 > m->cap && idmap_grow(m) != 0)
        return -1;
    s = idmap_find(m, key, len, h);
    if (s->key)
        return 1;
    s->key = malloc(len + 1);
    if (!s->key)
        return -1;
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->len = len;
    s->hash = h;
    s->value = value;
    m->used++;
    return 0;
}

int sgs_agg_idmap_get(const sgs_agg_idmap *m, const char *key, size_t len, size_t *value)
{
    const struct idmap_slot *s = idmap_find(m, key, len, sgs_hash_fnv1a(key, len));

    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}

sgs_agg_idmap *sgs_agg_idmap_registry(const sgs_registry *reg)
{
    size_t n = sgs_registry_count(reg);
    sgs_agg_idmap *m = sgs_agg_idmap_new(n);

    for (size_t i = 0; m && i < n; i++) {
        const char *id = sgs_registry_at(reg, i)->id;

        if (sgs_agg_idmap_put(m, id, strlen(id), i) < 0) {
            sgs_agg_idmap_free(m);
            return NULL;
        }
    }
    return m;
}

long sgs_agg_idmap_unit_row(const sgs_agg_idmap *map, const sgs_registry *reg, const char *id,
                            size_t len)
{
    size_t i;
    const sgs_unit *u;

    if (sgs_agg_idmap_get(map, id, len, &i))
        return (long)i;
    /* Not a registry id: an id-like alias (a county department's credit code). */
    u = sgs_registry_find_id(reg, id, len);
    return u ? (long)u->index : -1;
}

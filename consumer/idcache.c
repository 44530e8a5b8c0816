/* The identity cache (idcache.h). */
#include "idcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/buf.h"
#include "sgs/clock.h"
#include "sgs/hash.h"
#include "sgs/store.h"

#define KEY_MAX (SGS_STORE_FIELD_MAX + 16)

static int rehash(sgs_idcache *c, size_t cap)
{
    sgs_idc_entry **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < c->cap; i++) {
        sgs_idc_entry *e = c->slots[i];
        if (!e)
            continue;
        size_t j = (size_t)e->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

/* The key of an entry: <kind><sfx> NUL <field>; its length, 0 when too long. */
static size_t make_key(char *key, char kind, const char *sfx, size_t sfx_len, const char *field,
                       size_t field_len)
{
    size_t klen = 1 + sfx_len + 1 + field_len;
    if (klen > KEY_MAX)
        return 0;
    key[0] = kind;
    memcpy(key + 1, sfx, sfx_len);
    key[1 + sfx_len] = '\0';
    memcpy(key + 2 + sfx_len, field, field_len);
    return klen;
}

sgs_idc_entry *sgs_idcache_find(const sgs_idcache *c, char kind, const char *sfx, size_t sfx_len,
                                const char *field, size_t field_len)
{
    char key[KEY_MAX];
    size_t klen = make_key(key, kind, sfx, sfx_len, field, field_len), j;
    uint64_t h;
    if (klen == 0 || c->n == 0)
        return NULL;
    h = sgs_hash_seeded(c->seed, key, klen);
    for (j = (size_t)h & (c->cap - 1); c->slots[j]; j = (j + 1) & (c->cap - 1)) {
        sgs_idc_entry *e = c->slots[j];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    }
    return NULL;
}

sgs_idc_entry *sgs_idcache_get(sgs_idcache *c, char kind, const char *sfx, size_t sfx_len,
                               const char *field, size_t field_len, int *added)
{
    char key[KEY_MAX];
    size_t klen = make_key(key, kind, sfx, sfx_len, field, field_len), j;
    uint64_t h;
    *added = 0;
    if (klen == 0)
        return NULL;
    h = sgs_hash_seeded(c->seed, key, klen);
    if (2 * (c->n + 1) > c->cap && rehash(c, c->cap ? 2 * c->cap : 1024) != 0)
        return NULL;
    for (j = (size_t)h & (c->cap - 1); c->slots[j]; j = (j + 1) & (c->cap - 1)) {
        sgs_idc_entry *e = c->slots[j];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    }
    sgs_idc_entry *e = malloc(sizeof(*e) + klen);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->klen = (uint32_t)klen;
    e->sfx = (uint32_t)(1 + sfx_len);
    e->state = SGS_IDC_PENDING;
    memcpy(e->key, key, klen);
    c->slots[j] = e;
    if (c->n++ == 0)
        c->created_ms = sgs_clock_mono_ms();
    c->bytes += sizeof(*e) + klen;
    *added = 1;
    return e;
}

int sgs_idc_entry_cmp(const void *x, const void *y)
{
    const sgs_idc_entry *p = *(sgs_idc_entry *const *)x, *q = *(sgs_idc_entry *const *)y;
    size_t pl, ql;
    const char *pf = sgs_idc_field(p, &pl), *qf = sgs_idc_field(q, &ql);
    int c = strcmp(p->key, q->key); /* up to the NUL after the key */
    if (c != 0)
        return c;
    c = memcmp(pf, qf, pl < ql ? pl : ql);
    if (c != 0)
        return c;
    return pl < ql ? -1 : pl > ql;
}

int sgs_idcache_extend(sgs_idcache *c, sgs_idc_entry *e, size_t n)
{
    if (n > e->cap) {
        size_t cap = e->cap ? e->cap : 16;
        while (cap < n)
            cap *= 2;
        unsigned char *v = realloc(e->val, cap);
        if (!v)
            return -1;
        c->bytes += cap - e->cap;
        e->val = v;
        e->cap = (uint32_t)cap;
    }
    if (n > e->len) {
        memset(e->val + e->len, 0, n - e->len);
        e->len = (uint32_t)n;
    }
    return 0;
}

int sgs_idcache_set(sgs_idcache *c, sgs_idc_entry *e, const void *val, size_t len)
{
    e->len = 0;
    if (sgs_idcache_extend(c, e, len) != 0)
        return -1;
    if (len)
        memcpy(e->val, val, len);
    e->state = SGS_IDC_KNOWN;
    return 0;
}

int sgs_idcache_setbit(sgs_idcache *c, sgs_idc_entry *e, uint32_t bit)
{
    unsigned m = 0x80u >> (bit % 8);
    int old;
    if (sgs_idcache_extend(c, e, (size_t)bit / 8 + 1) != 0)
        return -1;
    old = (e->val[bit / 8] & m) != 0;
    e->val[bit / 8] |= (unsigned char)m;
    return old;
}

int64_t sgs_idcache_int(const sgs_idc_entry *e)
{
    char buf[32];
    char *end;
    long long v;
    if (e->len == 0 || e->len >= sizeof(buf))
        return 0;
    memcpy(buf, e->val, e->len);
    buf[e->len] = '\0';
    v = strtoll(buf, &end, 10);
    return *end == '\0' ? (int64_t)v : 0;
}

int sgs_idcache_set_int(sgs_idcache *c, sgs_idc_entry *e, int64_t v)
{
    char buf[SGS_I64_CHARS];
    return sgs_idcache_set(c, e, buf, sgs_fmt_i64(buf, v));
}

void sgs_idcache_empty_key(sgs_idcache *c, char kind, const char *sfx, size_t sfx_len)
{
    for (size_t i = 0; i < c->cap; i++) {
        sgs_idc_entry *e = c->slots[i];
        if (e && e->key[0] == kind && e->sfx == 1 + sfx_len &&
            memcmp(e->key + 1, sfx, sfx_len) == 0) {
            e->len = 0;
            e->state = SGS_IDC_KNOWN;
        }
    }
}

/* Drops every entry but the keys' states when keep_keys. */
static void drop(sgs_idcache *c, int keep_keys)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->cap; i++) {
        sgs_idc_entry *e = c->slots[i];
        if (!e)
            continue;
        c->slots[i] = NULL;
        if (keep_keys && e->key[0] == SGS_IDC_KEYS) {
            c->slots[kept++] = e; /* kept < i + 1: a slot already emptied */
            continue;
        }
        c->bytes -= sizeof(*e) + e->klen + e->cap;
        free(e->val);
        free(e);
    }
    c->n = kept;
    if (!keep_keys) {
        c->bytes = 0;
        c->keys_complete = 0;
    }
    if (kept) {
        /* put the kept ones back where lookups find them */
        sgs_idc_entry **tmp = malloc(kept * sizeof(*tmp));
        if (!tmp) {
            drop(c, 0);
            return;
        }
        memcpy(tmp, c->slots, kept * sizeof(*tmp));
        memset(c->slots, 0, kept * sizeof(*tmp));
        for (size_t k = 0; k < kept; k++) {
            size_t j = (size_t)tmp[k]->hash & (c->cap - 1);
            while (c->slots[j])
                j = (j + 1) & (c->cap - 1);
            c->slots[j] = tmp[k];
        }
        free(tmp);
        c->created_ms = sgs_clock_mono_ms();
    }
}

void sgs_idcache_clear(sgs_idcache *c)
{
    drop(c, 0);
    c->n_drops = 0;
}

int sgs_idcache_note_drop(sgs_idcache *c, sgs_idc_entry *e)
{
    if (c->drops_mark != c->mark) {
        c->drops_mark = c->mark;
        c->n_drops = 0;
    }
    if (sgs_array_grow((void **)&c->drops, &c->cap_drops, c->n_drops, sizeof(*c->drops), 8) != 0)
        return -1;
    c->drops[c->n_drops++] = e;
    return 0;
}

int sgs_idcache_drops(const sgs_idcache *c, const sgs_idc_entry *e)
{
    if (c->drops_mark != c->mark)
        return 0;
    for (size_t i = 0; i < c->n_drops; i++)
        if (c->drops[i] == e)
            return 1;
    return 0;
}

void sgs_idcache_age(sgs_idcache *c, int64_t now_ms)
{
    /* only this partition's batches write the keys' states: they stay */
    if (c->n &&
        (now_ms - c->created_ms > SGS_IDCACHE_MAX_AGE_MS || c->bytes > SGS_IDCACHE_MAX_BYTES))
        drop(c, 1);
}

void sgs_idcache_free(sgs_idcache *c)
{
    sgs_idcache_clear(c);
    free(c->drops);
    c->drops = NULL;
    c->cap_drops = 0;
    free(c->slots);
    c->slots = NULL;
    c->cap = 0;
}

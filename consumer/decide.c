/* Deciding a batch's identities in the consumer (decide.h). */
#include "decide.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/buf.h"
#include "sgs/date.h"
#include "sgs/store.h"

static int list_add(sgs_decide_list *l, sgs_idc_entry *e)
{
    if (sgs_array_grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v), 256) != 0)
        return -1;
    l->v[l->n++] = e;
    return 0;
}

void sgs_decide_list_free(sgs_decide_list *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* The entry kind/sfx/field, listed in used (and in miss when it must be read). */
static sgs_idc_entry *need(sgs_idcache *c, char kind, const char *sfx, size_t sfx_len,
                           const char *field, size_t field_len, sgs_decide_list *used,
                           sgs_decide_list *miss)
{
    int added;
    sgs_idc_entry *e = sgs_idcache_get(c, kind, sfx, sfx_len, field, field_len, &added);
    if (!e)
        return NULL;
    if (e->mark != c->mark) {
        e->mark = c->mark;
        if (list_add(used, e) != 0 || (e->state == SGS_IDC_PENDING && list_add(miss, e) != 0))
            return NULL;
    }
    return e;
}

/* Entries read when missing, never written as identities: the late rate's,
 * and those read ahead. */
typedef struct need_ctx {
    sgs_idcache *c;
    sgs_decide_list *miss;
} need_ctx;

static int need_count(void *ctx, char kind, const char *sfx, const char *field, size_t field_len)
{
    need_ctx *x = ctx;
    int added;
    sgs_idc_entry *e = sgs_idcache_get(x->c, kind, sfx, strlen(sfx), field, field_len, &added);
    if (!e)
        return -1;
    if (e->mark != x->c->mark) {
        e->mark = x->c->mark;
        if (e->state == SGS_IDC_PENDING && list_add(x->miss, e) != 0)
            return -1;
    }
    return 0;
}

static int plan(sgs_idcache *c, const sgs_tally_conf *cf, sgs_batch *b, sgs_decide_list *used,
                sgs_decide_list *miss)
{
    need_ctx nx = {c, miss};
    char year[SGS_I64_CHARS], month[8], field[SGS_STORE_FIELD_MAX + 16], ik[24];
    int year_of = -1, bitmap_of = -1;
    size_t yl = 0, ml = 0;
    sgs_day month_day = 0;
    sgs_idc_entry *ke = NULL;
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        const sgs_batch_group *g = &b->groups[e->group];
        int looks = g->type == SGS_GROUP_REVOKE; /* a revoke only looks */
        char kind = e->bitmap ? SGS_IDC_BITS : SGS_IDC_OWN;
        e->ce = e->ge[0] = e->ge[1] = e->ke = NULL;
        if (e->dup_of != UINT32_MAX)
            continue; /* a mirror: decided with the one it follows */
        if (e->year != year_of || e->bitmap != bitmap_of) {
            /* most identities of a batch share their key */
            yl = sgs_fmt_i64(year, e->year);
            int n = sgs_decide_key_state_field(ik, sizeof(ik), e->bitmap, e->year);
            year_of = e->year;
            bitmap_of = e->bitmap;
            if (!(ke = need(c, SGS_IDC_KEYS, "", 0, ik, (size_t)n, used, miss)))
                return -1;
        }
        e->ke = ke;
        e->ce = need(c, kind, year, yl, b->arena.data + e->field_off, e->field_len, used, miss);
        if (!e->ce)
            return -1;
        if (looks)
            continue;
        if (ml == 0 || g->day != month_day) {
            sgs_day_format_month(g->day, month);
            ml = strlen(month);
            month_day = g->day;
        }
        if (e->bitmap) {
            /* "<year>|<bitmap field>" */
            size_t n = yl + 1 + e->field_len;
            if (n >= sizeof(field))
                return -1;
            memcpy(field, year, yl);
            field[yl] = SGS_STORE_FIELD_SEP[0];
            memcpy(field + yl + 1, b->arena.data + e->field_off, e->field_len);
            if (!(e->ge[0] = need(c, SGS_IDC_GAPS, month, ml, field, n, used, miss)))
                return -1;
        } else if (e->gap_len) {
            uint32_t c0 = e->gap_lo / SGS_STORE_CHUNK_BITS, c1 = e->gap_hi / SGS_STORE_CHUNK_BITS;
            for (uint32_t k = c0; k <= c1 && k - c0 < 2; k++) {
                char num[SGS_I64_CHARS];
                size_t nl = sgs_fmt_i64(num, k), n = e->gap_len;
                if (n + 1 + nl >= sizeof(field))
                    return -1;
                memcpy(field, b->arena.data + e->gap_off, n); /* "<base>|<chunk>" */
                field[n++] = SGS_STORE_FIELD_SEP[0];
                memcpy(field + n, num, nl);
                n += nl;
                if (!(e->ge[k - c0] = need(c, SGS_IDC_GAPS, month, ml, field, n, used, miss)))
                    return -1;
            }
        }
    }
    if (used->n > 1)
        qsort(used->v, used->n, sizeof(*used->v), sgs_idc_entry_cmp);
    return sgs_tally_plan(cf, b, need_count, &nx);
}

int sgs_decide_plan(sgs_idcache *c, const sgs_tally_conf *cf, sgs_batch *b, sgs_decide_list *used,
                    sgs_decide_list *miss)
{
    used->n = miss->n = 0;
    c->mark++;
    if (plan(c, cf, b, used, miss) != 0) {
        sgs_idcache_clear(c);
        used->n = miss->n = 0;
        return -1;
    }
    return 0;
}

/* Lists the entries the next batches will likely need (decide.h) in *miss. */
static int ahead(sgs_idcache *c, const sgs_decide_list *used, sgs_decide_list *miss)
{
    need_ctx nx = {c, miss};
    for (size_t i = 0, n = used->n; i < n; i++) {
        const sgs_idc_entry *u = used->v[i];
        char field[SGS_STORE_FIELD_MAX + 16], num[SGS_I64_CHARS];
        size_t flen, cut, nl;
        const char *f;
        uint64_t chunk = 0;
        int len;
        if (u->key[0] != SGS_IDC_BITS && u->key[0] != SGS_IDC_GAPS)
            continue;
        /* "...|<chunk>": the same field with the chunk after it */
        f = sgs_idc_field(u, &flen);
        for (cut = flen; cut > 0 && f[cut - 1] >= '0' && f[cut - 1] <= '9'; cut--)
            ;
        if (cut == flen || cut == 0 || f[cut - 1] != SGS_STORE_FIELD_SEP[0] || flen - cut > 9)
            continue;
        for (size_t k = cut; k < flen; k++)
            chunk = chunk * 10 + (uint64_t)(f[k] - '0');
        nl = sgs_fmt_i64(num, (int64_t)chunk + 1);
        if (cut + nl >= sizeof(field))
            continue;
        memcpy(field, f, cut);
        memcpy(field + cut, num, nl);
        len = (int)(cut + nl);
        /* (an entry's suffix ends with a NUL in its key) */
        if (need_count(&nx, u->key[0], u->key + 1, field, (size_t)len) != 0)
            return -1;
    }
    for (size_t i = 0, n = miss->n; i < n; i++) {
        const sgs_idc_entry *m = miss->v[i];
        size_t flen;
        const char *f;
        sgs_day day;
        if (m->key[0] != SGS_IDC_DAY || sgs_day_parse(m->key + 1, m->sfx - 1, &day) != 0)
            continue;
        /* a day bucket read: the same field of the days after it */
        f = sgs_idc_field(m, &flen);
        for (int k = 1; k <= SGS_DECIDE_DAYS_AHEAD; k++) {
            char d[16];
            sgs_day_format(day + k, d);
            if (need_count(&nx, SGS_IDC_DAY, d, f, flen) != 0)
                return -1;
        }
    }
    return 0;
}

int sgs_decide_ahead(sgs_idcache *c, const sgs_decide_list *used, sgs_decide_list *miss)
{
    if (ahead(c, used, miss) != 0) {
        sgs_idcache_clear(c);
        return -1;
    }
    return 0;
}

int64_t sgs_decide_later(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    if (a == 0 || b == 0)
        return 0;
    return a > b ? a : b;
}

static void keep(const sgs_idcache *c, sgs_idc_entry *e, int64_t at)
{
    if (e->at_mark != c->mark) {
        e->at_mark = c->mark;
        e->at = -1;
    }
    e->at = sgs_decide_later(e->at, at);
}

/* Sets a bit of a gap or bitmap field; marks it dirty when it changed. */
static int set_bit(sgs_idcache *c, sgs_idc_entry *e, uint32_t bit)
{
    int old = sgs_idcache_setbit(c, e, bit);
    if (old < 0)
        return -1;
    if (!old)
        e->dirty = c->mark;
    return 0;
}

/* A decimal integer of at most 18 digits at p (with '-' when neg_ok); the
 * byte after it, or NULL. */
static const unsigned char *parse_i64(const unsigned char *p, const unsigned char *end, int neg_ok,
                                      int64_t *out)
{
    int neg = 0, n = 0;
    int64_t v = 0;
    if (neg_ok && p < end && *p == '-') {
        neg = 1;
        p++;
    }
    for (; p < end && *p >= '0' && *p <= '9' && n < 18; p++, n++)
        v = v * 10 + (*p - '0');
    if (n == 0 || (p < end && *p >= '0' && *p <= '9'))
        return NULL;
    *out = neg ? -v : v;
    return p;
}

int sgs_decide_key_state_field(char *f, size_t size, int bitmap, int year)
{
    if (size < 1 + SGS_I64_CHARS)
        return snprintf(f, size, "%c%d", bitmap ? SGS_IDC_BITS : SGS_IDC_OWN, year);
    f[0] = bitmap ? SGS_IDC_BITS : SGS_IDC_OWN;
    return 1 + (int)sgs_fmt_i64(f + 1, year);
}

int sgs_decide_key_state(const sgs_idc_entry *ke, int64_t *expiry, int64_t *dropped)
{
    const unsigned char *p, *end;
    int64_t e, d;
    *expiry = -1;
    *dropped = 0;
    if (!ke || ke->len == 0)
        return 0;
    p = ke->val;
    end = p + ke->len;
    if (!(p = parse_i64(p, end, 1, &e)) || p == end || *p++ != ' ' ||
        !(p = parse_i64(p, end, 0, &d)) || p != end || e < -1)
        return -1;
    *expiry = e;
    *dropped = d;
    return 0;
}

int sgs_decide_key_state_put(sgs_idcache *c, sgs_idc_entry *ke, int64_t expiry, int64_t dropped)
{
    char buf[2 * SGS_I64_CHARS];
    size_t n = sgs_fmt_i64(buf, expiry);
    buf[n++] = ' ';
    n += sgs_fmt_i64(buf + n, dropped);
    return sgs_idcache_set(c, ke, buf, n);
}

/* Sets a key's state as this batch changes it (written by its script). */
static int key_state_set(sgs_idcache *c, sgs_idc_entry *ke, int64_t expiry, int64_t dropped)
{
    ke->dirty = c->mark;
    return sgs_decide_key_state_put(c, ke, expiry, dropped);
}

/* A key whose expiry has come by the batch's clock is dropped by this batch
 * (the script deletes it first): its fields are empty from now on, and its
 * state remembers the latest expiry of a dropped incarnation. Redis's own
 * expiry of the key comes two days later (script.c), so a key is never gone
 * in Redis before the consumer knows it is. */
static int resolve_key(sgs_idcache *c, const sgs_batch *b, sgs_idc_entry *ke)
{
    int64_t expiry, dropped;
    size_t flen;
    const char *f = sgs_idc_field(ke, &flen);
    if (sgs_decide_key_state(ke, &expiry, &dropped) != 0) {
        /* not a state this consumer wrote: kept as a key never dropped */
        expiry = -1;
        dropped = 0;
        if (key_state_set(c, ke, expiry, dropped) != 0)
            return -1;
    }
    if (expiry <= 0 || expiry > b->t0 || flen < 1)
        return 0;
    sgs_idcache_empty_key(c, f[0], f + 1, flen - 1);
    if (sgs_idcache_note_drop(c, ke) != 0)
        return -1;
    return key_state_set(c, ke, -1, dropped > expiry ? dropped : expiry);
}

/* The key's expiry after the batch: the latest of its live expiry and the
 * (decision date + horizon) of the identities the batch wrote or kept there,
 * at least 32 days after the batch's clock (so a rebuild of old months keeps
 * it while it runs); 0 keeps it. */
static int settle_key(sgs_idcache *c, const sgs_batch *b, sgs_idc_entry *ke)
{
    int64_t expiry, dropped, at = sgs_decide_expiry(c, ke), next;
    if (at < 0 || sgs_decide_key_state(ke, &expiry, &dropped) != 0)
        return 0;
    next = sgs_decide_later(expiry, at);
    if (next > 0 && next < b->t0 + 32 * 86400)
        next = b->t0 + 32 * 86400;
    return next == expiry ? 0 : key_state_set(c, ke, next, dropped);
}

static int apply(sgs_idcache *c, sgs_batch *b)
{
    sgs_idc_entry *ke = NULL;
    int64_t expiry = -1, dropped = 0;
    /* the keys whose time has come are dropped first */
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        /* (idempotent: a key met again is not dropped again) */
        if (e->ke && e->ke != ke && resolve_key(c, b, ke = e->ke) != 0)
            return -1;
    }
    /* every identity against the state before the batch: one that may have
     * been in a dropped incarnation of its key is too_old */
    ke = NULL;
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        e->seen = e->too_old = 0;
        if (e->dup_of != UINT32_MAX)
            continue;
        if (e->old && e->ke != ke) /* old ones are few: their key's state */
            sgs_decide_key_state(ke = e->ke, &expiry, &dropped);
        if (e->old && dropped > 0 && e->expire_at <= dropped)
            e->too_old = 1;
        else
            e->seen = e->bitmap ? sgs_idc_bit(e->ce, e->bit) : e->ce->len > 0;
    }
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        if (e->dup_of != UINT32_MAX)
            e->too_old = b->idents[e->dup_of].too_old;
    }
    sgs_batch_count_outcomes(b);
    /* then the batch's own (a revoke only looks; a too_old one is not kept) */
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        if (e->dup_of != UINT32_MAX || e->too_old || b->groups[e->group].type == SGS_GROUP_REVOKE)
            continue;
        if (e->bitmap) {
            keep(c, e->ce, e->expire_at);
            keep(c, e->ke, e->expire_at);
            if (e->seen)
                continue;
            if (set_bit(c, e->ce, e->bit) != 0 || set_bit(c, e->ge[0], e->bit) != 0)
                return -1;
            continue;
        }
        if (e->seen)
            continue;
        keep(c, e->ce, e->expire_at);
        keep(c, e->ke, e->expire_at);
        if (sgs_idcache_set(c, e->ce, SGS_STORE_MEMBER_VALUE, strlen(SGS_STORE_MEMBER_VALUE)) != 0)
            return -1;
        e->ce->dirty = c->mark;
        if (e->gap_len) {
            uint32_t c0 = e->gap_lo / SGS_STORE_CHUNK_BITS;
            for (uint32_t s = e->gap_lo; s <= e->gap_hi; s++) {
                uint32_t k = s / SGS_STORE_CHUNK_BITS - c0;
                if (k < 2 && set_bit(c, e->ge[k], s % SGS_STORE_CHUNK_BITS) != 0)
                    return -1;
            }
        }
    }
    ke = NULL;
    for (size_t i = 0; i < b->n_idents; i++) {
        sgs_batch_ident *e = &b->idents[i];
        /* (idempotent: the expiry is the same when met again) */
        if (e->ke && e->ke != ke && settle_key(c, b, ke = e->ke) != 0)
            return -1;
    }
    return 0;
}

int sgs_decide_apply(sgs_idcache *c, const sgs_tally_conf *cf, sgs_batch *b, sgs_tally *t)
{
    if (apply(c, b) != 0 || sgs_tally_batch(t, cf, b, c) != 0) {
        sgs_idcache_clear(c);
        return -1;
    }
    return 0;
}

int64_t sgs_decide_expiry(const sgs_idcache *c, const sgs_idc_entry *e)
{
    return e->at_mark == c->mark ? e->at : -1;
}

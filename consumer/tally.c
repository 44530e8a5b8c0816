/* What a decided batch adds: counters and the late rate (tally.h). */
#include "tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/date.h"
#include "sgs/hash.h"
#include "sgs/store.h"

/* A unit's counter field: "<unit>|<counter>"; a global one: "_|<counter>". */
#define GLOBAL(counter) SGS_STORE_GLOBAL_UNIT SGS_STORE_FIELD_SEP counter

static uint64_t cell_hash(const char *k, size_t kl, const char *f, size_t fl)
{
    return sgs_hash_fnv1a_from(sgs_hash_fnv1a(k, kl), f, fl);
}

static int rebuild(sgs_tally *t, size_t cap)
{
    uint32_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->n_cells; i++) {
        const sgs_tally_cell *c = &t->cells[i];
        size_t j =
            (size_t)cell_hash(c->key, c->key_len, t->text.data + c->field_off, c->field_len) &
            (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->cap_slots = cap;
    return 0;
}

/* Adds n to field (unit|counter, unit NULL: the text is the whole field) of
 * key (prefix + arg). A field is listed even when n is 0 (the script writes
 * its value then too). */
/* a, sep and b one after the other into dst (cap bytes) with a NUL: their
 * length, -1 when they do not fit. (snprintf's "%s%s%s" costs ~800
 * instructions; this is called for every counter of every batch.) */
static int join(char *dst, size_t cap, const char *a, const char *sep, const char *b)
{
    size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);

    if (na + ns + nb >= cap) {
        return -1;
    }
    memcpy(dst, a, na);
    memcpy(dst + na, sep, ns);
    memcpy(dst + na + ns, b, nb + 1);
    return (int)(na + ns + nb);
}

static void add(sgs_tally *t, const char *key, const char *arg, const char *unit,
                const char *counter, int64_t n)
{
    char k[SGS_TALLY_KEY_MAX], f[SGS_STORE_FIELD_MAX];
    int kl = join(k, sizeof(k), key, "", arg);
    int fl = unit ? join(f, sizeof(f), unit, SGS_STORE_FIELD_SEP, counter)
                  : join(f, sizeof(f), counter, "", "");
    size_t j;
    if (t->oom || kl < 0 || (size_t)kl >= sizeof(k) || fl < 0 || (size_t)fl >= sizeof(f)) {
        t->oom = 1;
        return;
    }
    if (2 * (t->n_cells + 1) > t->cap_slots &&
        rebuild(t, t->cap_slots ? 2 * t->cap_slots : 256) != 0) {
        t->oom = 1;
        return;
    }
    j = (size_t)cell_hash(k, (size_t)kl, f, (size_t)fl) & (t->cap_slots - 1);
    for (uint32_t s; (s = t->slots[j]) != 0; j = (j + 1) & (t->cap_slots - 1)) {
        sgs_tally_cell *c = &t->cells[s - 1];
        if (c->key_len == (uint32_t)kl && c->field_len == (uint32_t)fl &&
            memcmp(c->key, k, (size_t)kl) == 0 &&
            memcmp(t->text.data + c->field_off, f, (size_t)fl) == 0) {
            c->delta += n;
            return;
        }
    }
    if (sgs_array_grow((void **)&t->cells, &t->cap_cells, t->n_cells, sizeof(*t->cells), 64) != 0) {
        t->oom = 1;
        return;
    }
    sgs_tally_cell *c = &t->cells[t->n_cells];
    memset(c->key, 0, sizeof(c->key));
    memcpy(c->key, k, (size_t)kl);
    c->key_len = (uint32_t)kl;
    c->field_off = t->text.len;
    c->field_len = (uint32_t)fl;
    sgs_buf_append(&t->text, f, (size_t)fl);
    c->delta = n;
    t->slots[j] = (uint32_t)++t->n_cells;
    if (t->text.oom)
        t->oom = 1;
}

static void reset(sgs_tally *t)
{
    sgs_buf_reset(&t->text);
    t->text.oom = 0;
    if (t->n_cells && t->slots)
        memset(t->slots, 0, t->cap_slots * sizeof(*t->slots));
    t->n_cells = t->n_lr = t->n_alerts = 0;
    t->oom = 0;
}

void sgs_tally_free(sgs_tally *t)
{
    sgs_buf_free(&t->text);
    free(t->cells);
    free(t->slots);
    free(t->lr);
    free(t->alerts);
    free(t->alert_unit);
    memset(t, 0, sizeof(*t));
}

/* Units of a batch, each once: an open-addressing map unit -> index into a
 * caller's array (sized for every group: a batch has no more units). */
typedef struct unit_map {
    uint32_t *keys; /* unit + 1, 0: empty */
    uint32_t *vals;
    size_t cap, n;
} unit_map;

static int unit_map_init(unit_map *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 2)
        m->cap *= 2;
    m->n = 0;
    m->keys = calloc(m->cap, sizeof(*m->keys));
    m->vals = calloc(m->cap, sizeof(*m->vals));
    return m->keys && m->vals ? 0 : -1;
}

static void unit_map_free(unit_map *m)
{
    free(m->keys);
    free(m->vals);
}

/* The index of unit (a new one gets m->n); *added says which. */
static size_t unit_map_index(unit_map *m, uint32_t unit, int *added)
{
    size_t j = (size_t)sgs_hash_mix64(unit) & (m->cap - 1);
    *added = 0;
    while (m->keys[j]) {
        if (m->keys[j] == unit + 1)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = unit + 1;
    m->vals[j] = (uint32_t)m->n;
    *added = 1;
    return m->n++;
}

/* The groups whose records may count as new: inserts and updates of a unit. */
static int may_count(const sgs_batch_group *g)
{
    return (g->type == SGS_GROUP_RECORD || g->type == SGS_GROUP_UPDATE) && g->unit != UINT32_MAX;
}

/* "<unit>|records" and "<unit>|late", the day-bucket fields of a unit. */
typedef struct unit_fields {
    char rec[SGS_STORE_FIELD_MAX], late[SGS_STORE_FIELD_MAX];
    size_t rec_len, late_len;
} unit_fields;

static int unit_fields_of(unit_fields *f, const char *unit)
{
    int a = join(f->rec, sizeof(f->rec), unit, SGS_STORE_FIELD_SEP, SGS_STORE_C_RECORDS);
    int b = join(f->late, sizeof(f->late), unit, SGS_STORE_FIELD_SEP, SGS_STORE_C_LATE);
    if (a < 0 || (size_t)a >= sizeof(f->rec) || b < 0 || (size_t)b >= sizeof(f->late))
        return -1;
    f->rec_len = (size_t)a;
    f->late_len = (size_t)b;
    return 0;
}

int sgs_tally_plan(const sgs_tally_conf *cf, const sgs_batch *b, sgs_tally_need_fn need, void *ctx)
{
    typedef struct span {
        uint32_t unit;
        sgs_day lo, hi;
    } span;
    span *sp;
    unit_map m = {0};
    int rc = -1;
    if (cf->thr < 0)
        return 0;
    /* per unit: its records' days, and the window before them */
    sp = malloc((b->n_groups + 1) * sizeof(*sp));
    if (!sp || unit_map_init(&m, b->n_groups) != 0) {
        free(sp);
        unit_map_free(&m);
        return -1;
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        const sgs_batch_group *g = &b->groups[i];
        int added;
        size_t k;
        if (!may_count(g))
            continue;
        k = unit_map_index(&m, g->unit, &added);
        if (added) {
            sp[k].unit = g->unit;
            sp[k].lo = sp[k].hi = g->day;
        }
        sp[k].lo = g->day < sp[k].lo ? g->day : sp[k].lo;
        sp[k].hi = g->day > sp[k].hi ? g->day : sp[k].hi;
    }
    for (size_t k = 0; k < m.n; k++) {
        const char *unit = sgs_registry_at(cf->registry, sp[k].unit)->id;
        unit_fields uf;
        if (unit_fields_of(&uf, unit) != 0 || need(ctx, SGS_IDC_LR, "", unit, strlen(unit)) != 0)
            goto out;
        for (sgs_day d = sp[k].lo - cf->window + 1; d <= sp[k].hi; d++) {
            char day[16];
            sgs_day_format(d, day);
            if (need(ctx, SGS_IDC_DAY, day, uf.rec, uf.rec_len) != 0 ||
                need(ctx, SGS_IDC_DAY, day, uf.late, uf.late_len) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    free(sp);
    unit_map_free(&m);
    return rc;
}

/* The cache's entry of a day-bucket field on day d (planned: known). */
static sgs_idc_entry *day_entry(sgs_idcache *c, sgs_day d, const char *field, size_t len)
{
    char day[16];
    int added;
    sgs_day_format(d, day);
    return sgs_idcache_get(c, SGS_IDC_DAY, day, strlen(day), field, len, &added);
}

static int day_add(sgs_idcache *c, sgs_day d, const char *field, size_t len, int64_t n)
{
    sgs_idc_entry *e = day_entry(c, d, field, len);
    if (!e)
        return -1;
    return sgs_idcache_set_int(c, e, sgs_idcache_int(e) + n);
}

/* Per unit of the batch: the last report day of its new records, whether one
 * of them is late. */
typedef struct touched {
    uint32_t unit;
    sgs_day day;
    int late;
} touched;

static int late_rate(sgs_tally *t, const sgs_tally_conf *cf, sgs_idcache *c, const touched *tu,
                     size_t n_tu)
{
    for (size_t k = 0; k < n_tu; k++) {
        const sgs_unit *u = sgs_registry_at(cf->registry, tu[k].unit);
        sgs_idc_entry *st;
        int64_t state, rec = 0, late = 0;
        int added, above;
        st = sgs_idcache_get(c, SGS_IDC_LR, "", 0, u->id, strlen(u->id), &added);
        if (!st)
            return -1;
        state = sgs_idcache_int(st);
        if (!tu[k].late && state <= 0)
            continue;
        unit_fields uf;
        if (unit_fields_of(&uf, u->id) != 0)
            return -1;
        for (sgs_day d = tu[k].day - cf->window + 1; d <= tu[k].day; d++) {
            sgs_idc_entry *r = day_entry(c, d, uf.rec, uf.rec_len);
            sgs_idc_entry *l = day_entry(c, d, uf.late, uf.late_len);
            if (!r || !l)
                return -1;
            rec += sgs_idcache_int(r);
            late += sgs_idcache_int(l);
        }
        above = rec >= cf->minrec && late * 10000 >= (int64_t)cf->thr * rec;
        if (above && state <= 0) {
            int64_t nth = 1 - state, h = (late * 20000 + rec) / (2 * rec);
            char day[16];
            size_t start;
            if (sgs_array_grow((void **)&t->lr, &t->cap_lr, t->n_lr, sizeof(*t->lr), 16) != 0 ||
                sgs_array_grow((void **)&t->alerts, &t->cap_alerts, 2 * t->n_alerts + 1,
                               sizeof(*t->alerts), 32) != 0)
                return -1;
            uint32_t *au = realloc(t->alert_unit, t->cap_alerts * sizeof(*au));
            if (!au)
                return -1;
            t->alert_unit = au;
            t->lr[t->n_lr].unit = tu[k].unit;
            t->lr[t->n_lr++].value = nth;
            start = t->text.len;
            sgs_buf_printf(&t->text, "{\"type\":\"late_rate\",\"id\":\"late_rate:%s:%s:%lld\",",
                           cf->topic, u->id, (long long)nth);
            sgs_buf_puts(&t->text, "\"unit_id\":");
            sgs_buf_put_json_string(&t->text, u->id, strlen(u->id));
            sgs_buf_puts(&t->text, ",\"unit_name\":");
            sgs_buf_put_json_string(&t->text, u->name, strlen(u->name));
            sgs_buf_printf(&t->text,
                           ",\"window_days\":%d,\"window_end\":\"%s\",\"records\":%lld,"
                           "\"late\":%lld,\"late_rate\":%lld.%02lld,\"threshold\":%s}",
                           cf->window, sgs_day_format(tu[k].day, day), (long long)rec,
                           (long long)late, (long long)(h / 100), (long long)(h % 100),
                           cf->thrtext);
            t->alerts[2 * t->n_alerts] = start;
            t->alerts[2 * t->n_alerts + 1] = t->text.len - start;
            t->alert_unit[t->n_alerts++] = tu[k].unit;
            if (sgs_idcache_set_int(c, st, nth) != 0)
                return -1;
        } else if (state > 0 && !above) {
            if (sgs_array_grow((void **)&t->lr, &t->cap_lr, t->n_lr, sizeof(*t->lr), 16) != 0)
                return -1;
            t->lr[t->n_lr].unit = tu[k].unit;
            t->lr[t->n_lr++].value = -state;
            if (sgs_idcache_set_int(c, st, -state) != 0)
                return -1;
        }
    }
    return 0;
}

/* Cells of one key next to each other (the keys are NUL-padded: memcmp of
 * the whole array orders them as strings), in the order they were added. */
static int by_key(const void *x, const void *y)
{
    const sgs_tally_cell *p = x, *q = y;
    int c = memcmp(p->key, q->key, sizeof(p->key));
    if (c != 0)
        return c;
    return p->field_off < q->field_off ? -1 : p->field_off > q->field_off;
}

int sgs_tally_batch(sgs_tally *t, const sgs_tally_conf *cf, const sgs_batch *b, sgs_idcache *c)
{
    touched *tu = NULL;
    size_t n_tu = 0;
    unit_map m = {0};
    int rc = -1;
    reset(t);
    tu = calloc(b->n_groups + 1, sizeof(*tu));
    if (!tu || unit_map_init(&m, b->n_groups) != 0)
        goto out;
    for (size_t i = 0; i < b->n_groups; i++) {
        const sgs_batch_group *g = &b->groups[i];
        const char *unit = g->unit == UINT32_MAX ? "" : sgs_registry_at(cf->registry, g->unit)->id;
        char month[8], day[16];
        int64_t n = g->n, seen, fresh, old;
        char typ = g->type;
        sgs_day_format_month(g->day, month);
        sgs_day_format(g->day, day);
        if (typ == SGS_GROUP_MALFORMED) {
            add(t, SGS_STORE_MONTH, month, NULL, GLOBAL(SGS_STORE_C_MALFORMED), n);
            continue;
        }
        if (typ == SGS_GROUP_UNATTRIBUTED) {
            add(t, SGS_STORE_MONTH, month, NULL, GLOBAL(SGS_STORE_C_UNATTRIBUTED), n);
            add(t, SGS_STORE_DAY, day, NULL, GLOBAL(SGS_STORE_C_UNATTRIBUTED), n);
            continue;
        }
        /* records whose identity may have been dropped: too_old, nothing else */
        old = g->n_old;
        if (old > 0)
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_TOOOLD, old);
        seen = g->n_seen;
        fresh = n - seen - old;
        if (typ == SGS_GROUP_DUPLICATE || typ == SGS_GROUP_UPDATED || typ == SGS_GROUP_REVOKED) {
            seen = n - old;
            fresh = 0;
            typ = typ == SGS_GROUP_DUPLICATE ? SGS_GROUP_RECORD
                  : typ == SGS_GROUP_UPDATED ? SGS_GROUP_UPDATE
                                             : SGS_GROUP_REVOKE;
        }
        if (typ == SGS_GROUP_REVOKE) {
            if (seen > 0)
                add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_REV, seen);
            if (fresh > 0)
                add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_UNKREC, fresh);
            continue;
        }
        if (typ == SGS_GROUP_UPDATE) {
            if (seen > 0)
                add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_UPD, seen);
        } else if (seen > 0) {
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_DUP, seen);
            add(t, SGS_STORE_DAY, day, unit, SGS_STORE_C_DUP, seen);
        }
        if (fresh <= 0)
            continue;
        add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_RECORDS, fresh);
        add(t, SGS_STORE_DAY, day, unit, SGS_STORE_C_RECORDS, fresh);
        if (g->flags & SGS_GF_LATE) {
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_LATE, fresh);
            add(t, SGS_STORE_DAY, day, unit, SGS_STORE_C_LATE, fresh);
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_WDLATE, (int64_t)g->wd * fresh);
        }
        if (g->flags & SGS_GF_INVALID) {
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_INVALID, fresh);
            add(t, SGS_STORE_DAY, day, unit, SGS_STORE_C_INVALID, fresh);
        }
        if (g->flags & SGS_GF_LICENSE)
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_LIC, fresh);
        if (g->flags & SGS_GF_PENALTY)
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_PEN, fresh);
        if (g->flags & SGS_GF_ORGAN)
            add(t, SGS_STORE_MONTH, month, unit, SGS_STORE_C_ORGAN, fresh);
        if (cf->thr >= 0) {
            /* the day buckets the late rate reads, as they will be */
            unit_fields uf;
            if (unit_fields_of(&uf, unit) != 0 ||
                day_add(c, g->day, uf.rec, uf.rec_len, fresh) != 0 ||
                ((g->flags & SGS_GF_LATE) && day_add(c, g->day, uf.late, uf.late_len, fresh) != 0))
                goto out;
            int added;
            size_t k = unit_map_index(&m, g->unit, &added);
            if (added) {
                tu[k].unit = g->unit;
                tu[k].day = g->day;
                n_tu = m.n;
            }
            if (g->day > tu[k].day)
                tu[k].day = g->day;
            if (g->flags & SGS_GF_LATE)
                tu[k].late = 1;
        }
    }
    if (t->oom)
        goto out;
    if (cf->thr >= 0 && late_rate(t, cf, c, tu, n_tu) != 0)
        goto out;
    if (t->text.oom)
        goto out;
    if (t->n_cells > 1)
        qsort(t->cells, t->n_cells, sizeof(*t->cells), by_key);
    rc = 0;
out:
    free(tu);
    unit_map_free(&m);
    if (rc != 0)
        t->oom = 1;
    return rc;
}

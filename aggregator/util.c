/* Small helpers of the aggregator: rates in integer arithmetic, a string buffer,
 * an id -> index map, terminal display width, kinds and months. */
#include "agg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- rates ---------------------------------------------------------------- */

int64_t sgs_agg_rate_hundredths(int64_t num, int64_t den)
{
    if (den <= 0)
        return -1;
    if (num < 0)
        num = 0;
    /* round(num * 10000 / den) half-up: floor((2 * num * 10000 + den) / (2 * den)).
     * Counters stay far below 2^63 / 20000. */
    return (num * 20000 + den) / (2 * den);
}

json_t *sgs_agg_rate_json(int64_t num, int64_t den)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    /* h / 100.0 is the double nearest to the 2-decimal value; dumped with 15
     * significant digits it prints as that decimal. */
    return h < 0 ? json_null() : json_real((double)h / 100.0);
}

char *sgs_agg_rate_text(int64_t num, int64_t den, char *buf)
{
    int64_t h = sgs_agg_rate_hundredths(num, den);

    if (h < 0)
        strcpy(buf, "-");
    else
        snprintf(buf, 32, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
    return buf;
}

int64_t sgs_agg_valid_count(int64_t records, int64_t invalid)
{
    return records > invalid ? records - invalid : 0;
}

/* ---- id map ----------------------------------------------------------------- */

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

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

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
    uint64_t h = hash_bytes(key, len);
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
    const struct idmap_slot *s = idmap_find(m, key, len, hash_bytes(key, len));

    if (!s->key)
        return 0;
    *value = s->value;
    return 1;
}

long sgs_agg_unit_row(const sgs_agg_idmap *map, const sgs_registry *reg, const char *id, size_t len)
{
    size_t i;
    const sgs_unit *u;

    if (sgs_agg_idmap_get(map, id, len, &i))
        return (long)i;
    /* Not a registry id: an id-like alias (a county department's credit code). */
    u = sgs_registry_find_id(reg, id, len);
    return u ? (long)u->index : -1;
}

/* ---- display width ------------------------------------------------------------ */

/* East Asian Wide (W) and Fullwidth (F) blocks, enough for Chinese text. */
static int cp_wide(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
           (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
           (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
           (cp >= 0x1F300 && cp <= 0x1F64F) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

size_t sgs_agg_display_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p) {
        uint32_t cp;
        int n;

        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            n = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07;
            n = 4;
        } else {
            p++;
            w++;
            continue;
        }
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                n = i;
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        w += cp_wide(cp) ? 2 : 1;
        p += n;
    }
    return w;
}

void sgs_agg_pad(sgs_buf *b, const char *s, size_t width, int right_align)
{
    size_t w = sgs_agg_display_width(s);
    size_t pad = w < width ? width - w : 0;

    if (!right_align)
        sgs_buf_puts(b, s);
    for (size_t i = 0; i < pad; i++)
        sgs_buf_append(b, " ", 1);
    if (right_align)
        sgs_buf_puts(b, s);
}

/* ---- kinds and months ------------------------------------------------------------ */

static int eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

const char *sgs_agg_kind_parse(const char *s, size_t len)
{
    if (eq(s, len, "license") || eq(s, len, "行政许可") || eq(s, len, "许可"))
        return "license";
    if (eq(s, len, "penalty") || eq(s, len, "行政处罚") || eq(s, len, "处罚"))
        return "penalty";
    return NULL;
}

const char *sgs_agg_kind_label(const char *kind)
{
    return strcmp(kind, "license") == 0 ? "行政许可" : "行政处罚";
}

int sgs_agg_month_parse(const char *s, int *year, int *month)
{
    if (strlen(s) != 7 || sgs_month_parse(s, year, month) != 0)
        return -1;
    return *year >= 1970 && *year <= 9999 && *month >= 1 && *month <= 12 ? 0 : -1;
}

int sgs_agg_month_days(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

void sgs_agg_month_add(int *year, int *month, int delta)
{
    int m = *year * 12 + (*month - 1) + delta;

    *year = m / 12;
    *month = m % 12 + 1;
}

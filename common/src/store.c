/* The Redis layout: key and field names, identities, outbox items (store.h). */
#include "sgs/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const counter_names[SGS_STORE_N_COUNTERS] = {
    SGS_STORE_C_RECORDS,   SGS_STORE_C_LATE,   SGS_STORE_C_INVALID, SGS_STORE_C_DUP,
    SGS_STORE_C_LIC,       SGS_STORE_C_PEN,    SGS_STORE_C_WDLATE,  SGS_STORE_C_UNATTRIBUTED,
    SGS_STORE_C_MALFORMED, SGS_STORE_C_UPD,    SGS_STORE_C_REV,     SGS_STORE_C_UNKREC,
    SGS_STORE_C_ORGAN,     SGS_STORE_C_TOOOLD,
};

const char *sgs_store_counter_name(enum sgs_store_counter c)
{
    if ((int)c < 0 || c >= SGS_STORE_N_COUNTERS)
        return NULL;
    return counter_names[c];
}

int sgs_store_field_parse(const char *field, size_t len, sgs_store_field *out)
{
    size_t bar = len;
    while (bar > 0 && field[bar - 1] != '|')
        bar--;
    if (bar == 0)
        return -1;
    bar--; /* index of the last '|' */
    out->unit = field;
    out->unit_len = bar;
    out->global = bar == 1 && field[0] == SGS_STORE_GLOBAL_UNIT[0];
    out->counter = SGS_STORE_UNKNOWN_COUNTER;
    for (int i = 0; i < SGS_STORE_N_COUNTERS; i++) {
        size_t n = strlen(counter_names[i]);
        if (len - bar - 1 == n && memcmp(field + bar + 1, counter_names[i], n) == 0) {
            out->counter = (enum sgs_store_counter)i;
            break;
        }
    }
    return 0;
}

/* snprintf's result as a builder's: the length, or -1 (and "") when cut. */
static int fits(char *buf, size_t size, int n)
{
    if (n < 0 || (size_t)n >= size) {
        if (size)
            buf[0] = '\0';
        return -1;
    }
    return n;
}

int sgs_store_base(char *buf, size_t size, const char *prefix, const char *topic, int32_t partition)
{
    return fits(buf, size, snprintf(buf, size, "%s:{%s:%" PRId32 "}", prefix, topic, partition));
}

int sgs_store_pkey(char *buf, size_t size, const char *prefix, const char *topic, int32_t partition,
                   const char *suffix, const char *arg)
{
    return fits(buf, size,
                snprintf(buf, size, "%s:{%s:%" PRId32 "}%s%s", prefix, topic, partition, suffix,
                         arg ? arg : ""));
}

int sgs_store_pkey_member(char *buf, size_t size, const char *prefix, const char *member,
                          const char *suffix, const char *arg)
{
    return fits(buf, size,
                snprintf(buf, size, "%s:{%s}%s%s", prefix, member, suffix, arg ? arg : ""));
}

int sgs_store_member(char *buf, size_t size, const char *topic, int32_t partition)
{
    return fits(buf, size, snprintf(buf, size, "%s:%" PRId32, topic, partition));
}

/* Appends s with the glob characters of SCAN MATCH escaped. -1 when full. */
static int put_escaped(char *buf, size_t size, size_t *at, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s)) {
            if (*at + 1 >= size)
                return -1;
            buf[(*at)++] = '\\';
        }
        if (*at + 1 >= size)
            return -1;
        buf[(*at)++] = *s;
    }
    buf[*at] = '\0';
    return 0;
}

int sgs_store_scan_pattern(char *buf, size_t size, const char *prefix, const char *topic,
                           const char *suffix)
{
    size_t at = 0;
    if (size == 0)
        return -1;
    buf[0] = '\0';
    if (put_escaped(buf, size, &at, prefix) != 0 || at + 2 >= size)
        goto cut;
    buf[at++] = ':';
    buf[at++] = '{';
    buf[at] = '\0';
    if (put_escaped(buf, size, &at, topic) != 0)
        goto cut;
    if (at + 3 + strlen(suffix) >= size)
        goto cut;
    memcpy(buf + at, ":*}", 3);
    at += 3;
    memcpy(buf + at, suffix, strlen(suffix) + 1);
    return (int)(at + strlen(suffix));
cut:
    buf[0] = '\0';
    return -1;
}

int32_t sgs_store_key_partition(const char *key, size_t len, const char *prefix, const char *topic,
                                const char *suffix)
{
    size_t np = strlen(prefix), nt = strlen(topic), ns = strlen(suffix), i;
    int64_t v = 0;
    if (len < np + 2 + nt + 3 + ns || memcmp(key, prefix, np) != 0 || key[np] != ':' ||
        key[np + 1] != '{' || memcmp(key + np + 2, topic, nt) != 0 || key[np + 2 + nt] != ':')
        return -1;
    i = np + 2 + nt + 1;
    if (i >= len || key[i] < '0' || key[i] > '9')
        return -1;
    while (i < len && key[i] >= '0' && key[i] <= '9' && v <= INT32_MAX)
        v = v * 10 + (key[i++] - '0');
    if (v > INT32_MAX || i >= len || key[i] != '}' || len - i - 1 != ns ||
        memcmp(key + i + 1, suffix, ns) != 0)
        return -1;
    return (int32_t)v;
}

int sgs_store_gkey(char *buf, size_t size, const char *prefix, const char *name, const char *arg)
{
    return fits(buf, size, snprintf(buf, size, "%s:%s%s", prefix, name, arg ? arg : ""));
}

int sgs_store_snapshot_key(char *buf, size_t size, const char *prefix, const char *month,
                           long version)
{
    if (version < 0)
        return fits(buf, size,
                    snprintf(buf, size, "%s:" SGS_STORE_SNAPSHOT "%s:latest", prefix, month));
    return fits(buf, size,
                snprintf(buf, size, "%s:" SGS_STORE_SNAPSHOT "%s:v%ld", prefix, month, version));
}

int sgs_store_identity(char *buf, size_t size, const char *unit_id, const char *kind,
                       const char *norm_doc_no)
{
    size_t a = strlen(unit_id), b = strlen(kind), n = strlen(norm_doc_no);
    char *p = buf;
    if (a + 1 + b + 1 + n >= size) {
        if (size)
            buf[0] = '\0';
        return -1;
    }
    memcpy(p, unit_id, a);
    p += a;
    *p++ = '|';
    memcpy(p, kind, b);
    p += b;
    *p++ = '|';
    memcpy(p, norm_doc_no, n + 1);
    return (int)(a + 1 + b + 1 + n);
}

int sgs_store_identity_parse(const char *id, size_t len, sgs_store_ident_parts *out)
{
    const char *end = id + len;
    const char *b1 = memchr(id, '|', len), *b2;
    if (!b1)
        return -1;
    b2 = memchr(b1 + 1, '|', (size_t)(end - b1 - 1));
    if (!b2 || b1 == id || b2 == b1 + 1 || b2 + 1 == end)
        return -1;
    out->unit = id;
    out->unit_len = (size_t)(b1 - id);
    out->kind = b1 + 1;
    out->kind_len = (size_t)(b2 - b1 - 1);
    out->doc_no = b2 + 1;
    out->doc_no_len = (size_t)(end - b2 - 1);
    return 0;
}

void sgs_store_outbox_put(sgs_buf *b, char type, const char *key, size_t klen, const char *value,
                          size_t vlen)
{
    sgs_buf_printf(b, "%c%zu:%zu:", type, klen, vlen);
    sgs_buf_append(b, key, klen);
    sgs_buf_append(b, value, vlen);
}

/* Reads "<digits>:" at entry[*i]; -1 if malformed. */
static int read_len(const char *entry, size_t len, size_t *i, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t start = *i;
    while (*i < len && entry[*i] >= '0' && entry[*i] <= '9' && *i - start < 19)
        v = v * 10 + (unsigned long long)(entry[(*i)++] - '0');
    if (*i == start || *i >= len || entry[*i] != ':')
        return -1;
    (*i)++;
    *out = v;
    return 0;
}

int sgs_store_outbox_each(const char *entry, size_t len, sgs_store_outbox_fn fn, void *arg)
{
    size_t i = 0;
    while (i < len) {
        char type = entry[i++];
        unsigned long long klen, vlen;
        if (type != SGS_STORE_OUTBOX_ALERT && type != SGS_STORE_OUTBOX_REJECT)
            return -1;
        if (read_len(entry, len, &i, &klen) != 0 || read_len(entry, len, &i, &vlen) != 0)
            return -1;
        if (klen > len - i || vlen > len - i - klen)
            return -1;
        fn(arg, type, entry + i, (size_t)klen, entry + i + klen, (size_t)vlen);
        i += klen + vlen;
    }
    return 0;
}

/* "l" or "p": a kind's letter in identity-store fields. */
static char kind_letter(const char *kind)
{
    return kind[0] == 'p' ? 'p' : 'l';
}

/* Writes v in decimal at p; the number of digits. */
static size_t put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* The per-record path of the consumer: built by hand (snprintf was a tenth of
 * the consumer's time). */
int sgs_store_ident_locate(const char *unit_id, const char *kind, const sgs_docno *doc,
                           const char *identity, int decision_year, sgs_store_ident_loc *out)
{
    size_t n;
    out->bitmap = 0;
    out->bit = 0;
    if (doc->usual && doc->serial_lo >= 1 && doc->serial_lo <= SGS_STORE_SERIAL_MAX &&
        doc->year > 0 && doc->year <= 9999) {
        /* the usual shape exactly: the number is its parts and nothing else,
         * "<prefix>〔<year>〕<serial>号" (sgs_docno.usual);
         * "<unit>|<letter>|<prefix>|<chunk>", when it fits */
        size_t pl = doc->prefix_len, ul = strlen(unit_id), nn;
        char num[24], *f;
        nn = put_u64(num, doc->serial_lo / SGS_STORE_CHUNK_BITS);
        n = ul + 3 + pl + 1 + nn;
        if (n >= sizeof(out->field))
            return -1;
        f = out->field;
        memcpy(f, unit_id, ul);
        f += ul;
        *f++ = SGS_STORE_FIELD_SEP[0];
        *f++ = kind_letter(kind);
        *f++ = SGS_STORE_FIELD_SEP[0];
        memcpy(f, doc->prefix, pl);
        f += pl;
        *f++ = SGS_STORE_FIELD_SEP[0];
        memcpy(f, num, nn);
        f[nn] = '\0';
        out->bitmap = 1;
        out->year = doc->year;
        out->field_len = n;
        out->bit = (uint32_t)(doc->serial_lo % SGS_STORE_CHUNK_BITS);
        return 0;
    }
    n = strlen(identity);
    if (n >= sizeof(out->field))
        return -1;
    memcpy(out->field, identity, n + 1);
    out->year = decision_year > 0 ? decision_year : 0;
    out->field_len = n;
    return 0;
}

int sgs_store_gap_base(char *buf, size_t size, const char *unit_id, const char *kind,
                       const sgs_docno *doc)
{
    if (!doc->has_serial || doc->year <= 0)
        return fits(buf, size, -1);
    return fits(
        buf, size,
        snprintf(buf, size, "%d|%s|%c|%s", doc->year, unit_id, kind_letter(kind), doc->prefix));
}

/* Reads decimal digits at s[*i..len) up to stop; -1 when none or too long. */
static int read_u64(const char *s, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - start < 18)
        v = v * 10 + (uint64_t)(s[(*i)++] - '0');
    if (*i == start)
        return -1;
    *out = v;
    return 0;
}

int sgs_store_gap_field_parse(const char *field, size_t len, sgs_store_gap_field *out)
{
    size_t i = 0, last = len;
    uint64_t year, chunk;
    const char *bar;
    if (read_u64(field, len, &i, &year) != 0 || year > 9999 || i >= len || field[i] != '|')
        return -1;
    out->year = (int)year;
    out->unit = field + ++i;
    bar = memchr(out->unit, '|', len - i);
    if (!bar || bar == out->unit)
        return -1;
    out->unit_len = (size_t)(bar - out->unit);
    i += out->unit_len + 1;
    if (i + 2 > len || (field[i] != 'l' && field[i] != 'p') || field[i + 1] != '|')
        return -1;
    out->kind = field[i];
    i += 2;
    while (last > i && field[last - 1] != '|')
        last--;
    if (last <= i)
        return -1;
    out->prefix = field + i;
    out->prefix_len = last - 1 - i;
    i = last;
    if (read_u64(field, len, &i, &chunk) != 0 || i != len)
        return -1;
    out->chunk = chunk;
    return 0;
}

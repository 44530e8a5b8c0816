/* The ledger (台账) of a month (REFERENCE §10): every late or invalid record the
 * consumer kept (P:T:lg:YYYY-MM, one JSON entry per record, written in the
 * same script as its counters), a note per unit for what the consumer's bound
 * cut (P:T:lgn:YYYY-MM <unit>|cut), the concealed decisions of spot checks
 * (P:concealed:YYYY-MM, without those withdrawn: P:withdrawn:YYYY-MM) and the
 * suspected gaps of the snapshot's gap entries (which leave out the serials
 * of concealed decisions: gaps.c).
 * A record both late and invalid is one entry (REFERENCE §10: one row per
 * record; a late record appears exactly once): 类别 迟报, the listed
 * category that carries its deadline and working days late, with its quality
 * reasons in 原因 (a late row has none otherwise). A note for gap serials not
 * listed is 疑似漏报 too; only the note for entries the consumer's bound cut
 * (late or invalid alike) is 未逐条列出.
 *
 * The cells of a row are composed here once, for the CSV, the 台账 sheet and
 * status, so the three always agree. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/store.h"

const char *const sgs_agg_ledger_header[SGS_AGG_LEDGER_COLS] = {
    "单位编码", "单位名称", "类别",     "类型",       "决定文书号",
    "决定日期", "报送期限", "报送时间", "迟报工作日", "原因",
};

static const char *const reason_concealed = "抽查比对未发现该决定的报送记录（瞒报）";
static const char *const reason_gap = "文书号不连续，疑似漏报，请自查核实";

void sgs_agg_ledger_free(sgs_agg_ledger *l)
{
    for (size_t i = 0; i < l->n; i++) {
        sgs_agg_ledger_entry *e = &l->v[i];

        free(e->doc_no);
        free(e->decision_date);
        free(e->deadline);
        free(e->reported_at);
        free(e->reasons);
        free(e->source);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* A new zeroed entry at the end, or NULL (OOM). */
static sgs_agg_ledger_entry *push(sgs_agg_ledger *l, size_t row, unsigned cat)
{
    sgs_agg_ledger_entry *e;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        sgs_agg_ledger_entry *v = realloc(l->v, cap * sizeof(*v));

        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    e->row = row;
    e->cat = cat;
    e->seq = l->n++;
    return e;
}

/* A copy of a non-empty text, NULL for an empty or missing one; *oom on
 * failure. */
static char *dup_text(const char *s, size_t len, int *oom)
{
    char *d;

    if (!s || len == 0)
        return NULL;
    d = malloc(len + 1);
    if (!d) {
        *oom = 1;
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = '\0';
    /* A NUL inside a JSON string ends the text here, as it would in any cell. */
    return d;
}

static char *dup_member(const json_t *o, const char *key, int *oom)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v))
        return NULL;
    return dup_text(json_string_value(v), json_string_length(v), oom);
}

static const char *kind_static(const char *s, size_t len)
{
    enum sgs_kind k = sgs_agg_kind_of(s, len);

    if (k == SGS_KIND_NONE)
        return NULL;
    return sgs_kind_name(k);
}

/* "code field: message; ..." of the entry's reasons, or NULL when none. */
static char *reasons_text(const json_t *reasons, int *oom)
{
    sgs_buf b;
    size_t i;
    const json_t *r;
    char *out;

    if (!json_is_array(reasons) || json_array_size(reasons) == 0)
        return NULL;
    sgs_buf_init(&b);
    json_array_foreach(reasons, i, r)
    {
        const char *code = json_string_value(json_object_get(r, "code"));
        const char *field = json_string_value(json_object_get(r, "field"));
        const char *msg = json_string_value(json_object_get(r, "message"));

        if (i)
            sgs_buf_puts(&b, "; ");
        sgs_buf_puts(&b, code ? code : "?");
        if (field && *field)
            sgs_buf_printf(&b, " %s", field);
        if (msg && *msg)
            sgs_buf_printf(&b, ": %s", msg);
    }
    if (b.oom || !b.data) {
        sgs_buf_free(&b);
        *oom = 1;
        return NULL;
    }
    out = b.data; /* the buffer's storage is handed over */
    return out;
}

int sgs_agg_ledger_add_list(sgs_agg_ledger *l, const redisReply *list, const sgs_agg_idmap *map,
                            const sgs_registry *reg, long only_row)
{
    if (!list || list->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *item = list->element[i];
        json_t *o;
        const char *unit;
        long row;
        int oom = 0;
        sgs_agg_ledger_entry *e;
        const json_t *late, *wd, *kind, *reasons;

        if (item->type != REDIS_REPLY_STRING)
            continue;
        o = json_loadb(item->str, item->len, JSON_ALLOW_NUL, NULL);
        unit = json_string_value(json_object_get(o, "unit_id"));
        if (!json_is_object(o) || !unit) {
            l->unreadable++;
            json_decref(o);
            continue;
        }
        row = sgs_agg_idmap_unit_row(map, reg, unit, strlen(unit));
        if (row < 0 || (only_row >= 0 && row != only_row)) {
            json_decref(o); /* not a registry unit: left out like its counters */
            continue;
        }
        late = json_object_get(o, "late");
        wd = json_object_get(o, "workdays_late");
        kind = json_object_get(o, "kind");
        reasons = json_object_get(o, "reasons");
        if (!json_is_true(late) && json_array_size(reasons) == 0) {
            l->unreadable++; /* neither late nor invalid: not an entry the consumer writes */
            json_decref(o);
            continue;
        }
        e = push(l, (size_t)row, 0);
        if (!e) {
            json_decref(o);
            return -1;
        }
        if (json_is_true(late)) {
            e->cat |= SGS_AGG_LG_LATE;
            e->workdays_late = json_is_integer(wd) ? json_integer_value(wd) : 0;
        }
        e->reasons = reasons_text(reasons, &oom);
        if (e->reasons)
            e->cat |= SGS_AGG_LG_INVALID;
        e->kind = json_is_string(kind)
                      ? kind_static(json_string_value(kind), json_string_length(kind))
                      : NULL;
        e->doc_no = dup_member(o, "doc_no", &oom);
        e->decision_date = dup_member(o, "decision_date", &oom);
        e->deadline = dup_member(o, "deadline", &oom);
        e->reported_at = dup_member(o, "reported_at", &oom);
        e->source = dup_member(o, "source", &oom);
        if (e->reported_at &&
            sgs_rfc3339_parse(e->reported_at, strlen(e->reported_at), &e->at) != 0)
            e->at = 0;
        json_decref(o);
        if (oom)
            return -1;
    }
    return 0;
}

int sgs_agg_ledger_add_cut(sgs_agg_ledger *l, const redisReply *hash, const sgs_agg_idmap *map,
                           const sgs_registry *reg, long only_row)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *f = hash->element[i];
        sgs_store_field field;
        int64_t n;
        long row;
        sgs_agg_ledger_entry *e;

        if (f->type != REDIS_REPLY_STRING || sgs_store_field_parse(f->str, f->len, &field) != 0 ||
            field.global || field.unit_len + 1 + strlen(SGS_STORE_C_CUT) != f->len ||
            strcmp(f->str + field.unit_len + 1, SGS_STORE_C_CUT) != 0 ||
            sgs_agg_reply_int(hash->element[i + 1], &n) != 0 || n <= 0)
            continue;
        row = sgs_agg_idmap_unit_row(map, reg, field.unit, field.unit_len);
        if (row < 0 || (only_row >= 0 && row != only_row))
            continue;
        e = push(l, (size_t)row, SGS_AGG_LG_NOTE | SGS_AGG_LG_LATE | SGS_AGG_LG_INVALID);
        if (!e)
            return -1;
        e->n = n;
    }
    return 0;
}

int sgs_agg_ledger_add_concealed(sgs_agg_ledger *l, const redisReply *hash,
                                 const redisReply *withdrawn, const sgs_agg_idmap *map,
                                 const sgs_registry *reg, long only_row)
{
    if (!hash || hash->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *f = hash->element[i];
        sgs_store_ident_parts id;
        sgs_agg_ledger_entry *e;
        long row;
        int oom = 0;

        if (f->type != REDIS_REPLY_STRING || sgs_store_identity_parse(f->str, f->len, &id) != 0 ||
            sgs_agg_spot_has(withdrawn, f->str, f->len))
            continue; /* a finding withdrawn needs no action */
        row = sgs_agg_idmap_unit_row(map, reg, id.unit, id.unit_len);
        if (row < 0 || (only_row >= 0 && row != only_row))
            continue;
        e = push(l, (size_t)row, SGS_AGG_LG_CONCEALED);
        if (!e)
            return -1;
        e->kind = kind_static(id.kind, id.kind_len);
        e->doc_no = dup_text(id.doc_no, id.doc_no_len, &oom);
        if (oom)
            return -1;
    }
    return 0;
}

int sgs_agg_ledger_add_gaps(sgs_agg_ledger *l, size_t row, const json_t *gaps)
{
    size_t i, j;
    const json_t *g, *m;
    sgs_buf b;

    json_array_foreach(gaps, i, g)
    {
        const char *kind = json_string_value(json_object_get(g, "kind"));
        const char *prefix = json_string_value(json_object_get(g, "prefix"));
        json_int_t year = json_integer_value(json_object_get(g, "year"));
        json_int_t count = json_integer_value(json_object_get(g, "missing_count"));
        const json_t *missing = json_object_get(g, "missing");
        const char *k = kind ? kind_static(kind, strlen(kind)) : NULL;
        sgs_agg_ledger_entry *e;

        json_array_foreach(missing, j, m)
        {
            const char *serial = json_string_value(m);

            if (!serial)
                continue;
            e = push(l, row, SGS_AGG_LG_GAP);
            if (!e)
                return -1;
            e->kind = k;
            sgs_buf_init(&b);
            sgs_buf_printf(&b, "%s〔%lld〕%s号", prefix ? prefix : "", (long long)year, serial);
            if (b.oom || !b.data) {
                sgs_buf_free(&b);
                return -1;
            }
            e->doc_no = b.data;
        }
        if (count > (json_int_t)json_array_size(missing)) {
            e = push(l, row, SGS_AGG_LG_NOTE | SGS_AGG_LG_GAP);
            if (!e)
                return -1;
            e->kind = k;
            e->n = count - (json_int_t)json_array_size(missing);
            sgs_buf_init(&b);
            sgs_buf_printf(&b, "%s〔%lld〕", prefix ? prefix : "", (long long)year);
            if (b.oom || !b.data) {
                sgs_buf_free(&b);
                return -1;
            }
            e->doc_no = b.data;
        }
    }
    return 0;
}

/* ---- order ------------------------------------------------------------------ */

static int section(unsigned cat)
{
    if (cat & SGS_AGG_LG_GAP)
        return 3;
    if (cat & SGS_AGG_LG_CONCEALED)
        return 2;
    if (cat & SGS_AGG_LG_NOTE)
        return 1;
    return 0;
}

/* qsort has no context argument; one per thread (serve builds months on several) */
static _Thread_local const size_t *g_rank;

static int str_cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_entry(const void *pa, const void *pb)
{
    const sgs_agg_ledger_entry *a = pa, *b = pb;
    size_t ra = g_rank ? g_rank[a->row] : a->row, rb = g_rank ? g_rank[b->row] : b->row;
    int sa = section(a->cat), sb = section(b->cat), c;

    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0) {
        if (a->at != b->at)
            return a->at < b->at ? -1 : 1;
        if ((c = str_cmp(a->source, b->source)) != 0)
            return c;
    } else if (sa == 2) {
        if ((c = str_cmp(a->kind, b->kind)) != 0)
            return c;
        if ((c = str_cmp(a->doc_no, b->doc_no)) != 0)
            return c;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int sgs_agg_ledger_finish(sgs_agg_ledger *l, const size_t *rank)
{
    size_t out = 0;

    g_rank = rank;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
    g_rank = NULL;
    /* One cut note per unit: the partitions' counts summed. */
    for (size_t i = 0; i < l->n; i++) {
        sgs_agg_ledger_entry *e = &l->v[i];

        if (out > 0 && section(e->cat) == 1 && section(l->v[out - 1].cat) == 1 &&
            l->v[out - 1].row == e->row) {
            l->v[out - 1].n += e->n;
            continue; /* a note owns no text */
        }
        l->v[out++] = *e;
    }
    l->n = out;
    return 0;
}

/* ---- cells ------------------------------------------------------------------ */

const char *sgs_agg_ledger_category(unsigned cat)
{
    if ((cat & SGS_AGG_LG_NOTE) && !(cat & SGS_AGG_LG_GAP))
        return "未逐条列出";
    if (cat & SGS_AGG_LG_LATE) /* also when invalid too: its reasons say so */
        return "迟报";
    if (cat & SGS_AGG_LG_INVALID)
        return "不合格";
    if (cat & SGS_AGG_LG_CONCEALED)
        return "瞒报";
    return "疑似漏报";
}

void sgs_agg_ledger_cells(const sgs_agg_ledger_entry *e, const sgs_unit *u,
                          const char *cells[SGS_AGG_LEDGER_COLS], char *buf, size_t buf_size,
                          int *workdays_number)
{
    const char *reason = e->reasons;
    int late = (e->cat & SGS_AGG_LG_LATE) && !(e->cat & SGS_AGG_LG_NOTE);

    buf[0] = '\0';
    if (e->cat & SGS_AGG_LG_NOTE) {
        if (e->cat & SGS_AGG_LG_GAP)
            snprintf(buf, buf_size, "另有%lld个疑似漏报文书号未逐一列出", (long long)e->n);
        else
            snprintf(buf, buf_size,
                     "另有%lld条迟报或不合格数据超过台账记录上限"
                     "（consumer.ledger.max_per_unit），未逐条列出",
                     (long long)e->n);
        reason = buf;
    } else if (e->cat & SGS_AGG_LG_CONCEALED) {
        reason = reason_concealed;
    } else if (e->cat & SGS_AGG_LG_GAP) {
        reason = reason_gap;
    }
    cells[0] = u->id;
    cells[1] = u->name;
    cells[2] = sgs_agg_ledger_category(e->cat);
    cells[3] = e->kind ? sgs_agg_kind_label(e->kind) : "";
    cells[4] = e->doc_no ? e->doc_no : "";
    cells[5] = e->decision_date ? e->decision_date : "";
    cells[6] = e->deadline ? e->deadline : "";
    cells[7] = e->reported_at ? e->reported_at : "";
    cells[8] = "";
    cells[9] = reason ? reason : "";
    *workdays_number = late;
    if (late) {
        /* after the note text: buf holds one or the other */
        snprintf(buf, buf_size, "%lld", (long long)e->workdays_late);
        cells[8] = buf;
    }
}

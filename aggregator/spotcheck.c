/* Concealment spot checks (瞒报抽查): every sampled decision is looked up by its
 * identity "<unit_id>|<kind>|<normalised doc_no>" in every partition's P:T:seen
 * hash; one found nowhere is concealed and is recorded in P:concealed:YYYY-MM
 * (a hash, so a repeated sample adds nothing). A sample with a malformed line is
 * refused as a whole before anything is looked up or stored. */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/docno.h"
#include "sgs/log.h"

#define HSET_CHUNK 500 /* fields per HSET command */

struct item {
    int line;
    const sgs_unit *unit;
    const char *kind; /* "license" / "penalty" */
    char *doc_no;     /* as in the sample */
    char *identity;   /* "<unit_id>|<kind>|<norm>" */
    int found;
};

struct sample {
    struct item *items;
    size_t n, cap;
    size_t lines; /* data lines, repeats included */
};

static void sample_free(struct sample *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].doc_no);
        free(s->items[i].identity);
    }
    free(s->items);
}

static char *read_all(const char *path, size_t *len, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            char *p = realloc(buf, cap ? cap * 2 : 8192);

            if (!p) {
                free(buf);
                fclose(f);
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
            cap = cap ? cap * 2 : 8192;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "%s: read error", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void trim(const char **a, const char **b)
{
    while (*a < *b && (**a == ' ' || **a == '\t'))
        (*a)++;
    while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t'))
        (*b)--;
}

/* Validates one data line and appends its item (repeats of an identity are kept
 * once). 0, or -1 with "FILE:LINE: why". */
static int parse_line(const sgs_registry *reg, const char *path, int lineno, const char *line,
                      size_t len, struct sample *s, sgs_agg_idmap *seen, sgs_docno *d, char *errstr,
                      size_t errstr_size)
{
    const char *col[3], *end[3];
    const char *p = line, *stop = line + len;
    size_t ncol = 0;
    const sgs_unit *unit;
    const char *kind;
    size_t idlen;
    char *identity;

    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(stop - p));
        const char *e = tab ? tab : stop;

        if (ncol < 3) {
            col[ncol] = p;
            end[ncol] = e;
        }
        ncol++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (ncol != 3) {
        snprintf(errstr, errstr_size,
                 "%s:%d: expected 3 tab-separated columns (unit_id, kind, doc_no), got %zu", path,
                 lineno, ncol);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        trim(&col[i], &end[i]);
    unit = sgs_registry_find(reg, col[0], (size_t)(end[0] - col[0]));
    if (!unit) {
        snprintf(errstr, errstr_size, "%s:%d: unknown unit '%.*s' (not an id, name or alias in %s)",
                 path, lineno, (int)(end[0] - col[0]), col[0], "the registry");
        return -1;
    }
    kind = sgs_agg_kind_parse(col[1], (size_t)(end[1] - col[1]));
    if (!kind) {
        snprintf(errstr, errstr_size,
                 "%s:%d: kind '%.*s': expected license or penalty (行政许可/行政处罚, 许可/处罚)",
                 path, lineno, (int)(end[1] - col[1]), col[1]);
        return -1;
    }
    /* The consumer's identity rule: the normal form must have 4-64 characters. */
    if (sgs_docno_normalize(col[2], (size_t)(end[2] - col[2]), d) != 0 || d->norm_chars < 4 ||
        d->norm_chars > 64) {
        snprintf(errstr, errstr_size,
                 "%s:%d: doc_no '%.*s' does not normalise to a document number of 4-64 characters",
                 path, lineno, (int)(end[2] - col[2]), col[2]);
        return -1;
    }
    s->lines++;
    idlen = strlen(unit->id) + strlen(kind) + strlen(d->norm) + 3;
    identity = malloc(idlen);
    if (!identity) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(identity, idlen, "%s|%s|%s", unit->id, kind, d->norm);
    switch (sgs_agg_idmap_put(seen, identity, strlen(identity), s->n)) {
    case 1:
        sgs_info("%s:%d: repeats an earlier line (%s); counted once", path, lineno, identity);
        free(identity);
        return 0;
    case 0:
        break;
    default:
        free(identity);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct item *items = realloc(s->items, cap * sizeof(*items));

        if (!items) {
            free(identity);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n].line = lineno;
    s->items[s->n].unit = unit;
    s->items[s->n].kind = kind;
    s->items[s->n].doc_no = strndup(col[2], (size_t)(end[2] - col[2]));
    s->items[s->n].identity = identity;
    s->items[s->n].found = 0;
    if (!s->items[s->n].doc_no) {
        free(identity);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    s->n++;
    return 0;
}

/* Reads and validates the whole sample. The first non-empty line is the header;
 * empty lines and lines starting with '#' are skipped. */
static int parse_sample(const sgs_registry *reg, const char *path, struct sample *s, char *errstr,
                        size_t errstr_size)
{
    size_t len;
    char *text = read_all(path, &len, errstr, errstr_size);
    sgs_agg_idmap *seen = sgs_agg_idmap_new(256);
    sgs_docno *d = malloc(sizeof(*d));
    const char *p, *stop;
    int lineno = 0, header = 0, rc = -1;

    if (!text)
        goto out;
    if (!seen || !d) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    p = text;
    stop = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *e = nl ? nl : stop;
        size_t l;

        lineno++;
        if (e > p && e[-1] == '\r')
            e--;
        l = (size_t)(e - p);
        if (memchr(p, '\0', l)) {
            snprintf(errstr, errstr_size, "%s:%d: contains a NUL byte", path, lineno);
            goto out;
        }
        if (l > 0 && p[0] != '#') {
            if (!header)
                header = 1;
            else if (parse_line(reg, path, lineno, p, l, s, seen, d, errstr, errstr_size) != 0)
                goto out;
        }
        p = nl ? nl + 1 : stop;
    }
    if (!header) {
        snprintf(errstr, errstr_size, "%s: empty; expected a header line unit_id\tkind\tdoc_no",
                 path);
        goto out;
    }
    rc = 0;
out:
    free(text);
    free(d);
    sgs_agg_idmap_free(seen);
    return rc;
}

/* HEXISTS of every item in every partition's seen hash, pipelined. */
static int look_up(sgs_agg_ctx *ctx, struct sample *s, char *errstr, size_t errstr_size)
{
    char **parts = NULL, key[512];
    size_t np = 0, total;
    redisReply **replies;
    int rc = -1;

    if (sgs_agg_partitions(ctx, &parts, &np, errstr, errstr_size) != 0)
        return -1;
    if (np == 0)
        sgs_warn("redis: %s:partitions is empty: no record was ever counted", ctx->prefix);
    total = np * s->n;
    replies = calloc(total ? total : 1, sizeof(*replies));
    if (!replies) {
        sgs_agg_strv_free(parts, np);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < np; j++)
            redisAppendCommand(ctx->rc, "HEXISTS %s %s",
                               sgs_agg_pkey(key, sizeof(key), ctx, parts[j], "seen"),
                               s->items[i].identity);
    }
    if (sgs_agg_read_replies(ctx->rc, replies, total, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < total; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: HEXISTS: %s", replies[i]->str);
            goto out_free;
        }
        if (replies[i]->type == REDIS_REPLY_INTEGER && replies[i]->integer == 1)
            s->items[i / np].found = 1;
    }
    rc = 0;
out_free:
    for (size_t i = 0; i < total; i++)
        freeReplyObject(replies[i]);
out:
    free(replies);
    sgs_agg_strv_free(parts, np);
    return rc;
}

static int store_concealed(sgs_agg_ctx *ctx, const struct sample *s, const char *month,
                           char *errstr, size_t errstr_size)
{
    char key[512];
    const char **argv;
    size_t *argl, n_cmds = 0;
    redisReply **replies = NULL;
    int rc = -1;

    argv = calloc(2 + 2 * HSET_CHUNK, sizeof(*argv));
    argl = calloc(2 + 2 * HSET_CHUNK, sizeof(*argl));
    if (!argv || !argl) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    sgs_agg_key(key, sizeof(key), ctx, "concealed:%s", month);
    for (size_t i = 0; i < s->n;) {
        int argc = 2;

        argv[0] = "HSET";
        argv[1] = key;
        for (; i < s->n && argc < 2 + 2 * HSET_CHUNK; i++) {
            if (s->items[i].found)
                continue;
            argv[argc++] = s->items[i].identity;
            argv[argc++] = "1";
        }
        if (argc == 2)
            break;
        for (int a = 0; a < argc; a++)
            argl[a] = strlen(argv[a]);
        redisAppendCommandArgv(ctx->rc, argc, argv, argl);
        n_cmds++;
    }
    if (n_cmds == 0) {
        rc = 0;
        goto out;
    }
    replies = calloc(n_cmds, sizeof(*replies));
    if (!replies) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (sgs_agg_read_replies(ctx->rc, replies, n_cmds, errstr, errstr_size) != 0) {
        free(replies);
        replies = NULL;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < n_cmds; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: HSET %s: %s", key, replies[i]->str);
            rc = -1;
        }
        freeReplyObject(replies[i]);
    }
    free(replies);
out:
    free(argv);
    free(argl);
    return rc;
}

int sgs_agg_cmd_spotcheck(sgs_agg_ctx *ctx, int year, int month, const char *sample_path)
{
    struct sample s;
    char err[1024], ym[8];
    size_t found = 0;
    json_t *out, *items;
    char *text;

    memset(&s, 0, sizeof(s));
    snprintf(ym, sizeof(ym), "%04d-%02d", year, month);
    if (parse_sample(ctx->reg, sample_path, &s, err, sizeof(err)) != 0) {
        sgs_error("%s", err);
        sample_free(&s);
        return SGS_AGG_EXIT_USAGE;
    }
    if (sgs_agg_ctx_redis(ctx, err, sizeof(err)) != 0 || look_up(ctx, &s, err, sizeof(err)) != 0 ||
        store_concealed(ctx, &s, ym, err, sizeof(err)) != 0) {
        sgs_error("spot-check %s: %s", ym, err);
        sample_free(&s);
        return SGS_AGG_EXIT_RUNTIME;
    }

    out = json_object();
    items = json_array();
    for (size_t i = 0; i < s.n; i++) {
        const struct item *it = &s.items[i];

        if (it->found) {
            found++;
            continue;
        }
        json_array_append_new(items, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "line", it->line,
                                               "unit_id", it->unit->id, "unit_name", it->unit->name,
                                               "kind", it->kind, "doc_no", it->doc_no, "normalized",
                                               strchr(strchr(it->identity, '|') + 1, '|') + 1));
    }
    json_object_set_new(out, "month", json_string(ym));
    json_object_set_new(out, "sampled", json_integer((json_int_t)s.n));
    json_object_set_new(out, "found", json_integer((json_int_t)found));
    json_object_set_new(out, "concealed", json_integer((json_int_t)(s.n - found)));
    json_object_set_new(out, "items", items);
    text = json_dumps(out, JSON_INDENT(2));
    json_decref(out);
    if (!text) {
        sgs_error("out of memory");
        sample_free(&s);
        return SGS_AGG_EXIT_RUNTIME;
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    sgs_info("spot-check %s: %zu sampled (%zu lines), %zu found, %zu concealed", ym, s.n, s.lines,
             found, s.n - found);
    sample_free(&s);
    return SGS_AGG_EXIT_OK;
}

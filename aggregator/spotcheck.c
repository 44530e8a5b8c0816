/* Concealment spot checks (瞒报抽查): every sampled decision is looked up by its
 * identity in every partition's identity store (store.h: a bit of P:T:b:<year>
 * or a field of P:T:x:<year>); one found nowhere is concealed and is recorded in
 * P:concealed:YYYY-MM (a hash, so a repeated sample adds nothing). A sample with a malformed line
 * is refused as a whole before anything is looked up or stored. */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"
#include "sgs/docno.h"
#include "sgs/store.h"

#define HSET_CHUNK 500 /* fields per HSET command */

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

/* Where an item's identity may be in a partition's identity store: up to
 * LOOKS (key suffix, year, field, bit) places. A bitmap identity has one; one
 * kept as its own field lives under its decision year, which a sample does not
 * give: the sample month's year and the two before it are asked, and 0 (no
 * decision date). */
#define LOOKS 5
struct look {
    int n;
    int bitmap;
    int years[LOOKS];
    sgs_store_ident_loc loc;
};

static int locate_item(const sgs_agg_sample_item *it, int month_year, struct look *lk)
{
    sgs_store_ident_parts parts;
    sgs_docno doc;
    char unit[SGS_STORE_FIELD_MAX];
    if (sgs_store_identity_parse(it->identity, strlen(it->identity), &parts) != 0 ||
        parts.unit_len >= sizeof(unit) ||
        sgs_docno_normalize(parts.doc_no, parts.doc_no_len, &doc) != 0)
        return -1;
    memcpy(unit, parts.unit, parts.unit_len);
    unit[parts.unit_len] = '\0';
    if (sgs_store_ident_locate(unit, it->kind, &doc, it->identity, 0, &lk->loc) != 0)
        return -1;
    lk->bitmap = lk->loc.bitmap;
    lk->n = 0;
    if (lk->loc.bitmap || doc.year > 0) {
        lk->years[lk->n++] = lk->loc.bitmap ? lk->loc.year : doc.year;
    } else {
        for (int y = month_year; y > month_year - 3; y--)
            lk->years[lk->n++] = y;
        lk->years[lk->n++] = 0;
    }
    return 0;
}

/* Whether an HGET reply holds the item: its bit set, or the field present. */
static int holds(const redisReply *r, const struct look *lk)
{
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    if (!lk->bitmap)
        return 1;
    return (size_t)(lk->loc.bit / 8) < r->len &&
           ((unsigned char)r->str[lk->loc.bit / 8] & (0x80u >> (lk->loc.bit % 8)));
}

/* Asks every partition's identity store for every item, pipelined. */
static int look_up(sgs_agg_ctx *ctx, sgs_agg_sample *s, int month_year, char *errstr,
                   size_t errstr_size)
{
    char **parts = NULL, key[SGS_STORE_KEY_MAX], year[16];
    size_t np = 0, k = 0;
    sgs_rcl_pipe *pipe = NULL;
    struct look *lk = NULL;
    int rc = -1;

    if (sgs_agg_rebuild_check(ctx, errstr, errstr_size) != 0 ||
        sgs_agg_partitions_read(ctx, &parts, &np, errstr, errstr_size) != 0)
        return -1;
    if (np == 0)
        sgs_warn("redis: no partition of %s has state under prefix %s: no record was ever "
                 "counted",
                 sgs_config_get(ctx->cfg, "topic.records"), ctx->prefix);
    lk = calloc(s->n ? s->n : 1, sizeof(*lk));
    if (!lk)
        goto oom;
    for (size_t i = 0; i < s->n; i++) {
        if (locate_item(&s->items[i], month_year, &lk[i]) != 0) {
            snprintf(errstr, errstr_size, "sample line %d: '%s' has no place in the identity store",
                     s->items[i].line, s->items[i].identity);
            goto out;
        }
    }
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < np; j++)
            for (int y = 0; y < lk[i].n; y++) {
                snprintf(year, sizeof(year), "%d", lk[i].years[y]);
                sgs_store_pkey_member(key, sizeof(key), ctx->prefix, parts[j],
                                      lk[i].bitmap ? SGS_STORE_IDBITS : SGS_STORE_IDOWN, year);
                if (sgs_rcl_pipe_appendf(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, "HGET %s %b",
                                         key, lk[i].loc.field, lk[i].loc.field_len) < 0)
                    goto oom;
            }
    if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
        goto out;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < np; j++)
            for (int y = 0; y < lk[i].n; y++, k++) {
                const redisReply *r = sgs_rcl_pipe_reply(pipe, k);

                if (r->type == REDIS_REPLY_ERROR) {
                    snprintf(errstr, errstr_size, "redis: HGET: %s", r->str);
                    goto out;
                }
                if (holds(r, &lk[i]))
                    s->items[i].found = 1;
            }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    sgs_rcl_pipe_free(pipe);
    free(lk);
    sgs_agg_strv_free(parts, np);
    return rc;
}

/* HSETs of the concealed identities into P:concealed:YYYY-MM, HSET_CHUNK
 * fields each, pipelined (the same value again on a repeat: safe to send
 * twice). */
static int store_concealed(sgs_agg_ctx *ctx, const sgs_agg_sample *s, const char *month,
                           char *errstr, size_t errstr_size)
{
    char key[SGS_STORE_KEY_MAX];
    const char **argv;
    size_t *argl;
    sgs_rcl_pipe *pipe = NULL;
    int rc = -1;

    argv = calloc(2 + 2 * HSET_CHUNK, sizeof(*argv));
    argl = calloc(2 + 2 * HSET_CHUNK, sizeof(*argl));
    if (!argv || !argl) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (!(pipe = sgs_agg_pipe(ctx, errstr, errstr_size)))
        goto out;
    sgs_store_gkey(key, sizeof(key), ctx->prefix, SGS_STORE_CONCEALED, month);
    for (size_t i = 0; i < s->n;) {
        int argc = 2;

        argv[0] = "HSET";
        argv[1] = key;
        for (; i < s->n && argc < 2 + 2 * HSET_CHUNK; i++) {
            if (s->items[i].found)
                continue;
            argv[argc++] = s->items[i].identity;
            argv[argc++] = SGS_STORE_MEMBER_VALUE;
        }
        if (argc == 2)
            break;
        for (int a = 0; a < argc; a++)
            argl[a] = strlen(argv[a]);
        if (sgs_rcl_pipe_append(pipe, sgs_agg_slot(key), SGS_RCL_IDEMPOTENT, argc, argv, argl) <
            0) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    if (sgs_agg_pipe_run(pipe, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < sgs_rcl_pipe_count(pipe); i++) {
        const redisReply *r = sgs_rcl_pipe_reply(pipe, i);

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis: HSET %s: %s", key, r->str);
            rc = -1;
        }
    }
out:
    sgs_rcl_pipe_free(pipe);
    free(argv);
    free(argl);
    return rc;
}

json_t *sgs_agg_spotcheck_run(sgs_agg_ctx *ctx, int year, int month, const char *name,
                              const char *text, size_t len, int *usage, char *errstr,
                              size_t errstr_size)
{
    sgs_agg_sample s;
    char err[1024], ym[8];
    size_t found = 0;
    json_t *out, *items;

    *usage = 0;
    memset(&s, 0, sizeof(s));
    sgs_month_format(year, month, ym);
    if (sgs_agg_sample_parse(ctx->reg, name, text, len, &s, errstr, errstr_size) != 0) {
        *usage = 1;
        sgs_agg_sample_free(&s);
        return NULL;
    }
    if (look_up(ctx, &s, year, err, sizeof(err)) != 0 ||
        store_concealed(ctx, &s, ym, err, sizeof(err)) != 0) {
        snprintf(errstr, errstr_size, "spot-check %s: %s", ym, err);
        sgs_agg_sample_free(&s);
        return NULL;
    }

    out = json_object();
    items = json_array();
    for (size_t i = 0; i < s.n; i++) {
        const sgs_agg_sample_item *it = &s.items[i];

        if (it->found) {
            found++;
            continue;
        }
        json_array_append_new(items, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "line", it->line,
                                               "unit_id", it->unit->id, "unit_name", it->unit->name,
                                               "kind", it->kind, "doc_no", it->doc_no, "normalized",
                                               it->normalized));
    }
    json_object_set_new(out, "month", json_string(ym));
    json_object_set_new(out, "sampled", json_integer((json_int_t)s.n));
    json_object_set_new(out, "found", json_integer((json_int_t)found));
    json_object_set_new(out, "concealed", json_integer((json_int_t)(s.n - found)));
    json_object_set_new(out, "items", items);
    sgs_info("spot-check %s (%s): %zu sampled (%zu lines), %zu found, %zu concealed", ym, name, s.n,
             s.lines, found, s.n - found);
    sgs_agg_sample_free(&s);
    return out;
}

int sgs_agg_cmd_spotcheck(sgs_agg_ctx *ctx, int year, int month, const char *sample_path)
{
    char err[1024];
    json_t *out;
    char *text;
    size_t len;
    int usage;

    text = read_all(sample_path, &len, err, sizeof(err));
    if (!text) {
        sgs_error("%s", err);
        return SGS_AGG_EXIT_USAGE;
    }
    out = sgs_agg_spotcheck_run(ctx, year, month, sample_path, text, len, &usage, err, sizeof(err));
    free(text);
    if (!out) {
        sgs_error("%s", err);
        return usage ? SGS_AGG_EXIT_USAGE : SGS_AGG_EXIT_RUNTIME;
    }
    text = json_dumps(out, JSON_INDENT(2));
    json_decref(out);
    if (!text) {
        sgs_error("out of memory");
        return SGS_AGG_EXIT_RUNTIME;
    }
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    return SGS_AGG_EXIT_OK;
}

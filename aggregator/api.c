/* The routes of `sgs-aggregator serve` (REFERENCE §9): the console page, the
 * /api/v1 endpoints, /metrics and /healthz. Every error is JSON {"error"}.
 *
 * Input is checked before anything is read: months are exactly YYYY-MM (1970
 * or later), versions and limits plain decimal numbers in range. Report files
 * are served only under a name from the list of files a month can have
 * (REFERENCE §7, §10), always the latest version's: report.dir's copy when it
 * holds that version's files (the path opened is built from that list, never
 * from the request), else rendered from Redis (render.c). With http.token
 * set, every /api/ request needs it (compared in constant time); the spot
 * check, which writes, is refused without one. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sgs/log.h"

const char *const sgs_agg_route_names[SGS_AGG_N_ROUTES] = {
    "/",
    "/api/v1/units",
    "/api/v1/live",
    "/api/v1/months",
    "/api/v1/months/{month}",
    "/api/v1/months/{month}/live",
    "/api/v1/months/{month}/files",
    "/api/v1/months/{month}/files/{name}",
    "/api/v1/alerts",
    "/api/v1/alerts/stream",
    "/api/v1/months/{month}/spot-check",
    "/metrics",
    "/healthz",
    "other",
};

#define ALERTS_DEFAULT 100
#define ALERTS_MAX     1000
#define FILE_MAX       (256L * 1024 * 1024) /* a report file larger than this is refused */

/* The console may run scripts and styles of its own page only, fetch from sgs
 * only, and be framed by nobody. */
#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "                  \
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "              \
    "frame-ancestors 'none'"
/* A served report page (another developer's HTML) gets no scripts and an origin
 * of its own. */
#define FILE_CSP                                                                                   \
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "                      \
    "frame-ancestors 'none'"

/* A truncated copy of a request's text for messages (the error writer makes
 * any bytes valid JSON). */
static const char *clip(const char *s, char *buf, size_t size)
{
    size_t n = strlen(s);

    if (n < size)
        return s;
    memcpy(buf, s, size - 4);
    memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* Exactly "YYYY-MM", a real month, 1970 or later. */
static int parse_month(const char *s, size_t len, int *year, int *month, char ym[8])
{
    if (len != 7)
        return -1;
    memcpy(ym, s, 7);
    ym[7] = '\0';
    for (int i = 0; i < 7; i++) {
        if (i == 4 ? ym[i] != '-' : (ym[i] < '0' || ym[i] > '9'))
            return -1;
    }
    if (sgs_month_parse(ym, year, month) != 0 || *year < 1970)
        return -1;
    return 0;
}

/* A decimal number 1..max (no sign, no spaces, at most 10 digits). */
static long parse_count(const char *s, long max)
{
    long v = 0;
    size_t n = 0;

    if (!s)
        return -1;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 10)
            return -1;
        v = v * 10 + (s[n] - '0');
    }
    return n && v >= 1 && v <= max ? v : -1;
}

static int is_get(const sgs_http_request *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static enum MHD_Result not_allowed(sgs_http_request *req, const char *allow)
{
    struct MHD_Response *r;
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "{\"error\":\"method not allowed: use %s\"}\n", allow);

    r = MHD_create_response_from_buffer((size_t)n, msg, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    return sgs_http_queue(req, MHD_HTTP_METHOD_NOT_ALLOWED, r);
}

/* A Redis failure as an answer: 503 with the reason (the worker's handle
 * reconnects by itself on the next request). */
static enum MHD_Result unavailable(sgs_http_request *req, const char *err)
{
    return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", err);
}

/* ---- the console -------------------------------------------------------------- */

static enum MHD_Result console(const sgs_agg_server *sv, sgs_http_request *req)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sgs_agg_console_html_len, (void *)sgs_agg_console_html, MHD_RESPMEM_PERSISTENT);

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy", CONSOLE_CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* the page asks for the token before its first API request (no 401 first) */
    MHD_add_response_header(r, "X-Sgs-Token", sv->token ? "required" : "none");
    return sgs_http_queue(req, MHD_HTTP_OK, r);
}

/* ---- /api/v1/units, /api/v1/live ------------------------------------------------- */

static enum MHD_Result units(sgs_agg_server *sv, sgs_http_request *req)
{
    const sgs_registry *reg = sv->ctx->reg;
    json_t *out = json_array();

    for (size_t i = 0; i < sgs_registry_count(reg); i++) {
        const sgs_unit *u = sgs_registry_at(reg, i);
        json_t *aliases = json_array();

        for (size_t k = 0; k < u->n_aliases; k++)
            json_array_append_new(aliases, json_string(u->aliases[k]));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "unit_id", u->id, "name",
                                             u->name, "group", u->group, "aliases", aliases));
    }
    return sgs_http_reply_json(req, MHD_HTTP_OK, out);
}

static enum MHD_Result live(sgs_agg_ctx *ctx, sgs_http_request *req)
{
    char err[1024];
    int bad_unit;
    sgs_buf b;

    sgs_buf_init(&b);
    if (sgs_agg_status_write(ctx, NULL, 0, &b, &bad_unit, err, sizeof(err)) != 0) {
        sgs_buf_free(&b);
        return unavailable(req, err);
    }
    return sgs_http_reply_buf(req, MHD_HTTP_OK, "application/json; charset=utf-8", &b);
}

/* ---- /api/v1/months... ------------------------------------------------------------- */

static enum MHD_Result months(sgs_agg_ctx *ctx, sgs_http_request *req)
{
    char **v, err[1024];
    long *latest;
    size_t n;
    json_t *out;

    if (sgs_agg_version_months(ctx, &v, &latest, &n, err, sizeof(err)) != 0)
        return unavailable(req, err);
    out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (latest[i] > 0)
            json_array_append_new(out, json_pack("{s:s, s:I}", "month", v[i], "latest_version",
                                                 (json_int_t)latest[i]));
    }
    sgs_agg_strv_free(v, n);
    free(latest);
    return sgs_http_reply_json(req, MHD_HTTP_OK, out);
}

static enum MHD_Result month(sgs_agg_ctx *ctx, sgs_http_request *req, const char *ym)
{
    const char *vs = sgs_http_arg(req, "version");
    long version = 0, got;
    char *text, err[1024], tmp[64];
    size_t len;
    int rc;

    if (vs && (version = parse_count(vs, SGS_AGG_VERSION_MAX)) < 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "version '%s': expected a version number 1..%ld",
                              clip(vs, tmp, sizeof(tmp)), (long)SGS_AGG_VERSION_MAX);
    rc = sgs_agg_version_text(ctx, ym, version, &text, &len, &got, err, sizeof(err));
    if (rc < 0)
        return unavailable(req, err);
    if (rc == 0) {
        if (version)
            return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "%s has no snapshot version %ld", ym,
                                  version);
        return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "%s has no snapshot", ym);
    }
    {
        sgs_buf b = {text, len, len + 1, 0};

        return sgs_http_reply_buf(req, MHD_HTTP_OK, "application/json; charset=utf-8", &b);
    }
}

static enum MHD_Result month_live(sgs_agg_ctx *ctx, sgs_http_request *req, int year, int mon)
{
    char err[1024];
    sgs_agg_snapshot *s;
    json_t *doc;

    /* The very read of `snapshot` (one MULTI/EXEC), stored nowhere. */
    s = sgs_agg_snapshot_build(ctx, year, mon, err, sizeof(err));
    if (!s)
        return unavailable(req, err);
    doc = json_incref(s->json);
    json_object_set_new(doc, "version", json_null());
    sgs_agg_snapshot_free(s);
    return sgs_http_reply_json(req, MHD_HTTP_OK, doc);
}

/* ---- report files ---------------------------------------------------------------- */

struct file_kind {
    const char *suffix; /* after YYYY-MM */
    const char *type;
    int attachment;
};

static const struct file_kind file_kinds[] = {
    {".json", "application/json; charset=utf-8", 0},
    {"-notice.md", "text/markdown; charset=utf-8", 1},
    {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 1},
    {"-report.html", "text/html; charset=utf-8", 0},
    {"-ledger.csv", "text/csv; charset=utf-8", 1},
};
#define N_FILE_KINDS (sizeof(file_kinds) / sizeof(file_kinds[0]))

/* The names a month's report files can have, in display order: YYYY-MM.json,
 * one YYYY-MM-<group>.csv per group (report order), then the notice, the
 * workbook, the printable page and the ledger. *types gets each one's
 * Content-Type and attachment flag. The caller frees names and their strings. */
static size_t file_names(sgs_agg_server *sv, const char *ym, char ***names,
                         const struct file_kind ***kinds)
{
    static const struct file_kind group_csv = {"", "text/csv; charset=utf-8", 1};
    size_t ng = sgs_registry_group_count(sv->ctx->reg), n = 0;
    const char **ids = calloc(ng + 1, sizeof(*ids));
    char **v = calloc(ng + N_FILE_KINDS + 1, sizeof(*v));
    const struct file_kind **k = calloc(ng + N_FILE_KINDS + 1, sizeof(*k));
    char name[256];

    *names = NULL;
    *kinds = NULL;
    if (!ids || !v || !k) {
        free(ids);
        free(v);
        free(k);
        return 0;
    }
    ng = sgs_agg_group_order(sv->ctx->reg, sv->ctx->cfg, ids);
    for (size_t i = 0; i < N_FILE_KINDS + ng; i++) {
        /* json first, then the groups' tables, then the rest */
        if (i == 0) {
            snprintf(name, sizeof(name), "%s%s", ym, file_kinds[0].suffix);
            k[n] = &file_kinds[0];
        } else if (i <= ng) {
            sgs_agg_report_group_csv_name(name, sizeof(name), ym, ids[i - 1]);
            k[n] = &group_csv;
        } else {
            snprintf(name, sizeof(name), "%s%s", ym, file_kinds[i - ng].suffix);
            k[n] = &file_kinds[i - ng];
        }
        if (!(v[n] = strdup(name)))
            break;
        n++;
    }
    free(ids);
    *names = v;
    *kinds = k;
    return n;
}

/* Opens report.dir/<name> read-only, a regular file only (no links). -1 when
 * there is none. */
static int open_report(sgs_agg_server *sv, const char *name, struct stat *st)
{
    char path[4096];
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", sv->report_dir, name) >= sizeof(path))
        return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size > FILE_MAX) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The version in report.dir/<ym>.json as snapshot wrote it ("version" is
 * its second member, in the first bytes): > 0, 0 when the file is missing
 * or holds no version number. */
static long dir_version(sgs_agg_server *sv, const char *ym)
{
    char name[16], head[512];
    const char *at;
    struct stat st;
    ssize_t got;
    int fd;

    snprintf(name, sizeof(name), "%s.json", ym);
    fd = open_report(sv, name, &st);
    if (fd < 0)
        return 0;
    got = read(fd, head, sizeof(head) - 1);
    close(fd);
    if (got <= 0)
        return 0;
    head[got] = '\0';
    at = strstr(head, "\"version\"");
    if (!at)
        return 0;
    at += 9;
    while (*at == ' ' || *at == ':')
        at++;
    return *at >= '1' && *at <= '9' ? strtol(at, NULL, 10) : 0;
}

/* Whether report.dir holds the files of the month's latest stored version
 * (REFERENCE §9: the report files of the latest version): 1 yes; 0 no (no
 * snapshot: *latest 0; or the files of another version or none: written
 * elsewhere with --out, not yet rewritten, or never); -1 Redis failed (why). */
static int files_current(sgs_agg_server *sv, const char *ym, long *latest, char *why,
                         size_t why_size)
{
    sgs_agg_ctx *ctx = sgs_agg_server_worker(sv);

    *latest = 0;
    if (!ctx) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    *latest = sgs_agg_version_latest(ctx, ym, why, why_size);
    if (*latest < 0)
        return -1;
    return *latest > 0 && dir_version(sv, ym) == *latest;
}

/* The latest version's files: each with its size when report.dir holds it,
 * else "bytes": null (rendered when asked for, file()). Nothing is built. */
static enum MHD_Result files_list(sgs_agg_server *sv, sgs_http_request *req, const char *ym)
{
    char **names, why[512];
    const struct file_kind **kinds;
    size_t n;
    json_t *out;
    long latest;
    int cur = files_current(sv, ym, &latest, why, sizeof(why));

    if (cur < 0)
        return unavailable(req, why);
    if (latest == 0) /* no snapshot: no files */
        return sgs_http_reply_json(req, MHD_HTTP_OK, json_array());
    n = file_names(sv, ym, &names, &kinds);
    out = json_array();

    for (size_t i = 0; i < n; i++) {
        struct stat st;
        int fd = cur ? open_report(sv, names[i], &st) : -1;

        if (fd >= 0)
            close(fd);
        json_array_append_new(
            out, json_pack("{s:s, s:o, s:s}", "name", names[i], "bytes",
                           fd >= 0 ? json_integer((json_int_t)st.st_size) : json_null(),
                           "content_type", kinds[i]->type));
        free(names[i]);
    }
    free(names);
    free(kinds);
    return sgs_http_reply_json(req, MHD_HTTP_OK, out);
}

/* A report file's answer: its type, its name in Content-Disposition, and the
 * page's sandbox. */
static void file_headers(struct MHD_Response *r, const char *name, const struct file_kind *kind)
{
    char disp[320];

    /* the name is ours (month and group id): no quoting needed */
    snprintf(disp, sizeof(disp), "%s; filename=\"%s\"", kind->attachment ? "attachment" : "inline",
             name);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, kind->type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(r, "Content-Security-Policy", FILE_CSP);
}

/* The file of the latest version that report.dir lacks, rendered (render.c). */
static enum MHD_Result file_rendered(sgs_agg_server *sv, sgs_http_request *req, int year, int mon,
                                     const char *name, const struct file_kind *kind)
{
    sgs_agg_ctx *ctx = sgs_agg_server_worker(sv);
    char err[1024];
    sgs_buf b = SGS_BUF_INIT;
    struct MHD_Response *r;
    long version;
    int rc;

    if (!ctx)
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    rc = sgs_agg_render_latest(ctx, year, mon, name, &b, &version, err, sizeof(err));
    if (rc != SGS_AGG_RENDER_OK) {
        sgs_buf_free(&b);
        switch (rc) {
        case SGS_AGG_RENDER_NONE:
            return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "%s", err);
        case SGS_AGG_RENDER_CHANGED:
            return sgs_http_error(req, MHD_HTTP_CONFLICT, "%s", err);
        case SGS_AGG_RENDER_ERROR:
            return unavailable(req, err);
        default:
            sgs_error("%s: %s", name, err);
            return sgs_http_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
        }
    }
    sgs_debug("%s of version %ld rendered (%zu bytes): %s has no copy of it", name, version, b.len,
              sv->report_dir);
    r = MHD_create_response_from_buffer(b.len, b.data ? b.data : "",
                                        b.data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        sgs_buf_free(&b);
        return MHD_NO;
    }
    file_headers(r, name, kind);
    return sgs_http_queue(req, MHD_HTTP_OK, r);
}

static enum MHD_Result file(sgs_agg_server *sv, sgs_http_request *req, int year, int mon,
                            const char *ym, const char *want)
{
    char **names, tmp[96], why[512];
    const struct file_kind **kinds;
    size_t n = file_names(sv, ym, &names, &kinds), hit = n;
    enum MHD_Result rc;
    struct stat st;
    long latest;
    int cur, fd = -1;

    for (size_t i = 0; i < n && hit == n; i++) {
        if (strcmp(names[i], want) == 0)
            hit = i;
    }
    if (hit == n) {
        rc = sgs_http_error(req, MHD_HTTP_NOT_FOUND, "'%s' is not a report file of %s",
                            clip(want, tmp, sizeof(tmp)), ym);
    } else if ((cur = files_current(sv, ym, &latest, why, sizeof(why))) < 0) {
        rc = unavailable(req, why);
    } else if (latest == 0) {
        rc = sgs_http_error(req, MHD_HTTP_NOT_FOUND, "%s: %s has no snapshot", names[hit], ym);
    } else if (!cur || (fd = open_report(sv, names[hit], &st)) < 0) {
        /* report.dir holds another version's files, none, or not this one
         * (a link is never followed): rendered from what Redis holds */
        rc = file_rendered(sv, req, year, mon, names[hit], kinds[hit]);
    } else {
        struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);

        if (!r) {
            close(fd);
            rc = MHD_NO;
        } else {
            file_headers(r, names[hit], kinds[hit]);
            rc = sgs_http_queue(req, MHD_HTTP_OK, r);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(kinds);
    return rc;
}

/* ---- alerts, spot check, health ------------------------------------------------------ */

static enum MHD_Result alerts(sgs_agg_ctx *ctx, sgs_http_request *req)
{
    const char *ls = sgs_http_arg(req, "limit");
    long limit = ALERTS_DEFAULT;
    char err[1024], tmp[64];
    json_t *out;

    /* "at most 1000": a larger limit is served as 1000, not refused */
    if (ls && (limit = parse_count(ls, 999999999L)) < 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "limit '%s': expected a whole number from 1 (at most %d are served)",
                              clip(ls, tmp, sizeof(tmp)), ALERTS_MAX);
    if (limit > ALERTS_MAX)
        limit = ALERTS_MAX;
    out = sgs_agg_alerts_latest(ctx, (size_t)limit, err, sizeof(err));
    if (!out)
        return unavailable(req, err);
    return sgs_http_reply_json(req, MHD_HTTP_OK, out);
}

/* POST spot-check: the sample's findings stored (spot-check), looked up only
 * (?dry_run=1, --dry-run), or withdrawn (?withdraw=1&reason=TEXT, --withdraw
 * --reason; with dry_run=1 checked only). */
static enum MHD_Result spot_check(sgs_agg_server *sv, sgs_agg_ctx *ctx, sgs_http_request *req,
                                  int year, int mon, const char *ym)
{
    const char *dry = sgs_http_arg(req, "dry_run"), *wd = sgs_http_arg(req, "withdraw");
    const char *reason = sgs_http_arg(req, "reason");
    char err[1024], name[32], tmp[64];
    int usage, dry_run = 0, withdraw = 0;
    json_t *out;

    if (!sv->token)
        return sgs_http_error(req, MHD_HTTP_FORBIDDEN,
                              "writes are refused: http.token is not set on this server");
    if (dry && sgs_config_parse_bool(dry, &dry_run) != 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "dry_run '%s': expected 1 or 0 (or yes/no, on/off, true/false)",
                              clip(dry, tmp, sizeof(tmp)));
    if (wd && sgs_config_parse_bool(wd, &withdraw) != 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "withdraw '%s': expected 1 or 0 (or yes/no, on/off, true/false)",
                              clip(wd, tmp, sizeof(tmp)));
    if (withdraw && (!reason || !reason[0]))
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "withdraw=1 needs reason=TEXT (why the findings are withdrawn; "
                              "not empty)");
    if (reason && !withdraw)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST, "reason applies only with withdraw=1");
    if (reason && sgs_agg_spotcheck_reason_check(reason, err, sizeof(err)) != 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST, "reason: %s", err);
    if (req->body_len == 0)
        return sgs_http_error(req, MHD_HTTP_BAD_REQUEST,
                              "the body must be the sample (TSV: unit_id, kind, doc_no)");
    snprintf(name, sizeof(name), "sample-%s", ym);
    if (withdraw)
        out = sgs_agg_spotcheck_withdraw(ctx, year, mon, name, req->body, req->body_len, reason,
                                         dry_run, &usage, err, sizeof(err));
    else
        out = sgs_agg_spotcheck_exec(ctx, year, mon, name, req->body, req->body_len, dry_run,
                                     &usage, err, sizeof(err));
    if (!out) {
        if (usage)
            return sgs_http_error(req, MHD_HTTP_BAD_REQUEST, "%s", err);
        return unavailable(req, err);
    }
    return sgs_http_reply_json(req, MHD_HTTP_OK, out);
}

/* Healthy when every master of the current map answers PING (one Redis: the
 * one): a master that is down holds slots nobody serves until its replica
 * takes over, and the map says so until then. Connecting here skips the
 * maxmemory-policy check, whose INFO would wait out such a failover. */
static enum MHD_Result healthz(sgs_agg_ctx *ctx, sgs_http_request *req)
{
    char err[1024];
    size_t n;

    if (sgs_agg_ctx_redis_unchecked(ctx, err, sizeof(err)) != 0 ||
        sgs_rcl_refresh(ctx->rcl, err, sizeof(err)) != 0)
        return sgs_http_unhealthy(req, err);
    n = sgs_rcl_master_count(ctx->rcl);
    for (size_t i = 0; i < n; i++) {
        redisReply *r =
            sgs_rcl_master_command(ctx->rcl, i, SGS_RCL_IDEMPOTENT, err, sizeof(err), "PING");

        if (r && r->type == REDIS_REPLY_ERROR) {
            char why[1024];

            snprintf(why, sizeof(why), "redis %s: PING: %s", sgs_rcl_master_name(ctx->rcl, i),
                     r->str);
            freeReplyObject(r);
            return sgs_http_unhealthy(req, why);
        }
        if (!r)
            return sgs_http_unhealthy(req, err);
        freeReplyObject(r);
    }
    return sgs_http_reply(req, MHD_HTTP_OK, "application/json; charset=utf-8",
                          "{\"status\":\"ok\"}\n", 16);
}

/* ---- the router ----------------------------------------------------------------------- */

static int authorized(const sgs_agg_server *sv, const sgs_http_request *req)
{
    const char *given;
    size_t len;

    if (!sv->token)
        return 1;
    given = sgs_http_bearer(req, &len);
    return given && sgs_http_token_equal(given, len, sv->token, sv->token_len);
}

static enum MHD_Result unauthorized(sgs_http_request *req)
{
    static const char body[] = "{\"error\":\"this server needs Authorization: Bearer <token> "
                               "(http.token)\"}\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sgs\"");
    return sgs_http_queue(req, MHD_HTTP_UNAUTHORIZED, r);
}

/* /api/v1/months/<rest> */
static enum MHD_Result month_routes(sgs_agg_server *sv, sgs_http_request *req, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t mlen = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *tail = slash ? slash : "";
    int year, mon;
    char ym[8], tmp[64];
    sgs_agg_ctx *ctx;

    if (strcmp(tail, "") == 0)
        req->route = sgs_agg_route_names[SGS_AGG_ROUTE_MONTH];
    else if (strcmp(tail, "/live") == 0)
        req->route = sgs_agg_route_names[SGS_AGG_ROUTE_MONTH_LIVE];
    else if (strcmp(tail, "/files") == 0)
        req->route = sgs_agg_route_names[SGS_AGG_ROUTE_FILES];
    else if (strncmp(tail, "/files/", 7) == 0 && tail[7])
        req->route = sgs_agg_route_names[SGS_AGG_ROUTE_FILE];
    else if (strcmp(tail, "/spot-check") == 0)
        req->route = sgs_agg_route_names[SGS_AGG_ROUTE_SPOTCHECK];
    else
        return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "no such endpoint: %s",
                              clip(req->path, tmp, sizeof(tmp)));
    if (req->route == sgs_agg_route_names[SGS_AGG_ROUTE_SPOTCHECK]) {
        if (strcmp(req->method, "POST") != 0)
            return not_allowed(req, "POST");
    } else if (!is_get(req)) {
        return not_allowed(req, "GET, HEAD");
    }
    {
        char shown[16];
        size_t k = mlen < sizeof(shown) - 4 ? mlen : sizeof(shown) - 4;

        if (parse_month(rest, mlen, &year, &mon, ym) != 0) {
            memcpy(shown, rest, k);
            strcpy(shown + k, mlen > k ? "..." : "");
            return sgs_http_error(req, MHD_HTTP_BAD_REQUEST, "month '%s': expected YYYY-MM", shown);
        }
    }
    if (req->route == sgs_agg_route_names[SGS_AGG_ROUTE_FILES])
        return files_list(sv, req, ym);
    if (req->route == sgs_agg_route_names[SGS_AGG_ROUTE_FILE])
        return file(sv, req, year, mon, ym, tail + 7);
    if (!(ctx = sgs_agg_server_worker(sv)))
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    if (req->route == sgs_agg_route_names[SGS_AGG_ROUTE_MONTH])
        return month(ctx, req, ym);
    if (req->route == sgs_agg_route_names[SGS_AGG_ROUTE_MONTH_LIVE])
        return month_live(ctx, req, year, mon);
    return spot_check(sv, ctx, req, year, mon, ym);
}

static enum MHD_Result route_request(sgs_agg_server *sv, sgs_http_request *req)
{
    const char *p = req->path;
    sgs_agg_ctx *ctx;
    char tmp[64];
    enum sgs_agg_route route = SGS_AGG_ROUTE_OTHER;
    static const struct {
        const char *path;
        enum sgs_agg_route route;
    } fixed[] = {
        {"/", SGS_AGG_ROUTE_CONSOLE},
        {"/index.html", SGS_AGG_ROUTE_CONSOLE},
        {"/api/v1/units", SGS_AGG_ROUTE_UNITS},
        {"/api/v1/live", SGS_AGG_ROUTE_LIVE},
        {"/api/v1/months", SGS_AGG_ROUTE_MONTHS},
        {"/api/v1/alerts", SGS_AGG_ROUTE_ALERTS},
        {"/api/v1/alerts/stream", SGS_AGG_ROUTE_STREAM},
        {"/metrics", SGS_AGG_ROUTE_METRICS},
        {"/healthz", SGS_AGG_ROUTE_HEALTHZ},
    };

    req->route = sgs_agg_route_names[SGS_AGG_ROUTE_OTHER];
    if (strncmp(p, "/api/", 5) == 0 && !authorized(sv, req))
        return unauthorized(req);
    if (strncmp(p, "/api/v1/months/", 15) == 0)
        return month_routes(sv, req, p + 15);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (strcmp(p, fixed[i].path) == 0)
            route = fixed[i].route;
    }
    if (route == SGS_AGG_ROUTE_OTHER)
        return sgs_http_error(req, MHD_HTTP_NOT_FOUND, "no such endpoint: %s",
                              clip(p, tmp, sizeof(tmp)));
    req->route = sgs_agg_route_names[route];
    if (!is_get(req))
        return not_allowed(req, "GET, HEAD");
    switch (route) {
    case SGS_AGG_ROUTE_CONSOLE:
        return console(sv, req);
    case SGS_AGG_ROUTE_UNITS:
        return units(sv, req);
    case SGS_AGG_ROUTE_STREAM:
        return sgs_agg_hub_attach(sv->hub, req);
    case SGS_AGG_ROUTE_METRICS:
        return sgs_agg_webstats_serve(sv, req);
    default:
        break;
    }
    if (!(ctx = sgs_agg_server_worker(sv)))
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    switch (route) {
    case SGS_AGG_ROUTE_LIVE:
        return live(ctx, req);
    case SGS_AGG_ROUTE_MONTHS:
        return months(ctx, req);
    case SGS_AGG_ROUTE_ALERTS:
        return alerts(ctx, req);
    default:
        return healthz(ctx, req);
    }
}

enum MHD_Result sgs_agg_api_handle(void *arg, sgs_http_request *req)
{
    sgs_agg_server *sv = arg;
    enum MHD_Result r;

    /* the registry and calendar stay in place while the request reads them */
    pthread_rwlock_rdlock(&sv->inputs_lock);
    r = route_request(sv, req);
    pthread_rwlock_unlock(&sv->inputs_lock);
    return r;
}

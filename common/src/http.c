/* HTTP serving over libmicrohttpd (sgs/http.h): one access handler that reads
 * each request's body whole, up to a cap, before the application's handler
 * sees the request; the reply helpers; listen address parsing. */
#include "sgs/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sgs/clock.h"
#include "sgs/log.h"

/* Bytes of a connection's own memory pool (request line, headers, write
 * buffer): a request whose headers do not fit is refused by libmicrohttpd. */
#define CONNECTION_MEMORY (64 * 1024)
#define LISTEN_BACKLOG    1024

struct sgs_http_server {
    struct MHD_Daemon *d;
    sgs_http_options o;
    char what[64];
    sgs_http_handler handler;
    void *arg;
    int port;
};

/* One request's state (libmicrohttpd's per-request pointer). */
struct conn_state {
    sgs_http_request req;
    sgs_buf body;
    int too_large; /* the body passed the cap: 413, the rest is discarded */
    int answered;  /* a response was queued */
};

/* ---- listen addresses ----------------------------------------------------- */

int sgs_http_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                          char *errstr, size_t errstr_size)
{
    char host[256];
    const char *colon, *port_text;
    struct addrinfo hints, *res = NULL;
    char *end;
    long port;
    int rc;

    if (!text || !*text) {
        snprintf(errstr, errstr_size, "empty address: expected HOST:PORT");
        return -1;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) {
            snprintf(errstr, errstr_size, "expected [IPv6]:PORT");
            return -1;
        }
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= sizeof(host)) {
            snprintf(errstr, errstr_size, "expected HOST:PORT");
            return -1;
        }
        if (memchr(text, ':', (size_t)(colon - text))) {
            snprintf(errstr, errstr_size, "an IPv6 address goes in brackets: [::1]:PORT");
            return -1;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    errno = 0;
    port = strtol(port_text, &end, 10);
    if (!*port_text || *end || errno || port < 0 || port > 65535) {
        snprintf(errstr, errstr_size, "port '%s': expected 0..65535", port_text);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (host[0] ? 0 : AI_PASSIVE);
    {
        char service[8];

        snprintf(service, sizeof(service), "%ld", port);
        rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    }
    if (rc != 0 || !res) {
        snprintf(errstr, errstr_size, "host '%s': %s", host, gai_strerror(rc));
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------ */

/* Percent-decoding of the path and the query arguments, in place, like
 * libmicrohttpd's own except that "%00" stays as it is: a decoded NUL would
 * cut the path short, and "/files/x.json%00.csv" must not name x.json. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *r = s, *w = s;

    (void)cls;
    (void)c;
    while (*r) {
        if (r[0] == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            int v = hexval(r[1]) * 16 + hexval(r[2]);

            if (v != 0) {
                *w++ = (char)v;
                r += 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* libmicrohttpd's log callback: the format is its own (a vprintf-style
 * callback by its API), hence the attribute. */
__attribute__((format(printf, 2, 0))) static void logger(void *cls, const char *fmt, va_list ap)
{
    const sgs_http_server *s = cls;
    char msg[512];
    size_t n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* Refused connections at the limit, clients that hang up: routine. */
    sgs_debug("%s: libmicrohttpd: %s", s->what, msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    sgs_http_server *s = cls;
    struct conn_state *st = *con_cls;

    (void)version;
    if (!st) {
        const char *cl;

        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->req.conn = conn;
        st->req.method = method;
        st->req.path = url;
        st->req.body = "";
        st->req.started_ns = sgs_clock_mono_ns();
        *con_cls = st;
        /* A declared length above the cap is refused before any of it is read. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n;

            errno = 0;
            n = strtoull(cl, &end, 10);
            if (errno || *end || n > s->o.max_body) {
                st->too_large = 1;
                st->answered = 1;
                return sgs_http_error(&st->req, MHD_HTTP_CONTENT_TOO_LARGE,
                                      "request body too large: at most %zu bytes", s->o.max_body);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!st->too_large) {
            if (st->body.len + *upload_data_size > s->o.max_body) {
                st->too_large = 1;
                sgs_buf_free(&st->body);
            } else {
                sgs_buf_append(&st->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0; /* consumed (or discarded) */
        return MHD_YES;
    }
    if (st->answered)
        return MHD_YES;
    st->answered = 1;
    if (st->too_large)
        return sgs_http_error(&st->req, MHD_HTTP_CONTENT_TOO_LARGE,
                              "request body too large: at most %zu bytes", s->o.max_body);
    if (st->body.oom)
        return sgs_http_error(&st->req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    if (st->body.data) {
        st->req.body = st->body.data;
        st->req.body_len = st->body.len;
    }
    return s->handler(s->arg, &st->req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sgs_http_server *s = cls;
    struct conn_state *st = *con_cls;

    (void)conn;
    (void)toe;
    if (!st)
        return;
    if (s->o.on_done && st->req.status)
        s->o.on_done(s->arg, &st->req, (double)(sgs_clock_mono_ns() - st->req.started_ns) / 1e9);
    sgs_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

/* ---- the server ---------------------------------------------------------------- */

sgs_http_server *sgs_http_start(const char *listen, const sgs_http_options *o,
                                sgs_http_handler handler, void *arg, char *errstr,
                                size_t errstr_size)
{
    sgs_http_server *s;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    /* poll(), not epoll: with epoll and a thread pool, libmicrohttpd 0.9.75
     * missed hang-ups. After 1,000 idle clients hung up together, one thread's
     * whole share of the connection limit (128) stayed in CLOSE-WAIT until the
     * idle timeout, every time; once every thread was full of them, new clients
     * waited in the listen queue for up to a minute. poll() sees each hang-up,
     * and over at most 128 connections a thread it costs nothing measurable
     * (tests/integration/test_console_hostile.py, bench/console_bench.py). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    char why[256];
    const union MHD_DaemonInfo *info;
    const char *what = o->what ? o->what : "http";

    if (sgs_http_listen_parse(listen, &addr, &addr_len, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "%s '%s': %s", what, listen ? listen : "", why);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->o = *o;
    snprintf(s->what, sizeof(s->what), "%s", what);
    s->handler = handler;
    s->arg = arg;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->suspend)
        flags |= MHD_ALLOW_SUSPEND_RESUME;
    errno = 0;
    /* The logger comes first: libmicrohttpd writes what it says about the
     * options before it to stderr with a logger of its own. */
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, logger, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(o->max_connections ? o->max_connections : 64), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)o->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)LISTEN_BACKLOG, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(o->threads > 1 ? o->threads : 0), MHD_OPTION_END);
    if (!s->d) {
        snprintf(errstr, errstr_size, "%s '%s': cannot listen%s%s", what, listen, errno ? ": " : "",
                 errno ? strerror(errno) : "");
        free(s);
        return NULL;
    }
    info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

void sgs_http_stop(sgs_http_server *s)
{
    if (!s)
        return;
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s);
}

int sgs_http_port(const sgs_http_server *s)
{
    return s->port;
}

unsigned sgs_http_connections(const sgs_http_server *s)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return info ? info->num_connections : 0;
}

/* ---- replies --------------------------------------------------------------------- */

enum MHD_Result sgs_http_queue(sgs_http_request *req, unsigned status, struct MHD_Response *r)
{
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (!MHD_get_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    rc = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    if (rc == MHD_YES)
        req->status = status;
    return rc;
}

enum MHD_Result sgs_http_reply(sgs_http_request *req, unsigned status, const char *content_type,
                               const void *data, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);

    if (!r)
        return MHD_NO;
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return sgs_http_queue(req, status, r);
}

enum MHD_Result sgs_http_reply_buf(sgs_http_request *req, unsigned status, const char *content_type,
                                   sgs_buf *b)
{
    struct MHD_Response *r;

    if (b->oom) {
        sgs_buf_free(b);
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    if (!b->data)
        return sgs_http_reply(req, status, content_type, "", 0);
    r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        sgs_buf_free(b);
        return MHD_NO;
    }
    sgs_buf_init(b); /* the response owns the bytes now */
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return sgs_http_queue(req, status, r);
}

enum MHD_Result sgs_http_reply_json(sgs_http_request *req, unsigned status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    struct MHD_Response *r;

    json_decref(doc);
    if (!text)
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    return sgs_http_queue(req, status, r);
}

enum MHD_Result sgs_http_error(sgs_http_request *req, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    sgs_buf b;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* The message may quote a request's bytes: the JSON writer makes any of
     * them valid (U+FFFD for broken UTF-8, escapes for the rest). */
    sgs_buf_init(&b);
    sgs_buf_puts(&b, "{\"error\":");
    sgs_buf_put_json_string(&b, msg, strlen(msg));
    sgs_buf_puts(&b, "}\n");
    return sgs_http_reply_buf(req, status, "application/json; charset=utf-8", &b);
}

enum MHD_Result sgs_http_unhealthy(sgs_http_request *req, const char *why)
{
    sgs_buf b;

    sgs_buf_init(&b);
    sgs_buf_puts(&b, "{\"status\":\"unavailable\",\"error\":");
    sgs_buf_put_json_string(&b, why, strlen(why));
    sgs_buf_puts(&b, "}\n");
    return sgs_http_reply_buf(req, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json; charset=utf-8",
                              &b);
}

/* ---- request helpers ------------------------------------------------------------ */

const char *sgs_http_arg(const sgs_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sgs_http_bearer(const sgs_http_request *req, size_t *len)
{
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    *len = strlen(h);
    while (*len && h[*len - 1] == ' ')
        (*len)--;
    return h;
}

int sgs_http_token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
    volatile unsigned char diff = (unsigned char)(given_len != want_len);

    /* Every byte of want is visited whatever given holds; a shorter given is
     * read as zeros past its end, never out of bounds. */
    for (size_t i = 0; i < want_len; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;

        diff |= (unsigned char)(g ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

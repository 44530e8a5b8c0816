/* HTTP serving over libmicrohttpd, shared by `sgs-aggregator serve` (console,
 * API, metrics) and sgs-consumer (metrics.listen: /metrics, /healthz), REFERENCE
 * §9: listen addresses, request bodies read whole up to a cap, bounded
 * connections and idle timeouts, replies with the common security headers,
 * JSON errors {"error": "..."}, the bearer token compared in constant time.
 *
 * Threads: handlers run on libmicrohttpd's threads (one, or a pool), never on
 * the caller's; a handler must be safe against itself on the other threads.
 * Everything a server owns is freed by sgs_http_stop. */
#ifndef SGS_HTTP_H
#define SGS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "sgs/buf.h"

typedef struct sgs_http_server sgs_http_server;

/* One request, complete (headers and body), as a handler sees it. */
typedef struct sgs_http_request {
    struct MHD_Connection *conn;
    const char *method; /* "GET", "HEAD", "POST", ... */
    const char *path;   /* the URL path, percent-decoded (except %00, kept as is), no query */
    const char *body;   /* NUL-terminated ("" without a body); its bytes may hold NULs */
    size_t body_len;
    int64_t started_ns; /* sgs_clock_mono_ns() when the request line arrived */
    /* set by the handler and the reply functions: */
    const char *route; /* the route's name for metrics ("/api/v1/live"); NULL: "other" */
    unsigned status;   /* the status queued (0: none) */
    int streaming;     /* an endless response (an event stream): not a latency */
    void *user;        /* the handler's, for on_done */
} sgs_http_request;

/* Answers a request: queues one response through the functions below and
 * returns their result. */
typedef enum MHD_Result (*sgs_http_handler)(void *arg, sgs_http_request *req);
/* Called when a request's response has been sent or the connection dropped
 * (request statistics); seconds since started_ns. */
typedef void (*sgs_http_done)(void *arg, const sgs_http_request *req, double seconds);

typedef struct sgs_http_options {
    const char *what;         /* the configuration key of the address, for messages */
    unsigned threads;         /* polling threads (0 or 1: one) */
    unsigned max_connections; /* open at once; more wait in the listen queue */
    unsigned timeout_s;       /* idle connections are closed after this (0: never) */
    size_t max_body;          /* larger request bodies get 413 */
    int suspend;              /* handlers may suspend connections (event streams) */
    sgs_http_done on_done;    /* may be NULL */
} sgs_http_options;

/* "HOST:PORT", "[IPv6]:PORT" or ":PORT" (every interface) into an address;
 * HOST may be a name (the first address it resolves to). PORT 0 takes any
 * free port (sgs_http_port tells which). 0, or -1 with "why" in errstr. */
int sgs_http_listen_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                          char *errstr, size_t errstr_size);

/* Starts serving on listen (sgs_http_listen_parse) with handler(arg, req) for
 * every request. NULL with "<what> 'ADDR': why" in errstr. */
sgs_http_server *sgs_http_start(const char *listen, const sgs_http_options *o,
                                sgs_http_handler handler, void *arg, char *errstr,
                                size_t errstr_size);
/* Stops the threads, closes every connection (suspended ones must have been
 * resumed), frees the server. NULL ok. */
void sgs_http_stop(sgs_http_server *s);
/* The port listened on. */
int sgs_http_port(const sgs_http_server *s);
/* Connections open now. */
unsigned sgs_http_connections(const sgs_http_server *s);

/* ---- replies: each queues a response on req and returns MHD's result ------ */

/* Adds the common headers (nosniff, no referrer, Cache-Control no-store unless
 * r has one) and queues r with status; r is destroyed here (MHD keeps its own
 * reference). */
enum MHD_Result sgs_http_queue(sgs_http_request *req, unsigned status, struct MHD_Response *r);
/* A copy of data with a Content-Type. */
enum MHD_Result sgs_http_reply(sgs_http_request *req, unsigned status, const char *content_type,
                               const void *data, size_t len);
/* b's bytes, handed over (b is left empty). */
enum MHD_Result sgs_http_reply_buf(sgs_http_request *req, unsigned status, const char *content_type,
                                   sgs_buf *b);
/* doc as compact JSON (rates with 15 significant digits); steals doc. */
enum MHD_Result sgs_http_reply_json(sgs_http_request *req, unsigned status, json_t *doc);
/* {"error": "<message>"} with a 4xx/5xx status. */
enum MHD_Result sgs_http_error(sgs_http_request *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* /healthz's failure: 503 {"status": "unavailable", "error": "<why>"}. */
enum MHD_Result sgs_http_unhealthy(sgs_http_request *req, const char *why);

/* ---- request helpers ------------------------------------------------------ */

/* A query argument (decoded), or NULL. */
const char *sgs_http_arg(const sgs_http_request *req, const char *name);
/* The token of "Authorization: Bearer <token>" (scheme case-insensitive), or
 * NULL; *len its length. */
const char *sgs_http_bearer(const sgs_http_request *req, size_t *len);
/* 1 when given equals want. The time taken depends on want's length only, not
 * on where the two differ nor on given's length. */
int sgs_http_token_equal(const char *given, size_t given_len, const char *want, size_t want_len);

#endif

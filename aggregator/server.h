/* sgs-aggregator serve (REFERENCE §9): what the server's files share. Private to
 * serve.c (the command, shutdown), server.c (the worker contexts), api.c (the
 * routes), sse.c (the alert stream) and webstats.c (request statistics,
 * /metrics). */
#ifndef SGS_AGG_SERVER_H
#define SGS_AGG_SERVER_H

#include <pthread.h>

#include "agg.h"
#include "sgs/http.h"

/* Routes, the endpoint label of the metrics. */
enum sgs_agg_route {
    SGS_AGG_ROUTE_CONSOLE,
    SGS_AGG_ROUTE_UNITS,
    SGS_AGG_ROUTE_LIVE,
    SGS_AGG_ROUTE_MONTHS,
    SGS_AGG_ROUTE_MONTH,
    SGS_AGG_ROUTE_MONTH_LIVE,
    SGS_AGG_ROUTE_FILES,
    SGS_AGG_ROUTE_FILE,
    SGS_AGG_ROUTE_ALERTS,
    SGS_AGG_ROUTE_STREAM,
    SGS_AGG_ROUTE_SPOTCHECK,
    SGS_AGG_ROUTE_METRICS,
    SGS_AGG_ROUTE_HEALTHZ,
    SGS_AGG_ROUTE_OTHER,
    SGS_AGG_N_ROUTES
};
/* "/", "/api/v1/units", "/api/v1/months/{month}", ..., "other". */
extern const char *const sgs_agg_route_names[SGS_AGG_N_ROUTES];

typedef struct sgs_agg_hub sgs_agg_hub;
typedef struct sgs_agg_webstats sgs_agg_webstats;

typedef struct sgs_agg_server {
    sgs_agg_ctx *ctx; /* the command's context; workers share its cfg, reg and cal */
    sgs_http_server *http;
    sgs_agg_hub *hub;
    sgs_agg_webstats *stats;
    /* Held for reading while a request is answered, for writing while a
     * SIGHUP's reload swaps the registry and calendar (ctx's and every
     * worker's copy of the pointers). */
    pthread_rwlock_t inputs_lock;
    uint64_t reloads_ok, reloads_error; /* sgs_config_reloads_total (under inputs_lock) */
    const char *token;                  /* http.token, NULL when unset (borrowed from cfg) */
    size_t token_len;                   /* its length */
    const char *report_dir;
    pthread_key_t worker_key; /* this thread's worker context */
    pthread_mutex_t workers_lock;
    sgs_agg_ctx **workers; /* every worker context, freed at the end */
    size_t n_workers, cap_workers;
} sgs_agg_server;

/* ---- server.c --------------------------------------------------------------- */

/* The calling server thread's context (a Redis handle of its own, which
 * reconnects by itself), made on its first request. NULL when out of memory. */
sgs_agg_ctx *sgs_agg_server_worker(sgs_agg_server *sv);

/* ---- api.c -------------------------------------------------------------------- */

/* Every request (sgs_http_handler; arg: the sgs_agg_server). */
enum MHD_Result sgs_agg_api_handle(void *arg, sgs_http_request *req);

/* ---- sse.c: GET /api/v1/alerts/stream ------------------------------------------
 * One Redis connection subscribed to P:alerts on a thread of its own; each
 * message goes to every connected client's queue as "event: alert". A queue is
 * bounded: a client that falls that far behind gets a comment saying so and is
 * disconnected (it reconnects and fetches /api/v1/alerts), so neither a slow
 * client nor many of them hold up Redis or the other clients. Idle clients
 * cost nothing: their connections are suspended until there is something to
 * send; a comment every 15 s keeps proxies from closing them and finds clients
 * that went away. */

typedef struct sgs_agg_hub_stats {
    size_t clients;       /* connected now */
    uint64_t events;      /* alerts relayed from the channel */
    uint64_t dropped;     /* clients disconnected for falling behind */
    uint64_t connections; /* clients accepted so far */
    int subscribed;       /* the Redis subscription is up */
} sgs_agg_hub_stats;

/* Starts the subscriber thread (it connects and retries by itself). At most
 * max_clients streams at once. NULL with errstr when out of resources. */
sgs_agg_hub *sgs_agg_hub_start(const sgs_agg_ctx *parent, size_t max_clients, char *errstr,
                               size_t errstr_size);
/* Answers a stream request: queues the event stream (or 503 when full). */
enum MHD_Result sgs_agg_hub_attach(sgs_agg_hub *h, sgs_http_request *req);
/* Ends every stream (so the server can stop) and waits up to wait_ms for the
 * clients to go. New streams are refused from now on. */
void sgs_agg_hub_close(sgs_agg_hub *h, int wait_ms);
/* Stops the subscriber thread and frees the hub (after the HTTP server is
 * stopped). NULL ok. */
void sgs_agg_hub_destroy(sgs_agg_hub *h);
void sgs_agg_hub_get_stats(sgs_agg_hub *h, sgs_agg_hub_stats *out);

/* ---- webstats.c ------------------------------------------------------------------ */

sgs_agg_webstats *sgs_agg_webstats_new(void); /* NULL when out of memory */
void sgs_agg_webstats_free(sgs_agg_webstats *w);
/* Counts a finished request (sgs_http_done; arg: the sgs_agg_server). */
void sgs_agg_webstats_done(void *arg, const sgs_http_request *req, double seconds);
/* GET /metrics: the server's own counters and what it reads from Redis. */
enum MHD_Result sgs_agg_webstats_serve(sgs_agg_server *sv, sgs_http_request *req);

/* ---- the console page, generated from console/index.html -------------------------- */

extern const unsigned char sgs_agg_console_html[];
extern const size_t sgs_agg_console_html_len;

#endif

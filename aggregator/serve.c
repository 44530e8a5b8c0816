/* sgs-aggregator serve: the console, the HTTP API and the metrics (REFERENCE §9)
 * until SIGINT/SIGTERM.
 *
 * Threads: libmicrohttpd runs a pool of polling threads (each request is
 * answered on one of them) and the alert stream has a subscriber thread of its
 * own. The command's context (configuration, registry, calendar) is read-only
 * while a request is answered (inputs_lock); SIGHUP reloads the registry and
 * calendar between requests (sgs_agg_ctx_reload under the write lock). Each
 * thread gets a worker context with its own Redis handle on its
 * first request (an sgs_rcl belongs to one thread: server.c), freed here at
 * the end.
 *
 * Limits (sgs/http.h does the enforcing): at most MAX_CONNECTIONS connections
 * (more wait in the kernel's listen queue), MAX_STREAMS of them event streams, request
 * bodies of at most 1 MB, idle connections closed after IDLE_TIMEOUT_S. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/log.h"

#define THREADS         4
#define MAX_CONNECTIONS 512
#define MAX_STREAMS     256
#define MAX_BODY        (1024 * 1024)
#define IDLE_TIMEOUT_S  60
#define STOP_STREAMS_MS 2000
#define SLEEP_STEP_MS   200

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

static void sleep_step(void)
{
    struct timespec ts = {0, SLEEP_STEP_MS * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_flag && !reload_flag)
        ;
}

/* SIGHUP: the registry and calendar again, swapped while no request runs;
 * the workers' copies of the pointers follow. */
static void reload(sgs_agg_server *sv)
{
    pthread_rwlock_wrlock(&sv->inputs_lock);
    if (sgs_agg_ctx_reload(sv->ctx) == 0) {
        sv->reloads_ok++;
        pthread_mutex_lock(&sv->workers_lock);
        for (size_t i = 0; i < sv->n_workers; i++) {
            sv->workers[i]->reg = sv->ctx->reg;
            sv->workers[i]->cal = sv->ctx->cal;
        }
        pthread_mutex_unlock(&sv->workers_lock);
    } else {
        sv->reloads_error++;
    }
    pthread_rwlock_unlock(&sv->inputs_lock);
}

int sgs_agg_cmd_serve(sgs_agg_ctx *ctx, const char *listen)
{
    sgs_agg_server sv;
    sgs_http_options o;
    struct sigaction sa;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char err[1024];
    const char *token = sgs_config_get(ctx->cfg, "http.token");
    int rc = SGS_AGG_EXIT_RUNTIME, key_made = 0;

    memset(&sv, 0, sizeof(sv));
    sv.ctx = ctx;
    if (!listen)
        listen = sgs_config_get(ctx->cfg, "http.listen");
    if (sgs_http_listen_parse(listen, &addr, &addr_len, err, sizeof(err)) != 0) {
        sgs_error("%s '%s': %s",
                  listen == sgs_config_get(ctx->cfg, "http.listen") ? "http.listen" : "--listen",
                  listen ? listen : "", err);
        return SGS_AGG_EXIT_USAGE;
    }
    sv.report_dir = sgs_config_get(ctx->cfg, "report.dir");
    if (!sv.report_dir || !*sv.report_dir) {
        sgs_error("report.dir: not set");
        return SGS_AGG_EXIT_USAGE;
    }
    if (token && *token) {
        sv.token = token;
        sv.token_len = strlen(token);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    /* jansson seeds its hash function on first use: do it before the threads */
    json_object_seed(0);
    pthread_mutex_init(&sv.workers_lock, NULL);
    pthread_rwlock_init(&sv.inputs_lock, NULL);
    key_made = pthread_key_create(&sv.worker_key, NULL) == 0;
    if (!key_made || !(sv.stats = sgs_agg_webstats_new())) {
        sgs_error("out of memory");
        goto out;
    }
    sv.hub = sgs_agg_hub_start(ctx, MAX_STREAMS, err, sizeof(err));
    if (!sv.hub) {
        sgs_error("%s", err);
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.what = listen == sgs_config_get(ctx->cfg, "http.listen") ? "http.listen" : "--listen";
    o.threads = THREADS;
    o.max_connections = MAX_CONNECTIONS;
    o.timeout_s = IDLE_TIMEOUT_S;
    o.max_body = MAX_BODY;
    o.suspend = 1;
    o.on_done = sgs_agg_webstats_done;
    sv.http = sgs_http_start(listen, &o, sgs_agg_api_handle, &sv, err, sizeof(err));
    if (!sv.http) {
        sgs_error("%s", err);
        goto out;
    }
    {
        /* The address as given, with the port actually bound (":0" picks one). */
        const char *colon = strrchr(listen, ':');

        sgs_info("serving the console on http://%.*s:%d/ (API /api/v1, /metrics, /healthz)%s",
                 (int)(colon ? colon - listen : 0), listen, sgs_http_port(sv.http),
                 sv.token ? "; /api/ needs the bearer token"
                          : "; no http.token: spot checks "
                            "over HTTP are refused");
    }
    sgs_agg_calendar_log(ctx); /* the calendar's horizon, when due */
    while (!stop_flag) {
        sleep_step();
        if (reload_flag) {
            reload_flag = 0;
            reload(&sv);
        }
        sgs_agg_calendar_log(ctx); /* once a day while the horizon is near */
    }
    sgs_info("stopping on signal");
    rc = SGS_AGG_EXIT_OK;
out:
    /* Streams first (their connections are suspended while idle and must be
     * resumed before the server stops), then the server, then the rest. */
    if (sv.hub)
        sgs_agg_hub_close(sv.hub, STOP_STREAMS_MS);
    sgs_http_stop(sv.http);
    sgs_agg_hub_destroy(sv.hub);
    for (size_t i = 0; i < sv.n_workers; i++)
        sgs_agg_ctx_destroy(sv.workers[i]);
    free(sv.workers);
    sgs_agg_webstats_free(sv.stats);
    pthread_mutex_destroy(&sv.workers_lock);
    pthread_rwlock_destroy(&sv.inputs_lock);
    if (key_made)
        pthread_key_delete(sv.worker_key);
    return rc;
}

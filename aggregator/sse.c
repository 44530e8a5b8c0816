/* The alert stream (GET /api/v1/alerts/stream, Server-Sent Events): one Redis
 * connection subscribed to P:alerts, on a thread of its own, fanned out to the
 * clients (server.h says how slow and idle clients are handled).
 *
 * The subscription: the cluster client's units cannot carry SUBSCRIBE (a
 * subscribed connection answers nothing but messages), so the thread has a
 * hiredis connection of its own, opened on a master of the client's current
 * map (sgs_rcl_master_open; one Redis: the one). In a Redis Cluster a PUBLISH
 * on any node reaches the subscribers of every node, so any master serves.
 * When that node goes away the connection breaks; the thread logs it, fetches
 * the map again and subscribes on the next master that answers (after a
 * failover: the promoted replica, or another master), and tells the clients
 * to fetch the list again (alerts published meanwhile were missed).
 *
 * Locking: one mutex guards the client list and every client's queue. A
 * client's connection is suspended by its content reader (libmicrohttpd's
 * thread) when its queue is empty, and resumed by whoever adds to the queue,
 * both under the mutex, so a wake-up is never lost. */
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgs/clock.h"
#include "sgs/log.h"
#include "sgs/store.h"

#define QUEUE_MAX      (512 * 1024) /* bytes a client may be behind */
#define HEARTBEAT_MS   15000
#define RETRY_MS       1000
#define POLL_MS        1000
#define READ_BLOCK     32768
#define HELLO          "retry: 3000\n: sgs alert stream\n\n"
#define DROPPED        ": dropped: this client fell too far behind; reconnect\n\n"
#define RESYNC         "event: resync\ndata: {}\n\n"
#define HEARTBEAT_TEXT ": ping\n\n"

struct client {
    struct client *prev, *next;
    sgs_agg_hub *hub;
    struct MHD_Connection *conn;
    sgs_buf q;  /* bytes to send: q.data[off..len) */
    size_t off; /* sent so far */
    int suspended;
    int closing; /* send what is queued, then end the stream */
};

struct sgs_agg_hub {
    sgs_agg_ctx *ctx; /* the subscriber's context (borrowed cfg, reg) */
    pthread_t thread;
    int thread_started;
    int wake[2]; /* self-pipe: stop the thread at once */
    pthread_mutex_t lock;
    struct client head; /* list of clients (circular, head is no client) */
    size_t max_clients;
    int closed;           /* no new streams; readers end theirs */
    volatile int stop;    /* the thread's exit flag (under lock) */
    sgs_agg_hub_stats st; /* under lock */
    char channel[SGS_STORE_KEY_MAX];
    size_t next_master; /* the thread's: the master to try first (after the last one) */
};

/* ---- queues (under the lock) -------------------------------------------------- */

static void wake_client(struct client *c)
{
    if (c->suspended) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

static void enqueue(struct client *c, const char *data, size_t len)
{
    if (c->closing)
        return;
    if (c->off && c->off * 2 >= c->q.len) {
        /* the sent part is at least half: move the rest to the front */
        memmove(c->q.data, c->q.data + c->off, c->q.len - c->off);
        c->q.len -= c->off;
        c->off = 0;
    }
    if (c->q.len - c->off + len > QUEUE_MAX) {
        /* Too far behind: it gets to know, then its stream ends. */
        sgs_buf_reset(&c->q);
        c->off = 0;
        sgs_buf_puts(&c->q, DROPPED);
        c->closing = 1;
        c->hub->st.dropped++;
    } else {
        sgs_buf_append(&c->q, data, len);
        if (c->q.oom) {
            c->closing = 1; /* what was queued is lost; it reconnects */
            c->q.oom = 0;
        }
    }
    wake_client(c);
}

static void broadcast(sgs_agg_hub *h, const char *data, size_t len)
{
    pthread_mutex_lock(&h->lock);
    for (struct client *c = h->head.next; c != &h->head; c = c->next)
        enqueue(c, data, len);
    pthread_mutex_unlock(&h->lock);
}

/* ---- libmicrohttpd side ---------------------------------------------------------- */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct client *c = cls;
    sgs_agg_hub *h = c->hub;
    ssize_t n;

    (void)pos;
    pthread_mutex_lock(&h->lock);
    if (c->off < c->q.len) {
        size_t k = c->q.len - c->off;

        if (k > max)
            k = max;
        memcpy(buf, c->q.data + c->off, k);
        c->off += k;
        if (c->off == c->q.len) {
            sgs_buf_reset(&c->q);
            c->off = 0;
        }
        n = (ssize_t)k;
    } else if (c->closing || h->closed) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send: out of the event loop until enqueue() wakes it. */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        n = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* The response is gone (the connection closed): forget the client. */
static void client_free(void *cls)
{
    struct client *c = cls;
    sgs_agg_hub *h = c->hub;

    pthread_mutex_lock(&h->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    h->st.clients--;
    pthread_mutex_unlock(&h->lock);
    sgs_buf_free(&c->q);
    free(c);
}

enum MHD_Result sgs_agg_hub_attach(sgs_agg_hub *h, sgs_http_request *req)
{
    struct client *c;
    struct MHD_Response *r;

    pthread_mutex_lock(&h->lock);
    if (h->closed || h->st.clients >= h->max_clients) {
        int closed = h->closed;

        pthread_mutex_unlock(&h->lock);
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                              closed ? "the server is stopping"
                                     : "too many alert streams open (%zu); try again later",
                              h->max_clients);
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&h->lock);
        return sgs_http_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    c->hub = h;
    c->conn = req->conn;
    sgs_buf_puts(&c->q, HELLO);
    c->next = &h->head;
    c->prev = h->head.prev;
    h->head.prev->next = c;
    h->head.prev = c;
    h->st.clients++;
    h->st.connections++;
    pthread_mutex_unlock(&h->lock);

    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK, reader, c, client_free);
    if (!r) {
        client_free(c);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: do not buffer */
    /* an ended stream (dropped, server stopping) closes its connection */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    req->streaming = 1;
    return sgs_http_queue(req, MHD_HTTP_OK, r); /* on failure r is destroyed: client_free */
}

/* ---- the subscriber thread -------------------------------------------------------- */

static void sleep_or_stop(sgs_agg_hub *h, int ms)
{
    struct pollfd p = {h->wake[0], POLLIN, 0};

    poll(&p, 1, ms);
}

/* An alert from the channel as one SSE event; a payload with line breaks
 * becomes several data lines (the consumer writes one-line JSON). */
static void relay(sgs_agg_hub *h, const char *payload, size_t len)
{
    sgs_buf ev;
    size_t a = 0;

    sgs_buf_init(&ev);
    sgs_buf_puts(&ev, "event: alert\n");
    while (a <= len) {
        const char *nl = memchr(payload + a, '\n', len - a);
        size_t b = nl ? (size_t)(nl - payload) : len;

        sgs_buf_puts(&ev, "data: ");
        sgs_buf_append(&ev, payload + a, b - a);
        sgs_buf_putc(&ev, '\n');
        a = b + 1;
        if (!nl)
            break;
    }
    sgs_buf_putc(&ev, '\n');
    if (!ev.oom) {
        broadcast(h, ev.data, ev.len);
        pthread_mutex_lock(&h->lock);
        h->st.events++;
        pthread_mutex_unlock(&h->lock);
    }
    sgs_buf_free(&ev);
}

static int stopping(sgs_agg_hub *h)
{
    int s;

    pthread_mutex_lock(&h->lock);
    s = h->stop;
    pthread_mutex_unlock(&h->lock);
    return s;
}

static void set_subscribed(sgs_agg_hub *h, int up)
{
    pthread_mutex_lock(&h->lock);
    h->st.subscribed = up;
    pthread_mutex_unlock(&h->lock);
}

/* Subscribes on a master of the current map: the masters from h->next_master
 * on, the first that takes it. 0 with *out and its "host:port" in where, or -1
 * with the last error. */
static int subscribe(sgs_agg_hub *h, redisContext **out, char *where, size_t where_size,
                     char *errstr, size_t errstr_size)
{
    sgs_agg_ctx *ctx = h->ctx;
    size_t n;

    if (sgs_agg_ctx_redis(ctx, errstr, errstr_size) != 0 ||
        sgs_rcl_refresh(ctx->rcl, errstr, errstr_size) != 0)
        return -1;
    n = sgs_rcl_master_count(ctx->rcl);
    for (size_t k = 0; k < n; k++) {
        size_t i = (h->next_master + k) % n;
        redisContext *rc = sgs_rcl_master_open(ctx->rcl, i, errstr, errstr_size);
        redisReply *r;

        if (!rc)
            continue;
        r = redisCommand(rc, "SUBSCRIBE %s", h->channel);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            snprintf(errstr, errstr_size, "redis %s: SUBSCRIBE %s: %s",
                     sgs_rcl_master_name(ctx->rcl, i), h->channel,
                     r && r->type == REDIS_REPLY_ERROR ? r->str
                     : rc->err                         ? rc->errstr
                                                       : "unexpected reply");
            if (r)
                freeReplyObject(r);
            redisFree(rc);
            continue;
        }
        freeReplyObject(r);
        snprintf(where, where_size, "%s", sgs_rcl_master_name(ctx->rcl, i));
        h->next_master = i;
        *out = rc;
        return 0;
    }
    if (n == 0)
        snprintf(errstr, errstr_size, "redis: no master in the map");
    return -1;
}

/* The subscription broke (the node went away, or junk): the next one starts
 * with the next master. */
static void lost(sgs_agg_hub *h, redisContext **rc, const char *where, const char *why)
{
    sgs_error("alert stream: redis %s: %s; subscribing again on a master of the current map", where,
              why);
    redisFree(*rc);
    *rc = NULL;
    h->next_master++;
    set_subscribed(h, 0);
}

static void *hub_main(void *arg)
{
    sgs_agg_hub *h = arg;
    redisContext *rc = NULL;
    int64_t next_beat = sgs_clock_mono_ms() + HEARTBEAT_MS;
    int was_down = 0; /* the subscription failed since the last one */
    char err[1024], last_err[1024] = "", where[300] = "";

    while (!stopping(h)) {
        int64_t now = sgs_clock_mono_ms();
        struct pollfd p[2];

        if (now >= next_beat) {
            broadcast(h, HEARTBEAT_TEXT, sizeof(HEARTBEAT_TEXT) - 1);
            next_beat = now + HEARTBEAT_MS;
        }
        if (!rc) {
            if (subscribe(h, &rc, where, sizeof(where), err, sizeof(err)) != 0) {
                if (strcmp(err, last_err) != 0)
                    sgs_error("alert stream: %s; retrying every %d s", err, RETRY_MS / 1000);
                snprintf(last_err, sizeof(last_err), "%s", err);
                was_down = 1;
                h->next_master++;
                sleep_or_stop(h, RETRY_MS);
                continue;
            }
            if (was_down) {
                sgs_info("alert stream: subscribed to %s again, on %s", h->channel, where);
                /* alerts may have been missed: clients fetch the list again */
                broadcast(h, RESYNC, sizeof(RESYNC) - 1);
            } else {
                sgs_info("alert stream: subscribed to %s on %s", h->channel, where);
            }
            was_down = 0;
            last_err[0] = '\0';
            set_subscribed(h, 1);
        }
        p[0].fd = rc->fd;
        p[0].events = POLLIN;
        p[1].fd = h->wake[0];
        p[1].events = POLLIN;
        if (poll(p, 2, POLL_MS) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (redisBufferRead(rc) != REDIS_OK) {
            lost(h, &rc, where, rc->errstr[0] ? rc->errstr : "connection lost");
            was_down = 1;
            continue;
        }
        for (;;) {
            void *rep = NULL;
            redisReply *r;

            if (redisGetReplyFromReader(rc, &rep) != REDIS_OK) {
                lost(h, &rc, where, "protocol error");
                was_down = 1;
                break;
            }
            if (!rep)
                break;
            r = rep;
            /* ["message", channel, payload] */
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                r->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(r->element[0]->str, "message") == 0 &&
                r->element[2]->type == REDIS_REPLY_STRING)
                relay(h, r->element[2]->str, r->element[2]->len);
            freeReplyObject(r);
        }
    }
    if (rc)
        redisFree(rc);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------- */

sgs_agg_hub *sgs_agg_hub_start(const sgs_agg_ctx *parent, size_t max_clients, char *errstr,
                               size_t errstr_size)
{
    sgs_agg_hub *h = calloc(1, sizeof(*h));

    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->wake[0] = h->wake[1] = -1;
    h->head.next = h->head.prev = &h->head;
    h->max_clients = max_clients;
    pthread_mutex_init(&h->lock, NULL);
    sgs_store_gkey(h->channel, sizeof(h->channel), parent->prefix, SGS_STORE_ALERTS, NULL);
    h->ctx = sgs_agg_ctx_worker(parent);
    if (!h->ctx || pipe(h->wake) != 0) {
        snprintf(errstr, errstr_size, "alert stream: %s", h->ctx ? strerror(errno) : "no memory");
        sgs_agg_hub_destroy(h);
        return NULL;
    }
    if (pthread_create(&h->thread, NULL, hub_main, h) != 0) {
        snprintf(errstr, errstr_size, "alert stream: cannot start its thread");
        sgs_agg_hub_destroy(h);
        return NULL;
    }
    h->thread_started = 1;
    return h;
}

void sgs_agg_hub_close(sgs_agg_hub *h, int wait_ms)
{
    pthread_mutex_lock(&h->lock);
    h->closed = 1;
    for (struct client *c = h->head.next; c != &h->head; c = c->next)
        wake_client(c); /* its reader ends the stream */
    pthread_mutex_unlock(&h->lock);
    for (int waited = 0; waited < wait_ms; waited += 10) {
        size_t left;

        pthread_mutex_lock(&h->lock);
        left = h->st.clients;
        pthread_mutex_unlock(&h->lock);
        if (!left)
            break;
        usleep(10 * 1000);
    }
}

void sgs_agg_hub_destroy(sgs_agg_hub *h)
{
    if (!h)
        return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_mutex_unlock(&h->lock);
        if (write(h->wake[1], "x", 1) < 0) {
            /* the thread still sees stop within POLL_MS */
        }
        pthread_join(h->thread, NULL);
    }
    if (h->wake[0] >= 0)
        close(h->wake[0]);
    if (h->wake[1] >= 0)
        close(h->wake[1]);
    sgs_agg_ctx_destroy(h->ctx);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void sgs_agg_hub_get_stats(sgs_agg_hub *h, sgs_agg_hub_stats *out)
{
    pthread_mutex_lock(&h->lock);
    *out = h->st;
    pthread_mutex_unlock(&h->lock);
}

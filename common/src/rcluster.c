/* Redis Cluster client on hiredis 0.14 (see rcluster.h for the contract).
 *
 * The engine: a pipe holds units (their RESP bytes in one buffer). A round
 * routes every unit waiting to be sent to a node, appends its bytes to that
 * node's output buffer and a queue entry to that node's queue, then writes
 * each node's buffer with one send(). Collecting reads each node's queue in
 * order (a reply belongs to the oldest entry still owed), and a reply that says
 * the command did not run puts its unit back to be sent in the next round.
 * Queues belong to the nodes, not to pipes: any pipe's collect may read an
 * entry of another pipe and leaves the outcome in that pipe's unit, so pipes
 * can interleave on shared connections. hiredis is used to connect and to
 * parse replies; writes are ours (send with MSG_NOSIGNAL, into buffers that are
 * reused, and we know how far a failed write got). */
#include "sgs/rcluster.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "sgs/buf.h"
#include "sgs/clock.h"
#include "sgs/hash.h"

#define NO_NODE       UINT16_MAX
#define MAX_NODES     (NO_NODE - 1)
#define BACKOFF_MIN   10  /* ms, first wait while a slot has no reachable master */
#define BACKOFF_MAX   500 /* ms: a failover is noticed within half a second of its end */
#define MAX_REDIRECTS 5   /* redirections of one unit in a row before backing off */

enum unit_state { U_PENDING = 0, U_SENT, U_DONE };

/* A unit written on a connection whose replies are still owed. */
struct qent {
    sgs_rcl_pipe *p; /* NULL: its pipe was reset or freed; the replies are dropped */
    size_t unit;
    size_t end;      /* offset just past its bytes in the node's current output */
    unsigned prefix; /* replies of SCRIPT LOAD / ASKING sent before it */
    unsigned nrep;   /* replies owed in all */
    int in_flush;    /* its bytes are in the output being written now */
};

struct node {
    char *host;
    int port;
    char *name; /* "host:port" */
    redisContext *c;
    sgs_buf out; /* bytes of this round, written by flush */
    struct qent *q;
    size_t nq, capq;
    int master;
    unsigned failed_round; /* round whose connect failed (no second try in it) */
    char why[160];         /* why it failed */
};

struct script {
    char sha[41];
    char *body;
    size_t len;
};

struct sgs_rcl {
    char *password;
    long db;
    int timeout_ms;
    int deadline_ms;
    int cluster;      /* the map came from CLUSTER SLOTS */
    int have_map;     /* some map (cluster or a single node) */
    int map_stale;    /* refresh before the next round */
    uint16_t hint;    /* node to ask first for the map (last MOVED target) */
    int64_t deadline; /* of the call in progress (mono ms) */
    unsigned round;   /* send rounds so far */
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    size_t n_seeds; /* nodes[0..n_seeds) are the seeds, in order */
    uint16_t *masters;
    size_t n_masters;
    struct script *scripts;
    size_t n_scripts;
    sgs_rcl_pipe *one; /* for the blocking calls */
    sgs_rcl_stats st;
    uint16_t owner[SGS_RCL_SLOTS];
    uint16_t tmp[SGS_RCL_SLOTS]; /* map being parsed */
};

struct unit {
    size_t off, len; /* its bytes in the pipe's cmd */
    uint16_t slot;
    uint16_t node;     /* fixed target (by_slot 0) or node sent to */
    uint16_t ask_node; /* NO_NODE, or where the next attempt goes with ASKING */
    int16_t script;    /* -1, or the script to SCRIPT LOAD before the next attempt */
    uint8_t by_slot, tx, state, status, maybe_ran, flags;
    unsigned ncmd, redirects, loads;
    redisReply *reply;
    char err[200];
};

struct sgs_rcl_pipe {
    sgs_rcl *r;
    sgs_buf cmd;
    struct unit *u;
    size_t n, cap;
    long open_tx; /* index of the open MULTI unit, or -1 */
    int need_backoff;
};

static const char ASKING_CMD[] = "*1\r\n$6\r\nASKING\r\n";

/* ---- slots ------------------------------------------------------------------ */

/* CRC16-CCITT as XMODEM: polynomial 0x1021, initial value 0, no reflection
 * (Redis cluster spec, keyHashSlot). Bit by bit: keys are short and this runs
 * once per key per batch. */
static uint16_t crc16(const char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

uint16_t sgs_rcl_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close && close > key + from)
            return crc16(key + from, (size_t)(close - key) - from) & (SGS_RCL_SLOTS - 1);
    }
    return crc16(key, len) & (SGS_RCL_SLOTS - 1);
}

/* ---- pure parsers ----------------------------------------------------------- */

int sgs_rcl_slots_parse(const redisReply *reply, sgs_rcl_range_fn fn, void *arg, char *errstr,
                        size_t errstr_size)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "CLUSTER SLOTS: expected an array");
        return -1;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i], *m;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER) {
            snprintf(errstr, errstr_size,
                     "CLUSTER SLOTS: range %zu is not [first, last, master...]", i);
            return -1;
        }
        long long first = e->element[0]->integer, last = e->element[1]->integer;
        if (first < 0 || last >= SGS_RCL_SLOTS || first > last) {
            snprintf(errstr, errstr_size, "CLUSTER SLOTS: range %zu: bad slots %lld-%lld", i, first,
                     last);
            return -1;
        }
        m = e->element[2];
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            m->element[0]->type != REDIS_REPLY_STRING ||
            m->element[1]->type != REDIS_REPLY_INTEGER || m->element[1]->integer < 1 ||
            m->element[1]->integer > 65535) {
            snprintf(errstr, errstr_size, "CLUSTER SLOTS: range %zu: bad master address", i);
            return -1;
        }
        /* "?" is Redis 7's unknown endpoint (cluster-preferred-endpoint-type hostname
         * without a hostname): like "", the node asked. */
        size_t hl = m->element[0]->len;
        if (hl == 1 && m->element[0]->str[0] == '?')
            hl = 0;
        fn(arg, (uint16_t)first, (uint16_t)last, m->element[0]->str, hl,
           (int)m->element[1]->integer);
    }
    return 0;
}

static int starts(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len >= n && memcmp(s, word, n) == 0 && (len == n || s[n] == ' ');
}

enum sgs_rcl_redirect sgs_rcl_redirect_parse(const char *err, size_t len, uint16_t *slot,
                                             const char **host, size_t *host_len, int *port)
{
    int ask = starts(err, len, "ASK");
    if (ask || starts(err, len, "MOVED")) {
        /* "MOVED <slot> <host>:<port>"; the host may be empty (":6380") or an
         * IPv6 address (the port follows the last ':'). */
        char buf[300];
        char *end;
        if (len >= sizeof(buf))
            return SGS_RCL_R_NONE;
        memcpy(buf, err, len);
        buf[len] = '\0';
        char *s = buf + (ask ? 4 : 6);
        long v = strtol(s, &end, 10);
        if (end == s || *end != ' ' || v < 0 || v >= SGS_RCL_SLOTS)
            return SGS_RCL_R_NONE;
        char *addr = end + 1;
        char *colon = strrchr(addr, ':');
        if (!colon)
            return SGS_RCL_R_NONE;
        long pt = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || pt < 1 || pt > 65535)
            return SGS_RCL_R_NONE;
        *slot = (uint16_t)v;
        *host = err + (addr - buf);
        *host_len = (size_t)(colon - addr);
        *port = (int)pt;
        return ask ? SGS_RCL_R_ASK : SGS_RCL_R_MOVED;
    }
    if (starts(err, len, "TRYAGAIN"))
        return SGS_RCL_R_TRYAGAIN;
    if (starts(err, len, "CLUSTERDOWN"))
        return SGS_RCL_R_CLUSTERDOWN;
    if (starts(err, len, "LOADING") || starts(err, len, "BUSY") || starts(err, len, "MASTERDOWN"))
        return SGS_RCL_R_BUSY;
    if (starts(err, len, "READONLY"))
        return SGS_RCL_R_READONLY;
    if (starts(err, len, "NOSCRIPT"))
        return SGS_RCL_R_NOSCRIPT;
    return SGS_RCL_R_NONE;
}

/* ---- RESP output ------------------------------------------------------------ */

static void put_num(sgs_buf *b, char tag, size_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--i] = tag;
    sgs_buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_argv(sgs_buf *b, int argc, const char **argv, const size_t *argvlen)
{
    put_num(b, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        put_num(b, '$', len);
        sgs_buf_append(b, argv[i], len);
        sgs_buf_append(b, "\r\n", 2);
    }
}

/* The SHA of an "EVALSHA <sha> ..." command in RESP, or NULL. */
static const char *evalsha_of(const char *s, size_t len)
{
    static const char head[] = "$7\r\nEVALSHA\r\n$40\r\n";
    const char *p = memchr(s, '\n', len);
    if (!p)
        return NULL;
    p++;
    size_t rest = len - (size_t)(p - s);
    if (rest < sizeof(head) - 1 + 40 || strncasecmp(p, head, sizeof(head) - 1) != 0)
        return NULL;
    return p + sizeof(head) - 1;
}

/* ---- nodes and connections -------------------------------------------------- */

static uint16_t node_find(const sgs_rcl *r, const char *host, size_t hlen, int port)
{
    for (size_t i = 0; i < r->n_nodes; i++) {
        const struct node *n = &r->nodes[i];
        if (n->port == port && strlen(n->host) == hlen && memcmp(n->host, host, hlen) == 0)
            return (uint16_t)i;
    }
    return NO_NODE;
}

/* The node host:port, added when new. NO_NODE on allocation failure. */
static uint16_t node_get(sgs_rcl *r, const char *host, size_t hlen, int port)
{
    uint16_t i = node_find(r, host, hlen, port);
    if (i != NO_NODE)
        return i;
    if (r->n_nodes >= MAX_NODES)
        return NO_NODE;
    if (r->n_nodes == r->cap_nodes) {
        size_t cap = r->cap_nodes ? r->cap_nodes * 2 : 8;
        struct node *v = realloc(r->nodes, cap * sizeof(*v));
        if (!v)
            return NO_NODE;
        r->nodes = v;
        r->cap_nodes = cap;
    }
    struct node *n = &r->nodes[r->n_nodes];
    memset(n, 0, sizeof(*n));
    n->host = malloc(hlen + 1);
    n->name = malloc(hlen + 8);
    if (!n->host || !n->name) {
        free(n->host);
        free(n->name);
        return NO_NODE;
    }
    memcpy(n->host, host, hlen);
    n->host[hlen] = '\0';
    n->port = port;
    snprintf(n->name, hlen + 8, "%s:%d", n->host, port);
    sgs_buf_init(&n->out);
    n->failed_round = (unsigned)-1;
    return (uint16_t)r->n_nodes++;
}

static void node_close(struct node *n)
{
    if (n->c) {
        redisFree(n->c);
        n->c = NULL;
    }
}

static int64_t remaining(const sgs_rcl *r)
{
    int64_t left = r->deadline - sgs_clock_mono_ms();
    return left > 0 ? left : 0;
}

/* Writes len bytes; *written says how many went out. 0, or -1 with errno. */
static int send_all(int fd, const char *p, size_t len, size_t *written)
{
    *written = 0;
    while (*written < len) {
        ssize_t k = send(fd, p + *written, len - *written, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        *written += (size_t)k;
    }
    return 0;
}

static void errno_text(char *buf, size_t size, int e)
{
    snprintf(buf, size, "%s", e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e));
}

/* One command on a connection with nothing owed: write, read its reply. The
 * reply (maybe an error reply), or NULL with why in err (the connection is
 * then closed). */
static redisReply *node_call(struct node *n, const char *cmd, size_t len, char *err, size_t esize)
{
    size_t w;
    void *reply = NULL;
    if (send_all(n->c->fd, cmd, len, &w) != 0) {
        errno_text(err, esize, errno);
        node_close(n);
        return NULL;
    }
    if (redisGetReply(n->c, &reply) != REDIS_OK || !reply) {
        snprintf(err, esize, "%s", n->c->errstr[0] ? n->c->errstr : "connection lost");
        node_close(n);
        return NULL;
    }
    return reply;
}

static redisReply *node_callv(struct node *n, char *err, size_t esize, int argc, const char **argv,
                              const size_t *argvlen)
{
    sgs_buf b = SGS_BUF_INIT;
    redisReply *reply;
    put_argv(&b, argc, argv, argvlen);
    if (b.oom) {
        sgs_buf_free(&b);
        snprintf(err, esize, "out of memory");
        return NULL;
    }
    reply = node_call(n, b.data, b.len, err, esize);
    sgs_buf_free(&b);
    return reply;
}

static void set_tv(struct timeval *tv, int64_t ms)
{
    if (ms < 1)
        ms = 1;
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* A usable connection to node i: a new one (AUTH, SELECT) when there is none,
 * the current one when it has replies owed or looks alive. 0, or -1 with
 * "redis host:port: why" in err. */
static int node_connect(sgs_rcl *r, uint16_t i, char *err, size_t esize)
{
    struct node *n = &r->nodes[i];
    struct timeval tv;
    char why[160];
    redisReply *reply;

    if (n->c && n->nq == 0) {
        /* Nothing is owed, so anything readable is EOF or a reset from a server
         * that went away (or junk): find out now, before a command is written
         * into a dead socket and its fate becomes unknown. */
        struct pollfd pfd = {.fd = n->c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 0) != 0)
            node_close(n);
    }
    if (n->c)
        return 0;
    if (n->failed_round == r->round) {
        snprintf(err, esize, "%s", n->why);
        return -1;
    }
    int64_t left = remaining(r);
    set_tv(&tv, left < r->timeout_ms ? left : r->timeout_ms);
    n->c = redisConnectWithTimeout(n->host, n->port, tv);
    if (!n->c || n->c->err) {
        snprintf(n->why, sizeof(n->why), "redis %s: %s", n->name,
                 n->c ? n->c->errstr : "cannot allocate a context");
        snprintf(err, esize, "%s", n->why);
        node_close(n);
        n->failed_round = r->round;
        r->st.connect_fails++;
        return -1;
    }
    r->st.connects++;
    set_tv(&tv, r->timeout_ms);
    redisSetTimeout(n->c, tv);
    redisEnableKeepAlive(n->c);
    if (r->password && *r->password) {
        const char *argv[] = {"AUTH", r->password};
        reply = node_callv(n, why, sizeof(why), 2, argv, NULL);
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            goto refused;
        freeReplyObject(reply);
    }
    if (r->db != 0) {
        char db[24];
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%ld", r->db);
        reply = node_callv(n, why, sizeof(why), 2, argv, NULL);
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            goto refused;
        freeReplyObject(reply);
    }
    return 0;
refused:
    if (reply) {
        snprintf(why, sizeof(why), "%s", reply->str);
        freeReplyObject(reply);
    }
    snprintf(n->why, sizeof(n->why), "redis %s: %.120s", n->name, why);
    snprintf(err, esize, "%s", n->why);
    node_close(n);
    n->failed_round = r->round;
    return -1;
}

/* ---- the map ---------------------------------------------------------------- */

struct parse_ctx {
    sgs_rcl *r;
    const char *asked_host;
    int oom;
};

static void on_range(void *arg, uint16_t first, uint16_t last, const char *host, size_t hlen,
                     int port)
{
    struct parse_ctx *pc = arg;
    if (hlen == 0) {
        host = pc->asked_host;
        hlen = strlen(host);
    }
    uint16_t i = node_get(pc->r, host, hlen, port);
    if (i == NO_NODE) {
        pc->oom = 1;
        return;
    }
    for (unsigned s = first; s <= last; s++)
        pc->r->tmp[s] = i;
}

static void masters_rebuild(sgs_rcl *r)
{
    r->n_masters = 0;
    for (size_t i = 0; i < r->n_nodes; i++)
        r->nodes[i].master = 0;
    for (unsigned s = 0; s < SGS_RCL_SLOTS; s++) {
        uint16_t o = r->owner[s];
        if (o != NO_NODE && !r->nodes[o].master) {
            r->nodes[o].master = 1;
            r->masters[r->n_masters++] = o;
        }
    }
}

static void drain(sgs_rcl *r, uint16_t ni, const sgs_rcl_pipe *upto);

/* Asks node i for the map. 0 done, 1 this node could not say, -1 allocation. */
static int map_from(sgs_rcl *r, uint16_t i, char *err, size_t esize)
{
    static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    char why[200];
    redisReply *reply;

    if (r->nodes[i].out.len > 0)
        return 1; /* in the middle of a round: not now */
    if (node_connect(r, i, err, esize) != 0)
        return 1;
    drain(r, i, NULL); /* replies owed to pipes come first */
    if (!r->nodes[i].c) {
        snprintf(err, esize, "redis %s: connection lost", r->nodes[i].name);
        return 1;
    }
    reply = node_call(&r->nodes[i], cmd, sizeof(cmd) - 1, why, sizeof(why));
    if (!reply) {
        snprintf(err, esize, "redis %s: %s", r->nodes[i].name, why);
        return 1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Not in cluster mode ("ERR This instance has cluster support
         * disabled"): a cluster of one. Any other refusal (LOADING, an ACL)
         * says nothing about the map. */
        if (!strstr(reply->str, "cluster support disabled")) {
            snprintf(err, esize, "redis %s: CLUSTER SLOTS: %s", r->nodes[i].name, reply->str);
            freeReplyObject(reply);
            return 1;
        }
        freeReplyObject(reply);
        for (unsigned s = 0; s < SGS_RCL_SLOTS; s++)
            r->owner[s] = i;
        r->cluster = 0;
        r->have_map = 1;
        r->st.refreshes++;
        masters_rebuild(r);
        return 0;
    }
    struct parse_ctx pc = {r, r->nodes[i].host, 0};
    for (unsigned s = 0; s < SGS_RCL_SLOTS; s++)
        r->tmp[s] = NO_NODE;
    if (sgs_rcl_slots_parse(reply, on_range, &pc, why, sizeof(why)) != 0) {
        snprintf(err, esize, "redis %s: %s", r->nodes[i].name, why);
        freeReplyObject(reply);
        return 1;
    }
    freeReplyObject(reply);
    if (pc.oom) {
        snprintf(err, esize, "redis cluster: out of memory");
        return -1;
    }
    memcpy(r->owner, r->tmp, sizeof(r->owner));
    r->st.refreshes++;
    r->cluster = 1;
    r->have_map = 1;
    masters_rebuild(r);
    return 0;
}

/* Fetches the map: the last MOVED target, the masters, every other known node
 * (seeds among them). 0, or -1 with the last error. */
static int map_refresh(sgs_rcl *r, char *err, size_t esize)
{
    size_t n = r->n_nodes;
    unsigned char *tried = calloc(n ? n : 1, 1);
    int rc;
    if (!tried) {
        snprintf(err, esize, "redis cluster: out of memory");
        return -1;
    }
    snprintf(err, esize, "redis cluster: no node to ask for the map");
    for (int pass = 0; pass < 3; pass++) {
        for (size_t k = 0; k < n; k++) {
            uint16_t i = (uint16_t)k;
            if (pass == 0) {
                if (k > 0 || r->hint == NO_NODE)
                    break;
                i = r->hint;
            } else if (pass == 1 && !r->nodes[k].master) {
                continue;
            }
            if (i >= n || tried[i])
                continue;
            tried[i] = 1;
            rc = map_from(r, i, err, esize);
            if (rc <= 0) {
                free(tried);
                if (rc == 0) {
                    r->map_stale = 0;
                    r->hint = NO_NODE;
                    return 0;
                }
                return -1;
            }
            if (remaining(r) == 0)
                goto out;
        }
    }
out:
    free(tried);
    return -1;
}

/* ---- handle ----------------------------------------------------------------- */

static int parse_seeds(sgs_rcl *r, const char *list, char *errstr, size_t errstr_size)
{
    const char *s = list;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *a = s, *b = s + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a < b) {
            const char *colon = NULL, *h = a, *he;
            for (const char *c = b; c > a; c--)
                if (c[-1] == ':') {
                    colon = c - 1;
                    break;
                }
            he = colon;
            if (colon && *a == '[' && colon > a + 1 && colon[-1] == ']') {
                h = a + 1;
                he = colon - 1;
            }
            char *pend;
            long port = colon ? strtol(colon + 1, &pend, 10) : 0;
            if (!colon || he == h || colon + 1 == b || pend != b || port < 1 || port > 65535) {
                snprintf(errstr, errstr_size, "redis.cluster: '%.*s' is not host:port",
                         (int)(b - a), a);
                return -1;
            }
            if (node_get(r, h, (size_t)(he - h), (int)port) == NO_NODE) {
                snprintf(errstr, errstr_size, "redis.cluster: out of memory");
                return -1;
            }
        }
        if (!end)
            break;
        s = end + 1;
    }
    if (r->n_nodes == 0) {
        snprintf(errstr, errstr_size, "redis.cluster: no host:port in '%s'", list);
        return -1;
    }
    return 0;
}

sgs_rcl *sgs_rcl_new(const sgs_config *cfg, int timeout_ms, char *errstr, size_t errstr_size)
{
    const char *seeds = sgs_config_get(cfg, "redis.cluster");
    const char *password = sgs_config_get(cfg, "redis.password");
    sgs_rcl *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errstr, errstr_size, "redis: out of memory");
        return NULL;
    }
    r->db = sgs_config_get_int(cfg, "redis.db");
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    r->deadline_ms = r->timeout_ms;
    r->hint = NO_NODE;
    for (unsigned s = 0; s < SGS_RCL_SLOTS; s++)
        r->owner[s] = NO_NODE;
    if (password && *password && !(r->password = strdup(password)))
        goto oom;
    if (seeds && *seeds) {
        if (parse_seeds(r, seeds, errstr, errstr_size) != 0)
            goto fail;
    } else {
        const char *host = sgs_config_get(cfg, "redis.host");
        if (node_get(r, host, strlen(host), (int)sgs_config_get_int(cfg, "redis.port")) == NO_NODE)
            goto oom;
    }
    r->n_seeds = r->n_nodes;
    if (!(r->masters = malloc(SGS_RCL_SLOTS * sizeof(*r->masters))))
        goto oom;
    if (!(r->one = sgs_rcl_pipe_new(r)))
        goto oom;
    return r;
oom:
    snprintf(errstr, errstr_size, "redis: out of memory");
fail:
    sgs_rcl_free(r);
    return NULL;
}

sgs_rcl *sgs_rcl_connect(const sgs_config *cfg, int timeout_ms, char *errstr, size_t errstr_size)
{
    sgs_rcl *r = sgs_rcl_new(cfg, timeout_ms, errstr, errstr_size);
    if (!r)
        return NULL;
    if (sgs_rcl_refresh(r, errstr, errstr_size) != 0) {
        sgs_rcl_free(r);
        return NULL;
    }
    return r;
}

void sgs_rcl_free(sgs_rcl *r)
{
    if (!r)
        return;
    sgs_rcl_pipe_free(r->one);
    for (size_t i = 0; i < r->n_nodes; i++) {
        node_close(&r->nodes[i]);
        free(r->nodes[i].host);
        free(r->nodes[i].name);
        free(r->nodes[i].q);
        sgs_buf_free(&r->nodes[i].out);
    }
    for (size_t i = 0; i < r->n_scripts; i++)
        free(r->scripts[i].body);
    free(r->scripts);
    free(r->nodes);
    free(r->masters);
    free(r->password);
    free(r);
}

int sgs_rcl_is_cluster(const sgs_rcl *r)
{
    return r->cluster;
}

void sgs_rcl_get_stats(const sgs_rcl *r, sgs_rcl_stats *out)
{
    *out = r->st;
}

void sgs_rcl_set_deadline(sgs_rcl *r, int deadline_ms)
{
    r->deadline_ms = deadline_ms > 0 ? deadline_ms : 1;
}

int sgs_rcl_refresh(sgs_rcl *r, char *errstr, size_t errstr_size)
{
    /* a new attempt: nodes that failed to connect before are tried again
     * (without this a client whose first contact failed never made another:
     * a consumer started before Redis stayed "redis down" for good) */
    r->round++;
    r->deadline = sgs_clock_mono_ms() + r->deadline_ms;
    return map_refresh(r, errstr, errstr_size);
}

const char *sgs_rcl_slot_node(const sgs_rcl *r, uint16_t slot)
{
    if (slot >= SGS_RCL_SLOTS || r->owner[slot] == NO_NODE)
        return "";
    return r->nodes[r->owner[slot]].name;
}

size_t sgs_rcl_master_count(const sgs_rcl *r)
{
    return r->n_masters;
}

const char *sgs_rcl_master_name(const sgs_rcl *r, size_t i)
{
    return i < r->n_masters ? r->nodes[r->masters[i]].name : "";
}

/* ---- pipes: building -------------------------------------------------------- */

sgs_rcl_pipe *sgs_rcl_pipe_new(sgs_rcl *r)
{
    sgs_rcl_pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->r = r;
    sgs_buf_init(&p->cmd);
    p->open_tx = -1;
    return p;
}

/* Forgets the queue entries of p (their replies will be read and dropped). */
static void detach(sgs_rcl_pipe *p)
{
    sgs_rcl *r = p->r;
    for (size_t i = 0; i < r->n_nodes; i++)
        for (size_t k = 0; k < r->nodes[i].nq; k++)
            if (r->nodes[i].q[k].p == p)
                r->nodes[i].q[k].p = NULL;
}

void sgs_rcl_pipe_reset(sgs_rcl_pipe *p)
{
    int sent = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->u[i].reply)
            freeReplyObject(p->u[i].reply);
        sent |= p->u[i].state == U_SENT;
    }
    if (sent)
        detach(p);
    p->n = 0;
    p->open_tx = -1;
    sgs_buf_reset(&p->cmd);
    p->cmd.oom = 0;
}

void sgs_rcl_pipe_free(sgs_rcl_pipe *p)
{
    if (!p)
        return;
    sgs_rcl_pipe_reset(p);
    sgs_buf_free(&p->cmd);
    free(p->u);
    free(p);
}

static struct unit *unit_new(sgs_rcl_pipe *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct unit *v = realloc(p->u, cap * sizeof(*v));
        if (!v)
            return NULL;
        p->u = v;
        p->cap = cap;
    }
    struct unit *u = &p->u[p->n];
    u->off = p->cmd.len;
    u->len = 0;
    u->slot = 0;
    u->node = NO_NODE;
    u->ask_node = NO_NODE;
    u->script = -1;
    u->by_slot = 1;
    u->tx = 0;
    u->state = U_PENDING;
    u->status = SGS_RCL_PENDING;
    u->maybe_ran = 0;
    u->flags = 0;
    u->ncmd = 0;
    u->redirects = 0;
    u->loads = 0;
    u->reply = NULL;
    u->err[0] = '\0';
    return u;
}

/* Adds a command's bytes: to the open transaction, or as a new unit. */
static long add(sgs_rcl_pipe *p, int by_slot, uint16_t slot, uint16_t node, int flags,
                const char *bytes, size_t len, int argc, const char **argv, const size_t *argvlen)
{
    struct unit *u;
    if (p->open_tx >= 0) {
        u = &p->u[p->open_tx];
        if (!by_slot || slot != u->slot)
            return -1;
    } else {
        if (!(u = unit_new(p)))
            return -1;
        u->by_slot = (uint8_t)by_slot;
        u->slot = slot;
        u->node = node;
        u->flags = (uint8_t)flags;
    }
    size_t before = p->cmd.len;
    if (bytes)
        sgs_buf_append(&p->cmd, bytes, len);
    else
        put_argv(&p->cmd, argc, argv, argvlen);
    if (p->cmd.oom) {
        p->cmd.len = before;
        p->cmd.oom = 0;
        return -1;
    }
    u->len += p->cmd.len - before;
    u->ncmd++;
    if (p->open_tx >= 0)
        return p->open_tx;
    return (long)p->n++;
}

long sgs_rcl_pipe_append(sgs_rcl_pipe *p, uint16_t slot, int flags, int argc, const char **argv,
                         const size_t *argvlen)
{
    if (argc < 1 || slot >= SGS_RCL_SLOTS)
        return -1;
    return add(p, 1, slot, NO_NODE, flags, NULL, 0, argc, argv, argvlen);
}

static long addv(sgs_rcl_pipe *p, int by_slot, uint16_t slot, uint16_t node, int flags,
                 const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    if (len < 0)
        return -1;
    long i = add(p, by_slot, slot, node, flags, cmd, (size_t)len, 0, NULL, NULL);
    redisFreeCommand(cmd);
    return i;
}

long sgs_rcl_pipe_appendf(sgs_rcl_pipe *p, uint16_t slot, int flags, const char *fmt, ...)
{
    va_list ap;
    long i;
    if (slot >= SGS_RCL_SLOTS)
        return -1;
    va_start(ap, fmt);
    i = addv(p, 1, slot, NO_NODE, flags, fmt, ap);
    va_end(ap);
    return i;
}

long sgs_rcl_pipe_append_master(sgs_rcl_pipe *p, size_t i, int flags, int argc, const char **argv,
                                const size_t *argvlen)
{
    if (argc < 1 || i >= p->r->n_masters || p->open_tx >= 0)
        return -1;
    return add(p, 0, 0, p->r->masters[i], flags, NULL, 0, argc, argv, argvlen);
}

long sgs_rcl_pipe_multi(sgs_rcl_pipe *p, uint16_t slot, int flags)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    if (p->open_tx >= 0 || slot >= SGS_RCL_SLOTS)
        return -1;
    long i = add(p, 1, slot, NO_NODE, flags, multi, sizeof(multi) - 1, 0, NULL, NULL);
    if (i >= 0) {
        p->u[i].tx = 1;
        p->open_tx = i;
    }
    return i;
}

int sgs_rcl_pipe_exec(sgs_rcl_pipe *p)
{
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n";
    if (p->open_tx < 0)
        return -1;
    if (add(p, 1, p->u[p->open_tx].slot, NO_NODE, 0, exec, sizeof(exec) - 1, 0, NULL, NULL) < 0)
        return -1;
    p->open_tx = -1;
    return 0;
}

size_t sgs_rcl_pipe_count(const sgs_rcl_pipe *p)
{
    return p->n;
}

enum sgs_rcl_status sgs_rcl_pipe_status(const sgs_rcl_pipe *p, size_t i)
{
    return i < p->n ? (enum sgs_rcl_status)p->u[i].status : SGS_RCL_UNAVAILABLE;
}

const redisReply *sgs_rcl_pipe_reply(const sgs_rcl_pipe *p, size_t i)
{
    return i < p->n ? p->u[i].reply : NULL;
}

redisReply *sgs_rcl_pipe_take(sgs_rcl_pipe *p, size_t i)
{
    if (i >= p->n)
        return NULL;
    redisReply *reply = p->u[i].reply;
    p->u[i].reply = NULL;
    return reply;
}

const char *sgs_rcl_pipe_error(const sgs_rcl_pipe *p, size_t i)
{
    return i < p->n ? p->u[i].err : "";
}

/* ---- pipes: outcomes -------------------------------------------------------- */

static void unit_done(struct unit *u, enum sgs_rcl_status st, redisReply *reply)
{
    u->state = U_DONE;
    u->status = (uint8_t)st;
    u->reply = reply;
}

/* Unit's attempt failed with its connection (why: "redis host:port: ...").
 * maybe_ran: it had been written out. */
static void unit_failed(sgs_rcl_pipe *p, struct unit *u, int maybe_ran, const char *why)
{
    snprintf(u->err, sizeof(u->err), "%s", why);
    p->need_backoff = 1;
    p->r->map_stale = 1; /* a master that went away may have a successor */
    if (maybe_ran) {
        u->maybe_ran = 1;
        if (!(u->flags & SGS_RCL_IDEMPOTENT)) {
            snprintf(u->err, sizeof(u->err), "%.160s (the command may have run)", why);
            unit_done(u, SGS_RCL_LOST, NULL);
            return;
        }
        p->r->st.resent_lost++;
    }
    u->state = U_PENDING;
}

static int script_find(const sgs_rcl *r, const char *sha)
{
    for (size_t i = 0; i < r->n_scripts; i++)
        if (strncasecmp(r->scripts[i].sha, sha, 40) == 0)
            return (int)i;
    return -1;
}

/* Decides on a unit's replies (first: the first redirection or, in a
 * transaction, the first refused command; last: the final reply). Takes
 * ownership of both. */
static void unit_outcome(sgs_rcl_pipe *p, struct unit *u, uint16_t from_i, redisReply *first,
                         redisReply *last)
{
    sgs_rcl *r = p->r;
    const char *from_name = r->nodes[from_i].name, *from_host = r->nodes[from_i].host;
    redisReply *e = first ? first : last;
    enum sgs_rcl_redirect what = SGS_RCL_R_NONE;
    uint16_t slot = 0;
    const char *host = NULL;
    size_t hlen = 0;
    int port = 0;

    if (e && e->type == REDIS_REPLY_ERROR)
        what = sgs_rcl_redirect_parse(e->str, e->len, &slot, &host, &hlen, &port);
    if (!u->by_slot && what != SGS_RCL_R_BUSY && what != SGS_RCL_R_NOSCRIPT)
        what = SGS_RCL_R_NONE; /* a master unit goes where it was sent */
    if (what == SGS_RCL_R_NOSCRIPT) {
        const char *sha = u->tx ? NULL : evalsha_of(p->cmd.data + u->off, u->len);
        int s = sha ? script_find(r, sha) : -1;
        if (s < 0 || u->loads >= 2)
            what = SGS_RCL_R_NONE;
        else
            u->script = (int16_t)s;
    }
    if (what == SGS_RCL_R_NONE) {
        /* The answer: a transaction refused while queueing answers with the
         * refusal rather than EXECABORT. */
        if (first && last && last->type != REDIS_REPLY_ERROR) {
            freeReplyObject(first);
            first = NULL;
        }
        if (first && last)
            freeReplyObject(last);
        u->err[0] = '\0';
        unit_done(u, SGS_RCL_OK, first ? first : last);
        return;
    }
    switch (what) {
    case SGS_RCL_R_MOVED:
        r->st.moved++;
        break;
    case SGS_RCL_R_ASK:
        r->st.ask++;
        break;
    case SGS_RCL_R_TRYAGAIN:
        r->st.tryagain++;
        break;
    case SGS_RCL_R_CLUSTERDOWN:
        r->st.clusterdown++;
        break;
    case SGS_RCL_R_BUSY:
        r->st.busy++;
        break;
    case SGS_RCL_R_READONLY:
        r->st.readonly++;
        break;
    case SGS_RCL_R_NOSCRIPT:
        r->st.noscript++;
        break;
    case SGS_RCL_R_NONE:
        break;
    }
    snprintf(u->err, sizeof(u->err), "redis %s: %.*s", from_name,
             (int)(e->len > 120 ? 120 : e->len), e->str);
    if (what == SGS_RCL_R_MOVED || what == SGS_RCL_R_ASK) {
        if (hlen == 0) {
            host = from_host;
            hlen = strlen(host);
        }
        uint16_t target = node_get(r, host, hlen, port);
        if (target == NO_NODE) {
            what = SGS_RCL_R_CLUSTERDOWN; /* out of memory: back off and refresh */
        } else if (what == SGS_RCL_R_MOVED) {
            r->owner[slot] = target;
            r->map_stale = 1;
            r->hint = target;
        } else if (u->flags & SGS_RCL_SETTLED) {
            /* The slot is migrating: its keys are split between the two
             * nodes, and a script run on either would create afresh there
             * the keys the other holds. Wait until the slot has moved. */
            r->st.ask_waits++;
            p->need_backoff = 1;
            snprintf(u->err, sizeof(u->err),
                     "redis %s: slot %u is migrating to %.*s:%d; waiting for it to finish "
                     "(ASK)",
                     from_name, (unsigned)slot, (int)hlen, host, port);
        } else {
            u->ask_node = target;
        }
        if (++u->redirects > MAX_REDIRECTS)
            p->need_backoff = 1;
    }
    if (what == SGS_RCL_R_TRYAGAIN || what == SGS_RCL_R_CLUSTERDOWN || what == SGS_RCL_R_BUSY ||
        what == SGS_RCL_R_READONLY)
        p->need_backoff = 1;
    if (what == SGS_RCL_R_CLUSTERDOWN || what == SGS_RCL_R_READONLY)
        r->map_stale = 1;
    if (what == SGS_RCL_R_NOSCRIPT)
        u->loads++;
    if (first)
        freeReplyObject(first);
    if (last && last != first)
        freeReplyObject(last);
    u->state = U_PENDING;
}

static int is_redirect(const redisReply *rr)
{
    uint16_t slot;
    const char *host;
    size_t hlen;
    int port;
    return rr->type == REDIS_REPLY_ERROR &&
           sgs_rcl_redirect_parse(rr->str, rr->len, &slot, &host, &hlen, &port) != SGS_RCL_R_NONE;
}

/* The queue entries of node n whose replies are read for pipe upto: all of
 * them (upto NULL) or up to its last entry; never those of an output not
 * written yet. */
static size_t owed_upto(const struct node *n, const sgs_rcl_pipe *upto)
{
    size_t stop = 0;
    for (size_t k = 0; k < n->nq && !n->q[k].in_flush; k++)
        if (!upto || n->q[k].p == upto)
            stop = k + 1;
    return stop;
}

/* Reads the replies owed on node ni, oldest first: all of them (upto NULL) or
 * up to the last entry of pipe upto; never those of an output not written yet.
 * A broken connection fails every entry still owed (they had been written:
 * they may have run). */
static void drain(sgs_rcl *r, uint16_t ni, const sgs_rcl_pipe *upto)
{
    size_t stop = owed_upto(&r->nodes[ni], upto), head = 0;
    char why[200];

    for (; head < stop; head++) {
        /* by index: unit_outcome may add nodes (and move r->nodes) */
        struct qent ent = r->nodes[ni].q[head];
        redisContext *c = r->nodes[ni].c;
        redisReply *first = NULL, *last = NULL;
        unsigned k;
        for (k = 0; k < ent.nrep; k++) {
            void *v = NULL;
            if (!c || redisGetReply(c, &v) != REDIS_OK || !v)
                break;
            redisReply *rr = v;
            if (!ent.p || k < ent.prefix) {
                freeReplyObject(rr);
            } else if (k + 1 == ent.nrep) {
                last = rr;
            } else if (rr->type == REDIS_REPLY_ERROR &&
                       (!first || (!is_redirect(first) && is_redirect(rr)))) {
                /* a queued command's refusal; a redirection outranks it */
                if (first)
                    freeReplyObject(first);
                first = rr;
            } else {
                freeReplyObject(rr);
            }
        }
        if (k < ent.nrep) {
            struct node *n = &r->nodes[ni];
            if (n->c && strstr(n->c->errstr, "temporarily unavailable")) /* SO_RCVTIMEO */
                snprintf(why, sizeof(why), "redis %s: no reply within %d ms", n->name,
                         r->timeout_ms);
            else
                snprintf(why, sizeof(why), "redis %s: %s", n->name,
                         n->c && n->c->errstr[0] ? n->c->errstr : "connection lost");
            if (first)
                freeReplyObject(first);
            if (last)
                freeReplyObject(last);
            node_close(n);
            r->st.broken++;
            for (size_t j = head; j < n->nq; j++)
                if (n->q[j].p)
                    unit_failed(n->q[j].p, &n->q[j].p->u[n->q[j].unit], 1, why);
            n->nq = 0;
            return;
        }
        if (ent.p)
            unit_outcome(ent.p, &ent.p->u[ent.unit], ni, first, last);
    }
    if (head > 0) {
        struct node *n = &r->nodes[ni];
        memmove(n->q, n->q + head, (n->nq - head) * sizeof(*n->q));
        n->nq -= head;
    }
}

/* The end of the first complete reply (RESP2 or RESP3) of n in [p, e), or
 * NULL when the bytes there do not hold n whole replies yet. Bytes that are
 * not RESP count as complete: the blocking read that follows reports them. */
static const char *replies_end(const char *p, const char *e, size_t n)
{
    while (n > 0) {
        const char *nl;
        long long v;
        char t;
        if (p >= e)
            return NULL;
        nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            return NULL;
        t = *p;
        v = strtoll(p + 1, NULL, 10);
        p = nl + 1;
        n--;
        switch (t) {
        case '$':
        case '!':
        case '=': /* bulk: its bytes and CRLF */
            if (v >= 0) {
                if ((size_t)(e - p) < (size_t)v + 2)
                    return NULL;
                p += v + 2;
            }
            break;
        case '*':
        case '~':
        case '>': /* aggregates: their elements follow */
            if (v > 0)
                n += (size_t)v;
            break;
        case '%':
        case '|': /* maps: a key and a value each */
            if (v > 0)
                n += 2 * (size_t)v;
            break;
        case '+':
        case '-':
        case ':':
        case '_':
        case ',':
        case '#':
        case '(':
            break;
        default:
            return e;
        }
    }
    return p;
}

int sgs_rcl_resp_whole(const char *buf, size_t len, size_t n)
{
    return replies_end(buf, buf + len, n) != NULL;
}

int sgs_rcl_pipe_replied(sgs_rcl_pipe *p)
{
    sgs_rcl *r = p->r;
    for (size_t ni = 0; ni < r->n_nodes; ni++) {
        struct node *n = &r->nodes[ni];
        size_t stop = owed_upto(n, p), upto = 0;
        for (size_t k = 0; k < stop; k++)
            upto += n->q[k].nrep; /* the replies to count */
        if (upto == 0)
            continue;
        for (;;) {
            redisReader *rd = n->c ? n->c->reader : NULL;
            struct pollfd pfd;
            if (!rd || n->c->err)
                break; /* the collect reports it */
            if (sgs_rcl_resp_whole(rd->buf + rd->pos, rd->len - rd->pos, upto))
                break;
            pfd.fd = n->c->fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (poll(&pfd, 1, 0) <= 0)
                return 0;
            if (redisBufferRead(n->c) != REDIS_OK)
                break;
        }
    }
    return 1;
}

/* ---- pipes: sending --------------------------------------------------------- */

static int queue_push(struct node *n, sgs_rcl_pipe *p, size_t unit, unsigned prefix, unsigned nrep)
{
    if (n->nq == n->capq) {
        size_t cap = n->capq ? n->capq * 2 : 16;
        struct qent *v = realloc(n->q, cap * sizeof(*v));
        if (!v)
            return -1;
        n->q = v;
        n->capq = cap;
    }
    n->q[n->nq++] = (struct qent){p, unit, n->out.len, prefix, nrep, 1};
    return 0;
}

/* Writes node ni's output. On failure the connection is closed and the
 * entries fail: those written completely may have run, the others did not. */
static void flush(sgs_rcl *r, uint16_t ni)
{
    struct node *n = &r->nodes[ni];
    size_t w = 0;
    char why[200];
    if (n->out.len == 0)
        return;
    if (n->c && send_all(n->c->fd, n->out.data, n->out.len, &w) == 0) {
        for (size_t k = 0; k < n->nq; k++)
            n->q[k].in_flush = 0;
        sgs_buf_reset(&n->out);
        return;
    }
    char e[120];
    errno_text(e, sizeof(e), errno);
    snprintf(why, sizeof(why), "redis %s: %s", n->name, n->c ? e : "connection lost");
    node_close(n);
    r->st.broken++;
    for (size_t k = 0; k < n->nq; k++) {
        struct qent *ent = &n->q[k];
        if (ent->p)
            unit_failed(ent->p, &ent->p->u[ent->unit], !ent->in_flush || ent->end <= w, why);
    }
    n->nq = 0;
    sgs_buf_reset(&n->out);
}

/* Where unit u goes now, or NO_NODE (with u->err and a backoff). */
static uint16_t route(sgs_rcl_pipe *p, struct unit *u)
{
    sgs_rcl *r = p->r;
    if (!u->by_slot)
        return u->node;
    if (u->ask_node != NO_NODE)
        return u->ask_node;
    if (!r->have_map)
        map_refresh(r, u->err, sizeof(u->err));
    if (r->owner[u->slot] == NO_NODE) {
        if (r->have_map)
            snprintf(u->err, sizeof(u->err), "redis cluster: no master serves slot %u",
                     (unsigned)u->slot);
        p->need_backoff = 1;
        r->map_stale = 1;
        return NO_NODE;
    }
    return r->owner[u->slot];
}

/* One round: every pending unit of p to its node's output, then one write per
 * node. -1 on allocation failure. */
static int send_round(sgs_rcl_pipe *p)
{
    sgs_rcl *r = p->r;
    int any = 0;
    r->round++;
    for (size_t i = 0; i < p->n; i++) {
        struct unit *u = &p->u[i];
        if (u->state != U_PENDING || (long)i == p->open_tx)
            continue;
        uint16_t ni = route(p, u);
        if (ni == NO_NODE)
            continue;
        if (node_connect(r, ni, u->err, sizeof(u->err)) != 0) {
            p->need_backoff = 1;
            r->map_stale = 1;
            u->ask_node = NO_NODE; /* by the slot's owner next time: it says ASK again if so */
            continue;
        }
        struct node *n = &r->nodes[ni];
        unsigned prefix = 0;
        if (u->script >= 0) {
            const struct script *s = &r->scripts[u->script];
            const char *argv[] = {"SCRIPT", "LOAD", s->body};
            size_t argvlen[] = {6, 4, s->len};
            put_argv(&n->out, 3, argv, argvlen);
            prefix++;
        }
        if (u->ask_node != NO_NODE) {
            /* ASKING lasts for the next command only, or for a MULTI's queue */
            sgs_buf_append(&n->out, ASKING_CMD, sizeof(ASKING_CMD) - 1);
            prefix++;
        }
        sgs_buf_append(&n->out, p->cmd.data + u->off, u->len);
        if (n->out.oom || queue_push(n, p, i, prefix, prefix + u->ncmd) != 0)
            return -1;
        u->state = U_SENT;
        u->node = ni;
        u->script = -1;
        u->ask_node = NO_NODE;
        any = 1;
    }
    if (any)
        for (size_t k = 0; k < r->n_nodes; k++)
            flush(r, (uint16_t)k);
    return 0;
}

int sgs_rcl_pipe_send(sgs_rcl_pipe *p)
{
    p->r->deadline = sgs_clock_mono_ms() + p->r->deadline_ms;
    return send_round(p);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

size_t sgs_rcl_pipe_collect(sgs_rcl_pipe *p, int timeout_ms)
{
    sgs_rcl *r = p->r;
    int64_t t0 = sgs_clock_mono_ms();
    int64_t budget = timeout_ms > 0 ? timeout_ms : r->deadline_ms;
    int64_t backoff = 0;
    size_t failed = 0;
    char err[200];

    r->deadline = t0 + budget;
    for (;;) {
        p->need_backoff = 0;
        if (send_round(p) != 0) {
            for (size_t i = 0; i < p->n; i++)
                if (p->u[i].state == U_PENDING) {
                    snprintf(p->u[i].err, sizeof(p->u[i].err), "redis: out of memory");
                    unit_done(&p->u[i], p->u[i].maybe_ran ? SGS_RCL_LOST : SGS_RCL_UNAVAILABLE,
                              NULL);
                }
        }
        for (size_t k = 0; k < r->n_nodes; k++)
            drain(r, (uint16_t)k, p);
        size_t pending = 0;
        for (size_t i = 0; i < p->n; i++)
            pending += p->u[i].state != U_DONE && (long)i != p->open_tx;
        if (pending == 0)
            break;
        int64_t left = remaining(r);
        if (left == 0) {
            for (size_t i = 0; i < p->n; i++) {
                struct unit *u = &p->u[i];
                if (u->state == U_DONE || (long)i == p->open_tx)
                    continue;
                char why[sizeof(u->err)];
                snprintf(why, sizeof(why), "%s", u->err[0] ? u->err : "redis: no reply");
                snprintf(u->err, sizeof(u->err), "%.140s (slot %u; gave up after %lld ms)", why,
                         (unsigned)u->slot, (long long)budget);
                unit_done(u, u->maybe_ran ? SGS_RCL_LOST : SGS_RCL_UNAVAILABLE, NULL);
            }
            break;
        }
        if (p->need_backoff) {
            backoff = backoff ? backoff * 2 : BACKOFF_MIN;
            if (backoff > BACKOFF_MAX)
                backoff = BACKOFF_MAX;
            sleep_ms(backoff < left ? backoff : left);
        } else {
            backoff = 0;
        }
        if (r->map_stale)
            map_refresh(r, err, sizeof(err));
    }
    for (size_t i = 0; i < p->n; i++)
        failed += p->u[i].state == U_DONE && p->u[i].status != SGS_RCL_OK;
    return failed;
}

/* ---- blocking calls --------------------------------------------------------- */

static redisReply *one_result(sgs_rcl *r, long i, char *errstr, size_t errstr_size)
{
    sgs_rcl_pipe *p = r->one;
    redisReply *reply = NULL;
    if (i < 0) {
        snprintf(errstr, errstr_size, "redis: cannot build the command");
    } else {
        sgs_rcl_pipe_collect(p, 0);
        if (p->u[i].status == SGS_RCL_OK)
            reply = sgs_rcl_pipe_take(p, (size_t)i);
        else
            snprintf(errstr, errstr_size, "%s", p->u[i].err);
    }
    sgs_rcl_pipe_reset(p);
    return reply;
}

redisReply *sgs_rcl_vcommand(sgs_rcl *r, const char *key, int flags, char *errstr,
                             size_t errstr_size, const char *fmt, va_list ap)
{
    long i;
    sgs_rcl_pipe_reset(r->one);
    i = addv(r->one, 1, sgs_rcl_slot(key, strlen(key)), NO_NODE, flags, fmt, ap);
    return one_result(r, i, errstr, errstr_size);
}

redisReply *sgs_rcl_command(sgs_rcl *r, const char *key, int flags, char *errstr,
                            size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;
    va_start(ap, fmt);
    reply = sgs_rcl_vcommand(r, key, flags, errstr, errstr_size, fmt, ap);
    va_end(ap);
    return reply;
}

redisReply *sgs_rcl_command_argv(sgs_rcl *r, uint16_t slot, int flags, int argc, const char **argv,
                                 const size_t *argvlen, char *errstr, size_t errstr_size)
{
    sgs_rcl_pipe_reset(r->one);
    return one_result(r, sgs_rcl_pipe_append(r->one, slot, flags, argc, argv, argvlen), errstr,
                      errstr_size);
}

/* "redis host:port: <what>: <the error, or "unexpected reply">" into errstr,
 * for a reply of master i that is not the kind asked for. */
static void reply_fault(const sgs_rcl *r, size_t i, const char *what, const redisReply *reply,
                        char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "redis %s: %s: %s", sgs_rcl_master_name(r, i), what,
             reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
}

redisReply *sgs_rcl_master_command(sgs_rcl *r, size_t i, int flags, char *errstr,
                                   size_t errstr_size, const char *fmt, ...)
{
    va_list ap;
    long k;
    if (i >= r->n_masters) {
        snprintf(errstr, errstr_size, "redis cluster: no master number %zu (%zu known)", i,
                 r->n_masters);
        return NULL;
    }
    sgs_rcl_pipe_reset(r->one);
    va_start(ap, fmt);
    k = addv(r->one, 0, 0, r->masters[i], flags, fmt, ap);
    va_end(ap);
    return one_result(r, k, errstr, errstr_size);
}

/* The value of "<name>:" in an INFO reply, into out ("" when absent). */
static void info_field(const char *info, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *at = info; at && *at; at = strchr(at, '\n'), at = at ? at + 1 : NULL) {
        if (strncmp(at, name, n) == 0 && at[n] == ':') {
            size_t len = strcspn(at + n + 1, "\r\n");
            snprintf(out, size, "%.*s", (int)len, at + n + 1);
            return;
        }
    }
}

int sgs_rcl_master_evicts(sgs_rcl *r, size_t i, char *why, size_t why_size)
{
    char policy[64], maxmem[32];
    redisReply *reply =
        sgs_rcl_master_command(r, i, SGS_RCL_IDEMPOTENT, why, why_size, "INFO memory");
    if (!reply)
        return -1;
    if (reply->type != REDIS_REPLY_STRING) {
        reply_fault(r, i, "INFO memory", reply, why, why_size);
        freeReplyObject(reply);
        return -2;
    }
    info_field(reply->str, "maxmemory_policy", policy, sizeof(policy));
    info_field(reply->str, "maxmemory", maxmem, sizeof(maxmem));
    freeReplyObject(reply);
    if (!policy[0]) {
        snprintf(why, why_size, "redis %s: INFO memory: no maxmemory_policy",
                 sgs_rcl_master_name(r, i));
        return -2;
    }
    if (strcmp(policy, "noeviction") == 0 || strtoll(maxmem, NULL, 10) <= 0)
        return 0;
    snprintf(why, why_size, "redis %s: maxmemory-policy is %s with maxmemory %s bytes",
             sgs_rcl_master_name(r, i), policy, maxmem);
    return 1;
}

redisContext *sgs_rcl_master_open(sgs_rcl *r, size_t i, char *errstr, size_t errstr_size)
{
    const struct node *n;
    struct timeval tv;
    redisContext *c;
    if (i >= r->n_masters) {
        snprintf(errstr, errstr_size, "redis cluster: no master number %zu (%zu known)", i,
                 r->n_masters);
        return NULL;
    }
    n = &r->nodes[r->masters[i]];
    set_tv(&tv, r->timeout_ms);
    c = redisConnectWithTimeout(n->host, n->port, tv);
    if (!c || c->err) {
        snprintf(errstr, errstr_size, "redis %s: %s", n->name,
                 c ? c->errstr : "cannot allocate a context");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    if (r->password && *r->password) {
        const char *argv[] = {"AUTH", r->password};
        redisReply *reply = redisCommandArgv(c, 2, argv, NULL);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "redis %s: %.120s", n->name,
                     reply          ? reply->str
                     : c->errstr[0] ? c->errstr
                                    : "connection lost");
            if (reply)
                freeReplyObject(reply);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(reply);
    }
    return c;
}

int sgs_rcl_script_load(sgs_rcl *r, const char *body, char sha[41], char *errstr,
                        size_t errstr_size)
{
    char err[256] = "";
    int ok = 0;
    size_t len = strlen(body);

    if (!r->have_map && sgs_rcl_refresh(r, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < r->n_masters; i++) {
        redisReply *reply = sgs_rcl_master_command(r, i, SGS_RCL_IDEMPOTENT, err, sizeof(err),
                                                   "SCRIPT LOAD %b", body, len);
        if (!reply)
            continue;
        if (reply->type == REDIS_REPLY_STRING && reply->len == 40) {
            memcpy(sha, reply->str, 40);
            sha[40] = '\0';
            ok = 1;
        } else {
            reply_fault(r, i, "SCRIPT LOAD", reply, err, sizeof(err));
        }
        freeReplyObject(reply);
    }
    if (!ok) {
        snprintf(errstr, errstr_size, "%s", err[0] ? err : "redis cluster: no master");
        return -1;
    }
    if (script_find(r, sha) >= 0)
        return 0;
    struct script *v = realloc(r->scripts, (r->n_scripts + 1) * sizeof(*v));
    if (!v)
        goto oom;
    r->scripts = v;
    if (!(v[r->n_scripts].body = malloc(len + 1)))
        goto oom;
    memcpy(v[r->n_scripts].body, body, len + 1);
    v[r->n_scripts].len = len;
    memcpy(v[r->n_scripts].sha, sha, 41);
    r->n_scripts++;
    return 0;
oom:
    snprintf(errstr, errstr_size, "redis: out of memory");
    return -1;
}

/* ---- scanning the whole cluster ---------------------------------------------- */

/* Whether the comma-separated list [s, e) holds word. */
static int has_word(const char *s, const char *e, const char *word)
{
    size_t n = strlen(word);
    while (s < e) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *we = c ? c : e;
        if ((size_t)(we - s) == n && memcmp(s, word, n) == 0)
            return 1;
        s = we + 1;
    }
    return 0;
}

/* Adds a CLUSTER NODES line to fingerprint h when it is the answering node's
 * own ("myself" among its flags): its id, config epoch and slots. Sets *moving
 * when its slots show a migration ("[slot->-id]" or "[slot-<-id]", only ever
 * on the node's own line). Fields: <id> <addr> <flags> <master> <ping> <pong>
 * <epoch> <link> <slot>... */
static uint64_t node_line(uint64_t h, const char *s, const char *e, int *moving)
{
    const char *tok[9];
    size_t len[9];
    int n = 0;
    while (s < e && n < 9) {
        const char *sp = memchr(s, ' ', (size_t)(e - s));
        const char *te = n == 8 || !sp ? e : sp; /* the slots: the rest of the line */
        tok[n] = s;
        len[n++] = (size_t)(te - s);
        s = te + 1;
    }
    if (n < 8 || !has_word(tok[2], tok[2] + len[2], "myself"))
        return h;
    h = sgs_hash_fnv1a_from(h, tok[0], len[0]);
    h = sgs_hash_fnv1a_from(h, "/", 1);
    h = sgs_hash_fnv1a_from(h, tok[6], len[6]);
    h = sgs_hash_fnv1a_from(h, "/", 1);
    if (n == 9) {
        h = sgs_hash_fnv1a_from(h, tok[8], len[8]);
        if (memchr(tok[8], '[', len[8]))
            *moving = 1;
    }
    return sgs_hash_fnv1a_from(h, "\n", 1);
}

uint64_t sgs_rcl_nodes_fingerprint(const char *text, size_t len, int *moving)
{
    uint64_t h = SGS_HASH_FNV1A_BASIS;
    const char *line = text, *end = text + len;
    *moving = 0;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        h = node_line(h, line, le, moving);
        line = le + 1;
    }
    return h;
}

/* A fingerprint of who owns what: each master's own line of CLUSTER NODES
 * (id, config epoch, slots). *moving when a master migrates or imports a slot
 * ("[slot->-id]" / "[slot-<-id]"). 0, or -1 with errstr. */
static int topology(sgs_rcl *r, uint64_t *fp, int *moving, char *errstr, size_t errstr_size)
{
    uint64_t h = SGS_HASH_FNV1A_BASIS;
    *moving = 0;
    if (map_refresh(r, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < r->n_masters; i++) {
        h = sgs_hash_fnv1a_from(h, sgs_rcl_master_name(r, i), strlen(sgs_rcl_master_name(r, i)));
        if (!r->cluster)
            continue;
        redisReply *reply =
            sgs_rcl_master_command(r, i, SGS_RCL_IDEMPOTENT, errstr, errstr_size, "CLUSTER NODES");
        if (!reply)
            return -1;
        if (reply->type != REDIS_REPLY_STRING) {
            reply_fault(r, i, "CLUSTER NODES", reply, errstr, errstr_size);
            freeReplyObject(reply);
            return -1;
        }
        int m = 0;
        h = sgs_hash_mix64(h ^ sgs_rcl_nodes_fingerprint(reply->str, reply->len, &m));
        *moving |= m;
        freeReplyObject(reply);
    }
    *fp = h;
    return 0;
}

struct keyset {
    sgs_buf mem; /* keys, each followed by NUL */
    size_t *off, *len;
    size_t n, cap;
};

static int keyset_add(struct keyset *ks, const char *k, size_t len)
{
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        size_t *o = realloc(ks->off, cap * sizeof(*o));
        if (!o)
            return -1;
        ks->off = o;
        size_t *l = realloc(ks->len, cap * sizeof(*l));
        if (!l)
            return -1;
        ks->len = l;
        ks->cap = cap;
    }
    ks->off[ks->n] = ks->mem.len;
    ks->len[ks->n] = len;
    sgs_buf_append(&ks->mem, k, len);
    sgs_buf_putc(&ks->mem, '\0');
    if (ks->mem.oom)
        return -1;
    ks->n++;
    return 0;
}

/* One SCAN pass over every master. 0, or -1 with errstr. */
static int scan_pass(sgs_rcl *r, const char *pattern, struct keyset *ks, char *errstr,
                     size_t errstr_size)
{
    for (size_t i = 0; i < r->n_masters; i++) {
        char cursor[32] = "0";
        do {
            redisReply *reply =
                sgs_rcl_master_command(r, i, SGS_RCL_IDEMPOTENT, errstr, errstr_size,
                                       "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
            if (!reply)
                return -1;
            if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                reply->element[0]->type != REDIS_REPLY_STRING ||
                reply->element[0]->len >= sizeof(cursor) ||
                reply->element[1]->type != REDIS_REPLY_ARRAY) {
                reply_fault(r, i, "SCAN", reply, errstr, errstr_size);
                freeReplyObject(reply);
                return -1;
            }
            memcpy(cursor, reply->element[0]->str, reply->element[0]->len + 1);
            const redisReply *keys = reply->element[1];
            for (size_t k = 0; k < keys->elements; k++) {
                if (keys->element[k]->type != REDIS_REPLY_STRING)
                    continue;
                if (keyset_add(ks, keys->element[k]->str, keys->element[k]->len) != 0) {
                    freeReplyObject(reply);
                    snprintf(errstr, errstr_size, "redis: out of memory");
                    return -1;
                }
            }
            freeReplyObject(reply);
        } while (strcmp(cursor, "0") != 0);
    }
    return 0;
}

static int cmp_key(const struct keyset *ks, size_t i, size_t j)
{
    size_t li = ks->len[i], lj = ks->len[j];
    int c = memcmp(ks->mem.data + ks->off[i], ks->mem.data + ks->off[j], li < lj ? li : lj);
    return c ? c : (li > lj) - (li < lj);
}

/* Merge sort of key numbers (qsort has no context argument, and a global one
 * would tie separate handles together). tmp holds n. */
static void sort_keys(const struct keyset *ks, size_t *v, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2, i = 0, j = h, k = 0;
    sort_keys(ks, v, tmp, h);
    sort_keys(ks, v + h, tmp, n - h);
    while (i < h && j < n)
        tmp[k++] = cmp_key(ks, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

void sgs_rcl_keys_free(sgs_rcl_keys *k)
{
    if (!k)
        return;
    free(k->key);
    free(k->len);
    free(k->mem_);
    memset(k, 0, sizeof(*k));
}

/* The distinct keys of ks into out (takes ks's memory). */
static int keys_finish(struct keyset *ks, sgs_rcl_keys *out)
{
    size_t *ord = malloc((ks->n ? ks->n : 1) * 2 * sizeof(*ord));
    out->key = malloc((ks->n ? ks->n : 1) * sizeof(*out->key));
    out->len = malloc((ks->n ? ks->n : 1) * sizeof(*out->len));
    if (!ord || !out->key || !out->len) {
        free(ord);
        sgs_rcl_keys_free(out);
        return -1;
    }
    for (size_t i = 0; i < ks->n; i++)
        ord[i] = i;
    sort_keys(ks, ord, ord + ks->n, ks->n);
    out->n = 0;
    for (size_t i = 0; i < ks->n; i++) {
        size_t k = ord[i];
        if (out->n && out->len[out->n - 1] == ks->len[k] &&
            memcmp(out->key[out->n - 1], ks->mem.data + ks->off[k], ks->len[k]) == 0)
            continue;
        out->key[out->n] = ks->mem.data + ks->off[k];
        out->len[out->n] = ks->len[k];
        out->n++;
    }
    free(ord);
    out->mem_ = ks->mem.data;
    ks->mem.data = NULL;
    return 0;
}

int sgs_rcl_scan(sgs_rcl *r, const char *pattern, int timeout_ms, sgs_rcl_keys *out, char *errstr,
                 size_t errstr_size)
{
    int64_t budget = timeout_ms > 0 ? timeout_ms : r->deadline_ms;
    int64_t end = sgs_clock_mono_ms() + budget;
    struct keyset ks = {SGS_BUF_INIT, NULL, NULL, 0, 0};
    char err[256] = "";
    int rc = -1, moved = 0;

    memset(out, 0, sizeof(*out));
    while (sgs_clock_mono_ms() < end) {
        uint64_t fp1, fp2;
        int moving = 0, failed = 0;
        r->deadline = end;
        sgs_buf_reset(&ks.mem);
        ks.n = 0;
        err[0] = '\0';
        /* (err is not a sign of failure: a successful map refresh leaves text
         * in it) */
        if (topology(r, &fp1, &moving, err, sizeof(err)) != 0)
            failed = 1;
        else if (!moving && scan_pass(r, pattern, &ks, err, sizeof(err)) != 0)
            failed = 1;
        else if (!moving && topology(r, &fp2, &moving, err, sizeof(err)) != 0)
            failed = 1;
        else if (!moving && fp1 == fp2) {
            if (keys_finish(&ks, out) != 0) {
                snprintf(errstr, errstr_size, "redis: out of memory");
                goto done;
            }
            rc = 0;
            goto done;
        }
        moved = !failed; /* else the last pass failed on an error */
        if (ks.mem.oom) {
            snprintf(errstr, errstr_size, "redis: out of memory");
            goto done;
        }
        int64_t left = end - sgs_clock_mono_ms();
        sleep_ms(left < 100 ? (left > 0 ? left : 0) : 100);
    }
    if (moved)
        snprintf(errstr, errstr_size,
                 "redis cluster: slots kept moving during the scan of '%s' for %lld ms", pattern,
                 (long long)budget);
    else
        snprintf(errstr, errstr_size, "%s (scan of '%s' gave up after %lld ms)", err, pattern,
                 (long long)budget);
done:
    sgs_buf_free(&ks.mem);
    free(ks.off);
    free(ks.len);
    return rc;
}

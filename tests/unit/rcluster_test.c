/* Unit tests of the pure parts of the Redis Cluster client: the slot of a key,
 * CLUSTER SLOTS replies, redirection errors, seeds, pipe building and whole
 * replies in a read buffer (no I/O:
 * the servers are in tests/integration/test_rcluster.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sgs/config.h"
#include "sgs/rcluster.h"

/* ---- slots ------------------------------------------------------------------ */

/* Values answered by CLUSTER KEYSLOT of redis-server 7.0.15 (recorded). */
static const struct {
    const char *key;
    unsigned slot;
} keyslots[] = {
    {"foo", 12182},
    {"bar", 5061},
    {"a", 15495},
    {"", 0},
    {"123456789", 12739}, /* CRC16/XMODEM check value 0x31C3 */
    {"{user1000}.following", 3443},
    {"{user1000}.followers", 3443},
    {"foo{bar}{zap}", 5061}, /* the first tag: "bar" */
    {"foo{}{bar}", 8363},    /* empty first tag: the whole key */
    {"foo{{bar}}zap", 4015}, /* tag "{bar" */
    {"{}", 15257},           /* empty: the whole key */
    {"{", 4092},             /* no closing brace: the whole key */
    {"}", 12090},
    {"sgs:{sgs.records:0}:offset", 6361},
    {"sgs:{sgs.records:3}", 10426},
    {"{sgs.records:3}:m:2025-12", 10426},
    {"\xe4\xb8\xad", 3858}, /* UTF-8 bytes as they are */
};

static void test_slot_matches_redis(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(keyslots) / sizeof(keyslots[0]); i++) {
        unsigned got = sgs_rcl_slot(keyslots[i].key, strlen(keyslots[i].key));
        if (got != keyslots[i].slot)
            fail_msg("slot of '%s': got %u, Redis says %u", keyslots[i].key, got, keyslots[i].slot);
    }
}

static void test_slot_tag_rules(void **state)
{
    (void)state;
    /* every key of one partition shares the tag's slot */
    uint16_t s = sgs_rcl_slot("sgs.records:3", 13);
    assert_int_equal(sgs_rcl_slot("sgs:{sgs.records:3}:seen", 24), s);
    assert_int_equal(sgs_rcl_slot("x{sgs.records:3}", 16), s);
    /* binary keys: a NUL inside is hashed like any byte */
    assert_int_not_equal(sgs_rcl_slot("a\0b", 3), sgs_rcl_slot("a", 1));
    /* the tag ends at the first '}' after the first '{' */
    assert_int_equal(sgs_rcl_slot("{a}b}", 5), sgs_rcl_slot("a", 1));
    assert_int_equal(sgs_rcl_slot("x{a", 3), sgs_rcl_slot("x{a", 3));
    for (unsigned i = 0; i < 1000; i++) {
        char k[32];
        int n = snprintf(k, sizeof(k), "k%u", i);
        assert_true(sgs_rcl_slot(k, (size_t)n) < SGS_RCL_SLOTS);
    }
}

/* ---- CLUSTER SLOTS ---------------------------------------------------------- */

static redisReply *parse_resp(const char *text, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;
    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, text, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(rd);
    return reply;
}

struct ranges {
    unsigned n;
    unsigned first[8], last[8];
    char host[8][64];
    int port[8];
};

static void collect(void *arg, uint16_t first, uint16_t last, const char *host, size_t hlen,
                    int port)
{
    struct ranges *r = arg;
    assert_true(r->n < 8);
    r->first[r->n] = first;
    r->last[r->n] = last;
    snprintf(r->host[r->n], sizeof(r->host[0]), "%.*s", (int)hlen, host);
    r->port[r->n] = port;
    r->n++;
}

/* Recorded from a 3-master cluster (redis 7.0.15) after `redis-cli --cluster
 * reshard` moved slots 0-99: node 23082 holds two ranges. */
static const char recorded[] =
    "*4\r\n"
    "*3\r\n:0\r\n:99\r\n*4\r\n$9\r\n127.0.0.1\r\n:23082\r\n$40\r\n"
    "93baa9ee114fbfb826686601ba63b98160335491\r\n*0\r\n"
    "*3\r\n:100\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:26342\r\n$40\r\n"
    "0677a185793ca8afd266117a4c71cef3366e58b8\r\n*0\r\n"
    "*3\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:23082\r\n$40\r\n"
    "93baa9ee114fbfb826686601ba63b98160335491\r\n*0\r\n"
    "*3\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:46302\r\n$40\r\n"
    "889d8d8b491a7f46148a4171c07334b451e69572\r\n*0\r\n";

static void test_slots_recorded(void **state)
{
    (void)state;
    char err[256];
    struct ranges got = {0};
    redisReply *r = parse_resp(recorded, sizeof(recorded) - 1);
    assert_int_equal(sgs_rcl_slots_parse(r, collect, &got, err, sizeof(err)), 0);
    assert_int_equal(got.n, 4);
    assert_int_equal(got.first[0], 0);
    assert_int_equal(got.last[0], 99);
    assert_int_equal(got.port[0], 23082);
    assert_string_equal(got.host[0], "127.0.0.1");
    assert_int_equal(got.first[1], 100);
    assert_int_equal(got.port[1], 26342);
    assert_int_equal(got.first[3], 10923);
    assert_int_equal(got.last[3], 16383);
    assert_int_equal(got.port[3], 46302);
    freeReplyObject(r);
}

/* The full shape: replicas after the master, Redis 7's metadata map (in RESP2 a
 * flat array), an empty host ("the node you asked") and the unknown endpoint
 * "?" (both reported as empty). */
static void test_slots_replicas_and_hosts(void **state)
{
    (void)state;
    static const char text[] =
        "*3\r\n"
        "*4\r\n:0\r\n:8191\r\n"
        "*4\r\n$0\r\n\r\n:7000\r\n$3\r\nid1\r\n*2\r\n$8\r\nhostname\r\n$5\r\nnode1\r\n"
        "*4\r\n$8\r\n10.0.0.2\r\n:7001\r\n$3\r\nid2\r\n*0\r\n"
        "*3\r\n:8192\r\n:8192\r\n*3\r\n$1\r\n?\r\n:7002\r\n$3\r\nid3\r\n"
        "*3\r\n:8193\r\n:16383\r\n*2\r\n$13\r\nredis-3.local\r\n:7003\r\n";
    char err[256];
    struct ranges got = {0};
    redisReply *r = parse_resp(text, sizeof(text) - 1);
    assert_int_equal(sgs_rcl_slots_parse(r, collect, &got, err, sizeof(err)), 0);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.host[0], "");
    assert_int_equal(got.port[0], 7000);
    assert_int_equal(got.first[1], 8192);
    assert_int_equal(got.last[1], 8192);
    assert_string_equal(got.host[1], "");
    assert_string_equal(got.host[2], "redis-3.local");
    freeReplyObject(r);

    /* no slots assigned yet: no ranges, no error */
    r = parse_resp("*0\r\n", 4);
    got.n = 0;
    assert_int_equal(sgs_rcl_slots_parse(r, collect, &got, err, sizeof(err)), 0);
    assert_int_equal(got.n, 0);
    freeReplyObject(r);
}

static void test_slots_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"-ERR This instance has cluster support disabled\r\n", "expected an array"},
        {"*1\r\n:5\r\n", "range 0 is not"},
        {"*1\r\n*2\r\n:0\r\n:5\r\n", "range 0 is not"},
        {"*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n", "bad slots 0-16384"},
        {"*1\r\n*3\r\n:9\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "bad slots 9-5"},
        {"*1\r\n*3\r\n:-1\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "bad slots -1-5"},
        {"*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:0\r\n", "bad master address"},
        {"*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:65536\r\n", "bad master address"},
        {"*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n$1\r\nh\r\n", "bad master address"},
        {"*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n:1\r\n:1\r\n", "bad master address"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct ranges got = {0};
        redisReply *r = parse_resp(bad[i].text, strlen(bad[i].text));
        assert_int_equal(sgs_rcl_slots_parse(r, collect, &got, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].want) || strncmp(err, "CLUSTER SLOTS: ", 15) != 0)
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].want);
        freeReplyObject(r);
    }
}

/* ---- CLUSTER NODES ---------------------------------------------------------- */

/* Recorded from the cluster above (redis 7.0.15), as node 26342 answered. */
#define NODES_A                                                                                    \
    "93baa9ee114fbfb826686601ba63b98160335491 127.0.0.1:23082@33082 master - 0 1796418240085 7 "   \
    "connected 0-99 5461-10922\n"                                                                  \
    "354805ecaaa189bf6760bc6b8467cdd011e4de19 127.0.0.1:28303@38303 slave "                        \
    "0677a185793ca8afd266117a4c71cef3366e58b8 0 1796418240085 1 connected\n"                       \
    "889d8d8b491a7f46148a4171c07334b451e69572 127.0.0.1:46302@56302 master - 0 1796418240085 3 "   \
    "connected 10923-16383\n"
#define NODES_SELF(epoch, slots)                                                                   \
    "0677a185793ca8afd266117a4c71cef3366e58b8 127.0.0.1:26342@36342 myself,master - 0 "            \
    "1796418240000 " epoch " connected" slots "\n"

static void test_nodes_fingerprint(void **state)
{
    (void)state;
    static const char base[] = NODES_A NODES_SELF("1", " 100-5460");
    int moving = 9;
    uint64_t fp = sgs_rcl_nodes_fingerprint(base, sizeof(base) - 1, &moving);
    assert_int_equal(moving, 0);

    /* other nodes' lines do not count (they are this node's hearsay) */
    static const char others[] = NODES_A
        "deadbeef 127.0.0.1:1@2 master,fail - 0 0 9 disconnected 1-2\n" NODES_SELF("1",
                                                                                   " 100-5460");
    assert_true(sgs_rcl_nodes_fingerprint(others, sizeof(others) - 1, &moving) == fp);
    /* ping/pong times do not count */
    static const char later[] =
        NODES_A "0677a185793ca8afd266117a4c71cef3366e58b8 127.0.0.1:26342@36342 myself,master - 5 "
                "1796418299999 1 connected 100-5460\n";
    assert_true(sgs_rcl_nodes_fingerprint(later, sizeof(later) - 1, &moving) == fp);
    /* a slot lost or gained, a new epoch: another fingerprint */
    static const char lost[] = NODES_A NODES_SELF("1", " 101-5460");
    assert_true(sgs_rcl_nodes_fingerprint(lost, sizeof(lost) - 1, &moving) != fp);
    assert_int_equal(moving, 0);
    static const char epoch[] = NODES_A NODES_SELF("8", " 100-5460");
    assert_true(sgs_rcl_nodes_fingerprint(epoch, sizeof(epoch) - 1, &moving) != fp);
    /* migrating and importing markers: moving */
    static const char migrating[] =
        NODES_A NODES_SELF("1", " 100-5460 [100->-93baa9ee114fbfb826686601ba63b98160335491]");
    sgs_rcl_nodes_fingerprint(migrating, sizeof(migrating) - 1, &moving);
    assert_int_equal(moving, 1);
    static const char importing[] =
        NODES_A NODES_SELF("1", " 100-5460 [5461-<-93baa9ee114fbfb826686601ba63b98160335491]");
    sgs_rcl_nodes_fingerprint(importing, sizeof(importing) - 1, &moving);
    assert_int_equal(moving, 1);
    /* a master without slots, the last line without '\n' */
    static const char noslots[] =
        NODES_A "0677a185793ca8afd266117a4c71cef3366e58b8 127.0.0.1:26342@36342 myself,master - 0 "
                "0 1 connected";
    sgs_rcl_nodes_fingerprint(noslots, sizeof(noslots) - 1, &moving);
    assert_int_equal(moving, 0);
    /* no own line (a replica's view of others only): the empty fingerprint */
    assert_true(sgs_rcl_nodes_fingerprint(NODES_A, sizeof(NODES_A) - 1, &moving) ==
                sgs_rcl_nodes_fingerprint("", 0, &moving));
}

/* ---- redirections ----------------------------------------------------------- */

static void test_redirects(void **state)
{
    (void)state;
    uint16_t slot = 0;
    const char *host = NULL;
    size_t hlen = 99;
    int port = 0;
#define PARSE(s) sgs_rcl_redirect_parse(s, strlen(s), &slot, &host, &hlen, &port)
    assert_int_equal(PARSE("MOVED 3999 127.0.0.1:6381"), SGS_RCL_R_MOVED);
    assert_int_equal(slot, 3999);
    assert_int_equal(hlen, 9);
    assert_memory_equal(host, "127.0.0.1", 9);
    assert_int_equal(port, 6381);
    assert_int_equal(PARSE("ASK 16383 10.1.2.3:7000"), SGS_RCL_R_ASK);
    assert_int_equal(slot, 16383);
    assert_int_equal(port, 7000);
    /* empty endpoint: the node that answered */
    assert_int_equal(PARSE("MOVED 1 :6380"), SGS_RCL_R_MOVED);
    assert_int_equal(hlen, 0);
    assert_int_equal(port, 6380);
    /* IPv6: the port follows the last ':' */
    assert_int_equal(PARSE("MOVED 12 ::1:7001"), SGS_RCL_R_MOVED);
    assert_int_equal(hlen, 3);
    assert_memory_equal(host, "::1", 3);
    assert_int_equal(port, 7001);
    assert_int_equal(PARSE("MOVED 12 redis-a.example:7001"), SGS_RCL_R_MOVED);
    assert_int_equal(hlen, 15);
    /* malformed redirections are ordinary errors */
    assert_int_equal(PARSE("MOVED 16384 h:1"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVED x h:1"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVED 1 h"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVED 1 h:0"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVED 1 h:70000"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVED"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("MOVEDX 1 h:1"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("ASKING 1 h:1"), SGS_RCL_R_NONE);
    /* the rest */
    assert_int_equal(PARSE("TRYAGAIN Multiple keys request during rehashing of slot"),
                     SGS_RCL_R_TRYAGAIN);
    assert_int_equal(PARSE("CLUSTERDOWN The cluster is down"), SGS_RCL_R_CLUSTERDOWN);
    assert_int_equal(PARSE("CLUSTERDOWN Hash slot not served"), SGS_RCL_R_CLUSTERDOWN);
    assert_int_equal(PARSE("LOADING Redis is loading the dataset in memory"), SGS_RCL_R_BUSY);
    assert_int_equal(PARSE("BUSY Redis is busy running a script."), SGS_RCL_R_BUSY);
    assert_int_equal(PARSE("MASTERDOWN Link with MASTER is down"), SGS_RCL_R_BUSY);
    assert_int_equal(PARSE("READONLY You can't write against a read only replica."),
                     SGS_RCL_R_READONLY);
    assert_int_equal(PARSE("NOSCRIPT No matching script. Please use EVAL."), SGS_RCL_R_NOSCRIPT);
    assert_int_equal(PARSE("ERR wrong number of arguments"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("WRONGTYPE Operation against a key"), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("BUSYKEY Target key name already exists."), SGS_RCL_R_NONE);
    assert_int_equal(PARSE("CROSSSLOT Keys in request don't hash to the same slot"),
                     SGS_RCL_R_NONE);
#undef PARSE
}

/* ---- seeds and pipes without I/O --------------------------------------------- */

static sgs_rcl *new_with(const char *kv, char *err, size_t esize)
{
    sgs_config *cfg = sgs_config_new();
    assert_non_null(cfg);
    if (kv)
        assert_int_equal(sgs_config_set_kv(cfg, kv, "test", err, esize), 0);
    sgs_rcl *r = sgs_rcl_new(cfg, 100, err, esize);
    sgs_config_destroy(cfg);
    return r;
}

static void test_seeds(void **state)
{
    (void)state;
    char err[256];
    static const char *good[] = {
        "redis.cluster=127.0.0.1:7000",
        "redis.cluster= a:1 , b:2,,c:65535 ",
        "redis.cluster=[::1]:7000,[fe80::1]:7001",
        "redis.cluster=redis-0.redis.svc:6379",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        sgs_rcl *r = new_with(good[i], err, sizeof(err));
        if (!r)
            fail_msg("%s: %s", good[i], err);
        assert_int_equal(sgs_rcl_is_cluster(r), 0); /* no contact yet */
        assert_int_equal(sgs_rcl_master_count(r), 0);
        assert_string_equal(sgs_rcl_slot_node(r, 5), "");
        sgs_rcl_free(r);
    }
    static const struct {
        const char *kv, *want;
    } bad[] = {
        {"redis.cluster=localhost", "redis.cluster: 'localhost' is not host:port"},
        {"redis.cluster=a:1,b", "'b' is not host:port"},
        {"redis.cluster=a:0", "'a:0' is not host:port"},
        {"redis.cluster=a:65536", "'a:65536' is not host:port"},
        {"redis.cluster=a:12x", "'a:12x' is not host:port"},
        {"redis.cluster=:7000", "':7000' is not host:port"},
        {"redis.cluster=a:", "'a:' is not host:port"},
        {"redis.cluster=[]:1", "'[]:1' is not host:port"},
        {"redis.cluster= , ", "redis.cluster: no host:port in ' , '"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        sgs_rcl *r = new_with(bad[i].kv, err, sizeof(err));
        if (r || !strstr(err, bad[i].want))
            fail_msg("%s: '%s' does not say '%s'", bad[i].kv, err, bad[i].want);
    }
    /* without redis.cluster: redis.host/port, no I/O until used */
    sgs_rcl *r = new_with(NULL, err, sizeof(err));
    assert_non_null(r);
    sgs_rcl_free(r);
    sgs_rcl_free(NULL);
}

static void test_pipe_building(void **state)
{
    (void)state;
    char err[256];
    sgs_rcl *r = new_with("redis.cluster=127.0.0.1:1", err, sizeof(err));
    assert_non_null(r);
    sgs_rcl_pipe *p = sgs_rcl_pipe_new(r);
    assert_non_null(p);
    const char *argv[] = {"HINCRBY", "{t:1}:m", "f", "1"};
    assert_int_equal(sgs_rcl_pipe_append(p, 7, 0, 4, argv, NULL), 0);
    assert_int_equal(sgs_rcl_pipe_appendf(p, 7, 0, "GET %s", "k"), 1);
    assert_int_equal(sgs_rcl_pipe_append(p, 7, 0, 0, argv, NULL), -1);
    assert_int_equal(sgs_rcl_pipe_append(p, SGS_RCL_SLOTS, 0, 4, argv, NULL), -1);
    /* a transaction is one unit; its commands keep its slot */
    assert_int_equal(sgs_rcl_pipe_multi(p, 9, SGS_RCL_IDEMPOTENT), 2);
    assert_int_equal(sgs_rcl_pipe_multi(p, 9, 0), -1); /* no nesting */
    assert_int_equal(sgs_rcl_pipe_appendf(p, 9, 0, "GET a"), 2);
    assert_int_equal(sgs_rcl_pipe_appendf(p, 8, 0, "GET b"), -1); /* other slot */
    assert_int_equal(sgs_rcl_pipe_append(p, 9, 0, 4, argv, NULL), 2);
    assert_int_equal(sgs_rcl_pipe_exec(p), 0);
    assert_int_equal(sgs_rcl_pipe_exec(p), -1);
    assert_int_equal(sgs_rcl_pipe_count(p), 3);
    assert_int_equal(sgs_rcl_pipe_status(p, 0), SGS_RCL_PENDING);
    assert_null(sgs_rcl_pipe_reply(p, 0));
    assert_string_equal(sgs_rcl_pipe_error(p, 2), "");
    assert_int_equal(sgs_rcl_pipe_status(p, 3), SGS_RCL_UNAVAILABLE); /* out of range */
    /* no master known before the first contact */
    assert_int_equal(sgs_rcl_pipe_append_master(p, 0, 0, 4, argv, NULL), -1);
    sgs_rcl_pipe_reset(p);
    assert_int_equal(sgs_rcl_pipe_count(p), 0);
    assert_int_equal(sgs_rcl_pipe_appendf(p, 1, 0, "PING"), 0);
    sgs_rcl_pipe_free(p);
    sgs_rcl_pipe_free(NULL);
    sgs_rcl_free(r);
}

/* Nothing listens on port 1: the call gives up at the deadline with one line
 * naming the node, and reports that the command did not run. */
static void test_unreachable(void **state)
{
    (void)state;
    char err[256] = "";
    sgs_rcl *r = new_with("redis.cluster=127.0.0.1:1", err, sizeof(err));
    assert_non_null(r);
    sgs_rcl_set_deadline(r, 150);
    assert_null(sgs_rcl_command(r, "k", 0, err, sizeof(err), "GET k"));
    if (!strstr(err, "redis 127.0.0.1:1: Connection refused"))
        fail_msg("error: %s", err);
    assert_int_equal(sgs_rcl_refresh(r, err, sizeof(err)), -1);
    assert_string_equal(err, "redis 127.0.0.1:1: Connection refused");
    sgs_rcl_free(r);

    sgs_config *cfg = sgs_config_new();
    assert_int_equal(sgs_config_set_kv(cfg, "redis.port=1", "test", err, sizeof(err)), 0);
    assert_null(sgs_rcl_connect(cfg, 100, err, sizeof(err)));
    assert_string_equal(err, "redis 127.0.0.1:1: Connection refused");
    sgs_config_destroy(cfg);
}

/* Replies as Redis writes them (the batch script's, a fence, errors, nulls,
 * nested arrays, a bulk with CRLF inside): n whole replies are there at the
 * end of the n-th and at no byte before it. */
static void test_resp_whole(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "*3\r\n$2\r\nOK\r\n$0\r\n\r\n$0\r\n\r\n",
        "*2\r\n$6\r\nFENCED\r\n$4\r\n1234\r\n",
        "-NOSCRIPT No matching script. Please use EVAL.\r\n",
        "+OK\r\n",
        ":-42\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*0\r\n",
        "*2\r\n*2\r\n:1\r\n$3\r\na\r\n\r\n*1\r\n$-1\r\n",
        "$12\r\nline\r\nline\r\n\r\n",
        "%1\r\n+k\r\n*1\r\n_\r\n", /* RESP3: a map, a null */
    };
    enum { N = sizeof(replies) / sizeof(replies[0]) };
    char all[512];
    size_t ends[N], len = 0;
    for (size_t i = 0; i < N; i++) {
        size_t l = strlen(replies[i]);
        assert_true(len + l <= sizeof(all));
        memcpy(all + len, replies[i], l);
        len += l;
        ends[i] = len;
    }
    for (size_t n = 1; n <= N; n++)
        for (size_t cut = 0; cut <= len; cut++)
            if (sgs_rcl_resp_whole(all, cut, n) != (cut >= ends[n - 1]))
                fail_msg("%zu replies whole in the first %zu bytes: said %d", n, cut,
                         sgs_rcl_resp_whole(all, cut, n));
    assert_int_equal(sgs_rcl_resp_whole(all, 0, 0), 1); /* none owed */
    /* not RESP: whole, for hiredis's read to report */
    assert_int_equal(sgs_rcl_resp_whole("?junk\r\n", 7, 2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_matches_redis), cmocka_unit_test(test_slot_tag_rules),
        cmocka_unit_test(test_slots_recorded),     cmocka_unit_test(test_slots_replicas_and_hosts),
        cmocka_unit_test(test_slots_malformed),    cmocka_unit_test(test_nodes_fingerprint),
        cmocka_unit_test(test_redirects),          cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_pipe_building),      cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_resp_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

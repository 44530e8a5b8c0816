/* Redis for both daemons, one Redis or a Redis Cluster through the same code
 * (docs/REFERENCE.md §11, docs/REDIS.md). hiredis 0.14 has no cluster support, so this
 * module does what a cluster client does: CRC16 of the hash tag for the slot,
 * CLUSTER SLOTS for the map of slots to masters, one connection per master
 * (opened when first needed, AUTH on each), and on a reply that says the
 * command did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, LOADING, ...) the
 * command is sent again where and when it can run, within a deadline.
 *
 * Without redis.cluster the one seed is redis.host:redis.port. A Redis that is
 * not in cluster mode answers CLUSTER SLOTS with an error; it then owns every
 * slot (a cluster of one) and nothing else differs. A single node in cluster
 * mode, named by redis.cluster or by redis.host, is an ordinary cluster.
 *
 * Commands go out as "units": one command, or a MULTI ... EXEC transaction.
 * A unit is sent to the master of its slot (or to one named master), and its
 * outcome is one of:
 *   SGS_RCL_OK           a reply; REDIS_REPLY_ERROR when Redis refused the
 *                        command for another reason (like hiredis);
 *   SGS_RCL_UNAVAILABLE  no node took it before the deadline: it did not run;
 *   SGS_RCL_LOST         it was written, then the connection broke before its
 *                        reply came: it may have run.
 * A unit flagged SGS_RCL_IDEMPOTENT (safe to run twice: reads, SETs of the
 * same value, the consumer's fenced batch script) is sent again after a lost
 * reply; any other unit ends as LOST at once, because sending it again could
 * apply it twice. Replies that say the command did not run are always
 * followed, for every unit: running it then is its first run.
 *
 * Errors are one line naming the node and what happened:
 *   "redis 127.0.0.1:7001: Connection refused (slot 866; gave up after 5000 ms)".
 *
 * Threads: an sgs_rcl and its pipes belong to one thread at a time; separate
 * handles share nothing. Writes use send(MSG_NOSIGNAL): a connection closed
 * by the server never raises SIGPIPE.
 *
 * Time: a call retries until its deadline; a read already waiting when the
 * deadline passes still has the socket timeout (timeout_ms) to finish.
 *
 * ---- How the consumer uses it (one EVALSHA per partition per batch) ------
 *
 *   sgs_rcl *r = sgs_rcl_connect(cfg, timeout_ms, err, sizeof(err));
 *   sgs_rcl_script_load(r, sgs_consumer_script, sha, err, sizeof(err));
 *   sgs_rcl_pipe *p = sgs_rcl_pipe_new(r);
 *   every batch:
 *     sgs_rcl_pipe_reset(p);
 *     for each partition with a batch:
 *       slot = sgs_rcl_slot(base, len);        base: "<prefix>:{<topic>:<p>}"
 *       idx[p] = sgs_rcl_pipe_append(p, slot, SGS_RCL_IDEMPOTENT | SGS_RCL_SETTLED, argc,
 *                                    argv, argvlen);
 *     sgs_rcl_pipe_send(p);                    writes each node's share, returns
 *     ... read the next batch from Kafka while Redis runs the scripts ...
 *     sgs_rcl_pipe_collect(p, 0);              replies, redirections followed
 *     for each partition: status(p, idx[p]), reply(p, idx[p])
 *
 * The batch script is fenced by the stored offset, so it is IDEMPOTENT: after a
 * broken connection it is sent again, and a run that had happened answers
 * FENCED with the batch's own end offset (applied). MOVED/ASK/TRYAGAIN mean it
 * did not run, so it is simply sent again to the right node; the script is
 * also SGS_RCL_SETTLED (its undeclared keys), so an ASK is waited out until
 * the slot has moved. Replies come back
 * in append order per node; collect reads each node's share and re-sends the
 * redirected units, so the caller sees one outcome per unit in its own order.
 * A unit still UNAVAILABLE or LOST at the deadline is the caller's to retry
 * later (keep the batch, back off, poll Kafka meanwhile). NOSCRIPT on an
 * EVALSHA of a script given to sgs_rcl_script_load is handled here (SCRIPT
 * LOAD on that node, then the EVALSHA again): Redis 7 does not replicate SCRIPT
 * LOAD, so a promoted replica has no script, and a master that gained a slot
 * in a reshard may never have seen it. After a failover that lost the last
 * writes of a master (replication is asynchronous), a batch answers FENCED
 * with an older offset: state and offset went back together.
 *
 * Several pipes and the blocking calls may have commands in flight on one
 * handle at once (say, the batches sent and a rebalance callback's GET of an
 * offset): a collect reads whatever its connections owe before its own
 * replies and leaves each outcome with its own pipe.
 *
 * ---- How the aggregator uses it --------------------------------------------
 *
 * Partitions: sgs_rcl_scan(r, "<prefix>:{<topic>:*}:offset", ...) (pattern from
 * sgs_store_scan_pattern) scans every master and returns each key once, only
 * from a pass during which no slot moved. A month of one partition, read
 * consistently: sgs_rcl_pipe_multi(p, slot, SGS_RCL_IDEMPOTENT), one append per
 * read, sgs_rcl_pipe_exec(p); several partitions' transactions can share one
 * pipe (one round trip per master), each unit's reply is its EXEC array.
 * Global keys ("<prefix>:snapshot:...") are ordinary keys with their own slots.
 *
 * Because a transaction or script keeps to one slot (CROSSSLOT otherwise), a
 * snapshot's read is one MULTI per partition (consistent per partition; the
 * snapshot records each partition's stored offset, REFERENCE §11), not one MULTI
 * over all of them; and the version write (vN, latest, months: three slots)
 * is not a transaction but ordered writes (SET vN NX, then latest raised by a
 * one-key script, then SADD; docs/REDIS.md), since there is no WATCH here (a
 * reconnect between WATCH and EXEC would drop the guard silently). The alert
 * stream's SUBSCRIBE has a connection of its own (sgs_rcl_master_open).
 */
#ifndef SGS_RCLUSTER_H
#define SGS_RCLUSTER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "sgs/config.h"

#define SGS_RCL_SLOTS 16384

/* Unit flags. */
#define SGS_RCL_IDEMPOTENT 0x1 /* may be sent again after a lost reply */
/* Runs only while its slot is settled: an ASK (the slot is migrating, its keys
 * split between two nodes) is waited out with the backoff, like TRYAGAIN,
 * never followed with ASKING. For a script that touches keys it does not
 * declare: Redis checks only declared keys before it runs a script, so after
 * ASKING the target would run it and create afresh there every undeclared key
 * the source still holds (the migration then stops on "Target key exists",
 * and the count in the source's key is lost if it is forced). The unit's
 * declared key must be one that never exists (the consumer's base
 * "<prefix>:{<topic>:<p>}"): the owner answers ASK for it as long as the slot
 * migrates, and never runs the script meanwhile. */
#define SGS_RCL_SETTLED 0x2

typedef struct sgs_rcl sgs_rcl;
typedef struct sgs_rcl_pipe sgs_rcl_pipe;

enum sgs_rcl_status {
    SGS_RCL_OK = 0,      /* a reply (possibly REDIS_REPLY_ERROR) */
    SGS_RCL_PENDING,     /* appended or sent, outcome not known yet */
    SGS_RCL_UNAVAILABLE, /* not run: no node took it before the deadline */
    SGS_RCL_LOST,        /* written, reply lost with its connection: may have run */
};

/* ---- handle ---------------------------------------------------------------- */

/* A handle from the configuration, without any I/O: redis.cluster (seeds
 * "host:port,host:port", "[v6addr]:port" for IPv6; redis.host/redis.port are
 * then ignored) or redis.host:redis.port, redis.password (AUTH on every
 * connection), redis.db (SELECT on every connection when not 0; a cluster
 * refuses it, and that error is reported). timeout_ms: connect timeout and
 * socket timeout of each read and write, and the default deadline of a call
 * with its retries (sgs_rcl_set_deadline). NULL with "redis.cluster: ..." in
 * errstr on a bad seed list or allocation failure. */
sgs_rcl *sgs_rcl_new(const sgs_config *cfg, int timeout_ms, char *errstr, size_t errstr_size);

/* sgs_rcl_new, then the map from the first seed that answers (a connection,
 * AUTH, SELECT, CLUSTER SLOTS). NULL with "redis HOST:PORT: <why>" of the last
 * seed tried when none answered. A handle from sgs_rcl_new works too: it
 * fetches the map on its first command. */
sgs_rcl *sgs_rcl_connect(const sgs_config *cfg, int timeout_ms, char *errstr, size_t errstr_size);

/* Closes every connection and frees the handle. NULL ok. Free its pipes first. */
void sgs_rcl_free(sgs_rcl *r);

/* 1 when the map came from CLUSTER SLOTS (a cluster, even of one node), 0 for
 * a Redis not in cluster mode or before the first contact. */
int sgs_rcl_is_cluster(const sgs_rcl *r);

/* Default deadline, in ms, of a blocking call or a collect with timeout 0:
 * how long a command keeps being retried while its slot has no reachable
 * master (a failover takes about cluster-node-timeout + 1-3 s). */
void sgs_rcl_set_deadline(sgs_rcl *r, int deadline_ms);

/* Fetches the map again now (CLUSTER SLOTS from a known master, else from any
 * known node, else from the seeds). 0, or -1 with the last node's error; the
 * old map is kept then. Commands refresh by themselves on MOVED and failures:
 * call this before iterating masters. */
int sgs_rcl_refresh(sgs_rcl *r, char *errstr, size_t errstr_size);

/* What the handle has done since it was made (for logs and metrics). */
typedef struct sgs_rcl_stats {
    uint64_t moved, ask, tryagain, clusterdown, busy, readonly, noscript; /* replies followed */
    uint64_t ask_waits;     /* ASKs of SGS_RCL_SETTLED units waited out (also in ask) */
    uint64_t connects;      /* connections opened (the first ones included) */
    uint64_t connect_fails; /* connections that could not be opened */
    uint64_t broken;        /* connections that broke with replies owed */
    uint64_t resent_lost;   /* IDEMPOTENT units sent again after a lost reply */
    uint64_t refreshes;     /* maps fetched */
} sgs_rcl_stats;
void sgs_rcl_get_stats(const sgs_rcl *r, sgs_rcl_stats *out);

/* ---- slots ------------------------------------------------------------------ */

/* The slot of a key: CRC16 (XMODEM, as Redis) mod 16384 of the hash tag, the
 * bytes between the first '{' and the first '}' after it when there is at
 * least one; else of the whole key. Pure, thread-safe. */
uint16_t sgs_rcl_slot(const char *key, size_t len);

/* "host:port" of the master currently mapped for slot, or "" when none is
 * known (for logs; valid until the next call on r). */
const char *sgs_rcl_slot_node(const sgs_rcl *r, uint16_t slot);

/* ---- blocking commands ------------------------------------------------------ */

/* Runs one command (hiredis format: printf-like, %b for binary) on the master of key's slot,
 * following redirections and retrying as described above until the deadline.
 * Returns the reply (caller frees with freeReplyObject; REDIS_REPLY_ERROR when
 * Redis refused it) or NULL with the one-line error in errstr. key is the key
 * whose slot decides (NUL-terminated); flags: SGS_RCL_IDEMPOTENT or 0. */
redisReply *sgs_rcl_command(sgs_rcl *r, const char *key, int flags, char *errstr,
                            size_t errstr_size, const char *fmt, ...);

/* The same with a va_list. */
redisReply *sgs_rcl_vcommand(sgs_rcl *r, const char *key, int flags, char *errstr,
                             size_t errstr_size, const char *fmt, va_list ap);

/* The same from argv (binary safe) and a slot. */
redisReply *sgs_rcl_command_argv(sgs_rcl *r, uint16_t slot, int flags, int argc, const char **argv,
                                 const size_t *argvlen, char *errstr, size_t errstr_size);

/* SCRIPT LOAD body on every master and remembers it, so that NOSCRIPT on an
 * EVALSHA of it is answered by loading it there and sending the EVALSHA again.
 * Writes the SHA1 (40 hex digits and NUL) into sha. 0, or -1 with errstr when
 * no master took it (masters that failed get it on their first NOSCRIPT).
 * body is copied. */
int sgs_rcl_script_load(sgs_rcl *r, const char *body, char sha[41], char *errstr,
                        size_t errstr_size);

/* ---- pipelines -------------------------------------------------------------- */

/* A pipeline on r: units appended, written to their nodes in one go, then
 * collected. Reused across batches (reset keeps its memory: a batch of units
 * costs no allocation here beyond hiredis's reply objects). Belongs to r's
 * thread; free it before r. NULL on allocation failure. */
sgs_rcl_pipe *sgs_rcl_pipe_new(sgs_rcl *r);
void sgs_rcl_pipe_free(sgs_rcl_pipe *p); /* NULL ok; replies not taken are freed */
/* Drops every unit and reply (replies still owed by Redis are read and freed
 * later, by whichever call next reads that connection). */
void sgs_rcl_pipe_reset(sgs_rcl_pipe *p);

/* Appends a unit of one command for slot. Returns its index (0, 1, ... in
 * append order), or -1 on allocation failure or argc < 1. argv is copied. */
long sgs_rcl_pipe_append(sgs_rcl_pipe *p, uint16_t slot, int flags, int argc, const char **argv,
                         const size_t *argvlen);
/* The same, hiredis printf-style. */
long sgs_rcl_pipe_appendf(sgs_rcl_pipe *p, uint16_t slot, int flags, const char *fmt, ...);
/* A unit for master number i of the current map (sgs_rcl_master_count), not
 * for a slot: keyless commands (SCAN, INFO, CONFIG GET, SCRIPT ...).
 * Redirections are not followed (there is no slot); failures are retried on
 * the same node. -1 also when i is out of range. */
long sgs_rcl_pipe_append_master(sgs_rcl_pipe *p, size_t i, int flags, int argc, const char **argv,
                                const size_t *argvlen);

/* Opens a MULTI ... EXEC unit for slot: the appends that follow (with the same
 * slot; another slot fails with -1) are its commands, sgs_rcl_pipe_exec closes
 * it. Returns its index. The unit's reply is EXEC's array; when a command was
 * refused while queued, that command's error reply instead. A redirection of
 * any of its commands sends the whole unit again (nothing of it ran). */
long sgs_rcl_pipe_multi(sgs_rcl_pipe *p, uint16_t slot, int flags);
int sgs_rcl_pipe_exec(sgs_rcl_pipe *p); /* 0, or -1 when none is open */

/* Writes every unit not yet sent, grouped by node (one write per node), and
 * returns without reading. Connection failures are not errors here: those
 * units are retried by collect. 0, or -1 on allocation failure. */
int sgs_rcl_pipe_send(sgs_rcl_pipe *p);

/* Sends what is not sent yet, reads every reply, re-sends redirected units
 * (and lost IDEMPOTENT ones), backing off while slots have no reachable
 * master, until every unit has an outcome or timeout_ms (0: the handle's
 * deadline) has passed. Returns the number of units without a reply (status
 * UNAVAILABLE or LOST). */
size_t sgs_rcl_pipe_collect(sgs_rcl_pipe *p, int timeout_ms);

/* Whether the replies of p's units written so far are in (read from the
 * sockets without waiting): 1 when a collect would not wait for them, also
 * when a connection failed (the collect says so); 0 while one is still owed.
 * A caller that waits on a 0 bounds its wait: the collect's timeout counts
 * from the collect. */
int sgs_rcl_pipe_replied(sgs_rcl_pipe *p);
/* Whether buf holds n whole replies (RESP2 or RESP3) from its start; bytes
 * that are not RESP count as whole (hiredis's read reports them). */
int sgs_rcl_resp_whole(const char *buf, size_t len, size_t n);

size_t sgs_rcl_pipe_count(const sgs_rcl_pipe *p);
enum sgs_rcl_status sgs_rcl_pipe_status(const sgs_rcl_pipe *p, size_t i);
/* The reply of unit i (borrowed: valid until reset/free), or NULL. */
const redisReply *sgs_rcl_pipe_reply(const sgs_rcl_pipe *p, size_t i);
/* The same, handed over: the caller frees it; the pipe forgets it. */
redisReply *sgs_rcl_pipe_take(sgs_rcl_pipe *p, size_t i);
/* One line: why unit i has no reply, or the last redirection it followed; ""
 * when none. Valid until reset/free. */
const char *sgs_rcl_pipe_error(const sgs_rcl_pipe *p, size_t i);

/* ---- the whole cluster ------------------------------------------------------ */

/* Masters of the current map, in order of their first slot (0 before the
 * first contact; call sgs_rcl_refresh first for a fresh list). */
size_t sgs_rcl_master_count(const sgs_rcl *r);
const char *sgs_rcl_master_name(const sgs_rcl *r, size_t i); /* "host:port" */

/* A blocking command on master i (see sgs_rcl_pipe_append_master). */
redisReply *sgs_rcl_master_command(sgs_rcl *r, size_t i, int flags, char *errstr,
                                   size_t errstr_size, const char *fmt, ...);

/* Whether master i may evict keys: a maxmemory and a maxmemory-policy other
 * than noeviction (INFO memory). sgs needs every key it writes: an evicting
 * master can drop identities and day buckets (they carry expiries: volatile-*)
 * or offsets, counters and snapshots (allkeys-*) when memory runs short, and
 * counts would go wrong without a sign. 1: it may, "redis host:port:
 * maxmemory-policy is P with maxmemory N bytes" in why; 0: it keeps its keys;
 * -1: no answer (why: the error); -2: INFO refused or not understood (why:
 * "redis host:port: INFO memory: ..."). */
int sgs_rcl_master_evicts(sgs_rcl *r, size_t i, char *why, size_t why_size);

/* A hiredis connection of the caller's own to master i of the current map
 * (connected with the handle's timeout, AUTH as configured; no SELECT: it is
 * meant for SUBSCRIBE, and Pub/Sub ignores the database), for what the units
 * cannot carry: a subscribed connection answers nothing but messages. In a
 * cluster, PUBLISH on any node reaches the subscribers of every node, so any
 * master will do; after losing it, refresh and open another. The caller owns
 * it (redisFree); the handle never touches it. NULL with "redis host:port:
 * why" in errstr. */
redisContext *sgs_rcl_master_open(sgs_rcl *r, size_t i, char *errstr, size_t errstr_size);

/* Distinct keys, sorted bytewise. key[i] is NUL-terminated (keys may hold
 * NULs: use len[i]). */
typedef struct sgs_rcl_keys {
    size_t n;
    char **key;
    size_t *len;
    char *mem_; /* private */
} sgs_rcl_keys;
void sgs_rcl_keys_free(sgs_rcl_keys *k); /* NULL ok; leaves it empty */

/* Every key matching a SCAN MATCH pattern on every master, each once. The
 * result comes from one pass over all masters during which no slot was
 * migrating and the map did not change (checked before and after with each
 * master's CLUSTER NODES), so a key moving in a reshard is neither missed nor
 * counted twice; otherwise the pass is repeated until timeout_ms (0: the
 * handle's deadline). 0, or -1 with errstr ("... slots kept moving ..."). out
 * is overwritten (free it with sgs_rcl_keys_free). */
int sgs_rcl_scan(sgs_rcl *r, const char *pattern, int timeout_ms, sgs_rcl_keys *out, char *errstr,
                 size_t errstr_size);

/* ---- pure parts (exposed for the unit tests) -------------------------------- */

/* Called for each slot range of a CLUSTER SLOTS reply with its master's
 * address (host not NUL-terminated; empty when Redis does not know it: use
 * the address of the node asked). */
typedef void (*sgs_rcl_range_fn)(void *arg, uint16_t first, uint16_t last, const char *host,
                                 size_t host_len, int port);
/* Checks a CLUSTER SLOTS reply and calls fn for each range. 0, or -1 with
 * "CLUSTER SLOTS: <what is wrong>" in errstr (fn may have been called for the
 * ranges before the fault). */
int sgs_rcl_slots_parse(const redisReply *reply, sgs_rcl_range_fn fn, void *arg, char *errstr,
                        size_t errstr_size);

/* A fingerprint of a CLUSTER NODES reply's own line (the one flagged
 * "myself"): id, config epoch, slots; *moving set when that line shows a slot
 * migrating or importing. sgs_rcl_scan compares the masters' fingerprints
 * before and after a pass. */
uint64_t sgs_rcl_nodes_fingerprint(const char *text, size_t len, int *moving);

/* What an error reply says about where and when the command can run. */
enum sgs_rcl_redirect {
    SGS_RCL_R_NONE = 0,    /* an ordinary error: the command's answer */
    SGS_RCL_R_MOVED,       /* the slot lives elsewhere: update the map, send there */
    SGS_RCL_R_ASK,         /* this one command: ASKING at the named node */
    SGS_RCL_R_TRYAGAIN,    /* keys of a multi-key command split by a migration */
    SGS_RCL_R_CLUSTERDOWN, /* slot not served or cluster down: back off, refresh */
    SGS_RCL_R_BUSY,        /* LOADING, BUSY, MASTERDOWN: back off */
    SGS_RCL_R_READONLY,    /* a replica (a demoted master): refresh the map */
    SGS_RCL_R_NOSCRIPT,    /* EVALSHA of a script this node does not have */
};
/* Classifies an error reply's text. For MOVED/ASK: *slot, and the target
 * (*host points into err, *host_len 0 when the address has an empty host,
 * *port); MOVED/ASK text that cannot be parsed is SGS_RCL_R_NONE. */
enum sgs_rcl_redirect sgs_rcl_redirect_parse(const char *err, size_t len, uint16_t *slot,
                                             const char **host, size_t *host_len, int *port);

#endif

/* Partition sync with Redis outside the batches: the stored offset read on
 * assignment (Redis is the truth), re-sending the alerts and rejects a
 * partition's outbox still holds, deleting delivered outbox entries. Every
 * command here waits until no batch reply is owed (sgs_writer_quiet). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "parts.h"
#include "sgs/clock.h"
#include "sgs/log.h"
#include "sgs/store.h"

/* Re-sends the outbox entries of a partition that are not being delivered now. */
static int resend_outbox(sgs_consumer *c, int32_t partition)
{
    char key[SGS_STORE_KEY_MAX], err[512];
    redisReply *r;
    part_state *ps = sgs_parts_get(c, partition);
    if (!ps)
        return -1;
    sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, partition, SGS_STORE_OUTBOX, NULL);
    r = sgs_rconn_command(c, key, err, sizeof(err), "HGETALL %s", key);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            int64_t end = strtoll(r->element[i]->str, NULL, 10);
            int acked = 0;
            for (size_t a = 0; a < ps->n_acks && !acked; a++)
                acked = strcmp(ps->acks[a], r->element[i]->str) == 0;
            if (acked || sgs_outbox_tracked(c, partition, end))
                continue; /* being delivered, or delivered and waiting for deletion */
            sgs_info("partition %" PRId32 ": re-sending undelivered alerts/rejects of the batch "
                     "ending at %" PRId64,
                     partition, end);
            sgs_outbox_send(c, partition, end, r->element[i + 1]->str, r->element[i + 1]->len);
        }
    }
    freeReplyObject(r);
    return 0;
}

/* Kafka's committed offset of the partition for our group: -1 none, -2 it
 * could not be read (why says so). Only ever evidence that the partition was
 * consumed before: sgs never starts from it. */
static int64_t committed_offset(sgs_consumer *c, int32_t partition, char *why, size_t why_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;
    int64_t off;
    rd_kafka_topic_partition_list_add(l, c->topic, partition);
    e = rd_kafka_committed(c->rk, l, 5000);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(why, why_size, "%s", rd_kafka_err2str(e));
        off = -2;
    } else {
        off = l->elems[0].offset < 0 ? -1 : l->elems[0].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

/* Loads a sequence hash (HGETALL reply) into a table; fields starting with '_'
 * are not partitions (returned through start/epoch when asked). */
static int load_seqs(seq_table *t, const redisReply *r, char *epoch, size_t epoch_size)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        if (f->str[0] == '_') {
            if (epoch && strcmp(f->str, SGS_STORE_FI_EPOCH) == 0)
                snprintf(epoch, epoch_size, "%s", v->str);
            continue;
        }
        if (sgs_parts_seq_load(t, (int32_t)strtol(f->str, NULL, 10), strtoll(v->str, NULL, 10)) !=
            0)
            return -1;
    }
    return 0;
}

/* Whether the partition holds the identity hash of sgs before the identity
 * store (P:T:seen). */
static int legacy_state(sgs_consumer *c, int32_t partition)
{
    char key[SGS_STORE_KEY_MAX], err[256];
    redisReply *r;
    int found;
    sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, partition, SGS_STORE_LEGACY_SEEN, NULL);
    r = sgs_rconn_command(c, key, err, sizeof(err), "EXISTS %s", key);
    found = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    if (r)
        freeReplyObject(r);
    return found;
}

/* The partition's offset and forward sequences as of one instant (one
 * MULTI/EXEC on its slot): read one by one, another writer's batch could land
 * in between, and a state of mixed instants would number forwarded copies
 * anew (targets apply them twice) or skip copies as replays (records lost).
 * out[0..2]: GET offset, HGETALL fo, HGETALL fi. 0, or -1 (logged). */
static int read_state(sgs_consumer *c, const char *k_off, const char *k_fo, const char *k_fi,
                      const char *k_ik, redisReply *out[4])
{
    sgs_rcl_pipe *p = c->pipe; /* idle: the caller made the writer quiet */
    uint16_t slot = sgs_rcl_slot(k_off, strlen(k_off));
    long u;
    redisReply *r;

    sgs_rcl_pipe_reset(p);
    u = sgs_rcl_pipe_multi(p, slot, SGS_RCL_IDEMPOTENT);
    if (u < 0 || sgs_rcl_pipe_appendf(p, slot, SGS_RCL_IDEMPOTENT, "GET %s", k_off) < 0 ||
        sgs_rcl_pipe_appendf(p, slot, SGS_RCL_IDEMPOTENT, "HGETALL %s", k_fo) < 0 ||
        sgs_rcl_pipe_appendf(p, slot, SGS_RCL_IDEMPOTENT, "HGETALL %s", k_fi) < 0 ||
        sgs_rcl_pipe_appendf(p, slot, SGS_RCL_IDEMPOTENT, "HGETALL %s", k_ik) < 0 ||
        sgs_rcl_pipe_exec(p) != 0) {
        sgs_rcl_pipe_reset(p);
        sgs_rconn_refused(c, "cannot build the read of a partition's state (out of memory, or "
                             "its keys in different slots)");
        return -1;
    }
    sgs_rcl_pipe_collect(p, 0);
    if (sgs_rcl_pipe_status(p, (size_t)u) != SGS_RCL_OK || !(r = sgs_rcl_pipe_take(p, (size_t)u))) {
        sgs_rconn_lost(c, sgs_rcl_pipe_error(p, (size_t)u));
        sgs_rcl_pipe_reset(p);
        return -1;
    }
    sgs_rcl_pipe_reset(p);
    if (r->type == REDIS_REPLY_ERROR) {
        sgs_rconn_refused(c, r->str);
        freeReplyObject(r);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        freeReplyObject(r);
        sgs_rconn_refused(c, "unexpected reply to the read of a partition's state");
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        out[i] = r->element[i];
        r->element[i] = NULL; /* handed over; freeReplyObject skips NULL */
    }
    freeReplyObject(r);
    return 0;
}

/* The states of the partition's identity-store keys (P:T:ik, all of them)
 * into its cache, which then knows that a key without one was never written
 * by this version (decide.c; sgs_batch_env.key_kept). */
static int load_key_states(sgs_consumer *c, part_state *ps, const redisReply *r)
{
    if (ps->idc.seed == 0)
        ps->idc.seed = c->env.hash_seed | 1;
    if (r->type != REDIS_REPLY_ARRAY)
        return 0; /* not a hash: the batch script refuses it */
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        sgs_idc_entry *e;
        int added;
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        e = sgs_idcache_get(&ps->idc, SGS_IDC_KEYS, "", 0, f->str, f->len, &added);
        if (!e || sgs_idcache_set(&ps->idc, e, v->str, v->len) != 0) {
            sgs_idcache_clear(&ps->idc);
            return -1;
        }
    }
    ps->idc.keys_complete = 1;
    return 0;
}

int sgs_sync_partition(sgs_consumer *c, int32_t partition)
{
    char k_off[SGS_STORE_KEY_MAX], k_fo[SGS_STORE_KEY_MAX], k_fi[SGS_STORE_KEY_MAX];
    char k_ik[SGS_STORE_KEY_MAX], k_rb[SGS_STORE_KEY_MAX], epoch[32] = "";
    redisReply *r[5] = {NULL, NULL, NULL, NULL, NULL};
    part_state *ps = sgs_parts_get(c, partition);
    int route, rc = -1, rebuilding;

    if (!ps || sgs_writer_quiet(c) != 0)
        return -1;
    route = sgs_route_load(c, 0);
    if (route < 0)
        return -1;
    sgs_store_pkey(k_off, sizeof(k_off), c->prefix, c->topic, partition, SGS_STORE_OFFSET, NULL);
    sgs_store_pkey(k_fo, sizeof(k_fo), c->prefix, c->topic, partition, SGS_STORE_FWD_OUT, NULL);
    sgs_store_pkey(k_fi, sizeof(k_fi), c->prefix, c->topic, partition, SGS_STORE_FWD_IN, NULL);
    sgs_store_pkey(k_ik, sizeof(k_ik), c->prefix, c->topic, partition, SGS_STORE_IDKEYS, NULL);
    sgs_store_gkey(k_rb, sizeof(k_rb), c->prefix, SGS_STORE_REBUILD, NULL);
    {
        char err[512];
        if (read_state(c, k_off, k_fo, k_fi, k_ik, r) != 0 ||
            !(r[4] = sgs_rconn_command(c, k_rb, err, sizeof(err), "EXISTS %s", k_rb)))
            goto out;
    }
    rebuilding = r[4]->type == REDIS_REPLY_INTEGER && r[4]->integer > 0;
    sgs_idcache_clear(&ps->idc); /* built on another state, if any */
    if (load_key_states(c, ps, r[3]) != 0) {
        sgs_rconn_refused(c, "out of memory loading the identity keys' states");
        goto out;
    }
    sgs_parts_seq_rollback(ps);
    for (int32_t i = 0; i < ps->fo.n; i++)
        ps->fo.cur[i] = ps->fo.com[i] = 0;
    for (int32_t i = 0; i < ps->fi.n; i++)
        ps->fi.cur[i] = ps->fi.com[i] = 0;
    if (load_seqs(&ps->fo, r[1], NULL, 0) != 0 || load_seqs(&ps->fi, r[2], epoch, sizeof(epoch))) {
        sgs_rconn_refused(c, "out of memory loading forward sequences");
        goto out;
    }
    if (r[0]->type == REDIS_REPLY_STRING) {
        const char *t = r[0]->str;
        size_t nd = strspn(t, "0123456789");
        ps->stored = strtoll(t, NULL, 10);
        if (nd == 0 || nd > 18 || t[nd] || (t[0] == '0' && nd > 1)) {
            /* Written by hand: the batch script's fence compares the text
             * (it writes plain digits), so any other form would be fenced
             * for ever. */
            char why[160];
            snprintf(why, sizeof(why),
                     "its stored offset is '%.40s', not an offset as sgs writes it (digits, no "
                     "sign, no leading zero)",
                     r[0]->str);
            sgs_parts_lost(c, partition, why);
            goto done;
        }
        if (epoch[0] && route != 0) {
            sgs_parts_lost(c, partition, "its offset is stored but the route (P:route) is gone");
        } else if (epoch[0] && strcmp(epoch, c->route.epoch) != 0) {
            sgs_parts_lost(c, partition, "its state was written under another route epoch");
        } else if (!epoch[0]) {
            /* An offset no batch wrote: set by an operator to start from there
             * (docs/OPERATIONS.md), or left by an sgs older than the identity
             * store, whose state this one cannot read. */
            if (legacy_state(c, partition)) {
                sgs_parts_lost(c, partition,
                               "its state was written by an older sgs (P:T:seen); this version "
                               "keeps identities differently");
                goto done;
            }
            if (route != 0 && sgs_route_load(c, 1) != 0)
                goto out;
            sgs_info("partition %" PRId32 ": starting at the offset set in Redis, %" PRId64,
                     partition, ps->stored);
        }
    } else {
        int64_t committed;
        ps->stored = -1;
        if (!rebuilding) {
            if (r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements > 0) {
                sgs_parts_lost(c, partition,
                               "Redis has no stored offset but still holds its other keys");
                goto done;
            }
            char kerr[256];
            committed = committed_offset(c, partition, kerr, sizeof(kerr));
            if (committed == -2) {
                /* Never taken as "not consumed before": that would count a
                 * partition whose state Redis lost again from its first
                 * message. Asked again in a second. */
                if (!ps->committed_unknown)
                    sgs_warn("partition %" PRId32 ": Redis holds no state of it and Kafka's "
                             "committed offset cannot be read (%s), so whether it was "
                             "consumed before is unknown; it waits, asking every second",
                             partition, kerr);
                ps->committed_unknown = 1;
                ps->sync_not_before = sgs_clock_mono_ms() + 1000;
                goto out;
            }
            if (ps->committed_unknown) {
                sgs_info("partition %" PRId32 ": Kafka's committed offset read", partition);
                ps->committed_unknown = 0;
            }
            if (committed >= 0) {
                char why[160];
                snprintf(why, sizeof(why),
                         "Redis has no stored offset but Kafka's committed offset is %" PRId64,
                         committed);
                sgs_parts_lost(c, partition, why);
                goto done;
            }
        }
        if (route != 0 && sgs_route_load(c, 1) != 0)
            goto out; /* the route cannot be fixed yet: retried */
        sgs_info("partition %" PRId32 ": no state in Redis%s; counting it from its first "
                 "message",
                 partition, rebuilding ? " (rebuild in progress)" : " and never consumed before");
    }
done:
    rc = c->lost ? -1 : resend_outbox(c, partition);
out:
    for (int i = 0; i < 5; i++)
        if (r[i])
            freeReplyObject(r[i]);
    return rc;
}

void sgs_sync_pending(sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || !ps->needs_sync)
            continue;
        if (ps->sync_not_before && sgs_clock_mono_ms() < ps->sync_not_before)
            continue;
        if (sgs_sync_partition(c, p) != 0)
            return;
        ps->needs_sync = 0;
        ps->next = ps->stored;
        sgs_parts_seek(c, p, ps->stored); /* -1: the beginning */
        sgs_info("partition %" PRId32 ": position from Redis: %" PRId64, p, ps->stored);
        if (!c->batch_paused && !c->outbox_paused && !c->copies_paused)
            sgs_parts_pause(c, p, 0);
    }
}

int sgs_sync_check_offsets(sgs_consumer *c)
{
    if (c->batch_msgs || c->sent_msgs || c->n_inflight)
        return 0; /* a batch is in hand: its fence tells */
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        char key[SGS_STORE_KEY_MAX], err[512];
        redisReply *r;
        int64_t have;

        if (!ps->assigned || ps->needs_sync)
            continue;
        sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, p, SGS_STORE_OFFSET, NULL);
        r = sgs_rconn_command(c, key, err, sizeof(err), "GET %s", key);
        if (!r)
            return -1;
        have = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        freeReplyObject(r);
        if (have == ps->stored)
            continue;
        if (have < 0 && ps->stored >= 0) {
            /* what the next batch's fence would say (writer.c) */
            sgs_writer_drop(c, p);
            sgs_parts_lost(c, p,
                           "its stored offset vanished from Redis while it was being consumed");
            continue;
        }
        /* A replica promoted without the last batches, an older copy
         * restored, a rebuild, another writer: the partition's next message
         * would be fenced, but one that gets none (the input is all in) would
         * stay behind, or count on from the wrong place, until then. */
        sgs_warn("partition %" PRId32 ": Redis holds offset %" PRId64 ", not %" PRId64
                 " as written here; reading the partition's state again",
                 p, have, ps->stored);
        sgs_writer_resync(c, p);
    }
    return 0;
}

void sgs_sync_resends(sgs_consumer *c)
{
    int any = 0;
    for (int32_t p = 0; p < c->n_parts && !any; p++)
        any = c->parts[p].resend;
    if (!any || sgs_writer_quiet(c) != 0)
        return;
    for (int32_t p = 0; p < c->n_parts; p++) {
        if (!c->parts[p].resend)
            continue;
        if (resend_outbox(c, p) != 0)
            break;
        c->parts[p].resend = 0;
    }
}

int sgs_sync_flush_acks(sgs_consumer *c)
{
    size_t n = 0;

    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].n_acks)
            n++;
    if (!n)
        return 0;
    if (sgs_writer_quiet(c) != 0)
        return -1;
    /* waiting for replies may have applied (or failed) sent batches */
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        char key[SGS_STORE_KEY_MAX], err[512];
        size_t k = ps->n_acks;
        const char **argv;
        size_t *argvlen;
        redisReply *r;
        if (!k || ps->sent.n_msgs) /* a sent batch carries them */
            continue;
        argv = calloc(k + 2, sizeof(*argv));
        argvlen = calloc(k + 2, sizeof(*argvlen));
        if (!argv || !argvlen) {
            free(argv);
            free(argvlen);
            continue;
        }
        sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, p, SGS_STORE_OUTBOX, NULL);
        argv[0] = "HDEL";
        argv[1] = key;
        for (size_t i = 0; i < k; i++)
            argv[i + 2] = ps->acks[i];
        for (size_t i = 0; i < k + 2; i++)
            argvlen[i] = strlen(argv[i]);
        r = sgs_rcl_command_argv(c->rcl, sgs_rcl_slot(key, strlen(key)), SGS_RCL_IDEMPOTENT,
                                 (int)(k + 2), argv, argvlen, err, sizeof(err));
        free(argv);
        free(argvlen);
        if (!r) {
            sgs_rconn_lost(c, err);
            return -1;
        }
        if (r->type != REDIS_REPLY_ERROR)
            sgs_parts_take_acks(ps, k);
        freeReplyObject(r);
    }
    return 0;
}

/* Deletes every key matching pattern on every master (SCAN + UNLINK). The
 * count, or -1. */
static long delete_matching(sgs_consumer *c, const char *pattern, char *errstr, size_t errstr_size)
{
    sgs_rcl_keys keys = {0};
    long n = 0;
    if (sgs_rcl_refresh(c->rcl, errstr, errstr_size) != 0 ||
        sgs_rcl_scan(c->rcl, pattern, 0, &keys, errstr, errstr_size) != 0)
        return -1;
    for (size_t i = 0; i < keys.n; i++) {
        const char *argv[2] = {"UNLINK", keys.key[i]};
        size_t len[2] = {6, keys.len[i]};
        redisReply *d = sgs_rcl_command_argv(c->rcl, sgs_rcl_slot(keys.key[i], keys.len[i]),
                                             SGS_RCL_IDEMPOTENT, 2, argv, len, errstr, errstr_size);
        if (!d) {
            sgs_rcl_keys_free(&keys);
            return -1;
        }
        freeReplyObject(d);
        n++;
    }
    sgs_rcl_keys_free(&keys);
    return n;
}

int sgs_sync_rebuild_start(sgs_consumer *c, char *errstr, size_t errstr_size)
{
    char pattern[SGS_STORE_KEY_MAX], key[SGS_STORE_KEY_MAX], now[40];
    int n = sgs_parts_count(c);
    long deleted;
    redisReply *r;

    if (n <= 0) {
        snprintf(errstr, errstr_size, "--rebuild: cannot read the partitions of topic %s",
                 c->topic);
        return -1;
    }
    if (sgs_rconn_ready(c) != 0) {
        snprintf(errstr, errstr_size, "--rebuild: Redis unavailable");
        return -1;
    }
#define RB(fmt, ...)                                                                               \
    sgs_rcl_command(c->rcl, key, SGS_RCL_IDEMPOTENT, errstr, errstr_size, fmt, __VA_ARGS__)
    sgs_store_gkey(key, sizeof(key), c->prefix, SGS_STORE_REBUILD, NULL);
    snprintf(now, sizeof(now), "%" PRId64, sgs_clock_wall_ms() / 1000);
    r = RB("DEL %s", key);
    if (!r)
        return -1;
    freeReplyObject(r);
    r = RB("HSET %s started %s", key, now);
    if (!r)
        return -1;
    freeReplyObject(r);
    /* the end of every partition now: the rebuild is done when Redis has counted up to it */
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(c->rk, c->topic, p, &lo, &hi, 10000);
        if (e) {
            snprintf(errstr, errstr_size, "--rebuild: watermarks of %s [%d]: %s", c->topic, p,
                     rd_kafka_err2str(e));
            return -1;
        }
        if (lo > 0)
            sgs_warn("rebuild: %s [%d] begins at offset %" PRId64
                     ": the records before it are gone from Kafka and cannot be counted again",
                     c->topic, p, lo);
        r = RB("HSET %s %d %" PRId64, key, p, hi);
        if (!r)
            return -1;
        freeReplyObject(r);
    }
    sgs_store_scan_pattern(pattern, sizeof(pattern), c->prefix, c->topic, "*");
    deleted = delete_matching(c, pattern, errstr, errstr_size);
    if (deleted < 0)
        return -1;
    sgs_store_gkey(key, sizeof(key), c->prefix, SGS_STORE_ROUTE, NULL);
    r = RB("DEL %s", key);
#undef RB
    if (!r)
        return -1;
    freeReplyObject(r);
    sgs_info("rebuild: deleted %ld keys of the %d partitions of %s and the route; snapshots and "
             "spot-check findings are kept; counting the topic again from its beginning",
             deleted, n, c->topic);
    return 0;
}

int sgs_sync_rebuild_done(sgs_consumer *c)
{
    char key[SGS_STORE_KEY_MAX], err[512];
    redisReply *r;
    int done = 1;
    if (sgs_writer_quiet(c) != 0)
        return -1;
    sgs_store_gkey(key, sizeof(key), c->prefix, SGS_STORE_REBUILD, NULL);
    r = sgs_rconn_command(c, key, err, sizeof(err), "HGETALL %s", key);
    if (!r)
        return -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && done; i += 2) {
        char okey[SGS_STORE_KEY_MAX];
        const char *f = r->element[i]->str;
        int64_t end = strtoll(r->element[i + 1]->str, NULL, 10);
        redisReply *o;
        if (f[0] < '0' || f[0] > '9' || end <= 0)
            continue;
        sgs_store_pkey(okey, sizeof(okey), c->prefix, c->topic, (int32_t)strtol(f, NULL, 10),
                       SGS_STORE_OFFSET, NULL);
        o = sgs_rconn_command(c, okey, err, sizeof(err), "GET %s", okey);
        if (!o) {
            freeReplyObject(r);
            return -1;
        }
        if (o->type != REDIS_REPLY_STRING || strtoll(o->str, NULL, 10) < end)
            done = 0;
        freeReplyObject(o);
    }
    freeReplyObject(r);
    if (!done)
        return 0;
    r = sgs_rconn_command(c, key, err, sizeof(err), "DEL %s", key);
    if (r)
        freeReplyObject(r);
    return 1;
}

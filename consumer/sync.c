/* Partition sync with Redis outside the batches: the stored offset read on
 * assignment (Redis is the truth), re-sending the alerts and rejects a
 * partition's outbox still holds, deleting delivered outbox entries. Every
 * command here waits until no batch reply is owed (sgs_writer_quiet). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/log.h"
#include "sgs/redisconn.h"
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
    r = sgs_redis_command(c->redis, err, sizeof(err), "HGETALL %s", key);
    if (!r) {
        sgs_rconn_lost(c, err);
        return -1;
    }
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

int sgs_sync_partition(sgs_consumer *c, int32_t partition)
{
    char key[SGS_STORE_KEY_MAX], err[512];
    redisReply *r;
    part_state *ps = sgs_parts_get(c, partition);
    if (!ps || sgs_writer_quiet(c) != 0)
        return -1;
    sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, partition, SGS_STORE_OFFSET, NULL);
    r = sgs_redis_command(c->redis, err, sizeof(err), "GET %s", key);
    if (!r) {
        sgs_rconn_lost(c, err);
        return -1;
    }
    ps->stored = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return resend_outbox(c, partition);
}

void sgs_sync_pending(sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || !ps->needs_sync)
            continue;
        if (sgs_sync_partition(c, p) != 0)
            return;
        ps->needs_sync = 0;
        ps->next = ps->stored;
        if (ps->stored >= 0)
            sgs_parts_seek(c, p, ps->stored);
        sgs_info("partition %" PRId32 ": position from Redis: %" PRId64, p, ps->stored);
        if (!c->batch_paused)
            sgs_parts_pause(c, p, 0);
    }
}

void sgs_sync_resends(sgs_consumer *c)
{
    int any = 0;
    for (int32_t p = 0; p < c->n_parts && !any; p++)
        any = c->parts[p].resend;
    if (!any || sgs_writer_quiet(c) != 0)
        return;
    for (int32_t p = 0; c->redis && p < c->n_parts; p++) {
        if (!c->parts[p].resend)
            continue;
        if (resend_outbox(c, p) != 0)
            break;
        c->parts[p].resend = 0;
    }
}

int sgs_sync_flush_acks(sgs_consumer *c)
{
    char key[SGS_STORE_KEY_MAX];
    int32_t *which = NULL;
    size_t *counts = NULL, n = 0;
    int rc = 0;

    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].n_acks)
            n++;
    if (!n)
        return 0;
    if (sgs_writer_quiet(c) != 0)
        return -1;
    n = 0; /* waiting for replies may have applied (or failed) sent batches */
    for (int32_t p = 0; p < c->n_parts; p++)
        if (c->parts[p].n_acks && c->parts[p].sent.n_msgs == 0)
            n++;
    if (!n)
        return 0;
    which = calloc(n, sizeof(*which));
    counts = calloc(n, sizeof(*counts));
    if (!which || !counts) {
        free(which);
        free(counts);
        return -1;
    }
    n = 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        size_t k = ps->n_acks;
        const char **argv;
        size_t *argvlen;
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
        redisAppendCommandArgv(c->redis, (int)(k + 2), argv, argvlen);
        free(argv);
        free(argvlen);
        which[n] = p;
        counts[n] = k;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->redis, (void **)&r) != REDIS_OK || !r) {
            sgs_rconn_lost(c, c->redis ? c->redis->errstr : "no reply");
            rc = -1;
            break;
        }
        if (r->type != REDIS_REPLY_ERROR)
            sgs_parts_take_acks(&c->parts[which[i]], counts[i]);
        freeReplyObject(r);
    }
    free(which);
    free(counts);
    return rc;
}

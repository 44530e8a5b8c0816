/* The partition table and what the consumer asks librdkafka about partitions:
 * seeks, pauses, the offsets that lag tools read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "parts.h"
#include "sgs/log.h"
#include "sgs/store.h"

part_state *sgs_parts_grow(sgs_consumer *c, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if (partition >= c->n_parts) {
        int32_t n = c->n_parts ? c->n_parts : 16;
        while (n <= partition)
            n *= 2;
        part_state *p = realloc(c->parts, (size_t)n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + c->n_parts, 0, (size_t)(n - c->n_parts) * sizeof(*p));
        for (int32_t i = c->n_parts; i < n; i++) {
            p[i].stored = -1;
            p[i].next = -1;
        }
        c->parts = p;
        c->n_parts = n;
    }
    return &c->parts[partition];
}

void sgs_parts_pause(sgs_consumer *c, int32_t only, int pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (!ps->assigned || (only >= 0 && p != only))
            continue;
        if (pause && !ps->paused) {
            rd_kafka_topic_partition_list_add(l, c->topic, p);
            ps->paused = 1;
        } else if (!pause && ps->paused && !ps->needs_sync) {
            rd_kafka_topic_partition_list_add(l, c->topic, p);
            ps->paused = 0;
        }
    }
    if (l->cnt) {
        rd_kafka_resp_err_t err =
            pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
        if (err)
            sgs_warn("%s partitions: %s", pause ? "pausing" : "resuming", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

int sgs_parts_seek(sgs_consumer *c, int32_t p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(l, c->topic, p);
    part_state *ps = sgs_parts_get(c, p);
    rd_kafka_error_t *e;
    char why[256] = "";

    tp->offset = offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
    if (ps)
        ps->gen++; /* what was fetched before the seek is discarded (ahead.h) */
    if (c->cf_fail_seeks > 0) {
        /* debug.fail_seeks (fault tests): this seek fails as a real one can */
        c->cf_fail_seeks--;
        snprintf(why, sizeof(why), "injected failure (debug.fail_seeks)");
    } else {
        e = rd_kafka_seek_partitions(c->rk, l, 5000);
        /* the call's own error, and the partition's in the list */
        if (e) {
            snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else if (tp->err) {
            snprintf(why, sizeof(why), "%s", rd_kafka_err2str(tp->err));
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (why[0]) {
        c->seek_failures++;
        if (ps && !ps->seek_failed)
            sgs_warn("partition %" PRId32 ": seek to %" PRId64
                     " failed: %s; its messages are ignored until a retry succeeds",
                     p, offset, why);
        if (ps)
            ps->seek_failed = 1;
        return -1;
    }
    if (ps && ps->seek_failed) {
        sgs_info("partition %" PRId32 ": seek to %" PRId64 " done", p, offset);
        ps->seek_failed = 0;
    }
    return 0;
}

void sgs_parts_retry_seeks(sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++) {
        part_state *ps = &c->parts[p];
        if (ps->assigned && ps->seek_failed && !ps->needs_sync)
            sgs_parts_seek(c, p, ps->next);
    }
}

/* Grows a sequence table to hold partition p. */
static int seq_room(seq_table *t, int32_t p)
{
    int32_t n;
    int64_t *cur, *com;
    if (p < t->n)
        return 0;
    n = t->n ? t->n : 16;
    while (n <= p)
        n *= 2;
    cur = realloc(t->cur, (size_t)n * sizeof(*cur));
    if (!cur)
        return -1;
    t->cur = cur;
    com = realloc(t->com, (size_t)n * sizeof(*com));
    if (!com)
        return -1;
    t->com = com;
    memset(t->cur + t->n, 0, (size_t)(n - t->n) * sizeof(*cur));
    memset(t->com + t->n, 0, (size_t)(n - t->n) * sizeof(*com));
    t->n = n;
    return 0;
}

int64_t sgs_parts_seq_get(const seq_table *t, int32_t p)
{
    return p >= 0 && p < t->n ? t->cur[p] : 0;
}

int sgs_parts_seq_load(seq_table *t, int32_t p, int64_t v)
{
    if (p < 0 || seq_room(t, p) != 0)
        return -1;
    t->cur[p] = t->com[p] = v;
    return 0;
}

int sgs_parts_seq_set(seq_table *t, int32_t p, int64_t v)
{
    if (p < 0 || seq_room(t, p) != 0)
        return -1;
    t->cur[p] = v;
    return 0;
}

int sgs_parts_seq_commit(seq_table *t, int32_t p, int64_t v)
{
    if (p < 0 || seq_room(t, p) != 0)
        return -1;
    t->com[p] = v;
    return 0;
}

static void seq_reset(seq_table *t, int free_it)
{
    if (free_it) {
        free(t->cur);
        free(t->com);
        memset(t, 0, sizeof(*t));
    } else if (t->n) {
        memcpy(t->cur, t->com, (size_t)t->n * sizeof(*t->cur));
    }
}

void sgs_parts_seq_rollback(part_state *ps)
{
    seq_reset(&ps->fo, 0);
    seq_reset(&ps->fi, 0);
}

void sgs_parts_store_offset(sgs_consumer *c, int32_t p, int64_t next)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, p)->offset = next;
    rd_kafka_offsets_store(c->rk, l); /* for lag tools only; Redis holds the truth */
    rd_kafka_topic_partition_list_destroy(l);
}

void sgs_parts_add_ack(part_state *ps, int64_t end)
{
    char num[24];
    if (ps->n_acks == ps->cap_acks) {
        size_t nc = ps->cap_acks ? ps->cap_acks * 2 : 8;
        char **na = realloc(ps->acks, nc * sizeof(*na));
        if (!na)
            return; /* the entry stays in Redis and is re-sent by the next owner */
        ps->acks = na;
        ps->cap_acks = nc;
    }
    snprintf(num, sizeof(num), "%" PRId64, end);
    char *s = strdup(num);
    if (s)
        ps->acks[ps->n_acks++] = s;
}

void sgs_parts_take_acks(part_state *ps, size_t n)
{
    for (size_t i = 0; i < n && i < ps->n_acks; i++)
        free(ps->acks[i]);
    if (n >= ps->n_acks) {
        ps->n_acks = 0;
    } else {
        memmove(ps->acks, ps->acks + n, (ps->n_acks - n) * sizeof(*ps->acks));
        ps->n_acks -= n;
    }
}

int sgs_parts_count(sgs_consumer *c)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(c->rk, c->topic, NULL);
    int n = -1;
    if (!t)
        return -1;
    if (rd_kafka_metadata(c->rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md &&
        md->topic_cnt == 1 && md->topics[0].err == 0)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

int64_t sgs_parts_lag(sgs_consumer *c)
{
    int64_t lag = 0;
    for (int32_t p = 0; p < c->n_parts; p++) {
        int64_t lo, hi;
        part_state *ps = &c->parts[p];
        if (!ps->assigned)
            continue;
        if (rd_kafka_get_watermark_offsets(c->rk, c->topic, p, &lo, &hi) == 0 && hi >= 0) {
            int64_t pos = ps->next >= 0 ? ps->next : lo;
            if (hi > pos)
                lag += hi - pos;
        }
    }
    return lag;
}

void sgs_parts_free(sgs_consumer *c)
{
    for (int32_t p = 0; p < c->n_parts; p++) {
        sgs_batch_free(&c->parts[p].batch);
        sgs_batch_free(&c->parts[p].closed);
        sgs_batch_free(&c->parts[p].sent);
        sgs_idcache_free(&c->parts[p].idc);
        sgs_decide_list_free(&c->parts[p].used);
        sgs_decide_list_free(&c->parts[p].miss);
        sgs_tally_free(&c->parts[p].tally);
        sgs_buf_free(&c->parts[p].outbox_entry);
        seq_reset(&c->parts[p].fo, 1);
        seq_reset(&c->parts[p].fi, 1);
        sgs_parts_take_acks(&c->parts[p], c->parts[p].n_acks);
        free(c->parts[p].acks);
    }
    free(c->parts);
    c->parts = NULL;
    c->n_parts = 0;
}

void sgs_parts_lost(sgs_consumer *c, int32_t p, const char *why)
{
    char key[SGS_STORE_KEY_MAX];
    if (c->lost)
        return;
    sgs_store_pkey(key, sizeof(key), c->prefix, c->topic, p, SGS_STORE_OFFSET, NULL);
    snprintf(c->lost_line, sizeof(c->lost_line),
             "partition %s [%" PRId32 "]: state lost: %s (%s); refusing to count on from "
             "anywhere else: stop every sgs-consumer of group %s, then rebuild with "
             "'sgs-consumer -c FILE --rebuild' (docs/OPERATIONS.md)",
             c->topic, p, why, key, sgs_config_get(c->cfg, "kafka.group.id"));
    sgs_error("%s", c->lost_line);
    c->lost = 1;
    c->fatal = 1;
}

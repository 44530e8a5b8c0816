/* The partition table and what the consumer asks librdkafka about partitions:
 * seeks, pauses, the offsets that lag tools read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/log.h"

part_state *sgs_parts_get(sgs_consumer *c, int32_t partition)
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

void sgs_parts_seek(sgs_consumer *c, int32_t p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *e;
    rd_kafka_topic_partition_list_add(l, c->topic, p)->offset =
        offset >= 0 ? offset : RD_KAFKA_OFFSET_BEGINNING;
    e = rd_kafka_seek_partitions(c->rk, l, 5000);
    if (e) {
        sgs_warn("partition %" PRId32 ": seek to %" PRId64 " failed: %s", p, offset,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
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
        sgs_batch_free(&c->parts[p].sent);
        sgs_parts_take_acks(&c->parts[p], c->parts[p].n_acks);
        free(c->parts[p].acks);
    }
    free(c->parts);
    c->parts = NULL;
    c->n_parts = 0;
}

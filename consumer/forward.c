/* Forwarded copies (route.c): an original that belongs to another partition is
 * produced there with its origin and sequence in a header, keyed by its unit's
 * canonical id, with its own timestamp (the report time when reported_at is
 * absent). The batch that read the original goes to Redis (and its offset
 * moves past it) only once every copy it forwarded is acknowledged; a copy
 * that fails drops the batch, which is read and forwarded again with the same
 * sequences (the target ignores what it applied already). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "sgs/log.h"

int sgs_forward_send(sgs_consumer *c, sgs_batch *b, const rd_kafka_message_t *m, int32_t to,
                     int64_t seq, const char *key)
{
    char hv[96];
    int hl;
    rd_kafka_resp_err_t err;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);

    if (!b->track) {
        b->track = calloc(1, sizeof(*b->track));
        if (!b->track) {
            b->oom = 1;
            return -1;
        }
        b->track->kind = SGS_DR_FORWARD;
    }
    hl = snprintf(hv, sizeof(hv), "%s:%" PRId32 ":%" PRId64 ":%" PRId64, c->route.epoch,
                  m->partition, m->offset, seq);
    for (int tries = 0;; tries++) {
        err = rd_kafka_producev(c->producer, RD_KAFKA_V_RKT(c->produced[SGS_PRODUCED_RECORDS]),
                                RD_KAFKA_V_PARTITION(to), RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(m->payload, m->payload ? m->len : 0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_TIMESTAMP(ts >= 0 ? ts : 0),
                                RD_KAFKA_V_HEADER(SGS_FWD_HEADER, hv, (ssize_t)hl),
                                RD_KAFKA_V_OPAQUE(b->track), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 20)
            break;
        rd_kafka_poll(c->producer, 10); /* serve delivery reports to make room, briefly */
    }
    if (err) {
        sgs_warn("partition %" PRId32 ": forwarding offset %" PRId64 " to partition %" PRId32
                 " failed: %s; the batch is read again",
                 m->partition, m->offset, to, rd_kafka_err2str(err));
        b->track->failed = 1;
        return -1;
    }
    b->track->pending++;
    return 0;
}

void sgs_forward_on_dr(sgs_consumer *c, const rd_kafka_message_t *m)
{
    sgs_fwd_track *t = m->_private;
    if (m->err) {
        c->delivery_failures++;
        if (!t->orphan && !t->failed)
            sgs_warn("forwarding to %s [%" PRId32 "] failed: %s; the batch is read again",
                     rd_kafka_topic_name(m->rkt), m->partition, rd_kafka_err2str(m->err));
        t->failed = 1;
    }
    if (--t->pending == 0 && t->orphan)
        free(t);
}

int sgs_forward_ready(const sgs_batch *b)
{
    return !b->track || (b->track->pending == 0 && !b->track->failed);
}

int sgs_forward_failed(const sgs_batch *b)
{
    return b->track && b->track->failed;
}

/* sgs-gen: producing to Kafka (--produce): every event to topic.records
 * with its key (keys.c; a keyless message of a decision with an update or
 * revoke to the partition keys.c chooses) and (unless --no-timestamps) its
 * send time as the timestamp; waits for every delivery report. */
#include "gen.h"

#include <librdkafka/rdkafka.h>

#include "sgs/kafkaconf.h"
#include "sgs/log.h"

struct produce_state {
    long delivered, failed;
    char first_error[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct produce_state *st = opaque;
    (void)rk;
    if (m->err) {
        if (st->failed++ == 0)
            snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
    } else {
        st->delivered++;
    }
}

/* The topic's partition count, 0 when it cannot be had (a warning: keyless
 * messages are then all left to librdkafka's partitioner). */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;
    int n = 0;

    if (!rkt)
        return 0;
    err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (!err)
        err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (!err)
        n = md->topics[0].partition_cnt;
    else
        sgs_warn("%s: no partition count (%s): keyless updates and revokes may overtake their "
                 "originals",
                 topic, rd_kafka_err2str(err));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

int gen_produce(const struct gen *g, double t0, char *errstr, size_t errstr_size)
{
    struct produce_state st = {0, 0, ""};
    const char *topic = sgs_config_get(g->cfg, "topic.records");
    rd_kafka_t *rk = sgs_kafka_producer_new(g->cfg, dr_cb, &st, errstr, errstr_size);
    sgs_buf b = SGS_BUF_INIT;
    int rc = 0, n_partitions = 0;

    if (!rk)
        return -2; /* configuration error */
    /* only keyless decisions with updates or revokes are placed (keys.c) */
    if ((g->o.key == KEY_NONE || g->o.key == KEY_MIXED) && (g->o.updates || g->o.revokes))
        n_partitions = partition_count(rk, topic);
    for (size_t i = 0; i < g->n_evs; i++) {
        const struct ev *e = &g->evs[i];
        const char *key = gen_keys_of(g, e);
        int partition = gen_keys_partition(g, e, n_partitions);
        rd_kafka_resp_err_t err;
        sgs_buf_reset(&b);
        gen_events_render(g, &b, e, 0);
        for (;;) {
            /* (timestamp 0: librdkafka's, the time of sending) */
            err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_TIMESTAMP(g->o.no_timestamps ? 0 : gen_times_kafka_ms(e)),
                RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 50); /* queue full: let delivery reports drain it */
        }
        if (err) {
            snprintf(errstr, errstr_size, "%s: produce failed: %s", topic, rd_kafka_err2str(err));
            rc = -1;
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    /* every delivery report, however long it takes (message.timeout.ms bounds it) */
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    sgs_buf_free(&b);
    rd_kafka_destroy(rk);
    if (rc == 0 && st.failed > 0) {
        snprintf(errstr, errstr_size, "%s: %ld of %zu messages not delivered, first: %s", topic,
                 st.failed, g->n_evs, st.first_error);
        rc = -1;
    }
    fprintf(stderr, "sgs-gen: %s: produced %ld of %zu messages to %s (%ld failed) in %.2f s\n",
            g->o.month, st.delivered, g->n_evs, topic, st.failed, gen_now_seconds() - t0);
    return rc;
}

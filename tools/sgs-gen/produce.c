/* sgs-gen: producing to Kafka (--produce): every event to topic.records
 * with its key and (unless --no-timestamps) its send time as the timestamp;
 * waits for every delivery report. */
#include "gen.h"

#include <librdkafka/rdkafka.h>

#include "sgs/kafkaconf.h"

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

int gen_produce(const struct gen *g, double t0, char *errstr, size_t errstr_size)
{
    struct produce_state st = {0, 0, ""};
    const char *topic = sgs_config_get(g->cfg, "topic.records");
    rd_kafka_t *rk = sgs_kafka_producer_new(g->cfg, dr_cb, &st, errstr, errstr_size);
    sgs_buf b = SGS_BUF_INIT;
    int rc = 0;

    if (!rk)
        return -2; /* configuration error */
    for (size_t i = 0; i < g->n_evs; i++) {
        const struct ev *e = &g->evs[i];
        const char *key = gen_events_key(g, e);
        rd_kafka_resp_err_t err;
        sgs_buf_reset(&b);
        gen_events_render(g, &b, e, 0);
        for (;;) {
            if (g->o.no_timestamps)
                err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                        RD_KAFKA_V_VALUE(b.data, b.len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            else
                err = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                    RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(gen_times_kafka_ms(e)), RD_KAFKA_V_END);
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

/* librdkafka configuration from the kafka.* keys (passed through, in order). */
#include "sgs/kafkaconf.h"

#include "sgs/log.h"

#include <stdio.h>
#include <string.h>

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errstr_size)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka.%s: %s", key, err);
        return -1;
    }
    return 0;
}

/* queued.max.messages.kbytes: librdkafka's prefetch queue per consumer, in
 * payload bytes (each message counts its value's length); each fetched set
 * is held decompressed while any of its messages waits, and a fetch may take
 * the queue past the limit by one response. 4 MiB keeps the consumer's peak
 * RSS level at the same throughput as 8 MiB; a smaller queue starves a
 * consumer without sgs's wake-up (kick.c) for a second at a time
 * (docs/PERFORMANCE.md, "Peak RSS").
 * max.partition.fetch.bytes: 128 KiB per partition and fetch. With the
 * wake-up keeping the queue near its limit (consumer.c, kick_fetcher), 256 KiB
 * responses took the peak RSS to 60-63 MiB; 128 KiB keeps it at 51-55 MiB for
 * the same gain in throughput (docs/PERFORMANCE.md, "Waking the fetcher
 * sooner"). The ceiling benchmark uses the same settings. */
const char *const sgs_kafka_consumer_defaults[] = {"enable.auto.offset.store",
                                                   "false",
                                                   "auto.offset.reset",
                                                   "earliest",
                                                   "enable.partition.eof",
                                                   "true",
                                                   "queued.max.messages.kbytes",
                                                   "4096",
                                                   "fetch.wait.max.ms",
                                                   "100",
                                                   "max.partition.fetch.bytes",
                                                   "131072",
                                                   NULL};

rd_kafka_conf_t *sgs_kafka_conf_new(const sgs_config *cfg, const char *const *defaults,
                                    char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; defaults && defaults[i]; i += 2) {
        if (conf_set(conf, defaults[i], defaults[i + 1], errstr, errstr_size) != 0)
            goto fail;
    }
    for (size_t i = 0; i < sgs_config_kafka_count(cfg); i++) {
        const char *k, *v;
        sgs_config_kafka_at(cfg, i, &k, &v);
        if (conf_set(conf, k, v, errstr, errstr_size) != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Consumer-only properties a shared kafka.* list may hold; a producer warns on
 * them, so they are left out of the producer's configuration. */
static int consumer_only(const char *key)
{
    static const char *const names[] = {"group.id",
                                        "group.instance.id",
                                        "partition.assignment.strategy",
                                        "session.timeout.ms",
                                        "heartbeat.interval.ms",
                                        "group.protocol.type",
                                        "max.poll.interval.ms",
                                        "enable.auto.commit",
                                        "auto.commit.interval.ms",
                                        "enable.auto.offset.store",
                                        "queued.min.messages",
                                        "queued.max.messages.kbytes",
                                        "fetch.wait.max.ms",
                                        "fetch.message.max.bytes",
                                        "max.partition.fetch.bytes",
                                        "fetch.max.bytes",
                                        "fetch.min.bytes",
                                        "fetch.error.backoff.ms",
                                        "offset.store.method",
                                        "isolation.level",
                                        "enable.partition.eof",
                                        "check.crcs",
                                        "auto.offset.reset",
                                        "allow.auto.create.topics",
                                        NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], key) == 0)
            return 1;
    return 0;
}

/* librdkafka's log lines through sgs's logger (one format on stderr). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sgs_error("librdkafka producer %s: %s", fac, buf);
    else if (level <= 4)
        sgs_warn("librdkafka producer %s: %s", fac, buf);
    else
        sgs_debug("librdkafka producer %s: %s", fac, buf);
}

rd_kafka_t *sgs_kafka_producer_new(const sgs_config *cfg,
                                   void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                     void *),
                                   void *opaque, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    char err[512];
    /* queue.buffering.max.messages: librdkafka's default (100,000) let the
     * consumer's forwarded copies of an unkeyed feed (route first) pile up to
     * ~70 MB in the queue; 5,000 keeps the peak RSS near 55 MiB at the same
     * throughput (10,000 let it reach 64: docs/PERFORMANCE.md). A full queue is
     * waited out: the outbox tries again next round, a forwarded copy for up to
     * 200 ms. */
    static const char *const defaults[] = {"enable.idempotence",
                                           "true",
                                           "compression.codec",
                                           "lz4",
                                           "linger.ms",
                                           "5",
                                           "queue.buffering.max.messages",
                                           "5000",
                                           NULL};

    for (size_t i = 0; defaults[i]; i += 2)
        if (conf_set(conf, defaults[i], defaults[i + 1], errstr, errstr_size) != 0)
            goto fail;
    for (size_t i = 0; i < sgs_config_kafka_count(cfg); i++) {
        const char *k, *v;
        sgs_config_kafka_at(cfg, i, &k, &v);
        if (consumer_only(k))
            continue;
        if (conf_set(conf, k, v, errstr, errstr_size) != 0)
            goto fail;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (dr_msg_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    if (opaque)
        rd_kafka_conf_set_opaque(conf, opaque);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        snprintf(errstr, errstr_size, "kafka producer: %s", err);
        goto fail;
    }
    return rk; /* conf is owned by rk now */
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

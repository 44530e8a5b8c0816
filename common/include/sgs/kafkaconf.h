/* librdkafka configuration from sgs configuration: every kafka.* key is passed
 * through without the prefix, in order. */
#ifndef SGS_KAFKACONF_H
#define SGS_KAFKACONF_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "sgs/config.h"

/* The consumer defaults that sgs-consumer and the benchmark's ceiling consumer
 * share (for sgs_kafka_conf_new; the kafka.* keys override them):
 * offsets stored by the application, earliest without a position, partition
 * EOF events, an 8 MB prefetch cap (librdkafka's default is 64 MB) to keep the
 * resident set small, 256 KiB per-partition fetches, and 100 ms fetch long
 * polls. */
extern const char *const sgs_kafka_consumer_defaults[];

/* A new rd_kafka_conf_t with the kafka.* keys applied on top of the given
 * defaults (NULL-terminated key, value pairs, may be NULL), so a user setting
 * always wins. Errors name the key: "kafka.foo: No such configuration property". */
rd_kafka_conf_t *sgs_kafka_conf_new(const sgs_config *cfg, const char *const *defaults,
                                    char *errstr, size_t errstr_size);
/* A producer for alerts/rejects/snapshots: idempotent, lz4, with the kafka.*
 * keys that make sense for a producer (group.* and consumer-only keys are
 * skipped). dr_cb may be NULL. */
rd_kafka_t *sgs_kafka_producer_new(const sgs_config *cfg,
                                   void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                     void *),
                                   void *opaque, char *errstr, size_t errstr_size);

#endif

/* Reading ahead: the poll loop takes up to SGS_AHEAD_MAX messages at a time
 * (the first poll may wait, the others do not), parses them all, then adds
 * them to their batches one by one in the order polled (docs/CONSUMER.md,
 * "Reading ahead"). Each phase runs over many messages in a row, which keeps
 * its code and data in the caches, and the polls that do not wait read no
 * clock.
 *
 * The messages in hand are added before anything else the loop does
 * (consumer.c) and before a rebalance callback acts (rebalance.c), so the
 * order of events is the one of a loop that reads one message at a time.
 * Adding a message never moves a partition's position (drops and seeks come
 * from written batches, housekeeping and the callbacks); as a guard, each
 * message still carries its partition's generation from when it was polled
 * (bumped by every drop, seek and assignment), and one polled under an older
 * generation is discarded, as librdkafka discards the fetched messages a seek
 * leaves behind. */
#ifndef SGS_CONSUMER_AHEAD_H
#define SGS_CONSUMER_AHEAD_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "sgs/record.h"

#define SGS_AHEAD_MAX 64 /* messages in hand at most */

typedef struct sgs_ahead sgs_ahead;

/* rules are only read, and must not change while messages are in hand. NULL
 * when out of memory. */
sgs_ahead *sgs_ahead_new(const sgs_rules *rules);
/* Destroys the messages still in hand. NULL ok. */
void sgs_ahead_free(sgs_ahead *a);

/* Messages in hand, and room for more. */
int sgs_ahead_count(const sgs_ahead *a);
int sgs_ahead_room(const sgs_ahead *a);
/* Takes a message (or event) in hand, with its timestamp
 * (rd_kafka_message_timestamp, -1 unknown) and its partition's generation
 * when polled. Only its payload, length and error are read. */
void sgs_ahead_put(sgs_ahead *a, rd_kafka_message_t *m, int64_t timestamp_ms, uint32_t gen);
/* Parses every message in hand (events are left as they are). */
void sgs_ahead_parse(sgs_ahead *a);
/* The i-th message in hand, its generation and its record (valid after
 * sgs_ahead_parse). 0 past the last. */
int sgs_ahead_take(sgs_ahead *a, int i, rd_kafka_message_t **m, uint32_t *gen,
                   const sgs_record **rec);
/* Forgets the messages in hand (the caller destroyed them). */
void sgs_ahead_clear(sgs_ahead *a);

#endif

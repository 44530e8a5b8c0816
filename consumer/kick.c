/* Waking librdkafka 2.0's fetcher without blocking the consumer.
 *
 * librdkafka 2.0.x stops fetching a partition once its prefetch queue reaches
 * queued.max.messages.kbytes (or queued.min.messages) and then sleeps until
 * its broker thread's next one-second tick (librdkafka issue #2879; 2.3 added
 * fetch.queue.backoff.ms). Any request to the partition's leader wakes that
 * thread, which decides again and fetches.
 *
 * rd_kafka_offsets_for_times with a timeout of 0 is such a request that does
 * not wait: it puts one ListOffsets request per leader on that leader's
 * broker thread (the wake-up) and returns; the reply, when it comes, finds
 * its queue gone and is dropped (its callback sees ERR__DESTROY, the path of
 * a call that timed out). Before this, a thread of its own ran
 * rd_kafka_query_watermark_offsets, which waits for the replies of its two
 * requests whatever its timeout. On librdkafka's mock broker (its sockets
 * keep Nagle's algorithm) the second small reply waited for the client's
 * delayed ACK, 40 ms, and no other wake-up could go meanwhile: the consumer
 * waited in poll for a quarter of a mock run (docs/PERFORMANCE.md, "A
 * wake-up that does not wait"). */
#include "consumer.h"

void sgs_kick_fetchers(rd_kafka_t *rk, const char *topic, const int32_t *parts, size_t n)
{
    rd_kafka_topic_partition_list_t *l;
    if (n == 0)
        return;
    l = rd_kafka_topic_partition_list_new((int)n);
    if (!l)
        return;
    for (size_t i = 0; i < n; i++) /* timestamp -1: the latest offset (never read) */
        rd_kafka_topic_partition_list_add(l, topic, parts[i])->offset = RD_KAFKA_OFFSET_END;
    /* __TIMED_OUT, as asked: the requests went; a leader not known yet is
     * looked up (a metadata request) and woken by a later call */
    (void)rd_kafka_offsets_for_times(rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
}

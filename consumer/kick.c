/* Waking librdkafka 2.0's fetcher without blocking the consumer.
 *
 * librdkafka 2.0.x stops fetching a partition once its prefetch queue reaches
 * queued.max.messages.kbytes (or queued.min.messages) and then sleeps until
 * its broker thread's next one-second tick (librdkafka issue #2879; 2.3 added
 * fetch.queue.backoff.ms). Any request to the partition's leader wakes that
 * thread, which re-evaluates the queue and fetches again. A watermark query is
 * such a request, but it is synchronous, and it waits behind a Fetch long
 * poll on the same connection: made on the consumer's thread it cost up to
 * 100 ms per query. So the queries run on a thread of their own; the consumer
 * only hands over which partitions to wake, and never waits. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"

#define KICK_MAX 8

struct sgs_kicker {
    rd_kafka_t *rk;
    const char *topic;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int32_t parts[KICK_MAX];
    size_t n;
    int busy, stop;
};

static void *kicker_main(void *arg)
{
    sgs_kicker *k = arg;
    for (;;) {
        int32_t parts[KICK_MAX];
        size_t n;
        pthread_mutex_lock(&k->lock);
        while (!k->stop && k->n == 0)
            pthread_cond_wait(&k->cond, &k->lock);
        if (k->stop) {
            pthread_mutex_unlock(&k->lock);
            return NULL;
        }
        n = k->n;
        memcpy(parts, k->parts, n * sizeof(*parts));
        k->n = 0;
        k->busy = 1;
        pthread_mutex_unlock(&k->lock);
        for (size_t i = 0; i < n; i++) {
            int64_t lo, hi;
            rd_kafka_query_watermark_offsets(k->rk, k->topic, parts[i], &lo, &hi, 100);
        }
        pthread_mutex_lock(&k->lock);
        k->busy = 0;
        pthread_mutex_unlock(&k->lock);
    }
}

sgs_kicker *sgs_kicker_start(rd_kafka_t *rk, const char *topic)
{
    sgs_kicker *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->rk = rk;
    k->topic = topic;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    if (pthread_create(&k->thread, NULL, kicker_main, k) != 0) {
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
        free(k);
        return NULL;
    }
    return k;
}

int sgs_kicker_idle(sgs_kicker *k)
{
    int idle;
    pthread_mutex_lock(&k->lock);
    idle = !k->busy && k->n == 0;
    pthread_mutex_unlock(&k->lock);
    return idle;
}

void sgs_kicker_ask(sgs_kicker *k, const int32_t *parts, size_t n)
{
    if (n > KICK_MAX)
        n = KICK_MAX;
    pthread_mutex_lock(&k->lock);
    if (!k->busy && k->n == 0 && n) {
        memcpy(k->parts, parts, n * sizeof(*parts));
        k->n = n;
        pthread_cond_signal(&k->cond);
    }
    pthread_mutex_unlock(&k->lock);
}

void sgs_kicker_stop(sgs_kicker *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->lock);
    k->stop = 1;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* Is the consumer healthy? What /healthz and the stats line say about Kafka
 * and Redis.
 *
 * Kafka: librdkafka's statistics (every second) give each broker's state; a
 * broker is reachable when its connection is UP. Before, the only sign of an
 * outage was error_cb's "all brokers down", and the stats line went on showing
 * the lag from stale watermarks (0) as if all were well.
 *
 * Redis: the consumer talks to Redis when it has batches. While it has none (a
 * member waiting for partitions, an idle topic) Redis is connected and PINGed
 * every second, so an outage is logged and reported without waiting for a
 * batch, and a member that starts while Redis is down says so at once. Each
 * probe also compares the partitions' offsets in Redis with the ones written
 * (sgs_sync_check_offsets): Redis that went back in time while nothing was in
 * hand is noticed without waiting for the partition's next message. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "consumer.h"
#include "sgs/clock.h"
#include "sgs/log.h"

#define STATS_INTERVAL_MS "1000"
#define PROBE_MS          1000

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    sgs_consumer *c = opaque;
    json_t *doc = json_loadb(json, len, 0, NULL), *brokers;
    const char *name;
    json_t *b;
    int up = 0, known = 0;

    (void)rk;
    brokers = json_object_get(doc, "brokers");
    json_object_foreach(brokers, name, b)
    {
        const char *source = json_string_value(json_object_get(b, "source"));
        const char *state = json_string_value(json_object_get(b, "state"));

        /* real brokers only: not the internal one, not logical coordinators */
        if (!source || !state || (strcmp(source, "learned") && strcmp(source, "configured")))
            continue;
        known++;
        up += strcmp(state, "UP") == 0 || strcmp(state, "UPDATE") == 0;
    }
    json_decref(doc);
    if (!brokers)
        return 0; /* not the statistics we know: keep what we had */
    c->brokers_up = up;
    c->brokers_known = known;
    if (up > 0 && c->brokers_down) {
        sgs_info("kafka: %d broker%s reachable again", up, up == 1 ? "" : "s");
        c->brokers_down = 0;
    } else if (up == 0 && known > 0 && !c->brokers_down) {
        sgs_warn("kafka: no broker reachable (%d known); lag unknown until one answers", known);
        c->brokers_down = 1;
        c->brokers_down_ms = sgs_clock_wall_ms();
    }
    return 0; /* librdkafka frees json */
}

void sgs_health_kafka_conf(sgs_consumer *c, rd_kafka_conf_t *conf)
{
    char err[256];
    int set = 0;

    for (size_t i = 0; i < sgs_config_kafka_count(c->cfg); i++) {
        const char *k, *v;

        sgs_config_kafka_at(c->cfg, i, &k, &v);
        set |= strcmp(k, "statistics.interval.ms") == 0;
    }
    if (!set && rd_kafka_conf_set(conf, "statistics.interval.ms", STATS_INTERVAL_MS, err,
                                  sizeof(err)) != RD_KAFKA_CONF_OK)
        sgs_warn("kafka: statistics.interval.ms: %s (broker reachability unknown)", err);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
}

void sgs_health_brokers_down(sgs_consumer *c)
{
    c->brokers_up = 0;
    if (!c->brokers_down) {
        c->brokers_down = 1;
        c->brokers_down_ms = sgs_clock_wall_ms();
    }
}

void sgs_health_tick(sgs_consumer *c, int64_t now)
{
    redisReply *r;

    if (now < c->next_redis_probe || c->batch_msgs || c->sent_msgs || c->n_inflight || c->lost)
        return;
    c->next_redis_probe = now + PROBE_MS;
    /* connects when needed (after the back-off), logging an outage once */
    if (sgs_rconn_ready(c) != 0)
        return;
    /* every master answers (one Redis: the one) */
    for (size_t i = 0; i < sgs_rcl_master_count(c->rcl); i++) {
        char err[300];
        r = sgs_rcl_master_command(c->rcl, i, SGS_RCL_IDEMPOTENT, err, sizeof(err), "PING");
        if (!r) {
            sgs_rconn_lost(c, err);
            return;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            char why[300];

            snprintf(why, sizeof(why), "PING %s: %s", sgs_rcl_master_name(c->rcl, i), r->str);
            freeReplyObject(r);
            sgs_rconn_lost(c, why);
            return;
        }
        freeReplyObject(r);
    }
    /* Nothing is in hand, so a "down" state can only be an outage that is
     * over (a refusal keeps its batch in hand until a write goes through). */
    sgs_rconn_recovered(c);
    /* and the offsets are still those written here (a promoted replica may
     * lack the last batches: without another message no fence would tell) */
    sgs_sync_check_offsets(c);
}

int sgs_health_check(sgs_consumer *c, char *why, size_t why_size)
{
    char kerr[256];

    if (c->lost) {
        snprintf(why, why_size, "%s", c->lost_line);
        return 0;
    }
    if (rd_kafka_fatal_error(c->rk, kerr, sizeof(kerr)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(why, why_size, "kafka: fatal error: %s", kerr);
        return 0;
    }
    if (!c->script_loaded || c->redis_down) {
        snprintf(why, why_size, "redis: %s",
                 c->redis_error[0] ? c->redis_error : "not connected yet");
        return 0;
    }
    if (c->brokers_down) {
        /* Not a fatal error (librdkafka reconnects by itself): healthy, and
         * said (REFERENCE §9: 503 when Redis fails or Kafka has a fatal
         * error; restarting a consumer brings no broker back). */
        char when[32];
        time_t t = (time_t)(c->brokers_down_ms / 1000);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(why, why_size, "no broker reachable since %s (%d known)", when, c->brokers_known);
        return SGS_HEALTH_KAFKA_DOWN;
    }
    why[0] = '\0';
    return SGS_HEALTH_OK;
}

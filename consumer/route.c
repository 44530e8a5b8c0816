/* Routing: every decision of a unit is counted in one partition, its unit's
 * ("route first", docs/CONSUMER.md). The route is fixed in Redis the first
 * time sgs consumes a topic (P:route): how many partitions hold the units'
 * state (the topic's partition count then; partitions added later only ever
 * forward), which partitioner maps a unit id to one of them, and an epoch that
 * names this routing. A message that arrives on another partition than its
 * unit's is forwarded there as a copy carrying the header
 *   sgs-fwd: <epoch>:<source partition>:<source offset>:<sequence>
 * where the sequence numbers the copies from one source partition to one
 * target. Copies of a dead epoch (the state was rebuilt since) are ignored. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consumer.h"
#include "sgs/hash.h"
#include "sgs/log.h"
#include "sgs/store.h"

#define ROUTE_VERSION "1"

static int parse_route(sgs_route *rt, const char *s)
{
    char ver[8], epoch[sizeof(rt->epoch)], part[16];
    int n;
    if (sscanf(s, "%7s %d %16s %15s", ver, &n, epoch, part) != 4 ||
        strcmp(ver, ROUTE_VERSION) != 0 || n <= 0 || strlen(epoch) != 16)
        return -1;
    if (strcmp(part, "crc32") == 0)
        rt->partitioner = SGS_PARTITIONER_CRC32;
    else if (strcmp(part, "murmur2") == 0)
        rt->partitioner = SGS_PARTITIONER_MURMUR2;
    else
        return -1;
    rt->n = n;
    memcpy(rt->epoch, epoch, sizeof(rt->epoch));
    rt->loaded = 1;
    return 0;
}

int sgs_route_load(sgs_consumer *c, int create)
{
    char key[SGS_STORE_KEY_MAX], err[512], value[128];
    redisReply *r;
    if (c->route.loaded)
        return 0;
    sgs_store_gkey(key, sizeof(key), c->prefix, SGS_STORE_ROUTE, NULL);
    r = sgs_rconn_command(c, key, err, sizeof(err), "GET %s", key);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING) {
        int rc = parse_route(&c->route, r->str);
        if (rc != 0)
            sgs_error("redis: %s holds '%.60s', not a route; refusing to guess how records are "
                      "routed",
                      key, r->str);
        freeReplyObject(r);
        if (rc != 0) {
            c->fatal = 1;
            return -1;
        }
        sgs_route_units_changed(c);
        sgs_info("route %s: units over %" PRId32 " partitions (%s)", c->route.epoch, c->route.n,
                 c->route.partitioner == SGS_PARTITIONER_MURMUR2 ? "murmur2" : "crc32");
        return 0;
    }
    freeReplyObject(r);
    if (!create)
        return 1;
    {
        int n = sgs_parts_count(c);
        struct timespec ts;
        uint64_t e;
        if (n <= 0) {
            sgs_warn("cannot read the partition count of %s; routing waits", c->topic);
            return 1;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        e = sgs_hash_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 24) ^
                           ((uint64_t)getpid() << 40));
        snprintf(value, sizeof(value), ROUTE_VERSION " %d %016" PRIx64 " %s", n, e,
                 c->cf_partitioner == SGS_PARTITIONER_MURMUR2 ? "murmur2" : "crc32");
    }
    r = sgs_rconn_command(c, key, err, sizeof(err), "SET %s %s NX", key, value);
    if (!r)
        return -1;
    freeReplyObject(r);
    return sgs_route_load(c, 0); /* whoever set it first */
}

int32_t sgs_route_target(const sgs_consumer *c, const sgs_unit *u)
{
    int32_t *known;
    int32_t t;
    if (!c->route.loaded || !u)
        return -1;
    known =
        c->route.target_of && u->index < c->route.n_units ? &c->route.target_of[u->index] : NULL;
    if (known && *known > 0)
        return *known - 1;
    t = sgs_hash_partition(c->route.partitioner, u->id, strlen(u->id), c->route.n);
    if (known && t >= 0)
        *known = t + 1;
    return t;
}

void sgs_route_free(sgs_consumer *c)
{
    free(c->route.target_of);
    c->route.target_of = NULL;
    c->route.n_units = 0;
}

void sgs_route_units_changed(sgs_consumer *c)
{
    sgs_route_free(c);
    if (!c->route.loaded || !c->registry)
        return;
    c->route.target_of = calloc(sgs_registry_count(c->registry), sizeof(*c->route.target_of));
    if (c->route.target_of)
        c->route.n_units = sgs_registry_count(c->registry);
}

/* A decimal number of 1 to 18 digits at *p, before end; moves *p past it. */
static int take_number(const char **p, const char *end, long long *out)
{
    const char *s = *p;
    long long v = 0;
    while (s < end && *s >= '0' && *s <= '9' && s - *p < 18)
        v = v * 10 + (*s++ - '0');
    if (s == *p || (s < end && *s >= '0' && *s <= '9'))
        return -1;
    *p = s;
    *out = v;
    return 0;
}

int sgs_route_header_value_parse(const void *value, size_t len, sgs_fwd_header *h)
{
    const char *at = value, *end = at + len;
    long long p, o, s;
    if (!value || len < 17)
        return -1;
    for (int i = 0; i < 16; i++)
        if (!((at[i] >= '0' && at[i] <= '9') || (at[i] >= 'a' && at[i] <= 'f')))
            return -1;
    at += 16;
    if (*at++ != ':' || take_number(&at, end, &p) != 0 || at == end || *at++ != ':' ||
        take_number(&at, end, &o) != 0 || at == end || *at++ != ':' ||
        take_number(&at, end, &s) != 0 || at != end || p > INT32_MAX)
        return -1;
    memcpy(h->epoch, value, 16);
    h->epoch[16] = '\0';
    h->partition = (int32_t)p;
    h->offset = o;
    h->seq = s;
    return 0;
}

int sgs_route_header_parse(const rd_kafka_message_t *m, sgs_fwd_header *h)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs ||
        rd_kafka_header_get_last(hdrs, SGS_FWD_HEADER, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    return sgs_route_header_value_parse(v, len, h) == 0 ? 1 : -1;
}

/* hiredis replies: reading a pipeline's replies and the integer values of
 * counter hashes and version keys. */
#include "agg.h"

#include <errno.h>
#include <stdlib.h>

int sgs_agg_reply_read(redisContext *rc, redisReply **replies, size_t n, char *errstr,
                       size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;

        if (redisGetReply(rc, &r) != REDIS_OK || !r) {
            snprintf(errstr, errstr_size, "redis %s:%d: %s", rc->tcp.host ? rc->tcp.host : "",
                     rc->tcp.port, rc->errstr[0] ? rc->errstr : "connection lost");
            for (size_t j = 0; j < i; j++)
                freeReplyObject(replies[j]);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        replies[i] = r;
    }
    return 0;
}

int sgs_agg_reply_int(const redisReply *r, int64_t *out)
{
    char *end;
    long long v;

    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_STRING || r->len == 0)
        return -1;
    errno = 0;
    v = strtoll(r->str, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

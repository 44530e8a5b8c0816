/* Redis connections from the configuration (redis.host/port/password/db). */
#ifndef SGS_REDISCONN_H
#define SGS_REDISCONN_H

#include <stddef.h>
#include <hiredis/hiredis.h>

#include "sgs/config.h"

/* Connects (timeout in ms for connect and for each command), AUTHs and SELECTs.
 * Returns a context, or NULL with "redis 127.0.0.1:6379: <why>" in errstr.
 * Free with redisFree(). */
redisContext *sgs_redis_connect(const sgs_config *cfg, int timeout_ms, char *errstr,
                                size_t errstr_size);
/* Runs one command (printf-style, hiredis format) and checks the reply: returns
 * the reply (caller frees with freeReplyObject) or NULL with the error text in
 * errstr (broken connection: c->err set; refused command: REDIS_REPLY_ERROR). */
redisReply *sgs_redis_command(redisContext *c, char *errstr, size_t errstr_size, const char *fmt,
                              ...);

#endif

/* The server's shared state (server.h): each server thread's worker context,
 * a Redis handle of its own (an sgs_rcl belongs to one thread), made on the
 * thread's first request and kept in sgs_agg_server.workers; serve.c frees
 * them when the server has stopped. */
#include "server.h"

#include <stdlib.h>

sgs_agg_ctx *sgs_agg_server_worker(sgs_agg_server *sv)
{
    sgs_agg_ctx *w = pthread_getspecific(sv->worker_key);

    if (w)
        return w;
    w = sgs_agg_ctx_worker(sv->ctx);
    if (!w)
        return NULL;
    pthread_mutex_lock(&sv->workers_lock);
    if (sv->n_workers == sv->cap_workers) {
        size_t cap = sv->cap_workers ? sv->cap_workers * 2 : 8;
        sgs_agg_ctx **v = realloc(sv->workers, cap * sizeof(*v));

        if (!v) {
            pthread_mutex_unlock(&sv->workers_lock);
            sgs_agg_ctx_destroy(w);
            return NULL;
        }
        sv->workers = v;
        sv->cap_workers = cap;
    }
    sv->workers[sv->n_workers++] = w;
    pthread_mutex_unlock(&sv->workers_lock);
    pthread_setspecific(sv->worker_key, w);
    return w;
}

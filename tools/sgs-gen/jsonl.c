/* sgs-gen: the JSONL file (--out, default stdout): one message per line, in
 * send order. A message without reported_at carries its Kafka timestamp as
 * "_kafka_timestamp_ms" (what a consumer of the file uses instead). */
#include "gen.h"

#include <errno.h>

int gen_jsonl_write(const struct gen *g, char *errstr, size_t errstr_size)
{
    const char *path = g->o.out;
    int to_stdout = !path || strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    sgs_buf b = SGS_BUF_INIT;
    int rc = 0;

    if (!f) {
        snprintf(errstr, errstr_size, "%s: cannot open for writing: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < g->n_evs; i++) {
        gen_events_render(g, &b, &g->evs[i], 1);
        bputc(&b, '\n');
        if (b.len >= (1u << 20) || i + 1 == g->n_evs) {
            if (b.oom || fwrite(b.data, 1, b.len, f) != b.len) {
                rc = -1;
                break;
            }
            sgs_buf_reset(&b);
        }
    }
    if (fflush(f) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(errstr, errstr_size, "%s: write failed: %s", to_stdout ? "stdout" : path,
                 b.oom ? "out of memory" : strerror(errno));
    if (!to_stdout && fclose(f) != 0 && rc == 0) {
        snprintf(errstr, errstr_size, "%s: write failed: %s", path, strerror(errno));
        rc = -1;
    }
    sgs_buf_free(&b);
    return rc;
}

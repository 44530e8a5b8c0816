/* The report files of a snapshot (DESIGN §7): YYYY-MM.json, one
 * YYYY-MM-<group>.csv per group, and YYYY-MM-notice.md, the monthly notice (通报,
 * notice.c). Every figure is taken from the snapshot model, which is also what
 * the JSON holds, so the files always agree. */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "sgs/log.h"

static const char *const csv_header = "序号,成员单位名称,数据总量,迟报量,迟报率(%)";

/* ---- CSV ---------------------------------------------------------------------- */

static void csv_field(sgs_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        sgs_buf_puts(b, s);
        return;
    }
    sgs_buf_append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            sgs_buf_append(b, "\"", 1);
        sgs_buf_append(b, s, 1);
    }
    sgs_buf_append(b, "\"", 1);
}

/* UTF-8 with BOM and CRLF line ends, which spreadsheet programs open as they are.
 * The 合计 row puts 合计 in the 序号 column and leaves the name empty. */
static void csv_group(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_agg_group *g)
{
    char rate[SGS_AGG_RATE_TEXT_MAX];

    sgs_buf_puts(b, "\xEF\xBB\xBF");
    sgs_buf_puts(b, csv_header);
    sgs_buf_puts(b, "\r\n");
    for (size_t i = 0; i < g->n_rows; i++) {
        const sgs_agg_row *r = &s->rows[g->rows[i]];

        sgs_buf_printf(b, "%zu,", i + 1);
        csv_field(b, r->unit->name);
        sgs_buf_printf(b, ",%lld,%lld,%s\r\n", (long long)r->c.records, (long long)r->c.late,
                       sgs_agg_rate_text(r->c.late, r->c.records, rate));
    }
    sgs_buf_printf(b, "合计,,%lld,%lld,%s\r\n", (long long)g->sum.records, (long long)g->sum.late,
                   sgs_agg_rate_text(g->sum.late, g->sum.records, rate));
}

/* A group id as part of a file name: '/' and leading dots would escape DIR. */
static void file_safe(char *out, size_t size, const char *id)
{
    size_t n = 0;

    for (const char *p = id; *p && n + 1 < size; p++) {
        out[n] = (*p == '/' || *p == '\\' || (n == 0 && *p == '.')) ? '_' : *p;
        n++;
    }
    out[n] = '\0';
}

/* ---- all files ------------------------------------------------------------------------ */

static int write_buf(const char *dir, const char *name, sgs_buf *b, char *errstr,
                     size_t errstr_size)
{
    int rc;

    if (b->oom) {
        snprintf(errstr, errstr_size, "%s/%s: out of memory", dir, name);
        sgs_buf_free(b);
        return -1;
    }
    rc = sgs_agg_write_file(dir, name, b->data ? b->data : "", b->len, errstr, errstr_size);
    sgs_buf_free(b);
    return rc;
}

int sgs_agg_report_write(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *dir,
                         char *errstr, size_t errstr_size)
{
    char name[512];
    sgs_buf b;
    char *text;

    if (sgs_agg_mkdirs(dir, errstr, errstr_size) != 0)
        return -1;

    for (size_t gi = 0; gi < s->n_groups; gi++) {
        char safe[256];

        file_safe(safe, sizeof(safe), s->groups[gi].id);
        snprintf(name, sizeof(name), "%s-%s.csv", s->month, safe);
        sgs_buf_init(&b);
        csv_group(&b, s, &s->groups[gi]);
        if (write_buf(dir, name, &b, errstr, errstr_size) != 0)
            return -1;
    }

    snprintf(name, sizeof(name), "%s-notice.md", s->month);
    sgs_buf_init(&b);
    sgs_agg_notice_build(&b, s, cfg);
    if (write_buf(dir, name, &b, errstr, errstr_size) != 0)
        return -1;

    /* The JSON last: once a version's JSON is there, so are its tables. */
    text = json_dumps(s->json, SGS_AGG_JSON_PRETTY);
    if (!text) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(name, sizeof(name), "%s.json", s->month);
    sgs_buf_init(&b);
    sgs_buf_puts(&b, text);
    sgs_buf_puts(&b, "\n");
    free(text);
    if (write_buf(dir, name, &b, errstr, errstr_size) != 0)
        return -1;
    sgs_debug("%s: wrote %zu CSV file(s), %s-notice.md and %s in %s", s->month, s->n_groups,
              s->month, name, dir);
    return 0;
}

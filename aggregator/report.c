/* The report files of a snapshot (REFERENCE §7, §10): their names, and writing
 * them all: one YYYY-MM-<group>.csv per group, YYYY-MM-notice.md (notice.c),
 * YYYY-MM-ledger.csv, YYYY-MM.xlsx (xlsx.c), YYYY-MM-report.html (html.c) and
 * YYYY-MM.json. Every figure is taken from the snapshot model, which is also
 * what the JSON holds, so the files always agree.
 *
 * One list of names (sgs_agg_report_files) serves the writer and the console,
 * so the console offers exactly what was written; one renderer per file makes
 * both the file written and the one serve renders again (render.c), so they
 * are the same bytes. */
#include "agg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sgs/log.h"

static const char *const csv_header = "序号,成员单位名称,数据总量,迟报量,迟报率(%)";
static const char bom[] = "\xEF\xBB\xBF";

/* ---- names ------------------------------------------------------------------- */

enum file_kind { F_GROUP_CSV, F_NOTICE, F_LEDGER, F_XLSX, F_HTML, F_JSON };

static const struct {
    enum file_kind kind;
    const char *suffix; /* after YYYY-MM */
    const char *type;
} file_kinds[] = {
    {F_GROUP_CSV, ".csv", "text/csv; charset=utf-8"}, /* YYYY-MM-<group>.csv */
    {F_NOTICE, "-notice.md", "text/markdown; charset=utf-8"},
    {F_LEDGER, "-ledger.csv", "text/csv; charset=utf-8"},
    {F_XLSX, ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {F_HTML, "-report.html", "text/html; charset=utf-8"},
    {F_JSON, ".json", "application/json"},
};
#define N_KINDS (sizeof(file_kinds) / sizeof(file_kinds[0]))

/* A group id as part of a file name: '/' and leading dots would escape DIR,
 * and a group "ledger" would take the ledger's name (it becomes "ledger_"). */
static void file_safe(char *out, size_t size, const char *id)
{
    size_t n = 0;

    for (const char *p = id; *p && n + 1 < size; p++) {
        out[n] = (*p == '/' || *p == '\\' || (n == 0 && *p == '.')) ? '_' : *p;
        n++;
    }
    out[n] = '\0';
    if (strcmp(out, "ledger") == 0 && size > 7)
        strcat(out, "_");
}

void sgs_agg_report_group_csv_name(char *out, size_t size, const char *month, const char *group)
{
    char safe[256];

    file_safe(safe, sizeof(safe), group);
    snprintf(out, size, "%s-%s.csv", month, safe);
}

static void file_name(char *out, size_t size, const char *month, size_t kind, const char *group)
{
    if (file_kinds[kind].kind == F_GROUP_CSV) {
        sgs_agg_report_group_csv_name(out, size, month, group);
    } else {
        snprintf(out, size, "%s%s", month, file_kinds[kind].suffix);
    }
}

int sgs_agg_report_files(const json_t *snapshot, char ***names, size_t *n)
{
    const char *month = json_string_value(json_object_get(snapshot, "month"));
    const json_t *groups = json_object_get(snapshot, "groups");
    size_t ng = json_array_size(groups), total = ng + N_KINDS - 1, k = 0;
    char **v;

    *names = NULL;
    *n = 0;
    if (!month)
        return -1;
    v = calloc(total, sizeof(*v));
    if (!v)
        return -1;
    for (size_t kind = 0; kind < N_KINDS; kind++) {
        size_t reps = file_kinds[kind].kind == F_GROUP_CSV ? ng : 1;

        for (size_t i = 0; i < reps; i++) {
            char name[512];
            const char *group = NULL;

            if (file_kinds[kind].kind == F_GROUP_CSV) {
                group = json_string_value(json_object_get(json_array_get(groups, i), "group"));
                if (!group)
                    continue;
            }
            file_name(name, sizeof(name), month, kind, group);
            if (!(v[k] = strdup(name))) {
                sgs_agg_strv_free(v, k);
                return -1;
            }
            k++;
        }
    }
    *names = v;
    *n = k;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && strcmp(s + a - b, suffix) == 0;
}

const char *sgs_agg_report_content_type(const char *name)
{
    /* the longer endings first: -ledger.csv before .csv */
    for (size_t k = N_KINDS; k-- > 0;) {
        if (ends_with(name, file_kinds[k].suffix))
            return file_kinds[k].type;
    }
    return "application/octet-stream";
}

/* ---- CSV ---------------------------------------------------------------------- */

void sgs_agg_csv_text(sgs_buf *b, const char *s)
{
    int formula =
        s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';

    if (!formula && !strpbrk(s, ",\"\r\n")) {
        sgs_buf_puts(b, s);
        return;
    }
    sgs_buf_append(b, "\"", 1);
    if (formula)
        sgs_buf_append(b, "'", 1);
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
    const char *cells[5];
    char bufs[4][32];

    sgs_buf_puts(b, bom);
    sgs_buf_puts(b, csv_header);
    sgs_buf_puts(b, "\r\n");
    for (size_t i = 0; i <= g->n_rows; i++) {
        sgs_agg_annex_cells(s, g, i, cells, bufs);
        sgs_buf_printf(b, "%s,", cells[0]);
        sgs_agg_csv_text(b, cells[1]);
        sgs_buf_printf(b, ",%s,%s,%s\r\n", cells[2], cells[3], cells[4]);
    }
}

void sgs_agg_ledger_csv(sgs_buf *b, const sgs_agg_snapshot *s)
{
    char buf[512];

    sgs_buf_puts(b, bom);
    for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++)
        sgs_buf_printf(b, "%s%s", c ? "," : "", sgs_agg_ledger_header[c]);
    sgs_buf_puts(b, "\r\n");
    for (size_t i = 0; i < s->ledger.n; i++) {
        const sgs_agg_ledger_entry *e = &s->ledger.v[i];
        const char *cells[SGS_AGG_LEDGER_COLS];
        int number;

        sgs_agg_ledger_cells(e, s->rows[e->row].unit, cells, buf, sizeof(buf), &number);
        for (int c = 0; c < SGS_AGG_LEDGER_COLS; c++) {
            if (c)
                sgs_buf_puts(b, ",");
            sgs_agg_csv_text(b, cells[c]);
        }
        sgs_buf_puts(b, "\r\n");
    }
}

/* ---- all files ------------------------------------------------------------------------ */

void sgs_agg_report_json(sgs_buf *b, const json_t *doc)
{
    char *text = json_dumps(doc, SGS_AGG_JSON_PRETTY);

    if (!text) {
        b->oom = 1;
        return;
    }
    sgs_buf_puts(b, text);
    sgs_buf_puts(b, "\n");
    free(text);
}

struct xlsx_job {
    const sgs_agg_snapshot *s;
    const sgs_config *cfg;
};

static int fill_xlsx(const char *path, void *arg, char *errstr, size_t errstr_size)
{
    const struct xlsx_job *job = arg;

    return sgs_agg_xlsx_write(job->s, job->cfg, path, errstr, errstr_size);
}

/* The bytes of one file of a text kind (all but the workbook) into b. */
static void render_text(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg,
                        enum file_kind kind, const sgs_agg_group *g)
{
    switch (kind) {
    case F_GROUP_CSV:
        csv_group(b, s, g);
        break;
    case F_NOTICE:
        sgs_agg_notice_build(b, s, cfg);
        break;
    case F_LEDGER:
        sgs_agg_ledger_csv(b, s);
        break;
    case F_HTML:
        sgs_agg_html_build(b, s, cfg);
        break;
    case F_JSON:
        sgs_agg_report_json(b, s->json);
        break;
    case F_XLSX:
        break;
    }
}

/* The workbook's bytes into b: libxlsxwriter writes to a path, so through a
 * temporary file (TMPDIR, else /tmp), removed afterwards. */
static int render_xlsx(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg, char *errstr,
                       size_t errstr_size)
{
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    sgs_buf file = SGS_BUF_INIT;
    int fd, rc = -1;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    if ((size_t)snprintf(path, sizeof(path), "%s/sgs-xlsx-XXXXXX", tmp) >= sizeof(path)) {
        snprintf(errstr, errstr_size, "TMPDIR is too long");
        return -1;
    }
    fd = mkstemp(path);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    if (sgs_agg_xlsx_write(s, cfg, path, errstr, errstr_size) == 0 &&
        sgs_buf_read_file(&file, path, SIZE_MAX / 2, errstr, errstr_size) == 0) {
        sgs_buf_append(b, file.data, file.len);
        rc = 0;
    }
    sgs_buf_free(&file);
    unlink(path);
    return rc;
}

/* Walks the list in the writer's order: the group CSVs (one per group of the
 * model, in the document's order), then one file of each other kind, the JSON
 * last. Calls fn for each file; stops at its first non-zero answer, which it
 * returns; 0 when every file was visited; -2 when the list does not match
 * the groups. */
static int walk(const sgs_agg_snapshot *s, char **names, size_t n,
                int (*fn)(const char *name, enum file_kind kind, const sgs_agg_group *g, void *arg),
                void *arg)
{
    size_t k = 0;

    for (size_t kind = 0; kind < N_KINDS; kind++) {
        size_t reps = file_kinds[kind].kind == F_GROUP_CSV ? s->n_groups : 1;

        for (size_t i = 0; i < reps; i++, k++) {
            int rc;

            if (k >= n)
                return -2;
            rc = fn(names[k], file_kinds[kind].kind,
                    file_kinds[kind].kind == F_GROUP_CSV ? &s->groups[i] : NULL, arg);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

struct write_job {
    const sgs_agg_snapshot *s;
    const sgs_config *cfg;
    const char *dir;
    char *errstr;
    size_t errstr_size;
};

static int write_one(const char *name, enum file_kind kind, const sgs_agg_group *g, void *arg)
{
    const struct write_job *job = arg;
    struct xlsx_job xj = {job->s, job->cfg};
    sgs_buf b;
    int rc;

    if (kind == F_XLSX)
        return sgs_agg_write_file_by(job->dir, name, fill_xlsx, &xj, job->errstr, job->errstr_size);
    sgs_buf_init(&b);
    render_text(&b, job->s, job->cfg, kind, g);
    if (b.oom) {
        snprintf(job->errstr, job->errstr_size, "%s/%s: out of memory", job->dir, name);
        sgs_buf_free(&b);
        return -1;
    }
    rc = sgs_agg_write_file(job->dir, name, b.data ? b.data : "", b.len, job->errstr,
                            job->errstr_size);
    sgs_buf_free(&b);
    return rc;
}

int sgs_agg_report_write(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *dir,
                         char *errstr, size_t errstr_size)
{
    struct write_job job = {s, cfg, dir, errstr, errstr_size};
    char **names;
    size_t n;
    int rc;

    if (sgs_agg_mkdirs(dir, errstr, errstr_size) != 0)
        return -1;
    if (sgs_agg_report_files(s->json, &names, &n) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    rc = walk(s, names, n, write_one, &job);
    if (rc == -2)
        snprintf(errstr, errstr_size, "%s: the file list does not match the groups", s->month);
    else if (rc == 0)
        sgs_debug("%s: wrote %zu files in %s (%s ... %s)", s->month, n, dir, names[0],
                  names[n - 1]);
    sgs_agg_strv_free(names, n);
    return rc == 0 ? 0 : -1;
}

struct render_job {
    const sgs_agg_snapshot *s;
    const sgs_config *cfg;
    const char *want;
    sgs_buf *out;
    char *errstr;
    size_t errstr_size;
};

/* 1 when the file was rendered, -1 failed, 0 not this one. */
static int render_one(const char *name, enum file_kind kind, const sgs_agg_group *g, void *arg)
{
    const struct render_job *job = arg;

    if (strcmp(name, job->want) != 0)
        return 0;
    if (kind == F_XLSX)
        return render_xlsx(job->out, job->s, job->cfg, job->errstr, job->errstr_size) == 0 ? 1 : -1;
    render_text(job->out, job->s, job->cfg, kind, g);
    if (job->out->oom) {
        snprintf(job->errstr, job->errstr_size, "%s: out of memory", name);
        return -1;
    }
    return 1;
}

int sgs_agg_report_render(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *name,
                          sgs_buf *out, char *errstr, size_t errstr_size)
{
    struct render_job job = {s, cfg, name, out, errstr, errstr_size};
    char **names;
    size_t n;
    int rc;

    if (sgs_agg_report_files(s->json, &names, &n) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    rc = walk(s, names, n, render_one, &job);
    sgs_agg_strv_free(names, n);
    if (rc == -2) {
        snprintf(errstr, errstr_size, "%s: the file list does not match the groups", s->month);
        return -1;
    }
    return rc == 1 ? 0 : rc == 0 ? 1 : -1;
}

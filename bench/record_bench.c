/* record_bench: throughput and allocations of sgs_record_parse (parse + rules).
 *
 * Loads the shipped registry and calendar (configs/units.tsv,
 * configs/calendar-cn.json from --configs DIR, else $SGS_CONFIGS, else the
 * source tree), reads a JSONL file of messages (one per line, e.g. written by
 * `sgs-gen --format mixed --out FILE`) into memory, parses every line once to
 * warm up, then --iters more times, timed, and prints
 *
 *     records/s and MB/s  (thread CPU time, and wall time)
 *     allocations/record  (malloc/calloc/realloc calls during the timed passes)
 *     the status of the records (valid, invalid, unknown unit, malformed)
 *
 * Allocations are counted by interposing malloc, calloc, realloc and free (glibc
 * exports its own as __libc_malloc & co.); under a sanitizer build the counting
 * is off (the sanitizer owns malloc) and "n/a" is printed.
 *
 * --tokenize-only times sgs_jsonscan_parse alone (the tokenizer's share of the
 * time); the rules' share is the difference.
 *
 * --dump FILE writes every field of every record (first pass) as text: two
 * builds can be compared with diff to show that a parser change keeps the
 * results identical.
 *
 * --general reads every message the general way (tokens, then the format's
 * reader) instead of the direct reader for the usual native message
 * (sgs_record_set_direct); the line "direct" says how many it took.
 * --no-layouts has the direct reader read every message key by key, without
 * the layouts it learns (sgs_record_set_direct(3)).
 *
 * usage: record_bench [--configs DIR] [--iters N] [--limit N] [--ts MS]
 *                     [--tokenize-only] [--general] [--no-layouts] [--dump FILE]
 *                     FILE.jsonl
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sgs/calendar.h"
#include "sgs/date.h"
#include "sgs/jsonscan.h"
#include "sgs/record.h"
#include "sgs/registry.h"

/* ------------------------------------------------------------------------ */
/* Counting allocator                                                        */

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNTING 0
#endif
#endif
#if !defined(COUNTING) && defined(__GLIBC__)
#define COUNTING 1
#endif
#if !defined(COUNTING)
#define COUNTING 0
#endif

static uint64_t n_allocs;      /* malloc + calloc + realloc(non-NULL size) calls */
static uint64_t n_alloc_bytes; /* bytes requested by them */

#if COUNTING
/* glibc's own entry points: defining malloc & co. in the executable makes every
 * call in the process (jansson, libc) come here. Single-threaded bench: plain
 * counters would do, but librdkafka is linked in and may start threads, so the
 * counters are updated atomically. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static void count(size_t bytes)
{
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_alloc_bytes, bytes, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count(size);
    return __libc_realloc(p, size);
}

void free(void *p)
{
    __libc_free(p);
}
#endif

/* ------------------------------------------------------------------------ */

typedef struct msg {
    const char *p;
    size_t len;
} msg;

static double now_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            char *nb;
            cap = cap ? cap * 2 : 1 << 20;
            nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void dump_record(FILE *out, size_t line, const sgs_record *r)
{
    char a[11], b[11], c[11];
    int i;

    fprintf(out,
            "%zu st=%d fmt=%d kind=%d subj=%d unit=%s unit_id=%s doc_no=%s norm=%s nchars=%zu "
            "serial=%d prefix=%s year=%d lo=%" PRIu64 " hi=%" PRIu64 " ident=%d:%s dec=%d:%s "
            "rep=%d/%d:%" PRId64 ":%s:%s:%s:%s dl=%d:%s late=%d wl=%d n=%d\n",
            line, (int)r->status, (int)r->format, (int)r->kind, (int)r->subject_type,
            r->unit ? r->unit->id : "-", r->unit_id, r->doc_no, r->doc.norm, r->doc.norm_chars,
            r->doc.has_serial, r->doc.prefix, r->doc.year, r->doc.serial_lo, r->doc.serial_hi,
            r->has_identity, r->identity, r->has_decision_date, sgs_day_format(r->decision_date, a),
            r->has_reported_at, r->reported_from_timestamp, r->reported_at, r->reported_at_text,
            sgs_day_format(r->report_day, b), r->month, r->day, r->has_deadline,
            sgs_day_format(r->deadline, c), r->late, r->workdays_late, r->n_reasons);
    for (i = 0; i < r->n_reasons; i++) {
        fprintf(out, "  %s [%s] %s\n", r->reasons[i].code, r->reasons[i].field,
                r->reasons[i].message);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: record_bench [--configs DIR] [--iters N] [--limit N] [--ts MS] "
                    "[--tokenize-only] [--general] [--no-layouts] [--dump FILE] FILE.jsonl\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *configs = getenv("SGS_CONFIGS");
    const char *path = NULL, *dump = NULL;
    long iters = 5, limit = -1;
    int64_t ts_ms = 1765152000000LL; /* 2025-12-08T00:00:00Z, inside the month of sgs-gen */
    char err[512], file[4096];
    sgs_registry *reg;
    sgs_calendar *cal;
    sgs_rules rules;
    static sgs_record rec;
    char *data;
    size_t data_len, n_msgs = 0, cap_msgs = 0, i, bytes = 0;
    msg *msgs = NULL;
    uint64_t status[4] = {0, 0, 0, 0};
    uint64_t allocs0, alloc_bytes0, allocs, alloc_bytes;
    double cpu0, wall0, cpu, wall;
    long it;
    int a, tokenize_only = 0;
    uint64_t direct = 0, layout = 0;
    sgs_jsonscan *js = NULL;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--configs") == 0 && a + 1 < argc) {
            configs = argv[++a];
        } else if (strcmp(argv[a], "--iters") == 0 && a + 1 < argc) {
            iters = strtol(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--limit") == 0 && a + 1 < argc) {
            limit = strtol(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--ts") == 0 && a + 1 < argc) {
            ts_ms = strtoll(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--tokenize-only") == 0) {
            tokenize_only = 1;
        } else if (strcmp(argv[a], "--general") == 0) {
            sgs_record_set_direct(0);
        } else if (strcmp(argv[a], "--no-layouts") == 0) {
            sgs_record_set_direct(3);
        } else if (strcmp(argv[a], "--dump") == 0 && a + 1 < argc) {
            dump = argv[++a];
        } else if (argv[a][0] == '-' || path != NULL) {
            usage();
        } else {
            path = argv[a];
        }
    }
    if (path == NULL || iters < 1) {
        usage();
    }
    if (configs == NULL) {
        configs = SGS_SOURCE_DIR "/configs";
    }

    snprintf(file, sizeof(file), "%s/units.tsv", configs);
    reg = sgs_registry_load(file, err, sizeof(err));
    if (reg == NULL) {
        fprintf(stderr, "record_bench: %s\n", err);
        return 1;
    }
    snprintf(file, sizeof(file), "%s/calendar-cn.json", configs);
    cal = sgs_calendar_load(file, err, sizeof(err));
    if (cal == NULL) {
        fprintf(stderr, "record_bench: %s\n", err);
        return 1;
    }
    memset(&rules, 0, sizeof(rules));
    rules.calendar = cal;
    rules.registry = reg;
    rules.deadline_workdays[SGS_KIND_LICENSE] = 7;
    rules.deadline_workdays[SGS_KIND_PENALTY] = 7;
    rules.count_decision_day = 0;
    rules.tz_offset = 8 * 3600;

    data = read_file(path, &data_len);
    if (data == NULL) {
        fprintf(stderr, "record_bench: cannot read %s\n", path);
        return 1;
    }
    for (i = 0; i < data_len && (limit < 0 || n_msgs < (size_t)limit);) {
        const char *nl = memchr(data + i, '\n', data_len - i);
        size_t end = nl ? (size_t)(nl - data) : data_len;
        if (n_msgs == cap_msgs) {
            msg *nm;
            cap_msgs = cap_msgs ? cap_msgs * 2 : 4096;
            nm = realloc(msgs, cap_msgs * sizeof(*msgs));
            if (nm == NULL) {
                fprintf(stderr, "record_bench: out of memory\n");
                return 1;
            }
            msgs = nm;
        }
        msgs[n_msgs].p = data + i;
        msgs[n_msgs].len = end - i;
        bytes += end - i;
        n_msgs++;
        i = end + 1;
    }
    if (n_msgs == 0) {
        fprintf(stderr, "record_bench: no messages in %s\n", path);
        return 1;
    }

    /* Warm-up pass (one-time allocations happen here), with the dump. */
    {
        FILE *out = NULL;
        if (dump != NULL && (out = fopen(dump, "w")) == NULL) {
            fprintf(stderr, "record_bench: cannot write %s\n", dump);
            return 1;
        }
        for (i = 0; i < n_msgs; i++) {
            sgs_record_parse(&rules, msgs[i].p, msgs[i].len, ts_ms, &rec);
            status[rec.status]++;
            if (out != NULL) {
                dump_record(out, i + 1, &rec);
            }
        }
        if (out != NULL) {
            fclose(out);
        }
        direct = sgs_record_direct_reads();
        layout = sgs_record_layout_reads();
    }

    if (tokenize_only) {
        js = sgs_jsonscan_create(0);
        if (js == NULL) {
            fprintf(stderr, "record_bench: out of memory\n");
            return 1;
        }
        for (i = 0; i < n_msgs; i++) {
            (void)sgs_jsonscan_parse(js, msgs[i].p, msgs[i].len);
        }
    }
    allocs0 = n_allocs;
    alloc_bytes0 = n_alloc_bytes;
    cpu0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    wall0 = now_s(CLOCK_MONOTONIC);
    for (it = 0; it < iters; it++) {
        if (tokenize_only) {
            for (i = 0; i < n_msgs; i++) {
                (void)sgs_jsonscan_parse(js, msgs[i].p, msgs[i].len);
            }
            continue;
        }
        for (i = 0; i < n_msgs; i++) {
            sgs_record_parse(&rules, msgs[i].p, msgs[i].len, ts_ms, &rec);
        }
    }
    cpu = now_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    wall = now_s(CLOCK_MONOTONIC) - wall0;
    allocs = n_allocs - allocs0;
    alloc_bytes = n_alloc_bytes - alloc_bytes0;

    {
        double total = (double)n_msgs * (double)iters;
        double mb = (double)bytes * (double)iters / 1e6;
        printf("file        %s: %zu messages, %zu bytes (%.0f bytes/message)\n", path, n_msgs,
               bytes, (double)bytes / (double)n_msgs);
        printf("status      valid %" PRIu64 ", invalid %" PRIu64 ", unknown_unit %" PRIu64
               ", malformed %" PRIu64 "\n",
               status[SGS_RECORD_VALID], status[SGS_RECORD_INVALID],
               status[SGS_RECORD_UNKNOWN_UNIT], status[SGS_RECORD_MALFORMED]);
        printf("direct      %" PRIu64 " of the %zu messages of the warm-up read directly, %" PRIu64
               " of them along a layout\n",
               direct, n_msgs, layout);
        printf("passes      %ld timed (after 1 warm-up)%s\n", iters,
               tokenize_only ? ", sgs_jsonscan_parse only" : "");
        printf("cpu         %.3f s: %.0f records/s, %.1f MB/s, %.0f ns/record\n", cpu, total / cpu,
               mb / cpu, cpu * 1e9 / total);
        printf("wall        %.3f s: %.0f records/s, %.1f MB/s\n", wall, total / wall, mb / wall);
        if (COUNTING) {
            printf("allocations %.3f per record (%.0f bytes/record), %" PRIu64 " in total\n",
                   (double)allocs / total, (double)alloc_bytes / total, allocs);
        } else {
            printf("allocations n/a (sanitizer build)\n");
        }
    }

    sgs_jsonscan_destroy(js);
    free(msgs);
    free(data);
    sgs_calendar_destroy(cal);
    sgs_registry_destroy(reg);
    return 0;
}

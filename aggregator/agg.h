/* sgs-aggregator: monthly snapshots, spot checks, live status and the watch
 * daemon (REFERENCE §7, §8). Internal interface shared by the aggregator's files;
 * nothing here is used outside aggregator/ (and its unit tests).
 *
 * The Redis layout (key names, counter fields, identities, dn lists) is spelled
 * only in common/ (sgs/store.h), months only in sgs/date.h, and every
 * configuration key is declared in common/src/config.c's table.
 *
 * Module map:
 *   main.c        command line, exit codes
 *   context.c     configuration, registry, the Redis handle, "now" (SGS_NOW)
 *   rate.c        percentages rounded half-up to 2 decimals, in integers
 *   idmap.c       id -> index map (FNV-1a); the registry row of a unit id
 *   width.c       display width of UTF-8 text, padding (the status table)
 *   kind.c        kind names of samples and identities, Chinese labels
 *   strv.c        string vectors: sort, free
 *   reply.c       Redis through the cluster client: one read, a pipe's outcomes,
 *                 integer values of replies (counters, version numbers)
 *   partitions.c  the partitions with state (their offset keys, scanned on every
 *                 master), the rebuild marker
 *   snapshot.c    the month's read (one MULTI/EXEC per partition) and the snapshot
 *                 model + JSON
 *   snapshotcmd.c the snapshot command (build, store, files, publish)
 *   gaps.c        document-number sequence gaps (suspected omissions)
 *   version.c     snapshot versions in Redis, change descriptions
 *   publish.c     the snapshots topic (Kafka producer, delivery reports)
 *   history.c     the last 12 months' totals from the stored snapshots (trend chart)
 *   ledger.c      the ledger (台账): late and invalid records, concealed decisions,
 *                 suspected gaps and what was not listed; its rows' cells
 *   files.c       mkdir -p and atomic file writes
 *   report.c      the report files of a month: their names, and writing them all
 *                 (YYYY-MM.json, per-group CSV, the notice, the ledger CSV), or
 *                 rendering one
 *   render.c      a file of a month's latest stored version, rendered again (serve)
 *   xlsx.c        YYYY-MM.xlsx (libxlsxwriter): a sheet per group and the 台账 sheet
 *   html.c        YYYY-MM-report.html: the printable report, pure
 *   svg.c         the report's inline SVG charts, pure
 *   htmltext.c    text escaped as HTML/SVG character data (html.c, svg.c), pure
 *   notice.c      the notice's text (markdown, or through a sink: the HTML), pure
 *   sample.c      spot-check sample parser (pure, fuzzed)
 *   spotcheck.c   concealment spot checks; dry runs; withdrawals of findings
 *   status.c      live counters per unit
 *   watch.c       the daemon
 *   alerts.c      the latest alerts kept in Redis, merged across partitions
 *   serve.c       the serve command: HTTP server, shutdown (server.h)
 *   server.c      a worker context (Redis handle) per server thread (server.h)
 *   api.c         routes: the console page, /api/v1/..., /healthz (server.h)
 *   sse.c         the alert stream: one Redis subscriber, fanned out (server.h)
 *   webstats.c    request counters and latencies, GET /metrics (server.h)
 *   console/      index.html, the console page compiled in (console/embed.cmake) */
#ifndef SGS_AGG_H
#define SGS_AGG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/date.h"
#include "sgs/rcluster.h"
#include "sgs/record.h"
#include "sgs/registry.h"

/* Exit statuses (REFERENCE §7). */
#define SGS_AGG_EXIT_OK      0
#define SGS_AGG_EXIT_RUNTIME 1
#define SGS_AGG_EXIT_USAGE   2

/* Flags of jansson's dumps for everything the aggregator writes: 15 significant
 * digits print a rate held as hundredths/100.0 exactly ("0.09", not
 * "0.089999999999999997"). */
#define SGS_AGG_JSON_COMPACT (JSON_COMPACT | JSON_REAL_PRECISION(15))
#define SGS_AGG_JSON_PRETTY  (JSON_INDENT(2) | JSON_REAL_PRECISION(15))

/* Bytes a rate's text needs ("100.00", "-"): sgs_agg_rate_text's buffer. */
#define SGS_AGG_RATE_TEXT_MAX 32

/* Largest snapshot version number accepted from Redis. */
#define SGS_AGG_VERSION_MAX 1000000000L

typedef struct sgs_agg_idmap sgs_agg_idmap;

/* ---- context.c ---------------------------------------------------------- */

typedef struct sgs_agg_ctx {
    sgs_config *cfg;        /* owned */
    sgs_registry *reg;      /* owned (units.file) */
    sgs_calendar *cal;      /* owned (calendar.file) */
    sgs_rcl *rcl;           /* owned, NULL until sgs_agg_ctx_redis(): one Redis or a
                             * Redis Cluster (redis.cluster), reconnecting by itself */
    const char *prefix;     /* redis.prefix, borrowed from cfg; every global key of it fits
                             * in SGS_STORE_KEY_MAX (checked by sgs_agg_ctx_create) */
    int tz_offset;          /* seconds east of UTC */
    char tz_text[16];       /* "+08:00" */
    int have_now;           /* SGS_NOW given */
    int64_t now_fixed;      /* the SGS_NOW instant */
    sgs_day now_day;        /* the SGS_NOW date */
    sgs_agg_idmap *warned;  /* warnings already given (watch repeats builds) */
    int borrowed;           /* cfg, reg and cal belong to another context (a serve worker's) */
    sgs_day horizon_logged; /* the day the calendar's warning was last logged (0: never) */
    int64_t evicts_next;    /* monotonic ms of the next maxmemory-policy check (0: at once) */
    char evicts[640];       /* "" or why a master may evict keys: its name, policy and
                             * maxmemory (at most 400 bytes) and the advice */
} sgs_agg_ctx;

/* 1 the first time a warning text is seen in this process, then 0 (a daemon that
 * rebuilds a month every minute says a thing once, not every minute). */
int sgs_agg_warn_once(sgs_agg_ctx *ctx, const char *text);

/* Builds the context from a loaded configuration: takes ownership of cfg (also on
 * failure), checks it and loads units.file and calendar.file through the one
 * loader (sgs/loader.h: the kafka.* properties, the group names, the same
 * checks as sgs-consumer's, for every command). Parses SGS_NOW from the
 * environment. Returns NULL with a message naming the key, file or variable at
 * fault. */
sgs_agg_ctx *sgs_agg_ctx_create(sgs_config *cfg, char *errstr, size_t errstr_size);
void sgs_agg_ctx_destroy(sgs_agg_ctx *ctx); /* NULL ok */
/* A context for another thread (serve's workers): shares parent's cfg, reg and
 * "now" (read-only; parent outlives it) and has a Redis handle and warnings
 * of its own (an sgs_rcl belongs to one thread). NULL when out of memory.
 * Freed with sgs_agg_ctx_destroy. */
sgs_agg_ctx *sgs_agg_ctx_worker(const sgs_agg_ctx *parent);
/* Makes the Redis handle when there is none yet (sgs_rcl_connect: the map
 * from the first seed that answers; redis.timeout_ms is the timeout of each
 * read and write and how long a command keeps being retried while its slot
 * has no reachable master). Once made, the handle reconnects and follows
 * redirections and failovers by itself. 0, or -1 with "redis HOST:PORT: why". */
int sgs_agg_ctx_redis(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size);
/* The same without the maxmemory-policy check (sgs_agg_redis_warning) at
 * connecting: for /healthz, which must answer at once while a master is down
 * (the check's INFO to that master would be retried through the failover). */
int sgs_agg_ctx_redis_unchecked(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size);
/* Why a Redis master may evict keys (sgs_rcl_master_evicts: a maxmemory with
 * a policy other than noeviction), which would lose counters, offsets or
 * snapshots without a sign; NULL when none may. Asked of every master at most
 * every 10 s (the last answer is kept meanwhile, in ctx: valid until the next
 * call); a master that does not answer or refuses INFO is left out.
 * Logged at warning level the first time a check finds it, once a process
 * (sgs_agg_ctx_redis checks when it connects). */
const char *sgs_agg_redis_warning(sgs_agg_ctx *ctx);
/* SIGHUP: loads units.file and calendar.file again (sgs_loader_load_files)
 * and, when both are good, puts them in place of the old ones, which are
 * freed; the caller makes sure nobody reads them meanwhile. On error the old
 * ones stay and one line names the file and the fault. Either way the result
 * is logged (info or error). 0 or -1. */
int sgs_agg_ctx_reload(sgs_agg_ctx *ctx);
/* The calendar's horizon today: 1 and the warning text when it is due (buf of
 * SGS_CALENDAR_WARNING_MAX bytes), else 0 and "". *days_left may be NULL. */
int sgs_agg_calendar_warning(const sgs_agg_ctx *ctx, char *buf, size_t size, long *days_left);
/* Logs the calendar's warning (warning level) when it is due and was not
 * logged yet today: at start-up and once a day in the daemons (watch, serve;
 * status prints it above its table, the one-shot commands keep their stderr
 * to their own errors). */
void sgs_agg_calendar_log(sgs_agg_ctx *ctx);
/* The current instant (SGS_NOW when set) and the local day of it. */
int64_t sgs_agg_now(const sgs_agg_ctx *ctx);
sgs_day sgs_agg_today(const sgs_agg_ctx *ctx);

/* ---- rate.c -------------------------------------------------------------- */

/* Rate num/den in percent, rounded half-up to 2 decimals, as hundredths of a
 * percent (81 means 0.81 %); -1 when den <= 0 (no records). A negative num
 * counts as 0. Integer arithmetic only. */
int64_t sgs_agg_rate_hundredths(int64_t num, int64_t den);
/* The rate as a JSON number (hundredths/100.0), or JSON null without records. New
 * reference. */
json_t *sgs_agg_rate_json(int64_t num, int64_t den);
/* "0.81", "100.00" or "-" (no records). buf: SGS_AGG_RATE_TEXT_MAX bytes.
 * Returns buf. */
char *sgs_agg_rate_text(int64_t num, int64_t den, char *buf);
/* Appends the rate as JSON: the number as sgs_agg_rate_json dumps it ("8.7",
 * "100.0", "0.09"), or null without records. */
void sgs_agg_rate_put(sgs_buf *b, int64_t num, int64_t den);
/* Quality rate numerator: records - invalid, never below 0. */
int64_t sgs_agg_rate_valid_count(int64_t records, int64_t invalid);

/* ---- idmap.c ------------------------------------------------------------- */

/* Open-addressing map from an id (bytes) to an index; keys are copied. */
sgs_agg_idmap *sgs_agg_idmap_new(size_t expected); /* NULL: out of memory */
void sgs_agg_idmap_free(sgs_agg_idmap *m);         /* NULL ok */
/* 0 added, 1 already present (value unchanged), -1 out of memory. */
int sgs_agg_idmap_put(sgs_agg_idmap *m, const char *key, size_t len, size_t value);
/* 1 and *value when found, else 0. */
int sgs_agg_idmap_get(const sgs_agg_idmap *m, const char *key, size_t len, size_t *value);
/* A map of every registry id to its index (the row of the unit). NULL when out
 * of memory. */
sgs_agg_idmap *sgs_agg_idmap_registry(const sgs_registry *reg);
/* Row (registry index) of a unit id as written in Redis: the map of registry ids
 * first, then id-like aliases through the registry. -1 when unknown. */
long sgs_agg_idmap_unit_row(const sgs_agg_idmap *map, const sgs_registry *reg, const char *id,
                            size_t len);

/* ---- width.c ------------------------------------------------------------- */

/* Terminal display width of UTF-8 text: East Asian wide and full-width characters
 * count 2 columns, others 1 (a stray byte counts 1). */
size_t sgs_agg_width_of(const char *s);
/* Writes s padded with spaces to width columns (left or right aligned); text
 * wider than width is written whole. */
void sgs_agg_width_pad(sgs_buf *b, const char *s, size_t width, int right_align);

/* ---- kind.c -------------------------------------------------------------- */

/* The kind of a canonical name ("license", "penalty": sgs_kind_name), else
 * SGS_KIND_NONE. */
enum sgs_kind sgs_agg_kind_of(const char *s, size_t len);
/* Canonical kind name from a sample's "license"/"penalty"/"行政许可"/"行政处罚"/
 * "许可"/"处罚", or NULL. */
const char *sgs_agg_kind_parse(const char *s, size_t len);
/* Chinese label of a canonical kind name: 行政许可 / 行政处罚. */
const char *sgs_agg_kind_label(const char *kind);

/* ---- strv.c -------------------------------------------------------------- */

/* Sorts a string vector in byte order. */
void sgs_agg_strv_sort(char **v, size_t n);
/* Frees v[0..n) and v (NULL ok). */
void sgs_agg_strv_free(char **v, size_t n);

/* ---- reply.c ------------------------------------------------------------- */

/* One read (or a write of the same value again: safe to repeat after a lost
 * reply) on the master of key's slot, hiredis printf format; connects first
 * when needed. The reply (freeReplyObject), or NULL with errstr: the client's
 * one line ("redis 127.0.0.1:7001: Connection refused (slot 866; gave up
 * after 5000 ms)"), or "redis: KEY: <refusal>" when Redis refused it. */
redisReply *sgs_agg_redis(sgs_agg_ctx *ctx, const char *key, char *errstr, size_t errstr_size,
                          const char *fmt, ...);
/* A new pipe on ctx's handle (connecting first when needed). NULL with errstr. */
sgs_rcl_pipe *sgs_agg_pipe(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size);
/* Sends and collects every unit of p (the handle's deadline). 0 when each has
 * a reply (replies of type error included: the caller's to judge), else -1
 * with the first failed unit's one line. */
int sgs_agg_pipe_run(sgs_rcl_pipe *p, char *errstr, size_t errstr_size);
/* sgs_agg_pipe_run for writes: also -1 when any reply is an error, with
 * "redis: <what>: <error>". */
int sgs_agg_pipe_run_writes(sgs_rcl_pipe *p, const char *what, char *errstr, size_t errstr_size);
/* The slot of a key (its hash tag: a partition's keys share one). */
uint16_t sgs_agg_slot(const char *key);
/* Parses an integer reply or a counter value ("123", a HGETALL element). 0 / -1. */
int sgs_agg_reply_int(const redisReply *r, int64_t *out);
/* A version number reply (P:snapshot:YYYY-MM:latest): 0 for nil, the number,
 * or -1 when it is not a number 0..SGS_AGG_VERSION_MAX. */
long sgs_agg_reply_version(const redisReply *r);

/* ---- partitions.c -------------------------------------------------------- */

/* The partitions of topic.records that hold state (their offset key exists,
 * written with their first batch), as members "<topic>:<partition>" sorted
 * bytewise (strdup'ed; free with sgs_agg_strv_free): sgs_rcl_scan of
 * the offset keys on every master, from a pass during which no slot moved (a
 * reshard makes it retry until redis.timeout_ms, then fail with "slots kept
 * moving"). Every key of each partition fits in SGS_STORE_KEY_MAX. 0 / -1 with
 * errstr. */
int sgs_agg_partitions_read(sgs_agg_ctx *ctx, char ***out, size_t *n, char *errstr,
                            size_t errstr_size);
/* Whether sgs-consumer --rebuild is running (P:rebuild exists): 1 with a
 * message saying since when and why to wait, 0 not, -1 Redis error. */
int sgs_agg_rebuild_check(sgs_agg_ctx *ctx, char *errstr, size_t errstr_size);

/* ---- ledger.c ------------------------------------------------------------ */

/* The ledger (台账, REFERENCE §10) of a month: one entry per record that needs a
 * unit's action. Categories (bits of an entry's cat): */
enum {
    SGS_AGG_LG_LATE = 1u << 0,      /* 迟报 (with SGS_AGG_LG_INVALID: both, one entry) */
    SGS_AGG_LG_INVALID = 1u << 1,   /* 不合格 */
    SGS_AGG_LG_CONCEALED = 1u << 2, /* 瞒报: a spot check's concealed decision */
    SGS_AGG_LG_GAP = 1u << 3,       /* 疑似漏报: a missing serial of a gap entry */
    SGS_AGG_LG_NOTE = 1u << 4,      /* 未逐条列出: n entries not listed (with LATE|INVALID:
                                     * cut by consumer.ledger.max_per_unit; with GAP: missing
                                     * serials beyond the snapshot's list) */
};

/* Columns of the ledger's CSV and 台账 sheet (REFERENCE §10). */
#define SGS_AGG_LEDGER_COLS 10
extern const char *const sgs_agg_ledger_header[SGS_AGG_LEDGER_COLS];
/* The column of 迟报工作日 (a number in the workbook). */
#define SGS_AGG_LEDGER_COL_WORKDAYS 8

typedef struct sgs_agg_ledger_entry {
    size_t row;       /* registry row of the unit */
    unsigned cat;     /* SGS_AGG_LG_* */
    const char *kind; /* "license" / "penalty" (static), or NULL */
    char *doc_no;     /* owned texts, NULL when empty */
    char *decision_date, *deadline, *reported_at, *reasons, *source;
    int64_t workdays_late; /* late entries */
    int64_t n;             /* notes: how many were not listed */
    int64_t at;            /* reported_at as an instant (order); 0 when none */
    size_t seq;            /* order of addition (last tie-break) */
} sgs_agg_ledger_entry;

typedef struct sgs_agg_ledger {
    sgs_agg_ledger_entry *v;
    size_t n, cap;
    size_t unreadable; /* stored entries that were not ledger JSON (logged) */
} sgs_agg_ledger;

void sgs_agg_ledger_free(sgs_agg_ledger *l); /* frees the entries; l itself is the caller's */
/* Each adder takes replies of the consumer's keys (docs/REDIS.md) and keeps
 * the entries of registry units (map and reg give a unit id's row; only_row
 * >= 0 keeps that unit's alone). 0, or -1 when out of memory. */
/* LRANGE of P:T:lg:YYYY-MM: late and invalid records (JSON, consumer/batch.c). */
int sgs_agg_ledger_add_list(sgs_agg_ledger *l, const redisReply *list, const sgs_agg_idmap *map,
                            const sgs_registry *reg, long only_row);
/* HGETALL of P:T:lgn:YYYY-MM: a note per unit with entries cut. */
int sgs_agg_ledger_add_cut(sgs_agg_ledger *l, const redisReply *hash, const sgs_agg_idmap *map,
                           const sgs_registry *reg, long only_row);
/* HGETALL of P:concealed:YYYY-MM: the concealed decisions of spot checks,
 * except those in withdrawn (HGETALL of P:withdrawn:YYYY-MM; NULL: none). */
int sgs_agg_ledger_add_concealed(sgs_agg_ledger *l, const redisReply *hash,
                                 const redisReply *withdrawn, const sgs_agg_idmap *map,
                                 const sgs_registry *reg, long only_row);
/* A unit's gap entries (gaps.c's objects): a row per listed missing serial and
 * a note for the serials not listed. */
int sgs_agg_ledger_add_gaps(sgs_agg_ledger *l, size_t row, const json_t *gaps);
/* Orders the entries: units by rank[row] (display order), then late and
 * invalid records by report time, the cut note, concealed decisions, gaps in
 * their entries' order; merges the cut notes of a unit (one per partition).
 * rank may be NULL (registry order). 0 / -1 (OOM). */
int sgs_agg_ledger_finish(sgs_agg_ledger *l, const size_t *rank);
/* 类别 of an entry: 迟报 (also when invalid too), 不合格, 瞒报, 疑似漏报 (also a note of gap
 * serials not listed) or 未逐条列出 (the note of entries the consumer cut). */
const char *sgs_agg_ledger_category(unsigned cat);
/* The cells of an entry's row, in the columns' order, as text ("" when empty;
 * 迟报工作日 is digits or ""). buf (at least 512 bytes) holds the composed
 * ones. *workdays_number is 1 when 迟报工作日 is a number. */
void sgs_agg_ledger_cells(const sgs_agg_ledger_entry *e, const sgs_unit *u,
                          const char *cells[SGS_AGG_LEDGER_COLS], char *buf, size_t buf_size,
                          int *workdays_number);

/* ---- history.c ------------------------------------------------------------ */

#define SGS_AGG_HISTORY_MONTHS 12

/* One month of the trend chart. */
typedef struct sgs_agg_history_point {
    char month[8]; /* "YYYY-MM" */
    int has;       /* a snapshot exists (for the month itself: always) */
    int64_t records, late;
} sgs_agg_history_point;

/* ---- snapshot.c --------------------------------------------------------- */

/* Counters of one unit (or group, or the totals) in a month. */
typedef struct sgs_agg_counts {
    int64_t records, late, invalid, dup, lic, pen, wdlate, concealed;
    int64_t upd, rev; /* updates and revocations of decisions already seen */
} sgs_agg_counts;
void sgs_agg_counts_add(sgs_agg_counts *to, const sgs_agg_counts *c);

enum {
    SGS_AGG_FLAG_HIGH_VOLUME = 1u << 0,
    SGS_AGG_FLAG_IMPROVED = 1u << 1,
    SGS_AGG_FLAG_LOW_VOLUME = 1u << 2,
    SGS_AGG_FLAG_HAS_LATE = 1u << 3,
};

typedef struct sgs_agg_row {
    const sgs_unit *unit;
    sgs_agg_counts c;
    int has_prev;
    int64_t prev_records;
    unsigned flags;
    json_t *gaps;         /* array of gap objects (gaps.c), owned */
    int64_t gaps_missing; /* sum of missing_count over gaps */
} sgs_agg_row;

typedef struct sgs_agg_group {
    const char *id;   /* borrowed from the registry */
    const char *name; /* display name, borrowed from the config */
    size_t *rows;     /* indexes into snapshot rows, in display order */
    size_t n_rows;
    sgs_agg_counts sum;
} sgs_agg_group;

typedef struct sgs_agg_snapshot {
    char month[8]; /* "YYYY-MM" */
    int year, mon;
    sgs_agg_row *rows; /* registry order */
    size_t n_rows;
    sgs_agg_group *groups; /* report order */
    size_t n_groups;
    sgs_agg_counts totals;
    int64_t unattributed;
    int has_prev_snapshot; /* the previous month was observed: its latest snapshot has
                            * records (prev_records and "improved" come from it) */
    int prev_empty;        /* the previous month has a snapshot, without records (sgs
                            * was not running yet, or nothing was reported): no comparison */
    int preview;           /* a month not closed (no --final): "preview" true in the
                            * JSON, files marked 临时; stored and published as usual */
    int64_t low_volume;    /* report.low_volume used for the flags */
    json_t *offsets;       /* {"<topic>:<partition>": stored offset} of the read (REFERENCE
                            * §11), owned; NULL: none read (an empty object) */
    json_t *json;          /* the snapshot document (REFERENCE §8), owned */
    sgs_agg_ledger ledger; /* the month's ledger, from the same read (finished) */
    json_t *withdrawn;     /* the spot checks' findings withdrawn (P:withdrawn:YYYY-MM):
                            * [{"unit_id", "name", "kind", "doc_no", "reason", "at"}] by
                            * time, owned; NULL: none. In the JSON as
                            * "spot_check": {"withdrawn": [...]} when not empty */
    /* The trend: the 11 months before and this one, oldest first (history.c). */
    sgs_agg_history_point history[SGS_AGG_HISTORY_MONTHS];
} sgs_agg_snapshot;

/* The month read from Redis and joined with the registry: sgs_agg_snapshot_new,
 * then the partitions (sgs_agg_partitions_read) and, pipelined in one round,
 * one MULTI/EXEC per partition on its slot (its month counters, gap hashes
 * of January..month, ledger, ledger cuts and stored offset: one consistent
 * state of that partition, whose batches are each one atomic script), the
 * concealed hash and the previous month's latest version number, then that
 * version (immutable once written); sgs_agg_snapshot_finish at now, with
 * "offsets" the offsets read. Partitions are read consistently each, not at
 * one instant together: every record is counted in exactly one partition,
 * with its ledger entry, so each record is in the read whole or not yet,
 * never twice or in half (docs/AGGREGATOR.md). Refused while a rebuild runs.
 * Returns NULL with errstr. */
sgs_agg_snapshot *sgs_agg_snapshot_build(sgs_agg_ctx *ctx, int year, int month, char *errstr,
                                         size_t errstr_size);
/* The model without Redis, in two steps. _new: a row per registry unit (registry
 * order) with zero counters; NULL when out of memory. The caller then fills the
 * rows' counters, prev_records, gaps and the snapshot's unattributed and
 * has_prev_snapshot. _finish: groups (the order of "groups", then the registry's)
 * with their rows in display order (records descending) and sums, the totals,
 * the flags (report.low_volume) and the JSON with "version": 0 and generated_at
 * (an instant, written at tz_offset). 0, or -1 when out of memory. */
sgs_agg_snapshot *sgs_agg_snapshot_new(const sgs_registry *reg, int year, int month);
/* The report order of the registry's groups: those named in "groups" first, in
 * that order, then the others in order of first appearance. ids needs room for
 * sgs_registry_group_count(reg) entries (borrowed from reg); returns how many. */
size_t sgs_agg_group_order(const sgs_registry *reg, const sgs_config *cfg, const char **ids);
int sgs_agg_snapshot_finish(sgs_agg_snapshot *s, const sgs_registry *reg, const sgs_config *cfg,
                            int64_t generated_at, int tz_offset);
void sgs_agg_snapshot_free(sgs_agg_snapshot *s); /* NULL ok */
/* Sets "version" in the snapshot's JSON. */
void sgs_agg_snapshot_set_version(sgs_agg_snapshot *s, long version);
/* Makes s a preview (a month not closed, built without --final): "version"
 * null (until stored) and "preview": true right after it in the JSON,
 * s->preview set (the notice and the workbook say 临时). 0, or -1 when out of
 * memory. */
int sgs_agg_snapshot_mark_preview(sgs_agg_snapshot *s);
/* Takes the comparison with the previous month (every unit's prev_records and
 * "improved" flag) from a stored version of the same month whose content is
 * otherwise the same (version.c keeps such a version): into the JSON and the
 * model (rows, has_prev_snapshot), so the files say what the stored version
 * says. */
void sgs_agg_snapshot_take_prev(sgs_agg_snapshot *s, const json_t *stored);
long sgs_agg_snapshot_version(const sgs_agg_snapshot *s);

/* ---- sample.c ------------------------------------------------------------ */

typedef struct sgs_agg_sample_item {
    int line;
    const sgs_unit *unit;
    const char *kind;       /* "license" / "penalty" */
    char *doc_no;           /* as in the sample */
    char *identity;         /* "<unit_id>|<kind>|<norm>" (sgs_store_identity) */
    const char *normalized; /* the normalised doc_no, inside identity */
    int found;
} sgs_agg_sample_item;

typedef struct sgs_agg_sample {
    sgs_agg_sample_item *items; /* each identity once, in file order */
    size_t n, cap;
    size_t lines; /* data lines, repeats included */
} sgs_agg_sample;

/* Reads a spot-check sample from text (len bytes; a NUL byte is an error):
 * a header line, then "unit_id<TAB>kind<TAB>doc_no" lines; empty lines and
 * lines starting with '#' are skipped, a leading BOM and CRLF are accepted.
 * 0, or -1 with "PATH:LINE: why" (path only names the input). s is always
 * initialised: free it with sgs_agg_sample_free. */
int sgs_agg_sample_parse(const sgs_registry *reg, const char *path, const char *text, size_t len,
                         sgs_agg_sample *s, char *errstr, size_t errstr_size);
void sgs_agg_sample_free(sgs_agg_sample *s);

/* ---- gaps.c ------------------------------------------------------------- */

/* Sequence gaps per unit from the gap hashes (HGETALL replies of
 * P:T:g:YYYY-MM: arrays of gap fields and their bits, store.h; anything else is
 * a month without any). Only document numbers of `year` count. Fills rows[i].gaps / gaps_missing:
 * one gap object per unit, kind and issuer prefix with numbers missing between the lowest and
 * highest serial, each listed except blocks of more than 1,000 in a row, at most 5,000 per unit
 * (missing_count counts them all; gaps.c says why). map gives the
 * row of a unit id. concealed[0..n_months) and withdrawn[..] (HGETALL replies of P:concealed and
 * P:withdrawn of January..; NULL entries or arrays: none): a number of `year` found concealed and
 * not withdrawn is no suspected gap (neither counted nor listed). 0 / -1 (OOM). */
int sgs_agg_gaps_compute(sgs_agg_row *rows, size_t n_rows, const sgs_agg_idmap *map,
                         const sgs_registry *reg, redisReply *const *lists, size_t n_lists,
                         int year, const redisReply *const *concealed,
                         const redisReply *const *withdrawn, size_t n_months, char *errstr,
                         size_t errstr_size);

/* ---- version.c ---------------------------------------------------------- */

/* Stores the snapshot as version N+1 when its content differs from the newest
 * stored version N: everything is compared except version, generated_at and
 * offsets (they describe the read) and the comparison with the previous month
 * (each unit's prev_records and its "improved" flag: a change of the previous
 * month alone is no change of this month; a version made for another reason
 * carries the comparison of its time).
 * The keys live in different slots of a cluster, so no transaction spans them;
 * the writes are ordered instead (docs/REDIS.md): SET vN+1 NX (of two writers
 * only one gets N+1; the other compares with it and goes on), then latest
 * raised to N+1 (never lowered), then SADD months. A crash in between leaves
 * vN+1 stored and latest at N: readers see N, and the next run finds vN+1
 * (versions above latest are looked for) and finishes the writes. Sets the
 * snapshot's version (new or kept; when kept, generated_at and offsets of the
 * stored version are kept too, so files match Redis). *is_new tells which.
 * *previous (may be NULL) receives the stored document compared with (new
 * reference or NULL). 0 / -1. */
int sgs_agg_version_store(sgs_agg_ctx *ctx, sgs_agg_snapshot *s, int *is_new, json_t **previous,
                          char *errstr, size_t errstr_size);
/* Whether s (built, and marked a preview when doc is one) has the content of
 * the stored version doc, by sgs_agg_version_store's comparison; when it has,
 * s takes doc's version, generated_at, offsets and comparison with the
 * previous month, as a snapshot run that keeps that version does, so the
 * files written from s are doc's version's. 1 taken, 0 different (s
 * unchanged). Compares in place: doc and s->json are restored. */
int sgs_agg_version_adopt(sgs_agg_snapshot *s, json_t *doc);
/* Latest stored version of a month: 0 when none, -1 on error. */
long sgs_agg_version_latest(sgs_agg_ctx *ctx, const char *month, char *errstr, size_t errstr_size);
/* Every month with a snapshot (P:snapshot:months) and its latest version, the
 * newest month first: *months strdup'ed "YYYY-MM" (sgs_agg_strv_free), latest[i]
 * (malloc'ed) the month's latest version, 0 when its key is missing. 0 / -1. */
int sgs_agg_version_months(sgs_agg_ctx *ctx, char ***months, long **latest, size_t *n, char *errstr,
                           size_t errstr_size);
/* The stored JSON text of a month's version (version <= 0: the latest): 1 with
 * *text (malloc'ed, NUL-terminated), *len and *got (the version read), 0 when
 * there is no such version, -1 on a Redis error. */
int sgs_agg_version_text(sgs_agg_ctx *ctx, const char *month, long version, char **text,
                         size_t *len, long *got, char *errstr, size_t errstr_size);
/* Logs (info) what changed between two snapshot documents: per unit the figures
 * that differ, totals, gaps, and each spot-check finding withdrawn since. */
void sgs_agg_version_log_changes(const json_t *before, const json_t *after);

/* ---- publish.c ---------------------------------------------------------- */

typedef struct sgs_agg_publisher sgs_agg_publisher;
/* A producer for topic.snapshots; a publish waits report.publish_timeout_s
 * at most, and its errors name the topic and kafka.bootstrap.servers. NULL
 * with errstr on configuration errors. */
sgs_agg_publisher *sgs_agg_publisher_create(const sgs_config *cfg, char *errstr,
                                            size_t errstr_size);
void sgs_agg_publisher_destroy(sgs_agg_publisher *p); /* NULL ok; purges what is queued */
/* Produces value with key and waits for its delivery report: at most
 * report.publish_timeout_s (or the producer's message.timeout.ms when it is
 * shorter), or until *stop becomes non-zero when stop is not NULL. 0
 * delivered, -1 with the reason, the topic and the brokers. */
int sgs_agg_publish(sgs_agg_publisher *p, const char *key, const char *value, size_t len,
                    volatile sig_atomic_t *stop, char *errstr, size_t errstr_size);
const char *sgs_agg_publisher_topic(const sgs_agg_publisher *p);

/* ---- snapshotcmd.c ------------------------------------------------------- */

/* Publishes the snapshot (compact JSON, key YYYY-MM) and waits for delivery. */
int sgs_agg_snapshot_publish(sgs_agg_publisher *pub, const sgs_agg_snapshot *s,
                             volatile sig_atomic_t *stop, char *errstr, size_t errstr_size);
/* Options of the snapshot command. */
enum {
    SGS_AGG_SNAP_FINAL = 1u << 0,      /* --final: store and publish a month not closed */
    SGS_AGG_SNAP_NO_PUBLISH = 1u << 1, /* --no-publish: store and write, no Kafka */
};
/* snapshot --month: build, store (new version when changed), write the files into
 * out_dir (NULL: report.dir), publish. A month not closed (sgs_agg_month_due)
 * without SGS_AGG_SNAP_FINAL is a preview (sgs_agg_snapshot_mark_preview), stored
 * and published as a version marked so.
 * Returns an exit status (SGS_AGG_EXIT_RUNTIME also when the files are written
 * and the version stored but the publish failed: a re-run publishes it). */
int sgs_agg_cmd_snapshot(sgs_agg_ctx *ctx, int year, int month, const char *out_dir,
                         unsigned flags);

/* ---- history.c ------------------------------------------------------------ */

/* The months of the trend without Redis: the 12 months ending at s's month,
 * s's own last (its totals), the others without a snapshot (has = 0). Called
 * by sgs_agg_snapshot_finish. */
void sgs_agg_history_init(sgs_agg_snapshot *s);
/* Fills the 11 months before s from their latest stored snapshots
 * (P:snapshot:YYYY-MM:latest, then that version's totals; two pipelined
 * reads). A month without a snapshot, or whose snapshot does not parse
 * (logged), keeps has = 0. 0 / -1 with errstr (Redis). */
int sgs_agg_history_read(sgs_agg_ctx *ctx, sgs_agg_snapshot *s, char *errstr, size_t errstr_size);

/* ---- files.c ------------------------------------------------------------ */

/* mkdir -p. 0 / -1 with "DIR: why". */
int sgs_agg_mkdirs(const char *dir, char *errstr, size_t errstr_size);
/* Writes data to dir/name atomically: a temp file in dir, fsync, rename, fsync of
 * the directory. 0 / -1 with "PATH: why". */
int sgs_agg_write_file(const char *dir, const char *name, const char *data, size_t len,
                       char *errstr, size_t errstr_size);
/* A file written by a library that takes a path (libxlsxwriter): fill gets the
 * path of an empty temporary file in dir to write; then the same fsync and
 * rename as sgs_agg_write_file. fill returns 0, or -1 with errstr (the
 * temporary file is then removed). */
typedef int (*sgs_agg_file_fill)(const char *path, void *arg, char *errstr, size_t errstr_size);
int sgs_agg_write_file_by(const char *dir, const char *name, sgs_agg_file_fill fill, void *arg,
                          char *errstr, size_t errstr_size);

/* ---- report.c ----------------------------------------------------------- */

/* The name of a group's annex CSV, "YYYY-MM-<group>.csv", with the group id
 * made file-safe (a group "ledger" becomes "ledger_": the ledger has that
 * name); the API lists and serves the files by it. */
void sgs_agg_report_group_csv_name(char *out, size_t size, const char *month, const char *group);

/* The report files of a month, in the order they are written (the JSON last:
 * once a version's JSON is there, so are its other files):
 *   YYYY-MM-<group>.csv   one per group of the document (the id, file-safe)
 *   YYYY-MM-notice.md     the notice
 *   YYYY-MM-ledger.csv    the ledger (台账)
 *   YYYY-MM.xlsx          the workbook
 *   YYYY-MM-report.html   the printable report
 *   YYYY-MM.json          the snapshot
 * snapshot is a snapshot document (s->json, or a version stored in Redis):
 * its "month" and "groups". The console serves exactly this list. *names is
 * strdup'ed (sgs_agg_strv_free). 0, or -1 (no month, or out of memory). */
int sgs_agg_report_files(const json_t *snapshot, char ***names, size_t *n);
/* Content type of a report file, by its name's ending ("text/csv;
 * charset=utf-8", ...); "application/octet-stream" for others. */
const char *sgs_agg_report_content_type(const char *name);
/* Writes every file of sgs_agg_report_files into dir (created when missing),
 * each atomically. 0 / -1. */
int sgs_agg_report_write(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *dir,
                         char *errstr, size_t errstr_size);
/* Appends to out the bytes sgs_agg_report_write writes for the file name of
 * s's list (the workbook through a temporary file in TMPDIR, else /tmp). 0;
 * 1 when name is not in the list (nothing appended); -1 with errstr. */
int sgs_agg_report_render(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *name,
                          sgs_buf *out, char *errstr, size_t errstr_size);
/* YYYY-MM.json's bytes of a snapshot document: pretty-printed, a newline
 * last (the same for s->json and for a stored version loaded from Redis).
 * Out of memory: b->oom. */
void sgs_agg_report_json(sgs_buf *b, const json_t *doc);
/* A text as one CSV cell: quoted when it holds a comma, quote, CR or LF (quotes
 * doubled); a text starting with = + - @ TAB or CR, which a spreadsheet program
 * would take for a formula, gets a leading apostrophe (OWASP's CSV injection
 * advice), so it opens as the same text. */
void sgs_agg_csv_text(sgs_buf *b, const char *s);
/* YYYY-MM-ledger.csv: UTF-8 with BOM, CRLF, the header and one line per ledger
 * entry. */
void sgs_agg_ledger_csv(sgs_buf *b, const sgs_agg_snapshot *s);

/* ---- render.c ----------------------------------------------------------- */

/* Outcomes of sgs_agg_render_latest. */
enum {
    SGS_AGG_RENDER_OK = 0,      /* out holds the file */
    SGS_AGG_RENDER_NONE = 1,    /* no snapshot, or no such file of the latest version */
    SGS_AGG_RENDER_CHANGED = 2, /* cannot be rendered as that version's (errstr: why) */
    SGS_AGG_RENDER_ERROR = 3,   /* Redis failed (errstr) */
    SGS_AGG_RENDER_BROKEN = 4,  /* the stored version or the rendering failed (errstr) */
};
/* Appends to out the report file `name` of the month's latest stored version
 * (*version), byte for byte what `snapshot --month` writes when it keeps that
 * version: YYYY-MM.json from the stored document; a group's CSV from a model
 * of the document (CHANGED when the registry or the report configuration
 * makes another document of those figures); the notice, the ledger, the
 * workbook and the page from the month built from Redis, CHANGED when its
 * content is no longer that version's (render.c says why). Uses ctx's Redis
 * handle: one thread at a time. */
int sgs_agg_render_latest(sgs_agg_ctx *ctx, int year, int month, const char *name, sgs_buf *out,
                          long *version, char *errstr, size_t errstr_size);

/* ---- xlsx.c ------------------------------------------------------------- */

/* Writes the workbook of s to path: a sheet per group (annex title, header,
 * the rows and 合计 with numbers as numbers, column widths for Chinese text,
 * frozen header) and the 台账 sheet (the ledger). Every text is written as a
 * string, never as a formula. 0 / -1 with errstr. */
int sgs_agg_xlsx_write(const sgs_agg_snapshot *s, const sgs_config *cfg, const char *path,
                       char *errstr, size_t errstr_size);
/* Sheet name of a group name: characters Excel refuses ([]:*?/\) replaced,
 * at most 31 characters, not empty, not 台账. out: at least 128 bytes. */
void sgs_agg_xlsx_sheet_name(const char *name, char *out, size_t size);

/* ---- htmltext.c --------------------------------------------------------- */

/* Text as HTML character data or an attribute value: & < > " ' escaped. */
void sgs_agg_html_text(sgs_buf *b, const char *s);

/* ---- svg.c -------------------------------------------------------------- */

/* A horizontal bar chart (inline SVG) of n labelled values: counts, or rates
 * in hundredths of a percent when percent is set (a value < 0: no records,
 * shown as "-" without a bar). Labels are escaped. */
void sgs_agg_svg_bars(sgs_buf *b, const char *title, const char *const *labels,
                      const int64_t *values, size_t n, int percent);
/* The trend chart: records per month as bars, the late rate as a line on a
 * second axis; months without a snapshot have neither. */
void sgs_agg_svg_trend(sgs_buf *b, const sgs_agg_history_point *h, size_t n);

/* ---- html.c ------------------------------------------------------------- */

/* YYYY-MM-report.html: one self-contained page (no external resource) for
 * A4 print: the notice, the trend chart, and per group a page with its annex
 * table and its charts (units by records, by late rate). Pure. Out of memory:
 * b->oom. */
void sgs_agg_html_build(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg);

/* ---- notice.c ----------------------------------------------------------- */

/* The notice's lines that are not paragraphs (sgs_agg_notice_sink.line). */
enum sgs_agg_notice_line {
    SGS_AGG_NOTICE_VERSION,    /* （第N版，替代此前发布的版本） */
    SGS_AGG_NOTICE_SALUTATION, /* 各成员单位： */
    SGS_AGG_NOTICE_ANNEXES,    /* 附件：1. ... */
    SGS_AGG_NOTICE_DATE,       /* notice.date, else the date of generated_at */
    SGS_AGG_NOTICE_ISSUER,     /* notice.issuer above the title (发文机关) */
    SGS_AGG_NOTICE_DOC_NO,     /* notice.doc_no under it (文号) */
    SGS_AGG_NOTICE_SIGNATURE,  /* notice.issuer again over the date (署名) */
};
/* Where a figure fits (sgs_agg_notice_sink.figure). */
enum sgs_agg_notice_figure {
    SGS_AGG_NOTICE_FIG_TREND, /* after the overview: the last 12 months */
};
/* What the notice is written to: plain texts (never NULL, never markup) in
 * reading order. */
typedef struct sgs_agg_notice_sink {
    void (*heading)(void *arg, int level, const char *text); /* 1 title, 2, 3 */
    void (*paragraph)(void *arg, const char *text);
    void (*line)(void *arg, enum sgs_agg_notice_line role, const char *text);
    void (*figure)(void *arg, enum sgs_agg_notice_figure which); /* NULL: none */
    /* Annex number (1, 2, ...) of group g: its title and its table. The last
     * annex has g NULL: the ledger (台账, s->ledger), which holds the details
     * of every list the notice cuts ("详见附件N"). */
    void (*annex)(void *arg, size_t number, const sgs_agg_group *g, const char *title);
    void *arg;
} sgs_agg_notice_sink;

/* Emits the notice of a finished snapshot: notice.issuer and notice.doc_no
 * when set, title (report.title), overview (with updates and revocations in
 * one sentence when there are any), the six indicator sections (each list
 * ordered by its own figure, most first; a cut list names the annex holding
 * the rest), requirements (report.requirements; when empty, a paragraph
 * naming the deadline.*.workdays), annex list, notice.issuer again and the
 * date (notice.date, else generated_at's), one annex per group and the ledger
 * annex. A pure function of s and cfg. 0, or -1 when out of memory (texts may
 * then be missing). */
int sgs_agg_notice_emit(const sgs_agg_notice_sink *sink, const sgs_agg_snapshot *s,
                        const sgs_config *cfg);
/* The title of the ledger annex (the last one, number n_groups + 1):
 * “双公示”数据报送问题台账（YYYY年M月）. */
void sgs_agg_notice_ledger_title(const sgs_agg_snapshot *s, char *out, size_t size);
/* The notice as markdown (YYYY-MM-notice.md). Out of memory: b->oom is set. */
void sgs_agg_notice_build(sgs_buf *b, const sgs_agg_snapshot *s, const sgs_config *cfg);
/* The text of an annex table's cells for row i of g (i == g->n_rows: the 合计
 * row): 序号, 成员单位名称, 数据总量, 迟报量, 迟报率(%). bufs: 4 x 32 bytes. */
void sgs_agg_annex_cells(const sgs_agg_snapshot *s, const sgs_agg_group *g, size_t i,
                         const char *cells[5], char bufs[4][32]);

/* ---- alerts.c ----------------------------------------------------------- */

/* Merges alert list items "<unix ms> <alert JSON>" (k lists, given one after
 * the other, each newest first) into a JSON array of the n newest alert
 * objects, newest first (ties keep the input order). Items that are not
 * "<ms> <JSON object>" are skipped. NULL when out of memory. Pure. */
json_t *sgs_agg_alerts_merge(const char *const *items, const size_t *lens, size_t n_items,
                             size_t n);
/* The n latest alerts kept in Redis (P:T:al of every partition with state),
 * newest first: a JSON array (new reference), or NULL with errstr. */
json_t *sgs_agg_alerts_latest(sgs_agg_ctx *ctx, size_t n, char *errstr, size_t errstr_size);

/* ---- spotcheck.c, status.c, watch.c --------------------------------------- */

/* A spot check of a sample's text (name: the sample's name in messages): parsed
 * (a bad line fails it all: *usage = 1 and "NAME:LINE: why"), looked up, the
 * concealed decisions stored; the result object `spot-check` prints (new
 * reference), or NULL with errstr. dry_run: looked up, nothing stored; the
 * result has "dry_run": true. Decisions not found whose finding was withdrawn
 * before are counted in "withdrawn_before" (when any), not in "concealed" (a
 * withdrawal is final for the month); "withdrawn" lists the month's
 * withdrawals (when any). */
json_t *sgs_agg_spotcheck_exec(sgs_agg_ctx *ctx, int year, int month, const char *name,
                               const char *text, size_t len, int dry_run, int *usage, char *errstr,
                               size_t errstr_size);
/* Withdraws the stored findings the sample's rows name (same TSV), with
 * reason (non-empty UTF-8, the caller's check) and the current time:
 * HSETNX P:withdrawn:YYYY-MM <identity> {"reason", "at"}, never changed
 * afterwards. A row that names no finding in P:concealed:YYYY-MM fails the
 * whole run before anything is written (*usage = 1, "NAME:LINE: why"), as
 * does a malformed line. dry_run: checked, nothing written. The result (new
 * reference): {"month", ["dry_run",] "reason", "at", "withdrawn_now", "items"
 * (the rows; "already_withdrawn": true on one withdrawn before, which keeps
 * its first reason), "withdrawn" (the month's trail)}; NULL with errstr. */
json_t *sgs_agg_spotcheck_withdraw(sgs_agg_ctx *ctx, int year, int month, const char *name,
                                   const char *text, size_t len, const char *reason, int dry_run,
                                   int *usage, char *errstr, size_t errstr_size);
/* A withdrawal's reason as the notice prints it: one line of UTF-8 without
 * control characters, 1 to SGS_AGG_REASON_MAX bytes. 0, or -1 with why
 * ("expected ..."), for the CLI (--reason) and the API (reason=) alike. */
#define SGS_AGG_REASON_MAX 1000
int sgs_agg_spotcheck_reason_check(const char *reason, char *why, size_t why_size);
/* spot-check: withdraw_reason non-NULL withdraws (--withdraw --reason). */
int sgs_agg_cmd_spotcheck(sgs_agg_ctx *ctx, int year, int month, const char *sample_path,
                          const char *withdraw_reason, int dry_run);
/* Whether an HGETALL reply (of P:concealed or P:withdrawn; NULL: empty) has
 * the field identity (len bytes). */
int sgs_agg_spot_has(const redisReply *hash, const char *identity, size_t len);
/* The withdrawals of an HGETALL reply of P:withdrawn:YYYY-MM, registry units
 * only: [{"unit_id", "name", "kind", "doc_no" (normalised), "reason", "at"}]
 * ordered by time, then unit, kind and number. New reference; NULL when out
 * of memory. */
json_t *sgs_agg_spot_trail(const redisReply *withdrawn, const sgs_registry *reg);
/* Appends to out the live counters of every unit (or of one: unit = an id, name
 * or alias) as `status --json` prints them (pretty: indented) and GET
 * /api/v1/live answers them: {"today", "month", "timezone", "read_at",
 * ["rebuilding",] "groups": [{"group", "name"}], "units": [{"unit_id", "name",
 * "group", "today", "month", "last_7_days", "last_30_days"}], "totals"}, each
 * window {"records", "late", "late_rate", "invalid"}. 0, or -1 with errstr
 * (*bad_unit = 1 when unit names none). */
int sgs_agg_status_write(sgs_agg_ctx *ctx, const char *unit, int pretty, sgs_buf *out,
                         int *bad_unit, char *errstr, size_t errstr_size);
int sgs_agg_cmd_status(sgs_agg_ctx *ctx, const char *unit, int json);
/* Whether a month is due for its snapshot on today, by watch's rule: the
 * grace-th working day after its last day has passed (grace 0: from the first
 * day of the next month). */
int sgs_agg_month_due(const sgs_calendar *cal, long grace, sgs_day today, int year, int month);
/* The first day on which the month is due (closed) by that rule. */
sgs_day sgs_agg_month_closes(const sgs_calendar *cal, long grace, int year, int month);
int sgs_agg_cmd_watch(sgs_agg_ctx *ctx);
/* serve (serve.c): the console, the HTTP API and the metrics on listen (NULL:
 * http.listen) until SIGINT/SIGTERM. Returns an exit status. */
int sgs_agg_cmd_serve(sgs_agg_ctx *ctx, const char *listen);

#endif

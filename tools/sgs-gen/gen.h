/* sgs-gen: private header of the files of tools/sgs-gen.
 *
 * sgs-gen generates one month of realistic record events (REFERENCE §3, the
 * national data items of RULES §5) and, from its own choices (not by parsing
 * its output), the exact counters a correct consumer ends up with (--expect).
 *
 * How the ground truth stays exact:
 * - every record is planned first (unit, kind, report day, late or on time,
 *   invalid rule), then dated: a late record gets a decision date whose deadline
 *   (sgs_calendar_deadline) is before its report day, an on-time one a date whose
 *   deadline is on or after it; invalid records are always on time (or have no
 *   deadline at all), so "late" never depends on how a rule failure is handled;
 * - every invalid record breaks exactly one rule and is written in the native
 *   format (the national adapter has no say in it);
 * - document numbers are consecutive per (unit, kind, year); invalid records take
 *   the serials above all valid ones, so whether a consumer keeps their numbers or
 *   not, the only holes are the ones --gaps asked for; a month's numbers continue
 *   those the earlier months of the same seed and options gave (serials.c replays
 *   their plans), so consecutive months together have no other holes and no
 *   number twice;
 * - a duplicate re-sends a valid record that has reported_at, later in the stream,
 *   under the same key (so in the same partition), often with another spelling of
 *   its document number; counts are per report month, which is the same. One of
 *   --resend-other-key goes under another key: whichever copy a consumer reads
 *   first is the record, the other the duplicate, and the counts are the same;
 * - an update or revoke (--updates, --revokes) re-sends a valid record that has
 *   reported_at, later the same month and under its key, so it follows its
 *   original in one partition (keyless ones are placed in one partition by the
 *   generator); a revoked decision is re-sent no other way. Revokes of decisions
 *   never generated carry serials no record has;
 * - a record of --national-by-organ is valid, of a unit whose authority's code or
 *   name finds it in the registry the way a national reader looks (the code,
 *   else the name), and written without its source unit.
 * - every message produced carries a Kafka timestamp inside the month (its send
 *   time), so messages without a usable reported_at (malformed ones, the
 *   --no-reported-at share) fall into the month too; --no-timestamps leaves the
 *   timestamp to librdkafka.
 *
 * Text in events is built from literals of these files only (no quotes, no
 * backslashes, valid UTF-8), so it is written into JSON without escaping.
 *
 * Same seed, same bytes: every random choice comes from one of the streams
 * below in a fixed order (the plan's stream, then each record's own), so the
 * order in which main.c calls the stages is part of the output. --key,
 * --updates, --revokes, --national-by-organ and --resend-other-key draw from an
 * extra stream of their own (struct gen), and add nothing when not given: the
 * output without them is what it was before they existed.
 *
 * The expectation file (--expect), JSON, what a correct consumer counts:
 *   month, messages     the month; messages written or produced
 *   units               per registry unit: records (first reports), late,
 *                       invalid, duplicates (re-sends of decisions already
 *                       seen, --resend-other-key ones included), licenses,
 *                       penalties; with --updates or --revokes also updates and
 *                       revoked; with --national-by-organ also from_organ
 *                       (records whose unit is their deciding organ)
 *   unattributed        unknown_unit rejects
 *   malformed           malformed_json rejects
 *   rejects             invalid + malformed + unattributed + unknown_record
 *   late_alerts         one per late record
 *   gaps                per unit: [{kind, year, missing: [serial, ...]}]
 *   doc_nos             per unit: a few normalised document numbers sent
 *   updates, revoked, unknown_record   totals, with --updates or --revokes
 *                       (unknown_record: revokes of decisions never generated)
 *   from_organ          total, with --national-by-organ
 *   resent_other_key    with --resend-other-key: duplicates under another key
 *   key                 the --key mode, when it is not unit
 * The lines of --out carry "_kafka_timestamp_ms" where a record has no
 * reported_at, and "_kafka_key" (the key, or null) with --key or
 * --resend-other-key; a consumer reads them as unknown extra fields.
 *
 * The files, one job each:
 *   main.c       the run: configuration, registry, calendar, the stages in order
 *   cli.c        the command line (options, --help)
 *   tables.c     domain vocabulary: penalty categories, licence and penalty
 *                items by profile, departments without a profile, areas
 *   units.c      the units: profile, authority, document-number prefixes, volume
 *   plan.c       the plan: records per unit, late ones, formats, reported_at
 *   picks.c      random picks: k of n candidates, one by cumulative weight
 *   timestamps.c deadlines, report days and times, decision dates, Kafka timestamps
 *   serials.c    document numbers: serials per (unit, kind, year) with the
 *                holes of --gaps, spellings
 *   fields.c     a record's fields from its own seed: subject, identifiers,
 *                licence or penalty content
 *   faults.c     what a consumer must refuse or see through: invalid records,
 *                unknown units, malformed messages, duplicates (also under
 *                another key)
 *   events.c     the stream: one event per message, in send order, and its text
 *   resends.c    the event of a record sent again (duplicate, update, revoke)
 *   keys.c       message keys (--key, --resend-other-key) and placed partitions
 *   changes.c    updates and revokes (--updates, --revokes)
 *   extras.c     what a message carries after its record: op, JSONL extras
 *   native.c     the native writer (REFERENCE §3)
 *   national.c   the national writer (RULES §5), --national-by-organ
 *   expect.c     the expectation file (--expect)
 *   jsonl.c      the JSONL file (--out)
 *   produce.c    producing to Kafka (--produce) */
#ifndef SGS_GEN_H
#define SGS_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "sgs/buf.h"
#include "sgs/calendar.h"
#include "sgs/config.h"
#include "sgs/date.h"
#include "sgs/registry.h"

#define EXIT_USAGE   2
#define EXIT_RUNTIME 1

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream for the plan and one per record for
 * its content, so a record renders the same wherever it is re-sent. */

typedef struct rng {
    uint64_t s;
} rng;

static inline uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline int rng_chance(rng *r, double p)
{
    return rng_unit(r) < p;
}

static inline double rng_normal(rng *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static inline long rng_range(rng *r, long lo, long hi) /* inclusive */
{
    return lo + (long)rng_below(r, (uint32_t)(hi - lo + 1));
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)ARRAY_LEN(arr))])

/* ------------------------------------------------------------------------ */
/* Output buffer appends with the common case inline (the buffer is reserved per
 * event); the sgs_buf functions handle growth and allocation failure. */

static inline void bmem(sgs_buf *b, const char *p, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else {
        sgs_buf_append(b, p, n);
    }
}

static inline void bputs(sgs_buf *b, const char *s)
{
    bmem(b, s, strlen(s));
}

static inline void bputc(sgs_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        sgs_buf_putc(b, c);
    }
}

/* ------------------------------------------------------------------------ */
/* JSON writing (text is safe by construction, see the top of the file) */

static inline void jkey(sgs_buf *b, const char *key, int *first)
{
    if (!*first)
        bputc(b, ',');
    *first = 0;
    bputc(b, '"');
    bputs(b, key);
    bputs(b, "\":");
}

static inline void jstr(sgs_buf *b, const char *s)
{
    bputc(b, '"');
    bputs(b, s);
    bputc(b, '"');
}

static inline void jkv(sgs_buf *b, const char *key, const char *s, int *first)
{
    jkey(b, key, first);
    jstr(b, s);
}

static inline void jkv_or_null(sgs_buf *b, const char *key, const char *s, int *first)
{
    jkey(b, key, first);
    if (s && *s)
        jstr(b, s);
    else
        bputs(b, "null");
}

static inline void jday(sgs_buf *b, const char *key, sgs_day d, int *first)
{
    char buf[16];
    jkv(b, key, sgs_day_format(d, buf), first);
}

/* ------------------------------------------------------------------------ */
/* Small text helpers */

static inline size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static inline int starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static inline void sappend(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + m + 1 > cap)
        m = cap - n - 1;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Domain tables (tables.c) */

enum { WHO_L = 1, WHO_I = 2, WHO_N = 4, WHO_ALL = 7 };
enum { SUBJ_LEGAL = 0, SUBJ_INDIV = 1, SUBJ_NATURAL = 2 };

enum kind { KIND_LICENSE = 1, KIND_PENALTY = 2 };

/* Penalty categories (行政处罚法 2021 art. 9), bit i = name i. */
enum {
    C_WARN = 1 << 0,
    C_CRITIC = 1 << 1,
    C_FINE = 1 << 2,
    C_CONFISC = 1 << 3,
    C_CONFPROP = 1 << 4,
    C_SUSPEND = 1 << 5,
    C_LOWER = 1 << 6,
    C_REVOKE = 1 << 7,
    C_LIMIT = 1 << 8,
    C_STOP = 1 << 9,
    C_CLOSE = 1 << 10,
    C_BAN = 1 << 11,
    C_DETAIN = 1 << 12,
    C_OTHER = 1 << 13,
};
/* The name of each category bit. */
#define N_CATS 14
extern const char *const gen_cat_names[N_CATS];

struct lic_item {
    const char *content;
    const char *category; /* 普通 特许 认可 核准 登记 其他 */
    int years;            /* validity in years, 0: no end date */
    unsigned who;
};

struct pen_item {
    const char *violation;
    const char *basis;
    unsigned cats, alt_cats;
    long fine_min, fine_max; /* yuan, when C_FINE */
    unsigned who;
};

enum profile {
    P_MARKET,
    P_POLICE,
    P_TRAFFIC,
    P_HEALTH,
    P_HOUSING,
    P_URBAN,
    P_ENV,
    P_SAFETY,
    P_MISC,
    N_PROFILES
};

/* Departments without a profile of their own: one licence and one penalty each,
 * matched by a word of the unit name. Unmatched units draw from all of them. */
struct misc_item {
    const char *match;
    struct lic_item lic;
    struct pen_item pen;
};
extern const struct misc_item gen_misc_items[];
extern const size_t gen_n_misc_items;

struct profile_def {
    const struct lic_item *lic;
    size_t n_lic;
    const struct pen_item *pen;
    size_t n_pen;
    double subj_lic[3], subj_pen[3]; /* legal, individual business, natural person */
    const char *const *industries;
    size_t n_industries;
    const char *const *shops;
    size_t n_shops;
};

extern const struct profile_def gen_profiles[N_PROFILES];

/* Pingdingshan's area codes (GB/T 2260). */
struct area {
    const char *code;
    const char *name;
};
extern const struct area gen_areas[];
extern const size_t gen_n_areas;

/* Names for events from units that are not in the registry. */
struct foreign_unit {
    const char *name;
    const char *abbr;
};

/* ------------------------------------------------------------------------ */
/* Units and the plan */

struct gunit {
    const sgs_unit *u;
    int is_city;
    enum profile profile;
    int misc; /* misc_items index for P_MISC, -1: draw per record */
    const struct area *area;
    double weight, lic_share, late_prop;
    char auth_name[160];
    char auth_uscc[19];
    char prefix[3][96];   /* indexed by kind */
    char place[64];       /* place name used in subject names */
    const char *alias_id; /* an alias of the registry that is an id of this unit, or NULL */
    int organ_ok;         /* national readers find this unit by its authority (the organ) */
    int organ_by_name;    /* ... by the authority's name (its code names no unit) */
    /* expectation */
    long records, late, invalid, duplicates, licenses, penalties;
    long updates, revoked, from_organ;
};

enum rule {
    R_NONE = 0,
    R_BAD_USCC,
    R_BAD_ID_NO,
    R_MISSING_FIELD,
    R_BAD_DATE,
    R_FUTURE_DECISION,
    R_BAD_VALIDITY,
    R_BAD_AMOUNT,
    R_BAD_KIND,
    R_BAD_DOC_NO,
    N_RULES
};

struct rec {
    uint64_t seed;     /* content */
    int64_t report_ts; /* Unix seconds */
    sgs_day decision;  /* the real decision date (bad_date writes a false one) */
    sgs_day report_day;
    uint32_t serial; /* 0: no serial (junk doc_no) */
    uint32_t unit;   /* index into units, or into foreign ids when foreign */
    uint16_t year;   /* year of the doc number */
    uint8_t kind;
    uint8_t rule;
    uint8_t late;
    uint8_t national;
    uint8_t no_reported;
    uint8_t foreign;  /* unit not in the registry */
    uint8_t by_organ; /* national without its source unit: the organ is the unit */
    uint8_t resent;   /* re-sent (duplicate, update, other key): never revoked */
    uint8_t changed;  /* has an update or revoke: all its messages in one partition */
    uint8_t phantom;  /* a decision never generated, only revoked (unknown_record) */
};

enum ev_type { EV_RECORD, EV_DUPLICATE, EV_MALFORMED, EV_UPDATE, EV_REVOKE };

struct ev {
    int64_t ts; /* send time, Unix seconds */
    uint64_t vseed;
    uint32_t seq;
    uint32_t rec; /* record index (all but EV_MALFORMED) */
    uint8_t type;
    uint8_t other_key; /* EV_DUPLICATE: under another key than its original */
};

/* The vseed (spelling) of a record's own event (events.c); a re-send often
 * has it too (resends.c). */
#define REC_VSEED(rc) ((rc)->seed ^ 0xD1B54A32D192ED03ULL)

/* How messages are keyed (--key). */
enum key_mode { KEY_UNIT, KEY_NONE, KEY_ALIAS, KEY_NAME, KEY_MIXED };

struct foreign_id {
    char id[19];
    const struct foreign_unit *fu;
    char auth_name[160];
    char prefix[3][96];
};

struct gap_group { /* one (unit, kind, year) sequence with holes */
    uint32_t unit;
    uint8_t kind;
    uint16_t year;
    size_t first_missing, n_missing; /* into gen.missing */
};

enum out_format { FMT_NATIVE, FMT_NATIONAL, FMT_MIXED };

struct opts {
    const char *config_file;
    char **xs;
    size_t n_xs;
    const char *month;
    uint64_t seed;
    int have_seed;
    long records;
    double late_share;
    long invalid, duplicates, malformed, unknown, gaps;
    enum out_format format;
    const char *out;
    int produce;
    const char *expect;
    double no_reported_share;
    int no_timestamps;
    enum key_mode key;
    long updates, revokes, by_organ, resend_other_key;
};

#define DL_BEFORE 120 /* days of deadlines cached before the month */
#define DL_AFTER  40

struct gen {
    struct opts o;
    sgs_config *cfg;
    sgs_registry *reg;
    sgs_calendar *cal;
    int workdays[3];
    int count_decision_day;
    int tz;
    int year, month;
    sgs_day first, last;
    rng plan;

    struct gunit *units;
    size_t n_units;

    struct rec *recs;
    size_t n_recs;     /* registry records */
    size_t n_all_recs; /* + foreign ones after them */
    size_t n_phantoms; /* + decisions never generated (revoked only) after those */
    struct foreign_id *foreign;
    size_t n_foreign;

    struct ev *evs;
    size_t n_evs;

    struct gap_group *gap_groups;
    size_t n_gap_groups;
    uint32_t *missing;
    size_t n_missing;

    sgs_day dl_base;
    size_t dl_n;
    sgs_day *deadline[3]; /* by kind, day dl_base + i */

    long n_late;
    double day_cum[31]; /* cumulative report-day weights of the month */

    /* Consecutive months (serials.c): a month's document numbers continue the
     * earlier months' of the same seed and options, whose plans are replayed
     * to count them. replay: this is such an earlier month, planned only to
     * add the serials it numbers per (unit, kind, year) to used, indexed
     * ((unit * 2 + kind - 1) * used_ny + year - used_ymin), other years
     * ignored. */
    int replay;
    uint32_t *used;
    int used_ymin, used_ny;

    /* The stream of the choices of --updates, --revokes, --national-by-organ
     * and --resend-other-key, apart from the plan's: without them the plan's
     * stream and so the output stay what they were; with them the same records
     * are planned, and only what they ask for is added. */
    rng extra;
};

/* ------------------------------------------------------------------------ */
/* Record content, derived from the record's own seed */

struct content {
    int subj;
    char subj_name[200];
    char uscc[19]; /* "" none */
    char id_no[19];
    char rep[32]; /* legal representative / operator */
    const struct lic_item *lic;
    const struct pen_item *pen;
    unsigned cats;
    long fine, confisc; /* yuan, -1 none */
    int detain_days, stop_days, suspend_months;
    sgs_day valid_from;
    int has_valid_to;
    sgs_day valid_to;
    char record_id[40];
    int variant; /* which form of the broken rule */
};

/* ------------------------------------------------------------------------ */
/* The stages and what they share, by file */

/* plan.c: every record of the registry units planned (g->recs), in the order
 * of the stages below; 0, or -1 with a message in errstr. */
int gen_plan(struct gen *g, char *errstr, size_t errstr_size);

/* picks.c */
/* Picks exactly k of the n candidates: uniformly (w NULL) or weighted without
 * replacement; out sorted by record index. */
void gen_pick_k(rng *r, const uint32_t *cand, size_t n, const double *w, size_t k, uint32_t *out);
/* One index of n drawn by weight, given the cumulative weights (cum[n - 1] > 0). */
size_t gen_pick_cumulative(rng *r, const double *cum, size_t n);

/* units.c */
void gen_units_setup(struct gen *g);
/* Largest-remainder allocation of n over k weights: exact and deterministic. */
void gen_units_allocate(long n, const double *w, size_t k, long *out);
/* The unit id a record is reported under (registry id, or an unknown one). */
const char *gen_units_rec_id(const struct gen *g, const struct rec *rc);
/* The authority (deciding organ) of a record's unit: its name and credit code. */
void gen_units_authority(const struct gen *g, const struct rec *rc, const char **name,
                         const char **uscc);

/* timestamps.c */
/* The deadline cache around the month and the report-day weights. */
void gen_times_setup(struct gen *g);
/* Unix seconds of a local day and second of the day. */
int64_t gen_local_instant(const struct gen *g, sgs_day day, long secs);
/* A time of day (seconds) for a report on a working day or another day. */
long gen_time_of_day(rng *r, int workday);
/* A report day of the month and a time on it. */
void gen_times_report(const struct gen *g, rng *r, struct rec *rc);
/* Decision dates of the registry units' records: 0, or -1 with errstr. */
int gen_times_decisions(struct gen *g, char *errstr, size_t errstr_size);
/* The Kafka timestamp of an event (ms), inside the month. */
int64_t gen_times_kafka_ms(const struct ev *e);
double gen_now_seconds(void);

/* serials.c */
/* Serial numbers per (unit, kind, year), with the holes of --gaps. */
/* used: the serials the earlier months gave each (unit, kind, year), years
 * ymin..ymin+ny-1 (plan.c replays them); NULL in a replayed month, which only
 * counts its own into g->used. */
int gen_serials_plan(struct gen *g, const uint32_t *used, int ymin, int ny, char *errstr,
                     size_t errstr_size);
/* The document number field of a record ("..." included), spelt by vseed. */
void gen_serials_put_doc(const struct gen *g, sgs_buf *b, const struct rec *rc, uint64_t vseed);
/* The normal form of a record's document number. */
void gen_serials_norm(const struct gen *g, const struct rec *rc, char *out, size_t cap);

/* fields.c */
extern const char gen_uscc_alphabet[32];
void gen_fields_build(const struct gen *g, const struct rec *rc, struct content *c);
void gen_fields_penalty_text(const struct content *c, char *out, size_t cap);
/* Fine in 万元 as exact decimal text from an amount in yuan. */
void gen_fields_format_wan(char *out, size_t cap, long yuan);

/* faults.c */
int gen_faults_plan_invalid(struct gen *g, uint32_t *cand, uint32_t *pick, char *errstr,
                            size_t errstr_size);
void gen_faults_plan_unknown(struct gen *g);
int gen_faults_plan_duplicates(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size);
int gen_faults_plan_resends(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size);
void gen_faults_plan_malformed(struct gen *g, int64_t month_start, int64_t month_end);
void gen_faults_render_malformed(const struct gen *g, sgs_buf *b, const struct ev *e);

/* events.c */
int gen_events_plan(struct gen *g, char *errstr, size_t errstr_size);
/* The text of event e; jsonl: with the extras of the JSONL file. */
void gen_events_render(const struct gen *g, sgs_buf *b, const struct ev *e, int jsonl);

/* keys.c */
/* The key of event e (NULL: no key). */
const char *gen_keys_of(const struct gen *g, const struct ev *e);
/* Whether JSONL lines carry "_kafka_key" (keys other than the unit id). */
int gen_keys_in_jsonl(const struct gen *g);
/* The partition of e among n_partitions, or -1 to leave it to librdkafka: a
 * keyless message of a decision with an update or revoke goes to one partition
 * chosen from the decision, so that they follow it. */
int gen_keys_partition(const struct gen *g, const struct ev *e, int n_partitions);

/* resends.c */
/* Adds an event re-sending record i (type EV_DUPLICATE, EV_UPDATE or
 * EV_REVOKE) later the same month, drawn from r. */
struct ev *gen_resends_add(struct gen *g, rng *r, uint32_t i, uint8_t type, int64_t month_end);

/* changes.c: updates, revokes, revokes of decisions never generated */
long gen_changes_phantoms(long revokes);
int gen_changes_plan(struct gen *g, int64_t month_end, char *errstr, size_t errstr_size);

/* How one message of a record is written. */
struct render {
    uint64_t vseed; /* the spelling of its document number */
    uint8_t type;   /* the event's (enum ev_type): EV_UPDATE and EV_REVOKE write their op */
    int with_ts;    /* "_kafka_timestamp_ms": ts_ms (JSONL, a record without reported_at) */
    int64_t ts_ms;
    int with_key; /* "_kafka_key": key, null when NULL (JSONL with --key) */
    const char *key;
};

/* extras.c: what follows a record's own items: op (native "op", national
 * "SYNC_STATUS") for updates and revokes, then the JSONL extras. */
void gen_extras_put(sgs_buf *b, const struct render *m, int national, int *first);

/* native.c, national.c */
void gen_native_render(const struct gen *g, sgs_buf *b, const struct rec *rc,
                       const struct render *m);
void gen_national_render(const struct gen *g, sgs_buf *b, const struct rec *rc,
                         const struct render *m);
/* --national-by-organ: records written without their source unit. */
int gen_national_plan_by_organ(struct gen *g, char *errstr, size_t errstr_size);

/* expect.c */
void gen_expect_count(struct gen *g);
int gen_expect_write(const struct gen *g, char *errstr, size_t errstr_size);

/* jsonl.c, produce.c: 0, or -1 (produce: -2 for a configuration error) */
int gen_jsonl_write(const struct gen *g, char *errstr, size_t errstr_size);
int gen_produce(const struct gen *g, double t0, char *errstr, size_t errstr_size);

/* cli.c: 0 ok, 1 help printed, -1 error in errstr */
int gen_cli_parse(int argc, char **argv, struct opts *o, char *errstr, size_t errstr_size);

#endif

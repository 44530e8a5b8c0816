/* Record events: sgs_record_parse (sgs/record.h), in two stages kept apart so
 * that reading can change without touching the rules (the files share
 * record_view.h):
 *
 *   1. read: sgs_jsonscan tokenizes and validates the message (strict, as
 *      jansson's json_loadb with JSON_REJECT_DUPLICATES); one pass over the
 *      top-level object finds the members either format reads, and the format's
 *      reader (record_native.c, record_national.c) fills a record_view, a view
 *      of borrowed (pointer, length) values in the same shape for both formats;
 *   2. check: sgs_record_check (record_rules.c) applies every rule to the view
 *      and fills the sgs_record. It knows nothing about JSON.
 *
 * This file puts the stages together: the thread's reader and the member
 * lookup both formats share are in record_view.c, the kind and op names in
 * record_rules.c. */
#include "record_view.h"

#include <string.h>

/* The input shown after a JSON error ("near '...'") */
#define NEAR_MAX 24

/* Reads the tokens of a message whose top level is an object into raw. */
static void extract(reader *rd, record_view *raw)
{
    size_t at[TK_COUNT];

    memset(at, 0, sizeof(at));
    sgs_record_members(rd, 0, MEMBERS_TOP, at);
    if (!sgs_record_read_national(rd, at, raw)) {
        sgs_record_read_native(rd, at, raw);
    }
}

static void reset(sgs_record *out)
{
    /* Field by field would save little: the struct is a few KB and has no
     * pointers to free. */
    memset(out, 0, sizeof(*out));
}

static const char *json_type_text(enum sgs_json_type type)
{
    switch (type) {
    case SGS_JSON_ARRAY:
        return "JSON array";
    case SGS_JSON_STRING:
        return "JSON string";
    case SGS_JSON_NUMBER:
        return "JSON number";
    case SGS_JSON_TRUE:
    case SGS_JSON_FALSE:
        return "JSON boolean";
    case SGS_JSON_NULL:
        return "JSON null";
    default:
        return "JSON value";
    }
}

void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out)
{
    reader *rd;
    record_view raw;
    size_t ntok;

    reset(out);
    if (buf == NULL || len == 0) {
        sgs_record_malformed(out, rules, msg_timestamp_ms, "empty message, expected a JSON object");
        return;
    }
    rd = sgs_record_reader();
    if (rd == NULL) {
        sgs_record_malformed(out, rules, msg_timestamp_ms, "out of memory reading the message");
        return;
    }
    /* The tokenizer refuses what jansson's json_loadb with
     * JSON_REJECT_DUPLICATES refuses (see sgs/jsonscan.h): invalid UTF-8, lone
     * surrogates, "\u0000" (so every string the rules see is a C string without
     * NUL), numbers a double or int64 cannot hold, duplicate keys, nesting
     * deeper than 2048. */
    if (sgs_jsonscan_parse(rd->scan, buf, len) != 0) {
        const sgs_jsonscan_error *err = sgs_jsonscan_last_error(rd->scan);
        char text[sizeof(err->text)], near[NEAR_MAX + 8];
        sgs_record_quote_text(text, sizeof(text), err->text, strnlen(err->text, sizeof(err->text)),
                              sizeof(text) - 1);
        /* what follows the position, as jansson's "near '...'" showed */
        sgs_record_quote_text(near, sizeof(near), buf + err->position, len - err->position,
                              NEAR_MAX);
        sgs_record_malformed(out, rules, msg_timestamp_ms,
                             "invalid JSON at byte %zu (line %d, column %d): %s%s%s%s",
                             err->position, err->line, err->column, text,
                             near[0] != '\0' ? ", near '" : "", near, near[0] != '\0' ? "'" : "");
        return;
    }
    rd->buf = buf;
    rd->len = len;
    rd->tok = sgs_jsonscan_tokens(rd->scan, &ntok);
    rd->text_used = 0;
    rd->text_ready = 0;
    rd->oom = 0;
    if (rd->tok[0].type != SGS_JSON_OBJECT) {
        sgs_record_malformed(out, rules, msg_timestamp_ms, "%s, expected an object",
                             json_type_text((enum sgs_json_type)rd->tok[0].type));
        return;
    }
    memset(&raw, 0, VIEW_CLEAR);
    extract(rd, &raw);
    if (rd->oom) {
        sgs_record_malformed(out, rules, msg_timestamp_ms, "out of memory reading the message");
        return;
    }
    sgs_record_check(rules, &raw, msg_timestamp_ms, out);
}

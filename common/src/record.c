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
 * The usual native message skips the tokens: record_fast.c reads it straight
 * into its view, and gives up on anything it cannot read exactly as stage 1
 * would, which then reads the message from its start.
 *
 * This file puts the stages together: the thread's reader and the member
 * lookup both formats share are in record_view.c, the kind and op names in
 * record_rules.c. */
#include "record_view.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* The input shown after a JSON error ("near '...'") */
#define NEAR_MAX 24

/* sgs_record_set_direct's setting less 1: 0 (the default) the direct reader
 * at its fastest, -1 off, 1 without its 32-byte steps, 2 without layouts */
static atomic_int direct_mode;
static _Thread_local uint64_t n_direct; /* messages the direct reader took */

int sgs_record_set_direct(int on)
{
    return atomic_exchange_explicit(&direct_mode, on - 1, memory_order_relaxed) + 1;
}

uint64_t sgs_record_direct_reads(void)
{
    return n_direct;
}

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
    /* Field by field would save little: the struct has no pointers to free.
     * The reasons (the last member, most of the struct) are set one by one
     * as they are added (sgs/record.h). */
    memset(out, 0, offsetof(sgs_record, reasons));
}

/* What the top level of a message is, in English (en) or Chinese. */
static const char *json_type_text(enum sgs_json_type type, int en)
{
    switch (type) {
    case SGS_JSON_ARRAY:
        return en ? "JSON array" : "JSON数组";
    case SGS_JSON_STRING:
        return en ? "JSON string" : "JSON字符串";
    case SGS_JSON_NUMBER:
        return en ? "JSON number" : "JSON数字";
    case SGS_JSON_TRUE:
    case SGS_JSON_FALSE:
        return en ? "JSON boolean" : "JSON布尔值";
    case SGS_JSON_NULL:
        return en ? "JSON null" : "JSON null值";
    default:
        return en ? "JSON value" : "JSON值";
    }
}

/* The message could not be read for want of memory. */
static void malformed_oom(sgs_record *out, const sgs_rules *rules, int64_t msg_timestamp_ms)
{
    sgs_record_reason_en(
        sgs_record_malformed(out, rules, msg_timestamp_ms, "读取消息时内存不足，未能检查该消息"),
        "out of memory reading the message");
}

void sgs_record_parse(const sgs_rules *rules, const char *buf, size_t len, int64_t msg_timestamp_ms,
                      sgs_record *out)
{
    reader *rd;
    record_view raw;
    size_t ntok;
    int mode;

    reset(out);
    if (buf == NULL || len == 0) {
        sgs_record_reason_en(
            sgs_record_malformed(out, rules, msg_timestamp_ms, "消息为空，应为一个JSON对象"),
            "empty message, expected a JSON object");
        return;
    }
    rd = sgs_record_reader();
    if (rd == NULL) {
        malformed_oom(out, rules, msg_timestamp_ms);
        return;
    }
    mode = atomic_load_explicit(&direct_mode, memory_order_relaxed);
    if (mode >= 0) {
        memset(&raw, 0, VIEW_CLEAR);
        if (sgs_record_read_fast(rd, buf, len, &raw, mode)) {
            n_direct++;
            sgs_record_check(rules, &raw, msg_timestamp_ms, out);
            return;
        }
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
        /* (the tokenizer's own text is English: it stays in both) */
        sgs_record_reason_en(
            sgs_record_malformed(out, rules, msg_timestamp_ms,
                                 "消息不是有效的JSON（应为UTF-8编码的JSON对象）：第%d行第%d列"
                                 "（第%zu字节）处出错%s%s%s；错误详情：%s",
                                 err->line, err->column, err->position,
                                 near[0] != '\0' ? "，附近内容为“" : "", near,
                                 near[0] != '\0' ? "”" : "", text),
            "invalid JSON at byte %zu (line %d, column %d): %s%s%s%s", err->position, err->line,
            err->column, text, near[0] != '\0' ? ", near '" : "", near, near[0] != '\0' ? "'" : "");
        return;
    }
    rd->buf = buf;
    rd->len = len;
    rd->tok = sgs_jsonscan_tokens(rd->scan, &ntok);
    rd->text_used = 0;
    rd->text_ready = 0;
    rd->oom = 0;
    if (rd->tok[0].type != SGS_JSON_OBJECT) {
        enum sgs_json_type top = (enum sgs_json_type)rd->tok[0].type;
        sgs_record_reason_en(sgs_record_malformed(out, rules, msg_timestamp_ms,
                                                  "消息是%s，应为一个JSON对象（{...}）",
                                                  json_type_text(top, 0)),
                             "%s, expected an object", json_type_text(top, 1));
        return;
    }
    memset(&raw, 0, VIEW_CLEAR);
    extract(rd, &raw);
    if (rd->oom) {
        malformed_oom(out, rules, msg_timestamp_ms);
        return;
    }
    sgs_record_check(rules, &raw, msg_timestamp_ms, out);
}

/* libFuzzer target: sgs_jsonscan, the record reader's tokenizer, against jansson.
 *
 * sgs/jsonscan.h promises to accept exactly what json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, and numbers jansson cannot
 * hold (beyond int64 or a double: valid JSON, read here as reals). The other
 * known difference is jansson's: it skips a NUL byte right after a literal or a
 * number ("{\"a\": null\0}" loads; akheron/jansson#331), which is not JSON;
 * input with a NUL byte must be refused here.
 *
 * When both accept, the token tree must be the DOM: same types, member and
 * element counts, decoded strings and keys, numbers (value and integer/real),
 * with consistent next indexes, and sgs_jsonscan_find finding every member. A
 * context with a small token cap gives the same answer or "too many values".
 * When it refuses, the error is set and points inside the input.
 *
 * Built only while common/include/sgs/jsonscan.h exists (CMakeLists.txt). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgs/jsonscan.h"

#define SMALL_CAP 8

static sgs_jsonscan *js, *js_small;
static char *scratch, *keybuf; /* decoded strings, keys: at most the input's size */
static size_t scratch_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    js = sgs_jsonscan_create(0);
    js_small = sgs_jsonscan_create(SMALL_CAP);
    FUZZ_CHECK(js != NULL && js_small != NULL);
    return 0;
}

static void check_string(const char *buf, const sgs_jsonscan_token *t, const char *s, size_t n)
{
    size_t got, cap;
    char *dst = scratch;

    FUZZ_CHECK(t->type == SGS_JSON_STRING);
    FUZZ_CHECK(n <= t->len);
    got = sgs_jsonscan_string(buf, t, dst);
    FUZZ_CHECK(got == n && (n == 0 || memcmp(dst, s, n) == 0));
    FUZZ_CHECK(sgs_utf8_valid(dst, got) && memchr(dst, '\0', got) == NULL);
    FUZZ_CHECK(sgs_jsonscan_string_equal(buf, t, s, n) == 1);
    if (n > 0)
        FUZZ_CHECK(sgs_jsonscan_string_equal(buf, t, s, n - 1) == 0);
    /* A prefix of whole characters, never more than asked for. */
    cap = n / 2 + 1;
    got = sgs_jsonscan_string_prefix(buf, t, dst, cap);
    FUZZ_CHECK(got <= cap && got <= n && memcmp(dst, s, got) == 0);
    FUZZ_CHECK(sgs_utf8_valid(dst, got));
    if ((t->flags & SGS_JSON_ESCAPED) == 0)
        FUZZ_CHECK(n == t->len && memcmp(buf + t->start, s, n) == 0);
}

/* Compares the value at token i with j; returns the index after it. */
static size_t compare(const char *buf, const sgs_jsonscan_token *tok, size_t count, size_t i,
                      const json_t *j)
{
    const sgs_jsonscan_token *t;
    size_t k;

    FUZZ_CHECK(i < count);
    t = &tok[i];
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        FUZZ_CHECK(t->type == SGS_JSON_OBJECT && t->len == json_object_size(j));
        k = i + 1;
        for (uint32_t m = 0; m < t->len; m++) {
            const json_t *v;
            char *key = keybuf; /* used before the recursion only */
            size_t n;

            FUZZ_CHECK(k + 1 < count && tok[k].type == SGS_JSON_STRING);
            n = sgs_jsonscan_string(buf, &tok[k], key);
            FUZZ_CHECK(n <= tok[k].len);
            key[n] = '\0';
            v = json_object_get(j, key);
            FUZZ_CHECK(v != NULL);
            check_string(buf, &tok[k], key, n);
            FUZZ_CHECK(sgs_jsonscan_find(js, buf, i, key, n) == k + 1);
            k = compare(buf, tok, count, k + 1, v);
        }
        break;
    case JSON_ARRAY:
        FUZZ_CHECK(t->type == SGS_JSON_ARRAY && t->len == json_array_size(j));
        k = i + 1;
        for (size_t e = 0; e < json_array_size(j); e++)
            k = compare(buf, tok, count, k, json_array_get(j, e));
        break;
    case JSON_STRING:
        check_string(buf, t, json_string_value(j), json_string_length(j));
        k = i + 1;
        break;
    case JSON_INTEGER:
        FUZZ_CHECK(t->type == SGS_JSON_NUMBER && (t->flags & SGS_JSON_REAL) == 0);
        FUZZ_CHECK(sgs_jsonscan_number(buf, t) == (double)json_integer_value(j));
        k = i + 1;
        break;
    case JSON_REAL:
        FUZZ_CHECK(t->type == SGS_JSON_NUMBER && (t->flags & SGS_JSON_REAL) != 0);
        FUZZ_CHECK(sgs_jsonscan_number(buf, t) == json_real_value(j));
        k = i + 1;
        break;
    case JSON_TRUE:
        FUZZ_CHECK(t->type == SGS_JSON_TRUE);
        k = i + 1;
        break;
    case JSON_FALSE:
        FUZZ_CHECK(t->type == SGS_JSON_FALSE);
        k = i + 1;
        break;
    case JSON_NULL:
        FUZZ_CHECK(t->type == SGS_JSON_NULL);
        k = i + 1;
        break;
    default:
        FUZZ_CHECK(!"unknown jansson type");
        return count;
    }
    FUZZ_CHECK(t->next == k);
    return k;
}

static void check_error(const sgs_jsonscan *ctx, size_t size)
{
    const sgs_jsonscan_error *e = sgs_jsonscan_last_error(ctx);

    FUZZ_CHECK(e != NULL);
    FUZZ_CHECK(fuzz_terminated(e->text, sizeof(e->text)) && e->text[0] != '\0');
    FUZZ_CHECK(e->position <= size && e->line >= 1 && e->column >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    json_error_t jerr;
    json_t *root;
    int rc, rc_small, has_nul = memchr(data, '\0', size) != NULL;

    if (scratch_cap < size + 1) {
        free(scratch);
        free(keybuf);
        scratch_cap = size + 1;
        scratch = malloc(scratch_cap);
        keybuf = malloc(scratch_cap);
        FUZZ_CHECK(scratch != NULL && keybuf != NULL);
    }
    rc = sgs_jsonscan_parse(js, buf, size);
    FUZZ_CHECK(rc == 0 || rc == -1);
    root = json_loadb(buf, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (has_nul) {
        FUZZ_CHECK(rc != 0);
    } else if (root == NULL &&
               (strstr(jerr.text, "too big") != NULL || strstr(jerr.text, "overflow") != NULL)) {
        /* a valid number jansson cannot hold (beyond int64 or a double): read
         * here as a real; an error after it, jansson never reached */
        if (rc != 0)
            check_error(js, size);
        return 0;
    } else {
        FUZZ_CHECK((rc == 0) == (root != NULL));
    }
    if (rc != 0) {
        check_error(js, size);
    } else {
        size_t count = 0;
        const sgs_jsonscan_token *tok = sgs_jsonscan_tokens(js, &count);

        FUZZ_CHECK(tok != NULL && count >= 1);
        FUZZ_CHECK(compare(buf, tok, count, 0, root) == count);

        /* The capped context: the same, or too many values. */
        rc_small = sgs_jsonscan_parse(js_small, buf, size);
        if (count <= SMALL_CAP) {
            size_t n_small = 0;

            FUZZ_CHECK(rc_small == 0);
            FUZZ_CHECK(sgs_jsonscan_tokens(js_small, &n_small) != NULL && n_small == count);
        } else {
            FUZZ_CHECK(rc_small == -1);
            check_error(js_small, size);
        }
    }
    json_decref(root);
    return 0;
}

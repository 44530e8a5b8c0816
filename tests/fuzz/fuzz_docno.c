/* libFuzzer target: sgs_docno_normalize. The input is the doc_no bytes.
 *
 * Invariants: failure leaves *out zeroed and happens only for the documented
 * reasons; the normal form is valid UTF-8 without white space or full-width
 * digits and letters, counts its characters right, starts with the prefix and
 * the year bracket when there is one, spells the serial (range) after it, and is
 * a fixed point; white space around the input changes nothing; the direct way
 * (sgs_docno_set_direct) gives what the general way gives. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgs/docno.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes the valid UTF-8 sequence at s (the caller checked validity). */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] < 0xE0) {
        *cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        return 2;
    }
    if (s[0] < 0xF0) {
        *cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        return 3;
    }
    *cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
          (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return 4;
}

/* White space the normaliser drops, and full-width digits and letters it maps. */
static int dropped_or_mapped(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x3000 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0xFEFF || (cp >= 0xFF10 && cp <= 0xFF19) ||
           (cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A);
}

static void check_zeroed(const sgs_docno *d)
{
    FUZZ_CHECK(d->norm[0] == '\0' && d->prefix[0] == '\0' && d->norm_chars == 0);
    FUZZ_CHECK(d->has_serial == 0 && d->year == 0 && d->serial_lo == 0 && d->serial_hi == 0);
}

static void check_form(const sgs_docno *d)
{
    size_t len, plen;
    const unsigned char *p;

    FUZZ_CHECK(fuzz_text_ok(d->norm, sizeof(d->norm)));
    FUZZ_CHECK(fuzz_text_ok(d->prefix, sizeof(d->prefix)));
    len = strlen(d->norm);
    plen = strlen(d->prefix);
    FUZZ_CHECK(len < SGS_DOCNO_MAX);
    FUZZ_CHECK(d->norm_chars == fuzz_utf8_chars(d->norm, len));
    FUZZ_CHECK(d->norm_chars <= 1024);
    for (p = (const unsigned char *)d->norm; *p;) {
        uint32_t cp;

        p += decode(p, &cp);
        FUZZ_CHECK(cp != 0 && !dropped_or_mapped(cp));
    }

    /* prefix + "〔YYYY〕" start the normal form when the year bracket exists. */
    FUZZ_CHECK(plen <= len && memcmp(d->norm, d->prefix, plen) == 0);
    FUZZ_CHECK(d->year >= 0 && d->year <= 9999);
    if (d->year > 0 || plen > 0 || d->has_serial) {
        char bracket[16];

        snprintf(bracket, sizeof(bracket), "\xE3\x80\x94%04d\xE3\x80\x95", d->year);
        FUZZ_CHECK(len >= plen + 10 && memcmp(d->norm + plen, bracket, 10) == 0);
    }
    if (d->has_serial) {
        char serial[48];
        size_t n;

        FUZZ_CHECK(d->serial_lo <= d->serial_hi);
        FUZZ_CHECK(d->serial_hi < 1000000000000000000ULL);
        if (d->serial_hi != d->serial_lo)
            n = (size_t)snprintf(serial, sizeof(serial), "%llu-%llu",
                                 (unsigned long long)d->serial_lo,
                                 (unsigned long long)d->serial_hi);
        else
            n = (size_t)snprintf(serial, sizeof(serial), "%llu", (unsigned long long)d->serial_lo);
        FUZZ_CHECK(len >= plen + 10 + n && memcmp(d->norm + plen + 10, serial, n) == 0);
    } else {
        FUZZ_CHECK(d->serial_lo == 0 && d->serial_hi == 0);
    }
    FUZZ_CHECK(d->prefix_len == plen);
    /* usual exactly when the normal form is prefix〔year〕serial号, spelled
     * from the parts */
    {
        char spelled[SGS_DOCNO_MAX + 64];
        int n = snprintf(spelled, sizeof(spelled), "%s\xE3\x80\x94%d\xE3\x80\x95%llu\xE5\x8F\xB7",
                         d->prefix, d->year, (unsigned long long)d->serial_lo);
        int spells = d->has_serial && d->serial_lo == d->serial_hi && n > 0 && (size_t)n == len &&
                     memcmp(spelled, d->norm, len) == 0;
        FUZZ_CHECK(d->usual == spells);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sgs_docno d, again, padded, general;
    const char *s = (const char *)data;
    int rc = sgs_docno_normalize(s, size, &d);
    char *wrapped;

    FUZZ_CHECK(rc == 0 || rc == -1);
    /* The direct way gives what the general way gives, byte for byte. */
    FUZZ_CHECK(sgs_docno_set_direct(0) == 1);
    FUZZ_CHECK(sgs_docno_normalize(s, size, &general) == rc);
    FUZZ_CHECK(sgs_docno_set_direct(1) == 0);
    FUZZ_CHECK(memcmp(&d, &general, sizeof(d)) == 0);
    if (rc != 0) {
        check_zeroed(&d);
        /* Short valid text without NUL always fits (a year bracket grows from 6
         * to at most 10 bytes per 6 input bytes). */
        FUZZ_CHECK(!(size <= 120 && sgs_utf8_valid(s, size) && memchr(s, '\0', size) == NULL));
        return 0;
    }
    FUZZ_CHECK(sgs_utf8_valid(s, size) && memchr(s, '\0', size) == NULL);
    check_form(&d);

    /* A fixed point: the normal form normalises to itself, parts and all. */
    FUZZ_CHECK(sgs_docno_normalize(d.norm, strlen(d.norm), &again) == 0);
    FUZZ_CHECK(memcmp(&d, &again, sizeof(d)) == 0);

    /* White space around (U+3000 before, NBSP and a tab after) is dropped. */
    wrapped = malloc(size + 8);
    FUZZ_CHECK(wrapped != NULL);
    memcpy(wrapped, "\xE3\x80\x80", 3);
    if (size > 0)
        memcpy(wrapped + 3, s, size);
    memcpy(wrapped + 3 + size, "\xC2\xA0\t", 3);
    FUZZ_CHECK(sgs_docno_normalize(wrapped, size + 6, &padded) == 0);
    FUZZ_CHECK(memcmp(&d, &padded, sizeof(d)) == 0);
    free(wrapped);
    return 0;
}

/* Decision document numbers (RULES §4). */
#ifndef SGS_DOCNO_H
#define SGS_DOCNO_H

#include <stddef.h>
#include <stdint.h>

#define SGS_DOCNO_MAX 256 /* bytes of a normalised doc_no including NUL */

typedef struct sgs_docno {
    char norm[SGS_DOCNO_MAX]; /* normal form, UTF-8 */
    size_t norm_chars;        /* length of norm in characters (code points) */
    /* Parsed parts. year and prefix are set when the number has a year bracket
     * (else year 0, prefix ""). has_serial is 1 when a serial follows the year
     * bracket: then prefix + year + serial place the number in a sequence, and
     * only such numbers take part in gap detection (发文字号核查), per (unit, kind,
     * prefix, year). A number without one ("双环许可2019") has has_serial 0 and is
     * never part of a sequence (the record rules judge it only by length). */
    int has_serial;
    char prefix[SGS_DOCNO_MAX]; /* issuer prefix, normalised (text before the year bracket) */
    size_t prefix_len;          /* strlen(prefix) */
    /* 1 when norm is exactly prefix "〔" year "〕" serial "号": one serial
     * (serial_lo == serial_hi, in decimal without leading zeros), a year of
     * four digits that does not start with 0, nothing else. */
    int usual;
    int year;           /* 4-digit year inside the bracket */
    uint64_t serial_lo; /* serial as an integer */
    uint64_t serial_hi; /* == serial_lo unless a range "12号-13号" */
} sgs_docno;

/* Normalises doc_no (UTF-8, len bytes, no NUL needed) into *out. Thread-safe, no
 * allocation.
 *
 * - full-width digits and letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A) to ASCII;
 *   letter case is kept;
 * - white space removed: ASCII, NBSP, U+3000, the U+2000-200B spaces, U+FEFF;
 * - every bracket pair that encloses exactly 4 digits (〔〕 [] ［］ 【】 （） ()
 *   ﹝﹞ 〖〗 〘〙, opener and closer may be of different kinds) becomes 〔〕; other
 *   brackets stay ("豫牧（兽药）罚决字〔2018〕第1号");
 * - after the last such year bracket: 第 directly before the serial is dropped
 *   and the serial is written without leading zeros ("〔2019〕第045号" ->
 *   "〔2019〕45号"). A serial has at most 18 significant digits; a longer digit
 *   run is copied as it is and has_serial stays 0;
 * - a range "12号-13号" (separator - － – — ~ ～ 至, 号 and 第 optional on either
 *   side, the second number larger) is written "12-13号" with serial_lo 12,
 *   serial_hi 13; "12-1号" (second not larger) is not a range and is kept.
 * 第 and zeros are only touched after a year bracket.
 *
 * "平市监罚［2023］第045 号" -> "平市监罚〔2023〕45号". The normal form is a fixed
 * point (normalising it again gives it back).
 *
 * Returns 0, or -1 (out zeroed, out->norm "") when the input is not valid UTF-8
 * (overlong forms, surrogates and NUL included), has more than 1024 characters
 * that are not white space, or the result does not fit SGS_DOCNO_MAX. */
int sgs_docno_normalize(const char *s, size_t len, sgs_docno *out);

/* sgs_docno_normalize writes the usual shape directly (after the plain
 * characters at the start, "〔2023〕45号" with any of the year brackets, 第,
 * leading zeros) and decodes everything else code point by code point; both
 * ways give the same result. For tests:
 * sgs_docno_set_direct(0) sends every number the general way (process-wide;
 * 1, the default, restores the direct way; returns the previous setting). */
int sgs_docno_set_direct(int on);

#endif

/* Identifier check characters: Unified Social Credit Code (GB 32100-2015) and
 * resident ID number (GB 11643-1999). Pure functions, thread-safe. */
#ifndef SGS_IDENT_H
#define SGS_IDENT_H

#include <stddef.h>

/* The agreed code of an individual business (个体工商户) that has none. It does not
 * pass the check (its check character would be '0'): accept it only where the
 * subject type allows it (REFERENCE §4). */
#define SGS_USCC_PLACEHOLDER "00000000000000000X"

enum sgs_uscc_result {
    SGS_USCC_OK = 0,
    SGS_USCC_BAD_LENGTH,
    SGS_USCC_BAD_CHAR,  /* outside 0-9A-Z minus I O S V Z (lower case is bad too) */
    SGS_USCC_BAD_CHECK, /* check character wrong */
};
/* Checks an 18-character code (len bytes, no NUL needed): length first, then every
 * character, then the check character. The individual-business placeholder is not
 * special here (see sgs_uscc_is_placeholder). s may be NULL (BAD_LENGTH). */
enum sgs_uscc_result sgs_uscc_check(const char *s, size_t len);
/* 1 if s is exactly SGS_USCC_PLACEHOLDER. */
int sgs_uscc_is_placeholder(const char *s, size_t len);
/* Computes the check character for the first 17 characters of s17; '\0' if one of
 * them is not in the alphabet. */
char sgs_uscc_check_char(const char *s17);
/* Value 0-30 of one code character, -1 when it is not in the alphabet. */
int sgs_uscc_char_value(char c);

enum sgs_idno_result {
    SGS_IDNO_OK = 0,
    SGS_IDNO_BAD_LENGTH,
    SGS_IDNO_BAD_CHAR,      /* not 17 digits + digit or 'X' */
    SGS_IDNO_BAD_BIRTHDATE, /* digits 7-14 are not a real YYYYMMDD date */
    SGS_IDNO_BAD_CHECK,
};
/* Checks an 18-character resident ID; the last character may be 'X' (upper case
 * only, lower case 'x' is BAD_CHAR). Checks in the order of the enum. */
enum sgs_idno_result sgs_idno_check(const char *s, size_t len);
/* Check character ('0'-'9' or 'X') of the first 17 characters; '\0' if one of them
 * is not a digit. */
char sgs_idno_check_char(const char *s17);

#endif

/* libFuzzer target: sgs_registry_load_buffer. The input is a units.tsv.
 *
 * Invariants of a loaded registry: every unit is found by its id, name and
 * aliases (and by sgs_registry_find_id exactly through its id and id-like
 * aliases); the fields keep the documented alphabets; groups are listed once.
 * Any piece of the input used as a lookup key finds nothing or a unit that
 * really has that key. A refused file gives a one-line message naming it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sgs/registry.h"

#define NAME "fuzz-units.tsv"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

/* Printable ASCII without space or '|': an alias sgs_registry_find_id returns. */
static int id_like(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F || *p == '|')
            return 0;
    return s[0] != '\0';
}

static int no_controls(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            return 0;
    return 1;
}

static void check_unit(const sgs_registry *reg, const sgs_unit *u, size_t index)
{
    FUZZ_CHECK(u != NULL && u->index == index && u->line >= 1);
    FUZZ_CHECK(u->id[0] != '\0' && u->name[0] != '\0' && u->group[0] != '\0');
    FUZZ_CHECK(sgs_utf8_valid(u->id, strlen(u->id)) && sgs_utf8_valid(u->name, strlen(u->name)));
    FUZZ_CHECK(no_controls(u->id) && no_controls(u->name));
    FUZZ_CHECK(strpbrk(u->id, "| \t") == NULL && strstr(u->id, "\xE3\x80\x80") == NULL &&
               strstr(u->id, "\xC2\xA0") == NULL);
    for (const char *p = u->group; *p; p++)
        FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '_' || *p == '-');

    FUZZ_CHECK(sgs_registry_find_id(reg, u->id, strlen(u->id)) == u);
    FUZZ_CHECK(sgs_registry_find(reg, u->id, strlen(u->id)) == u);
    FUZZ_CHECK(sgs_registry_find(reg, u->name, strlen(u->name)) == u);
    /* A name is never an id key (unless it is also the id, which is refused). */
    FUZZ_CHECK(sgs_registry_find_id(reg, u->name, strlen(u->name)) == NULL);
    for (size_t i = 0; i < u->n_aliases; i++) {
        const char *a = u->aliases[i];

        FUZZ_CHECK(a != NULL && a[0] != '\0' && sgs_utf8_valid(a, strlen(a)) && no_controls(a));
        /* Trimmed of blanks and U+3000, split on ',' and '，'. */
        FUZZ_CHECK(a[0] != ' ' && a[0] != '\t' && a[strlen(a) - 1] != ' ' &&
                   a[strlen(a) - 1] != '\t');
        FUZZ_CHECK(strchr(a, ',') == NULL && strstr(a, "\xEF\xBC\x8C") == NULL);
        FUZZ_CHECK(sgs_registry_find(reg, a, strlen(a)) == u);
        FUZZ_CHECK(sgs_registry_find_id(reg, a, strlen(a)) == (id_like(a) ? u : NULL));
    }
    /* Its group is listed (checked for sane group counts: the scan is quadratic). */
    if (sgs_registry_group_count(reg) <= 256) {
        size_t g;

        for (g = 0; g < sgs_registry_group_count(reg); g++)
            if (strcmp(sgs_registry_group_at(reg, g), u->group) == 0)
                break;
        FUZZ_CHECK(g < sgs_registry_group_count(reg));
    }
}

/* Every piece of the input between separators, used as a key. */
static void probe(const sgs_registry *reg, const char *s, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '\t' || s[i] == '\n' || s[i] == ',' || s[i] == '\r') {
            const sgs_unit *u = sgs_registry_find(reg, s + start, i - start);
            const sgs_unit *v = sgs_registry_find_id(reg, s + start, i - start);

            if (u != NULL)
                FUZZ_CHECK(fuzz_unit_has_key(u, s + start, i - start));
            if (v != NULL)
                FUZZ_CHECK(v == u);
            start = i + 1;
        }
    }
    FUZZ_CHECK(sgs_registry_find(reg, NULL, 0) == NULL);
    FUZZ_CHECK(sgs_registry_find_id(reg, NULL, 0) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    sgs_registry *reg;
    size_t n, ng;

    err[0] = '\0';
    reg = sgs_registry_load_buffer(NAME, (const char *)data, size, err, sizeof(err));
    if (reg == NULL) {
        FUZZ_CHECK(err[0] != '\0' && strncmp(err, NAME, strlen(NAME)) == 0);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        return 0;
    }
    n = sgs_registry_count(reg);
    ng = sgs_registry_group_count(reg);
    FUZZ_CHECK(n >= 1 && ng >= 1 && ng <= n);
    FUZZ_CHECK(sgs_registry_at(reg, n) == NULL && sgs_registry_group_at(reg, ng) == NULL);
    for (size_t i = 0; i < n; i++)
        check_unit(reg, sgs_registry_at(reg, i), i);
    for (size_t g = 0; g < ng && ng <= 256; g++)
        for (size_t k = g + 1; k < ng; k++)
            FUZZ_CHECK(strcmp(sgs_registry_group_at(reg, g), sgs_registry_group_at(reg, k)) != 0);
    probe(reg, (const char *)data, size);
    sgs_registry_destroy(reg);
    return 0;
}

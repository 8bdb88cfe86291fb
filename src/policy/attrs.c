/*
 * policy/attrs.c: key attributes, checked and expanded to the names that
 * carry key components.
 *
 * A plain attribute follows the policy's ATTRIBUTE rule; a numeric one is
 * NAME=NUMBER and becomes FKEX_NUMERIC_BITS names "NAME#b<i>=<bit>" (BSW07
 * bag of bits), the same names fkex_lsss_compile puts on comparison rows.
 */
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

typedef struct {
    size_t name_len;
    int numeric;
    uint64_t value;
} key_attr;

/* Longest text either form can have; anything longer is rejected unread. */
#define ATTR_TEXT_MAX (FKEX_ATTR_MAX_LEN + 1 + FKEX_U64_DIGITS)

static fkex_err split(key_attr *a, const char *s)
{
    size_t len = 0, eq = 0;
    const char *why;
    int numeric = 0;

    while (s[len] && len <= ATTR_TEXT_MAX) {
        if (s[len] == '=' && !numeric) {
            numeric = 1;
            eq = len;
        }
        len++;
    }
    if (len > ATTR_TEXT_MAX)
        return FKEX_ERR_ATTRIBUTE;
    a->numeric = numeric;
    a->name_len = numeric ? eq : len;
    if (a->name_len == 0 || !fkex_name_start((unsigned char)s[0])
        || fkex_is_keyword(s, a->name_len))
        return FKEX_ERR_ATTRIBUTE;
    for (size_t i = 1; i < a->name_len; i++) {
        int c = (unsigned char)s[i];
        if (numeric ? !fkex_name_char(c) : !fkex_attr_char(c))
            return FKEX_ERR_ATTRIBUTE;
    }
    if (!numeric)
        return a->name_len <= FKEX_ATTR_MAX_LEN ? FKEX_OK : FKEX_ERR_ATTRIBUTE;
    if (a->name_len > FKEX_NUMERIC_NAME_MAX)
        return FKEX_ERR_ATTRIBUTE;
    if (fkex_u64_parse(&a->value, s + eq + 1, len - eq - 1, &why) != 0)
        return FKEX_ERR_ATTRIBUTE;
    return FKEX_OK;
}

fkex_err fkex_attr_check(const char *attr)
{
    key_attr a;
    if (!attr)
        return FKEX_ERR_ARGUMENT;
    return split(&a, attr);
}

void fkex_attrs_free(char **attrs, size_t count)
{
    if (!attrs)
        return;
    for (size_t i = 0; i < count; i++)
        free(attrs[i]);
    free(attrs);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two sorted neighbours collide if equal, or if they are the same bit of the
 * same numeric name with different values ("year=5" and "year=6"). Only
 * expanded names contain '#', so only they can differ in the last byte. */
static int collide(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    if (strcmp(a, b) == 0)
        return 1;
    return strchr(a, '#') && memcmp(a, b, la - 1) == 0;
}

/* O(n log n) in the number of expanded names. */
fkex_err fkex_attrs_expand(char ***out, size_t *count,
                           const char *const *attrs, size_t nattrs)
{
    size_t total = 0, n = 0;
    char **names;
    fkex_err e;

    if (!out || !count || (!attrs && nattrs))
        return FKEX_ERR_ARGUMENT;
    *out = NULL;
    *count = 0;
    for (size_t i = 0; i < nattrs; i++) {
        key_attr a;
        if (!attrs[i])
            return FKEX_ERR_ARGUMENT;
        if ((e = split(&a, attrs[i])) != FKEX_OK)
            return e;
        if (total > SIZE_MAX / sizeof *names - FKEX_NUMERIC_BITS)
            return FKEX_ERR_NO_MEMORY;
        total += a.numeric ? FKEX_NUMERIC_BITS : 1;
    }
    names = malloc((total ? total : 1) * sizeof *names);
    if (!names)
        return FKEX_ERR_NO_MEMORY;
    for (size_t i = 0; i < nattrs; i++) {
        key_attr a;
        (void)split(&a, attrs[i]);   /* checked above */
        if (!a.numeric) {
            if (!(names[n] = malloc(a.name_len + 1)))
                goto oom;
            memcpy(names[n++], attrs[i], a.name_len + 1);
            continue;
        }
        for (unsigned b = 0; b < FKEX_NUMERIC_BITS; b++) {
            if (!(names[n] = fkex_bit_name(attrs[i], a.name_len, b, (unsigned)(a.value >> b) & 1)))
                goto oom;
            n++;
        }
    }
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 1; i < n; i++) {
        if (collide(names[i - 1], names[i])) {
            fkex_attrs_free(names, n);
            return FKEX_ERR_ATTRIBUTE;
        }
    }
    *out = names;
    *count = n;
    return FKEX_OK;
oom:
    fkex_attrs_free(names, n);
    return FKEX_ERR_NO_MEMORY;
}

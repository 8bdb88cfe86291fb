/*
 * policy/names.c: the lexical rules shared by the policy parser and the key
 * attribute checks, so that a key and a policy can never disagree about what
 * a name or a number is.
 */
#include <stdio.h>
#include <stdlib.h>
#include "policy/policy.h"
#include "policy/ast.h"

/* ASCII only, whatever the locale: <ctype.h> would let the locale decide. */
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

int fkex_name_start(int c) { return is_alpha(c) || c == '_'; }
int fkex_name_char(int c) { return fkex_name_start(c) || is_digit(c); }

int fkex_attr_char(int c)
{
    return fkex_name_char(c) || c == '.' || c == ':' || c == '@' || c == '/' || c == '-';
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int word_is(const char *s, size_t len, const char *kw)
{
    size_t i;
    for (i = 0; i < len && kw[i]; i++)
        if (lower((unsigned char)s[i]) != kw[i])
            return 0;
    return i == len && kw[i] == 0;
}

int fkex_is_keyword(const char *s, size_t len)
{
    return word_is(s, len, "and") || word_is(s, len, "or") || word_is(s, len, "of");
}

int fkex_u64_parse(uint64_t *out, const char *s, size_t len, const char **why)
{
    uint64_t v = 0;
    if (len == 0) {
        *why = "expected a number";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_digit((unsigned char)s[i])) {
            *why = "expected a number";
            return -1;
        }
    }
    /* "05" would be a second spelling of 5: keep one text per value. */
    if (s[0] == '0' && len > 1) {
        *why = "number has a leading zero";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            *why = "number out of range";
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t fkex_u64_format(char out[FKEX_U64_DIGITS + 1], uint64_t v)
{
    char tmp[FKEX_U64_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

char *fkex_bit_name(const char *name, size_t len, unsigned i, unsigned bit)
{
    /* "#b" + two digits + "=" + bit + NUL */
    char *s = malloc(len + 7);
    if (!s)
        return NULL;
    memcpy(s, name, len);
    snprintf(s + len, 7, "#b%u=%u", i, bit);
    return s;
}

/*
 * authority/identity.c: what counts as an identity, and its one spelling.
 *
 * An identity is hashed to a point, so two spellings of one name would be
 * two identities with two keys. Normalising is deliberately small and
 * predictable (no Unicode case folding, no NFC, which would need tables
 * that change between Unicode versions): ASCII white space at both ends is
 * trimmed and ASCII letters are lower-cased; the rest must be valid UTF-8
 * without control characters, at most FKEX_IBE_ID_MAX bytes. So
 * "Alice@Example.org" is "alice@example.org", while "ÉVA" and "éva" stay
 * two names.
 *
 * Characters that a reader cannot see are refused, so that a name that
 * looks like another is not silently another identity: white space other
 * than ASCII's (no-break and typographic spaces), zero-width characters,
 * bidirectional controls and the other invisible format characters
 * (soft hyphen, word joiner, BOM, Hangul fillers). Look-alike letters
 * (Cyrillic "а" for Latin "a", fullwidth forms) remain distinct names.
 */
#include "authority/authority.h"

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Invisible or space-like code points outside ASCII (the header says why). */
static int invisible(uint32_t cp)
{
    return cp == 0xa0 || cp == 0xad || cp == 0x61c || cp == 0x115f || cp == 0x1160 ||
           cp == 0x1680 || cp == 0x180e || (cp >= 0x2000 && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 ||
           cp == 0x3164 || cp == 0xfeff || cp == 0xffa0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes) whose code
 * point is neither a control character nor invisible, or 0. Overlong
 * forms, surrogates and code points above U+10FFFF are invalid (RFC 3629). */
static size_t utf8_char(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;
    if (p[0] < 0x80)
        return p[0] >= 0x20 && p[0] != 0x7f;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) || invisible(cp))
        return 0;
    return len;
}

fkex_err fkex_ibe_identity(char out[FKEX_IBE_ID_MAX + 1], const char *in, size_t len)
{
    const uint8_t *p = (const uint8_t *)in;
    out[0] = '\0';
    if (len > FKEX_IBE_ID_INPUT_MAX)
        return FKEX_ERR_ATTRIBUTE;
    while (len > 0 && is_space(p[0]))
        p++, len--;
    while (len > 0 && is_space(p[len - 1]))
        len--;
    if (len == 0 || len > FKEX_IBE_ID_MAX)
        return FKEX_ERR_ATTRIBUTE;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(p + i, len - i);
        if (n == 0) {
            out[0] = '\0';
            return FKEX_ERR_ATTRIBUTE;
        }
        for (size_t j = 0; j < n; j++, i++)
            out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i]);
    }
    out[len] = '\0';
    return FKEX_OK;
}

int fkex_ibe_identity_canonical(const uint8_t *id, size_t len)
{
    char norm[FKEX_IBE_ID_MAX + 1];
    if (len == 0 || len > FKEX_IBE_ID_MAX)
        return 0;
    if (fkex_ibe_identity(norm, (const char *)id, len) != FKEX_OK)
        return 0;
    return strlen(norm) == len && memcmp(norm, id, len) == 0;
}

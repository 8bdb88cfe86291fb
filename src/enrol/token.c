/*
 * enrol/token.c: the one-time enrolment token as text, and addresses.
 */
#include "enrol/enrol.h"

/* Version 2: the address is an endpoint, "AUTH@HOST:PORT", that pins the
 * authority's TLS key or names it; version 1: "HOST:PORT" alone (made
 * before servers had keys, or for an address given without). One
 * encoding each: a version says which the address is. */
#define TOKEN_VERSION 2
#define TOKEN_VERSION_UNPINNED 1

static int has_auth(const char *addr)
{
    fkex_endpoint e;
    return fkex_endpoint_parse(&e, addr) == 0 && e.auth != FKEX_ENDPOINT_UNPINNED;
}
#define CHECK_BYTES 8
/* version, address length, pin, id, secret, expiry, check; plus the address */
#define FIXED_BYTES (1 + 1 + 32 + FKEX_TOKEN_ID_BYTES + FKEX_TOKEN_SECRET_BYTES + 8 + CHECK_BYTES)
#define BODY_MAX (FIXED_BYTES + FKEX_ADDR_MAX)

static void token_check(uint8_t out[CHECK_BYTES], const uint8_t *body, size_t len)
{
    static const char label[] = "fkex v1 token";   /* with its NUL */
    crypto_hash_sha256_state st;
    uint8_t h[32];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label);
    crypto_hash_sha256_update(&st, body, len);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, CHECK_BYTES);
}

static int is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-';
}

int fkex_addr_check(const char *addr, int allow_port0)
{
    size_t n = strnlen(addr, FKEX_ADDR_MAX + 1);
    const char *colon, *host_end;
    unsigned long port = 0;
    if (n == 0 || n > FKEX_ADDR_MAX)
        return -1;
    colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return -1;
    if (addr[0] == '[') {
        /* [IPv6]: hex digits, colons and dots inside the brackets */
        host_end = colon - 1;
        if (*host_end != ']' || host_end == addr + 1)
            return -1;
        for (const char *p = addr + 1; p < host_end; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                  (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
                return -1;
    } else {
        for (const char *p = addr; p < colon; p++)
            if (!is_host_char(*p))
                return -1;
        if (addr[0] == '-' || addr[0] == '.')
            return -1;
    }
    const char *p = colon + 1;
    size_t digits = strlen(p);
    if (digits == 0 || digits > 5 || (p[0] == '0' && digits > 1))
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535 || (port == 0 && !allow_port0))
        return -1;
    return 0;
}

int fkex_endpoint_check(const char *text)
{
    fkex_endpoint e;
    return fkex_endpoint_parse(&e, text) == 0 && fkex_addr_check(e.hostport, 0) == 0 ? 0 : -1;
}

void fkex_enrol_pin(uint8_t pin[32], const uint8_t pk[32])
{
    static const char label[] = "fkex v1 enrolment key";   /* with its NUL */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof label);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, pin);
}

void fkex_token_id_hex(char out[2 * FKEX_TOKEN_ID_BYTES + 1], const uint8_t id[FKEX_TOKEN_ID_BYTES])
{
    sodium_bin2hex(out, 2 * FKEX_TOKEN_ID_BYTES + 1, id, FKEX_TOKEN_ID_BYTES);
}

fkex_err fkex_token_encode(char *out, size_t cap, const fkex_token *t)
{
    uint8_t body[BODY_MAX];
    size_t n, len = 0, prefix = strlen(FKEX_TOKEN_PREFIX);
    if (cap > 0)
        out[0] = '\0';
    if (fkex_endpoint_check(t->addr) != 0)
        return FKEX_ERR_ARGUMENT;
    n = strlen(t->addr);
    body[len++] = has_auth(t->addr) ? TOKEN_VERSION : TOKEN_VERSION_UNPINNED;
    body[len++] = (uint8_t)n;
    memcpy(body + len, t->addr, n);
    len += n;
    memcpy(body + len, t->pin, 32);
    len += 32;
    memcpy(body + len, t->id, FKEX_TOKEN_ID_BYTES);
    len += FKEX_TOKEN_ID_BYTES;
    memcpy(body + len, t->secret, FKEX_TOKEN_SECRET_BYTES);
    len += FKEX_TOKEN_SECRET_BYTES;
    store64_be(body + len, t->expires_at);
    len += 8;
    token_check(body + len, body, len);
    len += CHECK_BYTES;
    if (cap < prefix + sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
        sodium_memzero(body, sizeof body);
        return FKEX_ERR_ARGUMENT;
    }
    memcpy(out, FKEX_TOKEN_PREFIX, prefix);
    sodium_bin2base64(out + prefix, cap - prefix, body, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(body, sizeof body);
    return FKEX_OK;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

fkex_err fkex_token_decode(fkex_token *t, const char *text, size_t len)
{
    uint8_t body[BODY_MAX + 1];
    size_t n, prefix = strlen(FKEX_TOKEN_PREFIX), blen, addrlen;
    const char *end;
    uint8_t check[CHECK_BYTES];
    fkex_err err = FKEX_OK;
    fkex_reader r;
    const uint8_t *addr;

    memset(t, 0, sizeof *t);
    while (len > 0 && is_space(text[0]))
        text++, len--;
    while (len > 0 && is_space(text[len - 1]))
        len--;
    if (len < prefix || memcmp(text, FKEX_TOKEN_PREFIX, prefix) != 0) {
        /* "fkex2-..." is a token from a newer fkex */
        if (len > 6 && memcmp(text, "fkex", 4) == 0 && text[4] >= '2' && text[4] <= '9' &&
            text[5] == '-')
            return FKEX_ERR_UNSUPPORTED;
        return FKEX_ERR_BAD_ENCODING;
    }
    text += prefix;
    len -= prefix;
    if (len > sodium_base64_ENCODED_LEN(BODY_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return FKEX_ERR_BAD_ENCODING;
    /* libsodium 1.0.18 decodes any byte >= 0x80 as '_' (63): check the
     * alphabet first (fuzz/fuzz_token.c found it). libsodium rejects
     * non-canonical trailing bits; a character it did not consume
     * (end != text + len) is an error too. */
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return FKEX_ERR_BAD_ENCODING;
    }
    if (sodium_base642bin(body, sizeof body, text, len, NULL, &blen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text + len)
        return FKEX_ERR_BAD_ENCODING;
    if (blen < 2)
        return FKEX_ERR_TRUNCATED;
    if (body[0] != TOKEN_VERSION && body[0] != TOKEN_VERSION_UNPINNED) {
        err = FKEX_ERR_UNSUPPORTED;
        goto out;
    }
    if (blen < CHECK_BYTES) {
        err = FKEX_ERR_TRUNCATED;
        goto out;
    }
    /* The check first: it tells a mistyped token from a malformed one. */
    token_check(check, body, blen - CHECK_BYTES);
    if (sodium_memcmp(check, body + blen - CHECK_BYTES, CHECK_BYTES) != 0) {
        err = blen < FIXED_BYTES ? FKEX_ERR_TRUNCATED : FKEX_ERR_BAD_ENCODING;
        goto out;
    }
    fkex_reader_init(&r, body + 1, blen - 1 - CHECK_BYTES);
    uint8_t u8;
    if (fkex_reader_u8(&r, &u8) != 0 || fkex_reader_view(&r, &addr, u8) != 0 ||
        fkex_reader_get(&r, t->pin, 32) != 0 || fkex_reader_get(&r, t->id, FKEX_TOKEN_ID_BYTES) != 0 ||
        fkex_reader_get(&r, t->secret, FKEX_TOKEN_SECRET_BYTES) != 0 ||
        fkex_reader_u64(&r, &t->expires_at) != 0 || (err = fkex_reader_end(&r)) != FKEX_OK) {
        if (err == FKEX_OK)
            err = FKEX_ERR_TRUNCATED;
        goto out;
    }
    addrlen = u8;
    memcpy(t->addr, addr, addrlen);
    t->addr[addrlen] = '\0';
    n = strlen(t->addr);
    if (n != addrlen || fkex_endpoint_check(t->addr) != 0 ||
        has_auth(t->addr) != (body[0] == TOKEN_VERSION))
        err = FKEX_ERR_BAD_ENCODING;
out:
    sodium_memzero(body, sizeof body);
    if (err != FKEX_OK)
        fkex_token_wipe(t);
    return err;
}

void fkex_token_wipe(fkex_token *t)
{
    sodium_memzero(t, sizeof *t);
}

const char *fkex_enrol_status_text(fkex_enrol_status st)
{
    switch (st) {
    case FKEX_ENROL_ISSUED: return "key issued";
    case FKEX_ENROL_UNKNOWN: return "token not recognised";
    case FKEX_ENROL_USED: return "token already used";
    case FKEX_ENROL_EXPIRED: return "token expired";
    case FKEX_ENROL_MALFORMED: return "request could not be opened";
    case FKEX_ENROL_FAILED: return "the authority failed to issue the key";
    }
    return "unknown status";
}

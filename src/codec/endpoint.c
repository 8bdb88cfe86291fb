/*
 * codec/endpoint.c: "[AUTH@]HOST:PORT", a server and how to know it
 * (codec.h). The text of a pin is canonical: libsodium's base64url of the
 * 32 bytes decodes back to the same 43 characters, nothing else does.
 */
#include <sodium.h>
#include "codec/codec.h"

void fkex_pin_text(char out[FKEX_PIN_TEXT_LEN + 1], const uint8_t pin[FKEX_PIN_BYTES])
{
    sodium_bin2base64(out, FKEX_PIN_TEXT_LEN + 1, pin, FKEX_PIN_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int is_base64url(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static int parse_pin(uint8_t pin[FKEX_PIN_BYTES], const char *text, size_t len)
{
    char again[FKEX_PIN_TEXT_LEN + 1];
    size_t got = 0;
    if (len != FKEX_PIN_TEXT_LEN)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!is_base64url(text[i]))    /* libsodium 1.0.18 reads bytes >= 0x80 as '_' */
            return -1;
    if (sodium_base642bin(pin, FKEX_PIN_BYTES, text, len, NULL, &got, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != FKEX_PIN_BYTES)
        return -1;
    fkex_pin_text(again, pin);
    return memcmp(again, text, len) == 0 ? 0 : -1;   /* the last character's spare bits are zero */
}

/* A DNS name with at least one dot: labels of letters, digits and
 * hyphens, 1 to 63 each, not beginning or ending with a hyphen. */
static int parse_name(char out[FKEX_ENDPOINT_NAME_MAX + 1], const char *text, size_t len)
{
    size_t label = 0, dots = 0;
    if (len == 0 || len > FKEX_ENDPOINT_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '.') {
            if (label == 0 || text[i - 1] == '-')
                return -1;
            label = 0;
            dots++;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return -1;
        } else {
            return -1;
        }
    }
    if (dots == 0 || label == 0 || text[len - 1] == '-')
        return -1;
    memcpy(out, text, len);
    out[len] = '\0';
    return 0;
}

int fkex_endpoint_parse(fkex_endpoint *e, const char *text)
{
    const char *at = strchr(text, '@');
    memset(e, 0, sizeof *e);
    if (!at) {
        e->hostport = text;
        return 0;
    }
    e->hostport = at + 1;
    if (strchr(at + 1, '@'))
        return -1;
    if (parse_pin(e->pin, text, (size_t)(at - text)) == 0) {
        e->auth = FKEX_ENDPOINT_PIN;
        return 0;
    }
    memset(e->pin, 0, sizeof e->pin);
    if (parse_name(e->name, text, (size_t)(at - text)) == 0) {
        e->auth = FKEX_ENDPOINT_NAME;
        return 0;
    }
    return -1;
}

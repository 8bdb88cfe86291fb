/*
 * authority/object.c: the 44-byte header every fkex object starts with,
 * and the names of what it says.
 *
 *   "FKEX" | version u8 | kind u8 | scheme u8 | curve u8
 *   | authority fingerprint (32) | body length u32 (big-endian)
 */
#include "authority/authority.h"

static const uint8_t magic[4] = { 'F', 'K', 'E', 'X' };

static const struct {
    uint8_t id;
    const char *name, *title;
} schemes[] = {
    { FKEX_SCHEME_WATERS11, "waters11", "Waters 2011 CP-ABE" },
    { FKEX_SCHEME_BF01, "bf01", "Boneh-Franklin 2001 identity-based encryption" },
    { FKEX_SCHEME_FAME, "fame", "FAME, Agrawal-Chase 2017 CP-ABE" },
};

const char *fkex_scheme_name(uint8_t scheme)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(schemes); i++)
        if (schemes[i].id == scheme)
            return schemes[i].name;
    return NULL;
}

const char *fkex_scheme_title(uint8_t scheme)
{
    for (size_t i = 0; i < FKEX_ARRAY_LEN(schemes); i++)
        if (schemes[i].id == scheme)
            return schemes[i].title;
    return NULL;
}

fkex_err fkex_header_decode(fkex_header *h, const uint8_t in[FKEX_HEADER_BYTES])
{
    if (memcmp(in, magic, 4) != 0)
        return FKEX_ERR_BAD_ENCODING;
    h->version = in[4];
    h->kind = (fkex_kind)in[5];
    h->scheme = in[6];
    h->curve = in[7];
    memcpy(h->fingerprint, in + 8, FKEX_FINGERPRINT_BYTES);
    h->body_len = load32_be(in + 40);
    if (h->version != FKEX_FORMAT_VERSION || h->curve != FKEX_CURVE_BLS12_381 ||
        fkex_scheme_name(h->scheme) == NULL)
        return FKEX_ERR_UNSUPPORTED;
    if (h->kind < FKEX_KIND_PUBLIC_PARAMS || h->kind > FKEX_KIND_CIPHERTEXT)
        return FKEX_ERR_UNSUPPORTED;
    /* Boneh-Franklin makes ciphertexts only: its parameters and keys ride
     * in the CP-ABE scheme's objects (authority/ibe_keys.c). */
    if (h->scheme == FKEX_SCHEME_BF01 && h->kind != FKEX_KIND_CIPHERTEXT)
        return FKEX_ERR_UNSUPPORTED;
    if (h->body_len > FKEX_BODY_MAX)
        return FKEX_ERR_BAD_ENCODING;
    return FKEX_OK;
}

void fkex_header_encode(fkex_writer *w, fkex_kind kind, uint8_t scheme,
                        const uint8_t fp[FKEX_FINGERPRINT_BYTES], size_t body_len)
{
    fkex_writer_put(w, magic, 4);
    fkex_writer_u8(w, FKEX_FORMAT_VERSION);
    fkex_writer_u8(w, (uint8_t)kind);
    fkex_writer_u8(w, scheme);
    fkex_writer_u8(w, FKEX_CURVE_BLS12_381);
    fkex_writer_put(w, fp, FKEX_FINGERPRINT_BYTES);
    fkex_writer_u32(w, (uint32_t)body_len);
}

const char *fkex_kind_name(fkex_kind kind)
{
    switch (kind) {
    case FKEX_KIND_PUBLIC_PARAMS: return "public parameters";
    case FKEX_KIND_MASTER_KEY: return "master key";
    case FKEX_KIND_USER_KEY: return "user key";
    case FKEX_KIND_CIPHERTEXT: return "ciphertext";
    }
    return "unknown";
}

const char *fkex_kind_armor(fkex_kind kind)
{
    switch (kind) {
    case FKEX_KIND_PUBLIC_PARAMS: return "PUBLIC PARAMS";
    case FKEX_KIND_MASTER_KEY: return "MASTER KEY";
    case FKEX_KIND_USER_KEY: return "USER KEY";
    case FKEX_KIND_CIPHERTEXT: return "CIPHERTEXT";
    }
    return "UNKNOWN";
}

/* RFC 4648 base32 (lower case) of the first 10 bytes: 16 characters, shown
 * in groups of four. 80 bits is plenty to tell authorities apart by eye. */
void fkex_fingerprint_text(char out[20], const uint8_t fp[FKEX_FINGERPRINT_BYTES])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t hi = load64_be(fp) , lo = load16_be(fp + 8);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        /* bit offset 5 i in the 80-bit string hi (64) || lo (16) */
        unsigned v;
        int bit = 5 * i;
        if (bit + 5 <= 64)
            v = (unsigned)(hi >> (59 - bit)) & 31;
        else if (bit >= 64)
            v = (unsigned)(lo >> (11 - (bit - 64))) & 31;
        else
            v = (unsigned)(((hi << (bit + 5 - 64)) | (lo >> (80 - bit - 5))) & 31);
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = alphabet[v];
    }
    out[o] = '\0';
}

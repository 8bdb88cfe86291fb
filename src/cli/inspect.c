/*
 * cli/inspect.c: `fkex inspect FILE` says what an fkex file is. It decodes
 * (and so validates) the object, and never prints a secret.
 */
#include <getopt.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/payload.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex inspect [FILE]\n\n"
               "Shows the kind, scheme, curve and authority of an fkex file; the policy\n"
               "or identity of a ciphertext; the attributes, expiry and identity of a key;\n"
               "whether an authority issues identity-based keys; and sizes. Secrets are\n"
               "never shown. FILE defaults to stdin; armor is detected.\n");
}

static void common(fkex_kind kind, uint8_t scheme, const uint8_t fp[FKEX_FINGERPRINT_BYTES])
{
    char text[20];
    fkex_fingerprint_text(text, fp);
    printf("kind:       %s\n", fkex_kind_name(kind));
    printf("scheme:     %s (%s)\n", fkex_scheme_name(scheme), fkex_scheme_title(scheme));
    printf("curve:      BLS12-381 (about 128-bit security)\n");
    printf("authority:  %s\n", text);
}

/* The ciphertext object is decoded (validated); the payload is only counted. */
static int inspect_ciphertext(cli_ctfile *file, const char *path)
{
    const fkex_abe_ct *ct;
    const fkex_ibe_ct *ibe;
    fkex_source *payload;
    uint8_t fp[FKEX_FINGERPRINT_BYTES], buf[65536];
    const uint8_t *bytes;
    size_t len, got, total = 0;
    int rc = cli_ctfile_read(file, path);
    if (rc != 0)
        return rc;
    ct = fkex_file_abe_ct(file->sealed);
    ibe = fkex_file_ibe_ct(file->sealed);
    payload = fkex_file_payload(file->sealed);
    do {
        if (payload->read(payload, buf, sizeof buf, &got) != FKEX_OK) {
            cli_error("%s: cannot read the payload", path);
            return EXIT_USAGE;
        }
        total += got;
    } while (got > 0);
    fkex_file_fingerprint(fp, file->sealed);
    if (ibe) {
        fkex_ibe_ct_bytes(&bytes, &len, ibe);
        common(FKEX_KIND_CIPHERTEXT, bytes[6], fp);
        printf("mode:       IND-CCA (Fujisaki-Okamoto: FullIdent)\n");
        printf("identity:   %s\n", fkex_ibe_ct_identity(ibe));
    } else {
        fkex_abe_ct_bytes(&bytes, &len, ct);
        common(FKEX_KIND_CIPHERTEXT, bytes[6], fp);
        printf("mode:       %s\n", fkex_abe_ct_mode(ct) == FKEX_ABE_CCA
                                       ? "IND-CCA (Fujisaki-Okamoto)" : "IND-CPA KEM");
        printf("policy:     %s\n", fkex_abe_ct_policy(ct));
        printf("rows:       %zu\n", fkex_abe_ct_rows(ct));
    }
    printf("size:       %zu bytes (encapsulation %zu, encrypted payload %zu)\n", len + total,
           len, total);
    return 0;
}

static void print_key(const fkex_key *key)
{
    const char *const *attrs;
    size_t n;
    uint32_t expires = 0;
    fkex_key_attrs(&attrs, &n, key);
    printf("identity:   %s\n", fkex_key_identity(key) ? fkex_key_identity(key)
                                                           : "none (attributes only)");
    printf("attributes:%s", n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        if (fkex_expiry_of(attrs[i]))
            expires = fkex_expiry_of(attrs[i]);
        else
            printf(" %s", attrs[i]);
    }
    printf("\n");
    if (n == 0)
        return;
    if (expires)
        printf("expires:    end of %04u-%02u\n", (unsigned)(expires / 100),
               (unsigned)(expires % 100));
    else
        printf("expires:    never (no expiry attribute: files encrypted with --valid-at\n"
               "            will not open with it)\n");
}

static void identities(const fkex_mpk *mpk)
{
    printf("identities: %s\n", fkex_mpk_has_ibe(mpk)
                                   ? "yes (Boneh-Franklin: fkex keygen --identity, fkex ibe)"
                                   : "no (made before fkex had identity-based keys)");
}

/* Keys and parameters are small objects: decode them whole. */
static fkex_err inspect_object(const uint8_t *data, size_t len, const fkex_header *h)
{
    fkex_err err = FKEX_ERR_WRONG_KIND;
    if (h->kind == FKEX_KIND_PUBLIC_PARAMS) {
        fkex_mpk *mpk;
        if ((err = fkex_mpk_decode(&mpk, data, len)) == FKEX_OK) {
            common(h->kind, h->scheme, h->fingerprint);
            identities(mpk);
            fkex_mpk_free(mpk);
        }
    } else if (h->kind == FKEX_KIND_MASTER_KEY) {
        fkex_msk *msk;
        if ((err = fkex_msk_decode(&msk, data, len)) == FKEX_OK) {
            common(h->kind, h->scheme, h->fingerprint);
            identities(fkex_msk_mpk(msk));
            printf("secret:     yes (not shown); it issues every key of this authority\n");
            fkex_msk_free(msk);
        }
    } else if (h->kind == FKEX_KIND_USER_KEY) {
        fkex_key *key;
        if ((err = fkex_key_decode(&key, data, len)) == FKEX_OK) {
            common(h->kind, h->scheme, h->fingerprint);
            print_key(key);
            printf("secret:     yes (not shown)\n");
            fkex_key_free(key);
        }
    }
    if (err == FKEX_OK)
        printf("size:       %zu bytes\n", len);
    return err;
}

int inspect_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *path = "-";
    cli_ctfile file;
    uint8_t *data;
    size_t len;
    fkex_header h;
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return EXIT_USAGE;
    }
    if (optind < argc)
        path = argv[optind++];
    if (optind != argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return EXIT_USAGE;
    }
    /* A ciphertext can be a large file, so it is streamed, not read whole. */
    if ((rc = cli_ctfile_begin(&file, path)) != 0)
        return rc;
    if (cli_ctfile_is_ciphertext(&file)) {
        rc = inspect_ciphertext(&file, path);
    } else if (cli_read_object_from(&data, &len, &h, &file.file.source, path) != 0) {
        rc = EXIT_USAGE;
    } else {
        fkex_err err = inspect_object(data, len, &h);
        fkex_bytes_free(data, len);
        if (err == FKEX_ERR_AUTHENTICATION && h.kind == FKEX_KIND_USER_KEY) {
            cli_error("%s: its attribute labels do not match its key parts (was the file "
                      "edited?): it is not a key the authority made", path);
            rc = EXIT_DENIED;
        } else {
            rc = err == FKEX_OK ? 0 : cli_fail(err, path);
        }
    }
    cli_ctfile_close(&file);
    return rc;
}

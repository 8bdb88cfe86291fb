/*
 * cli/keygen.c: `fkex keygen` issues a user key.
 */
#include <getopt.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/attrs.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex keygen --msk DIR/msk.fkex --attrs \"ONE TWO dept:x year=5\"\n"
               "                   [--identity alice@example.org] [--expires YYYY-MM] [-a] -o FILE\n"
               "       fkex keygen --msk DIR/msk.fkex --identity alice@example.org [-a] -o FILE\n\n"
               "Issues a key for a set of attributes, an identity, or both. The key file is\n"
               "self-contained: it embeds the authority's public parameters and\n"
               "fingerprint. It is created with mode 0600 and never overwrites a file;\n"
               "-o - writes to stdout.\n\n"
               "  -m, --msk FILE        the authority's master key\n"
               "  -t, --attrs LIST      attributes, separated by spaces or commas:\n"
               "                        names (ONE, dept:telematics) and numbers (year=5)\n"
               "  -i, --identity ID     also (or only) the identity-based key for ID, for\n"
               "                        fkex ibe decrypt; normalised: white space around it\n"
               "                        dropped, ASCII letters lower-cased\n"
               "  -e, --expires YYYY-MM add the attribute expires=YYYYMM; encryptors who\n"
               "                        write `expires >= YYYYMM` (or use encrypt --valid-at)\n"
               "                        lock the key out after that month\n"
               "  -o, --output FILE     where to write the key\n"
               "  -a, --armor           write text armor instead of binary\n");
}

int keygen_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "msk", required_argument, 0, 'm' },
        { "attrs", required_argument, 0, 't' },
        { "identity", required_argument, 0, 'i' },
        { "expires", required_argument, 0, 'e' },
        { "output", required_argument, 0, 'o' },
        { "armor", no_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *msk_path = NULL, *attrs_text = NULL, *expires = NULL, *out = NULL, *identity = NULL;
    char id[FKEX_IBE_ID_MAX + 1];
    int armor = 0, c, rc = EXIT_USAGE;
    char **attrs = NULL;
    size_t nattrs = 0;
    fkex_msk *msk = NULL;
    fkex_key *key = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    fkex_rng rng;
    fkex_err err;

    while ((c = getopt_long(argc, argv, "m:t:i:e:o:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'm': msk_path = optarg; break;
        case 't': attrs_text = optarg; break;
        case 'i': identity = optarg; break;
        case 'e': expires = optarg; break;
        case 'o': out = optarg; break;
        case 'a': armor = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (!msk_path || (!attrs_text && !identity) || !out || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing %s",
                  optind != argc ? argv[optind]
                  : !msk_path    ? "--msk"
                  : !out         ? "-o"
                                 : "--attrs or --identity");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (identity && fkex_ibe_identity(id, identity, strlen(identity)) != FKEX_OK) {
        cli_error("--identity: '%s' is not an identity", identity);
        cli_hint("an identity is 1 to 255 bytes of UTF-8 without control characters");
        return EXIT_USAGE;
    }
    if (attrs_text && cli_split_attrs(&attrs, &nattrs, attrs_text) != 0)
        return EXIT_USAGE;
    if (expires) {
        uint32_t month;
        char buf[FKEX_EXPIRY_ATTR_LEN + 1];
        if (fkex_month_parse(&month, expires) != FKEX_OK ||
            fkex_expiry_attr(buf, month) != FKEX_OK) {
            cli_error("--expires: '%s' is not a month like 2026-12", expires);
            goto out;
        }
        char **bigger = realloc(attrs, (nattrs + 1) * sizeof *attrs);
        if (!bigger || !(bigger[nattrs] = strdup(buf))) {
            attrs = bigger ? bigger : attrs;
            cli_error("out of memory");
            goto out;
        }
        attrs = bigger;
        nattrs++;
    }
    if (nattrs == 0 && attrs_text) {
        cli_error("--attrs names no attribute");
        goto out;
    }
    for (size_t i = 0; i < nattrs; i++) {
        if (fkex_attr_check(attrs[i]) != FKEX_OK) {
            cli_error("'%s' is not a valid attribute", attrs[i]);
            cli_hint("attributes look like ONE, dept:telematics or year=5 (letters, digits, _ . : @ / -)");
            goto out;
        }
    }
    if (cli_load_msk(&msk, msk_path) != 0)
        goto out;
    fkex_rng_init_system(&rng);
    if ((err = fkex_abe_keygen(&key, msk, (const char *const *)attrs, nattrs, &rng)) != FKEX_OK) {
        rc = cli_fail(err, "keygen");
        if (err == FKEX_ERR_ATTRIBUTE)
            cli_hint("each attribute may appear once, and a number only once per name");
        goto out;
    }
    if (identity && (err = fkex_ibe_keygen(key, msk, id)) != FKEX_OK) {
        rc = cli_fail(err, "keygen");
        if (err == FKEX_ERR_UNSUPPORTED)
            cli_hint("%s was made before fkex had identity-based keys; a new authority has them",
                     msk_path);
        goto out;
    }
    if ((err = fkex_key_encode(&bytes, &len, key)) != FKEX_OK) {
        rc = cli_fail(err, "keygen");
        goto out;
    }
    if (cli_write_object(out, bytes, len, FKEX_KIND_USER_KEY, armor) != 0)
        goto out;
    rc = 0;
out:
    fkex_bytes_free(bytes, len);
    fkex_key_free(key);
    fkex_msk_free(msk);
    cli_free_attrs(attrs, nattrs);
    return rc;
}

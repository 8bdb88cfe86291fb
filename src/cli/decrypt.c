/*
 * cli/decrypt.c: `fkex decrypt` opens a file with a user key.
 */
#include <getopt.h>
#include "cli/cli.h"
#include "cli/ctfile.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex decrypt --key FILE [-o OUT] [IN]\n\n"
               "Decrypts IN (default: stdin; armor is detected) to OUT (default: stdout).\n"
               "OUT appears only once the whole file has authenticated.\n\n"
               "  -k, --key FILE     your user key\n"
               "  -o, --output OUT   where to write the plaintext\n\n"
               "Exit codes: 0 decrypted; 1 the key does not satisfy the policy, comes\n"
               "from another authority, or the file was tampered with; 2 usage.\n");
}

int decrypt_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' },
        { "output", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *out = "-", *in = "-";
    int c, rc = EXIT_USAGE;
    fkex_abe_key *sk = NULL;
    fkex_abe_ct *ct = NULL;
    cli_ctfile file = { 0 };
    cli_output o = { 0 };
    uint8_t key[32];
    fkex_err err;

    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        in = argv[optind++];
    if (!key_path || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing --key",
                  optind != argc ? argv[optind] : "");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(in, "-") != 0 && strcmp(out, "-") != 0 && cli_same_file(in, out)) {
        cli_error("the output %s is the input", out);
        cli_hint("fkex never overwrites its input");
        goto out;
    }
    if (cli_load_key(&sk, key_path) != 0)
        goto out;
    if ((rc = cli_ctfile_open(&file, in, &ct)) != 0)
        goto out;
    rc = EXIT_USAGE;

    err = fkex_abe_decap(key, sk, ct, FKEX_ABE_CCA);
    if (err == FKEX_ERR_WRONG_AUTHORITY) {
        uint8_t a[FKEX_FINGERPRINT_BYTES], b[FKEX_FINGERPRINT_BYTES];
        char ta[20], tb[20];
        fkex_abe_mpk_fingerprint(a, fkex_abe_key_mpk(sk));
        fkex_abe_ct_fingerprint(b, ct);
        fkex_fingerprint_text(ta, a);
        fkex_fingerprint_text(tb, b);
        cli_error("this key comes from authority %s, the ciphertext from authority %s", ta, tb);
        cli_hint("ask authority %s for a key", tb);
        rc = EXIT_DENIED;
        goto out;
    }
    if (err == FKEX_ERR_POLICY_UNSATISFIED) {
        cli_error("your key's attributes do not satisfy the policy: %s", fkex_abe_ct_policy(ct));
        rc = EXIT_DENIED;
        goto out;
    }
    if (err != FKEX_OK) {
        rc = cli_fail(err, in);
        goto out;
    }
    if (cli_output_open(&o, out) != 0)
        goto out;
    {
        cli_file_sink sink;
        const uint8_t *ctb;
        size_t ctlen;
        cli_file_sink_init(&sink, o.f);
        fkex_abe_ct_bytes(&ctb, &ctlen, ct);
        err = fkex_stream_decrypt(&sink.sink, file.src, key, ctb, ctlen);
        if (err != FKEX_OK) {
            cli_output_abort(&o);
            if (err == FKEX_ERR_BAD_ENCODING)   /* e.g. bytes after the last chunk */
                err = FKEX_ERR_AUTHENTICATION;
            cli_error("%s: %s", in, fkex_strerror(err));
            rc = err == FKEX_ERR_IO || err == FKEX_ERR_NO_MEMORY ? EXIT_USAGE : EXIT_DENIED;
            goto out;
        }
    }
    if (cli_output_commit(&o) != 0)
        goto out;
    rc = 0;
out:
    sodium_memzero(key, sizeof key);
    cli_ctfile_close(&file);
    fkex_abe_ct_free(ct);
    fkex_abe_key_free(sk);
    return rc;
}

/*
 * cli/ibe.c: `fkex ibe encrypt|decrypt`, files for a name: Boneh-Franklin
 * to the identity, then the same payload stream as `fkex encrypt`.
 */
#include <getopt.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/payload.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex ibe encrypt --mpk FILE --to IDENTITY [-a] [-o OUT] [IN]\n"
               "       fkex ibe decrypt --key FILE [-o OUT] [IN]\n\n"
               "Identity-based encryption (Boneh-Franklin): anyone with the authority's\n"
               "public parameters encrypts to a name such as alice@example.org; only a key\n"
               "the authority issued for that name (fkex keygen --identity) decrypts.\n"
               "There are no certificates. Identities are normalised: white space around\n"
               "them is dropped and ASCII letters are lower-cased, so Alice@Example.org\n"
               "and alice@example.org are one identity (at most 255 bytes of UTF-8,\n"
               "without control characters).\n\n"
               "`fkex ibe COMMAND --help` explains each. Exit codes: 0 ok; 1 the key is\n"
               "for another identity or authority, or the file was tampered with; 2 usage.\n");
}

static void usage_encrypt(FILE *f)
{
    fprintf(f, "usage: fkex ibe encrypt --mpk FILE --to IDENTITY [-a] [-o OUT] [IN]\n\n"
               "Encrypts IN (default: stdin) to OUT (default: stdout) so that only the key\n"
               "for IDENTITY can decrypt it. Memory use is constant.\n\n"
               "  -m, --mpk FILE       the authority's public parameters (a user key works too)\n"
               "  -t, --to IDENTITY    e.g. alice@example.org (normalised: trimmed, ASCII\n"
               "                       letters lower-cased)\n"
               "  -a, --armor          text armor (needed to write to a terminal)\n"
               "  -o, --output OUT     the encrypted file; it appears only when complete\n");
}

static void usage_decrypt(FILE *f)
{
    fprintf(f, "usage: fkex ibe decrypt --key FILE [-o OUT] [IN]\n\n"
               "Decrypts IN (default: stdin; armor is detected) to OUT (default: stdout),\n"
               "as fkex decrypt does: with -o, OUT appears only once the whole file has\n"
               "authenticated; on a terminal, text is shown only after it authenticated.\n\n"
               "  -k, --key FILE     your user key, issued with --identity\n"
               "  -o, --output OUT   where to write the plaintext\n\n"
               "Exit codes: 0 decrypted; 1 the key is for another identity or from another\n"
               "authority, or the file was tampered with; 2 usage.\n");
}

static int ibe_encrypt(int argc, char **argv)
{
    static const struct option opts[] = {
        { "mpk", required_argument, 0, 'm' },
        { "to", required_argument, 0, 't' },
        { "output", required_argument, 0, 'o' },
        { "armor", no_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *mpk_path = NULL, *to = NULL, *out = "-", *in = "-";
    char id[FKEX_IBE_ID_MAX + 1];
    int armor = 0, c, rc = EXIT_USAGE;
    fkex_mpk *mpk = NULL;

    while ((c = getopt_long(argc, argv, "m:t:o:ah", opts, NULL)) != -1) {
        switch (c) {
        case 'm': mpk_path = optarg; break;
        case 't': to = optarg; break;
        case 'o': out = optarg; break;
        case 'a': armor = 1; break;
        case 'h': usage_encrypt(stdout); return 0;
        default: usage_encrypt(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        in = argv[optind++];
    if (!mpk_path || !to || optind != argc) {
        cli_error(optind != argc ? "unexpected argument '%s'" : "missing %s",
                  optind != argc ? argv[optind] : !mpk_path ? "--mpk" : "--to");
        usage_encrypt(stderr);
        return EXIT_USAGE;
    }
    if (fkex_ibe_identity(id, to, strlen(to)) != FKEX_OK) {
        cli_error("--to: '%s' is not an identity", to);
        cli_hint("an identity is 1 to 255 bytes of UTF-8 without control characters");
        return EXIT_USAGE;
    }
    if (cli_seal_check(in, out, armor) != 0)
        return EXIT_USAGE;
    if (cli_load_mpk(&mpk, mpk_path) != 0)
        goto out;
    if (!fkex_mpk_has_ibe(mpk)) {
        cli_error("%s: this authority has no identity-based parameters", mpk_path);
        cli_hint("it was created before fkex had them; a new authority (fkex setup) has both");
        goto out;
    }
    rc = cli_seal_file(in, out, armor, mpk, NULL, id, "ibe encrypt");
out:
    fkex_mpk_free(mpk);
    return rc;
}

static int ibe_decrypt(int argc, char **argv)
{
    const char *key_path = NULL, *out = "-", *in = "-";
    int rc = EXIT_USAGE;
    fkex_key *sk = NULL;
    cli_ctfile file = { 0 };

    if ((rc = cli_decrypt_args(argc, argv, &key_path, &out, &in, usage_decrypt)) >= 0)
        return rc;
    rc = EXIT_USAGE;
    if (cli_seal_check(in, out, 1) != 0)
        return EXIT_USAGE;
    if (cli_load_key(&sk, key_path) != 0)
        goto out;
    if ((rc = cli_ctfile_begin(&file, in)) != 0 || (rc = cli_ctfile_read(&file, in)) != 0)
        goto out;
    if (fkex_file_policy(file.sealed)) {
        cli_error("%s was encrypted under a policy (%s), not to an identity", in,
                  fkex_file_policy(file.sealed));
        cli_hint("decrypt it with fkex decrypt --key FILE");
        rc = EXIT_USAGE;
        goto out;
    }
    rc = cli_ctfile_decrypt(&file, in, out, sk);
out:
    cli_ctfile_close(&file);
    fkex_key_free(sk);
    return rc;
}

int ibe_main(int argc, char **argv)
{
    static const cli_subcommand subs[] = { { "encrypt", ibe_encrypt }, { "decrypt", ibe_decrypt } };
    return cli_dispatch(argc, argv, subs, FKEX_ARRAY_LEN(subs), usage, "ibe",
                        "encrypt and decrypt");
}

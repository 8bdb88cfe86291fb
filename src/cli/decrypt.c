/*
 * cli/decrypt.c: `fkex decrypt` opens a file with a user key.
 */
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/payload.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex decrypt --key FILE [-o OUT] [IN]\n\n"
               "Decrypts IN (default: stdin; armor is detected) to OUT (default: stdout).\n"
               "With -o, OUT appears only once the whole file has authenticated. On\n"
               "standard output each 64 KiB chunk is written once it authenticates, so a\n"
               "damaged file can leave its authentic beginning there (and exit 1); on a\n"
               "terminal, text is shown only after the whole file authenticated, and\n"
               "binary plaintext is refused.\n\n"
               "  -k, --key FILE     your user key\n"
               "  -o, --output OUT   where to write the plaintext\n\n"
               "Exit codes: 0 decrypted; 1 the key does not satisfy the policy, comes\n"
               "from another authority, or the file was tampered with; 2 usage.\n");
}

int decrypt_main(int argc, char **argv)
{
    const char *key_path = NULL, *out = "-", *in = "-";
    int rc;
    fkex_key *sk = NULL;
    cli_ctfile file = { 0 };

    if ((rc = cli_decrypt_args(argc, argv, &key_path, &out, &in, usage)) >= 0)
        return rc;
    if ((rc = cli_seal_check(in, out, 1)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (cli_load_key(&sk, key_path) != 0)
        goto out;
    if ((rc = cli_ctfile_begin(&file, in)) != 0 || (rc = cli_ctfile_read(&file, in)) != 0)
        goto out;
    if (fkex_file_identity(file.sealed)) {
        cli_error("%s was encrypted to an identity (%s), not under a policy", in,
                  fkex_file_identity(file.sealed));
        cli_hint("decrypt it with fkex ibe decrypt --key FILE");
        rc = EXIT_USAGE;
        goto out;
    }
    rc = cli_ctfile_decrypt(&file, in, out, sk);
out:
    cli_ctfile_close(&file);
    fkex_key_free(sk);
    return rc;
}

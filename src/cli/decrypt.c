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
    fkex_abe_ct *ct = NULL;
    cli_ctfile file = { 0 };
    uint8_t key[32];
    fkex_err err;

    if ((rc = cli_decrypt_args(argc, argv, &key_path, &out, &in, usage)) >= 0)
        return rc;
    if ((rc = cli_seal_check(in, out, 1)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (cli_load_key(&sk, key_path) != 0)
        goto out;
    if ((rc = cli_ctfile_open(&file, in, &ct)) != 0)
        goto out;
    rc = EXIT_USAGE;

    err = fkex_abe_decap(key, sk, ct, FKEX_ABE_CCA);
    if (err == FKEX_ERR_WRONG_AUTHORITY) {
        uint8_t b[FKEX_FINGERPRINT_BYTES];
        fkex_abe_ct_fingerprint(b, ct);
        rc = cli_other_authority(sk, b);
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
    {
        const uint8_t *ctb;
        size_t ctlen;
        fkex_abe_ct_bytes(&ctb, &ctlen, ct);
        rc = cli_open_payload(&file, in, out, key, ctb, ctlen);
    }
out:
    sodium_memzero(key, sizeof key);
    cli_ctfile_close(&file);
    fkex_abe_ct_free(ct);
    fkex_key_free(sk);
    return rc;
}

/*
 * cli/transport.c: the command's side of TLS (net/tls.h): which context a
 * daemon or a client uses, and the warnings that go with the exceptions.
 */
#include <stdlib.h>
#include "cli/cli.h"
#include "net/net.h"

int cli_server_tls(fkex_tls **t, const char *key_opt, const char *key_default,
                   const char *cert_path, int plaintext)
{
    const char *key_path = key_opt ? key_opt : key_default;
    char err[160];
    int created = 0;
    fkex_err e;
    *t = NULL;
    if (cert_path && !key_opt) {
        cli_error("--tls-cert needs --tls-key");
        return EXIT_USAGE;
    }
    if (plaintext && key_opt) {
        cli_error("--insecure-plaintext and --tls-key%s exclude each other",
                  cert_path ? "/--tls-cert" : "");
        return EXIT_USAGE;
    }
    if (plaintext) {
        fprintf(stderr, "fkex: warning: --insecure-plaintext: clients connect over plain TCP; "
                        "anyone on the path sees and can change what they send\n");
        return 0;
    }
    e = cert_path ? fkex_tls_server_cert_new(t, cert_path, key_path, err)
                  : fkex_tls_server_new(t, key_path, &created, err);
    if (e != FKEX_OK) {
        cli_error("%s", err);
        if (cert_path)
            cli_hint("--tls-cert is the server's certificate chain in PEM, --tls-key its key");
        return EXIT_USAGE;
    }
    if (created)
        fprintf(stderr, "fkex: made a TLS key in %s: invitations and tokens pin it\n", key_path);
    return 0;
}

int cli_client_tls(fkex_tls **t, int plaintext)
{
    char err[160];
    *t = NULL;
    if (plaintext)
        return 0;
    if (fkex_tls_client_new(t, err) != FKEX_OK) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    return 0;
}

void cli_warn_unpinned(const char *list, const char *what)
{
    if (fkex_net_address_list_unpinned(list))
        fprintf(stderr, "fkex: warning: %s does not pin the server's key (it was made "
                        "before servers had keys): the link is encrypted, but a server in "
                        "the middle would not be noticed; ask for a new one\n", what);
}

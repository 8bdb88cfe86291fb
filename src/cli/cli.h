/*
 * cli/cli.h: what the subcommands share: exit codes, error reporting, and
 * files (read whole, armor detected; written atomically or exclusively).
 *
 * One file per subcommand, each exposing <name>_main, dispatched from the
 * table in main.c (the wireguard-tools layout).
 */
#ifndef FKEX_CLI_H
#define FKEX_CLI_H

#include <stdio.h>
#include <sys/types.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "file/file.h"
#include "fkex/fkex.h"
#include "kms/kms.h"
#include "net/tls.h"

#define EXIT_DENIED 1   /* policy not satisfied, authentication failed */
#define EXIT_USAGE 2    /* usage or fatal error */

int setup_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int encrypt_main(int argc, char **argv);
int decrypt_main(int argc, char **argv);
int inspect_main(int argc, char **argv);
int bench_main(int argc, char **argv);
int kms_main(int argc, char **argv);
int enroll_main(int argc, char **argv);
int room_main(int argc, char **argv);
int relay_main(int argc, char **argv);
int chat_main(int argc, char **argv);
int ibe_main(int argc, char **argv);

/* "fkex: error: ..." and "fkex: hint: ..." on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports err (with what it concerns) and returns the exit code for it. */
int cli_fail(fkex_err err, const char *what);
int cli_exit_code(fkex_err err);
/* 0 if setup knows the CP-ABE scheme named by --scheme; otherwise says so,
 * with the names it knows, and returns -1. */
int cli_scheme_check(const char *scheme);
/* Prints a policy error with the text and a caret under the column. */
void cli_policy_error(const char *text, const fkex_policy_error *perr);

/* write(2) until all of p is written (EINTR retried); -1 on an error. */
int cli_write_all(int fd, const uint8_t *p, size_t len);
/* The daemons' hooks (kms serve, relay): "listening on ADDR" on stdout,
 * flushed, for scripts to read; log lines "fkex NAME: ..." on stderr,
 * NAME being the hooks' ctx (a string). */
void cli_daemon_ready(void *ctx, const char *addr);
void cli_daemon_log(void *ctx, const char *line);

/* ---- transport security (cli/transport.c) ----
 * A daemon's TLS: the operator's certificate and key (--tls-cert,
 * --tls-key), or the daemon's own key in --tls-key or else key_default
 * (made on first start), or none with --insecure-plaintext (said on
 * stderr), which excludes both options. 0, or EXIT_USAGE (said). */
int cli_server_tls(fkex_tls **t, const char *key_opt, const char *key_default,
                   const char *cert_path, int plaintext);
/* A client's: a context, or NULL with --insecure-plaintext. 0, or
 * EXIT_USAGE (said). */
int cli_client_tls(fkex_tls **t, int plaintext);
/* Warns once for a list of endpoints ("E1,E2") with one that pins no key
 * and names no server (written before servers had keys). */
void cli_warn_unpinned(const char *list, const char *what);
#define CLI_PLAINTEXT_HELP                                                            \
    "      --insecure-plaintext\n"                                                    \
    "                        plain TCP instead of TLS, for benchmarks and debugging:\n" \
    "                        anyone on the path sees the room ids, who sends when\n"   \
    "                        and how much, and can cut or inject frames (contents\n"   \
    "                        stay end-to-end encrypted); the other side must say it\n"

/* Reads a whole object file ("-" is stdin), removing armor if present, and
 * checks that it is an fkex object. On failure prints why and returns -1. */
int cli_read_object(uint8_t **data, size_t *len, fkex_header *h, const char *path);
int cli_read_object_from(uint8_t **data, size_t *len, fkex_header *h, fkex_source *src,
                         const char *name);
/* "a user key", "public parameters": for sentences. */
const char *cli_kind_phrase(fkex_kind kind);
/* Loads public parameters from a public-parameters file, a user key or a
 * master key (each carries them). */
int cli_load_mpk(fkex_mpk **mpk, const char *path);
int cli_load_key(fkex_key **key, const char *path);
int cli_load_msk(fkex_msk **msk, const char *path);

/* The directory a command fills (setup, kms init, room create): made with
 * mode if it is not there. 1 if made, 0 if it was there, -1 (said) if it
 * cannot be. */
int cli_dir_begin(const char *dir, mode_t mode);
/* After the command: if it failed (rc != 0) and made dir, dir goes again,
 * if it is empty (the command removes what it wrote first). */
void cli_dir_end(const char *dir, int made, int rc);
/* Writes an object to path ("-" is stdout), armored if asked. Secret
 * objects are created O_EXCL with mode 0600; every file is created
 * exclusively, so nothing is ever overwritten. Refuses binary output to a
 * terminal. */
int cli_write_object(const char *path, const uint8_t *data, size_t len,
                     fkex_kind kind, int armor);

/* ---- streams over files ---------------------------------------------- */
/* Each remembers the errno of its first failure, so that the message can
 * say which file failed and why. */
typedef struct {
    fkex_source source;
    FILE *f;
    uint8_t peek[32];             /* bytes read ahead to detect armor */
    size_t npeek, peek_off;
    int error;
} cli_file_source;

typedef struct {
    fkex_sink sink;
    FILE *f;
    int error;
} cli_file_sink;

void cli_file_source_init(cli_file_source *s, FILE *f);
/* Reads ahead up to sizeof peek bytes; they are replayed by the source. */
void cli_file_source_peek(cli_file_source *s);
void cli_file_sink_init(cli_file_sink *s, FILE *f);
/* Reports a failed stream: an I/O error names the file that failed and
 * why; anything else is reported against `what`. Returns the exit code. */
int cli_stream_fail(fkex_err err, const char *what, const cli_file_source *in,
                    const char *in_name, const cli_file_sink *out, const char *out_name);

/* An output file that appears only when complete: written to a temporary
 * file in the same directory (mode 0600), linked into place by commit
 * (never over an existing file) with mode 0600 if secret (a decryption's
 * plaintext), else 0666 less the umask, removed by abort, and by a
 * SIGINT, SIGTERM or SIGHUP meanwhile (which then ends the process as it
 * would have), so that an interrupted decryption leaves no partial
 * plaintext behind. One at a time. path "-" is stdout, where nothing can
 * be taken back. */
typedef struct {
    FILE *f;
    char *path, *tmp;
    int secret;
} cli_output;

int cli_output_open(cli_output *o, const char *path, int secret);
int cli_output_commit(cli_output *o);
void cli_output_abort(cli_output *o);

int cli_is_help(const char *arg);

/* `fkex GROUP SUB ...` for a group of subcommands: runs the one named by
 * argv[1] with argv + 1, prints usage for none or --help, and names the
 * subcommands (`list`, e.g. "init, token and serve") for an unknown one. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} cli_subcommand;
int cli_dispatch(int argc, char **argv, const cli_subcommand *subs, size_t n,
                 void (*usage)(FILE *), const char *group, const char *list);
/* 1 if both paths name the same existing file (links included). */
int cli_same_file(const char *a, const char *b);

#endif

/*
 * cli/relay.c: `fkex relay`, the daemon that orders and stores each room's
 * messages (relay/serve.h). It holds no secret: the database is rooms,
 * rosters of public keys, and frames that only members can read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "kms/kms.h"   /* fkex_addr_check */
#include "relay/serve.h"

#define DEFAULT_ADDR "127.0.0.1:7710"
#define DEFAULT_DB "relay.db"
#define GRACE_MAX (7u * 86400u)

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex relay [--listen 127.0.0.1:7710] [--db FILE] [--grace SECONDS] [-v]\n\n"
               "Relays rooms until SIGTERM or SIGINT: orders each room's handshake messages,\n"
               "names sponsors for joins, stores every accepted message before acknowledging\n"
               "it, and replays what a member missed when it comes back. Prints \"listening on\n"
               "HOST:PORT\" once ready (--listen HOST:0 picks a free port). Does not fork.\n\n"
               "  -l, --listen HOST:PORT  where to listen (default " DEFAULT_ADDR ")\n"
               "  -d, --db FILE           the rooms and their logs, SQLite (default ./" DEFAULT_DB ",\n"
               "                          created if missing)\n"
               "  -g, --grace SECONDS     how long a member that dropped stays online for its\n"
               "                          room (default 60); after it, sponsorship moves on.\n"
               "                          Nobody is removed by the relay: members do that\n"
               "  -v, --verbose           log sessions and refusals to stderr (public keys\n"
               "                          abbreviated; the relay holds no secret)\n");
}

static void on_ready(void *ctx, const char *addr)
{
    (void)ctx;
    printf("listening on %s\n", addr);
    fflush(stdout);
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "fkex relay: %s\n", line);
}

int relay_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' },
        { "db", required_argument, 0, 'd' },
        { "grace", required_argument, 0, 'g' },
        { "verbose", no_argument, 0, 'v' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *listen = DEFAULT_ADDR, *db = DEFAULT_DB;
    unsigned long grace = RELAY_DEFAULT_GRACE_MS / 1000;
    relay_hooks hooks = { on_ready, NULL, NULL };
    relay_store *st = NULL;
    char msg[256];
    fkex_err err;
    int c;

    while ((c = getopt_long(argc, argv, "l:d:g:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'd': db = optarg; break;
        case 'g': {
            char *end;
            errno = 0;
            grace = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || grace > GRACE_MAX) {
                cli_error("--grace: '%s' is not a number of seconds (0 to %u)", optarg, GRACE_MAX);
                return EXIT_USAGE;
            }
            break;
        }
        case 'v': hooks.log = on_log; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (fkex_addr_check(listen, 1) != 0) {
        cli_error("--listen: '%s' is not HOST:PORT", listen);
        cli_hint("for example --listen 127.0.0.1:7710, or HOST:0 for a free port");
        return EXIT_USAGE;
    }
    if (relay_store_open(&st, db, msg, sizeof msg) != FKEX_OK) {
        cli_error("%s: %s", db, msg[0] ? msg : "cannot open the database");
        return EXIT_USAGE;
    }
    err = relay_serve(st, listen, (uint64_t)grace * 1000u, &hooks, msg);
    relay_store_close(st);
    if (err != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : fkex_strerror(err));
        if (err == FKEX_ERR_IO && strstr(msg, "address"))
            cli_hint("another process may be listening there: choose another --listen");
        return EXIT_USAGE;
    }
    return 0;
}

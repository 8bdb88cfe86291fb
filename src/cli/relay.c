/*
 * cli/relay.c: `fkex relay`, the daemon that orders and stores each room's
 * messages (relay/serve.h). It holds no secret: the database is rooms,
 * rosters of public keys, and frames that only members can read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "kms/kms.h"   /* fkex_addr_check */
#include "relay/checkpoint.h"
#include "relay/jetstream.h"
#include "relay/serve.h"

#define DEFAULT_ADDR "127.0.0.1:7710"
#define DEFAULT_DB "relay.db"
#define GRACE_MAX (7u * 86400u)
#define TIMEOUT_MAX 3600u
#define CONNS_MAX 10000000u
#define CHECKPOINT_MS 1000u   /* how often the log is copied back into the database */

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex relay [--listen 127.0.0.1:7710] [--db FILE | --store nats://HOST:PORT,...]\n"
               "                  [--grace SECONDS]\n"
               "                  [--frame-timeout SECONDS] [--session-timeout SECONDS]\n"
               "                  [--keepalive SECONDS] [--max-connections N]\n"
               "                  [--sync full|normal] [--tls-key FILE [--tls-cert FILE]]\n"
               "                  [--insecure-plaintext] [--web DIR] [-v]\n\n"
               "Relays rooms until SIGTERM or SIGINT: orders each room's handshake messages,\n"
               "names sponsors for joins, stores every accepted message before acknowledging\n"
               "it, and replays what a member missed when it comes back. Prints \"listening on\n"
               "PIN@HOST:PORT\" once ready (--listen HOST:0 picks a free port): PIN is the\n"
               "SHA-256 of the relay's TLS key, and PIN@HOST:PORT what `fkex room create\n"
               "--relay` takes, so that invitations pin the key. Does not fork.\n\n"
               "  -l, --listen HOST:PORT  where to listen (default " DEFAULT_ADDR ")\n"
               "  -d, --db FILE           the rooms and their logs, SQLite (default ./" DEFAULT_DB ",\n"
               "                          created if missing)\n"
               "  -s, --store nats://HOST:PORT[,HOST:PORT...]\n"
               "                          instead of --db: the rooms live in a NATS JetStream\n"
               "                          cluster that several relays share (stream FKEX_ROOMS,\n"
               "                          replicas 3 where the cluster has three nodes). Each\n"
               "                          relay folds the whole log into a cache of its own and\n"
               "                          listens once it has caught up; a client may use any\n"
               "                          of them. The servers must take 17 MiB messages\n"
               "                          (max_payload)\n"
               "  -g, --grace SECONDS     how long a member that dropped stays online for its\n"
               "                          room (default 60); after it, sponsorship moves on.\n"
               "                          Nobody is removed by the relay: members do that\n"
               "      --frame-timeout SECONDS\n"
               "                          a frame begun must be complete within this (default\n"
               "                          10); a client that trickles bytes is told so and cut off\n"
               "      --session-timeout SECONDS\n"
               "                          a connection must say HELLO (and AUTH), or have asked\n"
               "                          for a descriptor, within this (default 30)\n"
               "      --keepalive SECONDS a member's (or joiner's, or direct conversation's)\n"
               "                          connection silent this long is pinged (default 15); one\n"
               "                          that stays silent as long again is closed, so that a\n"
               "                          frozen client goes away and, after the grace, is removed\n"
               "      --max-connections N connections held at once (default 20000, or less if\n"
               "                          the open-file limit is lower); past it a client is told\n"
               "                          the relay is full and cut off\n"
               "      --sync full|normal  full (the default): a message is on disk before it is\n"
               "                          acknowledged, through a power loss (one fsync per\n"
               "                          loop turn); normal: through a crash of the relay,\n"
               "                          but a power loss may lose the last ones (as a broker\n"
               "                          that fsyncs on a timer); a shorter wait per message\n"
               "      --tls-key FILE      the relay's TLS key (default: relay.key beside the\n"
               "                          database; with --store, ./relay.key), made (Ed25519,\n"
               "                          mode 0600) if missing; keep it: invitations pin it\n"
               "      --tls-cert FILE     a certificate chain for --tls-key from a certificate\n"
               "                          authority (PEM); clients that dial NAME@HOST:PORT then\n"
               "                          check it and the name instead of a pin\n"
               "      --insecure-plaintext\n"
               "                          plain TCP instead of TLS 1.3, for benchmarks and\n"
               "                          debugging: anyone on the path sees room ids, who sends\n"
               "                          when and how much, and can cut or inject frames (the\n"
               "                          contents stay end-to-end encrypted); clients must say\n"
               "                          --insecure-plaintext too\n"
               "      --web DIR           serve browsers on the same port too: the web client\n"
               "                          (the files in DIR, read at start; `make wasm` builds\n"
               "                          them into build/wasm/web) at https://HOST:PORT/, and\n"
               "                          WebSockets at /fkex that carry the relay's frames.\n"
               "                          A browser checks the relay's certificate by its own\n"
               "                          rules, not by the invitation's pin (README, \"The web\n"
               "                          client\")\n"
               "  -v, --verbose           log sessions and refusals to stderr (public keys\n"
               "                          abbreviated; the relay holds no secret)\n");
}

/* With --web: where browsers go too, once listening ("browsers:
 * https://HOST:PORT/ (key pin PIN)"; the pin is of the key they get; with
 * --tls-cert, by the name the certificate bears; without TLS, http). */
static const fkex_tls *web_tls;
static int web_certified, web_plaintext;
static void web_ready(void *ctx, const char *addr)
{
    const char *at = strchr(addr, '@');
    uint8_t pin[FKEX_PIN_BYTES];
    char text[FKEX_PIN_TEXT_LEN + 1] = "";
    cli_daemon_ready(ctx, addr);
    if (web_tls) {
        fkex_tls_web_pin(web_tls, pin);
        fkex_pin_text(text, pin);
    }
    printf("browsers: %s://%s/%s%s%s\n", web_plaintext ? "http" : "https", at ? at + 1 : addr,
           text[0] ? " (key pin " : web_certified ? " (by the name its certificate bears)" : "", text,
           text[0] ? ")" : "");
    fflush(stdout);
}

/* The browsers' key beside the relay's: "relay.key" -> "relay-web.key". */
static void web_key_path(char *out, size_t cap, const char *key_path)
{
    size_t n = strlen(key_path);
    if (n > 4 && strcmp(key_path + n - 4, ".key") == 0)
        snprintf(out, cap, "%.*s-web.key", (int)(n - 4), key_path);
    else
        snprintf(out, cap, "%s-web", key_path);
}

/* A whole number from min to max for option name; -1 after saying why. */
static int parse_number(const char *name, const char *arg, unsigned long min, unsigned long max,
                        const char *what, unsigned long *out)
{
    char *end;
    errno = 0;
    *out = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || *out < min || *out > max) {
        cli_error("--%s: '%s' is not a number of %s (%lu to %lu)", name, arg, what, min, max);
        return -1;
    }
    return 0;
}

/* --store: the rooms are the fold of a shared log, kept by this relay in
 * a cache of its own: a new SQLite file in $TMPDIR, removed at exit. */
static int cluster_relay(const char *store, const char *listen, relay_options *opt,
                         const relay_hooks *hooks)
{
    char servers[RELAY_JS_MAX_SERVERS][80], msg[256], path[512], side[540];
    const char *tmp = getenv("TMPDIR");
    relay_store *st = NULL;
    int n, fd;
    fkex_err err;
    if (relay_js_parse(store, servers, &n, msg) != 0) {
        cli_error("--store: %s", msg);
        cli_hint("for example --store nats://127.0.0.1:4222,127.0.0.1:4223");
        return EXIT_USAGE;
    }
    snprintf(path, sizeof path, "%s/fkex-relay-cache-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if ((fd = mkstemp(path)) < 0) {
        cli_error("cannot make the relay's cache in %s: %s", tmp && *tmp ? tmp : "/tmp",
                  strerror(errno));
        return EXIT_USAGE;
    }
    close(fd);
    if (relay_store_open(&st, path, msg, sizeof msg) != FKEX_OK ||
        relay_store_set_sync(st, 0) != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : "cannot open the relay's cache");
        relay_store_close(st);
        unlink(path);
        return EXIT_USAGE;
    }
    opt->cluster = store;
    err = relay_serve(st, listen, opt, hooks, msg);
    relay_store_close(st);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    if (err != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : fkex_strerror(err));
        if (err == FKEX_ERR_IO && strstr(msg, "address"))
            cli_hint("another process may be listening there: choose another --listen");
        else if (err == FKEX_ERR_IO)
            cli_hint("is the NATS cluster up, with JetStream on? (nats-server -js)");
        return EXIT_USAGE;
    }
    return 0;
}

/* --db: the rooms are in the database, which this relay alone opens. */
static int db_relay(const char *db, int sync_full, const char *listen, const relay_options *opt,
                    const relay_hooks *hooks)
{
    relay_store *st = NULL;
    relay_checkpointer *cp = NULL;
    char msg[256];
    fkex_err err;
    /* One relay per database: a second would corrupt the first's rooms. */
    int claim = relay_store_claim(db, msg, sizeof msg);
    if (claim < 0) {
        cli_error("%s", msg);
        if (strstr(msg, "in use"))
            cli_hint("stop the other relay, or give this one its own --db");
        return EXIT_USAGE;
    }
    if (relay_store_open(&st, db, msg, sizeof msg) != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : "cannot open the database");
        close(claim);
        return EXIT_USAGE;
    }
    if (relay_store_set_sync(st, sync_full) != FKEX_OK) {
        cli_error("%s: cannot set --sync", db);
        relay_store_close(st);
        close(claim);
        return EXIT_USAGE;
    }
    /* --sync normal: checkpoints from another thread, not in the middle of
     * a commit (with full, each commit syncs anyway, and a second thread
     * syncing the database meanwhile made the commits' tail longer). */
    if (!sync_full && (relay_checkpointer_start(&cp, db, CHECKPOINT_MS) != FKEX_OK ||
                       relay_store_autocheckpoint(st, 0) != FKEX_OK)) {
        cli_error("%s: cannot open a second connection for checkpoints", db);
        relay_checkpointer_stop(cp);
        relay_store_close(st);
        close(claim);
        return EXIT_USAGE;
    }
    err = relay_serve(st, listen, opt, hooks, msg);
    relay_checkpointer_stop(cp);
    relay_store_close(st);
    close(claim);
    if (err != FKEX_OK) {
        cli_error("%s", msg[0] ? msg : fkex_strerror(err));
        if (err == FKEX_ERR_IO && strstr(msg, "address"))
            cli_hint("another process may be listening there: choose another --listen");
        return EXIT_USAGE;
    }
    return 0;
}

int relay_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' },
        { "db", required_argument, 0, 'd' },
        { "store", required_argument, 0, 's' },
        { "grace", required_argument, 0, 'g' },
        { "frame-timeout", required_argument, 0, 'F' },
        { "session-timeout", required_argument, 0, 'S' },
        { "keepalive", required_argument, 0, 'K' },
        { "max-connections", required_argument, 0, 'C' },
        { "sync", required_argument, 0, 'Y' },
        { "tls-key", required_argument, 0, 'k' },
        { "tls-cert", required_argument, 0, 'c' },
        { "insecure-plaintext", no_argument, 0, 'P' },
        { "web", required_argument, 0, 'W' },
        { "verbose", no_argument, 0, 'v' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *listen = DEFAULT_ADDR, *db = NULL, *store = NULL, *tls_key = NULL, *tls_cert = NULL,
               *web = NULL;
    fkex_web_site site = { NULL, 0 };
    char key_path[4096];
    fkex_tls *tls = NULL;
    unsigned long n;
    relay_options opt;
    relay_hooks hooks = { cli_daemon_ready, NULL, "relay" };
    int c, sync_full = 1, plaintext = 0, rc;

    relay_options_default(&opt);
    while ((c = getopt_long(argc, argv, "l:d:s:g:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'l': listen = optarg; break;
        case 'd': db = optarg; break;
        case 's': store = optarg; break;
        case 'g':
            if (parse_number("grace", optarg, 0, GRACE_MAX, "seconds", &n) != 0)
                return EXIT_USAGE;
            opt.grace_ms = (uint64_t)n * 1000u;
            break;
        case 'F':
            if (parse_number("frame-timeout", optarg, 1, TIMEOUT_MAX, "seconds", &n) != 0)
                return EXIT_USAGE;
            opt.frame_timeout_ms = (uint64_t)n * 1000u;
            break;
        case 'S':
            if (parse_number("session-timeout", optarg, 1, TIMEOUT_MAX, "seconds", &n) != 0)
                return EXIT_USAGE;
            opt.session_timeout_ms = (uint64_t)n * 1000u;
            break;
        case 'K':
            if (parse_number("keepalive", optarg, 1, TIMEOUT_MAX, "seconds", &n) != 0)
                return EXIT_USAGE;
            opt.keepalive_ms = (uint64_t)n * 1000u;
            break;
        case 'C':
            if (parse_number("max-connections", optarg, 1, CONNS_MAX, "connections", &n) != 0)
                return EXIT_USAGE;
            opt.max_conns = n;
            break;
        case 'Y':
            if (strcmp(optarg, "full") != 0 && strcmp(optarg, "normal") != 0) {
                cli_error("--sync: '%s' is neither full nor normal", optarg);
                return EXIT_USAGE;
            }
            sync_full = strcmp(optarg, "full") == 0;
            break;
        case 'k': tls_key = optarg; break;
        case 'c': tls_cert = optarg; break;
        case 'P': plaintext = 1; break;
        case 'W': web = optarg; break;
        case 'v': hooks.log = cli_daemon_log; break;
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
    /* A file-size limit (ulimit -f) is a write that fails, refused and
     * logged as a full disk is, not the end of the relay. */
    signal(SIGXFSZ, SIG_IGN);
    if (store && db) {   /* before the key is made */
        cli_error("--db and --store exclude each other");
        cli_hint("a relay of a cluster keeps its rooms in the shared log (--store)");
        return EXIT_USAGE;
    }
    if (!store && !db)
        db = DEFAULT_DB;
    {   /* the default key: beside the database */
        const char *slash = db ? strrchr(db, '/') : NULL;
        snprintf(key_path, sizeof key_path, "%.*srelay.key", slash ? (int)(slash - db + 1) : 0,
                 db ? db : "");
    }
    if (web) {
        char why[128];
        fkex_err e = fkex_web_site_load(&site, web, why);
        if (e != FKEX_OK) {
            cli_error("--web: %s", e == FKEX_ERR_NO_MEMORY ? "out of memory" : why);
            cli_hint("`make wasm` builds the web client into build/wasm/web");
            return EXIT_USAGE;
        }
        opt.web = &site;
    }
    if ((rc = cli_server_tls(&tls, tls_key, key_path, tls_cert, plaintext)) != 0) {
        fkex_web_site_free(&site);
        return rc;
    }
    if (web && tls && !tls_cert) {   /* with --tls-cert, browsers check the operator's chain */
        char web_key[4200], why[160];
        int created;
        web_key_path(web_key, sizeof web_key, tls_key ? tls_key : key_path);
        if (fkex_tls_server_add_web_key(tls, web_key, &created, why) != FKEX_OK) {
            cli_error("%s", why);
            fkex_tls_free(tls);
            fkex_web_site_free(&site);
            return EXIT_USAGE;
        }
        if (created)
            fprintf(stderr, "fkex: made a TLS key for browsers in %s\n", web_key);
        web_tls = tls;
    }
    if (web) {
        hooks.on_ready = web_ready;
        web_certified = tls_cert != NULL;
        web_plaintext = tls == NULL;
    }
    opt.tls = tls;
    rc = store ? cluster_relay(store, listen, &opt, &hooks)
               : db_relay(db, sync_full, listen, &opt, &hooks);
    fkex_tls_free(tls);
    fkex_web_site_free(&site);
    return rc;
}

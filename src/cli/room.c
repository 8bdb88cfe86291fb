/*
 * cli/room.c: `fkex room create | invite | set-policy | publish`, a room's
 * admin side, in a room directory (cli/roomdir.h).
 *
 * Files are never overwritten: a policy change writes the next version.
 * The invitation, fkex://PIN@HOST:PORT/ROOMID (64 hex digits), pins the
 * relay's TLS key and the room id, so nobody on the path can pose as the
 * relay, and a relay cannot hand a joiner another room or another admin's
 * descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/roomdir.h"
#include "net/net.h"
#include "wire/relay_msg.h"

/* Writes data, armored as `kind` (or as it is if kind is NULL), to a new
 * file: never over an existing one. */
static int write_new(const char *path, const char *kind, const uint8_t *data, size_t len,
                     mode_t mode)
{
    char *text;
    size_t tlen;
    fkex_err err = FKEX_OK;
    if (kind) {
        err = fkex_armor_encode(&text, &tlen, kind, data, len);
    } else if ((text = malloc(len + 1)) != NULL) {
        memcpy(text, data, len);
        tlen = len;
    } else {
        err = FKEX_ERR_NO_MEMORY;
    }
    if (err != FKEX_OK)
        return cli_fail(err, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        cli_error("cannot create %s: %s", path, strerror(errno));
        if (errno == EEXIST)
            cli_hint("fkex never overwrites room files; choose another --dir");
        sodium_memzero(text, tlen);
        free(text);
        return EXIT_USAGE;
    }
    ssize_t w = write(fd, text, tlen);
    int ok = w == (ssize_t)tlen && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    sodium_memzero(text, tlen);
    free(text);
    if (!ok) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return EXIT_USAGE;
    }
    return 0;
}

static int read_relay(char out[FKEX_NET_LIST_TEXT_MAX], const char *dir)
{
    char *p = room_path(dir, "relay");
    FILE *f = p ? fopen(p, "r") : NULL;
    int rc = EXIT_USAGE;
    if (!f) {
        cli_error("cannot open %s: %s", p ? p : dir, strerror(errno));
    } else if (!fgets(out, FKEX_NET_LIST_TEXT_MAX, f)) {
        cli_error("%s is empty", p);
    } else {
        out[strcspn(out, "\r\n")] = 0;
        rc = 0;
    }
    if (f)
        fclose(f);
    free(p);
    return rc;
}

/* An invitation that pins no relay key is still made (a relay run with
 * --insecure-plaintext has none), with a warning. */
static void unpinned_hint(const char *relay)
{
    if (!fkex_net_address_list_unpinned(relay))
        return;
    fprintf(stderr, "fkex: warning: --relay %s pins no key: the invitation will not "
                    "authenticate the relay\n", relay);
    cli_hint("give the address as fkex relay printed it, PIN@HOST:PORT");
}

static void print_invite(const char *relay, const uint8_t room_id[32])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, room_id, 32);
    printf("fkex://%s/%s\n", relay, hex);
}

/* ---- create --------------------------------------------------------------- */

static void usage_create(FILE *f)
{
    fprintf(f, "usage: fkex room create NAME --policy POLICY --relay HOST:PORT --dir DIR\n"
               "                        [--require-period] [--mode ratchet|seed]\n\n"
               "Creates a room in DIR: the admin's signing key (DIR/admin.key, mode 0600),\n"
               "the signed descriptor naming the room's policy (DIR/descriptor.1) and the\n"
               "relay's address, then prints the invitation. Only users whose attributes\n"
               "satisfy the policy can join.\n\n"
               "  -p, --policy POLICY   who may join, e.g. \"(ONE or THREE) and (TWO or FOUR)\"\n"
               "  -r, --relay ADDR      the relay that hosts the room, HOST:PORT; or the\n"
               "                        relays of a cluster (fkex relay --store),\n"
               "                        HOST:PORT,HOST:PORT...: clients use any of them\n"
               "  -d, --dir DIR         where to keep the room's files (created, mode 0700)\n"
               "      --require-period  members must also hold the current period:<P>\n"
               "                        attribute (keys that expire drop out)\n"
               "  -m, --mode MODE       ratchet (the default) or seed: the 2014 prototype's\n"
               "                        protocol, kept for comparison and NOT secure (no\n"
               "                        forward secrecy, no lock-out of departed members,\n"
               "                        no authentication); members join with --mode seed\n");
}

static int room_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "policy", required_argument, 0, 'p' }, { "relay", required_argument, 0, 'r' },
        { "dir", required_argument, 0, 'd' }, { "require-period", no_argument, 0, 'P' },
        { "mode", required_argument, 0, 'm' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *policy = NULL, *relay = NULL, *dir = NULL, *name;
    uint32_t options = 0;
    uint8_t pk[32], sk[64], admin[ROOM_ADMIN_FILE_BYTES], room_id[32], *d = NULL;
    size_t dlen = 0;
    fkex_policy *p = NULL;
    fkex_policy_error perr;
    fkex_rng rng;
    int c, rc = EXIT_USAGE, written = 0;   /* files of the room made so far */
    char *path = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:r:d:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': policy = optarg; break;
        case 'r': relay = optarg; break;
        case 'd': dir = optarg; break;
        case 'P': options |= FKEX_ROOM_REQUIRE_PERIOD; break;
        case 'm':
            if (strcmp(optarg, "seed") == 0) {
                options |= FKEX_ROOM_SEED_MODE;
            } else if (strcmp(optarg, "ratchet") != 0) {
                cli_error("unknown mode '%s': ratchet or seed", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': usage_create(stdout); return 0;
        default: usage_create(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        cli_error("missing the room's NAME");
    else if (optind + 1 < argc)
        cli_error("unexpected argument '%s'", argv[optind + 1]);
    else if (!policy || !relay || !dir)
        cli_error("missing --policy, --relay or --dir");
    if (optind + 1 != argc || !policy || !relay || !dir) {
        usage_create(stderr);
        return EXIT_USAGE;
    }
    if ((options & FKEX_ROOM_SEED_MODE) && (options & FKEX_ROOM_REQUIRE_PERIOD)) {
        cli_error("a seed-mode room cannot require a period: the prototype's protocol has none");
        return EXIT_USAGE;
    }
    name = argv[optind];
    if (!*name || strlen(name) > FKEX_ROOM_NAME_MAX) {
        cli_error("a room name has 1 to %d bytes", FKEX_ROOM_NAME_MAX);
        return EXIT_USAGE;
    }
    if (!fkex_net_address_list(relay)) {
        cli_error("'%s' is not a relay address", relay);
        cli_hint("give PIN@HOST:PORT as fkex relay printed it (\"listening on ...\"), or the "
                 "relays of a cluster, comma-separated");
        return EXIT_USAGE;
    }
    unpinned_hint(relay);
    if (fkex_policy_parse(&p, policy, strlen(policy), &perr) != FKEX_OK) {
        cli_policy_error(policy, &perr);
        return EXIT_USAGE;
    }
    fkex_policy_free(p);
    int made_dir = cli_dir_begin(dir, 0700);
    if (made_dir < 0)
        return EXIT_USAGE;
    if (room_latest_version(dir) != 0 || (path = room_path(dir, "admin.key")) == NULL ||
        access(path, F_OK) == 0) {
        cli_error("%s already holds a room", dir);
        cli_hint("fkex never overwrites room files; choose another --dir");
        goto out;
    }
    fkex_rng_init_system(&rng);
    fkex_sign_keypair(pk, sk, &rng);
    fkex_err err = fkex_room_descriptor_create(&d, &dlen, name, policy, 1, options, sk);
    if (err != FKEX_OK) {
        rc = cli_fail(err, "the descriptor");
        goto out;
    }
    admin[0] = 1;
    memcpy(admin + 1, sk, 64);   /* seed || public key */
    if ((rc = write_new(path, ROOM_ADMIN_ARMOR, admin, sizeof admin, 0600)) != 0)
        goto out;
    written = 1;
    free(path);
    path = room_path(dir, "descriptor.1");
    rc = EXIT_USAGE;
    if (!path || (rc = write_new(path, ROOM_DESCRIPTOR_ARMOR, d, dlen, 0644)) != 0)
        goto out;
    written = 2;
    free(path);
    path = room_path(dir, "relay");
    char line[FKEX_NET_LIST_TEXT_MAX];
    snprintf(line, sizeof line, "%s\n", relay);
    rc = EXIT_USAGE;
    if (!path || (rc = write_new(path, NULL, (const uint8_t *)line, strlen(line), 0644)) != 0)
        goto out;
    fkex_room_id(room_id, pk, (const uint8_t *)name, strlen(name));
    fprintf(stderr, "room '%s' created in %s; invite members with:\n", name, dir);
    print_invite(relay, room_id);
    rc = 0;
out:
    if (rc != 0 && written) {   /* leave nothing half-made */
        static const char *const files[] = { "admin.key", "descriptor.1", "relay" };
        for (int i = 0; i < written; i++) {
            char *f = room_path(dir, files[i]);
            if (f)
                unlink(f);
            free(f);
        }
    }
    cli_dir_end(dir, made_dir, rc);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(admin, sizeof admin);
    free(d);
    free(path);
    return rc;
}

/* ---- invite, set-policy ------------------------------------------------------ */

/* The options of invite: --dir DIR, and --help. -1 with *dir
 * set, or the exit code (help printed, or a usage error said). */
static int only_dir(const char **dir, int argc, char **argv, void (*usage)(FILE *))
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int c;
    *dir = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': *dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc)
        cli_error("unexpected argument '%s'", argv[optind]);
    else if (!*dir)
        cli_error("missing --dir");
    if (!*dir || optind != argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return -1;
}

static void usage_invite(FILE *f)
{
    fprintf(f, "usage: fkex room invite --dir DIR\n\n"
               "Prints the room's invitation, fkex://HOST:PORT/ROOMID. The room id is the\n"
               "hash of the admin's key and the room's name: a client that joins with it\n"
               "accepts no other room's descriptor.\n");
}

static int room_invite(int argc, char **argv)
{
    const char *dir;
    char relay[FKEX_NET_LIST_TEXT_MAX];
    uint8_t *d, room_id[32];
    size_t dlen;
    fkex_rmsg_descriptor m;
    int rc;
    if ((rc = only_dir(&dir, argc, argv, usage_invite)) >= 0)
        return rc;
    uint32_t v = room_latest_version(dir);
    if (v == 0) {
        cli_error("%s holds no room", dir);
        cli_hint("create one with: fkex room create NAME --policy ... --relay ... --dir %s", dir);
        return EXIT_USAGE;
    }
    if ((rc = room_load_descriptor(&d, &dlen, &m, dir, v)) != 0 || (rc = read_relay(relay, dir)) != 0)
        return rc;
    fkex_room_id(room_id, m.admin_pk, m.name, m.namelen);
    print_invite(relay, room_id);
    free(d);
    return 0;
}

/* What the relay says of a descriptor, step by step: ACCEPTED (it is
 * pending), then POLICY_OUTCOME. */
typedef struct {
    int accepted;
    uint32_t version;
} policy_wait;

static int after_accepted(void *ctx, const uint8_t *frame, size_t len)
{
    policy_wait *w = ctx;
    fkex_relay_msg m;
    if (!w || fkex_relay_msg_decode(&m, frame, len) != FKEX_OK || m.kind != FKEX_RELAY_ACCEPTED)
        return 0;
    w->accepted = 1;
    fprintf(stderr, "the relay has version %u; waiting for an online member to commit it\n",
            w->version);
    return 1;   /* the outcome follows */
}

/* Sends req to the relay of DIR and reads its answer into ans (which
 * borrows *reply, the caller's to free): the first ACCEPTED or ERROR, or
 * with w the POLICY_OUTCOME after an ACCEPTED (waiting wait_ms at most).
 * 0, or EXIT_USAGE (said) if the relay could not be reached or did not
 * answer as one; then `hint`, if not NULL, is the hint. */
static int ask_relay(fkex_relay_msg *ans, uint8_t **reply, const char *dir,
                     const fkex_relay_msg *req, const char *hint, policy_wait *w,
                     unsigned wait_ms, int plaintext)
{
    fkex_tls *tls = NULL;
    static const fkex_net_limits lim = { FKEX_RELAY_TEXT_MAX + 64, FKEX_DESCRIPTOR_MAX + 128 };
    char relay[FKEX_NET_LIST_TEXT_MAX], msg[128];
    fkex_writer wr;
    size_t replylen = 0;
    int rc;
    *reply = NULL;
    if ((rc = read_relay(relay, dir)) != 0 || (rc = cli_client_tls(&tls, plaintext)) != 0)
        return rc;
    fkex_writer_init(&wr);
    fkex_relay_msg_encode(&wr, req);
    if (wr.failed) {
        fkex_writer_free(&wr);
        fkex_tls_free(tls);
        return cli_fail(FKEX_ERR_NO_MEMORY, "the request");
    }
    if (!plaintext)
        cli_warn_unpinned(relay, "the room's relay address (DIR/relay)");
    /* The relays of a cluster in turn, until one answers. */
    char one[FKEX_NET_LIST_TEXT_MAX];
    fkex_err err = FKEX_ERR_IO;
    size_t n = fkex_net_address_list(relay);
    for (size_t i = 0; i < n && err != FKEX_OK && !(w && w->accepted); i++) {
        fkex_net_address_nth(one, sizeof one, relay, i);
        err = fkex_net_exchange(reply, &replylen, one, wr.buf, wr.len, &lim, tls,
                                w ? wait_ms : 15000, after_accepted, w, msg);
    }
    fkex_writer_free(&wr);
    fkex_tls_free(tls);
    if (err != FKEX_OK && w && w->accepted) {
        cli_error("no member committed version %u within %u s", w->version, wait_ms / 1000);
        cli_hint("the relay keeps it until an online member commits it, or every one has "
                 "declined it; joiners wait for it meanwhile");
        return EXIT_USAGE;
    }
    if (err != FKEX_OK) {
        cli_error("cannot reach the relay at %s: %s", relay, msg);
        if (hint)
            cli_hint("%s", hint);
        return EXIT_USAGE;
    }
    if (fkex_relay_msg_decode(ans, *reply, replylen) != FKEX_OK ||
        (ans->kind != FKEX_RELAY_ACCEPTED && ans->kind != FKEX_RELAY_ERROR &&
         (!w || ans->kind != FKEX_RELAY_POLICY_OUTCOME))) {
        cli_error("%s did not answer as an fkex relay", relay);
        free(*reply);
        *reply = NULL;
        return EXIT_USAGE;
    }
    return 0;
}

/* Hands the relay of DIR the descriptor d (SET_DESCRIPTOR) and waits (at
 * most wait_ms) until an online member commits it, or every one declined
 * it. 0 (committed), EXIT_DENIED if the relay refused it or nobody could
 * commit it, EXIT_USAGE if the relay could not be reached or gave no
 * outcome in time. */
static int publish(const char *dir, const uint8_t *d, size_t dlen, const fkex_rmsg_descriptor *m,
                   unsigned wait_ms, int plaintext)
{
    fkex_relay_msg req = { .kind = FKEX_RELAY_SET_DESCRIPTOR, .data = d, .datalen = dlen }, ans;
    policy_wait w = { 0, m->version };
    uint8_t *reply;
    char hint[400];
    int rc;
    fkex_room_id(req.room_id, m->admin_pk, m->name, m->namelen);
    snprintf(hint, sizeof hint, "the new descriptor is written; send it again with: "
                                "fkex room publish --dir %s", dir);
    if ((rc = ask_relay(&ans, &reply, dir, &req, hint, &w, wait_ms, plaintext)) != 0)
        return rc;
    if (ans.kind == FKEX_RELAY_POLICY_OUTCOME && ans.outcome == FKEX_POLICY_COMMITTED) {
        fprintf(stderr, "the room's policy is \"%.*s\" from epoch %llu on; members whose "
                        "attributes do not satisfy it fall out\n",
                (int)m->policylen, (const char *)m->policy, (unsigned long long)ans.epoch);
    } else if (ans.kind == FKEX_RELAY_POLICY_OUTCOME) {
        cli_error("no member online holds attributes that satisfy \"%.*s\", so none could "
                  "commit version %u: the room keeps its policy", (int)m->policylen,
                  (const char *)m->policy, m->version);
        cli_hint("a member who satisfies it must be online to commit it; or create a new room");
        rc = EXIT_DENIED;
    } else if (ans.kind == FKEX_RELAY_ERROR) {
        cli_error("the relay refused version %u: %.*s", m->version, (int)ans.datalen,
                  (const char *)ans.data);
        rc = ans.code == FKEX_RELAY_E_BAD_DESCRIPTOR || ans.code == FKEX_RELAY_E_NOT_ROUTABLE
                 ? EXIT_DENIED : EXIT_USAGE;
    } else {
        cli_error("the relay accepted version %u but said nothing of it after", m->version);
        rc = EXIT_USAGE;
    }
    free(reply);
    return rc;
}

#define WAIT_DEFAULT_S 60u

static void usage_set_policy(FILE *f)
{
    fprintf(f, "usage: fkex room set-policy --dir DIR --policy POLICY [--wait SECONDS]\n"
               "                          [--insecure-plaintext]\n\n"
               "Signs the next version of the room's descriptor with the new policy\n"
               "(DIR/descriptor.N+1), hands it to the room's relay and waits until it\n"
               "takes effect. From the moment the relay has it, nobody joins under the\n"
               "old policy. The relay passes it to one online member after another until\n"
               "one commits it: members move to it through a re-attestation, each must\n"
               "decapsulate under the new policy to stay, so members whose attributes no\n"
               "longer satisfy it fall out. A member that cannot commit it (its own\n"
               "attributes fail it) says so; if every online member does, the relay drops\n"
               "it and the room keeps its policy.\n\n"
               "  -w, --wait SECONDS  how long to wait for the outcome (default %u)\n"
               "%s\n"
               "Exit codes: 0 the room's policy is the new one; 1 the relay refused it\n"
               "(no member connected, or an older version), or no online member could\n"
               "commit it; 2 usage, files, the relay could not be reached (then: fkex\n"
               "room publish --dir DIR), or no outcome within the wait.\n", WAIT_DEFAULT_S,
               CLI_PLAINTEXT_HELP);
}

static void usage_publish(FILE *f)
{
    fprintf(f, "usage: fkex room publish --dir DIR [--wait SECONDS] [--insecure-plaintext]\n\n"
               "Hands the room's relay the latest descriptor in DIR again, after a\n"
               "set-policy that could not reach it, and waits for the outcome as\n"
               "set-policy does. A relay that has it, or a newer one, refuses it (exit 1).\n\n"
               "  -w, --wait SECONDS  how long to wait for the outcome (default %u)\n"
               "%s", WAIT_DEFAULT_S, CLI_PLAINTEXT_HELP);
}

/* --wait SECONDS: 1..3600, into *ms. 0, or -1 (said). */
static int parse_wait(unsigned *ms, const char *arg)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (!*arg || *end || v < 1 || v > 3600) {
        cli_error("--wait takes whole seconds, 1 to 3600: '%s'", arg);
        return -1;
    }
    *ms = (unsigned)v * 1000u;
    return 0;
}

static int room_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' }, { "wait", required_argument, 0, 'w' },
        { "insecure-plaintext", no_argument, 0, 'P' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL;
    uint8_t *d = NULL;
    size_t dlen;
    fkex_rmsg_descriptor m;
    unsigned wait_ms = WAIT_DEFAULT_S * 1000u;
    int c, rc, plaintext = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'w':
            if (parse_wait(&wait_ms, optarg) != 0) {
                usage_publish(stderr);
                return EXIT_USAGE;
            }
            break;
        case 'P': plaintext = 1; break;
        case 'h': usage_publish(stdout); return 0;
        default: usage_publish(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc)
        cli_error("unexpected argument '%s'", argv[optind]);
    else if (!dir)
        cli_error("missing --dir");
    if (!dir || optind != argc) {
        usage_publish(stderr);
        return EXIT_USAGE;
    }
    uint32_t v = room_latest_version(dir);
    if (v == 0) {
        cli_error("%s holds no room", dir);
        return EXIT_USAGE;
    }
    if ((rc = room_load_descriptor(&d, &dlen, &m, dir, v)) != 0)
        return rc;
    rc = publish(dir, d, dlen, &m, wait_ms, plaintext);
    free(d);
    return rc;
}

/* The admin's key and the room's latest descriptor in DIR (its version in
 * *v), checked to belong together. 0, or an exit code (said); *d is the
 * caller's to free, sk to wipe, either way. */
static int load_admin_room(uint8_t sk[64], uint8_t **d, size_t *dlen, fkex_rmsg_descriptor *m,
                           uint32_t *v, const char *dir)
{
    int rc;
    *d = NULL;
    if ((*v = room_latest_version(dir)) == 0) {
        cli_error("%s holds no room", dir);
        return EXIT_USAGE;
    }
    if ((rc = room_load_admin(sk, dir)) != 0 || (rc = room_load_descriptor(d, dlen, m, dir, *v)) != 0)
        return rc;
    if (sodium_memcmp(m->admin_pk, sk + 32, 32) != 0) {
        cli_error("%s/admin.key is not the key that signed the room's descriptor", dir);
        return EXIT_USAGE;
    }
    return 0;
}

static int room_set_policy(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' }, { "policy", required_argument, 0, 'p' },
        { "wait", required_argument, 0, 'w' }, { "insecure-plaintext", no_argument, 0, 'P' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *policy = NULL;
    int plaintext = 0;
    unsigned wait_ms = WAIT_DEFAULT_S * 1000u;
    uint8_t sk[64], *d = NULL, *nd = NULL;
    size_t dlen, ndlen;
    fkex_rmsg_descriptor m;
    fkex_policy *p;
    fkex_policy_error perr;
    char name[FKEX_ROOM_NAME_MAX + 1], file[32];
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:p:w:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'p': policy = optarg; break;
        case 'w':
            if (parse_wait(&wait_ms, optarg) != 0) {
                usage_set_policy(stderr);
                return EXIT_USAGE;
            }
            break;
        case 'P': plaintext = 1; break;
        case 'h': usage_set_policy(stdout); return 0;
        default: usage_set_policy(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc)
        cli_error("unexpected argument '%s'", argv[optind]);
    else if (!dir || !policy)
        cli_error("missing --dir or --policy");
    if (!dir || !policy || optind != argc) {
        usage_set_policy(stderr);
        return EXIT_USAGE;
    }
    if (fkex_policy_parse(&p, policy, strlen(policy), &perr) != FKEX_OK) {
        cli_policy_error(policy, &perr);
        return EXIT_USAGE;
    }
    fkex_policy_free(p);
    uint32_t v;
    if ((rc = load_admin_room(sk, &d, &dlen, &m, &v, dir)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (v + 1 >= ROOM_MAX_VERSIONS) {
        cli_error("%s has too many descriptor versions", dir);
        goto out;
    }
    if (m.options & FKEX_ROOM_SEED_MODE) {
        cli_error("%s is a seed-mode room, which keeps its policy: the prototype's protocol "
                  "has no re-attestation", dir);
        cli_hint("create a new room for the new policy");
        goto out;
    }
    memcpy(name, m.name, m.namelen);
    name[m.namelen] = 0;
    fkex_err err = fkex_room_descriptor_create(&nd, &ndlen, name, policy, m.version + 1,
                                               m.options, sk);
    if (err != FKEX_OK) {
        rc = cli_fail(err, "the descriptor");
        goto out;
    }
    snprintf(file, sizeof file, "descriptor.%u", v + 1);
    char *path = room_path(dir, file);
    rc = path ? write_new(path, ROOM_DESCRIPTOR_ARMOR, nd, ndlen, 0644) : EXIT_USAGE;
    if (rc == 0)
        fprintf(stderr, "%s: version %u of the room's descriptor\n", path, m.version + 1);
    free(path);
    fkex_rmsg_descriptor next;
    if (rc == 0 && fkex_rmsg_descriptor_decode(&next, nd, ndlen) == FKEX_OK)
        rc = publish(dir, nd, ndlen, &next, wait_ms, plaintext);
out:
    sodium_memzero(sk, sizeof sk);
    free(d);
    free(nd);
    return rc;
}

static void usage_kick(FILE *f)
{
    fprintf(f, "usage: fkex room kick --dir DIR PSEUDONYM [--reason TEXT] [--insecure-plaintext]\n\n"
               "Signs a kick with the room's admin key and hands it to the room's relay,\n"
               "which refuses everything the member sends from then on and passes the\n"
               "kick to the members; one of them commits the member's removal, and the\n"
               "kicked client says why and exits 1. PSEUDONYM is the member's as chat\n"
               "shows it (`who`, /who): 16 hex digits, spaces allowed. TEXT is printable\n"
               "ASCII, at most %u bytes.\n\n"
               "A kick is soft: a user whose key still satisfies the room's policy can\n"
               "come back under a new pseudonym. To keep someone out, change the policy\n"
               "(fkex room set-policy) or let their key expire.\n\n"
               "Exit codes: 0 the relay took it; 1 the relay refused it (no such member,\n"
               "not this room's admin); 2 usage, files, or the relay could not be reached.\n\n"
               "%s", (unsigned)FKEX_KICK_REASON_MAX, CLI_PLAINTEXT_HELP);
}

/* "1a2b 3c4d 5e6f 7a8b" or "1a2b3c4d5e6f7a8b": the first 8 bytes of V. */
static int parse_pseudonym(uint8_t out[FKEX_PSEUDONYM_BYTES], const char *text)
{
    char hex[2 * FKEX_PSEUDONYM_BYTES + 1];
    size_t n = 0, bin;
    for (const char *p = text; *p; p++) {
        if (*p == ' ')
            continue;
        if (n == sizeof hex - 1)
            return -1;
        hex[n++] = *p;
    }
    hex[n] = 0;
    return n == sizeof hex - 1 &&
                   sodium_hex2bin(out, FKEX_PSEUDONYM_BYTES, hex, n, NULL, &bin, NULL) == 0 &&
                   bin == FKEX_PSEUDONYM_BYTES
               ? 0 : -1;
}

static int room_kick(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, 0, 'd' }, { "reason", required_argument, 0, 'r' },
        { "insecure-plaintext", no_argument, 0, 'P' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *dir = NULL, *reason = "";
    int plaintext = 0;
    uint8_t sk[64], who[FKEX_PSEUDONYM_BYTES], *d = NULL, *kick = NULL, *reply = NULL;
    size_t dlen, kicklen;
    fkex_rmsg_descriptor m;
    fkex_relay_msg req = { .kind = FKEX_RELAY_KICK }, ans;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'r': reason = optarg; break;
        case 'P': plaintext = 1; break;
        case 'h': usage_kick(stdout); return 0;
        default: usage_kick(stderr); return EXIT_USAGE;
        }
    }
    if (!dir || optind != argc - 1) {
        cli_error(dir ? "name one member's pseudonym" : "missing --dir");
        usage_kick(stderr);
        return EXIT_USAGE;
    }
    if (parse_pseudonym(who, argv[optind]) != 0) {
        cli_error("'%s' is not a pseudonym: 16 hex digits, as `who` shows them", argv[optind]);
        return EXIT_USAGE;
    }
    uint32_t v;
    if ((rc = load_admin_room(sk, &d, &dlen, &m, &v, dir)) != 0)
        goto out;
    rc = EXIT_USAGE;
    fkex_room_id(req.room_id, m.admin_pk, m.name, m.namelen);
    fkex_err err = fkex_room_kick_create(&kick, &kicklen, req.room_id, who, reason, sk);
    if (err == FKEX_ERR_ARGUMENT) {
        cli_error("the reason must be printable ASCII, at most %u bytes", (unsigned)FKEX_KICK_REASON_MAX);
        goto out;
    }
    if (err != FKEX_OK) {
        rc = cli_fail(err, "the kick");
        goto out;
    }
    req.data = kick;
    req.datalen = kicklen;
    if ((rc = ask_relay(&ans, &reply, dir, &req, NULL, NULL, 0, plaintext)) != 0)
        goto out;
    if (ans.kind == FKEX_RELAY_ACCEPTED) {
        fprintf(stderr, "the relay took the kick: it refuses what that member sends, and a "
                        "member online commits its removal\n");
    } else {
        cli_error("the relay refused the kick: %.*s", (int)ans.datalen, (const char *)ans.data);
        rc = ans.code == FKEX_RELAY_E_NOT_ROUTABLE || ans.code == FKEX_RELAY_E_BAD_DESCRIPTOR ||
                     ans.code == FKEX_RELAY_E_STALE
                 ? EXIT_DENIED : EXIT_USAGE;
    }
out:
    sodium_memzero(sk, sizeof sk);
    free(d);
    free(kick);
    free(reply);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex room create NAME --policy POLICY --relay HOST:PORT --dir DIR\n"
               "       fkex room invite --dir DIR\n"
               "       fkex room set-policy --dir DIR --policy POLICY\n"
               "       fkex room publish --dir DIR\n"
               "       fkex room kick --dir DIR PSEUDONYM [--reason TEXT]\n\n"
               "A room's admin side: its signing key, its signed descriptor (name and\n"
               "policy) and its invitation. `fkex room <command> --help` says more.\n");
}

int room_main(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "create") == 0)
        return room_create(argc - 1, argv + 1);
    if (strcmp(argv[1], "invite") == 0)
        return room_invite(argc - 1, argv + 1);
    if (strcmp(argv[1], "set-policy") == 0)
        return room_set_policy(argc - 1, argv + 1);
    if (strcmp(argv[1], "publish") == 0)
        return room_publish(argc - 1, argv + 1);
    if (strcmp(argv[1], "kick") == 0)
        return room_kick(argc - 1, argv + 1);
    cli_error("unknown room command '%s'", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}

/*
 * cli/chat.c: `fkex chat INVITE --key FILE [--batch]`: the options, and
 * the two front ends of the session in chat/client.c. Without --batch it
 * runs the terminal interface (tui/tui.c) and says on stderr, once the
 * terminal is restored, the error that ended the session. With --batch,
 * commands come as JSON lines on stdin, events go as JSON lines to stdout
 * (chat/chat.h parses and escapes them); errors are also said on stderr as
 * "fkex: error: ...".
 *
 * With --found DIR (a room directory of `fkex room create`), this member
 * founds the room at the relay, with the admin's key of DIR. With
 * --dm PEER --relay ADDR, a direct conversation with an identity instead
 * of a room (chat/dm_client.h), behind the same front ends.
 *
 * End of input quits once the member has joined (so a script may pipe a
 * few lines and close). Everything the session knows lives in memory and
 * is wiped at exit.
 */
#include <errno.h>
#include <poll.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/roomdir.h"
#include "chat/chat.h"
#include "chat/client.h"
#include "tui/tui.h"

#define UPDATE_MAX_S (7u * 24 * 3600)   /* --update-interval: a week at most */
#define LINE_MAX_BYTES (6 * CHAT_TEXT_MAX + 256)   /* a text of \uXXXX escapes, and the rest */

typedef struct {
    uv_loop_t loop;
    chat_client *client;
    uint8_t room_id[32];
    union {
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tty_t tty;
        uv_tcp_t tcp;
    } in;
    int in_stream;              /* stdin is a stream handle (else read with uv_fs_read) */
    int in_open, reading;
    uv_fs_t fsreq;
    char fsbuf[4096];
    int64_t fsoff;
    char *line;
    size_t linelen;
    int overlong;               /* discarding the rest of a line that was too long */
    int eof, done_input;        /* end of input seen; no more commands wanted */
    /* Back-pressure: reading stops while CHAT_BACKLOG_MAX texts wait for
     * the relay, and goes on once half of them are stored (SENT); what was
     * read but not yet fed waits in rest. */
    int paused;
    char rest[4096];
    size_t restlen;
    uv_signal_t sigint, sigterm;
    uv_timer_t watch;           /* once a second: is anybody reading stdout still? */
    int stdout_gone;
    int exit_code;
} batch;

static void usage(FILE *f)
{
    fprintf(f, "usage: fkex chat INVITE --key FILE --batch [--nick NAME] [--found DIR] [--mode M]\n"
               "       fkex chat INVITE --key FILE [--nick NAME] [--found DIR] [--mode M]\n"
               "       fkex chat --dm IDENTITY --key FILE --relay HOST:PORT [--batch] [--nick NAME]\n\n"
               "Joins the room of the invitation (fkex://PIN@HOST:PORT/ROOMID) with your key,\n"
               "over TLS 1.3 to the relay whose key the invitation pins. The\n"
               "room's members check your attributes against its policy, and you check\n"
               "theirs; nobody else, the relay included, can read the room.\n\n"
               "  -k, --key FILE    your user key (fkex keygen, fkex enroll)\n"
               "  -b, --batch       speak JSON lines instead of the terminal interface:\n"
               "                      stdin:  {\"send\": \"text\"}  {\"cmd\": \"leave\"}  {\"cmd\": \"quit\"}\n"
               "                              {\"cmd\": \"verify\"}  {\"cmd\": \"who\"}\n"
               "                      stdout: {\"event\": \"joined\"|\"epoch\"|\"message\"|\"sent\"|\"error\"|\n"
               "                                \"left\"|\"connection\"|\"verify\"|\"who\", ...}\n"
               "                    a message names its sender by \"pseudonym\" (its key's) and\n"
               "                    \"from\" (its nick); {\"event\": \"sent\", \"n\": N}: the Nth\n"
               "                    text you sent is stored at the relay. Input is read no\n"
               "                    further while 256 texts wait for the relay (or for a\n"
               "                    direct conversation to open), so nothing is dropped\n"
               "                    however fast a script writes; end of input quits once\n"
               "                    joined\n"
               "  -n, --nick NAME   the name the room sees on your messages (default: anonymous)\n"
               "  -f, --found DIR   found the room: DIR is its directory (fkex room create),\n"
               "                    whose admin key names you as the first member\n"
               "  -m, --mode MODE   ratchet (the default) or seed; it must be the room's mode\n"
               "                    (fkex room create --mode). seed is the 2014 prototype's\n"
               "                    protocol, kept for comparison and NOT secure: anyone with\n"
               "                    a satisfying key, a departed member or the authority,\n"
               "                    reads every epoch from the relay's log, and nothing is\n"
               "                    signed. --update-interval does not apply to it\n"
               "  -d, --dm IDENTITY a direct conversation with IDENTITY (alice@example.org)\n"
               "                    instead of a room; your key must carry an identity\n"
               "                    (fkex keygen --identity) of the same authority. Both\n"
               "                    parties run --dm naming the other; each proves its\n"
               "                    identity (IBAKE), and the events name the peer:\n"
               "                    {\"event\": \"joined\", \"peer\": ID, \"authenticated\": true}\n"
               "  -r, --relay PIN@HOST:PORT  the relay that carries the conversation (with\n"
               "                    --dm), as fkex relay printed it\n"
               "      --insecure-plaintext\n"
               "                    plain TCP to a relay run with --insecure-plaintext\n"
               "                    (benchmarks, debugging): anyone on the path sees the\n"
               "                    room id, who sends when and how much, and can cut or\n"
               "                    inject frames (contents stay end-to-end encrypted)\n"
               "  -u, --update-interval SECONDS\n"
               "                    commit an Update (a fresh key of yours, which locks out\n"
               "                    whoever stole your state) this often; default 900, and\n"
               "                    after every 1000 messages you send\n\n"
               "Without --batch, the terminal interface: messages above, then a status line\n"
               "(room name, epoch, members, room fingerprint, connection state, your nick),\n"
               "then the line you type.\n"
               "  keys      Enter sends; Left Right Home End ^A ^E ^B ^F move; Backspace Delete\n"
               "            ^D ^U ^K ^W delete; PgUp PgDn scroll; ^L redraws; ^C quits\n"
               "  commands  /help; /who lists the members (pseudonym: the start of its key;\n"
               "            the last nickname seen); /verify shows the epoch's fingerprint,\n"
               "            the same at every member of the epoch; /nick NAME; /leave; /quit;\n"
               "            //text sends a line that starts with /\n\n"
               "leave removes you from the room (a commit by another member); quit only\n"
               "disconnects, and the relay keeps your place for its grace period.\n"
               "Exit codes: 0 ok; 1 your attributes do not satisfy the policy, the group did\n"
               "not prove its attributes, or you were removed; with --dm, your key carries\n"
               "no identity, or the other party is not IDENTITY; 2 usage, relay or other error.\n");
}

/* ---- events to stdout ------------------------------------------------------------- */

static void put_string(const char *s, size_t len)
{
    chat_json_string(stdout, s, len);
}

static void close_input(batch *b);
static void resume_input(batch *b);
static void stdout_lost(batch *b);

static void on_event(void *ctx, const chat_event *ev)
{
    batch *b = ctx;
    chat_json_event(stdout, b->room_id, ev);
    if (ev->kind == CHAT_EV_ERROR)
        cli_error("%s", ev->message);
    else if (ev->kind == CHAT_EV_LEFT && ev->code)   /* pending: nobody committed it */
        fprintf(stderr, "fkex: note: %s\n", ev->message);
    else if (ev->kind == CHAT_EV_DONE) {
        b->exit_code = ev->exit_code;
        close_input(b);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        stdout_lost(b);
    if (ev->kind == CHAT_EV_JOINED && b->eof)
        chat_client_quit(b->client);
    /* Any event may be the one after which the backlog is down: a SENT,
     * the not_sent errors of a rejoin, a direct conversation's JOINED. */
    if (b->paused && chat_client_backlog(b->client) <= CHAT_BACKLOG_MAX / 2)
        resume_input(b);
}

/* ---- commands from stdin ------------------------------------------------------------ */

static void command(batch *b, const char *line, size_t len)
{
    chat_cmd cmd;
    char err[96];
    if (b->done_input)
        return;
    while (len && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return;
    if (chat_cmd_parse(&cmd, line, len, err) != FKEX_OK) {
        fputs("{\"event\": \"error\", \"code\": \"bad_command\", \"message\": ", stdout);
        put_string(err, strlen(err));
        fputs("}\n", stdout);
        fflush(stdout);
        return;
    }
    switch (cmd.kind) {
    case CHAT_CMD_SEND:
        chat_client_send(b->client, cmd.text, cmd.textlen);
        if (chat_client_backlog(b->client) >= CHAT_BACKLOG_MAX)
            b->paused = 1;   /* feed stops after this line; an event resumes it */
        break;
    case CHAT_CMD_LEAVE:
        b->done_input = 1;
        chat_client_leave(b->client);
        break;
    case CHAT_CMD_QUIT:
        b->done_input = 1;
        chat_client_quit(b->client);
        break;
    case CHAT_CMD_VERIFY:
        chat_json_verify(stdout, b->client);
        fflush(stdout);
        break;
    case CHAT_CMD_WHO:
        chat_json_who(stdout, b->client);
        fflush(stdout);
        break;
    }
    sodium_memzero(&cmd, sizeof cmd);
}

static void feed(batch *b, const char *p, size_t n)
{
    while (n) {
        if (b->paused) {   /* kept, to be fed when the backlog is down */
            memmove(b->rest, p, n);
            b->restlen = n;
            if (b->in_stream && b->reading) {
                uv_read_stop(&b->in.stream);
                b->reading = 0;
            }
            return;
        }
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (!b->overlong) {
            if (b->linelen + take > LINE_MAX_BYTES) {
                b->overlong = 1;
                b->linelen = 0;
                fputs("{\"event\": \"error\", \"code\": \"bad_command\", \"message\": "
                      "\"the line is too long\"}\n", stdout);
                fflush(stdout);
            } else {
                memcpy(b->line + b->linelen, p, take);
                b->linelen += take;
            }
        }
        if (!nl)
            return;
        if (!b->overlong)
            command(b, b->line, b->linelen);
        sodium_memzero(b->line, b->linelen);
        b->linelen = 0;
        b->overlong = 0;
        p = nl + 1;
        n -= take + 1;
    }
}

static void at_eof(batch *b)
{
    if (b->linelen && !b->overlong)
        command(b, b->line, b->linelen);   /* a last line without its newline */
    b->linelen = 0;
    b->eof = 1;
    if (!b->done_input && b->client && chat_client_joined(b->client)) {
        b->done_input = 1;
        chat_client_quit(b->client);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    batch *b = h->data;
    (void)hint;
    *buf = uv_buf_init(b->fsbuf, sizeof b->fsbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    batch *b = s->data;
    if (n > 0) {
        feed(b, buf->base, (size_t)n);
        if (b->paused && b->reading) {   /* paused on the chunk's last line */
            uv_read_stop(s);
            b->reading = 0;
        }
    } else if (n < 0) {
        uv_read_stop(s);
        b->reading = 0;
        at_eof(b);
    }
}

static void fs_read_next(batch *b);

static void on_fs_read(uv_fs_t *req)
{
    batch *b = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    b->reading = 0;
    if (n > 0) {
        b->fsoff += n;
        feed(b, b->fsbuf, (size_t)n);
        if (b->in_open && !b->paused)
            fs_read_next(b);
    } else if (b->in_open) {
        b->in_open = 0;
        at_eof(b);
    }
}

static void fs_read_next(batch *b)
{
    uv_buf_t buf = uv_buf_init(b->fsbuf, sizeof b->fsbuf);
    b->fsreq.data = b;
    if (uv_fs_read(&b->loop, &b->fsreq, STDIN_FILENO, &buf, 1, -1, on_fs_read) == 0)
        b->reading = 1;
    else
        at_eof(b);
}

static void open_input(batch *b)
{
    uv_handle_type t = uv_guess_handle(STDIN_FILENO);
    int rc = -1;
    if (t == UV_TTY)
        rc = uv_tty_init(&b->loop, &b->in.tty, STDIN_FILENO, 1);
    else if (t == UV_NAMED_PIPE && (rc = uv_pipe_init(&b->loop, &b->in.pipe, 0)) == 0 &&
             (rc = uv_pipe_open(&b->in.pipe, STDIN_FILENO)) != 0)
        uv_close((uv_handle_t *)&b->in.pipe, NULL);
    else if (t == UV_TCP && (rc = uv_tcp_init(&b->loop, &b->in.tcp)) == 0 &&
             (rc = uv_tcp_open(&b->in.tcp, STDIN_FILENO)) != 0)
        uv_close((uv_handle_t *)&b->in.tcp, NULL);
    if (rc == 0) {
        b->in_stream = 1;
        b->in_open = 1;
        b->in.stream.data = b;
        if (uv_read_start(&b->in.stream, on_alloc, on_read) == 0)
            b->reading = 1;
        return;
    }
    /* A file, /dev/null, or what libuv cannot poll: plain reads (which do not block long). */
    b->in_open = 1;
    fs_read_next(b);
}

/* The backlog is down: what was held is fed, then reading goes on. */
static void resume_input(batch *b)
{
    char held[sizeof b->rest];
    size_t n = b->restlen;
    b->paused = 0;
    memcpy(held, b->rest, n);
    sodium_memzero(b->rest, n);
    b->restlen = 0;
    feed(b, held, n);
    sodium_memzero(held, n);
    if (b->paused || !b->in_open || b->reading || b->done_input)
        return;
    if (!b->in_stream)
        fs_read_next(b);
    else if (uv_read_start(&b->in.stream, on_alloc, on_read) == 0)
        b->reading = 1;
}

static void close_input(batch *b)
{
    if (b->in_open && b->in_stream)
        uv_close((uv_handle_t *)&b->in.stream, NULL);
    b->in_open = 0;   /* a file read in flight finishes and stops */
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    uv_close((uv_handle_t *)&b->watch, NULL);
}

/* Nobody reads our events any more (the reader closed the pipe, the
 * terminal went): a batch client must not stay in the room unseen. It
 * quits, and exits 2. */
static void stdout_lost(batch *b)
{
    if (b->stdout_gone)
        return;
    b->stdout_gone = 1;
    cli_error("standard output is closed: nobody reads this client's events; leaving the "
              "session");
    b->done_input = 1;
    if (b->client)
        chat_client_quit(b->client);
}

static void on_watch(uv_timer_t *t)
{
    batch *b = t->data;
    struct pollfd pf = { STDOUT_FILENO, POLLOUT, 0 };
    /* a pipe whose reader closed says POLLERR, a socket or a tty POLLHUP */
    if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLERR | POLLHUP | POLLNVAL)))
        stdout_lost(b);
}

static void on_signal(uv_signal_t *h, int signum)
{
    batch *b = h->data;
    (void)signum;
    b->done_input = 1;
    chat_client_quit(b->client);
}

/* ---- founding: the room directory ----------------------------------------------------- */

/* DIR/admin.key and the highest DIR/descriptor.N, which must be the
 * invitation's room and signed by that admin. */
static int load_room_dir(uint8_t admin_sk[64], uint8_t **desc, size_t *desclen, const char *dir,
                         const uint8_t room_id[32])
{
    fkex_rmsg_descriptor d;
    uint32_t version;
    int rc;
    *desc = NULL;
    if ((rc = room_load_admin(admin_sk, dir)) != 0)
        return rc;
    if ((version = room_latest_version(dir)) == 0) {
        cli_error("%s holds no room", dir);
        cli_hint("create one with: fkex room create NAME --policy ... --relay ... --dir %s", dir);
        rc = EXIT_USAGE;
    } else if ((rc = room_load_descriptor(desc, desclen, &d, dir, version)) == 0) {
        fkex_err err = fkex_room_descriptor_check(&d, room_id, *desc, *desclen);
        rc = EXIT_USAGE;
        if (err == FKEX_ERR_WRONG_ROOM)
            cli_error("%s is not the room of the invitation", dir);
        else if (err != FKEX_OK)
            rc = cli_fail(err, dir);
        else if (sodium_memcmp(d.admin_pk, admin_sk + 32, 32) != 0)
            cli_error("%s/admin.key is not the key that signed the room's descriptor", dir);
        else
            rc = 0;
    }
    if (rc != 0) {
        sodium_memzero(admin_sk, 64);
        free(*desc);
        *desc = NULL;
    }
    return rc;
}

/* The room's mode (its descriptor's) against --mode: a seed room, which
 * is NOT secure, is never entered without asking for it. */
static int check_mode(const uint8_t *desc, size_t len, chat_mode mode, const char *dir)
{
    fkex_rmsg_descriptor d;
    if (fkex_rmsg_descriptor_decode(&d, desc, len) != FKEX_OK)
        return EXIT_USAGE;   /* load_room_dir checked it */
    int seed = (d.options & FKEX_ROOM_SEED_MODE) != 0;
    if (seed == (mode == CHAT_MODE_SEED))
        return 0;
    if (seed) {
        cli_error("%s is a seed-mode room: the 2014 prototype's protocol, which is NOT secure", dir);
        cli_hint("to found it anyway, for comparison, add --mode seed");
    } else {
        cli_error("%s is a ratchet room", dir);
        cli_hint("drop --mode seed");
    }
    return EXIT_USAGE;
}

/* ---- running ------------------------------------------------------------------------ */

/* chat_client_start refused: why, and the exit code. */
static int start_failed(fkex_err err, const char *addr, const char *found)
{
    if (err == FKEX_ERR_ARGUMENT) {
        cli_error("'%s' is not a relay address", addr);
    } else if (err == FKEX_ERR_POLICY_UNSATISFIED && found) {
        cli_error("your key's attributes do not satisfy the policy of the room in %s, so it "
                  "cannot found it; the relay was not contacted", found);
        cli_hint("found the room with a key that satisfies its policy");
    } else {
        cli_fail(err, found ? "founding the room" : NULL);
    }
    return err == FKEX_ERR_ARGUMENT ? EXIT_USAGE : cli_exit_code(err);
}

static int run_batch(batch *b, chat_client_config *cfg, uint8_t admin_sk[64], const char *found)
{
    int rc;
    if ((b->line = malloc(LINE_MAX_BYTES)) == NULL || uv_loop_init(&b->loop) != 0) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    cfg->on_event = on_event;
    cfg->ctx = b;
    fkex_err err = chat_client_start(&b->client, &b->loop, cfg);
    sodium_memzero(admin_sk, 64);   /* the client keeps its own copy */
    if (err != FKEX_OK) {
        rc = start_failed(err, cfg->relay, found);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&b->loop);
        return rc;
    }
    uv_signal_init(&b->loop, &b->sigint);
    uv_signal_init(&b->loop, &b->sigterm);
    b->sigint.data = b->sigterm.data = b;
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    uv_timer_init(&b->loop, &b->watch);
    b->watch.data = b;
    uv_timer_start(&b->watch, on_watch, 1000, 1000);
    open_input(b);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&b->loop) != 0)
        cli_error("the event loop did not close cleanly");
    return b->stdout_gone ? EXIT_USAGE : b->exit_code;
}

/* The terminal interface (tui/tui.c) prints nothing outside the screen:
 * the error that ended the session is said here, once the terminal is back. */
static int run_tui(const chat_client_config *cfg, uint8_t admin_sk[64], const char *found)
{
    char error[CHAT_TUI_ERROR_MAX];
    chat_tui *t;
    fkex_err err = chat_tui_start(&t, cfg);
    sodium_memzero(admin_sk, 64);
    if (err != FKEX_OK)
        return start_failed(err, cfg->relay, found);
    int code = chat_tui_run(t, error);
    if (code != 0 && error[0])
        cli_error("%s", error);
    sodium_memzero(error, sizeof error);
    return code;
}

/* The front end can run, and the nickname is one (both forms). */
static int front_end_check(int batch_mode, const char *nick)
{
    if (!batch_mode && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        cli_error("the terminal interface needs a terminal on stdin and stdout");
        cli_hint("use --batch, which speaks JSON lines on stdin and stdout");
        return EXIT_USAGE;
    }
    if (!chat_nick_ok(nick, strlen(nick))) {
        cli_error("a nickname is 1 to %d bytes of UTF-8 without control, bidirectional or "
                  "invisible characters", CHAT_NICK_MAX);
        return EXIT_USAGE;
    }
    return 0;
}

/* After the session: the client freed, what the batch and stdout held wiped. */
static void session_end(batch *b, char *outbuf, size_t outlen)
{
    chat_client_free(b->client);
    b->client = NULL;
    if (b->line) {
        sodium_memzero(b->line, LINE_MAX_BYTES);
        free(b->line);
    }
    sodium_memzero(b, sizeof *b);
    fflush(stdout);
    sodium_memzero(outbuf, outlen);
}

/* ---- direct conversations ------------------------------------------------------------ */

/* fkex chat --dm IDENTITY --relay ADDR: the options checked, then the same
 * front ends as a room's. */
static int dm_main(const char *peer, const char *relay, const char *key_path, const char *nick,
                   int batch_mode, int plaintext, const char *room_only, int extra)
{
    static batch b;
    static char outbuf[1 << 16];
    fkex_key *key = NULL;
    fkex_tls *tls = NULL;
    uint8_t no_admin[64] = { 0 };
    char id[FKEX_IBE_ID_MAX + 1];
    int rc;
    if (!peer || !relay || !key_path || room_only || extra) {
        if (room_only && peer && relay && key_path)
            cli_error("%s is for rooms, not --dm", room_only);
        else
            cli_error("%s", !peer ? "--relay goes with --dm IDENTITY"
                            : !relay ? "missing --relay HOST:PORT (the relay of the conversation)"
                            : !key_path ? "missing --key"
                            : "--dm takes no INVITE");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!fkex_net_address_ok(relay)) {
        cli_error("--relay: '%s' is not [PIN@]HOST:PORT", relay);
        cli_hint("give the relay's address as fkex relay printed it");
        return EXIT_USAGE;
    }
    if (fkex_ibe_identity(id, peer, strlen(peer)) != FKEX_OK) {
        cli_error("'%s' is not an identity (1 to %d bytes of UTF-8 without control characters)",
                  peer, FKEX_IBE_ID_MAX);
        return EXIT_USAGE;
    }
    if ((rc = front_end_check(batch_mode, nick)) != 0)
        return rc;
    if (cli_load_key(&key, key_path) != 0)   /* it said why */
        return EXIT_USAGE;
    const char *self = fkex_key_identity(key);
    if (!self || strcmp(self, id) == 0) {
        if (!self) {
            cli_error("%s carries no identity: a direct conversation needs one", key_path);
            cli_hint("an authority issues one with fkex keygen --identity or kms token --identity");
        } else {
            cli_error("%s is your own identity: name the other party", id);
        }
        fkex_key_free(key);
        return self ? EXIT_USAGE : EXIT_DENIED;
    }
    memset(&b, 0, sizeof b);
    /* the id the events name (and the relay sees) */
    if (fkex_dm_conversation_id(b.room_id, key, id) != FKEX_OK) {
        cli_error("%s was made before conversations had private ids: it cannot name its "
                  "conversation with %s", key_path, id);
        cli_hint("ask the authority for a new identity key (kms token --identity, or keygen "
                 "--identity)");
        fkex_key_free(key);
        return EXIT_USAGE;
    }
    if (!plaintext)
        cli_warn_unpinned(relay, "--relay");
    if (cli_client_tls(&tls, plaintext) != 0) {
        fkex_key_free(key);
        return EXIT_USAGE;
    }
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    signal(SIGPIPE, SIG_IGN);
    chat_client_config cfg = { .relay = relay, .tls = tls, .key = key, .nick = nick,
                               .dm_peer = id };
    rc = batch_mode ? run_batch(&b, &cfg, no_admin, NULL) : run_tui(&cfg, no_admin, NULL);
    fkex_tls_free(tls);
    fkex_key_free(key);
    session_end(&b, outbuf, sizeof outbuf);
    return rc;
}

/* ---- main ------------------------------------------------------------------------- */

int chat_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, 0, 'k' }, { "batch", no_argument, 0, 'b' },
        { "nick", required_argument, 0, 'n' }, { "mode", required_argument, 0, 'm' },
        { "found", required_argument, 0, 'f' }, { "help", no_argument, 0, 'h' },
        { "update-interval", required_argument, 0, 'u' }, { "dm", required_argument, 0, 'd' },
        { "relay", required_argument, 0, 'r' }, { "insecure-plaintext", no_argument, 0, 'P' },
        { 0, 0, 0, 0 },
    };
    const char *key_path = NULL, *nick = "anonymous", *mode = "ratchet", *found = NULL;
    const char *dm_peer = NULL, *relay = NULL;
    int batch_mode = 0, mode_given = 0, plaintext = 0, c, rc;
    fkex_tls *tls = NULL;
    unsigned update_s = 0;
    char addr[FKEX_NET_LIST_TEXT_MAX];
    uint8_t admin_sk[64], *desc = NULL;
    size_t desclen = 0;
    fkex_key *key = NULL;
    static batch b;

    optind = 1;
    while ((c = getopt_long(argc, argv, "k:bn:m:f:hu:d:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'b': batch_mode = 1; break;
        case 'n': nick = optarg; break;
        case 'm': mode = optarg; mode_given = 1; break;
        case 'f': found = optarg; break;
        case 'd': dm_peer = optarg; break;
        case 'r': relay = optarg; break;
        case 'P': plaintext = 1; break;
        case 'u': {
            char *end;
            unsigned long v;
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > UPDATE_MAX_S) {
                cli_error("--update-interval: '%s' is not a number of seconds (1 to %u)", optarg,
                          UPDATE_MAX_S);
                return EXIT_USAGE;
            }
            update_s = (unsigned)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (dm_peer || relay) {
        const char *room_only = found ? "--found" : mode_given ? "--mode"
                              : update_s ? "--update-interval" : NULL;
        return dm_main(dm_peer, relay, key_path, nick, batch_mode, plaintext, room_only,
                       argc - optind);
    }
    if (optind >= argc)
        cli_error("missing the INVITE (fkex://HOST:PORT/ROOMID, from fkex room invite)");
    else if (optind + 1 < argc)
        cli_error("unexpected argument '%s'", argv[optind + 1]);
    else if (!key_path)
        cli_error("missing --key");
    if (optind + 1 != argc || !key_path) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(mode, "seed") != 0 && strcmp(mode, "ratchet") != 0) {
        cli_error("unknown mode '%s': ratchet or seed", mode);
        return EXIT_USAGE;
    }
    if ((rc = front_end_check(batch_mode, nick)) != 0)
        return rc;
    memset(&b, 0, sizeof b);
    /* Our own buffer for stdout, which holds the room's plaintext: wiped at exit. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (chat_invite_parse(addr, b.room_id, argv[optind]) != FKEX_OK) {
        cli_error("'%s' is not an invitation", argv[optind]);
        cli_hint("an invitation looks like fkex://HOST:PORT/ROOMID (fkex room invite prints it)");
        return EXIT_USAGE;
    }
    if (found && (rc = load_room_dir(admin_sk, &desc, &desclen, found, b.room_id)) != 0)
        return rc;
    chat_mode cmode = strcmp(mode, "seed") == 0 ? CHAT_MODE_SEED : CHAT_MODE_RATCHET;
    if (found && (rc = check_mode(desc, desclen, cmode, found)) != 0) {
        sodium_memzero(admin_sk, sizeof admin_sk);
        free(desc);
        return rc;
    }
    if (!plaintext)
        cli_warn_unpinned(addr, "this invitation");
    if (cli_load_key(&key, key_path) != 0 || cli_client_tls(&tls, plaintext) != 0) {   /* said why */
        fkex_key_free(key);
        sodium_memzero(admin_sk, sizeof admin_sk);
        free(desc);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    chat_client_config cfg = { .mode = cmode, .relay = addr, .tls = tls, .key = key, .nick = nick,
                               .update_interval_ms = update_s * 1000u };
    memcpy(cfg.room_id, b.room_id, 32);
    if (found) {
        cfg.found_descriptor = desc;
        cfg.found_descriptor_len = desclen;
        cfg.admin_sk = admin_sk;
    }
    rc = batch_mode ? run_batch(&b, &cfg, admin_sk, found) : run_tui(&cfg, admin_sk, found);
    sodium_memzero(admin_sk, sizeof admin_sk);
    session_end(&b, outbuf, sizeof outbuf);
    fkex_tls_free(tls);
    fkex_key_free(key);
    if (desc) {
        sodium_memzero(desc, desclen);
        free(desc);
    }
    return rc;
}

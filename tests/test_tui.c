/*
 * tests/test_tui.c: the terminal interface of `fkex chat`, driven through
 * tmux (send-keys, capture-pane) against real processes on 127.0.0.1: a
 * relay, a room founded by a --batch member whose stdin is a pipe and whose
 * stdout is a file, and terminal members in tmux sessions on a socket of
 * their own. Each terminal member runs from a small script that records
 * its pid, exit code and the terminal's modes before and after, so that
 * "the terminal is restored" is something to compare. Every wait polls
 * with a deadline; the tmux server and every process go at the end.
 */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "chat/client.h"

#define WAIT_SECONDS 20.0

extern char **environ;

static const char *bin;
static char root[512], invite[256], sock[64];
static pid_t relay_pid = -1;

typedef struct {      /* a --batch member */
    pid_t pid;
    int in;           /* our end of its stdin */
    char out[600];    /* its stdout, a file */
} batch_proc;

static batch_proc batches[4];
static size_t nbatches;

static const char *at(const char *name)
{
    static char ring[8][600];
    static unsigned next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", root, name);
    return p;
}

/* Spawns argv with stdin from in_fd (-1: /dev/null) and stdout, stderr to files. */
static pid_t spawn(const char *const *argv, int in_fd, const char *out, const char *err)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    if (in_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stderr);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* fkex ARGS... to completion; its exit code. */
static int fk(const char *first, ...)
{
    const char *argv[16] = { bin, first };
    size_t n = 2;
    va_list ap;
    va_start(ap, first);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    int rc = test_reap(spawn(argv, -1, at("fk.out"), at("fk.err")), WAIT_SECONDS);
    if (rc != 0) {
        char *e = test_read_text(at("fk.err"));
        fprintf(stderr, "    fkex %s exited %d: %s\n", first, rc, e);
        free(e);
    }
    return rc;
}
#define FK(...) fk(__VA_ARGS__, (const char *)NULL)

/* Polls read(what) (a malloc'd text) until it holds needle: 1, or 0 after
 * seconds, saying what it held. */
static int wait_text(char *(*read)(const char *), const char *what, const char *needle,
                     double seconds)
{
    double deadline = test_now() + seconds;
    for (;;) {
        char *text = read(what);
        int found = strstr(text, needle) != NULL;
        if (found || test_now() > deadline) {
            if (!found)
                fprintf(stderr, "    %s: no \"%s\" within %.0f s; it holds:\n%.3000s\n", what,
                        needle, seconds, text);
            free(text);
            return found;
        }
        free(text);
        test_nap_ms(50);
    }
}

static int file_wait(const char *path, const char *needle, double seconds)
{
    return wait_text(test_read_text, path, needle, seconds);
}

/* ---- the world: a relay, an authority, a room ------------------------------------ */

static int relay_start(char addr[128])
{
    const char *argv[] = { bin, "relay", "--listen", "127.0.0.1:0", "--db", at("relay.db"), NULL };
    if ((relay_pid = spawn(argv, -1, at("relay.out"), at("relay.err"))) < 0 ||
        !file_wait(at("relay.out"), "listening on ", WAIT_SECONDS))
        return -1;
    char *text = test_read_text(at("relay.out"));
    int ok = sscanf(strstr(text, "listening on "), "listening on %127s", addr) == 1;
    free(text);
    return ok ? 0 : -1;
}

static int world(void)
{
    char addr[128];
    snprintf(root, sizeof root, "%s/tui", test_tmpdir());
    snprintf(sock, sizeof sock, "fkex-test-tui-%d", (int)getpid());
    if (mkdir(root, 0700) != 0 || relay_start(addr) != 0 || FK("setup", "--dir", at("auth")) != 0)
        return -1;
    static const char *const keys[][2] = {
        { "alice", "ONE TWO" }, { "bob", "THREE FOUR" }, { "carol", "ONE FOUR" }, { "eve", "FIVE" },
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(keys); i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.key", keys[i][0]);
        if (FK("keygen", "--msk", at("auth/msk.fkex"), "--attrs", keys[i][1], "-o", at(name)) != 0)
            return -1;
    }
    if (FK("room", "create", "lab", "--policy", "(ONE or THREE) and (TWO or FOUR)", "--relay",
           addr, "--dir", at("R")) != 0)
        return -1;
    char *out = test_read_text(at("fk.out"));
    int ok = sscanf(out, "%255s", invite) == 1 && strncmp(invite, "fkex://", 7) == 0;
    free(out);
    /* remain-on-exit: a finished member's last screen can still be read
     * (tmux then scrolls it by a line: screen() reads the history too) */
    FILE *f = fopen(at("tmux.conf"), "w");
    if (!f)
        return -1;
    fputs("set -g remain-on-exit on\n", f);
    fclose(f);
    return ok ? 0 : -1;
}

/* `fkex chat INVITE --key NICK.key --batch --nick NICK [extra]`, stdin a pipe. */
static batch_proc *batch_start(const char *nick, const char *extra1, const char *extra2)
{
    char key[600], err[600];
    int p[2];
    batch_proc *b = &batches[nbatches++];
    snprintf(key, sizeof key, "%s/%s.key", root, nick);
    snprintf(err, sizeof err, "%s/%s.err", root, nick);
    snprintf(b->out, sizeof b->out, "%s/%s.out", root, nick);
    const char *argv[] = { bin, "chat", invite, "--key", key, "--batch", "--nick", nick,
                           extra1, extra2, NULL };
    if (pipe(p) != 0)
        abort();
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    b->pid = spawn(argv, p[0], b->out, err);
    close(p[0]);
    b->in = p[1];
    return b;
}

static void batch_say(batch_proc *b, const char *line)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s\n", line);
    CHECK(write(b->in, buf, (size_t)n) == n);
}

/* ---- terminal members in tmux ---------------------------------------------------- */

static int tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int tmux(const char *fmt, ...)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd, "tmux -L %s -f %s ", sock, at("tmux.conf"));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Opens NICK's terminal member in a 100x30 session named NICK. The script
 * keeps its pid (the inner sh execs fkex), exit code and tty modes. */
static int tui_start(const char *nick)
{
    char script[700];
    snprintf(script, sizeof script, "%s/%s.sh", root, nick);
    FILE *f = fopen(script, "w");
    if (!f)
        return -1;
    fprintf(f, "stty -g > %s/%s.tty-before\n"
               "sh -c 'echo $$ > %s/%s.pid; exec \"$@\"' sh %s chat %s --key %s/%s.key --nick %s\n"
               "echo $? > %s/%s.rc\n"
               "stty -g > %s/%s.tty-after\n"
               "echo \"exited $(cat %s/%s.rc)\"\n",
            root, nick, root, nick, bin, invite, root, nick, nick, root, nick, root, nick, root, nick);
    fclose(f);
    return tmux("new-session -d -s %s -x 100 -y 30 'sh %s'", nick, script) == 0 ? 0 : -1;
}

/* What NICK's terminal shows now, and what scrolled off it (malloc'd, ""
 * if it cannot be read). The history holds the primary screen only. */
static char *screen(const char *nick)
{
    char cmd[700], *buf = calloc(1, 65536);
    size_t n = 0;
    snprintf(cmd, sizeof cmd, "tmux -L %s capture-pane -p -S - -t %s 2>/dev/null", sock, nick);
    FILE *p = popen(cmd, "r");
    if (p) {
        n = fread(buf, 1, 65535, p);
        pclose(p);
    }
    buf[n] = 0;
    return buf;
}

static int screen_wait(const char *nick, const char *needle)
{
    return wait_text(screen, nick, needle, WAIT_SECONDS);
}

/* Types text (literally) and Enter. */
static void type_line(const char *nick, const char *text)
{
    CHECK(tmux("send-keys -t %s -l '%s'", nick, text) == 0);
    CHECK(tmux("send-keys -t %s Enter", nick) == 0);
}

/* The number NICK's script writes to NICK.suffix ("rc": the exit code,
 * "pid"), once written; -1 if it is not. */
static int tui_number(const char *nick, const char *suffix)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", nick, suffix);
    if (!file_wait(at(name), "\n", WAIT_SECONDS))
        return -1;
    char *t = test_read_text(at(name));
    int n = atoi(t);
    free(t);
    return n;
}

/* The terminal's modes after the member are those it found. */
static int tty_restored(const char *nick)
{
    char before[64], after[64];
    snprintf(before, sizeof before, "%s.tty-before", nick);
    snprintf(after, sizeof after, "%s.tty-after", nick);
    if (!file_wait(at(after), "\n", WAIT_SECONDS))
        return 0;
    char *a = test_read_text(at(before)), *b = test_read_text(at(after));
    int same = a[0] && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* 1 while pid is still one of our terminal members (its command line
 * names a key of this run), not a process that got its number since. */
static int ours(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "rb") : NULL;
    char cmd[4096];
    size_t n = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i < n; i++)
        cmd[i] = cmd[i] ? cmd[i] : ' ';
    cmd[n] = 0;
    return n && strstr(cmd, root) != NULL;
}

static void teardown(void)
{
    static const char *const nicks[] = { "bob", "eve", "carol" };
    tmux("kill-server 2>/dev/null");
    for (size_t i = 0; i < FKEX_ARRAY_LEN(nicks); i++) {   /* not our children: by pid */
        char name[64];
        snprintf(name, sizeof name, "%s.pid", nicks[i]);
        char *t = test_read_text(at(name));
        pid_t pid = (pid_t)atoi(t);
        free(t);
        double deadline = test_now() + 8;
        while (ours(pid) && test_now() < deadline)
            test_nap_ms(50);   /* the hangup makes it quit */
        if (ours(pid))
            kill(pid, SIGKILL);
    }
    for (size_t i = 0; i < nbatches; i++) {
        if (batches[i].in >= 0)
            close(batches[i].in);
        if (batches[i].pid > 0) {
            kill(batches[i].pid, SIGKILL);
            waitpid(batches[i].pid, NULL, 0);
        }
    }
    nbatches = 0;
    if (relay_pid > 0) {
        kill(relay_pid, SIGTERM);
        test_reap(relay_pid, 5.0);
    }
    relay_pid = -1;
}

/* ---- the cases ------------------------------------------------------------------------ */

#define STEP(cond) do { if (!(cond)) { CHECK(cond); return; } } while (0)

static batch_proc *alice;

/* bob in the terminal, alice and carol in batch mode. */
static void tui_chat(void)
{
    char want[160], fp[CHAT_FINGERPRINT_LEN + 1], *s;
    uint8_t room_id[32];
    alice = batch_start("alice", "--found", at("R"));
    STEP(file_wait(alice->out, "\"event\": \"joined\"", WAIT_SECONDS));
    STEP(tui_start("bob") == 0);
    STEP(sodium_hex2bin(room_id, 32, strrchr(invite, '/') + 1, 64, NULL, NULL, NULL) == 0);
    chat_fingerprint(fp, room_id);
    snprintf(want, sizeof want, " lab | epoch 1 | 2 members | room %s | online | bob", fp);
    STEP(screen_wait("bob", want));
    STEP(screen_wait("bob", "-- you are in the room: 2 members, epoch 1"));

    /* both ways */
    batch_say(alice, "{\"send\": \"hello from alice\"}");
    CHECK(screen_wait("bob", "alice: hello from alice"));
    type_line("bob", "hello from bob");
    CHECK(file_wait(alice->out, "\"from\": \"bob\", \"pseudonym\": \"", WAIT_SECONDS));
    CHECK(file_wait(alice->out, "\", \"text\": \"hello from bob\"", WAIT_SECONDS));
    CHECK(screen_wait("bob", "bob (you): hello from bob"));

    /* a message is named by its sender's pseudonym first; a newline in it
     * starts an indented row, so it cannot pass for the interface's own
     * lines; a bidirectional override is shown as U+FFFD */
    batch_say(alice, "{\"send\": \"line one\\n-- a member left (ffff ffff ffff ffff): "
                     "1 member\\u202eevil\"}");
    CHECK(screen_wait("bob", "] alice: line one"));
    CHECK(screen_wait("bob", "\n  -- a member left (ffff ffff ffff ffff): 1 member\xef\xbf\xbd" "evil"));
    s = screen("bob");
    CHECK(strstr(s, "\n-- a member left (ffff") == NULL && strstr(s, "\xe2\x80\xae") == NULL);
    free(s);

    /* /nick, then /who: two members, alice's nick as last seen, our own marked */
    type_line("bob", "/nick robert");
    CHECK(screen_wait("bob", "| online | robert"));
    type_line("bob", "again");
    CHECK(file_wait(alice->out, "\"from\": \"robert\", \"pseudonym\": \"", WAIT_SECONDS));
    CHECK(file_wait(alice->out, "\", \"text\": \"again\"", WAIT_SECONDS));
    type_line("bob", "/who");
    CHECK(screen_wait("bob", "-- 2 members in epoch 1:"));
    s = screen("bob");
    CHECK(strstr(s, "  alice\n") != NULL && strstr(s, "  robert (you)\n") != NULL);
    free(s);
    /* /verify: the epoch's fingerprint, the same as alice's */
    batch_say(alice, "{\"cmd\": \"verify\"}");
    CHECK(file_wait(alice->out, "{\"event\": \"verify\", \"epoch\": 1, \"fingerprint\": \"",
                    WAIT_SECONDS));
    char *out = test_read_text(alice->out), fp_alice[CHAT_EPOCH_FINGERPRINT_LEN + 1] = "";
    const char *v = strstr(out, "\"fingerprint\": \"");
    CHECK(v && sscanf(v, "\"fingerprint\": \"%29[0-9 ]\"", fp_alice) == 1);
    free(out);
    type_line("bob", "/verify");
    snprintf(want, sizeof want, "-- epoch 1 fingerprint: %s", fp_alice);
    CHECK(strlen(fp_alice) == CHAT_EPOCH_FINGERPRINT_LEN && screen_wait("bob", want));
    CHECK(screen_wait("bob", "--   every member of the epoch sees the same"));
    type_line("bob", "/frobnicate");
    CHECK(screen_wait("bob", "!! unknown command /frobnicate: /help lists them"));

    /* a third member: a system line, and the status line's epoch and count */
    batch_proc *carol = batch_start("carol", NULL, NULL);
    CHECK(screen_wait("bob", "-- a member joined ("));
    CHECK(screen_wait("bob", "): 3 members, epoch 2"));
    CHECK(screen_wait("bob", " lab | epoch 2 | 3 members | room "));
    batch_say(carol, "{\"send\": \"carol here\"}");
    CHECK(screen_wait("bob", "carol: carol here"));
    batch_say(carol, "{\"cmd\": \"leave\"}");
    CHECK(screen_wait("bob", "-- carol ("));
    CHECK(screen_wait("bob", ") left: 2 members, epoch 3"));
    CHECK(screen_wait("bob", " lab | epoch 3 | 2 members | room "));

    /* /quit: exit 0, the screen and the tty modes as they were */
    type_line("bob", "/quit");
    CHECK(tui_number("bob", "rc") == 0);
    CHECK(tty_restored("bob"));
    CHECK(screen_wait("bob", "exited 0"));
    s = screen("bob");
    CHECK(strstr(s, "| online |") == NULL && strstr(s, "hello from") == NULL);
    free(s);
}

/* eve's attributes do not satisfy the policy: the sentence, exit 1. */
static void tui_refused(void)
{
    STEP(tui_start("eve") == 0);
    CHECK(tui_number("eve", "rc") == 1);
    CHECK(tty_restored("eve"));
    CHECK(screen_wait("eve", "fkex: error: your key's attributes do not satisfy this room's policy"));
    CHECK(screen_wait("eve", "exited 1"));
}

/* SIGTERM: the session quits, the terminal comes back, exit 0. */
static void tui_sigterm(void)
{
    STEP(tui_start("carol") == 0);
    STEP(screen_wait("carol", "| online | carol"));
    pid_t pid = (pid_t)tui_number("carol", "pid");
    STEP(pid > 0);
    CHECK(kill(pid, SIGTERM) == 0);
    CHECK(tui_number("carol", "rc") == 0);
    CHECK(tty_restored("carol"));
    CHECK(screen_wait("carol", "exited 0"));
}

/* Without a terminal it says so, before touching the network. */
static void tui_needs_terminal(void)
{
    const char *inv = "fkex://127.0.0.1:1/0000000000000000000000000000000000000000000000000000000000000000";
    const char *argv[] = { bin, "chat", inv, "--key", at("alice.key"), NULL };
    CHECK(test_reap(spawn(argv, -1, at("nt.out"), at("nt.err")), WAIT_SECONDS) == 2);
    char *e = test_read_text(at("nt.err"));
    CHECK(strstr(e, "the terminal interface needs a terminal") != NULL);
    free(e);
}

static void tui_fingerprint(void)
{
    uint8_t id[32] = { 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x7a, 0x8b, 0xff };
    char fp[CHAT_FINGERPRINT_LEN + 1];
    chat_fingerprint(fp, id);
    CHECK(strcmp(fp, "1a2b 3c4d 5e6f 7a8b") == 0);
}

void suite_tui(void)
{
    RUN(tui_fingerprint);
    static char path[PATH_MAX];
    /* tmux runs the member from its own directory: an absolute path */
    bin = realpath(getenv("FKEX_BIN") ? getenv("FKEX_BIN") : "./fkex", path);
    if (!bin || access(bin, X_OK) != 0 || system("tmux -V >/dev/null 2>&1") != 0) {
        fprintf(stderr, "    cannot run fkex or tmux: set FKEX_BIN, install tmux (scripts/deps.sh)\n");
        test_fail("FKEX_BIN and tmux can run", __FILE__, __LINE__);
        return;
    }
    signal(SIGPIPE, SIG_IGN);
    if (world() != 0) {
        test_fail("a relay, an authority and a room", __FILE__, __LINE__);
    } else {
        RUN(tui_needs_terminal);
        RUN(tui_chat);
        RUN(tui_refused);
        RUN(tui_sigterm);
    }
    teardown();
    signal(SIGPIPE, SIG_DFL);
}

/*
 * The fkex command, end to end: each case runs the real binary ($FKEX_BIN,
 * default ./fkex) as a child process, its standard streams redirected to
 * files, in a scratch directory under test_tmpdir(), and checks what a user
 * would see: exit codes (0 ok; 1 denied, tampered, wrong authority; 2 usage),
 * messages, files, their contents and modes, and files left behind.
 *
 * Every child has CHILD_SECONDS to finish: a hung fkex is killed and fails
 * its case instead of hanging the suite.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700   /* posix_openpt, for the terminal case */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"

#ifndef CHILD_SECONDS
#define CHILD_SECONDS 60
#endif
#define PROTO "(ONE or THREE) and (TWO or FOUR)"
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- running fkex ------------------------------------------------------- */

extern char **environ;

static const char *bin;                 /* $FKEX_BIN */
static char root[256];                  /* scratch directory of this suite */
static char io_out[300], io_err[300];   /* where stdout and stderr go */
static char *out_text, *err_text;       /* what the last run printed */
static size_t out_len;
static char last_cmd[1024];
static unsigned long runs;

static uint8_t *slurp(const char *path, size_t *len);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs fkex with argv[1..] (argv[0] is filled in); stdin from `in` (NULL:
 * /dev/null), stdout to `out` (NULL: captured into out_text), stderr always
 * captured into err_text. Returns the exit code, or -1 if fkex did not exit
 * by itself (a signal, or CHILD_SECONDS passed and it was killed).
 *
 * posix_spawn, not fork: forking the test process (huge under ASan, with
 * its shadow memory) is slow. The child inherits the write end of a pipe,
 * so the read end hangs up when it exits: poll() on that waits with a timeout.
 */
static int run(const char *in, const char *out, const char **argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    size_t used = 0;
    int status = 0, alive[2], err, timed_out = 0;
    double deadline;
    pid_t pid;

    argv[0] = bin;
    last_cmd[0] = '\0';
    for (size_t i = 0; argv[i] && used + 2 < sizeof last_cmd; i++) {
        int n = snprintf(last_cmd + used, sizeof last_cmd - used, "%s'%s'", i ? " " : "", argv[i]);
        used = n < 0 ? used : used + (size_t)n;
    }
    if (used >= sizeof last_cmd)
        used = sizeof last_cmd - 1;
    snprintf(last_cmd + used, sizeof last_cmd - used, " <%s >%s", in ? in : "/dev/null",
             out ? out : "(captured)");
    runs++;

    if (pipe(alive) != 0) {
        perror("pipe");
        return -1;
    }
    fcntl(alive[0], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, in ? in : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out ? out : io_out,
                                     O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY, 0644);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, io_err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    fflush(stdout);
    fflush(stderr);
    err = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(alive[1]);
    if (err != 0) {
        fprintf(stderr, "    %s: cannot run: %s\n", last_cmd, strerror(err));
        close(alive[0]);
        return -1;
    }

    deadline = now() + CHILD_SECONDS;
    for (;;) {
        struct pollfd pfd = { .fd = alive[0], .events = POLLIN };
        double left = deadline - now();
        int r;
        if (left <= 0) {
            kill(pid, SIGKILL);
            timed_out = 1;
            break;
        }
        r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r > 0) {
            char c;
            if (read(alive[0], &c, 1) <= 0)   /* hung up: the child is gone */
                break;
        } else if (r < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
    }
    close(alive[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return -1;
        }
    }

    free(out_text);
    free(err_text);
    out_text = out ? NULL : (char *)slurp(io_out, &out_len);
    err_text = (char *)slurp(io_err, NULL);
    if (!out_text) {
        out_text = calloc(1, 1);
        out_len = 0;
    }
    if (!err_text)
        err_text = calloc(1, 1);
    if (timed_out || WIFSIGNALED(status)) {
        fprintf(stderr, "    %s: %s\n", last_cmd,
                timed_out ? "timed out after " STR(CHILD_SECONDS) " s, killed" : "killed by a signal");
        return -1;
    }
    if (WEXITSTATUS(status) == 127)
        fprintf(stderr, "    %s: could not run (exit 127)\n", last_cmd);
    return WEXITSTATUS(status);
}

static int fkex(const char *in, const char *out, ...)
{
    const char *argv[40];
    size_t n = 1;
    va_list ap;
    va_start(ap, out);
    while (n < FKEX_ARRAY_LEN(argv) - 1 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    return run(in, out, argv);
}

/* FX(stdin, stdout, "command", args...): see run(). */
#define FX(in, out, ...) fkex(in, out, __VA_ARGS__, (const char *)NULL)

/* The exit code must be `want`; if not, say what ran and what it printed. */
static int exit_is(int rc, int want)
{
    if (rc != want)
        fprintf(stderr, "    %s\n      exited %d, expected %d; stderr: %s", last_cmd, rc, want,
                err_text && err_text[0] ? err_text : "(empty)\n");
    return rc == want;
}
#define EXPECT(call, want)                                                    \
    do {                                                                      \
        if (!exit_is((call), (want)))                                         \
            test_fail(#call " exits " #want, __FILE__, __LINE__);             \
    } while (0)

/* The last run reported an error ("fkex: error: ...") that says `phrase`. */
static int says(const char *phrase)
{
    int ok = strstr(err_text, "fkex: error: ") != NULL && strstr(err_text, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "    %s\n      stderr lacks \"fkex: error: ...%s\": %s", last_cmd, phrase,
                err_text[0] ? err_text : "(empty)\n");
    return ok;
}

static int printed(const char *phrase)
{
    int ok = strstr(out_text, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "    %s\n      stdout lacks \"%s\": %s", last_cmd, phrase,
                out_text[0] ? out_text : "(empty)\n");
    return ok;
}

/* ---- files ---------------------------------------------------------------- */

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    if (!f)
        return NULL;
    do {
        if (cap - n < 65536) {
            uint8_t *bigger = realloc(buf, cap = cap * 2 + 65536 + 1);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int copy_file(const char *to, const char *from)
{
    size_t n;
    uint8_t *d = slurp(from, &n);
    int rc = d ? spit(to, d, n) : -1;
    free(d);
    return rc;
}

static int same_bytes(const char *path, const void *data, size_t len)
{
    size_t n;
    uint8_t *d = slurp(path, &n);
    int same = d && n == len && memcmp(d, data, len) == 0;
    free(d);
    return same;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* out = dir/name; a path too long for out is a bug in this file. */
static void join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "test_cli: path too long: %s/%s\n", dir, name);
        abort();
    }
}

static const char *at(const char *dir, const char *name)
{
    static char ring[32][512];
    static unsigned next;
    char *p = ring[next++ % FKEX_ARRAY_LEN(ring)];
    join(p, sizeof ring[0], dir, name);
    return p;
}

/* A fresh directory for one case, under the suite's scratch directory. */
static void mkcase(char dir[512], const char *name)
{
    join(dir, 512, root, name);
    if (mkdir(dir, 0755) != 0)
        fprintf(stderr, "    mkdir %s: %s\n", dir, strerror(errno));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entries, sorted, one per line. */
static char *listing(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL, *text;
    size_t n = 0, total = 1;
    if (!d)
        return strdup("(cannot open)");
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n] = strdup(e->d_name);
        total += strlen(names[n++]) + 1;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    text = calloc(1, total);
    for (size_t i = 0; i < n; i++) {
        strcat(text, names[i]);
        strcat(text, "\n");
        free(names[i]);
    }
    free(names);
    return text;
}

/* The directory still lists exactly `before` (no output, no temporary file). */
static int unchanged(const char *dir, const char *before)
{
    char *now_ = listing(dir);
    int same = strcmp(now_, before) == 0;
    if (!same)
        fprintf(stderr, "    %s: files changed; before:\n%s    now:\n%s", dir, before, now_);
    free(now_);
    return same;
}

static int no_temp_files(const char *dir)
{
    char *names = listing(dir);
    int none = strstr(names, ".fkex-") == NULL;
    if (!none)
        fprintf(stderr, "    %s: temporary files left:\n%s", dir, names);
    free(names);
    return none;
}

static uint8_t *random_bytes(size_t n, const char *label)
{
    fkex_rng rng;
    uint8_t *p = malloc(n ? n : 1);
    test_rng(&rng, label);
    fkex_rng_fill(&rng, p, n);
    return p;
}

/* Longest run of characters that could be base64 or hex encoding. */
static size_t longest_encoded_run(const char *s)
{
    size_t best = 0, cur = 0;
    for (; *s; s++) {
        int c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '+' || c == '/' || c == '=')
            best = ++cur > best ? cur : best;
        else
            cur = 0;
    }
    return best;
}

/* ---- the authorities and keys the cases share --------------------------- */

static char auth_a[512], auth_b[512];
static char mpk_a[512], msk_a[512], mpk_b[512], msk_b[512];
static char alice[512], bob[512], eve[512], mallory[512];
static char fp_a[32], fp_b[32];
static int fixture_state;   /* 0 not yet, 1 ready, -1 broken */

static int make_authority(char dir[512], char mpk[512], char msk[512], char fp[32], const char *name)
{
    mkcase(dir, name);
    join(mpk, 512, dir, "auth/mpk.fkex");
    join(msk, 512, dir, "auth/msk.fkex");
    if (!exit_is(FX(NULL, NULL, "setup", "--dir", at(dir, "auth")), 0))
        return -1;
    if (sscanf(out_text, "authority %31s", fp) != 1)
        return -1;
    return 0;
}

static int keygen(char out[512], const char *dir, const char *name, const char *msk, const char *attrs)
{
    join(out, 512, dir, name);
    return exit_is(FX(NULL, NULL, "keygen", "--msk", msk, "--attrs", attrs, "-o", out), 0) ? 0 : -1;
}

static int fixture(void)
{
    if (fixture_state == 0) {
        fixture_state = -1;
        if (make_authority(auth_a, mpk_a, msk_a, fp_a, "authority-a") != 0 ||
            make_authority(auth_b, mpk_b, msk_b, fp_b, "authority-b") != 0 ||
            keygen(alice, auth_a, "alice.key", msk_a, "ONE TWO") != 0 ||
            keygen(bob, auth_a, "bob.key", msk_a, "THREE, FOUR") != 0 ||
            keygen(eve, auth_a, "eve.key", msk_a, "FIVE") != 0 ||
            keygen(mallory, auth_b, "mallory.key", msk_b, "ONE TWO") != 0)
            return -1;
        fixture_state = 1;
    }
    CHECK(fixture_state == 1);
    return fixture_state == 1 ? 0 : -1;
}

/* Encrypts `text` under `policy` with authority A into dir/name. */
static const char *seal(const char *dir, const char *name, const char *text, const char *policy,
                        const char *valid_at)
{
    const char *pt = at(dir, "plain.tmp"), *ct = at(dir, name);
    int rc;
    if (spit(pt, text, strlen(text)) != 0)
        return NULL;
    if (valid_at)
        rc = FX(pt, NULL, "encrypt", "--mpk", mpk_a, "--policy", policy, "--valid-at", valid_at,
                "-o", ct);
    else
        rc = FX(pt, NULL, "encrypt", "--mpk", mpk_a, "--policy", policy, "-o", ct);
    unlink(pt);
    return exit_is(rc, 0) ? ct : NULL;
}

/* ---- the cases ------------------------------------------------------------ */

static void cli_binary(void)
{
    EXPECT(FX(NULL, NULL, "--version"), 0);
    CHECK(printed("fkex"));
}

static void cli_help(void)
{
    static const char *const cmds[] = { "setup", "keygen", "encrypt", "decrypt", "inspect", "bench" };
    char d[512], want[64];
    mkcase(d, "help");

    EXPECT(FX(NULL, NULL, "--help"), 0);
    CHECK(printed("usage:"));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cmds); i++)
        CHECK(printed(cmds[i]));
    EXPECT(FX(NULL, NULL, "-h"), 0);
    CHECK(printed("usage:"));
    EXPECT(FX(NULL, NULL, "help"), 0);
    CHECK(printed("usage:"));
    EXPECT(FX(NULL, NULL, "--version"), 0);
    CHECK(printed("fkex "));
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cmds); i++) {
        snprintf(want, sizeof want, "usage: fkex %s", cmds[i]);
        EXPECT(FX(NULL, NULL, cmds[i], "--help"), 0);
        CHECK(printed(want));
        EXPECT(FX(NULL, NULL, cmds[i], "-h"), 0);
        CHECK(printed(want));
    }

    /* No command, an unknown one, an unknown option. */
    EXPECT(FX(NULL, NULL, NULL), 2);
    CHECK(strstr(err_text, "usage:") != NULL);
    EXPECT(FX(NULL, NULL, "frobnicate"), 2);
    CHECK(says("unknown command 'frobnicate'"));
    CHECK(strstr(err_text, "fkex: hint: ") != NULL);
    CHECK(out_len == 0);
    /* what an error quotes cannot drive the terminal, nor fill it */
    EXPECT(FX(NULL, NULL, "frob\x1b[2J\xe2\x80\xae" "nicate"), 2);
    CHECK(says("unknown command 'frob\\x1b[2J\\xe2\\x80\\xaenicate'"));
    CHECK(strchr(err_text, 0x1b) == NULL && strstr(err_text, "\xe2\x80\xae") == NULL);
    static char big[70001];
    memset(big, 'a', sizeof big - 1);
    EXPECT(FX(NULL, NULL, big), 2);
    CHECK(says("... (70018 bytes in all)"));
    CHECK(strlen(err_text) < 1000);
    EXPECT(FX(NULL, NULL, "setup", "--frobnicate", "--dir", at(d, "x")), 2);
    CHECK(!exists(at(d, "x")));
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", "m", "--policy", "ONE", "--bogus"), 2);

    /* Each missing required option is named. */
    EXPECT(FX(NULL, NULL, "setup"), 2);
    CHECK(says("missing --dir"));
    EXPECT(FX(NULL, NULL, "setup", "--dir", at(d, "x"), "extra"), 2);
    CHECK(says("unexpected argument 'extra'"));
    CHECK(!exists(at(d, "x")));
    EXPECT(FX(NULL, NULL, "keygen", "--attrs", "ONE", "-o", at(d, "k")), 2);
    CHECK(says("missing --msk"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "m"), "-o", at(d, "k")), 2);
    CHECK(says("missing --attrs"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "m"), "--attrs", "ONE"), 2);
    CHECK(says("missing -o"));
    EXPECT(FX(NULL, NULL, "encrypt", "--policy", "ONE"), 2);
    CHECK(says("missing --mpk"));
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", at(d, "m")), 2);
    CHECK(says("missing --policy"));
    EXPECT(FX(NULL, NULL, "decrypt", at(d, "in")), 2);
    CHECK(says("missing --key"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key"), 2);
    EXPECT(FX(NULL, NULL, "inspect", "a", "b"), 2);
    CHECK(says("unexpected argument 'b'"));
    EXPECT(FX(NULL, NULL, "bench"), 2);
    EXPECT(FX(NULL, NULL, "bench", "nonsense"), 2);
    CHECK(says("unknown benchmark"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "missing.key"), at(d, "in")), 2);
    CHECK(says("cannot open"));
    CHECK(!exists(at(d, "k")));
}

static void cli_setup(void)
{
    char d[512], dir[512];
    const char *mpk, *msk;
    uint8_t *mpk0, *msk0;
    size_t mpk_len, msk_len;
    mkcase(d, "setup");
    join(dir, sizeof dir, d, "auth");
    mpk = at(dir, "mpk.fkex");
    msk = at(dir, "msk.fkex");

    EXPECT(FX(NULL, NULL, "setup", "--dir", dir), 0);
    CHECK(printed("authority "));
    CHECK(printed(mpk));
    CHECK(mode_of(mpk) == 0644);
    CHECK(mode_of(msk) == 0600);
    mpk0 = slurp(mpk, &mpk_len);
    msk0 = slurp(msk, &msk_len);
    CHECK(mpk0 && mpk_len > 8 && memcmp(mpk0, "FKEX", 4) == 0);
    CHECK(msk0 && msk_len > 8 && memcmp(msk0, "FKEX", 4) == 0);

    /* A second setup in the same directory touches nothing. */
    EXPECT(FX(NULL, NULL, "setup", "--dir", dir), 2);
    CHECK(says("already holds an authority"));
    CHECK(mpk0 && same_bytes(mpk, mpk0, mpk_len));
    CHECK(msk0 && same_bytes(msk, msk0, msk_len));
    CHECK(mode_of(mpk) == 0644);
    CHECK(mode_of(msk) == 0600);
    /* Nor when only one of the files is there. */
    CHECK(mkdir(at(d, "half"), 0755) == 0);
    CHECK(spit(at(d, "half/msk.fkex"), "mine", 4) == 0);
    EXPECT(FX(NULL, NULL, "setup", "--dir", at(d, "half")), 2);
    CHECK(same_bytes(at(d, "half/msk.fkex"), "mine", 4));
    CHECK(!exists(at(d, "half/mpk.fkex")));

    /* An unknown scheme creates nothing. */
    EXPECT(FX(NULL, NULL, "setup", "--dir", at(d, "other"), "--scheme", "nope"), 2);
    CHECK(strstr(err_text, "fkex: error: ") != NULL);
    CHECK(strstr(err_text, "waters11") != NULL);
    CHECK(!exists(at(d, "other/mpk.fkex")) && !exists(at(d, "other/msk.fkex")));

    /* Armored authority: the files are text, and they work. */
    EXPECT(FX(NULL, NULL, "setup", "--dir", at(d, "armored"), "-a"), 0);
    {
        char *t = (char *)slurp(at(d, "armored/msk.fkex"), NULL);
        CHECK(t && strncmp(t, "-----BEGIN FKEX MASTER KEY-----\n", 32) == 0);
        free(t);
        t = (char *)slurp(at(d, "armored/mpk.fkex"), NULL);
        CHECK(t && strncmp(t, "-----BEGIN FKEX ", 16) == 0);
        free(t);
    }
    CHECK(mode_of(at(d, "armored/msk.fkex")) == 0600);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "armored/msk.fkex"), "--attrs", "ONE", "-o",
              at(d, "k")), 0);
    CHECK(spit(at(d, "p"), "armored authority\n", 18) == 0);
    EXPECT(FX(at(d, "p"), NULL, "encrypt", "--mpk", at(d, "armored/mpk.fkex"), "--policy", "ONE",
              "-o", at(d, "c")), 0);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "k"), at(d, "c")), 0);
    CHECK(strcmp(out_text, "armored authority\n") == 0);

    /* New authorities are FAME; a Waters one (as every authority made
     * before FAME was) is made on request and keeps working, and each
     * artefact names its scheme. */
    EXPECT(FX(NULL, NULL, "inspect", mpk), 0);
    CHECK(printed("scheme:     fame (FAME, Agrawal-Chase 2017 CP-ABE)"));
    EXPECT(FX(NULL, NULL, "setup", "--dir", at(d, "old"), "--scheme", "waters11"), 0);
    CHECK(printed("(waters11 and bf01"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "old/msk.fkex"), "--attrs", "ONE TWO", "-o",
              at(d, "old.key")), 0);
    EXPECT(FX(at(d, "p"), NULL, "encrypt", "--mpk", at(d, "old/mpk.fkex"), "--policy",
              "ONE and TWO", "-o", at(d, "old.fkex")), 0);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "old.key"), at(d, "old.fkex")), 0);
    CHECK(strcmp(out_text, "armored authority\n") == 0);
    static const char *const old_files[] = { "old/mpk.fkex", "old/msk.fkex", "old.key", "old.fkex" };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(old_files); i++) {
        EXPECT(FX(NULL, NULL, "inspect", at(d, old_files[i])), 0);
        CHECK(printed("scheme:     waters11 (Waters 2011 CP-ABE)"));
    }
    /* A FAME key does not open a Waters file, nor the reverse. */
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "k"), at(d, "old.fkex")), 1);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "old.key"), at(d, "c")), 1);
    free(mpk0);
    free(msk0);
}

static void cli_keygen(void)
{
    char d[512], *before;
    const char *key;
    uint8_t *k0;
    size_t k0_len;
    if (fixture() != 0)
        return;
    mkcase(d, "keygen");
    key = at(d, "alice.key");

    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE TWO", "-o", key), 0);
    CHECK(mode_of(key) == 0600);
    k0 = slurp(key, &k0_len);
    CHECK(k0 && k0_len > 44 && memcmp(k0, "FKEX", 4) == 0);

    /* Never overwrites, even with another key. */
    before = listing(d);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "THREE", "-o", key), 2);
    CHECK(says("cannot create"));
    CHECK(strstr(err_text, "fkex: hint: ") != NULL);
    CHECK(k0 && same_bytes(key, k0, k0_len));
    CHECK(mode_of(key) == 0600);

    /* Bad attributes and months are refused before anything is written. */
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "a b$c", "-o", at(d, "x.key")), 2);
    CHECK(says("'b$c' is not a valid attribute"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE and", "-o", at(d, "x.key")), 2);
    CHECK(says("'and' is not a valid attribute"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "or", "-o", at(d, "x.key")), 2);
    CHECK(says("is not a valid attribute"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE ONE", "-o", at(d, "x.key")), 2);
    CHECK(strstr(err_text, "fkex: error: ") != NULL);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", " , ", "-o", at(d, "x.key")), 2);
    CHECK(says("names no attribute"));
    {
        static const char *const bad[] = { "2026-13", "2026-00", "2026-1", "26-12", "2026/12",
                                           "2026-12-01", "", "abcd-ef" };
        for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
            EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE", "--expires", bad[i],
                      "-o", at(d, "x.key")), 2);
            CHECK(says("is not a month like 2026-12"));
        }
    }
    /* --msk must be a master key. */
    EXPECT(FX(NULL, NULL, "keygen", "--msk", mpk_a, "--attrs", "ONE", "-o", at(d, "x.key")), 2);
    CHECK(says("not a master key"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", alice, "--attrs", "ONE", "-o", at(d, "x.key")), 2);
    CHECK(says("is a user key, not a master key"));
    CHECK(unchanged(d, before));
    free(before);

    /* -o - writes the key to stdout (here a file); it works as a key. */
    EXPECT(FX(NULL, at(d, "stdout.key"), "keygen", "--msk", msk_a, "--attrs", "ONE,TWO", "-o", "-"), 0);
    {
        size_t n;
        uint8_t *k = slurp(at(d, "stdout.key"), &n);
        CHECK(k && n > 44 && memcmp(k, "FKEX", 4) == 0);
        free(k);
    }
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE TWO", "-a", "-o", "-"), 0);
    CHECK(strncmp(out_text, "-----BEGIN FKEX USER KEY-----\n", 30) == 0);
    CHECK(strstr(out_text, "-----END FKEX USER KEY-----\n") != NULL);
    {
        const char *ct = seal(d, "proto.fkex", "for alice\n", PROTO, NULL);
        CHECK(ct != NULL);
        if (ct) {
            EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "stdout.key"), ct), 0);
            CHECK(strcmp(out_text, "for alice\n") == 0);
        }
    }

    /* A master key others can read is refused (whoever read it makes every
     * key); a user key others can read works, with a warning. */
    CHECK(copy_file(at(d, "open-msk.fkex"), msk_a) == 0);
    CHECK(chmod(at(d, "open-msk.fkex"), 0644) == 0);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "open-msk.fkex"), "--attrs", "ONE", "-o",
              at(d, "w.key")), 2);
    CHECK(says("readable by other users (mode 644): refusing to use the master key"));
    CHECK(!exists(at(d, "w.key")));
    CHECK(chmod(at(d, "open-msk.fkex"), 0600) == 0);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "open-msk.fkex"), "--attrs", "ONE", "-o",
              at(d, "w.key")), 0);
    CHECK(mode_of(at(d, "w.key")) == 0600);
    CHECK(chmod(at(d, "w.key"), 0644) == 0);
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", at(d, "w.key"), at(d, "none")), 2);
    CHECK(strstr(err_text, "fkex: warning: ") != NULL && strstr(err_text, "readable by other users"));
    free(k0);
}

/* Binary output to a terminal is refused; armor is fine. */
static void cli_terminal(void)
{
    char d[512];
    int master, slave = -1;
    const char *name;
    if (fixture() != 0)
        return;
    mkcase(d, "terminal");
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || !(name = ptsname(master)) ||
        (slave = open(name, O_RDWR | O_NOCTTY)) < 0) {
        fprintf(stderr, "    no pseudo-terminal here (%s): skipped\n", strerror(errno));
        if (master >= 0)
            close(master);
        return;
    }
    fcntl(master, F_SETFD, FD_CLOEXEC);
    fcntl(slave, F_SETFD, FD_CLOEXEC);

    EXPECT(FX(NULL, name, "keygen", "--msk", msk_a, "--attrs", "ONE", "-o", "-"), 2);
    CHECK(says("refusing to write binary output to a terminal"));
    CHECK(strstr(err_text, "fkex: hint: ") && strstr(err_text, "-a"));
    CHECK(spit(at(d, "p"), "to a tty\n", 9) == 0);
    EXPECT(FX(at(d, "p"), name, "encrypt", "--mpk", mpk_a, "--policy", "ONE"), 2);
    CHECK(says("refusing to write binary output to a terminal"));
    EXPECT(FX(NULL, name, "keygen", "--msk", msk_a, "--attrs", "ONE", "-a", "-o", "-"), 0);
    {
        /* The pty's buffer holds the armored key; read it from the master. */
        char buf[16384];
        size_t n = 0;
        struct pollfd pfd = { .fd = master, .events = POLLIN };
        while (n < sizeof buf - 1 && poll(&pfd, 1, 500) > 0) {
            ssize_t got = read(master, buf + n, sizeof buf - 1 - n);
            if (got <= 0)
                break;
            n += (size_t)got;
        }
        buf[n] = '\0';
        CHECK(strstr(buf, "-----BEGIN FKEX USER KEY-----") != NULL);
    }
    close(slave);
    close(master);
}

static void roundtrip(const char *d, size_t size, int armor, const char *label)
{
    uint8_t *plain = random_bytes(size, label);
    const char *pt = at(d, "plain"), *ct = at(d, "ct.fkex"), *ct2 = at(d, "ct2.fkex"),
               *out = at(d, "out"), *out2 = at(d, "out2"), *out3 = at(d, "out3");
    size_t ctlen = 0;
    uint8_t *c;
    int bad = test_case_failed;

    if (size == 15)
        memcpy(plain, "attack at dawn\n", 15);
    CHECK(spit(pt, plain, size) == 0);
    unlink(ct), unlink(ct2), unlink(out), unlink(out2), unlink(out3);

    /* File to file. */
    if (armor)
        EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", PROTO, "-a", "-o", ct, pt), 0);
    else
        EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", PROTO, "-o", ct, pt), 0);
    CHECK(out_len == 0);
    CHECK(mode_of(ct) == 0644);
    c = slurp(ct, &ctlen);
    CHECK(c != NULL && ctlen > size);
    if (c && armor) {
        static const char begin[] = "-----BEGIN FKEX CIPHERTEXT-----\n";
        static const char end[] = "-----END FKEX CIPHERTEXT-----\n";
        CHECK(ctlen > sizeof begin + sizeof end && memcmp(c, begin, sizeof begin - 1) == 0);
        CHECK(memcmp(c + ctlen - (sizeof end - 1), end, sizeof end - 1) == 0);
        for (size_t i = 0; i < ctlen; i++)
            if (!(c[i] == '\n' || (c[i] >= 0x20 && c[i] < 0x7f))) {
                CHECK(!"armor is printable text");
                break;
            }
    } else if (c) {
        CHECK(ctlen > 4 && memcmp(c, "FKEX", 4) == 0);
    }
    if (c && size == 15)
        CHECK(!test_has(c, ctlen, "attack"));
    free(c);

    /* Alice: stdin to stdout. Bob: path to -o. */
    EXPECT(FX(ct, out, "decrypt", "--key", alice), 0);
    CHECK(same_bytes(out, plain, size));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", bob, "-o", out2, ct), 0);
    CHECK(out_len == 0);
    CHECK(same_bytes(out2, plain, size));
    CHECK(mode_of(out2) == 0600);   /* plaintext: as a key is */

    /* Stdin to stdout, then Alice by path to stdout. */
    if (armor)
        EXPECT(FX(pt, ct2, "encrypt", "-a", "--mpk", mpk_a, "--policy", PROTO), 0);
    else
        EXPECT(FX(pt, ct2, "encrypt", "--mpk", mpk_a, "--policy", PROTO, "-"), 0);
    EXPECT(FX(NULL, out3, "decrypt", "--key", alice, "-o", "-", ct2), 0);
    CHECK(same_bytes(out3, plain, size));
    {
        /* Encryption is randomized. */
        size_t n;
        uint8_t *c2 = slurp(ct2, &n);
        c = slurp(ct, &ctlen);
        CHECK(c && c2 && !(n == ctlen && memcmp(c, c2, n) == 0));
        free(c);
        free(c2);
    }
    CHECK(no_temp_files(d));
    if (test_case_failed != bad)
        fprintf(stderr, "    (round trip of %zu bytes, %s)\n", size, armor ? "armored" : "binary");
    free(plain);
}

static void cli_roundtrip(void)
{
    static const size_t sizes[] = { 0, 15, 65535, 65536, 65537, 131072, (1u << 20) + 123 };
    char d[512], label[64];
    if (fixture() != 0)
        return;
    mkcase(d, "roundtrip");
    for (size_t i = 0; i < FKEX_ARRAY_LEN(sizes); i++)
        for (int armor = 0; armor <= 1; armor++) {
            snprintf(label, sizeof label, "cli roundtrip %zu", sizes[i]);
            roundtrip(d, sizes[i], armor, label);
        }
}

/* Ctrl-C in the middle of a decryption leaves no partial plaintext: the
 * temporary file goes with the process (issue 11). A whole decryption's
 * plaintext is mode 0600. */
static void cli_interrupted(void)
{
    char d[512];
    const size_t size = 4u << 20;
    size_t ctlen = 0;
    if (fixture() != 0)
        return;
    mkcase(d, "interrupted");
    uint8_t *plain = random_bytes(size, "interrupted"), *ct;
    CHECK(spit(at(d, "plain"), plain, size) == 0);
    free(plain);
    EXPECT(FX(at(d, "plain"), NULL, "encrypt", "--mpk", mpk_a, "--policy", PROTO, "-o",
              at(d, "ct.fkex")), 0);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", at(d, "whole"), at(d, "ct.fkex")), 0);
    CHECK(mode_of(at(d, "whole")) == 0600);
    if (!(ct = slurp(at(d, "ct.fkex"), &ctlen)))
        return;
    /* half the ciphertext on a pipe that stays open, then SIGINT */
    int in[2];
    pid_t pid;
    posix_spawn_file_actions_t fa;
    const char *argv[] = { bin, "decrypt", "--key", alice, "-o", at(d, "out"), "-", NULL };
    CHECK(pipe(in) == 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addopen(&fa, 2, at(d, "err"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    size_t half = ctlen / 2, off = 0;
    while (off < half) {
        ssize_t w = write(in[1], ct + off, half - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    /* the partial plaintext is on disk, under its temporary name */
    int partial = 0;
    for (int tries = 0; tries < 500 && !partial; tries++) {
        char *names = listing(d);
        char *tmp = strstr(names, "out.fkex-");
        if (tmp) {
            char name[64];
            sscanf(tmp, "%63s", name);
            partial = mode_of(at(d, name)) == 0600;
            struct stat st;
            partial &= stat(at(d, name), &st) == 0 && st.st_size > 0;
        }
        free(names);
        if (!partial)
            test_nap_ms(10);
    }
    CHECK(partial);
    kill(pid, SIGINT);
    int status = 0, reaped = 0;
    for (int tries = 0; tries < 500 && !(reaped = waitpid(pid, &status, WNOHANG) == pid); tries++)
        test_nap_ms(10);
    if (!reaped) {   /* bounded: it would have been killed by now */
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(reaped && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    close(in[1]);
    CHECK(no_temp_files(d) && !exists(at(d, "out")));
    free(ct);
}

static void cli_denied(void)
{
    char d[512], *before;
    const char *ct, *act;
    if (fixture() != 0)
        return;
    mkcase(d, "denied");
    ct = seal(d, "proto.fkex", "not for eve\n", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct)
        return;
    CHECK(spit(at(d, "p"), "armored\n", 8) == 0);
    act = at(d, "proto.asc");
    EXPECT(FX(at(d, "p"), act, "encrypt", "-a", "--mpk", mpk_a, "--policy", PROTO), 0);
    before = listing(d);

    EXPECT(FX(NULL, NULL, "decrypt", "--key", eve, "-o", at(d, "out"), ct), 1);
    CHECK(says("do not satisfy the policy"));
    CHECK(strstr(err_text, PROTO) != NULL);
    CHECK(unchanged(d, before));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", eve, ct), 1);
    CHECK(says("do not satisfy the policy"));
    CHECK(out_len == 0);
    EXPECT(FX(act, NULL, "decrypt", "--key", eve, "-o", at(d, "out")), 1);
    CHECK(says("do not satisfy the policy"));
    CHECK(unchanged(d, before));

    /* Each half of the policy must hold. */
    {
        char carol[512], dave[512], ka[512];
        mkcase(ka, "denied-keys");
        if (keygen(carol, ka, "carol.key", msk_a, "ONE THREE") == 0 &&
            keygen(dave, ka, "dave.key", msk_a, "THREE TWO") == 0) {
            EXPECT(FX(NULL, NULL, "decrypt", "--key", carol, "-o", at(d, "out"), ct), 1);
            CHECK(says("do not satisfy the policy"));
            CHECK(unchanged(d, before));
            EXPECT(FX(NULL, NULL, "decrypt", "--key", dave, ct), 0);
            CHECK(strcmp(out_text, "not for eve\n") == 0);
        } else {
            CHECK(0);
        }
    }
    free(before);
}

static void policy_error(const char *d, const char *policy, size_t column, const char *message)
{
    char want[64], caret[512];
    int bad = test_case_failed;
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", policy, "-o", at(d, "out.fkex"),
              at(d, "p")), 2);
    CHECK(says("policy: "));
    CHECK(strncmp(err_text, "fkex: error: policy: ", 21) == 0);
    snprintf(want, sizeof want, "at column %zu\n", column);
    CHECK(strstr(err_text, want) != NULL);
    CHECK(strstr(err_text, message) != NULL);
    /* The policy, then a caret under the column, both indented 4. */
    snprintf(caret, sizeof caret, "\n    %s\n    %*s^\n", policy, (int)column - 1, "");
    CHECK(strstr(err_text, caret) != NULL);
    CHECK(!exists(at(d, "out.fkex")));
    if (test_case_failed != bad)
        fprintf(stderr, "    (policy \"%s\": %s", policy, err_text);
}

static void cli_policy_syntax(void)
{
    char d[512], *before;
    if (fixture() != 0)
        return;
    mkcase(d, "policy");
    CHECK(spit(at(d, "p"), "x", 1) == 0);
    before = listing(d);
    policy_error(d, "(ONE or THREE) and (TWO or", 27, "unexpected end of policy");
    policy_error(d, "ONE and and TWO", 9, "unexpected 'and'");
    policy_error(d, "ONE TWO", 5, "expected 'and' or 'or'");
    policy_error(d, ")", 1, "unexpected ')'");
    policy_error(d, "ONE and (TWO", 13, "expected ')'");
    policy_error(d, "year = 5", 6, "'=' is not an operator");
    policy_error(d, "year >= x", 9, "expected a number");
    /* --valid-at does not move the column. */
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE and and TWO", "--valid-at",
              "2026-12", "-o", at(d, "out.fkex"), at(d, "p")), 2);
    CHECK(says("policy: ") && strstr(err_text, "at column 9\n"));
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "--valid-at", "2026-13",
              "-o", at(d, "out.fkex"), at(d, "p")), 2);
    CHECK(says("--valid-at: '2026-13' is not a month"));
    CHECK(unchanged(d, before));
    free(before);
}

static void cli_wrong_authority(void)
{
    char d[512], *before;
    const char *ct;
    if (fixture() != 0)
        return;
    mkcase(d, "authority");
    ct = seal(d, "proto.fkex", "authority a\n", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct)
        return;
    CHECK(strcmp(fp_a, fp_b) != 0);
    before = listing(d);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", mallory, "-o", at(d, "out"), ct), 1);
    CHECK(says("comes from authority"));
    CHECK(strstr(err_text, fp_a) != NULL && strstr(err_text, fp_b) != NULL);
    CHECK(strstr(err_text, "fkex: hint: ") != NULL);
    CHECK(unchanged(d, before));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", mallory, ct), 1);
    CHECK(out_len == 0);

    /* And the other way round, encrypting to B's parameters. */
    CHECK(spit(at(d, "p"), "authority b\n", 12) == 0);
    EXPECT(FX(at(d, "p"), at(d, "b.fkex"), "encrypt", "--mpk", mpk_b, "--policy", "ONE"), 0);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, at(d, "b.fkex")), 1);
    CHECK(says("comes from authority"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", mallory, at(d, "b.fkex")), 0);
    CHECK(strcmp(out_text, "authority b\n") == 0);
    free(before);
}

typedef struct {
    const char *bad, *out;    /* the tampered file; where decrypt writes */
    size_t tried, wrong_code, left_behind;
    double start;
} tamper;

/* Runs decrypt on t->bad and checks it failed with nothing left behind. */
static void tamper_try(tamper *t, size_t where, int strict, const char *what)
{
    int rc = FX(NULL, NULL, "decrypt", "--key", alice, "-o", t->out, t->bad);
    t->tried++;
    if (rc == 0 || rc < 0 || (strict && rc != 1) || (!strict && rc != 1 && rc != 2)) {
        if (t->wrong_code++ < 8)
            fprintf(stderr, "    %s %zu: exit %d; %s", what, where, rc, err_text);
    }
    if (exists(t->out)) {
        if (t->left_behind++ < 8)
            fprintf(stderr, "    %s %zu: %s was left behind\n", what, where, t->out);
        unlink(t->out);
    }
}

/* The next offset of a sample: each of the first 16 and the last 20, and
 * about 40 between. Every offset is tests/test_file.c's, in process: here
 * the sample checks what the command makes of the library's answers. */
static size_t tamper_next(size_t i, size_t n)
{
    size_t step = n / 40 ? n / 40 : 1;
    if (i < 16 || i + 1 + 20 >= n)
        return i + 1;
    return i + step > n - 20 ? n - 20 : i + step;
}

static void cli_tamper_bytes(void)
{
    char d[512], *before;
    const char *ct;
    uint8_t *orig, *buf;
    size_t len;
    tamper t = { 0 };
    if (fixture() != 0)
        return;
    mkcase(d, "tamper-bytes");
    ct = seal(d, "x.fkex", "x", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct || !(orig = slurp(ct, &len)))
        return;
    buf = malloc(len + 4096 + 1);
    t.bad = at(d, "t.fkex");
    t.out = at(d, "out");
    CHECK(copy_file(t.bad, ct) == 0);
    before = listing(d);

    /* A sample of the bytes, every bit inverted. Past the first 8 bytes
     * (magic, version, kind, scheme, curve), the answer must be
     * "tampered": 1. */
    t.start = now();
    for (size_t i = 0; i < len; i = tamper_next(i, len)) {
        memcpy(buf, orig, len);
        buf[i] ^= 0xff;
        CHECK(spit(t.bad, buf, len) == 0);
        tamper_try(&t, i, i >= 8, "byte");
    }
    fprintf(stderr, "    flipped %zu of %zu bytes in %.1f s\n", t.tried, len, now() - t.start);
    CHECK(t.wrong_code == 0);
    CHECK(t.left_behind == 0);
    t.wrong_code = t.left_behind = 0;

    /* Single low bits in the last 100 bytes (every tenth), and tampering
     * seen on stdout. */
    for (size_t i = len - 100; i < len; i += 10) {
        memcpy(buf, orig, len);
        buf[i] ^= 0x01;
        CHECK(spit(t.bad, buf, len) == 0);
        tamper_try(&t, i, 1, "bit");
    }
    for (size_t i = len - 17; i < len; i += 4) {
        memcpy(buf, orig, len);
        buf[i] ^= 0x80;
        CHECK(spit(t.bad, buf, len) == 0);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, t.bad), 1);
        CHECK(out_len == 0);
    }
    CHECK(t.wrong_code == 0);
    CHECK(t.left_behind == 0);
    CHECK(unchanged(d, before));
    t.wrong_code = t.left_behind = 0;

    /* Appended junk: one byte, a tag's worth, a block, a second copy. */
    {
        static const size_t extra[] = { 1, 17, 4096 };
        uint8_t *junk = random_bytes(4096, "cli junk");
        for (size_t i = 0; i < FKEX_ARRAY_LEN(extra); i++) {
            memcpy(buf, orig, len);
            memcpy(buf + len, junk, extra[i]);
            CHECK(spit(t.bad, buf, len + extra[i]) == 0);
            tamper_try(&t, len + extra[i], 1, "appended, length");
        }
        free(junk);
        buf = realloc(buf, 2 * len);
        memcpy(buf, orig, len);
        memcpy(buf + len, orig, len);
        CHECK(spit(t.bad, buf, 2 * len) == 0);
        tamper_try(&t, 2 * len, 1, "doubled, length");
    }
    CHECK(t.wrong_code == 0);
    CHECK(t.left_behind == 0);
    CHECK(unchanged(d, before));

    /* The untouched file still decrypts: the failures were the tampering. */
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, ct), 0);
    CHECK(out_len == 1 && out_text[0] == 'x');
    free(before);
    free(buf);
    free(orig);
}

static void cli_tamper_truncate(void)
{
    char d[512], *before;
    const char *ct;
    uint8_t *orig;
    size_t len;
    tamper t = { 0 };
    if (fixture() != 0)
        return;
    mkcase(d, "tamper-truncate");
    ct = seal(d, "x.fkex", "x", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct || !(orig = slurp(ct, &len)))
        return;
    t.bad = at(d, "t.fkex");
    t.out = at(d, "out");
    CHECK(copy_file(t.bad, ct) == 0);
    before = listing(d);

    /* A sample of the lengths from 0 to len - 1. Once the 8-byte prefix is
     * there the file is a cut ciphertext, which is "tampered": 1. */
    t.start = now();
    for (size_t n = 0; n < len; n = tamper_next(n, len)) {
        CHECK(spit(t.bad, orig, n) == 0);
        tamper_try(&t, n, n >= 8, "truncated to");
    }
    fprintf(stderr, "    truncated to %zu of %zu lengths in %.1f s\n", t.tried, len, now() - t.start);
    CHECK(t.wrong_code == 0);
    CHECK(t.left_behind == 0);
    CHECK(unchanged(d, before));
    free(before);
    free(orig);
}

/* Streams of several chunks: dropping, reordering and cutting chunks. */
static void cli_tamper_chunks(void)
{
    enum { CHUNK = 65536, TAG = 17, SSHEAD = 24 };
    char d[512], *before;
    const char *pt, *ct, *bad, *out;
    uint8_t *plain, *orig, *buf;
    size_t len, head;
    if (fixture() != 0)
        return;
    mkcase(d, "tamper-chunks");
    pt = at(d, "plain");
    ct = at(d, "ct.fkex");
    bad = at(d, "t.fkex");
    out = at(d, "out");

    /* Two full chunks and the empty final one. */
    plain = random_bytes(2 * CHUNK, "cli chunks");
    CHECK(spit(pt, plain, 2 * CHUNK) == 0);
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", ct, pt), 0);
    orig = slurp(ct, &len);
    CHECK(orig && len > 2 * (CHUNK + TAG) + TAG + SSHEAD);
    if (!orig)
        return;
    head = len - 2 * (CHUNK + TAG) - TAG;   /* object and stream header */
    buf = malloc(len + CHUNK + TAG);
    CHECK(copy_file(bad, ct) == 0);
    before = listing(d);

#define BAD_FILE(n, why)                                                         \
    do {                                                                         \
        CHECK(spit(bad, buf, (n)) == 0);                                         \
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, bad), 1);    \
        if (exists(out))                                                         \
            fprintf(stderr, "    %s: output left behind\n", why);               \
        CHECK(unchanged(d, before));                                             \
    } while (0)

    /* Cut at each chunk boundary: no final tag. */
    memcpy(buf, orig, len);
    BAD_FILE(len - TAG, "without the final chunk");
    BAD_FILE(len - TAG - CHUNK - TAG, "with only the first chunk");
    BAD_FILE(head, "with no chunk");
    /* The first chunk dropped, or repeated. */
    memcpy(buf, orig, head);
    memcpy(buf + head, orig + head + CHUNK + TAG, len - head - CHUNK - TAG);
    BAD_FILE(len - CHUNK - TAG, "without the first chunk");
    memcpy(buf, orig, head + CHUNK + TAG);
    memcpy(buf + head + CHUNK + TAG, orig + head, len - head);
    BAD_FILE(len + CHUNK + TAG, "with the first chunk twice");
    /* The two full chunks swapped. */
    memcpy(buf, orig, len);
    memcpy(buf + head, orig + head + CHUNK + TAG, CHUNK + TAG);
    memcpy(buf + head + CHUNK + TAG, orig + head, CHUNK + TAG);
    BAD_FILE(len, "with the chunks swapped");
    /* One byte in the second chunk, in the final tag: the first chunk
     * authenticated, but nothing may appear. */
    memcpy(buf, orig, len);
    buf[head + CHUNK + TAG + 1000] ^= 1;
    BAD_FILE(len, "with the second chunk modified");
    memcpy(buf, orig, len);
    buf[len - 1] ^= 1;
    BAD_FILE(len, "with the final tag modified");
#undef BAD_FILE

    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, ct), 0);
    CHECK(same_bytes(out, plain, 2 * CHUNK));
    free(before);
    free(buf);
    free(orig);
    free(plain);
}

static void cli_armor_tamper(void)
{
    char d[512], *before;
    const char *ct, *bad, *out;
    char *orig, *buf, *body, *end;
    size_t len, tried = 0, wrong = 0;
    if (fixture() != 0)
        return;
    mkcase(d, "armor-tamper");
    ct = at(d, "ct.asc");
    bad = at(d, "t.asc");
    out = at(d, "out");
    CHECK(spit(at(d, "p"), "armored note\n", 13) == 0);
    EXPECT(FX(at(d, "p"), ct, "encrypt", "-a", "--mpk", mpk_a, "--policy", PROTO), 0);
    orig = (char *)slurp(ct, &len);
    if (!orig)
        return;
    buf = malloc(len + 1);
    CHECK(copy_file(bad, ct) == 0);
    before = listing(d);
    body = strchr(orig, '\n') + 1;
    end = strstr(orig, "-----END");
    CHECK(body && end && end > body);

    /* Every 5th base64 character, and each of the last 16, changed to
     * another base64 character. */
    for (char *p = body; p < end; p++) {
        size_t i = (size_t)(p - orig);
        if (*p == '\n' || *p == '=' || ((i % 5) && p < end - 16))
            continue;
        memcpy(buf, orig, len);
        buf[i] = buf[i] == 'A' ? 'B' : 'A';
        CHECK(spit(bad, buf, len) == 0);
        int rc = FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, bad);
        tried++;
        if (rc != 1 && rc != 2 && wrong++ < 5)
            fprintf(stderr, "    base64 at %zu changed: exit %d; %s", i, rc, err_text);
        CHECK(!exists(out));
    }
    CHECK(tried > 100);
    CHECK(wrong == 0);

    /* A line removed, the end missing, the kind changed. */
    {
        char *line2 = strchr(body, '\n') + 1;
        size_t l1 = (size_t)(line2 - orig), l2 = (size_t)(strchr(line2, '\n') + 1 - orig);
        memcpy(buf, orig, l1);
        memcpy(buf + l1, orig + l2, len - l2);
        CHECK(spit(bad, buf, len - (l2 - l1)) == 0);
        CHECK(FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, bad) > 0);
        CHECK(says(""));
    }
    CHECK(spit(bad, orig, (size_t)(end - orig)) == 0);
    CHECK(FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, bad) > 0);
    CHECK(says(""));
    {
        static const char key_begin[] = "-----BEGIN FKEX USER KEY-----\n";
        size_t rest = (size_t)(body - orig);
        memcpy(buf, key_begin, sizeof key_begin - 1);
        memcpy(buf + sizeof key_begin - 1, body, len - rest);
        CHECK(spit(bad, buf, sizeof key_begin - 1 + len - rest) == 0);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", out, bad), 2);
        CHECK(says("not a ciphertext"));
    }
    CHECK(unchanged(d, before));

    /* Untouched, and with CRLF line ends, it decrypts. */
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, ct), 0);
    CHECK(strcmp(out_text, "armored note\n") == 0);
    {
        char *crlf = malloc(2 * len), *q = crlf;
        for (size_t i = 0; i < len; i++) {
            if (orig[i] == '\n')
                *q++ = '\r';
            *q++ = orig[i];
        }
        CHECK(spit(at(d, "crlf.asc"), crlf, (size_t)(q - crlf)) == 0);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, at(d, "crlf.asc")), 0);
        CHECK(strcmp(out_text, "armored note\n") == 0);
        free(crlf);
    }
    free(before);
    free(buf);
    free(orig);
}

static void cli_wrong_kind(void)
{
    char d[512], *before;
    const char *ct, *act;
    if (fixture() != 0)
        return;
    mkcase(d, "kind");
    ct = seal(d, "ct.fkex", "kinds\n", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct)
        return;
    act = at(d, "ct.asc");
    CHECK(spit(at(d, "p"), "kinds\n", 6) == 0);
    EXPECT(FX(at(d, "p"), act, "encrypt", "-a", "--mpk", mpk_a, "--policy", PROTO), 0);
    CHECK(spit(at(d, "garbage"), "hello, world\n", 13) == 0);
    CHECK(spit(at(d, "empty"), "", 0) == 0);
    before = listing(d);

    EXPECT(FX(NULL, NULL, "decrypt", "--key", ct, ct), 2);
    CHECK(says("is a ciphertext, not a user key"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", act, ct), 2);
    CHECK(says("is a ciphertext, not a user key"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", mpk_a, ct), 2);
    CHECK(says("not a user key"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", msk_a, ct), 2);
    CHECK(says("is a master key, not a user key"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "garbage"), ct), 2);
    CHECK(says("is not an fkex file"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", at(d, "out"), bob), 2);
    CHECK(says("is a user key, not a ciphertext"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", at(d, "out"), at(d, "garbage")), 2);
    CHECK(says("is not an fkex file"));
    EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", at(d, "out"), at(d, "empty")), 2);
    CHECK(says("not an fkex file"));
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", ct, "--policy", "ONE", "-o", at(d, "out"),
              at(d, "p")), 2);
    CHECK(says("is a ciphertext, not public parameters"));
    /* Encrypting a directory fails and leaves nothing. */
    CHECK(mkdir(at(d, "adir"), 0755) == 0);
    free(before);
    before = listing(d);
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", at(d, "out"),
              at(d, "adir")), 2);
    CHECK(says(""));
    CHECK(unchanged(d, before));

    /* A user key carries its authority's parameters: it can encrypt. */
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", alice, "--policy", "THREE", "-o", at(d, "k.fkex"),
              at(d, "p")), 0);
    EXPECT(FX(NULL, NULL, "decrypt", "--key", bob, at(d, "k.fkex")), 0);
    CHECK(strcmp(out_text, "kinds\n") == 0);
    free(before);
}

static void cli_valid_at(void)
{
    static const struct {
        const char *month;
        int ann, alice;   /* exit codes */
    } cases[] = {
        { "2026-11", 0, 1 },
        { "2026-12", 0, 1 },
        { "2027-01", 1, 1 },
        { "1970-01", 0, 1 },
        { NULL, 0, 0 },   /* no --valid-at */
    };
    char d[512], ann[512];
    if (fixture() != 0)
        return;
    mkcase(d, "valid-at");
    join(ann, sizeof ann, d, "ann.key");
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE TWO", "--expires", "2026-12",
              "-o", ann), 0);
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        const char *ct = seal(d, "ct.fkex", "valid\n", "ONE", cases[i].month);
        CHECK(ct != NULL);
        if (!ct)
            continue;
        EXPECT(FX(NULL, NULL, "decrypt", "--key", ann, ct), cases[i].ann);
        if (cases[i].ann == 0)
            CHECK(strcmp(out_text, "valid\n") == 0);
        else
            CHECK(says("do not satisfy the policy") && out_len == 0);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, ct), cases[i].alice);
        if (cases[i].alice)
            CHECK(says("do not satisfy the policy") && out_len == 0);
        if (cases[i].month && strcmp(cases[i].month, "2026-11") == 0) {
            EXPECT(FX(NULL, NULL, "inspect", ct), 0);
            CHECK(printed("expires >= 202611"));
        }
        unlink(ct);
    }
    EXPECT(FX(NULL, NULL, "inspect", ann), 0);
    CHECK(printed("expires:    end of 2026-12"));
    CHECK(printed("attributes: ONE TWO\n"));
}

static void cli_numeric(void)
{
    static const struct {
        const char *policy;
        int rc;
    } cases[] = {
        { "year >= 5", 0 }, { "year < 6", 0 }, { "year > 5", 1 }, { "year <= 4", 1 },
        { "year == 5", 0 }, { "year >= 6", 1 }, { "year > 4 and year < 6", 0 },
        { "dept:x and year >= 5", 0 }, { "dept:y and year >= 5", 1 },
        { "2 of (year >= 5, ONE, dept:x)", 0 },
    };
    char d[512], key[512];
    if (fixture() != 0)
        return;
    mkcase(d, "numeric");
    if (keygen(key, d, "y5.key", msk_a, "year=5 dept:x") != 0) {
        CHECK(0);
        return;
    }
    for (size_t i = 0; i < FKEX_ARRAY_LEN(cases); i++) {
        const char *ct = seal(d, "ct.fkex", "numbers\n", cases[i].policy, NULL);
        CHECK(ct != NULL);
        if (!ct)
            continue;
        EXPECT(FX(NULL, NULL, "decrypt", "--key", key, ct), cases[i].rc);
        if (cases[i].rc == 0)
            CHECK(strcmp(out_text, "numbers\n") == 0);
        else
            CHECK(says("do not satisfy the policy"));
        unlink(ct);
    }
}

static void cli_inspect(void)
{
    char d[512], want[128], ann[512];
    const char *ct, *akey;
    char *armored;
    if (fixture() != 0)
        return;
    mkcase(d, "inspect");
    ct = seal(d, "ct.fkex", "inspect me\n", PROTO, NULL);
    CHECK(ct != NULL);
    if (!ct)
        return;
    snprintf(want, sizeof want, "authority:  %s\n", fp_a);

    EXPECT(FX(NULL, NULL, "inspect", ct), 0);
    CHECK(printed("kind:       ciphertext\n"));
    CHECK(printed("policy:     " PROTO "\n"));
    CHECK(printed(want));
    CHECK(strstr(out_text, "inspect me") == NULL);
    /* Armored, on stdin. */
    CHECK(spit(at(d, "p"), "inspect me\n", 11) == 0);
    EXPECT(FX(at(d, "p"), at(d, "ct.asc"), "encrypt", "-a", "--mpk", mpk_a, "--policy", PROTO), 0);
    EXPECT(FX(at(d, "ct.asc"), NULL, "inspect"), 0);
    CHECK(printed("kind:       ciphertext\n"));
    CHECK(printed("policy:     " PROTO "\n"));
    CHECK(printed(want));
    EXPECT(FX(NULL, NULL, "inspect", at(d, "ct.asc")), 0);
    CHECK(printed("policy:     " PROTO "\n"));

    /* Keys: attributes and expiry, never the secret. */
    join(ann, sizeof ann, d, "ann.key");
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE TWO dept:x year=5", "--expires",
              "2026-12", "-o", ann), 0);
    EXPECT(FX(NULL, NULL, "inspect", ann), 0);
    CHECK(printed("kind:       user key\n"));
    CHECK(printed(want));
    CHECK(printed("ONE") && printed("TWO") && printed("dept:x") && printed("year=5"));
    CHECK(printed("expires:    end of 2026-12\n"));
    CHECK(longest_encoded_run(out_text) < 32);
    EXPECT(FX(NULL, NULL, "inspect", alice), 0);
    CHECK(printed("attributes: ONE TWO\n"));
    CHECK(printed("expires:    never"));
    CHECK(longest_encoded_run(out_text) < 32);
    /* a label edited in the file (TWO into TWP): not reported as TWP */
    {
        size_t klen = 0;
        uint8_t *k = slurp(alice, &klen);
        for (size_t i = 0; k && i + 3 <= klen; i++)
            if (memcmp(k + i, "TWO", 3) == 0) {
                k[i + 2] = 'P';
                break;
            }
        CHECK(k && spit(at(d, "edited.key"), k, klen) == 0);
        chmod(at(d, "edited.key"), 0600);
        free(k);
        EXPECT(FX(NULL, NULL, "inspect", at(d, "edited.key")), 1);
        CHECK(says("its attribute labels do not match its key parts"));
        CHECK(strstr(out_text, "TWP") == NULL);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", at(d, "edited.key"), ct), 2);
        CHECK(says("its attribute labels do not match its key parts"));
    }

    akey = at(d, "alice.asc");
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--attrs", "ONE TWO", "-a", "-o", akey), 0);
    armored = (char *)slurp(akey, NULL);
    CHECK(armored != NULL);
    EXPECT(FX(NULL, NULL, "inspect", akey), 0);
    CHECK(printed("kind:       user key\n"));
    CHECK(longest_encoded_run(out_text) < 32);
    if (armored) {
        /* No line of the armored key's body appears in what was printed. */
        char *line = strchr(armored, '\n') + 1, *nl;
        size_t lines = 0;
        for (; (nl = strchr(line, '\n')) != NULL && strncmp(line, "-----END", 8) != 0; line = nl + 1) {
            *nl = '\0';
            if (strlen(line) >= 16) {
                lines++;
                CHECK(strstr(out_text, line) == NULL);
                CHECK(strstr(err_text, line) == NULL);
            }
        }
        CHECK(lines > 10);
    }
    free(armored);
    EXPECT(FX(akey, NULL, "inspect", "-"), 0);
    CHECK(printed("kind:       user key\n"));
    CHECK(longest_encoded_run(out_text) < 32);

    EXPECT(FX(NULL, NULL, "inspect", msk_a), 0);
    CHECK(printed("kind:       master key\n"));
    CHECK(printed("not shown"));
    CHECK(printed(want));
    CHECK(longest_encoded_run(out_text) < 32);
    EXPECT(FX(NULL, NULL, "inspect", mpk_a), 0);
    CHECK(printed("kind:       public parameters\n"));
    CHECK(printed(want));

    /* Not an fkex file. */
    CHECK(spit(at(d, "garbage"), "hello\n", 6) == 0);
    EXPECT(FX(NULL, NULL, "inspect", at(d, "garbage")), 2);
    CHECK(says("is not an fkex file"));
    EXPECT(FX(NULL, NULL, "inspect", at(d, "missing")), 2);
    CHECK(says("cannot open"));
}

static void cli_input_kept(void)
{
    char d[512], *before;
    const char *in, *ct;
    static const char text[] = "precious input\n";
    if (fixture() != 0)
        return;
    mkcase(d, "input");
    in = at(d, "in.txt");
    CHECK(spit(in, text, sizeof text - 1) == 0);
    CHECK(link(in, at(d, "hard.txt")) == 0);
    CHECK(symlink("in.txt", at(d, "soft.txt")) == 0);
    before = listing(d);

    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", in, in), 2);
    CHECK(says("is the input"));
    CHECK(same_bytes(in, text, sizeof text - 1));
    CHECK(unchanged(d, before));
    /* Other names for the same file. */
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", at(d, "./in.txt"), in), 2);
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", at(d, "hard.txt"), in), 2);
    EXPECT(FX(NULL, NULL, "encrypt", "--mpk", mpk_a, "--policy", "ONE", "-o", at(d, "soft.txt"), in), 2);
    CHECK(same_bytes(in, text, sizeof text - 1));
    CHECK(unchanged(d, before));

    /* Nor does decrypt write over the ciphertext it reads. */
    ct = seal(d, "ct.fkex", text, "ONE", NULL);
    CHECK(ct != NULL);
    if (ct) {
        size_t n;
        uint8_t *c0 = slurp(ct, &n);
        free(before);
        before = listing(d);
        EXPECT(FX(NULL, NULL, "decrypt", "--key", alice, "-o", ct, ct), 2);
        CHECK(says("is the input"));
        CHECK(c0 && same_bytes(ct, c0, n));
        CHECK(unchanged(d, before));
        free(c0);
    }
    free(before);
}

/* `fkex bench gke`: a test of function, not of speed. Every protocol and
 * event reports its roles with positive figures; usage errors exit 2. */
static void cli_bench_gke(void)
{
    static const char *const protos[] = { "ratchet", "ratchet-w11", "seed", "gdh2", "bd" };
    static const char *const events[] = { "join", "leave", "update" };
    static const char *const roles[] = { "joiner", "sponsor", "member", "room" };
    /* Which roles each (protocol, event) must report at n = 3 (an Update
     * is the ratchet's only). */
    static const char *const want[5][3] = {
        { "joiner sponsor member room", "sponsor member room", "sponsor member room" },
        { "joiner sponsor member room", "sponsor member room", "sponsor member room" },
        { "joiner member room", "sponsor member room", "" },
        { "joiner member room", "sponsor member room", "" },
        { "joiner member room", "member room", "" },
    };
    int seen[5][3][4] = { { { 0 } } }, rows = 0, bad = 0;
    const char *p;

    EXPECT(FX(NULL, NULL, "bench", "gke", "--json", "--members", "3,2"), 0);
    CHECK(out_text && strncmp(out_text, "{\"pairing_ms\": ", 15) == 0);
    CHECK(out_text && atof(out_text + 15) > 0);
    for (p = out_text ? strstr(out_text, "{\"protocol\"") : NULL; p;
         p = strstr(p + 1, "{\"protocol\"")) {
        char proto[16], event[16], role[16], extra[8];
        size_t n;
        double ms, pe, bytes;
        int pi = -1, ei = -1, ri = -1;
        if (sscanf(p, "{\"protocol\": \"%15[^\"]\", \"event\": \"%15[^\"]\", \"n\": %zu, "
                      "\"role\": \"%15[^\"]\", \"median_ms\": %lf, \"pe\": %lf, \"bytes\": %lf, "
                      "\"extrapolated\": %7[a-z]",
                   proto, event, &n, role, &ms, &pe, &bytes, extra) != 8) {
            bad++;
            continue;
        }
        for (int i = 0; i < 5; i++)
            pi = strcmp(proto, protos[i]) == 0 ? i : pi;
        for (int i = 0; i < 4; i++)
            ri = strcmp(role, roles[i]) == 0 ? i : ri;
        for (int i = 0; i < 3; i++)
            ei = strcmp(event, events[i]) == 0 ? i : ei;
        if (pi < 0 || ei < 0 || ri < 0 || (n != 2 && n != 3) || !(ms > 0) || !(pe > 0) ||
            bytes < 0 || strcmp(extra, "false") != 0) {
            bad++;
            continue;
        }
        if (n == 3)
            seen[pi][ei][ri]++;
        rows++;
    }
    CHECK(bad == 0);
    CHECK(rows > 0);
    for (int i = 0; i < 5; i++)
        for (int e = 0; e < 3; e++)
            for (int r = 0; r < 4; r++) {
                int wanted = strstr(want[i][e], roles[r]) != NULL;
                if ((seen[i][e][r] == 1) != wanted) {
                    fprintf(stderr, "    %s %s n=3: role %s seen %d times\n", protos[i],
                            events[e], roles[r], seen[i][e][r]);
                    CHECK(!"roles as documented");
                }
            }
    CHECK(out_text && strstr(out_text, "\"relay_bytes\": ") != NULL);

    EXPECT(FX(NULL, NULL, "bench", "gke", "--help"), 0);
    CHECK(printed("usage: fkex bench"));
    CHECK(printed("COMMITTER"));
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", "2,x"), 2);
    CHECK(says("bad --members"));
    CHECK(strstr(err_text, "fkex: hint: ") != NULL);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", "1"), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", "2,,3"), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", ""), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", "-5"), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members", "99999999999999999999999"), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--members"), 2);
    EXPECT(FX(NULL, NULL, "bench", "gke", "--frobnicate"), 2);
    CHECK(says("unexpected argument '--frobnicate'"));
    EXPECT(FX(NULL, NULL, "bench", "abe", "--members", "2"), 2);
    CHECK(out_len == 0);
}

/* `fkex bench abe`: a test of function, not of speed. Both schemes report
 * every operation, the sizes and the six group operations, with positive
 * figures; a size it does not run exits 2. */
static void cli_bench_abe(void)
{
    static const char *const schemes[] = { "fame", "waters11" };
    static const char *const ops[] = { "keygen", "encrypt", "encrypt_new",
                                       "decode", "decrypt", "decrypt_cca" };
    static const char *const groups[] = { "hash_g1", "g1_mul", "g1_fixed",
                                          "g1_add", "g2_fixed", "gt_fixed" };
    int seen[2][6] = { { 0 } }, seen_group[6] = { 0 }, bad = 0;
    const char *p;

    EXPECT(FX(NULL, NULL, "bench", "abe", "--json", "--size", "1"), 0);
    CHECK(out_text && strncmp(out_text, "{\"build\": \"native\", \"pairing_ms\": ", 34) == 0);
    CHECK(out_text && atof(out_text + 34) > 0);
    for (p = out_text ? strstr(out_text, "{\"scheme\"") : NULL; p; p = strstr(p + 1, "{\"scheme\"")) {
        char scheme[16], op[16];
        size_t n;
        double ms, pe;
        int si = -1, oi = -1;
        if (sscanf(p, "{\"scheme\": \"%15[^\"]\", \"op\": \"%15[^\"]\", \"n\": %zu, "
                      "\"median_ms\": %lf, \"pe\": %lf}", scheme, op, &n, &ms, &pe) != 5)
            continue;   /* a size */
        for (int i = 0; i < 2; i++)
            si = strcmp(scheme, schemes[i]) == 0 ? i : si;
        for (int i = 0; i < 6; i++)
            oi = strcmp(op, ops[i]) == 0 ? i : oi;
        if (si < 0 || oi < 0 || n != 1 || !(ms > 0) || !(pe > 0))
            bad++;
        else
            seen[si][oi]++;
    }
    for (p = out_text ? strstr(out_text, "{\"op\"") : NULL; p; p = strstr(p + 1, "{\"op\"")) {
        char op[16];
        double us, pe;
        int gi = -1;
        if (sscanf(p, "{\"op\": \"%15[^\"]\", \"us\": %lf, \"pe\": %lf}", op, &us, &pe) != 3) {
            bad++;
            continue;
        }
        for (int i = 0; i < 6; i++)
            gi = strcmp(op, groups[i]) == 0 ? i : gi;
        if (gi < 0 || !(us > 0) || !(pe > 0))
            bad++;
        else
            seen_group[gi]++;
    }
    CHECK(bad == 0);
    for (int i = 0; i < 6; i++) {
        CHECK(seen[0][i] == 1 && seen[1][i] == 1);
        CHECK(seen_group[i] == 1);
    }
    CHECK(out_text && strstr(out_text, "{\"scheme\": \"fame\", \"what\": \"ciphertext\", \"n\": 1, "
                                       "\"bytes\": ") != NULL);

    EXPECT(FX(NULL, NULL, "bench", "abe", "--size", "7"), 2);
    CHECK(strstr(err_text, "fkex: hint: ") != NULL);
    CHECK(out_len == 0);
}

/* fkex room: create, invite, set-policy. The invitation pins the room id
 * H("fkex v1 room" || admin key || name); files are never overwritten; the
 * admin key is 0600 and refused when others can read it. */
static void cli_room(void)
{
    char d[512], invite[200];
    mkcase(d, "room");
    const char *r = at(d, "lab");
    EXPECT(FX(NULL, NULL, "room", "create", "lab", "--policy", "(ONE or THREE) and (TWO or FOUR)",
              "--relay", "127.0.0.1:1", "--dir", r), 0);   /* port 1: nothing listens */
    CHECK(printed("fkex://127.0.0.1:1/"));
    CHECK(out_text && strlen(out_text) == strlen("fkex://127.0.0.1:1/") + 64 + 1);
    snprintf(invite, sizeof invite, "%s", out_text ? out_text : "");
    CHECK(mode_of(at(r, "admin.key")) == 0600);
    CHECK(exists(at(r, "descriptor.1")) && exists(at(r, "relay")));

    /* The room id is the hash of the admin key and the name. */
    size_t len;
    uint8_t *armored = slurp(at(r, "descriptor.1"), &len), *desc = NULL;
    char kind[FKEX_ARMOR_KIND_MAX + 1];
    size_t dlen = 0;
    fkex_rmsg_descriptor m;
    CHECK(armored && fkex_armor_decode(&desc, &dlen, kind, armored, len) == FKEX_OK);
    if (desc) {
        uint8_t id[32];
        char hex[65];
        CHECK(strcmp(kind, "ROOM DESCRIPTOR") == 0);
        CHECK_OK(fkex_rmsg_descriptor_decode(&m, desc, dlen));
        fkex_room_id(id, m.admin_pk, m.name, m.namelen);
        sodium_bin2hex(hex, sizeof hex, id, 32);
        CHECK(strstr(invite, hex) != NULL);
        CHECK(m.version == 1 && m.policylen == strlen("(ONE or THREE) and (TWO or FOUR)"));
        fkex_rmsg_descriptor chk;
        CHECK_OK(fkex_room_descriptor_check(&chk, id, desc, dlen));
    }
    free(armored);
    free(desc);

    EXPECT(FX(NULL, NULL, "room", "invite", "--dir", r), 0);
    CHECK(out_text && strcmp(out_text, invite) == 0);

    /* A new policy is the next signed version; the invitation stays. With
     * no relay to take it, it is written and the user is told to publish
     * it later (the chat end-to-end tests cover a relay taking it). */
    EXPECT(FX(NULL, NULL, "room", "set-policy", "--dir", r, "--policy", "ONE and TWO"), 2);
    CHECK(says("cannot reach the relay") && says("fkex room publish --dir"));
    CHECK(exists(at(r, "descriptor.2")));
    EXPECT(FX(NULL, NULL, "room", "publish", "--dir", r), 2);
    CHECK(says("cannot reach the relay"));
    EXPECT(FX(NULL, NULL, "room", "invite", "--dir", r), 0);
    CHECK(out_text && strcmp(out_text, invite) == 0);

    /* Refusals: an existing room, a bad policy (with its column), a bad
     * address, a missing name, an exposed admin key, an empty directory. */
    EXPECT(FX(NULL, NULL, "room", "create", "lab", "--policy", "ONE", "--relay", "127.0.0.1:1", "--dir", r),
           2);
    CHECK(says("already holds a room"));
    EXPECT(FX(NULL, NULL, "room", "create", "x", "--policy", "ONE and (", "--relay", "127.0.0.1:1", "--dir",
              at(d, "x")), 2);
    CHECK(says("column"));
    EXPECT(FX(NULL, NULL, "room", "create", "x", "--policy", "ONE", "--relay", "nohost", "--dir",
              at(d, "x")), 2);
    CHECK(says("not a relay address"));
    EXPECT(FX(NULL, NULL, "room", "create", "x", "--policy", "ONE", "--relay", "localhost:7710",
              "--dir", at(d, "x")), 2);   /* names are not resolved */
    CHECK(says("not a relay address"));
    EXPECT(FX(NULL, NULL, "room", "create", "--policy", "ONE", "--relay", "127.0.0.1:1", "--dir",
              at(d, "x")), 2);
    CHECK(says("NAME"));
    CHECK(chmod(at(r, "admin.key"), 0644) == 0);
    EXPECT(FX(NULL, NULL, "room", "set-policy", "--dir", r, "--policy", "TWO"), 2);
    CHECK(says("readable by others"));
    CHECK(!exists(at(r, "descriptor.3")));
    EXPECT(FX(NULL, NULL, "room", "invite", "--dir", d), 2);
    CHECK(says("holds no room"));
    EXPECT(FX(NULL, NULL, "room", "frobnicate"), 2);
    EXPECT(FX(NULL, NULL, "room", "create", "--help"), 0);
    CHECK(printed("usage: fkex room create"));
}

/* fkex keygen --identity, fkex ibe encrypt/decrypt, and inspect on them. */
static void cli_ibe(void)
{
    char d[512], carol[512], dan[512], pt[512], ct[512], act[512], *before;
    size_t len;
    uint8_t *bytes;
    if (fixture() != 0)
        return;
    mkcase(d, "ibe");
    join(carol, sizeof carol, d, "carol.key");
    join(dan, sizeof dan, d, "dan.key");
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--identity", "  Carol@Example.ORG ", "--attrs",
              "ONE", "-o", carol), 0);
    CHECK(mode_of(carol) == 0600);
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--identity", "dan@example.org", "-o", dan), 0);
    EXPECT(FX(NULL, NULL, "inspect", carol), 0);
    CHECK(printed("identity:   carol@example.org"));
    CHECK(printed("attributes: ONE"));
    EXPECT(FX(NULL, NULL, "inspect", mpk_a), 0);
    CHECK(printed("identities: yes"));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "--identity", "a\tb", "-o", at(d, "bad.key")), 2);
    CHECK(says("is not an identity"));
    CHECK(!exists(at(d, "bad.key")));
    EXPECT(FX(NULL, NULL, "keygen", "--msk", msk_a, "-o", at(d, "bad.key")), 2);
    CHECK(says("missing --attrs or --identity"));

    join(pt, sizeof pt, d, "plain");
    CHECK(spit(pt, "for carol only\n", 15) == 0);
    join(ct, sizeof ct, d, "m.fkex");
    EXPECT(FX(pt, NULL, "ibe", "encrypt", "--mpk", mpk_a, "--to", "CAROL@example.org", "-o", ct), 0);
    EXPECT(FX(NULL, NULL, "inspect", ct), 0);
    CHECK(printed("bf01") && printed("identity:   carol@example.org"));
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", carol, ct), 0);
    CHECK(strcmp(out_text, "for carol only\n") == 0);
    /* Armored, through pipes, with a user key standing in for the parameters. */
    join(act, sizeof act, d, "m.asc");
    EXPECT(FX(pt, act, "ibe", "encrypt", "-a", "--mpk", dan, "--to", "carol@example.org"), 0);
    EXPECT(FX(act, NULL, "ibe", "decrypt", "--key", carol), 0);
    CHECK(strcmp(out_text, "for carol only\n") == 0);

    /* Refusals: another identity, no identity, another authority. */
    before = listing(d);
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", dan, "-o", at(d, "out"), ct), 1);
    CHECK(says("was encrypted to carol@example.org; this key is for dan@example.org"));
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", alice, "-o", at(d, "out"), ct), 1);
    CHECK(says("this key has no identity"));
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", mallory, "-o", at(d, "out"), ct), 1);
    CHECK(says("from authority"));
    CHECK(unchanged(d, before));
    /* The other tool says which one to use. */
    EXPECT(FX(NULL, NULL, "decrypt", "--key", carol, ct), 2);
    CHECK(says("encrypted to an identity"));
    CHECK(strstr(err_text, "fkex ibe decrypt") != NULL);
    {
        const char *abe = seal(d, "abe.fkex", "policy\n", "ONE", NULL);
        CHECK(abe != NULL);
        if (abe) {
            EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", carol, abe), 2);
            CHECK(says("encrypted under a policy"));
            EXPECT(FX(NULL, NULL, "decrypt", "--key", carol, abe), 0);   /* carol has ONE */
        }
    }
    /* Every byte of the encapsulation flipped: exit 1, nothing written. */
    bytes = slurp(ct, &len);
    CHECK(bytes != NULL && len > 191);
    for (size_t i = 8; bytes && i < 191; i += 7) {
        bytes[i] ^= 0x04;
        CHECK(spit(at(d, "t.fkex"), bytes, len) == 0);
        EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--key", carol, "-o", at(d, "t.out"),
                  at(d, "t.fkex")), 1);
        CHECK(!exists(at(d, "t.out")));
        unlink(at(d, "t.fkex"));
        bytes[i] ^= 0x04;
    }
    free(bytes);
    /* Usage. */
    EXPECT(FX(NULL, NULL, "ibe", "encrypt", "--mpk", mpk_a, "--to", "", "-o", at(d, "x")), 2);
    CHECK(says("is not an identity"));
    EXPECT(FX(NULL, NULL, "ibe", "encrypt", "--mpk", mpk_a), 2);
    CHECK(says("missing --to"));
    EXPECT(FX(NULL, NULL, "ibe", "frob"), 2);
    CHECK(says("unknown ibe command"));
    EXPECT(FX(NULL, NULL, "ibe", "--help"), 0);
    CHECK(printed("usage: fkex ibe encrypt"));
    EXPECT(FX(NULL, NULL, "ibe", "encrypt", "--help"), 0);
    CHECK(printed("usage: fkex ibe encrypt"));
    EXPECT(FX(NULL, NULL, "ibe", "decrypt", "--help"), 0);
    CHECK(printed("usage: fkex ibe decrypt"));
    /* Parameters from before IBE are read, and refused with a reason. */
    {
        fkex_rng rng;
        fkex_mpk *mpk;
        fkex_msk *msk;
        uint8_t *b;
        size_t blen;
        fkex_rng_init_system(&rng);
        CHECK_OK(fkex_abe_setup(&mpk, &msk, "waters11", &rng));
        CHECK_OK(fkex_mpk_encode(&b, &blen, mpk));
        CHECK(spit(at(d, "old-mpk.fkex"), b, blen) == 0);
        fkex_bytes_free(b, blen);
        CHECK_OK(fkex_msk_encode(&b, &blen, msk));
        CHECK(spit(at(d, "old-msk.fkex"), b, blen) == 0);
        chmod(at(d, "old-msk.fkex"), 0600);
        fkex_bytes_free(b, blen);
        fkex_mpk_free(mpk);
        fkex_msk_free(msk);
        EXPECT(FX(pt, NULL, "ibe", "encrypt", "--mpk", at(d, "old-mpk.fkex"), "--to", "carol@example.org",
                  "-o", at(d, "x")), 2);
        CHECK(says("no identity-based parameters"));
        EXPECT(FX(NULL, NULL, "inspect", at(d, "old-mpk.fkex")), 0);
        CHECK(printed("identities: no"));
        EXPECT(FX(pt, NULL, "encrypt", "--mpk", at(d, "old-mpk.fkex"), "--policy", "ONE", "-o",
                  at(d, "y")), 0);
        EXPECT(FX(NULL, NULL, "keygen", "--msk", at(d, "old-msk.fkex"), "--identity", "x@y", "-o",
                  at(d, "z.key")), 2);
        CHECK(strstr(err_text, "fkex: hint: ") != NULL);
        CHECK(!exists(at(d, "z.key")));
    }
    free(before);
}

void suite_cli(void)
{
    double start = now();
    mode_t mask = umask(022);
    bin = getenv("FKEX_BIN");
    if (!bin || !bin[0])
        bin = "./fkex";
    join(root, sizeof root, test_tmpdir(), "cli");
    join(io_out, sizeof io_out, root, "stdout");
    join(io_err, sizeof io_err, root, "stderr");
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        test_fail("cannot create the scratch directory", __FILE__, __LINE__);
        umask(mask);
        return;
    }
    runs = 0;
    fixture_state = 0;
    RUN(cli_binary);
    if (test_case_failed) {
        fprintf(stderr, "    cannot run %s: set FKEX_BIN to the fkex binary\n", bin);
        umask(mask);
        return;
    }
    RUN(cli_help);
    RUN(cli_setup);
    RUN(cli_keygen);
    RUN(cli_terminal);
    RUN(cli_roundtrip);
    RUN(cli_interrupted);
    RUN(cli_denied);
    RUN(cli_policy_syntax);
    RUN(cli_wrong_authority);
    RUN(cli_tamper_bytes);
    RUN(cli_tamper_truncate);
    RUN(cli_tamper_chunks);
    RUN(cli_armor_tamper);
    RUN(cli_wrong_kind);
    RUN(cli_valid_at);
    RUN(cli_numeric);
    RUN(cli_ibe);
    RUN(cli_inspect);
    RUN(cli_input_kept);
    RUN(cli_bench_gke);
    RUN(cli_bench_abe);
    RUN(cli_room);
    fprintf(stderr, "    %lu runs of %s in %.1f s\n", runs, bin, now() - start);
    free(out_text);
    free(err_text);
    out_text = err_text = NULL;
    umask(mask);
}

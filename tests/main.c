/* The test runner: runs every suite (or those named on the command line). */
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"

void suite_pairing(void);
void suite_policy(void);
void suite_wire(void);
void suite_stream(void);
void suite_file(void);
void suite_abe(void);
void suite_format(void);
void suite_cli(void);
void suite_hpke(void);
void suite_seed(void);
void suite_dh(void);
void suite_ratchet(void);
void suite_ratchet_checks(void);
void suite_crypto(void);
void suite_relay(void);
void suite_net(void);
void suite_chat(void);
void suite_kms(void);
void suite_relay_daemon(void);
void suite_relay_abuse(void);
void suite_relay_seed(void);
void suite_relay_cluster(void);
void suite_chat_e2e(void);
void suite_tui(void);
void suite_ibe(void);
void suite_dm(void);
void suite_dm_e2e(void);
void suite_tree(void);
void suite_web(void);

static const struct {
    const char *name;
    void (*fn)(void);
} suites[] = {
    { "pairing", suite_pairing },
    { "policy", suite_policy },
    { "wire", suite_wire },
    { "stream", suite_stream },
    { "file", suite_file },
    { "abe", suite_abe },
    { "format", suite_format },
    { "cli", suite_cli },
    { "hpke", suite_hpke },
    { "seed", suite_seed },
    { "dh", suite_dh },
    { "ratchet", suite_ratchet },
    { "ratchet_checks", suite_ratchet_checks },
    { "crypto", suite_crypto },
    { "relay", suite_relay },
    { "net", suite_net },
    { "chat", suite_chat },
    { "kms", suite_kms },
    { "relay_daemon", suite_relay_daemon },
    { "relay_abuse", suite_relay_abuse },
    { "relay_seed", suite_relay_seed },
    { "relay_cluster", suite_relay_cluster },
    { "chat_e2e", suite_chat_e2e },
    { "tui", suite_tui },
    { "ibe", suite_ibe },
    { "dm", suite_dm },
    { "dm_e2e", suite_dm_e2e },
    { "tree", suite_tree },
    { "web", suite_web },
};

int test_case_failed;
static int passed, failed;

void test_fail(const char *what, const char *file, int line)
{
    if (test_case_failed < 5)
        fprintf(stderr, "    %s:%d: CHECK(%s) failed\n", file, line, what);
    test_case_failed++;
}

/* FKEX_TEST_CASE=a,b runs only the cases of those names (for development). */
static int wanted_case(const char *name)
{
    const char *only = getenv("FKEX_TEST_CASE");
    size_t n = strlen(name);
    if (!only || !*only)
        return 1;
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

void test_run(const char *name, void (*fn)(void))
{
    if (!wanted_case(name))
        return;
    test_case_failed = 0;
    fn();
    if (test_case_failed) {
        failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        passed++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

void test_public_dm_id(uint8_t id[32], const uint8_t fp[32], const char *lo, const char *hi)
{
    crypto_hash_sha256_state h;
    uint8_t n[2];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)"fkex v1 dm", 10);
    crypto_hash_sha256_update(&h, fp, 32);
    store16_be(n, (uint16_t)strlen(lo));
    crypto_hash_sha256_update(&h, n, 2);
    crypto_hash_sha256_update(&h, (const uint8_t *)lo, strlen(lo));
    store16_be(n, (uint16_t)strlen(hi));
    crypto_hash_sha256_update(&h, n, 2);
    crypto_hash_sha256_update(&h, (const uint8_t *)hi, strlen(hi));
    crypto_hash_sha256_final(&h, id);
}

void test_rng(fkex_rng *rng, const char *label)
{
    uint8_t seed[32];
    crypto_hash_sha256(seed, (const uint8_t *)label, strlen(label));
    fkex_rng_init_seed(rng, seed);
}

fkex_key *test_keygen(const fkex_msk *msk, const char *list, fkex_rng *rng)
{
    const char *attrs[16];
    char buf[256], *save = NULL;
    size_t n = 0;
    fkex_key *key = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        attrs[n++] = t;
    if (fkex_abe_keygen(&key, msk, attrs, n, rng) != FKEX_OK)
        return NULL;
    return key;
}

char *test_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

int test_has(const uint8_t *p, size_t n, const char *phrase)
{
    size_t k = strlen(phrase);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, phrase, k) == 0)
            return 1;
    return 0;
}

double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void test_nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int test_reap(int pid, double seconds)
{
    struct timespec ts, nap = { 0, 10 * 1000 * 1000 };
    int status;
    if (pid <= 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 > deadline) {
            fprintf(stderr, "    pid %d overstayed %.0f s: killed\n", pid, seconds);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *test_tmpdir(void)
{
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/fkex-test-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return dir;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 2;
    for (size_t i = 0; i < FKEX_ARRAY_LEN(suites); i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], suites[i].name) == 0;
        if (!wanted)
            continue;
        fprintf(stderr, "== %s\n", suites[i].name);
        suites[i].fn();
    }
    if (failed && getenv("FKEX_TEST_KEEP")) {   /* the daemons' logs, to read */
        fprintf(stderr, "kept %s\n", test_tmpdir());
    } else if (test_tmpdir()[0]) {
        char cmd[96];
        snprintf(cmd, sizeof cmd, "rm -rf %s", test_tmpdir());
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", test_tmpdir());
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/*
 * tests/outside/seal_open.c: a program outside the tree, built against the
 * installed headers and library with pkg-config alone
 * (scripts/install-test.sh). It makes an authority and keys, seals a file
 * under a policy and one to an identity, opens both, and checks that a key
 * which does not satisfy the policy is refused. Exit 0 when all of that
 * holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fkex/fkex.h>

typedef struct {
    const uint8_t *p;
    size_t len, off;
} memory_in;

typedef struct {
    uint8_t p[1 << 16];
    size_t len;
} memory_out;

static fkex_err read_memory(fkex_source *s, uint8_t *buf, size_t cap, size_t *got)
{
    memory_in *m = s->ctx;
    size_t n = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    return FKEX_OK;
}

static fkex_err write_memory(fkex_sink *s, const uint8_t *buf, size_t len)
{
    memory_out *m = s->ctx;
    if (len > sizeof m->p - m->len)
        return FKEX_ERR_IO;
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return FKEX_OK;
}

static int failed(const char *what, fkex_err err)
{
    fprintf(stderr, "seal_open: %s: %s\n", what, fkex_strerror(err));
    return 1;
}

/* Opens sealed with key into out. */
static fkex_err open_with(memory_out *out, const memory_out *sealed, const fkex_key *key)
{
    memory_in in = { sealed->p, sealed->len, 0 };
    fkex_source src = { read_memory, &in };
    fkex_sink sink = { write_memory, out };
    fkex_file *f;
    fkex_err err = fkex_file_open(&f, &src, NULL);
    if (err != FKEX_OK)
        return err;
    if ((err = fkex_file_unlock(f, key)) == FKEX_OK)
        err = fkex_file_decrypt(f, &sink);
    fkex_file_free(f);
    return err;
}

int main(void)
{
    static const char text[] = "a note for the second years of telematics\n";
    const char *alice_attrs[] = { "dept:telematics", "year=2" };
    const char *bob_attrs[] = { "dept:law" };
    fkex_mpk *abe_only, *mpk;
    fkex_msk *msk;
    fkex_key *alice, *bob;
    fkex_policy *policy;
    fkex_policy_error perr;
    fkex_rng rng;
    memory_out sealed = { { 0 }, 0 }, to_alice = { { 0 }, 0 }, plain = { { 0 }, 0 };
    fkex_err err;

    if ((err = fkex_init()) != FKEX_OK)
        return failed("fkex_init", err);
    printf("libfkex %s\n", fkex_version());
    fkex_rng_init_system(&rng);
    if ((err = fkex_abe_setup(&abe_only, &msk, FKEX_ABE_DEFAULT_SCHEME, &rng)) != FKEX_OK)
        return failed("setup", err);
    if ((err = fkex_ibe_setup(&mpk, msk, &rng)) != FKEX_OK)
        return failed("ibe setup", err);
    if ((err = fkex_abe_keygen(&alice, msk, alice_attrs, 2, &rng)) != FKEX_OK ||
        (err = fkex_ibe_keygen(alice, msk, "alice@example.org")) != FKEX_OK ||
        (err = fkex_abe_keygen(&bob, msk, bob_attrs, 1, &rng)) != FKEX_OK)
        return failed("keygen", err);
    if ((err = fkex_policy_parse(&policy, "dept:telematics and year >= 2", 29, &perr)) != FKEX_OK)
        return failed(perr.message, err);

    memory_in in = { (const uint8_t *)text, sizeof text - 1, 0 };
    fkex_source src = { read_memory, &in };
    fkex_sink sink = { write_memory, &sealed };
    if ((err = fkex_file_seal_policy(&sink, &src, mpk, policy, 1, &rng)) != FKEX_OK)
        return failed("seal under a policy", err);
    if ((err = open_with(&plain, &sealed, alice)) != FKEX_OK)
        return failed("alice opens", err);
    if (plain.len != sizeof text - 1 || memcmp(plain.p, text, plain.len) != 0)
        return failed("alice reads another text", FKEX_ERR_AUTHENTICATION);
    plain.len = 0;
    if ((err = open_with(&plain, &sealed, bob)) != FKEX_ERR_POLICY_UNSATISFIED || plain.len)
        return failed("bob is not refused", err);

    in.off = 0;
    sink.ctx = &to_alice;
    if ((err = fkex_file_seal_identity(&sink, &src, mpk, "Alice@Example.org", 0, &rng)) != FKEX_OK)
        return failed("seal to an identity", err);
    if ((err = open_with(&plain, &to_alice, alice)) != FKEX_OK || plain.len != sizeof text - 1)
        return failed("alice opens hers", err);
    if ((err = open_with(&plain, &to_alice, bob)) != FKEX_ERR_WRONG_IDENTITY)
        return failed("bob opens alice's", err);

    fkex_policy_free(policy);
    fkex_key_free(alice);
    fkex_key_free(bob);
    fkex_mpk_free(abe_only);
    fkex_mpk_free(mpk);
    fkex_msk_free(msk);
    printf("sealed and opened: %zu bytes armored under a policy, %zu to an identity\n",
           sealed.len, to_alice.len);
    return 0;
}

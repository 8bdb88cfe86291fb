/*
 * chat/seed_client.c: one member's session in a seed-mode room (gke/seed.h:
 * the 2014 prototype's protocol, kept for comparison, NOT secure), the
 * class chat_seed_class behind chat/client.h's API: chat_client_start
 * picks it for CHAT_MODE_SEED (FKEX_ERR_UNSUPPORTED for a founder's
 * descriptor that is not a seed-mode room's), so the --batch front end and
 * the terminal interface work unchanged. The relay link (chat/link.c)
 * carries everything; gke/seed.h decides, and this file feeds it the
 * room's messages, seals and opens the chat lines, and reports events.
 *
 * What it does, as the prototype's members did:
 *   - a founder creates the room at the relay (CREATE_ROOM), then joins it
 *     like anyone; a joiner fetches the descriptor and checks it against
 *     the invitation's room id and its mode;
 *   - joining is one ABE encapsulation under the room's policy, sent under
 *     a fresh per-session Ed25519 key V that authenticates the relay
 *     session (HELLO, NONCE, AUTH) and nothing else: the protocol has no
 *     signatures. Before sending it, the client decapsulates its own
 *     encapsulation: a key that cannot (the attributes do not satisfy the
 *     policy) is refused at once with policy_unsatisfied, exit 1, instead
 *     of leaving a ghost entry in the room;
 *   - every KeySet costs n decapsulations and gives the epoch key K; the
 *     lowest index rekeys after a Leave;
 *   - messages are XChaCha20-Poly1305 under K, unsigned (gke/seed.h); the
 *     previous epoch's K is kept 10 s for late messages, then wiped; a
 *     nonce seen already (a SUBMIT sent again after a reconnection) is
 *     dropped;
 *   - leave sends a Leave for its own index; the relay's Leave ends the
 *     session (LEFT, exit 0). A member removed while away (past the
 *     relay's grace) learns it from its replay: LEFT, exit 1;
 *   - a dropped connection is dialled again, as in ratchet mode (the
 *     relay link, chat/link.h, does both modes' connection).
 * Members are known by index only; the `leaf` front ends see is a
 * pseudonym, SHA-256("fkex v1 seed member" || room id || u32 index).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"
#include "chat/link.h"
#include "chat/client.h"

#define SEEN_NONCES 1024           /* message nonces remembered, against resent copies */

typedef struct {
    uint32_t index;
    char nick[CHAT_NICK_MAX + 1];
} member_name;

typedef struct seed_client seed_client;

struct seed_client {
    chat_link link;              /* first: the link's callbacks are handed it; its v is this
                                  * session's key at the relay */
    uint8_t sk[64];
    fkex_policy *policy;
    fkex_seed *st;
    fkex_rng rng;
    uint8_t *join;               /* the Encapsulation, until READY */
    size_t joinlen;

    uint8_t key[32], prev_key[32];
    uint64_t epoch, prev_epoch;
    int has_prev;
    uint64_t reported_epoch;
    member_name *names;          /* the current members, by index */
    size_t nnames;
    uint8_t seen[SEEN_NONCES][FKEX_SEED_APP_NONCE];
    size_t nseen;
};

static seed_client *seed_of(chat_link *l)
{
    return (seed_client *)l;   /* the link is the first member */
}


/* A member's pseudonym: members know each other by index only. */
static void pseudonym(uint8_t out[32], const seed_client *c, uint32_t index)
{
    static const char label[] = "fkex v1 seed member";
    uint8_t buf[sizeof label - 1 + 32 + 4];
    memcpy(buf, label, sizeof label - 1);
    memcpy(buf + sizeof label - 1, c->link.cfg.room_id, 32);
    store32_be(buf + sizeof label - 1 + 32, index);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static member_name *name_of(seed_client *c, uint32_t index)
{
    for (size_t i = 0; i < c->nnames; i++)
        if (c->names[i].index == index)
            return &c->names[i];
    return NULL;
}

/* ---- the state machine's output -------------------------------------------------------- */


static void forget_previous(chat_link *l)
{
    seed_client *c = seed_of(l);
    sodium_memzero(c->prev_key, sizeof c->prev_key);
    c->has_prev = 0;
}

/* A new epoch: its key, the previous one kept a while, the names by index. */
static void new_epoch(seed_client *c, uint64_t epoch)
{
    size_t n = fkex_seed_members(c->st);
    member_name *names = calloc(n ? n : 1, sizeof *names);
    if (c->link.joined) {
        memcpy(c->prev_key, c->key, 32);
        c->prev_epoch = c->epoch;
        c->has_prev = 1;
        chat_link_forget_later(&c->link);
    }
    if (fkex_seed_key(c->key, c->st) != 0) {
        free(names);
        return;
    }
    c->epoch = epoch;
    if (!names) {
        chat_link_report(&c->link, "out_of_memory",
                         "out of memory: the member list is not up to date");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        names[i].index = fkex_seed_member(c->st, i);
        member_name *was = name_of(c, names[i].index);
        if (was)
            memcpy(names[i].nick, was->nick, sizeof was->nick);
    }
    free(c->names);
    c->names = names;
    c->nnames = n;
}

static void membership(seed_client *c, const fkex_gke_event *e)
{
    uint8_t leaf[32];
    member_name *who = name_of(c, e->member);
    chat_event ev = { .kind = e->kind == FKEX_GKE_EV_ADDED ? CHAT_EV_ADDED : CHAT_EV_REMOVED,
                      .epoch = e->epoch, .members = e->members, .member = e->member, .leaf = leaf };
    pseudonym(leaf, c, e->member);
    if (who && ev.kind == CHAT_EV_REMOVED) {
        ev.nick = who->nick;
        ev.nicklen = strlen(who->nick);
    }
    chat_link_emit(&c->link, &ev);
}

static void absorb(seed_client *c, fkex_gke_out *out)
{
    for (size_t i = 0; i < out->nmsgs && !c->link.closing; i++) {
        (void)chat_link_submit(&c->link, out->msgs[i].bytes, out->msgs[i].len);   /* a rekey */
    }
    for (size_t i = 0; i < out->nevents && !c->link.closing; i++) {
        const fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED:
            new_epoch(c, e->epoch);
            c->reported_epoch = e->epoch;
            chat_link_joined(&c->link, e->epoch, e->members);
            break;
        case FKEX_GKE_EV_EPOCH:
            if (e->epoch == c->reported_epoch)
                break;   /* the join's, said by JOINED */
            new_epoch(c, e->epoch);
            c->reported_epoch = e->epoch;
            chat_event ev = { .kind = CHAT_EV_EPOCH, .epoch = e->epoch, .members = e->members };
            chat_link_emit(&c->link, &ev);
            break;
        case FKEX_GKE_EV_ADDED:
        case FKEX_GKE_EV_REMOVED:
            if (c->link.joined)
                membership(c, e);
            break;
        case FKEX_GKE_EV_LEFT: {
            chat_event ev = { .kind = CHAT_EV_LEFT };
            c->link.joined = 0;
            if (!c->link.leaving)
                chat_link_report(&c->link, "removed", "the relay removed you from the room "
                                 "(away past its grace period)");
            chat_link_emit(&c->link, &ev);
            chat_link_finish(&c->link, c->link.leaving ? 0 : 1);
            break;
        }
        default:
            break;
        }
    }
    fkex_gke_out_clear(out);
}

/* A chat line (link.c encoded it): sealed under K, submitted, and shown. */
static void send_line(chat_link *l, const chat_content *cc, const uint8_t *content, size_t len)
{
    seed_client *c = seed_of(l);
    uint8_t *msg, leaf[32];
    size_t msglen;
    uint32_t self = fkex_seed_index(c->st);
    fkex_err err = fkex_seed_app_seal(&msg, &msglen, c->key, l->cfg.room_id, c->epoch, self,
                                      content, len, &c->rng);
    if (err != FKEX_OK) {
        chat_link_report(l, "not_sent", "not sent: %s", fkex_strerror(err));
        return;
    }
    (void)chat_link_submit(l, msg, msglen);
    free(msg);
    if (!l->closing) {
        pseudonym(leaf, c, self);
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = c->epoch, .nick = cc->nick,
                          .nicklen = cc->nicklen, .text = cc->text, .textlen = cc->textlen,
                          .sent_ms = cc->sent_ms, .member = self, .own = 1, .leaf = leaf };
        chat_link_emit(l, &ev);
    }
}

/* ---- from the relay ---------------------------------------------------------------------- */

/* 1 if this nonce was seen already (then the message is a copy). */
static int seen_before(seed_client *c, const uint8_t nonce[FKEX_SEED_APP_NONCE])
{
    size_t n = c->nseen < SEEN_NONCES ? c->nseen : SEEN_NONCES;
    for (size_t i = 0; i < n; i++)
        if (memcmp(c->seen[i], nonce, FKEX_SEED_APP_NONCE) == 0)
            return 1;
    memcpy(c->seen[c->nseen++ % SEEN_NONCES], nonce, FKEX_SEED_APP_NONCE);
    return 0;
}

static void on_application(seed_client *c, const uint8_t *msg, size_t len, uint64_t epoch)
{
    const uint8_t *key = epoch == c->epoch ? c->key
                       : c->has_prev && epoch == c->prev_epoch ? c->prev_key : NULL;
    fkex_seed_msg m;
    uint8_t *plain, leaf[32];
    size_t plainlen;
    chat_content cc;
    if (!c->link.joined || !key ||
        fkex_seed_app_open(&plain, &plainlen, &m, key, c->link.cfg.room_id, msg, len) != FKEX_OK)
        return;   /* not ours to read, or not for an epoch we hold */
    if (m.index != fkex_seed_index(c->st) && !seen_before(c, m.nonce) &&
        chat_content_decode(&cc, plain, plainlen) == FKEX_OK) {
        member_name *who = name_of(c, m.index);
        if (who && cc.nicklen <= CHAT_NICK_MAX) {
            memcpy(who->nick, cc.nick, cc.nicklen);
            who->nick[cc.nicklen] = 0;
        }
        pseudonym(leaf, c, m.index);
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = m.epoch, .nick = cc.nick,
                          .nicklen = cc.nicklen, .text = cc.text, .textlen = cc.textlen,
                          .sent_ms = cc.sent_ms, .member = m.index, .leaf = leaf };
        chat_link_emit(&c->link, &ev);
    }
    sodium_memzero(plain, plainlen);
    free(plain);
    fkex_seed_msg_clear(&m);
}

static void on_deliver(chat_link *l, const uint8_t *msg, size_t len)
{
    seed_client *c = seed_of(l);
    fkex_gke_out out;
    uint8_t type, room[32];
    uint64_t epoch;
    if (!c->st || fkex_seed_msg_peek(&type, room, &epoch, msg, len) != FKEX_OK)
        return;
    if (type == FKEX_SEED_MSG_APP) {
        on_application(c, msg, len, epoch);
        return;
    }
    fkex_gke_out_init(&out);
    fkex_err err = fkex_seed_receive(c->st, msg, len, &c->rng, &out);
    if (err == FKEX_OK) {
        absorb(c, &out);
        return;
    }
    fkex_gke_out_clear(&out);
    if (err == FKEX_ERR_UNEXPECTED || err == FKEX_ERR_REPLAY)
        return;   /* a KeySet of somebody else's join before ours, a Leave seen already */
    if (!l->joined && err == FKEX_ERR_POLICY_UNSATISFIED)
        chat_link_fail(l, 1, "policy_unsatisfied", "your key cannot open the room's KeySet: your "
                                                   "attributes do not satisfy its policy");
    else
        chat_link_fail(l, 2, "keyset_refused", "cannot follow the room: %s (seed mode accepts "
                                               "whatever entries the relay sends; see fkex(1))",
                       fkex_strerror(err));
}

static void on_refused(chat_link *l, uint64_t seq, uint16_t code, const char *text)
{
    (void)seq;
    if (!l->joined)
        chat_link_fail(l, 2, "join_refused", "the relay refused our request to join: %s", text);
    else if (code != FKEX_RELAY_E_STALE)   /* a rekey overtaken by another epoch */
        chat_link_report(l, "refused", "the relay refused a message: %s", text);
}

/* The join: one encapsulation under the room's policy, which this key
 * must be able to open itself (else it joins as a ghost nobody needs). */
static void start_join(seed_client *c)
{
    fkex_rmsg_descriptor d;
    fkex_gke_out out;
    fkex_seed_msg m;
    uint8_t k[32];
    fkex_err err;
    if (fkex_rmsg_descriptor_decode(&d, c->link.desc, c->link.desclen) != FKEX_OK ||
        fkex_policy_parse(&c->policy, (const char *)d.policy, d.policylen, NULL) != FKEX_OK) {
        chat_link_fail(&c->link, 2, "bad_descriptor", "the room's policy does not parse");
        return;
    }
    fkex_gke_out_init(&out);
    if ((err = fkex_seed_join(&c->st, c->link.cfg.room_id, c->policy, c->link.cfg.key, &c->rng,
                              &out)) != FKEX_OK ||
        (err = fkex_seed_msg_decode(&m, out.msgs[0].bytes, out.msgs[0].len)) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        chat_link_fail(&c->link, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    err = fkex_abe_decap(k, c->link.cfg.key, m.ct, FKEX_ABE_CCA);
    sodium_memzero(k, sizeof k);
    fkex_seed_msg_clear(&m);
    if (err != FKEX_OK) {
        fkex_gke_out_clear(&out);
        if (err == FKEX_ERR_POLICY_UNSATISFIED)
            chat_link_fail(&c->link, 1, "policy_unsatisfied",
                           "your key's attributes do not satisfy this room's policy: %.*s",
                           (int)d.policylen, (const char *)d.policy);
        else
            chat_link_fail(&c->link, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    c->join = out.msgs[0].bytes;
    c->joinlen = out.msgs[0].len;
    out.msgs[0].bytes = NULL;
    fkex_gke_out_clear(&out);
    chat_link_hello(&c->link);
}

/* The founder's room is created; the founder joins it like anyone. */
static void created(chat_link *l)
{
    if (seed_of(l)->st)   /* CREATE_ROOM again, through the next relay: the join is made */
        chat_link_hello(l);
    else
        start_join(seed_of(l));
}

static void join(chat_link *l, const fkex_rmsg_descriptor *d)
{
    (void)d;   /* start_join reads l->desc, as a founder's */
    start_join(seed_of(l));
}

/* AUTH: this session's key signs the relay's nonce. */
static int auth_sign(chat_link *l, uint8_t sig[64], const uint8_t nonce[32])
{
    seed_client *c = seed_of(l);
    return fkex_relay_auth_sign(sig, c->sk, l->cfg.room_id, nonce, l->v) == FKEX_OK ? 0 : -1;
}

static void on_ready(chat_link *l)
{
    seed_client *c = seed_of(l);
    if (!c->join)
        return;
    (void)chat_link_submit(l, c->join, c->joinlen);
    free(c->join);
    c->join = NULL;
    chat_link_await(l, l->cfg.join_timeout_ms);
}

static const chat_link_ops seed_ops = {
    .seed_mode = 1,
    .wrong_mode = "this room runs the ratchet, not seed mode: join it without --mode seed",
    .join_late = "the relay sent no KeySet with our entry", .join_late_hint = "",
    .leave_late = "the relay did not announce our leave",
    .created = created, .join = join, .auth_sign = auth_sign, .ready = on_ready,
    .deliver = on_deliver, .refused = on_refused, .send = send_line, .forget = forget_previous,
};

/* ---- the front end's calls ------------------------------------------------------------------ */

static void seed_free(void *impl);

static fkex_err seed_start(void **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    seed_client *c;
    fkex_rmsg_descriptor d;
    fkex_err e;
    *out = NULL;
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    /* A founder's descriptor must be a seed-mode room's. */
    if ((e = chat_link_init(&c->link, loop, cfg, &seed_ops)) == FKEX_OK && c->link.founder &&
        (fkex_rmsg_descriptor_decode(&d, c->link.desc, c->link.desclen) != FKEX_OK ||
         !(d.options & FKEX_ROOM_SEED_MODE)))
        e = FKEX_ERR_UNSUPPORTED;
    if (e == FKEX_OK) {
        fkex_rng_init_system(&c->rng);
        crypto_sign_keypair(c->link.v, c->sk);   /* this session's key at the relay */
        e = chat_link_start(&c->link);
    }
    if (e != FKEX_OK) {
        seed_free(c);
        return e;
    }
    *out = c;
    return FKEX_OK;
}

static void seed_send(void *impl, const char *text, size_t len)
{
    seed_client *c = impl;
    chat_link_text(&c->link, text, len);
}

static void seed_leave(void *impl)
{
    seed_client *c = impl;
    uint8_t *msg;
    size_t len;
    if (!chat_link_may_leave(&c->link))
        return;
    if (fkex_seed_leave_encode(&msg, &len, c->link.cfg.room_id, c->epoch, fkex_seed_index(c->st)) !=
        FKEX_OK) {
        chat_link_fail(&c->link, 2, "leave_failed", "could not ask to leave: out of memory");
        return;
    }
    chat_link_leaving(&c->link);
    (void)chat_link_submit(&c->link, msg, len);
    free(msg);
}

static void seed_quit(void *impl)
{
    seed_client *c = impl;
    chat_link_quit(&c->link);
}

static void seed_end(void *impl)
{
    seed_client *c = impl;
    chat_link_finish(&c->link, 2);
}

static int seed_joined(const void *impl)
{
    const seed_client *c = impl;
    return c->link.joined;
}

static fkex_err seed_set_nick(void *impl, const char *nick)
{
    seed_client *c = impl;
    return chat_link_set_nick(&c->link, nick);
}

static size_t seed_backlog(const void *impl)
{
    const seed_client *c = impl;
    return chat_link_backlog(&c->link);
}

static void seed_status(chat_status *s, const void *impl)
{
    const seed_client *c = impl;
    chat_link_status(s, &c->link, c->st != NULL);
    if (s->state == CHAT_ONLINE) {
        s->epoch = c->epoch;
        s->members = (uint32_t)c->nnames;
        for (size_t i = 0; i < c->nnames; i++)   /* the status shows a position, as in ratchet */
            if (c->names[i].index == fkex_seed_index(c->st))
                s->index = (uint32_t)i;
    }
}

static int seed_member(chat_member *m, const void *impl, uint32_t index)
{
    const seed_client *c = impl;
    if (!c->link.joined || index >= c->nnames)
        return -1;
    pseudonym(m->leaf, c, c->names[index].index);
    chat_fingerprint(m->pseudonym, m->leaf);
    m->own = c->names[index].index == fkex_seed_index(c->st);
    m->nick = m->own ? c->link.nick : c->names[index].nick;
    return 0;
}

static void seed_free(void *impl)
{
    seed_client *c = impl;
    if (!c)
        return;
    fkex_seed_free(c->st);
    fkex_policy_free(c->policy);
    free(c->join);
    free(c->names);
    chat_link_clear(&c->link);
    sodium_memzero(c, sizeof *c);
    free(c);
}

const chat_client_class chat_seed_class = {
    .start = seed_start, .send = seed_send, .backlog = seed_backlog, .leave = seed_leave,
    .quit = seed_quit, .end = seed_end, .joined = seed_joined, .set_nick = seed_set_nick, .status = seed_status,
    .member = seed_member, .free = seed_free,
};

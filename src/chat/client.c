/*
 * chat/client.c: one member's session (chat/client.h). A single relay
 * connection carries everything; the ratchet state machine decides, and
 * this file moves its messages and reports its events.
 *
 * Session: connect; a founder sends CREATE_ROOM (the admin's signature
 * naming its leaf V) then HELLO; a joiner sends GET_DESCRIPTOR, checks the
 * DESCRIPTOR against the invitation's room id, builds its JoinRequest and
 * sends HELLO with the request's V. NONCE is answered by AUTH, and after
 * READY every room message goes out as SUBMIT and comes in as DELIVER.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "inner.h"
#include "chat/chat.h"
#include "chat/client.h"
#include "chat/seed_client.h"
#include "chat/dm_client.h"
#include "chat/session.h"
#include "net/net.h"
#include "wire/relay_msg.h"

#define QUIT_DRAIN_MS 5000u       /* quit waits this long for ACCEPTED of what was sent */
#define FORGET_PREVIOUS_MS 10000u /* late messages of the previous epoch are read this long */
#define MAX_UNANSWERED 4096       /* SUBMITs kept until the relay answers them */
#define RETRY_FIRST_MS 200u       /* reconnecting: the first wait, doubled each time ... */
#define RETRY_MAX_MS 5000u        /* ... up to this */
#define TICK_MS 1000u             /* housekeeping: Updates */
#define UPDATE_AFTER_SENT 1000u   /* an Update after this many messages sent, too */
#define ACK_TIMEOUT_MS 15000u     /* a JoinAck owed longer than this: the member is removed */

/* A SUBMIT the relay has not answered yet: sent again after a reconnection,
 * since the relay may have lost it (or its answer). A copy the relay did
 * store is harmless: members refuse what they have read already. */
typedef struct {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
} unanswered;

/* A member as front ends see it: its V and the last nickname on its messages. */
typedef struct {
    uint8_t v[32];
    char nick[CHAT_NICK_MAX + 1];
} roster_entry;

/* The roster of one epoch, by index. */
typedef struct {
    roster_entry *e;
    uint32_t n;
    uint64_t epoch;
} roster_view;

struct chat_client {
    seed_client *seed;          /* a seed-mode session (CHAT_MODE_SEED): every call goes there */
    dm_client *dm;              /* a direct conversation (cfg.dm_peer): every call goes there */
    uv_loop_t *loop;
    chat_client_config cfg;
    char addr[300];
    char nick[CHAT_NICK_MAX + 1];
    uint8_t admin_sk[64];
    uint8_t *desc;              /* founder: the descriptor; joiner: the relay's, once checked */
    size_t desclen;
    int founder;

    fkex_conn *conn;
    fkex_rng rng;
    fkex_ratchet *st;
    uint8_t v[32];
    fkex_gke_out held;          /* the JoinRequest, until READY */

    uint64_t next_cseq, last_seq;
    unanswered *unacked;        /* SUBMITs not yet answered, oldest first */
    size_t nunacked, unackedcap;
    uint64_t commit_cseq;
    uint64_t reported_epoch;
    int ready, joined, leaving, quitting;
    int want_commit, commit_inflight;

    chat_texts texts;           /* sent before the member has joined */

    /* Nicknames are kept by V, not by index: a removal moves the last leaf
     * into the freed slot. The previous epoch's view names the senders of
     * late messages and the members a commit removes. */
    roster_view cur, prev;

    uv_timer_t deadline;        /* connect, join, leave, quit: one at a time */
    uv_timer_t forget;
    /* A member whose connection drops dials again (backing off) until the
     * relay answers or reconnect_ms has passed since the drop. */
    uv_timer_t retry;
    int reconnecting;
    unsigned retry_ms;
    uint64_t lost_at;
    /* Updates (PROTOCOL.md: on a timer, and after N messages): a commit
     * replacing this member's X_i, for post-compromise security. */
    uv_timer_t tick;
    uint64_t updated_at;        /* uv_now of the last Update accepted (or of the join) */
    uint64_t sent_since_update;
    uint64_t update_cseq;       /* the SUBMIT carrying our Update, 0 if none in flight */
    /* Acks (PROTOCOL.md: a missing JoinAck within the timeout leads any
     * member to commit Remove): since when this epoch has owed some. */
    uint64_t acks_owed_since;
    /* A new descriptor from the admin, through the relay, for this member
     * to commit (a policy change forces a re-attestation). */
    uint8_t *new_desc;
    size_t new_desclen;
    int closing, open_handles, exit_code, done;
};

/* ---- invitations ---------------------------------------------------------------- */

fkex_err chat_invite_parse(char addr[300], uint8_t room_id[32], const char *invite)
{
    static const char scheme[] = "fkex://";
    size_t bin;
    const char *end;
    if (!invite || strncmp(invite, scheme, sizeof scheme - 1) != 0)
        return FKEX_ERR_ARGUMENT;
    const char *host = invite + sizeof scheme - 1, *slash = strrchr(host, '/');
    if (!slash || slash == host || (size_t)(slash - host) >= 300 || strlen(slash + 1) != 64)
        return FKEX_ERR_ARGUMENT;
    if (sodium_hex2bin(room_id, 32, slash + 1, 64, NULL, &bin, &end) != 0 || bin != 32 || *end)
        return FKEX_ERR_ARGUMENT;
    memcpy(addr, host, (size_t)(slash - host));
    addr[slash - host] = 0;
    const char *colon = strrchr(addr, ':');
    char *pend;
    long port = colon ? strtol(colon + 1, &pend, 10) : 0;
    if (!colon || colon == addr || !colon[1] || *pend || port < 1 || port > 65535 ||
        strpbrk(addr, " \t@/"))
        return FKEX_ERR_ARGUMENT;
    return FKEX_OK;
}

/* ---- events and the end --------------------------------------------------------------- */

static void emit(chat_client *c, const chat_event *ev)
{
    if (c->cfg.on_event)
        c->cfg.on_event(c->cfg.ctx, ev);
}

static void handle_closed(chat_client *c)
{
    if (--c->open_handles == 0 && !c->done) {
        chat_event ev = { .kind = CHAT_EV_DONE, .exit_code = c->exit_code };
        c->done = 1;
        emit(c, &ev);
    }
}

static void timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Ends the session: every handle is closed, then DONE. */
static void finish(chat_client *c, int exit_code)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->exit_code = exit_code;
    c->open_handles = 4;
    uv_timer_stop(&c->deadline);
    uv_timer_stop(&c->forget);
    uv_timer_stop(&c->retry);
    uv_timer_stop(&c->tick);
    if (c->conn) {
        c->open_handles++;
        fkex_conn_close(c->conn, "session over");
    }
    uv_close((uv_handle_t *)&c->deadline, timer_closed);
    uv_close((uv_handle_t *)&c->forget, timer_closed);
    uv_close((uv_handle_t *)&c->retry, timer_closed);
    uv_close((uv_handle_t *)&c->tick, timer_closed);
}

static void report(chat_client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(chat_client *c, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chat_report(&c->cfg, code, fmt, ap);
    va_end(ap);
}

#define FAIL(c, exit_code, code, ...) do { report(c, code, __VA_ARGS__); finish(c, exit_code); } while (0)

/* ---- to the relay ---------------------------------------------------------------------- */

static void send_envelope(chat_client *c, const fkex_relay_msg *m)
{
    if (!c->closing && c->conn && chat_send_envelope(c->conn, m) != FKEX_OK)
        FAIL(c, 2, "out_of_memory", "out of memory");
}

static void send_submit(chat_client *c, const unanswered *u)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_SUBMIT };
    memcpy(m.room_id, c->cfg.room_id, 32);
    m.seq = u->seq;
    m.data = u->bytes;
    m.datalen = u->len;
    send_envelope(c, &m);
}

/* Sends msg (a copy is kept until the relay answers). While reconnecting it
 * is only kept: READY sends it. */
static void submit(chat_client *c, const uint8_t *msg, size_t len)
{
    fkex_rmsg_type type;
    uint8_t room[32];
    unanswered *u;
    if (c->nunacked == c->unackedcap) {
        size_t cap = c->unackedcap ? 2 * c->unackedcap : 16;
        unanswered *grown = cap <= MAX_UNANSWERED ? realloc(c->unacked, cap * sizeof *grown) : NULL;
        if (!grown) {
            report(c, "not_sent", "not sent: the relay has not answered %zu messages", c->nunacked);
            return;
        }
        c->unacked = grown;
        c->unackedcap = cap;
    }
    u = &c->unacked[c->nunacked];
    if ((u->bytes = malloc(len ? len : 1)) == NULL) {
        report(c, "not_sent", "not sent: out of memory");
        return;
    }
    memcpy(u->bytes, msg, len);
    u->len = len;
    u->seq = ++c->next_cseq;
    c->nunacked++;
    if (fkex_rmsg_peek(&type, room, msg, len) == FKEX_OK && type == FKEX_RMSG_COMMIT) {
        c->commit_inflight = 1;
        c->commit_cseq = u->seq;
    }
    if (!c->reconnecting)
        send_submit(c, u);
}

/* The relay answered SUBMIT seq (ACCEPTED or ERROR): it and anything older
 * is settled (the relay answers in order). */
static void answered(chat_client *c, uint64_t seq)
{
    size_t k = 0;
    if (c->update_cseq && seq >= c->update_cseq)
        c->update_cseq = 0;   /* accepted (it won) or refused: settled either way */
    while (k < c->nunacked && c->unacked[k].seq <= seq)
        free(c->unacked[k++].bytes);
    if (k == 0)
        return;   /* (and unacked may be NULL, which memmove may not be given) */
    memmove(c->unacked, c->unacked + k, (c->nunacked - k) * sizeof *c->unacked);
    c->nunacked -= k;
}

static void hello(chat_client *c)
{
    fkex_relay_msg m = { .kind = FKEX_RELAY_HELLO, .has_leaf = 1 };
    memcpy(m.room_id, c->cfg.room_id, 32);
    memcpy(m.leaf, c->v, 32);
    m.seq = c->last_seq;
    send_envelope(c, &m);
}

/* ---- the state machine's output ------------------------------------------------------------ */

static void send_text(chat_client *c, const char *text, size_t len);
static void propose_leave(chat_client *c);
static void descriptor_changed(chat_client *c, uint64_t epoch);

/* ---- the roster front ends see ---------------------------------------------------- */

static void roster_view_free(roster_view *r)
{
    if (r->e) {
        sodium_memzero(r->e, r->n * sizeof *r->e);
        free(r->e);
    }
    memset(r, 0, sizeof *r);
}

static int by_leaf(const void *a, const void *b)
{
    return memcmp((*(const roster_entry *const *)a)->v, (*(const roster_entry *const *)b)->v, 32);
}

/* The entry of `v` in r, through `sorted` (r's entries ordered by V). */
static roster_entry *roster_find(roster_entry **sorted, uint32_t n, const uint8_t v[32])
{
    roster_entry key, *k = &key;
    memcpy(key.v, v, 32);
    roster_entry **hit = n ? bsearch(&k, sorted, n, sizeof *sorted, by_leaf) : NULL;
    return hit ? *hit : NULL;
}

/* After a new epoch: the current roster from the state machine, each
 * member keeping the nickname seen before. O(n log n). */
static void roster_refresh(chat_client *c)
{
    uint32_t n = fkex_ratchet_members(c->st), old = c->cur.n;
    roster_view next = { .n = n, .epoch = fkex_ratchet_epoch(c->st) };
    roster_entry **sorted = old ? malloc(old * sizeof *sorted) : NULL;
    if (!(next.e = calloc(n ? n : 1, sizeof *next.e)) || (old && !sorted)) {
        free(next.e);
        free(sorted);
        report(c, "out_of_memory", "out of memory: the member list is not up to date");
        return;
    }
    for (uint32_t i = 0; i < old; i++)
        sorted[i] = &c->cur.e[i];
    if (old)   /* qsort may not be given NULL, even for no elements */
        qsort(sorted, old, sizeof *sorted, by_leaf);
    for (uint32_t i = 0; i < n; i++) {
        if (fkex_ratchet_member_key(next.e[i].v, c->st, i) != 0)
            continue;
        roster_entry *was = roster_find(sorted, old, next.e[i].v);
        if (was)
            memcpy(next.e[i].nick, was->nick, sizeof was->nick);
    }
    free(sorted);
    roster_view_free(&c->prev);
    c->prev = c->cur;
    c->cur = next;
}

/* Member `index` of `epoch`, if this client still knows that epoch. */
static roster_entry *roster_at(chat_client *c, uint64_t epoch, uint32_t index)
{
    roster_view *r = c->cur.e && c->cur.epoch == epoch ? &c->cur
                   : c->prev.e && c->prev.epoch == epoch ? &c->prev : NULL;
    return r && index < r->n ? &r->e[index] : NULL;
}

static void note_nick(roster_entry *e, const chat_content *cc)
{
    memcpy(e->nick, cc->nick, cc->nicklen);   /* at most CHAT_NICK_MAX: decoded */
    e->nick[cc->nicklen] = 0;
}

static void on_message(chat_client *c, const fkex_gke_event *e)
{
    chat_content cc;
    if (chat_content_decode(&cc, e->data, e->len) != FKEX_OK)
        return;   /* a member sent something that is not a chat message: nothing to show */
    roster_entry *from = roster_at(c, e->epoch, e->member);
    if (from)
        note_nick(from, &cc);
    /* A late message of the previous epoch names its sender there; the
     * nickname belongs to the member, wherever it sits now. O(n), rare. */
    for (uint32_t i = 0; from && e->epoch != c->cur.epoch && i < c->cur.n; i++)
        if (memcmp(c->cur.e[i].v, from->v, 32) == 0)
            note_nick(&c->cur.e[i], &cc);
    chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = e->epoch, .nick = cc.nick,
                      .nicklen = cc.nicklen, .text = cc.text, .textlen = cc.textlen,
                      .sent_ms = cc.sent_ms, .member = e->member, .leaf = from ? from->v : NULL };
    emit(c, &ev);
}

/* ADDED and REMOVED: the commit is installed, the roster views are not yet
 * (the EPOCH event that follows refreshes them). */
static void on_membership(chat_client *c, const fkex_gke_event *e)
{
    uint8_t v[32];
    chat_event ev = { .epoch = e->epoch, .members = e->members, .member = e->member };
    if (e->kind == FKEX_GKE_EV_ADDED) {
        ev.kind = CHAT_EV_ADDED;
        if (fkex_ratchet_member_key(v, c->st, e->member) == 0)
            ev.leaf = v;
    } else {
        roster_entry *gone = roster_at(c, e->epoch - 1, e->member);
        ev.kind = CHAT_EV_REMOVED;
        if (gone) {
            ev.leaf = gone->v;
            ev.nick = gone->nick;
            ev.nicklen = strlen(gone->nick);
        }
    }
    emit(c, &ev);
}

static void send_queued(void *ctx, const char *text, size_t len)
{
    send_text(ctx, text, len);
}

static void joined(chat_client *c, uint64_t epoch, uint32_t members)
{
    chat_event ev = { .kind = CHAT_EV_JOINED, .epoch = epoch, .members = members };
    c->joined = 1;
    c->updated_at = uv_now(c->loop);
    c->reported_epoch = epoch;
    roster_refresh(c);
    uv_timer_stop(&c->deadline);
    /* What was said before the join goes first, so that a front end that
     * quits on this event loses none of it. */
    chat_texts_flush(&c->texts, send_queued, c, &c->closing);
    if (!c->closing)
        emit(c, &ev);
}

static void forget_previous(uv_timer_t *t)
{
    chat_client *c = t->data;
    if (c->st && !c->closing)
        fkex_ratchet_forget_previous(c->st);
}

static void absorb(chat_client *c, fkex_gke_out *out)
{
    for (size_t i = 0; i < out->nmsgs && !c->closing; i++) {
        if (c->ready) {
            submit(c, out->msgs[i].bytes, out->msgs[i].len);
        } else if (fkex_gke_out_msg(&c->held, out->msgs[i].to, out->msgs[i].bytes,
                                    out->msgs[i].len) == FKEX_OK) {
            out->msgs[i].bytes = NULL;   /* held now owns it */
            out->msgs[i].len = 0;
        } else {
            out->msgs[i].bytes = NULL;   /* freed by the failed append */
            FAIL(c, 2, "out_of_memory", "out of memory");
        }
    }
    for (size_t i = 0; i < out->nevents && !c->closing; i++) {
        const fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED:
            c->commit_inflight = 0;
            joined(c, e->epoch, e->members);
            break;
        case FKEX_GKE_EV_EPOCH:
            c->commit_inflight = 0;
            c->acks_owed_since = 0;
            if (c->joined)
                descriptor_changed(c, e->epoch);
            uv_timer_start(&c->forget, forget_previous, FORGET_PREVIOUS_MS, 0);
            if (c->joined)
                roster_refresh(c);
            if (c->joined && e->epoch != c->reported_epoch) {
                chat_event ev = { .kind = CHAT_EV_EPOCH, .epoch = e->epoch, .members = e->members };
                c->reported_epoch = e->epoch;
                emit(c, &ev);
            }
            if (c->leaving && fkex_ratchet_is_member(c->st))
                propose_leave(c);   /* a proposal names its epoch: make it again */
            break;
        case FKEX_GKE_EV_ADMITTED:
            c->want_commit = 1;
            break;
        case FKEX_GKE_EV_MESSAGE:
            on_message(c, e);
            break;
        case FKEX_GKE_EV_ADDED:
        case FKEX_GKE_EV_REMOVED:
            if (c->joined)
                on_membership(c, e);
            break;
        case FKEX_GKE_EV_ABORTED:
            if (e->err == FKEX_ERR_POLICY_UNSATISFIED) {
                fkex_rmsg_descriptor d;
                int ok = fkex_rmsg_descriptor_decode(&d, c->desc, c->desclen) == FKEX_OK;
                FAIL(c, 1, "policy_unsatisfied",
                     "your key's attributes do not satisfy this room's policy: %.*s",
                     ok ? (int)d.policylen : 1, ok ? (const char *)d.policy : "?");
            } else if (e->err == FKEX_ERR_AUTHENTICATION) {
                FAIL(c, 1, "group_unproven",
                     "the room's members did not prove that their attributes satisfy its "
                     "policy (is someone impersonating the room?)");
            } else {
                FAIL(c, 1, "join_failed", "the join failed: %s", fkex_strerror(e->err));
            }
            break;
        case FKEX_GKE_EV_LEFT: {
            chat_event ev = { .kind = CHAT_EV_LEFT };
            int asked = c->leaving;
            c->joined = 0;
            if (e->err == FKEX_ERR_POLICY_UNSATISFIED)
                report(c, "policy_unsatisfied",
                       "your key's attributes no longer satisfy this room's policy");
            else if (!asked)
                report(c, "removed", "you were removed from the room");
            emit(c, &ev);
            finish(c, asked && e->err == FKEX_OK ? 0 : 1);
            break;
        }
        default:
            break;
        }
    }
    fkex_gke_out_clear(out);
}

static void maybe_commit(chat_client *c)
{
    fkex_gke_out out;
    if (!c->want_commit || c->commit_inflight || !c->joined || c->closing)
        return;
    c->want_commit = 0;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_commit(c->st, NULL, &c->rng, &out);
    if (err == FKEX_OK)
        absorb(c, &out);
    else if (err != FKEX_ERR_UNEXPECTED)   /* UNEXPECTED: nothing left to commit */
        report(c, "commit_failed", "could not commit: %s", fkex_strerror(err));
    fkex_gke_out_clear(&out);
}

/* An Update when one is due, unless a commit of ours is under way (a lost
 * one leaves it due, for the next tick). It carries whatever else is
 * pending too. */
static void maybe_update(chat_client *c)
{
    fkex_gke_out out;
    fkex_commit_options opt = { .update = 1 };
    uint64_t now = uv_now(c->loop);
    if (!c->joined || c->closing || c->leaving || c->reconnecting || c->commit_inflight ||
        c->update_cseq || fkex_ratchet_members(c->st) < 2 ||   /* alone: nobody to lock out */
        (now - c->updated_at < c->cfg.update_interval_ms && c->sent_since_update < UPDATE_AFTER_SENT))
        return;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_commit(c->st, &opt, &c->rng, &out);
    if (err == FKEX_OK) {
        c->want_commit = 0;   /* this commit carries what was pending */
        absorb(c, &out);
        if (c->commit_inflight)
            c->update_cseq = c->commit_cseq;
    } else if (err != FKEX_ERR_UNEXPECTED) {
        report(c, "commit_failed", "could not commit an Update: %s", fkex_strerror(err));
        c->updated_at = now;   /* not again at once */
    }
    fkex_gke_out_clear(&out);
}

/* Members that owe an ack (after a join or a re-attestation) and have not
 * sent it within ACK_TIMEOUT_MS are proposed for removal, and the proposal
 * committed. Among the members that did ack, the one with the lowest index
 * acts first; each next one waits another timeout, in case those before it
 * are gone. */
static void check_acks(chat_client *c)
{
    uint32_t n, me, rank = 0, missing = 0;
    uint64_t now = uv_now(c->loop);
    if (!c->joined || c->closing || c->leaving || c->reconnecting)
        return;
    n = fkex_ratchet_members(c->st);
    me = fkex_ratchet_index(c->st);
    for (uint32_t i = 0; i < n; i++) {
        if (!fkex_ratchet_acked(c->st, i))
            missing++;
        else if (i < me)
            rank++;
    }
    if (!missing || !fkex_ratchet_acked(c->st, me)) {
        c->acks_owed_since = 0;
        return;
    }
    if (!c->acks_owed_since)
        c->acks_owed_since = now;
    if (now - c->acks_owed_since < (uint64_t)ACK_TIMEOUT_MS * (1 + rank))
        return;
    c->acks_owed_since = now;   /* the next try, if this one is lost, after another timeout */
    for (uint32_t i = 0; i < n && !c->closing; i++) {
        fkex_gke_out out;
        if (fkex_ratchet_acked(c->st, i))
            continue;
        fkex_gke_out_init(&out);
        if (fkex_ratchet_propose_remove(c->st, i, &out) == FKEX_OK) {
            absorb(c, &out);
            c->want_commit = 1;
        }
        fkex_gke_out_clear(&out);
    }
    maybe_commit(c);
}

/* Commits the admin's new descriptor, unless a commit of ours is under way
 * (then at the next tick) or the room has it already. */
static void maybe_adopt(chat_client *c)
{
    fkex_gke_out out;
    size_t curlen;
    const uint8_t *cur;
    fkex_rmsg_descriptor now, next;
    if (!c->new_desc || !c->joined || c->closing || c->commit_inflight || c->reconnecting)
        return;
    cur = fkex_ratchet_descriptor(c->st, &curlen);
    if (fkex_rmsg_descriptor_decode(&now, cur, curlen) != FKEX_OK ||
        fkex_rmsg_descriptor_decode(&next, c->new_desc, c->new_desclen) != FKEX_OK ||
        next.version <= now.version) {
        free(c->new_desc);   /* installed already (by us or another member), or older */
        c->new_desc = NULL;
        return;
    }
    fkex_commit_options opt = { .descriptor = c->new_desc, .descriptor_len = c->new_desclen };
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_commit(c->st, &opt, &c->rng, &out);
    if (err == FKEX_OK) {
        c->want_commit = 0;   /* this commit carries what was pending */
        absorb(c, &out);
    } else if (err != FKEX_ERR_UNEXPECTED) {
        /* Our attributes do not satisfy the new policy (a committer
         * decapsulates its own re-attestation): the relay hands it to
         * another member, whose commit makes us fall out. Anything else is
         * a descriptor that should not have come. */
        if (err != FKEX_ERR_POLICY_UNSATISFIED)
            report(c, "bad_descriptor", "the relay passed on a descriptor that cannot be "
                                        "committed: %s", fkex_strerror(err));
        free(c->new_desc);
        c->new_desc = NULL;
    }
    fkex_gke_out_clear(&out);
}

static void adopt_descriptor(chat_client *c, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        report(c, "out_of_memory", "out of memory: a policy change is not committed");
        return;
    }
    memcpy(copy, bytes, len);
    free(c->new_desc);
    c->new_desc = copy;
    c->new_desclen = len;
    maybe_adopt(c);
}

static void on_tick(uv_timer_t *t)
{
    chat_client *c = t->data;
    maybe_adopt(c);
    check_acks(c);
    maybe_update(c);
}

/* After an epoch: if its commit brought a new descriptor, it is the room's
 * now (the status line shows its policy), and the front end is told. */
static void descriptor_changed(chat_client *c, uint64_t epoch)
{
    size_t len;
    const uint8_t *cur = fkex_ratchet_descriptor(c->st, &len);
    fkex_rmsg_descriptor d;
    uint8_t *copy;
    if (!cur || (len == c->desclen && memcmp(cur, c->desc, len) == 0) || !(copy = malloc(len)))
        return;
    memcpy(copy, cur, len);
    free(c->desc);
    c->desc = copy;
    c->desclen = len;
    if (fkex_rmsg_descriptor_decode(&d, c->desc, c->desclen) == FKEX_OK) {
        chat_event ev = { .kind = CHAT_EV_POLICY, .epoch = epoch, .text = (const char *)d.policy,
                          .textlen = d.policylen };
        emit(c, &ev);
    }
}

static void propose_leave(chat_client *c)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_propose_remove(c->st, fkex_ratchet_index(c->st), &out);
    if (err == FKEX_OK)
        absorb(c, &out);
    else
        FAIL(c, 2, "leave_failed", "could not propose to leave: %s", fkex_strerror(err));
    fkex_gke_out_clear(&out);
}

static void send_text(chat_client *c, const char *text, size_t len)
{
    struct timespec ts;
    uint8_t *content = NULL;
    size_t clen = 0;
    fkex_gke_out out;
    clock_gettime(CLOCK_REALTIME, &ts);
    chat_content cc = { .nick = c->nick, .nicklen = strlen(c->nick), .text = text, .textlen = len,
                        .sent_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u };
    fkex_err err = chat_content_encode(&content, &clen, &cc);
    if (err != FKEX_OK) {
        report(c, "bad_text", "not sent: the text must be UTF-8 of at most %d bytes, without "
                              "control characters other than newlines and tabs", CHAT_TEXT_MAX);
        return;
    }
    fkex_gke_out_init(&out);
    err = fkex_ratchet_send(c->st, content, clen, &out);
    sodium_memzero(content, clen);
    free(content);
    if (err == FKEX_OK) {
        c->sent_since_update++;
        absorb(c, &out);
    } else {
        report(c, "not_sent", "not sent: %s", fkex_strerror(err));
    }
    fkex_gke_out_clear(&out);
    if (err == FKEX_OK && !c->closing) {
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = fkex_ratchet_epoch(c->st),
                          .nick = cc.nick, .nicklen = cc.nicklen, .text = text, .textlen = len,
                          .sent_ms = cc.sent_ms, .member = fkex_ratchet_index(c->st), .own = 1,
                          .leaf = c->v };
        emit(c, &ev);
    }
}

/* ---- from the relay ---------------------------------------------------------------------------- */

static void on_descriptor(chat_client *c, const fkex_relay_msg *m)
{
    fkex_rmsg_descriptor d;
    fkex_gke_out out;
    if (c->joined) {
        adopt_descriptor(c, m->data, m->datalen);
        return;
    }
    if (c->founder || c->st)
        return;
    fkex_err err = fkex_room_descriptor_check(&d, c->cfg.room_id, m->data, m->datalen);
    if (err != FKEX_OK) {
        FAIL(c, 2, "bad_descriptor",
             "the relay's descriptor is not the invitation's room (%s); the relay may be "
             "misbehaving", fkex_strerror(err));
        return;
    }
    if (d.options & FKEX_ROOM_SEED_MODE) {
        FAIL(c, 2, "wrong_mode", "this room runs seed mode, the 2014 prototype's protocol, which "
                                 "is NOT secure; join it with --mode seed only to compare");
        return;
    }
    if ((c->desc = malloc(m->datalen)) == NULL) {
        FAIL(c, 2, "out_of_memory", "out of memory");
        return;
    }
    memcpy(c->desc, m->data, m->datalen);
    c->desclen = m->datalen;
    fkex_ratchet_config cfg = { .key = c->cfg.key, .descriptor = c->desc,
                                .descriptor_len = c->desclen };
    memcpy(cfg.room_id, c->cfg.room_id, 32);
    fkex_gke_out_init(&out);
    err = fkex_ratchet_join(&c->st, &cfg, &c->rng, &out);
    if (err != FKEX_OK) {
        fkex_gke_out_clear(&out);
        if (err == FKEX_ERR_ARGUMENT && (d.options & FKEX_ROOM_REQUIRE_PERIOD))
            FAIL(c, 2, "unsupported", "this room requires a period, which the chat client "
                                      "does not support yet");
        else
            FAIL(c, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    fkex_ratchet_leaf_key(c->v, c->st);
    absorb(c, &out);    /* held until READY */
    hello(c);
}

static void on_deadline(uv_timer_t *t);

/* AUTH: the leaf key V signs the relay's nonce. */
static fkex_err relay_auth(uint8_t sig[64], const chat_client *c, const uint8_t nonce[32])
{
    return fkex_ratchet_relay_auth(sig, c->st, nonce);
}

static void on_ready(chat_client *c)
{
    if (c->reconnecting) {
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "online",
                          .message = "reconnected to the relay" };
        c->reconnecting = 0;
        c->retry_ms = 0;
        for (size_t i = 0; i < c->nunacked; i++)
            send_submit(c, &c->unacked[i]);
        emit(c, &ev);
        return;
    }
    if (c->ready)
        return;
    c->ready = 1;
    uv_timer_stop(&c->deadline);
    for (size_t i = 0; i < c->held.nmsgs && !c->closing; i++)
        submit(c, c->held.msgs[i].bytes, c->held.msgs[i].len);
    fkex_gke_out_clear(&c->held);
    if (c->closing)
        return;
    if (c->founder)
        joined(c, fkex_ratchet_epoch(c->st), fkex_ratchet_members(c->st));
    else if (!c->joined)
        uv_timer_start(&c->deadline, on_deadline, c->cfg.join_timeout_ms, 0);
}

static void on_deliver(chat_client *c, const fkex_relay_msg *m)
{
    fkex_gke_out out;
    fkex_rmsg_type type;
    uint8_t room[32];
    if (!c->st || sodium_memcmp(m->room_id, c->cfg.room_id, 32) != 0 || m->seq <= c->last_seq)
        return;   /* not ours, or seen already */
    c->last_seq = m->seq;
    fkex_gke_out_init(&out);
    /* Our own broadcasts come back too; the state machine refuses them. */
    if (fkex_ratchet_receive(c->st, m->data, m->datalen, &c->rng, &out) != FKEX_OK) {
        fkex_gke_out_clear(&out);
        return;
    }
    if (fkex_rmsg_peek(&type, room, m->data, m->datalen) == FKEX_OK && type == FKEX_RMSG_REMOVE &&
        fkex_ratchet_is_member(c->st)) {
        fkex_rmsg_remove r;
        if (fkex_rmsg_remove_decode(&r, m->data, m->datalen) == FKEX_OK) {
            /* The lowest-index other member commits it; so does the member
             * that proposed another's removal (the lowest may be gone too). */
            uint32_t committer = r.target == 0 ? 1 : 0, me = fkex_ratchet_index(c->st);
            if (me == committer || (r.proposer == me && r.target != me))
                c->want_commit = 1;
        }
    }
    absorb(c, &out);
}

static void on_relay_error(chat_client *c, const fkex_relay_msg *m)
{
    char text[FKEX_RELAY_TEXT_MAX + 1];
    chat_error_text(text, m);
    if (m->seq != 0 && m->seq <= c->next_cseq) {
        answered(c, m->seq);
        if (m->seq == c->commit_cseq && m->code == FKEX_RELAY_E_STALE)
            return;   /* another member's commit won; its epoch will come */
        if (!c->joined && !c->founder) {   /* the JoinRequest: nothing else is sent yet */
            FAIL(c, 2, "join_refused", "the relay refused our request to join: %s", text);
            return;
        }
        report(c, "refused", "the relay refused a message: %s", text);
        return;
    }
    if (c->ready) {
        report(c, "relay_error", "the relay says: %s", text);
        return;
    }
    switch (m->code) {
    case FKEX_RELAY_E_NO_ROOM:
        FAIL(c, 2, "no_room", "the relay at %s does not host this room (%s)", c->addr, text);
        break;
    case FKEX_RELAY_E_ROOM_EXISTS:
        FAIL(c, 2, "room_exists", "the relay at %s already hosts this room: join it without "
                                  "--found", c->addr);
        break;
    default:
        FAIL(c, 2, "relay_refused", "the relay at %s refused us: %s", c->addr, text);
        break;
    }
}

/* The relay names a member whose connection has been gone past its grace
 * period: propose its removal (committed as any removal is). */
static void on_gone(chat_client *c, const fkex_relay_msg *m)
{
    uint8_t v[32];
    uint32_t n;
    if (!c->joined || c->closing || c->leaving || sodium_memcmp(m->room_id, c->cfg.room_id, 32) != 0 ||
        memcmp(m->leaf, c->v, 32) == 0)
        return;   /* not ours to act on; and we are evidently here */
    n = fkex_ratchet_members(c->st);
    for (uint32_t i = 0; i < n; i++) {
        fkex_gke_out out;
        if (fkex_ratchet_member_key(v, c->st, i) != 0 || memcmp(v, m->leaf, 32) != 0)
            continue;
        fkex_gke_out_init(&out);
        if (fkex_ratchet_propose_remove(c->st, i, &out) == FKEX_OK)
            absorb(c, &out);
        fkex_gke_out_clear(&out);
        return;
    }
}

static void on_frame(fkex_conn *conn, const uint8_t *frame, size_t len)
{
    chat_client *c = fkex_conn_data(conn);
    fkex_relay_msg m, r = { 0 };
    if (c->closing)
        return;
    if (fkex_relay_msg_decode(&m, frame, len) != FKEX_OK) {
        FAIL(c, 2, "relay_error", "the relay sent a frame that does not decode");
        return;
    }
    switch (m.kind) {
    case FKEX_RELAY_NONCE:
        r.kind = FKEX_RELAY_AUTH;
        if (!c->st || relay_auth(r.sig, c, m.nonce) != FKEX_OK) {
            FAIL(c, 2, "relay_error", "cannot answer the relay's challenge");
            return;
        }
        send_envelope(c, &r);
        break;
    case FKEX_RELAY_READY:
        if (sodium_memcmp(m.room_id, c->cfg.room_id, 32) == 0)
            on_ready(c);
        break;
    case FKEX_RELAY_DESCRIPTOR:
        on_descriptor(c, &m);
        break;
    case FKEX_RELAY_GONE:
        on_gone(c, &m);
        break;
    case FKEX_RELAY_ACCEPTED:
        if (c->update_cseq && m.seq >= c->update_cseq) {   /* our Update won */
            c->updated_at = uv_now(c->loop);
            c->sent_since_update = 0;
        }
        answered(c, m.seq);
        break;
    case FKEX_RELAY_DELIVER:
        on_deliver(c, &m);
        break;
    case FKEX_RELAY_ERROR:
        on_relay_error(c, &m);
        break;
    case FKEX_RELAY_PING:
        r.kind = FKEX_RELAY_PONG;
        r.cookie = m.cookie;
        send_envelope(c, &r);
        break;
    default:
        break;
    }
    maybe_commit(c);
    if (c->quitting && c->nunacked == 0)
        finish(c, 0);
}

static fkex_err dial(chat_client *c);

static void on_retry(uv_timer_t *t)
{
    chat_client *c = t->data;
    if (!c->closing && dial(c) != FKEX_OK)
        FAIL(c, 2, "relay_lost", "cannot connect to the relay at %s again", c->addr);
}

static void on_close(fkex_conn *conn, const char *why)
{
    chat_client *c = fkex_conn_data(conn);
    c->conn = NULL;
    if (c->closing) {
        handle_closed(c);
        return;
    }
    if (!c->ready) {
        FAIL(c, 2, "relay_unreachable", "cannot reach the relay at %s: %s", c->addr, why);
        return;
    }
    if (!c->joined || c->quitting) {
        /* A joiner's admission is not resumed (it may start again); what a
         * quitting member sent and the relay did not answer may be lost. */
        FAIL(c, 2, "relay_lost", "lost the connection to the relay at %s: %s", c->addr, why);
        return;
    }
    uint64_t now = uv_now(c->loop);
    if (!c->reconnecting) {
        chat_event ev = { .kind = CHAT_EV_CONNECTION, .code = "reconnecting" };
        char msg[400];
        snprintf(msg, sizeof msg, "lost the connection to the relay at %s (%s); reconnecting",
                 c->addr, why);
        ev.message = msg;
        c->reconnecting = 1;
        c->lost_at = now;
        emit(c, &ev);
    } else if (now - c->lost_at >= c->cfg.reconnect_ms) {
        FAIL(c, 2, "relay_lost", "lost the connection to the relay at %s and could not "
                                 "reconnect within %u s: %s", c->addr, c->cfg.reconnect_ms / 1000, why);
        return;
    }
    c->retry_ms = c->retry_ms ? c->retry_ms * 2 : RETRY_FIRST_MS;
    if (c->retry_ms > RETRY_MAX_MS)
        c->retry_ms = RETRY_MAX_MS;
    uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
}

static void on_connected(fkex_conn *conn, int status)
{
    chat_client *c = fkex_conn_data(conn);
    fkex_relay_msg m = { 0 };
    if (status != 0 || c->closing)
        return;   /* the close callback reports it */
    memcpy(m.room_id, c->cfg.room_id, 32);
    if (c->reconnecting) {
        hello(c);   /* the relay replays what we missed since last_seq */
    } else if (c->founder) {
        m.kind = FKEX_RELAY_CREATE_ROOM;
        m.data = c->desc;
        m.datalen = c->desclen;
        memcpy(m.leaf, c->v, 32);
        fkex_err err = fkex_relay_create_sign(m.sig, c->admin_sk, c->cfg.room_id, c->v);
        sodium_memzero(c->admin_sk, sizeof c->admin_sk);   /* needed for this one signature */
        if (err != FKEX_OK) {
            FAIL(c, 2, "internal", "cannot sign the room's creation");
            return;
        }
        send_envelope(c, &m);
        hello(c);
    } else {
        m.kind = FKEX_RELAY_GET_DESCRIPTOR;
        send_envelope(c, &m);
    }
}

static void on_deadline(uv_timer_t *t)
{
    chat_client *c = t->data;
    if (c->closing)
        return;
    if (c->quitting)
        finish(c, 0);   /* what was not accepted by now is lost */
    else if (!c->ready)
        FAIL(c, 2, "relay_unreachable", "the relay at %s did not answer within %u s", c->addr,
             c->cfg.connect_timeout_ms / 1000);
    else if (!c->joined && !c->leaving)
        FAIL(c, 2, "join_timeout",
             "no member admitted us within %u s (is a member of the room online?)",
             c->cfg.join_timeout_ms / 1000);
    else if (c->leaving)
        FAIL(c, 2, "leave_timeout", "no member committed our leave within %u s",
             c->cfg.leave_timeout_ms / 1000);
}

/* ---- the front end's calls ---------------------------------------------------------------------- */

static fkex_err dial(chat_client *c)
{
    static const fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX + 16, 4 * FKEX_RELAY_ENVELOPE_MAX };
    char err[128];
    fkex_err e = fkex_conn_connect(&c->conn, c->loop, c->addr, &lim, on_connected, err);
    if (e == FKEX_OK)
        fkex_conn_set(c->conn, on_frame, on_close, c);
    return e;
}

fkex_err chat_client_start(chat_client **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    fkex_err e;
    chat_client *c;
    *out = NULL;
    if (cfg->mode == CHAT_MODE_SEED || cfg->dm_peer) {
        if (!(c = calloc(1, sizeof *c)))
            return FKEX_ERR_NO_MEMORY;
        e = cfg->dm_peer ? dm_client_start(&c->dm, loop, cfg) : seed_client_start(&c->seed, loop, cfg);
        if (e != FKEX_OK) {
            free(c);
            return e;
        }
        *out = c;
        return FKEX_OK;
    }
    if (cfg->mode != CHAT_MODE_RATCHET || !cfg->relay || !cfg->key || !cfg->nick || strlen(cfg->nick) > CHAT_NICK_MAX ||
        !cfg->nick[0] || !chat_utf8_ok(cfg->nick, strlen(cfg->nick), "") ||
        strlen(cfg->relay) >= sizeof c->addr || (cfg->found_descriptor && !cfg->admin_sk))
        return FKEX_ERR_ARGUMENT;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return FKEX_ERR_NO_MEMORY;
    c->loop = loop;
    c->cfg = *cfg;
    if (!c->cfg.connect_timeout_ms)
        c->cfg.connect_timeout_ms = 15000;
    if (!c->cfg.join_timeout_ms)
        c->cfg.join_timeout_ms = 60000;
    if (!c->cfg.leave_timeout_ms)
        c->cfg.leave_timeout_ms = 15000;
    if (!c->cfg.reconnect_ms)
        c->cfg.reconnect_ms = 60000;
    if (!c->cfg.update_interval_ms)
        c->cfg.update_interval_ms = 15 * 60 * 1000;
    snprintf(c->addr, sizeof c->addr, "%s", cfg->relay);
    snprintf(c->nick, sizeof c->nick, "%s", cfg->nick);
    c->cfg.relay = c->addr;
    c->cfg.nick = c->nick;
    c->cfg.found_descriptor = NULL;
    c->cfg.admin_sk = NULL;
    fkex_gke_out_init(&c->held);
    fkex_rng_init_system(&c->rng);
    if (cfg->found_descriptor) {
        c->founder = 1;
        memcpy(c->admin_sk, cfg->admin_sk, 64);
        if ((c->desc = malloc(cfg->found_descriptor_len)) == NULL) {
            chat_client_free(c);
            return FKEX_ERR_NO_MEMORY;
        }
        memcpy(c->desc, cfg->found_descriptor, cfg->found_descriptor_len);
        c->desclen = cfg->found_descriptor_len;
        fkex_ratchet_config rc = { .key = cfg->key, .descriptor = c->desc,
                                   .descriptor_len = c->desclen };
        memcpy(rc.room_id, cfg->room_id, 32);
        if ((e = fkex_ratchet_create(&c->st, &rc, &c->rng)) != FKEX_OK) {
            chat_client_free(c);
            return e;
        }
        fkex_ratchet_leaf_key(c->v, c->st);
    }
    if ((e = dial(c)) != FKEX_OK) {
        chat_client_free(c);
        return e;
    }
    uv_timer_init(loop, &c->deadline);
    uv_timer_init(loop, &c->forget);
    uv_timer_init(loop, &c->retry);
    uv_timer_init(loop, &c->tick);
    c->deadline.data = c->forget.data = c->retry.data = c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    uv_timer_start(&c->deadline, on_deadline, c->cfg.connect_timeout_ms, 0);
    *out = c;
    return FKEX_OK;
}

void chat_client_send(chat_client *c, const char *text, size_t len)
{
    if (c->seed) {
        seed_client_send(c->seed, text, len);
        return;
    }
    if (c->dm) {
        dm_client_send(c->dm, text, len);
        return;
    }
    if (c->closing || c->leaving || c->quitting)
        return;
    if (c->joined) {
        send_text(c, text, len);
        return;
    }
    if (chat_texts_add(&c->texts, text, len) != 0)
        report(c, "not_sent", "not sent: too many messages wait for the join");
}

void chat_client_leave(chat_client *c)
{
    if (c->seed) {
        seed_client_leave(c->seed);
        return;
    }
    if (c->dm) {
        dm_client_quit(c->dm);
        return;
    }
    if (c->closing || c->leaving)
        return;
    if (!c->joined) {
        finish(c, 0);   /* not in the room: nothing to leave */
        return;
    }
    if (fkex_ratchet_members(c->st) == 1) {
        /* Nobody is left to commit our removal: the room empties when the
         * relay's grace period ends. */
        chat_event ev = { .kind = CHAT_EV_LEFT };
        emit(c, &ev);
        finish(c, 0);
        return;
    }
    c->leaving = 1;
    uv_timer_start(&c->deadline, on_deadline, c->cfg.leave_timeout_ms, 0);
    propose_leave(c);
}

void chat_client_quit(chat_client *c)
{
    if (c->seed) {
        seed_client_quit(c->seed);
        return;
    }
    if (c->dm) {
        dm_client_quit(c->dm);
        return;
    }
    if (c->closing)
        return;
    c->quitting = 1;
    if (c->nunacked == 0 || !c->conn) {
        finish(c, 0);
        return;
    }
    uv_timer_start(&c->deadline, on_deadline, QUIT_DRAIN_MS, 0);
}

int chat_client_joined(const chat_client *c)
{
    if (c->seed)
        return seed_client_joined(c->seed);
    if (c->dm)
        return dm_client_joined(c->dm);
    return c->joined;
}

fkex_err chat_client_set_nick(chat_client *c, const char *nick)
{
    if (c->seed)
        return seed_client_set_nick(c->seed, nick);
    size_t len = strlen(nick);
    if (len == 0 || len > CHAT_NICK_MAX || !chat_utf8_ok(nick, len, ""))
        return FKEX_ERR_ARGUMENT;
    if (c->dm) {
        dm_client_set_nick(c->dm, nick);
        return FKEX_OK;
    }
    memcpy(c->nick, nick, len + 1);
    return FKEX_OK;
}

void chat_client_status(chat_status *s, const chat_client *c)
{
    fkex_rmsg_descriptor d;
    if (c->seed) {
        seed_client_status(s, c->seed);
        return;
    }
    if (c->dm) {
        dm_client_status(s, c->dm);
        return;
    }
    memset(s, 0, sizeof *s);
    memcpy(s->room_id, c->cfg.room_id, 32);
    if (c->closing)
        s->state = CHAT_CLOSED;
    else if (c->reconnecting)
        s->state = CHAT_RECONNECTING;
    else if (c->joined)
        s->state = CHAT_ONLINE;
    else if (c->ready || (!c->founder && c->st))   /* a joiner has the descriptor */
        s->state = CHAT_JOINING;
    else
        s->state = CHAT_CONNECTING;
    if (s->state == CHAT_ONLINE && fkex_ratchet_is_member(c->st)) {
        s->epoch = fkex_ratchet_epoch(c->st);
        s->members = fkex_ratchet_members(c->st);
        s->index = fkex_ratchet_index(c->st);
    }
    if (c->desc && fkex_rmsg_descriptor_decode(&d, c->desc, c->desclen) == FKEX_OK) {
        s->name = (const char *)d.name;
        s->namelen = d.namelen;
        s->policy = (const char *)d.policy;
        s->policylen = d.policylen;
    }
}

void chat_fingerprint(char out[CHAT_FINGERPRINT_LEN + 1], const uint8_t id[32])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 8; i++) {
        if (i && i % 2 == 0)
            out[o++] = ' ';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = 0;
}

int chat_client_member(chat_member *m, const chat_client *c, uint32_t index)
{
    if (c->seed)
        return seed_client_member(m, c->seed, index);
    if (c->dm)
        return dm_client_member(m, c->dm, index);
    if (!c->joined || !c->cur.e || index >= c->cur.n)
        return -1;
    const roster_entry *e = &c->cur.e[index];
    memcpy(m->leaf, e->v, 32);
    chat_fingerprint(m->pseudonym, e->v);
    m->own = sodium_memcmp(e->v, c->v, 32) == 0;
    m->nick = m->own ? c->nick : e->nick;
    return 0;
}

void chat_client_free(chat_client *c)
{
    if (!c)
        return;
    if (c->seed) {
        seed_client_free(c->seed);
        free(c);
        return;
    }
    if (c->dm) {
        dm_client_free(c->dm);
        free(c);
        return;
    }
    fkex_ratchet_free(c->st);
    fkex_gke_out_clear(&c->held);
    roster_view_free(&c->cur);
    roster_view_free(&c->prev);
    if (c->desc) {
        sodium_memzero(c->desc, c->desclen);
        free(c->desc);
    }
    chat_texts_wipe(&c->texts);
    answered(c, UINT64_MAX);
    free(c->unacked);
    free(c->new_desc);
    sodium_memzero(c, sizeof *c);
    free(c);
}

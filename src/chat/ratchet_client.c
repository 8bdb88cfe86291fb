/*
 * chat/ratchet_client.c: one member's session in ratchet mode, the class
 * chat_ratchet_class behind chat/client.h.
 * The relay link (chat/link.c) carries everything; the ratchet state
 * machine decides, and this file feeds it the room's messages, submits
 * what it outputs and reports its events.
 *
 * Session: a founder sends CREATE_ROOM (the admin's signature naming its
 * leaf V) then HELLO; a joiner checks the relay's DESCRIPTOR against the
 * invitation's room id, builds its JoinRequest and sends HELLO with the
 * request's V. NONCE is answered with V's signature, and after READY every
 * room message goes out as SUBMIT and comes in as DELIVER.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"
#include "chat/client.h"
#include "chat/link.h"
#include "chat/verify.h"

#define UPDATE_AFTER_SENT 1000u   /* an Update after this many messages sent, too */
#define ACK_TIMEOUT_MS 15000u     /* a JoinAck owed longer than this: the member is removed */
#define REFUSED_COMMIT_MS 5000u   /* a commit refused here and nothing settled since: commit */
#define REMOVAL_WAIT_MS 5000u     /* a removal pending: each member after the first waits this */
#define ADMIT_BATCH_MS 100u       /* a sponsor waits this long for other Proofs it is owed */

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

typedef struct ratchet_client ratchet_client;

struct ratchet_client {
    chat_link link;             /* first: the link's callbacks are handed it */
    fkex_rng rng;
    fkex_ratchet *st;
    fkex_gke_out held;          /* the JoinRequest, until READY */

    uint64_t commit_cseq;
    uint64_t reported_epoch;
    int want_commit, commit_inflight;
    /* A sponsor: since when (uv_now) a joiner admitted waits for our
     * commit, 0 if none. Joiners that arrive together are challenged
     * together; one commit adds all that answer within ADMIT_BATCH_MS,
     * not one per epoch (each epoch would send the others' joins back
     * to be challenged again). */
    uint64_t admitted_at;

    /* Nicknames are kept by V, not by index: a removal moves the last leaf
     * into the freed slot. The previous epoch's view names the senders of
     * late messages and the members a commit removes. */
    roster_view cur, prev;

    /* Updates (PROTOCOL.md: on a timer, and after N messages): a commit
     * replacing this member's X_i, for post-compromise security. */
    uint64_t updated_at;        /* uv_now of the last Update accepted (or of the join) */
    uint64_t sent_since_update;
    uint64_t update_cseq;       /* the SUBMIT carrying our Update, 0 if none in flight */
    /* Version 2: this member refused a candidate of the epoch (a slice that
     * did not open, say) at this uv_now, 0 if not. If nothing settles
     * within REFUSED_COMMIT_MS, it commits an Update (with whatever is
     * pending) itself, which the others can settle: a committer whose
     * commit only some members can apply does not hold the room. */
    uint64_t refused_at;
    /* Acks (PROTOCOL.md: a missing JoinAck within the timeout leads any
     * member to commit Remove): since when this epoch has owed some. */
    uint64_t acks_owed_since;
    /* Since when this epoch has had a removal pending (check_removals). */
    uint64_t removals_since;
    /* A new descriptor from the admin, through the relay, for this member
     * to commit (a policy change forces a re-attestation). */
    uint8_t *new_desc;
    size_t new_desclen;
    chat_refusals refusals;     /* frames the state machine refused, reported (chat/verify.h) */
};

static ratchet_client *client_of(chat_link *l)
{
    return (ratchet_client *)l;   /* the link is the first member */
}

/* ---- to the relay ---------------------------------------------------------------------- */

/* A commit is followed until the relay answers it: a losing one is void. */
static void submit(ratchet_client *c, const uint8_t *msg, size_t len)
{
    fkex_rmsg_type type;
    uint8_t room[32];
    uint64_t seq = chat_link_submit(&c->link, msg, len);
    if (seq && fkex_rmsg_peek(&type, room, msg, len) == FKEX_OK && type == FKEX_RMSG_COMMIT) {
        c->commit_inflight = 1;
        c->commit_cseq = seq;
    }
}

/* ---- the state machine's output ------------------------------------------------------------ */

static void propose_leave(ratchet_client *c);
static void descriptor_changed(ratchet_client *c, uint64_t epoch);

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
static void roster_refresh(ratchet_client *c)
{
    uint32_t n = fkex_ratchet_members(c->st), old = c->cur.n;
    roster_view next = { .n = n, .epoch = fkex_ratchet_epoch(c->st) };
    roster_entry **sorted = old ? malloc(old * sizeof *sorted) : NULL;
    if (!(next.e = calloc(n ? n : 1, sizeof *next.e)) || (old && !sorted)) {
        free(next.e);
        free(sorted);
        chat_link_report(&c->link, "out_of_memory",
                         "out of memory: the member list is not up to date");
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
static roster_entry *roster_at(ratchet_client *c, uint64_t epoch, uint32_t index)
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

static void on_message(ratchet_client *c, const fkex_gke_event *e)
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
    chat_link_emit(&c->link, &ev);
}

/* ADDED and REMOVED: the commit is installed, the roster views are not yet
 * (the EPOCH event that follows refreshes them). */
static void on_membership(ratchet_client *c, const fkex_gke_event *e)
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
    chat_link_emit(&c->link, &ev);
}

static void joined(ratchet_client *c, uint64_t epoch, uint32_t members)
{
    c->updated_at = uv_now(c->link.loop);
    c->reported_epoch = epoch;
    roster_refresh(c);
    chat_link_joined(&c->link, epoch, members);
}

static void forget_previous(chat_link *l)
{
    ratchet_client *c = client_of(l);
    if (c->st && !l->closing)
        fkex_ratchet_forget_previous(c->st);
}

/* The admin kicked a member. This one: the state machine is gone, the
 * session ends (exit 1). Another: its removal is pending at every member;
 * the lowest-index other member commits it, as for a Remove proposal. */
static void on_kicked(ratchet_client *c, const fkex_gke_event *e)
{
    uint8_t v[32];
    chat_event ev = { .kind = CHAT_EV_KICKED, .epoch = e->epoch, .member = e->member,
                      .text = (const char *)e->data, .textlen = e->len };
    if (!fkex_ratchet_is_member(c->st)) {
        ev.own = 1;
        ev.leaf = c->link.v;
        c->link.joined = 0;
        chat_link_emit(&c->link, &ev);
        chat_link_finish(&c->link, 1);
        return;
    }
    if (fkex_ratchet_member_key(v, c->st, e->member) == 0)
        ev.leaf = v;
    chat_link_emit(&c->link, &ev);
    if (fkex_ratchet_index(c->st) == (e->member == 0 ? 1u : 0u))
        c->want_commit = 1;
}

/* The removals pending at this member, and how many members not being
 * removed come before it in index order (UINT32_MAX if it is being
 * removed itself): the one of rank 0 commits them. */
static uint32_t removal_rank(const ratchet_client *c, uint32_t *pending)
{
    uint32_t n = fkex_ratchet_members(c->st), me = fkex_ratchet_index(c->st), rank = 0;
    *pending = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (fkex_ratchet_removal_pending(c->st, i))
            (*pending)++;
        else if (i < me)
            rank++;
    }
    return fkex_ratchet_removal_pending(c->st, me) ? UINT32_MAX : rank;
}

/* Removals still pending after an epoch (a commit that lost, or an
 * Update of the member to be removed, which it cannot shed its removal
 * by): the lowest-index member not to be removed commits them. */
static void commit_removals_left(ratchet_client *c)
{
    uint32_t pending;
    c->removals_since = 0;   /* a new epoch: check_removals waits afresh */
    if (!c->link.joined || !fkex_ratchet_is_member(c->st))
        return;
    if (removal_rank(c, &pending) == 0 && pending)
        c->want_commit = 1;
}

/* This member lost its place (FKEX_GKE_EV_LOST): its state is gone; the
 * session enters again through admission, under a new pseudonym. */
static void rejoin(ratchet_client *c)
{
    fkex_ratchet_free(c->st);
    c->st = NULL;
    c->want_commit = c->commit_inflight = 0;
    c->update_cseq = c->acks_owed_since = c->admitted_at = 0;
    c->reported_epoch = 0;
    free(c->new_desc);
    c->new_desc = NULL;
    fkex_gke_out_clear(&c->held);
    roster_view_free(&c->cur);
    roster_view_free(&c->prev);
    chat_link_rejoin(&c->link);
}

/* After an epoch: if this member's leaf key changed, its Update won. */
static void leaf_rotated(ratchet_client *c)
{
    uint8_t v[32];
    fkex_ratchet_leaf_key(v, c->st);
    if (memcmp(v, c->link.v, 32) == 0)
        return;
    memcpy(c->link.v, v, 32);   /* the relay re-bound the session to it */
    c->updated_at = uv_now(c->link.loop);
    c->sent_since_update = 0;
}

static void absorb(ratchet_client *c, fkex_gke_out *out)
{
    int lost = 0;
    for (size_t i = 0; i < out->nmsgs && !c->link.closing; i++) {
        if (c->link.ready) {
            submit(c, out->msgs[i].bytes, out->msgs[i].len);
        } else if (fkex_gke_out_msg(&c->held, out->msgs[i].to, out->msgs[i].bytes,
                                    out->msgs[i].len) == FKEX_OK) {
            out->msgs[i].bytes = NULL;   /* held now owns it */
            out->msgs[i].len = 0;
        } else {
            out->msgs[i].bytes = NULL;   /* freed by the failed append */
            chat_link_fail(&c->link, 2, "out_of_memory", "out of memory");
        }
    }
    for (size_t i = 0; i < out->nevents && !c->link.closing; i++) {
        const fkex_gke_event *e = &out->events[i];
        switch (e->kind) {
        case FKEX_GKE_EV_JOINED:
            c->commit_inflight = 0;
            joined(c, e->epoch, e->members);
            break;
        case FKEX_GKE_EV_EPOCH:
            c->commit_inflight = 0;
            c->acks_owed_since = 0;
            c->admitted_at = 0;   /* admissions are bound to the old epoch: dropped */
            c->refused_at = 0;
            leaf_rotated(c);
            if (c->link.joined)
                descriptor_changed(c, e->epoch);
            chat_link_forget_later(&c->link);
            if (c->link.joined)
                roster_refresh(c);
            if (c->link.joined && e->epoch != c->reported_epoch) {
                chat_event ev = { .kind = CHAT_EV_EPOCH, .epoch = e->epoch, .members = e->members };
                c->reported_epoch = e->epoch;
                chat_link_emit(&c->link, &ev);
            }
            if (c->link.leaving && fkex_ratchet_is_member(c->st))
                propose_leave(c);   /* a proposal names its epoch: make it again */
            commit_removals_left(c);
            break;
        case FKEX_GKE_EV_ADMITTED:
            c->want_commit = 1;
            if (!c->admitted_at)
                c->admitted_at = uv_now(c->link.loop);
            break;
        case FKEX_GKE_EV_MESSAGE:
            on_message(c, e);
            break;
        case FKEX_GKE_EV_ADDED:
        case FKEX_GKE_EV_REMOVED:
            if (c->link.joined)
                on_membership(c, e);
            break;
        case FKEX_GKE_EV_ABORTED:
            if (e->err == FKEX_ERR_POLICY_UNSATISFIED) {
                fkex_rmsg_descriptor d;
                int ok = fkex_rmsg_descriptor_decode(&d, c->link.desc, c->link.desclen) == FKEX_OK;
                chat_link_fail(&c->link, 1, "policy_unsatisfied",
                               "your key's attributes do not satisfy this room's policy: %.*s",
                               ok ? (int)d.policylen : 1, ok ? (const char *)d.policy : "?");
            } else if (e->err == FKEX_ERR_AUTHENTICATION && !e->len) {
                chat_link_fail(&c->link, 1, "group_unproven",
                               "the room's members did not prove that their attributes satisfy "
                               "its policy (is someone impersonating the room?)");
            } else if (e->err == FKEX_ERR_WRONG_AUTHORITY && e->len == 32) {
                char ours[20], room[20];
                uint8_t fp[32];
                fkex_mpk_fingerprint(fp, fkex_key_mpk(c->link.cfg.key));
                fkex_fingerprint_text(ours, fp);
                fkex_fingerprint_text(room, e->data);
                chat_link_fail(&c->link, 1, "wrong_authority",
                               "this room's members hold keys from authority %s, and yours is "
                               "from %s: enrol with the room's authority", room, ours);
            } else if (e->err == FKEX_ERR_WRONG_ROOM) {
                /* The room's descriptor changed since we fetched it: join
                 * again under the relay's newest. */
                chat_link_report(&c->link, "descriptor_changed",
                                 "the room's policy changed while we were joining; joining "
                                 "again under the new one");
                lost = 1;
            } else {
                chat_link_fail(&c->link, 1, "join_failed", "the join failed: %s",
                               fkex_strerror(e->err));
            }
            break;
        case FKEX_GKE_EV_LEFT: {
            chat_event ev = { .kind = CHAT_EV_LEFT };
            int asked = c->link.leaving;
            c->link.joined = 0;
            if (e->err == FKEX_ERR_POLICY_UNSATISFIED)
                chat_link_report(&c->link, "policy_unsatisfied",
                                 "your key's attributes no longer satisfy this room's policy");
            else if (!asked)
                chat_link_report(&c->link, "removed", "you were removed from the room");
            chat_link_emit(&c->link, &ev);
            chat_link_finish(&c->link, asked && e->err == FKEX_OK ? 0 : 1);
            break;
        }
        case FKEX_GKE_EV_LOST:
            chat_link_report(&c->link, "lost_epoch",
                             "could not apply the commit the room settled on for epoch %llu; "
                             "entering the room again under a new pseudonym",
                             (unsigned long long)e->epoch);
            lost = 1;
            break;
        case FKEX_GKE_EV_FORK: {
            roster_entry *who = roster_at(c, e->epoch, e->member);
            chat_fork_suspected(&c->link, e->epoch, who ? who->v : NULL,
                                "a member's acknowledgement of epoch %llu does not match this "
                                "member's (%s): the relay may be showing members different "
                                "rooms; compare the epoch fingerprints (verify)",
                                (unsigned long long)e->epoch,
                                e->err == FKEX_ERR_WRONG_ROOM ? "another commit" : "another key");
            break;
        }
        case FKEX_GKE_EV_KICKED:
            on_kicked(c, e);
            break;
        case FKEX_GKE_EV_IMPERSONATED:
            chat_link_report(&c->link, "impersonated",
                             "a commit signed with this member's own key, which it did not make, "
                             "reached the room: someone holds a copy of this member's state; "
                             "leave and join again with a fresh pseudonym");
            break;
        case FKEX_GKE_EV_MISBEHAVED:
            chat_link_report(&c->link, "misbehaved",
                             "member %u signed a commit that fails its checks (%s); its removal "
                             "is proposed", e->member, fkex_strerror(e->err));
            break;
        default:
            break;
        }
    }
    fkex_gke_out_clear(out);
    if (lost && !c->link.closing)
        rejoin(c);
}

static void maybe_commit(ratchet_client *c)
{
    fkex_gke_out out;
    if (!c->want_commit || c->commit_inflight || !c->link.joined || c->link.closing)
        return;
    if (c->admitted_at && fkex_ratchet_joins_unproved(c->st) > 0 &&
        uv_now(c->link.loop) - c->admitted_at < ADMIT_BATCH_MS)
        return;   /* other Proofs are due: this frame's or the tick's call commits them all */
    c->want_commit = 0;
    c->admitted_at = 0;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_commit(c->st, NULL, &c->rng, &out);
    if (err == FKEX_OK)
        absorb(c, &out);
    else if (err != FKEX_ERR_UNEXPECTED)   /* UNEXPECTED: nothing left to commit */
        chat_link_report(&c->link, "commit_failed", "could not commit: %s", fkex_strerror(err));
    fkex_gke_out_clear(&out);
}

/* An Update when one is due, unless a commit of ours is under way (a lost
 * one leaves it due, for the next tick). It carries whatever else is
 * pending too. */
static void maybe_update(ratchet_client *c)
{
    fkex_gke_out out;
    fkex_commit_options opt = { .update = 1 };
    uint64_t now = uv_now(c->link.loop);
    int stuck = c->refused_at && now - c->refused_at >= REFUSED_COMMIT_MS;
    if (!c->link.joined || c->link.closing || c->link.leaving || c->link.reconnecting ||
        c->commit_inflight || c->update_cseq ||
        fkex_ratchet_members(c->st) < 2 ||   /* alone: nobody to lock out */
        (!stuck && now - c->updated_at < c->link.cfg.update_interval_ms &&
         c->sent_since_update < UPDATE_AFTER_SENT))
        return;
    if (stuck)
        c->refused_at = now;   /* again after another wait, if this one is lost too */
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_commit(c->st, &opt, &c->rng, &out);
    if (err == FKEX_OK) {
        c->want_commit = 0;   /* this commit carries what was pending */
        absorb(c, &out);
        if (c->commit_inflight)
            c->update_cseq = c->commit_cseq;
    } else if (err != FKEX_ERR_UNEXPECTED) {
        chat_link_report(&c->link, "commit_failed", "could not commit an Update: %s",
                         fkex_strerror(err));
        c->updated_at = now;   /* not again at once */
    }
    fkex_gke_out_clear(&out);
}

/* Members that owe an ack (after a join or a re-attestation) and have not
 * sent it within ACK_TIMEOUT_MS are proposed for removal, and the proposal
 * committed. Among the members that did ack, the one with the lowest index
 * acts first; each next one waits another timeout, in case those before it
 * are gone. */
static void check_acks(ratchet_client *c)
{
    uint32_t n, me, rank = 0, missing = 0;
    uint64_t now = uv_now(c->link.loop);
    if (!c->link.joined || c->link.closing || c->link.leaving || c->link.reconnecting)
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
    for (uint32_t i = 0; i < n && !c->link.closing; i++) {
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

/* A removal (a kick, a Remove proposal) is committed by the lowest-index
 * member not being removed, as soon as it learns of it. That member may
 * be away (in the relay's grace, or its process stopped): then the next
 * one in index order commits after REMOVAL_WAIT_MS, the one after it
 * after twice that, and so on, so no single member can hold a kick up. */
static void check_removals(ratchet_client *c)
{
    uint32_t rank, pending;
    uint64_t now = uv_now(c->link.loop);
    if (!c->link.joined || c->link.closing || c->link.reconnecting ||
        !fkex_ratchet_is_member(c->st))
        return;
    rank = removal_rank(c, &pending);
    if (!pending || rank == 0 || rank == UINT32_MAX) {
        c->removals_since = 0;
        return;
    }
    if (!c->removals_since)
        c->removals_since = now;
    if (now - c->removals_since < (uint64_t)REMOVAL_WAIT_MS * rank)
        return;
    c->removals_since = now;   /* again after as long, if this commit loses too */
    c->want_commit = 1;
    maybe_commit(c);
}

/* Commits the admin's new descriptor, unless a commit of ours is under way
 * (then at the next tick) or the room has it already. */
static void maybe_adopt(ratchet_client *c)
{
    fkex_gke_out out;
    size_t curlen;
    const uint8_t *cur;
    fkex_rmsg_descriptor now, next;
    if (!c->new_desc || !c->link.joined || c->link.closing || c->commit_inflight ||
        c->link.reconnecting)
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
         * decapsulates its own re-attestation): we say so, and the relay
         * hands it to the next member at once, whose commit makes us fall
         * out (or, if nobody can, drops it and tells the admin). Anything
         * else is a descriptor that should not have come. */
        fkex_relay_msg m = { .kind = FKEX_RELAY_DECLINE, .version = next.version };
        if (err != FKEX_ERR_POLICY_UNSATISFIED)
            chat_link_report(&c->link, "bad_descriptor", "the relay passed on a descriptor that "
                             "cannot be committed: %s", fkex_strerror(err));
        memcpy(m.room_id, c->link.cfg.room_id, 32);
        chat_link_send(&c->link, &m);
        free(c->new_desc);
        c->new_desc = NULL;
    }
    fkex_gke_out_clear(&out);
}

static void adopt_descriptor(ratchet_client *c, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        chat_link_report(&c->link, "out_of_memory",
                         "out of memory: a policy change is not committed");
        return;
    }
    memcpy(copy, bytes, len);
    free(c->new_desc);
    c->new_desc = copy;
    c->new_desclen = len;
    maybe_adopt(c);
}

static void on_tick(chat_link *l)
{
    ratchet_client *c = client_of(l);
    maybe_commit(c);   /* admissions that waited for Proofs that never came */
    maybe_adopt(c);
    check_acks(c);
    check_removals(c);
    maybe_update(c);
    chat_refusals_flush(&c->refusals, l, uv_now(l->loop));
}

/* After an epoch: if its commit brought a new descriptor, it is the room's
 * now (the status line shows its policy), and the front end is told. */
static void descriptor_changed(ratchet_client *c, uint64_t epoch)
{
    size_t len;
    const uint8_t *cur = fkex_ratchet_descriptor(c->st, &len);
    fkex_rmsg_descriptor d;
    uint8_t *copy;
    if (!cur || (len == c->link.desclen && memcmp(cur, c->link.desc, len) == 0) ||
        !(copy = malloc(len)))
        return;
    memcpy(copy, cur, len);
    free(c->link.desc);
    c->link.desc = copy;
    c->link.desclen = len;
    if (fkex_rmsg_descriptor_decode(&d, c->link.desc, c->link.desclen) == FKEX_OK) {
        chat_event ev = { .kind = CHAT_EV_POLICY, .epoch = epoch, .text = (const char *)d.policy,
                          .textlen = d.policylen };
        chat_link_emit(&c->link, &ev);
    }
}

static void propose_leave(ratchet_client *c)
{
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_propose_remove(c->st, fkex_ratchet_index(c->st), &out);
    if (err == FKEX_OK)
        absorb(c, &out);
    else
        chat_link_fail(&c->link, 2, "leave_failed", "could not propose to leave: %s",
                       fkex_strerror(err));
    fkex_gke_out_clear(&out);
}

/* A chat line (link.c encoded it): encrypted, submitted, and shown. */
static void send_line(chat_link *l, const chat_content *cc, const uint8_t *content, size_t len)
{
    ratchet_client *c = client_of(l);
    fkex_gke_out out;
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_send(c->st, content, len, &out);
    if (err == FKEX_OK) {
        c->sent_since_update++;
        absorb(c, &out);
    } else {
        chat_link_report(l, "not_sent", "not sent: %s", fkex_strerror(err));
    }
    fkex_gke_out_clear(&out);
    if (err == FKEX_OK && !l->closing) {
        chat_event ev = { .kind = CHAT_EV_MESSAGE, .epoch = fkex_ratchet_epoch(c->st),
                          .nick = cc->nick, .nicklen = cc->nicklen, .text = cc->text,
                          .textlen = cc->textlen, .sent_ms = cc->sent_ms,
                          .member = fkex_ratchet_index(c->st), .own = 1, .leaf = l->v };
        chat_link_emit(l, &ev);
    }
}

/* ---- from the relay ----------------------------------------------------------------- */

/* A joiner's descriptor, checked: the JoinRequest, held until READY. */
static void join(chat_link *l, const fkex_rmsg_descriptor *d)
{
    ratchet_client *c = client_of(l);
    fkex_gke_out out;
    fkex_ratchet_config cfg = { .key = l->cfg.key, .descriptor = l->desc,
                                .descriptor_len = l->desclen };
    memcpy(cfg.room_id, l->cfg.room_id, 32);
    fkex_gke_out_init(&out);
    fkex_err err = fkex_ratchet_join(&c->st, &cfg, &c->rng, &out);
    if (err != FKEX_OK) {
        fkex_gke_out_clear(&out);
        if (err == FKEX_ERR_ARGUMENT && (d->options & FKEX_ROOM_REQUIRE_PERIOD))
            chat_link_fail(l, 2, "unsupported", "this room requires a period, which the chat "
                                                "client does not support yet");
        else
            chat_link_fail(l, 2, "join_failed", "cannot join: %s", fkex_strerror(err));
        return;
    }
    fkex_ratchet_leaf_key(l->v, c->st);
    absorb(c, &out);    /* held until READY */
    chat_link_hello(l);
}

/* The founder's room is created: it is member 0 already. */
static void created(chat_link *l)
{
    chat_link_hello(l);
}

/* AUTH: the leaf key V signs the relay's nonce. */
static int auth_sign(chat_link *l, uint8_t sig[64], const uint8_t nonce[32])
{
    ratchet_client *c = client_of(l);
    return c->st && fkex_ratchet_relay_auth(sig, c->st, nonce) == FKEX_OK ? 0 : -1;
}

static void on_ready(chat_link *l)
{
    ratchet_client *c = client_of(l);
    for (size_t i = 0; i < c->held.nmsgs && !l->closing; i++)
        submit(c, c->held.msgs[i].bytes, c->held.msgs[i].len);
    fkex_gke_out_clear(&c->held);
    if (l->closing)
        return;
    if (l->founder)
        joined(c, fkex_ratchet_epoch(c->st), fkex_ratchet_members(c->st));
    else if (!l->joined)
        chat_link_await(l, l->cfg.join_timeout_ms);
}

/* A frame the state machine refused: reported and counted, unless
 * refusing it is normal (our own broadcasts come back, for one: the list
 * is in chat/verify.h). */
static void refused_frame(ratchet_client *c, const uint8_t *msg, size_t len, fkex_err err,
                          int member, uint64_t epoch)
{
    chat_frame_info f;
    chat_frame_info_read(&f, msg, len);
    chat_refusal_kind k = chat_refusal_classify(&f, err, member, epoch);
    roster_entry *from = k && f.has_sender ? roster_at(c, f.epoch, f.sender) : NULL;
    if (k == CHAT_REFUSAL_COMMIT && !c->refused_at)
        c->refused_at = uv_now(c->link.loop);   /* a candidate of this epoch: maybe_update */
    chat_refusals_note(&c->refusals, &c->link, k, &f, from ? from->v : NULL, err,
                       uv_now(c->link.loop));
}

static void on_deliver(chat_link *l, const uint8_t *msg, size_t len)
{
    ratchet_client *c = client_of(l);
    fkex_gke_out out;
    fkex_rmsg_type type;
    uint8_t room[32];
    fkex_err err;
    if (!c->st)
        return;   /* (none comes before HELLO, which needs the state) */
    int member = l->joined && fkex_ratchet_is_member(c->st);
    uint64_t epoch = fkex_ratchet_epoch(c->st);
    fkex_gke_out_init(&out);
    if ((err = fkex_ratchet_receive(c->st, msg, len, &c->rng, &out)) != FKEX_OK) {
        refused_frame(c, msg, len, err, member, epoch);
        absorb(c, &out);   /* a refused join's JoinRefused, if any */
        return;
    }
    if (fkex_rmsg_peek(&type, room, msg, len) == FKEX_OK && type == FKEX_RMSG_REMOVE &&
        fkex_ratchet_is_member(c->st)) {
        fkex_rmsg_remove r;
        if (fkex_rmsg_remove_decode(&r, msg, len) == FKEX_OK) {
            /* The lowest-index other member commits it; so does the member
             * that proposed another's removal (the lowest may be gone too). */
            uint32_t committer = r.target == 0 ? 1 : 0, me = fkex_ratchet_index(c->st);
            if (me == committer || (r.proposer == me && r.target != me))
                c->want_commit = 1;
        }
    }
    absorb(c, &out);
}

/* Our Update's SUBMIT is answered: a candidate now, or refused. Whether it
 * won shows when an epoch rotates our leaf key (leaf_rotated). */
static void on_answered(chat_link *l, uint64_t seq, int accepted)
{
    ratchet_client *c = client_of(l);
    (void)accepted;
    if (c->update_cseq && seq >= c->update_cseq)
        c->update_cseq = 0;
}

static void on_refused(chat_link *l, uint64_t seq, uint16_t code, const char *text)
{
    ratchet_client *c = client_of(l);
    if (seq == c->commit_cseq && c->commit_inflight) {
        /* Not a candidate: drop it, so that this member can commit again
         * (PROTOCOL.md, version 2: no refusal leaves a member stuck). */
        fkex_ratchet_drop_commit(c->st);
        c->commit_inflight = 0;
    }
    /* Late, not wrong: the room moved on (another commit won, an epoch
     * settled before our Challenge or Proof arrived, and the join starts
     * over). */
    if (code == FKEX_RELAY_E_STALE)
        return;
    if (!l->joined && !l->founder && code == FKEX_RELAY_E_BAD_DESCRIPTOR) {
        /* Joiners are held to the room's newest descriptor: fetch it. */
        chat_link_report(l, "descriptor_changed", "the room's policy changed while we were "
                                                  "joining; joining again under the new one");
        rejoin(c);
    } else if (!l->joined && !l->founder) {   /* the JoinRequest: nothing else is sent yet */
        chat_link_fail(l, 2, "join_refused", "the relay refused our request to join: %s", text);
    } else {
        chat_link_report(l, "refused", "the relay refused a message: %s", text);
    }
}

/* The relay names a member whose connection has been gone past its grace
 * period: propose its removal (committed as any removal is). */
static void on_gone(ratchet_client *c, const fkex_relay_msg *m)
{
    uint8_t v[32];
    uint32_t n;
    if (!c->link.joined || c->link.closing || c->link.leaving ||
        sodium_memcmp(m->room_id, c->link.cfg.room_id, 32) != 0 ||
        memcmp(m->leaf, c->link.v, 32) == 0)
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

/* DESCRIPTOR once in the room (the admin's new one, to commit), and GONE. */
static void on_frame(chat_link *l, const fkex_relay_msg *m)
{
    ratchet_client *c = client_of(l);
    if (m->kind == FKEX_RELAY_DESCRIPTOR && l->joined)
        adopt_descriptor(c, m->data, m->datalen);
    else if (m->kind == FKEX_RELAY_GONE)
        on_gone(c, m);
}

static void after_frame(chat_link *l)
{
    maybe_commit(client_of(l));
}

static const chat_link_ops ratchet_ops = {
    .seed_mode = 0,
    .wrong_mode = "this room runs seed mode, the 2014 prototype's protocol, which is NOT secure; "
                  "join it with --mode seed only to compare",
    .join_late = "no member admitted us", .join_late_hint = " (is a member of the room online?)",
    .leave_late = "no member committed our leave",
    .created = created, .join = join, .auth_sign = auth_sign, .ready = on_ready,
    .deliver = on_deliver, .answered = on_answered, .refused = on_refused, .frame = on_frame,
    .after_frame = after_frame, .send = send_line, .forget = forget_previous, .tick = on_tick,
};

/* ---- the class ------------------------------------------------------------------------ */

static void ratchet_free(void *impl)
{
    ratchet_client *c = impl;
    if (!c)
        return;
    fkex_ratchet_free(c->st);
    fkex_gke_out_clear(&c->held);
    roster_view_free(&c->cur);
    roster_view_free(&c->prev);
    chat_link_clear(&c->link);
    free(c->new_desc);
    sodium_memzero(c, sizeof *c);
    free(c);
}

static fkex_err ratchet_start(void **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    ratchet_client *c;
    fkex_err e;
    *out = NULL;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return FKEX_ERR_NO_MEMORY;
    fkex_gke_out_init(&c->held);
    fkex_rng_init_system(&c->rng);
    if ((e = chat_link_init(&c->link, loop, cfg, &ratchet_ops)) != FKEX_OK) {
        ratchet_free(c);
        return e;
    }
    if (c->link.founder) {
        fkex_ratchet_config rc = { .key = cfg->key, .descriptor = c->link.desc,
                                   .descriptor_len = c->link.desclen };
        memcpy(rc.room_id, cfg->room_id, 32);
        if ((e = fkex_ratchet_create(&c->st, &rc, &c->rng)) != FKEX_OK) {
            ratchet_free(c);
            return e;
        }
        fkex_ratchet_leaf_key(c->link.v, c->st);
    }
    if ((e = chat_link_start(&c->link)) != FKEX_OK) {
        ratchet_free(c);
        return e;
    }
    *out = c;
    return FKEX_OK;
}

static void ratchet_send(void *impl, const char *text, size_t len)
{
    ratchet_client *c = impl;
    chat_link_text(&c->link, text, len);
}

static size_t ratchet_backlog(const void *impl)
{
    const ratchet_client *c = impl;
    return chat_link_backlog(&c->link);
}

static void ratchet_leave(void *impl)
{
    ratchet_client *c = impl;
    if (!chat_link_may_leave(&c->link))
        return;
    if (fkex_ratchet_members(c->st) == 1) {
        /* Nobody is left to commit our removal: the room empties when the
         * relay's grace period ends. */
        chat_event ev = { .kind = CHAT_EV_LEFT };
        chat_link_emit(&c->link, &ev);
        chat_link_finish(&c->link, 0);
        return;
    }
    chat_link_leaving(&c->link);
    propose_leave(c);
}

static void ratchet_quit(void *impl)
{
    ratchet_client *c = impl;
    chat_link_quit(&c->link);
}

static void ratchet_end(void *impl)
{
    ratchet_client *c = impl;
    chat_link_finish(&c->link, 2);
}

static int ratchet_joined(const void *impl)
{
    const ratchet_client *c = impl;
    return c->link.joined;
}

static fkex_err ratchet_set_nick(void *impl, const char *nick)
{
    ratchet_client *c = impl;
    return chat_link_set_nick(&c->link, nick);
}

static void ratchet_status(chat_status *s, const void *impl)
{
    const ratchet_client *c = impl;
    /* A joiner that has the descriptor is joining, before READY too. */
    chat_link_status(s, &c->link, !c->link.founder && c->st);
    if (s->state == CHAT_ONLINE && fkex_ratchet_is_member(c->st)) {
        s->epoch = fkex_ratchet_epoch(c->st);
        s->members = fkex_ratchet_members(c->st);
        s->index = fkex_ratchet_index(c->st);
    }
}

static fkex_err ratchet_verify(chat_verify *v, const void *impl)
{
    const ratchet_client *c = impl;
    uint8_t fp[32];
    if (!c->link.joined || !c->st || !fkex_ratchet_is_member(c->st))
        return FKEX_ERR_UNEXPECTED;
    v->epoch = fkex_ratchet_epoch(c->st);
    fkex_ratchet_epoch_fingerprint(fp, c->st);
    chat_epoch_fingerprint(v->fingerprint, fp);
    return FKEX_OK;
}

static int ratchet_member(chat_member *m, const void *impl, uint32_t index)
{
    const ratchet_client *c = impl;
    if (!c->link.joined || !c->cur.e || index >= c->cur.n)
        return -1;
    const roster_entry *e = &c->cur.e[index];
    memcpy(m->leaf, e->v, 32);
    chat_fingerprint(m->pseudonym, e->v);
    m->own = sodium_memcmp(e->v, c->link.v, 32) == 0;
    m->nick = m->own ? c->link.nick : e->nick;
    return 0;
}

const chat_client_class chat_ratchet_class = {
    .start = ratchet_start, .send = ratchet_send, .backlog = ratchet_backlog,
    .leave = ratchet_leave, .quit = ratchet_quit, .end = ratchet_end, .joined = ratchet_joined,
    .set_nick = ratchet_set_nick, .status = ratchet_status, .verify = ratchet_verify,
    .member = ratchet_member, .free = ratchet_free,
};

/*
 * chat/verify.c: the epoch fingerprint, refused frames reported and
 * counted, and the fork warning (chat/verify.h).
 */
#include <stdio.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/verify.h"

void chat_epoch_fingerprint(char out[CHAT_EPOCH_FINGERPRINT_LEN + 1],
                            const uint8_t fingerprint[32])
{
    size_t o = 0;
    for (size_t g = 0; g < 5; g++) {
        uint64_t v = 0;
        for (size_t i = 0; i < 5; i++)
            v = (v << 8) | fingerprint[5 * g + i];
        if (g)
            out[o++] = ' ';
        o += (size_t)snprintf(out + o, 6, "%05u", (unsigned)(v % 100000u));
    }
    out[o] = 0;
}

/* ---- refused frames ------------------------------------------------------------ */

void chat_frame_info_read(chat_frame_info *f, const uint8_t *msg, size_t len)
{
    uint8_t room[32];
    memset(f, 0, sizeof *f);
    if (fkex_rmsg_peek(&f->type, room, msg, len) != FKEX_OK)
        return;
    f->has_type = 1;
    switch (f->type) {
    case FKEX_RMSG_APPLICATION: {
        fkex_rmsg_application m;
        if (fkex_rmsg_application_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->sender = m.sender, f->has_epoch = f->has_sender = 1;
        break;
    }
    case FKEX_RMSG_COMMIT: {
        fkex_rmsg_commit m;
        if (fkex_rmsg_commit_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->sender = m.committer, f->has_epoch = f->has_sender = 1;
        break;
    }
    case FKEX_RMSG_JOIN_ACK: {
        fkex_rmsg_join_ack m;
        if (fkex_rmsg_join_ack_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->sender = m.sender, f->has_epoch = f->has_sender = 1;
        break;
    }
    case FKEX_RMSG_REMOVE: {
        fkex_rmsg_remove m;
        if (fkex_rmsg_remove_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->sender = m.proposer, f->has_epoch = f->has_sender = 1;
        break;
    }
    case FKEX_RMSG_EPOCH_ACK: {   /* the epoch it acknowledges, the sender's place there */
        fkex_rmsg_epoch_ack m;
        if (fkex_rmsg_epoch_ack_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->sender = m.sender, f->has_epoch = f->has_sender = !m.departing;
        break;
    }
    case FKEX_RMSG_SETTLED: {     /* the epoch it settles */
        fkex_rmsg_settled m;
        if (fkex_rmsg_settled_decode(&m, msg, len) == FKEX_OK)
            f->epoch = m.epoch, f->has_epoch = 1;
        break;
    }
    default:
        break;
    }
}

chat_refusal_kind chat_refusal_classify(const chat_frame_info *f, fkex_err err, int member,
                                        uint64_t epoch)
{
    if (err == FKEX_ERR_REPLAY)
        return CHAT_REFUSAL_NONE;   /* our own, or a copy sent again */
    if (!f->has_type)
        return member ? CHAT_REFUSAL_MALFORMED : CHAT_REFUSAL_NONE;
    if (!member) {   /* a joiner reads its admission only */
        int admission = f->type == FKEX_RMSG_CHALLENGE || f->type == FKEX_RMSG_WELCOME;
        return admission && err != FKEX_ERR_UNEXPECTED ? CHAT_REFUSAL_ADMISSION
                                                       : CHAT_REFUSAL_NONE;
    }
    if (f->has_epoch && f->epoch < epoch &&
        (err == FKEX_ERR_WRONG_EPOCH || f->type == FKEX_RMSG_COMMIT))
        return CHAT_REFUSAL_NONE;   /* late: an epoch this member has left */
    switch (f->type) {
    case FKEX_RMSG_APPLICATION:
        return CHAT_REFUSAL_UNREADABLE;
    case FKEX_RMSG_COMMIT:
        return CHAT_REFUSAL_COMMIT;
    case FKEX_RMSG_JOIN_ACK:
        return err == FKEX_ERR_UNEXPECTED ? CHAT_REFUSAL_NONE   /* removed since */
                                          : CHAT_REFUSAL_ACK;
    case FKEX_RMSG_EPOCH_ACK:   /* of an epoch this member left (or never reached): late */
        return err == FKEX_ERR_WRONG_EPOCH ? CHAT_REFUSAL_NONE : CHAT_REFUSAL_ACK;
    case FKEX_RMSG_SETTLED:     /* the relay's word for an epoch this member is not at */
        return CHAT_REFUSAL_COMMIT;
    case FKEX_RMSG_KICK:        /* of a member gone already: nothing to do */
        return err == FKEX_ERR_UNEXPECTED ? CHAT_REFUSAL_NONE : CHAT_REFUSAL_PROPOSAL;
    case FKEX_RMSG_REMOVE:
        return CHAT_REFUSAL_PROPOSAL;
    case FKEX_RMSG_JOIN_REQUEST:
    case FKEX_RMSG_PROOF:       /* a joiner's failure: its own to report */
    case FKEX_RMSG_CHALLENGE:
    case FKEX_RMSG_WELCOME:     /* a joiner's, not a member's */
        return CHAT_REFUSAL_NONE;
    default:
        return CHAT_REFUSAL_MALFORMED;
    }
}

#define REFUSED "was refused", "were refused"
static const struct {
    const char *code, *one, *many, *verb1, *verbs;
} kinds[CHAT_REFUSAL_KINDS] = {
    [CHAT_REFUSAL_UNREADABLE] = { "unreadable", "a message", "messages", "could not be opened",
                                  "could not be opened" },
    [CHAT_REFUSAL_COMMIT] = { "commit_refused", "a commit", "commits", REFUSED },
    [CHAT_REFUSAL_ACK] = { "ack_refused", "an acknowledgement", "acknowledgements", REFUSED },
    [CHAT_REFUSAL_PROPOSAL] = { "proposal_refused", "a proposal", "proposals", REFUSED },
    [CHAT_REFUSAL_ADMISSION] = { "admission_refused", "an admission message",
                                 "admission messages", REFUSED },
    [CHAT_REFUSAL_MALFORMED] = { "malformed", "a frame", "frames", REFUSED },
};
#undef REFUSED

/* Why, for a person. */
static const char *why(fkex_err err)
{
    switch (err) {
    case FKEX_ERR_AUTHENTICATION:
        return "it failed its signature or authentication tag (changed on the way, or "
               "made in another version of the epoch: compare the epoch's fingerprint)";
    case FKEX_ERR_WRONG_EPOCH:
        return "it belongs to an epoch this member has not reached (a commit was missed, "
               "or the room forked)";   /* earlier ones are not reported */
    case FKEX_ERR_UNEXPECTED:
        return "this member was not expecting it (a sender's chain too far ahead, or a "
               "message out of place)";
    case FKEX_ERR_BAD_ENCODING:
    case FKEX_ERR_TRUNCATED:
    case FKEX_ERR_UNSUPPORTED:
    case FKEX_ERR_NOT_IN_GROUP:
    case FKEX_ERR_WRONG_ROOM:
        return "it is malformed, or not of this room";
    default:
        return fkex_strerror(err);
    }
}

static void report(chat_refusals *r, chat_link *l, chat_refusal_kind k, uint64_t count,
                   uint64_t now_ms)
{
    chat_refusal_count *c = &r->kind[k];
    char msg[512], from[CHAT_FINGERPRINT_LEN + 32] = "", in[48] = "";
    if (c->has_leaf) {
        chat_fingerprint(from + 6, c->leaf);
        memcpy(from, " from ", 6);
    }
    if (c->last.has_epoch)
        snprintf(in, sizeof in, " in epoch %llu", (unsigned long long)c->last.epoch);
    if (count == 1)
        snprintf(msg, sizeof msg, "%s%s%s %s: %s", kinds[k].one, from, in, kinds[k].verb1,
                 why(c->err));
    else
        snprintf(msg, sizeof msg, "%llu %s %s, the last%s%s: %s (%llu in this session)",
                 (unsigned long long)count, kinds[k].many, kinds[k].verbs, from, in,
                 why(c->err), (unsigned long long)c->total);
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = kinds[k].code, .message = msg,
                      .epoch = c->last.epoch, .has_epoch = c->last.has_epoch,
                      .leaf = c->has_leaf ? c->leaf : NULL, .count = count };
    c->held = 0;
    c->reported = 1;
    c->reported_ms = now_ms;
    chat_link_emit(l, &ev);
}

void chat_refusals_note(chat_refusals *r, chat_link *l, chat_refusal_kind k,
                        const chat_frame_info *f, const uint8_t *leaf, fkex_err err,
                        uint64_t now_ms)
{
    if (k <= CHAT_REFUSAL_NONE || k >= CHAT_REFUSAL_KINDS)
        return;
    chat_refusal_count *c = &r->kind[k];
    c->total++;
    c->held++;
    c->last = *f;
    c->err = err;
    c->has_leaf = leaf != NULL;
    if (leaf)
        memcpy(c->leaf, leaf, 32);
    if (!c->reported || now_ms - c->reported_ms >= CHAT_REFUSAL_QUIET_MS)
        report(r, l, k, c->held, now_ms);
}

void chat_refusals_flush(chat_refusals *r, chat_link *l, uint64_t now_ms)
{
    for (int k = CHAT_REFUSAL_NONE + 1; k < CHAT_REFUSAL_KINDS && !l->closing; k++) {
        chat_refusal_count *c = &r->kind[k];
        if (c->held && now_ms - c->reported_ms >= CHAT_REFUSAL_QUIET_MS)
            report(r, l, (chat_refusal_kind)k, c->held, now_ms);
    }
}

/* ---- forks ---------------------------------------------------------------------- */

void chat_fork_suspected(chat_link *l, uint64_t epoch, const uint8_t *leaf, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    chat_event ev = { .kind = CHAT_EV_ERROR, .code = CHAT_CODE_FORK_SUSPECTED, .message = msg,
                      .epoch = epoch, .has_epoch = 1, .leaf = leaf };
    chat_link_emit(l, &ev);
}

/*
 * chat/verify.h: what makes a fork visible to the people in a room
 * (issue 10, "Forks are visible"): the epoch's fingerprint they compare,
 * the reports of room frames the state machine refused, so that none is
 * dropped silently, and the warning the protocol's own checks raise.
 *
 * Which refusals are normal, hence not reported (docs/fkex.1 lists the
 * codes of those that are):
 *   - FKEX_ERR_REPLAY, whatever the frame: a member's own broadcasts come
 *     back, and a SUBMIT sent again after a reconnection (chat/link.h)
 *     is stored twice by the relay when the first copy's ACCEPTED was
 *     lost; the second copy is refused by the replay windows;
 *   - a frame of an epoch before the current one (FKEX_ERR_WRONG_EPOCH or
 *     an old commit): late traffic once the previous epoch's keys are
 *     wiped (CHAT_LINK_FORGET_MS), a proposal overtaken by a commit;
 *   - a JoinAck from a member removed since (FKEX_ERR_UNEXPECTED);
 *   - anything read before the Welcome or after leaving, and a
 *     Challenge or Welcome read by a member: not this session's to read;
 *   - a joiner's JoinRequest or Proof refused by its sponsor: the joiner
 *     failed its admission, which it is told itself; anyone can send
 *     those, so reporting them would let strangers write to the room's
 *     screens.
 * Everything else is reported: an application message that does not open
 * ("unreadable"), a commit, ack or proposal that does not check, a frame
 * of an epoch this member has not reached (a missed commit or a fork), a
 * frame that does not decode.
 *
 * Reports do not flood: the first refusal of a kind is reported at once;
 * later ones within CHAT_REFUSAL_QUIET_MS are counted and reported
 * together, at most one event per kind per period (count says how many).
 */
#ifndef FKEX_CHAT_VERIFY_H
#define FKEX_CHAT_VERIFY_H

#include <stdarg.h>
#include "chat/client.h"
#include "chat/link.h"

/* The epoch's fingerprint (fkex_ratchet_epoch_fingerprint) read as 5
 * groups of 5 decimal digits, each the big-endian value of 5 bytes mod
 * 100000 (a bias under 2^-23): about 83 bits, which a member grinding
 * commits cannot match to another epoch's. */
void chat_epoch_fingerprint(char out[CHAT_EPOCH_FINGERPRINT_LEN + 1],
                            const uint8_t fingerprint[32]);

/* ---- refused frames ---------------------------------------------------------- */

typedef enum {
    CHAT_REFUSAL_NONE = 0,     /* normal: not reported */
    CHAT_REFUSAL_UNREADABLE,   /* "unreadable": an application message */
    CHAT_REFUSAL_COMMIT,       /* "commit_refused" */
    CHAT_REFUSAL_ACK,          /* "ack_refused": a JoinAck */
    CHAT_REFUSAL_PROPOSAL,     /* "proposal_refused": a Remove proposal */
    CHAT_REFUSAL_ADMISSION,    /* "admission_refused": a joiner's Challenge or Welcome */
    CHAT_REFUSAL_MALFORMED,    /* "malformed": no room message of this room */
    CHAT_REFUSAL_KINDS
} chat_refusal_kind;

/* What a room frame says of itself, as far as it decodes. Not checked:
 * a refused frame may lie. */
typedef struct {
    int has_type, has_epoch, has_sender;
    fkex_rmsg_type type;
    uint64_t epoch;
    uint32_t sender;     /* an index in that epoch's roster */
} chat_frame_info;

void chat_frame_info_read(chat_frame_info *f, const uint8_t *msg, size_t len);

/* Whether the state machine's refusal err of frame f is reported, and as
 * what; member: the session was a member when it read the frame, of
 * epoch `epoch`. */
chat_refusal_kind chat_refusal_classify(const chat_frame_info *f, fkex_err err, int member,
                                        uint64_t epoch);

typedef struct {
    uint64_t total, held;      /* refused in the session; counted, not yet reported */
    uint64_t reported_ms;
    int reported;              /* reported_ms is set */
    chat_frame_info last;      /* the last one held: what its report names */
    uint8_t leaf[32];
    int has_leaf;
    fkex_err err;
} chat_refusal_count;

typedef struct {
    chat_refusal_count kind[CHAT_REFUSAL_KINDS];
} chat_refusals;

#define CHAT_REFUSAL_QUIET_MS 1000u

/* A refusal of kind k (not NONE) at now_ms: reported on l at once (an
 * ERROR event, count 1), or counted if one of its kind was reported less
 * than CHAT_REFUSAL_QUIET_MS ago. leaf: the sender f names, NULL if this
 * member does not know it. O(1). */
void chat_refusals_note(chat_refusals *r, chat_link *l, chat_refusal_kind k,
                        const chat_frame_info *f, const uint8_t *leaf, fkex_err err,
                        uint64_t now_ms);
/* Reports what was counted, one event per kind, once its quiet time is
 * over: call it every tick. */
void chat_refusals_flush(chat_refusals *r, chat_link *l, uint64_t now_ms);

/* ---- forks ------------------------------------------------------------------- */

/* An ERROR event with code "fork_suspected", the epoch and (if not NULL)
 * the member whose view of it differs, and the sentence fmt makes: for
 * the protocol's checks (another member's EpochAck or JoinAck MAC that
 * does not match ours) to call. Not fatal: the session goes on, and the
 * front end asks people to compare the epoch's fingerprint. */
void chat_fork_suspected(chat_link *l, uint64_t epoch, const uint8_t *leaf, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

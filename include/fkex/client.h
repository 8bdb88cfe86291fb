/*
 * fkex/client.h: a member of a room, over a relay (libfkex-io). It
 * connects, joins by proving its attributes satisfy the room's policy,
 * follows every epoch, sends and receives messages, and comes back after a
 * dropped connection: `fkex chat --batch` as a library, for a program that
 * would rather call than run a process. pkg-config --cflags --libs
 * libfkex-io.
 *
 * The calls block: fkex_client_next runs the session until it has an
 * event or the time given is up. The session has its own event loop;
 * nothing runs between two calls, and a program that wants to be told of
 * messages calls fkex_client_next again soon (the relay replays what a
 * member missed, within its grace period).
 *
 * Threads: a client is one object; its key (fkex/authority.h) must
 * outlive it and not be used by another thread meanwhile.
 */
#ifndef FKEX_CLIENT_H
#define FKEX_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "fkex/error.h"
#include "fkex/authority.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fkex_client fkex_client;

typedef enum {
    FKEX_CLIENT_JOINED = 1,   /* this member is in the room: epoch, members */
    FKEX_CLIENT_EPOCH,        /* a new epoch: epoch, members */
    FKEX_CLIENT_MESSAGE,      /* nick, text from a member (own: this one's, sent) */
    FKEX_CLIENT_ERROR,        /* code, message; fatal if DONE follows */
    FKEX_CLIENT_LEFT,         /* this member is no longer in the room */
    FKEX_CLIENT_DONE,         /* the session is over: exit_code (0 ok, 1 refused, 2 other) */
    FKEX_CLIENT_ADDED,        /* a member joined: leaf */
    FKEX_CLIENT_REMOVED,      /* a member left or was removed: leaf, nick */
    FKEX_CLIENT_CONNECTION,   /* code: "reconnecting" or "online" */
    FKEX_CLIENT_POLICY,       /* the room's policy changed: text */
    FKEX_CLIENT_KICKED,       /* the admin kicked a member: leaf, text (the reason), own */
    FKEX_CLIENT_SENT          /* count: a text given to fkex_client_send is stored at the relay */
} fkex_client_event_kind;

/* Strings are NUL-terminated (text may also hold NULs: textlen) and valid
 * until the next call on the client; those an event does not have are "". */
typedef struct {
    fkex_client_event_kind kind;
    uint64_t epoch;
    uint32_t members;
    const char *nick;
    const char *text;
    size_t textlen;
    const char *code;        /* ERROR: "policy_unsatisfied", "relay_unreachable", ... */
    const char *message;     /* ERROR: one sentence for a person */
    uint64_t sent_ms;        /* MESSAGE: when its sender sent it (unix ms) */
    uint64_t count;          /* SENT: the text's ordinal (1 the first); ERROR: refused
                              * frames this report covers */
    int own;                 /* MESSAGE, KICKED: this member */
    int exit_code;           /* DONE */
    int has_leaf;
    uint8_t leaf[32];        /* MESSAGE, ADDED, REMOVED, KICKED: the member's key V;
                              * ERROR: the member a refused frame names, if known */
} fkex_client_event;

#define FKEX_CLIENT_FINGERPRINT_LEN 29   /* "01234 56789 01234 56789 01234" */
#define FKEX_CLIENT_CODE_UNPINNED "relay_unpinned"

/* Starts a session in the room of invite ("fkex://PIN@HOST:PORT[,...]/ROOMID",
 * `fkex room invite`), as nick (1 to 64 bytes of UTF-8), with key, over
 * TLS 1.3 to the relay whose key the invitation pins (a relay with
 * another key is refused: ERROR relay_unreachable, then DONE with exit
 * code 2). An invitation without a pin (made before relays had keys) is
 * dialled over TLS without knowing the relay, and the first event is an
 * ERROR with code FKEX_CLIENT_CODE_UNPINNED (the session goes on).
 * Errors: FKEX_ERR_ARGUMENT (a malformed invitation or nickname),
 * FKEX_ERR_IO (the relay's address cannot be dialled at all),
 * FKEX_ERR_NO_MEMORY; everything else, a relay that does not answer
 * included, comes as events. */
FKEX_API fkex_err fkex_client_open(fkex_client **client, const char *invite,
                                   const fkex_key *key, const char *nick) FKEX_WUR;
/* The next event, waiting at most timeout_ms for it. FKEX_ERR_TIMEOUT if
 * none came; FKEX_ERR_UNEXPECTED once DONE has been given. */
FKEX_API fkex_err fkex_client_next(fkex_client *client, fkex_client_event *ev,
                                   unsigned timeout_ms) FKEX_WUR;
/* Sends text to the room (queued until joined); SENT says when the relay
 * has it. FKEX_ERR_ARGUMENT for more than 4096 bytes or bad UTF-8,
 * FKEX_ERR_UNEXPECTED once the session is over. */
FKEX_API fkex_err fkex_client_send(fkex_client *client, const char *text, size_t len) FKEX_WUR;
/* Leaves the room: LEFT, then DONE, come through fkex_client_next. */
FKEX_API void fkex_client_leave(fkex_client *client);
/* The current epoch and its fingerprint, which members compare out of
 * band to know they are in one room (not a fork). FKEX_ERR_UNEXPECTED
 * before the join. */
FKEX_API fkex_err fkex_client_verify(fkex_client *client, uint64_t *epoch,
                                     char fingerprint[FKEX_CLIENT_FINGERPRINT_LEN + 1]) FKEX_WUR;
/* Ends the session if it runs (without leaving: the relay keeps the place
 * for its grace period), waits for what is on its way for up to 5 s, then
 * closes it, and frees everything. */
FKEX_API void fkex_client_close(fkex_client *client);

#ifdef __cplusplus
}
#endif

#endif

/*
 * chat/seed_client.h: one member's session in a seed-mode room (gke/seed.h:
 * the 2014 prototype's protocol, kept for comparison, NOT secure), behind
 * chat/client.h's API: chat_client_start picks it for CHAT_MODE_SEED and
 * every chat_client_* call of such a session lands here, so the --batch
 * front end and the terminal interface work unchanged.
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
#ifndef FKEX_CHAT_SEED_CLIENT_H
#define FKEX_CHAT_SEED_CLIENT_H

#include "chat/client.h"

typedef struct seed_client seed_client;

/* As chat_client_start; FKEX_ERR_UNSUPPORTED for a founder's descriptor
 * that is not a seed-mode room's. */
fkex_err seed_client_start(seed_client **c, uv_loop_t *loop, const chat_client_config *cfg) FKEX_WUR;
void seed_client_send(seed_client *c, const char *text, size_t len);
void seed_client_leave(seed_client *c);
void seed_client_quit(seed_client *c);
int seed_client_joined(const seed_client *c);
fkex_err seed_client_set_nick(seed_client *c, const char *nick) FKEX_WUR;
size_t seed_client_backlog(const seed_client *c);
void seed_client_status(chat_status *s, const seed_client *c);
int seed_client_member(chat_member *m, const seed_client *c, uint32_t index) FKEX_WUR;
void seed_client_free(seed_client *c);

#endif

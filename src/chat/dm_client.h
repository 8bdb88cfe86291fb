/*
 * chat/dm_client.h: a direct conversation (fkex chat --dm PEER) behind the
 * session API of chat/client.h: chat_client_start with cfg->dm_peer set
 * runs this instead of a room, and the same events reach the front ends
 * (--batch JSON lines, the terminal interface).
 *
 * One relay connection: DM_HELLO names the conversation (ibe/dm.h's id),
 * the relay says whether the other party is there (DM_READY) and when it
 * comes or goes (DM_PEER), and carries frames both ways (DM_FRAME). The
 * state machine (ibe/dm.h) decides: IBAKE, the hellos, then messages.
 * When the other party comes again (a new process), the handshake starts
 * over; what is typed before the conversation is open waits (bounded).
 *
 * Events: JOINED once the peer is authenticated (peer, authenticated = 1),
 * MESSAGE (peer set), ERROR ("tampered" for a frame that fails its checks:
 * not shown, the conversation goes on; "wrong_peer", fatal with exit 1,
 * for a handshake from or for another identity), CONNECTION ("peer_left",
 * "peer_back"), DONE. A dropped relay connection ends the session (exit 2):
 * nothing is held at the relay to come back to.
 */
#ifndef FKEX_CHAT_DM_CLIENT_H
#define FKEX_CHAT_DM_CLIENT_H

#include "chat/client.h"

typedef struct dm_client dm_client;

/* Errors: FKEX_ERR_ARGUMENT (bad address or nick, the peer is oneself),
 * fkex_dm_init's (FKEX_ERR_WRONG_IDENTITY: the key has no identity;
 * FKEX_ERR_UNSUPPORTED; FKEX_ERR_ATTRIBUTE: not an identity),
 * FKEX_ERR_NO_MEMORY; then nothing is called back and *c is NULL. */
fkex_err dm_client_start(dm_client **c, uv_loop_t *loop, const chat_client_config *cfg) FKEX_WUR;
void dm_client_send(dm_client *c, const char *text, size_t len);
/* Texts waiting for the conversation to open (chat_client_backlog). */
size_t dm_client_backlog(const dm_client *c);
/* Leave and quit are one: the relay keeps nothing of a conversation. */
void dm_client_quit(dm_client *c);
/* 1 once the conversation has opened (even if the peer left since). */
int dm_client_joined(const dm_client *c);
/* nick checked by the caller (chat_client_set_nick). */
void dm_client_set_nick(dm_client *c, const char *nick);
/* name: the peer's identity; room_id: the conversation id; members 2 once open. */
void dm_client_status(chat_status *s, const dm_client *c);
/* 0: the peer, 1: this party; once open. */
int dm_client_member(chat_member *m, const dm_client *c, uint32_t index) FKEX_WUR;
void dm_client_free(dm_client *c);

#endif

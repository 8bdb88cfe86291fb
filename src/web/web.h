/*
 * web/web.h: the browser client's C side (docs/ARCHITECTURE.md, "The
 * browser client"): the chat layer (src/chat) as it runs in `fkex chat`,
 * on the browser's event loop (web/loop.c: libuv's timers) over a
 * WebSocket to the relay (web/conn.c: net/net.h's client connection), with
 * the calls the page makes (web/client.c). Built only by `make wasm`.
 */
#ifndef FKEX_WEB_H
#define FKEX_WEB_H

/* After every callback from the page into the module (a timer, a socket
 * event, a call): what the session left to do at the end of a turn. */
void fkexw_after_turn(void);

#endif

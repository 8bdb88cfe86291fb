/*
 * tui/tui.h: the terminal client, `fkex chat` without --batch: ncurses
 * over the session of chat/client.h and the model of tui/view.h.
 *
 * One libuv loop drives the relay connection and the keyboard (stdin is
 * polled, then read with wget_wch without blocking), so there are no
 * threads. Output goes through curses only: the caller prints the error
 * that ended the session once the screen is gone.
 *
 * Screen: the scrollback, a status line (room name, epoch, members, room
 * fingerprint, connection state, nickname) and the input line. Keys: the
 * editing keys of view.h, Enter sends, PgUp/PgDn page, ^C quits.
 * Commands: /help /who /verify /nick NAME /leave /quit; "//" sends a line that
 * starts with "/".
 *
 * What was typed and shown is wiped when freed; ncurses' own buffers are
 * blanked before the terminal is restored.
 */
#ifndef FKEX_TUI_TUI_H
#define FKEX_TUI_TUI_H

#include "chat/client.h"

#define CHAT_TUI_ERROR_MAX 512

typedef struct chat_tui chat_tui;

/* Starts the session of cfg (its on_event and ctx are the interface's
 * own); the terminal is not touched yet, so that the caller may wipe what
 * the client copied (the admin's key) and say why a start failed.
 * Errors: chat_client_start's, then *t is NULL. */
fkex_err chat_tui_start(chat_tui **t, const chat_client_config *cfg) FKEX_WUR;
/* Runs the interface on the terminal of stdin and stdout until the session
 * is over, restores the terminal (endwin, on every path: SIGINT, SIGTERM
 * and SIGHUP included), wipes and frees t. Returns the session's exit code
 * (chat_event DONE; 2 if the terminal could not be used); error gets the
 * sentence of the error that ended it ("" if none), for the caller to
 * print now that the screen is gone. */
int chat_tui_run(chat_tui *t, char error[CHAT_TUI_ERROR_MAX]);

#endif

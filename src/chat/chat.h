/*
 * chat/chat.h: the chat client's pieces that are not the network or the
 * screen: what a message carries, and the `--batch` JSON lines.
 *
 *   content.c  a room message's content: nickname, text, time sent; and
 *              the UTF-8 it is checked as
 *   json.c     the batch interface: commands read from stdin, events
 *              written to stdout, one JSON object per line
 *
 * Everything here parses bytes others control (messages from members, lines
 * from a script), so decoding is strict and bounded, and each decoder has a
 * fuzz target.
 */
#ifndef FKEX_CHAT_H
#define FKEX_CHAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "fkex/error.h"
#include "chat/client.h"

/* ---- content.c ------------------------------------------------------------ */

#define CHAT_NICK_MAX 64
#define CHAT_TEXT_MAX 4096

/* u8 version (1) || bytes16 nick || bytes16 text || u64 milliseconds since
 * 1970. nick and text are UTF-8 without control characters (nick) or with
 * only newlines and tabs (text). Borrowed from the input on decode. */
typedef struct {
    const char *nick;
    size_t nicklen;
    const char *text;
    size_t textlen;
    uint64_t sent_ms;
} chat_content;

/* *out is malloc'd. FKEX_ERR_ARGUMENT if a field is too long or not
 * acceptable UTF-8. */
fkex_err chat_content_encode(uint8_t **out, size_t *outlen, const chat_content *c) FKEX_WUR;
fkex_err chat_content_decode(chat_content *c, const uint8_t *in, size_t len) FKEX_WUR;
/* 1 if s is well-formed UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF) and has no control characters other than those `allowed`
 * lists ("" for none, "\n\t" for text). */
int chat_utf8_ok(const char *s, size_t len, const char *allowed);
/* 1 for the characters that change how text around them is shown
 * without showing themselves: bidirectional controls (U+061C, U+200E-F,
 * U+202A-E, U+2066-9) and zero-width or invisible format characters
 * (U+200B-D, U+2060-4, U+FEFF). */
int chat_invisible(uint32_t cp);
/* 1 if s (len bytes) can be a nickname: 1 to CHAT_NICK_MAX bytes of
 * chat_utf8_ok text without controls, and nothing invisible. */
int chat_nick_ok(const char *s, size_t len);
/* s as it may be drawn: every malformed byte, control character (but
 * those `allowed`) and invisible character becomes U+FFFD. out has room
 * for 3 * len bytes; returns the length written. */
size_t chat_displayable(char *out, const char *s, size_t len, const char *allowed);
/* One code point of s (len > 0 bytes): its length, or 0 if malformed. */
size_t chat_utf8_decode(uint32_t *cp, const char *s, size_t len);
/* cp (at most U+10FFFF) as UTF-8: its length, 1 to 4. */
size_t chat_utf8_encode(char out[4], uint32_t cp);

/* ---- json.c ------------------------------------------------------------------ */

typedef enum {
    CHAT_CMD_SEND = 1,   /* {"send": "text"} */
    CHAT_CMD_LEAVE,      /* {"cmd": "leave"} */
    CHAT_CMD_QUIT,       /* {"cmd": "quit"} */
    CHAT_CMD_VERIFY,     /* {"cmd": "verify"}: the epoch and its fingerprint */
    CHAT_CMD_WHO         /* {"cmd": "who"}: the members */
} chat_cmd_kind;

typedef struct {
    chat_cmd_kind kind;
    char text[CHAT_TEXT_MAX + 1];   /* for SEND, NUL-terminated UTF-8 */
    size_t textlen;
} chat_cmd;

/* Parses one line (without its newline): one JSON object with exactly one
 * known member. Errors: FKEX_ERR_BAD_ENCODING (not JSON, unknown member,
 * bad escape or UTF-8), FKEX_ERR_ARGUMENT (text too long); err says why,
 * for the error event. */
fkex_err chat_cmd_parse(chat_cmd *cmd, const char *line, size_t len, char err[96]) FKEX_WUR;

/* Appends s to a JSON string being built (without the quotes), escaping
 * '"', '\\', control and invisible characters (chat_invisible), and
 * replacing invalid UTF-8 by U+FFFD.
 * Returns the bytes written, or the bytes needed if out is too small
 * (nothing is written past cap then). */
size_t chat_json_escape(char *out, size_t cap, const char *s, size_t len);
/* s as a JSON string, quotes included, escaped as chat_json_escape does. */
void chat_json_string(FILE *f, const char *s, size_t len);
/* An ERROR event as one line: {"event": "error", "code": ..., "message": ...}
 * and, when the event has them, "epoch", "from" (the pseudonym of ev->leaf,
 * chat_fingerprint) and "count". */
void chat_json_error(FILE *f, const chat_event *ev);
/* The line `fkex chat --batch` prints for ev (README, "Scripting"), or
 * nothing for the events a script does not see: its own messages, ADDED
 * and REMOVED (the EPOCH that follows says it), DONE (the exit code).
 * room_id: the session's. */
void chat_json_event(FILE *f, const uint8_t room_id[32], const chat_event *ev);
/* {"event": "verify", "epoch": N, "fingerprint": "..."}, or an error line
 * if c is not in a room with epochs. */
void chat_json_verify(FILE *f, const chat_client *c);
/* {"event": "who", "epoch": N, "members": [{"pseudonym", "nick", "self"}]}:
 * the nick is the last one seen on the member's messages ("" if none
 * yet); or an error line if c is not in the room. */
void chat_json_who(FILE *f, const chat_client *c);

#endif

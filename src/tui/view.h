/*
 * tui/view.h: what the terminal client shows, without the terminal: the
 * scrollback and the input line. The ncurses front end draws these; the
 * tests drive them directly.
 *
 * Text is UTF-8 that chat_utf8_ok accepted (no control characters but
 * newline and tab). Widths count code points; a terminal's wide characters
 * (CJK, emoji) take two cells, which the front end accounts for when it
 * draws: the model only needs to cut lines somewhere sensible.
 *
 * Memory: the scrollback keeps at most VIEW_MAX_LINES lines (the oldest go);
 * the input line at most CHAT_TEXT_MAX bytes.
 */
#ifndef FKEX_TUI_VIEW_H
#define FKEX_TUI_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include "chat/chat.h"

#define VIEW_MAX_LINES 5000

typedef enum { VIEW_MESSAGE, VIEW_OWN, VIEW_SYSTEM, VIEW_ERROR } view_kind;

typedef struct {
    view_kind kind;
    char *text;          /* "nick: text", or a system sentence */
    size_t len;
} view_line;

typedef struct {
    view_line *lines;    /* a ring of VIEW_MAX_LINES */
    size_t first, count;
    size_t scroll;       /* screen rows scrolled back from the bottom */
} view_scrollback;

void view_scrollback_init(view_scrollback *s);
void view_scrollback_free(view_scrollback *s);
/* Adds a line (copied; a text with newlines stays one entry, drawn on
 * several rows). -1 if out of memory. Keeps the view where it is if the
 * reader has scrolled back. */
int view_add(view_scrollback *s, view_kind kind, const char *text, size_t len);
/* An ERROR event (chat/client.h) as a VIEW_ERROR line: "!! message"; a
 * suspected fork as a warning that names the epoch and asks people to
 * compare its fingerprint (/verify). -1 if out of memory. */
int view_add_error(view_scrollback *s, const chat_event *ev);
/* The i-th line, 0 the oldest kept. */
const view_line *view_line_at(const view_scrollback *s, size_t i);
/* Rows the line takes at width cols (at least 1). */
size_t view_rows(const view_line *l, size_t cols);
/* PgUp / PgDn: by a page of `rows`, bounded by what there is to show. */
void view_page_up(view_scrollback *s, size_t rows, size_t cols);
void view_page_down(view_scrollback *s, size_t rows);
/* Cuts line l into rows of at most cols cells: calls row(text, len,
 * indent, ctx) for each, top to bottom; a newline ends a row. A message's
 * rows after its first are drawn indent (VIEW_INDENT) cells in, and hold
 * as many fewer code points. */
#define VIEW_INDENT 2
void view_wrap(const view_line *l, size_t cols,
               void (*row)(const char *text, size_t len, size_t indent, void *ctx), void *ctx);

/* The input line, edited in place; the cursor is a byte offset that always
 * sits on a code point boundary. */
typedef struct {
    char buf[CHAT_TEXT_MAX + 1];
    size_t len, cursor;
} view_input;

void view_input_clear(view_input *in);
/* Inserts UTF-8 at the cursor; -1 (nothing inserted) if it would pass
 * CHAT_TEXT_MAX or is not acceptable text. */
int view_input_insert(view_input *in, const char *text, size_t len);
void view_input_backspace(view_input *in);   /* the code point before the cursor */
void view_input_delete(view_input *in);      /* the code point under it */
void view_input_left(view_input *in);
void view_input_right(view_input *in);
void view_input_home(view_input *in);
void view_input_end(view_input *in);
void view_input_kill_to_start(view_input *in);   /* ^U */
void view_input_kill_to_end(view_input *in);     /* ^K */
void view_input_kill_word(view_input *in);       /* ^W: back to the start of the word */

#endif

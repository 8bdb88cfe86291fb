/*
 * tui/view.c: the scrollback and the input line of tui/view.h.
 * Adding a line is O(1); wrapping and paging are O(length of what is shown).
 */
#include <stdio.h>
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "tui/view.h"

/* ---- scrollback -------------------------------------------------------------- */

void view_scrollback_init(view_scrollback *s)
{
    memset(s, 0, sizeof *s);
}

void view_scrollback_free(view_scrollback *s)
{
    for (size_t i = 0; i < s->count; i++) {
        view_line *l = &s->lines[(s->first + i) % VIEW_MAX_LINES];
        sodium_memzero(l->text, l->len);
        free(l->text);
    }
    free(s->lines);
    memset(s, 0, sizeof *s);
}

const view_line *view_line_at(const view_scrollback *s, size_t i)
{
    return i < s->count ? &s->lines[(s->first + i) % VIEW_MAX_LINES] : NULL;
}

/* A continuation byte of UTF-8. */
static int cont(char c)
{
    return ((unsigned char)c & 0xc0) == 0x80;
}

void view_wrap(const view_line *l, size_t cols,
               void (*row)(const char *text, size_t len, size_t indent, void *ctx), void *ctx)
{
    /* A message's rows after its first are indented, so that no text a
     * member sends (a newline, or a long line cut at just the right
     * place) can start a row as the interface's own lines start. */
    size_t start = 0, width = 0, i = 0, indent = 0;
    size_t more = l->kind == VIEW_MESSAGE || l->kind == VIEW_OWN ? VIEW_INDENT : 0;
    if (cols <= more)
        cols = more + 1;
    while (i < l->len) {
        if (l->text[i] == '\n' || width == cols - indent) {
            row(l->text + start, i - start, indent, ctx);
            i += l->text[i] == '\n';
            start = i;
            width = 0;
            indent = more;
            continue;
        }
        i++;
        while (i < l->len && cont(l->text[i]))
            i++;
        width++;
    }
    row(l->text + start, i - start, indent, ctx);
}

static void count_row(const char *text, size_t len, size_t indent, void *ctx)
{
    (void)text;
    (void)len;
    (void)indent;
    (*(size_t *)ctx)++;
}

size_t view_rows(const view_line *l, size_t cols)
{
    size_t n = 0;
    view_wrap(l, cols, count_row, &n);
    return n;
}

int view_add(view_scrollback *s, view_kind kind, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (!s->lines && !(s->lines = calloc(VIEW_MAX_LINES, sizeof *s->lines))) {
        free(copy);
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    if (s->count == VIEW_MAX_LINES) {   /* the oldest goes */
        view_line *old = &s->lines[s->first];
        sodium_memzero(old->text, old->len);
        free(old->text);
        s->first = (s->first + 1) % VIEW_MAX_LINES;
        s->count--;
    }
    view_line *l = &s->lines[(s->first + s->count) % VIEW_MAX_LINES];
    l->kind = kind;
    l->text = copy;
    l->len = len;
    s->count++;
    /* A reader who scrolled back keeps seeing the same rows. */
    if (s->scroll)
        s->scroll += 1;
    return 0;
}

int view_add_error(view_scrollback *s, const chat_event *ev)
{
    char line[768];
    int n;
    if (strcmp(ev->code, CHAT_CODE_FORK_SUSPECTED) == 0)
        n = snprintf(line, sizeof line, "!! WARNING: the room may have forked in epoch %llu: %s. "
                     "Compare /verify with the other members over another channel; if the "
                     "fingerprints differ, stop trusting this room.",
                     (unsigned long long)ev->epoch, ev->message);
    else
        n = snprintf(line, sizeof line, "!! %s", ev->message);
    int rc = n < 0 ? -1 : view_add(s, VIEW_ERROR, line, (size_t)n < sizeof line ? (size_t)n
                                                                             : sizeof line - 1);
    sodium_memzero(line, sizeof line);
    return rc;
}

void view_page_up(view_scrollback *s, size_t rows, size_t cols)
{
    size_t total = 0;
    for (size_t i = 0; i < s->count; i++)
        total += view_rows(view_line_at(s, i), cols);
    size_t most = total > rows ? total - rows : 0;
    s->scroll = s->scroll + rows > most ? most : s->scroll + rows;
}

void view_page_down(view_scrollback *s, size_t rows)
{
    s->scroll = s->scroll > rows ? s->scroll - rows : 0;
}

/* ---- the input line --------------------------------------------------------------- */

void view_input_clear(view_input *in)
{
    sodium_memzero(in->buf, sizeof in->buf);
    in->len = in->cursor = 0;
}

int view_input_insert(view_input *in, const char *text, size_t len)
{
    if (len > CHAT_TEXT_MAX - in->len || !chat_utf8_ok(text, len, "\t"))
        return -1;
    memmove(in->buf + in->cursor + len, in->buf + in->cursor, in->len - in->cursor);
    memcpy(in->buf + in->cursor, text, len);
    in->len += len;
    in->cursor += len;
    in->buf[in->len] = 0;
    return 0;
}

static size_t prev(const view_input *in, size_t at)
{
    if (at == 0)
        return 0;
    at--;
    while (at > 0 && cont(in->buf[at]))
        at--;
    return at;
}

static size_t next(const view_input *in, size_t at)
{
    if (at >= in->len)
        return in->len;
    at++;
    while (at < in->len && cont(in->buf[at]))
        at++;
    return at;
}

/* Removes bytes [from, to). */
static void cut(view_input *in, size_t from, size_t to)
{
    memmove(in->buf + from, in->buf + to, in->len - to);
    in->len -= to - from;
    sodium_memzero(in->buf + in->len, to - from);
    in->cursor = from;
}

void view_input_backspace(view_input *in)
{
    cut(in, prev(in, in->cursor), in->cursor);
}

void view_input_delete(view_input *in)
{
    size_t at = in->cursor;
    cut(in, at, next(in, at));
}

void view_input_left(view_input *in) { in->cursor = prev(in, in->cursor); }
void view_input_right(view_input *in) { in->cursor = next(in, in->cursor); }
void view_input_home(view_input *in) { in->cursor = 0; }
void view_input_end(view_input *in) { in->cursor = in->len; }
void view_input_kill_to_start(view_input *in) { cut(in, 0, in->cursor); }

void view_input_kill_to_end(view_input *in)
{
    size_t at = in->cursor;
    cut(in, at, in->len);
    in->cursor = at;
}

void view_input_kill_word(view_input *in)
{
    size_t at = in->cursor;
    while (at > 0 && (in->buf[at - 1] == ' ' || in->buf[at - 1] == '\t'))
        at--;
    while (at > 0 && in->buf[at - 1] != ' ' && in->buf[at - 1] != '\t')
        at = prev(in, at);
    cut(in, at, in->cursor);
}

/*
 * tui/tui.c: the ncurses front end of tui/tui.h.
 *
 * Everything happens in libuv callbacks: session events add lines to the
 * scrollback, keys edit the input line, and after each batch the whole
 * screen is drawn again from the model (ncurses sends only what changed).
 * Drawing is O(rows on screen), plus the rows of the lines scrolled past.
 */
#define _XOPEN_SOURCE 700          /* wcwidth */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "tui/tui.h"
#include "tui/view.h"

#define PROMPT "> "
#define PROMPT_COLS 2
#define NSIGNALS 4

enum { PAIR_SYSTEM = 1, PAIR_ERROR };

struct chat_tui {
    uv_loop_t loop;
    chat_client *client;
    SCREEN *screen;
    uv_poll_t keys;
    uv_signal_t sig[NSIGNALS];     /* SIGINT, SIGTERM, SIGHUP: quit; SIGWINCH: redraw */
    int keys_open, done, exit_code;
    const char *term_error;         /* the terminal could not be used: why */
    char nick[CHAT_NICK_MAX + 1];
    char error[CHAT_TUI_ERROR_MAX];  /* the last error sentence, for the caller */
    view_scrollback sb;
    view_input in;
    size_t in_first;                /* the input line's first code point on screen */
};
typedef chat_tui tui;

static const int signals[NSIGNALS] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };

/* ---- text to cells ---------------------------------------------------------------- */

/* One code point for the screen (its length); malformed UTF-8 is a '?'
 * per byte, though what is shown was checked before. */
static size_t utf8_next(wchar_t *wc, const char *s, size_t n)
{
    uint32_t cp;
    size_t len = chat_utf8_decode(&cp, s, n);
    *wc = len ? (wchar_t)cp : L'?';
    return len ? len : 1;
}

/* What a code point looks like on screen: a tab is a space (curses would
 * jump to a tab stop), anything the terminal cannot print safely is '?'.
 * Nothing a member sends can reach the terminal as a control sequence. */
static wchar_t shown(wchar_t wc, int *width)
{
    if (wc == L'\t')
        wc = L' ';
    if (wc < 0x20 || (wc >= 0x7f && wc < 0xa0) || (*width = wcwidth(wc)) < 0) {
        *width = 1;
        return L'?';
    }
    return wc;
}

/* Draws text at the cursor in at most cols cells; returns the cells used. */
static int put_text(const char *s, size_t len, int cols)
{
    int used = 0, w;
    wchar_t wc;
    for (size_t i = 0; i < len;) {
        i += utf8_next(&wc, s + i, len - i);
        wc = shown(wc, &w);
        if (used + w > cols)
            break;
        addnwstr(&wc, 1);
        used += w;
    }
    return used;
}

static int has_wide(const view_line *l)
{
    wchar_t wc;
    for (size_t i = 0; i < l->len;) {
        i += utf8_next(&wc, l->text + i, l->len - i);
        if (wc >= 0x1100 && wcwidth(wc) > 1)
            return 1;
    }
    return 0;
}

/* view.h cuts lines by code points; a line with wide characters is cut at
 * half the width so that its rows still fit. */
static size_t wrap_cols(const view_line *l, int cols)
{
    size_t c = cols > 1 ? (size_t)cols : 1;
    return has_wide(l) && c > 1 ? c / 2 : c;
}

/* ---- drawing ---------------------------------------------------------------------- */

typedef struct {
    int y, rows, cols;
    attr_t attr;
    short pair;
} row_ctx;

static void draw_row(const char *text, size_t len, size_t indent, void *ctx)
{
    row_ctx *r = ctx;
    if (r->y >= 0 && r->y < r->rows) {
        move(r->y, (int)indent);
        attr_set(r->attr, r->pair, NULL);
        put_text(text, len, r->cols - (int)indent);
        attr_set(A_NORMAL, 0, NULL);
    }
    r->y++;
}

/* The scrollback fills rows 0 .. rows-1, its newest row at the bottom
 * unless the reader scrolled back. */
static void draw_scrollback(tui *t, int rows, int cols)
{
    size_t below = 0, top = (size_t)rows + t->sb.scroll;   /* rows from the bottom */
    for (size_t i = t->sb.count; i-- > 0 && below < top;) {
        const view_line *l = view_line_at(&t->sb, i);
        size_t wc = wrap_cols(l, cols), n = view_rows(l, wc);
        row_ctx r = { .y = rows - (int)(below + n) + (int)t->sb.scroll, .rows = rows, .cols = cols };
        r.attr = l->kind == VIEW_OWN ? A_BOLD : l->kind == VIEW_ERROR ? A_BOLD : A_NORMAL;
        r.pair = l->kind == VIEW_SYSTEM ? PAIR_SYSTEM : l->kind == VIEW_ERROR ? PAIR_ERROR : 0;
        if (!has_colors())
            r.pair = 0;
        view_wrap(l, wc, draw_row, &r);
        below += n;
    }
}

static const char *state_name(chat_conn_state s)
{
    switch (s) {
    case CHAT_CONNECTING: return "connecting";
    case CHAT_JOINING: return "joining";
    case CHAT_ONLINE: return "online";
    case CHAT_RECONNECTING: return "reconnecting";
    default: return "closed";
    }
}

/* " lab | epoch 4 | 3 members | room 1a2b 3c4d 5e6f 7a8b | online | alice " */
static void draw_status(tui *t, int y, int cols)
{
    chat_status st;
    char fp[CHAT_FINGERPRINT_LEN + 1], line[160];
    int used = 0;
    chat_client_status(&st, t->client);
    chat_fingerprint(fp, st.room_id);
    move(y, 0);
    attr_set(A_REVERSE, 0, NULL);
    used += put_text(" ", 1, cols - used);
    if (st.name) {
        used += put_text(st.name, st.namelen, cols - used);
        used += put_text(" | ", 3, cols - used);
    }
    if (st.state == CHAT_ONLINE)
        snprintf(line, sizeof line, "epoch %llu | %u member%s | room %s | %s | ",
                 (unsigned long long)st.epoch, st.members, st.members == 1 ? "" : "s", fp,
                 state_name(st.state));
    else
        snprintf(line, sizeof line, "room %s | %s | ", fp, state_name(st.state));
    used += put_text(line, strlen(line), cols - used);
    used += put_text(t->nick, strlen(t->nick), cols - used);
    if (t->sb.scroll)
        used += put_text(" | PgDn for newer", 17, cols - used);
    while (used < cols)
        used += put_text(" ", 1, cols - used);
    attr_set(A_NORMAL, 0, NULL);
}

/* The input line scrolls sideways to keep the cursor on screen. */
static void draw_input(tui *t, int y, int cols)
{
    int avail = cols - PROMPT_COLS - 1, w, cells = 0, cx;
    size_t cursor_cp = 0, i, cp;
    wchar_t wc;
    if (avail < 1)
        avail = 1;
    for (i = 0; i < t->in.cursor; i += utf8_next(&wc, t->in.buf + i, t->in.len - i))
        cursor_cp++;
    if (t->in_first > cursor_cp)
        t->in_first = cursor_cp;
    /* cells from the first shown code point to the cursor */
    size_t first_byte = 0;
    for (cp = 0, i = 0; i < t->in.cursor; cp++) {
        size_t n = utf8_next(&wc, t->in.buf + i, t->in.len - i);
        if (cp < t->in_first) {
            first_byte = i + n;
        } else {
            shown(wc, &w);
            cells += w;
        }
        i += n;
    }
    while (cells >= avail && t->in_first < cursor_cp) {
        first_byte += utf8_next(&wc, t->in.buf + first_byte, t->in.len - first_byte);
        shown(wc, &w);
        cells -= w;
        t->in_first++;
    }
    move(y, 0);
    addstr(PROMPT);
    put_text(t->in.buf + first_byte, t->in.len - first_byte, cols - PROMPT_COLS);
    clrtoeol();
    cx = PROMPT_COLS + cells;
    move(y, cx < cols ? cx : cols - 1);
}

static void draw(tui *t)
{
    int rows = LINES, cols = COLS;
    if (t->done || !t->screen || rows < 1 || cols < 1)
        return;
    erase();
    if (rows >= 3)
        draw_scrollback(t, rows - 2, cols);
    if (rows >= 2)
        draw_status(t, rows - 2, cols);
    draw_input(t, rows - 1, cols);
    refresh();
}

/* ---- lines ---------------------------------------------------------------------------- */

static void add_line(tui *t, view_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_line(tui *t, view_kind kind, const char *fmt, ...)
{
    char line[CHAT_TUI_ERROR_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)view_add(&t->sb, kind, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    sodium_memzero(line, sizeof line);
}

/* "[1a2b 3c4d 5e6f 7a8b] alice: text" (the pseudonym first: the nick is
 * self-chosen, and two members may choose one), or "alice (you): text";
 * nick and text as chat_displayable makes them (no control, bidirectional
 * or invisible character; a newline in the text starts an indented row). */
static void add_message(tui *t, const chat_event *ev)
{
    char who[CHAT_FINGERPRINT_LEN + 4] = "";
    size_t wholen = 0;
    if (!ev->own && ev->leaf) {
        char fp[CHAT_FINGERPRINT_LEN + 1];
        chat_fingerprint(fp, ev->leaf);
        wholen = (size_t)snprintf(who, sizeof who, "[%s] ", fp);
    }
    const char *sep = ev->own ? " (you): " : ": ";
    size_t seplen = strlen(sep), cap = wholen + 3 * ev->nicklen + seplen + 3 * ev->textlen, n;
    char *line = malloc(cap ? cap : 1);
    if (!line) {
        add_line(t, VIEW_ERROR, "!! out of memory: a message is not shown");
        return;
    }
    memcpy(line, who, wholen);
    n = wholen + chat_displayable(line + wholen, ev->nick, ev->nicklen, "");
    memcpy(line + n, sep, seplen);
    n += seplen;
    n += chat_displayable(line + n, ev->text, ev->textlen, "\n\t");
    if (view_add(&t->sb, ev->own ? VIEW_OWN : VIEW_MESSAGE, line, n) != 0)
        add_line(t, VIEW_ERROR, "!! out of memory: a message is not shown");
    sodium_memzero(line, cap);
    free(line);
}

static void stop(tui *t);

static void on_event(void *ctx, const chat_event *ev)
{
    tui *t = ctx;
    char fp[CHAT_FINGERPRINT_LEN + 1] = "?";
    if (ev->leaf)
        chat_fingerprint(fp, ev->leaf);
    switch (ev->kind) {
    case CHAT_EV_SENT:
        break;   /* a person types more slowly than the relay stores */
    case CHAT_EV_JOINED:
        if (ev->peer) {
            add_line(t, VIEW_SYSTEM, "-- %s (%s)", ev->peer,
                     ev->authenticated ? "authenticated by the authority" : "not authenticated");
            break;
        }
        add_line(t, VIEW_SYSTEM, "-- you are in the room: %u member%s, epoch %llu", ev->members,
                 ev->members == 1 ? "" : "s", (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_EPOCH:
        break;   /* the status line shows it; ADDED and REMOVED said why */
    case CHAT_EV_MESSAGE:
        add_message(t, ev);
        break;
    case CHAT_EV_ADDED:
        add_line(t, VIEW_SYSTEM, "-- a member joined (%s): %u members, epoch %llu", fp,
                 ev->members, (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_REMOVED:
        if (ev->nicklen) {
            char nick[3 * CHAT_NICK_MAX];
            size_t n = chat_displayable(nick, ev->nick,
                                        ev->nicklen < CHAT_NICK_MAX ? ev->nicklen : CHAT_NICK_MAX, "");
            add_line(t, VIEW_SYSTEM, "-- %.*s (%s) left: %u member%s, epoch %llu", (int)n, nick, fp,
                     ev->members, ev->members == 1 ? "" : "s", (unsigned long long)ev->epoch);
        }
        else
            add_line(t, VIEW_SYSTEM, "-- a member left (%s): %u member%s, epoch %llu", fp,
                     ev->members, ev->members == 1 ? "" : "s", (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_ERROR:
        snprintf(t->error, sizeof t->error, "%s", ev->message);
        if (view_add_error(&t->sb, ev) != 0)
            add_line(t, VIEW_ERROR, "!! out of memory: an error is not shown");
        break;
    case CHAT_EV_LEFT:
        if (ev->code)
            add_line(t, VIEW_SYSTEM, "-- you left the room: %s", ev->message);
        else
            add_line(t, VIEW_SYSTEM, "-- you left the room");
        break;
    case CHAT_EV_KICKED:
        if (ev->own)
            add_line(t, VIEW_ERROR, "!! the room's admin removed you: %.*s", (int)ev->textlen,
                     ev->text);
        else
            add_line(t, VIEW_SYSTEM, "-- the room's admin kicked %s: %.*s", fp, (int)ev->textlen,
                     ev->text);
        break;
    case CHAT_EV_POLICY:
        add_line(t, VIEW_SYSTEM, "-- the room's policy is now: %.*s (epoch %llu)",
                 (int)ev->textlen, ev->text, (unsigned long long)ev->epoch);
        break;
    case CHAT_EV_CONNECTION:
        add_line(t, VIEW_SYSTEM, "-- %s", ev->message);
        break;
    case CHAT_EV_DONE:
        t->exit_code = ev->exit_code;
        if (ev->exit_code == 0)
            t->error[0] = 0;   /* what went wrong on the way did not end the session */
        stop(t);
        return;
    }
    draw(t);
}

/* ---- commands ---------------------------------------------------------------------------- */

static void help(tui *t)
{
    static const char *const lines[] = {
        "-- /who          the members: pseudonym (from its key) and the last nickname seen",
        "-- /verify       the epoch's fingerprint: the same at every member (compare it)",
        "-- /nick NAME    the nickname on your next messages",
        "-- /leave        leave the room (another member commits your removal), then quit",
        "-- /quit         disconnect; the relay keeps your place for a while (also ^C)",
        "-- //text        send a line that starts with /",
        "-- keys: Enter sends; Left Right Home End ^A ^E, Backspace Delete ^U ^K ^W edit;",
        "--       PgUp PgDn scroll; ^L redraws",
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(lines); i++)
        (void)view_add(&t->sb, VIEW_SYSTEM, lines[i], strlen(lines[i]));
}

/* /who and /verify: 0 if in the room (st filled), else said. */
static int online(tui *t, chat_status *st)
{
    chat_client_status(st, t->client);
    if (st->state == CHAT_ONLINE)
        return 0;
    add_line(t, VIEW_SYSTEM, "-- not in the room (%s)", state_name(st->state));
    return -1;
}

static void who(tui *t)
{
    chat_status st;
    chat_member m;
    if (online(t, &st) != 0)
        return;
    add_line(t, VIEW_SYSTEM, "-- %u member%s in epoch %llu:", st.members, st.members == 1 ? "" : "s",
             (unsigned long long)st.epoch);
    for (uint32_t i = 0; i < st.members; i++)
        if (chat_client_member(&m, t->client, i) == 0) {
            char nick[3 * CHAT_NICK_MAX];
            size_t len = strlen(m.nick);
            len = chat_displayable(nick, m.nick, len < CHAT_NICK_MAX ? len : CHAT_NICK_MAX, "");
            add_line(t, VIEW_SYSTEM, "--   %s  %.*s%s", m.pseudonym, (int)(len ? len : 16),
                     len ? nick : "(no message yet)", m.own ? " (you)" : "");
        }
}

/* The epoch's fingerprint, for people to compare (chat_client_verify). */
static void verify(tui *t)
{
    chat_status st;
    chat_verify v;
    if (online(t, &st) != 0)
        return;
    if (chat_client_verify(&v, t->client) != FKEX_OK) {
        add_line(t, VIEW_SYSTEM, "-- this room's mode has no epoch fingerprint");
        return;
    }
    add_line(t, VIEW_SYSTEM, "-- epoch %llu fingerprint: %s", (unsigned long long)v.epoch,
             v.fingerprint);
    add_line(t, VIEW_SYSTEM, "--   every member of the epoch sees the same; a different one "
             "means the room forked");
}

static void command(tui *t, const char *line)
{
    const char *arg = strchr(line, ' ');
    size_t namelen = arg ? (size_t)(arg - line) : strlen(line);
    while (arg && *arg == ' ')
        arg++;
#define IS(name) (namelen == sizeof name - 1 && memcmp(line, name, namelen) == 0)
    if (IS("/help")) {
        help(t);
    } else if (IS("/who")) {
        who(t);
    } else if (IS("/verify")) {
        verify(t);
    } else if (IS("/nick")) {
        if (!arg || !*arg)
            add_line(t, VIEW_SYSTEM, "-- you are %s; /nick NAME changes it", t->nick);
        else if (chat_client_set_nick(t->client, arg) != FKEX_OK)
            add_line(t, VIEW_ERROR, "!! a nickname is 1 to %d bytes without control, "
                     "bidirectional or invisible characters", CHAT_NICK_MAX);
        else {
            snprintf(t->nick, sizeof t->nick, "%s", arg);
            add_line(t, VIEW_SYSTEM, "-- your next messages carry the nickname %s", t->nick);
        }
    } else if (IS("/leave")) {
        add_line(t, VIEW_SYSTEM, "-- leaving: another member commits your removal");
        chat_client_leave(t->client);
    } else if (IS("/quit")) {
        chat_client_quit(t->client);
    } else {
        add_line(t, VIEW_ERROR, "!! unknown command %.*s: /help lists them", (int)namelen, line);
    }
#undef IS
}

static void enter(tui *t)
{
    const char *s = t->in.buf;
    if (t->in.len == 0)
        return;
    if (s[0] == '/' && s[1] != '/')
        command(t, s);
    else
        chat_client_send(t->client, s[0] == '/' ? s + 1 : s, s[0] == '/' ? t->in.len - 1 : t->in.len);
    view_input_clear(&t->in);
    t->in_first = 0;
}

/* ---- keys -------------------------------------------------------------------------------- */

#define KEY_CTRL(c) ((c) & 0x1f)

static void on_key(tui *t, int is_key, wint_t k)
{
    int page = LINES > 3 ? LINES - 2 : 1;
    char utf8[4];
    if (is_key) {
        switch (k) {
        case KEY_LEFT: view_input_left(&t->in); break;
        case KEY_RIGHT: view_input_right(&t->in); break;
        case KEY_HOME: view_input_home(&t->in); break;
        case KEY_END: view_input_end(&t->in); break;
        case KEY_BACKSPACE: view_input_backspace(&t->in); break;
        case KEY_DC: view_input_delete(&t->in); break;
        case KEY_PPAGE: view_page_up(&t->sb, (size_t)page, (size_t)(COLS > 0 ? COLS : 1)); break;
        case KEY_NPAGE: view_page_down(&t->sb, (size_t)page); break;
        case KEY_ENTER: enter(t); break;
        default: break;   /* KEY_RESIZE and the rest: the redraw that follows */
        }
        return;
    }
    switch (k) {
    case '\r': case '\n': enter(t); break;
    case KEY_CTRL('A'): view_input_home(&t->in); break;
    case KEY_CTRL('E'): view_input_end(&t->in); break;
    case KEY_CTRL('B'): view_input_left(&t->in); break;
    case KEY_CTRL('F'): view_input_right(&t->in); break;
    case KEY_CTRL('D'): view_input_delete(&t->in); break;
    case KEY_CTRL('H'): case 0x7f: view_input_backspace(&t->in); break;
    case KEY_CTRL('U'): view_input_kill_to_start(&t->in); break;
    case KEY_CTRL('K'): view_input_kill_to_end(&t->in); break;
    case KEY_CTRL('W'): view_input_kill_word(&t->in); break;
    case KEY_CTRL('L'): clearok(curscr, TRUE); break;
    case KEY_CTRL('C'): chat_client_quit(t->client); break;
    default:
        if (k >= 0x20 && k != 0x7f && k <= 0x10ffff) {
            size_t n = chat_utf8_encode(utf8, (uint32_t)k);
            if (view_input_insert(&t->in, utf8, n) != 0)
                beep();   /* full, or not text */
            sodium_memzero(utf8, sizeof utf8);
        }
        break;
    }
}

/* Poll says readable but no key came: is the terminal gone (hangup)? */
static int terminal_gone(void)
{
    struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static void on_keys(uv_poll_t *h, int status, int events)
{
    tui *t = h->data;
    wint_t k;
    int r, got = 0;
    (void)events;
    while (!t->done && status == 0 && (r = wget_wch(stdscr, &k)) != ERR) {
        got = 1;
        on_key(t, r == KEY_CODE_YES, k);
    }
    if (t->done)
        return;
    if (status != 0 || (!got && terminal_gone())) {
        uv_poll_stop(h);   /* else it would fire again at once, forever */
        chat_client_quit(t->client);
    }
    draw(t);
}

/* ---- signals and the end ----------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum)
{
    tui *t = h->data;
    struct winsize ws;
    if (signum != SIGWINCH) {
        chat_client_quit(t->client);
        return;
    }
    if (!t->keys_open)
        return;
    if ( ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
        resizeterm(ws.ws_row, ws.ws_col);
    on_keys(&t->keys, 0, 0);   /* a KEY_RESIZE may wait there; draws */
}

static void stop(tui *t)
{
    t->done = 1;
    if (t->keys_open)
        uv_close((uv_handle_t *)&t->keys, NULL);
    t->keys_open = 0;
    for (int i = 0; i < NSIGNALS; i++)
        if (!uv_is_closing((uv_handle_t *)&t->sig[i]))
            uv_close((uv_handle_t *)&t->sig[i], NULL);
}

/* Curses on the terminal. libuv's signal handlers come first, so ncurses
 * leaves SIGINT, SIGTERM and SIGWINCH to the loop. 0, or -1 if the
 * terminal cannot be used. */
static int screen_open(tui *t)
{
    setlocale(LC_ALL, "");
    if ((t->screen = newterm(NULL, stdout, stdin)) == NULL)
        return -1;
    raw();          /* ^C, ^W, ^U... come to us as keys */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(PAIR_SYSTEM, COLOR_CYAN, -1);
        init_pair(PAIR_ERROR, COLOR_RED, -1);
    }
    return 0;
}

static void screen_close(tui *t)
{
    if (!t->screen)
        return;
    erase();        /* the room's plaintext leaves ncurses' buffers */
    refresh();
    endwin();
    delscreen(t->screen);
    t->screen = NULL;
}

static void tui_free(tui *t)
{
    (void)uv_loop_close(&t->loop);
    chat_client_free(t->client);
    view_scrollback_free(&t->sb);
    sodium_memzero(t, sizeof *t);
    free(t);
}

fkex_err chat_tui_start(chat_tui **out, const chat_client_config *cfg)
{
    tui *t = calloc(1, sizeof *t);
    fkex_err err;
    *out = NULL;
    if (!t || uv_loop_init(&t->loop) != 0) {
        free(t);
        return FKEX_ERR_NO_MEMORY;
    }
    chat_client_config c = *cfg;
    c.on_event = on_event;
    c.ctx = t;
    snprintf(t->nick, sizeof t->nick, "%s", cfg->nick ? cfg->nick : "");
    view_scrollback_init(&t->sb);
    view_input_clear(&t->in);
    if ((err = chat_client_start(&t->client, &t->loop, &c)) != FKEX_OK) {
        uv_run(&t->loop, UV_RUN_DEFAULT);
        tui_free(t);
        return err;
    }
    for (int i = 0; i < NSIGNALS; i++) {
        uv_signal_init(&t->loop, &t->sig[i]);
        t->sig[i].data = t;
        uv_signal_start(&t->sig[i], on_signal, signals[i]);
    }
    add_line(t, VIEW_SYSTEM, "-- connecting to %s; /help lists the commands", cfg->relay);
    *out = t;
    return FKEX_OK;
}

int chat_tui_run(chat_tui *t, char error[CHAT_TUI_ERROR_MAX])
{
    if (screen_open(t) != 0) {
        t->term_error = "ncurses does not know this terminal (see TERM)";
        chat_client_quit(t->client);
    } else if (uv_poll_init(&t->loop, &t->keys, STDIN_FILENO) == 0) {
        t->keys_open = 1;
        t->keys.data = t;
        uv_poll_start(&t->keys, UV_READABLE, on_keys);
        draw(t);
    } else {
        t->term_error = "cannot poll the terminal for keys";
        chat_client_quit(t->client);
    }
    uv_run(&t->loop, UV_RUN_DEFAULT);
    screen_close(t);
    int code = t->term_error ? 2 : t->exit_code;
    snprintf(error, CHAT_TUI_ERROR_MAX, "%s", t->term_error ? t->term_error : t->error);
    tui_free(t);
    return code;
}

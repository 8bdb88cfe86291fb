/*
 * The chat client's parsers: message content (from other members) and the
 * --batch JSON lines (from scripts): round trips, limits and refusals.
 * And what makes a fork visible (chat/verify.h): the epoch fingerprint,
 * which refusals are reported, their counting, and the fork warning as
 * the batch and terminal front ends show it.
 */
#include <stdlib.h>
#include "test.h"
#include "chat/chat.h"
#include "chat/verify.h"
#include "tui/view.h"

static void test_content_round_trip(void)
{
    static const char text[] = "hello\n\tworld \xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82";
    chat_content c = { "alice", 5, text, sizeof text - 1, 1764115200123ull }, d;
    uint8_t *b;
    size_t n;
    CHECK_OK(chat_content_encode(&b, &n, &c));
    CHECK_OK(chat_content_decode(&d, b, n));
    CHECK(d.nicklen == 5 && memcmp(d.nick, "alice", 5) == 0);
    CHECK(d.textlen == c.textlen && memcmp(d.text, c.text, c.textlen) == 0);
    CHECK(d.sent_ms == c.sent_ms);
    /* Every truncation and any trailing byte are refused. */
    for (size_t i = 0; i < n; i++)
        CHECK(chat_content_decode(&d, b, i) != FKEX_OK);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    CHECK_ERR(chat_content_decode(&d, longer, n + 1), FKEX_ERR_BAD_ENCODING);
    b[0] = 2;
    CHECK_ERR(chat_content_decode(&d, b, n), FKEX_ERR_UNSUPPORTED);
    free(longer);
    free(b);
    /* An empty text is a message; an empty nickname is not. */
    chat_content e = { "bob", 3, "", 0, 0 };
    CHECK_OK(chat_content_encode(&b, &n, &e));
    free(b);
    e.nicklen = 0;
    CHECK_ERR(chat_content_encode(&b, &n, &e), FKEX_ERR_ARGUMENT);
}

static void test_content_refusals(void)
{
    static const char *const bad[] = {
        "\xc0\xaf",               /* overlong '/' */
        "\xe0\x80\xaf",           /* overlong */
        "\xed\xa0\x80",           /* a surrogate */
        "\xf4\x90\x80\x80",       /* past U+10FFFF */
        "\xc3",                   /* truncated */
        "\x80",                   /* a lone continuation byte */
        "\x1b[2J",                /* ESC: a terminal escape */
        "\xc2\x9b" "2J",          /* C1 CSI */
        "a\rb",                   /* carriage return */
        "\x7f",                   /* DEL */
    };
    for (size_t i = 0; i < FKEX_ARRAY_LEN(bad); i++) {
        chat_content c = { "eve", 3, bad[i], strlen(bad[i]), 0 };
        uint8_t *b;
        size_t n;
        CHECK_ERR(chat_content_encode(&b, &n, &c), FKEX_ERR_ARGUMENT);
        /* The same bytes arriving from a member are refused too. */
        fkex_writer w;
        chat_content d;
        fkex_writer_init(&w);
        fkex_writer_u8(&w, 1);
        fkex_writer_bytes16(&w, "eve", 3);
        fkex_writer_bytes16(&w, bad[i], strlen(bad[i]));
        fkex_writer_u64(&w, 0);
        CHECK_ERR(chat_content_decode(&d, w.buf, w.len), FKEX_ERR_BAD_ENCODING);
        fkex_writer_free(&w);
    }
    /* A nickname takes no newline; limits hold. */
    chat_content c = { "a\nb", 3, "x", 1, 0 };
    uint8_t *b;
    size_t n;
    CHECK_ERR(chat_content_encode(&b, &n, &c), FKEX_ERR_ARGUMENT);
    char big[CHAT_TEXT_MAX + 2];
    memset(big, 'x', sizeof big);
    chat_content t = { "a", 1, big, CHAT_TEXT_MAX, 0 };
    CHECK_OK(chat_content_encode(&b, &n, &t));
    free(b);
    t.textlen = CHAT_TEXT_MAX + 1;
    CHECK_ERR(chat_content_encode(&b, &n, &t), FKEX_ERR_ARGUMENT);
    chat_content k = { big, CHAT_NICK_MAX + 1, "x", 1, 0 };
    CHECK_ERR(chat_content_encode(&b, &n, &k), FKEX_ERR_ARGUMENT);
}

static int parses(const char *line, chat_cmd_kind kind, const char *text)
{
    chat_cmd c;
    char err[96];
    if (chat_cmd_parse(&c, line, strlen(line), err) != FKEX_OK) {
        fprintf(stderr, "    %s: %s\n", line, err);
        return 0;
    }
    return c.kind == kind && (!text || (c.textlen == strlen(text) && strcmp(c.text, text) == 0));
}

static int refused(const char *line)
{
    chat_cmd c;
    char err[96];
    return chat_cmd_parse(&c, line, strlen(line), err) != FKEX_OK && err[0] != 0;
}

static void test_json_commands(void)
{
    CHECK(parses("{\"send\": \"hello\"}", CHAT_CMD_SEND, "hello"));
    CHECK(parses("  { \"send\" :\"\" }  ", CHAT_CMD_SEND, ""));
    CHECK(parses("{\"cmd\": \"leave\"}", CHAT_CMD_LEAVE, NULL));
    CHECK(parses("{\"cmd\":\"quit\"}", CHAT_CMD_QUIT, NULL));
    CHECK(parses("{\"cmd\": \"verify\"}", CHAT_CMD_VERIFY, NULL));
    CHECK(parses("{\"cmd\": \"who\"}", CHAT_CMD_WHO, NULL));
    CHECK(parses("{\"send\": \"a\\\"b\\\\c\\/d\\n\\te\"}", CHAT_CMD_SEND, "a\"b\\c/d\n\te"));
    CHECK(parses("{\"send\": \"\\u00e9\\u20ac\\ud83d\\ude42\"}", CHAT_CMD_SEND,
                 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x99\x82"));
    CHECK(parses("{\"send\": \"caf\xc3\xa9\"}", CHAT_CMD_SEND, "caf\xc3\xa9"));
    CHECK(refused(""));
    CHECK(refused("[]"));
    CHECK(refused("{}"));
    CHECK(refused("{\"send\": 5}"));
    CHECK(refused("{\"send\": \"x\""));
    CHECK(refused("{\"send\": \"x\"} {"));
    CHECK(refused("{\"send\": \"x\", \"cmd\": \"quit\"}"));
    CHECK(refused("{\"cmd\": \"dance\"}"));
    CHECK(refused("{\"shout\": \"x\"}"));
    CHECK(refused("{\"send\": \"\\ud83d\"}"));       /* lone high surrogate */
    CHECK(refused("{\"send\": \"\\ude42\"}"));       /* lone low surrogate */
    CHECK(refused("{\"send\": \"\\u00\"}"));
    CHECK(refused("{\"send\": \"\\x41\"}"));
    CHECK(refused("{\"send\": \"\\u001b[2J\"}"));    /* a terminal escape */
    CHECK(refused("{\"send\": \"a\tb\"}"));           /* raw control in a string */
    CHECK(refused("{\"send\": \"\xc0\xaf\"}"));       /* overlong UTF-8 */
    /* The text limit. */
    size_t n = CHAT_TEXT_MAX + 20;
    char *line = malloc(n + 1);
    memcpy(line, "{\"send\": \"", 10);
    memset(line + 10, 'x', CHAT_TEXT_MAX + 1);
    memcpy(line + 11 + CHAT_TEXT_MAX, "\"}", 3);
    chat_cmd c;
    char err[96];
    CHECK_ERR(chat_cmd_parse(&c, line, strlen(line), err), FKEX_ERR_ARGUMENT);
    line[10 + CHAT_TEXT_MAX] = '"';
    line[11 + CHAT_TEXT_MAX] = '}';
    CHECK_OK(chat_cmd_parse(&c, line, 12 + CHAT_TEXT_MAX, err));
    CHECK(c.textlen == CHAT_TEXT_MAX);
    free(line);
}

/* Nicks: no control, bidirectional or invisible character. What is drawn
 * has each of those (and every bad byte) as U+FFFD, newlines kept only
 * where allowed. */
static void test_nick_and_display(void)
{
    char out[64];
    CHECK(chat_nick_ok("alice", 5) && chat_nick_ok("\xc3\xa9mile", 6));
    CHECK(!chat_nick_ok("", 0) && !chat_nick_ok("a\nb", 3) && !chat_nick_ok("a\tb", 3));
    CHECK(!chat_nick_ok("eve\xe2\x80\xae", 6) && !chat_nick_ok("\xe2\x81\xa6x", 4));
    CHECK(!chat_nick_ok("al\xe2\x80\x8bice", 8) && !chat_nick_ok("\xef\xbb\xbfx", 4));
    CHECK(!chat_nick_ok("\xd8\x9cx", 3));   /* U+061C, the Arabic letter mark */
    size_t n = chat_displayable(out, "a\xe2\x80\xae" "b\nc\x01\xff", 9, "\n");
    CHECK(n == 13 && memcmp(out, "a\xef\xbf\xbd" "b\nc\xef\xbf\xbd\xef\xbf\xbd", n) == 0);
    n = chat_displayable(out, "x\ny", 3, "");
    CHECK(n == 5 && memcmp(out, "x\xef\xbf\xbdy", n) == 0);
}

/* Whatever bytes a member's text holds, the escaped form is a JSON string
 * that parses back to it (invalid UTF-8 becoming U+FFFD). */
static void test_json_escape(void)
{
    char out[256], line[300];
    size_t n = chat_json_escape(out, sizeof out, "say \"hi\"\\\n\t\x01\x7f", 13);
    CHECK(n == strlen("say \\\"hi\\\"\\\\\\n\\t\\u0001\\u007f"));
    CHECK(memcmp(out, "say \\\"hi\\\"\\\\\\n\\t\\u0001\\u007f", n) == 0);
    n = chat_json_escape(out, sizeof out, "\xc3\xa9\xc3\x28\xf0\x9f\x99\x82", 8);
    CHECK(n == 2 + 3 + 1 + 4 && memcmp(out, "\xc3\xa9\xef\xbf\xbd(\xf0\x9f\x99\x82", n) == 0);
    CHECK(chat_json_escape(NULL, 0, "abc", 3) == 3);   /* measuring */
    /* a bidirectional override and a zero-width space come escaped */
    n = chat_json_escape(out, sizeof out, "a\xe2\x80\xae" "b\xe2\x80\x8b", 8);
    CHECK(n == 14 && memcmp(out, "a\\u202eb\\u200b", n) == 0);
    fkex_rng rng;
    test_rng(&rng, "json escape");
    for (int round = 0; round < 2000; round++) {
        uint8_t raw[40];
        fkex_rng_fill(&rng, raw, sizeof raw);
        size_t len = raw[0] % 40;
        n = chat_json_escape(out, sizeof out, (const char *)raw + 1, len > 39 ? 39 : len);
        CHECK(n < sizeof out);
        snprintf(line, sizeof line, "{\"send\": \"%.*s\"}", (int)n, out);
        chat_cmd c;
        char err[96];
        fkex_err e = chat_cmd_parse(&c, line, strlen(line), err);
        /* Escaped control characters other than \n and \t are refused as
         * input, which is right: everything else parses. */
        CHECK(e == FKEX_OK || strstr(err, "control") != NULL);
    }
}

/* ---- the screen's model -------------------------------------------------------- */

typedef struct {
    char rows[8][64];
    size_t indent[8];
    size_t n;
} rows_seen;

static void keep_row(const char *text, size_t len, size_t indent, void *ctx)
{
    rows_seen *r = ctx;
    if (r->n < 8) {
        r->indent[r->n] = indent;
        snprintf(r->rows[r->n++], 64, "%.*s", (int)len, text);
    }
}

static void test_view_wrap(void)
{
    view_line l = { VIEW_MESSAGE, "alice: h\xc3\xa9llo world\nbye", 0 };
    l.len = strlen(l.text);
    rows_seen r = { { { 0 } }, { 0 }, 0 };
    view_wrap(&l, 8, keep_row, &r);
    /* 8 code points on the first row (é is one), then 6 after an indent
     * of 2; a newline ends a row. */
    CHECK(r.n == 4);
    CHECK(strcmp(r.rows[0], "alice: h") == 0 && r.indent[0] == 0);
    CHECK(strcmp(r.rows[1], "\xc3\xa9llo w") == 0 && r.indent[1] == VIEW_INDENT);
    CHECK(strcmp(r.rows[2], "orld") == 0 && r.indent[2] == VIEW_INDENT);
    CHECK(strcmp(r.rows[3], "bye") == 0 && r.indent[3] == VIEW_INDENT);
    CHECK(view_rows(&l, 100) == 2);
    view_line empty = { VIEW_SYSTEM, "", 0 };
    CHECK(view_rows(&empty, 10) == 1);
    /* a system line is not indented; nothing a member sends starts a row
     * at the margin, where the interface's "-- " and "!! " lines start */
    view_line sys = { VIEW_SYSTEM, "-- a member joined\nsecond", 0 };
    sys.len = strlen(sys.text);
    memset(&r, 0, sizeof r);
    view_wrap(&sys, 40, keep_row, &r);
    CHECK(r.n == 2 && r.indent[0] == 0 && r.indent[1] == 0);
    view_line fake = { VIEW_MESSAGE, "[1a2b 3c4d 5e6f 7a8b] mallory: hi\n-- alice left", 0 };
    fake.len = strlen(fake.text);
    memset(&r, 0, sizeof r);
    view_wrap(&fake, 80, keep_row, &r);
    CHECK(r.n == 2 && strcmp(r.rows[1], "-- alice left") == 0 && r.indent[1] == VIEW_INDENT);
}

static void test_view_scrollback(void)
{
    view_scrollback s;
    view_scrollback_init(&s);
    char text[32];
    for (int i = 0; i < VIEW_MAX_LINES + 10; i++) {
        snprintf(text, sizeof text, "line %d", i);
        CHECK(view_add(&s, VIEW_MESSAGE, text, strlen(text)) == 0);
    }
    CHECK(s.count == VIEW_MAX_LINES);
    CHECK(strcmp(view_line_at(&s, 0)->text, "line 10") == 0);   /* the oldest went */
    CHECK(view_line_at(&s, VIEW_MAX_LINES) == NULL);
    /* Paging is bounded at both ends, and new lines keep a reader's place. */
    view_page_down(&s, 20);
    CHECK(s.scroll == 0);
    view_page_up(&s, 20, 80);
    CHECK(s.scroll == 20);
    CHECK(view_add(&s, VIEW_SYSTEM, "bob joined", 10) == 0);
    CHECK(s.scroll == 21);
    for (int i = 0; i < 1000; i++)
        view_page_up(&s, 20, 80);
    CHECK(s.scroll == VIEW_MAX_LINES - 20);
    view_page_down(&s, 1000000);
    CHECK(s.scroll == 0);
    view_scrollback_free(&s);
}

static void test_view_input(void)
{
    view_input in;
    view_input_clear(&in);
    CHECK(view_input_insert(&in, "hello wörld", strlen("hello wörld")) == 0);
    view_input_left(&in);                 /* before 'd' */
    view_input_left(&in);                 /* before 'l' */
    view_input_left(&in);                 /* before 'r' */
    view_input_backspace(&in);            /* removes 'ö' (two bytes) */
    CHECK(strcmp(in.buf, "hello wrld") == 0 && in.cursor == 7);
    CHECK(view_input_insert(&in, "o", 1) == 0);
    CHECK(strcmp(in.buf, "hello world") == 0);
    view_input_end(&in);
    view_input_kill_word(&in);
    CHECK(strcmp(in.buf, "hello ") == 0 && in.cursor == 6);
    view_input_home(&in);
    view_input_delete(&in);
    CHECK(strcmp(in.buf, "ello ") == 0 && in.cursor == 0);
    view_input_right(&in);
    view_input_kill_to_end(&in);
    CHECK(strcmp(in.buf, "e") == 0 && in.cursor == 1);
    view_input_kill_to_start(&in);
    CHECK(in.len == 0 && in.cursor == 0);
    /* Controls and bad UTF-8 never enter; nor does text past the limit. */
    CHECK(view_input_insert(&in, "\x1b[2J", 4) == -1);
    CHECK(view_input_insert(&in, "\xc3", 1) == -1);
    CHECK(in.len == 0);
    char big[CHAT_TEXT_MAX];
    memset(big, 'x', sizeof big);
    CHECK(view_input_insert(&in, big, sizeof big) == 0);
    CHECK(view_input_insert(&in, "y", 1) == -1);
    /* Moving at the ends stays put. */
    view_input_right(&in);
    CHECK(in.cursor == in.len);
    view_input_clear(&in);
    view_input_left(&in);
    view_input_backspace(&in);
    CHECK(in.cursor == 0 && in.len == 0);
}

/* ---- forks made visible (chat/verify.h) ---------------------------------------- */

/* 5 groups of 5 digits, a function of the fingerprint bytes alone, and
 * any bit of the authenticator they come from changes them. The known
 * answer pins the derivation (KDF-Expand(auth, "verify", ""), which
 * test_fork_detected ties to the ratchet), which members of
 * different builds must share. */
static void test_epoch_fingerprint(void)
{
    uint8_t auth[32], h[32];
    char fp[CHAT_EPOCH_FINGERPRINT_LEN + 1], again[sizeof fp], want[sizeof fp];
    for (int i = 0; i < 32; i++)
        auth[i] = (uint8_t)i;
    fkex_kdf_expand(h, auth, "verify", NULL, 0);
    chat_epoch_fingerprint(fp, h);
    CHECK(strlen(fp) == CHAT_EPOCH_FINGERPRINT_LEN);
    for (int i = 0; i < CHAT_EPOCH_FINGERPRINT_LEN; i++)
        CHECK(i % 6 == 5 ? fp[i] == ' ' : fp[i] >= '0' && fp[i] <= '9');
    /* the same reading, done here by hand */
    for (int g = 0; g < 5; g++) {
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = v << 8 | h[5 * g + i];
        snprintf(want + 6 * g, 7, g < 4 ? "%05u " : "%05u", (unsigned)(v % 100000));
    }
    CHECK(strcmp(fp, want) == 0);
    /* HMAC-SHA256(auth, "fkex v1 verify" 00 01), read in Python's hmac */
    CHECK(strcmp(fp, "16124 13880 28423 98413 99622") == 0);
    chat_epoch_fingerprint(again, h);
    CHECK(strcmp(fp, again) == 0);
    for (int bit = 0; bit < 256; bit += 37) {
        auth[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fkex_kdf_expand(h, auth, "verify", NULL, 0);
        chat_epoch_fingerprint(again, h);
        CHECK(strcmp(fp, again) != 0);
        auth[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

/* Which refusals are normal (not reported) and which are not. */
static void test_refusal_classify(void)
{
    chat_frame_info app = { 1, 1, 1, FKEX_RMSG_APPLICATION, 7, 2 };
    chat_frame_info old = app, ack = app, commit = app, rm = app, req = app, chal = app;
    chat_frame_info junk = { 0 };
    old.epoch = 6;
    ack.type = FKEX_RMSG_JOIN_ACK;
    commit.type = FKEX_RMSG_COMMIT;
    rm.type = FKEX_RMSG_REMOVE;
    req.type = FKEX_RMSG_JOIN_REQUEST;
    chal.type = FKEX_RMSG_CHALLENGE;
    /* replays (our own echo, a SUBMIT sent again) and late traffic: normal */
    CHECK(chat_refusal_classify(&app, FKEX_ERR_REPLAY, 1, 7) == CHAT_REFUSAL_NONE);
    CHECK(chat_refusal_classify(&old, FKEX_ERR_WRONG_EPOCH, 1, 7) == CHAT_REFUSAL_NONE);
    CHECK(chat_refusal_classify(&ack, FKEX_ERR_UNEXPECTED, 1, 7) == CHAT_REFUSAL_NONE);
    CHECK(chat_refusal_classify(&req, FKEX_ERR_AUTHENTICATION, 1, 7) == CHAT_REFUSAL_NONE);
    CHECK(chat_refusal_classify(&app, FKEX_ERR_AUTHENTICATION, 0, 7) == CHAT_REFUSAL_NONE);
    CHECK(chat_refusal_classify(&chal, FKEX_ERR_UNEXPECTED, 0, 7) == CHAT_REFUSAL_NONE);
    /* what does not check, or belongs to an epoch not reached: reported */
    CHECK(chat_refusal_classify(&app, FKEX_ERR_AUTHENTICATION, 1, 7) == CHAT_REFUSAL_UNREADABLE);
    CHECK(chat_refusal_classify(&app, FKEX_ERR_UNEXPECTED, 1, 7) == CHAT_REFUSAL_UNREADABLE);
    CHECK(chat_refusal_classify(&app, FKEX_ERR_WRONG_EPOCH, 1, 6) == CHAT_REFUSAL_UNREADABLE);
    CHECK(chat_refusal_classify(&commit, FKEX_ERR_AUTHENTICATION, 1, 7) == CHAT_REFUSAL_COMMIT);
    CHECK(chat_refusal_classify(&commit, FKEX_ERR_WRONG_EPOCH, 1, 6) == CHAT_REFUSAL_COMMIT);
    CHECK(chat_refusal_classify(&ack, FKEX_ERR_AUTHENTICATION, 1, 7) == CHAT_REFUSAL_ACK);
    CHECK(chat_refusal_classify(&rm, FKEX_ERR_BAD_ENCODING, 1, 7) == CHAT_REFUSAL_PROPOSAL);
    CHECK(chat_refusal_classify(&chal, FKEX_ERR_AUTHENTICATION, 0, 7) == CHAT_REFUSAL_ADMISSION);
    CHECK(chat_refusal_classify(&junk, FKEX_ERR_BAD_ENCODING, 1, 7) == CHAT_REFUSAL_MALFORMED);

    /* what a frame says of itself: an application message's epoch and sender */
    fkex_rmsg_application m = { .epoch = 9, .sender = 4, .generation = 1 };
    uint8_t ct[20] = { 0 }, sig[64] = { 0 };
    fkex_writer w;
    chat_frame_info f;
    m.ct = ct;
    m.ctlen = sizeof ct;
    fkex_writer_init(&w);
    fkex_rmsg_application_encode(&w, &m);
    fkex_writer_put(&w, sig, sizeof sig);
    CHECK(!w.failed);
    chat_frame_info_read(&f, w.buf, w.len);
    CHECK(f.has_type && f.type == FKEX_RMSG_APPLICATION && f.has_epoch && f.epoch == 9 &&
          f.has_sender && f.sender == 4);
    chat_frame_info_read(&f, w.buf, 10);
    CHECK(f.has_type == 0 && f.has_epoch == 0);
    fkex_writer_free(&w);
}

/* Events a chat_link emits, kept as the batch front end prints them and
 * as the terminal's scrollback shows them. */
typedef struct {
    int n;
    char json[4][1024];
    view_scrollback sb;
} seen_events;

static void keep_event(void *ctx, const chat_event *ev)
{
    seen_events *s = ctx;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (ev->kind != CHAT_EV_ERROR || !f || s->n >= 4) {
        if (f)
            fclose(f);
        free(buf);
        s->n = 99;
        return;
    }
    chat_json_error(f, ev);
    fclose(f);
    snprintf(s->json[s->n++], sizeof s->json[0], "%s", buf);
    free(buf);
    CHECK(view_add_error(&s->sb, ev) == 0);
}

/* A burst of refusals: the first reported at once, the rest counted and
 * reported together once the quiet time is over, never one event each. */
static void test_refusal_reports(void)
{
    seen_events seen = { 0 };
    chat_link l;
    chat_refusals r;
    uint8_t alice[32] = { 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x7a, 0x8b };
    chat_frame_info f = { 1, 1, 1, FKEX_RMSG_APPLICATION, 3, 0 };
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    view_scrollback_init(&seen.sb);
    l.cfg.on_event = keep_event;
    l.cfg.ctx = &seen;
    chat_refusals_note(&r, &l, CHAT_REFUSAL_UNREADABLE, &f, alice, FKEX_ERR_AUTHENTICATION, 5000);
    CHECK(seen.n == 1);
    CHECK(strcmp(seen.json[0], "{\"event\": \"error\", \"code\": \"unreadable\", \"message\": "
                 "\"a message from 1a2b 3c4d 5e6f 7a8b in epoch 3 could not be opened: it failed "
                 "its signature or authentication tag (changed on the way, or made in another "
                 "version of the epoch: compare the epoch's fingerprint)\", \"epoch\": 3, "
                 "\"from\": \"1a2b 3c4d 5e6f 7a8b\", \"count\": 1}\n") == 0);
    for (int i = 0; i < 50; i++)
        chat_refusals_note(&r, &l, CHAT_REFUSAL_UNREADABLE, &f, alice, FKEX_ERR_AUTHENTICATION,
                           5100 + (uint64_t)i);
    chat_refusals_flush(&r, &l, 5900);
    CHECK(seen.n == 1);   /* quiet */
    chat_refusals_flush(&r, &l, 6000);
    CHECK(seen.n == 2);
    CHECK(strstr(seen.json[1], "\"message\": \"50 messages could not be opened, the last from "
                               "1a2b 3c4d 5e6f 7a8b in epoch 3: ") != NULL);
    CHECK(strstr(seen.json[1], "(51 in this session)\", \"epoch\": 3, ") != NULL);
    CHECK(strstr(seen.json[1], "\"count\": 50}\n") != NULL);
    chat_refusals_flush(&r, &l, 9000);
    CHECK(seen.n == 2);   /* nothing held */
    /* another kind is reported on its own, at once */
    f.type = FKEX_RMSG_COMMIT;
    chat_refusals_note(&r, &l, CHAT_REFUSAL_COMMIT, &f, NULL, FKEX_ERR_AUTHENTICATION, 9001);
    CHECK(seen.n == 3 && strstr(seen.json[2], "\"code\": \"commit_refused\"") != NULL);
    CHECK(strstr(seen.json[2], "\"from\"") == NULL);
    CHECK(seen.sb.count == 3 && view_line_at(&seen.sb, 0)->kind == VIEW_ERROR &&
          strncmp(view_line_at(&seen.sb, 0)->text, "!! a message from 1a2b", 22) == 0);
    view_scrollback_free(&seen.sb);
}

/* The protocol's fork check calls chat_fork_suspected: batch mode gets
 * code fork_suspected with the epoch and the member, the terminal a
 * warning line that asks people to compare fingerprints. */
static void test_fork_warning(void)
{
    seen_events seen = { 0 };
    chat_link l;
    uint8_t bob[32] = { 0xb0, 0xb0, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
    memset(&l, 0, sizeof l);
    view_scrollback_init(&seen.sb);
    l.cfg.on_event = keep_event;
    l.cfg.ctx = &seen;
    chat_fork_suspected(&l, 12, bob, "bob's acknowledgement of epoch %d does not match ours", 12);
    CHECK(seen.n == 1);
    CHECK(strcmp(seen.json[0], "{\"event\": \"error\", \"code\": \"fork_suspected\", "
                 "\"message\": \"bob's acknowledgement of epoch 12 does not match ours\", "
                 "\"epoch\": 12, \"from\": \"b0b0 0001 0203 0405\"}\n") == 0);
    const view_line *line = view_line_at(&seen.sb, 0);
    CHECK(line && line->kind == VIEW_ERROR);
    CHECK(line && strcmp(line->text, "!! WARNING: the room may have forked in epoch 12: bob's "
                         "acknowledgement of epoch 12 does not match ours. Compare /verify with "
                         "the other members over another channel; if the fingerprints differ, "
                         "stop trusting this room.") == 0);
    chat_fork_suspected(&l, 0, NULL, "no member named");
    CHECK(seen.n == 2 && strstr(seen.json[1], "\"epoch\": 0}") != NULL &&
          strstr(seen.json[1], "\"from\"") == NULL);
    view_scrollback_free(&seen.sb);
}

void suite_chat(void)
{
    RUN(test_content_round_trip);
    RUN(test_content_refusals);
    RUN(test_json_commands);
    RUN(test_json_escape);
    RUN(test_view_wrap);
    RUN(test_nick_and_display);
    RUN(test_view_scrollback);
    RUN(test_view_input);
    RUN(test_epoch_fingerprint);
    RUN(test_refusal_classify);
    RUN(test_refusal_reports);
    RUN(test_fork_warning);
}

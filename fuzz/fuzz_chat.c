/*
 * fuzz/fuzz_chat.c: the chat client's two parsers of bytes others control:
 * a member's message content (chat_content_decode) and a --batch line
 * (chat_cmd_parse). Decoded content must re-encode to the input; a parsed
 * send must survive escaping and parsing again unchanged; the escaper must
 * agree with its own measurement.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a few contents and command lines into DIR.
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/chat.h"
#include "seeds.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        static const char *const lines[] = {
            "{\"send\": \"hello\"}", "{\"cmd\": \"leave\"}", "{\"cmd\": \"quit\"}",
            "{\"send\": \"\\u00e9\\ud83d\\ude42 \\\"q\\\"\\n\"}",
        };
        char name[32];
        for (size_t i = 0; i < FKEX_ARRAY_LEN(lines); i++) {
            snprintf(name, sizeof name, "line%zu", i);
            write_seed(dir, name, (const uint8_t *)lines[i], strlen(lines[i]));
        }
        chat_content c = { "alice", 5, "hi bob\n\xc3\xa9", 9, 1764115200000ull };
        uint8_t *b;
        size_t n;
        if (chat_content_encode(&b, &n, &c) != FKEX_OK)
            abort();
        write_seed(dir, "content0", b, n);
        free(b);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chat_content c;
    if (chat_content_decode(&c, data, size) == FKEX_OK) {
        uint8_t *again;
        size_t n;
        if (chat_content_encode(&again, &n, &c) != FKEX_OK || n != size ||
            memcmp(again, data, size) != 0)
            abort();
        free(again);
    }
    static chat_cmd cmd, cmd2;
    char err[96];
    if (chat_cmd_parse(&cmd, (const char *)data, size, err) == FKEX_OK &&
        cmd.kind == CHAT_CMD_SEND) {
        static char esc[6 * CHAT_TEXT_MAX + 32], line[6 * CHAT_TEXT_MAX + 64];
        size_t need = chat_json_escape(NULL, 0, cmd.text, cmd.textlen);
        size_t got = chat_json_escape(esc, sizeof esc, cmd.text, cmd.textlen);
        if (need != got || got >= sizeof esc)
            abort();
        int n = snprintf(line, sizeof line, "{\"send\": \"%.*s\"}", (int)got, esc);
        if (chat_cmd_parse(&cmd2, line, (size_t)n, err) != FKEX_OK ||
            cmd2.textlen != cmd.textlen || memcmp(cmd2.text, cmd.text, cmd.textlen) != 0)
            abort();
    }
    return 0;
}

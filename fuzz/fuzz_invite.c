/*
 * fuzz/fuzz_invite.c: invitations (chat_invite_parse) and the endpoints
 * they list (fkex_endpoint_parse, fkex_net_address_list): text anyone can
 * hand a user. Whatever parses must say the same again: each endpoint's
 * pin, written as text, is the text it was read from; a name is the text
 * before its '@'; the invitation is "fkex://" + its relays + "/" + its
 * room id in hex.
 *
 * FKEX_FUZZ_SEEDS=DIR writes a few invitations into DIR.
 */
#include <stdlib.h>
#include <strings.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "chat/client.h"
#include "seeds.h"

#define ROOM "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define PIN "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    const char *dir = getenv("FKEX_FUZZ_SEEDS");
    if (dir) {
        static const char *const invites[] = {
            "fkex://127.0.0.1:7710/" ROOM,
            "fkex://" PIN "@127.0.0.1:7710/" ROOM,
            "fkex://" PIN "@127.0.0.1:7710," PIN "@[::1]:7711/" ROOM,
            "fkex://relay.example.org@192.0.2.7:7710/" ROOM,
        };
        char name[32];
        for (size_t i = 0; i < FKEX_ARRAY_LEN(invites); i++) {
            snprintf(name, sizeof name, "invite%zu", i);
            write_seed(dir, name, (const uint8_t *)invites[i], strlen(invites[i]));
        }
    }
    return 0;
}

/* One endpoint: what it parsed to says its text again. */
static void check_endpoint(const char *text)
{
    fkex_endpoint e;
    char pin[FKEX_PIN_TEXT_LEN + 1];
    const char *at = strchr(text, '@');
    if (fkex_endpoint_parse(&e, text) != 0)
        abort();
    switch (e.auth) {
    case FKEX_ENDPOINT_UNPINNED:
        if (at || e.hostport != text)
            abort();
        break;
    case FKEX_ENDPOINT_PIN:
        fkex_pin_text(pin, e.pin);
        if (!at || (size_t)(at - text) != FKEX_PIN_TEXT_LEN || memcmp(pin, text, FKEX_PIN_TEXT_LEN))
            abort();
        break;
    case FKEX_ENDPOINT_NAME:
        if (!at || strlen(e.name) != (size_t)(at - text) || memcmp(e.name, text, strlen(e.name)) ||
            !strchr(e.name, '.'))
            abort();
        break;
    }
    if (e.hostport != (at ? at + 1 : text))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), addr[FKEX_NET_LIST_TEXT_MAX], one[FKEX_NET_LIST_TEXT_MAX];
    char again[FKEX_NET_LIST_TEXT_MAX + 80], hex[65];
    uint8_t id[32];
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    if (strlen(text) == size && chat_invite_parse(addr, id, text) == FKEX_OK) {
        size_t n = fkex_net_address_list(addr);
        if (n == 0 || n > FKEX_NET_LIST_MAX)
            abort();
        for (size_t i = 0; i < n; i++) {
            fkex_net_address_nth(one, sizeof one, addr, i);
            check_endpoint(one);
        }
        sodium_bin2hex(hex, sizeof hex, id, 32);
        snprintf(again, sizeof again, "fkex://%s/%s", addr, hex);
        if (strcasecmp(again, text) != 0)   /* the room id may be written in capitals */
            abort();
    }
    if (strlen(text) == size && fkex_net_address_ok(text))
        check_endpoint(text);
    free(text);
    return 0;
}

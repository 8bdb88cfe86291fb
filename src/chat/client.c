/*
 * chat/client.c: chat/client.h's calls, each handed to the session's
 * class: ratchet mode (chat/ratchet_client.c), seed mode
 * (chat/seed_client.c) or a direct conversation (chat/dm_client.c).
 */
#include <stdlib.h>
#include "gke/gke.h"
#include "ibe/ibe.h"
#include "net/net.h"
#include "chat/chat.h"
#include "chat/client.h"

struct chat_client {
    const chat_client_class *cls;
    void *impl;
};

/* ---- invitations ---------------------------------------------------------------- */

fkex_err chat_invite_parse(char addr[FKEX_NET_LIST_TEXT_MAX], uint8_t room_id[32], const char *invite)
{
    static const char scheme[] = "fkex://";
    size_t bin;
    const char *end;
    if (!invite || strncmp(invite, scheme, sizeof scheme - 1) != 0)
        return FKEX_ERR_ARGUMENT;
    const char *host = invite + sizeof scheme - 1, *slash = strrchr(host, '/');
    if (!slash || slash == host || (size_t)(slash - host) >= FKEX_NET_LIST_TEXT_MAX || strlen(slash + 1) != 64)
        return FKEX_ERR_ARGUMENT;
    if (sodium_hex2bin(room_id, 32, slash + 1, 64, NULL, &bin, &end) != 0 || bin != 32 || *end)
        return FKEX_ERR_ARGUMENT;
    memcpy(addr, host, (size_t)(slash - host));
    addr[slash - host] = 0;
    return fkex_net_address_list(addr) ? FKEX_OK : FKEX_ERR_ARGUMENT;
}

/* ---- the front end's calls ----------------------------------------------------------- */

fkex_err chat_client_start(chat_client **out, uv_loop_t *loop, const chat_client_config *cfg)
{
    const chat_client_class *cls = cfg->dm_peer ? &chat_dm_class
                                   : cfg->mode == CHAT_MODE_SEED ? &chat_seed_class
                                   : cfg->mode == CHAT_MODE_RATCHET ? &chat_ratchet_class
                                   : NULL;
    chat_client *c;
    fkex_err e;
    *out = NULL;
    if (!cls)
        return FKEX_ERR_ARGUMENT;
    if (!(c = calloc(1, sizeof *c)))
        return FKEX_ERR_NO_MEMORY;
    c->cls = cls;
    if ((e = cls->start(&c->impl, loop, cfg)) != FKEX_OK) {
        free(c);
        return e;
    }
    *out = c;
    return FKEX_OK;
}

void chat_client_send(chat_client *c, const char *text, size_t len) { c->cls->send(c->impl, text, len); }
size_t chat_client_backlog(const chat_client *c) { return c->cls->backlog(c->impl); }
void chat_client_leave(chat_client *c) { c->cls->leave(c->impl); }
void chat_client_quit(chat_client *c) { c->cls->quit(c->impl); }
void chat_client_end(chat_client *c) { c->cls->end(c->impl); }
int chat_client_joined(const chat_client *c) { return c->cls->joined(c->impl); }
fkex_err chat_client_set_nick(chat_client *c, const char *nick) { return c->cls->set_nick(c->impl, nick); }
void chat_client_status(chat_status *s, const chat_client *c) { c->cls->status(s, c->impl); }

fkex_err chat_client_verify(chat_verify *v, const chat_client *c)
{
    return c->cls->verify ? c->cls->verify(v, c->impl) : FKEX_ERR_UNSUPPORTED;
}

int chat_client_member(chat_member *m, const chat_client *c, uint32_t index)
{
    return c->cls->member(m, c->impl, index);
}

void chat_client_free(chat_client *c)
{
    if (!c)
        return;
    c->cls->free(c->impl);
    free(c);
}

void chat_fingerprint(char out[CHAT_FINGERPRINT_LEN + 1], const uint8_t id[32])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 8; i++) {
        if (i && i % 2 == 0)
            out[o++] = ' ';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = 0;
}


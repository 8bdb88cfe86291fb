/*
 * net/address.c: endpoints as they are written ("[AUTH@]HOST:PORT") and
 * lists of them (net/net.h), read without a socket: the browser client
 * (src/web) uses them as the daemons do.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "net/address.h"

void fkex_net_say(char err[128], const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err, 128, fmt, ap);
    va_end(ap);
}

/* "HOST:PORT" with HOST an IPv4 address or [IPv6]; port 0 only if allowed. */
fkex_err fkex_net_parse_addr(struct sockaddr_storage *ss, const char *addr, int port0_ok,
                             char err[128])
{
    char host[64];
    const char *colon, *h;
    size_t hlen;
    if (!addr)
        addr = "";
    h = addr;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            goto bad;
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            goto bad;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0 || hlen >= sizeof host)
        goto bad;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    unsigned long port = 0;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535 || (port == 0 && !port0_ok))
        goto bad;
    memset(ss, 0, sizeof *ss);
    if (addr[0] == '[') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            goto bad;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            goto bad;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
    }
    return FKEX_OK;
bad:
    fkex_net_say(err, "bad address \"%.40s\": want HOST:PORT, HOST an IPv4 address or [IPv6]",
                 addr);
    return FKEX_ERR_ARGUMENT;
}

/* "[AUTH@]HOST:PORT" (codec.h) with HOST:PORT as parse_addr reads it. */
fkex_err fkex_net_parse_endpoint(struct sockaddr_storage *ss, fkex_endpoint *e, const char *text,
                               char err[128])
{
    if (text && fkex_endpoint_parse(e, text) != 0) {
        fkex_net_say(err, "bad address \"%.60s\": what comes before @ is neither a key pin "
                     "nor a server name", text);
        return FKEX_ERR_ARGUMENT;
    }
    return fkex_net_parse_addr(ss, text ? e->hostport : NULL, 0, err);
}

int fkex_net_address_ok(const char *addr)
{
    struct sockaddr_storage ss;
    fkex_endpoint e;
    char err[128];
    return fkex_net_parse_endpoint(&ss, &e, addr, err) == FKEX_OK;
}

void fkex_net_address_nth(char *out, size_t cap, const char *list, size_t i)
{
    const char *p = list;
    for (; i > 0 && p; i--)
        if ((p = strchr(p, ',')) != NULL)
            p++;
    size_t len = p ? strcspn(p, ",") : 0;
    snprintf(out, cap, "%.*s", (int)len, p ? p : "");
}

size_t fkex_net_address_list(const char *list)
{
    char one[FKEX_NET_LIST_TEXT_MAX];
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    if (n > FKEX_NET_LIST_MAX || strlen(list) >= sizeof one)
        return 0;
    for (size_t i = 0; i < n; i++) {
        fkex_net_address_nth(one, sizeof one, list, i);
        if (!fkex_net_address_ok(one))
            return 0;
    }
    return n;
}

int fkex_net_address_list_unpinned(const char *list)
{
    char one[FKEX_NET_LIST_TEXT_MAX];
    fkex_endpoint e;
    for (size_t i = 0, n = fkex_net_address_list(list); i < n; i++) {
        fkex_net_address_nth(one, sizeof one, list, i);
        if (fkex_endpoint_parse(&e, one) == 0 && e.auth == FKEX_ENDPOINT_UNPINNED)
            return 1;
    }
    return 0;
}


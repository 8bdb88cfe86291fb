/*
 * net/address.h: reading endpoints into socket addresses (net/address.c),
 * for net.c; what other layers use of it is in net/net.h
 * (fkex_net_address_ok and the lists).
 */
#ifndef FKEX_NET_ADDRESS_H
#define FKEX_NET_ADDRESS_H

#include <sys/socket.h>
#include "codec/codec.h"
#include "net/net.h"

/* vsnprintf into err (128 bytes), if err is not NULL: the layer's sentences. */
void fkex_net_say(char err[128], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "HOST:PORT" with HOST an IPv4 address or [IPv6]; port 0 only if
 * port0_ok. FKEX_ERR_ARGUMENT with a sentence in err (if not NULL). */
fkex_err fkex_net_parse_addr(struct sockaddr_storage *ss, const char *addr, int port0_ok,
                             char err[128]) FKEX_WUR;
/* "[AUTH@]HOST:PORT" (codec.h) with HOST:PORT as fkex_net_parse_addr reads
 * it, port 0 refused. */
fkex_err fkex_net_parse_endpoint(struct sockaddr_storage *ss, fkex_endpoint *e, const char *text,
                                 char err[128]) FKEX_WUR;

#endif

/*
 * cli/roomdir.h: reading a room directory (fkex room create makes it), for
 * the admin's commands (cli/room.c) and a founder's fkex chat --found
 * (cli/chat.c):
 *   DIR/admin.key        the admin's Ed25519 key (mode 0600), armored
 *                        "FKEX ROOM ADMIN KEY": version 1 || seed || public key
 *   DIR/descriptor.N     the admin-signed descriptor of version N, armored
 *                        "FKEX ROOM DESCRIPTOR" (wire/ratchet_msg.h); the
 *                        highest N is the room's current one
 *   DIR/relay            the relay's address, "HOST:PORT"
 * Each function says why on stderr when it fails and returns an exit code.
 */
#ifndef FKEX_CLI_ROOMDIR_H
#define FKEX_CLI_ROOMDIR_H

#include "cli/cli.h"

#define ROOM_ADMIN_ARMOR "ROOM ADMIN KEY"
#define ROOM_DESCRIPTOR_ARMOR "ROOM DESCRIPTOR"
#define ROOM_ADMIN_FILE_BYTES (1 + 64)
#define ROOM_MAX_VERSIONS 100000

/* DIR/NAME, malloc'd (NULL if out of memory). */
char *room_path(const char *dir, const char *name);
/* An armored file of `kind`; *out is malloc'd. A secret file must not be
 * readable by others: that is checked on the file opened, not by name. */
int room_read_armored(uint8_t **out, size_t *outlen, const char *path, const char *kind,
                      int secret);
/* The admin's key (its public half in sk + 32), checked against its seed. */
int room_load_admin(uint8_t sk[64], const char *dir);
/* The highest N with DIR/descriptor.N, or 0. */
uint32_t room_latest_version(const char *dir);
/* DIR/descriptor.N, decoded and its signature checked; *d is malloc'd and
 * m borrows from it. */
int room_load_descriptor(uint8_t **d, size_t *len, fkex_rmsg_descriptor *m, const char *dir,
                         uint32_t version);

#endif

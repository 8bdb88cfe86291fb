/*
 * cli/roomdir.c: a room directory's files (cli/roomdir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/roomdir.h"

char *room_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int room_read_armored(uint8_t **out, size_t *outlen, const char *path, const char *kind,
                      int secret)
{
    char got[FKEX_ARMOR_KIND_MAX + 1];
    uint8_t buf[1 << 17];
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    if (secret && (fstat(fd, &st) != 0 || (st.st_mode & 077))) {
        cli_error("%s is readable by others (mode %03o)", path, (unsigned)(st.st_mode & 0777));
        cli_hint("run: chmod 600 %s", path);
        close(fd);
        return EXIT_USAGE;
    }
    size_t n = 0;
    for (ssize_t r; n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0; n += (size_t)r)
        if (r < 0 && errno != EINTR) {
            cli_error("cannot read %s: %s", path, strerror(errno));
            close(fd);
            sodium_memzero(buf, n);
            return EXIT_USAGE;
        } else if (r < 0) {
            r = 0;
        }
    close(fd);
    if (n == sizeof buf) {
        cli_error("%s is too large to be a room file", path);
        sodium_memzero(buf, sizeof buf);
        return EXIT_USAGE;
    }
    fkex_err err = fkex_armor_decode(out, outlen, got, buf, n);
    sodium_memzero(buf, sizeof buf);
    if (err != FKEX_OK)
        return cli_fail(err, path);
    if (strcmp(got, kind) != 0) {
        cli_error("%s holds a %s, not a %s", path, got, kind);
        sodium_memzero(*out, *outlen);
        free(*out);
        return EXIT_USAGE;
    }
    return 0;
}

int room_load_admin(uint8_t sk[64], const char *dir)
{
    char *path = room_path(dir, "admin.key");
    uint8_t *data = NULL, pk[32], check[64];
    size_t len = 0;
    int rc = EXIT_USAGE;
    if (!path)
        return EXIT_USAGE;
    if ((rc = room_read_armored(&data, &len, path, ROOM_ADMIN_ARMOR, 1)) != 0)
        goto out;
    rc = EXIT_USAGE;
    if (len != ROOM_ADMIN_FILE_BYTES || data[0] != 1) {
        cli_error("%s: %s", path, fkex_strerror(FKEX_ERR_BAD_ENCODING));
        goto out;
    }
    crypto_sign_seed_keypair(pk, check, data + 1);
    if (sodium_memcmp(pk, data + 33, 32) != 0) {
        cli_error("%s: the public key does not match the secret key", path);
        goto out;
    }
    memcpy(sk, check, 64);
    rc = 0;
out:
    sodium_memzero(check, sizeof check);
    if (data) {
        sodium_memzero(data, len);
        free(data);
    }
    free(path);
    return rc;
}

uint32_t room_latest_version(const char *dir)
{
    uint32_t v = 0;
    for (uint32_t n = 1; n < ROOM_MAX_VERSIONS; n++) {
        char name[32];
        snprintf(name, sizeof name, "descriptor.%u", n);
        char *p = room_path(dir, name);
        int exists = p && access(p, F_OK) == 0;
        free(p);
        if (!exists)
            break;
        v = n;
    }
    return v;
}

int room_load_descriptor(uint8_t **d, size_t *len, fkex_rmsg_descriptor *m, const char *dir,
                         uint32_t version)
{
    char name[32];
    snprintf(name, sizeof name, "descriptor.%u", version);
    char *p = room_path(dir, name);
    int rc = p ? room_read_armored(d, len, p, ROOM_DESCRIPTOR_ARMOR, 0) : EXIT_USAGE;
    if (rc == 0) {
        fkex_err err = fkex_rmsg_descriptor_decode(m, *d, *len);
        if (err == FKEX_OK &&
            fkex_sign_verify(m->sig, m->admin_pk, "descriptor", *d, m->signed_len) != 0)
            err = FKEX_ERR_AUTHENTICATION;
        if (err != FKEX_OK) {
            rc = cli_fail(err, p);
            free(*d);
            *d = NULL;
        }
    }
    free(p);
    return rc;
}

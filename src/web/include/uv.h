/*
 * web/include/uv.h: the part of libuv's API that the chat layer uses
 * (timers, closing a handle, the loop's clock), on the browser's event
 * loop (web/loop.c), so that src/chat compiles unchanged for the web
 * client. The WebAssembly build puts this folder first on the include
 * path; nothing native includes it. A handle's fields are its own; the
 * chat layer reads only `data`.
 */
#ifndef FKEX_WEB_UV_H
#define FKEX_WEB_UV_H

#include <stdint.h>

typedef struct uv_loop_s {
    int handles;    /* timers initialised and not yet closed */
} uv_loop_t;

typedef struct uv_handle_s uv_handle_t;
typedef struct uv_timer_s uv_timer_t;
typedef void (*uv_close_cb)(uv_handle_t *handle);
typedef void (*uv_timer_cb)(uv_timer_t *handle);

#define FKEX_WEB_HANDLE_FIELDS \
    void *data;                \
    uv_loop_t *loop;           \
    uv_close_cb close_cb;

struct uv_handle_s {
    FKEX_WEB_HANDLE_FIELDS
};

struct uv_timer_s {
    FKEX_WEB_HANDLE_FIELDS
    uv_timer_cb cb;
    uint64_t repeat;
    int active;
};

int uv_timer_init(uv_loop_t *loop, uv_timer_t *t);
/* cb after timeout ms, then every repeat ms if repeat is not 0. */
int uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
int uv_timer_stop(uv_timer_t *t);
/* Stops the timer; cb runs on a later turn of the browser's loop. */
void uv_close(uv_handle_t *h, uv_close_cb cb);
/* Milliseconds on the page's monotonic clock. */
uint64_t uv_now(const uv_loop_t *loop);

#endif

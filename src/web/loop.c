/*
 * web/loop.c: libuv's timers (web/include/uv.h) on the browser's event
 * loop: a started timer is a setTimeout whose callback comes back into
 * the module (fkexw_timer_fired); a close is a setTimeout of 0, as libuv
 * runs close callbacks on a later turn.
 */
#include <emscripten.h>
#include <stddef.h>
#include <uv.h>
#include "web/web.h"

EM_JS(void, js_timer_set, (void *t, double ms), {
    Module.fkexTimers = Module.fkexTimers || new Map();
    clearTimeout(Module.fkexTimers.get(t));
    Module.fkexTimers.set(t, setTimeout(function() {
        Module.fkexTimers.delete(t);
        Module._fkexw_timer_fired(t);
    }, ms));
});

EM_JS(void, js_timer_clear, (void *t), {
    if (Module.fkexTimers && Module.fkexTimers.has(t)) {
        clearTimeout(Module.fkexTimers.get(t));
        Module.fkexTimers.delete(t);
    }
});

EM_JS(void, js_later, (void *h), {
    setTimeout(function() { Module._fkexw_handle_closed(h); }, 0);
});

int uv_timer_init(uv_loop_t *loop, uv_timer_t *t)
{
    t->loop = loop;
    t->close_cb = NULL;
    t->cb = NULL;
    t->repeat = 0;
    t->active = 0;
    loop->handles++;
    return 0;
}

int uv_timer_start(uv_timer_t *t, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    t->cb = cb;
    t->repeat = repeat;
    t->active = 1;
    js_timer_set(t, (double)timeout);
    return 0;
}

int uv_timer_stop(uv_timer_t *t)
{
    t->active = 0;
    js_timer_clear(t);
    return 0;
}

void uv_close(uv_handle_t *h, uv_close_cb cb)
{
    uv_timer_stop((uv_timer_t *)h);   /* every handle here is a timer */
    h->close_cb = cb;
    js_later(h);
}

uint64_t uv_now(const uv_loop_t *loop)
{
    (void)loop;
    return (uint64_t)emscripten_get_now();
}

EMSCRIPTEN_KEEPALIVE void fkexw_timer_fired(uv_timer_t *t)
{
    if (!t->active)
        return;
    if (t->repeat)
        js_timer_set(t, (double)t->repeat);
    else
        t->active = 0;
    t->cb(t);
    fkexw_after_turn();
}

EMSCRIPTEN_KEEPALIVE void fkexw_handle_closed(uv_handle_t *h)
{
    h->loop->handles--;
    if (h->close_cb)
        h->close_cb(h);
    fkexw_after_turn();
}

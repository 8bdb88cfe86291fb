/*
 * relay/serve.c: the relay's daemon: a libuv loop around relay/room.h, its
 * concerns in the files relay/daemon.h names.
 *
 * One thread, no fork. Every room of the store is loaded at start (all its
 * members offline). Each loop turn runs the SUBMITs read in it as one
 * store batch (relay/batch.c) and sends the next pages of the replays
 * whose connections drained (relay/replay.c); a 1 s tick runs the rooms'
 * timeouts (relay_room_tick), hands the admin's pending descriptor and
 * the names of members gone past the grace to a member (relay/session.c,
 * relay/presence.c), and closes connections that have no session in time.
 * A room whose state cannot be reread after a failed write is out of
 * service: its sessions are closed with ERROR 9 and nobody is served
 * stale state.
 *
 * SIGTERM and SIGINT stop the server and the timer and let the loop drain,
 * so every handle is closed before we return. Everything acknowledged is
 * in SQLite already, so nothing is lost.
 *
 * Cost: a delivery is O(1) (the index); a SUBMIT is its step's SQLite
 * writes and a share of one commit per turn.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include "gke/gke.h"
#include "relay/daemon.h"

#define TICK_MS 1000
/* Open files the daemon needs besides its connections. */
#define RESERVED_FDS 64

static void on_turn(uv_check_t *h)
{
    serve_state *s = h->data;
    serve_run_batch(s);
    if (s->replays) {
        serve_replay_pump_all(s);
        if (s->server)
            fkex_server_flush(s->server);
    }
}

/* ---- the clock ------------------------------------------------------------------ */

/* Once a second: connections refused at the cap, and accepts that failed
 * (EMFILE: the open-file limit is below the cap), said once per second at
 * most, so that a flood cannot flood the log. */
static void log_accepting(serve_state *s)
{
    const char *why = NULL;
    uint64_t failures = s->server ? fkex_server_accept_failures(s->server, &why) : 0;
    if (failures > s->accept_failures) {
        serve_log(s, "%llu connection%s could not be accepted (%s): the server goes on accepting",
              (unsigned long long)(failures - s->accept_failures),
              failures - s->accept_failures == 1 ? "" : "s", why ? why : "?");
        s->accept_failures = failures;
    }
    if (s->at_cap && s->nconns < s->opt.max_conns) {
        serve_log(s, "below the cap of %zu connections again: %llu refused meanwhile",
              s->opt.max_conns, (unsigned long long)s->refused);
        s->at_cap = 0;
        s->refused = 0;
    }
}

void serve_tick_rooms(serve_state *s, uint64_t now, uint64_t mono)
{
    relay_out out;
    char rh[9];
    relay_out_init(&out);
    for (size_t i = 0; i < s->nrooms; i++) {
        relay_room *r = s->rooms[i];
        if (r->failed)
            continue;
        uint64_t epoch = r->epoch;
        int code = relay_room_tick(r, now, &out);
        if (r->failed)
            serve_out_of_service(s, r);
        else if (code != 0)
            serve_log(s, "room %s: tick failed: %s", serve_hex(rh, r->room_id),
                      out.why ? out.why : "error");
        else if (r->epoch != epoch) {
            serve_log(s, "room %s: epoch %llu settled by its committer alone, %u member%s",
                      serve_hex(rh, r->room_id), (unsigned long long)r->epoch, r->nmembers,
                      r->nmembers == 1 ? "" : "s");
            serve_rebind(s, r, &out);
            serve_refresh_members(s, r);
            serve_route(s, r, &out);
        } else if (out.n > 0) {
            serve_log(s, r->seed ? "room %s: members offline past the grace leave (seed mode)"
                                 : "room %s: a JoinRequest goes to the next sponsor",
                      serve_hex(rh, r->room_id));
            serve_route(s, r, &out);
        }
        relay_out_clear(&out);
        serve_hand_pending(s, r, now);
        serve_hand_gone(s, r, now, mono);
    }
    serve_absence_tick(s, mono);
    if (s->server)
        fkex_server_flush(s->server);
}

static void on_tick(uv_timer_t *t)
{
    serve_state *s = t->data;
    uint64_t mono = uv_now(s->loop);
    if (s->cluster) {   /* cluster mode: the rooms tick as the fold reads heartbeats */
        fkex_relay_entry e = { .kind = FKEX_ENTRY_HEARTBEAT, .grace = s->grace_ms };
        memcpy(e.relay_id, s->relay_id, 16);
        (void)serve_publish(s, &e, NULL, 0, 0, 0);
    } else {
        serve_tick_rooms(s, serve_now_ms(), mono);
    }
    /* O(connections) a second. */
    for (conn_state *cs = s->conns; cs; cs = cs->next) {
        if (cs->conn && cs->state != SESSION_READY && !cs->served &&
            mono - cs->accepted_at >= s->opt.session_timeout_ms) {
            char why[96];
            snprintf(why, sizeof why, "no session within %llu s: say HELLO (and AUTH) first",
                     (unsigned long long)(s->opt.session_timeout_ms / 1000));
            serve_error_finish(cs, FKEX_RELAY_E_AUTH, why);
        } else if (cs->conn && ((cs->state == SESSION_READY && cs->has_leaf) || cs->dm)) {
            serve_keepalive(cs, mono);
        }
    }
    log_accepting(s);
    if (s->server)
        fkex_server_flush(s->server);
}

static void on_signal(uv_signal_t *h, int signum)
{
    serve_state *s = h->data;
    if (s->stopping)
        return;
    s->stopping = 1;
    serve_log(s, "%s: shutting down", signum == SIGTERM ? "SIGTERM" : signum == SIGINT ? "SIGINT"
                                                                                  : s->failure);
    serve_run_batch(s);   /* what was read is answered before the connections close */
    serve_cluster_close(s);   /* (what a session published and the log has not stored
                                 yet, its client sends again) */
    if (s->server)
        fkex_server_stop(s->server);
    s->server = NULL;
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_check_stop(&s->turn);
    uv_close((uv_handle_t *)&s->turn, NULL);
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
}

static fkex_err load_rooms(serve_state *s, char err[128])
{
    uint8_t (*ids)[32] = NULL;
    size_t n = 0;
    fkex_err e;
    if ((e = relay_store_rooms(s->store, &ids, &n)) != FKEX_OK) {
        snprintf(err, 128, "cannot read the rooms: %s", relay_store_error(s->store));
        return e;
    }
    if (n && !(s->rooms = calloc(n, sizeof *s->rooms))) {
        free(ids);
        snprintf(err, 128, "out of memory");
        return FKEX_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = relay_room_load(&s->rooms[s->nrooms], s->store, ids[i])) != FKEX_OK) {
            char rh[9];
            snprintf(err, 128, "cannot load room %s: %s", serve_hex(rh, ids[i]), fkex_strerror(e));
            free(ids);
            return e;
        }
        s->rooms[s->nrooms++]->grace_ms = s->opt.grace_ms;
    }
    free(ids);
    return FKEX_OK;
}

void relay_options_default(relay_options *o)
{
    struct rlimit rl;
    o->grace_ms = RELAY_DEFAULT_GRACE_MS;
    o->frame_timeout_ms = RELAY_DEFAULT_FRAME_TIMEOUT_MS;
    o->session_timeout_ms = RELAY_DEFAULT_SESSION_TIMEOUT_MS;
    o->keepalive_ms = RELAY_DEFAULT_KEEPALIVE_MS;
    o->max_conns = RELAY_DEFAULT_MAX_CONNS;
    o->cluster = NULL;
    o->tls = NULL;
    o->web = NULL;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < RELAY_DEFAULT_MAX_CONNS + RESERVED_FDS)
        o->max_conns = rl.rlim_cur > 2 * RESERVED_FDS ? (size_t)rl.rlim_cur - RESERVED_FDS
                                                      : (size_t)rl.rlim_cur / 2;
}

fkex_err serve_listen(serve_state *s, char err[128])
{
    fkex_net_limits lim = { FKEX_RELAY_ENVELOPE_MAX, RELAY_MAX_QUEUED };
    char bound[300];
    fkex_err e = fkex_server_start(&s->server, s->loop, s->listen, &lim, s->opt.tls, serve_on_accept,
                                   s, err);
    if (e != FKEX_OK)
        return e;
    fkex_server_set_frame_timeout(s->server, s->opt.frame_timeout_ms);
    if (s->opt.web && fkex_server_set_web(s->server, s->opt.web) != FKEX_OK) {
        snprintf(err, 128, "out of memory for the web client's files");
        fkex_server_stop(s->server);
        s->server = NULL;
        return FKEX_ERR_NO_MEMORY;
    }
    fkex_server_bound(bound, sizeof bound, s->server, s->listen);
    if (s->hooks && s->hooks->on_ready)
        s->hooks->on_ready(s->hooks->ctx, bound);
    serve_log(s, "listening on %s%s%s: %zu room%s, grace %llu s, frame timeout %llu s, session "
                 "timeout %llu s, at most %zu connections", bound,
              s->opt.tls ? " (TLS 1.3)" : " (plain TCP)",
              s->opt.web ? ", and browsers (the web client, WebSockets)" : "", s->nrooms, s->nrooms == 1 ? "" : "s",
              (unsigned long long)(s->opt.grace_ms / 1000),
              (unsigned long long)(s->opt.frame_timeout_ms / 1000),
              (unsigned long long)(s->opt.session_timeout_ms / 1000), s->opt.max_conns);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        s->opt.max_conns + RESERVED_FDS > rl.rlim_cur)
        serve_log(s, "warning: %zu connections is more than the open-file limit (%llu) allows: "
                     "past it the kernel refuses connections (EMFILE) and libuv drops them "
                     "unanswered; raise the limit (ulimit -n) or lower --max-connections",
                  s->opt.max_conns, (unsigned long long)rl.rlim_cur);
    return FKEX_OK;
}

void serve_fail(serve_state *s, const char *why)
{
    snprintf(s->failure, sizeof s->failure, "%s", why);
    on_signal(&s->sigterm, 0);
}

fkex_err relay_serve(relay_store *st, const char *addr, const relay_options *opt,
                     const relay_hooks *hooks, char err[128])
{
    uv_loop_t loop;
    serve_state s;
    fkex_err e;
    int rc;

    err[0] = '\0';
    memset(&s, 0, sizeof s);
    s.store = st;
    s.hooks = hooks;
    s.loop = &loop;
    s.opt = *opt;
    s.listen = addr;
    s.cluster = opt->cluster != NULL;
    s.grace_ms = opt->grace_ms;
    relay_index_init(&s.sessions);
    relay_dm_init(&s.dm);
    signal(SIGPIPE, SIG_IGN);
    if ((e = load_rooms(&s, err)) != FKEX_OK)
        goto out;
    if ((rc = uv_loop_init(&loop)) != 0) {
        snprintf(err, 128, "cannot start the event loop: %s", uv_strerror(rc));
        e = FKEX_ERR_IO;
        goto out;
    }
    /* Cluster mode listens once the fold has caught up with the log. */
    if ((e = opt->cluster ? serve_cluster_open(&s, opt->cluster, err) : serve_listen(&s, err)) !=
        FKEX_OK) {
        uv_run(&loop, UV_RUN_DEFAULT);   /* frees what the failed start made */
        uv_loop_close(&loop);
        goto out;
    }
    uv_timer_init(&loop, &s.tick);
    s.tick.data = &s;
    s.started = opt->cluster ? 0 : uv_now(&loop);   /* (cluster mode: the fold's first time) */
    uv_timer_start(&s.tick, on_tick, TICK_MS, TICK_MS);
    uv_check_init(&loop, &s.turn);
    s.turn.data = &s;
    uv_check_start(&s.turn, on_turn);
    uv_signal_init(&loop, &s.sigterm);
    uv_signal_init(&loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    if (rc != 0) {
        snprintf(err, 128, "the event loop did not close: %s", uv_strerror(rc));
        e = FKEX_ERR_IO;
    } else if (s.failure[0]) {
        snprintf(err, 128, "%s", s.failure);
        e = FKEX_ERR_IO;
    }
out:
    for (size_t i = 0; i < s.nrooms; i++)
        relay_room_free(s.rooms[i]);
    free(s.rooms);
    free(s.absent);
    free(s.batch);
    free(s.waits);
    free(s.outcomes);
    free(s.relays);
    free(s.at);
    free(s.rebinds);
    relay_index_free(&s.sessions);
    relay_dm_free(&s.dm);
    return e;
}

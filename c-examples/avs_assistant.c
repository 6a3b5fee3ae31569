/*
 * avs_assistant — connects to AVS through the avs C API and stays connected, handling
 * cloud-initiated directives, logging one line per thing sent or received.
 *
 *   avs_assistant --endpoint URL --ca-file PEM --token TOKEN [--run-for SECONDS]
 *                 [--ping-interval-ms N] [--connect-timeout SECONDS]
 *
 * Exit codes: 0 done; 1 usage or set-up error; 2 not connected within --connect-timeout
 * (or the server's certificate was rejected).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avs.h"

typedef struct {
    avs_connection_state state;
    avs_status last_reason;
    char last_error[256];
    unsigned directives;
    int ever_connected;
} assistant;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *state_name(avs_connection_state s) {
    switch (s) {
    case AVS_CONNECTION_STATE_DISCONNECTED: return "disconnected";
    case AVS_CONNECTION_STATE_CONNECTING: return "connecting";
    case AVS_CONNECTION_STATE_CONNECTED: return "connected";
    case AVS_CONNECTION_STATE_WAITING_TO_RETRY: return "waiting-to-retry";
    case AVS_CONNECTION_STATE_TOKEN_REJECTED: return "token-rejected";
    }
    return "?";
}

static void on_state(void *ud, avs_connection_state state, avs_status reason) {
    assistant *a = ud;
    a->state = state;
    if (reason != AVS_STATUS_OK) a->last_reason = reason;
    if (state == AVS_CONNECTION_STATE_CONNECTED) a->ever_connected = 1;
    printf("state %s (%s)\n", state_name(state), avs_status_str((int)reason));
    fflush(stdout);
}

static void on_directive(void *ud, const avs_directive *d) {
    assistant *a = ud;
    a->directives++;
    printf("<- directive %.*s.%.*s %.*s\n", (int)d->namespace_.len, d->namespace_.data, (int)d->name.len,
           d->name.data, (int)d->payload.len, d->payload.data);
    fflush(stdout);
}

static void on_attachment(void *ud, avs_str cid, const uint8_t *data, size_t len, bool last) {
    (void)ud;
    (void)data;
    if (last) printf("<- attachment %.*s complete (last piece %zu bytes)\n", (int)cid.len, cid.data, len);
}

static void on_exception(void *ud, uint32_t id, uint16_t http, avs_str code, avs_str desc) {
    (void)ud;
    printf("<- exception for event %u: HTTP %u %.*s: %.*s\n", id, http, (int)code.len, code.data, (int)desc.len,
           desc.data);
}

static void on_outcome(void *ud, uint32_t id, avs_status status, uint16_t http) {
    (void)ud;
    printf("event %u: %s (HTTP %u)\n", id, avs_status_str((int)status), http);
}

static void on_log(void *ud, avs_log_level level, avs_str msg) {
    assistant *a = ud;
    static const char *names[] = {"error", "warn", "info", "debug"};
    /* Errors carry the detail (e.g. which certificate check failed); keep the latest for the exit message. */
    if (level == AVS_LOG_LEVEL_ERROR) {
        size_t n = msg.len < sizeof a->last_error - 1 ? msg.len : sizeof a->last_error - 1;
        memcpy(a->last_error, msg.data, n);
        a->last_error[n] = '\0';
    }
    printf("[%s] %.*s\n", names[level <= AVS_LOG_LEVEL_DEBUG ? level : AVS_LOG_LEVEL_DEBUG], (int)msg.len, msg.data);
    fflush(stdout);
}

static void usage(void) {
    fprintf(stderr,
            "usage: avs_assistant --endpoint URL --ca-file PEM --token TOKEN [--run-for SECONDS]\n"
            "                     [--ping-interval-ms N] [--connect-timeout SECONDS]\n"
            "  --token may also come from the AVS_ACCESS_TOKEN environment variable.\n");
}

/* Parses a non-negative number; returns -1 when it is not one. */
static double parse_number(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0) return -1;
    return v;
}

/* True when a failure will not go away by retrying (configuration or trust problem). */
static int is_permanent(avs_status s) {
    return s == AVS_STATUS_CERTIFICATE_REJECTED || s == AVS_STATUS_NO_H2 || s == AVS_STATUS_BAD_CA;
}

int main(int argc, char **argv) {
    const char *endpoint = NULL, *ca_file = NULL, *token = getenv("AVS_ACCESS_TOKEN");
    double run_for = 0, connect_timeout = 15, ping_interval_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage();
            return 0;
        }
        if (!val) {
            fprintf(stderr, "avs_assistant: %s needs a value\n", opt);
            usage();
            return 1;
        }
        i++;
        if (!strcmp(opt, "--endpoint")) endpoint = val;
        else if (!strcmp(opt, "--ca-file")) ca_file = val;
        else if (!strcmp(opt, "--token")) token = val;
        else if (!strcmp(opt, "--run-for")) run_for = parse_number(val);
        else if (!strcmp(opt, "--connect-timeout")) connect_timeout = parse_number(val);
        else if (!strcmp(opt, "--ping-interval-ms")) ping_interval_ms = parse_number(val);
        else {
            fprintf(stderr, "avs_assistant: unknown option %s\n", opt);
            usage();
            return 1;
        }
        if (run_for < 0 || connect_timeout < 0 || (ping_interval_ms < 0 && !strcmp(opt, "--ping-interval-ms"))) {
            fprintf(stderr, "avs_assistant: %s needs a non-negative number, got %s\n", opt, val);
            return 1;
        }
    }
    if (!endpoint || !ca_file || !token) {
        fprintf(stderr, "avs_assistant: --endpoint, --ca-file and --token are required\n");
        usage();
        return 1;
    }

    assistant a = {0};
    avs_config cfg;
    avs_config_init(&cfg);
    cfg.endpoint = endpoint;
    cfg.ca_file = ca_file;
    cfg.access_token = token;
    cfg.connect_timeout_ms = (uint32_t)(connect_timeout * 1000);
    if (ping_interval_ms >= 0) cfg.ping_interval_ms = (uint32_t)ping_interval_ms;
    avs_callbacks cbs = {
        .user_data = &a,
        .on_state = on_state,
        .on_directive = on_directive,
        .on_attachment = on_attachment,
        .on_exception = on_exception,
        .on_event_outcome = on_outcome,
        .on_log = on_log,
    };
    avs_client *client = NULL;
    avs_status st = avs_client_new(&cfg, &cbs, &client);
    if (st != AVS_STATUS_OK) {
        fprintf(stderr, "avs_assistant: cannot create client: %s%s%s\n", avs_status_str((int)st),
                a.last_error[0] ? ": " : "", a.last_error);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    avs_client_connect(client);

    uint64_t start = avs_monotonic_ms();
    uint64_t connect_deadline = start + (uint64_t)(connect_timeout * 1000);
    uint64_t connected_at = 0;
    int exit_code = 0;
    while (!stop_requested) {
        uint32_t next_ms = 0;
        uint64_t now = avs_monotonic_ms();
        st = avs_client_poll(client, now, &next_ms);
        if (st != AVS_STATUS_OK) {
            fprintf(stderr, "avs_assistant: poll failed: %s\n", avs_status_str((int)st));
            exit_code = 1;
            break;
        }
        if (a.ever_connected && !connected_at) connected_at = now;
        if (!a.ever_connected && (now >= connect_deadline || is_permanent(a.last_reason))) {
            fprintf(stderr, "avs_assistant: not connected to %s after %.1f s: %s%s%s\n", endpoint,
                    (double)(now - start) / 1000.0, avs_status_str((int)a.last_reason), a.last_error[0] ? " — " : "",
                    a.last_error);
            exit_code = 2;
            break;
        }
        if (connected_at && now >= connected_at + (uint64_t)(run_for * 1000)) break;

        int fds[4];
        size_t nfds = 0;
        bool wants_write = false;
        avs_client_fds(client, fds, 4, &nfds, &wants_write);
        struct pollfd pfds[4];
        for (size_t i = 0; i < nfds; i++) {
            pfds[i].fd = fds[i];
            pfds[i].events = POLLIN | (wants_write ? POLLOUT : 0);
            pfds[i].revents = 0;
        }
        int timeout = next_ms > 1000 ? 1000 : (int)next_ms;
        if (poll(pfds, nfds, timeout) < 0 && errno != EINTR) {
            perror("poll");
            exit_code = 1;
            break;
        }
    }
    if (exit_code == 0) {
        avs_client_state(client, &a.state);
        printf("done: %u directives received, state %s\n", a.directives, state_name(a.state));
    }
    avs_client_free(client);
    return exit_code;
}

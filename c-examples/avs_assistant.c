/*
 * avs_assistant — a voice assistant on the avs C API: connects to AVS, runs voice turns
 * (microphone audio in, Alexa's spoken answer out) and stays connected, handling
 * cloud-initiated directives, logging one line per thing sent or received.
 *
 *   avs_assistant --endpoint URL --ca-file PEM --token TOKEN [--run-for SECONDS]
 *                 [--ping-interval-ms N] [--connect-timeout SECONDS]
 *                 [--audio-in WAV] [--speech-out FILE] [--profile P] [--utterances N] [--alsa]
 *                 [--static-memory] [--endpoint-id ID] [--state-dir DIR] [--firmware-version N]
 *                 [--locale L]
 *                 [--lwa-url URL] [--client-id ID] [--client-secret S] [--refresh-token T]
 *                 [--link --product-id P --dsn D] [--remote-auth]
 *                 [--auth-code CODE --redirect-uri URI]
 *
 * Sign-in: with --token the access token is the caller's. With --client-id the library signs in
 * with Login with Amazon (--lwa-url, default https://api.amazon.com): from --refresh-token, or
 * the refresh token kept in --state-dir by an earlier run, or by one of:
 *   --link        code-based linking: prints one line "enter code CODE at URI" and waits,
 *                 connected to nothing else, until the code is entered (then connects), the
 *                 code expires (exit 1) or --run-for ends (exit 1);
 *   --remote-auth prints one line "code challenge CHALLENGE method S256" and exits 0; the
 *                 verifier is kept in --state-dir for the next run's --auth-code;
 *   --auth-code   exchanges the companion app's code (with --redirect-uri) using that verifier,
 *                 then connects.
 * The refresh token obtained or rotated is kept in --state-dir (by the library, through the
 * storage callbacks), and the client id and --lwa-url beside it (by this program), so the next
 * run with that --state-dir needs no sign-in flag at all.
 *
 * Audio: --audio-in is a 16 kHz mono 16-bit WAV used as the microphone, fed in real time, 10 ms
 * at a time. With CLOSE_TALK the turn ends where the file ends (a released button); with
 * NEAR_FIELD/FAR_FIELD silence follows the file until AVS sends StopCapture. --speech-out
 * receives the raw bytes (MP3) of every Speak, in order. --alsa uses the ALSA devices instead
 * ("default", or AVS_ALSA_CAPTURE / AVS_ALSA_PLAYBACK).
 *
 * Memory: with --static-memory the client lives in a static buffer of this program, as on a
 * device without a heap to spare: avs_client_memory_required sizes it, and a "memory:" line
 * after creation and at the end reports avs_client_memory_stats.
 *
 * Interfaces: a software volume and mute (printed as "volume N muted true|false" whenever they
 * change) for Speaker and for Alexa.Speaker on endpoint --endpoint-id (default avs-assistant);
 * notification indicators and display cards are printed. --state-dir keeps what must survive a
 * restart (one file per key; default: nothing kept). --firmware-version and --locale are told
 * to AVS (SoftwareInfo, SettingsUpdated); capabilities are published with
 * Alexa.Discovery.AddOrUpdateReport on the AVS connection itself.
 *
 * Exit codes: 0 done, every turn answered; 1 usage or set-up error, or a turn without an
 * answer; 2 not connected within --connect-timeout (or the server's certificate was rejected).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avs.h"

typedef struct {
    avs_connection_state state;
    avs_status last_reason;
    char last_error[256];
    unsigned directives;
    int ever_connected;
    /* voice turns */
    avs_dialog_state dialog;
    avs_status turn_error;
    int turn_failed;
    int speech_pending;  /* Speaks whose audio has not fully arrived */
    char speak_token[256];
    int speak_started;
    int speak_finished;  /* SpeechFinished reported for speak_token (once per Speak) */
    unsigned long speech_bytes;
    FILE *speech_out;
    int expect_speech;
    /* the software speaker */
    unsigned volume;
    int muted;
    const char *state_dir;
    /* sign-in */
    avs_auth_state auth;
    avs_status auth_reason;
    unsigned code_pairs;
#ifdef AVS_FEATURE_ALSA
    avs_alsa_player *player;
    uint32_t played; /* the player's count of utterances drained */
#endif
} assistant;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *dialog_name(avs_dialog_state s) {
    switch (s) {
    case AVS_DIALOG_STATE_IDLE: return "idle";
    case AVS_DIALOG_STATE_LISTENING: return "listening";
    case AVS_DIALOG_STATE_THINKING: return "thinking";
    case AVS_DIALOG_STATE_SPEAKING: return "speaking";
    }
    return "?";
}

static const char *state_name(avs_connection_state s) {
    switch (s) {
    case AVS_CONNECTION_STATE_DISCONNECTED: return "disconnected";
    case AVS_CONNECTION_STATE_CONNECTING: return "connecting";
    case AVS_CONNECTION_STATE_CONNECTED: return "connected";
    case AVS_CONNECTION_STATE_WAITING_TO_RETRY: return "waiting-to-retry";
    case AVS_CONNECTION_STATE_AUTHORIZING: return "authorizing";
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

static const char *auth_name(avs_auth_state s) {
    switch (s) {
    case AVS_AUTH_STATE_NONE: return "none";
    case AVS_AUTH_STATE_SIGNED_OUT: return "signed-out";
    case AVS_AUTH_STATE_LINKING: return "linking";
    case AVS_AUTH_STATE_AUTHORIZING: return "authorizing";
    case AVS_AUTH_STATE_AUTHORIZED: return "authorized";
    case AVS_AUTH_STATE_AUTHORIZATION_REQUIRED: return "authorization-required";
    case AVS_AUTH_STATE_TOKEN_NEEDED: return "token-needed";
    }
    return "?";
}

static void on_auth_state(void *ud, avs_auth_state state, avs_status reason) {
    assistant *a = ud;
    a->auth = state;
    a->auth_reason = reason;
    printf("auth %s (%s)\n", auth_name(state), avs_status_str((int)reason));
    fflush(stdout);
}

/* Code-based linking: the one line a person (or a program driving this one) acts on. */
static void on_code_pair(void *ud, avs_str user_code, avs_str uri, uint32_t expires_in_s) {
    assistant *a = ud;
    (void)expires_in_s;
    if (++a->code_pairs == 1) printf("enter code %.*s at %.*s\n", (int)user_code.len, user_code.data, (int)uri.len, uri.data);
    fflush(stdout);
}

/* Directives no interface of the library handles: printed; this device does nothing with
 * them, so AVS is told it does not support them. */
static int on_other_directive(void *ud, const avs_directive *d) {
    assistant *a = ud;
    a->directives++;
    printf("<- directive %.*s.%.*s %.*s\n", (int)d->namespace_.len, d->namespace_.data, (int)d->name.len,
           d->name.data, (int)d->payload.len, d->payload.data);
    fflush(stdout);
    return AVS_STATUS_UNSUPPORTED;
}

/* Speaker and Alexa.Speaker: a software volume, applied as asked. */
static int apply_volume(void *ud, avs_volume *v) {
    assistant *a = ud;
    a->directives++;
    if (v->volume != a->volume || (int)v->muted != a->muted) {
        a->volume = v->volume;
        a->muted = v->muted;
        printf("volume %u muted %s\n", a->volume, a->muted ? "true" : "false");
        fflush(stdout);
    }
    return AVS_STATUS_OK;
}

static int set_indicator(void *ud, const avs_indicator *i) {
    assistant *a = ud;
    a->directives++;
    printf("indicator on (persist %s, audio %s%s%.*s)\n", i->persist_visual_indicator ? "true" : "false",
           i->play_audio_indicator ? "true" : "false", i->asset_url.len ? " " : "", (int)i->asset_url.len, i->asset_url.data);
    fflush(stdout);
    return AVS_STATUS_OK;
}

static int clear_indicator(void *ud) {
    assistant *a = ud;
    a->directives++;
    printf("indicator off\n");
    fflush(stdout);
    return AVS_STATUS_OK;
}

static int render_card(void *ud, const avs_card *c) {
    assistant *a = ud;
    a->directives++;
    printf("card %.*s %.*s\n", (int)c->name.len, c->name.data, (int)c->payload.len, c->payload.data);
    fflush(stdout);
    return AVS_STATUS_OK;
}

/* --state-dir: one file per key. */
static int state_path(const assistant *a, const char *key, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", a->state_dir, key);
    return n > 0 && (size_t)n < cap;
}

static ptrdiff_t state_load(void *ud, const char *key, uint8_t *buf, size_t cap) {
    char path[PATH_MAX];
    if (!state_path(ud, key, path, sizeof path)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    return more ? -1 : (ptrdiff_t)n;
}

static int state_store(void *ud, const char *key, const uint8_t *data, size_t len) {
    char path[PATH_MAX], tmp[PATH_MAX + 4];
    if (!state_path(ud, key, path, sizeof path) || snprintf(tmp, sizeof tmp, "%s.new", path) <= 0) return AVS_STATUS_INVALID_ARGUMENT;
    FILE *f = fopen(tmp, "wb");
    if (!f) return AVS_STATUS_INVALID_ARGUMENT;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    /* Written whole, then renamed: a crash leaves the old value, not half a new one. */
    if (!ok || rename(tmp, path) != 0) return AVS_STATUS_INVALID_ARGUMENT;
    return AVS_STATUS_OK;
}

static int state_erase(void *ud, const char *key) {
    char path[PATH_MAX];
    if (!state_path(ud, key, path, sizeof path)) return AVS_STATUS_INVALID_ARGUMENT;
    return remove(path) == 0 || errno == ENOENT ? AVS_STATUS_OK : AVS_STATUS_INVALID_ARGUMENT;
}

static void on_dialog_state(void *ud, avs_dialog_state state, avs_status reason) {
    assistant *a = ud;
    a->dialog = state;
    if (reason != AVS_STATUS_OK) {
        a->turn_failed = 1;
        a->turn_error = reason;
    }
    printf("dialog %s (%s)\n", dialog_name(state), avs_status_str((int)reason));
    fflush(stdout);
}

static void on_expect_speech(void *ud, uint32_t timeout_ms) {
    assistant *a = ud;
    a->expect_speech = 1;
    printf("<- ExpectSpeech: microphone requested within %u ms\n", timeout_ms);
}

static void on_speak(void *ud, avs_str token) {
    assistant *a = ud;
    size_t n = token.len < sizeof a->speak_token - 1 ? token.len : sizeof a->speak_token - 1;
    memcpy(a->speak_token, token.data, n);
    a->speak_token[n] = '\0';
    a->speech_pending++;
    a->speak_started = 0;
    a->speak_finished = 0;
    printf("<- Speak token %s\n", a->speak_token);
}

static void on_speech_audio(void *ud, avs_str token, const uint8_t *mp3, size_t len, bool last) {
    assistant *a = ud;
    (void)token;
    if (a->speech_out && len && fwrite(mp3, 1, len, a->speech_out) != len) perror("speech-out");
#ifdef AVS_FEATURE_ALSA
    if (a->player && len) avs_alsa_player_write_mp3(a->player, mp3, len);
#endif
    a->speech_bytes += len;
    if (last) {
        printf("<- Speak audio complete: %lu bytes\n", a->speech_bytes);
        a->speech_bytes = 0;
        a->speech_pending--;
        if (a->speech_out) fflush(a->speech_out);
#ifdef AVS_FEATURE_ALSA
        if (a->player) avs_alsa_player_finish(a->player);
#endif
    }
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
            "                     [--audio-in WAV] [--speech-out FILE] [--profile CLOSE_TALK|NEAR_FIELD|FAR_FIELD]\n"
            "                     [--utterances N] [--alsa] [--static-memory] [--endpoint-id ID]\n"
            "                     [--state-dir DIR] [--firmware-version N] [--locale L]\n"
            "                     [--lwa-url URL] [--client-id ID] [--client-secret S] [--refresh-token T]\n"
            "                     [--link --product-id P --dsn D] [--remote-auth] [--auth-code CODE --redirect-uri URI]\n"
            "  --token may also come from the AVS_ACCESS_TOKEN environment variable; with --client-id\n"
            "  the library signs in with Login with Amazon instead (see the comment at the top).\n");
}

/* Parses a non-negative number; returns -1 when it is not one. */
static double parse_number(const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0) return -1;
    return v;
}

/* Reads the PCM of a 16 kHz mono 16-bit WAV file; returns NULL (with a message) otherwise. */
static uint8_t *read_wav(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "avs_assistant: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t hdr[12];
    uint8_t *pcm = NULL;
    int fmt_ok = 0;
    if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) || memcmp(hdr + 8, "WAVE", 4)) goto bad;
    for (;;) {
        uint8_t ch[8];
        if (fread(ch, 1, 8, f) != 8) goto bad;
        uint32_t len = (uint32_t)ch[4] | (uint32_t)ch[5] << 8 | (uint32_t)ch[6] << 16 | (uint32_t)ch[7] << 24;
        if (!memcmp(ch, "fmt ", 4)) {
            uint8_t fmt[16];
            if (len < 16 || fread(fmt, 1, 16, f) != 16) goto bad;
            unsigned tag = fmt[0] | fmt[1] << 8, channels = fmt[2] | fmt[3] << 8, bits = fmt[14] | fmt[15] << 8;
            uint32_t rate = (uint32_t)fmt[4] | (uint32_t)fmt[5] << 8 | (uint32_t)fmt[6] << 16 | (uint32_t)fmt[7] << 24;
            fmt_ok = tag == 1 && channels == 1 && bits == 16 && rate == 16000;
            if (fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR)) goto bad;
        } else if (!memcmp(ch, "data", 4)) {
            if (!fmt_ok) goto bad;
            pcm = malloc(len ? len : 1);
            if (!pcm || fread(pcm, 1, len, f) != len) goto bad;
            fclose(f);
            *out_len = len;
            return pcm;
        } else if (fseek(f, (long)(len + (len & 1)), SEEK_CUR)) {
            goto bad;
        }
    }
bad:
    fprintf(stderr, "avs_assistant: %s is not a 16 kHz mono 16-bit PCM WAV\n", path);
    free(pcm);
    fclose(f);
    return NULL;
}

static int parse_profile(const char *s, avs_profile *out) {
    if (!strcmp(s, "CLOSE_TALK")) *out = AVS_PROFILE_CLOSE_TALK;
    else if (!strcmp(s, "NEAR_FIELD")) *out = AVS_PROFILE_NEAR_FIELD;
    else if (!strcmp(s, "FAR_FIELD")) *out = AVS_PROFILE_FAR_FIELD;
    else return 0;
    return 1;
}

/* True when a failure will not go away by retrying (configuration or trust problem). */
static int is_permanent(avs_status s) {
    return s == AVS_STATUS_CERTIFICATE_REJECTED || s == AVS_STATUS_NO_H2 || s == AVS_STATUS_BAD_CA;
}

/* --static-memory: the client's whole budget, as firmware would reserve it (in .bss). */
static unsigned char client_memory[1024 * 1024];

static void print_memory(const avs_client *client, const char *when) {
    avs_memory_stats m;
    if (avs_client_memory_stats(client, &m) != AVS_STATUS_OK) return;
    printf("memory: %s: reserved %zu B; nghttp2 pool %zu B, in use %zu B, peak %zu B, refused %llu; "
           "mbedTLS pool %zu B, in use %zu B, peak %zu B, refused %llu\n",
           when, m.reserved_bytes, m.http2.capacity, m.http2.in_use, m.http2.peak, (unsigned long long)m.http2.refused,
           m.tls.capacity, m.tls.in_use, m.tls.peak, (unsigned long long)m.tls.refused);
}

int main(int argc, char **argv) {
    const char *endpoint = NULL, *ca_file = NULL, *token = getenv("AVS_ACCESS_TOKEN");
    const char *audio_in = NULL, *speech_out = NULL;
    const char *endpoint_id = "avs-assistant", *state_dir = NULL, *locale = NULL;
    const char *lwa_url = NULL, *client_id = NULL, *client_secret = NULL, *refresh_token = NULL;
    const char *product_id = NULL, *dsn = NULL, *auth_code = NULL, *redirect_uri = NULL;
    int link = 0, remote_auth = 0;
    double firmware_version = 0;
    double run_for = 0, connect_timeout = 15, ping_interval_ms = -1, utterances = 1;
    avs_profile profile = AVS_PROFILE_NEAR_FIELD;
    int use_alsa = 0, utterances_given = 0, static_memory = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(opt, "--alsa")) {
            use_alsa = 1;
            continue;
        }
        if (!strcmp(opt, "--static-memory")) {
            static_memory = 1;
            continue;
        }
        if (!strcmp(opt, "--link")) {
            link = 1;
            continue;
        }
        if (!strcmp(opt, "--remote-auth")) {
            remote_auth = 1;
            continue;
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
        else if (!strcmp(opt, "--audio-in")) audio_in = val;
        else if (!strcmp(opt, "--speech-out")) speech_out = val;
        else if (!strcmp(opt, "--endpoint-id")) endpoint_id = val;
        else if (!strcmp(opt, "--state-dir")) state_dir = val;
        else if (!strcmp(opt, "--locale")) locale = val;
        else if (!strcmp(opt, "--lwa-url")) lwa_url = val;
        else if (!strcmp(opt, "--client-id")) client_id = val;
        else if (!strcmp(opt, "--client-secret")) client_secret = val;
        else if (!strcmp(opt, "--refresh-token")) refresh_token = val;
        else if (!strcmp(opt, "--product-id")) product_id = val;
        else if (!strcmp(opt, "--dsn")) dsn = val;
        else if (!strcmp(opt, "--auth-code")) auth_code = val;
        else if (!strcmp(opt, "--redirect-uri")) redirect_uri = val;
        else if (!strcmp(opt, "--firmware-version")) {
            firmware_version = parse_number(val);
            if (firmware_version < 1 || firmware_version > 2147483647.0 || firmware_version != (double)(uint32_t)firmware_version) {
                fprintf(stderr, "avs_assistant: --firmware-version is a whole number 1..2147483647, got %s\n", val);
                return 1;
            }
        }
        else if (!strcmp(opt, "--utterances")) {
            utterances = parse_number(val);
            utterances_given = 1;
        }
        else if (!strcmp(opt, "--profile")) {
            if (!parse_profile(val, &profile)) {
                fprintf(stderr, "avs_assistant: --profile is CLOSE_TALK, NEAR_FIELD or FAR_FIELD, got %s\n", val);
                return 1;
            }
        } else {
            fprintf(stderr, "avs_assistant: unknown option %s\n", opt);
            usage();
            return 1;
        }
        if (run_for < 0 || connect_timeout < 0 || utterances < 0 ||
            (ping_interval_ms < 0 && !strcmp(opt, "--ping-interval-ms"))) {
            fprintf(stderr, "avs_assistant: %s needs a non-negative number, got %s\n", opt, val);
            return 1;
        }
    }
    /* A state dir an earlier run signed in with: its client id and LWA URL. */
    static char kept_client_id[256], kept_lwa_url[512];
    if (!token && !client_id && state_dir) {
        assistant probe = {.state_dir = state_dir};
        ptrdiff_t n = state_load(&probe, "assistant-lwa-client-id", (uint8_t *)kept_client_id, sizeof kept_client_id - 1);
        if (n > 0) {
            kept_client_id[n] = 0;
            client_id = kept_client_id;
            n = state_load(&probe, "assistant-lwa-url", (uint8_t *)kept_lwa_url, sizeof kept_lwa_url - 1);
            if (n > 0 && !lwa_url) {
                kept_lwa_url[n] = 0;
                lwa_url = kept_lwa_url;
            }
        }
    }
    int use_lwa = client_id != NULL;
    if (!endpoint || !ca_file || (!token && !use_lwa)) {
        fprintf(stderr, "avs_assistant: --endpoint, --ca-file and --token (or --client-id) are required\n");
        usage();
        return 1;
    }
    if (!use_lwa && (lwa_url || client_secret || refresh_token || link || remote_auth || auth_code)) {
        fprintf(stderr, "avs_assistant: signing in with Login with Amazon needs --client-id\n");
        return 1;
    }
    if (link + remote_auth + (auth_code != NULL) > 1 || (link && (!product_id || !dsn)) ||
        (auth_code && !redirect_uri) || (remote_auth && !state_dir)) {
        fprintf(stderr, "avs_assistant: one of --link (with --product-id and --dsn), --remote-auth (with --state-dir) "
                        "or --auth-code (with --redirect-uri)\n");
        return 1;
    }
    if (use_lwa) token = NULL; /* the library gets its tokens itself */

    /* Without a microphone (no --audio-in, no --alsa) there is nothing to say: no turns unless asked. */
    if (!audio_in && !use_alsa && !utterances_given) utterances = 0;
    unsigned turns_wanted = (unsigned)utterances;
    uint8_t *wav = NULL;
    size_t wav_len = 0;
#ifndef AVS_FEATURE_ALSA
    if (use_alsa) {
        fprintf(stderr, "avs_assistant: built without ALSA (make FEATURES=alsa)\n");
        return 1;
    }
#endif
    if (turns_wanted > 0 && !use_alsa) {
        if (!audio_in) {
            fprintf(stderr, "avs_assistant: voice turns need --audio-in WAV or --alsa (or --utterances 0)\n");
            return 1;
        }
        wav = read_wav(audio_in, &wav_len);
        if (!wav) return 1;
    }

    assistant a = {0};
    a.volume = 50;
    a.state_dir = state_dir;
    if (speech_out) {
        a.speech_out = fopen(speech_out, "wb");
        if (!a.speech_out) {
            fprintf(stderr, "avs_assistant: cannot write %s: %s\n", speech_out, strerror(errno));
            return 1;
        }
    }
#ifdef AVS_FEATURE_ALSA
    avs_alsa_capture *capture = NULL;
    if (use_alsa) {
        const char *cap_dev = getenv("AVS_ALSA_CAPTURE"), *play_dev = getenv("AVS_ALSA_PLAYBACK");
        avs_status ast = avs_alsa_capture_open(cap_dev ? cap_dev : "default", &capture);
        if (ast == AVS_STATUS_OK) ast = avs_alsa_player_open(play_dev ? play_dev : "default", &a.player);
        if (ast != AVS_STATUS_OK) {
            fprintf(stderr, "avs_assistant: ALSA: %s: %s\n", avs_status_str((int)ast), avs_alsa_last_error());
            return 1;
        }
    }
#endif
    avs_config cfg;
    avs_config_init(&cfg);
    cfg.endpoint = endpoint;
    cfg.ca_file = ca_file;
    cfg.access_token = token;
    cfg.connect_timeout_ms = (uint32_t)(connect_timeout * 1000);
    avs_lwa_config lwa;
    avs_lwa_config_init(&lwa);
    if (use_lwa) {
        lwa.url = lwa_url;
        lwa.client_id = client_id;
        lwa.client_secret = client_secret;
        lwa.refresh_token = refresh_token;
        cfg.lwa = &lwa;
    }
    if (ping_interval_ms >= 0) cfg.ping_interval_ms = (uint32_t)ping_interval_ms;
    avs_callbacks cbs = {
        .user_data = &a,
        .on_state = on_state,
        .on_attachment = on_attachment,
        .on_exception = on_exception,
        .on_event_outcome = on_outcome,
        .on_log = on_log,
        .on_dialog_state = on_dialog_state,
        .on_expect_speech = on_expect_speech,
        .on_speak = on_speak,
        .on_speech_audio = on_speech_audio,
    };
    if (static_memory) {
        size_t need = 0;
        avs_status mst = avs_client_memory_required(&cfg, &need);
        if (mst != AVS_STATUS_OK) {
            fprintf(stderr, "avs_assistant: cannot size the client's memory: %s\n", avs_status_str((int)mst));
            return 1;
        }
        if (need > sizeof client_memory) {
            fprintf(stderr, "avs_assistant: the client needs %zu B, --static-memory has %zu B\n", need, sizeof client_memory);
            return 1;
        }
        cfg.memory = client_memory;
        cfg.memory_bytes = need;
    }
    avs_client *client = NULL;
    avs_status st = avs_client_new(&cfg, &cbs, &client);
    if (st != AVS_STATUS_OK) {
        fprintf(stderr, "avs_assistant: cannot create client: %s%s%s\n", avs_status_str((int)st),
                a.last_error[0] ? ": " : "", a.last_error);
        return 1;
    }
    if (static_memory) print_memory(client, "created");
    /* The interfaces this device implements, registered before connecting. */
    avs_directive_handler other = {.user_data = &a, .handle = on_other_directive};
    avs_speaker_handler speaker = {.user_data = &a, .apply = apply_volume, .initial = {.volume = (uint8_t)a.volume, .muted = false}};
    avs_device_info info = {
        .product_id = "avs-assistant",
        .serial_number = "avs-assistant-0001",
        .endpoint_id = endpoint_id,
        .friendly_name = "avs assistant",
        .manufacturer = "avs",
        .description = "the avs_assistant example",
        .display_category = "SPEAKER",
    };
    avs_notifications_handler notifications = {.user_data = &a, .set_indicator = set_indicator, .clear_indicator = clear_indicator};
    avs_template_handler cards = {.user_data = &a, .render = render_card};
    avs_storage storage = {.user_data = &a, .load = state_load, .store = state_store, .erase = state_erase};
    avs_auth_handler auth = {.user_data = &a, .on_auth_state = on_auth_state, .on_code_pair = on_code_pair};
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t wall_at = avs_monotonic_ms();
    const char *failed = NULL;
    if (avs_client_set_directive_handler(client, &other, sizeof other) != AVS_STATUS_OK) failed = "directive handler";
    else if (avs_client_set_speaker(client, &speaker, sizeof speaker) != AVS_STATUS_OK) failed = "speaker";
    else if (avs_client_set_device_info(client, &info, sizeof info) != AVS_STATUS_OK) failed = "the device info (--endpoint-id: 1..127 bytes)";
    else if (avs_client_enable_alexa_speaker(client) != AVS_STATUS_OK) failed = "Alexa.Speaker";
    else if (avs_client_set_notifications(client, &notifications, sizeof notifications) != AVS_STATUS_OK) failed = "notifications";
    else if (avs_client_set_template_runtime(client, &cards, sizeof cards) != AVS_STATUS_OK) failed = "cards";
    else if (state_dir && avs_client_set_storage(client, &storage, sizeof storage) != AVS_STATUS_OK) failed = "--state-dir";
    else if (avs_client_set_wall_clock(client, wall_at, (uint64_t)wall.tv_sec * 1000 + (uint64_t)wall.tv_nsec / 1000000) != AVS_STATUS_OK) failed = "wall clock";
    else if (firmware_version > 0 && avs_client_set_firmware_version(client, (uint32_t)firmware_version) != AVS_STATUS_OK) failed = "--firmware-version";
    else if (locale && avs_client_set_locale(client, locale) != AVS_STATUS_OK) failed = "--locale (an AVS locale such as en-US)";
    else if (avs_client_set_auth_handler(client, &auth, sizeof auth) != AVS_STATUS_OK) failed = "sign-in";
    else if (link && avs_client_start_linking(client, product_id, dsn) != AVS_STATUS_OK) failed = "--link (--product-id and --dsn: printable, 1..128 bytes)";
    else if (auth_code && avs_client_authorize(client, auth_code, NULL, redirect_uri) != AVS_STATUS_OK)
        failed = "--auth-code (no code verifier in --state-dir: run --remote-auth first)";
    if (failed) {
        fprintf(stderr, "avs_assistant: cannot set up %s\n", failed);
        avs_client_free(client);
        return 1;
    }
    if (use_lwa && state_dir) {
        /* What the next run needs to sign in from this state dir without flags. */
        assistant probe = {.state_dir = state_dir};
        int kept = state_store(&probe, "assistant-lwa-client-id", (const uint8_t *)client_id, strlen(client_id)) == AVS_STATUS_OK;
        if (kept && lwa_url) kept = state_store(&probe, "assistant-lwa-url", (const uint8_t *)lwa_url, strlen(lwa_url)) == AVS_STATUS_OK;
        if (!kept) {
            fprintf(stderr, "avs_assistant: cannot write to --state-dir %s\n", state_dir);
            avs_client_free(client);
            return 1;
        }
    }
    if (remote_auth) {
        char challenge[64];
        st = avs_client_code_challenge(client, challenge, sizeof challenge);
        if (st == AVS_STATUS_OK) printf("code challenge %s method S256\n", challenge);
        else fprintf(stderr, "avs_assistant: cannot make a code challenge (--state-dir writable?): %s\n", avs_status_str((int)st));
        avs_client_free(client);
        return st == AVS_STATUS_OK ? 0 : 1;
    }
    printf("volume %u muted %s\n", a.volume, a.muted ? "true" : "false");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t start = avs_monotonic_ms();
    if (link) {
        /* Linking first, connected to nothing else: until the code is entered, expires, or
         * --run-for ends. */
        int linked = 0;
        while (!stop_requested && !linked) {
            uint32_t next_ms = 0;
            uint64_t now = avs_monotonic_ms();
            if (avs_client_poll(client, now, &next_ms) != AVS_STATUS_OK) break;
            linked = a.auth == AVS_AUTH_STATE_AUTHORIZED;
            if (a.code_pairs > 1 || a.auth == AVS_AUTH_STATE_AUTHORIZATION_REQUIRED) break;
            if (run_for > 0 && now >= start + (uint64_t)(run_for * 1000)) break;
            int fds[4];
            size_t nfds = 0;
            bool wants_write = false;
            avs_client_fds(client, fds, 4, &nfds, &wants_write);
            struct pollfd pfds[4];
            for (size_t i = 0; i < nfds; i++) pfds[i] = (struct pollfd){.fd = fds[i], .events = POLLIN | (wants_write ? POLLOUT : 0)};
            poll(pfds, nfds, next_ms > 1000 ? 1000 : (int)next_ms);
        }
        if (!linked) {
            fprintf(stderr, "avs_assistant: not linked: %s\n",
                    a.code_pairs > 1 ? "the code expired" : a.auth == AVS_AUTH_STATE_AUTHORIZATION_REQUIRED ? avs_status_str((int)a.auth_reason) : "stopped or --run-for ended");
            avs_client_free(client);
            return 1;
        }
        start = avs_monotonic_ms();
    }
    avs_client_connect(client);

    uint64_t connect_deadline = start + (uint64_t)(connect_timeout * 1000);
    uint64_t connected_at = 0;
    int exit_code = 0;
    unsigned turns_done = 0, turns_answered = 0;
    uint64_t leaving_since = 0;
    int acted; /* this round called into the client: poll again at once */
    int in_turn = 0;
    size_t audio_pos = 0;
    uint64_t next_frame_at = 0;
    static const uint8_t silence[320];
    while (!stop_requested) {
        uint32_t next_ms = 0;
        uint64_t now = avs_monotonic_ms();
        acted = 0;
        st = avs_client_poll(client, now, &next_ms);
        if (st != AVS_STATUS_OK) {
            fprintf(stderr, "avs_assistant: poll failed: %s\n", avs_status_str((int)st));
            exit_code = 1;
            break;
        }
        if (a.ever_connected && !connected_at) connected_at = now;
        if (!a.ever_connected && (a.auth == AVS_AUTH_STATE_SIGNED_OUT || a.auth == AVS_AUTH_STATE_AUTHORIZATION_REQUIRED)) {
            fprintf(stderr, "avs_assistant: not signed in (%s): use --refresh-token, --link or --remote-auth and --auth-code\n",
                    auth_name(a.auth));
            exit_code = 1;
            break;
        }
        if (!a.ever_connected && (now >= connect_deadline || is_permanent(a.last_reason))) {
            fprintf(stderr, "avs_assistant: not connected to %s after %.1f s: %s%s%s\n", endpoint,
                    (double)(now - start) / 1000.0, avs_status_str((int)a.last_reason), a.last_error[0] ? " — " : "",
                    a.last_error);
            exit_code = 2;
            break;
        }
        /* Voice turns, one after another once connected. */
        if (a.ever_connected && !in_turn && (turns_done < turns_wanted || a.expect_speech) &&
            a.state == AVS_CONNECTION_STATE_CONNECTED && a.dialog == AVS_DIALOG_STATE_IDLE) {
            avs_turn_options opts = {.profile = (uint32_t)profile};
            a.expect_speech = 0;
            a.turn_failed = 0;
            st = avs_client_start_turn(client, &opts);
            acted = 1;
            if (st == AVS_STATUS_OK) {
                in_turn = 1;
                audio_pos = 0;
                next_frame_at = now;
                printf("turn %u: listening (%s)\n", turns_done + 1,
                       profile == AVS_PROFILE_CLOSE_TALK ? "CLOSE_TALK" : profile == AVS_PROFILE_NEAR_FIELD ? "NEAR_FIELD" : "FAR_FIELD");
            }
        }
        if (in_turn && a.dialog == AVS_DIALOG_STATE_LISTENING) {
            /* The microphone: 10 ms every 10 ms, from the file (then silence) or from ALSA. */
            while (now >= next_frame_at && a.dialog == AVS_DIALOG_STATE_LISTENING) {
#ifdef AVS_FEATURE_ALSA
                if (use_alsa) {
                    int16_t pcm[160];
                    size_t got = 0;
                    avs_alsa_capture_read(capture, pcm, 160, &got);
                    if (got) avs_client_audio_write(client, (const uint8_t *)pcm, got * 2);
                    next_frame_at = now + 5;
                    break;
                }
#endif
                if (audio_pos < wav_len) {
                    size_t n = wav_len - audio_pos < 320 ? wav_len - audio_pos : 320;
                    if (avs_client_audio_write(client, wav + audio_pos, n) != AVS_STATUS_OK) break;
                    audio_pos += n;
                } else if (profile == AVS_PROFILE_CLOSE_TALK) {
                    avs_client_end_audio(client); /* the button is released where the file ends */
                    acted = 1;
                    break;
                } else if (avs_client_audio_write(client, silence, sizeof silence) != AVS_STATUS_OK) {
                    break;
                }
                next_frame_at += 10;
            }
        }
        if (in_turn && a.dialog == AVS_DIALOG_STATE_SPEAKING && !a.speak_started) {
            /* Playback starts with the first bytes (the speaker, or the file being written). */
            a.speak_started = 1;
            avs_client_speech_started(client, a.speak_token);
            acted = 1;
        }
        if (in_turn && a.dialog == AVS_DIALOG_STATE_SPEAKING && a.speak_started && !a.speak_finished &&
            a.speech_pending == 0) {
            int played = 1;
#ifdef AVS_FEATURE_ALSA
            /* With a speaker, the Speak is finished when the player has drained it. */
            if (a.player) {
                avs_alsa_player_info info;
                played = avs_alsa_player_get_info(a.player, &info) == AVS_STATUS_OK && info.finished != a.played;
                if (played) a.played = info.finished;
            }
#endif
            if (played) {
                acted = 1;
                /* Once per Speak; the dialog may stay SPEAKING until the turn's response ends. */
                a.speak_finished = 1;
                avs_client_speech_finished(client, a.speak_token);
                printf("played Speak %s\n", a.speak_token);
            }
        }
        if (in_turn && a.dialog == AVS_DIALOG_STATE_IDLE && a.speech_pending == 0) {
            in_turn = 0;
            turns_done++;
            if (a.turn_failed) {
                fprintf(stderr, "avs_assistant: turn %u got no answer: %s\n", turns_done, avs_status_str((int)a.turn_error));
            } else {
                turns_answered++;
            }
        }
        int turns_finished = turns_done >= turns_wanted && !in_turn && !a.expect_speech;
        if (connected_at && turns_finished && now >= connected_at + (uint64_t)(run_for * 1000)) {
            /* Let what was reported (SpeechStarted/Finished...) reach AVS before leaving, within reason. */
            size_t pending = 0;
            avs_client_pending_events(client, &pending);
            if (!leaving_since) leaving_since = now;
            if (!pending || a.state != AVS_CONNECTION_STATE_CONNECTED || now >= leaving_since + 5000) break;
        }

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
        if (acted) continue; /* what was just queued goes out now, not after the next wait */
        int timeout = next_ms > 1000 ? 1000 : (int)next_ms;
        if (in_turn && a.dialog == AVS_DIALOG_STATE_LISTENING) {
            uint64_t t = avs_monotonic_ms();
            int until_frame = next_frame_at > t ? (int)(next_frame_at - t) : 0;
            if (until_frame < timeout) timeout = until_frame;
        }
        if (poll(pfds, nfds, timeout) < 0 && errno != EINTR) {
            perror("poll");
            exit_code = 1;
            break;
        }
    }
    if (exit_code == 0) {
        avs_client_state(client, &a.state);
        printf("done: %u of %u turns answered, %u directives received, state %s\n", turns_answered, turns_done,
               a.directives, state_name(a.state));
        if (turns_answered < turns_done || turns_done < turns_wanted) exit_code = 1;
    }
    if (static_memory) print_memory(client, "end");
    avs_client_free(client);
#ifdef AVS_FEATURE_ALSA
    if (capture) avs_alsa_capture_close(capture);
    if (a.player) avs_alsa_player_close(a.player);
#endif
    if (a.speech_out) fclose(a.speech_out);
    free(wav);
    return exit_code;
}

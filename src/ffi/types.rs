//! Plain C types of the API: borrowed strings, config, callbacks, host I/O.

use std::os::raw::{c_char, c_void};

use crate::status::{AvsConnectionState, AvsDialogState, AvsLogLevel, AvsStatus};

/// A borrowed byte string: `data` points at `len` bytes, not NUL-terminated. Valid only during
/// the callback that receives it. Print with `printf("%.*s", (int)s.len, s.data)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsStr {
    /// First byte (never NULL; may be a pointer to an empty string).
    pub data: *const c_char,
    /// Number of bytes.
    pub len: usize,
}

impl AvsStr {
    pub(crate) fn from(bytes: &[u8]) -> Self {
        AvsStr { data: bytes.as_ptr() as *const c_char, len: bytes.len() }
    }
}

/// A C `bool` the host wrote, taken as the byte it is: read as a Rust `bool`, any value but 0 or
/// 1 would be undefined behaviour. The header declares it `bool` (same size and passing).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CBool(pub u8);

impl CBool {
    /// The value, or `None` for a byte that is no C `bool`.
    pub fn get(self) -> Option<bool> {
        match self.0 {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl From<bool> for CBool {
    fn from(b: bool) -> Self {
        CBool(u8::from(b))
    }
}

/// A directive the library hands to the host, all fields borrowed for the callback's duration.
#[repr(C)]
pub struct AvsDirective {
    /// `header.namespace`, e.g. `Speaker`.
    pub namespace_: AvsStr,
    /// `header.name`, e.g. `SetVolume`.
    pub name: AvsStr,
    /// `header.messageId`.
    pub message_id: AvsStr,
    /// `header.dialogRequestId`; `len` 0 when the directive has none.
    pub dialog_request_id: AvsStr,
    /// The raw JSON of `payload`.
    pub payload: AvsStr,
    /// The whole directive JSON as received.
    pub json: AvsStr,
}

/// Host callbacks. Every member may be NULL. They run on the client's thread, inside
/// `avs_client_poll` or inside the call whose effect they report (see the header's conventions),
/// and must not call back into the same client (`AVS_STATUS_REENTRANT`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsCallbacks {
    /// Passed unchanged as the first argument of every callback.
    pub user_data: *mut c_void,
    /// The connection state changed; `reason` is `AVS_STATUS_OK` for normal progress, otherwise
    /// why the connection was lost or refused (e.g. `AVS_STATUS_CERTIFICATE_REJECTED`).
    pub on_state: Option<unsafe extern "C" fn(user_data: *mut c_void, state: AvsConnectionState, reason: AvsStatus)>,
    /// A directive with no typed handler in the library, as soon as its part is complete.
    pub on_directive: Option<unsafe extern "C" fn(user_data: *mut c_void, directive: *const AvsDirective)>,
    /// A piece of a binary attachment (`Content-ID` without angle brackets). `last` is true on the
    /// final piece of each attachment (possibly with `len` 0).
    pub on_attachment: Option<
        unsafe extern "C" fn(user_data: *mut c_void, content_id: AvsStr, data: *const u8, len: usize, last: bool),
    >,
    /// The server answered with an exception (`System.Exception` JSON): for a host event
    /// (`event_id` ≠ 0) or for the library's own requests (`event_id` 0).
    pub on_exception: Option<
        unsafe extern "C" fn(user_data: *mut c_void, event_id: u32, http_status: u16, code: AvsStr, description: AvsStr),
    >,
    /// The final outcome of an event from `avs_client_send_event`: exactly once per event.
    /// `AVS_STATUS_OK` with the HTTP status (200/204) when the server accepted it.
    pub on_event_outcome: Option<unsafe extern "C" fn(user_data: *mut c_void, event_id: u32, status: AvsStatus, http_status: u16)>,
    /// A log line (no trailing newline), at or above the configured level.
    pub on_log: Option<unsafe extern "C" fn(user_data: *mut c_void, level: AvsLogLevel, message: AvsStr)>,
    /// The dialog state changed (drive the device's lights from it). `reason` is
    /// `AVS_STATUS_OK` normally; when a turn ends in an error (connection lost, server error,
    /// `AVS_STATUS_TIMEOUT`, `AVS_STATUS_CANCELLED`) the state is `AVS_DIALOG_STATE_IDLE` and
    /// `reason` says why.
    pub on_dialog_state: Option<unsafe extern "C" fn(user_data: *mut c_void, state: AvsDialogState, reason: AvsStatus)>,
    /// ExpectSpeech: Alexa asks for more speech. Open the microphone (after the current Speak
    /// has finished playing) and call `avs_client_start_turn` within `timeout_ms`; otherwise the
    /// library tells AVS the time ran out.
    pub on_expect_speech: Option<unsafe extern "C" fn(user_data: *mut c_void, timeout_ms: u32)>,
    /// A Speak directive: Alexa's answer, whose MP3 audio follows through `on_speech_audio` with
    /// the same token. Report playback with `avs_client_speech_started`/`_finished`.
    pub on_speak: Option<unsafe extern "C" fn(user_data: *mut c_void, token: AvsStr)>,
    /// A piece of a Speak's MP3 audio, as the bytes arrive; `last` is true once per Speak.
    pub on_speech_audio: Option<unsafe extern "C" fn(user_data: *mut c_void, token: AvsStr, mp3: *const u8, len: usize, last: bool)>,
}

/// How a voice turn starts.
#[repr(C)]
pub struct AvsTurnOptions {
    /// An `avs_profile` value: `AVS_PROFILE_CLOSE_TALK` (the device ends the audio with
    /// `avs_client_end_audio`), `AVS_PROFILE_NEAR_FIELD` or `AVS_PROFILE_FAR_FIELD` (AVS ends it).
    pub profile: u32,
    /// True when a wake word started the turn; false for a tap or button. A byte other than 0
    /// or 1 is `AVS_STATUS_INVALID_ARGUMENT`.
    pub wake_word: CBool,
    /// With `wake_word`: first and last sample of the keyword, counted from the first sample
    /// written for this turn (which should start about 500 ms, 8000 samples, before it).
    pub wake_word_start_sample: u64,
    /// See `wake_word_start_sample`.
    pub wake_word_end_sample: u64,
}

/// Returned by host I/O `send`/`recv` when nothing can move now.
pub const AVS_IO_WOULD_BLOCK: isize = -1;
/// Returned by host I/O `send`/`recv`/`connect` on failure.
pub const AVS_IO_ERROR: isize = -2;

/// Host-supplied network I/O, for firmware with its own TCP stack. All four functions are
/// required. They are called only from inside `avs_client_poll` and must not block.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsIo {
    /// Passed unchanged as the first argument.
    pub user_data: *mut c_void,
    /// Starts a TCP connection to `host` (NUL-terminated) and `port`. Returns a handle ≥ 0 (the
    /// connection may still be in progress: `send` then returns `AVS_IO_WOULD_BLOCK`), or
    /// `AVS_IO_ERROR`.
    pub connect: Option<unsafe extern "C" fn(user_data: *mut c_void, host: *const c_char, port: u16) -> isize>,
    /// Sends up to `len` bytes: returns how many (> 0), `AVS_IO_WOULD_BLOCK` or `AVS_IO_ERROR`.
    pub send: Option<unsafe extern "C" fn(user_data: *mut c_void, handle: isize, data: *const u8, len: usize) -> isize>,
    /// Receives up to `len` bytes: returns how many (> 0), 0 when the peer closed,
    /// `AVS_IO_WOULD_BLOCK` or `AVS_IO_ERROR`.
    pub recv: Option<unsafe extern "C" fn(user_data: *mut c_void, handle: isize, buf: *mut u8, len: usize) -> isize>,
    /// Closes the connection; the handle is not used again.
    pub close: Option<unsafe extern "C" fn(user_data: *mut c_void, handle: isize)>,
}

/// Counters of one of a client's memory pools (see `avs_client_memory_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AvsPoolStats {
    /// Size of the pool, in bytes.
    pub capacity: usize,
    /// Bytes handed out now (block headers not counted).
    pub in_use: usize,
    /// The most `in_use` has been since creation.
    pub peak: usize,
    /// Allocations served since creation.
    pub allocations: u64,
    /// Allocations refused for lack of room (each failed what asked for it with an error).
    pub refused: u64,
}

/// What a client's memory holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AvsMemoryStats {
    /// Bytes carved at creation for every buffer and both pools (`avs_client_memory_required`).
    pub reserved_bytes: usize,
    /// nghttp2's pool (`http2_memory_bytes`).
    pub http2: AvsPoolStats,
    /// mbedTLS's pool (`tls_memory_bytes` plus the parsed CA certificates).
    pub tls: AvsPoolStats,
    /// mbedTLS's pool for the Login with Amazon session (`avs_lwa_config.tls_memory_bytes`);
    /// all zero without `avs_config.lwa`.
    pub sign_in: AvsPoolStats,
}

/// Client configuration. Fill it with `avs_config_init`, then set at least `endpoint`, a CA
/// (`ca_file` or `ca_pem`) and `access_token` (or `lwa`). Strings are copied by `avs_client_new`.
#[repr(C)]
pub struct AvsConfig {
    /// Base URL, `https://host[:port]`, e.g. `https://alexa.na.gateway.devices.a2z.com`.
    pub endpoint: *const c_char,
    /// Path of a PEM file of trusted CA certificates; NULL to use `ca_pem`.
    pub ca_file: *const c_char,
    /// PEM (or DER) CA certificates in memory, `ca_pem_len` bytes; used when `ca_file` is NULL.
    pub ca_pem: *const u8,
    /// Length of `ca_pem`.
    pub ca_pem_len: usize,
    /// Login with Amazon access token (without `Bearer `); may be NULL with `lwa`.
    pub access_token: *const c_char,
    /// Events held while waiting to be sent (default 8). A full queue makes
    /// `avs_client_send_event` return `AVS_STATUS_QUEUE_FULL`.
    pub event_queue_capacity: u32,
    /// Largest event payload JSON, in bytes (default 2048).
    pub max_event_bytes: u32,
    /// Largest directive JSON part, in bytes (default 4096); larger ones are answered with
    /// `System.ExceptionEncountered`.
    pub max_directive_bytes: u32,
    /// Concurrent HTTP/2 streams, downchannel included (default 4; at least 2, the downchannel
    /// and one event, or `avs_client_new` fails with `AVS_STATUS_BAD_CONFIG`; at most 10, and
    /// never more than the server allows).
    pub max_streams: u32,
    /// Idle time before a PING (default 300000 = 5 min).
    pub ping_interval_ms: u32,
    /// A PING unanswered this long drops the connection (default 30000). It also bounds how
    /// long an event waits for its response headers: events go one at a time, so one the server
    /// never answers would hold back every later one. Such an event's stream is reset and the
    /// event retried (up to `max_event_attempts`, then `AVS_STATUS_TIMEOUT`).
    pub ping_timeout_ms: u32,
    /// Time allowed from starting a connection to being synchronized (default 15000). With the
    /// built-in sockets, every address the endpoint's name resolves to is tried in turn: one
    /// that fails gives way at once, one that neither connects nor fails after its share of
    /// this time (address i of n by (i+1)/n of it), and only when all fail is the attempt
    /// reported, address by address, in the log. Name resolution itself blocks in the system
    /// resolver inside `avs_client_poll`; hosts that cannot afford that supply `io`.
    pub connect_timeout_ms: u32,
    /// First reconnect delay (default 250); doubles per failure, with jitter.
    pub backoff_base_ms: u32,
    /// Longest reconnect delay (default 20000).
    pub backoff_max_ms: u32,
    /// Times an event is sent before a 429/5xx or lost connection counts as its final outcome
    /// (default 3).
    pub max_event_attempts: u32,
    /// Most detailed log level passed to `on_log`, an `avs_log_level` value (default
    /// `AVS_LOG_LEVEL_INFO`). A plain integer so that any value from C is safe: one that names
    /// no level makes `avs_client_new` fail with `AVS_STATUS_BAD_CONFIG`.
    pub log_level: u32,
    /// Host network I/O; NULL for the built-in POSIX sockets.
    pub io: *const AvsIo,
    /// Microphone audio buffered between `avs_client_audio_write` and the network, in bytes
    /// (default 16000 = 0.5 s). A write that does not fit returns `AVS_STATUS_RING_FULL`.
    pub audio_ring_bytes: u32,
    /// Speak audio held when it arrives before its directive (default 16384). Early audio
    /// larger than this is handed to `on_attachment` as it arrives (nothing is dropped), and the
    /// Speak that then names it is not delivered: no `on_speak`, so no SpeechStarted/Finished
    /// for audio the player never got; AVS gets `System.ExceptionEncountered` and the turn ends
    /// in IDLE with `AVS_STATUS_ATTACHMENT_TOO_LARGE`. Size it for the longest answer expected
    /// to arrive audio-first.
    pub attachment_buffer_bytes: u32,
    /// How long a turn may wait for Alexa's answer after its audio ended (default 10000);
    /// then it ends with `AVS_STATUS_TIMEOUT`.
    pub turn_timeout_ms: u32,
    /// Memory for the HTTP/2 layer (nghttp2), reserved at creation (default 32768: two sessions
    /// during a GOAWAY hand-over with room for more streams; one session with a few streams
    /// uses about 11 KB). nghttp2 draws every block from it and makes no heap calls; a session
    /// that would need more fails with `AVS_STATUS_NO_MEMORY` instead of growing.
    pub http2_memory_bytes: u32,
    /// Memory for TLS sessions (mbedTLS), reserved at creation (default 81920: two sessions
    /// during a GOAWAY hand-over, one handshaking, with room for a long server certificate
    /// chain; one session needs about 35 KB while it handshakes and 29 KB after). mbedTLS draws
    /// every block from it; a handshake that would need more fails with `AVS_STATUS_NO_MEMORY`
    /// and is retried. The parsed CA certificates get their own share on top, measured at
    /// creation: ship only the roots you need, each costs RAM for the client's lifetime.
    pub tls_memory_bytes: u32,
    /// Memory the client carves all of its buffers and both pools from, instead of the heap: a
    /// static buffer of the firmware, say. NULL (the default) for one heap allocation at
    /// creation. `avs_client_memory_required` tells how many bytes a configuration needs; with
    /// fewer, `avs_client_new` fails with `AVS_STATUS_NO_MEMORY`. The memory is the client's
    /// until `avs_client_free` returns; any alignment works.
    pub memory: *mut c_void,
    /// Length of `memory`.
    pub memory_bytes: usize,
    /// Sign-in with Login with Amazon (`avs_lwa_config`, filled by `avs_lwa_config_init`); NULL
    /// (the default) when the host brings every access token. With it, `access_token` may be
    /// NULL: the client connects once it has a token.
    pub lwa: *const crate::ffi::auth::AvsLwaConfig,
}

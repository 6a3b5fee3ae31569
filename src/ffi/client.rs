//! `avs_client_*`, `avs_config_init`, `avs_status_str`, `avs_version`.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::{AcqRel, Acquire, Relaxed, Release}};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use crate::host::{DirectiveView, Host};
use crate::client::{Client, Settings};
use crate::ffi::guard;
use crate::ffi::io::HostNetwork;
use crate::ring::{AudioRing, WriteError};
use crate::interfaces::speech_recognizer::TurnOptions;
use crate::ffi::types::{AvsCallbacks, CBool, AvsConfig, AvsDirective, AvsMemoryStats, AvsPoolStats, AvsStr, AvsTurnOptions};
use std::sync::Arc;
use crate::status::{AvsConnectionState, AvsDialogState, AvsLogLevel, AvsProfile, AvsStatus};
use crate::transport::io::PosixNetwork;

/// An AVS client. Create with `avs_client_new`, free with `avs_client_free`. One thread at a
/// time may use a client; a second thread calling in while one is inside a call is refused with
/// `AVS_STATUS_REENTRANT` (the guard is atomic), not raced.
pub struct AvsClient {
    inner: UnsafeCell<Client>,
    /// `IDLE`, `BUSY` while a call is inside the client (and so while it runs a host callback:
    /// other calls, from the callback or from another thread, are refused), or `BUSY_FREE` when
    /// `avs_client_free` came while busy: the call inside frees the client as it leaves. One
    /// atomic, so that a free racing the end of a call is never lost.
    state: AtomicU8,
    /// Set after a caught panic: the client's state can no longer be trusted.
    poisoned: AtomicBool,
    /// The microphone ring, outside `inner` so that an audio thread can write while `inner` is
    /// in use.
    ring: Arc<AudioRing>,
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const BUSY_FREE: u8 = 2;

/// Takes the client for one call: `Err(Reentrant)` while another call is inside it.
///
/// SAFETY: `client` is a live client from `avs_client_new`.
unsafe fn enter(client: *mut AvsClient) -> Result<(), AvsStatus> {
    let this = &*client;
    if this.poisoned.load(Acquire) {
        return Err(AvsStatus::Panic);
    }
    this.state.compare_exchange(IDLE, BUSY, Acquire, Relaxed).map(|_| ()).map_err(|_| AvsStatus::Reentrant)
}

/// Gives the client back after a call; when a free was requested meanwhile (from a callback, or
/// from another thread), frees it and returns `AVS_STATUS_CLIENT_FREED` instead of `status`.
///
/// SAFETY: the caller entered `client` with `enter` and holds no reference into it.
unsafe fn leave(client: *mut AvsClient, status: AvsStatus) -> AvsStatus {
    if status == AvsStatus::Panic {
        (*client).poisoned.store(true, Release);
    }
    match (*client).state.compare_exchange(BUSY, IDLE, Release, Acquire) {
        Ok(_) => status,
        Err(_) => {
            // BUSY_FREE: still taken, so nothing else can enter while it goes.
            destroy(client);
            AvsStatus::ClientFreed
        }
    }
}

/// Runs `f` with exclusive access to the client (see `enter` and `leave`).
///
/// SAFETY: `client` is a live client from `avs_client_new`.
pub(crate) unsafe fn with(client: *mut AvsClient, f: impl FnOnce(&mut Client) -> AvsStatus) -> AvsStatus {
    if let Err(e) = enter(client) {
        return e;
    }
    // SAFETY: entered, so no other reference into `inner` is live.
    let status = guard(|| f(&mut *(*client).inner.get()));
    leave(client, status)
}

/// Runs a read-only query with the client taken like any call (a query racing a call on
/// another thread is refused, not raced).
///
/// SAFETY: `client` is a live client from `avs_client_new`.
unsafe fn peek(client: *const AvsClient, f: impl FnOnce(&Client) -> AvsStatus) -> AvsStatus {
    let client = client as *mut AvsClient;
    if let Err(e) = enter(client) {
        return e;
    }
    // SAFETY: entered, so no mutable reference into `inner` is live.
    let status = guard(|| f(&*(*client).inner.get()));
    leave(client, status)
}

/// Closes the client's connections, settles its held events and frees it. The caller has taken
/// the client (`state` not `IDLE`), so callbacks that call in are refused.
///
/// SAFETY: `client` is a live client from `avs_client_new`, not used again.
unsafe fn destroy(client: *mut AvsClient) {
    let _ = guard(|| {
        let boxed = Box::from_raw(client);
        if !boxed.poisoned.load(Acquire) {
            let inner = &mut *boxed.inner.get();
            let _ = inner.disconnect();
            inner.cancel_all();
        }
        drop(boxed);
        AvsStatus::Ok
    });
}

pub(crate) struct CallbackHost {
    cb: AvsCallbacks,
    /// `avs_client_set_directive_handler`: replaces `on_directive` when set.
    pub(crate) directive_handler: Option<crate::ffi::interfaces::system::AvsDirectiveHandler>,
    /// `avs_client_set_auth_handler`.
    pub(crate) auth_handler: Option<crate::ffi::auth::AvsAuthHandler>,
}

/// The C callbacks of a client made by `avs_client_new`.
pub(crate) fn callback_host(c: &mut Client) -> &mut CallbackHost {
    c.host_mut().as_any_mut().downcast_mut::<CallbackHost>().expect("clients of the C API have C callbacks")
}

impl Host for CallbackHost {
    fn state_changed(&mut self, state: AvsConnectionState, reason: AvsStatus) {
        if let Some(f) = self.cb.on_state {
            // SAFETY: the host supplied the function and its user_data.
            unsafe { f(self.cb.user_data, state, reason) }
        }
    }

    fn directive(&mut self, d: &DirectiveView) -> AvsStatus {
        let c = AvsDirective {
            namespace_: AvsStr::from(d.namespace.as_bytes()),
            name: AvsStr::from(d.name.as_bytes()),
            message_id: AvsStr::from(d.message_id.as_bytes()),
            dialog_request_id: AvsStr::from(d.dialog_request_id.unwrap_or("").as_bytes()),
            payload: AvsStr::from(d.payload),
            json: AvsStr::from(d.json),
        };
        if let Some(h) = self.directive_handler {
            if let Some(f) = h.handle {
                // SAFETY: `c` and what it points at live across the call; host-supplied function.
                // A value that is no status is a failure (INTERNAL_ERROR to AVS).
                return crate::ffi::interfaces::host_status(unsafe { f(h.user_data, &c) }, AvsStatus::WrongState);
            }
        }
        match self.cb.on_directive {
            Some(f) => {
                // SAFETY: as above. A 0.2 host's on_directive takes what it gets: handled.
                unsafe { f(self.cb.user_data, &c) };
                AvsStatus::Ok
            }
            None => AvsStatus::Unsupported,
        }
    }

    fn attachment(&mut self, content_id: &[u8], data: &[u8], last: bool) {
        if let Some(f) = self.cb.on_attachment {
            // SAFETY: borrowed slices valid for the call.
            unsafe { f(self.cb.user_data, AvsStr::from(content_id), data.as_ptr(), data.len(), last) }
        }
    }

    fn exception(&mut self, event_id: u32, http_status: u16, code: &[u8], description: &[u8]) {
        if let Some(f) = self.cb.on_exception {
            // SAFETY: borrowed slices valid for the call.
            unsafe { f(self.cb.user_data, event_id, http_status, AvsStr::from(code), AvsStr::from(description)) }
        }
    }

    fn event_outcome(&mut self, event_id: u32, status: AvsStatus, http_status: u16) {
        if let Some(f) = self.cb.on_event_outcome {
            // SAFETY: host-supplied function.
            unsafe { f(self.cb.user_data, event_id, status, http_status) }
        }
    }

    fn log(&mut self, level: AvsLogLevel, message: &str) {
        if let Some(f) = self.cb.on_log {
            // SAFETY: borrowed string valid for the call.
            unsafe { f(self.cb.user_data, level, AvsStr::from(message.as_bytes())) }
        }
    }

    fn dialog_state(&mut self, state: AvsDialogState, reason: AvsStatus) {
        if let Some(f) = self.cb.on_dialog_state {
            // SAFETY: host-supplied function.
            unsafe { f(self.cb.user_data, state, reason) }
        }
    }

    fn expect_speech(&mut self, timeout_ms: u32) {
        if let Some(f) = self.cb.on_expect_speech {
            // SAFETY: host-supplied function.
            unsafe { f(self.cb.user_data, timeout_ms) }
        }
    }

    fn speak(&mut self, token: &[u8]) {
        if let Some(f) = self.cb.on_speak {
            // SAFETY: borrowed string valid for the call.
            unsafe { f(self.cb.user_data, AvsStr::from(token)) }
        }
    }

    fn speech_audio(&mut self, token: &[u8], mp3: &[u8], last: bool) {
        if let Some(f) = self.cb.on_speech_audio {
            // SAFETY: borrowed slices valid for the call.
            unsafe { f(self.cb.user_data, AvsStr::from(token), mp3.as_ptr(), mp3.len(), last) }
        }
    }

    fn auth_state(&mut self, state: crate::status::AvsAuthState, reason: AvsStatus) {
        if let Some(f) = self.auth_handler.and_then(|h| h.on_auth_state) {
            let h = self.auth_handler.expect("handler");
            // SAFETY: the host supplied the function and its user_data.
            unsafe { f(h.user_data, state, reason) }
        }
    }

    fn code_pair(&mut self, user_code: &str, verification_uri: &str, expires_in_s: u32) {
        if let Some(f) = self.auth_handler.and_then(|h| h.on_code_pair) {
            let h = self.auth_handler.expect("handler");
            // SAFETY: as above; the strings live across the call.
            unsafe { f(h.user_data, AvsStr::from(user_code.as_bytes()), AvsStr::from(verification_uri.as_bytes()), expires_in_s) }
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

/// Reads a required NUL-terminated UTF-8 string argument.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char) -> Result<&'a str, AvsStatus> {
    if p.is_null() {
        return Err(AvsStatus::NullArgument);
    }
    CStr::from_ptr(p).to_str().map_err(|_| AvsStatus::InvalidArgument)
}

/// Fills `config` with defaults: no endpoint, CA or token; capacities and timers as documented on
/// each field.
#[no_mangle]
pub unsafe extern "C" fn avs_config_init(config: *mut AvsConfig) -> AvsStatus {
    if config.is_null() {
        return AvsStatus::NullArgument;
    }
    config.write(AvsConfig {
        endpoint: std::ptr::null(),
        ca_file: std::ptr::null(),
        ca_pem: std::ptr::null(),
        ca_pem_len: 0,
        access_token: std::ptr::null(),
        event_queue_capacity: 8,
        max_event_bytes: 2048,
        max_directive_bytes: 4096,
        max_streams: 4,
        ping_interval_ms: 300_000,
        ping_timeout_ms: 30_000,
        connect_timeout_ms: 15_000,
        backoff_base_ms: 250,
        backoff_max_ms: 20_000,
        max_event_attempts: 3,
        log_level: AvsLogLevel::Info as u32,
        io: std::ptr::null(),
        audio_ring_bytes: 16_000,
        attachment_buffer_bytes: 16_384,
        turn_timeout_ms: 10_000,
        http2_memory_bytes: 32_768,
        tls_memory_bytes: 81_920,
        memory: std::ptr::null_mut(),
        memory_bytes: 0,
        lwa: std::ptr::null(),
    });
    AvsStatus::Ok
}

/// The log level of a C configuration; `None` when the value names no level.
fn log_level_from(v: u32) -> Option<AvsLogLevel> {
    match v {
        0 => Some(AvsLogLevel::Error),
        1 => Some(AvsLogLevel::Warn),
        2 => Some(AvsLogLevel::Info),
        3 => Some(AvsLogLevel::Debug),
        _ => None,
    }
}

/// Creates a client from `config` and `callbacks` (both copied) and writes it to `*out`. The
/// client does not connect until `avs_client_connect`. On failure `*out` is untouched and, when
/// `callbacks->on_log` is set, a log line says what was wrong (e.g. which CA file failed).
#[no_mangle]
pub unsafe extern "C" fn avs_client_new(config: *const AvsConfig, callbacks: *const AvsCallbacks, out: *mut *mut AvsClient) -> AvsStatus {
    if config.is_null() || callbacks.is_null() || out.is_null() {
        return AvsStatus::NullArgument;
    }
    guard(|| {
        let cfg = &*config;
        let mut host = CallbackHost { cb: *callbacks, directive_handler: None, auth_handler: None };
        let fail = |host: &mut CallbackHost, status: AvsStatus, why: &str| {
            host.log(AvsLogLevel::Error, why);
            status
        };
        let endpoint = match arg_str(cfg.endpoint) {
            Ok(s) => s.to_string(),
            Err(e) => return fail(&mut host, e, "config.endpoint missing or not UTF-8"),
        };
        if log_level_from(cfg.log_level).is_none() {
            return fail(&mut host, AvsStatus::BadConfig, "config.log_level must be an avs_log_level value (0..3)");
        }
        // Checked here, copied last: no failure below can drop an unwiped copy of the token.
        // With Login with Amazon the token may come later.
        match arg_str(cfg.access_token) {
            Err(AvsStatus::NullArgument) if !cfg.lwa.is_null() => {}
            Err(e) => return fail(&mut host, e, "config.access_token missing or not UTF-8"),
            Ok(_) => {}
        }
        if let Err((status, why)) = crate::ffi::auth::lwa_settings(cfg.lwa) {
            return fail(&mut host, status, why);
        }
        let ca = match read_ca(cfg) {
            Ok(Some(ca)) => ca,
            Ok(None) => return fail(&mut host, AvsStatus::BadConfig, "config needs ca_file or ca_pem: server verification cannot be turned off"),
            Err((status, why)) => return fail(&mut host, status, &why),
        };
        let net: Box<dyn crate::transport::io::Network> = if cfg.io.is_null() {
            Box::new(PosixNetwork::new(cfg.connect_timeout_ms))
        } else {
            match HostNetwork::new(*cfg.io) {
                Some(n) => Box::new(n),
                None => return fail(&mut host, AvsStatus::BadConfig, "config.io needs connect, send, recv and close"),
            }
        };
        // Client::new takes the token and the sign-in secrets out of the settings and wipes
        // these copies.
        let token = arg_str(cfg.access_token).map(str::to_string).unwrap_or_default();
        let Some(settings) = settings_from(cfg, endpoint, ca, token) else {
            return fail(&mut host, AvsStatus::BadConfig, "config.log_level must be an avs_log_level value (0..3)");
        };
        match Client::new(settings, Box::new(CallbackHost { cb: *callbacks, directive_handler: None, auth_handler: None }), net) {
            Ok(client) => {
                let ring = client.audio_ring();
                let boxed = Box::new(AvsClient {
                    inner: UnsafeCell::new(client),
                    state: AtomicU8::new(IDLE),
                    poisoned: AtomicBool::new(false),
                    ring,
                });
                *out = Box::into_raw(boxed);
                AvsStatus::Ok
            }
            Err((status, why)) => fail(&mut host, status, &why),
        }
    })
}

/// The CA certificates of a configuration (`ca_file`, else `ca_pem`), `None` when it has none.
unsafe fn read_ca(cfg: &AvsConfig) -> Result<Option<Vec<u8>>, (AvsStatus, String)> {
    if !cfg.ca_file.is_null() {
        let path = arg_str(cfg.ca_file).map_err(|e| (e, "config.ca_file not UTF-8".to_string()))?;
        return std::fs::read(path).map(Some).map_err(|e| (AvsStatus::BadCa, format!("cannot read CA file {path}: {e}")));
    }
    if !cfg.ca_pem.is_null() && cfg.ca_pem_len > 0 {
        return Ok(Some(std::slice::from_raw_parts(cfg.ca_pem, cfg.ca_pem_len).to_vec()));
    }
    Ok(None)
}

/// The settings of a C configuration, with its strings already checked; `None` when a value
/// has no meaning (the log level).
fn settings_from(cfg: &AvsConfig, endpoint: String, ca: Vec<u8>, token: String) -> Option<Settings> {
    Some(Settings {
        endpoint,
        ca,
        token,
        event_queue_capacity: cfg.event_queue_capacity as usize,
        max_event_bytes: cfg.max_event_bytes as usize,
        max_directive_bytes: cfg.max_directive_bytes as usize,
        max_streams: cfg.max_streams,
        ping_interval_ms: cfg.ping_interval_ms.max(1),
        ping_timeout_ms: cfg.ping_timeout_ms.max(1),
        connect_timeout_ms: cfg.connect_timeout_ms.max(1),
        backoff_base_ms: cfg.backoff_base_ms,
        backoff_max_ms: cfg.backoff_max_ms,
        max_event_attempts: cfg.max_event_attempts,
        log_level: log_level_from(cfg.log_level)?,
        audio_ring_bytes: cfg.audio_ring_bytes as usize,
        attachment_buffer_bytes: cfg.attachment_buffer_bytes as usize,
        turn_timeout_ms: cfg.turn_timeout_ms.max(1),
        http2_memory_bytes: cfg.http2_memory_bytes as usize,
        tls_memory_bytes: cfg.tls_memory_bytes as usize,
        memory: (!cfg.memory.is_null()).then_some((cfg.memory as *mut u8, cfg.memory_bytes)),
        // SAFETY: checked by the caller (avs_client_new) or read for its sizes only.
        lwa: unsafe { crate::ffi::auth::lwa_settings(cfg.lwa) }.ok().flatten(),
    })
}

/// Writes to `*out_bytes` how much memory a client created with `config` takes for its buffers
/// and pools: the `memory_bytes` to supply with `config.memory`, or the one heap allocation
/// creation makes without it. The capacities of `config` are read, and its CA certificates
/// (`ca_file` or `ca_pem`), which are parsed to measure what they take: the mbedTLS pool holds
/// them on top of `tls_memory_bytes`. Without a CA the figure leaves them out. Creation takes
/// about 11 KB of heap besides (the client's handle, about 6 KB; its slot tables, about 100 B
/// per queued event and 270 B per stream; mbedTLS's entropy, DRBG and configuration structures,
/// about 2 KB; copies of its strings) and, while it parses them, scratch memory for measuring
/// the CA certificates (about 2.5 times their size plus 4 KB, freed at once; also when
/// `config.memory` is given, since creation measures them again). Should the heap lack even
/// those, the process aborts as Rust does on allocation failure: give the client its memory and
/// keep a few KB of heap free.
#[no_mangle]
pub unsafe extern "C" fn avs_client_memory_required(config: *const AvsConfig, out_bytes: *mut usize) -> AvsStatus {
    if config.is_null() || out_bytes.is_null() {
        return AvsStatus::NullArgument;
    }
    guard(|| {
        let ca = match read_ca(&*config) {
            Ok(ca) => ca.unwrap_or_default(),
            Err((status, _)) => return status,
        };
        if let Err((status, _)) = crate::ffi::auth::lwa_settings((*config).lwa) {
            return status;
        }
        let Some(settings) = settings_from(&*config, String::new(), ca, String::new()) else { return AvsStatus::BadConfig };
        match settings.plan() {
            Ok((_, total)) => {
                *out_bytes = total;
                AvsStatus::Ok
            }
            Err((status, _)) => status,
        }
    })
}

/// Frees a client: closes its connections and reports `AVS_STATUS_CANCELLED` through
/// `on_event_outcome` for every event still held. NULL is ignored. Called from inside one of the
/// client's callbacks (or while another thread is inside a call on it), the free is deferred: the
/// client goes when the call that ran the callback (e.g. `avs_client_poll`) returns, and that call
/// returns `AVS_STATUS_CLIENT_FREED` so the host sees it. The pointer must not be used after the
/// callback, but callbacks go on until that call returns (the held events' CANCELLED outcomes
/// among them): keep `user_data` valid until then. Stop the audio thread first: no
/// `avs_client_audio_write` may be running or follow. After a caught panic
/// (`AVS_STATUS_PANIC`) the client's state is not trusted and held events get no outcome.
#[no_mangle]
pub unsafe extern "C" fn avs_client_free(client: *mut AvsClient) {
    if client.is_null() {
        return;
    }
    let state = &(*client).state;
    loop {
        match state.compare_exchange(IDLE, BUSY, Acquire, Acquire) {
            Ok(_) => return destroy(client),
            // From inside a callback (or while another thread is inside a call): freed as soon
            // as that call leaves, which then returns AVS_STATUS_CLIENT_FREED.
            Err(BUSY) => {
                if state.compare_exchange(BUSY, BUSY_FREE, AcqRel, Acquire).is_ok() {
                    return;
                }
                // The call left meanwhile: take the client now.
            }
            Err(_) => return, // a free is already on its way
        }
    }
}

/// Starts connecting; progress happens in `avs_client_poll`. `AVS_STATUS_WRONG_STATE` if already
/// connecting or connected.
#[no_mangle]
pub unsafe extern "C" fn avs_client_connect(client: *mut AvsClient) -> AvsStatus {
    call(client, Client::connect)
}

/// Closes the connection gracefully. Held events stay queued for the next `avs_client_connect`.
/// `AVS_STATUS_WRONG_STATE` if not connecting or connected.
#[no_mangle]
pub unsafe extern "C" fn avs_client_disconnect(client: *mut AvsClient) -> AvsStatus {
    call(client, Client::disconnect)
}

/// Replaces the access token (NUL-terminated printable ASCII, without `Bearer `, at most 2041
/// bytes: longer is `AVS_STATUS_TOO_LARGE`). The old token is wiped from the client's memory; the
/// library keeps no other copy (the header is sent never-indexed, so HPACK holds none either).
/// After `AVS_CONNECTION_STATE_TOKEN_REJECTED`, the client reconnects at once with the new token.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_token(client: *mut AvsClient, token: *const c_char) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let token = match arg_str(token) {
        Ok(t) => t,
        Err(e) => return e,
    };
    with(client, |c| c.set_token(token).err().unwrap_or(AvsStatus::Ok))
}

/// Queues an event for an interface the library does not model. `namespace_` and `name` are
/// NUL-terminated identifiers; `payload_json` a NUL-terminated JSON object (`"{}"` for none). With
/// `with_context`, the device context is included. The library adds the `messageId`. On success
/// `*out_event_id` (may be NULL) receives the id that `on_event_outcome` will report exactly
/// once. Works in any state: while disconnected the event waits in the queue. A `with_context`
/// byte other than 0 or 1 is `AVS_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_send_event(
    client: *mut AvsClient,
    namespace_: *const c_char,
    name: *const c_char,
    payload_json: *const c_char,
    with_context: CBool,
    out_event_id: *mut u32,
) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let Some(with_context) = with_context.get() else { return AvsStatus::InvalidArgument };
    let (ns, name, payload) = match (arg_str(namespace_), arg_str(name), arg_str(payload_json)) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    with(client, |c| match c.send_event(ns, name, payload.as_bytes(), with_context) {
        Ok(id) => {
            if !out_event_id.is_null() {
                *out_event_id = id;
            }
            AvsStatus::Ok
        }
        Err(e) => e,
    })
}

/// Does all pending work: network I/O, timers, callbacks. `now_ms` is a monotonic clock in
/// milliseconds (e.g. `avs_monotonic_ms()`); any value works, from any starting point. Only how
/// far it moved since the last call counts: should it jump backwards (a corrected RTC, a reset
/// counter), the timers go on from where they were instead of freezing until it catches up. On success `*out_next_ms` (may be NULL) receives how
/// long the host may wait before the next call if nothing happens on the client's sockets.
#[no_mangle]
pub unsafe extern "C" fn avs_client_poll(client: *mut AvsClient, now_ms: u64, out_next_ms: *mut u32) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| {
        let next = c.poll(now_ms);
        if !out_next_ms.is_null() {
            *out_next_ms = next;
        }
        AvsStatus::Ok
    })
}

/// Writes the current connection state to `*out_state`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_state(client: *const AvsClient, out_state: *mut AvsConnectionState) -> AvsStatus {
    if client.is_null() || out_state.is_null() {
        return AvsStatus::NullArgument;
    }
    peek(client, |c| {
        *out_state = c.state();
        AvsStatus::Ok
    })
}

/// Writes up to `capacity` socket descriptors to wait on into `fds` and their number to
/// `*out_count` (0 with host I/O). Wait for readability, and for writability too when
/// `*out_wants_write` (may be NULL) is true; then call `avs_client_poll`. Ask again after every
/// poll: the set changes (a new connection, a GOAWAY hand-over, and while connecting each
/// resolved address in turn gets its own socket).
#[no_mangle]
pub unsafe extern "C" fn avs_client_fds(
    client: *const AvsClient,
    fds: *mut c_int,
    capacity: usize,
    out_count: *mut usize,
    out_wants_write: *mut bool,
) -> AvsStatus {
    if client.is_null() || out_count.is_null() || (fds.is_null() && capacity > 0) {
        return AvsStatus::NullArgument;
    }
    peek(client, |inner| {
        let mut n = 0;
        for fd in inner.fds().take(capacity) {
            *fds.add(n) = fd;
            n += 1;
        }
        *out_count = n;
        if !out_wants_write.is_null() {
            *out_wants_write = inner.wants_write();
        }
        AvsStatus::Ok
    })
}

/// Starts a voice turn (SpeechRecognizer.Recognize): the dialog goes to LISTENING and the audio
/// written with `avs_client_audio_write` from now on is streamed to AVS in 10 ms frames as it
/// arrives. After ExpectSpeech, its initiator is echoed automatically. Requires
/// `AVS_CONNECTION_STATE_CONNECTED` and no turn in progress (`AVS_STATUS_WRONG_STATE`).
#[no_mangle]
pub unsafe extern "C" fn avs_client_start_turn(client: *mut AvsClient, options: *const AvsTurnOptions) -> AvsStatus {
    if client.is_null() || options.is_null() {
        return AvsStatus::NullArgument;
    }
    let o = &*options;
    let profile = match o.profile {
        0 => AvsProfile::CloseTalk,
        1 => AvsProfile::NearField,
        2 => AvsProfile::FarField,
        _ => return AvsStatus::InvalidArgument,
    };
    let wake_word = match o.wake_word.get() {
        Some(false) => None,
        Some(true) => Some((o.wake_word_start_sample, o.wake_word_end_sample)),
        None => return AvsStatus::InvalidArgument,
    };
    let opts = TurnOptions { profile, wake_word };
    with(client, |c| c.start_turn(opts).err().unwrap_or(AvsStatus::Ok))
}

/// Appends microphone audio to the current turn: `len` bytes of 16 kHz, 16-bit little-endian,
/// mono PCM. **Safe to call from one other thread** (an audio thread or interrupt handler) while
/// the client's thread polls; lock-free and allocation-free. All or nothing: returns
/// `AVS_STATUS_RING_FULL` when the bytes do not fit now (nothing was taken, so there is no gap),
/// `AVS_STATUS_OVERSIZED` when `len` exceeds `audio_ring_bytes` (it never could fit: split it),
/// `AVS_STATUS_WRONG_STATE` when no turn is capturing (before `avs_client_start_turn`, after
/// StopCapture or `avs_client_end_audio`), and `AVS_STATUS_REENTRANT` when another thread is
/// writing audio to this client at the same moment (one producer at a time: that write is
/// refused, not raced).
#[no_mangle]
pub unsafe extern "C" fn avs_client_audio_write(client: *const AvsClient, pcm: *const u8, len: usize) -> AvsStatus {
    if client.is_null() || (pcm.is_null() && len > 0) {
        return AvsStatus::NullArgument;
    }
    if len == 0 {
        return AvsStatus::Ok;
    }
    let ring = &(*client).ring;
    // Checked before the slice is built: `len` may be anything a C caller passed.
    if len > ring.capacity() {
        return AvsStatus::Oversized;
    }
    match ring.write(std::slice::from_raw_parts(pcm, len)) {
        Ok(()) => AvsStatus::Ok,
        Err(WriteError::Full) => AvsStatus::RingFull,
        Err(WriteError::NotCapturing) => AvsStatus::WrongState,
        Err(WriteError::Oversized) => AvsStatus::Oversized,
        Err(WriteError::Busy) => AvsStatus::Reentrant,
    }
}

/// Ends the current turn's audio (CLOSE_TALK: the talk button was released): what is buffered
/// is still sent, then the stream closes and the dialog goes to THINKING.
#[no_mangle]
pub unsafe extern "C" fn avs_client_end_audio(client: *mut AvsClient) -> AvsStatus {
    call(client, Client::end_audio)
}

/// Abandons the current turn: its stream is reset and the dialog returns to IDLE with
/// `AVS_STATUS_CANCELLED`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_cancel_turn(client: *mut AvsClient) -> AvsStatus {
    call(client, Client::cancel_turn)
}

/// Runs a playback report with its NUL-terminated token argument checked.
unsafe fn with_token(client: *mut AvsClient, token: *const c_char, f: fn(&mut Client, &str) -> Result<(), AvsStatus>) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    match arg_str(token) {
        Ok(t) => with(client, |c| f(c, t).err().unwrap_or(AvsStatus::Ok)),
        Err(e) => e,
    }
}

/// Runs an argument-less client operation behind the NULL check and the guard.
unsafe fn call(client: *mut AvsClient, f: fn(&mut Client) -> Result<(), AvsStatus>) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| f(c).err().unwrap_or(AvsStatus::Ok))
}

/// The host started playing the Speak with this token: sends SpeechStarted and reports PLAYING
/// in the context. Once per Speak: a token not delivered by `on_speak`, already started or
/// already finished gives `AVS_STATUS_WRONG_STATE` and sends nothing.
#[no_mangle]
pub unsafe extern "C" fn avs_client_speech_started(client: *mut AvsClient, token: *const c_char) -> AvsStatus {
    with_token(client, token, Client::speech_started)
}

/// The host finished playing the Speak with this token: sends SpeechFinished; the dialog returns
/// to IDLE when nothing else is playing (or waits for the turn ExpectSpeech asked for). Once
/// per Speak: a token not delivered or already finished gives `AVS_STATUS_WRONG_STATE` and
/// sends nothing (the dialog may stay SPEAKING until the turn's response ends).
#[no_mangle]
pub unsafe extern "C" fn avs_client_speech_finished(client: *mut AvsClient, token: *const c_char) -> AvsStatus {
    with_token(client, token, Client::speech_finished)
}

/// Writes the number of events not yet settled (queued or awaiting their answer, the library's
/// own included) to `*out_count`. A host about to shut down can poll until it is 0 so that
/// nothing it reported (e.g. SpeechFinished) is lost.
#[no_mangle]
pub unsafe extern "C" fn avs_client_pending_events(client: *const AvsClient, out_count: *mut usize) -> AvsStatus {
    if client.is_null() || out_count.is_null() {
        return AvsStatus::NullArgument;
    }
    peek(client, |c| {
        *out_count = c.pending_events();
        AvsStatus::Ok
    })
}

/// Writes what the client's memory holds to `*out_stats`: the bytes carved at creation, and how
/// much of its nghttp2 and mbedTLS pools is in use now and was at most. A firmware team sizes
/// `http2_memory_bytes`, `tls_memory_bytes` and `avs_lwa_config.tls_memory_bytes` from the
/// peaks seen on its own network.
#[no_mangle]
pub unsafe extern "C" fn avs_client_memory_stats(client: *const AvsClient, out_stats: *mut AvsMemoryStats) -> AvsStatus {
    if client.is_null() || out_stats.is_null() {
        return AvsStatus::NullArgument;
    }
    peek(client, |c| {
        let (reserved, h2, tls) = c.memory_stats();
        let pool = |p: crate::transport::pool::PoolStats| AvsPoolStats {
            capacity: p.capacity,
            in_use: p.live,
            peak: p.peak,
            allocations: p.allocs,
            refused: p.failures,
        };
        let sign_in = c.sign_in_pool_stats().map(pool).unwrap_or_default();
        out_stats.write(AvsMemoryStats { reserved_bytes: reserved, http2: pool(h2), tls: pool(tls), sign_in });
        AvsStatus::Ok
    })
}

/// Writes the dialog state to `*out_state`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_dialog_state(client: *const AvsClient, out_state: *mut AvsDialogState) -> AvsStatus {
    if client.is_null() || out_state.is_null() {
        return AvsStatus::NullArgument;
    }
    peek(client, |c| {
        *out_state = c.dialog_state();
        AvsStatus::Ok
    })
}

/// A static, NUL-terminated description of a status value (any integer is accepted).
#[no_mangle]
pub extern "C" fn avs_status_str(status: c_int) -> *const c_char {
    match AvsStatus::from_i32(status) {
        Some(s) => s.c_text().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// The library version, e.g. `"0.2.0"`.
#[no_mangle]
pub extern "C" fn avs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// Milliseconds of `CLOCK_MONOTONIC`, a convenient `now_ms` for `avs_client_poll` on POSIX hosts.
#[no_mangle]
pub extern "C" fn avs_monotonic_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

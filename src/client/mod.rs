//! The client: one AVS connection (two while a GOAWAY'd one drains), its state machine, the event
//! queue and the timers, all driven by [`Client::poll`] with the host's clock.

pub mod backoff;
pub mod dispatch;
pub mod queue;
pub mod secret;

use crate::protocol::message::{self, EventHeader, ExceptionKind, IdGenerator};
use crate::protocol::multipart;
use crate::status::{AvsStatus, ConnectionState, LogLevel};
use crate::transport::endpoint::{parse_endpoint, Endpoint};
use crate::transport::h2::{H2Session, Header};
use crate::transport::io::{IoError, Network};
use crate::transport::pool::{Pool, PoolBox};
use crate::transport::tls::{TlsConfig, TlsError, TlsStream};
use crate::interfaces::speech_recognizer::{self, SpeechRecognizer, TurnOptions, TurnPhase};
use crate::interfaces::speech_synthesizer::SpeechSynthesizer;
use crate::interfaces::{Cx, EventSink, Interfaces};
use backoff::Backoff;
use dispatch::{ConnFlags, Dispatch, StreamKind, StreamTable};
use crate::host::{log, Host};
use crate::memory::{Buf, Plan, Region};
use queue::{EventQueue, Owner, SlotIndex};
use crate::ring::AudioRing;
use std::sync::Arc;

/// AVS allows at most this many concurrent streams per connection.
pub const AVS_MAX_STREAMS: u32 = 10;
const DIRECTIVES_PATH: &[u8] = b"/v20160207/directives";
const EVENTS_PATH: &[u8] = b"/v20160207/events";
/// Multipart framing around an event's JSON (boundary lines and part headers).
const FRAMING_BYTES: usize = 256;
const RECV_CHUNK: usize = 4096;
/// A downchannel that stayed open this long ended normally; reopening one that ended sooner
/// backs off.
const DOWNCHANNEL_HEALTHY_MS: u64 = 60_000;

/// Everything the client needs, checked and owned.
pub struct Settings {
    /// `https://host[:port]`.
    pub endpoint: String,
    /// PEM (or DER) CA certificates trusted for the server.
    pub ca: Vec<u8>,
    /// LWA access token.
    pub token: String,
    pub event_queue_capacity: usize,
    pub max_event_bytes: usize,
    pub max_directive_bytes: usize,
    pub max_streams: u32,
    pub ping_interval_ms: u32,
    pub ping_timeout_ms: u32,
    pub connect_timeout_ms: u32,
    pub backoff_base_ms: u32,
    pub backoff_max_ms: u32,
    pub max_event_attempts: u32,
    pub log_level: LogLevel,
    pub audio_ring_bytes: usize,
    pub attachment_buffer_bytes: usize,
    pub turn_timeout_ms: u32,
    pub http2_memory_bytes: usize,
    pub tls_memory_bytes: usize,
    /// Host memory to carve every buffer and pool from (`base`, `len`), instead of the heap.
    pub memory: Option<(*mut u8, usize)>,
    /// Sign-in with Login with Amazon; `None` when the host brings every token.
    pub lwa: Option<crate::auth::lwa::LwaSettings>,
}

impl Settings {
    /// What every buffer and pool of a client with these settings takes, and the total. The CA
    /// certificates are parsed once to measure them (none when `ca` is empty).
    pub fn plan(&self) -> Result<(Plan, usize), (AvsStatus, String)> {
        let too_large = || (AvsStatus::BadConfig, "capacities too large for this target's address space".to_string());
        let body_bytes = self.max_event_bytes.checked_add(FRAMING_BYTES + crate::interfaces::context_bytes()).ok_or_else(too_large)?;
        let event_bodies = EventQueue::bodies_bytes(self.event_queue_capacity, body_bytes).ok_or_else(too_large)?;
        let ca_certificates = if self.ca.is_empty() {
            0
        } else {
            crate::transport::tls::ca_pool_bytes(&self.ca).map_err(|e| (tls_status(&e), e.to_string()))?
        };
        let plan = Plan {
            event_bodies,
            streams: self.max_streams.clamp(2, AVS_MAX_STREAMS) as usize + 1,
            directive_bytes: self.max_directive_bytes,
            speech_head: body_bytes,
            attachment: self.attachment_buffer_bytes,
            audio_ring: self.audio_ring_bytes.max(speech_recognizer::AUDIO_FRAME_BYTES),
            context: crate::interfaces::context_bytes(),
            scratch: self.max_event_bytes,
            rx: RECV_CHUNK,
            auth_header: secret::AUTH_HEADER_BYTES,
            v3_answers: crate::interfaces::alexa_speaker::AlexaSpeaker::TOKEN_BYTES,
            http2_pool: self.http2_memory_bytes,
            tls_pool: self.tls_memory_bytes,
            ca_certificates,
            sign_in_pool: self.lwa.as_ref().map_or(0, |l| l.tls_memory_bytes),
            sign_in_buffers: if self.lwa.is_some() { crate::auth::lwa::LwaSettings::buffer_bytes() } else { 0 },
        };
        let total = plan.total().ok_or_else(too_large)?;
        Ok((plan, total))
    }
}

/// A string wiped before it is freed (the token on its way into the header buffer).
struct WipeOnDrop(String);

impl Drop for WipeOnDrop {
    fn drop(&mut self) {
        secret::wipe_string(&mut self.0);
    }
}

/// State used by response handling that is not tied to one connection.
pub struct Shared {
    pub log_level: LogLevel,
    pub ids: IdGenerator,
    pub boundary: heapless::String<40>,
    pub max_event_attempts: u32,
    pub event_backoff: Backoff,
    context_buf: Buf,
    scratch: Buf,
}

impl Shared {
    /// Builds an event body (multipart with the JSON event) into `out`; returns its length and,
    /// `with_context`, where the device context goes when the event is sent.
    fn build_event(
        &mut self,
        out: &mut [u8],
        namespace: &str,
        name: &str,
        payload: &[u8],
        with_context: bool,
    ) -> Result<(usize, Option<usize>), AvsStatus> {
        let boundary = self.boundary.clone();
        let mut len = multipart::write_metadata_part_head(out, &boundary).map_err(|_| AvsStatus::TooLarge)?;
        let context_at = with_context.then_some(len + 1);
        len += self.write_event_json(&mut out[len..], namespace, name, None, payload)?;
        len += multipart::write_close(&mut out[len..], &boundary).map_err(|_| AvsStatus::TooLarge)?;
        Ok((len, context_at))
    }

    /// Writes the event JSON, `{"event":...}`, with a fresh messageId into `out`. A context goes
    /// in later, just inside the opening brace, when the event is sent.
    fn write_event_json(
        &mut self,
        out: &mut [u8],
        namespace: &str,
        name: &str,
        dialog_request_id: Option<&str>,
        payload: &[u8],
    ) -> Result<usize, AvsStatus> {
        let id = self.ids.next_id();
        let header = EventHeader { namespace, name, message_id: id.as_str(), dialog_request_id };
        message::write_event(out, &header, None, payload).map_err(|e| match e {
            message::MessageError::Overflow => AvsStatus::TooLarge,
            _ => AvsStatus::InvalidArgument,
        })
    }

    /// Queues `System.ExceptionEncountered` for a directive the client could not handle.
    pub fn report_exception(&mut self, queue: &mut EventQueue, host: &mut dyn Host, unparsed: &[u8], kind: ExceptionKind, why: &str) {
        let mut scratch = core::mem::take(&mut self.scratch);
        // A directive too large to quote whole is quoted as far as it fits.
        let mut quoted = unparsed.len().min(scratch.len().saturating_sub(256));
        let result = loop {
            match message::write_exception_encountered_payload(&mut scratch, &unparsed[..quoted], kind, why) {
                Ok(n) => break Ok(n),
                Err(_) if quoted > 0 => quoted /= 2,
                Err(e) => break Err(e),
            }
        };
        let pushed = match result {
            Ok(n) => {
                let payload = &scratch[..n];
                queue.push_body(0, "System.ExceptionEncountered", Owner::Exception, |out| {
                    self.build_event(out, "System", "ExceptionEncountered", payload, true)
                })
            }
            Err(_) => Err(AvsStatus::TooLarge),
        };
        self.scratch = scratch;
        if let Err(e) = pushed {
            let why = if e == AvsStatus::QueueFull { "the library's exception slots are in use (the server keeps sending unusable data)" } else { e.text() };
            log!(host, self.log_level, LogLevel::Error, "ExceptionEncountered not sent: {why}");
        }
    }
}

/// Runs `f` with the interfaces and what they may use (the engine's one way in, from a host
/// call, a timer or a response being read).
pub(crate) fn run_interfaces<T>(ifaces: &mut Interfaces, queue: &mut EventQueue, shared: &mut Shared, host: &mut dyn Host, now: u64, f: impl FnOnce(&mut Interfaces, &mut Cx) -> T) -> T {
    let (log_level, wall_ms) = (shared.log_level, ifaces.wall_ms(now));
    let mut outbox = Outbox { queue, shared };
    let mut cx = Cx { now, log_level, host, events: &mut outbox, wall_ms };
    f(ifaces, &mut cx)
}

/// The interfaces' way into the event queue.
pub struct Outbox<'a> {
    pub queue: &'a mut EventQueue,
    pub shared: &'a mut Shared,
}

impl Outbox<'_> {
    fn push(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool, tag: u32, owner: Owner) -> Result<(), AvsStatus> {
        let mut label: heapless::String<48> = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut label, format_args!("{namespace}.{name}"));
        let shared = &mut *self.shared;
        self.queue.push_body(tag, &label, owner, |out| shared.build_event(out, namespace, name, payload, with_context)).map(|_| ())
    }
}

impl EventSink for Outbox<'_> {
    fn send_tagged(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool, tag: u32) -> Result<(), AvsStatus> {
        // Interfaces hold their events back until a slot is free, and leave one for the dialog.
        self.push(namespace, name, payload, with_context, tag, Owner::Interface)
    }

    fn send_dialog(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool) -> Result<(), AvsStatus> {
        self.push(namespace, name, payload, with_context, 0, Owner::Library)
    }

    fn send_raw(&mut self, label: &str, tag: u32, build: &mut dyn FnMut(&mut [u8], &str) -> Result<usize, AvsStatus>) -> Result<(), AvsStatus> {
        let shared = &mut *self.shared;
        self.queue
            .push_body(tag, label, Owner::Interface, |out| {
                let boundary = shared.boundary.clone();
                let mut len = multipart::write_metadata_part_head(out, &boundary).map_err(|_| AvsStatus::TooLarge)?;
                let id = shared.ids.next_id();
                len += build(&mut out[len..], id.as_str())?;
                len += multipart::write_close(&mut out[len..], &boundary).map_err(|_| AvsStatus::TooLarge)?;
                Ok((len, None))
            })
            .map(|_| ())
    }

    fn exception(&mut self, host: &mut dyn Host, unparsed: &[u8], kind: ExceptionKind, why: &str) {
        self.shared.report_exception(self.queue, host, unparsed, kind, why);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Active,
    Draining,
}

/// The byte stream under HTTP/2: TLS, or (fuzzing builds only) the raw stream, so that a fuzzer
/// can feed server bytes without a handshake.
enum Link {
    Tls(TlsStream),
    #[cfg(feature = "fuzzing")]
    Plain(Box<dyn crate::transport::io::Connection>),
}

impl Link {
    fn handshake(&mut self) -> Result<bool, TlsError> {
        match self {
            Link::Tls(t) => t.handshake(),
            #[cfg(feature = "fuzzing")]
            Link::Plain(_) => Ok(true),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, TlsError> {
        match self {
            Link::Tls(t) => t.recv(buf),
            #[cfg(feature = "fuzzing")]
            Link::Plain(c) => c.recv(buf).map_err(TlsError::Io),
        }
    }

    fn send(&mut self, buf: &[u8]) -> Result<usize, TlsError> {
        match self {
            Link::Tls(t) => t.send(buf),
            #[cfg(feature = "fuzzing")]
            Link::Plain(c) => c.send(buf).map_err(TlsError::Io),
        }
    }

    fn fd(&self) -> Option<i32> {
        match self {
            Link::Tls(t) => t.fd(),
            #[cfg(feature = "fuzzing")]
            Link::Plain(c) => c.fd(),
        }
    }

    fn wants_write(&self) -> bool {
        match self {
            Link::Tls(t) => t.wants_write(),
            #[cfg(feature = "fuzzing")]
            Link::Plain(_) => false,
        }
    }

    fn wake_in_ms(&self) -> Option<u64> {
        match self {
            Link::Tls(t) => t.wake_in_ms(),
            #[cfg(feature = "fuzzing")]
            Link::Plain(c) => c.wake_in_ms(),
        }
    }
}

/// One TLS + HTTP/2 connection.
struct Connection {
    tls: Link,
    h2: Option<H2Session>,
    flags: ConnFlags,
    role: Role,
    wants_write: bool,
}

/// The AVS client.
pub struct Client {
    settings: Settings,
    endpoint: Endpoint,
    auth_header: secret::AuthHeader,
    /// Where the token comes from and when it is renewed.
    auth: crate::auth::Auth,
    tls: TlsConfig,
    net: Box<dyn Network>,
    host: Box<dyn Host>,
    shared: Shared,
    ifaces: Interfaces,
    queue: EventQueue,
    streams: StreamTable,
    conns: [Option<Box<Connection>>; 2],
    next_conn_id: u32,
    state: ConnectionState,
    /// Whether the host wants to be connected (after `connect`, until `disconnect`).
    wanted: bool,
    /// A connection attempt ran out of pool memory beside a draining connection: retry as soon
    /// as that one is gone, rather than after the back-off.
    retry_on_drain: bool,
    reconnect_at: Option<u64>,
    connect_deadline: u64,
    conn_backoff: Backoff,
    /// Downchannels that ended soon after opening, in a row, and the back-off for reopening them.
    downchannel_quick_ends: u32,
    downchannel_backoff: Backoff,
    next_event_id: u32,
    rx: Buf,
    /// Fuzzing builds: HTTP/2 straight over the network's byte stream (`set_plaintext`).
    #[cfg(feature = "fuzzing")]
    plaintext: bool,
    /// The client's clock (see `advance_clock`), and the host's at the last poll.
    now: u64,
    host_clock_ms: Option<u64>,
    /// nghttp2's memory. Declared after `conns` so that the sessions are dropped first.
    h2_pool: PoolBox,
    /// mbedTLS's memory. Declared after `tls` and `conns`, which allocate from it.
    tls_pool: PoolBox,
    /// mbedTLS's memory for the token endpoint's session (Login with Amazon). Declared after
    /// `auth`, whose session draws from it, and after `tls`, whose CA certificates may hold
    /// values cached while it verified a server.
    sign_in_pool: Option<PoolBox>,
    /// Bytes carved at creation.
    reserved: usize,
    /// Where every buffer and both pools were carved from: declared last, dropped last.
    _memory: Region,
}

fn tls_status(e: &TlsError) -> AvsStatus {
    match e {
        TlsError::CertificateRejected(_) => AvsStatus::CertificateRejected,
        TlsError::NoH2 => AvsStatus::NoH2,
        TlsError::BadCaBundle(_) => AvsStatus::BadCa,
        TlsError::Io(IoError::Closed) => AvsStatus::ConnectionLost,
        TlsError::Io(_) | TlsError::Connect(_) => AvsStatus::ConnectFailed,
        TlsError::NoMemory => AvsStatus::NoMemory,
        TlsError::Protocol(_) => AvsStatus::Tls,
    }
}

/// Fuzzing builds are deterministic: ids, boundaries and jitter from a fixed seed, so that a
/// finding replays.
#[cfg(feature = "fuzzing")]
fn random_seed() -> u64 {
    0x5eed_f022_1e55_a11d
}

#[cfg(not(feature = "fuzzing"))]
fn random_seed() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most buf.len() bytes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n != 8 {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
        return (t as u64) ^ (std::process::id() as u64) << 32;
    }
    u64::from_ne_bytes(buf)
}

impl Client {
    /// Creates a client; every buffer it will use is allocated here, from one region: the host's
    /// memory (`settings.memory`) or one heap allocation, [`Settings::plan`] long.
    pub fn new(settings: Settings, host: Box<dyn Host>, net: Box<dyn Network>) -> Result<Self, (AvsStatus, String)> {
        let mut settings = settings;
        // The token lives on only in the header buffer; the settings' copy is wiped now.
        let token = core::mem::take(&mut settings.token);
        let token = WipeOnDrop(token);
        let endpoint = parse_endpoint(&settings.endpoint)
            .ok_or((AvsStatus::BadConfig, format!("endpoint must be https://host[:port], got {:?}", settings.endpoint)))?;
        if settings.event_queue_capacity == 0 || settings.max_event_bytes < 256 || settings.max_directive_bytes < 256 {
            return Err((AvsStatus::BadConfig, "capacities too small (queue ≥ 1, event and directive bytes ≥ 256)".into()));
        }
        if settings.max_streams < 2 {
            // The downchannel holds one stream for ever: with fewer than two no event could go out.
            return Err((AvsStatus::BadConfig, format!("max_streams {} leaves no stream for events beside the downchannel (at least 2)", settings.max_streams)));
        }
        // With Login with Amazon the token may come later; otherwise the host brings it now.
        let token_given = !token.0.is_empty() || settings.lwa.is_none();
        if token_given {
            match secret::AuthHeader::check(&token.0) {
                Ok(()) => {}
                Err(AvsStatus::TooLarge) => return Err((AvsStatus::TooLarge, format!("access token longer than {} bytes", secret::AUTH_HEADER_BYTES - 7))),
                Err(e) => return Err((e, "access token empty or not printable ASCII".into())),
            }
        }
        if let Some(lwa) = settings.lwa.as_ref() {
            lwa.check().map_err(|why| (AvsStatus::BadConfig, why))?;
        }
        let (plan, total) = settings.plan()?;
        let mut region = match settings.memory {
            Some((base, len)) if len >= total => {
                // SAFETY: the host gave this memory to the client for its lifetime (avs_config.memory).
                unsafe { Region::host(base, len) }
            }
            Some((_, len)) => {
                return Err((AvsStatus::NoMemory, format!("config.memory_bytes {len} is less than the {total} this configuration needs")))
            }
            None => Region::heap(total).ok_or((AvsStatus::NoMemory, format!("no heap for the client's {total} B")))?,
        };
        // SAFETY: every Buf lives in the client, which drops the region last.
        let mut carve = |len: usize| unsafe { region.carve(len) }.expect("the region holds the plan");
        let event_bodies = carve(plan.event_bodies);
        let stream_bufs: Vec<Buf> = (0..plan.streams).map(|_| carve(plan.directive_bytes)).collect();
        let (speech_head, attachment, audio) = (carve(plan.speech_head), carve(plan.attachment), carve(plan.audio_ring));
        let (context_buf, scratch, rx) = (carve(plan.context), carve(plan.scratch), carve(plan.rx));
        let mut auth_header = secret::AuthHeader::new(carve(plan.auth_header));
        if token_given {
            auth_header.set(&token.0).map_err(|e| (e, "access token".to_string()))?;
        }
        drop(token);
        let sign_in_bufs = settings.lwa.is_some().then(|| (carve(plan.sign_in_pool), crate::auth::lwa::LwaSettings::BUFFER_SIZES.iter().map(|&n| carve(n)).collect::<Vec<_>>()));
        let pool = |buf: Buf, what: &str| {
            Pool::in_buf(buf).map(PoolBox::new).ok_or_else(|| (AvsStatus::BadConfig, format!("{what} too small for a pool")))
        };
        let h2_pool = pool(carve(plan.http2_pool), "http2_memory_bytes")?;
        let tls_pool = pool(carve(plan.ca_certificates + plan.tls_pool), "tls_memory_bytes")?;
        let (sign_in_pool, lwa_memory) = match sign_in_bufs {
            Some((pool_buf, buffers)) => {
                let p = pool(pool_buf, "lwa.tls_memory_bytes")?;
                let memory = crate::auth::lwa::LwaMemory { pool: p.ptr(), buffers };
                (Some(p), Some(memory))
            }
            None => (None, None),
        };
        // mbedTLS keeps its parsed copy; the PEM text (possibly a whole bundle) is not needed after.
        let tls = TlsConfig::new(&core::mem::take(&mut settings.ca), tls_pool.ptr(), settings.lwa.is_some()).map_err(|e| match e {
            TlsError::NoMemory => (AvsStatus::NoMemory, format!("{e} while setting up the CA certificates (pool of {} B)", tls_pool.stats().capacity)),
            e => (tls_status(&e), e.to_string()),
        })?;
        let seed = random_seed();
        let auth = match (settings.lwa.take(), lwa_memory) {
            (Some(lwa_settings), Some(memory)) => {
                let backoff = Backoff::new(settings.backoff_base_ms, settings.backoff_max_ms, seed.rotate_left(41));
                let lwa = crate::auth::lwa::Lwa::new(lwa_settings, memory, settings.connect_timeout_ms, backoff)?;
                crate::auth::Auth::with_lwa(lwa, token_given)
            }
            _ => crate::auth::Auth::host_supplied(token_given, crate::auth::lwa::DEFAULT_REFRESH_AHEAD_MS),
        };
        let mut boundary = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut boundary, format_args!("avs-{:016x}{:08x}", seed, seed.rotate_left(17) as u32));
        let body_bytes = settings.max_event_bytes + FRAMING_BYTES + crate::interfaces::context_bytes();
        let ring = Arc::new(AudioRing::in_buf(audio));
        let alexa_speaker = crate::interfaces::alexa_speaker::AlexaSpeaker::new(carve(plan.v3_answers));
        let ifaces = Interfaces::new(SpeechRecognizer::new(ring, speech_head, settings.turn_timeout_ms), SpeechSynthesizer::new(attachment), alexa_speaker);
        let shared = Shared {
            log_level: settings.log_level,
            ids: IdGenerator::new((u128::from(seed) << 64 | u128::from(random_seed())).to_le_bytes()),
            boundary,
            max_event_attempts: settings.max_event_attempts.max(1),
            event_backoff: Backoff::new(settings.backoff_base_ms, settings.backoff_max_ms, seed ^ 0x9e37),
            context_buf,
            scratch,
        };
        Ok(Client {
            auth_header,
            auth,
            queue: EventQueue::with_bodies(settings.event_queue_capacity, body_bytes, event_bodies),
            streams: StreamTable::new(stream_bufs.into_iter()),
            conn_backoff: Backoff::new(settings.backoff_base_ms, settings.backoff_max_ms, seed),
            downchannel_quick_ends: 0,
            downchannel_backoff: Backoff::new(settings.backoff_base_ms, settings.backoff_max_ms, seed.rotate_left(29)),
            endpoint,
            tls,
            net,
            host,
            shared,
            ifaces,
            conns: [None, None],
            next_conn_id: 1,
            state: ConnectionState::Disconnected,
            wanted: false,
            retry_on_drain: false,
            reconnect_at: None,
            connect_deadline: 0,
            next_event_id: 1,
            rx,
            #[cfg(feature = "fuzzing")]
            plaintext: false,
            now: 0,
            host_clock_ms: None,
            h2_pool,
            tls_pool,
            sign_in_pool,
            settings,
            _memory: region,
            reserved: total,
        })
    }

    /// Fuzzing builds only (feature `fuzzing`, never in a release): speak HTTP/2 directly over
    /// the network's byte stream, with no TLS, so that a fuzzer can play the server's bytes.
    #[cfg(feature = "fuzzing")]
    pub fn set_plaintext(&mut self) {
        self.plaintext = true;
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    fn set_state(&mut self, state: ConnectionState, reason: AvsStatus) {
        if self.state != state {
            self.state = state;
            self.host.state_changed(state, reason);
        }
    }

    /// Starts connecting (on the next poll).
    pub fn connect(&mut self) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.wanted = true;
        self.restore_endpoint();
        self.with_auth(|auth, cx| auth.on_connect(cx));
        let mut scratch = core::mem::take(&mut self.shared.scratch);
        self.with_interfaces(|ifaces, cx| ifaces.on_connect(&mut scratch, cx));
        self.shared.scratch = scratch;
        self.conn_backoff.reset();
        self.reconnect_at = Some(self.now);
        self.set_state(ConnectionState::Connecting, AvsStatus::Ok);
        Ok(())
    }

    /// An endpoint `System.SetEndpoint` gave before a restart, from the host's storage.
    fn restore_endpoint(&mut self) {
        let Some(storage) = self.ifaces.storage.as_deref_mut() else { return };
        let mut buf = [0u8; crate::interfaces::system::ENDPOINT_MAX];
        let Some(n) = storage.load(crate::interfaces::storage::ENDPOINT_KEY, &mut buf) else { return };
        match core::str::from_utf8(&buf[..n]).ok().and_then(|url| parse_endpoint(url).map(|e| (url, e))) {
            Some((url, endpoint)) => {
                log!(self.host, self.shared.log_level, LogLevel::Info, "endpoint {} (kept from System.SetEndpoint)", endpoint.authority);
                self.endpoint = endpoint;
                self.settings.endpoint = url.to_string();
            }
            None => log!(self.host, self.shared.log_level, LogLevel::Warn, "the stored endpoint is not https://host[:port]; ignored"),
        }
    }

    /// Closes the connections gracefully; queued events stay queued for the next `connect`.
    pub fn disconnect(&mut self) -> Result<(), AvsStatus> {
        if !self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.wanted = false;
        self.reconnect_at = None;
        for i in 0..2 {
            if let Some(c) = self.conns[i].as_mut() {
                if let Some(h2) = c.h2.as_mut() {
                    h2.goaway();
                }
                let _ = self.flush(i);
                self.drop_conn(i, AvsStatus::Cancelled);
            }
        }
        self.set_state(ConnectionState::Disconnected, AvsStatus::Ok);
        Ok(())
    }

    /// Replaces the access token; after a rejection, reconnects at once.
    pub fn set_token(&mut self, token: &str) -> Result<(), AvsStatus> {
        self.auth_header.set(token)?;
        self.with_auth(|auth, cx| auth.host_token_set(cx));
        if matches!(self.state, ConnectionState::TokenRejected | ConnectionState::Authorizing) && self.wanted {
            self.conn_backoff.reset();
            self.reconnect_at = Some(self.now);
            self.set_state(ConnectionState::Connecting, AvsStatus::Ok);
        }
        Ok(())
    }

    /// Queues an event; its outcome arrives through the host's `event_outcome`.
    pub fn send_event(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool) -> Result<u32, AvsStatus> {
        let valid_name = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        if !valid_name(namespace) || !valid_name(name) {
            return Err(AvsStatus::InvalidArgument);
        }
        if payload.len() > self.settings.max_event_bytes {
            return Err(AvsStatus::TooLarge);
        }
        let id = self.next_event_id;
        let mut label: heapless::String<48> = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut label, format_args!("{namespace}.{name}"));
        let shared = &mut self.shared;
        self.queue.push_body(id, &label, Owner::Host, |out| shared.build_event(out, namespace, name, payload, with_context))?;
        self.next_event_id = self.next_event_id.wrapping_add(1).max(1);
        Ok(id)
    }

    /// Socket descriptors to wait on (readable, and writable when [`wants_write`](Self::wants_write)).
    pub fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.conns.iter().flatten().filter_map(|c| c.tls.fd()).chain(self.auth.fd())
    }

    /// Whether some connection has bytes waiting for the socket to become writable.
    pub fn wants_write(&self) -> bool {
        self.conns.iter().flatten().any(|c| c.wants_write) || self.auth.wants_write()
    }

    /// Runs `f` with sign-in and what it may use.
    fn with_auth<T>(&mut self, f: impl FnOnce(&mut crate::auth::Auth, &mut crate::auth::AuthCx) -> T) -> T {
        let mut cx = crate::auth::AuthCx {
            now: self.now,
            log_level: self.shared.log_level,
            host: &mut *self.host,
            storage: self.ifaces.storage.as_deref_mut(),
            header: &mut self.auth_header,
            tls: &self.tls,
            net: &mut *self.net,
        };
        f(&mut self.auth, &mut cx)
    }

    /// Moves sign-in on; a connection waiting for a token starts as soon as one comes.
    fn drive_auth(&mut self) {
        let granted = self.with_auth(|auth, cx| auth.poll(cx));
        if granted && self.wanted && self.conns[0].is_none() && matches!(self.state, ConnectionState::Authorizing | ConnectionState::TokenRejected) {
            self.conn_backoff.reset();
            self.reconnect_at = Some(self.now);
        }
    }

    /// Does all pending work and returns how many milliseconds may pass before the next poll.
    pub fn poll(&mut self, now_ms: u64) -> u32 {
        self.advance_clock(now_ms);
        self.drive_auth();
        self.start_connection_if_due();
        // A few rounds: reading can unlock sending (headers allow the next event), and so on.
        for _ in 0..4 {
            let mut progressed = false;
            for i in 0..2 {
                if self.conns[i].is_some() {
                    progressed |= self.drive(i);
                }
                if let Some(reason) = self.ifaces.turn_abort.take() {
                    let _ = self.abort_turn(reason);
                }
            }
            if !progressed {
                break;
            }
        }
        self.check_timers();
        self.interface_timers();
        self.next_wakeup()
    }

    /// Moves the client's own clock by how far the host's moved since the last poll. The
    /// client's clock starts at 0 and only ever moves forward by the host's steps: a host clock
    /// that jumps backwards costs no time (timers go on from where they were, rather than
    /// freezing until the host clock catches up), and one near the top of `u64` cannot make a
    /// deadline overflow.
    fn advance_clock(&mut self, host_now_ms: u64) {
        let step = match self.host_clock_ms {
            Some(prev) if host_now_ms >= prev => host_now_ms - prev,
            Some(prev) => {
                log!(self.host, self.shared.log_level, LogLevel::Warn, "clock went back {} ms; timers carry on from where they were", prev - host_now_ms);
                0
            }
            None => 0,
        };
        self.host_clock_ms = Some(host_now_ms);
        self.now = self.now.saturating_add(step);
    }

    fn start_connection_if_due(&mut self) {
        if !self.wanted || self.conns[0].is_some() || self.state == ConnectionState::TokenRejected {
            return;
        }
        if !self.auth.has_token() {
            // Signing in, linking, or a refresh after a rejection: connecting waits for the
            // token (`drive_auth` starts it then), with no timer of its own.
            self.set_state(ConnectionState::Authorizing, AvsStatus::Ok);
            self.reconnect_at = None;
            return;
        }
        match self.reconnect_at {
            Some(t) if t <= self.now => {}
            _ => return,
        }
        self.reconnect_at = None;
        self.set_state(ConnectionState::Connecting, AvsStatus::Ok);
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        log!(self.host, self.shared.log_level, LogLevel::Info, "connecting to {} (connection {id})", self.endpoint.authority);
        let stream = match self.net.connect(&self.endpoint.host, self.endpoint.port) {
            Ok(s) => s,
            Err(e) => {
                let why = self.net.last_failure().unwrap_or_else(|| match e {
                    IoError::Failed(errno) => crate::transport::io::describe_errno(errno),
                    other => format!("{other:?}"),
                });
                log!(self.host, self.shared.log_level, LogLevel::Warn, "connect failed: {why}");
                self.schedule_retry(AvsStatus::ConnectFailed);
                return;
            }
        };
        #[cfg(feature = "fuzzing")]
        let started = if self.plaintext { Ok(Link::Plain(stream)) } else { TlsStream::start(&self.tls, stream, &self.endpoint.host).map(Link::Tls) };
        #[cfg(not(feature = "fuzzing"))]
        let started = TlsStream::start(&self.tls, stream, &self.endpoint.host).map(Link::Tls);
        match started {
            Ok(tls) => {
                let flags = ConnFlags { id, last_activity_ms: self.now, ..Default::default() };
                self.conns[0] = Some(Box::new(Connection { tls, h2: None, flags, role: Role::Active, wants_write: false }));
                self.connect_deadline = self.now.saturating_add(u64::from(self.settings.connect_timeout_ms));
            }
            Err(e) => {
                log!(self.host, self.shared.log_level, LogLevel::Error, "{e}{}", self.memory_hint(&e));
                self.schedule_retry(tls_status(&e));
            }
        }
    }

    /// What to tell the host when TLS ran out of memory.
    fn memory_hint(&self, e: &TlsError) -> String {
        match e {
            TlsError::NoMemory => format!(" (tls_memory_bytes {} may be too small)", self.tls_pool.stats().capacity),
            _ => String::new(),
        }
    }

    fn schedule_retry(&mut self, reason: AvsStatus) {
        if reason == AvsStatus::TokenRejected {
            if self.with_auth(|auth, cx| auth.token_rejected(cx)) {
                // Login with Amazon gets a new token; the connection follows it.
                self.reconnect_at = Some(self.now);
                self.set_state(ConnectionState::Authorizing, reason);
                return;
            }
            self.reconnect_at = None;
            log!(self.host, self.shared.log_level, LogLevel::Warn, "access token rejected; waiting for a new one");
            self.set_state(ConnectionState::TokenRejected, reason);
            return;
        }
        // Pools sized for one connection: the draining one holds the memory this attempt lacked.
        self.retry_on_drain = reason == AvsStatus::NoMemory && self.conns.iter().flatten().any(|c| c.role == Role::Draining);
        let delay = self.conn_backoff.next_delay_ms();
        self.reconnect_at = Some(self.now.saturating_add(u64::from(delay)));
        log!(self.host, self.shared.log_level, LogLevel::Info, "reconnecting in {delay} ms (attempt {})", self.conn_backoff.failures());
        self.set_state(ConnectionState::WaitingToRetry, reason);
    }

    /// Moves bytes on connection `i`; returns whether anything happened.
    fn drive(&mut self, i: usize) -> bool {
        let Some(conn) = self.conns[i].as_mut() else { return false };
        if conn.h2.is_none() {
            match conn.tls.handshake() {
                Ok(false) => {
                    // The ClientHello waits for the connect: wake on writability, not a timer.
                    conn.wants_write = conn.tls.wants_write();
                    return false;
                }
                Ok(true) => {
                    if let Err(e) = self.on_established(i) {
                        self.drop_conn(i, e);
                        return false;
                    }
                }
                Err(e) => {
                    let status = tls_status(&e);
                    log!(self.host, self.shared.log_level, LogLevel::Error, "{e}{}", self.memory_hint(&e));
                    self.drop_conn(i, status);
                    return false;
                }
            }
        }
        let mut progressed = false;
        match self.read(i) {
            Ok(p) => progressed |= p,
            Err(status) => {
                self.drop_conn(i, status);
                return true;
            }
        }
        if let Some(status) = self.conns[i].as_ref().and_then(|c| c.flags.fail) {
            self.drop_conn(i, status);
            return true;
        }
        progressed |= self.after_read(i);
        self.resume_recognize(i);
        match self.flush(i) {
            Ok(p) => progressed |= p,
            Err(status) => {
                self.drop_conn(i, status);
                return true;
            }
        }
        progressed
    }

    fn on_established(&mut self, i: usize) -> Result<(), AvsStatus> {
        let pool = self.h2_pool.ptr();
        let h2 = H2Session::new(pool).map_err(|e| {
            log!(self.host, self.shared.log_level, LogLevel::Error, "{e} (http2_memory_bytes {} may be too small)", self.h2_pool.stats().capacity);
            AvsStatus::NoMemory
        })?;
        self.conns[i].as_mut().expect("connection present").h2 = Some(h2);
        log!(self.host, self.shared.log_level, LogLevel::Info, "TLS established with {} (ALPN h2)", self.endpoint.authority);
        self.open_downchannel(i)
    }

    fn open_downchannel(&mut self, i: usize) -> Result<(), AvsStatus> {
        let conn = self.conns[i].as_mut().expect("connection present");
        if !self.streams.has_free() {
            return Err(AvsStatus::Protocol);
        }
        let headers = [
            Header(b":method", b"GET"),
            Header(b":scheme", b"https"),
            Header(b":authority", self.endpoint.authority.as_bytes()),
            Header(b":path", DIRECTIVES_PATH),
            Header(b"authorization", self.auth_header.as_bytes()),
        ];
        let id = conn.h2.as_mut().expect("h2 session").submit_request(&headers, false).map_err(|_| AvsStatus::Protocol)?;
        conn.flags.downchannel = Some(id);
        conn.flags.downchannel_ended = false;
        conn.flags.downchannel_opened_ms = None;
        self.streams.open(conn.flags.id, id, StreamKind::Downchannel);
        log!(self.host, self.shared.log_level, LogLevel::Info, "-> GET /v20160207/directives (stream {id})");
        Ok(())
    }

    /// Opens a `POST /v20160207/events` stream whose multipart body comes from `read_body`.
    fn post_event(&mut self, i: usize) -> Result<i32, AvsStatus> {
        let conn = self.conns[i].as_mut().expect("connection present");
        let mut content_type: heapless::String<80> = heapless::String::new();
        let _ = core::fmt::Write::write_fmt(&mut content_type, format_args!("multipart/form-data; boundary={}", self.shared.boundary));
        let headers = [
            Header(b":method", b"POST"),
            Header(b":scheme", b"https"),
            Header(b":authority", self.endpoint.authority.as_bytes()),
            Header(b":path", EVENTS_PATH),
            Header(b"authorization", self.auth_header.as_bytes()),
            Header(b"content-type", content_type.as_bytes()),
        ];
        conn.h2.as_mut().expect("h2 session").submit_request(&headers, true).map_err(|_| AvsStatus::Protocol)
    }

    fn submit_event(&mut self, i: usize, slot: SlotIndex) -> Result<(), AvsStatus> {
        // The context says what the device's state is now, as the event goes out.
        let (ifaces, now) = (&self.ifaces, self.now);
        if let Err(e) = self.queue.prepare(slot, &mut self.shared.context_buf, |out| ifaces.write_context(now, out), self.auth_header.token()) {
            log!(self.host, self.shared.log_level, LogLevel::Error, "{}: the context or token does not fit the event ({})", self.queue.label(slot), e.text());
        }
        let id = self.post_event(i)?;
        let conn = self.conns[i].as_mut().expect("connection present");
        self.queue.mark_in_flight(slot);
        conn.flags.awaiting_headers = Some(id);
        conn.flags.awaiting_since_ms = self.now;
        if slot == self.queue.sync_slot() {
            conn.flags.sync_stream = Some(id);
        }
        self.streams.open(conn.flags.id, id, StreamKind::Event(slot));
        log!(self.host, self.shared.log_level, LogLevel::Info, "-> event {} (stream {id})", self.queue.label(slot));
        Ok(())
    }

    fn read(&mut self, i: usize) -> Result<bool, AvsStatus> {
        let conn = self.conns[i].as_mut().expect("connection present");
        let mut progressed = false;
        loop {
            match conn.tls.recv(&mut self.rx) {
                Ok(n) => {
                    progressed = true;
                    conn.flags.last_activity_ms = self.now;
                    let mut d = Dispatch {
                        flags: &mut conn.flags,
                        streams: &mut self.streams,
                        queue: &mut self.queue,
                        shared: &mut self.shared,
                        ifaces: &mut self.ifaces,
                        host: &mut *self.host,
                        now: self.now,
                    };
                    if let Err(e) = conn.h2.as_mut().expect("h2 session").recv(&self.rx[..n], &mut d) {
                        log!(self.host, self.shared.log_level, LogLevel::Error, "{e}");
                        return Err(AvsStatus::Protocol);
                    }
                    if conn.flags.fail.is_some() {
                        return Ok(true);
                    }
                }
                Err(TlsError::Io(IoError::WouldBlock)) => return Ok(progressed),
                Err(e) => {
                    let level = if conn.flags.goaway.is_some() { LogLevel::Info } else { LogLevel::Warn };
                    log!(self.host, self.shared.log_level, level, "connection {}: {e}", conn.flags.id);
                    return Err(match e {
                        TlsError::Io(_) => AvsStatus::ConnectionLost,
                        other => tls_status(&other),
                    });
                }
            }
        }
    }

    fn flush(&mut self, i: usize) -> Result<bool, AvsStatus> {
        let Some(conn) = self.conns[i].as_mut() else { return Ok(false) };
        let Some(h2) = conn.h2.as_mut() else { return Ok(false) };
        let mut progressed = false;
        conn.wants_write = false;
        loop {
            if h2.pending_output().is_empty() {
                let mut d = Dispatch {
                    flags: &mut conn.flags,
                    streams: &mut self.streams,
                    queue: &mut self.queue,
                    shared: &mut self.shared,
                    ifaces: &mut self.ifaces,
                    host: &mut *self.host,
                    now: self.now,
                };
                match h2.fill_output(&mut d) {
                    Ok(0) => return Ok(progressed),
                    Ok(_) => {}
                    Err(e) => {
                        log!(self.host, self.shared.log_level, LogLevel::Error, "{e}");
                        return Err(AvsStatus::Protocol);
                    }
                }
            }
            match conn.tls.send(h2.pending_output()) {
                Ok(n) => {
                    h2.consume_output(n);
                    progressed = true;
                }
                Err(TlsError::Io(IoError::WouldBlock)) => {
                    conn.wants_write = true;
                    return Ok(progressed);
                }
                Err(e) => {
                    log!(self.host, self.shared.log_level, LogLevel::Warn, "connection {}: {e}", conn.flags.id);
                    return Err(AvsStatus::ConnectionLost);
                }
            }
        }
    }

    /// Connection rules that follow from what was just read: SynchronizeState after the
    /// downchannel opens, reopening the downchannel, GOAWAY, sending the next event.
    fn after_read(&mut self, i: usize) -> bool {
        let mut progressed = false;
        let (id, role) = {
            let c = self.conns[i].as_ref().expect("connection present");
            (c.flags.id, c.role)
        };
        let goaway = self.conns[i].as_ref().expect("connection present").flags.goaway;
        if goaway.is_some() && role == Role::Active {
            self.retire_active();
            return true;
        }
        if role == Role::Draining {
            // Close the old connection once its event streams are done and the new one listens.
            let new_ready = self.conns[0].as_ref().map(|c| c.flags.downchannel_open).unwrap_or(false);
            if self.streams.events_on(id) == 0 && (new_ready || !self.wanted) {
                log!(self.host, self.shared.log_level, LogLevel::Info, "closing drained connection {id}");
                if let Some(h2) = self.conns[i].as_mut().and_then(|c| c.h2.as_mut()) {
                    h2.goaway();
                }
                let _ = self.flush(i);
                self.drop_conn(i, AvsStatus::GoAway);
                return true;
            }
            return false;
        }
        let c = self.conns[i].as_mut().expect("connection present");
        if c.flags.downchannel_ended && c.flags.goaway.is_none() {
            let at = match c.flags.downchannel_reopen_at {
                Some(at) => at,
                None => {
                    // A downchannel the server ends after a long life is normal (reopened at
                    // once); one it keeps ending quickly is reopened with back-off, not in a loop.
                    let lived = c.flags.downchannel_opened_ms.map(|t| self.now.saturating_sub(t));
                    if lived.is_some_and(|ms| ms >= DOWNCHANNEL_HEALTHY_MS) {
                        self.downchannel_quick_ends = 0;
                        self.downchannel_backoff.reset();
                    }
                    self.downchannel_quick_ends += 1;
                    let delay = if self.downchannel_quick_ends == 1 { 0 } else { self.downchannel_backoff.next_delay_ms() };
                    if delay > 0 {
                        log!(self.host, self.shared.log_level, LogLevel::Warn, "downchannel ended again after {} ms; reopening in {delay} ms", lived.unwrap_or(0));
                    }
                    let at = self.now.saturating_add(u64::from(delay));
                    c.flags.downchannel_reopen_at = Some(at);
                    at
                }
            };
            if self.now >= at {
                c.flags.downchannel_reopen_at = None;
                log!(self.host, self.shared.log_level, LogLevel::Info, "reopening the downchannel");
                if let Err(e) = self.open_downchannel(i) {
                    self.drop_conn(i, e);
                    return true;
                }
                progressed = true;
            }
        }
        let c = self.conns[i].as_ref().expect("connection present");
        if c.flags.downchannel_open && c.flags.sync_stream.is_none() && !c.flags.synced && self.streams.has_free() {
            let slot = self.queue.sync_slot();
            let shared = &mut self.shared;
            let built = self.queue.push_body(0, "System.SynchronizeState", Owner::Sync, |out| {
                shared.build_event(out, "System", "SynchronizeState", b"{}", true)
            });
            if built.is_err() || self.submit_event(i, slot).is_err() {
                self.drop_conn(i, AvsStatus::Protocol);
                return true;
            }
            progressed = true;
        }
        let c = self.conns[i].as_ref().expect("connection present");
        if c.flags.synced && self.state != ConnectionState::Connected {
            self.conn_backoff.reset();
            self.shared.event_backoff.reset();
            self.auth.token_accepted();
            log!(self.host, self.shared.log_level, LogLevel::Info, "connected and synchronized (connection {id})");
            self.set_state(ConnectionState::Connected, AvsStatus::Ok);
        }
        progressed | self.send_next_event(i)
    }

    /// New audio (or its end) for a Recognize stream that nghttp2 holds deferred.
    fn resume_recognize(&mut self, i: usize) {
        let recognizer = &mut self.ifaces.recognizer;
        let Some(stream) = recognizer.wants_resume() else { return };
        let Some(c) = self.conns[i].as_mut() else { return };
        if matches!(recognizer.turn.as_ref().map(|t| t.phase), Some(TurnPhase::Sent(id, _)) if id == c.flags.id) {
            if let Some(h2) = c.h2.as_mut() {
                h2.resume(stream);
                if let Some(t) = recognizer.turn.as_mut() {
                    t.deferred = false;
                }
            }
        }
    }

    /// Sends the oldest queued event if the rules allow: synchronized, the previous event has
    /// response headers, under the stream cap, not backing off.
    fn send_next_event(&mut self, i: usize) -> bool {
        let c = self.conns[i].as_ref().expect("connection present");
        if !c.flags.synced || c.flags.goaway.is_some() || self.now < c.flags.events_paused_until {
            return false;
        }
        // One event waiting for response headers at a time, across a GOAWAY hand-over too.
        if self.conns.iter().flatten().any(|k| k.flags.awaiting_headers.is_some()) {
            return false;
        }
        let remote = c.h2.as_ref().map(|h| h.remote_max_concurrent_streams()).unwrap_or(0);
        let cap = remote.min(self.settings.max_streams.min(AVS_MAX_STREAMS)) as usize;
        if self.streams.open_on(c.flags.id) >= cap || !self.streams.has_free() {
            return false;
        }
        if self.ifaces.recognizer.turn.as_ref().map(|t| t.phase == TurnPhase::Pending).unwrap_or(false) {
            if let Err(e) = self.submit_recognize(i) {
                self.drop_conn(i, e);
            }
            return true;
        }
        let Some(slot) = self.queue.next_queued() else { return false };
        if let Err(e) = self.submit_event(i, slot) {
            self.drop_conn(i, e);
        }
        true
    }

    fn submit_recognize(&mut self, i: usize) -> Result<(), AvsStatus> {
        let n = self.ifaces.write_context(self.now, &mut self.shared.context_buf).ok_or(AvsStatus::TooLarge);
        if let Err(e) = n.and_then(|n| self.ifaces.recognizer.insert_context(&self.shared.context_buf[..n])) {
            log!(self.host, self.shared.log_level, LogLevel::Error, "Recognize: the context does not fit the event ({})", e.text());
        }
        let id = self.post_event(i)?;
        let conn = self.conns[i].as_mut().expect("connection present");
        conn.flags.awaiting_headers = Some(id);
        conn.flags.awaiting_since_ms = self.now;
        self.streams.open(conn.flags.id, id, StreamKind::Recognize);
        if let Some(t) = self.ifaces.recognizer.turn.as_mut() {
            t.phase = TurnPhase::Sent(conn.flags.id, id);
        }
        log!(self.host, self.shared.log_level, LogLevel::Info, "-> event SpeechRecognizer.Recognize (stream {id}, dialog {})", self.ifaces.dialog.dialog_id);
        Ok(())
    }

    /// GOAWAY on the active connection: it drains while a new one takes new requests.
    fn retire_active(&mut self) {
        if self.conns[1].is_some() {
            self.drop_conn(1, AvsStatus::GoAway);
        }
        let mut old = self.conns[0].take().expect("active connection");
        old.role = Role::Draining;
        let old_id = old.flags.id;
        // Streams the server will not process are refused by nghttp2 and requeued by the
        // dispatcher; the others finish on the old connection.
        let was_synced = old.flags.synced;
        self.conns[1] = Some(old);
        if was_synced {
            log!(self.host, self.shared.log_level, LogLevel::Info, "connection {old_id} draining after GOAWAY; opening a new one");
            self.reconnect_at = Some(self.now);
            self.set_state(ConnectionState::Connecting, AvsStatus::GoAway);
            self.start_connection_if_due();
        } else {
            // GOAWAY before the connection was even synchronized: back off, no reconnect storm.
            log!(self.host, self.shared.log_level, LogLevel::Warn, "connection {old_id} sent GOAWAY before synchronizing");
            self.schedule_retry(AvsStatus::GoAway);
        }
    }

    /// Closes connection `i` and settles what was on it.
    fn drop_conn(&mut self, i: usize, reason: AvsStatus) {
        let Some(conn) = self.conns[i].take() else { return };
        let id = conn.flags.id;
        let role = conn.role;
        let http = conn.flags.fail_http;
        // After GOAWAY the server may close before we got round to retiring the connection:
        // that is the normal end of a connection, not a failure to back off from.
        let after_goaway = conn.flags.goaway.is_some() && conn.flags.synced;
        drop(conn);
        let queue = &mut self.queue;
        let sync = queue.sync_slot();
        let max_attempts = self.shared.max_event_attempts;
        // Events settled here: the host's (true) get their outcome, the interfaces' tagged ones
        // (false) are reported to the interfaces.
        let mut lost = heapless::Vec::<(u32, bool), 64>::new();
        self.streams.drop_connection(id, |kind, status| {
            if let StreamKind::Event(slot) = kind {
                let failed = if slot == sync {
                    queue.release(slot);
                    false
                } else if queue.state(slot) == queue::SlotState::InFlight && queue.attempts(slot) < max_attempts {
                    // No answer arrived: the event goes out again on the next connection.
                    queue.requeue(slot);
                    false
                } else if queue.state(slot) == queue::SlotState::InFlight {
                    // It has killed (or been lost with) too many connections: give up on it.
                    true
                } else {
                    // Answered: a success was settled when its headers came.
                    queue.state(slot) == queue::SlotState::Answered && !(200..300).contains(&status)
                };
                if failed && queue.event_id(slot) != 0 {
                    let _ = lost.push((queue.event_id(slot), queue.host_visible(slot)));
                }
                if queue.state(slot) != queue::SlotState::Queued && slot != sync {
                    queue.release(slot);
                }
            }
        });
        for (event_id, host) in lost {
            if host {
                self.host.event_outcome(event_id, AvsStatus::ConnectionLost, 0);
            } else {
                self.with_interfaces(|ifaces, cx| ifaces.event_settled(event_id, false, cx));
            }
        }
        if matches!(self.ifaces.recognizer.turn.as_ref().map(|t| t.phase), Some(TurnPhase::Sent(c, _)) if c == id) {
            log!(self.host, self.shared.log_level, LogLevel::Warn, "voice turn lost with connection {id}");
            self.ifaces.finish_turn(&mut *self.host, AvsStatus::ConnectionLost);
        } else if self.conns.iter().flatten().next().is_none() {
            // No connection left that could still carry a Speak's audio.
            self.ifaces.on_disconnected(&mut *self.host);
        }
        if after_goaway || reason == AvsStatus::GoAway || reason == AvsStatus::Cancelled {
            log!(self.host, self.shared.log_level, LogLevel::Info, "connection {id} closed");
        } else {
            log!(self.host, self.shared.log_level, LogLevel::Warn, "connection {id} closed: {}{}", reason.text(), if http != 0 { " (HTTP status)" } else { "" });
        }
        if role == Role::Draining && self.retry_on_drain && self.wanted && self.conns[0].is_none() {
            self.retry_on_drain = false;
            log!(self.host, self.shared.log_level, LogLevel::Info, "connection {id} drained: its memory is free, connecting now");
            self.reconnect_at = Some(self.now);
            self.start_connection_if_due();
        }
        if role == Role::Active && self.wanted {
            if after_goaway {
                self.reconnect_at = Some(self.now);
                self.set_state(ConnectionState::Connecting, AvsStatus::GoAway);
                self.start_connection_if_due();
            } else {
                self.schedule_retry(reason);
            }
        }
    }

    fn check_timers(&mut self) {
        let now = self.now;
        for i in 0..2 {
            let Some(c) = self.conns[i].as_mut() else { continue };
            if c.role == Role::Active && !c.flags.synced && now >= self.connect_deadline {
                log!(self.host, self.shared.log_level, LogLevel::Warn, "not connected within {} ms", self.settings.connect_timeout_ms);
                self.drop_conn(i, AvsStatus::ConnectTimeout);
                continue;
            }
            let Some(h2) = c.h2.as_mut() else { continue };
            // An event whose response headers do not come blocks every later one (they go one
            // at a time): after ping_timeout_ms it is reset and settled by the queue's rules.
            // The Recognize stream has the turn's own deadlines.
            if let Some(sid) = c.flags.awaiting_headers {
                let due = c.flags.awaiting_since_ms.saturating_add(u64::from(self.settings.ping_timeout_ms));
                if now >= due && matches!(self.streams.kind(c.flags.id, sid), Some(StreamKind::Event(_))) {
                    log!(self.host, self.shared.log_level, LogLevel::Warn, "no response headers on stream {sid} for {} ms; resetting it", now - c.flags.awaiting_since_ms);
                    self.streams.mark_timed_out(c.flags.id, sid);
                    h2.reset_stream(sid);
                    c.flags.awaiting_headers = None;
                    if let Err(e) = self.flush(i) {
                        self.drop_conn(i, e);
                        continue;
                    }
                }
            }
            let Some(c) = self.conns[i].as_mut() else { continue };
            let Some(h2) = c.h2.as_mut() else { continue };
            match c.flags.ping_sent_ms {
                Some(sent) if now >= sent.saturating_add(u64::from(self.settings.ping_timeout_ms)) => {
                    log!(self.host, self.shared.log_level, LogLevel::Warn, "PING unanswered for {} ms", now - sent);
                    self.drop_conn(i, AvsStatus::PingTimeout);
                    continue;
                }
                None if now >= c.flags.last_activity_ms.saturating_add(u64::from(self.settings.ping_interval_ms)) => {
                    if h2.ping().is_ok() {
                        c.flags.ping_sent_ms = Some(now);
                        log!(self.host, self.shared.log_level, LogLevel::Debug, "-> PING (idle {} ms)", now - c.flags.last_activity_ms);
                        if let Err(e) = self.flush(i) {
                            self.drop_conn(i, e);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn next_wakeup(&self) -> u32 {
        let now = self.now;
        let mut at = now.saturating_add(60 * 60 * 1000);
        if let Some(t) = self.reconnect_at {
            at = at.min(t);
        }
        for c in self.conns.iter().flatten() {
            if c.role == Role::Active && !c.flags.synced {
                at = at.min(self.connect_deadline);
                // An address's share of the connect time (the next one is tried then).
                if let Some(ms) = c.tls.wake_in_ms() {
                    at = at.min(now.saturating_add(ms));
                }
            }
            if c.h2.is_some() {
                match c.flags.ping_sent_ms {
                    Some(sent) => at = at.min(sent.saturating_add(u64::from(self.settings.ping_timeout_ms))),
                    None => at = at.min(c.flags.last_activity_ms.saturating_add(u64::from(self.settings.ping_interval_ms))),
                }
            }
            if let Some(t) = c.flags.downchannel_reopen_at {
                at = at.min(t);
            }
            if let Some(sid) = c.flags.awaiting_headers {
                if matches!(self.streams.kind(c.flags.id, sid), Some(StreamKind::Event(_))) {
                    at = at.min(c.flags.awaiting_since_ms.saturating_add(u64::from(self.settings.ping_timeout_ms)));
                }
            }
            if c.flags.synced && c.flags.awaiting_headers.is_none() && self.queue.next_queued().is_some() {
                at = at.min(c.flags.events_paused_until.max(now));
            }
        }
        if let Some(t) = self.ifaces.poll_at(now) {
            at = at.min(t);
        }
        if let Some(t) = self.auth.wake_at(now) {
            at = at.min(t);
        }
        at.saturating_sub(now).min(u64::from(u32::MAX)) as u32
    }

    /// Events queued or on the wire (the host's and the library's own, e.g. SpeechFinished).
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// The bytes carved at creation, and the counters of nghttp2's and mbedTLS's pools.
    pub fn memory_stats(&self) -> (usize, crate::transport::pool::PoolStats, crate::transport::pool::PoolStats) {
        (self.reserved, self.h2_pool.stats(), self.tls_pool.stats())
    }

    /// The ring the host's audio thread writes microphone samples into.
    /// Crate-private: the ring lives in the client's memory and must not outlive it.
    pub(crate) fn audio_ring(&self) -> Arc<AudioRing> {
        self.ifaces.recognizer.ring.clone()
    }

    /// The dialog state.
    pub fn dialog_state(&self) -> crate::status::DialogState {
        self.ifaces.dialog.state
    }

    /// Starts a voice turn: a Recognize event whose audio is what the host writes into the ring.
    pub fn start_turn(&mut self, opts: TurnOptions) -> Result<(), AvsStatus> {
        if self.state != ConnectionState::Connected || self.ifaces.recognizer.turn.is_some() {
            return Err(AvsStatus::WrongState);
        }
        let payload = self.ifaces.recognizer.recognize_payload(&opts)?;
        self.ifaces.turn_started(self.now);
        let mut dialog_id = self.shared.ids.next_id();
        let mut head = self.ifaces.recognizer.take_head();
        let boundary = self.shared.boundary.clone();
        let built = (|| {
            let mut n = multipart::write_metadata_part_head(&mut head, &boundary).map_err(|_| AvsStatus::TooLarge)?;
            let context_at = n + 1;
            n += self.shared.write_event_json(&mut head[n..], "SpeechRecognizer", "Recognize", Some(dialog_id.as_str()), payload.as_bytes())?;
            n += multipart::write_audio_part_head(&mut head[n..], &boundary).map_err(|_| AvsStatus::TooLarge)?;
            Ok((n, context_at))
        })();
        self.ifaces.recognizer.put_head(head);
        let (len, context_at) = built?;
        let now = self.now;
        let ifaces = &mut self.ifaces;
        ifaces.recognizer.begin_turn(&mut ifaces.dialog, dialog_id.as_str(), opts.profile, len, context_at, now);
        dialog_id.clear();
        log!(self.host, self.shared.log_level, LogLevel::Info, "turn started ({}, dialog {})", opts.profile.as_str(), self.ifaces.dialog.dialog_id);
        self.ifaces.dialog.set_state(&mut *self.host, crate::status::DialogState::Listening, AvsStatus::Ok);
        Ok(())
    }

    /// The host ends the audio (CLOSE_TALK: the button was released).
    pub fn end_audio(&mut self) -> Result<(), AvsStatus> {
        let sr = &mut self.ifaces.recognizer;
        match sr.turn.as_ref() {
            Some(t) if !t.audio_done => {
                sr.end_audio(self.now, false);
                log!(self.host, self.shared.log_level, LogLevel::Info, "audio ended by the device");
                self.ifaces.dialog.set_state(&mut *self.host, crate::status::DialogState::Thinking, AvsStatus::Ok);
                Ok(())
            }
            _ => Err(AvsStatus::WrongState),
        }
    }

    /// Abandons the current turn: its stream is reset and the dialog returns to idle.
    pub fn cancel_turn(&mut self) -> Result<(), AvsStatus> {
        self.abort_turn(AvsStatus::Cancelled)
    }

    fn abort_turn(&mut self, reason: AvsStatus) -> Result<(), AvsStatus> {
        let Some(t) = self.ifaces.recognizer.turn.as_ref() else { return Err(AvsStatus::WrongState) };
        if let TurnPhase::Sent(conn_id, stream) = t.phase {
            if let Some(c) = self.conns.iter_mut().flatten().find(|c| c.flags.id == conn_id) {
                if let Some(h2) = c.h2.as_mut() {
                    h2.reset_stream(stream);
                }
                if c.flags.awaiting_headers == Some(stream) {
                    c.flags.awaiting_headers = None;
                }
            }
            self.streams.drop_stream(conn_id, stream);
        }
        log!(self.host, self.shared.log_level, LogLevel::Info, "turn ended: {}", reason.text());
        self.ifaces.finish_turn(&mut *self.host, reason);
        Ok(())
    }

    /// Runs `f` with the interfaces and what they may use.
    fn with_interfaces<T>(&mut self, f: impl FnOnce(&mut Interfaces, &mut Cx) -> T) -> T {
        run_interfaces(&mut self.ifaces, &mut self.queue, &mut self.shared, &mut *self.host, self.now, f)
    }

    /// Turns on `Speaker`: before `connect`, so that the first context has its entry.
    pub fn enable_speaker(&mut self, control: Box<dyn crate::interfaces::volume::SpeakerControl>, initial: crate::interfaces::volume::VolumeState) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.enable_speaker(control, initial);
        Ok(())
    }

    /// The host changed the volume itself: `Speaker.VolumeChanged`.
    pub fn speaker_set_volume(&mut self, volume: u8) -> Result<(), AvsStatus> {
        self.with_interfaces(|ifaces, cx| ifaces.host_set_volume(volume, cx))
    }

    /// The host muted or unmuted itself: `Speaker.MuteChanged`.
    pub fn speaker_set_mute(&mut self, muted: bool) -> Result<(), AvsStatus> {
        self.with_interfaces(|ifaces, cx| ifaces.host_set_mute(muted, cx))
    }

    /// Turns on `Alexa.Speaker` for the device's endpoint (after the speaker and device info).
    pub fn enable_alexa_speaker(&mut self) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.enable_alexa_speaker()
    }

    /// Turns on `Notifications` with the host's indicator.
    pub fn enable_notifications(&mut self, control: Box<dyn crate::interfaces::notifications::IndicatorControl>) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.enable_notifications(control);
        Ok(())
    }

    /// Turns on `TemplateRuntime` with the host's display.
    pub fn enable_template_runtime(&mut self, display: Box<dyn crate::interfaces::template_runtime::CardDisplay>) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.enable_template_runtime(display);
        Ok(())
    }

    /// What the host says about the device (capabilities are published from it).
    pub fn set_device_info(&mut self, info: crate::interfaces::discovery::DeviceInfo) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.set_device_info(info);
        Ok(())
    }

    /// The host's storage, for what must survive a reboot; read when connecting.
    pub fn set_storage(&mut self, storage: Box<dyn crate::interfaces::storage::Storage>) -> Result<(), AvsStatus> {
        if self.wanted {
            return Err(AvsStatus::WrongState);
        }
        self.ifaces.storage = Some(storage);
        Ok(())
    }

    /// The wall clock: Unix ms `unix_ms` at the host's monotonic `now_ms` (the clock `poll`
    /// gets), so that the time since the last poll counts.
    pub fn set_wall_clock(&mut self, now_ms: u64, unix_ms: u64) {
        let since_poll = self.host_clock_ms.map_or(0, |prev| now_ms.saturating_sub(prev));
        self.ifaces.set_wall_clock(unix_ms, self.now.saturating_add(since_poll));
    }

    /// The device's locale: `Settings.SettingsUpdated`.
    pub fn set_locale(&mut self, locale: &str) -> Result<(), AvsStatus> {
        self.with_interfaces(|ifaces, cx| ifaces.settings.set_locale(locale, cx))?;
        if self.wanted {
            self.capabilities_changed();
        }
        Ok(())
    }

    /// While connected, what the capabilities say may have changed: published again if so.
    fn capabilities_changed(&mut self) {
        let mut scratch = core::mem::take(&mut self.shared.scratch);
        self.with_interfaces(|ifaces, cx| ifaces.capabilities_changed(&mut scratch, cx));
        self.shared.scratch = scratch;
    }

    /// The user did something: the inactivity hour starts again.
    pub fn user_activity(&mut self) {
        self.ifaces.system.user_activity(self.now);
    }

    /// The device's firmware version: `System.SoftwareInfo` when it is new to AVS.
    pub fn set_firmware_version(&mut self, version: u32) {
        self.ifaces.system.set_firmware_version(version);
        // Before connecting the host's storage has not been read: whether AVS already heard
        // this version is decided then (`connect`).
        if self.wanted {
            self.capabilities_changed();
        }
    }

    /// The host's callbacks (the C API reaches its own through this).
    pub fn host_mut(&mut self) -> &mut dyn Host {
        &mut *self.host
    }

    /// The host started playing a Speak: SpeechStarted, and the context says PLAYING. A token
    /// that was not delivered, is finished, or was already reported started is `WrongState`
    /// and sends nothing: AVS gets one SpeechStarted per Speak.
    pub fn speech_started(&mut self, token: &str) -> Result<(), AvsStatus> {
        self.with_interfaces(|ifaces, cx| ifaces.speech_started(token, cx))
    }

    /// The host finished playing a Speak: SpeechFinished, and the context says FINISHED. A token
    /// that was not delivered or is already finished is `WrongState` and sends nothing.
    pub fn speech_finished(&mut self, token: &str) -> Result<(), AvsStatus> {
        self.with_interfaces(|ifaces, cx| ifaces.speech_finished(token, cx))
    }

    /// The interfaces' deadlines; a turn one of them ends is aborted here (its stream reset).
    fn interface_timers(&mut self) {
        self.with_interfaces(|ifaces, cx| ifaces.on_timer(cx));
        if let Some(reason) = self.ifaces.turn_abort.take() {
            let _ = self.abort_turn(reason);
        }
        if let Some(url) = self.ifaces.system.endpoint_change.take() {
            self.move_endpoint(&url);
        }
    }

    /// `System.SetEndpoint`: new requests go to the new base URL from now on. The connection
    /// is handed over as after a GOAWAY: the old one finishes what is on it while a new one
    /// opens to the new endpoint.
    fn move_endpoint(&mut self, url: &str) {
        let Some(endpoint) = parse_endpoint(url) else {
            log!(self.host, self.shared.log_level, LogLevel::Warn, "SetEndpoint {url}: not https://host[:port]; staying");
            return;
        };
        // Kept even when it is the endpoint in use: it is the one AVS wants from now on.
        if let Some(storage) = self.ifaces.storage.as_deref_mut() {
            if let Err(e) = storage.store(crate::interfaces::storage::ENDPOINT_KEY, url.as_bytes()) {
                log!(self.host, self.shared.log_level, LogLevel::Warn, "storing the endpoint: {}", e.text());
            }
        }
        if endpoint.authority == self.endpoint.authority {
            return;
        }
        log!(self.host, self.shared.log_level, LogLevel::Info, "endpoint is now {}", endpoint.authority);
        self.endpoint = endpoint;
        self.settings.endpoint = url.to_string();
        if self.conns[0].is_some() && self.wanted {
            self.retire_active();
        }
    }


    /// Code-based linking: the user code comes through the host's `code_pair`.
    pub fn start_linking(&mut self, product_id: &str, serial_number: &str) -> Result<(), AvsStatus> {
        self.with_auth(|auth, cx| auth.start_linking(product_id, serial_number, cx))
    }

    /// Remote authorization: a new PKCE verifier (kept in storage) and its S256 challenge.
    pub fn code_challenge(&mut self, out: &mut [u8; avs_core::lwa::CHALLENGE_LEN]) -> Result<(), AvsStatus> {
        self.with_auth(|auth, cx| auth.code_challenge(out, cx))
    }

    /// Remote authorization: the code the companion app got, exchanged for tokens.
    pub fn authorize(&mut self, code: &str, client_id: Option<&str>, redirect_uri: &str) -> Result<(), AvsStatus> {
        self.with_auth(|auth, cx| auth.authorize(code, client_id, redirect_uri, cx))
    }

    /// A refresh token from the host, used at once and kept in storage.
    pub fn set_refresh_token(&mut self, token: &str) -> Result<(), AvsStatus> {
        self.with_auth(|auth, cx| auth.set_refresh_token(token, cx))
    }

    /// The host-supplied token's lifetime: the host is asked for the next one before it ends.
    pub fn set_token_expiry(&mut self, expires_in_s: u32) {
        let now = self.now;
        self.auth.host_token_expiry(expires_in_s, now);
    }

    /// Where sign-in stands.
    pub fn auth_state(&self) -> crate::status::AuthState {
        self.auth.state()
    }

    /// The counters of the token endpoint's TLS pool (with Login with Amazon).
    pub fn sign_in_pool_stats(&self) -> Option<crate::transport::pool::PoolStats> {
        self.sign_in_pool.as_ref().map(|p| p.stats())
    }

    /// Reports every held event as cancelled (the client is going away).
    pub fn cancel_all(&mut self) {
        let held: Vec<SlotIndex> = self.queue.held().collect();
        for slot in held {
            let id = self.queue.event_id(slot);
            if self.queue.host_visible(slot) {
                self.host.event_outcome(id, AvsStatus::Cancelled, 0);
            } else {
                log!(self.host, self.shared.log_level, LogLevel::Warn, "{} not sent: client freed", self.queue.label(slot));
            }
            self.queue.release(slot);
        }
    }
}

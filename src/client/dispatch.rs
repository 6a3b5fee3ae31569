//! Response handling for one connection: the stream table, the nghttp2 callbacks
//! ([`H2Handler`]), response status rules, and directive dispatch to the host.

use crate::memory::Buf;
use crate::host::{log, Host};
use crate::client::queue::{EventQueue, SlotIndex, SlotState};
use crate::client::{run_interfaces, Shared};
use crate::interfaces::speech_recognizer::{BodyPiece, TurnPhase};
use crate::interfaces::{Cx, Interfaces};
use crate::protocol::message::{self, ExceptionKind};
use crate::protocol::multipart::{boundary_from_content_type, Decoder, MultipartError, PartSink};
use crate::status::{AvsStatus, LogLevel};
use crate::transport::h2::{BodyChunk, H2Handler};

/// What a stream carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StreamKind {
    /// `GET /v20160207/directives`.
    Downchannel,
    /// `POST /v20160207/events` with the body in this queue slot.
    Event(SlotIndex),
    /// The Recognize event of the current voice turn, its audio streamed from the ring.
    Recognize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyMode {
    /// No content-type seen yet, or a body we ignore.
    None,
    /// `multipart/related`: parts go through the decoder.
    Multipart,
    /// Anything else (an exception's JSON): kept in the decoder's idle storage, as far as it fits.
    Raw,
}

/// One open stream.
pub struct StreamSlot {
    conn: u32,
    id: i32,
    kind: StreamKind,
    status: u16,
    mode: BodyMode,
    decoder: Decoder<Buf>,
    /// Bytes of a non-multipart body held in the decoder's storage.
    raw_len: usize,
    /// The final (non-1xx) response header block has been handled; later blocks are trailers.
    headers_done: bool,
    /// The client reset the stream because its response headers did not come in time.
    timed_out: bool,
}

impl StreamSlot {
    /// The status of the final response header block once it is complete; 0 before. A
    /// `:status` seen in a header block that never completed (a HEADERS frame waiting for its
    /// CONTINUATION, say) is no answer: settling on it would treat the event as accepted
    /// without its outcome ever having been reported (found by the h2_client fuzz target).
    fn answer_status(&self) -> u16 {
        if self.headers_done {
            self.status
        } else {
            0
        }
    }
}

/// All open streams of the client (both connections while one drains), allocated at creation.
pub struct StreamTable {
    slots: Box<[StreamSlot]>,
}

impl StreamTable {
    /// One stream per buffer, each able to hold a directive as long as its buffer.
    pub fn new(buffers: impl Iterator<Item = Buf>) -> Self {
        let slots = buffers
            .map(|buf| StreamSlot {
                conn: 0,
                id: 0,
                kind: StreamKind::Downchannel,
                status: 0,
                mode: BodyMode::None,
                decoder: Decoder::new(buf),
                raw_len: 0,
                headers_done: false,
                timed_out: false,
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        StreamTable { slots }
    }

    /// Whether a slot is free for a new stream.
    pub fn has_free(&self) -> bool {
        self.slots.iter().any(|s| s.id == 0)
    }

    /// Open streams on connection `conn`.
    pub fn open_on(&self, conn: u32) -> usize {
        self.slots.iter().filter(|s| s.id != 0 && s.conn == conn).count()
    }

    /// Open event streams (Recognize included) on connection `conn`.
    pub fn events_on(&self, conn: u32) -> usize {
        self.slots.iter().filter(|s| s.id != 0 && s.conn == conn && s.kind != StreamKind::Downchannel).count()
    }

    /// The kind of an open stream.
    pub fn kind(&self, conn: u32, id: i32) -> Option<StreamKind> {
        self.slots.iter().find(|s| s.id == id && s.conn == conn && id != 0).map(|s| s.kind)
    }

    /// Records a new stream.
    pub fn open(&mut self, conn: u32, id: i32, kind: StreamKind) -> bool {
        let Some(s) = self.slots.iter_mut().find(|s| s.id == 0) else { return false };
        s.conn = conn;
        s.id = id;
        s.kind = kind;
        s.status = 0;
        s.mode = BodyMode::None;
        s.raw_len = 0;
        s.headers_done = false;
        s.timed_out = false;
        true
    }

    /// Marks an open stream as reset by the client for want of an answer: its settlement says
    /// `Timeout`, not a lost connection.
    pub fn mark_timed_out(&mut self, conn: u32, id: i32) {
        if let Some(s) = self.find(conn, id) {
            s.timed_out = true;
        }
    }

    fn find(&mut self, conn: u32, id: i32) -> Option<&mut StreamSlot> {
        self.slots.iter_mut().find(|s| s.id == id && s.conn == conn && id != 0)
    }

    /// The slot carried by a stream, if it is an event stream.
    pub fn event_slot(&self, conn: u32, id: i32) -> Option<SlotIndex> {
        self.slots.iter().find(|s| s.id == id && s.conn == conn && id != 0).and_then(|s| match s.kind {
            StreamKind::Event(slot) => Some(slot),
            _ => None,
        })
    }

    /// Forgets one stream (reset by the client); its close callback will find nothing.
    pub fn drop_stream(&mut self, conn: u32, id: i32) {
        if let Some(s) = self.find(conn, id) {
            s.id = 0;
        }
    }

    /// Removes every stream of a connection that is gone, returning the kinds through `each`.
    pub fn drop_connection(&mut self, conn: u32, mut each: impl FnMut(StreamKind, u16)) {
        for s in self.slots.iter_mut().filter(|s| s.id != 0 && s.conn == conn) {
            s.id = 0;
            each(s.kind, s.answer_status());
        }
    }
}

/// Per-connection facts that the callbacks update and the connection logic reads.
#[derive(Default)]
pub struct ConnFlags {
    pub id: u32,
    pub downchannel: Option<i32>,
    pub downchannel_open: bool,
    /// The downchannel ended while the connection lives: reopen it (at `downchannel_reopen_at`
    /// once decided).
    pub downchannel_ended: bool,
    pub downchannel_reopen_at: Option<u64>,
    /// When the current downchannel's 200 arrived.
    pub downchannel_opened_ms: Option<u64>,
    pub sync_stream: Option<i32>,
    pub synced: bool,
    /// The event stream still waiting for response headers (events go one at a time), and
    /// since when.
    pub awaiting_headers: Option<i32>,
    pub awaiting_since_ms: u64,
    /// GOAWAY's last stream id, once received.
    pub goaway: Option<i32>,
    pub ping_sent_ms: Option<u64>,
    pub last_activity_ms: u64,
    /// A reason to drop this connection, set by a callback.
    pub fail: Option<AvsStatus>,
    /// The HTTP status behind `fail`, for the log.
    pub fail_http: u16,
    /// Back off from sending events until this time (429/5xx on an event).
    pub events_paused_until: u64,
}

/// The callback target while nghttp2 runs: everything a response can touch.
pub struct Dispatch<'a> {
    pub flags: &'a mut ConnFlags,
    pub streams: &'a mut StreamTable,
    pub queue: &'a mut EventQueue,
    pub shared: &'a mut Shared,
    pub ifaces: &'a mut Interfaces,
    pub host: &'a mut dyn Host,
    pub now: u64,
}

/// The one rule for an HTTP answer, for events and Recognize alike: the service is busy or
/// failing for a while (429, 500, 502, 503, 504: back off and retry, `ServerBusy` once retries
/// are spent), the token was refused (403), or the request itself was wrong (any other 4xx/5xx,
/// 501 included: sending it again would fail again).
fn is_retryable(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

impl H2Handler for Dispatch<'_> {
    fn on_header(&mut self, stream_id: i32, name: &[u8], value: &[u8]) {
        let conn = self.flags.id;
        let Some(s) = self.streams.find(conn, stream_id) else { return };
        if s.headers_done {
            return; // trailers change nothing
        }
        if name == b":status" {
            s.status = core::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            s.mode = match boundary_from_content_type(value) {
                Some(b) if value.len() >= 9 && value[..9].eq_ignore_ascii_case(b"multipart") => {
                    if s.decoder.reset(b).is_ok() {
                        BodyMode::Multipart
                    } else {
                        BodyMode::Raw
                    }
                }
                _ => BodyMode::Raw,
            };
        }
    }

    fn on_headers_done(&mut self, stream_id: i32) {
        let conn = self.flags.id;
        let Some(s) = self.streams.find(conn, stream_id) else { return };
        // Only the final response header block counts: not 1xx, not trailers.
        if s.headers_done || (100..200).contains(&s.status) {
            return;
        }
        s.headers_done = true;
        let (kind, status) = (s.kind, s.status);
        if s.mode == BodyMode::None && !(200..300).contains(&status) {
            s.mode = BodyMode::Raw;
        }
        self.flags.last_activity_ms = self.now;
        match kind {
            StreamKind::Downchannel => {
                if status == 200 {
                    self.flags.downchannel_open = true;
                    self.flags.downchannel_opened_ms = Some(self.now);
                    log!(self.host, self.shared.log_level, LogLevel::Info, "<- downchannel open (stream {stream_id})");
                } else {
                    self.fail_connection_for_status(status, "downchannel");
                }
            }
            StreamKind::Event(slot) => {
                if self.flags.awaiting_headers == Some(stream_id) {
                    self.flags.awaiting_headers = None;
                }
                if self.queue.state(slot) == SlotState::InFlight {
                    self.queue.mark_answered(slot);
                }
                let is_sync = slot == self.queue.sync_slot();
                log!(self.host, self.shared.log_level, LogLevel::Info, "<- {} {} (stream {stream_id})", status, self.queue.label(slot));
                if (200..300).contains(&status) {
                    // Accepted: the next throttled event backs off from the base delay again.
                    self.shared.event_backoff.reset();
                    if is_sync {
                        self.flags.synced = true;
                    } else if self.queue.host_visible(slot) {
                        self.host.event_outcome(self.queue.event_id(slot), AvsStatus::Ok, status);
                    } else if self.queue.event_id(slot) != 0 {
                        let tag = self.queue.event_id(slot);
                        self.with_interfaces(|ifaces, cx| ifaces.event_settled(tag, true, cx));
                    }
                } else if is_sync {
                    self.fail_connection_for_status(status, "SynchronizeState");
                }
                // Error statuses are settled at stream close, once the exception body has arrived.
            }
            StreamKind::Recognize => {
                if self.flags.awaiting_headers == Some(stream_id) {
                    self.flags.awaiting_headers = None;
                }
                log!(self.host, self.shared.log_level, LogLevel::Info, "<- {} SpeechRecognizer.Recognize (stream {stream_id})", status);
            }
        }
    }

    fn on_data(&mut self, stream_id: i32, data: &[u8]) {
        let conn = self.flags.id;
        self.flags.last_activity_ms = self.now;
        let Some(s) = self.streams.find(conn, stream_id) else { return };
        match s.mode {
            BodyMode::Multipart => {
                let mut sink = Sink { shared: &mut *self.shared, ifaces: &mut *self.ifaces, queue: &mut *self.queue, host: &mut *self.host, now: self.now };
                if let Err(e) = s.decoder.feed(data, &mut sink) {
                    log!(self.host, self.shared.log_level, LogLevel::Warn, "malformed multipart on stream {stream_id}: {e:?}");
                }
            }
            BodyMode::Raw => {
                let raw = s.decoder.storage_mut();
                let n = data.len().min(raw.len() - s.raw_len);
                raw[s.raw_len..s.raw_len + n].copy_from_slice(&data[..n]);
                s.raw_len += n;
            }
            BodyMode::None => {}
        }
    }

    fn on_stream_close(&mut self, stream_id: i32, error_code: u32) {
        let conn = self.flags.id;
        let Some(s) = self.streams.find(conn, stream_id) else { return };
        s.id = 0;
        let (kind, status, mode, timed_out) = (s.kind, s.answer_status(), s.mode, s.timed_out);
        if mode == BodyMode::Multipart {
            let mut sink = Sink { shared: &mut *self.shared, ifaces: &mut *self.ifaces, queue: &mut *self.queue, host: &mut *self.host, now: self.now };
            // A reset stream ends mid-part by nature; the reset itself is what gets reported.
            if let Err(e) = s.decoder.finish(&mut sink) {
                if error_code == 0 {
                    log!(self.host, self.shared.log_level, LogLevel::Warn, "response on stream {stream_id} ended mid-part: {e:?}");
                }
            }
            self.ifaces.on_response_end(&mut *self.host);
        }
        if self.flags.awaiting_headers == Some(stream_id) {
            self.flags.awaiting_headers = None;
        }
        match kind {
            StreamKind::Downchannel => {
                if self.flags.downchannel == Some(stream_id) {
                    self.flags.downchannel = None;
                    self.flags.downchannel_open = false;
                    self.flags.downchannel_ended = true;
                    log!(self.host, self.shared.log_level, LogLevel::Info, "<- downchannel closed (stream {stream_id}, code {error_code})");
                }
            }
            StreamKind::Recognize => {
                let mut body = [0u8; 1024];
                let n = if mode == BodyMode::Raw { s.raw_len.min(body.len()) } else { 0 };
                body[..n].copy_from_slice(&s.decoder.storage_mut()[..n]);
                self.settle_recognize(stream_id, status, error_code, &body[..n]);
            }
            StreamKind::Event(slot) => {
                // Exception bodies are small; a stack copy frees the stream table for settle_event.
                let mut body = [0u8; 1024];
                let n = if mode == BodyMode::Raw { s.raw_len.min(body.len()) } else { 0 };
                body[..n].copy_from_slice(&s.decoder.storage_mut()[..n]);
                self.settle_event(slot, stream_id, status, error_code, timed_out, &body[..n]);
            }
        }
    }

    fn on_ping_ack(&mut self) {
        self.flags.ping_sent_ms = None;
        self.flags.last_activity_ms = self.now;
        log!(self.host, self.shared.log_level, LogLevel::Debug, "<- PING ack");
    }

    fn on_goaway(&mut self, last_stream_id: i32, error_code: u32) {
        self.flags.goaway = Some(last_stream_id);
        log!(self.host, self.shared.log_level, LogLevel::Info, "<- GOAWAY (last stream {last_stream_id}, code {error_code})");
    }

    fn read_body(&mut self, stream_id: i32, buf: &mut [u8]) -> BodyChunk {
        if self.streams.kind(self.flags.id, stream_id) == Some(StreamKind::Recognize) {
            self.flags.last_activity_ms = self.now;
            let mut close: heapless::Vec<u8, 96> = heapless::Vec::new();
            let _ = close.resize(96, 0);
            let n = crate::protocol::multipart::write_close(&mut close, &self.shared.boundary).unwrap_or(0);
            return match self.ifaces.recognizer.read_body(buf, &close[..n]) {
                BodyPiece::Data(n) => BodyChunk::Data(n),
                BodyPiece::Last(n) => BodyChunk::Last(n),
                BodyPiece::Deferred => BodyChunk::Deferred,
            };
        }
        let Some(slot) = self.streams.event_slot(self.flags.id, stream_id) else { return BodyChunk::Last(0) };
        self.flags.last_activity_ms = self.now;
        match self.queue.read_body(slot, buf) {
            (n, true) => BodyChunk::Last(n),
            (n, false) => BodyChunk::Data(n),
        }
    }
}

impl Dispatch<'_> {
    /// Runs `f` with the interfaces and what they may use.
    fn with_interfaces(&mut self, f: impl FnOnce(&mut Interfaces, &mut Cx)) {
        run_interfaces(self.ifaces, self.queue, self.shared, self.host, self.now, f);
    }

    fn fail_connection_for_status(&mut self, status: u16, what: &str) {
        let reason = if status == 403 { AvsStatus::TokenRejected } else { AvsStatus::HttpStatus };
        log!(self.host, self.shared.log_level, LogLevel::Warn, "{what} answered HTTP {status}");
        self.flags.fail.get_or_insert(reason);
        self.flags.fail_http = status;
    }

    /// The Recognize stream closed: the turn ends, well or not.
    fn settle_recognize(&mut self, stream_id: i32, status: u16, error_code: u32, body: &[u8]) {
        let ours = matches!(self.ifaces.recognizer.turn.as_ref().map(|t| t.phase), Some(TurnPhase::Sent(c, s)) if c == self.flags.id && s == stream_id);
        if !ours {
            return;
        }
        self.ifaces.on_response_end(&mut *self.host);
        let reason = match status {
            200..=299 if error_code == 0 => AvsStatus::Ok,
            _ if error_code != 0 && status < 300 => AvsStatus::StreamReset,
            0 => AvsStatus::ConnectionLost,
            s if is_retryable(s) => AvsStatus::ServerBusy,
            403 => AvsStatus::TokenRejected,
            _ => AvsStatus::HttpStatus,
        };
        if (400..600).contains(&status) {
            if let Ok(e) = message::parse_exception(body) {
                log!(self.host, self.shared.log_level, LogLevel::Warn, "<- exception for Recognize: HTTP {status} {} {}", e.code, e.description);
                self.host.exception(0, status, e.code.as_bytes(), e.description.as_bytes());
            }
        }
        if reason != AvsStatus::Ok {
            log!(self.host, self.shared.log_level, LogLevel::Warn, "voice turn failed: {} (HTTP {status}, stream code {error_code})", reason.text());
        }
        if status == 403 {
            self.fail_connection_for_status(403, "Recognize");
        }
        // The response ended right after a part that already doomed the turn: that is why it ended.
        let reason = self.ifaces.turn_abort.take().unwrap_or(reason);
        self.ifaces.finish_turn(&mut *self.host, reason);
    }

    /// Decides an event's fate once its stream has closed.
    fn settle_event(&mut self, slot: SlotIndex, stream_id: i32, status: u16, error_code: u32, timed_out: bool, body: &[u8]) {
        let is_sync = slot == self.queue.sync_slot();
        let visible = self.queue.host_visible(slot);
        let id = self.queue.event_id(slot);
        if (200..300).contains(&status) {
            self.queue.release(slot);
            return;
        }
        if status != 0 {
            let exc = message::parse_exception(body).ok();
            let (code, desc) = exc.as_ref().map(|e| (e.code.as_bytes(), e.description.as_bytes())).unwrap_or((b"", b""));
            log!(
                self.host,
                self.shared.log_level,
                LogLevel::Warn,
                "<- exception for {}: HTTP {} {} {}",
                self.queue.label(slot),
                status,
                core::str::from_utf8(code).unwrap_or("?"),
                core::str::from_utf8(desc).unwrap_or("?")
            );
            if visible || is_sync {
                self.host.exception(if is_sync { 0 } else { id }, status, code, desc);
            }
        }
        if is_sync {
            // The connection logic resends SynchronizeState on the next connection.
            self.queue.release(slot);
            if status == 0 && self.flags.fail.is_none() && self.flags.goaway.is_none() {
                self.flags.fail = Some(if timed_out { AvsStatus::Timeout } else { AvsStatus::Protocol });
            }
            return;
        }
        if status == 403 {
            // Keep the event for the new token; the connection is closed until then.
            self.queue.requeue(slot);
            self.fail_connection_for_status(403, "event");
            return;
        }
        let attempts = self.queue.attempts(slot);
        let retry = status == 0 || is_retryable(status);
        if retry && attempts < self.shared.max_event_attempts {
            if status != 0 {
                let delay = self.shared.event_backoff.next_delay_ms();
                self.flags.events_paused_until = self.now.saturating_add(u64::from(delay));
                log!(self.host, self.shared.log_level, LogLevel::Info, "retrying {} in {delay} ms (HTTP {status})", self.queue.label(slot));
            } else if timed_out {
                log!(self.host, self.shared.log_level, LogLevel::Info, "{} had no answer in time (stream {stream_id} reset); requeued", self.queue.label(slot));
            } else {
                log!(self.host, self.shared.log_level, LogLevel::Info, "stream {stream_id} reset (code {error_code}) before an answer; {} requeued", self.queue.label(slot));
            }
            self.queue.requeue(slot);
            return;
        }
        let reason = match status {
            0 if timed_out => AvsStatus::Timeout,
            0 if error_code != 0 => AvsStatus::StreamReset,
            0 => AvsStatus::ConnectionLost,
            s if is_retryable(s) => AvsStatus::ServerBusy,
            _ => AvsStatus::HttpStatus,
        };
        log!(self.host, self.shared.log_level, LogLevel::Warn, "{} given up after {attempts} attempts: {}", self.queue.label(slot), reason.text());
        self.queue.release(slot);
        if visible {
            self.host.event_outcome(id, reason, status);
        } else if id != 0 {
            self.with_interfaces(|ifaces, cx| ifaces.event_settled(id, false, cx));
        }
    }
}

/// Receives multipart parts and hands them to the interfaces (which route them), turning a part
/// the decoder had to skip into `System.ExceptionEncountered`.
struct Sink<'a> {
    shared: &'a mut Shared,
    ifaces: &'a mut Interfaces,
    queue: &'a mut EventQueue,
    host: &'a mut dyn Host,
    now: u64,
}

impl PartSink for Sink<'_> {
    fn on_json_part(&mut self, json: &[u8]) {
        run_interfaces(self.ifaces, self.queue, self.shared, self.host, self.now, |ifaces, cx| ifaces.on_json_part(json, cx));
    }

    fn on_binary_part(&mut self, content_id: &[u8], data: &[u8], last: bool) {
        self.ifaces.on_binary_part(content_id, data, last, self.host);
    }

    fn on_part_error(&mut self, error: MultipartError) {
        // The decoder skipped the part and carries on with the next one; the server is told.
        log!(self.host, self.shared.log_level, LogLevel::Warn, "<- unusable part skipped: {error}");
        let why = match error {
            MultipartError::PartTooLarge => "directive larger than max_directive_bytes",
            MultipartError::HeadersTooLarge => "part headers too large",
            _ => "malformed multipart part",
        };
        self.shared.report_exception(self.queue, self.host, b"", ExceptionKind::UnexpectedInformationReceived, why);
    }
}

//! The fuzzing harness for the client's receive path (feature `fuzzing`, never in a product
//! build): a real [`Client`] speaking HTTP/2 (nghttp2) straight over an in-memory byte stream, with
//! the fuzzer's input played as the server's bytes. Everything above TLS runs as in production:
//! the h2 session, the stream table, the multipart decoder, directive dispatch, the event queue,
//! the voice turn, the timers.
//!
//! Input format: a first byte of actions, taken once the client is synchronized (bit 0: the host
//! queues an event; bit 1: it starts a voice turn and writes audio; bit 2: it reports playback of
//! every Speak), then records of
//! `[len_lo, len_hi, bytes...]`, each delivered (in as many receives as it takes) before the
//! clock moves on by `len_lo * 16` ms, so that timers fire too. A record whose length runs past
//! the input takes what is left. When the records run out the server closes the connection.

use std::cell::RefCell;
use std::rc::Rc;

use crate::host::{DirectiveView, Host};
use crate::interfaces::speech_recognizer::TurnOptions;
use crate::client::{Client, Settings};
use crate::status::{AvsProfile, AvsStatus, ConnectionState, DialogState, LogLevel};
use crate::transport::io::{Connection, IoError, Network};

/// What the server says next, and what the client wrote (discarded: only its length matters).
#[derive(Default)]
struct Wire {
    /// Records not yet delivered; the front one is consumed by the next `recv`s.
    pending: std::collections::VecDeque<Vec<u8>>,
    /// Bytes of the current record already delivered.
    offset: usize,
    /// The current record has been delivered: `recv` says WouldBlock until the harness moves on.
    drained: bool,
    sent: usize,
}

struct FuzzNetwork(Rc<RefCell<Wire>>);
struct FuzzConnection(Rc<RefCell<Wire>>);

impl Network for FuzzNetwork {
    fn connect(&mut self, _host: &str, _port: u16) -> Result<Box<dyn Connection>, IoError> {
        Ok(Box::new(FuzzConnection(self.0.clone())))
    }
}

impl Connection for FuzzConnection {
    fn send(&mut self, buf: &[u8]) -> Result<usize, IoError> {
        self.0.borrow_mut().sent += buf.len();
        Ok(buf.len())
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let mut guard = self.0.borrow_mut();
        let w = &mut *guard;
        if w.drained {
            return Err(IoError::WouldBlock);
        }
        let Some(front) = w.pending.front() else { return Err(IoError::Closed) };
        let rest = &front[w.offset..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        let front_len = front.len();
        w.offset += n;
        if w.offset >= front_len {
            w.pending.pop_front();
            w.offset = 0;
            w.drained = true;
        }
        if n == 0 {
            return Err(IoError::WouldBlock);
        }
        Ok(n)
    }
}

/// Checks what the library promises the host while the fuzzer plays the server.
#[derive(Default)]
struct CheckingHost {
    outcomes: std::collections::HashMap<u32, u32>,
    speaks: Vec<Vec<u8>>,
    speech_done: std::collections::HashSet<Vec<u8>>,
    probe: Probe,
}

/// How far a run got, for checking that seeds reach the states they were written for.
#[derive(Default, Debug, Clone)]
pub struct Probe {
    pub connected: bool,
    pub speaks: usize,
    pub speech_done: usize,
    /// The dialog went to THINKING (StopCapture, for a NEAR_FIELD turn).
    pub stop_capture: bool,
    pub outcomes: Vec<AvsStatus>,
}

impl Host for CheckingHost {
    fn state_changed(&mut self, state: ConnectionState, _: AvsStatus) {
        self.probe.connected |= state == ConnectionState::Connected;
    }
    fn directive(&mut self, d: &DirectiveView) -> AvsStatus {
        // Views are parsed out of the part they came in.
        assert!(!d.namespace.is_empty() && !d.name.is_empty());
        AvsStatus::Ok
    }
    fn attachment(&mut self, _: &[u8], _: &[u8], _: bool) {}
    fn exception(&mut self, _: u32, _: u16, _: &[u8], _: &[u8]) {}
    fn event_outcome(&mut self, event_id: u32, status: AvsStatus, _: u16) {
        let n = self.outcomes.entry(event_id).or_default();
        *n += 1;
        assert_eq!(*n, 1, "event {event_id} got more than one outcome");
        self.probe.outcomes.push(status);
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        // For reading a seed's run: AVS_FUZZ_LOG=1.
        if std::env::var_os("AVS_FUZZ_LOG").is_some() {
            eprintln!("[{level:?}] {message}");
        }
    }
    fn dialog_state(&mut self, state: DialogState, _: AvsStatus) {
        self.probe.stop_capture |= state == DialogState::Thinking;
    }
    fn expect_speech(&mut self, _: u32) {}
    fn speak(&mut self, token: &[u8]) {
        self.speaks.push(token.to_vec());
        self.probe.speaks += 1;
    }
    fn speech_audio(&mut self, token: &[u8], _: &[u8], last: bool) {
        if last && self.speech_done.insert(token.to_vec()) {
            self.probe.speech_done += 1;
        }
    }
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

/// A host whose state the harness can read while the client owns the boxed one.
struct SharedHost(Rc<RefCell<CheckingHost>>);

impl Host for SharedHost {
    fn state_changed(&mut self, s: ConnectionState, r: AvsStatus) {
        self.0.borrow_mut().state_changed(s, r)
    }
    fn directive(&mut self, d: &DirectiveView) -> AvsStatus {
        self.0.borrow_mut().directive(d)
    }
    fn attachment(&mut self, c: &[u8], d: &[u8], l: bool) {
        self.0.borrow_mut().attachment(c, d, l)
    }
    fn exception(&mut self, e: u32, h: u16, c: &[u8], d: &[u8]) {
        self.0.borrow_mut().exception(e, h, c, d)
    }
    fn event_outcome(&mut self, e: u32, s: AvsStatus, h: u16) {
        self.0.borrow_mut().event_outcome(e, s, h)
    }
    fn log(&mut self, l: LogLevel, m: &str) {
        self.0.borrow_mut().log(l, m)
    }
    fn dialog_state(&mut self, s: DialogState, r: AvsStatus) {
        self.0.borrow_mut().dialog_state(s, r)
    }
    fn expect_speech(&mut self, t: u32) {
        self.0.borrow_mut().expect_speech(t)
    }
    fn speak(&mut self, t: &[u8]) {
        self.0.borrow_mut().speak(t)
    }
    fn speech_audio(&mut self, t: &[u8], m: &[u8], l: bool) {
        self.0.borrow_mut().speech_audio(t, m, l)
    }
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }
}

/// The host's speaker, indicator and display: they apply what they are asked, or refuse when
/// the input says so (a volume ending in 7 is refused), so both outcomes are reached.
struct FuzzDevice;

impl crate::interfaces::volume::SpeakerControl for FuzzDevice {
    fn apply(&mut self, requested: crate::interfaces::volume::VolumeState) -> Result<crate::interfaces::volume::VolumeState, AvsStatus> {
        assert!(requested.volume <= 100, "the library asked for volume {}", requested.volume);
        if requested.volume % 10 == 7 {
            Err(AvsStatus::AudioDevice)
        } else {
            Ok(requested)
        }
    }
}

impl crate::interfaces::notifications::IndicatorControl for FuzzDevice {
    fn set_indicator(&mut self, _: &crate::interfaces::notifications::Indicator) -> Result<(), AvsStatus> {
        Ok(())
    }
    fn clear_indicator(&mut self) -> Result<(), AvsStatus> {
        Ok(())
    }
}

impl crate::interfaces::template_runtime::CardDisplay for FuzzDevice {
    fn render(&mut self, card: &crate::interfaces::template_runtime::Card) -> Result<(), AvsStatus> {
        assert!(crate::protocol::json::is_object(card.payload));
        Ok(())
    }
}

/// Every interface turned on, so that directives reach all of them.
fn enable_interfaces(client: &mut Client) {
    let info = crate::interfaces::discovery::DeviceInfo {
        product_id: heapless::String::try_from("fuzz-product").unwrap_or_default(),
        serial_number: heapless::String::try_from("fuzz-dsn").unwrap_or_default(),
        endpoint_id: heapless::String::try_from("fuzz-endpoint").unwrap_or_default(),
        friendly_name: heapless::String::try_from("fuzz").unwrap_or_default(),
        manufacturer: heapless::String::try_from("avs").unwrap_or_default(),
        description: heapless::String::try_from("fuzz device").unwrap_or_default(),
        display_category: heapless::String::try_from("SPEAKER").unwrap_or_default(),
    };
    let initial = crate::interfaces::volume::VolumeState { volume: 50, muted: false };
    let results = [
        client.enable_speaker(Box::new(FuzzDevice), initial),
        client.set_device_info(info),
        client.enable_alexa_speaker(),
        client.enable_notifications(Box::new(FuzzDevice)),
        client.enable_template_runtime(Box::new(FuzzDevice)),
    ];
    assert!(results.iter().all(|r| r.is_ok()), "interfaces enabled: {results:?}");
    client.set_wall_clock(1_000, 1_486_138_850_520);
}

/// Small capacities, so that limits are reached by short inputs.
fn settings(ca: &[u8]) -> Settings {
    Settings {
        endpoint: "https://avs.fuzz:443".into(),
        ca: ca.to_vec(),
        token: "fuzz-token".into(),
        event_queue_capacity: 2,
        max_event_bytes: 512,
        max_directive_bytes: 1024,
        max_streams: 4,
        ping_interval_ms: 20_000,
        ping_timeout_ms: 5_000,
        connect_timeout_ms: 30_000,
        backoff_base_ms: 100,
        backoff_max_ms: 1_000,
        max_event_attempts: 2,
        log_level: LogLevel::Debug,
        audio_ring_bytes: 3_200,
        attachment_buffer_bytes: 512,
        turn_timeout_ms: 8_000,
        http2_memory_bytes: 32_768,
        tls_memory_bytes: 16_384,
        memory: None,
        lwa: None,
    }
}

/// Plays `input` as the server's side of one connection (format in the module docs). `ca` is
/// any PEM certificate: the TLS configuration is built as usual but never used. Panics on a
/// broken promise to the host (e.g. two outcomes for one event), as on any panic inside.
pub fn run(ca: &[u8], input: &[u8]) {
    probe(ca, input);
}

/// [`run`], returning how far it got.
pub fn probe(ca: &[u8], input: &[u8]) -> Probe {
    let Some((&actions, mut rest)) = input.split_first() else { return Probe::default() };
    let wire = Rc::new(RefCell::new(Wire::default()));
    let mut steps = Vec::new();
    while !rest.is_empty() {
        let (len, advance) = match rest {
            [lo, hi, tail @ ..] => ((usize::from(*hi) << 8 | usize::from(*lo)).min(tail.len()), u64::from(*lo) * 16),
            _ => break,
        };
        let body = &rest[2..2 + len];
        wire.borrow_mut().pending.push_back(body.to_vec());
        steps.push(advance);
        rest = &rest[2 + len..];
    }
    let host = Rc::new(RefCell::new(CheckingHost::default()));
    let mut client = match Client::new(settings(ca), Box::new(SharedHost(host.clone())), Box::new(FuzzNetwork(wire.clone()))) {
        Ok(c) => c,
        Err((status, why)) => panic!("the harness's client could not be created: {status:?} {why}"),
    };
    client.set_plaintext();
    enable_interfaces(&mut client);
    let mut now = 1_000u64;
    client.connect().expect("connect");
    // The client speaks first (preface, downchannel request): the server's bytes come after.
    wire.borrow_mut().drained = true;
    client.poll(now);
    let (mut acted, mut turn_started, mut event) = (false, false, None);
    for advance in steps {
        if !acted && client.state() == ConnectionState::Connected {
            // The host acts once the client is synchronized; the poll sends what it asked for
            // (as stream 5) before the next record, which may answer it, arrives.
            acted = true;
            if actions & 1 != 0 {
                event = client.send_event("Fuzz", "Event", b"{}", true).ok();
            }
            if actions & 2 != 0 {
                turn_started = client.start_turn(TurnOptions { profile: AvsProfile::NearField, wake_word: None }).is_ok();
            }
            client.poll(now);
        }
        if turn_started {
            let _ = client.audio_ring().write(&[0u8; 640]);
        }
        wire.borrow_mut().drained = false;
        client.poll(now);
        now += advance;
        client.poll(now);
        if actions & 4 != 0 {
            let speaks = std::mem::take(&mut host.borrow_mut().speaks);
            for token in speaks {
                let t = String::from_utf8_lossy(&token).into_owned();
                let _ = client.speech_started(&t);
                let _ = client.speech_finished(&t);
            }
        }
    }
    // The server goes quiet: time runs out every deadline, then the client is freed; every
    // event the host queued must have had exactly one outcome by then.
    wire.borrow_mut().drained = false;
    for _ in 0..4 {
        now += 60_000;
        client.poll(now);
    }
    client.cancel_all();
    drop(client);
    if let Some(id) = event {
        assert_eq!(host.borrow().outcomes.get(&id), Some(&1), "the host's event got exactly one outcome");
    }
    let probe = host.borrow().probe.clone();
    probe
}

#[cfg(test)]
mod tests {
    /// The checked-in corpus (fuzz/corpus/h2_client: the seeds written by fuzz/h2_seeds.py, and
    /// `regression-*` inputs of past findings) replays without a finding, and the seeds reach the
    /// deep states they were written for: a harness whose seeds died at the handshake would fuzz
    /// nothing but nghttp2's preface check. `AVS_FUZZ_LOG=1` prints the client's log.
    #[test]
    fn seeds_replay_and_reach_their_states() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let ca = std::fs::read(repo.join("fuzz/fixtures/ca.pem")).expect("fuzz/fixtures/ca.pem");
        let dir = repo.join("fuzz/corpus/h2_client");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("seed directory") {
            let path = entry.unwrap().path();
            if std::env::var_os("AVS_FUZZ_LOG").is_some() {
                eprintln!("== {}", path.display());
            }
            super::run(&ca, &std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n >= 8, "{n} seeds in {}", dir.display());
        let seed = |name: &str| std::fs::read(dir.join(format!("seed-{name}"))).unwrap();
        let probe = super::probe(&ca, &seed("turn_speak_first"));
        assert!(probe.connected && probe.speaks == 1 && probe.speech_done == 1, "the turn seed gets its Speak: {probe:?}");
        let probe = super::probe(&ca, &seed("turn_split_delimiter"));
        assert!(probe.stop_capture, "the split-delimiter seed delivers StopCapture: {probe:?}");
        let probe = super::probe(&ca, &seed("event_answered"));
        assert_eq!(probe.outcomes, vec![crate::status::AvsStatus::Ok], "the event seed is answered");
    }
}

//! Test harness: starts the local AVS server (emulator/avs_server.py) and drives the library
//! through its exported C functions, recording every callback.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub use avs::ffi::client::*;
pub use avs::ffi::types::*;
pub use avs::status::{AvsConnectionState, AvsDialogState, AvsLogLevel, AvsProfile, AvsStatus};
pub use serde_json::{json, Value};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Test certificates, generated once per test binary run (idempotent in the server).
pub fn certs() -> PathBuf {
    static ONCE: Once = Once::new();
    let dir = repo().join("target").join("test-certs");
    ONCE.call_once(|| {
        let st = Command::new("python3")
            .arg(repo().join("emulator/avs_server.py"))
            .arg("gen-certs")
            .arg(&dir)
            .status()
            .expect("python3 runs");
        assert!(st.success(), "gen-certs failed");
    });
    dir
}

/// A running local AVS server with its control connection.
pub struct Server {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    /// The Login with Amazon endpoints (HTTP/1.1 over TLS).
    pub lwa_port: u16,
    control: BufReader<TcpStream>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let certs = certs();
        let mut child = Command::new("python3")
            .arg(repo().join("emulator/avs_server.py"))
            .arg("serve")
            .arg("--certs")
            .arg(&certs)
            .arg("--token")
            .arg("test-token")
            .arg("--quiet")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start avs_server.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("server said {line:?}"));
        let port = v["port"].as_u64().unwrap() as u16;
        let cport = v["control_port"].as_u64().unwrap() as u16;
        let lwa_port = v["lwa_port"].as_u64().unwrap() as u16;
        let control = BufReader::new(TcpStream::connect(("127.0.0.1", cport)).unwrap());
        Server { child, _stdin: stdin, port, lwa_port, control }
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}:{}", std::env::var("AVS_TEST_HOST").unwrap_or("localhost".into()), self.port)
    }

    /// The base URL of the server's Login with Amazon endpoints.
    pub fn lwa_url(&self) -> String {
        format!("https://{}:{}", std::env::var("AVS_TEST_HOST").unwrap_or("localhost".into()), self.lwa_port)
    }

    /// Requests to the Login with Amazon endpoints, as the server recorded them.
    pub fn lwa_requests(&mut self) -> Vec<Value> {
        self.cmd(json!({"cmd": "log"}))["lwa_requests"].as_array().unwrap().clone()
    }

    pub fn cmd(&mut self, req: Value) -> Value {
        let mut s = req.to_string();
        s.push('\n');
        self.control.get_mut().write_all(s.as_bytes()).unwrap();
        let mut line = String::new();
        self.control.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], json!(true), "control {req} failed: {v}");
        v
    }

    pub fn requests(&mut self) -> Vec<Value> {
        self.cmd(json!({"cmd": "log"}))["requests"].as_array().unwrap().clone()
    }

    pub fn connections(&mut self) -> Vec<Value> {
        self.cmd(json!({"cmd": "connections"}))["connections"].as_array().unwrap().clone()
    }

    /// Events received (requests to /v20160207/events), as `Namespace.Name`.
    pub fn event_names(&mut self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r["path"] == "/v20160207/events")
            .map(|r| format!("{}.{}", r["event"]["namespace"].as_str().unwrap_or("?"), r["event"]["name"].as_str().unwrap_or("?")))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything the library told the host.
#[derive(Default)]
pub struct Recorder {
    pub states: Vec<(AvsConnectionState, AvsStatus, Instant)>,
    pub directives: Vec<(String, String, String)>, // namespace.name, dialogRequestId, json
    pub outcomes: Vec<(u32, AvsStatus, u16)>,
    pub exceptions: Vec<(u32, u16, String, String)>,
    pub attachments: HashMap<String, Vec<u8>>,
    pub attachments_done: Vec<String>,
    pub logs: Vec<(AvsLogLevel, String)>,
    pub echo_logs: bool,
    pub dialog: Vec<(AvsDialogState, AvsStatus)>,
    pub expect_speech: Vec<u32>,
    pub speaks: Vec<String>,
    /// Speak audio by token, and the tokens whose audio is complete.
    pub speech_audio: HashMap<String, Vec<u8>>,
    pub speech_done: Vec<String>,
}

fn s(v: AvsStr) -> String {
    let bytes = unsafe { std::slice::from_raw_parts(v.data as *const u8, v.len) };
    String::from_utf8_lossy(bytes).into_owned()
}

unsafe extern "C" fn on_state(ud: *mut c_void, state: AvsConnectionState, reason: AvsStatus) {
    let r = &mut *(ud as *mut Recorder);
    r.states.push((state, reason, Instant::now()));
}
unsafe extern "C" fn on_directive(ud: *mut c_void, d: *const AvsDirective) {
    let r = &mut *(ud as *mut Recorder);
    let d = &*d;
    r.directives.push((format!("{}.{}", s(d.namespace_), s(d.name)), s(d.dialog_request_id), s(d.json)));
}
unsafe extern "C" fn on_attachment(ud: *mut c_void, cid: AvsStr, data: *const u8, len: usize, last: bool) {
    let r = &mut *(ud as *mut Recorder);
    let id = s(cid);
    r.attachments.entry(id.clone()).or_default().extend_from_slice(std::slice::from_raw_parts(data, len));
    if last {
        r.attachments_done.push(id);
    }
}
unsafe extern "C" fn on_exception(ud: *mut c_void, id: u32, http: u16, code: AvsStr, desc: AvsStr) {
    let r = &mut *(ud as *mut Recorder);
    r.exceptions.push((id, http, s(code), s(desc)));
}
unsafe extern "C" fn on_outcome(ud: *mut c_void, id: u32, status: AvsStatus, http: u16) {
    let r = &mut *(ud as *mut Recorder);
    r.outcomes.push((id, status, http));
}
unsafe extern "C" fn on_log(ud: *mut c_void, level: AvsLogLevel, msg: AvsStr) {
    let r = &mut *(ud as *mut Recorder);
    if r.echo_logs || std::env::var_os("AVS_TEST_LOG").is_some() {
        eprintln!("[avs {level:?}] {}", s(msg));
    }
    r.logs.push((level, s(msg)));
}

unsafe extern "C" fn on_dialog_state(ud: *mut c_void, state: AvsDialogState, reason: AvsStatus) {
    let r = &mut *(ud as *mut Recorder);
    r.dialog.push((state, reason));
}
unsafe extern "C" fn on_expect_speech(ud: *mut c_void, timeout_ms: u32) {
    (*(ud as *mut Recorder)).expect_speech.push(timeout_ms);
}
unsafe extern "C" fn on_speak(ud: *mut c_void, token: AvsStr) {
    (*(ud as *mut Recorder)).speaks.push(s(token));
}
unsafe extern "C" fn on_speech_audio(ud: *mut c_void, token: AvsStr, data: *const u8, len: usize, last: bool) {
    let r = &mut *(ud as *mut Recorder);
    let t = s(token);
    r.speech_audio.entry(t.clone()).or_default().extend_from_slice(std::slice::from_raw_parts(data, len));
    if last {
        r.speech_done.push(t);
    }
}

/// Owned copies of the strings a config points at.
pub struct ConfigStrings {
    pub endpoint: CString,
    pub ca_file: CString,
    pub token: CString,
}

/// A client created through `avs_client_new`.
pub struct TestClient {
    pub ptr: *mut AvsClient,
    pub rec: Box<Recorder>,
}

pub fn default_config(strings: &ConfigStrings) -> AvsConfig {
    let mut cfg = std::mem::MaybeUninit::<AvsConfig>::uninit();
    assert_eq!(unsafe { avs_config_init(cfg.as_mut_ptr()) }, AvsStatus::Ok);
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.endpoint = strings.endpoint.as_ptr();
    cfg.ca_file = strings.ca_file.as_ptr();
    cfg.access_token = strings.token.as_ptr();
    cfg.log_level = AvsLogLevel::Debug as u32;
    cfg.backoff_base_ms = 50;
    cfg.backoff_max_ms = 400;
    cfg
}

impl TestClient {
    /// A client for `server` using the test CA, tuned by `tune`; not yet connected.
    pub fn new(server: &Server, tune: impl FnOnce(&mut AvsConfig)) -> TestClient {
        Self::with_ca(&server.endpoint(), &certs().join("ca.pem"), tune).expect("client created")
    }

    pub fn with_ca(endpoint: &str, ca: &Path, tune: impl FnOnce(&mut AvsConfig)) -> Result<TestClient, AvsStatus> {
        let strings = ConfigStrings {
            endpoint: CString::new(endpoint).unwrap(),
            ca_file: CString::new(ca.to_str().unwrap()).unwrap(),
            token: CString::new("test-token").unwrap(),
        };
        let mut cfg = default_config(&strings);
        tune(&mut cfg);
        let mut rec = Box::new(Recorder::default());
        let cbs = recorder_callbacks(&mut rec);
        let mut ptr = std::ptr::null_mut();
        let st = unsafe { avs_client_new(&cfg, &cbs, &mut ptr) };
        if st != AvsStatus::Ok {
            return Err(st);
        }
        Ok(TestClient { ptr, rec })
    }

    pub fn connect(&mut self) {
        assert_eq!(unsafe { avs_client_connect(self.ptr) }, AvsStatus::Ok);
    }

    pub fn state(&self) -> AvsConnectionState {
        let mut st = AvsConnectionState::Disconnected;
        assert_eq!(unsafe { avs_client_state(self.ptr, &mut st) }, AvsStatus::Ok);
        st
    }

    pub fn poll(&mut self) -> u32 {
        let mut next = 0;
        assert_eq!(unsafe { avs_client_poll(self.ptr, avs_monotonic_ms(), &mut next) }, AvsStatus::Ok);
        next
    }

    /// Polls (sleeping briefly between rounds) until `pred` holds or `timeout` passes.
    pub fn poll_until(&mut self, timeout: Duration, mut pred: impl FnMut(&Recorder, AvsConnectionState) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let next = self.poll();
            if pred(&self.rec, self.state()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(u64::from(next.clamp(1, 5))));
        }
    }

    /// Polls for `d` regardless.
    pub fn run_for(&mut self, d: Duration) {
        self.poll_until(d, |_, _| false);
    }

    pub fn wait_connected(&mut self) {
        let ok = self.poll_until(Duration::from_secs(10), |_, st| st == AvsConnectionState::Connected);
        assert!(ok, "not connected; states {:?}; logs {:#?}", self.rec.states.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(), self.rec.logs);
    }

    pub fn send(&mut self, ns: &str, name: &str, payload: &str) -> Result<u32, AvsStatus> {
        let (ns, name, payload) = (CString::new(ns).unwrap(), CString::new(name).unwrap(), CString::new(payload).unwrap());
        let mut id = 0;
        match unsafe { avs_client_send_event(self.ptr, ns.as_ptr(), name.as_ptr(), payload.as_ptr(), CBool(0), &mut id) } {
            AvsStatus::Ok => Ok(id),
            e => Err(e),
        }
    }

    pub fn outcome(&self, id: u32) -> Option<(AvsStatus, u16)> {
        self.rec.outcomes.iter().find(|o| o.0 == id).map(|o| (o.1, o.2))
    }

    pub fn wait_outcome(&mut self, id: u32, timeout: Duration) -> (AvsStatus, u16) {
        let ok = self.poll_until(timeout, |r, _| r.outcomes.iter().any(|o| o.0 == id));
        assert!(ok, "no outcome for event {id}; logs {:#?}", self.rec.logs);
        self.outcome(id).unwrap()
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.rec.logs.iter().any(|(_, l)| l.contains(needle))
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        unsafe { avs_client_free(self.ptr) };
    }
}

pub fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn directive(ns: &str, name: &str, payload: Value) -> Value {
    json!({"directive": {"header": {"namespace": ns, "name": name, "messageId": format!("msg-{ns}-{name}")}, "payload": payload}})
}

/// Callback counters that never allocate, for allocation and heap measurements.
pub struct Counts {
    pub speaks: usize,
    pub speech_chunks: usize,
    pub speech_bytes: usize,
    pub speech_done: usize,
    pub idle_errors: usize,
    pub dialog: Option<AvsDialogState>,
    /// The last Speak token, NUL-terminated, for reporting playback without allocating.
    pub token: [u8; 257],
    pub directives: usize,
    pub ok_outcomes: usize,
    pub other_outcomes: usize,
    pub connected_events: usize,
    pub connected: bool,
    /// The last reason other than OK a state change gave.
    pub last_reason: Option<AvsStatus>,
}

unsafe extern "C" fn count_state(ud: *mut c_void, st: AvsConnectionState, reason: AvsStatus) {
    let c = &mut *(ud as *mut Counts);
    if reason != AvsStatus::Ok {
        c.last_reason = Some(reason);
    }
    c.connected = st == AvsConnectionState::Connected;
    c.connected_events += usize::from(c.connected);
}
impl Default for Counts {
    fn default() -> Self {
        Counts {
            speaks: 0,
            speech_chunks: 0,
            speech_bytes: 0,
            speech_done: 0,
            idle_errors: 0,
            dialog: None,
            token: [0; 257],
            directives: 0,
            ok_outcomes: 0,
            other_outcomes: 0,
            connected_events: 0,
            connected: false,
            last_reason: None,
        }
    }
}

unsafe extern "C" fn count_dialog(ud: *mut c_void, st: AvsDialogState, reason: AvsStatus) {
    let c = &mut *(ud as *mut Counts);
    c.dialog = Some(st);
    c.idle_errors += usize::from(reason != AvsStatus::Ok);
}
unsafe extern "C" fn count_speak(ud: *mut c_void, token: AvsStr) {
    let c = &mut *(ud as *mut Counts);
    c.speaks += 1;
    let n = token.len.min(256);
    std::ptr::copy_nonoverlapping(token.data as *const u8, c.token.as_mut_ptr(), n);
    c.token[n] = 0;
}
unsafe extern "C" fn count_speech_audio(ud: *mut c_void, _: AvsStr, _: *const u8, len: usize, last: bool) {
    let c = &mut *(ud as *mut Counts);
    c.speech_chunks += 1;
    c.speech_bytes += len;
    c.speech_done += usize::from(last);
}
unsafe extern "C" fn count_log(_: *mut c_void, level: AvsLogLevel, msg: AvsStr) {
    eprintln!("[avs {level:?}] {}", s(msg));
}
unsafe extern "C" fn count_directive(ud: *mut c_void, _: *const AvsDirective) {
    (*(ud as *mut Counts)).directives += 1;
}
unsafe extern "C" fn count_outcome(ud: *mut c_void, _: u32, st: AvsStatus, _: u16) {
    let c = &mut *(ud as *mut Counts);
    if st == AvsStatus::Ok {
        c.ok_outcomes += 1;
    } else {
        c.other_outcomes += 1;
    }
}

/// A client whose callbacks only count (no allocation, no logging).
pub struct CountingClient {
    pub ptr: *mut AvsClient,
    pub counts: Box<Counts>,
    /// Added to the real clock: lets a test simulate hours of idle time.
    pub clock_offset_ms: u64,
    _strings: ConfigStrings,
}

impl CountingClient {
    pub fn new(server: &Server, tune: impl FnOnce(&mut AvsConfig)) -> CountingClient {
        let strings = ConfigStrings {
            endpoint: CString::new(server.endpoint()).unwrap(),
            ca_file: CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap(),
            token: CString::new("test-token").unwrap(),
        };
        let mut cfg = default_config(&strings);
        tune(&mut cfg);
        let mut counts = Box::new(Counts::default());
        let cbs = AvsCallbacks {
            user_data: &mut *counts as *mut Counts as *mut c_void,
            on_state: Some(count_state),
            on_directive: Some(count_directive),
            on_attachment: None,
            on_exception: None,
            on_event_outcome: Some(count_outcome),
            // Logging allocates: only when asked for (AVS_TEST_LOG), never in measured runs.
            on_log: if std::env::var_os("AVS_TEST_LOG").is_some() { Some(count_log) } else { None },
            on_dialog_state: Some(count_dialog),
            on_expect_speech: None,
            on_speak: Some(count_speak),
            on_speech_audio: Some(count_speech_audio),
        };
        let mut ptr = std::ptr::null_mut();
        assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
        CountingClient { ptr, counts, clock_offset_ms: 0, _strings: strings }
    }

    /// Reads the counters (the library writes them through a raw pointer during polls).
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    pub fn poll_once(&mut self) -> u32 {
        let mut next = 0;
        assert_eq!(unsafe { avs_client_poll(self.ptr, avs_monotonic_ms() + self.clock_offset_ms, &mut next) }, AvsStatus::Ok);
        next
    }

    /// Polls until `pred` holds, waiting on the client's sockets between polls.
    pub fn poll_until(&mut self, timeout: Duration, pred: impl Fn(&Counts) -> bool) {
        let end = Instant::now() + timeout;
        while !pred(&self.counts) {
            assert!(Instant::now() < end, "timed out");
            let next = self.poll_once();
            if pred(&self.counts) {
                break;
            }
            self.wait_io(next.min(2));
        }
    }

    /// Waits up to `ms` for the client's sockets to become readable.
    pub fn wait_io(&self, ms: u32) {
        let mut fds = [0i32; 4];
        let mut n = 0usize;
        unsafe { avs_client_fds(self.ptr, fds.as_mut_ptr(), 4, &mut n, std::ptr::null_mut()) };
        let mut pfds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; 4];
        for i in 0..n {
            pfds[i] = libc::pollfd { fd: fds[i], events: libc::POLLIN, revents: 0 };
        }
        unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, ms as i32) };
    }

    pub fn send(&mut self, ns: &std::ffi::CStr, name: &std::ffi::CStr, payload: &std::ffi::CStr) -> u32 {
        let mut id = 0;
        assert_eq!(unsafe { avs_client_send_event(self.ptr, ns.as_ptr(), name.as_ptr(), payload.as_ptr(), CBool(1), &mut id) }, AvsStatus::Ok);
        id
    }
}

impl Drop for CountingClient {
    fn drop(&mut self) {
        unsafe { avs_client_free(self.ptr) };
    }
}

pub fn unb64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for q in bytes.chunks(4) {
        let n = q.iter().fold(0u32, |acc, &c| (acc << 6) | u32::from(val(c)));
        let pad = q.iter().filter(|&&c| c == b'=').count();
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    out
}

/// The PCM samples of a 16-bit WAV file (the bytes of its `data` chunk).
pub fn wav_pcm(path: &Path) -> Vec<u8> {
    let wav = std::fs::read(path).unwrap();
    let mut i = 12;
    while i + 8 <= wav.len() {
        let id = &wav[i..i + 4];
        let len = u32::from_le_bytes(wav[i + 4..i + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            return wav[i + 8..(i + 8 + len).min(wav.len())].to_vec();
        }
        i += 8 + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("emulator/fixtures").join(name)
}

impl TestClient {
    pub fn start_turn(&mut self, profile: AvsProfile, wake_word: Option<(u64, u64)>) -> AvsStatus {
        let opts = AvsTurnOptions {
            profile: profile as u32,
            wake_word: CBool::from(wake_word.is_some()),
            wake_word_start_sample: wake_word.map(|w| w.0).unwrap_or(0),
            wake_word_end_sample: wake_word.map(|w| w.1).unwrap_or(0),
        };
        unsafe { avs_client_start_turn(self.ptr, &opts) }
    }

    pub fn write_audio(&self, pcm: &[u8]) -> AvsStatus {
        unsafe { avs_client_audio_write(self.ptr, pcm.as_ptr(), pcm.len()) }
    }

    pub fn dialog_state(&self) -> AvsDialogState {
        let mut st = AvsDialogState::Idle;
        assert_eq!(unsafe { avs_client_dialog_state(self.ptr, &mut st) }, AvsStatus::Ok);
        st
    }

    /// Streams `pcm` in 10 ms frames, `pace` apart, polling in between, until it is all written or
    /// the library stops taking audio. Returns the bytes taken.
    pub fn stream_audio(&mut self, pcm: &[u8], pace: Duration) -> usize {
        let mut sent = 0;
        for frame in pcm.chunks(320) {
            match self.write_audio(frame) {
                AvsStatus::Ok => sent += frame.len(),
                AvsStatus::WrongState => break,
                other => panic!("audio write: {other:?}"),
            }
            let until = Instant::now() + pace;
            while Instant::now() < until {
                self.poll();
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        sent
    }

    /// Plays every Speak that has arrived: reports started and finished.
    pub fn play_speaks(&mut self) {
        for token in self.rec.speaks.clone() {
            let t = CString::new(token).unwrap();
            assert_eq!(unsafe { avs_client_speech_started(self.ptr, t.as_ptr()) }, AvsStatus::Ok);
            assert_eq!(unsafe { avs_client_speech_finished(self.ptr, t.as_ptr()) }, AvsStatus::Ok);
        }
        self.rec.speaks.clear();
    }
}

/// The callbacks that record into `rec` (for tests that build their own config).
pub fn recorder_callbacks(rec: &mut Recorder) -> AvsCallbacks {
    AvsCallbacks {
        user_data: rec as *mut Recorder as *mut c_void,
        on_state: Some(on_state),
        on_directive: Some(on_directive),
        on_attachment: Some(on_attachment),
        on_exception: Some(on_exception),
        on_event_outcome: Some(on_outcome),
        on_log: Some(on_log),
        on_dialog_state: Some(on_dialog_state),
        on_expect_speech: Some(on_expect_speech),
        on_speak: Some(on_speak),
        on_speech_audio: Some(on_speech_audio),
    }
}

/// Callbacks that are all NULL, with `user_data`.
pub fn no_callbacks(user_data: *mut c_void) -> AvsCallbacks {
    AvsCallbacks {
        user_data,
        on_state: None,
        on_directive: None,
        on_attachment: None,
        on_exception: None,
        on_event_outcome: None,
        on_log: None,
        on_dialog_state: None,
        on_expect_speech: None,
        on_speak: None,
        on_speech_audio: None,
    }
}

/// The strings of a config for `server` with the test CA and `token`.
pub fn strings_for(server: &Server, token: &str) -> ConfigStrings {
    ConfigStrings {
        endpoint: CString::new(server.endpoint()).unwrap(),
        ca_file: CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap(),
        token: CString::new(token).unwrap(),
    }
}

/// The host's storage: a map the test can look into and hand to the next client.
#[derive(Default)]
pub struct Store {
    pub values: HashMap<String, Vec<u8>>,
}

unsafe extern "C" fn st_load(ud: *mut c_void, key: *const std::ffi::c_char, buf: *mut u8, cap: usize) -> isize {
    let s = &*(ud as *mut Store);
    match s.values.get(std::ffi::CStr::from_ptr(key).to_str().unwrap()) {
        Some(v) if v.len() <= cap => {
            std::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len());
            v.len() as isize
        }
        _ => -1,
    }
}
unsafe extern "C" fn st_store(ud: *mut c_void, key: *const std::ffi::c_char, data: *const u8, len: usize) -> i32 {
    st_store_status(ud, key, data, len) as i32
}
unsafe fn st_store_status(ud: *mut c_void, key: *const std::ffi::c_char, data: *const u8, len: usize) -> AvsStatus {
    let s = &mut *(ud as *mut Store);
    s.values.insert(std::ffi::CStr::from_ptr(key).to_str().unwrap().to_string(), std::slice::from_raw_parts(data, len).to_vec());
    AvsStatus::Ok
}
unsafe extern "C" fn st_erase(ud: *mut c_void, key: *const std::ffi::c_char) -> i32 {
    st_erase_status(ud, key) as i32
}
unsafe fn st_erase_status(ud: *mut c_void, key: *const std::ffi::c_char) -> AvsStatus {
    (*(ud as *mut Store)).values.remove(std::ffi::CStr::from_ptr(key).to_str().unwrap());
    AvsStatus::Ok
}

pub fn with_storage(c: &TestClient, store: &mut Store) {
    let s = avs::ffi::interfaces::device::AvsStorage { user_data: store as *mut Store as *mut c_void, load: Some(st_load), store: Some(st_store), erase: Some(st_erase) };
    assert_eq!(unsafe { avs::ffi::interfaces::device::avs_client_set_storage(c.ptr, &s, std::mem::size_of::<avs::ffi::interfaces::device::AvsStorage>()) }, AvsStatus::Ok);
}


/// An `avs_lwa_config` from `avs_lwa_config_init` pointing at `url`, `client_id` and (when
/// given) `refresh_token`; the strings must outlive it.
pub fn lwa_config(url: &std::ffi::CStr, client_id: &std::ffi::CStr, refresh_token: Option<&std::ffi::CStr>) -> avs::ffi::auth::AvsLwaConfig {
    let mut lwa = std::mem::MaybeUninit::<avs::ffi::auth::AvsLwaConfig>::uninit();
    assert_eq!(unsafe { avs::ffi::auth::avs_lwa_config_init(lwa.as_mut_ptr()) }, AvsStatus::Ok);
    let mut lwa = unsafe { lwa.assume_init() };
    lwa.url = url.as_ptr();
    lwa.client_id = client_id.as_ptr();
    lwa.refresh_token = refresh_token.map_or(std::ptr::null(), |t| t.as_ptr());
    lwa
}

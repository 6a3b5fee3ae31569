//! Voice-turn benchmark against the local AVS server, through the C API: attachment latency.
//!
//! Over 100 CLOSE_TALK turns on loopback (after a few warm-up turns), the server sends the Speak's
//! MP3 in DATA frames of at most 1000 bytes (`recognize_config` `chunk_size`). The host loop
//! blocks in poll(2) on the fds from `avs_client_fds`; when poll returns with a readable fd the
//! time is taken ("wake-up") and `avs_client_poll` runs at once. For every `on_speech_audio`
//! invocation the delay from the last readable wake-up to the callback is recorded.
//! Also prints nghttp2 allocation calls per turn (`avs::transport::h2::mem::stats()`), and, to tell
//! the library's own work from scheduling on a busy machine, the thread's CPU time from wake-up to
//! callback and whether it was preempted in between.
//!
//! Run: `cargo bench --bench voice` (env: AVS_BENCH_TURNS, default 100; AVS_BENCH_CHUNK, default 1000).

#[path = "../tests/common/mod.rs"]
mod common;
use common::*;
use std::ffi::{c_void, CString};
use std::time::{Duration, Instant};

/// What the callbacks record. The callbacks do not allocate (vectors are reserved up front).
struct Lat {
    /// Time poll(2) last returned with a readable client fd.
    wake: Instant,
    /// This thread's CPU time and involuntary context switches at that wake-up.
    wake_cpu: Duration,
    wake_nivcsw: i64,
    /// CPU-time delay (µs) of every invocation: time this thread actually ran since the wake-up.
    cpu_delays: Vec<f64>,
    /// Wall delay (µs) of the invocations during which the thread was not preempted.
    unpreempted_delays: Vec<f64>,
    /// Invocations whose thread was involuntarily switched out since the wake-up.
    preempted: usize,
    /// False when the current avs_client_poll was not preceded by a readable wake-up (timeout).
    wake_readable: bool,
    /// Callbacks since the last readable wake-up.
    cbs_in_wake: usize,
    measuring: bool,
    /// Delay (µs) of every on_speech_audio invocation since the last readable wake-up.
    delays: Vec<f64>,
    /// Same, only for the first invocation after each wake-up.
    first_delays: Vec<f64>,
    /// Invocations that ran in a poll not preceded by a readable wake-up.
    not_after_readable: usize,
    chunks: usize,
    bytes: usize,
    speech_done: usize,
    dialog: AvsDialogState,
    idle_errors: usize,
    connected: bool,
    token: [u8; 257],
}

unsafe extern "C" fn on_state(ud: *mut c_void, st: AvsConnectionState, _: AvsStatus) {
    (*(ud as *mut Lat)).connected = st == AvsConnectionState::Connected;
}
unsafe extern "C" fn on_dialog(ud: *mut c_void, st: AvsDialogState, reason: AvsStatus) {
    let l = &mut *(ud as *mut Lat);
    l.dialog = st;
    if reason != AvsStatus::Ok {
        l.idle_errors += 1;
        eprintln!("dialog {st:?} with {reason:?}");
    }
}
unsafe extern "C" fn on_speak(ud: *mut c_void, token: AvsStr) {
    let l = &mut *(ud as *mut Lat);
    let n = token.len.min(256);
    std::ptr::copy_nonoverlapping(token.data as *const u8, l.token.as_mut_ptr(), n);
    l.token[n] = 0;
}
/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// This thread's involuntary context switches so far.
fn thread_nivcsw() -> i64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ru.ru_nivcsw as i64
}

unsafe extern "C" fn on_speech_audio(ud: *mut c_void, _: AvsStr, _: *const u8, len: usize, last: bool) {
    let now = Instant::now();
    let l = &mut *(ud as *mut Lat);
    if l.measuring && len > 0 {
        let d = now.duration_since(l.wake).as_secs_f64() * 1e6;
        l.delays.push(d);
        l.cpu_delays.push(thread_cpu().saturating_sub(l.wake_cpu).as_secs_f64() * 1e6);
        if thread_nivcsw() != l.wake_nivcsw {
            l.preempted += 1;
        } else {
            l.unpreempted_delays.push(d);
        }
        if l.cbs_in_wake == 0 {
            l.first_delays.push(d);
        }
        if !l.wake_readable {
            l.not_after_readable += 1;
        }
        l.cbs_in_wake += 1;
        l.chunks += 1;
        l.bytes += len;
    }
    l.speech_done += usize::from(last);
}
unsafe extern "C" fn on_log(_: *mut c_void, level: AvsLogLevel, msg: AvsStr) {
    let b = std::slice::from_raw_parts(msg.data as *const u8, msg.len);
    eprintln!("[avs {level:?}] {}", String::from_utf8_lossy(b));
}

struct Client {
    ptr: *mut AvsClient,
    lat: Box<Lat>,
    _strings: ConfigStrings,
}

impl Client {
    fn new(server: &Server) -> Client {
        let strings = ConfigStrings {
            endpoint: CString::new(server.endpoint()).unwrap(),
            ca_file: CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap(),
            token: CString::new("test-token").unwrap(),
        };
        let mut cfg = default_config(&strings);
        cfg.log_level = AvsLogLevel::Warn as u32;
        let mut lat = Box::new(Lat {
            wake: Instant::now(),
            wake_cpu: Duration::ZERO,
            wake_nivcsw: 0,
            cpu_delays: Vec::with_capacity(1 << 16),
            unpreempted_delays: Vec::with_capacity(1 << 16),
            preempted: 0,
            wake_readable: false,
            cbs_in_wake: 0,
            measuring: false,
            delays: Vec::with_capacity(1 << 16),
            first_delays: Vec::with_capacity(1 << 16),
            not_after_readable: 0,
            chunks: 0,
            bytes: 0,
            speech_done: 0,
            dialog: AvsDialogState::Idle,
            idle_errors: 0,
            connected: false,
            token: [0; 257],
        });
        let cbs = AvsCallbacks {
            user_data: &mut *lat as *mut Lat as *mut c_void,
            on_state: Some(on_state),
            on_directive: None,
            on_attachment: None,
            on_exception: None,
            on_event_outcome: None,
            on_log: Some(on_log),
            on_dialog_state: Some(on_dialog),
            on_expect_speech: None,
            on_speak: Some(on_speak),
            on_speech_audio: Some(on_speech_audio),
        };
        let mut ptr = std::ptr::null_mut();
        assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
        Client { ptr, lat, _strings: strings }
    }

    /// The host loop: avs_client_poll, then block in poll(2) on the client's fds (up to what
    /// the library asks, at most 5 ms); a readable return stamps the wake-up time.
    fn run_until(&mut self, timeout: Duration, pred: impl Fn(&Lat) -> bool) {
        let end = Instant::now() + timeout;
        loop {
            let mut next = 0u32;
            assert_eq!(unsafe { avs_client_poll(self.ptr, avs_monotonic_ms(), &mut next) }, AvsStatus::Ok);
            if pred(&self.lat) {
                return;
            }
            assert!(Instant::now() < end, "timed out");
            let mut fds = [0i32; 4];
            let mut n = 0usize;
            let mut wants_write = false;
            unsafe { avs_client_fds(self.ptr, fds.as_mut_ptr(), 4, &mut n, &mut wants_write) };
            let mut pfds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; 4];
            for i in 0..n {
                pfds[i] = libc::pollfd { fd: fds[i], events: libc::POLLIN | if wants_write { libc::POLLOUT } else { 0 }, revents: 0 };
            }
            let r = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, next.min(5) as i32) };
            let t = Instant::now();
            let readable = r > 0 && pfds[..n].iter().any(|p| p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0);
            if readable {
                self.lat.wake = t;
                if self.lat.measuring {
                    self.lat.wake_cpu = thread_cpu();
                    self.lat.wake_nivcsw = thread_nivcsw();
                }
                self.lat.wake_readable = true;
                self.lat.cbs_in_wake = 0;
            } else {
                self.lat.wake_readable = false;
            }
        }
    }

    fn turn(&mut self, pcm: &[u8], turn_no: usize) {
        let opts = AvsTurnOptions { profile: AvsProfile::CloseTalk as u32, wake_word: CBool(0), wake_word_start_sample: 0, wake_word_end_sample: 0 };
        assert_eq!(unsafe { avs_client_start_turn(self.ptr, &opts) }, AvsStatus::Ok);
        for frame in pcm.chunks(320) {
            assert_eq!(unsafe { avs_client_audio_write(self.ptr, frame.as_ptr(), frame.len()) }, AvsStatus::Ok);
        }
        assert_eq!(unsafe { avs_client_end_audio(self.ptr) }, AvsStatus::Ok);
        self.run_until(Duration::from_secs(10), |l| l.speech_done > turn_no);
        let token = self.lat.token;
        unsafe {
            assert_eq!(avs_client_speech_started(self.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
            assert_eq!(avs_client_speech_finished(self.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
        }
        self.run_until(Duration::from_secs(5), |l| l.dialog == AvsDialogState::Idle);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { avs_client_free(self.ptr) };
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn summary(name: &str, v: &mut [f64]) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "  {name}: n {}, median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, worst {:.1} µs (mean {:.1} µs)",
        v.len(),
        pct(v, 0.5),
        pct(v, 0.9),
        pct(v, 0.99),
        v[v.len() - 1],
        mean
    );
}

fn main() {
    let turns: usize = std::env::var("AVS_BENCH_TURNS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let chunk: u64 = std::env::var("AVS_BENCH_CHUNK").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let warmup = 3usize;
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "chunk_size": chunk}));
    let mut c = Client::new(&server);
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.run_until(Duration::from_secs(10), |l| l.connected);
    // 0.2 s of the utterance per turn (20 frames of 10 ms, well inside the default 0.5 s ring):
    // the upload length does not matter for the answer's delivery.
    let pcm = wav_pcm(&fixture("utterance.wav"));
    let pcm = &pcm[..6400];
    for t in 0..warmup {
        c.turn(pcm, t);
    }
    let (_, _, ng0) = avs::transport::h2::mem::stats();
    c.lat.measuring = true;
    let t0 = Instant::now();
    for t in warmup..warmup + turns {
        c.turn(pcm, t);
    }
    let elapsed = t0.elapsed();
    c.lat.measuring = false;
    let (ng_live, ng_peak, ng1) = avs::transport::h2::mem::stats();
    let mp3_len = std::fs::read(fixture("speak.mp3")).unwrap().len();
    let l = &mut *c.lat;
    assert_eq!(l.idle_errors, 0, "every turn answered");
    assert_eq!(l.bytes, mp3_len * turns, "every Speak's MP3 arrived whole");
    println!(
        "attachment latency, {turns} CLOSE_TALK turns on loopback (+{warmup} warm-up), Speak MP3 {mp3_len} B in DATA frames of <= {chunk} B, {:.2} s:",
        elapsed.as_secs_f64()
    );
    println!(
        "  on_speech_audio invocations {} ({:.1} per turn, {:.0} B average); {} ran in a poll not preceded by a readable wake-up",
        l.chunks,
        l.chunks as f64 / turns as f64,
        l.bytes as f64 / l.chunks as f64,
        l.not_after_readable
    );
    summary("readable wake-up -> on_speech_audio, every invocation", &mut l.delays);
    summary("readable wake-up -> first on_speech_audio of that wake-up", &mut l.first_delays);
    summary("this thread's CPU time from wake-up to on_speech_audio (CLOCK_THREAD_CPUTIME_ID)", &mut l.cpu_delays);
    println!("  invocations after which the thread had been preempted (RUSAGE_THREAD nivcsw changed): {}", l.preempted);
    if !l.unpreempted_delays.is_empty() {
        summary("wall delay, invocations without preemption", &mut l.unpreempted_delays);
    }
    let over_1ms = l.delays.iter().filter(|&&d| d > 1000.0).count();
    println!("  invocations over 1 ms: {over_1ms}");
    println!(
        "nghttp2 allocation calls: {} over {turns} turns = {:.1} per turn (live {ng_live} B, peak {ng_peak} B)",
        ng1 - ng0,
        (ng1 - ng0) as f64 / turns as f64
    );
    // Let the last turn's SpeechStarted/SpeechFinished go out before the client is freed.
    let end = Instant::now() + Duration::from_millis(300);
    c.run_until(Duration::from_secs(1), |_| Instant::now() >= end);
    drop(c);
    drop(server);
}

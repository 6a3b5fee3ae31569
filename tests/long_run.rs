//! The whole client over a long run: 1000 voice turns, hours of simulated idle with pings and
//! an access-token refresh each hour (Login with Amazon, its own TLS session), and GOAWAY
//! reconnects. Between connection set-ups it makes no heap calls at all — not the Rust
//! core (a counting global allocator), and nothing through C's malloc, calloc or realloc
//! (interposed here, so nghttp2's and mbedTLS's C code is covered too: they draw from the
//! client's fixed pools, mbedTLS not even from its pool in steady state); and neither the heap
//! nor the pools grow from cycle to cycle.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

struct Counting;
static RUST_ALLOCS: AtomicUsize = AtomicUsize::new(0);
static RUST_LIVE: AtomicUsize = AtomicUsize::new(0);
/// malloc/calloc/realloc calls made on the measuring thread while armed.
static C_HEAP_CALLS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            RUST_ALLOCS.fetch_add(1, Relaxed);
        }
        RUST_LIVE.fetch_add(l.size(), Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        RUST_LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
}

fn count_c_heap_call() {
    // A const-initialised Cell: reading it never allocates, so it is safe inside malloc.
    if ARMED.with(|a| a.get()) {
        C_HEAP_CALLS.fetch_add(1, Relaxed);
    }
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    count_c_heap_call();
    __libc_malloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    count_c_heap_call();
    __libc_calloc(n, size)
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    count_c_heap_call();
    __libc_realloc(p, size)
}

fn armed<R>(f: impl FnOnce() -> R) -> R {
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    r
}

fn heap_in_use() -> usize {
    unsafe { libc::mallinfo2() }.uordblks
}

/// Heap calls made by the whole client: Rust allocations, and C heap calls (Rust's included).
fn heap_calls() -> usize {
    RUST_ALLOCS.load(Relaxed) + C_HEAP_CALLS.load(Relaxed)
}

fn voice_turn(c: &mut CountingClient, server: &mut Server, pcm: &[u8], turn: usize) {
    let opts = AvsTurnOptions { profile: AvsProfile::NearField as u32, wake_word: CBool(0), wake_word_start_sample: 0, wake_word_end_sample: 0 };
    // Counted before the turn starts: its answer may well arrive while the audio is still written.
    let done = c.counts().speech_done;
    assert_eq!(unsafe { avs_client_start_turn(c.ptr, &opts) }, AvsStatus::Ok, "turn {turn}");
    let mut pos = 0;
    loop {
        let frame = &pcm[pos % pcm.len()..(pos % pcm.len() + 320).min(pcm.len())];
        match unsafe { avs_client_audio_write(c.ptr, frame.as_ptr(), frame.len()) } {
            AvsStatus::Ok => pos += frame.len(),
            AvsStatus::RingFull => c.wait_io(1),
            AvsStatus::WrongState => break,
            other => panic!("{other:?}"),
        }
        c.poll_once();
    }
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while c.counts().speech_done <= done {
        if std::time::Instant::now() >= end {
            // What the server saw of this turn, to tell a client stall from a server one.
            let last = server.requests().into_iter().filter(|r| r["event"]["name"] == "Recognize").last();
            eprintln!("server's last Recognize: {last:?}");
        }
        assert!(
            std::time::Instant::now() < end,
            "turn {turn}: no Speak; dialog {:?}, speaks {}, errors {}, connected {}, nghttp2 {:?}",
            c.counts().dialog,
            c.counts().speaks,
            c.counts().idle_errors,
            c.counts().connected,
            avs::transport::h2::mem::stats()
        );
        c.poll_once();
        c.wait_io(2);
    }
    let token = c.counts().token;
    unsafe {
        assert_eq!(avs_client_speech_started(c.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
        assert_eq!(avs_client_speech_finished(c.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
    }
    c.poll_until(Duration::from_secs(5), |k| k.dialog == Some(AvsDialogState::Idle));
    // Let SpeechStarted/SpeechFinished be answered before the next turn.
    for _ in 0..20 {
        c.poll_once();
        c.wait_io(1);
    }
}

const TEST: &str = "a_thousand_turns_hours_of_idle_and_goaways_make_no_steady_state_heap_calls_and_no_growth";

fn memory(c: &CountingClient) -> AvsMemoryStats {
    let mut m = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut m) }, AvsStatus::Ok);
    m
}

/// How many sockets the client waits on (the token endpoint's while a refresh is under way).
fn sockets(c: &CountingClient) -> usize {
    let mut fds = [0i32; 4];
    let mut n = 0usize;
    unsafe { avs_client_fds(c.ptr, fds.as_mut_ptr(), 4, &mut n, std::ptr::null_mut()) };
    n
}

#[test]
fn a_thousand_turns_hours_of_idle_and_goaways_make_no_steady_state_heap_calls_and_no_growth() {
    // glibc's per-thread caches count cached chunks as in use, which would hide or fake growth:
    // run the measurement in a child of this test binary with them turned off.
    if std::env::var_os("AVS_LONG_RUN_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env("AVS_LONG_RUN_CHILD", "1")
            .env("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0")
            .status()
            .unwrap();
        assert!(status.success(), "the measuring child failed");
        return;
    }
    // The counters see what they are meant to: a C allocation and a Rust one while armed.
    let before = heap_calls();
    armed(|| unsafe { libc::free(std::hint::black_box(libc::malloc(16))) });
    assert_eq!(heap_calls(), before + 1, "the interposed malloc counts");
    std::hint::black_box(armed(|| Box::new(7u64)));
    assert_eq!(heap_calls(), before + 3, "a Rust allocation counts (and its malloc)");
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200}));
    // Signed in with Login with Amazon: hour-long access tokens, renewed 10 min before expiry.
    let refresh_token = server.cmd(json!({"cmd": "lwa_issue_refresh"}))["refresh_token"].as_str().unwrap().to_string();
    let (lwa_url, client_id, rt) = (std::ffi::CString::new(server.lwa_url()).unwrap(), std::ffi::CString::new("emu-client-id").unwrap(), std::ffi::CString::new(refresh_token).unwrap());
    let lwa = lwa_config(&lwa_url, &client_id, Some(&rt));
    let mut c = CountingClient::new(&server, |cfg| {
        cfg.access_token = std::ptr::null();
        cfg.lwa = &lwa;
    });
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    voice_turn(&mut c, &mut server, &pcm, 0); // first use of every path

    // AVS_LONG_RUN_CYCLES / AVS_LONG_RUN_TURNS shrink the run (e.g. under valgrind).
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let cycles = env("AVS_LONG_RUN_CYCLES", 10);
    let turns_per_cycle = env("AVS_LONG_RUN_TURNS", 100);
    // Sized up front: the test's own bookkeeping must not show up as growth.
    let mut heap_after_cycle = Vec::with_capacity(cycles);
    let mut steady_calls = 0;
    let mut turns = 0;
    for cycle in 0..cycles {
        // Steady state: voice turns.
        let before = heap_calls();
        let (tls_before, sign_in_before) = {
            let m = memory(&c);
            (m.tls.allocations, m.sign_in)
        };
        armed(|| {
            for _ in 0..turns_per_cycle {
                voice_turn(&mut c, &mut server, &pcm, turns);
                turns += 1;
            }
        });
        // Steady state: an hour of idle, simulated: the clock jumps 5 min at a time and the
        // client pings; the server answers each ping. Within the hour the access token is
        // renewed: the clock waits (in real time) while that exchange is under way.
        let pings_before = server.connections().last().unwrap()["pings_received"].as_u64().unwrap();
        armed(|| {
            for _ in 0..12 {
                c.clock_offset_ms += 5 * 60 * 1000 + 1000;
                for i in 0..2000 {
                    c.poll_once();
                    c.wait_io(2);
                    if i >= 20 && sockets(&c) == 1 {
                        break;
                    }
                }
            }
        });
        let pings = server.connections().last().unwrap()["pings_received"].as_u64().unwrap() - pings_before;
        assert!(pings >= 12, "cycle {cycle}: {pings} pings over a simulated hour of idle");
        assert!(c.counts().connected, "pings were answered: still connected");
        let calls = heap_calls() - before;
        steady_calls += calls;
        assert_eq!(calls, 0, "cycle {cycle}: {calls} heap calls in steady state");
        let m = memory(&c);
        let tls_calls = m.tls.allocations - tls_before;
        assert_eq!(tls_calls, 0, "cycle {cycle}: mbedTLS allocated {tls_calls} times from the AVS session's pool in steady state");
        assert!(m.sign_in.allocations > sign_in_before.allocations, "cycle {cycle}: the hour had a refresh (a TLS session to the token endpoint)");
        assert_eq!(m.sign_in.in_use, sign_in_before.in_use, "cycle {cycle}: the refresh gave its TLS memory back");
        assert_eq!(m.sign_in.refused, 0);
        // GOAWAY: a new connection (which does allocate: a TLS session), then the heap again.
        let connected = c.counts().connected_events;
        server.cmd(json!({"cmd": "goaway"}));
        c.poll_until(Duration::from_secs(10), |k| k.connected_events > connected);
        for _ in 0..50 {
            c.poll_once();
            c.wait_io(2);
        }
        heap_after_cycle.push((heap_in_use(), RUST_LIVE.load(Relaxed), avs::transport::h2::mem::stats().0, avs::transport::tls::mem::stats().0));
    }
    eprintln!(
        "{turns} turns, {cycles} simulated idle hours, {cycles} GOAWAY reconnects: steady-state heap calls {steady_calls}; \
         heap after each cycle (process, Rust, nghttp2 pool, mbedTLS pool): {heap_after_cycle:?}"
    );
    assert_eq!(turns, cycles * turns_per_cycle);
    // No growth: from the second cycle on, the Rust heap stays exactly where it was; nghttp2's
    // and mbedTLS's pools and the process heap within a few blocks of what happens to be in
    // flight when the figure is taken.
    let (p1, r1, n1, t1) = heap_after_cycle[1];
    for (i, &(p, r, n, t)) in heap_after_cycle.iter().enumerate().skip(2) {
        assert!(t <= t1 + 64, "cycle {i}: mbedTLS pool use grew from {t1} to {t} bytes");
        assert_eq!(r, r1, "cycle {i}: Rust heap grew from {r1} to {r} bytes");
        assert!(n <= n1 + 64, "cycle {i}: nghttp2 pool use grew from {n1} to {n} bytes");
        assert!(p <= p1 + 256, "cycle {i}: process heap grew from {p1} to {p} bytes");
    }
}

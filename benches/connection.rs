//! Connection benchmarks against the local AVS server, through the C API:
//! - memory of one connected client: the Rust core (counting global allocator; it reserves both
//!   pools at creation), and how much of its pool nghttp2 (nghttp2_mem) and mbedTLS (its
//!   calloc/free hooks) use, at peak and in steady state; the C heap calls made besides;
//! - time from the server's GOAWAY to a synchronized new connection on loopback.
//! Run: `cargo bench --bench connection`; `AVS_BENCH_SMALL=1 cargo bench --bench connection` for
//! the small budget (see `small_budget`).

#[path = "../tests/common/mod.rs"]
mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        // Peaks only while the library runs, so the bench's own transient allocations do not count.
        if ARMED.with(|a| a.get()) {
            PEAK.fetch_max(live, Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn armed<R>(f: impl FnOnce() -> R) -> R {
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    r
}

// mbedTLS allocates from its pool through its calloc/free hooks and nghttp2 through nghttp2_mem;
// calloc is interposed here to show that nothing in the client calls the C heap beside them.
extern "C" {
    fn __libc_calloc(n: usize, size: usize) -> *mut std::ffi::c_void;
}
static CALLOCS: AtomicUsize = AtomicUsize::new(0);
static CALLOC_BYTES: AtomicUsize = AtomicUsize::new(0);

#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut std::ffi::c_void {
    CALLOCS.fetch_add(1, Relaxed);
    CALLOC_BYTES.fetch_add(n.saturating_mul(size), Relaxed);
    __libc_calloc(n, size)
}

fn callocs() -> (usize, usize) {
    (CALLOCS.load(Relaxed), CALLOC_BYTES.load(Relaxed))
}

fn process_heap() -> usize {
    unsafe { libc::mallinfo2() }.uordblks
}

/// The small budget the footprint report measures against the RAM targets: pools for one
/// connection (a GOAWAY's new connection waits for the old one to drain: tests/memory.rs), two
/// queued host events of 1 KB, directives up to 2 KB on the downchannel and two streams, 0.2 s
/// of audio ring, 4 KB of Speak audio held ahead of its directive.
fn small_budget(cfg: &mut AvsConfig) {
    cfg.event_queue_capacity = 2;
    cfg.max_event_bytes = 1024;
    cfg.max_directive_bytes = 2048;
    cfg.max_streams = 2;
    cfg.audio_ring_bytes = 6400;
    cfg.attachment_buffer_bytes = 4096;
    cfg.http2_memory_bytes = 16 * 1024;
    cfg.tls_memory_bytes = 36 * 1024;
}

fn main() {
    let small = std::env::var_os("AVS_BENCH_SMALL").is_some();
    let mut server = Server::start(&[]);
    let _ = certs();
    let directive_cmd = json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 1}))]});
    let base_total = process_heap();
    let base_rust = LIVE.load(Relaxed);
    PEAK.store(base_rust, Relaxed);
    avs::transport::h2::mem::reset_peak();
    avs::transport::tls::mem::reset_peak();
    let (calloc0, _) = callocs();
    let mut c = armed(|| CountingClient::new(&server, |cfg| if small { small_budget(cfg) }));
    let created_rust = LIVE.load(Relaxed) - base_rust;
    let created_total = process_heap() - base_total;
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    let mut peak_total = 0usize;
    let end = Instant::now() + Duration::from_secs(10);
    while !c.counts().connected {
        assert!(Instant::now() < end, "not connected");
        armed(|| c.poll_once());
        peak_total = peak_total.max(process_heap() - base_total);
        c.wait_io(1);
    }
    let (calloc1, calloc1_bytes) = callocs();
    let (_, _, ng_calls_connected) = avs::transport::h2::mem::stats();
    let (_, tls_peak_connect, _tls_calls_connected) = avs::transport::tls::mem::stats();
    avs::transport::tls::mem::reset_peak();
    for i in 0..20 {
        server.cmd(directive_cmd.clone());
        armed(|| {
            c.send(c"Speaker", c"VolumeChanged", c"{\"volume\":1,\"muted\":false}");
            c.poll_until(Duration::from_secs(5), |k| k.ok_outcomes > i && k.directives > i);
        });
        peak_total = peak_total.max(process_heap() - base_total);
    }
    let (calloc2, _) = callocs();
    let rust_live = LIVE.load(Relaxed) - base_rust;
    let rust_peak = PEAK.load(Relaxed) - base_rust;
    let (ng_live, ng_peak, ng_calls) = avs::transport::h2::mem::stats();
    let (tls_live, tls_peak_steady, tls_calls) = avs::transport::tls::mem::stats();
    let total = process_heap() - base_total;
    // Both pools live inside the one region the client carves at creation.
    let mut cfg = std::mem::MaybeUninit::<AvsConfig>::uninit();
    unsafe { avs_config_init(cfg.as_mut_ptr()) };
    let mut cfg = unsafe { cfg.assume_init() };
    if small {
        small_budget(&mut cfg);
    }
    let mut ms = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut ms) }, AvsStatus::Ok);
    let (h2_pool, tls_pool) = (ms.http2.capacity, ms.tls.capacity);
    let ca = tls_pool - cfg.tls_memory_bytes as usize;
    let core = ms.reserved_bytes - h2_pool - tls_pool;
    let which = if small { "small budget (AVS_BENCH_SMALL)" } else { "default config" };
    println!("memory of one connected client (one root CA, {which}), after 20 directives + 20 events:");
    println!("  created, not connected: rust {created_rust} B, process heap +{created_total} B");
    println!(
        "  reserved at creation:   {} B = core buffers {core} B + nghttp2 pool {h2_pool} B + mbedTLS pool {tls_pool} B (of which the CA {ca} B); Rust heap kept {rust_live} B, peak {rust_peak} B",
        ms.reserved_bytes
    );
    println!("  nghttp2 in its pool:    steady {ng_live} B, peak {ng_peak} B; {ng_calls} allocation calls in all");
    println!("  mbedTLS in its pool:    steady {tls_live} B, peak {tls_peak_steady} B connected, {tls_peak_connect} B during creation + handshake; {tls_calls} allocation calls in all");
    println!("  in use: steady {} B, peak {} B (core buffers + each pool's use)", core + ng_live + tls_live, core + ng_peak + tls_peak_connect.max(tls_peak_steady));
    println!("  process heap: steady +{total} B, peak +{peak_total} B (mallinfo2, sampled after each poll)");
    println!(
        "  C heap calloc: {} calls / {} B from creation to synchronized (Rust's zeroed buffers at creation); {} calls for 20 directives + 20 events",
        calloc1 - calloc0,
        calloc1_bytes,
        calloc2 - calloc1
    );
    println!("  nghttp2 allocation calls for 20 directives + 20 events: {}", ng_calls - ng_calls_connected);
    // What the interfaces layer keeps: its state inside the client's handle (every interface,
    // whether turned on or not: they are fields of it), and its lines of the creation plan.
    println!(
        "  interfaces: context buffer {} B and Alexa.Speaker answer tokens {} B in the region; state in the handle {} B:",
        avs::interfaces::context_bytes(),
        avs::interfaces::alexa_speaker::ANSWER_BACKLOG * avs::interfaces::alexa_speaker::CORRELATION_MAX,
        std::mem::size_of::<avs::interfaces::Interfaces>()
    );
    for (name, bytes) in avs::interfaces::footprint() {
        println!("    {name}: {bytes} B");
    }

    let (calloc_g0, _) = callocs();
    let mut samples = Vec::new();
    for _ in 0..30 {
        let before = c.counts().connected_events;
        let t0 = Instant::now();
        server.cmd(json!({"cmd": "goaway"}));
        c.poll_until(Duration::from_secs(5), |k| k.connected_events > before);
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_millis(50) {
            c.poll_once();
            c.wait_io(5);
        }
    }
    let (calloc_g1, _) = callocs();
    let (_, tls_peak_goaway, _) = avs::transport::tls::mem::stats();
    let (_, ng_peak_goaway, _) = avs::transport::h2::mem::stats();
    println!(
        "  per GOAWAY reconnect: {} C heap calloc calls; pool peaks with two connections: mbedTLS {tls_peak_goaway} B, nghttp2 {ng_peak_goaway} B",
        (calloc_g1 - calloc_g0) / samples.len()
    );
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "GOAWAY -> synchronized new connection, loopback, {} runs (control round trip included): median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() * 9 / 10],
        samples[samples.len() - 1]
    );
}

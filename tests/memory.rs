//! The memory budget: `avs_client_memory_required` says what creation takes; a client created in
//! host memory of that size takes its buffers and pools from there (not the heap) and works; one
//! byte less is `AVS_STATUS_NO_MEMORY`; `avs_client_memory_stats` reports the pools.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(live, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters are process-wide: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn strings(server: &Server) -> ConfigStrings {
    ConfigStrings {
        endpoint: std::ffi::CString::new(server.endpoint()).unwrap(),
        ca_file: std::ffi::CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap(),
        token: std::ffi::CString::new("test-token").unwrap(),
    }
}

fn required(cfg: &AvsConfig) -> usize {
    let mut n = 0;
    assert_eq!(unsafe { avs_client_memory_required(cfg, &mut n) }, AvsStatus::Ok);
    n
}

/// Creates a client from `cfg`; returns it (or the status) and the Rust heap it kept.
fn create(cfg: &AvsConfig) -> (Result<*mut AvsClient, AvsStatus>, usize) {
    let cbs: AvsCallbacks = unsafe { std::mem::zeroed() };
    let before = LIVE.load(Relaxed);
    let mut ptr = std::ptr::null_mut();
    let st = unsafe { avs_client_new(cfg, &cbs, &mut ptr) };
    let kept = LIVE.load(Relaxed).saturating_sub(before);
    (if st == AvsStatus::Ok { Ok(ptr) } else { Err(st) }, kept)
}

#[test]
fn memory_required_is_what_creation_takes_from_the_heap() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&[]);
    let s = strings(&server);
    for tune in [
        (|_: &mut AvsConfig| {}) as fn(&mut AvsConfig),
        |c| {
            c.event_queue_capacity = 2;
            c.max_streams = 2;
            c.audio_ring_bytes = 3200;
            c.attachment_buffer_bytes = 4096;
            c.http2_memory_bytes = 32768;
            c.tls_memory_bytes = 40960;
        },
        |c| {
            c.event_queue_capacity = 32;
            c.max_directive_bytes = 16384;
        },
    ] {
        let mut cfg = default_config(&s);
        tune(&mut cfg);
        let need = required(&cfg);
        let (client, kept) = create(&cfg);
        let client = client.expect("created");
        let besides = kept as isize - need as isize;
        eprintln!("memory_required {need} B; creation kept {kept} B of Rust heap: {besides} B besides the region");
        // Besides the region: the client's handle (about 9 KB, of which the interfaces' state is
        // 7 KB: `avs::interfaces::footprint()`), its slot tables (about 140 B per queued event,
        // library slots included — each knows where its context and token go when it is sent —
        // and 270 B per stream) and mbedTLS's entropy, DRBG and configuration structures
        // (about 2 KB).
        let tables = 140 * (cfg.event_queue_capacity as isize + 6) + 272 * (cfg.max_streams as isize + 1);
        assert!((0..11 * 1024 + 512 + tables).contains(&besides), "creation took {kept} B, memory_required says {need} B");
        unsafe { avs_client_free(client) };
    }
}

#[test]
fn a_client_in_host_memory_takes_its_buffers_and_pools_from_there_and_works() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut server = Server::start(&[]);
    let s = strings(&server);
    let mut cfg = default_config(&s);
    let need = required(&cfg);

    // One byte short: refused, and nothing created.
    let mut short = vec![0u8; need - 1];
    cfg.memory = short.as_mut_ptr() as *mut std::ffi::c_void;
    cfg.memory_bytes = short.len();
    assert_eq!(create(&cfg).0.err(), Some(AvsStatus::NoMemory));

    // Exactly enough, at an odd address (the client aligns it itself).
    let mut host = vec![0x5Au8; need + 3];
    cfg.memory = unsafe { host.as_mut_ptr().add(3) } as *mut std::ffi::c_void;
    cfg.memory_bytes = need;
    let (client, kept) = create(&cfg);
    let client = client.expect("created in host memory");
    eprintln!("client in {need} B of host memory; Rust heap kept at creation: {kept} B");
    assert!(kept < 16 * 1024, "the buffers and pools are not on the heap ({kept} B kept)");
    let mut stats = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(client, &mut stats) }, AvsStatus::Ok);
    unsafe { avs_client_free(client) };
    assert_eq!(stats.reserved_bytes, need);
    assert_eq!(stats.http2.capacity, cfg.http2_memory_bytes as usize);
    assert!(stats.tls.capacity > cfg.tls_memory_bytes as usize, "the sessions' budget plus the parsed CA certificate");
    assert!(stats.tls.in_use > 0, "the parsed CA certificate is in the mbedTLS pool");

    // It works: connect, a directive and an event, then the pools show the connection.
    let (memory, memory_bytes) = (cfg.memory, cfg.memory_bytes);
    let mut c = CountingClient::new(&server, |c| {
        c.memory = memory;
        c.memory_bytes = memory_bytes;
    });
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 7}))]}));
    c.send(c"Speaker", c"VolumeChanged", c"{\"volume\":7,\"muted\":false}");
    c.poll_until(Duration::from_secs(10), |k| k.directives >= 1 && k.ok_outcomes >= 1);
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut stats) }, AvsStatus::Ok);
    eprintln!("connected, in host memory: {stats:?}");
    assert!(stats.http2.in_use > 0 && stats.http2.peak >= stats.http2.in_use);
    assert!(stats.tls.peak > stats.tls.in_use, "the handshake needed more than the session keeps");
    assert_eq!(stats.tls.refused + stats.http2.refused, 0);
    drop(c);

    // NULL arguments.
    let mut n = 0;
    assert_eq!(unsafe { avs_client_memory_required(std::ptr::null(), &mut n) }, AvsStatus::NullArgument);
    assert_eq!(unsafe { avs_client_memory_required(&cfg, std::ptr::null_mut()) }, AvsStatus::NullArgument);
    assert_eq!(unsafe { avs_client_memory_stats(std::ptr::null(), &mut stats) }, AvsStatus::NullArgument);
}

#[test]
fn a_tls_pool_too_small_for_a_handshake_fails_the_attempt_with_no_memory_not_a_crash() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&[]);
    // Room for the CA certificate, not for a session's record buffers.
    let mut c = CountingClient::new(&server, |c| c.tls_memory_bytes = 12 * 1024);
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.last_reason == Some(AvsStatus::NoMemory));
    let mut stats = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut stats) }, AvsStatus::Ok);
    assert!(stats.tls.refused > 0);
    assert!(!c.counts().connected);
}

#[test]
fn a_bundle_of_any_size_gets_the_pool_share_it_needs() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&[]);
    // The test CA with others around it, and the system bundle where there is one.
    let mut bundles = Vec::new();
    let mut many = Vec::new();
    for name in ["other-ca.pem", "ca.pem"] {
        many.extend(std::fs::read(certs().join(name)).unwrap());
    }
    let many_path = std::env::temp_dir().join(format!("avs-bundle-{}.pem", std::process::id()));
    std::fs::write(&many_path, &many).unwrap();
    bundles.push(many_path.clone());
    let system = std::path::PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    if system.exists() {
        bundles.push(system);
    }
    for bundle in &bundles {
        let s = ConfigStrings {
            endpoint: std::ffi::CString::new(server.endpoint()).unwrap(),
            ca_file: std::ffi::CString::new(bundle.to_str().unwrap()).unwrap(),
            token: std::ffi::CString::new("test-token").unwrap(),
        };
        let cfg = default_config(&s);
        let need = required(&cfg);
        let (client, kept) = create(&cfg);
        let client = client.expect("created");
        let mut stats = AvsMemoryStats::default();
        assert_eq!(unsafe { avs_client_memory_stats(client, &mut stats) }, AvsStatus::Ok);
        let pem = std::fs::metadata(bundle).unwrap().len() as usize;
        let ca_share = stats.tls.capacity - cfg.tls_memory_bytes as usize;
        eprintln!("{}: {pem} B of PEM take {ca_share} B of the mbedTLS pool parsed; memory_required {need} B, heap kept {kept} B", bundle.display());
        assert_eq!(stats.reserved_bytes, need);
        assert!(stats.tls.in_use <= ca_share + 4096, "the CA certificates fit their share");
        unsafe { avs_client_free(client) };
    }
    // The server's CA is in the bundle: a client trusting the bundle connects.
    let many_c = std::ffi::CString::new(many_path.to_str().unwrap()).unwrap();
    let mut c = CountingClient::new(&server, |c| c.ca_file = many_c.as_ptr());
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    drop(c);
    let _ = std::fs::remove_file(many_path);
}

/// Pools sized for one connection (the small budget the footprint report measures): on GOAWAY
/// the new connection may not fit beside the draining one; it is refused for memory, retried,
/// and made once the old one is gone. Nothing is lost.
#[test]
fn pools_for_one_connection_get_through_a_goaway_hand_over_and_lose_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| {
        cfg.http2_memory_bytes = 16 * 1024;
        cfg.tls_memory_bytes = 36 * 1024;
    });
    c.connect();
    c.wait_connected();
    for round in 0..3 {
        server.cmd(json!({"cmd": "script_event", "name": "Slow", "count": 1, "status": 204, "delay_headers_ms": 300}));
        let slow = c.send("Test", "Slow", "{}").unwrap();
        c.run_for(Duration::from_millis(50));
        server.cmd(json!({"cmd": "goaway"}));
        let after: Vec<u32> = (0..3).map(|i| c.send("Test", "After", &format!("{{\"i\":{i}}}")).unwrap()).collect();
        assert_eq!(c.wait_outcome(slow, Duration::from_secs(10)), (AvsStatus::Ok, 204), "round {round}: the draining stream finished");
        for id in after {
            assert_eq!(c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::Ok, 204), "round {round}");
        }
        assert!(c.poll_until(Duration::from_secs(10), |_, st| st == AvsConnectionState::Connected), "round {round}: connected again");
    }
    let mut stats = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut stats) }, AvsStatus::Ok);
    eprintln!("one-connection pools through 3 GOAWAYs: {stats:?}");
    assert!(stats.tls.refused > 0, "the new connections did not fit beside the draining ones");
    assert!(
        c.rec.logs.iter().any(|l| l.1.contains("drained: its memory is free")),
        "the retry followed the draining connection, not the back-off: {:#?}",
        c.rec.logs
    );
}

/// nghttp2's outbound frame buffer holds 4 KB (third_party/libnghttp2-sys): an event body several
/// times that size goes out in several DATA frames and arrives intact.
#[test]
fn an_event_larger_than_the_frame_buffer_arrives_whole() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.max_event_bytes = 16 * 1024);
    c.connect();
    c.wait_connected();
    let text: String = (0..12_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let id = c.send("Test", "Big", &format!("{{\"text\":\"{text}\"}}")).unwrap();
    assert_eq!(c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::Ok, 204));
    let got = server.requests().into_iter().find(|r| r["event"]["name"] == "Big").expect("the server got it");
    let arrived = got["metadata"]["event"]["payload"]["text"].as_str().unwrap_or("");
    assert!(arrived == text, "the payload arrived cut or changed: {} of {} bytes", arrived.len(), text.len());
}

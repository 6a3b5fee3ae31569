//! Allocation failure injected at every allocation index fails cleanly with an error, never a
//! crash: every mbedTLS allocation of client creation (`AVS_STATUS_NO_MEMORY`, nothing leaked
//! from the pool), and every nghttp2 and every mbedTLS allocation of a connection set-up (that
//! attempt fails and is retried; the client connects afterwards and loses no event). nghttp2 and
//! mbedTLS draw from the client's pools, whose hooks fail the chosen allocation.

mod common;
use common::*;
use std::ffi::CString;
use std::time::Duration;

use avs::transport::{h2, tls};

/// The allocation counters are process-wide: one sweep at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Disconnects, arms `arm` relative to the counters now, reconnects, and polls until connected
/// again; returns whether this attempt failed (went to WaitingToRetry) first.
fn reconnect_with(c: &mut CountingClient, arm: impl FnOnce()) -> bool {
    assert_eq!(unsafe { avs_client_disconnect(c.ptr) }, AvsStatus::Ok);
    let connected = c.counts().connected_events;
    arm();
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    let mut retried = false;
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while c.counts().connected_events == connected {
        assert!(std::time::Instant::now() < end, "never connected again");
        c.poll_once();
        let mut st = AvsConnectionState::Disconnected;
        unsafe { avs_client_state(c.ptr, &mut st) };
        retried |= st == AvsConnectionState::WaitingToRetry;
        c.wait_io(1);
    }
    tls::mem::fail_allocation_at(None);
    h2::mem::fail_allocation_at(None);
    retried
}

/// A connected client and how many nghttp2 and mbedTLS allocations one set-up makes.
fn connected_client(server: &Server) -> (CountingClient, usize, usize) {
    let mut c = CountingClient::new(server, |cfg| {
        cfg.backoff_base_ms = 1;
        cfg.backoff_max_ms = 2;
    });
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    let h2_before = h2::mem::stats().2;
    let tls_before = tls::mem::stats().2;
    reconnect_with(&mut c, || {});
    let h2_allocs = h2::mem::stats().2 - h2_before;
    let tls_allocs = tls::mem::stats().2 - tls_before;
    eprintln!("one connection set-up: {h2_allocs} nghttp2 allocations, {tls_allocs} mbedTLS allocations");
    assert!(h2_allocs > 5 && tls_allocs > 100, "the counters see the set-up");
    (c, h2_allocs, tls_allocs)
}

/// An event submitted before the sweep gets its outcome after it: nothing was lost.
fn event_survives(c: &mut CountingClient) {
    let before = c.counts().ok_outcomes;
    c.send(c"Speaker", c"VolumeChanged", c"{\"volume\":5,\"muted\":false}");
    c.poll_until(Duration::from_secs(10), |k| k.ok_outcomes > before);
    assert_eq!(c.counts().other_outcomes, 0);
}

#[test]
fn every_nghttp2_allocation_of_connection_set_up_can_fail_without_harm() {
    let _serial = serial();
    let server = Server::start(&[]);
    let (mut c, h2_allocs, _) = connected_client(&server);
    let mut failed = 0;
    for k in 1..=h2_allocs {
        let retried = reconnect_with(&mut c, || h2::mem::fail_allocation_at(Some(h2::mem::stats().2 + k)));
        failed += usize::from(retried);
    }
    eprintln!("failure injected at each of {h2_allocs} nghttp2 allocation indices: {failed} attempts failed and were retried; every one reconnected");
    assert!(failed > 0, "injected failures do fail attempts");
    event_survives(&mut c);
}

#[test]
fn every_mbedtls_allocation_of_connection_set_up_can_fail_without_harm() {
    let _serial = serial();
    let server = Server::start(&[]);
    let (mut c, _, tls_allocs) = connected_client(&server);
    let trace = std::env::var_os("AVS_TRACE_INJECTION").is_some();
    let mut failed = 0;
    for k in 1..=tls_allocs {
        if trace {
            eprintln!("mbedTLS allocation {k}");
        }
        let retried = reconnect_with(&mut c, || tls::mem::fail_allocation_at(Some(tls::mem::stats().2 + k)));
        failed += usize::from(retried);
    }
    eprintln!("failure injected at each of {tls_allocs} mbedTLS allocation indices: {failed} attempts failed and were retried; every one reconnected");
    assert!(failed > tls_allocs / 2, "most injected failures fail their attempt ({failed} of {tls_allocs})");
    event_survives(&mut c);
}

#[test]
fn every_mbedtls_allocation_of_client_creation_can_fail_with_no_memory() {
    let _serial = serial();
    let server = Server::start(&[]);
    let endpoint = CString::new(server.endpoint()).unwrap();
    // A bundle of two: mbedTLS skips a certificate it could not parse and reports success for
    // the rest, which must not pass for a smaller bundle when the cause was memory.
    let bundle = std::env::temp_dir().join(format!("avs-fi-bundle-{}.pem", std::process::id()));
    let mut pem = std::fs::read(certs().join("other-ca.pem")).unwrap();
    pem.extend(std::fs::read(certs().join("ca.pem")).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let ca = CString::new(bundle.to_str().unwrap()).unwrap();
    let token = CString::new("test-token").unwrap();
    let create = || {
        let mut cfg = std::mem::MaybeUninit::<AvsConfig>::uninit();
        unsafe { avs_config_init(cfg.as_mut_ptr()) };
        let mut cfg = unsafe { cfg.assume_init() };
        cfg.endpoint = endpoint.as_ptr();
        cfg.ca_file = ca.as_ptr();
        cfg.access_token = token.as_ptr();
        let cbs: AvsCallbacks = unsafe { std::mem::zeroed() };
        let mut ptr = std::ptr::null_mut();
        let st = unsafe { avs_client_new(&cfg, &cbs, &mut ptr) };
        (st, ptr)
    };
    let before = tls::mem::stats();
    let (st, ptr) = create();
    assert_eq!(st, AvsStatus::Ok);
    let allocs = tls::mem::stats().2 - before.2;
    unsafe { avs_client_free(ptr) };
    assert_eq!(tls::mem::stats().0, before.0, "a freed client gives back all of its mbedTLS memory");
    assert!(allocs >= 4, "creation parses the CA certificate through mbedTLS ({allocs} allocations)");
    for k in 1..=allocs {
        tls::mem::fail_allocation_at(Some(tls::mem::stats().2 + k));
        let (st, ptr) = create();
        tls::mem::fail_allocation_at(None);
        assert_eq!(st, AvsStatus::NoMemory, "allocation {k} of {allocs} failed: creation says so");
        assert!(ptr.is_null());
        assert_eq!(tls::mem::stats().0, before.0, "allocation {k}: the failed creation left nothing in use");
    }
    eprintln!("failure injected at each of {allocs} mbedTLS allocations of client creation (a two-certificate bundle): AVS_STATUS_NO_MEMORY every time");
    let _ = std::fs::remove_file(bundle);
}

//! Sign-in with Login with Amazon against the local server, through the C API:
//! - memory: what `avs_config.lwa` adds to the creation plan, and how much of its pool the token
//!   endpoint's TLS session uses at peak;
//! - time: one token refresh on loopback (a new TLS handshake with RSA-2048 verification, the
//!   HTTP/1.1 request and the answer), from `avs_client_set_refresh_token` until the session is
//!   closed again, over 50 refreshes while the AVS connection stays up.
//! Run: `cargo bench --bench sign_in`.

#[path = "../tests/common/mod.rs"]
mod common;
use avs::ffi::auth::*;
use common::*;
use std::ffi::CString;
use std::time::{Duration, Instant};

fn sockets(c: &CountingClient) -> usize {
    let mut fds = [0i32; 4];
    let mut n = 0usize;
    unsafe { avs_client_fds(c.ptr, fds.as_mut_ptr(), 4, &mut n, std::ptr::null_mut()) };
    n
}

fn main() {
    let mut server = Server::start(&[]);
    let rt = server.cmd(json!({"cmd": "lwa_issue_refresh"}))["refresh_token"].as_str().unwrap().to_string();
    let (url, id, rt) = (CString::new(server.lwa_url()).unwrap(), CString::new("emu-client-id").unwrap(), CString::new(rt).unwrap());
    let lwa = lwa_config(&url, &id, Some(&rt));
    // Rotation off: the bench hands the same refresh token back for each refresh.
    server.cmd(json!({"cmd": "lwa_config", "rotation": "off"}));

    let strings = strings_for(&server, "test-token");
    let mut cfg = default_config(&strings);
    let (mut without, mut with) = (0usize, 0usize);
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut without) }, AvsStatus::Ok);
    cfg.access_token = std::ptr::null();
    cfg.lwa = &lwa;
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut with) }, AvsStatus::Ok);

    let started = Instant::now();
    let mut c = CountingClient::new(&server, |cfg| {
        cfg.access_token = std::ptr::null();
        cfg.lwa = &lwa;
    });
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    let first = started.elapsed();

    let stats = |c: &CountingClient| {
        let mut m = AvsMemoryStats::default();
        assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut m) }, AvsStatus::Ok);
        m.sign_in
    };
    // A refresh is done when its TLS session has allocated from the pool and given it all back
    // (on a loaded machine the whole exchange can even fit in one poll).
    let idle = stats(&c).in_use;
    let mut times = Vec::new();
    for _ in 0..50 {
        let before = stats(&c).allocations;
        let t = Instant::now();
        assert_eq!(unsafe { avs_client_set_refresh_token(c.ptr, rt.as_ptr()) }, AvsStatus::Ok);
        loop {
            c.poll_once();
            let now = stats(&c);
            if now.allocations > before && now.in_use == idle && sockets(&c) == 1 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "refresh {} did not finish", times.len());
            c.wait_io(1);
        }
        times.push(t.elapsed());
    }
    assert!(c.counts().connected, "the AVS connection stayed up");
    let mut m = AvsMemoryStats::default();
    assert_eq!(unsafe { avs_client_memory_stats(c.ptr, &mut m) }, AvsStatus::Ok);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
    println!("sign-in with Login with Amazon (local server, RSA-2048 certificate, loopback):");
    println!("  memory_required: {with} B with lwa, {without} B without (+{} B: the session's pool {} B + request, response and secret buffers)", with - without, lwa.tls_memory_bytes);
    println!("  token endpoint's TLS pool: capacity {} B, peak {} B, in use now {} B, refused {}", m.sign_in.capacity, m.sign_in.peak, m.sign_in.in_use, m.sign_in.refused);
    println!("  first sign-in (refresh) to a synchronized AVS connection: {:.1} ms", ms(first));
    println!(
        "  one refresh (TLS handshake + request + answer), {} runs: median {:.2} ms, mean {mean:.2} ms, min {:.2} ms, max {:.2} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

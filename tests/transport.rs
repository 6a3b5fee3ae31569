//! The transport through the C API, against the local AVS server (and `openssl s_server`):
//! endpoints given as IP addresses, every resolved address tried, DNS failure and refused
//! connections, 1-byte socket I/O, SHA-1 refused in the key exchange, no token left in pool
//! memory.

mod common;
use common::*;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn client_for(endpoint: &str, tune: impl FnOnce(&mut AvsConfig)) -> TestClient {
    TestClient::with_ca(endpoint, &certs().join("ca.pem"), tune).expect("client created")
}

fn reasons(c: &TestClient) -> Vec<(AvsConnectionState, AvsStatus)> {
    c.rec.states.iter().map(|s| (s.0, s.1)).collect()
}

/// Polls until the server certificate has been rejected, and checks it never connected.
fn assert_certificate_rejected(c: &mut TestClient, why: &str) {
    c.connect();
    let rejected = c.poll_until(SECS(10), |r, _| r.states.iter().any(|s| s.1 == AvsStatus::CertificateRejected));
    assert!(rejected, "{why}: not rejected; states {:?}; logs {:#?}", reasons(c), c.rec.logs);
    assert!(!c.rec.states.iter().any(|s| s.0 == AvsConnectionState::Connected), "{why}: connected");
    assert!(c.log_contains("host name mismatch"), "{why}: {:#?}", c.rec.logs);
}

fn connects_and_sends(c: &mut TestClient) {
    c.connect();
    c.wait_connected();
    let id = c.send("Test", "Hello", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
}

// ---------------------------------------------------------------- endpoints given as addresses

#[test]
fn ipv4_endpoint_is_verified_against_the_ip_san() {
    let server = Server::start(&["--cert", "ip-only"]);
    let mut c = client_for(&format!("https://127.0.0.1:{}", server.port), |_| {});
    connects_and_sends(&mut c);
}

#[test]
fn ipv6_endpoint_is_verified_against_the_ip_san() {
    let server = Server::start(&["--cert", "ip-only", "--host", "::1"]);
    let mut c = client_for(&format!("https://[::1]:{}", server.port), |_| {});
    connects_and_sends(&mut c);
}

#[test]
fn ip_endpoint_never_matches_a_dns_name_san_or_the_common_name() {
    let server = Server::start(&["--cert", "ip-as-dns"]);
    let mut c = client_for(&format!("https://127.0.0.1:{}", server.port), |_| {});
    assert_certificate_rejected(&mut c, "DNS:127.0.0.1 for 127.0.0.1");
    let server = Server::start(&["--cert", "ip-cn"]);
    let mut c = client_for(&format!("https://127.0.0.1:{}", server.port), |_| {});
    assert_certificate_rejected(&mut c, "CN=127.0.0.1 without SAN for 127.0.0.1");
}

#[test]
fn ip_endpoint_must_match_the_exact_address() {
    // The certificate names 127.0.0.1 and ::1; the server is reached at another loopback address.
    let server = Server::start(&["--cert", "ip-only", "--host", "127.0.0.2"]);
    let mut c = client_for(&format!("https://127.0.0.2:{}", server.port), |_| {});
    assert_certificate_rejected(&mut c, "IP:127.0.0.1 for 127.0.0.2");
}

#[test]
fn dns_name_endpoint_never_matches_an_ip_san() {
    let server = Server::start(&["--cert", "ip-only"]);
    let mut c = client_for(&format!("https://localhost:{}", server.port), |_| {});
    assert_certificate_rejected(&mut c, "IP:127.0.0.1 only for localhost");
}

// ---------------------------------------------------------------- every resolved address

use std::net::{Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};

/// The black hole's port for `black-hole-first.avs.test`.
static BLACK_HOLE_PORT: AtomicU16 = AtomicU16::new(0);

/// Names of these tests' own (the server certificate covers `*.avs.test`). The server listens on
/// 127.0.0.1 only, so `::1` at its port refuses.
fn test_resolver(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match host {
        "dead-first.avs.test" | "all-dead.avs.test" => Some(vec![v6, v4]),
        "black-hole-first.avs.test" => Some(vec![SocketAddr::from(([127, 0, 0, 1], BLACK_HOLE_PORT.load(Relaxed))), v4]),
        _ => None,
    }
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Two failed attempts, each reported as CONNECT_FAILED and followed by a back-off.
fn assert_connect_fails_and_backs_off(c: &mut TestClient) {
    c.connect();
    let ok = c.poll_until(SECS(10), |r, _| {
        r.states.iter().filter(|s| s.0 == AvsConnectionState::WaitingToRetry && s.1 == AvsStatus::ConnectFailed).count() >= 2
    });
    assert!(ok, "states {:?}; logs {:#?}", reasons(c), c.rec.logs);
    assert!(!c.rec.states.iter().any(|s| s.0 == AvsConnectionState::Connected));
    assert!(c.log_contains("reconnecting in"), "{:#?}", c.rec.logs);
}

#[test]
fn dns_failure_is_connect_failed_with_the_name_and_back_off() {
    let mut c = client_for("https://nonexistent.invalid", |_| {});
    assert_connect_fails_and_backs_off(&mut c);
    assert!(c.log_contains("cannot resolve nonexistent.invalid"), "{:#?}", c.rec.logs);
}

#[test]
fn refused_connection_is_connect_failed_naming_the_address() {
    let port = closed_port();
    let mut c = client_for(&format!("https://localhost:{port}"), |_| {});
    assert_connect_fails_and_backs_off(&mut c);
    let named = format!("127.0.0.1:{port}: Connection refused");
    assert!(c.log_contains(&named), "no {named:?} in {:#?}", c.rec.logs);
}

#[test]
fn every_address_failing_is_reported_address_by_address() {
    avs::transport::io::set_test_resolver(test_resolver);
    let port = closed_port();
    let mut c = client_for(&format!("https://all-dead.avs.test:{port}"), |_| {});
    assert_connect_fails_and_backs_off(&mut c);
    for named in [format!("[::1]:{port}: Connection refused"), format!("127.0.0.1:{port}: Connection refused")] {
        assert!(c.log_contains(&named), "no {named:?} in {:#?}", c.rec.logs);
    }
}

#[test]
fn a_dead_first_address_connects_through_the_second() {
    avs::transport::io::set_test_resolver(test_resolver);
    let server = Server::start(&[]);
    let mut c = client_for(&format!("https://dead-first.avs.test:{}", server.port), |_| {});
    connects_and_sends(&mut c);
    assert!(!c.rec.states.iter().any(|s| s.1 != AvsStatus::Ok), "moved on without a failure: {:?}", reasons(&c));
}

/// Polls the way the header tells a host to: waits on `avs_client_fds` (for writability too when
/// asked) for up to the `next_ms` the last poll returned, no sooner.
fn poll_like_a_host(c: &mut TestClient, timeout: Duration, pred: impl Fn(&Recorder, AvsConnectionState) -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    loop {
        let next = c.poll();
        if pred(&c.rec, c.state()) {
            return true;
        }
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fds = [0i32; 4];
        let mut n = 0usize;
        let mut wants_write = false;
        assert_eq!(unsafe { avs_client_fds(c.ptr, fds.as_mut_ptr(), 4, &mut n, &mut wants_write) }, AvsStatus::Ok);
        let events = libc::POLLIN | if wants_write { libc::POLLOUT } else { 0 };
        let mut pfds: Vec<libc::pollfd> = fds[..n].iter().map(|&fd| libc::pollfd { fd, events, revents: 0 }).collect();
        let wait = (next as u128).min(left.as_millis()) as i32;
        unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, wait) };
    }
}

#[test]
fn a_black_hole_first_address_gets_its_share_of_the_connect_time_then_the_next_one() {
    avs::transport::io::set_test_resolver(test_resolver);
    // A listener that never accepts, its one-connection backlog filled: further SYNs go
    // unanswered, so a connect to it neither completes nor fails.
    let hole = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let addr = libc::sockaddr_in { sin_family: libc::AF_INET as _, sin_port: 0, sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) }, sin_zero: [0; 8] };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let mut bound = addr;
    unsafe {
        assert_eq!(libc::bind(hole, &addr as *const _ as *const libc::sockaddr, len), 0);
        assert_eq!(libc::listen(hole, 0), 0);
        assert_eq!(libc::getsockname(hole, &mut bound as *mut _ as *mut libc::sockaddr, &mut len), 0);
    }
    let hole_port = u16::from_be(bound.sin_port);
    let _filler = std::net::TcpStream::connect(("127.0.0.1", hole_port)).unwrap();
    let probe = std::net::TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], hole_port)), Duration::from_millis(300));
    assert!(probe.is_err(), "the black hole answered: {probe:?}");
    BLACK_HOLE_PORT.store(hole_port, Relaxed);

    let server = Server::start(&[]);
    let mut c = client_for(&format!("https://black-hole-first.avs.test:{}", server.port), |cfg| cfg.connect_timeout_ms = 4000);
    let t0 = std::time::Instant::now();
    c.connect();
    let ok = poll_like_a_host(&mut c, SECS(6), |_, st| st == AvsConnectionState::Connected);
    let took = t0.elapsed();
    assert!(ok, "not connected; states {:?}; logs {:#?}", reasons(&c), c.rec.logs);
    // Two addresses: the first gets half of the 4 s, then the second connects at once.
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_millis(3500), "connected after {took:?}");
    let id = c.send("Test", "Hello", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    unsafe { libc::close(hole) };
}

// ---------------------------------------------------------------- 1-byte socket I/O

mod one_byte {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// Host I/O over real sockets that moves at most one byte per call.
    pub struct Net {
        pub socks: Vec<Option<TcpStream>>,
        pub sends: usize,
        pub recvs: usize,
    }

    pub unsafe extern "C" fn connect(ud: *mut std::ffi::c_void, host: *const std::os::raw::c_char, port: u16) -> isize {
        let net = &mut *(ud as *mut Net);
        let host = std::ffi::CStr::from_ptr(host).to_str().unwrap();
        match TcpStream::connect((host, port)) {
            Ok(s) => {
                s.set_nonblocking(true).unwrap();
                s.set_nodelay(true).unwrap();
                net.socks.push(Some(s));
                (net.socks.len() - 1) as isize
            }
            Err(_) => AVS_IO_ERROR,
        }
    }

    pub unsafe extern "C" fn send(ud: *mut std::ffi::c_void, h: isize, data: *const u8, len: usize) -> isize {
        let net = &mut *(ud as *mut Net);
        match net.socks[h as usize].as_mut().unwrap().write(std::slice::from_raw_parts(data, len.min(1))) {
            Ok(n) => {
                net.sends += 1;
                n as isize
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => AVS_IO_WOULD_BLOCK,
            Err(_) => AVS_IO_ERROR,
        }
    }

    pub unsafe extern "C" fn recv(ud: *mut std::ffi::c_void, h: isize, buf: *mut u8, len: usize) -> isize {
        let net = &mut *(ud as *mut Net);
        match net.socks[h as usize].as_mut().unwrap().read(std::slice::from_raw_parts_mut(buf, len.min(1))) {
            Ok(n) => {
                net.recvs += 1;
                n as isize
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => AVS_IO_WOULD_BLOCK,
            Err(_) => AVS_IO_ERROR,
        }
    }

    pub unsafe extern "C" fn close(ud: *mut std::ffi::c_void, h: isize) {
        let net = &mut *(ud as *mut Net);
        net.socks[h as usize] = None;
    }
}

#[test]
fn one_byte_socket_reads_and_writes_connect_synchronize_send_and_run_a_voice_turn() {
    let mut server = Server::start(&[]);
    let mut net = Box::new(one_byte::Net { socks: Vec::new(), sends: 0, recvs: 0 });
    let io = AvsIo {
        user_data: &mut *net as *mut one_byte::Net as *mut std::ffi::c_void,
        connect: Some(one_byte::connect),
        send: Some(one_byte::send),
        recv: Some(one_byte::recv),
        close: Some(one_byte::close),
    };
    let mut c = client_for(&server.endpoint(), |cfg| {
        cfg.io = &io;
        cfg.audio_ring_bytes = 64000;
    });
    c.connect();
    c.wait_connected();
    assert_eq!(server.event_names(), ["System.SynchronizeState"]);
    let id = c.send("Test", "OneByte", "{\"a\":1}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(10)), (AvsStatus::Ok, 204));

    // A CLOSE_TALK turn: the whole utterance up, the Speak's MP3 down, a byte per call.
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    for frame in pcm.chunks(320) {
        let until = std::time::Instant::now() + SECS(10);
        while c.write_audio(frame) == AvsStatus::RingFull {
            assert!(std::time::Instant::now() < until, "ring never drained");
            c.poll();
        }
        c.poll();
    }
    assert_eq!(unsafe { avs_client_end_audio(c.ptr) }, AvsStatus::Ok);
    assert!(c.poll_until(SECS(30), |r, _| r.speech_done.len() == 1), "no Speak audio; logs {:#?}", c.rec.logs);
    let mp3 = std::fs::read(fixture("speak.mp3")).unwrap();
    assert!(c.rec.speech_audio.values().next().unwrap() == &mp3, "the Speak's MP3, byte for byte");
    let recs: Vec<Value> = server.requests().into_iter().filter(|r| r["event"]["name"] == "Recognize").collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["audio_bytes"], json!(pcm.len()));
    assert!(recs[0]["validation_error"].is_null(), "{}", recs[0]);
    c.play_speaks();
    let until = std::time::Instant::now() + SECS(10);
    while server.event_names().len() < 5 {
        c.poll();
        assert!(std::time::Instant::now() < until, "events: {:?}", server.event_names());
        std::thread::sleep(Duration::from_millis(2));
    }
    let names = server.event_names();
    assert!(names.ends_with(&["SpeechSynthesizer.SpeechStarted".into(), "SpeechSynthesizer.SpeechFinished".into()]), "{names:?}");
    assert!(net.sends > pcm.len() && net.recvs > mp3.len(), "a byte per call: {} sends, {} receives", net.sends, net.recvs);
    assert_eq!(net.socks.len(), 1, "one connection all along");
}

// ---------------------------------------------------------------- secrets in pool memory

fn find(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

#[test]
fn no_copy_of_the_token_stays_in_the_pools_once_the_connection_is_gone() {
    let server = Server::start(&[]);
    // The client in host memory, so that its pools are found among the live ones by address.
    let strings = ConfigStrings {
        endpoint: std::ffi::CString::new(server.endpoint()).unwrap(),
        ca_file: std::ffi::CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap(),
        token: std::ffi::CString::new("test-token").unwrap(),
    };
    let mut need = 0;
    assert_eq!(unsafe { avs_client_memory_required(&default_config(&strings), &mut need) }, AvsStatus::Ok);
    let mut host = vec![0u8; need];
    let (base, len) = (host.as_mut_ptr(), host.len());
    let mut c = client_for(&server.endpoint(), |cfg| {
        cfg.memory = base as *mut std::ffi::c_void;
        cfg.memory_bytes = len;
    });
    c.connect();
    c.wait_connected();
    for i in 0..3 {
        let id = c.send("Test", "Secret", &format!("{{\"n\":{i}}}")).unwrap();
        assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    }
    // Idle but connected: the header copies of the requests sent are gone too.
    c.run_for(Duration::from_millis(100));
    assert_no_token_in_pools(base as usize, len, "connected, idle");
    assert_eq!(unsafe { avs_client_disconnect(c.ptr) }, AvsStatus::Ok);
    c.poll();
    assert_eq!(c.state(), AvsConnectionState::Disconnected);
    assert_no_token_in_pools(base as usize, len, "disconnected");
}

fn assert_no_token_in_pools(base: usize, len: usize, when: &str) {
    let arenas = avs::transport::pool::live_arenas_within(base, len);
    assert_eq!(arenas.len(), 2, "nghttp2's and mbedTLS's pools in the host memory");
    for (start, bytes) in arenas {
        let arena = unsafe { std::slice::from_raw_parts(start as *const u8, bytes) };
        let hits = find(arena, b"test-token");
        if let Some(&at) = hits.first() {
            let around = String::from_utf8_lossy(&arena[at.saturating_sub(24)..(at + 16).min(bytes)]);
            panic!("{when}: the token at {hits:?} of the {bytes} B pool at {start:#x}: {around:?}");
        }
    }
}

// ---------------------------------------------------------------- SHA-1 in the key exchange

/// `openssl s_server` with the test server certificate, TLS 1.2, ALPN h2, signing its
/// ServerKeyExchange with `sigalgs` only.
struct SServer {
    child: std::process::Child,
    port: u16,
}

impl SServer {
    fn start(sigalgs: &str) -> SServer {
        use std::io::BufRead;
        let certs = certs();
        let mut child = std::process::Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-alpn", "h2", "-sigalgs", sigalgs])
            // OpenSSL 3 refuses SHA-1 signatures at its default security level.
            .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
            .arg("-cert")
            .arg(certs.join("server.pem"))
            .arg("-key")
            .arg(certs.join("server.key"))
            // s_server quits when its stdin ends: keep a pipe open.
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server runs");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let port = loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "s_server said nothing about its port");
            if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        SServer { child, port }
    }

    /// What `openssl s_client` offering `sigalgs` reports about the handshake.
    fn probe(&self, sigalgs: &str) -> String {
        let out = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{}", self.port), "-servername", "localhost", "-alpn", "h2"])
            .args(["-sigalgs", sigalgs, "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile"])
            .arg(certs().join("ca.pem"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to `server` and polls until the TLS handshake is done or the attempt failed.
fn tls_attempt(server: &SServer) -> TestClient {
    let mut c = client_for(&format!("https://localhost:{}", server.port), |cfg| cfg.connect_timeout_ms = 3000);
    c.connect();
    let done = c.poll_until(SECS(10), |r, _| {
        r.logs.iter().any(|l| l.1.contains("TLS established")) || r.states.iter().any(|s| s.1 != AvsStatus::Ok)
    });
    assert!(done, "{:#?}", c.rec.logs);
    c
}

#[test]
fn a_server_signing_its_key_exchange_with_sha1_is_refused() {
    let server = SServer::start("RSA+SHA1");
    // The peer really signs with SHA-1 for a client that offers it.
    let probe = server.probe("RSA+SHA1:RSA+SHA256");
    assert!(probe.contains("Peer signing digest: SHA1") && probe.contains("ALPN protocol: h2"), "{probe}");
    let c = tls_attempt(&server);
    assert!(!c.log_contains("TLS established"), "a SHA-1 signed key exchange was accepted: {:#?}", c.rec.logs);
    assert_eq!(c.rec.states.iter().find(|s| s.1 != AvsStatus::Ok).map(|s| s.1), Some(AvsStatus::Tls), "{:#?}", c.rec.logs);
}

#[test]
fn the_same_server_signing_with_sha256_is_accepted() {
    // The control for the test above: s_server itself is fine for the client.
    let server = SServer::start("RSA+SHA256");
    let c = tls_attempt(&server);
    assert!(c.log_contains("TLS established"), "{:#?}", c.rec.logs);
}

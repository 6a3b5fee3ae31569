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

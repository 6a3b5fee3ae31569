//! Connection rules of the AVS HTTP/2 connection, driven through the exported C API against the
//! local AVS server (real TLS, real HTTP/2 from an independent stack).

mod common;
use common::*;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn events_path(r: &Value) -> bool {
    r["path"] == "/v20160207/events"
}

#[test]
fn connects_downchannel_first_then_synchronize_state_with_context() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    // Queued before connecting: must wait until after SynchronizeState.
    let id = c.send("Test", "Early", "{\"n\":1}").unwrap();
    c.connect();
    c.wait_connected();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    let reqs = server.requests();
    assert_eq!(reqs[0]["method"], "GET");
    assert_eq!(reqs[0]["path"], "/v20160207/directives", "downchannel is the first request");
    assert_eq!(reqs[1]["event"]["name"], "SynchronizeState", "SynchronizeState right after the downchannel");
    assert_eq!(reqs[1]["event"]["namespace"], "System");
    assert!(reqs[1]["t_headers"].as_f64() >= reqs[0]["t_response_headers"].as_f64(), "sync only once the downchannel is open");
    let ctx = reqs[1]["metadata"]["context"].as_array().expect("context array");
    assert!(ctx.iter().any(|c| c["header"]["name"] == "SpeechState"), "context carries SpeechState: {ctx:?}");
    assert_eq!(reqs[2]["event"]["name"], "Early");
    assert!(reqs[2]["t_headers"].as_f64() >= reqs[1]["t_response_headers"].as_f64(), "queued event waits for the sync answer");
    for r in &reqs {
        assert_eq!(r["headers"]["authorization"], "Bearer test-token", "every request carries the token");
        assert!(r["error"].is_null(), "server found the request valid: {r}");
    }
    // The downchannel opens right away, well within AVS's 10 s.
    let conns = server.connections();
    let dt = reqs[0]["t_headers"].as_f64().unwrap() - conns[0]["t_tls_done"].as_f64().unwrap();
    assert!(dt < 1.0, "downchannel {dt} s after the handshake");
}

#[test]
fn untrusted_ca_is_a_named_certificate_error_and_no_session() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::with_ca(&server.endpoint(), &certs().join("other-ca.pem"), |_| {}).unwrap();
    c.connect();
    let ok = c.poll_until(SECS(5), |r, _| r.states.iter().any(|s| s.1 == AvsStatus::CertificateRejected));
    assert!(ok, "states {:?}", c.rec.states.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>());
    assert!(c.log_contains("not signed by a trusted CA"), "{:#?}", c.rec.logs);
    assert!(server.requests().is_empty(), "nothing was sent over an unverified session");
}

#[test]
fn host_name_mismatch_is_rejected() {
    let server = Server::start(&["--cert", "wronghost"]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    let ok = c.poll_until(SECS(5), |r, _| r.states.iter().any(|s| s.1 == AvsStatus::CertificateRejected));
    assert!(ok);
    assert!(c.log_contains("host name mismatch"), "{:#?}", c.rec.logs);
}

#[test]
fn expired_certificate_is_rejected() {
    let server = Server::start(&["--cert", "expired"]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    let ok = c.poll_until(SECS(5), |r, _| r.states.iter().any(|s| s.1 == AvsStatus::CertificateRejected));
    assert!(ok);
    assert!(c.log_contains("certificate expired"), "{:#?}", c.rec.logs);
}

#[test]
fn events_go_one_at_a_time_in_order() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "Ordered", "count": 5, "status": 204, "delay_headers_ms": 80}));
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    let ids: Vec<u32> = (0..5).map(|i| c.send("Test", "Ordered", &format!("{{\"i\":{i}}}")).unwrap()).collect();
    for id in &ids {
        assert_eq!(c.wait_outcome(*id, SECS(5)), (AvsStatus::Ok, 204));
    }
    let evs: Vec<Value> = server.requests().into_iter().filter(|r| r["event"]["name"] == "Ordered").collect();
    assert_eq!(evs.len(), 5);
    for (i, w) in evs.windows(2).enumerate() {
        assert_eq!(w[0]["metadata"]["event"]["payload"]["i"], json!(i));
        assert!(
            w[1]["t_headers"].as_f64().unwrap() >= w[0]["t_response_headers"].as_f64().unwrap(),
            "event {} started before event {} had response headers",
            i + 1,
            i
        );
    }
}

#[test]
fn never_more_streams_than_the_server_allows() {
    let mut server = Server::start(&["--max-concurrent-streams", "3"]);
    server.cmd(json!({"cmd": "script_event", "name": "Held", "count": 6, "status": 204, "hold_open_ms": 400}));
    let mut c = TestClient::new(&server, |cfg| cfg.max_streams = 10);
    c.connect();
    c.wait_connected();
    let ids: Vec<u32> = (0..6).map(|_| c.send("Test", "Held", "{}").unwrap()).collect();
    for id in &ids {
        assert_eq!(c.wait_outcome(*id, SECS(10)).0, AvsStatus::Ok);
    }
    c.run_for(Duration::from_millis(500));
    let conn = &server.connections()[0];
    assert_eq!(conn["concurrency_violations"], json!(0));
    let seen = conn["max_concurrent_seen"].as_u64().unwrap();
    assert!(seen <= 3 && seen >= 2, "max concurrent streams seen {seen}");
}

#[test]
fn never_more_than_ten_streams() {
    let mut server = Server::start(&["--max-concurrent-streams", "100"]);
    server.cmd(json!({"cmd": "script_event", "name": "Held", "count": 14, "status": 204, "hold_open_ms": 600}));
    let mut c = TestClient::new(&server, |cfg| {
        cfg.max_streams = 50;
        cfg.event_queue_capacity = 16;
    });
    c.connect();
    c.wait_connected();
    let ids: Vec<u32> = (0..14).map(|_| c.send("Test", "Held", "{}").unwrap_or_else(|e| panic!("{e:?}"))).collect();
    for id in &ids {
        assert_eq!(c.wait_outcome(*id, SECS(15)).0, AvsStatus::Ok);
    }
    let seen = server.connections()[0]["max_concurrent_seen"].as_u64().unwrap();
    assert!(seen <= 10, "max concurrent streams seen {seen}");
    assert!(seen >= 9, "the cap was reached ({seen}), so the test tests it");
}

#[test]
fn downchannel_reopens_at_once_when_the_server_closes_it() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "close_downchannel"}));
    c.run_for(Duration::from_millis(300));
    let dcs: Vec<Value> = server.requests().into_iter().filter(|r| r["path"] == "/v20160207/directives").collect();
    assert_eq!(dcs.len(), 2, "a second downchannel was opened");
    assert_eq!(dcs[0]["conn"], dcs[1]["conn"], "on the same connection");
    assert_eq!(server.connections().len(), 1);
    // Directives keep flowing on the new downchannel.
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 30}))]}));
    assert!(c.poll_until(SECS(3), |r, _| r.directives.iter().any(|d| d.0 == "Speaker.SetVolume")));
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn idle_connection_sends_ping_and_stays_up() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| {
        cfg.ping_interval_ms = 200;
        cfg.ping_timeout_ms = 1000;
    });
    c.connect();
    c.wait_connected();
    c.run_for(Duration::from_millis(1100));
    let conns = server.connections();
    assert_eq!(conns.len(), 1, "no reconnect");
    let pings = conns[0]["pings_received"].as_u64().unwrap();
    assert!((3..=6).contains(&pings), "{pings} pings in 1.1 s at a 200 ms idle interval");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn unanswered_ping_drops_and_reconnects() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| {
        cfg.ping_interval_ms = 150;
        cfg.ping_timeout_ms = 300;
    });
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "withhold_ping_acks", "on": true}));
    let ok = c.poll_until(SECS(3), |r, _| r.states.iter().any(|s| s.1 == AvsStatus::PingTimeout));
    assert!(ok, "{:#?}", c.rec.logs);
    server.cmd(json!({"cmd": "withhold_ping_acks", "on": false}));
    c.wait_connected();
    assert!(server.connections().len() >= 2, "a new connection was made");
}

#[test]
fn goaway_moves_to_a_new_connection_and_loses_nothing() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "script_event", "name": "Slow", "count": 1, "status": 204, "delay_headers_ms": 300}));
    let slow = c.send("Test", "Slow", "{}").unwrap();
    c.run_for(Duration::from_millis(50));
    server.cmd(json!({"cmd": "goaway"}));
    let after: Vec<u32> = (0..3).map(|i| c.send("Test", "After", &format!("{{\"i\":{i}}}")).unwrap()).collect();
    assert_eq!(c.wait_outcome(slow, SECS(5)), (AvsStatus::Ok, 204), "the open stream finished on the old connection");
    for id in after {
        assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    }
    let reqs = server.requests();
    let conns: Vec<u64> = reqs.iter().filter(|r| r["event"]["name"] == "After").map(|r| r["conn"].as_u64().unwrap()).collect();
    let first_conn = reqs[0]["conn"].as_u64().unwrap();
    assert!(conns.iter().all(|&k| k != first_conn), "new requests went to the new connection");
    let new_conn = conns[0];
    let new_reqs: Vec<&Value> = reqs.iter().filter(|r| r["conn"].as_u64() == Some(new_conn)).collect();
    assert_eq!(new_reqs[0]["path"], "/v20160207/directives");
    assert_eq!(new_reqs[1]["event"]["name"], "SynchronizeState");
    c.run_for(Duration::from_millis(300));
    let old = server.connections().into_iter().find(|k| k["id"].as_u64() == Some(first_conn)).unwrap();
    assert!(!old["t_closed"].is_null(), "the old connection was closed after draining");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn goaway_on_an_idle_connection_reconnects_at_once_without_back_off() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.backoff_base_ms = 2000);
    c.connect();
    c.wait_connected();
    for round in 0..5 {
        let connected_before = c.rec.states.iter().filter(|s| s.0 == AvsConnectionState::Connected).count();
        server.cmd(json!({"cmd": "goaway"}));
        let ok = c.poll_until(SECS(1), |r, _| r.states.iter().filter(|s| s.0 == AvsConnectionState::Connected).count() > connected_before);
        assert!(ok, "round {round}: not synchronized on a new connection within 1 s: {:#?}", c.rec.logs);
    }
    assert!(
        !c.rec.states.iter().any(|s| s.0 == AvsConnectionState::WaitingToRetry),
        "a server closing after GOAWAY is not a failure: {:?}",
        c.rec.states.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>()
    );
    assert_eq!(server.connections().len(), 6);
}

#[test]
fn reconnect_back_off_grows_with_jitter() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "refuse_connections", "seconds": 2.5}));
    let mut c = TestClient::new(&server, |cfg| {
        cfg.backoff_base_ms = 80;
        cfg.backoff_max_ms = 1000;
    });
    c.connect();
    c.wait_connected();
    let conns = server.connections();
    let t: Vec<f64> = conns.iter().map(|k| k["t_accept"].as_f64().unwrap()).collect();
    let refused = conns.iter().filter(|k| k["refused"] == json!(true)).count();
    assert!(refused >= 4, "{refused} refused attempts");
    // Gap n is drawn from [d/2, d] with d = min(80·2ⁿ, 1000) ms (plus scheduling slack).
    for n in 0..refused {
        let gap = (t[n + 1] - t[n]) * 1000.0;
        let d = (80.0 * 2f64.powi(n as i32)).min(1000.0);
        assert!(gap >= d / 2.0 - 5.0 && gap <= d + 60.0, "gap {n} = {gap:.0} ms, expected within [{}, {d}]", d / 2.0);
    }
    assert!(c.rec.states.iter().any(|s| s.0 == AvsConnectionState::WaitingToRetry));
}

#[test]
fn token_rejected_stops_and_waits_for_a_new_token() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "set_token", "token": "fresh-token"}));
    let id = c.send("Test", "NeedsAuth", "{}").unwrap();
    let ok = c.poll_until(SECS(3), |_, st| st == AvsConnectionState::TokenRejected);
    assert!(ok, "{:#?}", c.rec.logs);
    assert!(c.rec.exceptions.iter().any(|e| e.1 == 403 && e.2 == "UNAUTHORIZED_REQUEST_EXCEPTION"));
    let before = server.connections().len();
    c.run_for(Duration::from_millis(800));
    assert_eq!(server.connections().len(), before, "no new connection while the token is rejected");
    assert!(c.outcome(id).is_none(), "the event is kept, not failed");
    let tok = std::ffi::CString::new("fresh-token").unwrap();
    assert_eq!(unsafe { avs_client_set_token(c.ptr, tok.as_ptr()) }, AvsStatus::Ok);
    c.wait_connected();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    let last = server.requests().into_iter().filter(events_path).last().unwrap();
    assert_eq!(last["headers"]["authorization"], "Bearer fresh-token");
}

#[test]
fn server_errors_back_off_then_succeed_or_fail_with_reason() {
    let mut server = Server::start(&[]);
    let exc = json!({"code": "INTERNAL_SERVICE_EXCEPTION", "description": "try later"});
    server.cmd(json!({"cmd": "script_event", "name": "Flaky", "count": 2, "status": 500, "exception": exc}));
    server.cmd(json!({"cmd": "script_event", "name": "Down", "count": 3, "status": 503, "exception": {"code": "SERVICE_UNAVAILABLE", "description": "down"}}));
    server.cmd(json!({"cmd": "script_event", "name": "Bad", "count": 1, "status": 400, "exception": {"code": "INVALID_REQUEST_EXCEPTION", "description": "bad payload"}}));
    let mut c = TestClient::new(&server, |cfg| {
        cfg.backoff_base_ms = 100;
        cfg.max_event_attempts = 3;
    });
    c.connect();
    c.wait_connected();
    let flaky = c.send("Test", "Flaky", "{}").unwrap();
    assert_eq!(c.wait_outcome(flaky, SECS(5)), (AvsStatus::Ok, 204), "third attempt succeeds");
    let down = c.send("Test", "Down", "{}").unwrap();
    assert_eq!(c.wait_outcome(down, SECS(5)), (AvsStatus::ServerBusy, 503));
    let bad = c.send("Test", "Bad", "{}").unwrap();
    assert_eq!(c.wait_outcome(bad, SECS(5)), (AvsStatus::HttpStatus, 400));
    assert!(c.rec.exceptions.iter().any(|e| e.0 == bad && e.2 == "INVALID_REQUEST_EXCEPTION" && e.3 == "bad payload"));
    let flaky_times: Vec<f64> = server
        .requests()
        .into_iter()
        .filter(|r| r["event"]["name"] == "Flaky")
        .map(|r| r["t_headers"].as_f64().unwrap())
        .collect();
    assert_eq!(flaky_times.len(), 3);
    assert!((flaky_times[1] - flaky_times[0]) * 1000.0 >= 45.0, "backed off after a 500");
    assert!(flaky_times[2] - flaky_times[1] >= (flaky_times[1] - flaky_times[0]) * 0.5 - 0.01);
    assert_eq!(server.event_names().iter().filter(|n| n.ends_with(".Down")).count(), 3);
    assert_eq!(c.state(), AvsConnectionState::Connected, "event errors do not drop the connection");
}

#[test]
fn directive_and_attachment_split_byte_by_byte() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    let audio: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let d = directive("SpeechSynthesizer", "Speak", json!({"url": "cid:Speak_123:abc.def#1", "format": "AUDIO_MPEG", "token": "t1"}));
    server.cmd(json!({"cmd": "push_directive", "directives": [d.clone()],
        "attachments": [{"content_id": "Speak_123:abc.def#1", "data_b64": b64(&audio)}], "chunk_size": 1}));
    assert!(c.poll_until(SECS(10), |r, _| r.speech_done.len() == 1));
    assert_eq!(c.rec.speaks, vec!["t1".to_string()], "the Speak directive was parsed intact");
    assert_eq!(c.rec.speech_audio["t1"], audio, "its audio bytes intact");
    let _ = d;
    // Attachment first, then the directive, in 7-byte frames.
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Alerts", "SetAlert", json!({"token": "a"}))],
        "attachments": [{"content_id": "second", "data_b64": b64(b"\r\n--not-a-boundary\r\n")}], "attachments_first": true, "chunk_size": 7}));
    assert!(c.poll_until(SECS(5), |r, _| r.directives.len() == 1 && r.attachments_done.len() == 1));
    let got: Value = serde_json::from_str(&c.rec.directives[0].2).unwrap();
    assert_eq!(got["directive"]["header"]["name"], "SetAlert", "directive JSON delivered intact: {got}");
    assert_eq!(c.rec.attachments["second"], b"\r\n--not-a-boundary\r\n");
}

#[test]
fn event_response_directives_reach_the_host() {
    let mut server = Server::start(&[]);
    let d = directive("Speaker", "SetMute", json!({"mute": true}));
    server.cmd(json!({"cmd": "script_event", "name": "WithDirectives", "count": 1, "status": 200, "directives": [d], "chunk_size": 3}));
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    let id = c.send("Test", "WithDirectives", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 200));
    assert!(c.poll_until(SECS(3), |r, _| r.directives.iter().any(|d| d.0 == "Speaker.SetMute")));
}

#[test]
fn malformed_directive_is_answered_with_exception_encountered() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "push_directive", "directives": ["{\"directive\":{\"header\":{\"namespace\":\"X\"}}", "not json at all"]}));
    // Larger than max_directive_bytes (default 4096): skipped, reported, the downchannel lives on.
    let huge = directive("Test", "Huge", json!({"blob": "x".repeat(6000)}));
    server.cmd(json!({"cmd": "push_directive", "directives": [huge, directive("Speaker", "SetVolume", json!({"volume": 5}))]}));
    assert!(c.poll_until(SECS(3), |r, _| r.directives.iter().any(|d| d.0 == "Speaker.SetVolume")), "a good directive after bad ones still arrives");
    c.run_for(Duration::from_millis(300));
    let reqs = server.requests();
    let exc: Vec<&Value> = reqs.iter().filter(|r| r["event"]["name"] == "ExceptionEncountered").collect();
    assert_eq!(exc.len(), 3, "one ExceptionEncountered per malformed or oversize directive");
    assert!(exc[2]["metadata"]["event"]["payload"]["error"]["message"].as_str().unwrap().contains("max_directive_bytes"));
    let p = &exc[1]["metadata"]["event"]["payload"];
    assert_eq!(p["unparsedDirective"], "not json at all");
    assert_eq!(p["error"]["type"], "UNEXPECTED_INFORMATION_RECEIVED");
    assert_eq!(c.rec.directives.len(), 1);
}

#[test]
fn queued_events_survive_a_torn_connection() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    c.connect();
    c.wait_connected();
    server.cmd(json!({"cmd": "refuse_connections", "seconds": 0.5}));
    server.cmd(json!({"cmd": "kill_connections"}));
    assert!(c.poll_until(SECS(3), |_, st| st != AvsConnectionState::Connected));
    let ids: Vec<u32> = (0..4).map(|i| c.send("Test", "Offline", &format!("{{\"i\":{i}}}")).unwrap()).collect();
    for id in &ids {
        assert_eq!(c.wait_outcome(*id, SECS(10)), (AvsStatus::Ok, 204));
    }
    let names = server.event_names();
    let last_sync = names.iter().rposition(|n| n == "System.SynchronizeState").unwrap();
    let first_offline = names.iter().position(|n| n == "Test.Offline").unwrap();
    assert!(first_offline > last_sync, "queued events go after the new SynchronizeState: {names:?}");
    let order: Vec<i64> = server
        .requests()
        .iter()
        .filter(|r| r["event"]["name"] == "Offline")
        .map(|r| r["metadata"]["event"]["payload"]["i"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![0, 1, 2, 3]);
}

#[test]
fn full_queue_is_an_error_at_submit_not_a_drop() {
    let server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.event_queue_capacity = 3);
    let ids: Vec<u32> = (0..3).map(|_| c.send("Test", "Q", "{}").unwrap()).collect();
    assert_eq!(c.send("Test", "Q", "{}"), Err(AvsStatus::QueueFull));
    c.connect();
    for id in ids {
        assert_eq!(c.wait_outcome(id, SECS(5)).0, AvsStatus::Ok);
    }
    assert!(c.send("Test", "Q", "{}").is_ok(), "room again once events are out");
}

#[test]
fn host_io_callbacks_carry_the_connection() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    struct Net {
        socks: Vec<Option<TcpStream>>,
        bytes_in: usize,
    }
    unsafe extern "C" fn connect(ud: *mut std::ffi::c_void, host: *const std::os::raw::c_char, port: u16) -> isize {
        let net = &mut *(ud as *mut Net);
        let host = std::ffi::CStr::from_ptr(host).to_str().unwrap();
        match TcpStream::connect((host, port)) {
            Ok(s) => {
                s.set_nonblocking(true).unwrap();
                net.socks.push(Some(s));
                (net.socks.len() - 1) as isize
            }
            Err(_) => AVS_IO_ERROR,
        }
    }
    unsafe extern "C" fn send(ud: *mut std::ffi::c_void, h: isize, data: *const u8, len: usize) -> isize {
        let net = &mut *(ud as *mut Net);
        match net.socks[h as usize].as_mut().unwrap().write(std::slice::from_raw_parts(data, len)) {
            Ok(n) => n as isize,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => AVS_IO_WOULD_BLOCK,
            Err(_) => AVS_IO_ERROR,
        }
    }
    unsafe extern "C" fn recv(ud: *mut std::ffi::c_void, h: isize, buf: *mut u8, len: usize) -> isize {
        let net = &mut *(ud as *mut Net);
        match net.socks[h as usize].as_mut().unwrap().read(std::slice::from_raw_parts_mut(buf, len)) {
            Ok(n) => {
                net.bytes_in += n;
                n as isize
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => AVS_IO_WOULD_BLOCK,
            Err(_) => AVS_IO_ERROR,
        }
    }
    unsafe extern "C" fn close(ud: *mut std::ffi::c_void, h: isize) {
        let net = &mut *(ud as *mut Net);
        net.socks[h as usize] = None;
    }
    let mut server = Server::start(&[]);
    let mut net = Box::new(Net { socks: Vec::new(), bytes_in: 0 });
    let io = AvsIo {
        user_data: &mut *net as *mut Net as *mut std::ffi::c_void,
        connect: Some(connect),
        send: Some(send),
        recv: Some(recv),
        close: Some(close),
    };
    let mut c = TestClient::new(&server, |cfg| cfg.io = &io);
    c.connect();
    c.wait_connected();
    let mut fds = [0i32; 4];
    let mut n = 99usize;
    assert_eq!(unsafe { avs_client_fds(c.ptr, fds.as_mut_ptr(), 4, &mut n, std::ptr::null_mut()) }, AvsStatus::Ok);
    assert_eq!(n, 0, "no OS descriptors with host I/O");
    let id = c.send("Test", "ViaHostIo", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(5)), (AvsStatus::Ok, 204));
    assert!(net.bytes_in > 0 && net.socks.len() == 1);
    assert_eq!(server.requests().len(), 3);
    drop(c);
    assert!(net.socks[0].is_none(), "the library closed its connection through the host");
}

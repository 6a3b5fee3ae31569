//! The C surface's guarantees: NULL checks, wrong-state and re-entrant calls refused with a
//! status, outputs untouched on failure, status text for every value, a header that is current.

mod common;
use common::*;
use std::ffi::{c_void, CString};
use std::ptr::{null, null_mut};

#[test]
fn null_pointers_are_refused_everywhere() {
    unsafe {
        assert_eq!(avs_config_init(null_mut()), AvsStatus::NullArgument);
        let mut out: *mut AvsClient = 0x1 as *mut AvsClient;
        assert_eq!(avs_client_new(null(), null(), &mut out), AvsStatus::NullArgument);
        assert_eq!(out, 0x1 as *mut AvsClient, "output untouched on failure");
        assert_eq!(avs_client_connect(null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_client_disconnect(null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_client_poll(null_mut(), 0, null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_client_set_token(null_mut(), c"x".as_ptr()), AvsStatus::NullArgument);
        assert_eq!(avs_client_send_event(null_mut(), c"A".as_ptr(), c"B".as_ptr(), c"{}".as_ptr(), CBool(0), null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_client_state(null(), null_mut()), AvsStatus::NullArgument);
        avs_client_free(null_mut());
    }
}

#[test]
fn bad_config_is_a_clear_error() {
    let server = Server::start(&[]);
    // A config without a CA cannot turn verification off.
    let strings = ConfigStrings {
        endpoint: CString::new(server.endpoint()).unwrap(),
        ca_file: CString::new("/nonexistent/ca.pem").unwrap(),
        token: CString::new("t").unwrap(),
    };
    let mut cfg = default_config(&strings);
    cfg.ca_file = null();
    let cbs = AvsCallbacks { user_data: null_mut(), on_state: None, on_directive: None, on_attachment: None, on_exception: None, on_event_outcome: None, on_log: None, on_dialog_state: None, on_expect_speech: None, on_speak: None, on_speech_audio: None };
    let mut out = null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut out) }, AvsStatus::BadConfig);
    cfg.ca_file = strings.ca_file.as_ptr();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut out) }, AvsStatus::BadCa);
    let http = CString::new("http://localhost:1").unwrap();
    let ca = CString::new(certs().join("ca.pem").to_str().unwrap()).unwrap();
    cfg.ca_file = ca.as_ptr();
    cfg.endpoint = http.as_ptr();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut out) }, AvsStatus::BadConfig);
    assert!(out.is_null());
    // Garbage instead of a CA bundle.
    let junk = b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    cfg.endpoint = strings.endpoint.as_ptr();
    cfg.ca_file = null();
    cfg.ca_pem = junk.as_ptr();
    cfg.ca_pem_len = junk.len();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut out) }, AvsStatus::BadCa);
}

#[test]
fn ca_from_memory_works() {
    let server = Server::start(&[]);
    let pem = std::fs::read(certs().join("ca.pem")).unwrap();
    let mut c = TestClient::new(&server, |cfg| {
        cfg.ca_file = null();
        cfg.ca_pem = pem.as_ptr();
        cfg.ca_pem_len = pem.len();
    });
    c.connect();
    c.wait_connected();
}

#[test]
fn wrong_state_and_bad_arguments() {
    let server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    assert_eq!(unsafe { avs_client_disconnect(c.ptr) }, AvsStatus::WrongState, "not connected yet");
    c.connect();
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::WrongState, "already connecting");
    let mut id = 77u32;
    let st = unsafe { avs_client_send_event(c.ptr, c"Bad Namespace".as_ptr(), c"X".as_ptr(), c"{}".as_ptr(), CBool(0), &mut id) };
    assert_eq!(st, AvsStatus::InvalidArgument);
    let st = unsafe { avs_client_send_event(c.ptr, c"Test".as_ptr(), c"X".as_ptr(), c"{not json".as_ptr(), CBool(0), &mut id) };
    assert_eq!(st, AvsStatus::InvalidArgument);
    assert_eq!(id, 77, "output untouched on failure");
    let big = CString::new(format!("{{\"a\":\"{}\"}}", "x".repeat(5000))).unwrap();
    let st = unsafe { avs_client_send_event(c.ptr, c"Test".as_ptr(), c"X".as_ptr(), big.as_ptr(), CBool(0), &mut id) };
    assert_eq!(st, AvsStatus::TooLarge);
    let bad_utf8 = [0xffu8, 0xfe, 0];
    let st = unsafe { avs_client_set_token(c.ptr, bad_utf8.as_ptr() as *const _) };
    assert_eq!(st, AvsStatus::InvalidArgument);
    assert_eq!(unsafe { avs_client_set_token(c.ptr, c"".as_ptr()) }, AvsStatus::InvalidArgument);
    c.wait_connected();
    assert_eq!(unsafe { avs_client_disconnect(c.ptr) }, AvsStatus::Ok);
    assert_eq!(c.state(), AvsConnectionState::Disconnected);
}

struct Reentry {
    client: *mut AvsClient,
    seen: Vec<AvsStatus>,
}

unsafe extern "C" fn reenter(ud: *mut c_void, _: AvsConnectionState, _: AvsStatus) {
    let r = &mut *(ud as *mut Reentry);
    let mut next = 0;
    r.seen.push(avs_client_poll(r.client, 0, &mut next));
    r.seen.push(avs_client_connect(r.client));
    let mut st = AvsConnectionState::Disconnected;
    r.seen.push(avs_client_state(r.client, &mut st));
    avs_client_free(r.client); // deferred: the client goes when avs_client_connect returns
}

#[test]
fn calls_from_inside_a_callback_are_refused() {
    let server = Server::start(&[]);
    let strings = strings_for(&server, "test-token");
    let cfg = default_config(&strings);
    let mut r = Box::new(Reentry { client: null_mut(), seen: vec![] });
    let cbs = AvsCallbacks { on_state: Some(reenter), ..no_callbacks(&mut *r as *mut Reentry as *mut c_void) };
    let mut client = null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut client) }, AvsStatus::Ok);
    r.client = client;
    // The free requested from the callback happens as the call that ran it returns, and says so.
    assert_eq!(unsafe { avs_client_connect(client) }, AvsStatus::ClientFreed);
    assert!(r.seen.iter().take(3).all(|s| *s == AvsStatus::Reentrant), "{:?}", r.seen);
    // `client` is gone: not used again.
}

#[test]
fn every_status_has_text() {
    for v in -3..40 {
        let p = avs_status_str(v);
        assert!(!p.is_null());
        let s = unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap();
        assert!(!s.is_empty());
        if AvsStatus::from_i32(v).is_none() {
            assert_eq!(s, "unknown status");
        }
    }
    assert_eq!(unsafe { std::ffi::CStr::from_ptr(avs_version()) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn checked_in_header_is_current() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/avs.h"));
    let checked_in = std::fs::read_to_string(repo().join("include/avs.h")).expect("include/avs.h exists");
    assert!(
        generated == checked_in,
        "include/avs.h is stale: run `AVS_BLESS_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn freeing_reports_held_events_as_cancelled() {
    let server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    let a = c.send("Test", "Never", "{}").unwrap();
    let b = c.send("Test", "Never", "{}").unwrap();
    // The callbacks write into the recorder box; take it so it outlives the client.
    let rec = std::mem::take(&mut c.rec);
    unsafe { avs_client_free(c.ptr) };
    c.ptr = null_mut();
    assert!(rec.outcomes.contains(&(a, AvsStatus::Cancelled, 0)) && rec.outcomes.contains(&(b, AvsStatus::Cancelled, 0)), "{:?}", rec.outcomes);
}

//! The interfaces layer through the C API against the local AVS server: Speaker (the host's
//! speaker applies what Alexa asks, events report what it applied), System (inactivity reports,
//! SoftwareInfo, SetEndpoint, exceptions for what nothing handles), the context per enabled
//! interface, and directives no interface handles.

mod common;
use common::*;
use avs::ffi::interfaces::speaker::*;
use avs::ffi::interfaces::system::*;
use std::ffi::c_void;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// What the host's speaker was asked, and how it behaves.
#[derive(Default)]
struct SpeakerRec {
    requests: Vec<(u8, bool)>,
    /// Applies volumes in steps of this (0: exactly as asked).
    step: u8,
    /// Refuses everything with this status.
    refuse: Option<AvsStatus>,
}

unsafe extern "C" fn apply(ud: *mut c_void, v: *mut AvsVolume) -> i32 {
    apply_status(ud, v) as i32
}
unsafe fn apply_status(ud: *mut c_void, v: *mut AvsVolume) -> AvsStatus {
    let r = &mut *(ud as *mut SpeakerRec);
    let v = &mut *v;
    r.requests.push((v.volume, v.muted.get().unwrap()));
    if let Some(s) = r.refuse {
        return s;
    }
    if r.step > 0 {
        v.volume -= v.volume % r.step;
    }
    AvsStatus::Ok
}

fn with_speaker(c: &TestClient, rec: &mut SpeakerRec, volume: u8, muted: bool) -> AvsStatus {
    let h = AvsSpeakerHandler { user_data: rec as *mut SpeakerRec as *mut c_void, apply: Some(apply), initial: AvsVolume { volume, muted: CBool::from(muted) } };
    unsafe { avs_client_set_speaker(c.ptr, &h, std::mem::size_of::<AvsSpeakerHandler>()) }
}

unsafe extern "C" fn refuse_all(_: *mut c_void, _: *const AvsDirective) -> i32 {
    AvsStatus::Unsupported as i32
}

/// The host handles no directive itself: what no interface takes is answered UNSUPPORTED_OPERATION.
fn refusing_host(c: &TestClient) {
    let h = AvsDirectiveHandler { user_data: std::ptr::null_mut(), handle: Some(refuse_all) };
    assert_eq!(unsafe { avs_client_set_directive_handler(c.ptr, &h, std::mem::size_of::<AvsDirectiveHandler>()) }, AvsStatus::Ok);
}

fn connected(server: &Server, tune: impl FnOnce(&mut AvsConfig), before: impl FnOnce(&TestClient)) -> TestClient {
    let mut c = TestClient::new(server, tune);
    before(&c);
    c.connect();
    c.wait_connected();
    c
}

/// Event records (`Namespace.Name` given) in the order the server received them.
fn events(server: &mut Server, ns: &str, name: &str) -> Vec<Value> {
    server.requests().into_iter().filter(|r| r["event"]["namespace"] == ns && r["event"]["name"] == name).collect()
}

fn payloads(server: &mut Server, ns: &str, name: &str) -> Vec<Value> {
    events(server, ns, name).into_iter().map(|r| r["metadata"]["event"]["payload"].clone()).collect()
}

/// Polls until the server has `n` events `ns.name`.
fn wait_events(c: &mut TestClient, server: &mut Server, ns: &str, name: &str, n: usize) -> Vec<Value> {
    let end = Instant::now() + SECS(15);
    loop {
        c.run_for(Duration::from_millis(50));
        let got = payloads(server, ns, name);
        if got.len() >= n || Instant::now() > end {
            assert_eq!(got.len(), n, "{ns}.{name} events; logs {:#?}", c.rec.logs.iter().rev().take(30).collect::<Vec<_>>());
            return got;
        }
    }
}

fn push(server: &mut Server, directives: &[Value]) {
    server.cmd(json!({"cmd": "push_directive", "directives": directives}));
}

/// The ExceptionEncountered payloads the server received.
fn exceptions(server: &mut Server) -> Vec<Value> {
    payloads(server, "System", "ExceptionEncountered")
}

/// The context items of the last event `ns.name`, by `Namespace.Name`.
fn context_of(server: &mut Server, ns: &str, name: &str) -> Vec<(String, Value)> {
    let ev = events(server, ns, name).pop().unwrap_or_else(|| panic!("no {ns}.{name}"));
    ev["metadata"]["context"]
        .as_array()
        .expect("a context")
        .iter()
        .map(|e| (format!("{}.{}", e["header"]["namespace"].as_str().unwrap(), e["header"]["name"].as_str().unwrap()), e["payload"].clone()))
        .collect()
}

fn speech_state_idle() -> Value {
    json!({"token": "", "offsetInMilliseconds": 0, "playerActivity": "FINISHED"})
}

#[test]
fn speaker_directives_go_to_the_host_speaker_and_come_back_as_events_with_what_it_applied() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec { step: 10, ..Default::default() });
    let mut c = connected(&server, |_| {}, |c| assert_eq!(with_speaker(c, &mut rec, 40, false), AvsStatus::Ok));
    // SynchronizeState: one entry per enabled interface, from their state.
    assert_eq!(
        context_of(&mut server, "System", "SynchronizeState"),
        vec![
            ("SpeechRecognizer.RecognizerState".to_string(), json!({"wakeword": "ALEXA"})),
            ("SpeechSynthesizer.SpeechState".to_string(), speech_state_idle()),
            ("Speaker.VolumeState".to_string(), json!({"volume": 40, "muted": false})),
        ]
    );
    push(
        &mut server,
        &[
            directive("Speaker", "SetVolume", json!({"volume": 55})),
            directive("Speaker", "AdjustVolume", json!({"volume": -20})),
            directive("Speaker", "SetMute", json!({"mute": true})),
            directive("Speaker", "AdjustVolume", json!({"volume": 100})),
        ],
    );
    let got = wait_events(&mut c, &mut server, "Speaker", "VolumeChanged", 3);
    // The host was asked exactly this, in order (AdjustVolume already applied to the volume
    // the speaker reported, and clamped).
    assert_eq!(rec.requests, vec![(55, false), (30, false), (30, true), (100, true)]);
    assert_eq!(got, vec![json!({"volume": 50, "muted": false}), json!({"volume": 30, "muted": false}), json!({"volume": 100, "muted": true})]);
    assert_eq!(payloads(&mut server, "Speaker", "MuteChanged"), vec![json!({"volume": 30, "muted": true})]);
    let order: Vec<String> = server.event_names().into_iter().filter(|n| n.starts_with("Speaker.")).collect();
    assert_eq!(order, ["Speaker.VolumeChanged", "Speaker.VolumeChanged", "Speaker.MuteChanged", "Speaker.VolumeChanged"]);
    assert!(exceptions(&mut server).is_empty());
    assert!(c.rec.directives.is_empty(), "Speaker directives are the library's, not on_directive's: {:?}", c.rec.directives);
}

#[test]
fn invalid_speaker_directives_get_the_exception_the_spec_says_and_the_client_keeps_working() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut c = connected(&server, |_| {}, |c| {
        assert_eq!(with_speaker(c, &mut rec, 40, false), AvsStatus::Ok);
        refusing_host(c);
    });
    let bad = [
        (directive("Speaker", "SetVolume", json!({"volume": 101})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "SetVolume", json!({"volume": "5"})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "SetVolume", json!({})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "AdjustVolume", json!({"volume": 5.5})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "AdjustVolume", json!({"volume": -101})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "SetMute", json!({"mute": 1})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("Speaker", "SetLoudness", json!({"volume": 5})), "UNSUPPORTED_OPERATION"),
        (directive("System", "SetEndpoint", json!({"endpoint": "http://plain.example"})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("System", "Reboot", json!({})), "UNSUPPORTED_OPERATION"),
        (directive("SpeechRecognizer", "ExpectSpeech", json!({})), "UNEXPECTED_INFORMATION_RECEIVED"),
        (directive("SpeechSynthesizer", "Whisper", json!({})), "UNSUPPORTED_OPERATION"),
    ];
    // One at a time: the library holds at most a few exceptions at once (a server that keeps
    // sending unusable directives cannot fill the queue with them; see tests/robustness.rs).
    for (i, (d, _)) in bad.iter().enumerate() {
        push(&mut server, std::slice::from_ref(d));
        wait_events(&mut c, &mut server, "System", "ExceptionEncountered", i + 1);
    }
    let got = exceptions(&mut server);
    for ((d, kind), e) in bad.iter().zip(&got) {
        assert_eq!(e["error"]["type"], json!(kind), "{d}: {e}");
        let unparsed: Value = serde_json::from_str(e["unparsedDirective"].as_str().unwrap()).unwrap();
        assert_eq!(&unparsed, d, "the raw directive is quoted");
        assert!(!e["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(rec.requests.is_empty(), "nothing invalid reached the speaker: {:?}", rec.requests);
    // A refusing speaker: INTERNAL_ERROR, no event, state unchanged.
    rec.refuse = Some(AvsStatus::AudioDevice);
    push(&mut server, &[directive("Speaker", "SetVolume", json!({"volume": 10}))]);
    let got = wait_events(&mut c, &mut server, "System", "ExceptionEncountered", bad.len() + 1);
    assert_eq!(got.last().unwrap()["error"]["type"], "INTERNAL_ERROR");
    // And it keeps working.
    rec.refuse = None;
    push(&mut server, &[directive("Speaker", "SetVolume", json!({"volume": 60}))]);
    assert_eq!(wait_events(&mut c, &mut server, "Speaker", "VolumeChanged", 1), vec![json!({"volume": 60, "muted": false})]);
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn host_volume_changes_send_the_same_events_and_every_context_says_so() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut c = connected(&server, |_| {}, |c| assert_eq!(with_speaker(c, &mut rec, 40, false), AvsStatus::Ok));
    unsafe {
        assert_eq!(avs_client_speaker_set_volume(c.ptr, 70), AvsStatus::Ok);
        assert_eq!(avs_client_speaker_set_mute(c.ptr, CBool(1)), AvsStatus::Ok);
        assert_eq!(avs_client_speaker_set_volume(c.ptr, 101), AvsStatus::InvalidArgument);
        assert_eq!(avs_client_speaker_set_mute(c.ptr, CBool(2)), AvsStatus::InvalidArgument);
        assert_eq!(avs_client_speaker_set_volume(std::ptr::null_mut(), 1), AvsStatus::NullArgument);
        // Registration is before connecting.
        assert_eq!(with_speaker(&c, &mut rec, 1, false), AvsStatus::WrongState);
    }
    assert_eq!(wait_events(&mut c, &mut server, "Speaker", "VolumeChanged", 1), vec![json!({"volume": 70, "muted": false})]);
    assert_eq!(wait_events(&mut c, &mut server, "Speaker", "MuteChanged", 1), vec![json!({"volume": 70, "muted": true})]);
    assert!(rec.requests.is_empty(), "the host's own changes are not applied again");
    // Recognize carries the same context entries, from the state now.
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    c.write_audio(&[0u8; 3200]);
    unsafe { avs_client_end_audio(c.ptr) };
    assert!(c.poll_until(SECS(10), |r, _| r.dialog.iter().any(|d| d.0 == AvsDialogState::Speaking || d.0 == AvsDialogState::Idle && d.1 != AvsStatus::Ok)));
    assert_eq!(
        context_of(&mut server, "SpeechRecognizer", "Recognize"),
        vec![
            ("SpeechRecognizer.RecognizerState".to_string(), json!({"wakeword": "ALEXA"})),
            ("SpeechSynthesizer.SpeechState".to_string(), speech_state_idle()),
            ("Speaker.VolumeState".to_string(), json!({"volume": 70, "muted": true})),
        ]
    );
}

#[test]
fn a_burst_of_50_cloud_volume_changes_gives_50_events_in_order_within_the_stream_cap() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut c = connected(
        &server,
        |cfg| {
            cfg.event_queue_capacity = 1;
            cfg.max_streams = 2;
        },
        |c| assert_eq!(with_speaker(c, &mut rec, 0, false), AvsStatus::Ok),
    );
    let burst: Vec<Value> = (1..=50).map(|v| directive("Speaker", "SetVolume", json!({"volume": v}))).collect();
    push(&mut server, &burst);
    let got = wait_events(&mut c, &mut server, "Speaker", "VolumeChanged", 50);
    let volumes: Vec<u64> = got.iter().map(|p| p["volume"].as_u64().unwrap()).collect();
    assert_eq!(volumes, (1..=50).collect::<Vec<u64>>(), "one event per change, in order");
    assert_eq!(rec.requests.len(), 50);
    // A host event still gets its slot meanwhile.
    let id = c.send("Test", "Ping", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(10)).0, AvsStatus::Ok);
    for conn in server.connections() {
        assert!(conn["max_concurrent_seen"].as_u64().unwrap() <= 2, "never more streams than the cap: {conn}");
    }
}

#[test]
fn directives_nothing_handles_are_answered_unsupported_unless_the_host_claims_them() {
    // No on_directive and no handler: UNSUPPORTED_OPERATION. Speaker not enabled: its
    // directives are unclaimed too, and its entry is absent from the context.
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |_| {}, |_| {});
    assert_eq!(
        context_of(&mut server, "System", "SynchronizeState").into_iter().map(|(k, _)| k).collect::<Vec<_>>(),
        ["SpeechRecognizer.RecognizerState", "SpeechSynthesizer.SpeechState"]
    );
    // The recorder's on_directive counts as handling (the behaviour of 0.2 hosts).
    push(&mut server, &[directive("Alerts", "SetAlert", json!({"token": "a"}))]);
    assert!(c.poll_until(SECS(5), |r, _| r.directives.len() == 1));
    // With a directive handler, its answer decides.
    unsafe extern "C" fn handle(ud: *mut c_void, d: *const AvsDirective) -> i32 {
    handle_status(ud, d) as i32
}
unsafe fn handle_status(ud: *mut c_void, d: *const AvsDirective) -> AvsStatus {
        let seen = &mut *(ud as *mut Vec<String>);
        let d = &*d;
        let name = String::from_utf8_lossy(std::slice::from_raw_parts(d.name.data as *const u8, d.name.len)).into_owned();
        seen.push(name.clone());
        match name.as_str() {
            "Known" => AvsStatus::Ok,
            "BadPayload" => AvsStatus::Malformed,
            "Broken" => AvsStatus::AudioDevice,
            _ => AvsStatus::Unsupported,
        }
    }
    let mut seen: Box<Vec<String>> = Box::default();
    let h = AvsDirectiveHandler { user_data: &mut *seen as *mut Vec<String> as *mut c_void, handle: Some(handle) };
    unsafe {
        assert_eq!(avs_client_set_directive_handler(c.ptr, &h, std::mem::size_of::<AvsDirectiveHandler>()), AvsStatus::Ok);
        assert_eq!(avs_client_set_directive_handler(c.ptr, &h, 4), AvsStatus::InvalidArgument, "a size that does not cover the struct");
        assert_eq!(avs_client_set_directive_handler(c.ptr, std::ptr::null(), 16), AvsStatus::NullArgument);
    }
    let sent = [
        directive("Vendor", "Known", json!({})),
        directive("Vendor", "Unknown", json!({})),
        directive("Speaker", "SetVolume", json!({"volume": 5})),
        directive("Vendor", "BadPayload", json!({})),
        directive("Vendor", "Broken", json!({})),
    ];
    for d in &sent {
        let before = seen.len();
        push(&mut server, std::slice::from_ref(d));
        assert!(c.poll_until(SECS(5), |_, _| seen.len() > before));
        c.run_for(Duration::from_millis(100));
    }
    let got = wait_events(&mut c, &mut server, "System", "ExceptionEncountered", 4);
    assert_eq!(*seen, ["Known", "Unknown", "SetVolume", "BadPayload", "Broken"]);
    let kinds: Vec<&str> = got.iter().map(|e| e["error"]["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["UNSUPPORTED_OPERATION", "UNSUPPORTED_OPERATION", "UNEXPECTED_INFORMATION_RECEIVED", "INTERNAL_ERROR"]);
    assert_eq!(c.rec.directives.len(), 1, "the handler replaced on_directive");
}

#[test]
fn without_any_directive_callback_an_unknown_directive_is_unsupported() {
    let mut server = Server::start(&[]);
    let strings = strings_for(&server, "test-token");
    let cfg = default_config(&strings);
    let mut rec = Box::new(Recorder::default());
    let mut cbs = recorder_callbacks(&mut rec);
    cbs.on_directive = None;
    let mut ptr = std::ptr::null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
    let mut c = TestClient { ptr, rec };
    c.connect();
    c.wait_connected();
    push(&mut server, &[directive("Alerts", "SetAlert", json!({"token": "a"}))]);
    let got = wait_events(&mut c, &mut server, "System", "ExceptionEncountered", 1);
    assert_eq!(got[0]["error"]["type"], "UNSUPPORTED_OPERATION");
}

/// Polls with the host clock at `now` until `done` (the server's reports, say) or 10 s.
fn poll_clock_until(c: &mut TestClient, server: &mut Server, now: u64, mut done: impl FnMut(&mut Server, &TestClient) -> bool) {
    let end = Instant::now() + SECS(10);
    while !done(server, c) && Instant::now() < end {
        poll_clock(c, now, Duration::from_millis(20));
    }
}

/// Polls with a host clock the test controls, for `real` time at that clock.
fn poll_clock(c: &mut TestClient, now: u64, real: Duration) {
    let end = Instant::now() + real;
    while Instant::now() < end {
        let mut next = 0;
        assert_eq!(unsafe { avs_client_poll(c.ptr, now, &mut next) }, AvsStatus::Ok);
        std::thread::sleep(Duration::from_millis(u64::from(next.clamp(1, 5))));
    }
}

#[test]
fn an_hour_of_inactivity_sends_one_report_with_its_seconds_and_activity_starts_the_hour_again() {
    const HOUR: u64 = 3_600_000;
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.ping_interval_ms = 4 * 3_600_000);
    c.connect();
    // The client's clock starts at the first poll, at host time 1000: the hour runs from there.
    let t0 = 1_000;
    let end = Instant::now() + SECS(10);
    while c.state() != AvsConnectionState::Connected && Instant::now() < end {
        poll_clock(&mut c, t0, Duration::from_millis(20));
    }
    assert_eq!(c.state(), AvsConnectionState::Connected);
    poll_clock(&mut c, t0 + HOUR - 1, Duration::from_millis(300));
    assert!(payloads(&mut server, "System", "UserInactivityReport").is_empty(), "not before the hour");
    let reports = |s: &mut Server| payloads(s, "System", "UserInactivityReport").len();
    poll_clock_until(&mut c, &mut server, t0 + HOUR, |s, _| reports(s) >= 1);
    poll_clock(&mut c, t0 + HOUR + 60_000, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport"), vec![json!({"inactiveTimeInSeconds": 3600})], "exactly one in the hour");
    // The host's activity starts the hour again.
    unsafe { assert_eq!(avs_client_user_activity(c.ptr), AvsStatus::Ok) };
    let t1 = t0 + HOUR + 60_000;
    poll_clock(&mut c, t1 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 1);
    poll_clock_until(&mut c, &mut server, t1 + 2 * HOUR, |s, _| reports(s) >= 2);
    poll_clock(&mut c, t1 + 2 * HOUR, Duration::from_millis(300));
    let got = payloads(&mut server, "System", "UserInactivityReport");
    assert_eq!(got.len(), 2, "a jump of two hours sends one report, not two: {got:?}");
    assert_eq!(got[1], json!({"inactiveTimeInSeconds": 7200}));
    // So do ResetUserInactivity and a voice turn.
    push(&mut server, &[directive("System", "ResetUserInactivity", json!({}))]);
    let t2 = t1 + 2 * HOUR;
    poll_clock_until(&mut c, &mut server, t2, |_, c| c.log_contains("<- directive System.ResetUserInactivity"));
    poll_clock(&mut c, t2 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 2, "ResetUserInactivity started the hour again");
    let t3 = t2 + HOUR - 1;
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    unsafe { avs_client_cancel_turn(c.ptr) };
    poll_clock(&mut c, t3 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 2, "a voice turn started the hour again");
    poll_clock_until(&mut c, &mut server, t3 + HOUR, |s, _| reports(s) >= 3);
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").last(), Some(&json!({"inactiveTimeInSeconds": 3600})));
}

#[test]
fn software_info_reports_each_new_firmware_version_once() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |_| {});
    unsafe {
        assert_eq!(avs_client_set_firmware_version(c.ptr, 0), AvsStatus::InvalidArgument);
        assert_eq!(avs_client_set_firmware_version(c.ptr, 42), AvsStatus::Ok, "before connecting: sent once connected");
    }
    c.connect();
    c.wait_connected();
    assert_eq!(wait_events(&mut c, &mut server, "System", "SoftwareInfo", 1), vec![json!({"firmwareVersion": "42"})]);
    unsafe {
        assert_eq!(avs_client_set_firmware_version(c.ptr, 42), AvsStatus::Ok);
        assert_eq!(avs_client_set_firmware_version(c.ptr, 43), AvsStatus::Ok);
    }
    assert_eq!(wait_events(&mut c, &mut server, "System", "SoftwareInfo", 2)[1], json!({"firmwareVersion": "43"}));
}

#[test]
fn set_endpoint_moves_the_connection_to_the_new_endpoint() {
    let mut first = Server::start(&[]);
    let mut second = Server::start(&[]);
    let mut c = connected(&first, |_| {}, |_| {});
    push(&mut first, &[directive("System", "SetEndpoint", json!({"endpoint": second.endpoint()}))]);
    let end = Instant::now() + SECS(10);
    let moved = loop {
        c.run_for(Duration::from_millis(50));
        let synced = second.event_names().contains(&"System.SynchronizeState".to_string());
        if synced || Instant::now() > end {
            break synced;
        }
    };
    assert!(moved, "synchronized with the new endpoint; logs {:#?}", c.rec.logs);
    assert_eq!(c.state(), AvsConnectionState::Connected);
    let id = c.send("Test", "AfterMove", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(10)).0, AvsStatus::Ok);
    assert!(second.event_names().contains(&"Test.AfterMove".to_string()), "new events go to the new endpoint");
    assert!(!first.event_names().contains(&"Test.AfterMove".to_string()));
}

// ---- Alexa.Speaker (v3), Notifications, TemplateRuntime, Settings, capabilities, storage ----

use avs::ffi::interfaces::device::*;
use avs::ffi::interfaces::notifications::*;
use std::ffi::CString;

const ENDPOINT_ID: &str = "avs-test-endpoint";

/// Keeps the device info's strings alive as long as the test needs them.
struct InfoStrings(#[allow(dead_code)] Vec<CString>);

fn with_device_info(c: &TestClient, keep: &mut Vec<InfoStrings>) {
    let s: Vec<CString> = ["avs-test-product", "DSN-0001", ENDPOINT_ID, "Test speaker", "avs", "avs test device", "SPEAKER"]
        .iter()
        .map(|v| CString::new(*v).unwrap())
        .collect();
    let info = AvsDeviceInfo {
        product_id: s[0].as_ptr(),
        serial_number: s[1].as_ptr(),
        endpoint_id: s[2].as_ptr(),
        friendly_name: s[3].as_ptr(),
        manufacturer: s[4].as_ptr(),
        description: s[5].as_ptr(),
        display_category: s[6].as_ptr(),
    };
    assert_eq!(unsafe { avs_client_set_device_info(c.ptr, &info, std::mem::size_of::<AvsDeviceInfo>()) }, AvsStatus::Ok);
    keep.push(InfoStrings(s));
}

/// 2017-02-03T16:20:50.520Z, the spec's example time.
const SPEC_TIME_MS: u64 = 1_486_138_850_520;

/// The whole metadata of the last event `ns.name`.
fn last_event(server: &mut Server, ns: &str, name: &str) -> Value {
    events(server, ns, name).pop().unwrap_or_else(|| panic!("no {ns}.{name}"))["metadata"].clone()
}

/// Replaces each `timeOfSample` with "T" after checking it is the spec's time or just after.
fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(t) = m.get_mut("timeOfSample") {
                let s = t.as_str().unwrap();
                assert!(s.starts_with("2017-02-03T16:2") && s.ends_with('Z') && s.len() == 24, "timeOfSample {s}");
                *t = json!("T");
            }
            m.values_mut().for_each(strip_times);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn props(volume: u64, muted: bool) -> Value {
    json!([
        {"namespace": "Alexa.Speaker", "name": "volume", "value": volume, "timeOfSample": "T", "uncertaintyInMilliseconds": 0},
        {"namespace": "Alexa.Speaker", "name": "muted", "value": muted, "timeOfSample": "T", "uncertaintyInMilliseconds": 0}
    ])
}

fn v3_client(server: &Server, rec: &mut SpeakerRec, keep: &mut Vec<InfoStrings>) -> TestClient {
    connected(server, |_| {}, |c| {
        assert_eq!(with_speaker(c, rec, 40, false), AvsStatus::Ok);
        unsafe { assert_eq!(avs_client_enable_alexa_speaker(c.ptr), AvsStatus::WrongState, "needs the device info") };
        with_device_info(c, keep);
        unsafe {
            assert_eq!(avs_client_enable_alexa_speaker(c.ptr), AvsStatus::Ok);
            assert_eq!(avs_client_set_wall_clock(c.ptr, avs_monotonic_ms(), SPEC_TIME_MS), AvsStatus::Ok);
        }
    })
}

/// Pushes an Alexa.Speaker / Alexa directive through the server's builder; its correlationToken.
fn push_v3(server: &mut Server, interface: &str, name: &str, payload: Option<Value>, endpoint_id: &str) -> String {
    let mut req = json!({"cmd": "push_interface_directive", "interface": interface, "name": name, "endpoint_id": endpoint_id});
    if let Some(p) = payload {
        req["payload"] = p;
    }
    let r = server.cmd(req);
    r["directive"]["directive"]["header"]["correlationToken"].as_str().unwrap().to_string()
}

fn wait_named(c: &mut TestClient, server: &mut Server, ns: &str, name: &str, n: usize) {
    let end = Instant::now() + SECS(10);
    while events(server, ns, name).len() < n && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    assert_eq!(events(server, ns, name).len(), n, "{ns}.{name}; logs {:#?}", c.rec.logs.iter().rev().take(20).collect::<Vec<_>>());
}

fn no_invalid_events(server: &mut Server) {
    let bad: Vec<Value> = server.requests().into_iter().filter(|r| !r["invalid"].is_null()).collect();
    assert!(bad.is_empty(), "the server found events of the wrong shape: {bad:#?}");
}

#[test]
fn alexa_speaker_v3_directives_are_answered_exactly_as_the_spec_shows() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut keep = Vec::new();
    let mut c = v3_client(&server, &mut rec, &mut keep);
    let expect = |name: &str, token: &str, endpoint: Value, payload: Value, context: Option<Value>| {
        let mut e = json!({"event": {"header": {"namespace": "Alexa", "name": name, "messageId": "M", "correlationToken": token, "payloadVersion": "3"}, "endpoint": endpoint, "payload": payload}});
        if let Some(ctx) = context {
            e["context"] = json!({"properties": ctx});
        }
        e
    };
    let got = |server: &mut Server, name: &str| {
        let mut e = last_event(server, "Alexa", name);
        assert!(e["event"]["header"]["messageId"].as_str().unwrap().len() >= 32);
        e["event"]["header"]["messageId"] = json!("M");
        strip_times(&mut e);
        e
    };
    let ep = json!({"endpointId": ENDPOINT_ID});
    let t = push_v3(&mut server, "Alexa.Speaker", "SetVolume", Some(json!({"volume": 50})), ENDPOINT_ID);
    wait_named(&mut c, &mut server, "Alexa", "Response", 1);
    assert_eq!(got(&mut server, "Response"), expect("Response", &t, ep.clone(), json!({}), Some(props(50, false))));
    let t = push_v3(&mut server, "Alexa.Speaker", "AdjustVolume", Some(json!({"volume": -20, "volumeDefault": false})), ENDPOINT_ID);
    wait_named(&mut c, &mut server, "Alexa", "Response", 2);
    assert_eq!(got(&mut server, "Response"), expect("Response", &t, ep.clone(), json!({}), Some(props(30, false))));
    let t = push_v3(&mut server, "Alexa.Speaker", "SetMute", Some(json!({"mute": true})), ENDPOINT_ID);
    wait_named(&mut c, &mut server, "Alexa", "Response", 3);
    assert_eq!(got(&mut server, "Response"), expect("Response", &t, ep.clone(), json!({}), Some(props(30, true))));
    assert_eq!(rec.requests, vec![(50, false), (30, false), (30, true)], "the host's speaker got exactly these");
    let t = push_v3(&mut server, "Alexa", "ReportState", Some(json!({})), ENDPOINT_ID);
    wait_named(&mut c, &mut server, "Alexa", "StateReport", 1);
    let scoped = json!({"scope": {"type": "BearerToken", "token": "test-token"}, "endpointId": ENDPOINT_ID});
    assert_eq!(got(&mut server, "StateReport"), expect("StateReport", &t, scoped.clone(), json!({}), Some(props(30, true))));
    // Errors: the spec's error types, each with the directive's correlationToken.
    let errors = [
        ("SetVolume", json!({"volume": 101}), ENDPOINT_ID, json!({"type": "VALUE_OUT_OF_RANGE", "validRange": {"minimumValue": 0, "maximumValue": 100}})),
        ("AdjustVolume", json!({"volume": -101}), ENDPOINT_ID, json!({"type": "VALUE_OUT_OF_RANGE", "validRange": {"minimumValue": -100, "maximumValue": 100}})),
        ("SetVolume", json!({"volume": "loud"}), ENDPOINT_ID, json!({"type": "INVALID_VALUE"})),
        ("Louder", json!({}), ENDPOINT_ID, json!({"type": "INVALID_DIRECTIVE"})),
    ];
    for (i, (name, payload, endpoint, want)) in errors.iter().enumerate() {
        let t = push_v3(&mut server, "Alexa.Speaker", name, Some(payload.clone()), endpoint);
        wait_named(&mut c, &mut server, "Alexa", "ErrorResponse", i + 1);
        let e = got(&mut server, "ErrorResponse");
        assert_eq!(e["event"]["header"]["correlationToken"], json!(t));
        assert_eq!(e["event"]["endpoint"], ep);
        assert_eq!(e["event"]["payload"]["type"], want["type"], "{name} {payload}: {e}");
        assert_eq!(e["event"]["payload"].get("validRange"), want.get("validRange"));
        assert!(!e["event"]["payload"]["message"].as_str().unwrap().is_empty());
        assert!(e.get("context").is_none());
    }
    // Another endpoint's directive is the host's (it may have more endpoints than this one).
    push_v3(&mut server, "Alexa.Speaker", "SetMute", Some(json!({"mute": false})), "someone-else");
    assert!(c.poll_until(SECS(5), |r, _| r.directives.iter().any(|d| d.0 == "Alexa.Speaker.SetMute")), "another endpoint's directive reaches the host");
    rec.refuse = Some(AvsStatus::AudioDevice);
    push_v3(&mut server, "Alexa.Speaker", "SetVolume", Some(json!({"volume": 10})), ENDPOINT_ID);
    wait_named(&mut c, &mut server, "Alexa", "ErrorResponse", errors.len() + 1);
    assert_eq!(got(&mut server, "ErrorResponse")["event"]["payload"]["type"], "ENDPOINT_UNREACHABLE", "the host said its speaker is unreachable");
    rec.refuse = None;
    // A change another way: ChangeReport with its cause, the changed property in the payload and
    // the unchanged one in the context.
    unsafe { assert_eq!(avs_client_speaker_set_volume(c.ptr, 70), AvsStatus::Ok) };
    wait_named(&mut c, &mut server, "Alexa", "ChangeReport", 1);
    let mut e = last_event(&mut server, "Alexa", "ChangeReport");
    e["event"]["header"]["messageId"] = json!("M");
    strip_times(&mut e);
    let all = props(70, true);
    assert_eq!(
        e,
        json!({"event": {"header": {"namespace": "Alexa", "name": "ChangeReport", "messageId": "M", "payloadVersion": "3"}, "endpoint": scoped,
               "payload": {"change": {"cause": {"type": "PHYSICAL_INTERACTION"}, "properties": [all[0]]}}},
               "context": {"properties": [all[1]]}})
    );
    assert_eq!(c.state(), AvsConnectionState::Connected);
    no_invalid_events(&mut server);
}

#[derive(Default)]
struct IndicatorRec {
    calls: Vec<String>,
}

unsafe extern "C" fn set_indicator(ud: *mut c_void, i: *const AvsIndicator) -> i32 {
    set_indicator_status(ud, i) as i32
}
unsafe fn set_indicator_status(ud: *mut c_void, i: *const AvsIndicator) -> AvsStatus {
    let r = &mut *(ud as *mut IndicatorRec);
    let i = &*i;
    let s = |v: AvsStr| String::from_utf8_lossy(std::slice::from_raw_parts(v.data as *const u8, v.len)).into_owned();
    r.calls.push(format!("set persist={} audio={} {} {}", i.persist_visual_indicator.0, i.play_audio_indicator.0, s(i.asset_id), s(i.asset_url)));
    AvsStatus::Ok
}
unsafe extern "C" fn clear_indicator(ud: *mut c_void) -> i32 {
    clear_indicator_status(ud) as i32
}
unsafe fn clear_indicator_status(ud: *mut c_void) -> AvsStatus {
    (*(ud as *mut IndicatorRec)).calls.push("clear".into());
    AvsStatus::Ok
}

fn with_notifications(c: &TestClient, rec: &mut IndicatorRec) {
    let h = AvsNotificationsHandler { user_data: rec as *mut IndicatorRec as *mut c_void, set_indicator: Some(set_indicator), clear_indicator: Some(clear_indicator) };
    assert_eq!(unsafe { avs_client_set_notifications(c.ptr, &h, std::mem::size_of::<AvsNotificationsHandler>()) }, AvsStatus::Ok);
}

fn send_with_context(c: &TestClient) {
    unsafe { assert_eq!(avs_client_send_event(c.ptr, c"Test".as_ptr(), c"WithContext".as_ptr(), c"{}".as_ptr(), CBool(1), std::ptr::null_mut()), AvsStatus::Ok) };
}

#[test]
fn the_notification_indicator_goes_to_the_host_is_in_the_context_and_survives_a_restart() {
    let mut server = Server::start(&[]);
    let mut store = Box::new(Store::default());
    let mut ind = Box::new(IndicatorRec::default());
    let mut c = connected(&server, |_| {}, |c| {
        with_storage(c, &mut store);
        with_notifications(c, &mut ind);
    });
    let ctx = |server: &mut Server, name: &str| context_of(server, "Test", name).into_iter().find(|(k, _)| k == "Notifications.IndicatorState").map(|(_, v)| v);
    assert_eq!(context_of(&mut server, "System", "SynchronizeState").last().unwrap(), &("Notifications.IndicatorState".to_string(), json!({"isEnabled": false, "isVisualIndicatorPersisted": false})));
    push(&mut server, &[directive("Notifications", "SetIndicator", json!({"persistVisualIndicator": true, "playAudioIndicator": true, "asset": {"assetId": "chime", "url": "https://example.com/chime.mp3"}}))]);
    assert!(c.poll_until(SECS(5), |_, _| !ind.calls.is_empty()));
    assert_eq!(ind.calls, ["set persist=1 audio=1 chime https://example.com/chime.mp3"]);
    send_with_context(&c);
    wait_named(&mut c, &mut server, "Test", "WithContext", 1);
    assert_eq!(ctx(&mut server, "WithContext"), Some(json!({"isEnabled": true, "isVisualIndicatorPersisted": true})));
    // Invalid: the exception, and the indicator stays.
    push(&mut server, &[directive("Notifications", "SetIndicator", json!({"persistVisualIndicator": "yes", "playAudioIndicator": false}))]);
    let e = wait_events(&mut c, &mut server, "System", "ExceptionEncountered", 1);
    assert_eq!(e[0]["error"]["type"], "UNEXPECTED_INFORMATION_RECEIVED");
    assert_eq!(ind.calls.len(), 1);
    // A restart: the next client with the same storage shows the indicator again.
    drop(c);
    let mut ind2 = Box::new(IndicatorRec::default());
    let mut c = connected(&server, |_| {}, |c| {
        with_storage(c, &mut store);
        with_notifications(c, &mut ind2);
    });
    assert_eq!(ind2.calls, ["set persist=1 audio=0  "], "restored at connect, without sounding again");
    assert_eq!(context_of(&mut server, "System", "SynchronizeState").last().unwrap().1, json!({"isEnabled": true, "isVisualIndicatorPersisted": true}));
    push(&mut server, &[directive("Notifications", "ClearIndicator", json!({}))]);
    assert!(c.poll_until(SECS(5), |_, _| ind2.calls.len() == 2));
    assert_eq!(ind2.calls[1], "clear");
    send_with_context(&c);
    wait_named(&mut c, &mut server, "Test", "WithContext", 2);
    assert_eq!(ctx(&mut server, "WithContext"), Some(json!({"isEnabled": false, "isVisualIndicatorPersisted": false})));
    assert_eq!(store.values.get("indicator"), Some(&vec![0, 0]));
    no_invalid_events(&mut server);
}

#[derive(Default)]
struct Cards {
    seen: Vec<(String, Value, Value, String)>,
}

unsafe extern "C" fn render(ud: *mut c_void, card: *const AvsCard) -> i32 {
    render_status(ud, card) as i32
}
unsafe fn render_status(ud: *mut c_void, card: *const AvsCard) -> AvsStatus {
    let r = &mut *(ud as *mut Cards);
    let c = &*card;
    let s = |v: AvsStr| String::from_utf8_lossy(std::slice::from_raw_parts(v.data as *const u8, v.len)).into_owned();
    r.seen.push((s(c.name), serde_json::from_str(&s(c.payload)).unwrap(), serde_json::from_str(&s(c.json)).unwrap(), s(c.dialog_request_id)));
    AvsStatus::Ok
}

#[test]
fn template_cards_reach_the_host_as_their_json_and_invalid_ones_are_refused() {
    let mut server = Server::start(&[]);
    let mut cards = Box::new(Cards::default());
    let mut c = connected(&server, |_| {}, |c| {
        let h = AvsTemplateHandler { user_data: &mut *cards as *mut Cards as *mut c_void, render: Some(render) };
        assert_eq!(unsafe { avs_client_set_template_runtime(c.ptr, &h, std::mem::size_of::<AvsTemplateHandler>()) }, AvsStatus::Ok);
    });
    let card = directive("TemplateRuntime", "RenderTemplate", json!({"token": "t1", "type": "BodyTemplate1", "title": {"mainTitle": "Weather"}, "textField": "Sunny"}));
    let info = directive("TemplateRuntime", "RenderPlayerInfo", json!({"audioItemId": "a1", "content": {"title": "Song"}}));
    push(&mut server, &[card.clone(), info.clone()]);
    assert!(c.poll_until(SECS(5), |_, _| cards.seen.len() == 2));
    assert_eq!(cards.seen[0], ("RenderTemplate".to_string(), card["directive"]["payload"].clone(), card.clone(), String::new()));
    assert_eq!(cards.seen[1], ("RenderPlayerInfo".to_string(), info["directive"]["payload"].clone(), info.clone(), String::new()));
    push(&mut server, &[directive("TemplateRuntime", "RenderTemplate", json!({"type": "BodyTemplate1"}))]);
    let e = wait_events(&mut c, &mut server, "System", "ExceptionEncountered", 1);
    assert_eq!(e[0]["error"]["type"], "UNEXPECTED_INFORMATION_RECEIVED");
    assert_eq!(cards.seen.len(), 2);
}

#[test]
fn settings_updated_tells_avs_the_locale() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |_| {}, |_| {});
    unsafe {
        assert_eq!(avs_client_set_locale(c.ptr, c"xx-XX".as_ptr()), AvsStatus::InvalidArgument);
        assert_eq!(avs_client_set_locale(c.ptr, c"de-DE".as_ptr()), AvsStatus::Ok);
        assert_eq!(avs_client_set_locale(c.ptr, c"de-DE".as_ptr()), AvsStatus::Ok, "the same locale again sends nothing");
    }
    assert_eq!(wait_events(&mut c, &mut server, "Settings", "SettingsUpdated", 1), vec![json!({"settings": [{"key": "locale", "value": "de-DE"}]})]);
    no_invalid_events(&mut server);
}

#[test]
fn capabilities_are_published_from_what_is_enabled_once_and_again_when_they_change() {
    let mut server = Server::start(&[]);
    let mut store = Box::new(Store::default());
    let mut keep = Vec::new();
    let mut rec = Box::new(SpeakerRec::default());
    let mut ind = Box::new(IndicatorRec::default());
    let setup = |c: &TestClient, store: &mut Store, rec: &mut SpeakerRec, ind: &mut IndicatorRec, keep: &mut Vec<InfoStrings>, firmware: u32| {
        with_storage(c, store);
        assert_eq!(with_speaker(c, rec, 40, false), AvsStatus::Ok);
        with_device_info(c, keep);
        with_notifications(c, ind);
        unsafe {
            assert_eq!(avs_client_enable_alexa_speaker(c.ptr), AvsStatus::Ok);
            assert_eq!(avs_client_set_firmware_version(c.ptr, firmware), AvsStatus::Ok);
        }
    };
    let mut c = connected(&server, |_| {}, |c| setup(c, &mut store, &mut rec, &mut ind, &mut keep, 7));
    let end = Instant::now() + SECS(10);
    while server.cmd(json!({"cmd": "capabilities"}))["capabilities"].is_null() && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    let caps = server.cmd(json!({"cmd": "capabilities"}));
    let iface = |i: &str, v: &str| json!({"type": "AlexaInterface", "interface": i, "version": v});
    let mut speaker_v3 = iface("Alexa.Speaker", "3");
    speaker_v3["properties"] = json!({"supported": [{"name": "volume"}, {"name": "muted"}], "retrievable": true, "proactivelyReported": true});
    assert_eq!(
        caps["capabilities"],
        json!({"endpoints": [{
            "endpointId": ENDPOINT_ID, "manufacturerName": "avs", "description": "avs test device", "friendlyName": "Test speaker",
            "displayCategories": ["SPEAKER"], "registration": {"productId": "avs-test-product", "deviceSerialNumber": "DSN-0001"},
            "capabilities": [iface("SpeechRecognizer", "2.0"), iface("SpeechSynthesizer", "1.0"), iface("System", "1.0"), iface("Speaker", "1.0"),
                             iface("Notifications", "1.0"), speaker_v3, iface("Alexa", "3")]
        }], "scope": {"type": "BearerToken", "token": "test-token"}})
    );
    assert!(c.poll_until(SECS(10), |_, _| store.values.contains_key("capabilities")), "the digest is kept once AVS accepted the report");
    // A reboot with the same capabilities publishes nothing; a new firmware version does.
    drop(c);
    let mut c = connected(&server, |_| {}, |c| setup(c, &mut store, &mut rec, &mut ind, &mut keep, 7));
    c.run_for(Duration::from_millis(500));
    assert_eq!(caps_reports(&mut server), 1, "same capabilities after a reboot: not sent again");
    drop(c);
    let mut c = connected(&server, |_| {}, |c| setup(c, &mut store, &mut rec, &mut ind, &mut keep, 8));
    let end = Instant::now() + SECS(10);
    while caps_reports(&mut server) < 2 && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    assert_eq!(caps_reports(&mut server), 2, "a new firmware version publishes them again");
    assert_eq!(payloads(&mut server, "System", "SoftwareInfo"), vec![json!({"firmwareVersion": "7"}), json!({"firmwareVersion": "8"})], "SoftwareInfo once per version, across reboots");
    no_invalid_events(&mut server);
}

fn caps_reports(server: &mut Server) -> usize {
    events(server, "Alexa.Discovery", "AddOrUpdateReport").len()
}

#[test]
fn an_endpoint_from_set_endpoint_is_kept_through_the_hosts_storage() {
    let mut first = Server::start(&[]);
    let mut second = Server::start(&[]);
    let mut store = Box::new(Store::default());
    let mut c = connected(&first, |_| {}, |c| with_storage(c, &mut store));
    push(&mut first, &[directive("System", "SetEndpoint", json!({"endpoint": second.endpoint()}))]);
    let end = Instant::now() + SECS(10);
    while !store.values.contains_key("endpoint") && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    assert_eq!(store.values.get("endpoint").map(|v| String::from_utf8_lossy(v).into_owned()), Some(second.endpoint()));
    drop(c);
    // After a restart the client goes straight to the endpoint it was moved to.
    let syncs = |s: &mut Server| s.event_names().iter().filter(|n| *n == "System.SynchronizeState").count();
    let (before_first, before_second) = (first.connections().len(), syncs(&mut second));
    let c = connected(&first, |_| {}, |c| with_storage(c, &mut store));
    assert_eq!(syncs(&mut second), before_second + 1, "synchronized with the endpoint it was moved to");
    assert_eq!(first.connections().len(), before_first, "the old endpoint is not contacted");
    drop(c);
}

/// An event's metadata with its messageId replaced by "M" (checked to be an id first).
fn normalized(mut e: Value) -> Value {
    let id = e["event"]["header"]["messageId"].as_str().unwrap_or("").to_string();
    assert!(id.len() >= 32, "a messageId: {e}");
    e["event"]["header"]["messageId"] = json!("M");
    e
}

#[test]
fn every_event_has_the_exact_shape_and_every_context_an_entry_per_enabled_interface() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut ind = Box::new(IndicatorRec::default());
    let mut keep = Vec::new();
    let mut c = connected(&server, |_| {}, |c| {
        assert_eq!(with_speaker(c, &mut rec, 40, false), AvsStatus::Ok);
        with_notifications(c, &mut ind);
        with_device_info(c, &mut keep);
        refusing_host(c);
        unsafe {
            assert_eq!(avs_client_enable_alexa_speaker(c.ptr), AvsStatus::Ok);
            assert_eq!(avs_client_set_wall_clock(c.ptr, avs_monotonic_ms(), SPEC_TIME_MS), AvsStatus::Ok);
        }
    });
    let context = |volume: u64, muted: bool| {
        json!([
            {"header": {"namespace": "SpeechRecognizer", "name": "RecognizerState"}, "payload": {"wakeword": "ALEXA"}},
            {"header": {"namespace": "SpeechSynthesizer", "name": "SpeechState"}, "payload": speech_state_idle()},
            {"header": {"namespace": "Speaker", "name": "VolumeState"}, "payload": {"volume": volume, "muted": muted}},
            {"header": {"namespace": "Notifications", "name": "IndicatorState"}, "payload": {"isEnabled": false, "isVisualIndicatorPersisted": false}}
        ])
    };
    assert_eq!(last_event(&mut server, "System", "SynchronizeState")["context"], context(40, false), "SynchronizeState: one entry per enabled interface");
    let plain = |ns: &str, name: &str, payload: Value| json!({"event": {"header": {"namespace": ns, "name": name, "messageId": "M"}, "payload": payload}});
    unsafe {
        assert_eq!(avs_client_set_firmware_version(c.ptr, 5), AvsStatus::Ok);
        assert_eq!(avs_client_set_locale(c.ptr, c"en-US".as_ptr()), AvsStatus::Ok);
    }
    wait_named(&mut c, &mut server, "System", "SoftwareInfo", 1);
    wait_named(&mut c, &mut server, "Settings", "SettingsUpdated", 1);
    assert_eq!(normalized(last_event(&mut server, "System", "SoftwareInfo")), plain("System", "SoftwareInfo", json!({"firmwareVersion": "5"})));
    assert_eq!(
        normalized(last_event(&mut server, "Settings", "SettingsUpdated")),
        plain("Settings", "SettingsUpdated", json!({"settings": [{"key": "locale", "value": "en-US"}]}))
    );
    push(&mut server, &[directive("Speaker", "SetVolume", json!({"volume": 20}))]);
    wait_named(&mut c, &mut server, "Speaker", "VolumeChanged", 1);
    assert_eq!(normalized(last_event(&mut server, "Speaker", "VolumeChanged")), plain("Speaker", "VolumeChanged", json!({"volume": 20, "muted": false})));
    // The v3 endpoint reports the same change, caused by voice through the other interface.
    wait_named(&mut c, &mut server, "Alexa", "ChangeReport", 1);
    let report = last_event(&mut server, "Alexa", "ChangeReport");
    assert_eq!(report["event"]["payload"]["change"]["cause"]["type"], "VOICE_INTERACTION");
    assert_eq!(report["event"]["payload"]["change"]["properties"][0]["name"], "volume");
    assert_eq!(report["event"]["payload"]["change"]["properties"][0]["value"], 20);
    push(&mut server, &[directive("Speaker", "SetMute", json!({"mute": true}))]);
    wait_named(&mut c, &mut server, "Speaker", "MuteChanged", 1);
    assert_eq!(normalized(last_event(&mut server, "Speaker", "MuteChanged")), plain("Speaker", "MuteChanged", json!({"volume": 20, "muted": true})));
    let bogus = directive("Speaker", "Bogus", json!({}));
    push(&mut server, std::slice::from_ref(&bogus));
    wait_named(&mut c, &mut server, "System", "ExceptionEncountered", 1);
    let mut e = normalized(last_event(&mut server, "System", "ExceptionEncountered"));
    let unparsed: Value = serde_json::from_str(e["event"]["payload"]["unparsedDirective"].as_str().unwrap()).unwrap();
    assert_eq!(unparsed, bogus);
    e["event"]["payload"]["unparsedDirective"] = json!("D");
    assert_eq!(
        e,
        json!({"context": context(20, true), "event": {"header": {"namespace": "System", "name": "ExceptionEncountered", "messageId": "M"},
               "payload": {"unparsedDirective": "D", "error": {"type": "UNSUPPORTED_OPERATION", "message": "directive not supported by this device"}}}})
    );
    // Recognize: the same entries, from the state when it is sent.
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    c.write_audio(&[0u8; 3200]);
    unsafe { avs_client_end_audio(c.ptr) };
    wait_named(&mut c, &mut server, "SpeechRecognizer", "Recognize", 1);
    assert_eq!(last_event(&mut server, "SpeechRecognizer", "Recognize")["context"], context(20, true));
    no_invalid_events(&mut server);
}

#[test]
fn a_queued_v3_report_carries_the_token_in_use_when_it_is_sent() {
    let mut server = Server::start(&[]);
    let mut rec = Box::new(SpeakerRec::default());
    let mut keep = Vec::new();
    let mut c = TestClient::new(&server, |_| {});
    assert_eq!(with_speaker(&c, &mut rec, 40, false), AvsStatus::Ok);
    with_device_info(&c, &mut keep);
    unsafe {
        assert_eq!(avs_client_enable_alexa_speaker(c.ptr), AvsStatus::Ok);
        // Queued while disconnected, then the token is replaced before it goes.
        assert_eq!(avs_client_speaker_set_volume(c.ptr, 65), AvsStatus::Ok);
        server.cmd(json!({"cmd": "set_token", "token": "fresh-token"}));
        assert_eq!(avs_client_set_token(c.ptr, c"fresh-token".as_ptr()), AvsStatus::Ok);
    }
    c.connect();
    c.wait_connected();
    wait_named(&mut c, &mut server, "Alexa", "ChangeReport", 1);
    let report = last_event(&mut server, "Alexa", "ChangeReport");
    assert_eq!(report["event"]["endpoint"]["scope"], json!({"type": "BearerToken", "token": "fresh-token"}));
    assert_eq!(report["event"]["payload"]["change"]["cause"]["type"], "PHYSICAL_INTERACTION");
}

#[test]
fn software_info_counts_as_heard_only_once_avs_accepted_it() {
    let mut server = Server::start(&[]);
    let mut store = Box::new(Store::default());
    server.cmd(json!({"cmd": "script_event", "name": "System.SoftwareInfo", "status": 400, "exception": {"code": "INVALID_REQUEST_EXCEPTION", "description": "scripted"}}));
    let mut c = connected(&server, |_| {}, |c| {
        with_storage(c, &mut store);
        unsafe { assert_eq!(avs_client_set_firmware_version(c.ptr, 9), AvsStatus::Ok) };
    });
    wait_named(&mut c, &mut server, "System", "SoftwareInfo", 1);
    c.run_for(Duration::from_millis(300));
    assert!(!store.values.contains_key("software-info"), "refused: not kept as heard");
    assert_eq!(events(&mut server, "System", "SoftwareInfo").len(), 1, "not sent again in a loop");
    drop(c);
    let mut c = connected(&server, |_| {}, |c| {
        with_storage(c, &mut store);
        unsafe { assert_eq!(avs_client_set_firmware_version(c.ptr, 9), AvsStatus::Ok) };
    });
    wait_named(&mut c, &mut server, "System", "SoftwareInfo", 2);
    assert!(c.poll_until(SECS(10), |_, _| store.values.contains_key("software-info")));
    assert_eq!(store.values.get("software-info"), Some(&9u32.to_le_bytes().to_vec()), "accepted: kept as heard");
}

#[test]
fn names_an_interface_does_not_have_go_to_the_host() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |_| {}, |_| {});
    push(&mut server, &[directive("System", "ReportSoftwareInfo", json!({})), directive("SpeechSynthesizer", "Whisper", json!({}))]);
    assert!(c.poll_until(SECS(5), |r, _| r.directives.len() == 2), "{:?}", c.rec.directives);
    assert_eq!(c.rec.directives.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(), ["System.ReportSoftwareInfo", "SpeechSynthesizer.Whisper"]);
    c.run_for(Duration::from_millis(200));
    assert!(exceptions(&mut server).is_empty(), "the host's on_directive took them");
}

#[test]
fn capabilities_that_change_while_connected_are_published_again() {
    let mut server = Server::start(&[]);
    let mut keep = Vec::new();
    let mut c = connected(&server, |_| {}, |c| with_device_info(c, &mut keep));
    let interfaces = |server: &mut Server| -> Vec<String> {
        let caps = server.cmd(json!({"cmd": "capabilities"}));
        caps["capabilities"]["endpoints"][0]["capabilities"].as_array().map(|a| a.iter().map(|c| c["interface"].as_str().unwrap().to_string()).collect()).unwrap_or_default()
    };
    let end = Instant::now() + SECS(10);
    while caps_reports(&mut server) < 1 && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    assert_eq!(interfaces(&mut server), ["SpeechRecognizer", "SpeechSynthesizer", "System"]);
    // The locale turns Settings on.
    unsafe { assert_eq!(avs_client_set_locale(c.ptr, c"en-US".as_ptr()), AvsStatus::Ok) };
    let end = Instant::now() + SECS(10);
    while caps_reports(&mut server) < 2 && Instant::now() < end {
        c.run_for(Duration::from_millis(50));
    }
    assert_eq!(interfaces(&mut server), ["SpeechRecognizer", "SpeechSynthesizer", "System", "Settings"]);
    // The same again changes nothing.
    unsafe { assert_eq!(avs_client_set_locale(c.ptr, c"en-US".as_ptr()), AvsStatus::Ok) };
    c.run_for(Duration::from_millis(300));
    assert_eq!(caps_reports(&mut server), 2);
    no_invalid_events(&mut server);
}

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

unsafe extern "C" fn apply(ud: *mut c_void, v: *mut AvsVolume) -> AvsStatus {
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
    let mut c = connected(&server, |_| {}, |c| assert_eq!(with_speaker(c, &mut rec, 40, false), AvsStatus::Ok));
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
    unsafe extern "C" fn handle(ud: *mut c_void, d: *const AvsDirective) -> AvsStatus {
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
    poll_clock(&mut c, t0 + HOUR, Duration::from_millis(300));
    poll_clock(&mut c, t0 + HOUR + 60_000, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport"), vec![json!({"inactiveTimeInSeconds": 3600})], "exactly one in the hour");
    // The host's activity starts the hour again.
    unsafe { assert_eq!(avs_client_user_activity(c.ptr), AvsStatus::Ok) };
    let t1 = t0 + HOUR + 60_000;
    poll_clock(&mut c, t1 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 1);
    poll_clock(&mut c, t1 + 2 * HOUR, Duration::from_millis(300));
    let got = payloads(&mut server, "System", "UserInactivityReport");
    assert_eq!(got.len(), 2, "a jump of two hours sends one report, not two: {got:?}");
    assert_eq!(got[1], json!({"inactiveTimeInSeconds": 7200}));
    // So do ResetUserInactivity and a voice turn.
    push(&mut server, &[directive("System", "ResetUserInactivity", json!({}))]);
    let t2 = t1 + 2 * HOUR;
    poll_clock(&mut c, t2, Duration::from_millis(300));
    poll_clock(&mut c, t2 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 2, "ResetUserInactivity started the hour again");
    let t3 = t2 + HOUR - 1;
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    unsafe { avs_client_cancel_turn(c.ptr) };
    poll_clock(&mut c, t3 + HOUR - 1, Duration::from_millis(300));
    assert_eq!(payloads(&mut server, "System", "UserInactivityReport").len(), 2, "a voice turn started the hour again");
    poll_clock(&mut c, t3 + HOUR, Duration::from_millis(300));
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

//! Server-side faults through the C API against the local AVS server: RST_STREAM from the server
//! (mid-turn and on ordinary events), 429 with back-off, GOAWAY with a low last-stream-id.
//! Each test checks what the host sees (callbacks), what the server saw (its request log), and
//! that the connection is still usable afterwards.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const FAST: Duration = Duration::from_millis(4);
const INTERNAL_ERROR: u32 = 2;
const REFUSED_STREAM: u32 = 7;
const CANCEL: u32 = 8;

fn connected(server: &Server, tune: impl FnOnce(&mut AvsConfig)) -> TestClient {
    let mut c = TestClient::new(server, tune);
    c.connect();
    c.wait_connected();
    c
}

/// The server's records of the events named `name` (`Name` of `Namespace.Name`), in arrival order.
fn events_named(server: &mut Server, name: &str) -> Vec<Value> {
    server.requests().into_iter().filter(|r| r["event"]["name"] == name).collect()
}

/// How many times the server saw each event, by `Namespace.Name`.
fn event_counts(server: &mut Server) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for n in server.event_names() {
        *m.entry(n).or_insert(0) += 1;
    }
    m
}

/// Every outcome the host got for event `id`.
fn outcomes(c: &TestClient, id: u32) -> Vec<(AvsStatus, u16)> {
    c.rec.outcomes.iter().filter(|o| o.0 == id).map(|o| (o.1, o.2)).collect()
}

/// Polls the client until the server's request log satisfies `pred` (the log is read every
/// 20 ms: the client must keep being polled for its requests to go out).
fn poll_until_server(c: &mut TestClient, server: &mut Server, timeout: Duration, pred: impl Fn(&[Value]) -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        c.run_for(Duration::from_millis(20));
        if pred(&server.requests()) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
    }
}

fn states(c: &TestClient) -> Vec<(AvsConnectionState, AvsStatus)> {
    c.rec.states.iter().map(|s| (s.0, s.1)).collect()
}

/// After a fault on a stream: still the one connection with its one downchannel, which still
/// delivers directives, and the client never left CONNECTED.
fn assert_connection_survived(c: &mut TestClient, server: &mut Server, states_before: usize) {
    assert_eq!(c.state(), AvsConnectionState::Connected);
    assert_eq!(c.rec.states.len(), states_before, "no connection state change: {:?}", states(c));
    let conns = server.connections();
    assert_eq!(conns.len(), 1, "no reconnect");
    assert_eq!(conns[0]["downchannel_streams"].as_array().unwrap().len(), 1, "the downchannel was not reopened: it survived");
    let n = c.rec.directives.len();
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 33}))]}));
    assert!(c.poll_until(SECS(3), |r, _| r.directives.len() > n), "the downchannel still delivers");
}

/// A whole NEAR_FIELD turn from the start of `pcm`: the Speak arrives and is played. Checks the
/// server got exactly this turn's audio (nothing left over from an earlier turn).
fn next_turn_works(c: &mut TestClient, server: &mut Server, pcm: &[u8]) {
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400}));
    let done = c.rec.speech_done.len();
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok, "a new turn can start");
    c.stream_audio(pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() > done), "the next turn is answered: {:#?}", c.rec.logs);
    let a = server.cmd(json!({"cmd": "audio", "index": -1}));
    let audio = unb64(a["audio_b64"].as_str().unwrap());
    assert!(audio.len() >= 6400 && audio == pcm[..audio.len()], "the next turn's audio is its own, from its first sample ({} bytes)", audio.len());
    c.play_speaks();
    c.run_for(Duration::from_millis(200));
}

// ------------------------------------------------------------------ RST_STREAM mid-turn

#[test]
fn server_reset_of_recognize_mid_audio_ends_the_turn_and_keeps_the_connection() {
    let mut server = Server::start(&[]);
    // No StopCapture: the audio streams until the server resets the stream.
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 1_000_000}));
    let mut c = connected(&server, |cfg| cfg.turn_timeout_ms = 30_000);
    let states_before = c.rec.states.len();
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    assert_eq!(c.stream_audio(&pcm[..6400], FAST), 6400);
    let before = c.send("Test", "DuringTurn", "{}").unwrap();
    assert_eq!(c.stream_audio(&pcm[6400..32000], FAST), 25600);
    assert_eq!(c.dialog_state(), AvsDialogState::Listening);
    let rec = events_named(&mut server, "Recognize").pop().expect("Recognize open");
    assert!(rec["audio_bytes"].as_u64().unwrap() > 0 && rec["t_audio_end"].is_null() && rec["t_closed"].is_null(), "mid-audio: {rec}");
    server.cmd(json!({"cmd": "reset_stream", "name": "Recognize", "code": INTERNAL_ERROR}));
    let after = c.send("Test", "AfterReset", "{}").unwrap();
    let taken = c.stream_audio(&pcm[32000..], FAST);
    assert!(taken < pcm.len() - 32000, "the audio stopped being taken once the stream was reset");
    assert!(c.poll_until(SECS(3), |r, _| r.dialog.last().map(|d| d.0) == Some(AvsDialogState::Idle)), "{:?}", c.rec.dialog);
    let (state, reason) = *c.rec.dialog.last().unwrap();
    assert_eq!(state, AvsDialogState::Idle);
    assert_eq!(reason, AvsStatus::StreamReset, "the turn ended for the reset, saying so");
    assert!(c.log_contains(&format!("stream code {INTERNAL_ERROR}")), "the log names the reset: {:#?}", c.rec.logs);
    assert_eq!(c.write_audio(&pcm[..320]), AvsStatus::WrongState, "no audio is taken after the turn ended");
    assert!(c.rec.speaks.is_empty());
    for id in [before, after] {
        c.wait_outcome(id, SECS(5));
    }
    c.run_for(Duration::from_millis(200));
    assert_eq!(outcomes(&c, before), vec![(AvsStatus::Ok, 204)], "one outcome for the event sent during the turn");
    assert_eq!(outcomes(&c, after), vec![(AvsStatus::Ok, 204)], "one outcome for the event sent as the stream was reset");
    assert_connection_survived(&mut c, &mut server, states_before);
    next_turn_works(&mut c, &mut server, &pcm);
    let want: BTreeMap<String, usize> = [
        ("System.SynchronizeState", 1),
        ("SpeechRecognizer.Recognize", 2), // the reset one is not retried
        ("Test.DuringTurn", 1),
        ("Test.AfterReset", 1),
        ("SpeechSynthesizer.SpeechStarted", 1),
        ("SpeechSynthesizer.SpeechFinished", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(event_counts(&mut server), want, "no event lost or duplicated");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn server_reset_of_recognize_after_stop_capture_before_speak_ends_the_turn() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400}));
    // The server resets the Recognize stream as the client ends its audio: StopCapture
    // arrived, the Speak never will.
    server.cmd(json!({"cmd": "reset_stream", "name": "Recognize", "when": "end_stream", "code": "CANCEL"}));
    let mut c = connected(&server, |cfg| cfg.turn_timeout_ms = 30_000);
    let states_before = c.rec.states.len();
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    let taken = c.stream_audio(&pcm, FAST);
    assert!(taken < pcm.len(), "StopCapture ended the audio");
    assert!(c.poll_until(SECS(3), |r, _| r.dialog.last().map(|d| d.0) == Some(AvsDialogState::Idle)), "{:?}", c.rec.dialog);
    let dialog: Vec<AvsDialogState> = c.rec.dialog.iter().map(|d| d.0).collect();
    assert_eq!(dialog, vec![AvsDialogState::Listening, AvsDialogState::Thinking, AvsDialogState::Idle]);
    let reason = c.rec.dialog.last().unwrap().1;
    assert_eq!(reason, AvsStatus::StreamReset, "the turn ended for the reset, saying so");
    assert!(c.log_contains(&format!("stream code {CANCEL}")), "the log names the reset: {:#?}", c.rec.logs);
    let rec = events_named(&mut server, "Recognize").pop().unwrap();
    assert!(!rec["t_stop_capture"].is_null() && !rec["t_end"].is_null(), "StopCapture went out and the client ended the audio: {rec}");
    assert!(rec["error"].as_str().unwrap_or("").contains("at end_stream"), "the server reset it before the Speak: {rec}");
    assert!(c.rec.speaks.is_empty() && c.rec.speech_audio.is_empty(), "no Speak reached the host");
    assert_connection_survived(&mut c, &mut server, states_before);
    next_turn_works(&mut c, &mut server, &pcm);
    let counts = event_counts(&mut server);
    assert_eq!(counts.get("SpeechRecognizer.Recognize"), Some(&2), "{counts:?}");
    assert_eq!(counts.get("SpeechSynthesizer.SpeechStarted"), Some(&1), "playback reported for the answered turn only: {counts:?}");
    assert_eq!(counts.get("SpeechSynthesizer.SpeechFinished"), Some(&1), "{counts:?}");
}

// ------------------------------------------------------------------ RST_STREAM on events

#[test]
fn server_reset_of_an_event_before_its_headers_is_retried_with_one_outcome() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "Internal", "count": 1, "reset": INTERNAL_ERROR}));
    server.cmd(json!({"cmd": "script_event", "name": "Refused", "count": 2, "reset": REFUSED_STREAM}));
    // Reset on every attempt it gets (max_event_attempts = 3).
    server.cmd(json!({"cmd": "script_event", "name": "Always", "count": 3, "reset": INTERNAL_ERROR}));
    let mut c = connected(&server, |cfg| cfg.max_event_attempts = 3);
    let states_before = c.rec.states.len();
    let internal = c.send("Test", "Internal", "{}").unwrap();
    let refused = c.send("Test", "Refused", "{}").unwrap();
    let always = c.send("Test", "Always", "{}").unwrap();
    let later = c.send("Test", "Later", "{}").unwrap();
    for id in [internal, refused, always, later] {
        c.wait_outcome(id, SECS(5));
    }
    c.run_for(Duration::from_millis(300));
    assert_eq!(outcomes(&c, internal), vec![(AvsStatus::Ok, 204)]);
    assert_eq!(outcomes(&c, refused), vec![(AvsStatus::Ok, 204)]);
    let gave_up = outcomes(&c, always);
    assert_eq!(gave_up.len(), 1, "exactly one outcome once the attempts ran out: {gave_up:?}");
    assert_eq!(gave_up[0].0, AvsStatus::StreamReset, "the outcome says the server reset it");
    assert_eq!(outcomes(&c, later), vec![(AvsStatus::Ok, 204)], "later events still flow");
    for (name, attempts) in [("Internal", 2), ("Refused", 3), ("Always", 3), ("Later", 1)] {
        let recs = events_named(&mut server, name);
        assert_eq!(recs.len(), attempts, "{name}: attempts the server saw");
        let answered: Vec<&Value> = recs.iter().filter(|r| !r["status"].is_null()).collect();
        assert_eq!(answered.len(), usize::from(name != "Always"), "{name}: answered at most once");
    }
    assert_connection_survived(&mut c, &mut server, states_before);
}

// ------------------------------------------------------------------ 429

/// Times (server clock, ms) at which the server got each attempt of event `name`.
fn attempt_times_ms(server: &mut Server, name: &str) -> Vec<f64> {
    events_named(server, name).iter().map(|r| r["t_headers"].as_f64().unwrap() * 1000.0).collect()
}

const BASE_MS: u32 = 150;

#[test]
fn throttled_event_is_retried_with_growing_back_off_and_one_outcome() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "Throttled", "count": 3, "status": 429}));
    let mut c = connected(&server, |cfg| {
        cfg.backoff_base_ms = BASE_MS;
        cfg.backoff_max_ms = 10_000;
        cfg.max_event_attempts = 5;
    });
    let id = c.send("Test", "Throttled", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(10)), (AvsStatus::Ok, 204));
    c.run_for(Duration::from_millis(200));
    assert_eq!(outcomes(&c, id), vec![(AvsStatus::Ok, 204)], "one outcome, after the retries");
    let throttled: Vec<_> = c.rec.exceptions.iter().filter(|e| e.0 == id).collect();
    assert_eq!(throttled.len(), 3, "each 429 reported as an exception: {throttled:?}");
    assert!(throttled.iter().all(|e| e.1 == 429 && e.2 == "THROTTLING_EXCEPTION"));
    let t = attempt_times_ms(&mut server, "Throttled");
    assert_eq!(t.len(), 4, "three 429s, then the answer");
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    // Retry n waits a delay drawn from [d/2, d], d = base·2ⁿ: at least d/2 (less a few ms of
    // clock granularity), and the delays grow (the third retry's floor is the first's ceiling ×2).
    for (n, gap) in gaps.iter().enumerate() {
        let floor = f64::from(BASE_MS << n) / 2.0;
        assert!(*gap >= floor - 5.0, "retry {n} after {gap:.0} ms, before its back-off floor {floor} ms: {gaps:?}");
    }
    assert!(gaps[2] > gaps[0], "the back-off grows: {gaps:?}");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn throttled_beyond_max_event_attempts_is_server_busy_once_and_later_events_flow() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "Busy", "count": 3, "status": 429}));
    let mut c = connected(&server, |cfg| {
        cfg.backoff_base_ms = 50;
        cfg.max_event_attempts = 3;
    });
    let busy = c.send("Test", "Busy", "{}").unwrap();
    assert_eq!(c.wait_outcome(busy, SECS(10)), (AvsStatus::ServerBusy, 429));
    let later = c.send("Test", "Later", "{}").unwrap();
    assert_eq!(c.wait_outcome(later, SECS(5)), (AvsStatus::Ok, 204), "later events still flow");
    c.run_for(Duration::from_millis(300));
    assert_eq!(outcomes(&c, busy), vec![(AvsStatus::ServerBusy, 429)], "exactly one outcome");
    assert_eq!(events_named(&mut server, "Busy").len(), 3, "max_event_attempts attempts, no more");
    assert_eq!(events_named(&mut server, "Later").len(), 1);
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn throttling_back_off_starts_again_after_a_success() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "First", "count": 3, "status": 429}));
    server.cmd(json!({"cmd": "script_event", "name": "Second", "count": 1, "status": 429}));
    let mut c = connected(&server, |cfg| {
        cfg.backoff_base_ms = BASE_MS;
        cfg.backoff_max_ms = 10_000;
        cfg.max_event_attempts = 5;
    });
    let first = c.send("Test", "First", "{}").unwrap();
    assert_eq!(c.wait_outcome(first, SECS(10)), (AvsStatus::Ok, 204));
    let second = c.send("Test", "Second", "{}").unwrap();
    assert_eq!(c.wait_outcome(second, SECS(10)), (AvsStatus::Ok, 204));
    let t = attempt_times_ms(&mut server, "Second");
    assert_eq!(t.len(), 2);
    // The first event's answer was a success: the second one's first retry waits one base delay
    // ([base/2, base]), not the fourth failure's [4·base, 8·base].
    let gap = t[1] - t[0];
    assert!(gap < f64::from(2 * BASE_MS), "first retry after a success waited {gap:.0} ms (base {BASE_MS} ms)");
}

// ------------------------------------------------------------------ GOAWAY

#[test]
fn goaway_with_a_low_last_stream_id_retries_the_unprocessed_stream_on_the_new_connection() {
    let mut server = Server::start(&[]);
    // Two events answered at once and held open (processed, in flight), a third whose answer the
    // server holds back: then GOAWAY names the second as the last stream it processed.
    server.cmd(json!({"cmd": "script_event", "name": "Held", "count": 2, "status": 204, "hold_open_ms": 1500}));
    server.cmd(json!({"cmd": "hold_answers", "name": "Pending"}));
    let mut c = connected(&server, |_| {});
    let held: Vec<u32> = (0..2).map(|i| c.send("Test", "Held", &format!("{{\"i\":{i}}}")).unwrap()).collect();
    let pending = c.send("Test", "Pending", "{}").unwrap();
    let ok = poll_until_server(&mut c, &mut server, SECS(5), |reqs| reqs.iter().any(|r| r["event"]["name"] == "Pending"));
    assert!(ok, "the third event went out");
    for id in &held {
        assert_eq!(c.outcome(*id), Some((AvsStatus::Ok, 204)), "answered before the GOAWAY");
    }
    let reqs = server.requests();
    let stream_of = |name: &str| -> Vec<u64> { reqs.iter().filter(|r| r["event"]["name"] == name).map(|r| r["stream"].as_u64().unwrap()).collect() };
    let (held_streams, pending_stream) = (stream_of("Held"), stream_of("Pending")[0]);
    let last = *held_streams.iter().max().unwrap();
    assert!(held_streams.iter().all(|&s| s < pending_stream));
    let old_conn = reqs[0]["conn"].as_u64().unwrap();
    let r = server.cmd(json!({"cmd": "goaway", "last_stream_id": last}));
    assert_eq!(r["refused"], json!([pending_stream]), "only the held-back event is above the last stream id");
    server.cmd(json!({"cmd": "hold_answers", "name": "Pending", "on": false}));
    assert_eq!(c.wait_outcome(pending, SECS(5)), (AvsStatus::Ok, 204));
    // The held streams finish on the old connection (hold_open_ms), which then closes.
    let drained = poll_until_server(&mut c, &mut server, SECS(5), |reqs| {
        reqs.iter().filter(|r| r["event"]["name"] == "Held").all(|r| !r["t_closed"].is_null())
    });
    assert!(drained, "the held streams finished");
    c.run_for(Duration::from_millis(300));
    for id in held.iter().chain([&pending]) {
        assert_eq!(outcomes(&c, *id), vec![(AvsStatus::Ok, 204)], "one OK outcome for event {id}");
    }
    let reqs = server.requests();
    for r in reqs.iter().filter(|r| r["event"]["name"] == "Held") {
        assert_eq!(r["conn"].as_u64(), Some(old_conn), "at or below the last stream id: finished on the old connection");
        assert_eq!(r["status"], json!(204));
        assert!(r["error"].is_null() && !r["t_closed"].is_null(), "finished normally: {r}");
    }
    let pend: Vec<&Value> = reqs.iter().filter(|r| r["event"]["name"] == "Pending").collect();
    assert_eq!(pend.len(), 2, "the unprocessed event was sent again");
    assert_eq!(pend[0]["conn"].as_u64(), Some(old_conn));
    assert!(pend[0]["status"].is_null() && pend[0]["error"].as_str().unwrap().contains("not processed"), "{}", pend[0]);
    let new_conn = pend[1]["conn"].as_u64().unwrap();
    assert_ne!(new_conn, old_conn, "retried on the new connection");
    assert_eq!(pend[1]["status"], json!(204), "processed once, there");
    let on_new: Vec<&Value> = reqs.iter().filter(|r| r["conn"].as_u64() == Some(new_conn)).collect();
    assert_eq!(on_new[0]["path"], "/v20160207/directives");
    assert_eq!(on_new[1]["event"]["name"], "SynchronizeState", "the retry waits for the new connection's SynchronizeState");
    let old = server.connections().into_iter().find(|k| k["id"].as_u64() == Some(old_conn)).unwrap();
    assert!(!old["t_closed"].is_null(), "the old connection closed after draining: {old}");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn goaway_below_an_unanswered_event_during_a_voice_turn_retries_the_event_and_the_turn_completes() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 16000}));
    server.cmd(json!({"cmd": "hold_answers", "name": "Pending"}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    assert_eq!(c.stream_audio(&pcm[..3200], FAST), 3200);
    let pending = c.send("Test", "Pending", "{}").unwrap();
    let ok = poll_until_server(&mut c, &mut server, SECS(5), |reqs| reqs.iter().any(|r| r["event"]["name"] == "Pending"));
    assert!(ok, "the event went out during the turn");
    let reqs = server.requests();
    let recognize = reqs.iter().find(|r| r["event"]["name"] == "Recognize").unwrap();
    let pend = reqs.iter().find(|r| r["event"]["name"] == "Pending").unwrap();
    let old_conn = recognize["conn"].as_u64().unwrap();
    // The Recognize (answered, its audio streaming) is the last stream processed.
    let last = recognize["stream"].as_u64().unwrap();
    assert!(pend["stream"].as_u64().unwrap() > last);
    let r = server.cmd(json!({"cmd": "goaway", "last_stream_id": last}));
    assert_eq!(r["refused"], json!([pend["stream"]]));
    server.cmd(json!({"cmd": "hold_answers", "name": "Pending", "on": false}));
    // The turn goes on on the old connection: StopCapture, then the Speak.
    let taken = c.stream_audio(&pcm[3200..], FAST);
    assert!(taken < pcm.len() - 3200, "StopCapture ended the audio");
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1), "the turn was answered: {:?} {:#?}", c.rec.dialog, c.rec.logs);
    assert!(c.rec.dialog.iter().all(|d| d.1 == AvsStatus::Ok), "{:?}", c.rec.dialog);
    c.play_speaks();
    assert_eq!(c.wait_outcome(pending, SECS(5)), (AvsStatus::Ok, 204));
    assert!(c.poll_until(SECS(3), |_, st| st == AvsConnectionState::Connected));
    c.run_for(Duration::from_millis(500));
    assert_eq!(outcomes(&c, pending), vec![(AvsStatus::Ok, 204)]);
    let reqs = server.requests();
    let recs: Vec<&Value> = reqs.iter().filter(|r| r["event"]["name"] == "Recognize").collect();
    assert_eq!(recs.len(), 1, "the turn was not repeated");
    assert_eq!((recs[0]["conn"].as_u64(), &recs[0]["status"]), (Some(old_conn), &json!(200)));
    assert!(recs[0]["error"].is_null() && !recs[0]["t_closed"].is_null(), "finished on the old connection: {}", recs[0]);
    let pend: Vec<&Value> = reqs.iter().filter(|r| r["event"]["name"] == "Pending").collect();
    assert_eq!(pend.len(), 2);
    assert!(pend[0]["status"].is_null() && pend[1]["status"] == json!(204) && pend[1]["conn"].as_u64() != Some(old_conn));
    let counts = event_counts(&mut server);
    assert_eq!(counts.get("SpeechSynthesizer.SpeechStarted"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("SpeechSynthesizer.SpeechFinished"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("System.SynchronizeState"), Some(&2), "one per connection: {counts:?}");
}

/// One rule for HTTP answers, events and Recognize alike: 501 is the request's own fault (not
/// retried: `HTTP_STATUS`), 503 the service's (backed off and retried, then `SERVER_BUSY`).
#[test]
fn events_and_recognize_follow_one_rule_for_http_statuses() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |cfg| cfg.max_event_attempts = 2);
    let exception = json!({"code": "INTERNAL_SERVICE_EXCEPTION", "description": "scripted"});
    server.cmd(json!({"cmd": "script_event", "name": "Test.NotImplemented", "status": 501, "exception": exception}));
    let id = c.send("Test", "NotImplemented", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::HttpStatus, 501));
    assert_eq!(events_named(&mut server, "NotImplemented").len(), 1, "501 is not retried");
    server.cmd(json!({"cmd": "script_event", "name": "Test.Busy", "status": 503, "exception": exception, "count": 2}));
    let id = c.send("Test", "Busy", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, Duration::from_secs(10)), (AvsStatus::ServerBusy, 503));
    assert_eq!(events_named(&mut server, "Busy").len(), 2, "503 is retried up to max_event_attempts");
    for (status, want) in [(501, AvsStatus::HttpStatus), (503, AvsStatus::ServerBusy)] {
        server.cmd(json!({"cmd": "script_event", "name": "SpeechRecognizer.Recognize", "status": status, "exception": exception}));
        let before = c.rec.dialog.len();
        assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
        assert_eq!(c.write_audio(&[0u8; 3200]), AvsStatus::Ok);
        unsafe { avs_client_end_audio(c.ptr) };
        assert!(c.poll_until(Duration::from_secs(10), |r, _| r.dialog[before..].iter().any(|d| d.0 == AvsDialogState::Idle)));
        let end = c.rec.dialog[before..].iter().find(|d| d.0 == AvsDialogState::Idle).unwrap();
        assert_eq!(end.1, want, "Recognize answered {status}");
    }
}

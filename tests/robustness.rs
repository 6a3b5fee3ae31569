//! Issue 8's defects in the client and its C surface, each as a test through the C API: stalls
//! (stream cap, hung events, the downchannel reset in a loop), lost data (early Speak audio,
//! library exceptions in the host's queue slots), secrets left in memory, thread misuse, the
//! clock, and values from C that must be validated.

mod common;
use common::*;
use std::ffi::{c_void, CString};
use std::ptr::null_mut;
use std::time::{Duration, Instant};

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn connected(server: &Server, tune: impl FnOnce(&mut AvsConfig)) -> TestClient {
    let mut c = TestClient::new(server, tune);
    c.connect();
    c.wait_connected();
    c
}

/// Item 4: a stream cap that leaves no room beside the downchannel would stall every event.
#[test]
fn max_streams_below_two_is_refused_at_creation() {
    let server = Server::start(&[]);
    for n in [0u32, 1] {
        let r = TestClient::with_ca(&server.endpoint(), &certs().join("ca.pem"), |cfg| cfg.max_streams = n);
        assert_eq!(r.err(), Some(AvsStatus::BadConfig), "max_streams {n}");
    }
    let mut c = connected(&server, |cfg| cfg.max_streams = 2);
    let id = c.send("Test", "Two", "{}").unwrap();
    assert_eq!(c.wait_outcome(id, SECS(5)).0, AvsStatus::Ok, "two streams: downchannel + one event");
}

/// Item 11: an out-of-range log level is a configuration error, not the most verbose level.
#[test]
fn log_level_out_of_range_is_refused() {
    let server = Server::start(&[]);
    for level in [4u32, 99, u32::MAX] {
        let r = TestClient::with_ca(&server.endpoint(), &certs().join("ca.pem"), |cfg| cfg.log_level = level);
        assert_eq!(r.err(), Some(AvsStatus::BadConfig), "log_level {level}");
    }
}

/// Item 11: a C `bool` the host writes is validated: any byte but 0/1 is refused, not undefined.
#[test]
fn boolean_bytes_from_c_are_validated() {
    let server = Server::start(&[]);
    let c = connected(&server, |_| {});
    let mut opts = AvsTurnOptions { profile: AvsProfile::CloseTalk as u32, wake_word: Default::default(), wake_word_start_sample: 0, wake_word_end_sample: 0 };
    // SAFETY: the field is one byte wide (a C bool); the test writes what a C host might.
    unsafe { *(std::ptr::addr_of_mut!(opts.wake_word) as *mut u8) = 2 };
    assert_eq!(unsafe { avs_client_start_turn(c.ptr, &opts) }, AvsStatus::InvalidArgument);
    assert_eq!(c.dialog_state(), AvsDialogState::Idle, "nothing started");
    let st = unsafe { avs_client_send_event(c.ptr, c"Test".as_ptr(), c"X".as_ptr(), c"{}".as_ptr(), CBool(1), null_mut()) };
    assert_eq!(st, AvsStatus::Ok);
}

/// Item 9: a write longer than the ring can ever hold gets its own status, not RING_FULL for ever.
#[test]
fn audio_write_longer_than_the_ring_is_a_distinct_error() {
    let server = Server::start(&[]);
    let mut c = connected(&server, |cfg| cfg.audio_ring_bytes = 3200);
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    let pcm = vec![0u8; 3201];
    assert_eq!(c.write_audio(&pcm), AvsStatus::Oversized);
    assert_eq!(c.write_audio(&pcm[..3200]), AvsStatus::Ok, "a write of the whole capacity fits an empty ring");
    assert_eq!(c.write_audio(&pcm[..320]), AvsStatus::RingFull, "full is still RING_FULL");
    unsafe { avs_client_cancel_turn(c.ptr) };
}

/// Polls with a host clock the test controls.
fn poll_at(c: &mut TestClient, now: u64) -> u32 {
    let mut next = 0;
    assert_eq!(unsafe { avs_client_poll(c.ptr, now, &mut next) }, AvsStatus::Ok);
    next
}

/// Polls for `real` wall time while the host clock advances from `*now` with it.
fn run_clock(c: &mut TestClient, now: &mut u64, real: Duration, mut until: impl FnMut(&Recorder) -> bool) -> bool {
    let start = Instant::now();
    let base = *now;
    while start.elapsed() < real {
        *now = base.saturating_add(start.elapsed().as_millis() as u64);
        let next = poll_at(c, *now);
        if until(&c.rec) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(u64::from(next.clamp(1, 5))));
    }
    false
}

/// Items 8 and 13: a clock near the top of u64 works (no overflow, no busy loop).
#[test]
fn a_huge_clock_does_not_overflow_or_spin() {
    let server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.ping_interval_ms = 1000);
    c.connect();
    let mut now = u64::MAX - 5_000;
    let up = run_clock(&mut c, &mut now, SECS(10), |r| r.states.iter().any(|s| s.0 == AvsConnectionState::Connected));
    assert!(up, "connected with the clock at {now}; logs {:#?}", c.rec.logs);
    let next = poll_at(&mut c, now);
    assert!(next > 0, "no busy loop: next poll in {next} ms");
    let id = c.send("Test", "Huge", "{}").unwrap();
    assert!(run_clock(&mut c, &mut now, SECS(5), |r| r.outcomes.iter().any(|o| o.0 == id)));
    assert_eq!(c.outcome(id).unwrap().0, AvsStatus::Ok);
    // The clock ran past u64::MAX's neighbourhood without a caught panic or a dropped connection.
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

/// Items 8 and 13: a clock that jumps backwards does not freeze the timers (here: the ping).
#[test]
fn a_clock_that_jumps_backwards_keeps_the_timers_running() {
    let mut server = Server::start(&[]);
    let mut c = TestClient::new(&server, |cfg| cfg.ping_interval_ms = 1500);
    c.connect();
    let mut now = 10_000_000;
    assert!(run_clock(&mut c, &mut now, SECS(10), |r| r.states.iter().any(|s| s.0 == AvsConnectionState::Connected)));
    // An hour back (an RTC corrected, a counter reset); then time goes on normally.
    now -= 3_600_000;
    let pinged = run_clock(&mut c, &mut now, SECS(6), |r| r.logs.iter().any(|(_, l)| l.contains("-> PING")));
    assert!(pinged, "a PING within about ping_interval_ms of real time after the jump; logs {:#?}", c.rec.logs);
    let conns = server.connections();
    assert_eq!(conns.len(), 1, "still the first connection");
}

/// Item 5: an event whose response headers never come does not block every later event.
#[test]
fn a_hung_event_is_reset_and_retried_and_later_events_flow() {
    let mut server = Server::start(&[]);
    // The first attempt of Test.Hung gets no response headers for a minute.
    server.cmd(json!({"cmd": "script_event", "name": "Test.Hung", "delay_headers_ms": 60000}));
    let mut c = connected(&server, |cfg| cfg.ping_timeout_ms = 1500);
    let hung = c.send("Test", "Hung", "{}").unwrap();
    let after = c.send("Test", "After", "{}").unwrap();
    let ok = c.poll_until(SECS(8), |r, _| r.outcomes.len() == 2);
    assert!(ok, "both events settled; outcomes {:?}; logs {:#?}", c.rec.outcomes, c.rec.logs);
    assert_eq!(c.outcome(hung).unwrap().0, AvsStatus::Ok, "retried after its deadline and accepted");
    assert_eq!(c.outcome(after).unwrap().0, AvsStatus::Ok);
    let names = server.event_names();
    assert_eq!(names.iter().filter(|n| *n == "Test.Hung").count(), 2, "sent twice: {names:?}");
    assert_eq!(c.state(), AvsConnectionState::Connected, "the connection itself was fine");
}

/// Item 5: an event that hangs on every attempt gets one TIMEOUT outcome.
#[test]
fn an_event_that_always_hangs_times_out_once() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "script_event", "name": "Test.Hung", "delay_headers_ms": 60000, "count": 10}));
    let mut c = connected(&server, |cfg| {
        cfg.ping_timeout_ms = 800;
        cfg.max_event_attempts = 2;
    });
    let hung = c.send("Test", "Hung", "{}").unwrap();
    assert_eq!(c.wait_outcome(hung, SECS(8)).0, AvsStatus::Timeout);
    c.run_for(Duration::from_millis(300));
    assert_eq!(c.rec.outcomes.iter().filter(|o| o.0 == hung).count(), 1, "exactly one outcome");
    assert_eq!(server.event_names().iter().filter(|n| *n == "Test.Hung").count(), 2);
}

/// Item 11: a server that keeps resetting the downchannel is not answered with a reopen storm.
#[test]
fn a_downchannel_reset_in_a_loop_is_reopened_with_back_off() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |cfg| {
        cfg.backoff_base_ms = 400;
        cfg.backoff_max_ms = 5000;
    });
    let opens = |server: &mut Server| server.requests().iter().filter(|r| r["path"] == "/v20160207/directives").count();
    let mut times = vec![];
    for _ in 0..4 {
        let before = opens(&mut server);
        // Wait for the downchannel to be open, then have the server end it.
        let t = Instant::now();
        loop {
            c.poll();
            let r = server.cmd(json!({"cmd": "close_downchannel"}));
            if r.get("error").is_none() {
                break;
            }
            assert!(t.elapsed() < SECS(10), "downchannel not reopened: {r}");
            std::thread::sleep(Duration::from_millis(5));
        }
        let closed = Instant::now();
        assert!(c.poll_until(SECS(10), |_, _| opens(&mut server) > before), "reopened");
        times.push(closed.elapsed());
    }
    // The first reset is the normal end of a downchannel: reopened at once. Repeated resets
    // back off (base 400 ms, doubling, jitter down to half).
    assert!(times[0] < Duration::from_millis(300), "first reopen at once: {times:?}");
    assert!(times[2] >= Duration::from_millis(200) && times[3] >= Duration::from_millis(400), "backing off: {times:?}");
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

/// Item 11: the library's exceptions never take the host's queue slots.
#[test]
fn library_exceptions_do_not_take_the_hosts_queue_slots() {
    let mut server = Server::start(&[]);
    // Exceptions get no answer for a while, so they stay in the queue.
    server.cmd(json!({"cmd": "script_event", "name": "System.ExceptionEncountered", "delay_headers_ms": 4000, "count": 20}));
    let mut c = connected(&server, |cfg| cfg.event_queue_capacity = 2);
    server.cmd(json!({"cmd": "push_directive", "directives": ["{not json 1", "{not json 2", "{not json 3", "{not json 4", "{not json 5", "{not json 6"]}));
    c.run_for(Duration::from_millis(500));
    let a = c.send("Test", "A", "{}");
    let b = c.send("Test", "B", "{}");
    assert!(a.is_ok() && b.is_ok(), "the host's two slots are free: {a:?} {b:?}; logs {:#?}", c.rec.logs);
    assert!(c.log_contains("ExceptionEncountered"), "the exceptions were reported or their loss logged");
}

/// Item 2: Speak audio that arrives before its directive and exceeds the early-attachment buffer
/// is not reported as played: the Speak fails honestly.
#[test]
fn early_speak_audio_beyond_the_buffer_fails_the_speak_honestly() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "attachment_first": true}));
    let mut c = connected(&server, |cfg| cfg.attachment_buffer_bytes = 1024);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    c.stream_audio(&pcm[..16000], Duration::from_millis(1));
    assert_eq!(unsafe { avs_client_end_audio(c.ptr) }, AvsStatus::Ok);
    let ended = c.poll_until(SECS(8), |r, _| r.dialog.last().map(|d| d.0 == AvsDialogState::Idle).unwrap_or(false));
    assert!(ended, "turn ended; dialog {:?}", c.rec.dialog);
    assert!(c.rec.speaks.is_empty(), "no Speak handed over without its audio: {:?}", c.rec.speaks);
    assert_eq!(c.rec.dialog.last().unwrap(), &(AvsDialogState::Idle, AvsStatus::AttachmentTooLarge), "{:?}", c.rec.dialog);
    c.run_for(Duration::from_millis(500));
    let names = server.event_names();
    assert!(!names.iter().any(|n| n.starts_with("SpeechSynthesizer.Speech")), "no SpeechStarted/Finished: {names:?}");
    assert!(names.iter().any(|n| n == "System.ExceptionEncountered"), "AVS is told: {names:?}");
}

/// Item 6: the replaced access token leaves no copy in the client's memory.
#[test]
fn a_replaced_token_leaves_no_copy_in_the_clients_memory() {
    let mut server = Server::start(&[]);
    // Any bearer token passes.
    server.cmd(json!({"cmd": "set_token", "token": null}));
    let old = "OLD-SECRET-0123456789abcdef-0123456789abcdef";
    let mut region = vec![0u8; 0];
    let strings = strings_for(&server, old);
    let mut cfg = default_config(&strings);
    let mut need = 0;
    assert_eq!(unsafe { avs_client_memory_required(&cfg, &mut need) }, AvsStatus::Ok);
    region.resize(need, 0);
    cfg.memory = region.as_mut_ptr() as *mut c_void;
    cfg.memory_bytes = need;
    let mut rec = Box::new(Recorder::default());
    let cbs = recorder_callbacks(&mut rec);
    let mut ptr = null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
    let mut c = TestClient { ptr, rec };
    c.connect();
    c.wait_connected();
    let id = c.send("Test", "WithOld", "{}").unwrap();
    c.wait_outcome(id, SECS(5));
    assert!(contains(&region, old.as_bytes()), "the test can see the token in the region while in use");
    let new = CString::new("NEW-token").unwrap();
    assert_eq!(unsafe { avs_client_set_token(c.ptr, new.as_ptr()) }, AvsStatus::Ok);
    // The connection that carried the old token ends: what held it is freed.
    assert_eq!(unsafe { avs_client_disconnect(c.ptr) }, AvsStatus::Ok);
    assert!(!contains(&region, old.as_bytes()), "old token left in the client's memory after replacement and disconnect");
    // A new connection uses the new token.
    c.connect();
    c.wait_connected();
    let id = c.send("Test", "WithNew", "{}").unwrap();
    c.wait_outcome(id, SECS(5));
    assert!(!contains(&region, old.as_bytes()), "old token found in the client's memory");
    drop(c);
    drop(strings);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Item 7: freeing the client from inside its own callback is deferred to the end of the call
/// that ran the callback, and that call says so.
#[test]
fn free_from_inside_a_callback_is_deferred_and_reported() {
    struct Host {
        client: *mut AvsClient,
        freed: bool,
        outcomes: Vec<(u32, AvsStatus)>,
    }
    unsafe extern "C" fn on_state(ud: *mut c_void, state: AvsConnectionState, _: AvsStatus) {
        let h = &mut *(ud as *mut Host);
        if state == AvsConnectionState::Connected && !h.freed {
            h.freed = true;
            avs_client_free(h.client);
        }
    }
    unsafe extern "C" fn on_outcome(ud: *mut c_void, id: u32, st: AvsStatus, _: u16) {
        (*(ud as *mut Host)).outcomes.push((id, st));
    }
    let server = Server::start(&[]);
    let strings = strings_for(&server, "test-token");
    let cfg = default_config(&strings);
    let mut host = Box::new(Host { client: null_mut(), freed: false, outcomes: vec![] });
    let cbs = AvsCallbacks { on_state: Some(on_state), on_event_outcome: Some(on_outcome), ..no_callbacks(&mut *host as *mut Host as *mut c_void) };
    let mut ptr = null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
    host.client = ptr;
    assert_eq!(unsafe { avs_client_connect(ptr) }, AvsStatus::Ok);
    let mut id = 0;
    // Queued before the connection is up: still held when the host frees the client.
    let st = unsafe { avs_client_send_event(ptr, c"Test".as_ptr(), c"Held".as_ptr(), c"{}".as_ptr(), Default::default(), &mut id) };
    assert_eq!(st, AvsStatus::Ok);
    let end = Instant::now() + SECS(10);
    let last = loop {
        let st = unsafe { avs_client_poll(ptr, avs_monotonic_ms(), null_mut()) };
        if st != AvsStatus::Ok || Instant::now() > end {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(last, AvsStatus::ClientFreed, "the poll that ran the callback reports the free");
    // Freed: its held event got its one outcome. (The pointer is not used again.)
    assert!(host.outcomes.iter().all(|o| o.1 == AvsStatus::Cancelled || o.1 == AvsStatus::Ok));
    assert_eq!(host.outcomes.iter().filter(|o| o.0 == id).count(), 1, "{:?}", host.outcomes);
}

/// Item 7: a second thread calling in while a call is inside the client is refused (the guard is
/// atomic: the old `Cell` made this a data race).
#[test]
fn a_call_from_another_thread_while_the_client_is_busy_is_refused() {
    struct Host {
        client: usize,
        seen: Vec<AvsStatus>,
    }
    unsafe extern "C" fn on_state(ud: *mut c_void, _: AvsConnectionState, _: AvsStatus) {
        let h = &mut *(ud as *mut Host);
        let client = h.client;
        // Another thread, while this one is inside avs_client_connect.
        let st = std::thread::spawn(move || unsafe { avs_client_poll(client as *mut AvsClient, 0, null_mut()) }).join().unwrap();
        h.seen.push(st);
    }
    let server = Server::start(&[]);
    let strings = strings_for(&server, "test-token");
    let cfg = default_config(&strings);
    let mut host = Box::new(Host { client: 0, seen: vec![] });
    let cbs = AvsCallbacks { on_state: Some(on_state), ..no_callbacks(&mut *host as *mut Host as *mut c_void) };
    let mut ptr = null_mut();
    assert_eq!(unsafe { avs_client_new(&cfg, &cbs, &mut ptr) }, AvsStatus::Ok);
    host.client = ptr as usize;
    assert_eq!(unsafe { avs_client_connect(ptr) }, AvsStatus::Ok);
    assert_eq!(host.seen, vec![AvsStatus::Reentrant]);
    assert_eq!(unsafe { avs_client_poll(ptr, 0, null_mut()) }, AvsStatus::Ok, "usable again once the call returned");
    unsafe { avs_client_free(ptr) };
}

/// Item 2 (review): a Speak outside the current turn (downchannel, no dialogRequestId) whose
/// early audio overflowed fails alone: the user's turn goes on.
#[test]
fn a_spilled_speak_outside_the_turn_does_not_end_the_turn() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 10_000_000}));
    let mut c = connected(&server, |cfg| cfg.attachment_buffer_bytes = 1024);
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.stream_audio(&pcm[..3200], Duration::from_millis(1));
    let speak = json!({"directive": {"header": {"namespace": "SpeechSynthesizer", "name": "Speak", "messageId": "m-dc"},
                                     "payload": {"url": "cid:dc-audio", "token": "dc-token", "format": "AUDIO_MPEG"}}});
    let audio = vec![0x55u8; 4096];
    server.cmd(json!({"cmd": "push_directive", "directives": [speak], "attachments": [{"content_id": "dc-audio", "data_b64": b64(&audio)}], "attachments_first": true}));
    let told = c.poll_until(SECS(5), |r, _| r.logs.iter().any(|(_, l)| l.contains("Speak not delivered")));
    assert!(told, "the Speak failed; logs {:#?}", c.rec.logs);
    c.stream_audio(&pcm[3200..6400], Duration::from_millis(1));
    assert_eq!(c.dialog_state(), AvsDialogState::Listening, "the turn goes on; dialog {:?}", c.rec.dialog);
    assert!(c.rec.speaks.is_empty());
    assert_eq!(c.rec.attachments.get("dc-audio").map(|a| a.len()), Some(audio.len()), "the audio reached on_attachment whole");
    unsafe { avs_client_cancel_turn(c.ptr) };
}

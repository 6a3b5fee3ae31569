//! Voice turns through the C API against the local AVS server: SpeechRecognizer (audio streamed
//! from the ring in 10 ms frames, StopCapture, ExpectSpeech) and SpeechSynthesizer (Speak audio
//! matched by Content-ID, SpeechStarted/Finished).

mod common;
use common::*;
use std::time::Duration;

const SECS: fn(u64) -> Duration = Duration::from_secs;
const FAST: Duration = Duration::from_millis(4);

fn recognize(server: &mut Server, index: i64) -> (Value, Vec<u8>) {
    let reqs = server.requests();
    let recs: Vec<Value> = reqs.into_iter().filter(|r| r["event"]["name"] == "Recognize").collect();
    let i = if index < 0 { recs.len() as i64 + index } else { index } as usize;
    let a = server.cmd(json!({"cmd": "audio", "index": index}));
    (recs[i].clone(), unb64(a["audio_b64"].as_str().unwrap()))
}

fn connected(server: &Server, tune: impl FnOnce(&mut AvsConfig)) -> TestClient {
    let mut c = TestClient::new(server, tune);
    c.connect();
    c.wait_connected();
    c
}

fn states(c: &TestClient) -> Vec<AvsDialogState> {
    c.rec.dialog.iter().map(|d| d.0).collect()
}

#[test]
fn near_field_turn_stops_at_stop_capture_and_delivers_speak_byte_for_byte() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 16000}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    assert_eq!(c.dialog_state(), AvsDialogState::Listening);
    let taken = c.stream_audio(&pcm, FAST);
    assert!(taken < pcm.len(), "StopCapture ended the audio before the file did");
    assert_eq!(c.write_audio(&pcm[..320]), AvsStatus::WrongState, "no audio is taken after StopCapture");
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
    let (rec, audio) = recognize(&mut server, -1);
    assert!(rec["error"].is_null(), "{rec}");
    assert_eq!(rec["metadata"]["event"]["payload"]["profile"], "NEAR_FIELD");
    assert_eq!(rec["metadata"]["event"]["payload"]["format"], "AUDIO_L16_RATE_16000_CHANNELS_1");
    assert_eq!(rec["metadata"]["event"]["payload"]["initiator"]["type"], "TAP");
    assert!(rec["metadata"]["event"]["header"]["dialogRequestId"].as_str().unwrap().len() >= 32);
    assert_eq!(audio, pcm[..audio.len()], "audio sent equals the WAV's samples byte for byte");
    assert!(audio.len() >= 16000 && audio.len() <= 16000 + 640, "audio stopped at StopCapture: {} bytes", audio.len());
    assert!(rec["audio_bytes_after_stop"].as_u64().unwrap() <= 640, "at most one frame in flight after StopCapture: {rec}");
    assert_eq!(rec["audio_max_frame"], json!(320), "10 ms DATA frames");
    let mp3 = std::fs::read(fixture("speak.mp3")).unwrap();
    let token = c.rec.speech_done[0].clone();
    assert_eq!(c.rec.speech_audio[&token], mp3, "Speak audio equals the server's MP3 byte for byte");
    assert_eq!(states(&c), vec![AvsDialogState::Listening, AvsDialogState::Thinking, AvsDialogState::Speaking]);
    c.play_speaks();
    // Idle once playback is done and the turn's response has ended (the Speak's last bytes
    // may come before the response's end, which a slow machine reads a poll later).
    assert!(c.poll_until(SECS(5), |r, _| r.dialog.last().map(|d| d.0) == Some(AvsDialogState::Idle)), "dialog {:?}", c.rec.dialog);
    assert_eq!(c.dialog_state(), AvsDialogState::Idle);
    c.run_for(Duration::from_millis(200));
    let names = server.event_names();
    assert!(names.ends_with(&["SpeechSynthesizer.SpeechStarted".to_string(), "SpeechSynthesizer.SpeechFinished".to_string()]), "{names:?}");
    let fin = server.requests().into_iter().filter(|r| r["event"]["name"] == "SpeechFinished").last().unwrap();
    assert_eq!(fin["metadata"]["event"]["payload"]["token"], json!(token));
    let ctx = fin["metadata"]["context"].as_array().unwrap();
    let ss = ctx.iter().find(|e| e["header"]["name"] == "SpeechState").unwrap();
    assert_eq!(ss["payload"]["token"], json!(token));
    assert_eq!(ss["payload"]["playerActivity"], "FINISHED");
    // Each report once per Speak: repeats and unknown tokens are refused and send nothing.
    let t = std::ffi::CString::new(token).unwrap();
    let other = std::ffi::CString::new("no-such-token").unwrap();
    unsafe {
        assert_eq!(avs_client_speech_finished(c.ptr, t.as_ptr()), AvsStatus::WrongState);
        assert_eq!(avs_client_speech_started(c.ptr, t.as_ptr()), AvsStatus::WrongState);
        assert_eq!(avs_client_speech_started(c.ptr, other.as_ptr()), AvsStatus::WrongState);
        assert_eq!(avs_client_speech_finished(c.ptr, other.as_ptr()), AvsStatus::WrongState);
    }
    c.run_for(Duration::from_millis(200));
    let mut count = |name: &str| server.requests().into_iter().filter(|r| r["event"]["name"] == name).count();
    assert_eq!((count("SpeechStarted"), count("SpeechFinished")), (1, 1), "one of each for the one Speak");
}

/// A server that writes each part followed only by its delimiter `\r\n--B`, the rest of that
/// line with its next write (here: after the audio ended). StopCapture is complete the moment
/// its delimiter is; a client waiting for the line's end streams audio until the turn times out.
#[test]
fn near_field_turn_against_a_server_that_ends_delimiter_lines_late() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 16000, "split_delimiters": true}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    let taken = c.stream_audio(&pcm, FAST);
    assert!(taken < pcm.len(), "StopCapture ended the audio: {taken} of {} bytes taken, dialog {:?}", pcm.len(), c.rec.dialog);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1), "dialog {:?}", c.rec.dialog);
    let (rec, audio) = recognize(&mut server, -1);
    assert!(rec["error"].is_null(), "{rec}");
    assert_eq!(rec["directives_sent"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect::<Vec<_>>(), ["StopCapture", "Speak"]);
    assert!(audio.len() >= 16000 && audio.len() <= 16000 + 640, "audio stopped at StopCapture: {} bytes", audio.len());
    let mp3 = std::fs::read(fixture("speak.mp3")).unwrap();
    assert_eq!(c.rec.speech_audio[&c.rec.speech_done[0]], mp3, "Speak audio byte for byte");
    assert_eq!(states(&c), vec![AvsDialogState::Listening, AvsDialogState::Thinking, AvsDialogState::Speaking]);
    c.play_speaks();
    // Idle once playback is done and the turn's response has ended (the Speak's last bytes
    // may come before the response's end, which a slow machine reads a poll later).
    assert!(c.poll_until(SECS(5), |r, _| r.dialog.last().map(|d| d.0) == Some(AvsDialogState::Idle)), "dialog {:?}", c.rec.dialog);
    assert_eq!(c.dialog_state(), AvsDialogState::Idle);
}

#[test]
fn a_speak_reported_started_twice_sends_one_speech_started() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
    let t = std::ffi::CString::new(c.rec.speech_done[0].clone()).unwrap();
    unsafe {
        assert_eq!(avs_client_speech_started(c.ptr, t.as_ptr()), AvsStatus::Ok);
        assert_eq!(avs_client_speech_started(c.ptr, t.as_ptr()), AvsStatus::WrongState);
        assert_eq!(avs_client_speech_finished(c.ptr, t.as_ptr()), AvsStatus::Ok);
    }
    c.run_for(Duration::from_millis(300));
    let mut count = |name: &str| server.requests().into_iter().filter(|r| r["event"]["name"] == name).count();
    assert_eq!((count("SpeechStarted"), count("SpeechFinished")), (1, 1));
}

#[test]
fn close_talk_sends_the_whole_utterance_until_the_device_ends_it() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |cfg| cfg.audio_ring_bytes = 64000);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::CloseTalk, None), AvsStatus::Ok);
    // The audio comes from another thread, as from an audio interrupt.
    struct Ptr(*mut AvsClient);
    unsafe impl Send for Ptr {}
    let p = Ptr(c.ptr);
    let pcm2 = pcm.clone();
    let producer = std::thread::spawn(move || {
        let p = p;
        for frame in pcm2.chunks(320) {
            loop {
                match unsafe { avs_client_audio_write(p.0, frame.as_ptr(), frame.len()) } {
                    AvsStatus::Ok => break,
                    AvsStatus::RingFull => std::thread::sleep(Duration::from_millis(1)),
                    other => panic!("{other:?}"),
                }
            }
            std::thread::sleep(Duration::from_micros(300));
        }
    });
    while !producer.is_finished() {
        c.poll();
        std::thread::sleep(Duration::from_millis(1));
    }
    producer.join().unwrap();
    assert_eq!(unsafe { avs_client_end_audio(c.ptr) }, AvsStatus::Ok);
    assert_eq!(c.dialog_state(), AvsDialogState::Thinking);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1), "{:#?}", c.rec.logs);
    let (rec, audio) = recognize(&mut server, -1);
    assert_eq!(rec["metadata"]["event"]["payload"]["profile"], "CLOSE_TALK");
    assert!(rec["t_stop_capture"].is_null(), "no StopCapture for CLOSE_TALK");
    assert_eq!(audio.len(), pcm.len());
    assert!(audio == pcm, "the whole WAV, byte for byte");
}

#[test]
fn far_field_wake_word_initiator_carries_the_indices() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 9600}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    assert_eq!(c.start_turn(AvsProfile::FarField, Some((8000, 16000))), AvsStatus::Ok);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
    let (rec, _) = recognize(&mut server, -1);
    let p = &rec["metadata"]["event"]["payload"];
    assert_eq!(p["profile"], "FAR_FIELD");
    assert_eq!(p["initiator"]["type"], "WAKEWORD");
    assert_eq!(p["initiator"]["payload"]["wakeWordIndices"], json!({"startIndexInSamples": 8000, "endIndexInSamples": 16000}));
    assert!(rec["error"].is_null(), "{rec}");
}

#[test]
fn speak_audio_before_its_directive_in_tiny_frames() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200, "attachment_first": true, "chunk_size": 5}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::NearField, None);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(10), |r, _| r.speech_done.len() == 1), "{:#?}", c.rec.logs);
    let mp3 = std::fs::read(fixture("speak.mp3")).unwrap();
    assert_eq!(c.rec.speech_audio[&c.rec.speech_done[0]], mp3);
    assert!(c.rec.attachments.is_empty(), "the held attachment went to its Speak, not to on_attachment");
}

#[test]
fn expect_speech_echoes_its_initiator_in_the_next_turn() {
    let mut server = Server::start(&[]);
    let initiator = json!({"type": "EXPECT_SPEECH", "payload": {"token": "opaque-123"}});
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200,
        "expect_speech": {"timeoutInMilliseconds": 5000, "initiator": initiator, "once": true}}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::NearField, None);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| !r.expect_speech.is_empty() && r.speech_done.len() == 1));
    assert_eq!(c.rec.expect_speech, vec![5000]);
    c.play_speaks();
    assert_eq!(c.start_turn(AvsProfile::NearField, None), AvsStatus::Ok);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 2));
    let (rec, _) = recognize(&mut server, -1);
    assert_eq!(rec["metadata"]["event"]["payload"]["initiator"], initiator, "initiator echoed verbatim");
    c.play_speaks();
    // The next turn is a plain tap again.
    c.start_turn(AvsProfile::NearField, None);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 3));
    let (rec, _) = recognize(&mut server, -1);
    assert_eq!(rec["metadata"]["event"]["payload"]["initiator"]["type"], "TAP");
    assert!(!server.event_names().iter().any(|n| n.ends_with("ExpectSpeechTimedOut")));
}

#[test]
fn expect_speech_without_initiator_times_out() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200,
        "expect_speech": {"timeoutInMilliseconds": 300, "once": true}}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::NearField, None);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| !r.expect_speech.is_empty() && r.speech_done.len() == 1));
    c.play_speaks();
    let t0 = std::time::Instant::now();
    c.run_for(Duration::from_millis(150));
    assert!(!server.event_names().iter().any(|n| n.ends_with("ExpectSpeechTimedOut")), "not before the timeout");
    c.run_for(Duration::from_millis(400));
    let names = server.event_names();
    assert!(names.iter().any(|n| n == "SpeechRecognizer.ExpectSpeechTimedOut"), "{names:?}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.dialog_state(), AvsDialogState::Idle);
}

#[test]
fn directives_of_an_older_dialog_are_dropped() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 3200, "stale_directive": true}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::NearField, None);
    c.stream_audio(&pcm, FAST);
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
    assert!(c.rec.directives.iter().all(|d| d.0 != "Speaker.SetVolume"), "the stale SetVolume was dropped");
    assert!(c.log_contains("older dialog dropped"));
    // Directives without a dialogRequestId still arrive.
    server.cmd(json!({"cmd": "push_directive", "directives": [directive("Speaker", "SetVolume", json!({"volume": 9}))]}));
    assert!(c.poll_until(SECS(3), |r, _| r.directives.iter().any(|d| d.0 == "Speaker.SetVolume")));
}

#[test]
fn the_host_can_cancel_a_turn() {
    let server = Server::start(&[]);
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::CloseTalk, None);
    c.stream_audio(&pcm[..6400], FAST);
    assert_eq!(unsafe { avs_client_cancel_turn(c.ptr) }, AvsStatus::Ok);
    assert_eq!(c.rec.dialog.last(), Some(&(AvsDialogState::Idle, AvsStatus::Cancelled)));
    assert_eq!(c.write_audio(&pcm[..320]), AvsStatus::WrongState);
    assert_eq!(unsafe { avs_client_cancel_turn(c.ptr) }, AvsStatus::WrongState, "nothing left to cancel");
    c.run_for(Duration::from_millis(200));
    assert!(c.rec.speaks.is_empty());
    assert_eq!(c.state(), AvsConnectionState::Connected, "cancelling a turn keeps the connection");
    // A new turn works.
    c.start_turn(AvsProfile::CloseTalk, None);
    c.stream_audio(&pcm[..6400], FAST);
    unsafe { avs_client_end_audio(c.ptr) };
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
}

#[test]
fn a_network_drop_mid_turn_ends_in_idle_with_an_error() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "drop_connection_after_bytes": 3200}));
    let mut c = connected(&server, |_| {});
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::CloseTalk, None);
    c.stream_audio(&pcm[..16000], FAST);
    assert!(c.poll_until(SECS(3), |r, _| r.dialog.iter().any(|d| d.0 == AvsDialogState::Idle)));
    assert_eq!(c.rec.dialog.last(), Some(&(AvsDialogState::Idle, AvsStatus::ConnectionLost)));
    assert_eq!(c.write_audio(&pcm[..320]), AvsStatus::WrongState);
    server.cmd(json!({"cmd": "recognize_config", "drop_connection_after_bytes": null}));
    c.wait_connected();
}

#[test]
fn server_error_and_silence_end_the_turn_with_a_reason() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "fail_status": 500}));
    let mut c = connected(&server, |cfg| cfg.turn_timeout_ms = 400);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::CloseTalk, None);
    c.stream_audio(&pcm[..3200], FAST);
    unsafe { avs_client_end_audio(c.ptr) };
    assert!(c.poll_until(SECS(3), |r, _| r.dialog.last().map(|d| d.0) == Some(AvsDialogState::Idle)));
    assert_eq!(c.rec.dialog.last().unwrap().1, AvsStatus::ServerBusy);
    server.cmd(json!({"cmd": "recognize_config", "fail_status": null, "hang": true}));
    c.start_turn(AvsProfile::CloseTalk, None);
    c.stream_audio(&pcm[..3200], FAST);
    unsafe { avs_client_end_audio(c.ptr) };
    assert!(c.poll_until(SECS(3), |r, _| r.dialog.last() == Some(&(AvsDialogState::Idle, AvsStatus::Timeout))), "{:?}", c.rec.dialog);
    assert_eq!(c.state(), AvsConnectionState::Connected);
}

#[test]
fn a_full_ring_refuses_whole_writes_and_leaves_no_gap() {
    let mut server = Server::start(&[]);
    let mut c = connected(&server, |cfg| cfg.audio_ring_bytes = 3200);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    c.start_turn(AvsProfile::CloseTalk, None);
    // No polling: the ring fills.
    let mut accepted = Vec::new();
    let mut refused = 0;
    for frame in pcm[..9600].chunks(320) {
        match c.write_audio(frame) {
            AvsStatus::Ok => accepted.extend_from_slice(frame),
            AvsStatus::RingFull => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(accepted.len(), 3200, "the ring took exactly its capacity");
    assert_eq!(refused, 20);
    // Then everything flows again.
    c.run_for(Duration::from_millis(100));
    for frame in pcm[9600..12800].chunks(320) {
        assert_eq!(c.write_audio(frame), AvsStatus::Ok);
        accepted.extend_from_slice(frame);
        c.poll();
    }
    unsafe { avs_client_end_audio(c.ptr) };
    assert!(c.poll_until(SECS(5), |r, _| r.speech_done.len() == 1));
    let (_, audio) = recognize(&mut server, -1);
    assert!(audio == accepted, "what was accepted arrived, in order, nothing more");
}

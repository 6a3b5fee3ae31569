//! Once connected, receiving directives and sending queued events allocates nothing in the Rust
//! core: a counting global allocator is armed only around the library calls, and the host
//! callbacks here do not allocate either.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ARMED.with(|a| a.get()) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn armed<R>(f: impl FnOnce() -> R) -> R {
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    r
}

#[test]
fn steady_state_directives_and_events_allocate_nothing_in_the_rust_core() {
    // The counter itself works: an allocation while armed is seen.
    let before = ALLOCS.load(Relaxed);
    std::hint::black_box(armed(|| Box::new([0u8; 64])));
    assert_eq!(ALLOCS.load(Relaxed), before + 1, "the counting allocator sees allocations");

    let mut server = Server::start(&[]);
    let mut c = CountingClient::new(&server, |cfg| cfg.event_queue_capacity = 16);
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    // Connecting allocates (TLS session, HTTP/2 session): not counted.
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    let directives: Vec<Value> = (0..20).map(|i| directive("Speaker", "SetVolume", json!({"volume": i}))).collect();

    // Round 0 warms up each path; rounds 1..4 are measured.
    for round in 0..4usize {
        server.cmd(json!({"cmd": "push_directive", "directives": directives, "chunk_size": 97}));
        let before = ALLOCS.load(Relaxed);
        let (_, _, ng_calls_before) = avs::transport::h2::mem::stats();
        armed(|| c.poll_until(Duration::from_secs(10), |k| k.directives >= (round + 1) * 20));
        for _ in 0..10 {
            armed(|| c.send(c"Speaker", c"VolumeChanged", c"{\"volume\":50,\"muted\":false}"));
        }
        armed(|| c.poll_until(Duration::from_secs(10), |k| k.ok_outcomes >= (round + 1) * 10));
        let allocs = ALLOCS.load(Relaxed) - before;
        let (live, peak, calls) = avs::transport::h2::mem::stats();
        eprintln!(
            "round {round}: Rust core allocations {allocs}; nghttp2: {} allocation calls for 20 directives + 10 events, live {live} B, peak {peak} B",
            calls - ng_calls_before
        );
        if round > 0 {
            assert_eq!(allocs, 0, "round {round}: the Rust core allocated {allocs} times for 20 directives and 10 events");
        }
    }
    assert_eq!(c.counts().other_outcomes, 0);
}

#[test]
fn voice_turns_allocate_nothing_per_audio_write_frame_or_attachment_chunk() {
    let mut server = Server::start(&[]);
    server.cmd(json!({"cmd": "recognize_config", "stop_capture_after_bytes": 6400, "chunk_size": 700}));
    let mut c = CountingClient::new(&server, |_| {});
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    let pcm = wav_pcm(&fixture("utterance.wav"));
    let opts = AvsTurnOptions { profile: AvsProfile::NearField as u32, wake_word: CBool(0), wake_word_start_sample: 0, wake_word_end_sample: 0 };
    let mut frames_written = 0usize;
    let turns = 100;
    let before = ALLOCS.load(Relaxed);
    let (_, _, ng_before) = avs::transport::h2::mem::stats();
    for turn in 0..turns {
        let st = armed(|| unsafe { avs_client_start_turn(c.ptr, &opts) });
        assert_eq!(st, AvsStatus::Ok, "turn {turn}");
        let mut pos = 0;
        // Audio as fast as the ring takes it, until StopCapture closes the ring.
        loop {
            let frame = &pcm[pos % pcm.len()..(pos % pcm.len() + 320).min(pcm.len())];
            let st = armed(|| unsafe { avs_client_audio_write(c.ptr, frame.as_ptr(), frame.len()) });
            match st {
                AvsStatus::Ok => {
                    pos += frame.len();
                    frames_written += 1;
                }
                AvsStatus::RingFull => {}
                AvsStatus::WrongState => break,
                other => panic!("{other:?}"),
            }
            armed(|| c.poll_once());
            if st == AvsStatus::RingFull {
                c.wait_io(1);
            }
        }
        armed(|| c.poll_until(Duration::from_secs(5), |k| k.speech_done > turn));
        let token = c.counts().token;
        armed(|| unsafe {
            assert_eq!(avs_client_speech_started(c.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
            assert_eq!(avs_client_speech_finished(c.ptr, token.as_ptr() as *const _), AvsStatus::Ok);
        });
        armed(|| c.poll_until(Duration::from_secs(5), |k| k.dialog == Some(AvsDialogState::Idle)));
    }
    let allocs = ALLOCS.load(Relaxed) - before;
    let (_, _, ng_after) = avs::transport::h2::mem::stats();
    let k = c.counts();
    eprintln!(
        "{turns} turns: {frames_written} audio writes, {} Speak chunks ({} bytes): Rust core allocations {allocs}; nghttp2 allocation calls {} ({:.1} per turn)",
        k.speech_chunks,
        k.speech_bytes,
        ng_after - ng_before,
        (ng_after - ng_before) as f64 / turns as f64
    );
    assert_eq!(k.speech_done, turns);
    assert_eq!(k.idle_errors, 0);
    assert!(k.speech_chunks > turns * 5, "attachments arrived in many chunks ({})", k.speech_chunks);
    assert_eq!(allocs, 0, "the Rust core allocated {allocs} times over {turns} voice turns");
}

/// Counts what the host's speaker was asked, without allocating.
static APPLIED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn apply_counting(_: *mut std::ffi::c_void, _: *mut avs::ffi::interfaces::speaker::AvsVolume) -> i32 {
    APPLIED.fetch_add(1, Relaxed);
    AvsStatus::Ok as i32
}

#[test]
fn interface_directives_allocate_nothing_in_the_rust_core() {
    use avs::ffi::interfaces::speaker::*;
    let mut server = Server::start(&[]);
    let mut c = CountingClient::new(&server, |cfg| cfg.event_queue_capacity = 16);
    let h = AvsSpeakerHandler { user_data: std::ptr::null_mut(), apply: Some(apply_counting), initial: AvsVolume { volume: 10, muted: CBool(0) } };
    assert_eq!(unsafe { avs_client_set_speaker(c.ptr, &h, std::mem::size_of::<AvsSpeakerHandler>()) }, AvsStatus::Ok);
    assert_eq!(unsafe { avs_client_connect(c.ptr) }, AvsStatus::Ok);
    c.poll_until(Duration::from_secs(10), |k| k.connected);
    // Each round: Speaker directives (each a host callback and a VolumeChanged event), System's,
    // an invalid one (ExceptionEncountered) and one no interface handles (on_directive).
    let mut directives: Vec<Value> = (0..8).map(|i| directive("Speaker", "AdjustVolume", json!({"volume": i - 4}))).collect();
    directives.push(directive("Speaker", "SetMute", json!({"mute": true})));
    directives.push(directive("System", "ResetUserInactivity", json!({})));
    directives.push(directive("Speaker", "SetVolume", json!({"volume": 500})));
    directives.push(directive("Vendor", "Blink", json!({"times": 2})));
    let volume_events = |s: &mut Server| s.event_names().iter().filter(|n| n.starts_with("Speaker.")).count();
    for round in 0..4usize {
        server.cmd(json!({"cmd": "push_directive", "directives": directives, "chunk_size": 97}));
        let before = ALLOCS.load(Relaxed);
        armed(|| c.poll_until(Duration::from_secs(10), |k| k.directives >= round + 1 && APPLIED.load(Relaxed) >= (round + 1) * 9));
        // Until the server has every VolumeChanged/MuteChanged of the round.
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while volume_events(&mut server) < (round + 1) * 9 {
            assert!(std::time::Instant::now() < end, "round {round}: volume events missing");
            armed(|| {
                c.poll_once();
                c.wait_io(2);
            });
        }
        let allocs = ALLOCS.load(Relaxed) - before;
        eprintln!("interfaces round {round}: Rust core allocations {allocs} for {} directives and their events", directives.len());
        if round > 0 {
            assert_eq!(allocs, 0, "round {round}: the Rust core allocated {allocs} times");
        }
    }
    let exceptions = server.event_names().iter().filter(|n| *n == "System.ExceptionEncountered").count();
    assert_eq!(exceptions, 4, "one exception per round for the out-of-range SetVolume");
}

//! ALSA capture and MP3 playback (`avs_alsa_*`, feature `alsa`), without sound hardware: ALSA's
//! `file` plugin over a `null` device (tests/fixtures/alsa/asoundrc) writes what is played to a
//! file and feeds capture from one. Run with `cargo test --features alsa --test alsa`.
//!
//! Needs `lame` (the reference MP3 decoder; scripts/deps.sh installs it) and, when
//! emulator/fixtures/speak.mp3 is missing, `espeak-ng` to make an MP3.
#![cfg(feature = "alsa")]

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr::{null, null_mut};
use std::sync::Once;
use std::time::{Duration, Instant};

use avs::audio::alsa::{Player, PlayerOptions};
use avs::ffi::alsa::*;
use avs::status::AvsStatus;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for this test binary run (under target/tmp).
fn tmp() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("avs-alsa-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Points ALSA at the test configuration, once, before any test opens a device.
fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let conf = repo().join("tests/fixtures/alsa/asoundrc");
        assert!(conf.exists(), "{} missing", conf.display());
        std::env::set_var("ALSA_CONFIG_PATH", &conf);
    });
}

fn device(kind: &str, arg: &str, path: &Path) -> CString {
    CString::new(format!("{kind}:{arg}=\"{}\"", path.display())).unwrap()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(avs_alsa_last_error()) }.to_string_lossy().into_owned()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/deps.sh installs it)"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The Speak MP3 of the local AVS server, or one made here with espeak-ng and lame.
fn speak_mp3() -> Vec<u8> {
    let fixture = repo().join("emulator/fixtures/speak.mp3");
    if let Ok(b) = std::fs::read(&fixture) {
        return b;
    }
    static ONCE: Once = Once::new();
    let dir = tmp();
    ONCE.call_once(|| {
        run(Command::new("espeak-ng").arg("-w").arg(dir.join("gen.wav")).arg("It is ten past nine."));
        run(Command::new("lame").args(["--quiet", "-m", "m", "-b", "32", "--cbr", "--resample", "22.05"]).arg(dir.join("gen.wav")).arg(dir.join("gen.mp3")));
    });
    std::fs::read(dir.join("gen.mp3")).unwrap()
}

/// A WAV file's format and samples (the file plugin's and lame's: PCM 16-bit).
struct Wav {
    rate: u32,
    channels: u16,
    samples: Vec<i16>,
}

fn read_wav(path: &Path) -> Wav {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[0..4], b"RIFF", "{} is not a WAV file", path.display());
    let (mut rate, mut channels) = (0, 0);
    let mut at = 12;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        if id == b"fmt " {
            channels = u16::from_le_bytes(b[body + 2..body + 4].try_into().unwrap());
            rate = u32::from_le_bytes(b[body + 4..body + 8].try_into().unwrap());
        } else if id == b"data" {
            // A writer that never fixed up the size leaves 0 or 0xFFFFFFFF: take the rest.
            let end = if len == 0 || body + len > b.len() { b.len() } else { body + len };
            let samples = b[body..end].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
            return Wav { rate, channels, samples };
        }
        at = body + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// What lame's own decoder makes of the MP3 (its length is the original audio's: lame removes
/// the encoder delay and padding recorded in its tag).
fn reference_decode(mp3: &[u8], name: &str) -> Wav {
    let dir = tmp();
    let src = dir.join(format!("{name}.mp3"));
    let dst = dir.join(format!("{name}-ref.wav"));
    std::fs::write(&src, mp3).unwrap();
    run(Command::new("lame").args(["--quiet", "--decode"]).arg(&src).arg(&dst));
    read_wav(&dst)
}

/// Normalised cross-correlation of `a[offset..]` with `b`, over `b`'s length.
fn correlation(a: &[i16], b: &[i16], offset: usize) -> f64 {
    let n = b.len().min(a.len().saturating_sub(offset));
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let (x, y) = (a[offset + i] as f64, b[i] as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa * bb).sqrt()
    }
}

fn best_alignment(played: &[i16], reference: &[i16], max_offset: usize) -> (usize, f64) {
    (0..=max_offset).map(|k| (k, correlation(played, reference, k))).fold((0, -1.0), |best, c| if c.1 > best.1 { c } else { best })
}

fn player_info(p: *const AvsAlsaPlayer) -> AvsAlsaPlayerInfo {
    let mut info = std::mem::MaybeUninit::<AvsAlsaPlayerInfo>::uninit();
    assert_eq!(unsafe { avs_alsa_player_get_info(p, info.as_mut_ptr()) }, AvsStatus::Ok, "{}", last_error());
    unsafe { info.assume_init() }
}

/// Waits until `finished` reaches `n` and the player is idle.
fn wait_finished(p: *const AvsAlsaPlayer, n: u32) -> AvsAlsaPlayerInfo {
    let t0 = Instant::now();
    loop {
        let i = player_info(p);
        assert_eq!(i.error, AvsStatus::Ok, "player failed: {}", last_error());
        if i.finished >= n && !i.active {
            return i;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "playback did not finish: finished={} active={}", i.finished, i.active);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Feeds `mp3` in pieces of uneven sizes (as HTTP/2 DATA frames would bring them).
fn write_in_pieces(p: *mut AvsAlsaPlayer, mp3: &[u8]) {
    let sizes = [1usize, 7, 418, 1000, 3, 2048, 333, 4096, 17];
    let (mut at, mut i) = (0, 0);
    while at < mp3.len() {
        let n = sizes[i % sizes.len()].min(mp3.len() - at);
        let s = unsafe { avs_alsa_player_write_mp3(p, mp3[at..].as_ptr(), n) };
        assert_eq!(s, AvsStatus::Ok, "{}", last_error());
        at += n;
        i += 1;
    }
}

#[test]
fn player_plays_speak_mp3_into_a_file_at_its_own_rate() {
    setup();
    let mp3 = speak_mp3();
    let reference = reference_decode(&mp3, "speak");
    let out = tmp().join("played.wav");
    let dev = device("avs_test_wav", "FILE", &out);
    let mut p: *mut AvsAlsaPlayer = null_mut();
    assert_eq!(unsafe { avs_alsa_player_open(dev.as_ptr(), &mut p) }, AvsStatus::Ok, "{}", last_error());
    let before = player_info(p);
    assert!(!before.active);
    assert_eq!((before.finished, before.frames_written, before.device_rate), (0, 0, 0));

    write_in_pieces(p, &mp3);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    let info = wait_finished(p, 1);
    unsafe { avs_alsa_player_close(p) };

    // The device ran at the MP3's own format: no conversion.
    assert_eq!((info.mp3_rate, info.mp3_channels), (reference.rate, reference.channels as u32));
    assert_eq!((info.device_rate, info.device_channels), (info.mp3_rate, info.mp3_channels));
    assert_eq!(info.underruns, 0);
    let played = read_wav(&out);
    assert_eq!((played.rate, played.channels), (reference.rate, reference.channels));
    assert_eq!(played.samples.len() as u64, info.frames_written);

    // Whole MP3 frames of 576 samples (MPEG-2 layer III), the Xing/Info tag frame left out.
    let n = played.samples.len();
    assert_eq!(n % 576, 0, "{n} samples is not whole frames");
    // It is the same audio as lame's own decoder makes of it, which trims the codec delay and
    // end padding recorded in the LAME tag (the player plays them: a few ms of near-silence).
    let r = reference.samples.len();
    let (offset, c) = best_alignment(&played.samples, &reference.samples, 3000);
    assert!(c > 0.99, "correlation with lame's decoding only {c:.4} (at offset {offset})");
    eprintln!("speak.mp3: {n} samples played, {r} in the original, aligned at {offset}, correlation {c:.5}");
    assert!(offset <= 1105 + 576, "aligned at {offset}: more than the codec delay");
    assert!(n >= r + offset && n < r + offset + 2 * 576, "played {n} samples: the original {r} + delay {offset} + < 2 frames");
}

#[test]
fn player_converts_when_the_device_runs_another_format() {
    setup();
    let mp3 = speak_mp3();
    let reference = reference_decode(&mp3, "speak-conv");
    let out = tmp().join("converted.wav");
    let dev = device("avs_test_wav", "FILE", &out);
    // A device that only does 16 kHz stereo (forced here; the file plugin takes anything).
    let p = Player::open_with(&dev, PlayerOptions { rate: Some(16_000), channels: Some(2), ..Default::default() }).unwrap();
    for piece in mp3.chunks(1500) {
        p.write_mp3(piece).unwrap();
    }
    p.finish().unwrap();
    let t0 = Instant::now();
    let info = loop {
        let i = p.info();
        if i.finished == 1 && !i.active {
            break i;
        }
        assert!(i.error.is_none(), "{:?}", i.error);
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(p);
    assert_eq!((info.device_rate, info.device_channels), (16_000, 2));
    assert_eq!(info.mp3_rate, reference.rate);
    let played = read_wav(&out);
    assert_eq!((played.rate, played.channels), (16_000, 2));
    let left: Vec<i16> = played.samples.chunks_exact(2).map(|f| f[0]).collect();
    assert!(played.samples.chunks_exact(2).all(|f| f[0] == f[1]), "mono must reach both channels");
    // Same duration: the MP3's samples (decoded here by the same decoder) at 16 kHz.
    let mp3_frames = {
        let mut d = avs::audio::mp3::Mp3Decoder::new();
        let (mut fed, mut n) = (0, 0);
        while fed < mp3.len() {
            fed += d.push(&mp3[fed..]);
            while let Some(f) = d.next_frame(fed == mp3.len()) {
                n += f.samples.len() / f.channels as usize;
            }
        }
        n
    };
    let want = mp3_frames as f64 * 16_000.0 / reference.rate as f64;
    assert!((left.len() as f64 - want).abs() <= 2.0, "{} frames at 16 kHz, want {want:.1}", left.len());
    // Still the same speech: compare with lame's decoding brought to 16 kHz the same way.
    let mut conv = avs::audio::convert::Converter::new(reference.rate, 1, 16_000, 1, reference.samples.len());
    let ref16 = conv.process(&reference.samples).to_vec();
    let (offset, c) = best_alignment(&left, &ref16, 2000);
    assert!(c > 0.98, "correlation {c:.4} at {offset}");
}

#[test]
fn player_plays_utterances_in_order_and_stops_on_demand() {
    setup();
    let mp3 = speak_mp3();
    let out = tmp().join("two.raw");
    let dev = device("avs_test_raw", "FILE", &out);
    let mut p: *mut AvsAlsaPlayer = null_mut();
    assert_eq!(unsafe { avs_alsa_player_open(dev.as_ptr(), &mut p) }, AvsStatus::Ok, "{}", last_error());
    // Two utterances queued back to back, then an empty one.
    write_in_pieces(p, &mp3);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    write_in_pieces(p, &mp3);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    let info = wait_finished(p, 3);
    assert_eq!(info.finished, 3);
    let one = info.frames_written / 2;
    assert!(one > 0 && info.frames_written == 2 * one, "{} frames for two equal utterances", info.frames_written);

    // Barge-in: an utterance without its end is stopped; it does not count as finished and the
    // player goes idle, then plays the next one.
    write_in_pieces(p, &mp3);
    assert_eq!(unsafe { avs_alsa_player_stop(p) }, AvsStatus::Ok);
    let t0 = Instant::now();
    while player_info(p).active {
        assert!(t0.elapsed() < Duration::from_secs(5), "still active after stop");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(player_info(p).finished, 3);
    write_in_pieces(p, &mp3);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    let info = wait_finished(p, 4);
    assert_eq!(info.finished, 4);
    unsafe { avs_alsa_player_close(p) };
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert_eq!(bytes, info.frames_written * 2, "the raw file holds every frame written");
}

#[test]
fn player_buffer_is_bounded_and_garbage_is_skipped() {
    setup();
    let out = tmp().join("garbage.raw");
    let dev = device("avs_test_raw", "FILE", &out);
    let mut p: *mut AvsAlsaPlayer = null_mut();
    assert_eq!(unsafe { avs_alsa_player_open(dev.as_ptr(), &mut p) }, AvsStatus::Ok, "{}", last_error());
    let too_big = vec![0u8; 256 * 1024 + 1];
    assert_eq!(unsafe { avs_alsa_player_write_mp3(p, too_big.as_ptr(), too_big.len()) }, AvsStatus::TooLarge);
    assert!(last_error().contains("exceed"), "{}", last_error());
    assert_eq!(player_info(p).mp3_buffered, 0, "nothing taken");
    // Not MP3 at all: skipped, nothing played, the utterance still ends.
    let junk: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0xEE).collect();
    write_in_pieces(p, &junk);
    assert_eq!(unsafe { avs_alsa_player_finish(p) }, AvsStatus::Ok);
    let info = wait_finished(p, 1);
    assert_eq!(info.frames_written, 0);
    assert!(info.skipped_bytes > 40_000, "skipped {}", info.skipped_bytes);
    assert_eq!(unsafe { avs_alsa_player_write_mp3(p, null(), 0) }, AvsStatus::Ok);
    assert_eq!(unsafe { avs_alsa_player_write_mp3(p, null(), 1) }, AvsStatus::NullArgument);
    unsafe { avs_alsa_player_close(p) };
}

#[test]
fn capture_reads_the_recorded_samples() {
    setup();
    // 16 kHz mono S16_LE: the server's utterance fixture (after its 44-byte header), or a sweep.
    let samples: Vec<i16> = match std::fs::read(repo().join("emulator/fixtures/utterance.wav")) {
        Ok(b) if b.len() > 44 + 32_000 => b[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect(),
        _ => (0..48_000).map(|i| (((i as f64) * (0.01 + i as f64 * 1e-6)).sin() * 12_000.0) as i16).collect(),
    };
    assert!(samples.iter().any(|&s| s != 0));
    let infile = tmp().join("mic.raw");
    std::fs::write(&infile, samples.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let dev = device("avs_test_capture", "INFILE", &infile);
    let mut c: *mut AvsAlsaCapture = null_mut();
    assert_eq!(unsafe { avs_alsa_capture_open(dev.as_ptr(), &mut c) }, AvsStatus::Ok, "{}", last_error());

    let mut info = std::mem::MaybeUninit::<AvsAlsaCaptureInfo>::uninit();
    assert_eq!(unsafe { avs_alsa_capture_get_info(c, info.as_mut_ptr()) }, AvsStatus::Ok);
    let info = unsafe { info.assume_init() };
    assert_eq!((info.rate, info.channels, info.period_frames), (16_000, 1, 160));
    assert!(info.buffer_frames >= 160);

    let mut fds = [0i32; 8];
    let mut events = [0i16; 8];
    let mut n = 0usize;
    assert_eq!(unsafe { avs_alsa_capture_fds(c, fds.as_mut_ptr(), events.as_mut_ptr(), fds.len(), &mut n) }, AvsStatus::Ok);
    assert!(n >= 1 && n <= fds.len(), "{n} descriptors");
    assert!(fds[..n].iter().all(|&fd| fd >= 0) && events[..n].iter().all(|&e| e != 0));

    // Read 10 ms at a time, as a Recognize stream would, until the whole file has come through.
    let want = samples.len().min(3 * 16_000);
    let mut got: Vec<i16> = Vec::new();
    let mut buf = [0i16; 160];
    let t0 = Instant::now();
    while got.len() < want {
        let mut k = usize::MAX;
        assert_eq!(unsafe { avs_alsa_capture_read(c, buf.as_mut_ptr(), buf.len(), &mut k) }, AvsStatus::Ok, "{}", last_error());
        assert!(k <= buf.len());
        got.extend_from_slice(&buf[..k]);
        if k == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "capture stalled after {} samples", got.len());
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(&got[..want], &samples[..want], "captured samples differ from the recorded file");
    let mut info = std::mem::MaybeUninit::<AvsAlsaCaptureInfo>::uninit();
    assert_eq!(unsafe { avs_alsa_capture_get_info(c, info.as_mut_ptr()) }, AvsStatus::Ok);
    let info = unsafe { info.assume_init() };
    assert_eq!(info.frames_read, got.len() as u64);
    assert_eq!(info.overruns, 0);
    // Zero-sized reads are fine.
    let mut k = 7usize;
    assert_eq!(unsafe { avs_alsa_capture_read(c, null_mut(), 0, &mut k) }, AvsStatus::Ok);
    assert_eq!(k, 0);
    unsafe { avs_alsa_capture_close(c) };
}

#[test]
fn missing_devices_and_null_arguments_are_clear_errors() {
    setup();
    let name = c"avs_no_such_device";
    let mut c = 0x1 as *mut AvsAlsaCapture;
    assert_eq!(unsafe { avs_alsa_capture_open(name.as_ptr(), &mut c) }, AvsStatus::AudioDevice);
    assert_eq!(c, 0x1 as *mut AvsAlsaCapture, "output untouched on failure");
    let msg = last_error();
    assert!(msg.contains("capture") && msg.contains("avs_no_such_device") && msg.contains("No such file"), "{msg}");

    let mut p = 0x1 as *mut AvsAlsaPlayer;
    assert_eq!(unsafe { avs_alsa_player_open(c"hw:42,0".as_ptr(), &mut p) }, AvsStatus::AudioDevice);
    assert_eq!(p, 0x1 as *mut AvsAlsaPlayer);
    assert!(last_error().contains("playback") && last_error().contains("hw:42,0"), "{}", last_error());

    unsafe {
        assert_eq!(avs_alsa_capture_open(null(), &mut c), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_capture_open(name.as_ptr(), null_mut()), AvsStatus::NullArgument);
        let mut k = 0usize;
        assert_eq!(avs_alsa_capture_read(null_mut(), null_mut(), 0, &mut k), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_capture_fds(null(), null_mut(), null_mut(), 0, &mut k), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_capture_get_info(null(), null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_player_open(null(), &mut p), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_player_write_mp3(null_mut(), null(), 0), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_player_finish(null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_player_stop(null_mut()), AvsStatus::NullArgument);
        assert_eq!(avs_alsa_player_get_info(null(), null_mut()), AvsStatus::NullArgument);
        assert!(last_error().contains("NULL"));
        avs_alsa_capture_close(null_mut());
        avs_alsa_player_close(null_mut());
    }
}

//! `avs_alsa_*`: ALSA microphone capture and MP3 speech playback for Linux devices (built with
//! the `alsa` feature; the header declares these functions inside `#if defined(AVS_FEATURE_ALSA)`).

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_short};

use crate::audio::alsa::{Capture, Player, MAX_POLL_FDS};
use crate::audio::AudioError;
use crate::ffi::guard;
use crate::status::AvsStatus;

thread_local! {
    /// Message of the last failed `avs_alsa_*` call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `message` as this thread's last error and returns `status`.
fn fail(status: AvsStatus, message: &str) -> AvsStatus {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
    status
}

fn fail_with(e: AudioError) -> AvsStatus {
    fail(e.status, &e.message)
}

/// Runs an export's body behind the panic boundary, recording a message for a caught panic.
fn guarded(what: &str, f: impl FnOnce() -> AvsStatus) -> AvsStatus {
    match guard(f) {
        AvsStatus::Panic => fail(AvsStatus::Panic, &format!("{what}: internal panic caught; close the object")),
        s => s,
    }
}

/// A description of why the last `avs_alsa_*` call that failed on the calling thread failed
/// (which device, which step, the system's reason), e.g. `cannot open ALSA capture device
/// "hw:3,0": No such file or directory (...)`. An empty string if none has failed. The string is
/// NUL-terminated, owned by the library, and valid until the next `avs_alsa_*` call on the same
/// thread. Safe from any thread.
#[no_mangle]
pub extern "C" fn avs_alsa_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

// ------------------------------------------------------------------------------------- capture

/// An ALSA microphone: a PCM capture stream at 16 kHz, mono, signed 16-bit native-endian
/// (S16_LE on every supported target) — the format `avs_client_audio_write` streams to AVS.
/// Create with `avs_alsa_capture_open`, free with `avs_alsa_capture_close`.
/// One thread at a time may use a capture.
pub struct AvsAlsaCapture {
    inner: Capture,
    /// Set after a caught panic.
    poisoned: Cell<bool>,
}

/// What a capture is doing, from `avs_alsa_capture_get_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsAlsaCaptureInfo {
    /// Sample rate in Hz: 16000.
    pub rate: u32,
    /// Channels: 1.
    pub channels: u32,
    /// Period ALSA granted, in frames (160 = 10 ms asked): the device wakes the poll descriptors
    /// about once per period.
    pub period_frames: u32,
    /// Capture ring ALSA granted, in frames (5120 = 320 ms asked): audio not read within this
    /// time is lost (an overrun).
    pub buffer_frames: u32,
    /// Samples read since open.
    pub frames_read: u64,
    /// Overruns since open: each lost some audio (the capture was not read in time). They are
    /// recovered automatically; reading goes on.
    pub overruns: u64,
}

/// Opens the ALSA PCM `device` for capture at 16 kHz, mono, S16 and writes the capture to
/// `*out`. `device` is an ALSA PCM name: `"default"`, `"plughw:1,0"` (a card with rate/format
/// conversion), `"hw:1,0"` (no conversion: must support the format itself), `"dsnoop"`...
/// The device is opened non-blocking (a busy device fails instead of waiting). Recording starts
/// at once: read at least every `buffer_frames` (320 ms asked), or an overrun loses audio —
/// close the capture while audio is not wanted.
///
/// Errors: `AVS_STATUS_BAD_CONFIG` when the device does not exist, is busy or not accessible, or
/// cannot record 16 kHz mono S16 (use a `plughw:` or `default` device, which convert);
/// `avs_alsa_last_error()` says which and why.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_capture_open(device: *const c_char, out: *mut *mut AvsAlsaCapture) -> AvsStatus {
    if device.is_null() || out.is_null() {
        return fail(AvsStatus::NullArgument, "avs_alsa_capture_open: device or out is NULL");
    }
    guarded("avs_alsa_capture_open", || {
        let name = CStr::from_ptr(device);
        match Capture::open(name) {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(AvsAlsaCapture { inner, poisoned: Cell::new(false) }));
                AvsStatus::Ok
            }
            Err(e) => fail_with(e),
        }
    })
}

/// Reads the audio available now without blocking: up to `max_samples` samples into `pcm`, their
/// number to `*out_samples` — possibly 0 when nothing new was recorded. Call it about every 10 ms
/// (or when the descriptors of `avs_alsa_capture_fds` are readable) and hand the samples on,
/// e.g. 160 at a time (320 bytes, one 10 ms AVS audio chunk).
///
/// An overrun (the capture was not read within the ring's time) is recovered here: the audio lost
/// is gone, reading goes on, and `avs_alsa_capture_info.overruns` counts it.
///
/// Errors: `AVS_STATUS_CONNECTION_LOST` when the device failed or was unplugged (close it);
/// `AVS_STATUS_NULL_ARGUMENT` when `pcm` is NULL with `max_samples` > 0.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_capture_read(
    capture: *mut AvsAlsaCapture,
    pcm: *mut i16,
    max_samples: usize,
    out_samples: *mut usize,
) -> AvsStatus {
    if capture.is_null() || out_samples.is_null() || (pcm.is_null() && max_samples > 0) {
        return fail(AvsStatus::NullArgument, "avs_alsa_capture_read: capture, pcm or out_samples is NULL");
    }
    let c = &mut *capture;
    if c.poisoned.get() {
        return fail(AvsStatus::Panic, "avs_alsa_capture_read: the capture is unusable after a panic; close it");
    }
    let status = guarded("avs_alsa_capture_read", || {
        let buf: &mut [i16] = if max_samples == 0 { &mut [] } else { std::slice::from_raw_parts_mut(pcm, max_samples) };
        match c.inner.read(buf) {
            Ok(n) => {
                *out_samples = n;
                AvsStatus::Ok
            }
            Err(e) => fail_with(e),
        }
    });
    if status == AvsStatus::Panic {
        c.poisoned.set(true);
    }
    status
}

/// Writes up to `capacity` poll descriptors of the capture into `fds` (and, when `events` is not
/// NULL, the `poll(2)` events to wait for on each into `events`; `POLLIN` for most devices) and
/// their total number to `*out_count`. Wait on them together with `avs_client_fds`, then call
/// `avs_alsa_capture_read`; a wake-up may still read 0 samples. The descriptors stay valid until
/// `avs_alsa_capture_close`.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_capture_fds(
    capture: *const AvsAlsaCapture,
    fds: *mut c_int,
    events: *mut c_short,
    capacity: usize,
    out_count: *mut usize,
) -> AvsStatus {
    if capture.is_null() || out_count.is_null() || (fds.is_null() && capacity > 0) {
        return fail(AvsStatus::NullArgument, "avs_alsa_capture_fds: capture, fds or out_count is NULL");
    }
    let c = &*capture;
    if c.poisoned.get() {
        return fail(AvsStatus::Panic, "avs_alsa_capture_fds: the capture is unusable after a panic; close it");
    }
    guarded("avs_alsa_capture_fds", || {
        let mut all = [libc::pollfd { fd: -1, events: 0, revents: 0 }; MAX_POLL_FDS];
        let n = c.inner.poll_fds(&mut all).min(MAX_POLL_FDS);
        for (i, p) in all[..n].iter().take(capacity).enumerate() {
            *fds.add(i) = p.fd;
            if !events.is_null() {
                *events.add(i) = p.events;
            }
        }
        *out_count = n;
        AvsStatus::Ok
    })
}

/// Writes the capture's setup and counters to `*out_info`.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_capture_get_info(capture: *const AvsAlsaCapture, out_info: *mut AvsAlsaCaptureInfo) -> AvsStatus {
    if capture.is_null() || out_info.is_null() {
        return fail(AvsStatus::NullArgument, "avs_alsa_capture_get_info: capture or out_info is NULL");
    }
    let c = &*capture;
    if c.poisoned.get() {
        return fail(AvsStatus::Panic, "avs_alsa_capture_get_info: the capture is unusable after a panic; close it");
    }
    let i = c.inner.info();
    out_info.write(AvsAlsaCaptureInfo {
        rate: i.rate,
        channels: i.channels,
        period_frames: i.period_frames,
        buffer_frames: i.buffer_frames,
        frames_read: i.frames_read,
        overruns: i.overruns,
    });
    AvsStatus::Ok
}

/// Stops recording and closes the device. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_capture_close(capture: *mut AvsAlsaCapture) {
    if capture.is_null() {
        return;
    }
    let _ = guard(|| {
        drop(Box::from_raw(capture));
        AvsStatus::Ok
    });
}

// -------------------------------------------------------------------------------------- player

/// An MP3 speech player on an ALSA PCM playback device. Create with `avs_alsa_player_open`, free
/// with `avs_alsa_player_close`.
///
/// Threads: the player owns one worker thread that decodes (minimp3) and writes to the device
/// (non-blocking, in bounded waits). No `avs_alsa_player_*` call but `avs_alsa_player_close`
/// waits for the device: they copy bytes or read counters under a short lock, so they are safe
/// to call from the client's callbacks (`on_speech_audio`) and never stall its event loop. Nothing
/// needs pumping. One thread at a time may call the functions of one player.
///
/// The device is set up at each utterance's MP3 rate and channel count (16 000, 22 050, 24 000 Hz,
/// mono...) when ALSA accepts them; otherwise at the nearest it offers, and the player converts
/// (channel mapping, linear resampling).
pub struct AvsAlsaPlayer {
    inner: Player,
    /// Set after a caught panic.
    poisoned: Cell<bool>,
}

/// What a player is doing, from `avs_alsa_player_get_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsAlsaPlayerInfo {
    /// True while something is still to be played: MP3 bytes not yet decoded, audio not yet
    /// drained, or an `avs_alsa_player_finish` not yet reached. False once idle (and after
    /// `avs_alsa_player_stop`).
    pub active: bool,
    /// Utterances played to their end since open (each `avs_alsa_player_finish`, once its audio
    /// has drained from the device): when it goes up, send SpeechFinished
    /// (`avs_client_speech_finished`). Stopped utterances are not counted. Wraps around.
    pub finished: u32,
    /// MP3 bytes written and not yet taken by the decoder.
    pub mp3_buffered: usize,
    /// Room for `avs_alsa_player_write_mp3` now, in bytes.
    pub mp3_free: usize,
    /// Frames written to the device since open.
    pub frames_written: u64,
    /// Underruns since open (the device ran dry because MP3 bytes arrived more slowly than they
    /// play); recovered automatically.
    pub underruns: u64,
    /// Sample rate of the last MP3 frame decoded, in Hz (0 before the first).
    pub mp3_rate: u32,
    /// Channels of the last MP3 frame decoded (0 before the first).
    pub mp3_channels: u32,
    /// Rate the device runs at (0 before the first frame); differs from `mp3_rate` when the
    /// player converts.
    pub device_rate: u32,
    /// Channels the device runs with (0 before the first frame).
    pub device_channels: u32,
    /// Input bytes skipped as not MP3 audio (ID3 tags, garbage).
    pub skipped_bytes: u64,
    /// `AVS_STATUS_OK`, or why the player stopped working (e.g. `AVS_STATUS_CONNECTION_LOST`
    /// when the device failed); `avs_alsa_last_error()` after a failing call says more.
    pub error: AvsStatus,
}

/// Opens the ALSA PCM `device` for playback (`"default"`, `"plughw:0,0"`, `"dmix"`...) and
/// starts the player's worker thread; writes the player to `*out`. The device is opened
/// non-blocking and checked for interleaved S16 output; its rate and channels are set at the
/// first MP3 frame. The MP3 buffer holds 256 KiB (about 40 s of 48 kbit/s speech).
///
/// Errors: `AVS_STATUS_BAD_CONFIG` when the device does not exist, is busy or not accessible, or
/// cannot play S16; `AVS_STATUS_NO_MEMORY` when the thread cannot be started;
/// `avs_alsa_last_error()` says which and why.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_open(device: *const c_char, out: *mut *mut AvsAlsaPlayer) -> AvsStatus {
    if device.is_null() || out.is_null() {
        return fail(AvsStatus::NullArgument, "avs_alsa_player_open: device or out is NULL");
    }
    guarded("avs_alsa_player_open", || match Player::open(CStr::from_ptr(device)) {
        Ok(inner) => {
            *out = Box::into_raw(Box::new(AvsAlsaPlayer { inner, poisoned: Cell::new(false) }));
            AvsStatus::Ok
        }
        Err(e) => fail_with(e),
    })
}

/// Runs `f` on a live, unpoisoned player, turning its error into a status and a message.
unsafe fn with_player(
    player: *const AvsAlsaPlayer,
    what: &str,
    f: impl FnOnce(&Player) -> Result<(), AudioError>,
) -> AvsStatus {
    if player.is_null() {
        return fail(AvsStatus::NullArgument, &format!("{what}: player is NULL"));
    }
    let p = &*player;
    if p.poisoned.get() {
        return fail(AvsStatus::Panic, &format!("{what}: the player is unusable after a panic; close it"));
    }
    let status = guarded(what, || match f(&p.inner) {
        Ok(()) => AvsStatus::Ok,
        Err(e) => fail_with(e),
    });
    if status == AvsStatus::Panic {
        p.poisoned.set(true);
    }
    status
}

/// Queues `len` MP3 bytes of the current utterance — a piece of any size, e.g. straight from
/// `on_speech_audio`. The bytes are copied; decoding and playback happen on the player's thread,
/// so this returns at once. All or nothing: `AVS_STATUS_QUEUE_FULL` when they do not fit in the
/// free space now (nothing was taken: keep them and retry once `mp3_free` grows, as playback
/// progresses), `AVS_STATUS_TOO_LARGE` when `len` exceeds the whole buffer.
/// `data` may be NULL when `len` is 0.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_write_mp3(player: *mut AvsAlsaPlayer, data: *const u8, len: usize) -> AvsStatus {
    if data.is_null() && len > 0 {
        return fail(AvsStatus::NullArgument, "avs_alsa_player_write_mp3: data is NULL");
    }
    with_player(player, "avs_alsa_player_write_mp3", |p| {
        let bytes: &[u8] = if len == 0 { &[] } else { std::slice::from_raw_parts(data, len) };
        p.write_mp3(bytes)
    })
}

/// Ends the current utterance (e.g. when `on_speech_audio` says `last`): the player decodes its
/// tail, plays it out and drains the device, then counts it in `avs_alsa_player_info.finished`.
/// Returns at once. MP3 bytes written afterwards form the next utterance, played after this one
/// (up to 16 utterances may wait; `AVS_STATUS_QUEUE_FULL` beyond).
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_finish(player: *mut AvsAlsaPlayer) -> AvsStatus {
    with_player(player, "avs_alsa_player_finish", |p| p.finish())
}

/// Stops playback at once (barge-in, `SpeechSynthesizer` interrupted): drops every buffered MP3
/// byte and waiting utterance and silences the device within a few tens of milliseconds. Dropped
/// utterances are not counted as finished. The player stays open for the next utterance.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_stop(player: *mut AvsAlsaPlayer) -> AvsStatus {
    with_player(player, "avs_alsa_player_stop", |p| p.stop())
}

/// Writes the player's state and counters to `*out_info`.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_get_info(player: *const AvsAlsaPlayer, out_info: *mut AvsAlsaPlayerInfo) -> AvsStatus {
    if out_info.is_null() {
        return fail(AvsStatus::NullArgument, "avs_alsa_player_get_info: out_info is NULL");
    }
    with_player(player, "avs_alsa_player_get_info", |p| {
        let i = p.info();
        out_info.write(AvsAlsaPlayerInfo {
            active: i.active,
            finished: i.finished,
            mp3_buffered: i.mp3_buffered,
            mp3_free: i.mp3_free,
            frames_written: i.frames_written,
            underruns: i.underruns,
            mp3_rate: i.mp3_rate,
            mp3_channels: i.mp3_channels,
            device_rate: i.device_rate,
            device_channels: i.device_channels,
            skipped_bytes: i.skipped_bytes,
            error: i.error.as_ref().map_or(AvsStatus::Ok, |e| e.status),
        });
        Ok(())
    })
}

/// Stops playback (what is still buffered is dropped: wait for `finished` first to hear it all),
/// joins the worker thread (it notices within about 50 ms) and closes the device. NULL is
/// ignored.
#[no_mangle]
pub unsafe extern "C" fn avs_alsa_player_close(player: *mut AvsAlsaPlayer) {
    if player.is_null() {
        return;
    }
    let _ = guard(|| {
        drop(Box::from_raw(player));
        AvsStatus::Ok
    });
}

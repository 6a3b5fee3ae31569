//! ALSA capture ([`Capture`]) and MP3 playback ([`Player`]).
//!
//! Capture never blocks: the PCM is opened non-blocking and [`Capture::read`] returns what is
//! there. Playback runs on a worker thread that the [`Player`] owns: the caller only copies MP3
//! bytes into a bounded buffer, so its event loop is never held up by the device.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use ::alsa::pcm::{Access, Format, HwParams, State as PcmState, PCM};
use ::alsa::{Direction, PollDescriptors, ValueOr};

use super::convert::Converter;
use super::mp3::{self, Mp3Decoder};
use super::{AudioError, DEVICE_FAILED, DEVICE_UNAVAILABLE, FORMAT_UNSUPPORTED};
use crate::status::AvsStatus;

/// Capture sample rate: what AVS takes (`AUDIO_L16_RATE_16000_CHANNELS_1`).
pub const CAPTURE_RATE: u32 = 16_000;
/// Capture period: 10 ms, 160 frames = 320 bytes, one AVS audio chunk.
pub const CAPTURE_PERIOD_FRAMES: usize = 160;
/// Capture ring asked of ALSA: 32 periods (320 ms) before an overrun.
const CAPTURE_BUFFER_FRAMES: usize = 32 * CAPTURE_PERIOD_FRAMES;
/// Most poll descriptors a PCM may have (hw devices have 1, plugins a few).
pub const MAX_POLL_FDS: usize = 8;

/// Default MP3 buffer of a [`Player`]: 256 KiB, about 40 s of 48 kbit/s speech.
pub const PLAYER_MP3_BUFFER: usize = 256 * 1024;
/// Utterance ends ([`Player::finish`]) that may wait behind the one playing.
pub const PLAYER_MAX_PENDING: usize = 16;
/// Playback buffer asked of ALSA.
const PLAYBACK_BUFFER_US: u32 = 200_000;
/// Playback period asked of ALSA.
const PLAYBACK_PERIOD_US: u32 = 40_000;
/// Longest the worker waits on the device before it looks for stop/close again.
const WAIT_MS: u32 = 50;

/// The system's text for an errno, without Rust's "(os error N)" suffix.
fn describe(e: &::alsa::Error) -> String {
    let n = e.errno();
    let text = std::io::Error::from_raw_os_error(n).to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn open_error(kind: &str, device: &str, e: &::alsa::Error) -> AudioError {
    let hint = match e.errno() {
        libc::ENOENT | libc::ENODEV | libc::ENXIO => {
            " (no such PCM, or a card or file it needs is missing; `aplay -L` / `arecord -L` list the names)"
        }
        libc::EBUSY => " (another program has it open; a `dmix`/`dsnoop` or `default` device can be shared)",
        libc::EACCES | libc::EPERM => " (the process needs access to /dev/snd, e.g. the `audio` group)",
        _ => "",
    };
    AudioError::new(DEVICE_UNAVAILABLE, format!("cannot open ALSA {kind} device \"{device}\": {}{hint}", describe(e)))
}

fn failed(kind: &str, device: &str, what: &str, e: &::alsa::Error) -> AudioError {
    AudioError::new(DEVICE_FAILED, format!("ALSA {kind} device \"{device}\": {what} failed: {}", describe(e)))
}

fn is_xrun(e: &::alsa::Error) -> bool {
    matches!(e.errno(), libc::EPIPE | libc::ESTRPIPE)
}

/// `&[i16]` as bytes (any i16 is two valid bytes).
fn as_bytes(s: &[i16]) -> &[u8] {
    // SAFETY: same memory, u8 has no alignment or validity requirement.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
}

/// `&mut [i16]` as bytes (any two bytes are a valid i16).
fn as_bytes_mut(s: &mut [i16]) -> &mut [u8] {
    // SAFETY: same memory, every byte pattern is a valid i16 and u8 has no alignment requirement.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut u8, std::mem::size_of_val(s)) }
}

// ------------------------------------------------------------------------------------- capture

/// What a [`Capture`] is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureInfo {
    /// Sample rate (always [`CAPTURE_RATE`]).
    pub rate: u32,
    /// Channels (always 1).
    pub channels: u32,
    /// Period in frames that ALSA granted (160 asked).
    pub period_frames: u32,
    /// Ring in frames that ALSA granted: audio older than this is lost if not read (an overrun).
    pub buffer_frames: u32,
    /// Frames read since open.
    pub frames_read: u64,
    /// Overruns recovered since open: each one lost some audio.
    pub overruns: u64,
}

/// A microphone: an ALSA PCM capture stream at 16 kHz, mono, signed 16-bit native-endian
/// (S16_LE on every supported target), read without blocking.
pub struct Capture {
    pcm: PCM,
    device: String,
    info: CaptureInfo,
}

impl Capture {
    /// Opens `device` (an ALSA PCM name: `default`, `plughw:1,0`, `dsnoop`...) for capture at
    /// 16 kHz mono S16 and starts recording: read at least every buffer's time (320 ms asked), or
    /// an overrun loses audio.
    pub fn open(device: &CStr) -> Result<Capture, AudioError> {
        let name = device.to_string_lossy().into_owned();
        let pcm = PCM::open(device, Direction::Capture, true).map_err(|e| open_error("capture", &name, &e))?;
        let fmt_err = |what: &str, e: ::alsa::Error| {
            AudioError::new(
                FORMAT_UNSUPPORTED,
                format!(
                    "ALSA capture device \"{name}\" cannot record {CAPTURE_RATE} Hz mono S16_LE ({what}: {}); \
                     a `plughw:` or `default` device converts",
                    describe(&e)
                ),
            )
        };
        {
            let hwp = HwParams::any(&pcm).map_err(|e| fmt_err("hw params", e))?;
            hwp.set_access(Access::RWInterleaved).map_err(|e| fmt_err("interleaved access", e))?;
            hwp.set_format(Format::s16()).map_err(|e| fmt_err("sample format", e))?;
            hwp.set_channels(1).map_err(|e| fmt_err("channels", e))?;
            let _ = hwp.set_rate_resample(true);
            hwp.set_rate(CAPTURE_RATE, ValueOr::Nearest).map_err(|e| fmt_err("rate", e))?;
            hwp.set_period_size_near(CAPTURE_PERIOD_FRAMES as _, ValueOr::Nearest).map_err(|e| fmt_err("period", e))?;
            hwp.set_buffer_size_near(CAPTURE_BUFFER_FRAMES as _).map_err(|e| fmt_err("buffer", e))?;
            pcm.hw_params(&hwp).map_err(|e| fmt_err("hw params", e))?;
        }
        let (buffer, period) = pcm.get_params().map_err(|e| failed("capture", &name, "reading the setup", &e))?;
        {
            let swp = pcm.sw_params_current().map_err(|e| failed("capture", &name, "sw params", &e))?;
            swp.set_avail_min(period as _).map_err(|e| failed("capture", &name, "avail_min", &e))?;
            swp.set_start_threshold(1).map_err(|e| failed("capture", &name, "start threshold", &e))?;
            pcm.sw_params(&swp).map_err(|e| failed("capture", &name, "sw params", &e))?;
        }
        // Record from now on, so that the poll descriptors wake a host that waits on them
        // before its first read.
        pcm.start().map_err(|e| failed("capture", &name, "start", &e))?;
        Ok(Capture {
            pcm,
            device: name,
            info: CaptureInfo {
                rate: CAPTURE_RATE,
                channels: 1,
                period_frames: period as u32,
                buffer_frames: buffer as u32,
                frames_read: 0,
                overruns: 0,
            },
        })
    }

    /// The device name it was opened with.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Counters and the granted setup.
    pub fn info(&self) -> CaptureInfo {
        self.info
    }

    /// Copies the PCM's poll descriptors into `out` (up to its length) and returns how many there
    /// are in total.
    pub fn poll_fds(&self, out: &mut [libc::pollfd]) -> usize {
        let mut all = [libc::pollfd { fd: -1, events: 0, revents: 0 }; MAX_POLL_FDS];
        let n = self.pcm.fill(&mut all).unwrap_or(0).min(MAX_POLL_FDS);
        let k = n.min(out.len());
        out[..k].copy_from_slice(&all[..k]);
        n
    }

    /// Clears what the host's poll saw on our descriptors. Some plugins (dsnoop's timer) keep
    /// signalling until `snd_pcm_poll_descriptors_revents` consumes the event; without this a
    /// host polling the descriptors would spin.
    fn consume_poll_events(&self) {
        let mut fds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; MAX_POLL_FDS];
        let n = self.pcm.fill(&mut fds).unwrap_or(0).min(MAX_POLL_FDS);
        if n == 0 {
            return;
        }
        // SAFETY: `fds` holds `n` initialised pollfd; a zero timeout never blocks.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, 0) };
        if r > 0 {
            let _ = self.pcm.revents(&fds[..n]);
        }
    }

    fn recover(&mut self, e: ::alsa::Error) -> Result<(), AudioError> {
        if !is_xrun(&e) {
            return Err(failed("capture", &self.device, "read", &e));
        }
        self.pcm.try_recover(e, true).map_err(|e| failed("capture", &self.device, "overrun recovery", &e))?;
        self.info.overruns += 1;
        self.pcm.start().map_err(|e| failed("capture", &self.device, "restart after overrun", &e))?;
        Ok(())
    }

    /// Reads the samples available now, up to `out.len()`, and returns how many (possibly 0).
    /// An overrun (audio not read in time) is recovered and
    /// counted in [`CaptureInfo::overruns`]; the samples lost with it are gone.
    pub fn read(&mut self, out: &mut [i16]) -> Result<usize, AudioError> {
        if out.is_empty() {
            return Ok(0);
        }
        self.consume_poll_events();
        match self.pcm.state() {
            PcmState::XRun | PcmState::Suspended => {
                let e = ::alsa::Error::new("snd_pcm_state", if self.pcm.state() == PcmState::XRun { libc::EPIPE } else { libc::ESTRPIPE });
                self.recover(e)?;
            }
            PcmState::Disconnected => {
                return Err(AudioError::new(DEVICE_FAILED, format!("ALSA capture device \"{}\" was disconnected", self.device)));
            }
            _ => {}
        }
        // Two tries: an overrun found by the read is recovered, then what is there is read.
        for _ in 0..2 {
            let io = self.pcm.io_bytes();
            match io.readi(as_bytes_mut(out)) {
                Ok(n) => {
                    self.info.frames_read += n as u64;
                    return Ok(n);
                }
                Err(e) if e.errno() == libc::EAGAIN => return Ok(0),
                Err(e) => {
                    drop(io);
                    self.recover(e)?;
                }
            }
        }
        Ok(0)
    }
}

// -------------------------------------------------------------------------------------- player

/// Settings of a [`Player`]; [`Default`] is what the C API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayerOptions {
    /// MP3 bytes accepted ahead of the decoder (default [`PLAYER_MP3_BUFFER`]).
    pub mp3_buffer_bytes: usize,
    /// Open the device at this rate instead of the MP3's, converting in software.
    pub rate: Option<u32>,
    /// Open the device with this many channels instead of the MP3's, converting in software.
    pub channels: Option<u32>,
}

impl Default for PlayerOptions {
    fn default() -> Self {
        PlayerOptions { mp3_buffer_bytes: PLAYER_MP3_BUFFER, rate: None, channels: None }
    }
}

/// What a [`Player`] is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlayerInfo {
    /// Something is still to be played: MP3 bytes not yet decoded, audio not yet drained, or an
    /// utterance end not yet reached.
    pub active: bool,
    /// Utterances played to their end (through [`Player::finish`]) since open.
    pub finished: u32,
    /// MP3 bytes accepted and not yet taken by the decoder.
    pub mp3_buffered: usize,
    /// Room for [`Player::write_mp3`] now.
    pub mp3_free: usize,
    /// Frames written to the device since open.
    pub frames_written: u64,
    /// Underruns recovered since open (the device ran dry: MP3 bytes arrived too slowly).
    pub underruns: u64,
    /// Rate of the last MP3 frame decoded (0 before the first).
    pub mp3_rate: u32,
    /// Channels of the last MP3 frame decoded (0 before the first).
    pub mp3_channels: u32,
    /// Rate the device was set up at (0 before the first frame).
    pub device_rate: u32,
    /// Channels the device was set up with (0 before the first frame).
    pub device_channels: u32,
    /// Input bytes skipped as not MP3 audio (tags, garbage).
    pub skipped_bytes: u64,
    /// The error that stopped the player's thread, if one did.
    pub error: Option<AudioError>,
}

/// State shared by the caller's side and the worker, under `Shared::state`.
struct State {
    ring: VecDeque<u8>,
    capacity: usize,
    /// Bytes ever accepted / ever taken (or discarded by stop) — positions in one stream.
    written: u64,
    taken: u64,
    /// Stream positions where utterances end (from `finish`).
    ends: VecDeque<u64>,
    /// The worker holds data of an utterance (undecoded, or decoded and not yet drained).
    worker_busy: bool,
    info: PlayerInfo,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Bumped by `stop` (under the lock), read by the worker between device writes.
    stop_gen: AtomicU64,
    closing: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Plays MP3 speech on an ALSA device. MP3 bytes go in with [`write_mp3`](Self::write_mp3) in
/// pieces of any size; a worker thread owned by the player decodes and plays them.
/// [`finish`](Self::finish) marks the end of an utterance. Dropping the player stops playback and
/// joins the thread.
pub struct Player {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    device: String,
}

impl Player {
    /// Opens `device` for playback with [`PlayerOptions::default`].
    pub fn open(device: &CStr) -> Result<Player, AudioError> {
        Self::open_with(device, PlayerOptions::default())
    }

    /// Opens `device` for playback and starts the worker thread. The device is set up at the
    /// first MP3 frame's rate and channels (or those in `options`); when ALSA offers only others,
    /// the player converts.
    pub fn open_with(device: &CStr, options: PlayerOptions) -> Result<Player, AudioError> {
        let name = device.to_string_lossy().into_owned();
        let pcm = PCM::open(device, Direction::Playback, true).map_err(|e| open_error("playback", &name, &e))?;
        {
            let fmt_err = |what: &str, e: ::alsa::Error| {
                AudioError::new(
                    FORMAT_UNSUPPORTED,
                    format!("ALSA playback device \"{name}\" cannot play interleaved S16 ({what}: {})", describe(&e)),
                )
            };
            let hwp = HwParams::any(&pcm).map_err(|e| fmt_err("hw params", e))?;
            hwp.test_access(Access::RWInterleaved).map_err(|e| fmt_err("interleaved access", e))?;
            hwp.test_format(Format::s16()).map_err(|e| fmt_err("sample format", e))?;
        }
        let capacity = options.mp3_buffer_bytes.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                ring: VecDeque::with_capacity(capacity),
                capacity,
                written: 0,
                taken: 0,
                ends: VecDeque::with_capacity(PLAYER_MAX_PENDING),
                worker_busy: false,
                info: PlayerInfo::default(),
            }),
            wake: Condvar::new(),
            stop_gen: AtomicU64::new(0),
            closing: AtomicBool::new(false),
        });
        let output = Output { pcm, device: name.clone(), options, setup: None };
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("avs-alsa-player".into())
            .spawn(move || run_worker(worker_shared, output))
            .map_err(|e| AudioError::new(AvsStatus::NoMemory, format!("cannot start the player thread: {e}")))?;
        Ok(Player { shared, worker: Some(worker), device: name })
    }

    /// The device name it was opened with.
    pub fn device(&self) -> &str {
        &self.device
    }

    fn check(&self, st: &State) -> Result<(), AudioError> {
        match &st.info.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Queues MP3 bytes of the current utterance: all of them, or none when they do not fit
    /// (`QueueFull`: retry once playback made room; `TooLarge` when `data` exceeds the whole
    /// buffer). Copies and returns at once.
    pub fn write_mp3(&self, data: &[u8]) -> Result<(), AudioError> {
        let mut st = self.shared.lock();
        self.check(&st)?;
        if data.len() > st.capacity {
            return Err(AudioError::new(
                AvsStatus::TooLarge,
                format!("{} MP3 bytes exceed the player's whole buffer of {} bytes", data.len(), st.capacity),
            ));
        }
        if st.ring.len() + data.len() > st.capacity {
            return Err(AudioError::new(
                AvsStatus::QueueFull,
                format!("player buffer full: {} of {} bytes waiting to be decoded", st.ring.len(), st.capacity),
            ));
        }
        st.ring.extend(data.iter().copied());
        st.written += data.len() as u64;
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Ends the current utterance: the worker decodes its tail, plays it out and drains the
    /// device, then counts it in [`PlayerInfo::finished`]. Bytes written afterwards start the next
    /// utterance, played after this one. Returns at once.
    pub fn finish(&self) -> Result<(), AudioError> {
        let mut st = self.shared.lock();
        self.check(&st)?;
        if st.ends.len() >= PLAYER_MAX_PENDING {
            return Err(AudioError::new(AvsStatus::QueueFull, format!("{PLAYER_MAX_PENDING} utterances already wait to be played")));
        }
        let end = st.written;
        st.ends.push_back(end);
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Stops playback now (barge-in): drops everything buffered and stops the device. The
    /// utterances dropped are not counted as finished. Returns at once; the device goes quiet
    /// within one write (tens of milliseconds).
    pub fn stop(&self) -> Result<(), AudioError> {
        let mut st = self.shared.lock();
        self.check(&st)?;
        st.ring.clear();
        st.ends.clear();
        st.taken = st.written;
        st.worker_busy = false;
        self.shared.stop_gen.fetch_add(1, Ordering::SeqCst);
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Counters, formats and state.
    pub fn info(&self) -> PlayerInfo {
        let st = self.shared.lock();
        let mut info = st.info.clone();
        info.mp3_buffered = st.ring.len();
        info.mp3_free = st.capacity - st.ring.len();
        info.active = info.error.is_none() && (!st.ring.is_empty() || !st.ends.is_empty() || st.worker_busy);
        info
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        {
            let _st = self.shared.lock();
            self.shared.closing.store(true, Ordering::SeqCst);
        }
        self.shared.wake.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// How the device is set up for the current MP3 format.
struct Setup {
    mp3_rate: u32,
    mp3_channels: u32,
    rate: u32,
    channels: u32,
    conv: Converter,
}

/// The worker's side of the device.
struct Output {
    pcm: PCM,
    device: String,
    options: PlayerOptions,
    setup: Option<Setup>,
}

/// Why a write or drain ended early.
#[derive(Debug, PartialEq, Eq)]
enum Interrupted {
    Yes,
    No,
}

impl Output {
    fn err(&self, what: &str, e: &::alsa::Error) -> AudioError {
        failed("playback", &self.device, what, e)
    }

    /// Sets the device up for MP3 frames of `rate` and `channels`, unless it already is.
    fn configure(&mut self, rate: u32, channels: u32) -> Result<(), AudioError> {
        if let Some(s) = &self.setup {
            if s.mp3_rate == rate && s.mp3_channels == channels {
                return Ok(());
            }
        }
        self.setup = None;
        let _ = self.pcm.drop();
        let fmt_err = |what: &str, e: ::alsa::Error| {
            AudioError::new(
                FORMAT_UNSUPPORTED,
                format!("ALSA playback device \"{}\" refused {what} for {rate} Hz, {channels} channel(s): {}", self.device, describe(&e)),
            )
        };
        let want_rate = self.options.rate.unwrap_or(rate);
        let want_channels = self.options.channels.unwrap_or(channels);
        let (dev_rate, dev_channels) = {
            let hwp = HwParams::any(&self.pcm).map_err(|e| fmt_err("hw params", e))?;
            hwp.set_access(Access::RWInterleaved).map_err(|e| fmt_err("interleaved access", e))?;
            hwp.set_format(Format::s16()).map_err(|e| fmt_err("S16", e))?;
            let ch = if hwp.test_channels(want_channels).is_ok() {
                hwp.set_channels(want_channels).map_err(|e| fmt_err("channels", e))?;
                want_channels
            } else {
                hwp.set_channels_near(want_channels).map_err(|e| fmt_err("channels", e))?
            };
            let _ = hwp.set_rate_resample(true);
            let r = hwp.set_rate_near(want_rate, ValueOr::Nearest).map_err(|e| fmt_err("rate", e))?;
            let _ = hwp.set_buffer_time_near(PLAYBACK_BUFFER_US, ValueOr::Nearest);
            let _ = hwp.set_period_time_near(PLAYBACK_PERIOD_US, ValueOr::Nearest);
            self.pcm.hw_params(&hwp).map_err(|e| fmt_err("hw params", e))?;
            (r, ch)
        };
        let (buffer, period) = self.pcm.get_params().map_err(|e| self.err("reading the setup", &e))?;
        {
            let swp = self.pcm.sw_params_current().map_err(|e| self.err("sw params", &e))?;
            // Start once half the buffer is queued: a cushion against a late write.
            swp.set_start_threshold((buffer / 2).max(period) as _).map_err(|e| self.err("start threshold", &e))?;
            swp.set_avail_min(period as _).map_err(|e| self.err("avail_min", &e))?;
            self.pcm.sw_params(&swp).map_err(|e| self.err("sw params", &e))?;
        }
        let conv = Converter::new(rate, channels, dev_rate, dev_channels, mp3::MAX_SAMPLES_PER_FRAME);
        self.setup = Some(Setup { mp3_rate: rate, mp3_channels: channels, rate: dev_rate, channels: dev_channels, conv });
        Ok(())
    }

    /// Plays out what is queued and stops the device, ready for the next utterance.
    fn drain(&mut self, stop: &dyn Fn() -> bool) -> Result<Interrupted, AudioError> {
        if self.setup.is_none() {
            return Ok(Interrupted::No);
        }
        match self.pcm.drain() {
            Ok(()) => {}
            Err(e) if e.errno() == libc::EAGAIN => {
                // Non-blocking: the device drains on its own; watch it in bounded steps.
                while self.pcm.state() == PcmState::Draining {
                    if stop() {
                        let _ = self.pcm.drop();
                        let _ = self.pcm.prepare();
                        return Ok(Interrupted::Yes);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Err(e) if is_xrun(&e) => {}
            Err(e) => return Err(self.err("drain", &e)),
        }
        self.pcm.prepare().map_err(|e| self.err("prepare", &e))?;
        if let Some(s) = &mut self.setup {
            s.conv.reset();
        }
        Ok(Interrupted::No)
    }

    /// Silences the device at once and forgets the conversion state.
    fn halt(&mut self) {
        let _ = self.pcm.drop();
        let _ = self.pcm.prepare();
        if let Some(s) = &mut self.setup {
            s.conv.reset();
        }
    }
}

/// Recovers a playback PCM from an xrun (counted in `underruns`) or fails.
fn recover_playback(pcm: &PCM, device: &str, e: ::alsa::Error, underruns: &mut u64) -> Result<(), AudioError> {
    if !is_xrun(&e) {
        return Err(failed("playback", device, "write", &e));
    }
    pcm.try_recover(e, true).map_err(|e| failed("playback", device, "underrun recovery", &e))?;
    *underruns += 1;
    Ok(())
}

/// Writes interleaved frames of `channels` to a non-blocking playback PCM, waiting for room in
/// bounded steps and checking `stop` between them.
fn write_playback(
    pcm: &PCM,
    device: &str,
    mut data: &[i16],
    channels: usize,
    stop: &dyn Fn() -> bool,
    frames: &mut u64,
    underruns: &mut u64,
) -> Result<Interrupted, AudioError> {
    while !data.is_empty() {
        if stop() {
            return Ok(Interrupted::Yes);
        }
        let r = pcm.io_bytes().writei(as_bytes(data));
        match r {
            Ok(n) => {
                data = &data[(n * channels).min(data.len())..];
                *frames += n as u64;
            }
            Err(e) if e.errno() == libc::EAGAIN => {
                if let Err(e) = pcm.wait(Some(WAIT_MS)) {
                    recover_playback(pcm, device, e, underruns)?;
                }
            }
            Err(e) => recover_playback(pcm, device, e, underruns)?,
        }
    }
    Ok(Interrupted::No)
}

fn run_worker(shared: Arc<Shared>, mut out: Output) {
    let r = catch_unwind(AssertUnwindSafe(|| worker_loop(&shared, &mut out)));
    let error = match r {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(AudioError::new(AvsStatus::Panic, "the ALSA player thread panicked")),
    };
    if let Some(e) = error {
        let mut st = shared.lock();
        st.info.error = Some(e);
        st.worker_busy = false;
    }
}

fn worker_loop(shared: &Shared, out: &mut Output) -> Result<(), AudioError> {
    let mut dec = Mp3Decoder::new();
    let mut gen = shared.stop_gen.load(Ordering::SeqCst);
    // The current utterance's last byte has been taken: decode its tail and drain.
    let mut eos = false;
    loop {
        // Take input (or wait for it) under the lock.
        {
            let mut st = shared.lock();
            loop {
                if shared.closing.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let now_gen = shared.stop_gen.load(Ordering::SeqCst);
                if now_gen != gen {
                    gen = now_gen;
                    dec.reset();
                    eos = false;
                    out.halt();
                }
                if eos {
                    break;
                }
                let until_end = st.ends.front().map(|&e| e - st.taken);
                let n = (st.ring.len() as u64).min(dec.space() as u64).min(until_end.unwrap_or(u64::MAX)) as usize;
                if n > 0 {
                    let (a, b) = st.ring.as_slices();
                    let from_a = n.min(a.len());
                    dec.push(&a[..from_a]);
                    dec.push(&b[..n - from_a]);
                    st.ring.drain(..n);
                    st.taken += n as u64;
                    st.worker_busy = true;
                }
                if st.ends.front() == Some(&st.taken) {
                    st.ends.pop_front();
                    st.worker_busy = true;
                    eos = true;
                }
                if n > 0 || eos {
                    break;
                }
                st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
        let stop = || shared.closing.load(Ordering::Relaxed) || shared.stop_gen.load(Ordering::Relaxed) != gen;

        // Decode and play everything decodable.
        let mut interrupted = Interrupted::No;
        while let Some(frame) = dec.next_frame(eos) {
            if stop() {
                interrupted = Interrupted::Yes;
                break;
            }
            out.configure(frame.rate, frame.channels)?;
            let (mp3_rate, mp3_channels) = (frame.rate, frame.channels);
            let mut frames = 0u64;
            let mut underruns = 0u64;
            let Output { pcm, device, setup, .. } = &mut *out;
            let setup = setup.as_mut().expect("configured above");
            let (dev_rate, dev_channels) = (setup.rate, setup.channels);
            let data: &[i16] = if setup.conv.is_identity() { frame.samples } else { setup.conv.process(frame.samples) };
            let r = write_playback(pcm, device, data, dev_channels as usize, &stop, &mut frames, &mut underruns);
            {
                let mut st = shared.lock();
                st.info.frames_written += frames;
                st.info.underruns += underruns;
                st.info.mp3_rate = mp3_rate;
                st.info.mp3_channels = mp3_channels;
                st.info.device_rate = dev_rate;
                st.info.device_channels = dev_channels;
            }
            if r? == Interrupted::Yes {
                interrupted = Interrupted::Yes;
                break;
            }
        }
        {
            let mut st = shared.lock();
            st.info.skipped_bytes = dec.skipped_bytes();
        }
        if interrupted == Interrupted::Yes {
            continue;
        }
        if eos && dec.buffered() == 0 {
            let r = out.drain(&stop)?;
            eos = false;
            dec.reset();
            let mut st = shared.lock();
            if r == Interrupted::No && shared.stop_gen.load(Ordering::SeqCst) == gen {
                st.info.finished = st.info.finished.wrapping_add(1);
            }
            st.worker_busy = false;
        }
    }
}

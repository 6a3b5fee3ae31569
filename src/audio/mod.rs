//! Device audio on Linux through ALSA (feature `alsa`): the microphone for the Recognize stream
//! and the loudspeaker for Speak answers.
//!
//! - [`alsa::Capture`]: a PCM capture source at 16 kHz, mono, 16-bit — the format AVS takes —
//!   read without blocking, 10 ms periods, overruns recovered and counted.
//! - [`alsa::Player`]: MP3 bytes in as they arrive, decoded ([`mp3`], minimp3) on a worker
//!   thread, converted if the device needs it ([`convert`]), written to a PCM playback device.
//!
//! The C surface is `src/ffi/alsa.rs` (`avs_alsa_*`). Errors carry an [`AvsStatus`] for code and
//! a message for people.

pub mod alsa;
pub mod convert;
pub mod mp3;

use std::fmt;

use crate::status::AvsStatus;

/// Status of a device that cannot be opened: no PCM of that name, busy, no permission.
pub const DEVICE_UNAVAILABLE: AvsStatus = AvsStatus::AudioDevice;
/// Status of a device that cannot take the format (rate, channels, sample format, access).
pub const FORMAT_UNSUPPORTED: AvsStatus = AvsStatus::AudioFormat;
/// Status of a device that failed while in use (unplugged, driver error).
pub const DEVICE_FAILED: AvsStatus = AvsStatus::AudioDevice;

/// Why an audio call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioError {
    /// The status the C API returns for it.
    pub status: AvsStatus,
    /// What happened, for a log line (which device, which call, the system's reason).
    pub message: String,
}

impl AudioError {
    /// An error with a status and a message.
    pub fn new(status: AvsStatus, message: impl Into<String>) -> Self {
        AudioError { status, message: message.into() }
    }
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AudioError {}

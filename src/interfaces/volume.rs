//! The device's volume and mute: one state, shared by the two interfaces that control it
//! (`Speaker`, the device's own, and `Alexa.Speaker`, the v3 endpoint's), applied by the host's
//! speaker. Kept once here, so that the context entries of both say the same thing.

use crate::status::AvsStatus;

/// Volume 0..=100 and mute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VolumeState {
    pub volume: u8,
    pub muted: bool,
}

/// The host's speaker (the C API implements it over `avs_speaker_handler`).
pub trait SpeakerControl {
    /// Applies `requested`: returns what was actually applied (a device with volume steps may
    /// round), or why nothing was.
    fn apply(&mut self, requested: VolumeState) -> Result<VolumeState, AvsStatus>;
}

/// The volume state and the speaker that applies it.
pub struct Volume {
    pub state: VolumeState,
    control: Option<Box<dyn SpeakerControl>>,
}

impl Default for Volume {
    fn default() -> Self {
        Volume { state: VolumeState { volume: 50, muted: false }, control: None }
    }
}

impl Volume {
    /// The host's speaker, and its state now.
    pub fn set_control(&mut self, control: Box<dyn SpeakerControl>, initial: VolumeState) {
        self.control = Some(control);
        self.state = VolumeState { volume: initial.volume.min(100), ..initial };
    }

    /// Whether the host registered a speaker.
    pub fn has_control(&self) -> bool {
        self.control.is_some()
    }

    /// Asks the host's speaker for `requested`; on success the state is what it applied.
    pub fn apply(&mut self, requested: VolumeState) -> Result<VolumeState, AvsStatus> {
        let control = self.control.as_mut().ok_or(AvsStatus::WrongState)?;
        let applied = control.apply(requested)?;
        if applied.volume > 100 {
            return Err(AvsStatus::InvalidArgument);
        }
        self.state = applied;
        Ok(applied)
    }

    /// The volume a relative change leads to, clamped to 0..=100.
    pub fn adjusted(&self, delta: i64) -> u8 {
        (i64::from(self.state.volume) + delta).clamp(0, 100) as u8
    }
}

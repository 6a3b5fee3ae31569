//! `avs_client_set_speaker` and the host's volume calls: `Speaker` (the device's own volume).

use std::os::raw::{c_int, c_void};

use super::read_sized;
use crate::ffi::client::{with, AvsClient};
use crate::ffi::types::CBool;
use crate::interfaces::volume::{SpeakerControl, VolumeState};
use crate::status::AvsStatus;

/// The volume and mute of the device's speaker.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct AvsVolume {
    /// 0..100.
    pub volume: u8,
    /// Whether the speaker is muted (0 or 1).
    pub muted: CBool,
}

/// The host's speaker, for `avs_client_set_speaker`. Pass `sizeof(avs_speaker_handler)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsSpeakerHandler {
    /// Passed unchanged as the first argument of `apply`.
    pub user_data: *mut c_void,
    /// Applies what Alexa asked for (`Speaker.SetVolume`, `AdjustVolume` already added and
    /// clamped to 0..100, `SetMute`): `*volume` holds the requested volume and mute; write
    /// back what the speaker actually applied (a device with volume steps may round) and
    /// return `AVS_STATUS_OK`; the library then sends `VolumeChanged` or `MuteChanged` with it.
    /// Any other status means nothing changed: AVS is told with `System.ExceptionEncountered`
    /// (`INTERNAL_ERROR`); a value that is no `avs_status` counts as
    /// `AVS_STATUS_INVALID_ARGUMENT`. A volume written back above 100 or a `muted` other than 0 or 1
    /// counts as a failure. Runs inside `avs_client_poll`; must not call into the client.
    pub apply: Option<unsafe extern "C" fn(user_data: *mut c_void, volume: *mut AvsVolume) -> c_int>,
    /// The speaker's volume and mute when it is registered.
    pub initial: AvsVolume,
}


struct CSpeaker(AvsSpeakerHandler);

impl SpeakerControl for CSpeaker {
    fn apply(&mut self, requested: VolumeState) -> Result<VolumeState, AvsStatus> {
        let apply = self.0.apply.ok_or(AvsStatus::WrongState)?;
        let mut v = AvsVolume { volume: requested.volume, muted: CBool::from(requested.muted) };
        // SAFETY: the host supplied the function and its user_data; `v` lives across the call.
        let status = super::host_status(unsafe { apply(self.0.user_data, &mut v) }, AvsStatus::InvalidArgument);
        if status != AvsStatus::Ok {
            return Err(status);
        }
        let muted = v.muted.get().ok_or(AvsStatus::InvalidArgument)?;
        Ok(VolumeState { volume: v.volume, muted })
    }
}

/// Turns on the `Speaker` interface: Alexa's volume directives go to `handler->apply`, the
/// context carries `Speaker.VolumeState`, and volume changes are reported to AVS. `size` is
/// `sizeof(avs_speaker_handler)`. Only before `avs_client_connect` (else
/// `AVS_STATUS_WRONG_STATE`); `apply` is required and `initial` must be a valid volume
/// (`AVS_STATUS_INVALID_ARGUMENT`). Registering again replaces the handler.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_speaker(client: *mut AvsClient, handler: *const AvsSpeakerHandler, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let h = match read_sized(handler, size) {
        Ok(h) => h,
        Err(e) => return e,
    };
    let Some(muted) = h.initial.muted.get() else { return AvsStatus::InvalidArgument };
    if h.apply.is_none() || h.initial.volume > 100 {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| c.enable_speaker(Box::new(CSpeaker(h)), VolumeState { volume: h.initial.volume, muted }).err().unwrap_or(AvsStatus::Ok))
}

/// The device's volume changed by the host's own doing (a button, a knob), already applied:
/// sends `Speaker.VolumeChanged`. `volume` 0..100 (`AVS_STATUS_INVALID_ARGUMENT` otherwise);
/// `AVS_STATUS_WRONG_STATE` without `avs_client_set_speaker`. Works in any connection state:
/// the event waits for the connection.
#[no_mangle]
pub unsafe extern "C" fn avs_client_speaker_set_volume(client: *mut AvsClient, volume: u32) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let Ok(volume) = u8::try_from(volume) else { return AvsStatus::InvalidArgument };
    with(client, |c| c.speaker_set_volume(volume).err().unwrap_or(AvsStatus::Ok))
}

/// The device was muted or unmuted by the host's own doing: sends `Speaker.MuteChanged`.
/// `AVS_STATUS_WRONG_STATE` without `avs_client_set_speaker`; a `muted` byte other than 0 or 1
/// is `AVS_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_speaker_set_mute(client: *mut AvsClient, muted: CBool) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let Some(muted) = muted.get() else { return AvsStatus::InvalidArgument };
    with(client, |c| c.speaker_set_mute(muted).err().unwrap_or(AvsStatus::Ok))
}

/// Turns on `Alexa.Speaker` (v3) for the device's endpoint (`avs_device_info.endpoint_id`):
/// `SetVolume`, `AdjustVolume`, `SetMute` go to the same `apply` as the `Speaker` interface's
/// and are answered with `Alexa.Response` (or `Alexa.ErrorResponse`: `ENDPOINT_UNREACHABLE`
/// when `apply` returns `AVS_STATUS_AUDIO_DEVICE`, `INVALID_VALUE` for
/// `AVS_STATUS_INVALID_ARGUMENT`, `NOT_SUPPORTED_IN_CURRENT_MODE` for `AVS_STATUS_WRONG_STATE`
/// or `AVS_STATUS_UNSUPPORTED`, `INTERNAL_ERROR` otherwise; `VALUE_OUT_OF_RANGE` and
/// `INVALID_VALUE` for directives the library refuses itself); `Alexa.ReportState` with
/// `Alexa.StateReport`; every other change of volume or mute sends `Alexa.ChangeReport`.
/// `timeOfSample` comes from `avs_client_set_wall_clock`. Needs `avs_client_set_speaker` and
/// `avs_client_set_device_info` first, and is only allowed before `avs_client_connect`
/// (`AVS_STATUS_WRONG_STATE` otherwise).
#[no_mangle]
pub unsafe extern "C" fn avs_client_enable_alexa_speaker(client: *mut AvsClient) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| c.enable_alexa_speaker().err().unwrap_or(AvsStatus::Ok))
}

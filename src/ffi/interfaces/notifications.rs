//! `avs_client_set_notifications` (`Notifications`) and `avs_client_set_template_runtime`
//! (`TemplateRuntime`): handlers that the library calls with typed parameters.

use std::os::raw::{c_int, c_void};

use super::read_sized;
use crate::ffi::client::{with, AvsClient};
use crate::ffi::types::{AvsStr, CBool};
use crate::interfaces::notifications::{Indicator, IndicatorControl};
use crate::interfaces::template_runtime::{Card, CardDisplay};
use crate::status::AvsStatus;

/// A `Notifications.SetIndicator` directive (strings borrowed for the call).
#[repr(C)]
pub struct AvsIndicator {
    /// Keep the visual indicator on until cleared.
    pub persist_visual_indicator: CBool,
    /// Play the asset once now.
    pub play_audio_indicator: CBool,
    /// The audio asset (`len` 0 when none).
    pub asset_id: AvsStr,
    pub asset_url: AvsStr,
}

/// The host's notification indicator, for `avs_client_set_notifications`. Pass
/// `sizeof(avs_notifications_handler)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsNotificationsHandler {
    pub user_data: *mut c_void,
    /// Show (and maybe sound) the indicator: `AVS_STATUS_OK`, or a failure (AVS gets
    /// `System.ExceptionEncountered` with `INTERNAL_ERROR`). Also called when connecting
    /// restores an indicator kept through the host's storage.
    pub set_indicator: Option<unsafe extern "C" fn(user_data: *mut c_void, indicator: *const AvsIndicator) -> c_int>,
    /// Turn the indicator off.
    pub clear_indicator: Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>,
}


struct CIndicator(AvsNotificationsHandler);

/// A host callback's answer: `AVS_STATUS_OK`, or why not (a value that is no status counts as
/// `AVS_STATUS_INVALID_ARGUMENT`).
fn status(v: c_int) -> Result<(), AvsStatus> {
    match super::host_status(v, AvsStatus::InvalidArgument) {
        AvsStatus::Ok => Ok(()),
        s => Err(s),
    }
}

impl IndicatorControl for CIndicator {
    fn set_indicator(&mut self, i: &Indicator) -> Result<(), AvsStatus> {
        let f = self.0.set_indicator.ok_or(AvsStatus::WrongState)?;
        let c = AvsIndicator {
            persist_visual_indicator: i.persist_visual_indicator.into(),
            play_audio_indicator: i.play_audio_indicator.into(),
            asset_id: AvsStr::from(i.asset_id.as_bytes()),
            asset_url: AvsStr::from(i.asset_url.as_bytes()),
        };
        // SAFETY: host-supplied function; `c` and its strings live across the call.
        status(unsafe { f(self.0.user_data, &c) })
    }

    fn clear_indicator(&mut self) -> Result<(), AvsStatus> {
        let f = self.0.clear_indicator.ok_or(AvsStatus::WrongState)?;
        // SAFETY: host-supplied function.
        status(unsafe { f(self.0.user_data) })
    }
}

/// Turns on `Notifications`: `SetIndicator`/`ClearIndicator` go to the handler (both
/// functions required), `Notifications.IndicatorState` joins the context, and the indicator is
/// kept through `avs_client_set_storage`. Only before `avs_client_connect`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_notifications(client: *mut AvsClient, handler: *const AvsNotificationsHandler, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let h = match read_sized(handler, size) {
        Ok(h) => h,
        Err(e) => return e,
    };
    if h.set_indicator.is_none() || h.clear_indicator.is_none() {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| c.enable_notifications(Box::new(CIndicator(h))).err().unwrap_or(AvsStatus::Ok))
}

/// A `TemplateRuntime` card (strings borrowed for the call).
#[repr(C)]
pub struct AvsCard {
    /// `RenderTemplate` or `RenderPlayerInfo`.
    pub name: AvsStr,
    /// The directive's `payload` JSON object (the card's content).
    pub payload: AvsStr,
    /// The whole directive JSON part.
    pub json: AvsStr,
    /// The dialogRequestId of the turn it belongs to (`len` 0 when none).
    pub dialog_request_id: AvsStr,
}

/// The host's display, for `avs_client_set_template_runtime`. Pass
/// `sizeof(avs_template_handler)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsTemplateHandler {
    pub user_data: *mut c_void,
    /// Show the card: `AVS_STATUS_OK`, or a failure (`INTERNAL_ERROR` to AVS).
    pub render: Option<unsafe extern "C" fn(user_data: *mut c_void, card: *const AvsCard) -> c_int>,
}


struct CDisplay(AvsTemplateHandler);

impl CardDisplay for CDisplay {
    fn render(&mut self, card: &Card) -> Result<(), AvsStatus> {
        let f = self.0.render.ok_or(AvsStatus::WrongState)?;
        let c = AvsCard {
            name: AvsStr::from(card.name.as_bytes()),
            payload: AvsStr::from(card.payload),
            json: AvsStr::from(card.json),
            dialog_request_id: AvsStr::from(card.dialog_request_id.as_bytes()),
        };
        // SAFETY: host-supplied function; `c` and its strings live across the call.
        status(unsafe { f(self.0.user_data, &c) })
    }
}

/// Turns on `TemplateRuntime`: `RenderTemplate` and `RenderPlayerInfo` (checked for their
/// required members) go to `handler->render`. Only before `avs_client_connect`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_template_runtime(client: *mut AvsClient, handler: *const AvsTemplateHandler, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let h = match read_sized(handler, size) {
        Ok(h) => h,
        Err(e) => return e,
    };
    if h.render.is_none() {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| c.enable_template_runtime(Box::new(CDisplay(h))).err().unwrap_or(AvsStatus::Ok))
}

//! `System` and the host's handler for directives no interface of the library handles.

use std::os::raw::{c_int, c_void};

use super::read_sized;
use crate::ffi::client::{with, AvsClient};
use crate::ffi::types::AvsDirective;
use crate::status::AvsStatus;

/// The host's handler for the directives no interface of the library handles, for
/// `avs_client_set_directive_handler`. Pass `sizeof(avs_directive_handler)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsDirectiveHandler {
    /// Passed unchanged as the first argument of `handle`.
    pub user_data: *mut c_void,
    /// A directive for an interface the library does not model (or did not enable). Return
    /// `AVS_STATUS_OK` when the device handled it; `AVS_STATUS_UNSUPPORTED` when it does not
    /// know it (AVS gets `System.ExceptionEncountered` with `UNSUPPORTED_OPERATION`);
    /// `AVS_STATUS_MALFORMED` when its payload is unusable (`UNEXPECTED_INFORMATION_RECEIVED`);
    /// any other value when handling it failed (`INTERNAL_ERROR`). Runs inside
    /// `avs_client_poll`; must not call into the client.
    pub handle: Option<unsafe extern "C" fn(user_data: *mut c_void, directive: *const AvsDirective) -> c_int>,
}


/// Registers the handler for directives no interface of the library handles; it replaces
/// `callbacks.on_directive` for them. Without it, such directives go to `on_directive` (when
/// set, as before, and count as handled) and, with no `on_directive` either, are answered
/// with `UNSUPPORTED_OPERATION`. `size` is `sizeof(avs_directive_handler)`; `handle` is
/// required. Any time the client is not inside a call.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_directive_handler(client: *mut AvsClient, handler: *const AvsDirectiveHandler, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let h = match read_sized(handler, size) {
        Ok(h) => h,
        Err(e) => return e,
    };
    if h.handle.is_none() {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| {
        crate::ffi::client::callback_host(c).directive_handler = Some(h);
        AvsStatus::Ok
    })
}

/// The user did something (pressed a button, used the app): AVS's hour of inactivity starts
/// again. Without activity, `System.UserInactivityReport` goes out after each hour (a voice
/// turn and the `ResetUserInactivity` directive count as activity too).
#[no_mangle]
pub unsafe extern "C" fn avs_client_user_activity(client: *mut AvsClient) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| {
        c.user_activity();
        AvsStatus::Ok
    })
}

/// The device's firmware version (1..2147483647, `AVS_STATUS_INVALID_ARGUMENT` otherwise):
/// `System.SoftwareInfo` tells AVS when it is set or changes. Works in any connection state.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_firmware_version(client: *mut AvsClient, version: u32) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    if !crate::protocol::interfaces::system::is_valid_firmware_version(version) {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| {
        c.set_firmware_version(version);
        AvsStatus::Ok
    })
}

//! The C surface of the interfaces, one file per interface. Each interface is turned on by its
//! own registration function taking a handler struct and its size (`sizeof` on the host's side):
//! the library reads only what that size covers, so a struct that grows in a later release
//! stays compatible both ways. Registration happens before `avs_client_connect`, so that the
//! first SynchronizeState's context already has the interface's entry.

pub mod device;
pub mod notifications;
pub mod speaker;
pub mod system;

use std::os::raw::c_int;

use crate::status::AvsStatus;

/// What a host callback returned, as a status: callbacks return a plain `int` (an `avs_status`
/// value) so that any value from C is safe to take; one that is no status counts as `otherwise`.
pub(crate) fn host_status(v: c_int, otherwise: AvsStatus) -> AvsStatus {
    AvsStatus::from_i32(v).unwrap_or(otherwise)
}

/// A struct the host fills and passes with its size.
///
/// SAFETY: every bit pattern is a valid value of the type (its members are integers, raw
/// pointers, `CBool` bytes, `AvsStr`s and `Option<extern fn>`, whose null is `None`), so bytes
/// from C can be copied into it; a `CBool` is checked (`CBool::get`) before it is used.
pub(crate) unsafe trait HostStruct: Copy {}

unsafe impl HostStruct for speaker::AvsSpeakerHandler {}
unsafe impl HostStruct for system::AvsDirectiveHandler {}
unsafe impl HostStruct for device::AvsDeviceInfo {}
unsafe impl HostStruct for device::AvsStorage {}
unsafe impl HostStruct for notifications::AvsNotificationsHandler {}
unsafe impl HostStruct for notifications::AvsTemplateHandler {}

/// Copies a host's size-prefixed struct. This release knows one size of each (`size_of::<T>()`)
/// and needs all of it: a smaller `size` is `InvalidArgument`; a larger one (a host built
/// against a later header) is read as far as this release knows. When a struct grows, the
/// sizes of its earlier versions join here, never a size that cuts a member in two.
///
/// SAFETY: `ptr` is NULL or points at `size` readable bytes.
pub(crate) unsafe fn read_sized<T: HostStruct>(ptr: *const T, size: usize) -> Result<T, AvsStatus> {
    if ptr.is_null() {
        return Err(AvsStatus::NullArgument);
    }
    if size < core::mem::size_of::<T>() {
        return Err(AvsStatus::InvalidArgument);
    }
    // SAFETY: the host's bytes cover T (checked above); every bit pattern is a T (HostStruct).
    Ok(core::ptr::read_unaligned(ptr))
}

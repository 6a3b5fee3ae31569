//! The C surface of the interfaces, one file per interface. Each interface is turned on by its
//! own registration function taking a handler struct and its size (`sizeof` on the host's side):
//! the library reads only what that size covers, so a struct that grows in a later release
//! stays compatible both ways. Registration happens before `avs_client_connect`, so that the
//! first SynchronizeState's context already has the interface's entry.

pub mod device;
pub mod notifications;
pub mod speaker;
pub mod system;

use crate::status::AvsStatus;

/// Copies a host's size-prefixed struct: `size` must cover at least `required` bytes (the
/// members this release cannot do without); members beyond `size` keep `T::default()`.
///
/// SAFETY: `ptr` points at `size` readable bytes.
pub(crate) unsafe fn read_sized<T: Default + Copy>(ptr: *const T, size: usize, required: usize) -> Result<T, AvsStatus> {
    if ptr.is_null() {
        return Err(AvsStatus::NullArgument);
    }
    if size < required {
        return Err(AvsStatus::InvalidArgument);
    }
    let mut out = T::default();
    let n = size.min(core::mem::size_of::<T>());
    core::ptr::copy_nonoverlapping(ptr as *const u8, &mut out as *mut T as *mut u8, n);
    Ok(out)
}

//! The C surface (`include/avs.h`). Every export null-checks its pointers, catches panics, and
//! returns an [`AvsStatus`]; outputs are written only on success. This is the only module with
//! `#[no_mangle]`.

#[cfg(feature = "alsa")]
pub mod alsa;
pub mod auth;
pub mod client;
pub mod interfaces;
pub mod io;
pub mod types;

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::status::AvsStatus;

/// Runs an export's body, turning a panic into `AVS_STATUS_PANIC` instead of unwinding into C.
pub(crate) fn guard(f: impl FnOnce() -> AvsStatus) -> AvsStatus {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(AvsStatus::Panic)
}

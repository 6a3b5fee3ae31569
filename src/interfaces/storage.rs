//! The host's storage, for what must survive a reboot: one callback set (load, store, erase)
//! for every feature, each keeping its values under its own key.

use crate::status::AvsStatus;

/// The endpoint from `System.SetEndpoint`.
pub const ENDPOINT_KEY: &str = "endpoint";
/// The notification indicator (`Notifications`).
pub const INDICATOR_KEY: &str = "indicator";
/// A digest of the capabilities last published (with the firmware version in it).
pub const CAPABILITIES_KEY: &str = "capabilities";
/// The firmware version AVS last heard (`System.SoftwareInfo`).
pub const SOFTWARE_INFO_KEY: &str = "software-info";
/// Login with Amazon's refresh token (given, obtained by signing in, or rotated by a refresh).
pub const REFRESH_TOKEN_KEY: &str = "lwa-refresh-token";
/// The PKCE code verifier of the last code challenge (remote authorization).
pub const CODE_VERIFIER_KEY: &str = "lwa-code-verifier";

/// The host's storage (the C API implements it over `avs_storage`).
pub trait Storage {
    /// Reads the value kept under `key` into `buf`: its length, or `None` when there is none
    /// (or it does not fit, or the storage failed).
    fn load(&mut self, key: &str, buf: &mut [u8]) -> Option<usize>;
    /// Keeps `value` under `key`, replacing what was there.
    fn store(&mut self, key: &str, value: &[u8]) -> Result<(), AvsStatus>;
    /// Forgets `key`.
    fn erase(&mut self, key: &str) -> Result<(), AvsStatus>;
}

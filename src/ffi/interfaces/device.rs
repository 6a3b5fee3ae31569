//! What the host says about the device and keeps for it: `avs_client_set_device_info`
//! (capabilities), `avs_client_set_storage`, `avs_client_set_wall_clock`, `avs_client_set_locale`.

use std::os::raw::{c_char, c_int, c_void};

use super::read_sized;
use crate::ffi::client::{arg_str, with, AvsClient};
use crate::interfaces::discovery::DeviceInfo;
use crate::interfaces::storage::Storage;
use crate::status::AvsStatus;

/// The device as AVS should know it, for `avs_client_set_device_info`. Pass
/// `sizeof(avs_device_info)`. Every string is NUL-terminated UTF-8 of at most 127 bytes and is
/// copied.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsDeviceInfo {
    /// The product id registered with AVS.
    pub product_id: *const c_char,
    /// The device's serial number (DSN).
    pub serial_number: *const c_char,
    /// The endpoint id the device is known by (also the `Alexa.Speaker` endpoint).
    pub endpoint_id: *const c_char,
    /// The name users call it by.
    pub friendly_name: *const c_char,
    pub manufacturer: *const c_char,
    pub description: *const c_char,
    /// Alexa display category, e.g. `"SPEAKER"` (at most 31 bytes).
    pub display_category: *const c_char,
}


/// Says what the device is: with it the library publishes the device's capabilities (the
/// interfaces enabled and their versions) with `Alexa.Discovery.AddOrUpdateReport` once
/// connected, on first boot and whenever they or the firmware version change (remembered
/// through `avs_client_set_storage`; without storage, once per client). Only before
/// `avs_client_connect` (`AVS_STATUS_WRONG_STATE`); a NULL, empty or too long string is
/// `AVS_STATUS_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_device_info(client: *mut AvsClient, info: *const AvsDeviceInfo, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let i = match read_sized(info, size) {
        Ok(i) => i,
        Err(e) => return e,
    };
    fn copy<const N: usize>(p: *const c_char) -> Result<heapless::String<N>, AvsStatus> {
        // SAFETY: the host passes NUL-terminated strings (or NULL, refused by arg_str).
        let s = unsafe { arg_str(p) }.map_err(|_| AvsStatus::InvalidArgument)?;
        let mut out = heapless::String::new();
        if s.is_empty() || out.push_str(s).is_err() {
            return Err(AvsStatus::InvalidArgument);
        }
        Ok(out)
    }
    let info = (|| {
        Ok::<_, AvsStatus>(DeviceInfo {
            product_id: copy(i.product_id)?,
            serial_number: copy(i.serial_number)?,
            endpoint_id: copy(i.endpoint_id)?,
            friendly_name: copy(i.friendly_name)?,
            manufacturer: copy(i.manufacturer)?,
            description: copy(i.description)?,
            display_category: copy(i.display_category)?,
        })
    })();
    match info {
        Ok(info) => with(client, |c| c.set_device_info(info).err().unwrap_or(AvsStatus::Ok)),
        Err(e) => e,
    }
}

/// The host's storage for what must survive a reboot (the endpoint from `System.SetEndpoint`,
/// the notification indicator, the capabilities and firmware version AVS last heard; later
/// features add their keys). Keys are short NUL-terminated ASCII names; values are bytes.
/// Pass `sizeof(avs_storage)`. The functions run inside client calls (`avs_client_connect`
/// reads, `avs_client_poll` writes) and must not call into the client.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct AvsStorage {
    /// Passed unchanged as the first argument of each function.
    pub user_data: *mut c_void,
    /// Copies the value kept under `key` into `buf` (capacity `capacity`) and returns its
    /// length; returns -1 when there is none (or it does not fit, or reading failed).
    pub load: Option<unsafe extern "C" fn(user_data: *mut c_void, key: *const c_char, buf: *mut u8, capacity: usize) -> isize>,
    /// Keeps `len` bytes under `key`, replacing what was there: `AVS_STATUS_OK` or a failure.
    pub store: Option<unsafe extern "C" fn(user_data: *mut c_void, key: *const c_char, data: *const u8, len: usize) -> c_int>,
    /// Forgets `key` (`AVS_STATUS_OK` also when there was nothing).
    pub erase: Option<unsafe extern "C" fn(user_data: *mut c_void, key: *const c_char) -> c_int>,
}


struct CStorage(AvsStorage);

/// A key as a C string, on the stack (keys are short names of the library's own).
fn c_key(key: &str) -> heapless::Vec<u8, 32> {
    let mut k = heapless::Vec::new();
    let _ = k.extend_from_slice(&key.as_bytes()[..key.len().min(31)]);
    let _ = k.push(0);
    k
}

impl Storage for CStorage {
    fn load(&mut self, key: &str, buf: &mut [u8]) -> Option<usize> {
        let f = self.0.load?;
        let k = c_key(key);
        // SAFETY: host-supplied function; key and buf live across the call.
        let n = unsafe { f(self.0.user_data, k.as_ptr() as *const c_char, buf.as_mut_ptr(), buf.len()) };
        usize::try_from(n).ok().filter(|&n| n <= buf.len())
    }

    fn store(&mut self, key: &str, value: &[u8]) -> Result<(), AvsStatus> {
        let f = self.0.store.ok_or(AvsStatus::WrongState)?;
        let k = c_key(key);
        // SAFETY: as above.
        match super::host_status(unsafe { f(self.0.user_data, k.as_ptr() as *const c_char, value.as_ptr(), value.len()) }, AvsStatus::InvalidArgument) {
            AvsStatus::Ok => Ok(()),
            e => Err(e),
        }
    }

    fn erase(&mut self, key: &str) -> Result<(), AvsStatus> {
        let f = self.0.erase.ok_or(AvsStatus::WrongState)?;
        let k = c_key(key);
        // SAFETY: as above.
        match super::host_status(unsafe { f(self.0.user_data, k.as_ptr() as *const c_char) }, AvsStatus::InvalidArgument) {
            AvsStatus::Ok => Ok(()),
            e => Err(e),
        }
    }
}

/// Registers the host's storage (all three functions required). Only before
/// `avs_client_connect`, which reads it (`AVS_STATUS_WRONG_STATE` otherwise).
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_storage(client: *mut AvsClient, storage: *const AvsStorage, size: usize) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let s = match read_sized(storage, size) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if s.load.is_none() || s.store.is_none() || s.erase.is_none() {
        return AvsStatus::InvalidArgument;
    }
    with(client, |c| c.set_storage(Box::new(CStorage(s))).err().unwrap_or(AvsStatus::Ok))
}

/// The wall clock: Unix time in milliseconds `unix_ms` at `now_ms` of the monotonic clock the
/// host passes to `avs_client_poll` (both read now). v3 events carry it as `timeOfSample`; set it
/// before connecting and again whenever the host's clock is corrected (until it is set, times
/// count from 1970 and the log says so once). Any time.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_wall_clock(client: *mut AvsClient, now_ms: u64, unix_ms: u64) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    with(client, |c| {
        c.set_wall_clock(now_ms, unix_ms);
        AvsStatus::Ok
    })
}

/// The device's locale (`"en-US"`, one AVS supports: `AVS_STATUS_INVALID_ARGUMENT` otherwise):
/// AVS hears it with `Settings.SettingsUpdated` now and whenever it changes. Any time.
#[no_mangle]
pub unsafe extern "C" fn avs_client_set_locale(client: *mut AvsClient, locale: *const c_char) -> AvsStatus {
    if client.is_null() {
        return AvsStatus::NullArgument;
    }
    let locale = match arg_str(locale) {
        Ok(l) => l,
        Err(e) => return e,
    };
    with(client, |c| c.set_locale(locale).err().unwrap_or(AvsStatus::Ok))
}

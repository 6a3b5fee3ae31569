//! Capabilities: the interfaces and versions the device implements, published to AVS with the
//! `Alexa.Discovery` `AddOrUpdateReport` event on the connection the device already has (no
//! second TLS session to another host, whose memory the creation plan would have to hold too).
//! It goes out on first boot and whenever what it says changes (an interface enabled, the
//! firmware version): a digest of the document is kept in the host's storage once AVS accepted
//! it, so a reboot with the same capabilities sends nothing.

use super::storage::{Storage, CAPABILITIES_KEY};
use super::Cx;
use crate::host::log;
use crate::protocol::interfaces::discovery::{self as wire, Capability, Endpoint};
use crate::status::{AvsStatus, LogLevel};

/// The tag of the report's queue slot, by which the engine says it was accepted.
pub(crate) const REPORT_TAG: u32 = 1;
/// Longest string of the device description.
pub(crate) const INFO_MAX: usize = 128;

/// What the host says about the device, for the report (and v3 endpoints).
#[derive(Default, Clone)]
pub struct DeviceInfo {
    pub product_id: heapless::String<INFO_MAX>,
    pub serial_number: heapless::String<INFO_MAX>,
    pub endpoint_id: heapless::String<INFO_MAX>,
    pub friendly_name: heapless::String<INFO_MAX>,
    pub manufacturer: heapless::String<INFO_MAX>,
    pub description: heapless::String<INFO_MAX>,
    pub display_category: heapless::String<32>,
}

/// Where publishing stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Publish {
    /// Nothing to publish (no device info, or AVS has this document).
    #[default]
    Done,
    /// The document differs from what AVS has: queue it.
    Waiting,
    /// Queued or on the wire, with this digest.
    Sent(u64),
}

/// The interface's state.
#[derive(Default)]
pub struct Discovery {
    pub info: Option<DeviceInfo>,
    publish: Publish,
    digest: u64,
    /// The digest AVS last accepted in this run (the host's storage keeps it across runs).
    accepted: Option<u64>,
}

/// FNV-1a: a digest to tell documents apart, not a secret.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

impl Discovery {
    /// Writes the report for `capabilities` into `out`.
    fn write(&self, out: &mut [u8], message_id: &str, bearer: &str, capabilities: &[Capability]) -> Result<usize, AvsStatus> {
        let info = self.info.as_ref().ok_or(AvsStatus::WrongState)?;
        let categories = [info.display_category.as_str()];
        let endpoint = Endpoint {
            endpoint_id: &info.endpoint_id,
            manufacturer_name: &info.manufacturer,
            description: &info.description,
            friendly_name: &info.friendly_name,
            display_categories: &categories,
            product_id: &info.product_id,
            device_serial_number: &info.serial_number,
            capabilities,
        };
        wire::write_add_or_update_report(out, message_id, bearer, &[endpoint]).map_err(|_| AvsStatus::TooLarge)
    }

    /// Decides whether the document (these capabilities, this firmware version) is new to
    /// AVS, by the digest the host's storage kept; `scratch` holds a rendering to hash.
    pub fn check(&mut self, capabilities: &[Capability], firmware: Option<u32>, storage: Option<&mut (dyn Storage + 'static)>, scratch: &mut [u8], cx: &mut Cx) {
        if self.info.is_none() {
            return;
        }
        let Ok(n) = self.write(scratch, "", "", capabilities) else {
            log!(cx.host, cx.log_level, LogLevel::Error, "the capabilities report does not fit max_event_bytes ({} B): not published", scratch.len());
            return;
        };
        self.digest = fnv1a(fnv1a(0xcbf2_9ce4_8422_2325, &scratch[..n]), &firmware.unwrap_or(0).to_le_bytes());
        let mut kept = [0u8; 8];
        let stored = storage.and_then(|s| s.load(CAPABILITIES_KEY, &mut kept)) == Some(8) && u64::from_le_bytes(kept) == self.digest;
        let known = stored || self.accepted == Some(self.digest);
        self.publish = match self.publish {
            // One is already on its way: its answer decides.
            Publish::Sent(_) => self.publish,
            _ if known => Publish::Done,
            _ => Publish::Waiting,
        };
    }

    /// Queues the report when it waits.
    pub fn flush(&mut self, capabilities: &[Capability], cx: &mut Cx) {
        if self.publish != Publish::Waiting {
            return;
        }
        let bearer = super::BEARER_PLACEHOLDER;
        let this = &*self;
        match cx.events.send_raw("Alexa.Discovery.AddOrUpdateReport", REPORT_TAG, &mut |out, id| this.write(out, id, bearer, capabilities)) {
            Ok(()) => self.publish = Publish::Sent(self.digest),
            Err(AvsStatus::QueueFull) => {}
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Error, "capabilities not published: {}", e.text());
                self.publish = Publish::Done;
            }
        }
    }

    /// AVS accepted the report: the host's storage remembers its digest.
    pub fn accepted(&mut self, storage: Option<&mut (dyn Storage + 'static)>, cx: &mut Cx) {
        if let Publish::Sent(digest) = self.publish {
            // The document changed while this one was on its way: the new one goes next.
            self.publish = if digest == self.digest { Publish::Done } else { Publish::Waiting };
            self.accepted = Some(digest);
            if let Some(s) = storage {
                if let Err(e) = s.store(CAPABILITIES_KEY, &digest.to_le_bytes()) {
                    log!(cx.host, cx.log_level, LogLevel::Warn, "storing the capabilities digest: {}", e.text());
                }
            }
            log!(cx.host, cx.log_level, LogLevel::Info, "capabilities published");
        }
    }

    /// The report was not accepted: it goes again on the next connection (not at once: a
    /// server refusing it would otherwise get it in a loop).
    pub fn rejected(&mut self) {
        if let Publish::Sent(_) = self.publish {
            self.publish = Publish::Done;
        }
    }
}

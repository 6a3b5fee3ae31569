//! `System`: what the device says about itself. `UserInactivityReport` after each hour without
//! user activity (a voice turn, the host's `user_activity`, or the `ResetUserInactivity`
//! directive start the hour again); `SoftwareInfo` when the host sets a firmware version other
//! than the one AVS last heard; `SetEndpoint`, which the engine carries out (a new connection to
//! the new base URL, kept through the host's storage). `SynchronizeState` and
//! `ExceptionEncountered` are the engine's and the router's.

use super::{Cx, Rejection};
use crate::host::log;
use crate::protocol::interfaces::system::{self as wire, SystemDirective};
use crate::protocol::jsonw::JsonWriter;
use crate::status::LogLevel;

/// An hour: AVS wants an inactivity report after each.
pub(crate) const INACTIVITY_REPORT_MS: u64 = 3_600_000;
/// The tag of SoftwareInfo's queue slot, by which the engine says it was accepted.
pub(crate) const SOFTWARE_INFO_TAG: u32 = 2;
/// Longest endpoint URL taken from `SetEndpoint`.
pub(crate) const ENDPOINT_MAX: usize = 256;

/// The interface's state.
pub struct System {
    /// When the user last did something, and how many hourly reports went out since.
    last_activity_ms: u64,
    reports_since_activity: u64,
    /// An inactivity report (its seconds) waiting for a queue slot: only the latest is kept,
    /// a device offline for days sends one, not a backlog of them.
    inactivity_waiting: Option<u64>,
    /// The firmware version, and whether AVS still has to hear it.
    firmware_version: Option<u32>,
    software_info_waiting: bool,
    reported_firmware: Option<u32>,
    /// A `SetEndpoint` for the engine to carry out.
    pub endpoint_change: Option<heapless::String<ENDPOINT_MAX>>,
}

impl System {
    pub fn new(now: u64) -> Self {
        System { last_activity_ms: now, reports_since_activity: 0, inactivity_waiting: None, firmware_version: None, software_info_waiting: false, reported_firmware: None, endpoint_change: None }
    }

    /// `ResetUserInactivity` and `SetEndpoint`.
    pub fn on_directive(&mut self, name: &str, payload: &[u8], cx: &mut Cx) -> Result<(), Rejection> {
        match wire::parse(name, payload)? {
            SystemDirective::ResetUserInactivity => {
                self.user_activity(cx.now);
                Ok(())
            }
            SystemDirective::SetEndpoint { endpoint } => {
                let mut url = heapless::String::new();
                url.push_str(endpoint).map_err(|_| Rejection::Invalid("SetEndpoint endpoint longer than 256 bytes"))?;
                log!(cx.host, cx.log_level, LogLevel::Info, "SetEndpoint: moving to {endpoint}");
                self.endpoint_change = Some(url);
                Ok(())
            }
        }
    }

    /// The user did something: the inactivity hour starts again.
    pub fn user_activity(&mut self, now: u64) {
        self.last_activity_ms = now;
        self.reports_since_activity = 0;
        self.inactivity_waiting = None;
    }

    /// The host's firmware version: `SoftwareInfo` when AVS has not heard this one.
    pub fn set_firmware_version(&mut self, version: u32) {
        if self.firmware_version != Some(version) {
            self.software_info_waiting = self.reported_firmware != Some(version);
        }
        self.firmware_version = Some(version);
    }

    /// The version AVS heard last, as the host's storage kept it.
    pub fn set_reported_firmware(&mut self, version: u32) {
        self.reported_firmware = Some(version);
        if self.firmware_version == Some(version) {
            self.software_info_waiting = false;
        }
    }

    /// The firmware version the host set.
    pub fn firmware_version(&self) -> Option<u32> {
        self.firmware_version
    }

    fn next_report_ms(&self) -> u64 {
        self.last_activity_ms.saturating_add(INACTIVITY_REPORT_MS.saturating_mul(self.reports_since_activity + 1))
    }

    pub fn poll_at(&self) -> Option<u64> {
        Some(self.next_report_ms())
    }

    /// The hourly report, when due.
    pub fn on_timer(&mut self, cx: &mut Cx) {
        if cx.now >= self.next_report_ms() {
            // A clock that jumped hours ahead makes one report, not one per hour missed.
            let hours = (cx.now - self.last_activity_ms) / INACTIVITY_REPORT_MS;
            self.reports_since_activity = hours.max(self.reports_since_activity + 1);
            self.inactivity_waiting = Some((cx.now - self.last_activity_ms) / 1000);
        }
    }

    /// Hands waiting events to the queue.
    pub fn flush(&mut self, cx: &mut Cx) {
        if let Some(seconds) = self.inactivity_waiting {
            let mut payload = [0u8; 64];
            let mut w = JsonWriter::new(&mut payload);
            wire::write_user_inactivity_report(&mut w, seconds);
            if let Ok(n) = w.finish() {
                let sent = cx.events.send("System", "UserInactivityReport", &payload[..n], false);
                if super::handed_over(sent, "UserInactivityReport", cx) {
                    self.inactivity_waiting = None;
                }
            }
        }
        let Some(version) = self.firmware_version.filter(|_| self.software_info_waiting) else { return };
        let mut payload = [0u8; 64];
        let mut w = JsonWriter::new(&mut payload);
        wire::write_software_info(&mut w, version);
        let Ok(n) = w.finish() else { return };
        let sent = cx.events.send_tagged("System", "SoftwareInfo", &payload[..n], false, SOFTWARE_INFO_TAG);
        if super::handed_over(sent, "SoftwareInfo", cx) {
            self.software_info_waiting = false;
        }
    }

    /// SoftwareInfo was accepted (`ok`) or given up: AVS has heard `version` (the caller keeps
    /// it in the host's storage), or it goes again on the next connection.
    pub fn software_info_settled(&mut self, ok: bool) -> Option<u32> {
        let version = self.firmware_version?;
        // Not accepted: it goes again on the next connection (`connected`), not at once, so a
        // server refusing it does not get it in a loop.
        ok.then(|| {
            self.reported_firmware = Some(version);
            version
        })
    }

    /// Connecting: a version AVS has not heard yet goes (again).
    pub fn connecting(&mut self) {
        if self.firmware_version.is_some() && self.firmware_version != self.reported_firmware {
            self.software_info_waiting = true;
        }
    }
}

//! `Notifications`: the indicator (a light, a chime) for notifications waiting. `SetIndicator`
//! and `ClearIndicator` go to the host's handler; the state is `Notifications.IndicatorState`
//! in the context and is kept through the host's storage, so that after a restart the device
//! shows the same indicator (the host's handler is told again when the state is restored).

use super::storage::{Storage, INDICATOR_KEY};
use super::{Cx, Rejection};
use crate::host::log;
use crate::protocol::interfaces::notifications::{self as wire, NotificationsDirective};
use crate::protocol::jsonw::{context_entry, JsonWriter};
use crate::status::{AvsStatus, LogLevel};

/// The context entry at its longest.
pub(crate) const CONTEXT_BYTES: usize = 128;

/// What the host's handler gets.
pub struct Indicator<'a> {
    pub persist_visual_indicator: bool,
    pub play_audio_indicator: bool,
    pub asset_id: &'a str,
    pub asset_url: &'a str,
}

/// The host's indicator (the C API implements it over `avs_notifications_handler`).
pub trait IndicatorControl {
    fn set_indicator(&mut self, indicator: &Indicator) -> Result<(), AvsStatus>;
    fn clear_indicator(&mut self) -> Result<(), AvsStatus>;
}

/// The interface's state.
#[derive(Default)]
pub struct Notifications {
    control: Option<Box<dyn IndicatorControl>>,
    is_enabled: bool,
    visual_persisted: bool,
}

impl Notifications {
    pub fn enable(&mut self, control: Box<dyn IndicatorControl>) {
        self.control = Some(control);
    }

    pub fn is_enabled(&self) -> bool {
        self.control.is_some()
    }

    /// Restores the indicator kept before a restart, and shows it again.
    pub fn restore(&mut self, storage: &mut dyn Storage, cx: &mut Cx) {
        let mut buf = [0u8; 2];
        if let (Some(2), Some(control)) = (storage.load(INDICATOR_KEY, &mut buf), self.control.as_mut()) {
            self.is_enabled = buf[0] == 1;
            self.visual_persisted = buf[1] == 1;
            if self.is_enabled {
                let shown = Indicator { persist_visual_indicator: self.visual_persisted, play_audio_indicator: false, asset_id: "", asset_url: "" };
                if let Err(e) = control.set_indicator(&shown) {
                    log!(cx.host, cx.log_level, LogLevel::Warn, "restoring the notification indicator: {}", e.text());
                }
            }
        }
    }

    /// `SetIndicator`, `ClearIndicator`.
    pub fn on_directive(&mut self, name: &str, payload: &[u8], storage: Option<&mut (dyn Storage + 'static)>, cx: &mut Cx) -> Result<(), Rejection> {
        let directive = wire::parse(name, payload)?;
        let control = self.control.as_mut().ok_or(Rejection::Unsupported)?;
        let result = match directive {
            NotificationsDirective::SetIndicator { persist_visual_indicator, play_audio_indicator, asset_id, asset_url } => {
                let r = control.set_indicator(&Indicator { persist_visual_indicator, play_audio_indicator, asset_id, asset_url });
                if r.is_ok() {
                    self.is_enabled = true;
                    self.visual_persisted = persist_visual_indicator;
                }
                r
            }
            NotificationsDirective::ClearIndicator => {
                let r = control.clear_indicator();
                if r.is_ok() {
                    self.is_enabled = false;
                    self.visual_persisted = false;
                }
                r
            }
        };
        if let Err(e) = result {
            log!(cx.host, cx.log_level, LogLevel::Warn, "Notifications.{name}: the host's indicator refused ({})", e.text());
            return Err(Rejection::Failed("the device could not change its notification indicator"));
        }
        if let Some(storage) = storage {
            if let Err(e) = storage.store(INDICATOR_KEY, &[u8::from(self.is_enabled), u8::from(self.visual_persisted)]) {
                log!(cx.host, cx.log_level, LogLevel::Warn, "storing the notification indicator: {}", e.text());
            }
        }
        Ok(())
    }

    /// `Notifications.IndicatorState`.
    pub fn write_context(&self, w: &mut JsonWriter) {
        if self.is_enabled() {
            context_entry(w, wire::NAMESPACE, wire::INDICATOR_STATE, |w| wire::write_indicator_state(w, self.is_enabled, self.visual_persisted));
        }
    }
}

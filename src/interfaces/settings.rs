//! `Settings`: the device's locale. The host sets it (`avs_client_set_locale`); AVS hears it
//! through `SettingsUpdated`, sent when it is set and whenever it changes.

use super::Cx;
use crate::protocol::interfaces::settings as wire;
use crate::protocol::jsonw::JsonWriter;
use crate::status::AvsStatus;

/// The interface's state.
#[derive(Default)]
pub struct Settings {
    locale: heapless::String<8>,
    waiting: bool,
}

impl Settings {
    /// A locale AVS knows (`en-US`...), else `InvalidArgument`.
    pub fn set_locale(&mut self, locale: &str, cx: &mut Cx) -> Result<(), AvsStatus> {
        if !wire::is_valid_locale(locale) {
            return Err(AvsStatus::InvalidArgument);
        }
        if self.locale != locale {
            self.locale.clear();
            let _ = self.locale.push_str(locale);
            self.waiting = true;
        }
        self.flush(cx);
        Ok(())
    }

    pub fn locale(&self) -> Option<&str> {
        (!self.locale.is_empty()).then_some(self.locale.as_str())
    }

    pub fn flush(&mut self, cx: &mut Cx) {
        if !self.waiting {
            return;
        }
        let mut payload = [0u8; 96];
        let mut w = JsonWriter::new(&mut payload);
        wire::write_settings_updated(&mut w, &self.locale);
        let Ok(n) = w.finish() else { return };
        let sent = cx.events.send(wire::NAMESPACE, wire::SETTINGS_UPDATED, &payload[..n], false);
        if super::handed_over(sent, "SettingsUpdated", cx) {
            self.waiting = false;
        }
    }
}

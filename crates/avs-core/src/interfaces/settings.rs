//! `Settings`: the `SettingsUpdated` event that tells AVS the device's locale.
//!
//! Only the locales AVS supports may be sent, so the host's configured locale is checked with
//! [`is_valid_locale`] once, when the client is created.

use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "Settings";
/// The event reporting changed settings.
pub const SETTINGS_UPDATED: &str = "SettingsUpdated";

/// The locales AVS accepts in `SettingsUpdated`.
pub const LOCALES: [&str; 15] = [
    "de-DE", "en-AU", "en-CA", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "es-US", "fr-CA",
    "fr-FR", "hi-IN", "it-IT", "ja-JP", "pt-BR",
];

/// Whether `locale` is one of [`LOCALES`], spelt exactly (case included).
pub fn is_valid_locale(locale: &str) -> bool {
    LOCALES.contains(&locale)
}

/// Writes the `SettingsUpdated` payload, `{"settings":[{"key":"locale","value":L}]}`. The
/// locale is written as given (check it with [`is_valid_locale`]).
pub fn write_settings_updated(w: &mut JsonWriter<'_>, locale: &str) {
    w.begin_object();
    w.key("settings");
    w.begin_array();
    w.begin_object();
    w.key("key");
    w.str("locale");
    w.key("value");
    w.str(locale);
    w.end_object();
    w.end_array();
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonw::{as_json, check_every_length};
    use serde_json::json;

    #[test]
    fn locales() {
        for l in LOCALES {
            assert!(is_valid_locale(l), "{l}");
        }
        for l in [
            "", "en", "en-us", "EN-US", "en_US", "en-US ", " en-US", "en-NZ", "de-AT", "ja-JP\0",
            "en-US-x",
        ] {
            assert!(!is_valid_locale(l), "{l:?}");
        }
    }

    #[test]
    fn settings_updated() {
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_settings_updated(&mut w, "en-US");
            w.finish()
        });
        assert_eq!(got, br#"{"settings":[{"key":"locale","value":"en-US"}]}"#);
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_settings_updated(&mut w, "x\"y");
            w.finish()
        });
        assert_eq!(
            as_json(&got),
            json!({"settings":[{"key":"locale","value":"x\"y"}]})
        );
    }
}

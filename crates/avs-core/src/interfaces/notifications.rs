//! `Notifications`: the indicator that tells the user something is waiting for them.
//!
//! Directives `SetIndicator` and `ClearIndicator`; the context entry
//! `Notifications.IndicatorState` ([`write_indicator_state`]).

use super::{field_messages, DirectiveError, FieldError, Object};
use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "Notifications";
/// The context entry's name.
pub const INDICATOR_STATE: &str = "IndicatorState";

/// A `Notifications` directive; strings borrow from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationsDirective<'a> {
    /// Show the indicator (and play a sound).
    SetIndicator {
        /// Keep the visual indicator on until `ClearIndicator`.
        persist_visual_indicator: bool,
        /// Play the audio indicator now.
        play_audio_indicator: bool,
        /// `asset.assetId`; empty when no asset was sent (allowed without audio).
        asset_id: &'a str,
        /// `asset.url`; empty when no asset was sent.
        asset_url: &'a str,
    },
    /// Turn the indicator off.
    ClearIndicator,
}

/// Parses the payload of the `Notifications` directive `name`.
///
/// `SetIndicator` needs the booleans `persistVisualIndicator` and `playAudioIndicator`, and
/// `asset` `{"assetId":..,"url":..}` (strings without JSON escapes) unless `playAudioIndicator`
/// is false, when `asset` may be absent (then both strings are empty); an `asset` that is
/// present is always checked. `ClearIndicator` only needs an object. Other names are
/// [`DirectiveError::Unsupported`].
pub fn parse<'a>(
    name: &str,
    payload: &'a [u8],
) -> Result<NotificationsDirective<'a>, DirectiveError> {
    match name {
        "SetIndicator" => {
            let p = Object::payload(payload)?;
            let persist = field_messages!("persistVisualIndicator", "a boolean");
            let play = field_messages!("playAudioIndicator", "a boolean");
            let asset = field_messages!("asset", "an object");
            let asset_id = field_messages!("asset.assetId", "a string");
            let url = field_messages!("asset.url", "a string");
            let persist_visual_indicator = p
                .bool("persistVisualIndicator")
                .map_err(|e| persist.invalid(e))?;
            let play_audio_indicator = p.bool("playAudioIndicator").map_err(|e| play.invalid(e))?;
            let (asset_id, asset_url) = match p.object("asset") {
                Err(FieldError::Missing) if !play_audio_indicator => ("", ""),
                Err(e) => return Err(asset.invalid(e)),
                Ok(a) => (
                    a.str("assetId").map_err(|e| asset_id.invalid(e))?,
                    a.str("url").map_err(|e| url.invalid(e))?,
                ),
            };
            Ok(NotificationsDirective::SetIndicator {
                persist_visual_indicator,
                play_audio_indicator,
                asset_id,
                asset_url,
            })
        }
        "ClearIndicator" => {
            Object::payload(payload)?;
            Ok(NotificationsDirective::ClearIndicator)
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

/// Writes the `Notifications.IndicatorState` payload,
/// `{"isEnabled":B,"isVisualIndicatorPersisted":B}`.
pub fn write_indicator_state(
    w: &mut JsonWriter<'_>,
    is_enabled: bool,
    is_visual_indicator_persisted: bool,
) {
    w.begin_object();
    w.key("isEnabled");
    w.bool(is_enabled);
    w.key("isVisualIndicatorPersisted");
    w.bool(is_visual_indicator_persisted);
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length, context_entry};
    use crate::message::parse_directive;
    use serde_json::json;

    const SET: &[u8] = br#"{"directive":{"header":{"namespace":"Notifications","name":"SetIndicator","messageId":"m"},"payload":{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"assetId":"amzn1.notification.asset.1","url":"https://example.com/chime.mp3"}}}}"#;

    #[test]
    fn set_indicator() {
        let d = parse_directive(SET).unwrap();
        assert_eq!(
            parse(d.header.name, d.payload),
            Ok(NotificationsDirective::SetIndicator {
                persist_visual_indicator: true,
                play_audio_indicator: true,
                asset_id: "amzn1.notification.asset.1",
                asset_url: "https://example.com/chime.mp3",
            })
        );
        for (payload, persist, play, id, url) in [
            (&br#"{"persistVisualIndicator":false,"playAudioIndicator":false}"#[..], false, false, "", ""),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":false,"asset":null}"#, true, false, "", ""),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":false,"asset":{"assetId":"a","url":"u"}}"#, true, false, "a", "u"),
            (br#"{"asset":{"url":"","assetId":""},"playAudioIndicator":true,"persistVisualIndicator":false}"#, false, true, "", ""),
        ] {
            assert_eq!(
                parse("SetIndicator", payload),
                Ok(NotificationsDirective::SetIndicator {
                    persist_visual_indicator: persist,
                    play_audio_indicator: play,
                    asset_id: id,
                    asset_url: url,
                }),
                "{:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn invalid_set_indicator() {
        let inv = DirectiveError::Invalid;
        for (payload, want) in [
            (&br#"{"playAudioIndicator":false}"#[..], inv("payload.persistVisualIndicator is missing")),
            (br#"{"persistVisualIndicator":"true","playAudioIndicator":false}"#, inv("payload.persistVisualIndicator is not a boolean")),
            (br#"{"persistVisualIndicator":1,"playAudioIndicator":false}"#, inv("payload.persistVisualIndicator is not a boolean")),
            (br#"{"persistVisualIndicator":true}"#, inv("payload.playAudioIndicator is missing")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":5.5}"#, inv("payload.playAudioIndicator is not a boolean")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true}"#, inv("payload.asset is missing")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":null}"#, inv("payload.asset is missing")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":"a"}"#, inv("payload.asset is not an object")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":false,"asset":[]}"#, inv("payload.asset is not an object")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"url":"u"}}"#, inv("payload.asset.assetId is missing")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"assetId":5,"url":"u"}}"#, inv("payload.asset.assetId is not a string")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"assetId":"a"}}"#, inv("payload.asset.url is missing")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"assetId":"a","url":true}}"#, inv("payload.asset.url is not a string")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":true,"asset":{"assetId":"a","url":"https:\/\/x"}}"#, inv("payload.asset.url contains JSON escapes")),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":false,"asset":{"assetId":"\u0061","url":""}}"#, inv("payload.asset.assetId contains JSON escapes")),
            (br#"[true]"#, inv(NOT_AN_OBJECT)),
            (br#"{"persistVisualIndicator":true,"playAudioIndicator":false"#, inv(NOT_AN_OBJECT)),
        ] {
            assert_eq!(parse("SetIndicator", payload), Err(want), "{:?}", core::str::from_utf8(payload));
        }
        never_panics(parse_directive(SET).unwrap().payload, |p| {
            let _ = parse("SetIndicator", p);
        });
    }

    #[test]
    fn clear_indicator_and_unknown() {
        assert_eq!(
            parse("ClearIndicator", b"{}"),
            Ok(NotificationsDirective::ClearIndicator)
        );
        assert_eq!(
            parse("ClearIndicator", b"5"),
            Err(DirectiveError::Invalid(NOT_AN_OBJECT))
        );
        for name in ["", "SetIndicators", "clearIndicator", "IndicatorState"] {
            assert_eq!(parse(name, b"{}"), Err(DirectiveError::Unsupported));
        }
        never_panics(b"{}", |p| {
            let _ = parse("ClearIndicator", p);
        });
    }

    #[test]
    fn indicator_state() {
        for (enabled, persisted) in [(false, false), (true, false), (true, true), (false, true)] {
            let got = check_every_length(|out| {
                let mut w = JsonWriter::new(out);
                context_entry(&mut w, NAMESPACE, INDICATOR_STATE, |w| {
                    write_indicator_state(w, enabled, persisted)
                });
                w.finish()
            });
            assert_eq!(
                as_json(&got),
                json!({"header":{"namespace":"Notifications","name":"IndicatorState"},
                       "payload":{"isEnabled":enabled,"isVisualIndicatorPersisted":persisted}})
            );
        }
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_indicator_state(&mut w, true, false);
            w.finish()
        });
        assert_eq!(
            got,
            br#"{"isEnabled":true,"isVisualIndicatorPersisted":false}"#
        );
    }
}

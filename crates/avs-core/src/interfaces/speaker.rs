//! `Speaker` (v1): the device's own volume and mute for Alexa's audio.
//!
//! Directives `SetVolume {volume 0..100}`, `AdjustVolume {volume -100..100}`, `SetMute {mute}`;
//! events `VolumeChanged` and `MuteChanged`, and the context entry `Speaker.VolumeState`, all with
//! the payload `{"volume":V,"muted":M}` ([`write_volume_state`]).

use super::{field_messages, DirectiveError, Object};
use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "Speaker";
/// The context entry's name.
pub const VOLUME_STATE: &str = "VolumeState";
/// The event sent after the volume changed (on a directive or locally).
pub const VOLUME_CHANGED: &str = "VolumeChanged";
/// The event sent after the mute state changed.
pub const MUTE_CHANGED: &str = "MuteChanged";

/// A `Speaker` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeakerDirective {
    /// Set the volume to `volume` (0..=100).
    SetVolume {
        /// The new volume, 0..=100.
        volume: u8,
    },
    /// Change the volume by `delta` (-100..=100); the result is to be clamped to 0..=100.
    AdjustVolume {
        /// The change, -100..=100.
        delta: i8,
    },
    /// Mute (`true`) or unmute.
    SetMute {
        /// Whether to mute.
        mute: bool,
    },
}

/// Parses the payload of the `Speaker` directive `name`.
///
/// An unknown name is [`DirectiveError::Unsupported`]; a payload that is not an object, or whose
/// member is missing, mistyped (`"5"`, `5.5`, `true` for a volume) or out of range, is
/// [`DirectiveError::Invalid`].
pub fn parse(name: &str, payload: &[u8]) -> Result<SpeakerDirective, DirectiveError> {
    match name {
        "SetVolume" => {
            let m = field_messages!("volume", "an integer", "0..100");
            let p = Object::payload(payload)?;
            let volume = p.int_in("volume", 0, 100).map_err(|e| m.invalid(e))?;
            Ok(SpeakerDirective::SetVolume {
                volume: volume as u8,
            })
        }
        "AdjustVolume" => {
            let m = field_messages!("volume", "an integer", "-100..100");
            let p = Object::payload(payload)?;
            let delta = p.int_in("volume", -100, 100).map_err(|e| m.invalid(e))?;
            Ok(SpeakerDirective::AdjustVolume { delta: delta as i8 })
        }
        "SetMute" => {
            let m = field_messages!("mute", "a boolean");
            let p = Object::payload(payload)?;
            let mute = p.bool("mute").map_err(|e| m.invalid(e))?;
            Ok(SpeakerDirective::SetMute { mute })
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

/// Writes `{"volume":V,"muted":M}`: the payload of `VolumeChanged`, `MuteChanged` and the
/// `Speaker.VolumeState` context entry. A volume above 100 is written as 100 (the wire range).
pub fn write_volume_state(w: &mut JsonWriter<'_>, volume: u8, muted: bool) {
    w.begin_object();
    w.key("volume");
    w.uint(u64::from(volume.min(100)));
    w.key("muted");
    w.bool(muted);
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length, context_entry};
    use serde_json::json;

    #[test]
    fn directives() {
        use SpeakerDirective::*;
        for (name, payload, want) in [
            (
                "SetVolume",
                &br#"{"volume":50}"#[..],
                SetVolume { volume: 50 },
            ),
            ("SetVolume", br#"{"volume":0}"#, SetVolume { volume: 0 }),
            (
                "SetVolume",
                br#" { "volume" : 100 , "x":[1] } "#,
                SetVolume { volume: 100 },
            ),
            (
                "AdjustVolume",
                br#"{"volume":-20}"#,
                AdjustVolume { delta: -20 },
            ),
            (
                "AdjustVolume",
                br#"{"volume":-100}"#,
                AdjustVolume { delta: -100 },
            ),
            (
                "AdjustVolume",
                br#"{"volume":100}"#,
                AdjustVolume { delta: 100 },
            ),
            ("SetMute", br#"{"mute":true}"#, SetMute { mute: true }),
            ("SetMute", br#"{"mute":false}"#, SetMute { mute: false }),
            // The first of repeated members counts; escaped keys are decoded.
            (
                "SetMute",
                br#"{"m\u0075te":true,"mute":false}"#,
                SetMute { mute: true },
            ),
        ] {
            assert_eq!(
                parse(name, payload),
                Ok(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn invalid_payloads() {
        let inv = DirectiveError::Invalid;
        for (name, payload, want) in [
            ("SetVolume", &br#"{}"#[..], inv("payload.volume is missing")),
            (
                "SetVolume",
                br#"{"volume":null}"#,
                inv("payload.volume is missing"),
            ),
            (
                "SetVolume",
                br#"{"Volume":5}"#,
                inv("payload.volume is missing"),
            ),
            (
                "SetVolume",
                br#"{"volume":"5"}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":5.5}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":5.0}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":1e2}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":true}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":101}"#,
                inv("payload.volume is outside 0..100"),
            ),
            (
                "SetVolume",
                br#"{"volume":-1}"#,
                inv("payload.volume is outside 0..100"),
            ),
            (
                "SetVolume",
                br#"{"volume":256}"#,
                inv("payload.volume is outside 0..100"),
            ),
            (
                "SetVolume",
                br#"{"volume":99999999999999999999}"#,
                inv("payload.volume is outside 0..100"),
            ),
            ("AdjustVolume", br#"{}"#, inv("payload.volume is missing")),
            (
                "AdjustVolume",
                br#"{"volume":"-5"}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":-5.5}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":false}"#,
                inv("payload.volume is not an integer"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":101}"#,
                inv("payload.volume is outside -100..100"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":-101}"#,
                inv("payload.volume is outside -100..100"),
            ),
            ("SetMute", br#"{}"#, inv("payload.mute is missing")),
            (
                "SetMute",
                br#"{"mute":"true"}"#,
                inv("payload.mute is not a boolean"),
            ),
            (
                "SetMute",
                br#"{"mute":1}"#,
                inv("payload.mute is not a boolean"),
            ),
            (
                "SetMute",
                br#"{"mute":5.5}"#,
                inv("payload.mute is not a boolean"),
            ),
            ("SetVolume", br#"[50]"#, inv(NOT_AN_OBJECT)),
            ("SetVolume", br#""volume""#, inv(NOT_AN_OBJECT)),
            ("SetMute", br#"{"mute":true"#, inv(NOT_AN_OBJECT)),
            ("AdjustVolume", b"", inv(NOT_AN_OBJECT)),
            ("SetVolume", br#"{"volume":50} x"#, inv(NOT_AN_OBJECT)),
        ] {
            assert_eq!(
                parse(name, payload),
                Err(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn unknown_names_are_unsupported() {
        for name in ["", "setVolume", "Speak", "SetVolumes", "VolumeChanged"] {
            assert_eq!(
                parse(name, br#"{"volume":5}"#),
                Err(DirectiveError::Unsupported)
            );
        }
        // Decided before the payload is looked at.
        assert_eq!(parse("Nope", b"garbage"), Err(DirectiveError::Unsupported));
    }

    #[test]
    fn parsing_never_panics() {
        for name in ["SetVolume", "AdjustVolume", "SetMute"] {
            never_panics(br#"{"volume":-50,"mute":true}"#, |p| {
                let _ = parse(name, p);
            });
        }
    }

    #[test]
    fn volume_state() {
        let write = |volume, muted| {
            move |out: &mut [u8]| {
                let mut w = JsonWriter::new(out);
                write_volume_state(&mut w, volume, muted);
                w.finish()
            }
        };
        let out = check_every_length(write(50, false));
        assert_eq!(out, br#"{"volume":50,"muted":false}"#);
        assert_eq!(
            as_json(&check_every_length(write(0, true))),
            json!({"volume":0,"muted":true})
        );
        assert_eq!(
            as_json(&check_every_length(write(255, true))),
            json!({"volume":100,"muted":true})
        );
        // As the context entry of the protocol notes.
        let entry = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            context_entry(&mut w, NAMESPACE, VOLUME_STATE, |w| {
                write_volume_state(w, 50, false)
            });
            w.finish()
        });
        assert_eq!(
            as_json(&entry),
            json!({"header":{"namespace":"Speaker","name":"VolumeState"},"payload":{"volume":50,"muted":false}})
        );
    }
}

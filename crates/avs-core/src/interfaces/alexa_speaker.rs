//! `Alexa.Speaker` (v3 endpoint control, seed 004): directives `SetVolume`, `AdjustVolume` and
//! `SetMute`, answered with `Alexa.Response` or `Alexa.ErrorResponse`; `Alexa.ReportState`
//! answered with `Alexa.StateReport`; proactive `Alexa.ChangeReport`.
//!
//! v3 errors are answered with an `Alexa.ErrorResponse` of the Alexa error types, not with
//! `System.ExceptionEncountered`, hence [`V3Error`] instead of [`super::DirectiveError`]. The
//! event writers produce the whole v3 event (`{"event":{...},"context":{...}}`) in the exact
//! shape and member order of the spec examples.

use super::{field_messages, FieldError, FieldMessages, Object, NOT_AN_OBJECT};
use crate::jsonw::JsonWriter;
use crate::Overflow;

/// The interface's namespace.
pub const NAMESPACE: &str = "Alexa.Speaker";
/// The interface version of the capability.
pub const VERSION: &str = "3";

/// An `Alexa.Speaker` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlexaSpeakerDirective {
    /// Set the volume to `volume` (0..=100).
    SetVolume {
        /// The new volume, 0..=100.
        volume: u8,
    },
    /// Change the volume by `volume` (-100..=100).
    AdjustVolume {
        /// The change, -100..=100: positive louder, negative quieter.
        volume: i8,
        /// True when the user named no amount (the device picks its default step).
        volume_default: bool,
    },
    /// Mute (`true`) or unmute.
    SetMute {
        /// Whether to mute.
        mute: bool,
    },
}

/// The `type` of an `Alexa.ErrorResponse` (the common Alexa error types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The endpoint cannot be reached (offline).
    EndpointUnreachable,
    /// The endpoint does not exist.
    NoSuchEndpoint,
    /// A payload value is missing or of the wrong type.
    InvalidValue,
    /// A payload value is outside its range (answer with its `validRange`).
    ValueOutOfRange,
    /// The directive is malformed or not supported.
    InvalidDirective,
    /// The endpoint cannot do this in its current mode.
    NotSupportedInCurrentMode,
    /// The endpoint is busy.
    EndpointBusy,
    /// Any other failure.
    InternalError,
}

impl ErrorType {
    /// The wire name, e.g. `VALUE_OUT_OF_RANGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::EndpointUnreachable => "ENDPOINT_UNREACHABLE",
            ErrorType::NoSuchEndpoint => "NO_SUCH_ENDPOINT",
            ErrorType::InvalidValue => "INVALID_VALUE",
            ErrorType::ValueOutOfRange => "VALUE_OUT_OF_RANGE",
            ErrorType::InvalidDirective => "INVALID_DIRECTIVE",
            ErrorType::NotSupportedInCurrentMode => "NOT_SUPPORTED_IN_CURRENT_MODE",
            ErrorType::EndpointBusy => "ENDPOINT_BUSY",
            ErrorType::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// Why an `Alexa.Speaker` directive was not accepted: the `type` and `message` of the
/// `Alexa.ErrorResponse` to answer with (see [`write_error_response`]; for
/// [`ErrorType::ValueOutOfRange`], [`valid_range`] gives the `validRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V3Error {
    /// The error type.
    pub kind: ErrorType,
    /// A message for the logs of the service.
    pub message: &'static str,
}

impl V3Error {
    fn field(m: &FieldMessages, e: FieldError) -> Self {
        let kind = match e {
            FieldError::OutOfRange => ErrorType::ValueOutOfRange,
            FieldError::Missing | FieldError::Mistyped | FieldError::Escaped => {
                ErrorType::InvalidValue
            }
        };
        V3Error {
            kind,
            message: m.pick(e),
        }
    }
}

/// The `validRange` of the integer in the payload of the directive `name`: `(0, 100)` for
/// `SetVolume`, `(-100, 100)` for `AdjustVolume`, `None` otherwise.
pub fn valid_range(name: &str) -> Option<(i64, i64)> {
    match name {
        "SetVolume" => Some((0, 100)),
        "AdjustVolume" => Some((-100, 100)),
        _ => None,
    }
}

/// Parses the payload of the `Alexa.Speaker` directive `name`.
///
/// An unknown name is [`ErrorType::InvalidDirective`], and so is a payload that is not a JSON
/// object; a missing or mistyped member is [`ErrorType::InvalidValue`] and an integer out of
/// range [`ErrorType::ValueOutOfRange`]. A missing `volumeDefault` is `false`.
pub fn parse(name: &str, payload: &[u8]) -> Result<AlexaSpeakerDirective, V3Error> {
    let p = || {
        Object::new(payload).ok_or(V3Error {
            kind: ErrorType::InvalidDirective,
            message: NOT_AN_OBJECT,
        })
    };
    match name {
        "SetVolume" => {
            let m = field_messages!("volume", "an integer", "0..100");
            let volume = p()?
                .int_in("volume", 0, 100)
                .map_err(|e| V3Error::field(&m, e))?;
            Ok(AlexaSpeakerDirective::SetVolume {
                volume: volume as u8,
            })
        }
        "AdjustVolume" => {
            let m = field_messages!("volume", "an integer", "-100..100");
            let md = field_messages!("volumeDefault", "a boolean");
            let p = p()?;
            let volume = p
                .int_in("volume", -100, 100)
                .map_err(|e| V3Error::field(&m, e))?;
            let volume_default = match p.bool("volumeDefault") {
                Err(FieldError::Missing) => false,
                r => r.map_err(|e| V3Error::field(&md, e))?,
            };
            Ok(AlexaSpeakerDirective::AdjustVolume {
                volume: volume as i8,
                volume_default,
            })
        }
        "SetMute" => {
            let m = field_messages!("mute", "a boolean");
            let mute = p()?.bool("mute").map_err(|e| V3Error::field(&m, e))?;
            Ok(AlexaSpeakerDirective::SetMute { mute })
        }
        _ => Err(V3Error {
            kind: ErrorType::InvalidDirective,
            message: "directive not supported by Alexa.Speaker",
        }),
    }
}

/// Whether a directive is the `Alexa.ReportState` request (answer with [`write_state_report`]).
pub fn is_report_state(namespace: &str, name: &str) -> bool {
    namespace == "Alexa" && name == "ReportState"
}

/// The value of a v3 property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A number, e.g. `volume`.
    Int(i64),
    /// A boolean, e.g. `muted`.
    Bool(bool),
    /// A string, e.g. `powerState` `"ON"`.
    Str(&'a str),
}

/// One property of an endpoint's state, as reported in `context.properties` and in a
/// `ChangeReport`'s `payload.change.properties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property<'a> {
    /// E.g. `Alexa.Speaker`.
    pub namespace: &'a str,
    /// E.g. `volume`.
    pub name: &'a str,
    /// The value.
    pub value: Value<'a>,
    /// When the value was sampled, ISO-8601 (see [`crate::time::write_iso8601_utc`]).
    pub time_of_sample: &'a str,
    /// How stale the value may be, in milliseconds.
    pub uncertainty_ms: u32,
}

/// The two `Alexa.Speaker` properties, `volume` (clamped to 100) and `muted`, sampled at
/// `time_of_sample` with no uncertainty (the device knows its own volume).
pub fn speaker_properties(volume: u8, muted: bool, time_of_sample: &str) -> [Property<'_>; 2] {
    [
        Property {
            namespace: NAMESPACE,
            name: "volume",
            value: Value::Int(i64::from(volume.min(100))),
            time_of_sample,
            uncertainty_ms: 0,
        },
        Property {
            namespace: NAMESPACE,
            name: "muted",
            value: Value::Bool(muted),
            time_of_sample,
            uncertainty_ms: 0,
        },
    ]
}

/// Writes one property object,
/// `{"namespace":..,"name":..,"value":..,"timeOfSample":..,"uncertaintyInMilliseconds":..}`.
pub fn write_property(w: &mut JsonWriter<'_>, p: &Property<'_>) {
    w.begin_object();
    w.key("namespace");
    w.str(p.namespace);
    w.key("name");
    w.str(p.name);
    w.key("value");
    match p.value {
        Value::Int(n) => w.int(n),
        Value::Bool(b) => w.bool(b),
        Value::Str(s) => w.str(s),
    }
    w.key("timeOfSample");
    w.str(p.time_of_sample);
    w.key("uncertaintyInMilliseconds");
    w.uint(u64::from(p.uncertainty_ms));
    w.end_object();
}

fn write_properties(w: &mut JsonWriter<'_>, properties: &[Property<'_>]) {
    w.begin_array();
    for p in properties {
        write_property(w, p);
    }
    w.end_array();
}

/// How `event.endpoint` is written.
enum Endpoint<'a> {
    /// `{"endpointId":..}` (Response, ErrorResponse).
    Id(&'a str),
    /// `{"scope":{"type":"BearerToken","token":..},"endpointId":..}` (StateReport, ChangeReport).
    Scoped { token: &'a str, id: &'a str },
}

/// The common v3 event: `{"event":{"header":{namespace "Alexa",name,messageId
/// [,correlationToken],payloadVersion "3"},"endpoint":{..},"payload":P}[,"context":
/// {"properties":[..]}]}`.
fn write_event<'a>(
    out: &'a mut [u8],
    name: &str,
    message_id: &str,
    correlation_token: Option<&str>,
    endpoint: Endpoint<'_>,
    payload: impl FnOnce(&mut JsonWriter<'a>),
    context: Option<&[Property<'_>]>,
) -> Result<usize, Overflow> {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    w.key("event");
    w.begin_object();
    w.key("header");
    w.begin_object();
    w.key("namespace");
    w.str("Alexa");
    w.key("name");
    w.str(name);
    w.key("messageId");
    w.str(message_id);
    if let Some(t) = correlation_token {
        w.key("correlationToken");
        w.str(t);
    }
    w.key("payloadVersion");
    w.str("3");
    w.end_object();
    w.key("endpoint");
    w.begin_object();
    let id = match endpoint {
        Endpoint::Id(id) => id,
        Endpoint::Scoped { token, id } => {
            write_bearer_scope(&mut w, token);
            id
        }
    };
    w.key("endpointId");
    w.str(id);
    w.end_object();
    w.key("payload");
    payload(&mut w);
    w.end_object();
    if let Some(properties) = context {
        w.key("context");
        w.begin_object();
        w.key("properties");
        write_properties(&mut w, properties);
        w.end_object();
    }
    w.end_object();
    w.finish()
}

/// Writes the member `"scope":{"type":"BearerToken","token":..}` into the current object (also
/// used by the `Alexa.Discovery` report).
pub(crate) fn write_bearer_scope(w: &mut JsonWriter<'_>, token: &str) {
    w.key("scope");
    w.begin_object();
    w.key("type");
    w.str("BearerToken");
    w.key("token");
    w.str(token);
    w.end_object();
}

fn empty_object(w: &mut JsonWriter<'_>) {
    w.begin_object();
    w.end_object();
}

/// Writes the `Alexa.Response` to a handled directive, with the endpoint's properties as the
/// context, and returns its length.
pub fn write_response(
    out: &mut [u8],
    message_id: &str,
    correlation_token: &str,
    endpoint_id: &str,
    properties: &[Property<'_>],
) -> Result<usize, Overflow> {
    write_event(
        out,
        "Response",
        message_id,
        Some(correlation_token),
        Endpoint::Id(endpoint_id),
        empty_object,
        Some(properties),
    )
}

/// Writes the `Alexa.ErrorResponse` to a directive that failed, payload
/// `{"type":..,"message":..[,"validRange":{"minimumValue":..,"maximumValue":..}]}`, without
/// context, and returns its length.
pub fn write_error_response(
    out: &mut [u8],
    message_id: &str,
    correlation_token: &str,
    endpoint_id: &str,
    kind: ErrorType,
    message: &str,
    valid_range: Option<(i64, i64)>,
) -> Result<usize, Overflow> {
    write_event(
        out,
        "ErrorResponse",
        message_id,
        Some(correlation_token),
        Endpoint::Id(endpoint_id),
        |w| {
            w.begin_object();
            w.key("type");
            w.str(kind.as_str());
            w.key("message");
            w.str(message);
            if let Some((min, max)) = valid_range {
                w.key("validRange");
                w.begin_object();
                w.key("minimumValue");
                w.int(min);
                w.key("maximumValue");
                w.int(max);
                w.end_object();
            }
            w.end_object();
        },
        None,
    )
}

/// Writes the `Alexa.StateReport` answering `Alexa.ReportState`, with all retrievable
/// properties as the context, and returns its length.
pub fn write_state_report(
    out: &mut [u8],
    message_id: &str,
    correlation_token: &str,
    endpoint_id: &str,
    bearer_token: &str,
    properties: &[Property<'_>],
) -> Result<usize, Overflow> {
    write_event(
        out,
        "StateReport",
        message_id,
        Some(correlation_token),
        Endpoint::Scoped {
            token: bearer_token,
            id: endpoint_id,
        },
        empty_object,
        Some(properties),
    )
}

/// Writes a proactive `Alexa.ChangeReport` (no correlation token): the `changed` properties in
/// `payload.change.properties` with the cause (e.g. `PHYSICAL_INTERACTION`,
/// `VOICE_INTERACTION`), the `unchanged` ones as the context; returns its length.
pub fn write_change_report(
    out: &mut [u8],
    message_id: &str,
    endpoint_id: &str,
    bearer_token: &str,
    cause_type: &str,
    changed: &[Property<'_>],
    unchanged: &[Property<'_>],
) -> Result<usize, Overflow> {
    write_event(
        out,
        "ChangeReport",
        message_id,
        None,
        Endpoint::Scoped {
            token: bearer_token,
            id: endpoint_id,
        },
        |w| {
            w.begin_object();
            w.key("change");
            w.begin_object();
            w.key("cause");
            w.begin_object();
            w.key("type");
            w.str(cause_type);
            w.end_object();
            w.key("properties");
            write_properties(w, changed);
            w.end_object();
            w.end_object();
        },
        Some(unchanged),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::never_panics;
    use crate::jsonw::{as_json, check_every_length, minify};
    use crate::message::parse_directive;
    use serde_json::{json, Value as J};
    use std::string::ToString;

    const T: &str = "2017-02-03T16:20:50.52Z";

    /// The directive examples of 004, verbatim.
    const SET_VOLUME: &str = r#"{
  "directive": {
    "header": {
      "namespace": "Alexa.Speaker",
      "name": "SetVolume",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      },
      "endpointId": "<endpoint id>",
      "cookie": {}
    },
    "payload": {
      "volume": 50
    }
  }
}"#;

    const ADJUST_VOLUME: &str = r#"{
  "directive": {
    "header": {
      "namespace": "Alexa.Speaker",
      "name": "AdjustVolume",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      },
      "endpointId": "<endpoint id>",
      "cookie": {}
    },
    "payload": {
      "volume": -20,
      "volumeDefault": false
    }
  }
}"#;

    const SET_MUTE: &str = r#"{
  "directive": {
    "header": {
      "namespace": "Alexa.Speaker",
      "name": "SetMute",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      },
      "endpointId": "<endpoint id>",
      "cookie": {}
    },
    "payload": {
      "mute": true
    }
  }
}"#;

    fn parse_doc(doc: &str) -> Result<AlexaSpeakerDirective, V3Error> {
        let d = parse_directive(doc.as_bytes()).unwrap();
        assert_eq!(d.header.namespace, NAMESPACE);
        assert_eq!(d.header.payload_version, Some("3"));
        parse(d.header.name, d.payload)
    }

    #[test]
    fn spec_directives() {
        use AlexaSpeakerDirective::*;
        assert_eq!(parse_doc(SET_VOLUME), Ok(SetVolume { volume: 50 }));
        assert_eq!(
            parse_doc(ADJUST_VOLUME),
            Ok(AdjustVolume {
                volume: -20,
                volume_default: false
            })
        );
        assert_eq!(parse_doc(SET_MUTE), Ok(SetMute { mute: true }));
    }

    #[test]
    fn other_payloads() {
        use AlexaSpeakerDirective::*;
        for (name, payload, want) in [
            (
                "SetVolume",
                &br#"{"volume":0}"#[..],
                SetVolume { volume: 0 },
            ),
            ("SetVolume", br#"{"volume":100}"#, SetVolume { volume: 100 }),
            (
                "AdjustVolume",
                br#"{"volume":10}"#,
                AdjustVolume {
                    volume: 10,
                    volume_default: false,
                },
            ),
            (
                "AdjustVolume",
                br#"{"volume":-100,"volumeDefault":true}"#,
                AdjustVolume {
                    volume: -100,
                    volume_default: true,
                },
            ),
            (
                "AdjustVolume",
                br#"{"volumeDefault":null,"volume":100}"#,
                AdjustVolume {
                    volume: 100,
                    volume_default: false,
                },
            ),
            ("SetMute", br#"{"mute":false}"#, SetMute { mute: false }),
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
    fn errors() {
        use ErrorType::*;
        let e = |kind, message| Err(V3Error { kind, message });
        for (name, payload, want) in [
            (
                "SetVolume",
                &br#"{}"#[..],
                e(InvalidValue, "payload.volume is missing"),
            ),
            (
                "SetVolume",
                br#"{"volume":"5"}"#,
                e(InvalidValue, "payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":5.5}"#,
                e(InvalidValue, "payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":true}"#,
                e(InvalidValue, "payload.volume is not an integer"),
            ),
            (
                "SetVolume",
                br#"{"volume":101}"#,
                e(ValueOutOfRange, "payload.volume is outside 0..100"),
            ),
            (
                "SetVolume",
                br#"{"volume":-1}"#,
                e(ValueOutOfRange, "payload.volume is outside 0..100"),
            ),
            (
                "AdjustVolume",
                br#"{"volumeDefault":true}"#,
                e(InvalidValue, "payload.volume is missing"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":"-20"}"#,
                e(InvalidValue, "payload.volume is not an integer"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":-20.0}"#,
                e(InvalidValue, "payload.volume is not an integer"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":-101}"#,
                e(ValueOutOfRange, "payload.volume is outside -100..100"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":101}"#,
                e(ValueOutOfRange, "payload.volume is outside -100..100"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":5,"volumeDefault":"false"}"#,
                e(InvalidValue, "payload.volumeDefault is not a boolean"),
            ),
            (
                "AdjustVolume",
                br#"{"volume":5,"volumeDefault":0}"#,
                e(InvalidValue, "payload.volumeDefault is not a boolean"),
            ),
            (
                "SetMute",
                br#"{}"#,
                e(InvalidValue, "payload.mute is missing"),
            ),
            (
                "SetMute",
                br#"{"mute":"true"}"#,
                e(InvalidValue, "payload.mute is not a boolean"),
            ),
            (
                "SetMute",
                br#"{"mute":1}"#,
                e(InvalidValue, "payload.mute is not a boolean"),
            ),
            ("SetVolume", br#"[]"#, e(InvalidDirective, NOT_AN_OBJECT)),
            (
                "SetMute",
                br#"{"mute":true,}"#,
                e(InvalidDirective, NOT_AN_OBJECT),
            ),
            ("SetVolume", b"", e(InvalidDirective, NOT_AN_OBJECT)),
            (
                "SetVolumes",
                br#"{"volume":5}"#,
                e(InvalidDirective, "directive not supported by Alexa.Speaker"),
            ),
            (
                "ReportState",
                br#"{}"#,
                e(InvalidDirective, "directive not supported by Alexa.Speaker"),
            ),
        ] {
            assert_eq!(
                parse(name, payload),
                want,
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
        assert_eq!(valid_range("SetVolume"), Some((0, 100)));
        assert_eq!(valid_range("AdjustVolume"), Some((-100, 100)));
        assert_eq!(valid_range("SetMute"), None);
    }

    #[test]
    fn parsing_never_panics() {
        for name in ["SetVolume", "AdjustVolume", "SetMute"] {
            never_panics(br#"{"volume":-50,"volumeDefault":true,"mute":true}"#, |p| {
                let _ = parse(name, p);
            });
        }
    }

    #[test]
    fn error_type_names() {
        use ErrorType::*;
        let all = [
            (EndpointUnreachable, "ENDPOINT_UNREACHABLE"),
            (NoSuchEndpoint, "NO_SUCH_ENDPOINT"),
            (InvalidValue, "INVALID_VALUE"),
            (ValueOutOfRange, "VALUE_OUT_OF_RANGE"),
            (InvalidDirective, "INVALID_DIRECTIVE"),
            (NotSupportedInCurrentMode, "NOT_SUPPORTED_IN_CURRENT_MODE"),
            (EndpointBusy, "ENDPOINT_BUSY"),
            (InternalError, "INTERNAL_ERROR"),
        ];
        for (k, s) in all {
            assert_eq!(k.as_str(), s);
        }
    }

    #[test]
    fn report_state() {
        assert!(is_report_state("Alexa", "ReportState"));
        assert!(!is_report_state("Alexa.Speaker", "ReportState"));
        assert!(!is_report_state("Alexa", "StateReport"));
        assert!(!is_report_state("alexa", "reportstate"));
    }

    fn power_on() -> Property<'static> {
        Property {
            namespace: "Alexa.PowerController",
            name: "powerState",
            value: Value::Str("ON"),
            time_of_sample: T,
            uncertainty_ms: 500,
        }
    }

    /// 004's response examples, verbatim but for the values that differ between them.
    fn spec_response(volume: u8, muted: bool) -> std::string::String {
        r#"{
  "event": {
    "header": {
      "namespace": "Alexa",
      "name": "Response",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint":{
      "endpointId": "<endpoint id>"
    },
    "payload": {}
  },
  "context": {
    "properties": [
      {
        "namespace": "Alexa.Speaker",
        "name": "volume",
        "value": VOLUME,
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 0
      },
      {
        "namespace": "Alexa.Speaker",
        "name": "muted",
        "value": MUTED,
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 0
      },
      {
        "namespace": "Alexa.PowerController",
        "name": "powerState",
        "value": "ON",
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 500
      }
    ]
  }
}"#
        .replace("VOLUME", &volume.to_string())
        .replace("MUTED", &muted.to_string())
    }

    const STATE_REPORT: &str = r#"{
  "event": {
    "header": {
      "namespace": "Alexa",
      "name": "StateReport",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      },
      "endpointId": "<endpoint id>"
    },
    "payload": {}
  },
  "context": {
    "properties": [
      {
        "namespace": "Alexa.Speaker",
        "name": "volume",
        "value": 30,
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 0
      },
      {
        "namespace": "Alexa.Speaker",
        "name": "muted",
        "value": false,
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 0
      },
      {
        "namespace": "Alexa.PowerController",
        "name": "powerState",
        "value": "ON",
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 500
      }
    ]
  }
}"#;

    /// 004's example verbatim, including the trailing comma after the one changed property
    /// that makes it invalid JSON (removed before comparing).
    const CHANGE_REPORT: &str = r#"{  
  "event": {
    "header": {
      "namespace": "Alexa",
      "name": "ChangeReport",
      "messageId": "<message id>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      },
      "endpointId": "<endpoint id>"
    },
    "payload": {
      "change": {
        "cause": {
          "type": "VOICE_INTERACTION"
        },
        "properties": [
          {
            "namespace": "Alexa.Speaker",
            "name": "volume",
            "value": 40,
            "timeOfSample": "2017-02-03T16:20:50.52Z",
            "uncertaintyInMilliseconds": 0
          },
        ]
      }
    }
  },
  "context": {
    "properties": [
      {
        "namespace": "Alexa.Speaker",
        "name": "muted",
        "value": false,
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 0
      },
      {
        "namespace": "Alexa.PowerController",
        "name": "powerState",
        "value": "ON",
        "timeOfSample": "2017-02-03T16:20:50.52Z",
        "uncertaintyInMilliseconds": 500
      }
    ]
  }
}"#;

    /// `got` is the spec example `want`: equal as JSON values and, minified, byte for byte (so
    /// the member order is the spec's too).
    fn assert_spec(got: &[u8], want: &str) {
        let want = minify(want);
        assert_eq!(as_json(got), as_json(want.as_bytes()));
        assert_eq!(core::str::from_utf8(got).unwrap(), want);
    }

    #[test]
    fn responses_as_in_the_spec() {
        // SetVolume, AdjustVolume and SetMute response examples.
        for (volume, muted) in [(50u8, false), (30, false), (30, true)] {
            let [v, m] = speaker_properties(volume, muted, T);
            let props = [v, m, power_on()];
            let got = check_every_length(|out| {
                write_response(
                    out,
                    "<message id>",
                    "<an opaque correlation token>",
                    "<endpoint id>",
                    &props,
                )
            });
            assert_spec(&got, &spec_response(volume, muted));
        }
    }

    #[test]
    fn state_report_as_in_the_spec() {
        let [v, m] = speaker_properties(30, false, T);
        let props = [v, m, power_on()];
        let got = check_every_length(|out| {
            write_state_report(
                out,
                "<message id>",
                "<an opaque correlation token>",
                "<endpoint id>",
                "<an OAuth2 bearer token>",
                &props,
            )
        });
        assert_spec(&got, STATE_REPORT);
    }

    #[test]
    fn change_report_as_in_the_spec() {
        let [volume, muted] = speaker_properties(40, false, T);
        let changed = [volume];
        let unchanged = [muted, power_on()];
        let got = check_every_length(|out| {
            write_change_report(
                out,
                "<message id>",
                "<endpoint id>",
                "<an OAuth2 bearer token>",
                "VOICE_INTERACTION",
                &changed,
                &unchanged,
            )
        });
        let spec = minify(CHANGE_REPORT);
        assert!(
            serde_json::from_str::<J>(&spec).is_err(),
            "the spec's text has the stray comma"
        );
        assert_spec(&got, &spec.replace("},]", "}]"));
        // No properties at all is still valid JSON.
        let got = check_every_length(|out| {
            write_change_report(out, "m", "e", "t", "PHYSICAL_INTERACTION", &[], &[])
        });
        assert_eq!(as_json(&got)["context"], json!({"properties": []}));
        assert_eq!(
            as_json(&got)["event"]["payload"]["change"]["properties"],
            json!([])
        );
    }

    #[test]
    fn property_values() {
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_property(&mut w, &power_on());
            w.finish()
        });
        assert_eq!(
            got,
            br#"{"namespace":"Alexa.PowerController","name":"powerState","value":"ON","timeOfSample":"2017-02-03T16:20:50.52Z","uncertaintyInMilliseconds":500}"#
        );
        let p = Property {
            namespace: "N\"",
            name: "n",
            value: Value::Int(i64::MIN),
            time_of_sample: "",
            uncertainty_ms: u32::MAX,
        };
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_property(&mut w, &p);
            w.finish()
        });
        assert_eq!(
            as_json(&got),
            json!({"namespace":"N\"","name":"n","value":i64::MIN,"timeOfSample":"","uncertaintyInMilliseconds":u32::MAX})
        );
        // The volume property is clamped to its range.
        assert_eq!(speaker_properties(200, true, T)[0].value, Value::Int(100));
    }

    #[test]
    fn error_responses() {
        // 004 only says "respond with an Alexa.ErrorResponse event"; the shape is the Response's
        // header and endpoint with the Alexa error payload and no context.
        let got = check_every_length(|out| {
            write_error_response(
                out,
                "<message id>",
                "<an opaque correlation token>",
                "<endpoint id>",
                ErrorType::ValueOutOfRange,
                "payload.volume is outside 0..100",
                valid_range("SetVolume"),
            )
        });
        assert_spec(
            &got,
            r#"{
  "event": {
    "header": {
      "namespace": "Alexa",
      "name": "ErrorResponse",
      "messageId": "<message id>",
      "correlationToken": "<an opaque correlation token>",
      "payloadVersion": "3"
    },
    "endpoint": {
      "endpointId": "<endpoint id>"
    },
    "payload": {
      "type": "VALUE_OUT_OF_RANGE",
      "message": "payload.volume is outside 0..100",
      "validRange": {
        "minimumValue": 0,
        "maximumValue": 100
      }
    }
  }
}"#,
        );
        let got = check_every_length(|out| {
            write_error_response(
                out,
                "m",
                "c",
                "e",
                ErrorType::EndpointBusy,
                "busy \"now\"",
                None,
            )
        });
        assert_eq!(
            as_json(&got),
            json!({"event":{"header":{"namespace":"Alexa","name":"ErrorResponse","messageId":"m","correlationToken":"c","payloadVersion":"3"},"endpoint":{"endpointId":"e"},"payload":{"type":"ENDPOINT_BUSY","message":"busy \"now\""}}})
        );
        let got = check_every_length(|out| {
            write_error_response(
                out,
                "m",
                "c",
                "e",
                ErrorType::ValueOutOfRange,
                "",
                Some((-100, 100)),
            )
        });
        assert_eq!(
            as_json(&got)["event"]["payload"]["validRange"],
            json!({"minimumValue": -100, "maximumValue": 100})
        );
    }
}

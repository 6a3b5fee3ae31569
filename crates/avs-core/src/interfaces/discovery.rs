//! `Alexa.Discovery` `AddOrUpdateReport`: the capabilities the device reports (the interfaces and
//! versions it implements, and its `Alexa.*` endpoint properties), payloadVersion `"3"`.
//!
//! The report is built from the same tables the client dispatches with, so what the device
//! claims and what it handles cannot drift apart.

use super::alexa_speaker::write_bearer_scope;
use crate::json;
use crate::jsonw::JsonWriter;
use crate::Overflow;

/// The `properties` of a capability with reportable state (e.g. `Alexa.Speaker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Properties<'a> {
    /// Property names, e.g. `["volume", "muted"]`.
    pub supported: &'a [&'a str],
    /// Whether the state can be asked for with `ReportState`.
    pub retrievable: bool,
    /// Whether changes are sent with `ChangeReport`.
    pub proactively_reported: bool,
}

/// One capability (`"type":"AlexaInterface"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability<'a> {
    /// E.g. `SpeechRecognizer`, `Alexa.Speaker`.
    pub interface: &'a str,
    /// E.g. `"2.0"`, `"3"`.
    pub version: &'a str,
    /// The properties, for interfaces with reportable state.
    pub properties: Option<Properties<'a>>,
    /// Raw JSON object written as `configurations` (e.g. SpeechRecognizer's wake words); it
    /// must be exactly one JSON object, or the report fails.
    pub configurations: Option<&'a [u8]>,
}

/// One endpoint: the device itself, or a part of it controlled through `Alexa.*` interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Unique per endpoint (for the device: `<clientId>::<productId>::<deviceSerialNumber>`).
    pub endpoint_id: &'a str,
    /// The manufacturer.
    pub manufacturer_name: &'a str,
    /// A description for the Alexa app.
    pub description: &'a str,
    /// The name users call it by.
    pub friendly_name: &'a str,
    /// E.g. `["ALEXA_VOICE_ENABLED"]`, `["SPEAKER"]`.
    pub display_categories: &'a [&'a str],
    /// The product id registered with AVS.
    pub product_id: &'a str,
    /// The device serial number.
    pub device_serial_number: &'a str,
    /// The capabilities.
    pub capabilities: &'a [Capability<'a>],
}

/// Writes the `Alexa.Discovery.AddOrUpdateReport` event and returns its length:
/// `{"event":{"header":{"namespace":"Alexa.Discovery","name":"AddOrUpdateReport",
/// "payloadVersion":"3","messageId":..},"payload":{"endpoints":[..],"scope":{"type":
/// "BearerToken","token":..}}}}`. Fails with [`Overflow`] when `out` is too small, or when a
/// capability's `configurations` is not one JSON object.
pub fn write_add_or_update_report(
    out: &mut [u8],
    message_id: &str,
    bearer_token: &str,
    endpoints: &[Endpoint<'_>],
) -> Result<usize, Overflow> {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    w.key("event");
    w.begin_object();
    w.key("header");
    w.begin_object();
    w.key("namespace");
    w.str("Alexa.Discovery");
    w.key("name");
    w.str("AddOrUpdateReport");
    w.key("payloadVersion");
    w.str("3");
    w.key("messageId");
    w.str(message_id);
    w.end_object();
    w.key("payload");
    w.begin_object();
    w.key("endpoints");
    w.begin_array();
    for e in endpoints {
        write_endpoint(&mut w, e);
    }
    w.end_array();
    write_bearer_scope(&mut w, bearer_token);
    w.end_object();
    w.end_object();
    w.end_object();
    w.finish()
}

fn write_strings(w: &mut JsonWriter<'_>, items: &[&str]) {
    w.begin_array();
    for s in items {
        w.str(s);
    }
    w.end_array();
}

fn write_endpoint(w: &mut JsonWriter<'_>, e: &Endpoint<'_>) {
    w.begin_object();
    w.key("endpointId");
    w.str(e.endpoint_id);
    w.key("manufacturerName");
    w.str(e.manufacturer_name);
    w.key("description");
    w.str(e.description);
    w.key("friendlyName");
    w.str(e.friendly_name);
    w.key("displayCategories");
    write_strings(w, e.display_categories);
    w.key("registration");
    w.begin_object();
    w.key("productId");
    w.str(e.product_id);
    w.key("deviceSerialNumber");
    w.str(e.device_serial_number);
    w.end_object();
    w.key("capabilities");
    w.begin_array();
    for c in e.capabilities {
        write_capability(w, c);
    }
    w.end_array();
    w.end_object();
}

/// Writes one capability object,
/// `{"type":"AlexaInterface","interface":..,"version":..[,"properties":{..}][,"configurations":{..}]}`.
pub fn write_capability(w: &mut JsonWriter<'_>, c: &Capability<'_>) {
    w.begin_object();
    w.key("type");
    w.str("AlexaInterface");
    w.key("interface");
    w.str(c.interface);
    w.key("version");
    w.str(c.version);
    if let Some(p) = &c.properties {
        w.key("properties");
        w.begin_object();
        w.key("supported");
        w.begin_array();
        for name in p.supported {
            w.begin_object();
            w.key("name");
            w.str(name);
            w.end_object();
        }
        w.end_array();
        w.key("retrievable");
        w.bool(p.retrievable);
        w.key("proactivelyReported");
        w.bool(p.proactively_reported);
        w.end_object();
    }
    if let Some(raw) = c.configurations {
        w.key("configurations");
        if json::is_object(&raw[json::skip_ws(raw, 0)..]) {
            w.raw(raw);
        } else {
            w.fail();
        }
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonw::{as_json, check_every_length, minify};
    use serde_json::json;

    const SPEAKER_PROPS: Properties<'static> = Properties {
        supported: &["volume", "muted"],
        retrievable: true,
        proactively_reported: true,
    };

    /// The capabilities of 004's discovery example (Alexa.Speaker, Alexa.PowerController,
    /// Alexa).
    const SPEC_CAPS: [Capability<'static>; 3] = [
        Capability {
            interface: "Alexa.Speaker",
            version: "3",
            properties: Some(SPEAKER_PROPS),
            configurations: None,
        },
        Capability {
            interface: "Alexa.PowerController",
            version: "3",
            properties: Some(Properties {
                supported: &["powerState"],
                retrievable: true,
                proactively_reported: true,
            }),
            configurations: None,
        },
        Capability {
            interface: "Alexa",
            version: "3",
            properties: None,
            configurations: None,
        },
    ];

    /// 004's discovery example, with the header and endpoint members of `AddOrUpdateReport`
    /// (name, `registration`, `scope`; no `cookie`), in the brief's member order.
    const SPEC_REPORT: &str = r#"{
  "event": {
    "header": {
      "namespace": "Alexa.Discovery",
      "name": "AddOrUpdateReport",
      "payloadVersion": "3",
      "messageId": "<message id>"
    },
    "payload": {
      "endpoints": [
        {
          "endpointId": "<unique ID of the endpoint>",
          "manufacturerName": "<the manufacturer name of the endpoint>",
          "description": "Smart Speaker by Speaker Maker",
          "friendlyName": "Computer speaker",
          "displayCategories": ["SPEAKER"],
          "registration": {
            "productId": "<product id>",
            "deviceSerialNumber": "<serial>"
          },
          "capabilities": [
            {
              "type": "AlexaInterface",
              "interface": "Alexa.Speaker",
              "version": "3",
              "properties": {
                "supported": [
                  {
                    "name": "volume"
                  },
                  {
                    "name": "muted"
                  }
                ],
                "retrievable": true,
                "proactivelyReported": true
              }
            },
            {
              "type": "AlexaInterface",
              "interface": "Alexa.PowerController",
              "version": "3",
              "properties": {
                "supported": [
                  {
                    "name": "powerState"
                  }
                ],
                "retrievable": true,
                "proactivelyReported": true
              }
            },
            {
              "type": "AlexaInterface",
              "interface": "Alexa",
              "version": "3"
            }
          ]
        }
      ],
      "scope": {
        "type": "BearerToken",
        "token": "<an OAuth2 bearer token>"
      }
    }
  }
}"#;

    fn spec_endpoint(caps: &'static [Capability<'static>]) -> Endpoint<'static> {
        Endpoint {
            endpoint_id: "<unique ID of the endpoint>",
            manufacturer_name: "<the manufacturer name of the endpoint>",
            description: "Smart Speaker by Speaker Maker",
            friendly_name: "Computer speaker",
            display_categories: &["SPEAKER"],
            product_id: "<product id>",
            device_serial_number: "<serial>",
            capabilities: caps,
        }
    }

    #[test]
    fn report_as_in_the_spec() {
        let endpoints = [spec_endpoint(&SPEC_CAPS)];
        let got = check_every_length(|out| {
            write_add_or_update_report(out, "<message id>", "<an OAuth2 bearer token>", &endpoints)
        });
        let want = minify(SPEC_REPORT);
        assert_eq!(as_json(&got), as_json(want.as_bytes()));
        assert_eq!(core::str::from_utf8(&got).unwrap(), want);
    }

    #[test]
    fn avs_interfaces_with_configurations() {
        const CAPS: [Capability<'static>; 3] = [
            Capability {
                interface: "SpeechRecognizer",
                version: "2.0",
                properties: None,
                configurations: Some(
                    br#"{"wakeWords":[{"scopes":["DEFAULT"],"values":[["ALEXA"]]}]}"#,
                ),
            },
            Capability {
                interface: "Speaker",
                version: "1.0",
                properties: None,
                configurations: None,
            },
            Capability {
                interface: "System",
                version: "1.0",
                properties: None,
                configurations: Some(b" { } "),
            },
        ];
        let endpoints = [
            Endpoint {
                endpoint_id: "cid::pid::dsn",
                manufacturer_name: "Maker \"M\"",
                description: "d",
                friendly_name: "",
                display_categories: &["ALEXA_VOICE_ENABLED", "SPEAKER"],
                product_id: "pid",
                device_serial_number: "dsn",
                capabilities: &CAPS,
            },
            spec_endpoint(&[]),
        ];
        let got = check_every_length(|out| write_add_or_update_report(out, "m", "t", &endpoints));
        let v = as_json(&got);
        let e = &v["event"]["payload"]["endpoints"];
        assert_eq!(e.as_array().unwrap().len(), 2);
        assert_eq!(e[0]["manufacturerName"], json!("Maker \"M\""));
        assert_eq!(
            e[0]["displayCategories"],
            json!(["ALEXA_VOICE_ENABLED", "SPEAKER"])
        );
        assert_eq!(
            e[0]["registration"],
            json!({"productId":"pid","deviceSerialNumber":"dsn"})
        );
        assert_eq!(
            e[0]["capabilities"],
            json!([
                {"type":"AlexaInterface","interface":"SpeechRecognizer","version":"2.0",
                 "configurations":{"wakeWords":[{"scopes":["DEFAULT"],"values":[["ALEXA"]]}]}},
                {"type":"AlexaInterface","interface":"Speaker","version":"1.0"},
                {"type":"AlexaInterface","interface":"System","version":"1.0","configurations":{}}
            ])
        );
        assert_eq!(e[1]["capabilities"], json!([]));
        assert_eq!(
            v["event"]["payload"]["scope"],
            json!({"type":"BearerToken","token":"t"})
        );
        // No endpoints at all.
        let got = check_every_length(|out| write_add_or_update_report(out, "m", "t", &[]));
        assert_eq!(as_json(&got)["event"]["payload"]["endpoints"], json!([]));
    }

    #[test]
    fn configurations_must_be_an_object() {
        for bad in [&b"[]"[..], b"5", b"{", b"{} {}", b"", b"  ", b"{\"a\":}"] {
            let caps = [Capability {
                interface: "X",
                version: "1",
                properties: None,
                configurations: Some(bad),
            }];
            let endpoints = [Endpoint {
                capabilities: &caps,
                ..spec_endpoint(&[])
            }];
            let mut out = [0u8; 2048];
            assert_eq!(
                write_add_or_update_report(&mut out, "m", "t", &endpoints),
                Err(Overflow),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }
}

//! `System`: directives `ResetUserInactivity` and `SetEndpoint`; the payloads of the events
//! `UserInactivityReport` and `SoftwareInfo`.
//!
//! `SetEndpoint` makes the client reconnect to another base URL and keep it, so its URL is
//! checked here before the client ever acts on it.

use super::{field_messages, DirectiveError, Object};
use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "System";
/// The longest `SetEndpoint` URL accepted, in bytes.
pub const MAX_ENDPOINT_LEN: usize = 256;

/// A `System` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemDirective<'a> {
    /// Restart the user-inactivity clock.
    ResetUserInactivity,
    /// Reconnect to `endpoint` and use it from now on.
    SetEndpoint {
        /// The new base URL, `https://host[:port][/...]`, borrowed from the payload.
        endpoint: &'a str,
    },
}

/// Parses the payload of the `System` directive `name`.
///
/// `SetEndpoint` needs `{"endpoint":"https://..."}`: a string without JSON escapes, at most
/// [`MAX_ENDPOINT_LEN`] bytes of printable ASCII (no whitespace or control characters), starting
/// with `https://`, with a non-empty host, no user information and an optional port 1..=65535;
/// anything else is [`DirectiveError::Invalid`]. `ResetUserInactivity` ignores its payload
/// beyond checking it is an object. Other names are [`DirectiveError::Unsupported`].
pub fn parse<'a>(name: &str, payload: &'a [u8]) -> Result<SystemDirective<'a>, DirectiveError> {
    match name {
        "ResetUserInactivity" => {
            Object::payload(payload)?;
            Ok(SystemDirective::ResetUserInactivity)
        }
        "SetEndpoint" => {
            let m = field_messages!("endpoint", "a string");
            let endpoint = Object::payload(payload)?
                .str("endpoint")
                .map_err(|e| m.invalid(e))?;
            check_endpoint(endpoint).map_err(DirectiveError::Invalid)?;
            Ok(SystemDirective::SetEndpoint { endpoint })
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

/// Checks a `SetEndpoint` URL (see [`parse`]).
fn check_endpoint(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_ENDPOINT_LEN {
        return Err("payload.endpoint is longer than 256 bytes");
    }
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("payload.endpoint contains whitespace, control or non-ASCII characters");
    }
    let rest = url
        .strip_prefix("https://")
        .ok_or("payload.endpoint does not start with https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("payload.endpoint contains user information");
    }
    const INVALID_HOST: &str = "payload.endpoint has an invalid host";
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        // An IPv6 literal, `[...]`, then an optional `:port`.
        let close = v6.find(']').ok_or(INVALID_HOST)?;
        let inner = &v6[..close];
        if !inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(INVALID_HOST);
        }
        (inner, &v6[close + 1..])
    } else {
        let (host, port) = authority.split_at(authority.find(':').unwrap_or(authority.len()));
        if host.contains(['[', ']']) {
            return Err(INVALID_HOST);
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("payload.endpoint has no host");
    }
    if let Some(digits) = port.strip_prefix(':') {
        let valid = !digits.is_empty()
            && digits.len() <= 5
            && digits.bytes().all(|b| b.is_ascii_digit())
            && matches!(digits.parse::<u32>(), Ok(1..=65535));
        if !valid {
            return Err("payload.endpoint has an invalid port");
        }
    } else if !port.is_empty() {
        return Err(INVALID_HOST);
    }
    Ok(())
}

/// Writes the `UserInactivityReport` payload, `{"inactiveTimeInSeconds":N}`.
pub fn write_user_inactivity_report(w: &mut JsonWriter<'_>, seconds: u64) {
    w.begin_object();
    w.key("inactiveTimeInSeconds");
    w.uint(seconds);
    w.end_object();
}

/// Whether `v` is a firmware version AVS accepts in `SoftwareInfo`: a positive 32-bit signed
/// integer. Check the host's configuration with it once, at creation.
pub fn is_valid_firmware_version(v: u32) -> bool {
    (1..=i32::MAX as u32).contains(&v)
}

/// Writes the `SoftwareInfo` payload, `{"firmwareVersion":"N"}`: AVS wants the number as a
/// string. The value is written as given (see [`is_valid_firmware_version`]).
pub fn write_software_info(w: &mut JsonWriter<'_>, firmware_version: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut n = firmware_version;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    w.begin_object();
    w.key("firmwareVersion");
    w.string(&buf[i..]);
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length};
    use crate::message::parse_directive;
    use serde_json::json;

    #[test]
    fn reset_user_inactivity() {
        let doc = br#"{"directive":{"header":{"namespace":"System","name":"ResetUserInactivity","messageId":"m"},"payload":{}}}"#;
        let d = parse_directive(doc).unwrap();
        assert_eq!(
            parse(d.header.name, d.payload),
            Ok(SystemDirective::ResetUserInactivity)
        );
        assert_eq!(
            parse("ResetUserInactivity", br#"{"x":1}"#),
            Ok(SystemDirective::ResetUserInactivity)
        );
        assert_eq!(
            parse("ResetUserInactivity", b"[]"),
            Err(DirectiveError::Invalid(NOT_AN_OBJECT))
        );
    }

    #[test]
    fn set_endpoint() {
        // The protocol notes' example shape, with each current base URL.
        for url in [
            "https://alexa.na.gateway.devices.a2z.com",
            "https://alexa.eu.gateway.devices.a2z.com",
            "https://alexa.fe.gateway.devices.a2z.com",
            "https://avs-alexa-na.amazon.com",
            "https://avs-alexa-eu.amazon.com/",
            "https://localhost:8443",
            "https://127.0.0.1:1/path?q=1#f",
            "https://[::1]:443/x",
            "https://h",
        ] {
            let doc = std::format!(
                r#"{{"directive":{{"header":{{"namespace":"System","name":"SetEndpoint","messageId":"m"}},"payload":{{"endpoint":"{url}"}}}}}}"#
            );
            let d = parse_directive(doc.as_bytes()).unwrap();
            assert_eq!(
                parse(d.header.name, d.payload),
                Ok(SystemDirective::SetEndpoint { endpoint: url }),
                "{url}"
            );
        }
        let long = std::format!("https://{}", "a".repeat(MAX_ENDPOINT_LEN - 8));
        let payload = std::format!(r#"{{"endpoint":"{long}"}}"#);
        assert!(parse("SetEndpoint", payload.as_bytes()).is_ok());
        let payload = std::format!(r#"{{"endpoint":"{long}a"}}"#);
        assert_eq!(
            parse("SetEndpoint", payload.as_bytes()),
            Err(DirectiveError::Invalid(
                "payload.endpoint is longer than 256 bytes"
            ))
        );
    }

    #[test]
    fn invalid_endpoints() {
        let inv = DirectiveError::Invalid;
        for (payload, want) in [
            (&br#"{}"#[..], inv("payload.endpoint is missing")),
            (br#"{"endpoint":null}"#, inv("payload.endpoint is missing")),
            (
                br#"{"endpoint":5}"#,
                inv("payload.endpoint is not a string"),
            ),
            (
                br#"{"endpoint":["https://a"]}"#,
                inv("payload.endpoint is not a string"),
            ),
            (
                br#"{"endpoint":true}"#,
                inv("payload.endpoint is not a string"),
            ),
            (
                br#"{"endpoint":"https:\/\/a"}"#,
                inv("payload.endpoint contains JSON escapes"),
            ),
            (
                br#"{"endpoint":"http://a"}"#,
                inv("payload.endpoint does not start with https://"),
            ),
            (
                br#"{"endpoint":"HTTPS://a"}"#,
                inv("payload.endpoint does not start with https://"),
            ),
            (
                br#"{"endpoint":"a.com"}"#,
                inv("payload.endpoint does not start with https://"),
            ),
            (
                br#"{"endpoint":""}"#,
                inv("payload.endpoint does not start with https://"),
            ),
            (
                br#"{"endpoint":"https://"}"#,
                inv("payload.endpoint has no host"),
            ),
            (
                br#"{"endpoint":"https:///x"}"#,
                inv("payload.endpoint has no host"),
            ),
            (
                br#"{"endpoint":"https://:443"}"#,
                inv("payload.endpoint has no host"),
            ),
            (
                br#"{"endpoint":"https://[]:443"}"#,
                inv("payload.endpoint has no host"),
            ),
            (
                br#"{"endpoint":"https://[::g]"}"#,
                inv("payload.endpoint has an invalid host"),
            ),
            (
                br#"{"endpoint":"https://[[::1]]"}"#,
                inv("payload.endpoint has an invalid host"),
            ),
            (
                br#"{"endpoint":"https://[::1"}"#,
                inv("payload.endpoint has an invalid host"),
            ),
            (
                br#"{"endpoint":"https://[::1]x"}"#,
                inv("payload.endpoint has an invalid host"),
            ),
            (
                br#"{"endpoint":"https://a]b"}"#,
                inv("payload.endpoint has an invalid host"),
            ),
            (
                br#"{"endpoint":"https://a:"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://a:0"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://a:65536"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://a:443x"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://a:+443"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://a:1:2"}"#,
                inv("payload.endpoint has an invalid port"),
            ),
            (
                br#"{"endpoint":"https://u:p@evil.example"}"#,
                inv("payload.endpoint contains user information"),
            ),
            (
                br#"{"endpoint":"https://a b"}"#,
                inv("payload.endpoint contains whitespace, control or non-ASCII characters"),
            ),
            (
                b"{\"endpoint\":\"https://a\x7f\"}",
                inv("payload.endpoint contains whitespace, control or non-ASCII characters"),
            ),
            (
                "{\"endpoint\":\"https://\u{e9}.com\"}".as_bytes(),
                inv("payload.endpoint contains whitespace, control or non-ASCII characters"),
            ),
            (
                "{\"endpoint\":\"https://a\u{a0}b\"}".as_bytes(),
                inv("payload.endpoint contains whitespace, control or non-ASCII characters"),
            ),
            (
                br#"{"endpoint":"https://a\tb"}"#,
                inv("payload.endpoint contains JSON escapes"),
            ),
            (b"{\"endpoint\":\"https://a\tb\"}", inv(NOT_AN_OBJECT)), // raw tab: not JSON
            (br#"["https://a"]"#, inv(NOT_AN_OBJECT)),
            (br#""https://a""#, inv(NOT_AN_OBJECT)),
        ] {
            assert_eq!(
                parse("SetEndpoint", payload),
                Err(want),
                "{:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn unsupported_and_never_panics() {
        for name in ["", "Exception", "SetEndPoint", "UserInactivityReport"] {
            assert_eq!(parse(name, b"{}"), Err(DirectiveError::Unsupported));
        }
        never_panics(br#"{"endpoint":"https://[::1]:443/p"}"#, |p| {
            let _ = parse("SetEndpoint", p);
        });
        never_panics(br#"{"endpoint":"https://a:9"}"#, |p| {
            let _ = parse("SetEndpoint", p);
        });
        never_panics(br#"{}"#, |p| {
            let _ = parse("ResetUserInactivity", p);
        });
    }

    #[test]
    fn user_inactivity_report() {
        for (s, want) in [
            (0u64, json!({"inactiveTimeInSeconds":0})),
            (3600, json!({"inactiveTimeInSeconds":3600})),
            (u64::MAX, json!({"inactiveTimeInSeconds":u64::MAX})),
        ] {
            let got = check_every_length(|out| {
                let mut w = JsonWriter::new(out);
                write_user_inactivity_report(&mut w, s);
                w.finish()
            });
            assert_eq!(as_json(&got), want);
        }
    }

    #[test]
    fn software_info() {
        for (v, want) in [
            (1u32, "1"),
            (42, "42"),
            (i32::MAX as u32, "2147483647"),
            (u32::MAX, "4294967295"),
            (0, "0"),
        ] {
            let got = check_every_length(|out| {
                let mut w = JsonWriter::new(out);
                write_software_info(&mut w, v);
                w.finish()
            });
            assert_eq!(
                got,
                std::format!(r#"{{"firmwareVersion":"{want}"}}"#).as_bytes()
            );
        }
        assert!(is_valid_firmware_version(1));
        assert!(is_valid_firmware_version(i32::MAX as u32));
        assert!(!is_valid_firmware_version(0));
        assert!(!is_valid_firmware_version(i32::MAX as u32 + 1));
    }
}

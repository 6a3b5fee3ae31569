//! `TemplateRuntime`: display cards. The client does not render them; it checks the directive
//! is what it claims to be and passes the payload through to the host unchanged.

use super::{field_messages, read_raw_str, DirectiveError, Object};

/// The interface's namespace.
pub const NAMESPACE: &str = "TemplateRuntime";

/// Which `TemplateRuntime` directive a payload is (the payload itself goes to the host as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateDirective {
    /// A card: `{"token":..,"type":..,...}`.
    RenderTemplate,
    /// Now-playing information: `{"audioItemId":..,...}`.
    RenderPlayerInfo,
}

/// Checks the payload of the `TemplateRuntime` directive `name`: `RenderTemplate` needs the
/// strings `token` and `type`, `RenderPlayerInfo` the string `audioItemId` (escapes allowed;
/// nothing else is looked at). Other names are [`DirectiveError::Unsupported`].
pub fn parse(name: &str, payload: &[u8]) -> Result<TemplateDirective, DirectiveError> {
    match name {
        "RenderTemplate" => {
            let p = Object::payload(payload)?;
            let token = field_messages!("token", "a string");
            let kind = field_messages!("type", "a string");
            p.field("token", read_raw_str)
                .map_err(|e| token.invalid(e))?;
            p.field("type", read_raw_str).map_err(|e| kind.invalid(e))?;
            Ok(TemplateDirective::RenderTemplate)
        }
        "RenderPlayerInfo" => {
            let p = Object::payload(payload)?;
            let id = field_messages!("audioItemId", "a string");
            p.field("audioItemId", read_raw_str)
                .map_err(|e| id.invalid(e))?;
            Ok(TemplateDirective::RenderPlayerInfo)
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};

    const BODY_TEMPLATE: &[u8] = br#"{"token":"t-1","type":"BodyTemplate1","title":{"mainTitle":"Who is Usain Bolt?","subTitle":"Wikipedia"},"skillIcon":null,"textField":"Usain St Leo Bolt is a Jamaican sprinter."}"#;
    const PLAYER_INFO: &[u8] = br#"{"audioItemId":"amzn1.as-ct.v1.\"x\"","content":{"title":"Song","titleSubtext1":"Artist","mediaLengthInMilliseconds":230000,"art":{"sources":[{"url":"https://x/y.jpg"}]},"provider":{"name":"P"}},"controls":[{"type":"BUTTON","name":"PLAY_PAUSE","enabled":true,"selected":false}]}"#;

    #[test]
    fn directives() {
        assert_eq!(
            parse("RenderTemplate", BODY_TEMPLATE),
            Ok(TemplateDirective::RenderTemplate)
        );
        assert_eq!(
            parse("RenderTemplate", br#"{"type":"","token":""}"#),
            Ok(TemplateDirective::RenderTemplate)
        );
        assert_eq!(
            parse("RenderPlayerInfo", PLAYER_INFO),
            Ok(TemplateDirective::RenderPlayerInfo)
        );
        assert_eq!(
            parse("RenderPlayerInfo", br#"{"audioItemId":"a"}"#),
            Ok(TemplateDirective::RenderPlayerInfo)
        );
    }

    #[test]
    fn invalid() {
        let inv = DirectiveError::Invalid;
        for (name, payload, want) in [
            (
                "RenderTemplate",
                &br#"{"type":"BodyTemplate1"}"#[..],
                inv("payload.token is missing"),
            ),
            (
                "RenderTemplate",
                br#"{"token":"t"}"#,
                inv("payload.type is missing"),
            ),
            (
                "RenderTemplate",
                br#"{"token":5,"type":"B"}"#,
                inv("payload.token is not a string"),
            ),
            (
                "RenderTemplate",
                br#"{"token":"t","type":{}}"#,
                inv("payload.type is not a string"),
            ),
            (
                "RenderTemplate",
                br#"{"token":"t","type":true}"#,
                inv("payload.type is not a string"),
            ),
            (
                "RenderTemplate",
                br#"{"token":null,"type":"B"}"#,
                inv("payload.token is missing"),
            ),
            (
                "RenderPlayerInfo",
                br#"{}"#,
                inv("payload.audioItemId is missing"),
            ),
            (
                "RenderPlayerInfo",
                br#"{"audioItemId":5.5}"#,
                inv("payload.audioItemId is not a string"),
            ),
            (
                "RenderPlayerInfo",
                br#"{"audioItemId":["a"]}"#,
                inv("payload.audioItemId is not a string"),
            ),
            ("RenderPlayerInfo", br#"[]"#, inv(NOT_AN_OBJECT)),
            (
                "RenderTemplate",
                br#"{"token":"t","type":"B""#,
                inv(NOT_AN_OBJECT),
            ),
        ] {
            assert_eq!(
                parse(name, payload),
                Err(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
        for name in ["", "RenderTemplates", "ClearTemplateCard", "renderTemplate"] {
            assert_eq!(parse(name, BODY_TEMPLATE), Err(DirectiveError::Unsupported));
        }
        never_panics(BODY_TEMPLATE, |p| {
            let _ = parse("RenderTemplate", p);
        });
        never_panics(PLAYER_INFO, |p| {
            let _ = parse("RenderPlayerInfo", p);
        });
    }
}

//! `PlaybackController` (v1.0): the device's own play, pause, next and previous buttons.
//!
//! Follows the published PlaybackController 1.0 interface: no directives; the events
//! `PlayCommandIssued`, `PauseCommandIssued`, `NextCommandIssued` and `PreviousCommandIssued`
//! ([`Command`]) carry the context (so AVS knows what is playing) and an empty payload,
//! `{}` ([`write_command_issued`]). Version 1.1's `ButtonCommandIssued` and
//! `ToggleCommandIssued` are not written.

use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "PlaybackController";
/// The interface version whose events this module writes.
pub const VERSION: &str = "1.0";

/// A button the user pressed, and the event reporting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Start or resume playback: `PlayCommandIssued`.
    Play,
    /// Pause playback: `PauseCommandIssued`.
    Pause,
    /// Skip to the next item: `NextCommandIssued`.
    Next,
    /// Go back to the previous item: `PreviousCommandIssued`.
    Previous,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 4] = [
        Command::Play,
        Command::Pause,
        Command::Next,
        Command::Previous,
    ];

    /// The event's name.
    pub fn event_name(self) -> &'static str {
        match self {
            Command::Play => PLAY_COMMAND_ISSUED,
            Command::Pause => PAUSE_COMMAND_ISSUED,
            Command::Next => NEXT_COMMAND_ISSUED,
            Command::Previous => PREVIOUS_COMMAND_ISSUED,
        }
    }
}

/// The event sent when the user starts or resumes playback with a button.
pub const PLAY_COMMAND_ISSUED: &str = "PlayCommandIssued";
/// The event sent when the user pauses playback with a button.
pub const PAUSE_COMMAND_ISSUED: &str = "PauseCommandIssued";
/// The event sent when the user skips to the next item with a button.
pub const NEXT_COMMAND_ISSUED: &str = "NextCommandIssued";
/// The event sent when the user goes back to the previous item with a button.
pub const PREVIOUS_COMMAND_ISSUED: &str = "PreviousCommandIssued";

/// Writes the payload of every [`Command`]'s event: `{}`. The event must carry the context.
pub fn write_command_issued(w: &mut JsonWriter<'_>) {
    w.begin_object();
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonw::{as_json, check_every_length, minify};
    use crate::message::{write_event, EventHeader};
    use serde_json::json;

    #[test]
    fn names() {
        let names: std::vec::Vec<_> = Command::ALL.iter().map(|c| c.event_name()).collect();
        assert_eq!(
            names,
            [
                "PlayCommandIssued",
                "PauseCommandIssued",
                "NextCommandIssued",
                "PreviousCommandIssued"
            ]
        );
    }

    #[test]
    fn empty_payload() {
        let got = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_command_issued(&mut w);
            w.finish()
        });
        assert_eq!(got, b"{}");
    }

    /// The spec's sample message: the context, then the event with an empty payload.
    #[test]
    fn whole_event_as_the_spec_sample() {
        for c in Command::ALL {
            let mut context = [0u8; 256];
            let mut w = JsonWriter::new(&mut context);
            crate::jsonw::context_entry(
                &mut w,
                crate::interfaces::speaker::NAMESPACE,
                crate::interfaces::speaker::VOLUME_STATE,
                |w| crate::interfaces::speaker::write_volume_state(w, 30, false),
            );
            let n = w.finish().unwrap();
            let mut payload = [0u8; 2];
            let mut w = JsonWriter::new(&mut payload);
            write_command_issued(&mut w);
            let p = w.finish().unwrap();
            let header = EventHeader {
                namespace: NAMESPACE,
                name: c.event_name(),
                message_id: "m-1",
                dialog_request_id: None,
            };
            let mut out = [0u8; 512];
            let len = write_event(&mut out, &header, Some(&context[..n]), &payload[..p]).unwrap();
            let want = std::format!(
                r#"{{
                    "context": [
                        {{"header": {{"namespace": "Speaker", "name": "VolumeState"}},
                          "payload": {{"volume": 30, "muted": false}}}}
                    ],
                    "event": {{
                        "header": {{
                            "namespace": "PlaybackController",
                            "name": "{}",
                            "messageId": "m-1"
                        }},
                        "payload": {{ }}
                    }}
                }}"#,
                c.event_name()
            );
            assert_eq!(core::str::from_utf8(&out[..len]).unwrap(), minify(&want));
            assert_eq!(as_json(&out[..len])["event"]["payload"], json!({}));
        }
    }
}

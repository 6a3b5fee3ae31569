//! The interfaces layer: one module per AVS interface. Each turns its directives into host
//! callbacks and the host's calls into events, keeps its own state (its context entry is
//! rendered from that state when an event is sent) and its own deadline. The engine (`client`)
//! sees only [`Interfaces`]: it hands over every JSON and binary part of a response, asks for
//! the context when an event goes out, for the next deadline, and for the events an interface
//! holds until a queue slot is free. This module is the one router: namespaces are matched here
//! and nowhere else. No interface sees a connection, a stream, nghttp2 or TLS.

pub mod dialog;
pub mod speech_recognizer;
pub mod speech_synthesizer;

use crate::host::{log, DirectiveView, Host};
use crate::protocol::message::{self, ExceptionKind};
use crate::status::{AvsStatus, DialogState, LogLevel};
use dialog::Dialog;
use speech_recognizer::SpeechRecognizer;
use speech_synthesizer::SpeechSynthesizer;

/// Why an interface could not use a directive addressed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectiveError {
    /// The name is not part of the interface: `UNSUPPORTED_OPERATION`.
    Unsupported,
    /// The payload is missing, mistyped or out of range: `UNEXPECTED_INFORMATION_RECEIVED`.
    Invalid(&'static str),
}

/// Where an interface's events go: the engine's queue.
pub trait EventSink {
    /// Queues `namespace.name` with `payload` (a JSON object), with the device context when
    /// `with_context` (rendered when the event is sent). `QueueFull` when no slot may be taken.
    fn send(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool) -> Result<(), AvsStatus>;
    /// Queues `System.ExceptionEncountered` about `unparsed` (the log says so when it cannot).
    fn exception(&mut self, host: &mut dyn Host, unparsed: &[u8], kind: ExceptionKind, why: &str);
}

/// What an interface may use while it handles a directive, a host call or its timer.
pub struct Cx<'a> {
    /// The client's monotonic clock, in ms.
    pub now: u64,
    pub log_level: LogLevel,
    pub host: &'a mut dyn Host,
    pub events: &'a mut dyn EventSink,
}

/// Writes the items of the context array, `{"header":{...},"payload":{...}}` each, comma
/// separated, into a fixed buffer. `None` once it is full.
pub struct ContextWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> ContextWriter<'a> {
    pub fn new(out: &'a mut [u8]) -> Self {
        ContextWriter { out, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One entry; `payload` writes the payload object.
    pub fn entry(&mut self, namespace: &str, name: &str, payload: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        if self.len > 0 {
            self.raw(b",")?;
        }
        self.raw(b"{\"header\":{\"namespace\":")?;
        self.string(namespace.as_bytes())?;
        self.raw(b",\"name\":")?;
        self.string(name.as_bytes())?;
        self.raw(b"},\"payload\":")?;
        payload(self)?;
        self.raw(b"}")
    }

    pub fn raw(&mut self, bytes: &[u8]) -> Option<()> {
        self.out.get_mut(self.len..self.len + bytes.len())?.copy_from_slice(bytes);
        self.len += bytes.len();
        Some(())
    }

    pub fn string(&mut self, s: &[u8]) -> Option<()> {
        self.len += message::write_json_string(self.out.get_mut(self.len..)?, s).ok()?;
        Some(())
    }

    pub fn uint(&mut self, v: u64) -> Option<()> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.raw(&digits[i..])
    }
}

/// The interfaces of one client.
pub struct Interfaces {
    pub dialog: Dialog,
    pub recognizer: SpeechRecognizer,
    pub synthesizer: SpeechSynthesizer,
    /// The current turn must end (why): set while a response is handled, done by the engine,
    /// which can reset the turn's stream, as soon as the callback returns.
    pub turn_abort: Option<AvsStatus>,
}

/// Context bytes the interfaces may need at most.
pub fn context_bytes() -> usize {
    speech_recognizer::CONTEXT_BYTES + speech_synthesizer::CONTEXT_BYTES
}

impl Interfaces {
    pub fn new(recognizer: SpeechRecognizer, synthesizer: SpeechSynthesizer) -> Self {
        Interfaces { dialog: Dialog::default(), recognizer, synthesizer, turn_abort: None }
    }

    /// A JSON part of a response: a directive, routed to the interface of its namespace, or to
    /// the host when no interface of the library claims it. What cannot be used is answered
    /// with `System.ExceptionEncountered`.
    pub fn on_json_part(&mut self, json: &[u8], cx: &mut Cx) {
        let d = match message::parse_directive(json) {
            Ok(d) => d,
            Err(e) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "<- malformed directive ({e:?}); sending ExceptionEncountered");
                cx.events.exception(cx.host, json, ExceptionKind::UnexpectedInformationReceived, "malformed directive");
                return;
            }
        };
        let (namespace, name) = (d.header.namespace, d.header.name);
        if namespace.is_empty() || name.is_empty() {
            // Well-formed, but it names no interface or directive: nothing can handle it.
            log!(cx.host, cx.log_level, LogLevel::Warn, "<- directive without a namespace or name; sending ExceptionEncountered");
            cx.events.exception(cx.host, json, ExceptionKind::UnexpectedInformationReceived, "directive without a namespace or name");
            return;
        }
        if !self.dialog.accepts(&d) {
            log!(cx.host, cx.log_level, LogLevel::Info, "<- directive {namespace}.{name} for an older dialog dropped");
            return;
        }
        log!(cx.host, cx.log_level, LogLevel::Info, "<- directive {namespace}.{name} ({})", d.header.message_id);
        if !(namespace == "SpeechSynthesizer" && name == "Speak") {
            // Early audio is held only for a Speak that names it.
            self.synthesizer.flush_unclaimed(cx.host);
        }
        let routed = match namespace {
            "SpeechRecognizer" => {
                let speaking = self.synthesizer.is_playing();
                self.recognizer.on_directive(name, d.payload, &mut self.dialog, speaking, cx)
            }
            "SpeechSynthesizer" => self.synthesizer.on_directive(name, d.payload, &mut self.dialog, cx),
            _ => {
                let view = DirectiveView {
                    namespace,
                    name,
                    message_id: d.header.message_id,
                    dialog_request_id: d.header.dialog_request_id,
                    payload: d.payload,
                    json,
                };
                cx.host.directive(&view);
                Ok(())
            }
        };
        match routed {
            Ok(()) => {}
            Err(DirectiveError::Unsupported) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "<- unsupported directive {namespace}.{name}; sending ExceptionEncountered");
                cx.events.exception(cx.host, json, ExceptionKind::UnsupportedOperation, "directive not supported by this device");
            }
            Err(DirectiveError::Invalid(why)) => {
                log!(cx.host, cx.log_level, LogLevel::Warn, "<- invalid {namespace}.{name}: {why}; sending ExceptionEncountered");
                cx.events.exception(cx.host, json, ExceptionKind::UnexpectedInformationReceived, why);
                let of_this_turn = self.recognizer.turn.is_some() && d.header.dialog_request_id == Some(self.dialog.dialog_id.as_str());
                if why == speech_synthesizer::SPEAK_AUDIO_SPILLED && of_this_turn {
                    // The turn's answer cannot be played: the turn ends with that reason (its
                    // stream reset by the engine once this callback returns).
                    self.turn_abort = Some(AvsStatus::AttachmentTooLarge);
                }
            }
        }
    }

    /// A piece of a binary part of a response.
    pub fn on_binary_part(&mut self, content_id: &[u8], data: &[u8], last: bool, host: &mut dyn Host) {
        self.synthesizer.on_binary(host, content_id, data, last);
    }

    /// A response ended: what it held for a directive that never came goes to the host.
    pub fn on_response_end(&mut self, host: &mut dyn Host) {
        self.synthesizer.flush_unclaimed(host);
    }

    /// The turn ended (answered, failed or cancelled): the dialog state says how.
    pub fn finish_turn(&mut self, host: &mut dyn Host, reason: AvsStatus) {
        self.recognizer.clear_turn();
        if reason != AvsStatus::Ok {
            // A failed turn leaves nothing half-delivered behind.
            self.synthesizer.abandon_speaks(host);
            self.synthesizer.drop_unclaimed();
        }
        let next = if reason == AvsStatus::Ok && self.synthesizer.is_playing() { DialogState::Speaking } else { DialogState::Idle };
        self.dialog.set_state(host, next, reason);
    }

    /// No connection is left that could carry a Speak's audio.
    pub fn on_disconnected(&mut self, host: &mut dyn Host) {
        self.synthesizer.abandon_speaks(host);
    }

    /// The host started playing a Speak. A token that was not delivered, is finished, or was
    /// already reported started is `WrongState` and sends nothing.
    pub fn speech_started(&mut self, token: &str, cx: &mut Cx) -> Result<(), AvsStatus> {
        if token.len() > speech_synthesizer::ID_MAX {
            return Err(AvsStatus::InvalidArgument);
        }
        if !self.synthesizer.playback_reportable(token, true) {
            return Err(AvsStatus::WrongState);
        }
        self.synthesizer.on_playback_started(token, cx)
    }

    /// The host finished playing a Speak; when nothing else plays, a waiting ExpectSpeech's
    /// timeout starts, and without a turn the dialog is idle.
    pub fn speech_finished(&mut self, token: &str, cx: &mut Cx) -> Result<(), AvsStatus> {
        if token.len() > speech_synthesizer::ID_MAX {
            return Err(AvsStatus::InvalidArgument);
        }
        if !self.synthesizer.playback_reportable(token, false) {
            return Err(AvsStatus::WrongState);
        }
        let sent = self.synthesizer.on_playback_finished(token, cx);
        if !self.synthesizer.is_playing() {
            self.recognizer.speech_done(cx.now);
            if self.recognizer.turn.is_none() {
                self.dialog.set_state(cx.host, DialogState::Idle, AvsStatus::Ok);
            }
        }
        sent
    }

    /// The context array's items, one per enabled interface, from their state now.
    pub fn write_context(&self, now: u64, out: &mut [u8]) -> Option<usize> {
        let mut w = ContextWriter::new(out);
        self.recognizer.write_context(&mut w)?;
        self.synthesizer.write_context(now, &mut w)?;
        Some(w.len())
    }

    /// The earliest deadline of any interface.
    pub fn poll_at(&self, now: u64) -> Option<u64> {
        self.recognizer.poll_at(now)
    }

    /// Runs the interfaces' timers that are due.
    pub fn on_timer(&mut self, cx: &mut Cx) {
        let answered = self.dialog.turn_answered;
        if let Some(reason) = self.recognizer.on_timer(answered, cx) {
            self.turn_abort.get_or_insert(reason);
        }
    }
}

//! The interfaces layer: one module per AVS interface. Each turns its directives into host
//! callbacks and the host's calls into events, keeps its own state (its context entry is
//! rendered from that state when an event is sent) and its own deadline. The engine (`client`)
//! sees only [`Interfaces`]: it hands over every JSON and binary part of a response, asks for
//! the context when an event goes out, for the next deadline, and for the events an interface
//! holds until a queue slot is free. This module is the one router: namespaces are matched here
//! and nowhere else. No interface sees a connection, a stream, nghttp2 or TLS; none calls
//! another (what two share, the dialog and the volume, is passed to both from here).

pub mod dialog;
pub mod speaker;
pub mod speech_recognizer;
pub mod speech_synthesizer;
pub mod system;
pub mod volume;

use crate::host::{log, DirectiveView, Host};
use crate::protocol::interfaces::DirectiveError;
use crate::protocol::jsonw::JsonWriter;
use crate::protocol::message::{self, ExceptionKind};
use crate::status::{AvsStatus, DialogState, LogLevel};
use dialog::Dialog;
use speaker::Speaker;
use speech_recognizer::SpeechRecognizer;
use speech_synthesizer::SpeechSynthesizer;
use system::System;
use volume::{SpeakerControl, Volume, VolumeState};

/// Why an interface did not carry out a directive addressed to it; each becomes a
/// `System.ExceptionEncountered`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The name is not part of the interface: `UNSUPPORTED_OPERATION`.
    Unsupported,
    /// The payload is missing, mistyped or out of range: `UNEXPECTED_INFORMATION_RECEIVED`.
    Invalid(&'static str),
    /// The directive was valid but the device could not carry it out: `INTERNAL_ERROR`.
    Failed(&'static str),
}

impl From<DirectiveError> for Rejection {
    fn from(e: DirectiveError) -> Self {
        match e {
            DirectiveError::Unsupported => Rejection::Unsupported,
            DirectiveError::Invalid(why) => Rejection::Invalid(why),
        }
    }
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

/// The interfaces of one client.
pub struct Interfaces {
    pub dialog: Dialog,
    pub volume: Volume,
    pub recognizer: SpeechRecognizer,
    pub synthesizer: SpeechSynthesizer,
    pub system: System,
    pub speaker: Speaker,
    /// The current turn must end (why): set while a response is handled, done by the engine,
    /// which can reset the turn's stream, as soon as the callback returns.
    pub turn_abort: Option<AvsStatus>,
}

/// Context bytes the interfaces may need at most, all enabled: the creation plan's line.
pub fn context_bytes() -> usize {
    speech_recognizer::CONTEXT_BYTES + speech_synthesizer::CONTEXT_BYTES + speaker::CONTEXT_BYTES
}

/// The state each interface keeps inside the client, in bytes (the footprint table's lines).
pub fn footprint() -> [(&'static str, usize); 5] {
    [
        ("SpeechRecognizer", core::mem::size_of::<SpeechRecognizer>()),
        ("SpeechSynthesizer", core::mem::size_of::<SpeechSynthesizer>()),
        ("Speaker (+ shared volume)", core::mem::size_of::<Speaker>() + core::mem::size_of::<Volume>()),
        ("System", core::mem::size_of::<System>()),
        ("dialog (shared)", core::mem::size_of::<Dialog>()),
    ]
}

impl Interfaces {
    pub fn new(recognizer: SpeechRecognizer, synthesizer: SpeechSynthesizer) -> Self {
        Interfaces {
            dialog: Dialog::default(),
            volume: Volume::default(),
            recognizer,
            synthesizer,
            system: System::new(0),
            speaker: Speaker::default(),
            turn_abort: None,
        }
    }

    /// Enables `Speaker`: the host's speaker applies volume changes; `initial` is its state now.
    pub fn enable_speaker(&mut self, control: Box<dyn SpeakerControl>, initial: VolumeState) {
        self.volume.set_control(control, initial);
        self.speaker.enable();
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
                self.recognizer.on_directive(name, d.payload, &mut self.dialog, speaking, cx).map_err(Rejection::from)
            }
            "SpeechSynthesizer" => self.synthesizer.on_directive(name, d.payload, &mut self.dialog, cx).map_err(Rejection::from),
            "System" => self.system.on_directive(name, d.payload, cx),
            "Speaker" if self.speaker.is_enabled() => self.speaker.on_directive(name, d.payload, &mut self.volume, cx),
            _ => {
                let view = DirectiveView {
                    namespace,
                    name,
                    message_id: d.header.message_id,
                    dialog_request_id: d.header.dialog_request_id,
                    payload: d.payload,
                    json,
                };
                match cx.host.directive(&view) {
                    AvsStatus::Ok => Ok(()),
                    AvsStatus::Unsupported => Err(Rejection::Unsupported),
                    AvsStatus::Malformed | AvsStatus::InvalidArgument => Err(Rejection::Invalid("the device found the directive's payload invalid")),
                    _ => Err(Rejection::Failed("the device failed to handle the directive")),
                }
            }
        };
        let (kind, why) = match routed {
            Ok(()) => return,
            Err(Rejection::Unsupported) => (ExceptionKind::UnsupportedOperation, "directive not supported by this device"),
            Err(Rejection::Invalid(why)) => (ExceptionKind::UnexpectedInformationReceived, why),
            Err(Rejection::Failed(why)) => (ExceptionKind::InternalError, why),
        };
        log!(cx.host, cx.log_level, LogLevel::Warn, "<- {namespace}.{name} not carried out: {why}; sending ExceptionEncountered");
        cx.events.exception(cx.host, json, kind, why);
        let of_this_turn = self.recognizer.turn.is_some() && d.header.dialog_request_id == Some(self.dialog.dialog_id.as_str());
        if why == speech_synthesizer::SPEAK_AUDIO_SPILLED && of_this_turn {
            // The turn's answer cannot be played: the turn ends with that reason (its stream
            // reset by the engine once this callback returns).
            self.turn_abort = Some(AvsStatus::AttachmentTooLarge);
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

    /// A voice turn started: that is user activity too.
    pub fn turn_started(&mut self, now: u64) {
        self.system.user_activity(now);
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

    /// The host changed the volume (a button, a knob): `WrongState` without a speaker.
    pub fn host_set_volume(&mut self, volume: u8, cx: &mut Cx) -> Result<(), AvsStatus> {
        if !self.speaker.is_enabled() {
            return Err(AvsStatus::WrongState);
        }
        if volume > 100 {
            return Err(AvsStatus::InvalidArgument);
        }
        self.volume.state.volume = volume;
        self.speaker.volume_set_by_host(self.volume.state, cx);
        Ok(())
    }

    /// The host muted or unmuted: `WrongState` without a speaker.
    pub fn host_set_mute(&mut self, muted: bool, cx: &mut Cx) -> Result<(), AvsStatus> {
        if !self.speaker.is_enabled() {
            return Err(AvsStatus::WrongState);
        }
        self.volume.state.muted = muted;
        self.speaker.mute_set_by_host(self.volume.state, cx);
        Ok(())
    }

    /// The context array's items, one per enabled interface, from their state now.
    pub fn write_context(&self, now: u64, out: &mut [u8]) -> Option<usize> {
        let mut w = JsonWriter::new(out);
        w.begin_array();
        self.recognizer.write_context(&mut w);
        self.synthesizer.write_context(now, &mut w);
        self.speaker.write_context(&self.volume, &mut w);
        w.end_array();
        let n = w.finish().ok()?;
        // The engine wants the items: drop the brackets.
        out.copy_within(1..n - 1, 0);
        Some(n - 2)
    }

    /// The earliest deadline of any interface.
    pub fn poll_at(&self, now: u64) -> Option<u64> {
        [self.recognizer.poll_at(now), self.system.poll_at()].into_iter().flatten().min()
    }

    /// Runs the interfaces' timers that are due, and hands the events they hold to the queue
    /// while it has room. Returns a firmware version AVS was just told (for the host's storage).
    pub fn on_timer(&mut self, cx: &mut Cx) -> Option<u32> {
        let answered = self.dialog.turn_answered;
        if let Some(reason) = self.recognizer.on_timer(answered, cx) {
            self.turn_abort.get_or_insert(reason);
        }
        self.system.on_timer(cx);
        self.speaker.flush(cx);
        self.system.flush(cx)
    }
}

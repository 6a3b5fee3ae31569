//! The interfaces layer: one module per AVS interface. Each turns its directives into host
//! callbacks and the host's calls into events, keeps its own state (its context entry is
//! rendered from that state when an event is sent) and its own deadline. The engine (`client`)
//! sees only [`Interfaces`]: it hands over every JSON and binary part of a response, asks for
//! the context when an event goes out, for the next deadline, and for the events an interface
//! holds until a queue slot is free. This module is the one router: namespaces are matched here
//! and nowhere else. No interface sees a connection, a stream, nghttp2 or TLS; none calls
//! another (what two share, the dialog and the volume, is passed to both from here).

pub mod alexa_speaker;
pub mod dialog;
pub mod discovery;
pub mod notifications;
pub mod settings;
pub mod speaker;
pub mod speech_recognizer;
pub mod speech_synthesizer;
pub mod storage;
pub mod system;
pub mod template_runtime;
pub mod volume;

use crate::host::{log, DirectiveView, Host};
use crate::protocol::interfaces::DirectiveError;
use crate::protocol::jsonw::JsonWriter;
use crate::protocol::message::{self, ExceptionKind};
use crate::status::{AvsStatus, DialogState, LogLevel};
use alexa_speaker::{AlexaSpeaker, Cause};
use dialog::Dialog;
use discovery::{DeviceInfo, Discovery};
use notifications::{IndicatorControl, Notifications};
use settings::Settings;
use speaker::Speaker;
use storage::Storage;
use template_runtime::{Card, CardDisplay, TemplateRuntime};
use crate::protocol::interfaces::discovery::{Capability, Properties};
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
    /// Queues an interface's event `namespace.name` with `payload` (a JSON object), with the
    /// device context when `with_context` (rendered when the event is sent). `QueueFull` when no
    /// slot may be taken (the interface keeps the event and offers it again). `tag` (not 0) has
    /// the engine report its fate through [`Interfaces::event_settled`].
    fn send_tagged(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool, tag: u32) -> Result<(), AvsStatus>;
    /// [`send_tagged`](Self::send_tagged) without a tag.
    fn send(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool) -> Result<(), AvsStatus> {
        self.send_tagged(namespace, name, payload, with_context, 0)
    }
    /// Queues one of the dialog's reports (SpeechStarted, SpeechFinished, ExpectSpeechTimedOut):
    /// these have the library's slots first, so that the other interfaces' events never hold
    /// up the voice dialog.
    fn send_dialog(&mut self, namespace: &str, name: &str, payload: &[u8], with_context: bool) -> Result<(), AvsStatus>;
    /// Queues an event whose JSON, envelope and all (v3 events), `build` writes given a fresh
    /// messageId; `tag` (not 0) has the engine report its acceptance through
    /// [`Interfaces::event_settled`].
    fn send_raw(&mut self, label: &str, tag: u32, build: &mut dyn FnMut(&mut [u8], &str) -> Result<usize, AvsStatus>) -> Result<(), AvsStatus>;
    /// Queues `System.ExceptionEncountered` about `unparsed` (the log says so when it cannot).
    fn exception(&mut self, host: &mut dyn Host, unparsed: &[u8], kind: ExceptionKind, why: &str);
}

/// Puts `"context":[<items>],` in place of `body[at..at + old]`; the new length.
pub fn splice_context(body: &mut [u8], len: usize, at: usize, old: usize, items: &[u8]) -> Result<usize, AvsStatus> {
    const OPEN: &[u8] = b"\"context\":[";
    const CLOSE: &[u8] = b"],";
    let insert = OPEN.len() + items.len() + CLOSE.len();
    crate::memory::replace_range(body, len, at, old, insert, |out| {
        out[..OPEN.len()].copy_from_slice(OPEN);
        out[OPEN.len()..OPEN.len() + items.len()].copy_from_slice(items);
        out[OPEN.len() + items.len()..].copy_from_slice(CLOSE);
    })
    .ok_or(AvsStatus::TooLarge)
}

/// The access token as the interfaces write it into v3 events (`scope`): the engine puts the
/// token in its place each time the event is sent, so a queued event never holds a token that
/// may be replaced before it goes (and the queue holds no copy of it meanwhile).
pub const BEARER_PLACEHOLDER: &str = "\0avs-bearer\0";

/// Whether an event an interface offered to the queue is done with: taken, or refused for good
/// (logged). `false` when the queue is full: the interface keeps it and offers it again.
pub(crate) fn handed_over(sent: Result<(), AvsStatus>, what: &str, cx: &mut Cx) -> bool {
    match sent {
        Ok(()) => true,
        Err(AvsStatus::QueueFull) => false,
        Err(e) => {
            log!(cx.host, cx.log_level, LogLevel::Error, "{what} not sent: {}", e.text());
            true
        }
    }
}

/// What an interface may use while it handles a directive, a host call or its timer.
pub struct Cx<'a> {
    /// The client's monotonic clock, in ms.
    pub now: u64,
    pub log_level: LogLevel,
    pub host: &'a mut dyn Host,
    pub events: &'a mut dyn EventSink,
    /// Wall-clock time now (Unix ms), once the host has said (`avs_client_set_wall_clock`).
    pub wall_ms: Option<u64>,
}

/// The interfaces of one client.
pub struct Interfaces {
    pub dialog: Dialog,
    pub volume: Volume,
    pub recognizer: SpeechRecognizer,
    pub synthesizer: SpeechSynthesizer,
    pub system: System,
    pub speaker: Speaker,
    pub alexa_speaker: AlexaSpeaker,
    pub notifications: Notifications,
    pub template_runtime: TemplateRuntime,
    pub settings: Settings,
    pub discovery: Discovery,
    /// The host's storage, for what must survive a reboot.
    pub storage: Option<Box<dyn Storage>>,
    /// Unix ms minus the monotonic clock, once the host gave the wall clock.
    wall_offset: Option<i128>,
    /// The current turn must end (why): set while a response is handled, done by the engine,
    /// which can reset the turn's stream, as soon as the callback returns.
    pub turn_abort: Option<AvsStatus>,
}

/// Context bytes the interfaces may need at most, all enabled: the creation plan's line.
pub fn context_bytes() -> usize {
    speech_recognizer::CONTEXT_BYTES + speech_synthesizer::CONTEXT_BYTES + speaker::CONTEXT_BYTES + notifications::CONTEXT_BYTES
}

/// The state each interface keeps inside the client, in bytes (the footprint table's lines).
pub fn footprint() -> [(&'static str, usize); 10] {
    use core::mem::size_of;
    [
        ("SpeechRecognizer", size_of::<SpeechRecognizer>()),
        ("SpeechSynthesizer", size_of::<SpeechSynthesizer>()),
        ("dialog (shared by the two)", size_of::<Dialog>()),
        ("Speaker", size_of::<Speaker>()),
        ("volume (shared by Speaker and Alexa.Speaker)", size_of::<Volume>()),
        ("Alexa.Speaker", size_of::<AlexaSpeaker>()),
        ("System", size_of::<System>()),
        ("Settings", size_of::<Settings>()),
        ("Notifications", size_of::<Notifications>()),
        ("TemplateRuntime + capabilities (Alexa.Discovery)", size_of::<TemplateRuntime>() + size_of::<Discovery>()),
    ]
}

/// Capability versions this library implements.
const CAPABILITIES: [(&str, &str); 8] = [
    ("SpeechRecognizer", "2.0"),
    ("SpeechSynthesizer", "1.0"),
    ("System", "1.0"),
    ("Speaker", "1.0"),
    ("Settings", "1.0"),
    ("Notifications", "1.0"),
    ("TemplateRuntime", "1.0"),
    ("Alexa.Speaker", "3"),
];

impl Interfaces {
    pub fn new(recognizer: SpeechRecognizer, synthesizer: SpeechSynthesizer, alexa_speaker: AlexaSpeaker) -> Self {
        Interfaces {
            dialog: Dialog::default(),
            volume: Volume::default(),
            recognizer,
            synthesizer,
            system: System::new(0),
            speaker: Speaker::default(),
            alexa_speaker,
            notifications: Notifications::default(),
            template_runtime: TemplateRuntime::default(),
            settings: Settings::default(),
            discovery: Discovery::default(),
            storage: None,
            wall_offset: None,
            turn_abort: None,
        }
    }

    /// Enables `Speaker`: the host's speaker applies volume changes; `initial` is its state now.
    pub fn enable_speaker(&mut self, control: Box<dyn SpeakerControl>, initial: VolumeState) {
        self.volume.set_control(control, initial);
        self.speaker.enable();
    }

    /// Enables `Alexa.Speaker` for the device's endpoint (needs the speaker and the device info).
    pub fn enable_alexa_speaker(&mut self) -> Result<(), AvsStatus> {
        let info = self.discovery.info.as_ref().ok_or(AvsStatus::WrongState)?;
        if !self.volume.has_control() {
            return Err(AvsStatus::WrongState);
        }
        self.alexa_speaker.enable(&info.endpoint_id)
    }

    /// Enables `Notifications` with the host's indicator.
    pub fn enable_notifications(&mut self, control: Box<dyn IndicatorControl>) {
        self.notifications.enable(control);
    }

    /// Enables `TemplateRuntime` with the host's display.
    pub fn enable_template_runtime(&mut self, display: Box<dyn CardDisplay>) {
        self.template_runtime.enable(display);
    }

    /// What the host says about the device: capabilities are published once it is known.
    pub fn set_device_info(&mut self, info: DeviceInfo) {
        if self.alexa_speaker.is_enabled() {
            // The endpoint Alexa.Speaker answers for is the one the capabilities publish.
            let _ = self.alexa_speaker.enable(&info.endpoint_id);
        }
        self.discovery.info = Some(info);
    }

    /// The wall clock, `unix_ms` at monotonic `now`.
    pub fn set_wall_clock(&mut self, unix_ms: u64, now: u64) {
        self.wall_offset = Some(i128::from(unix_ms) - i128::from(now));
    }

    /// Wall-clock time at monotonic `now`, once known.
    pub fn wall_ms(&self, now: u64) -> Option<u64> {
        self.wall_offset.map(|o| (i128::from(now) + o).clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// The capabilities of the enabled interfaces.
    pub fn capabilities(&self) -> heapless::Vec<Capability<'static>, 10> {
        const SPEAKER_PROPERTIES: Properties<'static> = Properties { supported: &["volume", "muted"], retrievable: true, proactively_reported: true };
        let mut out = heapless::Vec::new();
        for (interface, version) in CAPABILITIES {
            let enabled = match interface {
                "Speaker" => self.speaker.is_enabled(),
                "Notifications" => self.notifications.is_enabled(),
                "TemplateRuntime" => self.template_runtime.is_enabled(),
                "Settings" => self.settings.locale().is_some(),
                "Alexa.Speaker" => self.alexa_speaker.is_enabled(),
                _ => true,
            };
            if enabled {
                let properties = (interface == "Alexa.Speaker").then_some(SPEAKER_PROPERTIES);
                let _ = out.push(Capability { interface, version, properties, configurations: None });
            }
        }
        if self.alexa_speaker.is_enabled() {
            // A v3 endpoint answers with the `Alexa` interface's events (Response, StateReport).
            let _ = out.push(Capability { interface: "Alexa", version: "3", properties: None, configurations: None });
        }
        out
    }

    /// The client starts connecting: what the host's storage kept comes back (the indicator
    /// is shown again), and the capabilities are checked against what AVS last accepted.
    pub fn on_connect(&mut self, scratch: &mut [u8], cx: &mut Cx) {
        let mut storage = self.storage.take();
        if let Some(s) = storage.as_deref_mut() {
            self.notifications.restore(s, cx);
            let mut kept = [0u8; 4];
            if s.load(storage::SOFTWARE_INFO_KEY, &mut kept) == Some(4) {
                self.system.set_reported_firmware(u32::from_le_bytes(kept));
            }
        }
        self.system.connecting();
        let capabilities = self.capabilities();
        self.discovery.check(&capabilities, self.system.firmware_version(), storage.as_deref_mut(), scratch, cx);
        self.storage = storage;
        self.flush(cx);
    }

    /// Something the capabilities report says changed while connected (the locale turned
    /// Settings on, a new firmware version): published again when AVS has not heard it.
    pub fn capabilities_changed(&mut self, scratch: &mut [u8], cx: &mut Cx) {
        let mut storage = self.storage.take();
        let capabilities = self.capabilities();
        self.discovery.check(&capabilities, self.system.firmware_version(), storage.as_deref_mut(), scratch, cx);
        self.storage = storage;
        self.flush(cx);
    }

    /// An event sent with a tag (`EventSink::send_raw`) was accepted (`ok`) or given up.
    pub fn event_settled(&mut self, tag: u32, ok: bool, cx: &mut Cx) {
        if tag == system::SOFTWARE_INFO_TAG {
            if let (Some(version), Some(s)) = (self.system.software_info_settled(ok), self.storage.as_deref_mut()) {
                if let Err(e) = s.store(storage::SOFTWARE_INFO_KEY, &version.to_le_bytes()) {
                    log!(cx.host, cx.log_level, LogLevel::Warn, "storing the firmware version AVS heard: {}", e.text());
                }
            }
        }
        if tag == discovery::REPORT_TAG {
            if ok {
                self.discovery.accepted(self.storage.as_deref_mut(), cx);
            } else {
                self.discovery.rejected();
            }
        }
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
            "Speaker" if self.speaker.is_enabled() => {
                let before = self.volume.state;
                let r = self.speaker.on_directive(name, d.payload, &mut self.volume, cx);
                self.alexa_speaker.changed(Cause::VoiceInteraction, before, self.volume.state, cx);
                r
            }
            "Alexa.Speaker" | "Alexa" if self.alexa_speaker.is_enabled() && (namespace != "Alexa" || name == "ReportState") => {
                let before = self.volume.state;
                let r = self.alexa_speaker.on_directive(name, d.payload, d.header.correlation_token, d.endpoint, &mut self.volume, cx);
                // The device's own Speaker interface reports the change too: AVS's view of the
                // device volume stays the one the speaker has.
                let after = self.volume.state;
                if after.volume != before.volume {
                    self.speaker.volume_set_by_host(after, cx);
                }
                if after.muted != before.muted {
                    self.speaker.mute_set_by_host(after, cx);
                }
                r
            }
            "Notifications" if self.notifications.is_enabled() => self.notifications.on_directive(name, d.payload, self.storage.as_deref_mut(), cx),
            "TemplateRuntime" if self.template_runtime.is_enabled() => {
                let card = Card { name, payload: d.payload, json, dialog_request_id: d.header.dialog_request_id.unwrap_or("") };
                self.template_runtime.on_directive(&card, cx)
            }
            _ => Err(Rejection::Unsupported),
        };
        // What no interface of the library claims (another namespace, one not turned on, a
        // name an interface does not have, another endpoint's v3 directive) is the host's to
        // handle, or to refuse.
        let routed = match routed {
            Err(Rejection::Unsupported) => {
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
            other => other,
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
        let before = self.volume.state;
        self.volume.state.volume = volume;
        self.speaker.volume_set_by_host(self.volume.state, cx);
        self.alexa_speaker.changed(Cause::PhysicalInteraction, before, self.volume.state, cx);
        Ok(())
    }

    /// The host muted or unmuted: `WrongState` without a speaker.
    pub fn host_set_mute(&mut self, muted: bool, cx: &mut Cx) -> Result<(), AvsStatus> {
        if !self.speaker.is_enabled() {
            return Err(AvsStatus::WrongState);
        }
        let before = self.volume.state;
        self.volume.state.muted = muted;
        self.speaker.mute_set_by_host(self.volume.state, cx);
        self.alexa_speaker.changed(Cause::PhysicalInteraction, before, self.volume.state, cx);
        Ok(())
    }

    /// The context array's items, one per enabled interface, from their state now.
    pub fn write_context(&self, now: u64, out: &mut [u8]) -> Option<usize> {
        // The items only, comma separated (the writer's top-level values): the engine puts them
        // in their array.
        let mut w = JsonWriter::new(out);
        self.recognizer.write_context(&mut w);
        self.synthesizer.write_context(now, &mut w);
        self.speaker.write_context(&self.volume, &mut w);
        self.notifications.write_context(&mut w);
        w.finish().ok()
    }

    /// The earliest deadline of any interface.
    pub fn poll_at(&self, now: u64) -> Option<u64> {
        [self.recognizer.poll_at(now), self.system.poll_at()].into_iter().flatten().min()
    }

    /// Runs the interfaces' timers that are due, and hands the events they hold to the queue
    /// while it has room.
    pub fn on_timer(&mut self, cx: &mut Cx) {
        let answered = self.dialog.turn_answered;
        if let Some(reason) = self.recognizer.on_timer(answered, cx) {
            self.turn_abort.get_or_insert(reason);
        }
        self.system.on_timer(cx);
        self.flush(cx);
    }

    /// Hands the events the interfaces hold to the queue while it has room.
    pub fn flush(&mut self, cx: &mut Cx) {
        self.speaker.flush(cx);
        self.alexa_speaker.flush(cx);
        self.settings.flush(cx);
        self.system.flush(cx);
        let capabilities = self.capabilities();
        self.discovery.flush(&capabilities, cx);
    }
}

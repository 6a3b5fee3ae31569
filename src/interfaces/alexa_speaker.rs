//! `Alexa.Speaker` (v3, endpoint control), as `004_alexa-speaker-interface` specifies:
//! `SetVolume`, `AdjustVolume` (−100..100, `volumeDefault`), `SetMute` answered with
//! `Alexa.Response` (the directive's correlationToken, the endpoint, the properties in the
//! context) or `Alexa.ErrorResponse`; `Alexa.ReportState` answered with `Alexa.StateReport`;
//! a proactive `Alexa.ChangeReport` when the volume changes another way. The volume itself is
//! the device's one ([`Volume`]), applied by the host's speaker.

use super::volume::{Volume, VolumeState};
use super::Cx;
use crate::host::log;
use crate::memory::Buf;
use crate::protocol::interfaces::alexa_speaker::{self as wire, AlexaSpeakerDirective, ErrorType};
use crate::protocol::time::{write_iso8601_utc, ISO8601_LEN};
use crate::status::{AvsStatus, LogLevel};

/// Longest correlationToken kept for an answer that waits for a queue slot.
pub const CORRELATION_MAX: usize = 1024;
/// Answers waiting for a queue slot (each holds its correlationToken, in the buffer carved for
/// them at creation: `ANSWER_BACKLOG * CORRELATION_MAX` bytes, the plan's `v3_answers` line).
pub const ANSWER_BACKLOG: usize = 4;
/// Change reports waiting; beyond this the newest one carries the latest state (a ChangeReport
/// reports the state after the change, so the latest one says everything).
pub(crate) const REPORT_BACKLOG: usize = 8;
/// Longest endpoint id.
pub(crate) const ENDPOINT_ID_MAX: usize = 256;

/// Why the volume changed, for a ChangeReport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A voice request that reached the device another way (the `Speaker` interface).
    VoiceInteraction,
    /// The host's own change: a button, a knob.
    PhysicalInteraction,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::VoiceInteraction => "VOICE_INTERACTION",
            Cause::PhysicalInteraction => "PHYSICAL_INTERACTION",
        }
    }
}

#[derive(Clone, Copy)]
enum AnswerKind {
    Response,
    StateReport,
    Error(ErrorType, &'static str, Option<(i64, i64)>),
}

struct Answer {
    kind: AnswerKind,
    /// Where its correlationToken is in `tokens`: slot and length.
    slot: usize,
    len: usize,
    state: VolumeState,
    wall_ms: u64,
}

struct Report {
    cause: Cause,
    /// Which properties changed: volume, muted.
    volume_changed: bool,
    muted_changed: bool,
    state: VolumeState,
    wall_ms: u64,
}

/// The interface's state.
pub struct AlexaSpeaker {
    enabled: bool,
    endpoint_id: heapless::String<ENDPOINT_ID_MAX>,
    answers: heapless::Deque<Answer, ANSWER_BACKLOG>,
    tokens: Buf,
    reports: heapless::Deque<Report, REPORT_BACKLOG>,
    warned_no_clock: bool,
}

impl AlexaSpeaker {
    /// Bytes of the correlationToken buffer (the creation plan's line).
    pub(crate) const TOKEN_BYTES: usize = ANSWER_BACKLOG * CORRELATION_MAX;

    /// `tokens` holds the waiting answers' correlationTokens (`TOKEN_BYTES` long).
    pub fn new(tokens: Buf) -> Self {
        AlexaSpeaker { enabled: false, endpoint_id: heapless::String::new(), answers: heapless::Deque::new(), tokens, reports: heapless::Deque::new(), warned_no_clock: false }
    }
    /// Turns the interface on for `endpoint_id`.
    pub fn enable(&mut self, endpoint_id: &str) -> Result<(), AvsStatus> {
        self.endpoint_id.clear();
        self.endpoint_id.push_str(endpoint_id).map_err(|_| AvsStatus::TooLarge)?;
        self.enabled = true;
        Ok(())
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// An `Alexa.Speaker` directive, or `Alexa.ReportState`. `endpoint` is the directive's
    /// `endpoint` object; answers go to the queue (or wait for a slot).
    pub fn on_directive(&mut self, name: &str, payload: &[u8], correlation: Option<&str>, endpoint: Option<&[u8]>, volume: &mut Volume, cx: &mut Cx) -> Result<(), super::Rejection> {
        // Without a correlationToken there is nothing to answer to: the directive is invalid.
        let correlation = correlation.filter(|c| !c.is_empty()).ok_or(super::Rejection::Invalid("v3 directive without a correlationToken"))?;
        if correlation.len() > CORRELATION_MAX {
            return Err(super::Rejection::Invalid("correlationToken too long"));
        }
        let wall_ms = cx.wall_ms.unwrap_or_else(|| {
            if !self.warned_no_clock {
                self.warned_no_clock = true;
                log!(cx.host, cx.log_level, LogLevel::Warn, "no wall clock (avs_client_set_wall_clock): timeOfSample counts from 1970");
            }
            0
        });
        let target = endpoint.and_then(|e| crate::protocol::json::find_string_member(e, "endpointId"));
        if target.is_some_and(|t| !crate::protocol::json::key_eq(t, &self.endpoint_id)) {
            // Another endpoint's: the host may have it (the router asks it next).
            return Err(super::Rejection::Unsupported);
        }
        // An answer needs a place to wait before anything is done (a change nobody is told
        // about would leave AVS guessing).
        let Some(slot) = (0..ANSWER_BACKLOG).find(|s| !self.answers.iter().any(|a| a.slot == *s)) else {
            log!(cx.host, cx.log_level, LogLevel::Error, "Alexa.Speaker.{name}: {ANSWER_BACKLOG} answers already wait for the queue");
            return Err(super::Rejection::Failed("too many Alexa.Speaker answers waiting to be sent"));
        };
        let answer = if name == "ReportState" {
            AnswerKind::StateReport
        } else {
            match wire::parse(name, payload) {
                Err(e) => AnswerKind::Error(e.kind, e.message, if e.kind == ErrorType::ValueOutOfRange { wire::valid_range(name) } else { None }),
                Ok(d) => {
                    let requested = match d {
                        AlexaSpeakerDirective::SetVolume { volume: v } => VolumeState { volume: v, ..volume.state },
                        // volumeDefault: the user named no amount; the directive's volume is
                        // the service's default step, applied the same way.
                        AlexaSpeakerDirective::AdjustVolume { volume: delta, .. } => VolumeState { volume: volume.adjusted(i64::from(delta)), ..volume.state },
                        AlexaSpeakerDirective::SetMute { mute } => VolumeState { muted: mute, ..volume.state },
                    };
                    match volume.apply(requested) {
                        Ok(_) => AnswerKind::Response,
                        Err(e) => {
                            log!(cx.host, cx.log_level, LogLevel::Warn, "Alexa.Speaker.{name}: the host's speaker refused ({})", e.text());
                            let (kind, why) = match e {
                                AvsStatus::AudioDevice | AvsStatus::ConnectFailed => (ErrorType::EndpointUnreachable, "the speaker is unreachable"),
                                AvsStatus::InvalidArgument => (ErrorType::InvalidValue, "the speaker cannot take that value"),
                                AvsStatus::WrongState | AvsStatus::Unsupported => (ErrorType::NotSupportedInCurrentMode, "the speaker does not allow that now"),
                                _ => (ErrorType::InternalError, "the speaker failed"),
                            };
                            AnswerKind::Error(kind, why, None)
                        }
                    }
                }
            }
        };
        self.tokens[slot * CORRELATION_MAX..slot * CORRELATION_MAX + correlation.len()].copy_from_slice(correlation.as_bytes());
        let _ = self.answers.push_back(Answer { kind: answer, slot, len: correlation.len(), state: volume.state, wall_ms });
        self.flush(cx);
        Ok(())
    }

    /// The volume changed another way (the `Speaker` interface, the host): a ChangeReport.
    pub fn changed(&mut self, cause: Cause, before: VolumeState, after: VolumeState, cx: &mut Cx) {
        if !self.enabled {
            return;
        }
        let report = Report { cause, volume_changed: before.volume != after.volume, muted_changed: before.muted != after.muted, state: after, wall_ms: cx.wall_ms.unwrap_or(0) };
        if !report.volume_changed && !report.muted_changed {
            return;
        }
        if let Err(r) = self.reports.push_back(report) {
            let newest = self.reports.back_mut().expect("a full backlog has a newest entry");
            newest.volume_changed |= r.volume_changed;
            newest.muted_changed |= r.muted_changed;
            newest.state = r.state;
            newest.wall_ms = r.wall_ms;
            newest.cause = r.cause;
        }
        self.flush(cx);
    }

    /// Hands waiting answers and reports to the queue, oldest first, while it takes them.
    pub fn flush(&mut self, cx: &mut Cx) {
        let endpoint_id = &self.endpoint_id;
        while let Some(a) = self.answers.front() {
            let start = a.slot * CORRELATION_MAX;
            // Copied in from a &str, so UTF-8.
            let correlation = core::str::from_utf8(&self.tokens[start..start + a.len]).unwrap_or("");
            let mut time = [0u8; ISO8601_LEN];
            let Ok(n) = write_iso8601_utc(a.wall_ms, &mut time) else { return };
            let time = core::str::from_utf8(&time[..n]).unwrap_or("1970-01-01T00:00:00.000Z");
            let props = wire::speaker_properties(a.state.volume, a.state.muted, time);
            let bearer = super::BEARER_PLACEHOLDER;
            let (label, kind) = match a.kind {
                AnswerKind::Response => ("Alexa.Response", a.kind),
                AnswerKind::StateReport => ("Alexa.StateReport", a.kind),
                AnswerKind::Error(..) => ("Alexa.ErrorResponse", a.kind),
            };
            let sent = cx.events.send_raw(label, 0, &mut |out, id| {
                let r = match kind {
                    AnswerKind::Response => wire::write_response(out, id, correlation, endpoint_id, &props),
                    AnswerKind::StateReport => wire::write_state_report(out, id, correlation, endpoint_id, bearer, &props),
                    AnswerKind::Error(t, why, range) => wire::write_error_response(out, id, correlation, endpoint_id, t, why, range),
                };
                r.map_err(|_| AvsStatus::TooLarge)
            });
            if !super::handed_over(sent, label, cx) {
                return;
            }
            self.answers.pop_front();
        }
        while let Some(r) = self.reports.front() {
            let mut time = [0u8; ISO8601_LEN];
            let Ok(n) = write_iso8601_utc(r.wall_ms, &mut time) else { return };
            let time = core::str::from_utf8(&time[..n]).unwrap_or("1970-01-01T00:00:00.000Z");
            let [vol, mute] = wire::speaker_properties(r.state.volume, r.state.muted, time);
            let mut changed = heapless::Vec::<_, 2>::new();
            let mut unchanged = heapless::Vec::<_, 2>::new();
            for (p, did) in [(vol, r.volume_changed), (mute, r.muted_changed)] {
                let _ = if did { changed.push(p) } else { unchanged.push(p) };
            }
            let (bearer, cause) = (super::BEARER_PLACEHOLDER, r.cause.as_str());
            let sent = cx.events.send_raw("Alexa.ChangeReport", 0, &mut |out, id| {
                wire::write_change_report(out, id, endpoint_id, bearer, cause, &changed, &unchanged).map_err(|_| AvsStatus::TooLarge)
            });
            if !super::handed_over(sent, "Alexa.ChangeReport", cx) {
                return;
            }
            self.reports.pop_front();
        }
    }
}

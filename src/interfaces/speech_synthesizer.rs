//! SpeechSynthesizer: Alexa's spoken answers. A `Speak` names its MP3 audio by Content-ID; the
//! audio may come before or after the directive and is matched in either order, held in a
//! bounded buffer only while its directive has not come. The host reports playback, which
//! becomes SpeechStarted/SpeechFinished and the `SpeechState` context entry.

use super::dialog::Dialog;
use super::Cx;
use crate::protocol::interfaces::DirectiveError;
use crate::protocol::jsonw::{context_entry, JsonWriter};
use crate::host::{log, Host};
use crate::memory::Buf;
use crate::protocol::{json, message};
use crate::status::{AvsStatus, DialogState, LogLevel};

/// Longest Content-ID or Speak token kept; longer ones are refused as malformed.
pub(crate) const ID_MAX: usize = 256;
/// Speak directives whose audio has not arrived yet.
const PENDING_SPEAKS: usize = 4;
/// Why a Speak failed when its early audio overflowed the attachment buffer (`on_speak`).
pub(crate) const SPEAK_AUDIO_SPILLED: &str = "Speak audio arrived before its directive and exceeded attachment_buffer_bytes";
/// The context entry at its longest: the token may need escaping.
pub(crate) const CONTEXT_BYTES: usize = 160 + 2 * ID_MAX;

struct Playback {
    token: heapless::String<ID_MAX>,
    started: bool,
}

struct PendingSpeak {
    cid: heapless::String<ID_MAX>,
    token: heapless::String<ID_MAX>,
}

/// An attachment that arrived before the directive naming it, held in a bounded buffer.
struct Unclaimed {
    cid: heapless::String<ID_MAX>,
    len: usize,
    complete: bool,
    overflowed: bool,
}

/// What the `SpeechState` context says: the Speak last reported, and its playback.
struct Reported {
    token: heapless::String<ID_MAX>,
    started_ms: u64,
    /// When it finished; `None` while it plays.
    finished_ms: Option<u64>,
}

/// The interface's state.
pub struct SpeechSynthesizer {
    pending: heapless::Vec<PendingSpeak, PENDING_SPEAKS>,
    /// The Speak whose audio is streaming now: (cid, token).
    streaming: Option<(heapless::String<ID_MAX>, heapless::String<ID_MAX>)>,
    unclaimed: Option<Unclaimed>,
    unclaimed_buf: Buf,
    /// Content-IDs of early attachments that overflowed the buffer and went to the host as
    /// plain attachments (the latest few).
    spilled: heapless::Vec<heapless::String<ID_MAX>, 2>,
    /// Speaks delivered whose playback the host has not finished, and whether it started: each
    /// gets one SpeechStarted and one SpeechFinished, however often the host reports them.
    playing: heapless::Vec<Playback, PENDING_SPEAKS>,
    reported: Option<Reported>,
}

fn copy_str<const N: usize>(bytes: &[u8]) -> Option<heapless::String<N>> {
    let s = core::str::from_utf8(bytes).ok()?;
    let mut out = heapless::String::new();
    out.push_str(s).ok()?;
    Some(out)
}

impl SpeechSynthesizer {
    /// `unclaimed`'s length bounds the audio held before its Speak.
    pub fn new(unclaimed: Buf) -> Self {
        SpeechSynthesizer {
            pending: heapless::Vec::new(),
            streaming: None,
            unclaimed: None,
            unclaimed_buf: unclaimed,
            spilled: heapless::Vec::new(),
            playing: heapless::Vec::new(),
            reported: None,
        }
    }

    /// Whether a Speak was delivered and its playback has not finished.
    pub fn is_playing(&self) -> bool {
        !self.playing.is_empty()
    }

    /// Speaks whose audio will not arrive (its stream or connection is gone): each is ended for
    /// the host with an empty last piece, so its player is not left waiting.
    pub fn abandon_speaks(&mut self, host: &mut dyn Host) {
        if let Some((_, token)) = self.streaming.take() {
            host.speech_audio(token.as_bytes(), &[], true);
        }
        for p in self.pending.iter() {
            host.speech_audio(p.token.as_bytes(), &[], true);
        }
        self.pending.clear();
    }

    /// A failed turn leaves nothing half-delivered behind.
    pub fn drop_unclaimed(&mut self) {
        self.unclaimed = None;
    }

    /// `Speak`; any other name is not part of this interface.
    pub fn on_directive(&mut self, name: &str, payload: &[u8], dialog: &mut Dialog, cx: &mut Cx) -> Result<(), DirectiveError> {
        match name {
            "Speak" => self.on_speak(payload, dialog, cx).map_err(DirectiveError::Invalid),
            _ => Err(DirectiveError::Unsupported),
        }
    }

    /// `Speak`: remember the token, and deliver its audio now if it came first.
    fn on_speak(&mut self, payload: &[u8], dialog: &mut Dialog, cx: &mut Cx) -> Result<(), &'static str> {
        let host = &mut *cx.host;
        let url = json::find_string_member(payload, "url").ok_or("Speak without url")?;
        let token = json::find_string_member(payload, "token").ok_or("Speak without token")?;
        let cid = url.strip_prefix(b"cid:").ok_or("Speak url is not cid:")?;
        let cid: heapless::String<ID_MAX> = copy_str(cid).ok_or("Speak cid too long")?;
        let token: heapless::String<ID_MAX> = copy_str(token).ok_or("Speak token too long")?;
        dialog.turn_answered = true;
        let spilled = match self.unclaimed.as_ref() {
            Some(u) if u.cid == cid => u.overflowed,
            _ => self.spilled.iter().any(|c| *c == cid),
        };
        if spilled {
            // Its audio came first and did not fit the buffer: it went to the host as a plain
            // attachment. The Speak is not handed over as if it could be played.
            log!(host, cx.log_level, LogLevel::Warn, "Speak audio {} arrived before its directive and exceeded attachment_buffer_bytes; Speak not delivered", cid);
            // Done with it once complete; the rest of an incomplete one goes on streaming to
            // the host as a plain attachment.
            if self.unclaimed.as_ref().is_some_and(|u| u.cid == cid && u.complete) {
                self.unclaimed = None;
            }
            self.spilled.retain(|c| *c != cid);
            return Err(SPEAK_AUDIO_SPILLED);
        }
        if self.playing.is_full() {
            // The host never finished the oldest: its reports will be refused.
            self.playing.remove(0);
        }
        let _ = self.playing.push(Playback { token: token.clone(), started: false });
        host.speak(token.as_bytes());
        dialog.set_state(host, DialogState::Speaking, AvsStatus::Ok);
        match self.unclaimed.take() {
            Some(u) if u.cid == cid => {
                host.speech_audio(token.as_bytes(), &self.unclaimed_buf[..u.len], u.complete);
                if !u.complete {
                    self.streaming = Some((cid, token));
                }
            }
            other => {
                self.unclaimed = other;
                self.flush_unclaimed(host);
                if self.pending.push(PendingSpeak { cid, token }).is_err() {
                    return Err("too many Speak directives waiting for audio");
                }
            }
        }
        Ok(())
    }

    /// A piece of a binary part: Speak audio, an attachment held for its directive, or (when no
    /// directive can claim it) a plain attachment for the host.
    pub fn on_binary(&mut self, host: &mut dyn Host, cid: &[u8], data: &[u8], last: bool) {
        if let Some((scid, token)) = self.streaming.as_ref() {
            if scid.as_bytes() == cid {
                host.speech_audio(token.as_bytes(), data, last);
                if last {
                    self.streaming = None;
                }
                return;
            }
        }
        if let Some(i) = self.pending.iter().position(|p| p.cid.as_bytes() == cid) {
            let p = self.pending.swap_remove(i);
            host.speech_audio(p.token.as_bytes(), data, last);
            if !last {
                self.streaming = Some((p.cid, p.token));
            }
            return;
        }
        // Not claimed (yet): hold it until the next directive says what it is.
        let same = self.unclaimed.as_ref().map(|u| u.cid.as_bytes() == cid && !u.complete).unwrap_or(false);
        if !same {
            self.flush_unclaimed(host);
            let Some(cid_s) = copy_str::<ID_MAX>(cid) else {
                host.attachment(cid, data, last);
                return;
            };
            self.unclaimed = Some(Unclaimed { cid: cid_s, len: 0, complete: false, overflowed: false });
        }
        let u = self.unclaimed.as_mut().expect("unclaimed set above");
        if u.overflowed {
            host.attachment(cid, data, last);
        } else if u.len + data.len() <= self.unclaimed_buf.len() {
            self.unclaimed_buf[u.len..u.len + data.len()].copy_from_slice(data);
            u.len += data.len();
        } else {
            // Too big to hold: hand it over as a plain attachment, from its start. A Speak that
            // names it later fails (see `on_speak`).
            u.overflowed = true;
            if self.spilled.is_full() {
                self.spilled.remove(0);
            }
            let _ = self.spilled.push(u.cid.clone());
            host.attachment(cid, &self.unclaimed_buf[..u.len], false);
            host.attachment(cid, data, last);
        }
        u.complete |= last;
    }

    /// A directive that is not Speak arrived, or the stream ended: an attachment held for a
    /// directive that did not claim it goes to the host as a plain attachment.
    pub fn flush_unclaimed(&mut self, host: &mut dyn Host) {
        if let Some(u) = self.unclaimed.take() {
            if !u.overflowed {
                host.attachment(u.cid.as_bytes(), &self.unclaimed_buf[..u.len], u.complete);
            }
            if !u.complete {
                // The rest of it streams through as a plain attachment.
                self.unclaimed = Some(Unclaimed { overflowed: true, ..u });
            }
        }
    }

    /// Whether the host may report playback of `token` starting (`started`) or finishing now: a
    /// Speak delivered and not finished, started at most once.
    pub fn playback_reportable(&self, token: &str, started: bool) -> bool {
        token.len() <= ID_MAX && self.playing.iter().any(|p| p.token == token && !(started && p.started))
    }

    /// The host started playing a Speak (checked with `playback_reportable`): SpeechStarted.
    pub fn on_playback_started(&mut self, token: &str, cx: &mut Cx) -> Result<(), AvsStatus> {
        if let Some(p) = self.playing.iter_mut().find(|p| p.token == token) {
            p.started = true;
        }
        self.reported = copy_str(token.as_bytes()).map(|token| Reported { token, started_ms: cx.now, finished_ms: None });
        send_speech_event(cx, "SpeechStarted", token)
    }

    /// The host finished playing a Speak (checked with `playback_reportable`): SpeechFinished.
    /// Playback did finish whether or not the event could be queued.
    pub fn on_playback_finished(&mut self, token: &str, cx: &mut Cx) -> Result<(), AvsStatus> {
        if let Some(i) = self.playing.iter().position(|p| p.token == token) {
            self.playing.remove(i);
        }
        match self.reported.as_mut() {
            Some(r) if r.token == token => r.finished_ms = Some(cx.now),
            _ => self.reported = copy_str(token.as_bytes()).map(|token| Reported { token, started_ms: cx.now, finished_ms: Some(cx.now) }),
        }
        send_speech_event(cx, "SpeechFinished", token)
    }

    /// `SpeechSynthesizer.SpeechState`, with the offset into the Speak playing now.
    pub fn write_context(&self, now: u64, w: &mut JsonWriter) {
        let (token, offset, playing) = match self.reported.as_ref() {
            Some(r) => (r.token.as_str(), r.finished_ms.unwrap_or(now).saturating_sub(r.started_ms), r.finished_ms.is_none()),
            None => ("", 0, false),
        };
        context_entry(w, "SpeechSynthesizer", "SpeechState", |w| {
            w.begin_object();
            w.key("token");
            w.str(token);
            w.key("offsetInMilliseconds");
            w.uint(offset);
            w.key("playerActivity");
            w.str(if playing { "PLAYING" } else { "FINISHED" });
            w.end_object();
        });
    }
}

/// Queues SpeechStarted or SpeechFinished about `token` (at most `ID_MAX` bytes).
fn send_speech_event(cx: &mut Cx, name: &str, token: &str) -> Result<(), AvsStatus> {
    let mut payload = [0u8; ID_MAX * 6 + 16];
    let mut n = 0;
    payload[..9].copy_from_slice(b"{\"token\":");
    n += 9;
    n += message::write_json_string(&mut payload[n..], token.as_bytes()).map_err(|_| AvsStatus::InvalidArgument)?;
    payload[n] = b'}';
    n += 1;
    cx.events.send_dialog("SpeechSynthesizer", name, &payload[..n], true)
}

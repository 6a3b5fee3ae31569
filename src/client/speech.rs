//! SpeechRecognizer and SpeechSynthesizer: the voice turn. A turn streams the ring's audio as
//! the `audio` part of a Recognize event; its directives (StopCapture, Speak, ExpectSpeech) move
//! the dialog state; Speak audio is matched to its directive by Content-ID in either order.

use super::memory::Buf;
use std::sync::Arc;

use crate::client::host::{log, Host};
use crate::client::ring::AudioRing;
use crate::protocol::json;
use crate::protocol::message::Directive;
use crate::status::{AvsProfile, AvsStatus, DialogState, LogLevel};
use crate::transport::h2::BodyChunk;

/// 10 ms of 16 kHz 16-bit mono: the DATA frame size AVS asks for.
pub const AUDIO_FRAME_BYTES: usize = 320;
/// Longest Content-ID or Speak token kept; longer ones are refused as malformed.
pub const ID_MAX: usize = 256;
/// Speak directives whose audio has not arrived yet.
const PENDING_SPEAKS: usize = 4;
/// Why a Speak failed when its early audio overflowed the attachment buffer (`on_speak`).
pub const SPEAK_AUDIO_SPILLED: &str = "Speak audio arrived before its directive and exceeded attachment_buffer_bytes";
/// Longest ExpectSpeech initiator echoed back.
pub const INITIATOR_MAX: usize = 512;

/// How a turn was started.
#[derive(Clone, Copy, Debug)]
pub struct TurnOptions {
    pub profile: AvsProfile,
    /// Wake-word start and end, in samples from the start of the streamed audio; `None` = tap.
    pub wake_word: Option<(u64, u64)>,
}

/// Where the turn's Recognize stream is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TurnPhase {
    /// Waiting for the connection rules to allow the Recognize stream.
    Pending,
    /// On stream `(connection, stream)`.
    Sent(u32, i32),
}

/// One voice turn.
pub struct Turn {
    pub phase: TurnPhase,
    pub profile: AvsProfile,
    /// Metadata part and audio part head, prebuilt at start.
    head_len: usize,
    head_sent: usize,
    /// No more audio: the host ended it, or StopCapture.
    pub audio_done: bool,
    /// Bytes of the close delimiter already handed to nghttp2.
    close_sent: usize,
    /// nghttp2 holds the stream deferred until audio arrives.
    pub deferred: bool,
    /// When the audio ended (the answer is awaited from then).
    pub audio_done_ms: Option<u64>,
    /// A Speak for this turn arrived.
    pub answered: bool,
    pub started_ms: u64,
}

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

/// The speech interfaces' state.
pub struct Speech {
    pub state: DialogState,
    /// dialogRequestId of the latest turn; directives carrying another id are dropped.
    pub dialog_id: heapless::String<36>,
    pub turn: Option<Turn>,
    head: Buf,
    pub ring: Arc<AudioRing>,
    /// ExpectSpeech: initiator to echo, timeout, and its deadline once it runs.
    pub expect_initiator: Option<heapless::Vec<u8, INITIATOR_MAX>>,
    pub expect_timeout_ms: Option<u32>,
    pub expect_deadline: Option<u64>,
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
    pub turn_timeout_ms: u32,
}

fn copy_str<const N: usize>(bytes: &[u8]) -> Option<heapless::String<N>> {
    let s = core::str::from_utf8(bytes).ok()?;
    let mut out = heapless::String::new();
    out.push_str(s).ok()?;
    Some(out)
}

impl Speech {
    /// `head`'s length bounds the Recognize metadata; `unclaimed`'s the audio held before its Speak.
    pub fn new(ring: Arc<AudioRing>, head: Buf, unclaimed: Buf, turn_timeout_ms: u32) -> Self {
        Speech {
            state: DialogState::Idle,
            dialog_id: heapless::String::new(),
            turn: None,
            head,
            ring,
            expect_initiator: None,
            expect_timeout_ms: None,
            expect_deadline: None,
            pending: heapless::Vec::new(),
            streaming: None,
            unclaimed: None,
            unclaimed_buf: unclaimed,
            spilled: heapless::Vec::new(),
            playing: heapless::Vec::new(),
            turn_timeout_ms,
        }
    }

    /// Lends out the buffer the Recognize head is built into; give it back with `put_head`.
    pub fn take_head(&mut self) -> Buf {
        core::mem::take(&mut self.head)
    }

    /// Returns the head buffer.
    pub fn put_head(&mut self, head: Buf) {
        self.head = head;
    }

    /// Starts a turn whose head (`head_len` bytes of [`head_buf`](Self::head_buf)) is ready.
    pub fn begin_turn(&mut self, dialog_id: &str, profile: AvsProfile, head_len: usize, now: u64) {
        self.dialog_id.clear();
        let _ = self.dialog_id.push_str(dialog_id);
        self.expect_initiator = None;
        self.expect_timeout_ms = None;
        self.expect_deadline = None;
        self.ring.discard();
        self.ring.set_capturing(true);
        self.turn = Some(Turn {
            phase: TurnPhase::Pending,
            profile,
            head_len,
            head_sent: 0,
            audio_done: false,
            close_sent: 0,
            deferred: false,
            audio_done_ms: None,
            answered: false,
            started_ms: now,
        });
    }

    /// Ends the audio: `discard` drops what is buffered (StopCapture), otherwise it is still sent.
    pub fn end_audio(&mut self, now: u64, discard: bool) {
        self.ring.set_capturing(false);
        if discard {
            self.ring.discard();
        }
        if let Some(t) = self.turn.as_mut() {
            if !t.audio_done {
                t.audio_done = true;
                t.audio_done_ms = Some(now);
            }
        }
    }

    /// Fills the next DATA frame of the Recognize body: the head, then 320-byte audio frames,
    /// then the close delimiter.
    pub fn read_body(&mut self, buf: &mut [u8], close: &[u8]) -> BodyChunk {
        let Some(t) = self.turn.as_mut() else { return BodyChunk::Last(0) };
        if t.head_sent < t.head_len {
            let n = (t.head_len - t.head_sent).min(buf.len());
            buf[..n].copy_from_slice(&self.head[t.head_sent..t.head_sent + n]);
            t.head_sent += n;
            return BodyChunk::Data(n);
        }
        let ready = self.ring.len();
        if ready >= AUDIO_FRAME_BYTES || (t.audio_done && ready > 0) {
            let frame = AUDIO_FRAME_BYTES.min(buf.len());
            let n = self.ring.read(&mut buf[..frame]);
            return BodyChunk::Data(n);
        }
        if t.audio_done {
            // The flow-control window may leave room for only part of the close delimiter:
            // the rest goes in the next frame, and only the frame that completes it ends the body.
            let rest = &close[t.close_sent.min(close.len())..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            t.close_sent += n;
            return if t.close_sent >= close.len() { BodyChunk::Last(n) } else { BodyChunk::Data(n) };
        }
        t.deferred = true;
        BodyChunk::Deferred
    }

    /// Whether a deferred Recognize stream has something to send again.
    pub fn wants_resume(&self) -> Option<i32> {
        let t = self.turn.as_ref()?;
        match t.phase {
            TurnPhase::Sent(_, stream) if t.deferred && (self.ring.len() >= AUDIO_FRAME_BYTES || t.audio_done) => Some(stream),
            _ => None,
        }
    }

    /// Ends the turn (answered, failed or cancelled) and reports the new dialog state.
    pub fn finish_turn(&mut self, host: &mut dyn Host, reason: AvsStatus) {
        self.ring.set_capturing(false);
        self.ring.discard();
        self.turn = None;
        let next = if reason == AvsStatus::Ok && !self.playing.is_empty() { DialogState::Speaking } else { DialogState::Idle };
        if reason != AvsStatus::Ok {
            // A failed turn leaves nothing half-delivered behind.
            self.abandon_speaks(host);
            self.unclaimed = None;
        }
        self.set_state(host, next, reason);
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

    /// Moves the dialog state, telling the host.
    pub fn set_state(&mut self, host: &mut dyn Host, state: DialogState, reason: AvsStatus) {
        if self.state != state || reason != AvsStatus::Ok {
            self.state = state;
            host.dialog_state(state, reason);
        }
    }

    /// Whether a directive belongs to the current dialog (or to none).
    pub fn accepts(&self, d: &Directive) -> bool {
        match d.header.dialog_request_id {
            Some(id) if !id.is_empty() => id == self.dialog_id.as_str(),
            _ => true,
        }
    }

    /// `Speak`: remember the token, and deliver its audio now if it came first.
    pub fn on_speak(&mut self, host: &mut dyn Host, payload: &[u8], log_level: LogLevel) -> Result<(), &'static str> {
        let url = json::find_string_member(payload, "url").ok_or("Speak without url")?;
        let token = json::find_string_member(payload, "token").ok_or("Speak without token")?;
        let cid = url.strip_prefix(b"cid:").ok_or("Speak url is not cid:")?;
        let cid: heapless::String<ID_MAX> = copy_str(cid).ok_or("Speak cid too long")?;
        let token: heapless::String<ID_MAX> = copy_str(token).ok_or("Speak token too long")?;
        if let Some(t) = self.turn.as_mut() {
            t.answered = true;
        }
        let spilled = match self.unclaimed.as_ref() {
            Some(u) if u.cid == cid => u.overflowed,
            _ => self.spilled.iter().any(|c| *c == cid),
        };
        if spilled {
            // Its audio came first and did not fit the buffer: it went to the host as a plain
            // attachment. The Speak is not handed over as if it could be played.
            log!(host, log_level, LogLevel::Warn, "Speak audio {} arrived before its directive and exceeded attachment_buffer_bytes; Speak not delivered", cid);
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
        self.set_state(host, DialogState::Speaking, AvsStatus::Ok);
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
    /// directive can claim it) a plain attachment for the host. Returns whether it was consumed.
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

    /// The held attachment is complete and the next part is a directive: keep it only if that
    /// directive is a Speak (decided by the caller through `on_speak`/`flush_unclaimed`).
    pub fn has_unclaimed(&self) -> bool {
        self.unclaimed.is_some()
    }

    /// `ExpectSpeech`: the host is asked to open the microphone; the timeout runs once no Speak
    /// is playing.
    pub fn on_expect_speech(&mut self, host: &mut dyn Host, payload: &[u8], now: u64) -> Result<(), &'static str> {
        let timeout = json::find_member(payload, "timeoutInMilliseconds")
            .ok()
            .flatten()
            .and_then(|v| core::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or("ExpectSpeech without a valid timeoutInMilliseconds")?;
        self.expect_initiator = match json::find_member(payload, "initiator").ok().flatten() {
            Some(raw) if json::is_object(raw) => Some(heapless::Vec::from_slice(raw).map_err(|_| "ExpectSpeech initiator too large")?),
            _ => None,
        };
        self.expect_timeout_ms = Some(timeout);
        if self.playing.is_empty() {
            self.expect_deadline = Some(now.saturating_add(u64::from(timeout)));
        }
        host.expect_speech(timeout);
        Ok(())
    }

    /// Whether the host may report playback of `token` starting (`started`) or finishing now: a
    /// Speak delivered and not finished, started at most once.
    pub fn playback_reportable(&self, token: &str, started: bool) -> bool {
        self.playing.iter().any(|p| p.token == token && !(started && p.started))
    }

    /// The host started playing a Speak.
    pub fn on_playback_started(&mut self, token: &str) {
        if let Some(p) = self.playing.iter_mut().find(|p| p.token == token) {
            p.started = true;
        }
    }

    /// The host finished playing a Speak.
    pub fn on_playback_finished(&mut self, host: &mut dyn Host, token: &str, now: u64) {
        if let Some(i) = self.playing.iter().position(|p| p.token == token) {
            self.playing.remove(i);
        }
        if self.playing.is_empty() {
            if let Some(t) = self.expect_timeout_ms {
                self.expect_deadline.get_or_insert(now.saturating_add(u64::from(t)));
            }
            if self.turn.is_none() {
                self.set_state(host, DialogState::Idle, AvsStatus::Ok);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_head_then_320_byte_frames_then_the_whole_close_delimiter_even_in_tiny_windows() {
        let ring = Arc::new(AudioRing::new(4000));
        let mut sp = Speech::new(ring.clone(), Buf::heap(64), Buf::heap(64), 1000);
        let mut head = sp.take_head();
        head[..4].copy_from_slice(b"HEAD");
        sp.put_head(head);
        sp.begin_turn("d", AvsProfile::CloseTalk, 4, 0);
        ring.write(&[7u8; 700]).unwrap();
        let close = b"\r\n--boundary--\r\n";
        let mut body = Vec::new();
        let mut buf = [0u8; 1024];
        // Frames as nghttp2 would ask for them, the window shrinking to 5 bytes at the end.
        let mut last = false;
        let mut sizes = Vec::new();
        for step in 0..100 {
            if step == 3 {
                sp.end_audio(0, false);
            }
            let room = if body.len() > 700 { 5 } else { buf.len() };
            match sp.read_body(&mut buf[..room], close) {
                BodyChunk::Data(n) => {
                    body.extend_from_slice(&buf[..n]);
                    sizes.push(n);
                }
                BodyChunk::Last(n) => {
                    body.extend_from_slice(&buf[..n]);
                    last = true;
                    break;
                }
                BodyChunk::Deferred => {}
            }
        }
        assert!(last, "the body ended");
        assert_eq!(&body[..4], b"HEAD");
        assert_eq!(&sizes[1..3], &[320, 320], "10 ms frames");
        assert!(body.ends_with(close), "the whole close delimiter, across frames");
        assert_eq!(body.len(), 4 + 700 + close.len());
    }
}

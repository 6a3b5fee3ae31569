//! SpeechRecognizer: the voice turn. A turn streams the ring's audio as the `audio` part of a
//! Recognize event; `StopCapture` ends the audio, `ExpectSpeech` asks for another turn. The
//! Recognize stream itself is the engine's (it is the one event whose body streams); this module
//! decides what goes in it and when the turn is over.

use std::sync::Arc;

use super::dialog::Dialog;
use super::Cx;
use crate::protocol::interfaces::DirectiveError;
use crate::host::{log, Host};
use crate::memory::Buf;
use crate::protocol::json;
use crate::protocol::jsonw::{context_entry, JsonWriter};
use crate::ring::AudioRing;
use crate::status::{AvsProfile, AvsStatus, DialogState, LogLevel};

/// 10 ms of 16 kHz 16-bit mono: the DATA frame size AVS asks for.
pub(crate) const AUDIO_FRAME_BYTES: usize = 320;
/// Longest ExpectSpeech initiator echoed back.
pub(crate) const INITIATOR_MAX: usize = 512;
/// Longest Recognize payload: the profile, format and an initiator.
pub(crate) const RECOGNIZE_PAYLOAD_MAX: usize = INITIATOR_MAX + 160;
/// The context entry, `SpeechRecognizer.RecognizerState`, at its longest.
pub(crate) const CONTEXT_BYTES: usize = 128;

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
    /// The device context still goes into the head, at this offset, when the stream opens.
    pub context_at: Option<usize>,
    /// No more audio: the host ended it, or StopCapture.
    pub audio_done: bool,
    /// Bytes of the close delimiter already handed to the stream.
    close_sent: usize,
    /// The stream is held deferred until audio arrives.
    pub deferred: bool,
    /// When the audio ended (the answer is awaited from then).
    pub audio_done_ms: Option<u64>,
    pub started_ms: u64,
}

/// What the Recognize body has to give now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BodyPiece {
    /// `n` bytes written; more follow.
    Data(usize),
    /// `n` bytes written, the last of the body.
    Last(usize),
    /// Nothing yet: audio has not arrived.
    Deferred,
}

/// The interface's state.
pub struct SpeechRecognizer {
    pub turn: Option<Turn>,
    head: Buf,
    pub ring: Arc<AudioRing>,
    /// ExpectSpeech: initiator to echo, timeout, and its deadline once it runs.
    pub expect_initiator: Option<heapless::Vec<u8, INITIATOR_MAX>>,
    pub expect_timeout_ms: Option<u32>,
    pub expect_deadline: Option<u64>,
    pub turn_timeout_ms: u32,
}

impl SpeechRecognizer {
    /// `head`'s length bounds the Recognize metadata.
    pub fn new(ring: Arc<AudioRing>, head: Buf, turn_timeout_ms: u32) -> Self {
        SpeechRecognizer { turn: None, head, ring, expect_initiator: None, expect_timeout_ms: None, expect_deadline: None, turn_timeout_ms }
    }

    /// Writes the Recognize payload for a turn started with `opts`: ExpectSpeech's initiator
    /// verbatim when one is waiting, otherwise how the turn started.
    pub fn recognize_payload(&self, opts: &TurnOptions) -> Result<heapless::String<RECOGNIZE_PAYLOAD_MAX>, AvsStatus> {
        let mut payload = heapless::String::new();
        let w = &mut payload;
        let _ = core::fmt::Write::write_fmt(w, format_args!("{{\"profile\":\"{}\",\"format\":\"AUDIO_L16_RATE_16000_CHANNELS_1\",\"initiator\":", opts.profile.as_str()));
        if let Some(init) = self.expect_initiator.as_ref() {
            w.push_str(core::str::from_utf8(init).map_err(|_| AvsStatus::Malformed)?).map_err(|_| AvsStatus::TooLarge)?;
        } else if let Some((start, end)) = opts.wake_word {
            if end < start {
                return Err(AvsStatus::InvalidArgument);
            }
            let _ = core::fmt::Write::write_fmt(
                w,
                format_args!("{{\"type\":\"WAKEWORD\",\"payload\":{{\"wakeWordIndices\":{{\"startIndexInSamples\":{start},\"endIndexInSamples\":{end}}}}}}}"),
            );
        } else {
            let _ = w.push_str("{\"type\":\"TAP\"}");
        }
        w.push('}').map_err(|_| AvsStatus::TooLarge)?;
        Ok(payload)
    }

    /// Lends out the buffer the Recognize head is built into; give it back with `put_head`.
    pub fn take_head(&mut self) -> Buf {
        core::mem::take(&mut self.head)
    }

    /// Returns the head buffer.
    pub fn put_head(&mut self, head: Buf) {
        self.head = head;
    }

    /// Starts a turn whose head (`head_len` bytes of the head buffer, the context to go at
    /// `context_at`) is ready.
    pub fn begin_turn(&mut self, dialog: &mut Dialog, dialog_id: &str, profile: AvsProfile, head_len: usize, context_at: usize, now: u64) {
        dialog.begin_turn(dialog_id);
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
            context_at: Some(context_at),
            audio_done: false,
            close_sent: 0,
            deferred: false,
            audio_done_ms: None,
            started_ms: now,
        });
    }

    /// Puts the context (rendered now, as the stream opens) into the head.
    pub fn insert_context(&mut self, items: &[u8]) -> Result<(), AvsStatus> {
        let Some(t) = self.turn.as_mut() else { return Ok(()) };
        let Some(at) = t.context_at.take() else { return Ok(()) };
        t.head_len = super::splice_context(&mut self.head, t.head_len, at, 0, items)?;
        Ok(())
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
    pub fn read_body(&mut self, buf: &mut [u8], close: &[u8]) -> BodyPiece {
        let Some(t) = self.turn.as_mut() else { return BodyPiece::Last(0) };
        if t.head_sent < t.head_len {
            let n = (t.head_len - t.head_sent).min(buf.len());
            buf[..n].copy_from_slice(&self.head[t.head_sent..t.head_sent + n]);
            t.head_sent += n;
            return BodyPiece::Data(n);
        }
        let ready = self.ring.len();
        if ready >= AUDIO_FRAME_BYTES || (t.audio_done && ready > 0) {
            let frame = AUDIO_FRAME_BYTES.min(buf.len());
            let n = self.ring.read(&mut buf[..frame]);
            return BodyPiece::Data(n);
        }
        if t.audio_done {
            // The flow-control window may leave room for only part of the close delimiter:
            // the rest goes in the next frame, and only the frame that completes it ends the body.
            let rest = &close[t.close_sent.min(close.len())..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            t.close_sent += n;
            return if t.close_sent >= close.len() { BodyPiece::Last(n) } else { BodyPiece::Data(n) };
        }
        t.deferred = true;
        BodyPiece::Deferred
    }

    /// Whether a deferred Recognize stream has something to send again.
    pub fn wants_resume(&self) -> Option<i32> {
        let t = self.turn.as_ref()?;
        match t.phase {
            TurnPhase::Sent(_, stream) if t.deferred && (self.ring.len() >= AUDIO_FRAME_BYTES || t.audio_done) => Some(stream),
            _ => None,
        }
    }

    /// Forgets the turn (the coordinator reports how it ended).
    pub fn clear_turn(&mut self) {
        self.ring.set_capturing(false);
        self.ring.discard();
        self.turn = None;
    }

    /// `StopCapture` and `ExpectSpeech`; any other name is not part of this interface.
    pub fn on_directive(&mut self, name: &str, payload: &[u8], dialog: &mut Dialog, speaking: bool, cx: &mut Cx) -> Result<(), DirectiveError> {
        match name {
            "StopCapture" => {
                if self.turn.as_ref().map(|t| !t.audio_done).unwrap_or(false) {
                    self.end_audio(cx.now, true);
                    dialog.set_state(cx.host, DialogState::Thinking, AvsStatus::Ok);
                }
                Ok(())
            }
            "ExpectSpeech" => self.on_expect_speech(cx.host, payload, cx.now, speaking).map_err(DirectiveError::Invalid),
            _ => Err(DirectiveError::Unsupported),
        }
    }

    /// `ExpectSpeech`: the host is asked to open the microphone; the timeout runs once no Speak
    /// is playing.
    fn on_expect_speech(&mut self, host: &mut dyn Host, payload: &[u8], now: u64, speaking: bool) -> Result<(), &'static str> {
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
        if !speaking {
            self.expect_deadline = Some(now.saturating_add(u64::from(timeout)));
        }
        host.expect_speech(timeout);
        Ok(())
    }

    /// Nothing plays any more: a waiting ExpectSpeech's timeout starts now.
    pub fn speech_done(&mut self, now: u64) {
        if let Some(t) = self.expect_timeout_ms {
            self.expect_deadline.get_or_insert(now.saturating_add(u64::from(t)));
        }
    }

    /// `SpeechRecognizer.RecognizerState`.
    pub fn write_context(&self, w: &mut JsonWriter) {
        context_entry(w, "SpeechRecognizer", "RecognizerState", |w| {
            w.begin_object();
            w.key("wakeword");
            w.str("ALEXA");
            w.end_object();
        });
    }

    /// The next time this interface has something to do.
    pub fn poll_at(&self, now: u64) -> Option<u64> {
        let mut at = self.expect_deadline;
        if let Some(t) = self.turn.as_ref() {
            let mut due = t.audio_done_ms.unwrap_or(t.started_ms).saturating_add(u64::from(self.turn_timeout_ms));
            // Audio is flowing: come back within one 10 ms frame.
            if t.audio_done_ms.is_none() {
                due = due.min(now.saturating_add(10));
            }
            at = Some(at.map_or(due, |a| a.min(due)));
        }
        at
    }

    /// ExpectSpeech's timeout (ExpectSpeechTimedOut) and the turn's deadlines: returns why the
    /// turn must end, when it must (the engine resets its stream).
    pub fn on_timer(&mut self, answered: bool, cx: &mut Cx) -> Option<AvsStatus> {
        let now = cx.now;
        if let Some(deadline) = self.expect_deadline {
            if now >= deadline && self.turn.is_none() {
                self.expect_deadline = None;
                self.expect_timeout_ms = None;
                self.expect_initiator = None;
                log!(cx.host, cx.log_level, LogLevel::Info, "ExpectSpeech timed out");
                if let Err(e) = cx.events.send_dialog("SpeechRecognizer", "ExpectSpeechTimedOut", b"{}", false) {
                    log!(cx.host, cx.log_level, LogLevel::Error, "could not queue ExpectSpeechTimedOut: {}", e.text());
                }
            }
        }
        let timeout = u64::from(self.turn_timeout_ms);
        let t = self.turn.as_ref()?;
        let since = t.audio_done_ms.unwrap_or(t.started_ms);
        let waiting_answer = t.audio_done_ms.is_some() && !answered;
        let never_sent = t.phase == TurnPhase::Pending;
        // AVS ends NEAR_FIELD/FAR_FIELD capture itself; without StopCapture, stop listening
        // after three answer timeouts rather than stay LISTENING for ever.
        let no_stop_capture = t.audio_done_ms.is_none() && t.profile != AvsProfile::CloseTalk && now >= t.started_ms.saturating_add(timeout.saturating_mul(3));
        if ((waiting_answer || never_sent) && now >= since.saturating_add(timeout)) || no_stop_capture {
            return Some(AvsStatus::Timeout);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_head_then_320_byte_frames_then_the_whole_close_delimiter_even_in_tiny_windows() {
        let ring = Arc::new(AudioRing::new(4000));
        let mut sr = SpeechRecognizer::new(ring.clone(), Buf::heap(64), 1000);
        let mut head = sr.take_head();
        head[..4].copy_from_slice(b"HEAD");
        sr.put_head(head);
        let mut dialog = Dialog::default();
        sr.begin_turn(&mut dialog, "d", AvsProfile::CloseTalk, 4, 0, 0);
        sr.turn.as_mut().unwrap().context_at = None;
        ring.write(&[7u8; 700]).unwrap();
        let close = b"\r\n--boundary--\r\n";
        let mut body = Vec::new();
        let mut buf = [0u8; 1024];
        // Frames as nghttp2 would ask for them, the window shrinking to 5 bytes at the end.
        let mut last = false;
        let mut sizes = Vec::new();
        for step in 0..100 {
            if step == 3 {
                sr.end_audio(0, false);
            }
            let room = if body.len() > 700 { 5 } else { buf.len() };
            match sr.read_body(&mut buf[..room], close) {
                BodyPiece::Data(n) => {
                    body.extend_from_slice(&buf[..n]);
                    sizes.push(n);
                }
                BodyPiece::Last(n) => {
                    body.extend_from_slice(&buf[..n]);
                    last = true;
                    break;
                }
                BodyPiece::Deferred => {}
            }
        }
        assert!(last, "the body ended");
        assert_eq!(&body[..4], b"HEAD");
        assert_eq!(&sizes[1..3], &[320, 320], "10 ms frames");
        assert!(body.ends_with(close), "the whole close delimiter, across frames");
        assert_eq!(body.len(), 4 + 700 + close.len());
    }
}

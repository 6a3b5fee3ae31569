//! The device context sent with SynchronizeState and with events that ask for it: the state of
//! each interface the library models, rendered into a fixed buffer.

/// States of the interfaces the library owns. Later interfaces add fields here.
pub struct ContextState {
    /// `SpeechSynthesizer.SpeechState`: the token of the last Speak and whether it is playing.
    pub speech_token: heapless::String<256>,
    pub speech_playing: bool,
    pub speech_offset_ms: u64,
}

impl Default for ContextState {
    fn default() -> Self {
        ContextState { speech_token: heapless::String::new(), speech_playing: false, speech_offset_ms: 0 }
    }
}

impl ContextState {
    /// Writes the contents of the context array (the items, without brackets) into `out`.
    pub fn render(&self, out: &mut [u8]) -> Option<usize> {
        let mut w = Cursor { out, len: 0 };
        w.put(b"{\"header\":{\"namespace\":\"SpeechRecognizer\",\"name\":\"RecognizerState\"},\"payload\":{\"wakeword\":\"ALEXA\"}},")?;
        w.put(b"{\"header\":{\"namespace\":\"SpeechSynthesizer\",\"name\":\"SpeechState\"},\"payload\":{\"token\":")?;
        let n = crate::protocol::message::write_json_string(&mut w.out[w.len..], self.speech_token.as_bytes()).ok()?;
        w.len += n;
        let mut num: heapless::String<24> = heapless::String::new();
        core::fmt::Write::write_fmt(&mut num, format_args!("{}", self.speech_offset_ms)).ok()?;
        w.put(b",\"offsetInMilliseconds\":")?;
        w.put(num.as_bytes())?;
        w.put(if self.speech_playing { b",\"playerActivity\":\"PLAYING\"}}" } else { b",\"playerActivity\":\"FINISHED\"}}" })?;
        Some(w.len)
    }
}

struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        self.out.get_mut(self.len..self.len + bytes.len())?.copy_from_slice(bytes);
        self.len += bytes.len();
        Some(())
    }
}

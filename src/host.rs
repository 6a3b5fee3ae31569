//! What the client tells its host: the callbacks, as a Rust trait (the C API implements it over
//! function pointers).

use crate::status::{AuthState, AvsStatus, ConnectionState, DialogState, LogLevel};

/// A directive no interface of the library handles, as received.
pub struct DirectiveView<'a> {
    /// `header.namespace`.
    pub namespace: &'a str,
    /// `header.name`.
    pub name: &'a str,
    /// `header.messageId`.
    pub message_id: &'a str,
    /// `header.dialogRequestId`, when present.
    pub dialog_request_id: Option<&'a str>,
    /// The raw `payload` object.
    pub payload: &'a [u8],
    /// The whole directive JSON part.
    pub json: &'a [u8],
}

/// The host's callbacks. All run on the thread that calls `poll`, inside it.
pub trait Host {
    /// The connection state changed; `reason` says why (`Ok` for normal progress).
    fn state_changed(&mut self, state: ConnectionState, reason: AvsStatus);
    /// A directive no interface of the library handles: `Ok` when the host handled it,
    /// `Unsupported` when it does not know it (or has no handler), `Malformed` when its
    /// payload is unusable, anything else when handling it failed.
    fn directive(&mut self, directive: &DirectiveView) -> AvsStatus;
    /// A piece of a binary attachment (`last` once per attachment).
    fn attachment(&mut self, content_id: &[u8], data: &[u8], last: bool);
    /// The server answered an event (or a connection request, `event_id` 0) with an exception.
    fn exception(&mut self, event_id: u32, http_status: u16, code: &[u8], description: &[u8]);
    /// The final outcome of an event submitted by the host.
    fn event_outcome(&mut self, event_id: u32, status: AvsStatus, http_status: u16);
    /// A log line.
    fn log(&mut self, level: LogLevel, message: &str);
    /// The dialog state changed; `reason` is not `Ok` when a turn ended in an error.
    fn dialog_state(&mut self, state: DialogState, reason: AvsStatus);
    /// ExpectSpeech: open the microphone and start a turn within `timeout_ms`.
    fn expect_speech(&mut self, timeout_ms: u32);
    /// A Speak directive: its MP3 audio follows through `speech_audio` with the same token.
    fn speak(&mut self, token: &[u8]);
    /// A piece of a Speak's MP3 audio (`last` once per Speak).
    fn speech_audio(&mut self, token: &[u8], mp3: &[u8], last: bool);
    /// Sign-in moved on (see [`AuthState`]); `reason` says why.
    fn auth_state(&mut self, _state: AuthState, _reason: AvsStatus) {}
    /// Code-based linking: show or speak `user_code` and where to enter it; it is valid for
    /// `expires_in_s` seconds (a new pair follows if it expires unused).
    fn code_pair(&mut self, _user_code: &str, _verification_uri: &str, _expires_in_s: u32) {}
    /// The host as `Any`, for the C API to reach its own callbacks' settings.
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any;
}

/// Longest log line; longer ones are cut. A fixed buffer keeps logging allocation-free.
pub const LOG_LINE_MAX: usize = 256;

/// Formats a log line into a fixed buffer and hands it to the host, only if it wants that level.
macro_rules! log {
    ($host:expr, $max:expr, $level:expr, $($arg:tt)*) => {{
        let level = $level;
        if level <= $max {
            let mut line: heapless::String<{ $crate::host::LOG_LINE_MAX }> = heapless::String::new();
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!($($arg)*));
            $host.log(level, &line);
        }
    }};
}
pub(crate) use log;

//! The one status type shared by every layer and the C API.

/// Result of every `avs_*` call and the reason carried by callbacks. `AVS_STATUS_OK` is 0; values are
/// never reused or renumbered.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvsStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument was out of range or not valid UTF-8 / JSON where that is required.
    InvalidArgument = 2,
    /// The call is not allowed in the client's current state.
    WrongState = 3,
    /// The client is in use: the call was made from inside a callback of the same client, or
    /// while another thread was inside a call on it (or, for `avs_client_audio_write`, while
    /// another thread was writing audio). Nothing was done.
    Reentrant = 4,
    /// The event queue is full; nothing was queued. Retry after an event outcome arrives.
    QueueFull = 5,
    /// The event does not fit in `max_event_bytes`.
    TooLarge = 6,
    /// Memory for the client could not be obtained.
    NoMemory = 7,
    /// The configuration is inconsistent (see the log for which field).
    BadConfig = 8,
    /// The CA bundle could not be read or parsed.
    BadCa = 9,
    /// A TLS handshake or record error.
    Tls = 10,
    /// The server's certificate did not verify (untrusted, wrong host name, expired...).
    CertificateRejected = 11,
    /// The server did not negotiate HTTP/2 (ALPN `h2`).
    NoH2 = 12,
    /// The TCP connection could not be made.
    ConnectFailed = 13,
    /// The connection was lost.
    ConnectionLost = 14,
    /// Connecting (TCP, TLS, downchannel, SynchronizeState) took longer than `connect_timeout_ms`.
    ConnectTimeout = 15,
    /// A PING went unanswered for `ping_timeout_ms`; the connection was dropped.
    PingTimeout = 16,
    /// The server answered with an HTTP status that is an error (the status is passed alongside).
    HttpStatus = 17,
    /// The server rejected the access token (HTTP 403); set a new one with `avs_client_set_token`.
    TokenRejected = 18,
    /// The server asked the client to back off (HTTP 429, 500, 503) and retries ran out.
    ServerBusy = 19,
    /// An HTTP/2 protocol error.
    Protocol = 20,
    /// Data from the server was malformed (multipart, JSON, headers).
    Malformed = 21,
    /// A panic was caught inside the library; the client must be freed.
    Panic = 22,
    /// The client was stopped or freed before the event could be sent.
    Cancelled = 23,
    /// The server sent GOAWAY.
    GoAway = 24,
    /// The audio ring is full: these samples were not taken (nothing partial was written).
    RingFull = 25,
    /// The server did not answer in time.
    Timeout = 26,
    /// An audio device could not be opened or failed while in use (see `avs_alsa_last_error`).
    AudioDevice = 27,
    /// An audio device cannot take the format needed.
    AudioFormat = 28,
    /// The client was freed (`avs_client_free` from inside one of its callbacks) during this
    /// call; the pointer must not be used again.
    ClientFreed = 29,
    /// More bytes than the buffer can ever hold (e.g. an audio write longer than
    /// `audio_ring_bytes`); nothing was taken. Split the write.
    Oversized = 30,
    /// A Speak's audio arrived before its directive and did not fit `attachment_buffer_bytes`:
    /// the Speak was not delivered (AVS was told with `System.ExceptionEncountered`).
    AttachmentTooLarge = 31,
    /// The server reset the request's HTTP/2 stream (RST_STREAM) while the connection stayed up.
    StreamReset = 32,
    /// Not supported by this device: a host's directive handler returns it for a directive it
    /// does not know (AVS then gets `System.ExceptionEncountered` with `UNSUPPORTED_OPERATION`).
    Unsupported = 33,
    /// Login with Amazon refused the credentials for good (`invalid_grant`, `invalid_client`,
    /// ...): the device must be signed in again (see `avs_auth_state`).
    AuthorizationRequired = 34,
    /// A host-supplied access token expires soon (`avs_client_set_token_expiry`): set a new one.
    TokenExpiring = 35,
}

impl AvsStatus {
    /// A short, static, human-readable description.
    pub fn text(self) -> &'static str {
        match self.c_text().to_str() {
            Ok(s) => s,
            Err(_) => "?",
        }
    }

    /// [`text`](Self::text) as a NUL-terminated C string.
    pub const fn c_text(self) -> &'static core::ffi::CStr {
        match self {
            AvsStatus::Ok => c"ok",
            AvsStatus::NullArgument => c"a required pointer argument was NULL",
            AvsStatus::InvalidArgument => c"invalid argument",
            AvsStatus::WrongState => c"not allowed in the client's current state",
            AvsStatus::Reentrant => c"client in use: called from inside its callback, or from two threads at once",
            AvsStatus::QueueFull => c"event queue full",
            AvsStatus::TooLarge => c"event larger than max_event_bytes",
            AvsStatus::NoMemory => c"out of memory",
            AvsStatus::BadConfig => c"invalid configuration",
            AvsStatus::BadCa => c"CA bundle unreadable or invalid",
            AvsStatus::Tls => c"TLS error",
            AvsStatus::CertificateRejected => c"server certificate rejected",
            AvsStatus::NoH2 => c"server did not negotiate HTTP/2 (ALPN h2)",
            AvsStatus::ConnectFailed => c"could not connect",
            AvsStatus::ConnectionLost => c"connection lost",
            AvsStatus::ConnectTimeout => c"connect timed out",
            AvsStatus::PingTimeout => c"ping unanswered, connection dropped",
            AvsStatus::HttpStatus => c"HTTP error status",
            AvsStatus::TokenRejected => c"access token rejected (HTTP 403)",
            AvsStatus::ServerBusy => c"server busy or failing (HTTP 429/5xx), retries exhausted",
            AvsStatus::Protocol => c"HTTP/2 protocol error",
            AvsStatus::Malformed => c"malformed data from the server",
            AvsStatus::Panic => c"internal panic caught; free the client",
            AvsStatus::Cancelled => c"cancelled",
            AvsStatus::GoAway => c"server sent GOAWAY",
            AvsStatus::RingFull => c"audio ring full; samples not taken",
            AvsStatus::Timeout => c"no answer in time",
            AvsStatus::AudioDevice => c"audio device unavailable or failed",
            AvsStatus::AudioFormat => c"audio device cannot take the format",
            AvsStatus::ClientFreed => c"the client was freed from inside a callback during this call",
            AvsStatus::Oversized => c"larger than the buffer can ever hold; nothing taken",
            AvsStatus::AttachmentTooLarge => c"Speak audio arrived before its directive and exceeded attachment_buffer_bytes",
            AvsStatus::StreamReset => c"the server reset the request's stream",
            AvsStatus::Unsupported => c"not supported by this device",
            AvsStatus::AuthorizationRequired => c"sign-in needed: Login with Amazon refused the credentials",
            AvsStatus::TokenExpiring => c"the access token is about to expire",
        }
    }
}

/// Where the client's connection to AVS stands, reported through the state callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvsConnectionState {
    /// Not connected and not trying (before `avs_client_connect`, or after `avs_client_disconnect`).
    Disconnected = 0,
    /// Connecting: TCP, TLS, downchannel, SynchronizeState.
    Connecting = 1,
    /// Connected and synchronized: events flow.
    Connected = 2,
    /// The last attempt failed; the next one starts after a back-off delay.
    WaitingToRetry = 3,
    /// The server rejected the access token; nothing is sent until `avs_client_set_token`.
    TokenRejected = 4,
    /// Waiting for an access token from Login with Amazon (`avs_config.lwa`): signing in, or a
    /// refresh after AVS rejected the token. Connects as soon as one comes.
    Authorizing = 5,
}

/// Where sign-in stands, reported through `avs_auth_handler.on_auth_state`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvsAuthState {
    /// The host brings the access token and nothing is asked of it (the state before any other).
    None = 0,
    /// Login with Amazon has no refresh token (none given, none in storage): sign the device
    /// in with `avs_client_start_linking` or `avs_client_authorize`, or give one with
    /// `avs_client_set_refresh_token`.
    SignedOut = 1,
    /// Code-based linking: the user is to enter the code `on_code_pair` gave.
    Linking = 2,
    /// Getting an access token (no valid one yet).
    Authorizing = 3,
    /// An access token is in use; it is renewed ahead of its expiry.
    Authorized = 4,
    /// Login with Amazon refused the credentials for good (`invalid_grant`, `invalid_client`,
    /// `unauthorized_client`, ...): reported once, nothing is retried until the host signs in
    /// again or gives new credentials. The reason is `AVS_STATUS_AUTHORIZATION_REQUIRED`.
    AuthorizationRequired = 5,
    /// A host-supplied token was rejected (`AVS_STATUS_TOKEN_REJECTED`) or is about to expire
    /// (`AVS_STATUS_TOKEN_EXPIRING`): call `avs_client_set_token`.
    TokenNeeded = 6,
}

/// What the dialog with Alexa is doing, for the device's lights and audio focus.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvsDialogState {
    /// No turn in progress.
    Idle = 0,
    /// The microphone is streaming to AVS.
    Listening = 1,
    /// Capture ended; waiting for Alexa's answer.
    Thinking = 2,
    /// Alexa's answer (Speak) is being delivered or played.
    Speaking = 3,
}

/// The microphone set-up a turn was captured with (`profile` of Recognize).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvsProfile {
    /// Push-and-hold: the device ends the audio (`avs_client_end_audio`).
    CloseTalk = 0,
    /// Near-field: AVS ends the audio with StopCapture.
    NearField = 1,
    /// Far-field: AVS ends the audio with StopCapture.
    FarField = 2,
}

impl AvsProfile {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AvsProfile::CloseTalk => "CLOSE_TALK",
            AvsProfile::NearField => "NEAR_FIELD",
            AvsProfile::FarField => "FAR_FIELD",
        }
    }
}

/// Severity of a log line.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AvsLogLevel {
    /// Something failed.
    Error = 0,
    /// Something unexpected that the client handled.
    Warn = 1,
    /// What was sent and received, connection changes.
    Info = 2,
    /// Detail for debugging.
    Debug = 3,
}

impl AvsStatus {
    /// Every status, for mapping integers from C without undefined behaviour.
    pub(crate) const ALL: [AvsStatus; 36] = [
        AvsStatus::Ok, AvsStatus::NullArgument, AvsStatus::InvalidArgument, AvsStatus::WrongState, AvsStatus::Reentrant,
        AvsStatus::QueueFull, AvsStatus::TooLarge, AvsStatus::NoMemory, AvsStatus::BadConfig, AvsStatus::BadCa,
        AvsStatus::Tls, AvsStatus::CertificateRejected, AvsStatus::NoH2, AvsStatus::ConnectFailed, AvsStatus::ConnectionLost,
        AvsStatus::ConnectTimeout, AvsStatus::PingTimeout, AvsStatus::HttpStatus, AvsStatus::TokenRejected, AvsStatus::ServerBusy,
        AvsStatus::Protocol, AvsStatus::Malformed, AvsStatus::Panic, AvsStatus::Cancelled, AvsStatus::GoAway,
        AvsStatus::RingFull, AvsStatus::Timeout, AvsStatus::AudioDevice, AvsStatus::AudioFormat, AvsStatus::ClientFreed,
        AvsStatus::Oversized, AvsStatus::AttachmentTooLarge, AvsStatus::StreamReset, AvsStatus::Unsupported,
        AvsStatus::AuthorizationRequired, AvsStatus::TokenExpiring,
    ];

    /// The status with this numeric value, if there is one.
    pub fn from_i32(v: i32) -> Option<AvsStatus> {
        AvsStatus::ALL.iter().copied().find(|s| *s as i32 == v)
    }
}

/// Short name used inside the crate.
pub type DialogState = AvsDialogState;
/// Short names used inside the crate.
pub type ConnectionState = AvsConnectionState;
/// Short name used inside the crate.
pub type AuthState = AvsAuthState;
/// Short name used inside the crate.
pub type LogLevel = AvsLogLevel;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_status_once_in_order() {
        for (i, s) in AvsStatus::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32);
            assert_eq!(AvsStatus::from_i32(i as i32), Some(*s));
            assert!(!s.text().is_empty());
        }
        assert_eq!(AvsStatus::from_i32(-1), None);
        assert_eq!(AvsStatus::from_i32(AvsStatus::ALL.len() as i32), None);
    }
}

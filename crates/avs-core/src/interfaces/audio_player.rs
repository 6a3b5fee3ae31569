//! `AudioPlayer` (version 1.0): long-form audio from an Alexa-managed queue (music, podcasts,
//! flash briefings). Only the wire format lives here; the queue, the progress timers and the
//! focus rules belong to the client.
//!
//! Followed: the AVS *AudioPlayer 1.0* reference
//! (`developer.amazon.com/docs/alexa-voice-service/audioplayer-1-0.html`), whose messages are the
//! ones of the protocol notes ("Other interfaces", "Context"). Later versions (1.1 to 1.5) only
//! add members (`playbackAttributes`, `playbackReports`, `interruptedBehavior`, `captionData`,
//! `httpHeaders`, ...), which this reader ignores and these writers do not produce.
//!
//! - Directives ([`parse`]): `Play {playBehavior, audioItem{audioItemId, stream{url,
//!   streamFormat, offsetInMilliseconds, expiryTime, progressReport{...}, token,
//!   expectedPreviousToken}}}`, `Stop {}`, `ClearQueue {clearBehavior}`.
//! - Events: `{token, offsetInMilliseconds}` for [`PlaybackEvent`] (Started, NearlyFinished,
//!   Finished, Stopped, Paused, Resumed, StutterStarted, ProgressReportDelayElapsed,
//!   ProgressReportIntervalElapsed) by [`write_playback_event`];
//!   [`write_playback_stutter_finished`], [`write_playback_failed`],
//!   [`write_playback_queue_cleared`] and [`write_stream_metadata_extracted`].
//! - The context entry `AudioPlayer.PlaybackState` ([`write_playback_state`]).
//! - [`next_progress_report`]: when `ProgressReportDelayElapsed` and
//!   `ProgressReportIntervalElapsed` are due, from the item's `progressReport`.
//!
//! Strings (tokens, ids, URLs) borrow from the payload and must not contain JSON escapes, as
//! everywhere in [`super`]: a `Play` with an escaped string is refused with the member's name
//! rather than played with a URL or token different from the one sent.

use super::{field_messages, DirectiveError, FieldError, FieldMessages, Object};
use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "AudioPlayer";
/// The interface version followed (for the capabilities / discovery report).
pub const VERSION: &str = "1.0";
/// The context entry's name.
pub const PLAYBACK_STATE: &str = "PlaybackState";

/// The `PlaybackStutterFinished` event.
pub const PLAYBACK_STUTTER_FINISHED: &str = "PlaybackStutterFinished";
/// The `PlaybackFailed` event.
pub const PLAYBACK_FAILED: &str = "PlaybackFailed";
/// The `PlaybackQueueCleared` event.
pub const PLAYBACK_QUEUE_CLEARED: &str = "PlaybackQueueCleared";
/// The `StreamMetadataExtracted` event.
pub const STREAM_METADATA_EXTRACTED: &str = "StreamMetadataExtracted";

/// The largest millisecond value read (offsets, delays, intervals): JSON integers AVS sends as
/// a Java `long`.
pub const MAX_MS: u64 = i64::MAX as u64;

/// An `AudioPlayer` directive; strings borrow from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPlayerDirective<'a> {
    /// Play or queue an audio item.
    Play(Play<'a>),
    /// Stop playback (`PlaybackStopped` follows). The spec says nothing of the queue; the AVS
    /// Device SDK keeps it.
    Stop,
    /// Clear the queue (`PlaybackQueueCleared` follows).
    ClearQueue {
        /// Whether the playing item stops too.
        clear_behavior: ClearBehavior,
    },
}

/// `Play`'s `playBehavior`: how the item joins the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayBehavior {
    /// `REPLACE_ALL`: stop the current item (`PlaybackStopped`), clear the queue, play this now.
    ReplaceAll,
    /// `ENQUEUE`: append to the end of the queue.
    Enqueue,
    /// `REPLACE_ENQUEUED`: replace the queued items; the current item plays on.
    ReplaceEnqueued,
}

impl PlayBehavior {
    /// The wire name, e.g. `REPLACE_ALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayBehavior::ReplaceAll => "REPLACE_ALL",
            PlayBehavior::Enqueue => "ENQUEUE",
            PlayBehavior::ReplaceEnqueued => "REPLACE_ENQUEUED",
        }
    }

    /// The behavior named `s` (exact, case-sensitive).
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "REPLACE_ALL" => Some(PlayBehavior::ReplaceAll),
            "ENQUEUE" => Some(PlayBehavior::Enqueue),
            "REPLACE_ENQUEUED" => Some(PlayBehavior::ReplaceEnqueued),
            _ => None,
        }
    }
}

/// `ClearQueue`'s `clearBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearBehavior {
    /// `CLEAR_ENQUEUED`: drop the queued items; the current item plays on.
    ClearEnqueued,
    /// `CLEAR_ALL`: drop the queue and stop the current item (`PlaybackStopped`).
    ClearAll,
}

impl ClearBehavior {
    /// The wire name, e.g. `CLEAR_ALL`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClearBehavior::ClearEnqueued => "CLEAR_ENQUEUED",
            ClearBehavior::ClearAll => "CLEAR_ALL",
        }
    }

    /// The behavior named `s` (exact, case-sensitive).
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "CLEAR_ENQUEUED" => Some(ClearBehavior::ClearEnqueued),
            "CLEAR_ALL" => Some(ClearBehavior::ClearAll),
            _ => None,
        }
    }
}

/// A `Play` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Play<'a> {
    /// How the item joins the queue.
    pub play_behavior: PlayBehavior,
    /// The item.
    pub audio_item: AudioItem<'a>,
}

/// `Play`'s `audioItem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioItem<'a> {
    /// `audioItemId` (what `TemplateRuntime.RenderPlayerInfo` refers to).
    pub audio_item_id: &'a str,
    /// `stream`.
    pub stream: Stream<'a>,
}

/// `audioItem.stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream<'a> {
    /// `url`: an attachment of the same response (`cid:`) or a URL for the host's player.
    pub url: StreamUrl<'a>,
    /// `streamFormat` as sent (`AUDIO_MPEG` for attachments), `None` when absent.
    pub stream_format: Option<&'a str>,
    /// `offsetInMilliseconds`: where in the stream to start.
    pub offset_ms: u64,
    /// `expiryTime` as sent (ISO-8601), not parsed here; `None` when absent.
    pub expiry_time: Option<&'a str>,
    /// `progressReport`; both `None` when absent.
    pub progress_report: ProgressReport,
    /// `token`: names the stream in every event and in the context.
    pub token: &'a str,
    /// `expectedPreviousToken`: queue the item only after the stream with this token.
    pub expected_previous_token: Option<&'a str>,
}

/// Where a stream's audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamUrl<'a> {
    /// `cid:ID`: the binary part of the same response whose `Content-ID` is `<ID>` (RFC 2392;
    /// the prefix is matched without regard to case, the id is non-empty and kept as sent). It
    /// may arrive before or after the directive.
    Attachment(&'a str),
    /// Any other URL (`https://...`, playlists included), for the host's player.
    Remote(&'a str),
}

impl<'a> StreamUrl<'a> {
    /// `url` classified, or `None` when it is empty or `cid:` with an empty id.
    pub fn from_url(url: &'a str) -> Option<Self> {
        match url.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("cid:") => {
                let id = &url[4..];
                (!id.is_empty()).then_some(StreamUrl::Attachment(id))
            }
            _ => (!url.is_empty()).then_some(StreamUrl::Remote(url)),
        }
    }
}

/// `stream.progressReport`: when to send the progress events (see [`next_progress_report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgressReport {
    /// `progressReportDelayInMilliseconds`: one `ProgressReportDelayElapsed` at this offset.
    pub delay_ms: Option<u64>,
    /// `progressReportIntervalInMilliseconds`: `ProgressReportIntervalElapsed` at every
    /// multiple of it.
    pub interval_ms: Option<u64>,
}

/// An integer member within `0..=MAX_MS`.
fn ms(o: &Object<'_>, key: &str) -> Result<u64, FieldError> {
    o.int_in(key, 0, MAX_MS as i64).map(|n| n as u64)
}

/// `Err(Missing)` as `Ok(None)`.
fn optional<T>(r: Result<T, FieldError>) -> Result<Option<T>, FieldError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(FieldError::Missing) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Messages for an enumerated string member.
const fn enum_messages(base: FieldMessages, out_of_range: &'static str) -> FieldMessages {
    FieldMessages {
        out_of_range,
        ..base
    }
}

/// Parses the payload of the `AudioPlayer` directive `name`.
///
/// `Play` needs `playBehavior` (`REPLACE_ALL`, `ENQUEUE` or `REPLACE_ENQUEUED`) and
/// `audioItem {audioItemId, stream {url, offsetInMilliseconds, token}}`; `streamFormat`,
/// `expiryTime`, `progressReport` (and each of its two members) and `expectedPreviousToken` may
/// be absent or `null`. Millisecond values are integers in `0..=`[`MAX_MS`]; strings have no
/// JSON escapes; `url` is not empty, nor `cid:` without an id. `Stop` only needs an object.
/// `ClearQueue` needs `clearBehavior` (`CLEAR_ENQUEUED` or `CLEAR_ALL`). Anything else in the
/// payload is [`DirectiveError::Invalid`] naming the member; unknown members are ignored; other
/// names are [`DirectiveError::Unsupported`].
pub fn parse<'a>(
    name: &str,
    payload: &'a [u8],
) -> Result<AudioPlayerDirective<'a>, DirectiveError> {
    match name {
        "Play" => parse_play(Object::payload(payload)?).map(AudioPlayerDirective::Play),
        "Stop" => {
            Object::payload(payload)?;
            Ok(AudioPlayerDirective::Stop)
        }
        "ClearQueue" => {
            let m = enum_messages(
                field_messages!("clearBehavior", "a string"),
                "payload.clearBehavior is not CLEAR_ENQUEUED or CLEAR_ALL",
            );
            let s = Object::payload(payload)?
                .str("clearBehavior")
                .map_err(|e| m.invalid(e))?;
            let clear_behavior =
                ClearBehavior::from_wire(s).ok_or(m.invalid(FieldError::OutOfRange))?;
            Ok(AudioPlayerDirective::ClearQueue { clear_behavior })
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

fn parse_play(p: Object<'_>) -> Result<Play<'_>, DirectiveError> {
    let behavior = enum_messages(
        field_messages!("playBehavior", "a string"),
        "payload.playBehavior is not REPLACE_ALL, ENQUEUE or REPLACE_ENQUEUED",
    );
    let item = field_messages!("audioItem", "an object");
    let id = field_messages!("audioItem.audioItemId", "a string");
    let stream = field_messages!("audioItem.stream", "an object");
    let url = FieldMessages {
        out_of_range: "payload.audioItem.stream.url is empty or cid: without a content id",
        ..field_messages!("audioItem.stream.url", "a string")
    };
    let format = field_messages!("audioItem.stream.streamFormat", "a string");
    let offset = field_messages!(
        "audioItem.stream.offsetInMilliseconds",
        "an integer",
        "0..2^63-1"
    );
    let expiry = field_messages!("audioItem.stream.expiryTime", "a string");
    let report = field_messages!("audioItem.stream.progressReport", "an object");
    let delay = field_messages!(
        "audioItem.stream.progressReport.progressReportDelayInMilliseconds",
        "an integer",
        "0..2^63-1"
    );
    let interval = field_messages!(
        "audioItem.stream.progressReport.progressReportIntervalInMilliseconds",
        "an integer",
        "0..2^63-1"
    );
    let token = field_messages!("audioItem.stream.token", "a string");
    let previous = field_messages!("audioItem.stream.expectedPreviousToken", "a string");

    let b = p.str("playBehavior").map_err(|e| behavior.invalid(e))?;
    let play_behavior =
        PlayBehavior::from_wire(b).ok_or(behavior.invalid(FieldError::OutOfRange))?;
    let a = p.object("audioItem").map_err(|e| item.invalid(e))?;
    let audio_item_id = a.str("audioItemId").map_err(|e| id.invalid(e))?;
    let s = a.object("stream").map_err(|e| stream.invalid(e))?;
    let u = s.str("url").map_err(|e| url.invalid(e))?;
    let url = StreamUrl::from_url(u).ok_or(url.invalid(FieldError::OutOfRange))?;
    let stream_format = optional(s.str("streamFormat")).map_err(|e| format.invalid(e))?;
    let offset_ms = ms(&s, "offsetInMilliseconds").map_err(|e| offset.invalid(e))?;
    let expiry_time = optional(s.str("expiryTime")).map_err(|e| expiry.invalid(e))?;
    let progress_report =
        match optional(s.object("progressReport")).map_err(|e| report.invalid(e))? {
            None => ProgressReport::default(),
            Some(r) => ProgressReport {
                delay_ms: optional(ms(&r, "progressReportDelayInMilliseconds"))
                    .map_err(|e| delay.invalid(e))?,
                interval_ms: optional(ms(&r, "progressReportIntervalInMilliseconds"))
                    .map_err(|e| interval.invalid(e))?,
            },
        };
    let token = s.str("token").map_err(|e| token.invalid(e))?;
    let expected_previous_token =
        optional(s.str("expectedPreviousToken")).map_err(|e| previous.invalid(e))?;
    Ok(Play {
        play_behavior,
        audio_item: AudioItem {
            audio_item_id,
            stream: Stream {
                url,
                stream_format,
                offset_ms,
                expiry_time,
                progress_report,
                token,
                expected_previous_token,
            },
        },
    })
}

/// The player's state as AVS knows it (`playerActivity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerActivity {
    /// Nothing played since power-on.
    Idle,
    /// Playing.
    Playing,
    /// Paused (for a higher-priority channel, or by the user).
    Paused,
    /// Playing but starved of data (between `PlaybackStutterStarted` and `...Finished`).
    BufferUnderrun,
    /// The last item finished playing.
    Finished,
    /// Stopped (`Stop`, `REPLACE_ALL`, `CLEAR_ALL`, or a failure).
    Stopped,
}

impl PlayerActivity {
    /// The wire name, e.g. `BUFFER_UNDERRUN`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerActivity::Idle => "IDLE",
            PlayerActivity::Playing => "PLAYING",
            PlayerActivity::Paused => "PAUSED",
            PlayerActivity::BufferUnderrun => "BUFFER_UNDERRUN",
            PlayerActivity::Finished => "FINISHED",
            PlayerActivity::Stopped => "STOPPED",
        }
    }
}

/// `{token, offsetInMilliseconds, playerActivity}`: the context entry, and
/// `PlaybackFailed.currentPlaybackState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackState<'a> {
    /// The token of the current (or last) item, empty when none.
    pub token: &'a str,
    /// The offset in that item.
    pub offset_ms: u64,
    /// The player's activity.
    pub activity: PlayerActivity,
}

impl PlaybackState<'static> {
    /// The state before anything played: `{"token":"","offsetInMilliseconds":0,
    /// "playerActivity":"IDLE"}`.
    pub const IDLE: PlaybackState<'static> = PlaybackState {
        token: "",
        offset_ms: 0,
        activity: PlayerActivity::Idle,
    };
}

/// Writes `{"token":T,"offsetInMilliseconds":N,"playerActivity":A}`: the payload of the
/// `AudioPlayer.PlaybackState` context entry.
pub fn write_playback_state(w: &mut JsonWriter<'_>, state: &PlaybackState<'_>) {
    w.begin_object();
    token_offset_members(w, state.token, state.offset_ms);
    w.key("playerActivity");
    w.str(state.activity.as_str());
    w.end_object();
}

fn token_offset_members(w: &mut JsonWriter<'_>, token: &str, offset_ms: u64) {
    w.key("token");
    w.str(token);
    w.key("offsetInMilliseconds");
    w.uint(offset_ms);
}

/// The events whose payload is `{token, offsetInMilliseconds}` ([`write_playback_event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackEvent {
    /// `PlaybackStarted`: the item began playing (once per item).
    Started,
    /// `PlaybackNearlyFinished`: ready to buffer the next item (after `PlaybackStarted`).
    NearlyFinished,
    /// `PlaybackFinished`: the item played to its end.
    Finished,
    /// `PlaybackStopped`: stopped by `Stop`, `REPLACE_ALL` or `CLEAR_ALL`.
    Stopped,
    /// `PlaybackPaused`: paused for a higher-priority channel.
    Paused,
    /// `PlaybackResumed`: resumed after `PlaybackPaused`.
    Resumed,
    /// `PlaybackStutterStarted`: the buffer ran dry (enters `BUFFER_UNDERRUN`).
    StutterStarted,
    /// `ProgressReportDelayElapsed` (see [`next_progress_report`]).
    ProgressReportDelayElapsed,
    /// `ProgressReportIntervalElapsed` (see [`next_progress_report`]).
    ProgressReportIntervalElapsed,
}

impl PlaybackEvent {
    /// Every event of this shape.
    pub const ALL: [PlaybackEvent; 9] = [
        PlaybackEvent::Started,
        PlaybackEvent::NearlyFinished,
        PlaybackEvent::Finished,
        PlaybackEvent::Stopped,
        PlaybackEvent::Paused,
        PlaybackEvent::Resumed,
        PlaybackEvent::StutterStarted,
        PlaybackEvent::ProgressReportDelayElapsed,
        PlaybackEvent::ProgressReportIntervalElapsed,
    ];

    /// The event's name, e.g. `PlaybackStarted`.
    pub fn name(self) -> &'static str {
        match self {
            PlaybackEvent::Started => "PlaybackStarted",
            PlaybackEvent::NearlyFinished => "PlaybackNearlyFinished",
            PlaybackEvent::Finished => "PlaybackFinished",
            PlaybackEvent::Stopped => "PlaybackStopped",
            PlaybackEvent::Paused => "PlaybackPaused",
            PlaybackEvent::Resumed => "PlaybackResumed",
            PlaybackEvent::StutterStarted => "PlaybackStutterStarted",
            PlaybackEvent::ProgressReportDelayElapsed => "ProgressReportDelayElapsed",
            PlaybackEvent::ProgressReportIntervalElapsed => "ProgressReportIntervalElapsed",
        }
    }
}

/// Writes `{"token":T,"offsetInMilliseconds":N}`, the payload of every [`PlaybackEvent`].
pub fn write_playback_event(w: &mut JsonWriter<'_>, token: &str, offset_ms: u64) {
    w.begin_object();
    token_offset_members(w, token, offset_ms);
    w.end_object();
}

/// Writes the `PlaybackStutterFinished` payload,
/// `{"token":T,"offsetInMilliseconds":N,"stutterDurationInMilliseconds":D}`.
pub fn write_playback_stutter_finished(
    w: &mut JsonWriter<'_>,
    token: &str,
    offset_ms: u64,
    stutter_duration_ms: u64,
) {
    w.begin_object();
    token_offset_members(w, token, offset_ms);
    w.key("stutterDurationInMilliseconds");
    w.uint(stutter_duration_ms);
    w.end_object();
}

/// `PlaybackFailed`'s `error.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaErrorType {
    /// `MEDIA_ERROR_UNKNOWN`: an unknown error.
    Unknown,
    /// `MEDIA_ERROR_INVALID_REQUEST`: the server found the request malformed (bad request,
    /// unauthorized, forbidden, not found, ...).
    InvalidRequest,
    /// `MEDIA_ERROR_SERVICE_UNAVAILABLE`: the service could not be reached.
    ServiceUnavailable,
    /// `MEDIA_ERROR_INTERNAL_SERVER_ERROR`: the server accepted the request but failed.
    InternalServerError,
    /// `MEDIA_ERROR_INTERNAL_DEVICE_ERROR`: an error on the device.
    InternalDeviceError,
}

impl MediaErrorType {
    /// The wire name, e.g. `MEDIA_ERROR_UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaErrorType::Unknown => "MEDIA_ERROR_UNKNOWN",
            MediaErrorType::InvalidRequest => "MEDIA_ERROR_INVALID_REQUEST",
            MediaErrorType::ServiceUnavailable => "MEDIA_ERROR_SERVICE_UNAVAILABLE",
            MediaErrorType::InternalServerError => "MEDIA_ERROR_INTERNAL_SERVER_ERROR",
            MediaErrorType::InternalDeviceError => "MEDIA_ERROR_INTERNAL_DEVICE_ERROR",
        }
    }

    /// The type for an HTTP status of the stream's server, as the spec describes the types:
    /// 4xx [`Self::InvalidRequest`], 503 [`Self::ServiceUnavailable`], other 5xx
    /// [`Self::InternalServerError`], anything else [`Self::Unknown`].
    pub fn from_http_status(status: u16) -> Self {
        match status {
            400..=499 => MediaErrorType::InvalidRequest,
            503 => MediaErrorType::ServiceUnavailable,
            500..=599 => MediaErrorType::InternalServerError,
            _ => MediaErrorType::Unknown,
        }
    }
}

/// Writes the `PlaybackFailed` payload: `{"token":T,"currentPlaybackState":{token,
/// offsetInMilliseconds, playerActivity},"error":{"type":E,"message":M}}`. `token` is the item
/// that failed, which may differ from `current.token` (the next item failing to buffer while
/// one plays). `message` is for AVS's logs (for an HTTP error, the response body if any).
pub fn write_playback_failed(
    w: &mut JsonWriter<'_>,
    token: &str,
    current: &PlaybackState<'_>,
    error: MediaErrorType,
    message: &str,
) {
    w.begin_object();
    w.key("token");
    w.str(token);
    w.key("currentPlaybackState");
    write_playback_state(w, current);
    w.key("error");
    w.begin_object();
    w.key("type");
    w.str(error.as_str());
    w.key("message");
    w.str(message);
    w.end_object();
    w.end_object();
}

/// Writes the `PlaybackQueueCleared` payload, `{}`.
pub fn write_playback_queue_cleared(w: &mut JsonWriter<'_>) {
    w.begin_object();
    w.end_object();
}

/// A value of `StreamMetadataExtracted`'s `metadata`: the spec wants strings and numbers as
/// JSON strings and booleans as JSON booleans (binary tags, such as images, are left out by
/// the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataValue<'a> {
    /// A string, or a number written as a string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
}

/// Writes the `StreamMetadataExtracted` payload, `{"token":T,"metadata":{K:V,...}}`, with the
/// tags in the order given.
pub fn write_stream_metadata_extracted(
    w: &mut JsonWriter<'_>,
    token: &str,
    metadata: &[(&str, MetadataValue<'_>)],
) {
    w.begin_object();
    w.key("token");
    w.str(token);
    w.key("metadata");
    w.begin_object();
    for (k, v) in metadata {
        w.key(k);
        match v {
            MetadataValue::Str(s) => w.str(s),
            MetadataValue::Bool(b) => w.bool(*b),
        }
    }
    w.end_object();
    w.end_object();
}

/// Which progress report is due.
///
/// Ordered as reports at the same offset are sent: the delay report before the interval report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProgressReportKind {
    /// `ProgressReportDelayElapsed`.
    Delay,
    /// `ProgressReportIntervalElapsed`.
    Interval,
}

impl ProgressReportKind {
    /// The event to send.
    pub fn event(self) -> PlaybackEvent {
        match self {
            ProgressReportKind::Delay => PlaybackEvent::ProgressReportDelayElapsed,
            ProgressReportKind::Interval => PlaybackEvent::ProgressReportIntervalElapsed,
        }
    }
}

/// The progress report that follows `after` for an item with `report` that started playing at
/// `start_offset_ms` (its `offsetInMilliseconds`): `(kind, due offset)`, or `None` when no more
/// are due. `after` is the last report handled (`None` before the first). The engine sends the
/// report once the item's offset reaches the due offset, then asks again with it as `after`
/// (several can be due at once after a jump of the offset).
///
/// The rules (AVS AudioPlayer 1.0, `ProgressReportDelayElapsed` / `...IntervalElapsed`):
/// - Offsets count from the start of the stream, not from `offsetInMilliseconds`: with a delay
///   of 20000 and a start at 10000 the delay report is due at offset 20000, after 10 s of
///   playback; an interval of 20000 started at 10000 is due at 20000, 40000, 60000, ...
/// - The delay report is sent once, when the offset reaches the delay.
/// - The interval report is sent at every positive multiple of the interval, until the stream
///   ends (the engine stops asking then).
/// - When the delay is a multiple of the interval, both are due at that offset: the delay
///   report first.
///
/// Where the spec is silent this follows the AVS Device SDK's `ProgressTimer`, which is what
/// AVS sees from most devices: playback that starts past the delay (`start > delay`) sends no
/// delay report — that point was passed in an earlier play of the item — while a start exactly
/// at the delay sends it at once; interval reports are due only at multiples strictly after the
/// start (a start at 40000 with an interval of 20000 reports first at 60000), so a resumed item
/// does not repeat the report its earlier play sent. An interval of 0 means no interval
/// reports (it would ask for reports without end). Offsets that would not fit `u64` are never
/// due.
pub fn next_progress_report(
    report: ProgressReport,
    start_offset_ms: u64,
    after: Option<(ProgressReportKind, u64)>,
) -> Option<(ProgressReportKind, u64)> {
    use ProgressReportKind::{Delay, Interval};
    let delay = report
        .delay_ms
        .filter(|&d| d >= start_offset_ms)
        // (d, Delay) comes after `after` only at a greater offset: Delay sorts first.
        .filter(|&d| after.map_or(true, |(_, off)| d > off))
        .map(|d| (Delay, d));
    let interval = report.interval_ms.filter(|&i| i > 0).and_then(|i| {
        // The first multiple m >= lowest, where m > start and (m, Interval) > after.
        let mut lowest = start_offset_ms.checked_add(1)?.max(i);
        match after {
            Some((Delay, off)) => lowest = lowest.max(off),
            Some((Interval, off)) => lowest = lowest.max(off.checked_add(1)?),
            None => {}
        }
        let k = lowest.div_ceil(i);
        k.checked_mul(i).map(|m| (Interval, m))
    });
    match (delay, interval) {
        (Some(d), Some(i)) => Some(if (d.1, d.0) <= (i.1, i.0) { d } else { i }),
        (d, i) => d.or(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length, context_entry, minify};
    use crate::message::parse_directive;
    use serde_json::json;
    use std::vec::Vec;

    /// The spec's `Play` example with its placeholders filled in (a URL stream).
    const PLAY_URL: &str = r#"{
        "directive": {
            "header": {
                "namespace": "AudioPlayer",
                "name": "Play",
                "messageId": "m-1",
                "dialogRequestId": "d-1"
            },
            "payload": {
                "playBehavior": "REPLACE_ALL",
                "audioItem": {
                    "audioItemId": "amzn1.as-ct.v1.Domain:Application:Music#ACIN:B01",
                    "stream": {
                        "url": "https://music.example.com/s/1.mp3?sig=abc&exp=1",
                        "streamFormat": "AUDIO_MPEG",
                        "offsetInMilliseconds": 0,
                        "expiryTime": "2018-02-07T12:47:26+0000",
                        "progressReport": {
                            "progressReportDelayInMilliseconds": 20000,
                            "progressReportIntervalInMilliseconds": 60000
                        },
                        "token": "tok-1",
                        "expectedPreviousToken": "tok-0"
                    }
                }
            }
        }
    }"#;

    /// A `Play` whose audio is an attachment of the same response, as Flash Briefings come.
    const PLAY_CID: &[u8] = br#"{"playBehavior":"ENQUEUE","audioItem":{"audioItemId":"fb-2","stream":{"url":"cid:DeviceTTSRendererV4_3b22ab59:6b2e_#1","streamFormat":"AUDIO_MPEG","offsetInMilliseconds":12000,"token":"tok-2"}}}"#;

    fn play(payload: &[u8]) -> Play<'_> {
        match parse("Play", payload) {
            Ok(AudioPlayerDirective::Play(p)) => p,
            other => panic!("{other:?} for {:?}", core::str::from_utf8(payload)),
        }
    }

    #[test]
    fn spec_play_with_url() {
        let doc = minify(PLAY_URL);
        let d = parse_directive(doc.as_bytes()).unwrap();
        assert_eq!((d.header.namespace, d.header.name), (NAMESPACE, "Play"));
        let got = parse(d.header.name, d.payload).unwrap();
        assert_eq!(
            got,
            AudioPlayerDirective::Play(Play {
                play_behavior: PlayBehavior::ReplaceAll,
                audio_item: AudioItem {
                    audio_item_id: "amzn1.as-ct.v1.Domain:Application:Music#ACIN:B01",
                    stream: Stream {
                        url: StreamUrl::Remote("https://music.example.com/s/1.mp3?sig=abc&exp=1"),
                        stream_format: Some("AUDIO_MPEG"),
                        offset_ms: 0,
                        expiry_time: Some("2018-02-07T12:47:26+0000"),
                        progress_report: ProgressReport {
                            delay_ms: Some(20000),
                            interval_ms: Some(60000),
                        },
                        token: "tok-1",
                        expected_previous_token: Some("tok-0"),
                    },
                },
            })
        );
        // The pretty-printed form parses the same.
        let d = parse_directive(PLAY_URL.as_bytes()).unwrap();
        assert_eq!(parse(d.header.name, d.payload), Ok(got));
    }

    #[test]
    fn play_with_attachment_and_optional_members_absent() {
        let p = play(PLAY_CID);
        assert_eq!(p.play_behavior, PlayBehavior::Enqueue);
        assert_eq!(p.audio_item.audio_item_id, "fb-2");
        let s = p.audio_item.stream;
        assert_eq!(
            s.url,
            StreamUrl::Attachment("DeviceTTSRendererV4_3b22ab59:6b2e_#1")
        );
        assert_eq!(s.stream_format, Some("AUDIO_MPEG"));
        assert_eq!(s.offset_ms, 12000);
        assert_eq!(s.expiry_time, None);
        assert_eq!(s.progress_report, ProgressReport::default());
        assert_eq!(s.token, "tok-2");
        assert_eq!(s.expected_previous_token, None);

        // null is absent; an empty progressReport, or one member of it, is fine; unknown
        // members (later versions') are ignored; the first of repeated members counts.
        let p = play(
            br#"{"playBehavior":"REPLACE_ENQUEUED","x":1,"audioItem":{"audioItemId":"a","metadata":{},"stream":{"url":"https://h/x.m3u","streamFormat":null,"offsetInMilliseconds":9223372036854775807,"expiryTime":null,"progressReport":{"progressReportIntervalInMilliseconds":0},"token":"","token":"second","expectedPreviousToken":null,"httpHeaders":{"key":[]},"endOffsetInMilliseconds":5}}}"#,
        );
        assert_eq!(p.play_behavior, PlayBehavior::ReplaceEnqueued);
        let s = p.audio_item.stream;
        assert_eq!(s.url, StreamUrl::Remote("https://h/x.m3u"));
        assert_eq!((s.stream_format, s.expiry_time), (None, None));
        assert_eq!(s.offset_ms, MAX_MS);
        assert_eq!(
            s.progress_report,
            ProgressReport {
                delay_ms: None,
                interval_ms: Some(0)
            }
        );
        assert_eq!((s.token, s.expected_previous_token), ("", None));
        for (report, want) in [
            (r#"{}"#, ProgressReport::default()),
            (r#"null"#, ProgressReport::default()),
            (
                r#"{"progressReportDelayInMilliseconds":0}"#,
                ProgressReport {
                    delay_ms: Some(0),
                    interval_ms: None,
                },
            ),
            (
                r#"{"progressReportDelayInMilliseconds":null,"progressReportIntervalInMilliseconds":1}"#,
                ProgressReport {
                    delay_ms: None,
                    interval_ms: Some(1),
                },
            ),
        ] {
            let payload = std::format!(
                r#"{{"playBehavior":"ENQUEUE","audioItem":{{"audioItemId":"a","stream":{{"url":"cid:x","offsetInMilliseconds":0,"token":"t","progressReport":{report}}}}}}}"#
            );
            assert_eq!(
                play(payload.as_bytes()).audio_item.stream.progress_report,
                want,
                "{report}"
            );
        }
    }

    #[test]
    fn stream_urls() {
        use StreamUrl::*;
        for (url, want) in [
            ("cid:abc", Some(Attachment("abc"))),
            ("CID:abc", Some(Attachment("abc"))),
            ("Cid:a:b.c_d#1", Some(Attachment("a:b.c_d#1"))),
            ("cid:<abc>", Some(Attachment("<abc>"))),
            ("cid:", None),
            ("CID:", None),
            ("", None),
            ("cid", Some(Remote("cid"))),
            ("ci", Some(Remote("ci"))),
            ("https://a/b.mp3", Some(Remote("https://a/b.mp3"))),
            ("http://a/cid:x", Some(Remote("http://a/cid:x"))),
            ("file:///x", Some(Remote("file:///x"))),
            ("\u{e9}t\u{e9}", Some(Remote("\u{e9}t\u{e9}"))), // a multi-byte first char
        ] {
            assert_eq!(StreamUrl::from_url(url), want, "{url:?}");
        }
    }

    #[test]
    fn stop_and_clear_queue() {
        let doc = br#"{"directive":{"header":{"namespace":"AudioPlayer","name":"Stop","messageId":"m","dialogRequestId":"d"},"payload":{}}}"#;
        let d = parse_directive(doc).unwrap();
        assert_eq!(
            parse(d.header.name, d.payload),
            Ok(AudioPlayerDirective::Stop)
        );
        assert_eq!(
            parse("Stop", br#"{"x":[1]}"#),
            Ok(AudioPlayerDirective::Stop)
        );
        for (behavior, want) in [
            ("CLEAR_ENQUEUED", ClearBehavior::ClearEnqueued),
            ("CLEAR_ALL", ClearBehavior::ClearAll),
        ] {
            let doc = std::format!(
                r#"{{"directive":{{"header":{{"namespace":"AudioPlayer","name":"ClearQueue","messageId":"m","dialogRequestId":"d"}},"payload":{{"clearBehavior":"{behavior}"}}}}}}"#
            );
            let d = parse_directive(doc.as_bytes()).unwrap();
            assert_eq!(
                parse(d.header.name, d.payload),
                Ok(AudioPlayerDirective::ClearQueue {
                    clear_behavior: want
                })
            );
            assert_eq!(want.as_str(), behavior);
            assert_eq!(ClearBehavior::from_wire(behavior), Some(want));
        }
        for b in [
            PlayBehavior::ReplaceAll,
            PlayBehavior::Enqueue,
            PlayBehavior::ReplaceEnqueued,
        ] {
            assert_eq!(PlayBehavior::from_wire(b.as_str()), Some(b));
        }
    }

    /// `PLAY_CID` (with a full `progressReport`) with the member at the dotted `path` set to
    /// the raw JSON `value`, or removed when `value` is `None`.
    fn play_with(path: &str, value: Option<&str>) -> std::string::String {
        let mut v: serde_json::Value = serde_json::from_slice(PLAY_CID).unwrap();
        v["audioItem"]["stream"]["progressReport"] = json!({
            "progressReportDelayInMilliseconds": 1,
            "progressReportIntervalInMilliseconds": 2
        });
        let mut keys: Vec<&str> = path.split('.').collect();
        let last = keys.pop().unwrap();
        let mut obj = &mut v;
        for k in keys {
            obj = &mut obj[k];
        }
        let obj = obj.as_object_mut().unwrap();
        match value {
            None => {
                obj.remove(last);
            }
            // A placeholder, replaced after serialization to keep the raw text (5.0, escapes).
            Some(_) => {
                obj.insert(last.into(), json!("@@VALUE@@"));
            }
        }
        let s = serde_json::to_string(&v).unwrap();
        match value {
            Some(raw) => s.replace("\"@@VALUE@@\"", raw),
            None => s,
        }
    }

    #[test]
    fn invalid_plays() {
        let inv = DirectiveError::Invalid;
        let mut cases: Vec<(&str, Option<&str>, &str)> = Vec::new();
        let string_member = |cases: &mut Vec<_>, path: &'static str, required: bool| {
            let msg = |s: &str| -> &'static str {
                std::boxed::Box::leak(std::format!("payload.{path} {s}").into_boxed_str())
            };
            if required {
                cases.push((path, None, msg("is missing")));
                cases.push((path, Some("null"), msg("is missing")));
            }
            for bad in ["5", "true", "{}", "[\"a\"]", "5.5"] {
                cases.push((path, Some(bad), msg("is not a string")));
            }
            cases.push((path, Some(r#""a\/b""#), msg("contains JSON escapes")));
            cases.push((path, Some(r#""a\u0026b""#), msg("contains JSON escapes")));
        };
        string_member(&mut cases, "playBehavior", true);
        string_member(&mut cases, "audioItem.audioItemId", true);
        string_member(&mut cases, "audioItem.stream.url", true);
        string_member(&mut cases, "audioItem.stream.streamFormat", false);
        string_member(&mut cases, "audioItem.stream.expiryTime", false);
        string_member(&mut cases, "audioItem.stream.token", true);
        string_member(&mut cases, "audioItem.stream.expectedPreviousToken", false);
        let ms_member = |cases: &mut Vec<_>, path: &'static str, required: bool| {
            let msg = |s: &str| -> &'static str {
                std::boxed::Box::leak(std::format!("payload.{path} {s}").into_boxed_str())
            };
            if required {
                cases.push((path, None, msg("is missing")));
                cases.push((path, Some("null"), msg("is missing")));
            }
            for bad in ["\"5\"", "5.0", "5.5", "1e3", "true", "[5]", "{}"] {
                cases.push((path, Some(bad), msg("is not an integer")));
            }
            for bad in [
                "-1",
                "-9223372036854775808",
                "9223372036854775808",
                "1000000000000000000000",
            ] {
                cases.push((path, Some(bad), msg("is outside 0..2^63-1")));
            }
        };
        ms_member(&mut cases, "audioItem.stream.offsetInMilliseconds", true);
        ms_member(
            &mut cases,
            "audioItem.stream.progressReport.progressReportDelayInMilliseconds",
            false,
        );
        ms_member(
            &mut cases,
            "audioItem.stream.progressReport.progressReportIntervalInMilliseconds",
            false,
        );
        for (path, required) in [
            ("audioItem", true),
            ("audioItem.stream", true),
            ("audioItem.stream.progressReport", false),
        ] {
            let msg = |s: &str| -> &'static str {
                std::boxed::Box::leak(std::format!("payload.{path} {s}").into_boxed_str())
            };
            if required {
                cases.push((path, None, msg("is missing")));
                cases.push((path, Some("null"), msg("is missing")));
            }
            for bad in ["5", "\"x\"", "[]", "true"] {
                cases.push((path, Some(bad), msg("is not an object")));
            }
        }
        let behavior = "payload.playBehavior is not REPLACE_ALL, ENQUEUE or REPLACE_ENQUEUED";
        for bad in [
            "\"\"",
            "\"enqueue\"",
            "\"REPLACE\"",
            "\"ENQUEUE \"",
            "\"CLEAR_ALL\"",
        ] {
            cases.push(("playBehavior", Some(bad), behavior));
        }
        let url = "payload.audioItem.stream.url is empty or cid: without a content id";
        for bad in ["\"\"", "\"cid:\"", "\"CID:\""] {
            cases.push(("audioItem.stream.url", Some(bad), url));
        }
        assert_eq!(cases.len(), 116);
        for (path, value, want) in cases {
            let payload = play_with(path, value);
            assert_eq!(
                parse("Play", payload.as_bytes()),
                Err(inv(want)),
                "{payload}"
            );
        }
        // The base of those cases is valid.
        let base = play_with("audioItem.stream.extra", Some("1"));
        let p = play(base.as_bytes());
        assert_eq!(
            p.audio_item.stream.progress_report,
            ProgressReport {
                delay_ms: Some(1),
                interval_ms: Some(2)
            }
        );
        // Not objects at all.
        for bad in [
            &b"[]"[..],
            b"",
            b"null",
            b"\"Play\"",
            b"{\"playBehavior\":\"ENQUEUE\"",
        ] {
            assert_eq!(parse("Play", bad), Err(inv(NOT_AN_OBJECT)));
            assert_eq!(parse("Stop", bad), Err(inv(NOT_AN_OBJECT)));
            assert_eq!(parse("ClearQueue", bad), Err(inv(NOT_AN_OBJECT)));
        }
    }

    #[test]
    fn invalid_clear_queues() {
        let inv = DirectiveError::Invalid;
        for (payload, want) in [
            (&br#"{}"#[..], "payload.clearBehavior is missing"),
            (
                br#"{"clearBehavior":null}"#,
                "payload.clearBehavior is missing",
            ),
            (
                br#"{"clearbehavior":"CLEAR_ALL"}"#,
                "payload.clearBehavior is missing",
            ),
            (
                br#"{"clearBehavior":1}"#,
                "payload.clearBehavior is not a string",
            ),
            (
                br#"{"clearBehavior":["CLEAR_ALL"]}"#,
                "payload.clearBehavior is not a string",
            ),
            (
                br#"{"clearBehavior":"CLEAR\u005FALL"}"#,
                "payload.clearBehavior contains JSON escapes",
            ),
            (
                br#"{"clearBehavior":"clear_all"}"#,
                "payload.clearBehavior is not CLEAR_ENQUEUED or CLEAR_ALL",
            ),
            (
                br#"{"clearBehavior":""}"#,
                "payload.clearBehavior is not CLEAR_ENQUEUED or CLEAR_ALL",
            ),
            (
                br#"{"clearBehavior":"ENQUEUE"}"#,
                "payload.clearBehavior is not CLEAR_ENQUEUED or CLEAR_ALL",
            ),
        ] {
            assert_eq!(
                parse("ClearQueue", payload),
                Err(inv(want)),
                "{:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn unsupported_and_never_panics() {
        for name in [
            "",
            "play",
            "Pause",
            "PlaybackStarted",
            "UpdateProgressReportInterval",
            "ClearQueues",
        ] {
            assert_eq!(parse(name, PLAY_CID), Err(DirectiveError::Unsupported));
        }
        assert_eq!(parse("Nope", b"garbage"), Err(DirectiveError::Unsupported));
        let full = minify(PLAY_URL);
        let d = parse_directive(full.as_bytes()).unwrap();
        for name in ["Play", "Stop", "ClearQueue"] {
            never_panics(d.payload, |p| {
                let _ = parse(name, p);
            });
        }
        never_panics(PLAY_CID, |p| {
            let _ = parse("Play", p);
        });
        never_panics(br#"{"clearBehavior":"CLEAR_ALL"}"#, |p| {
            let _ = parse("ClearQueue", p);
        });
    }

    fn written(write: impl Fn(&mut JsonWriter<'_>)) -> std::string::String {
        let out = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write(&mut w);
            w.finish()
        });
        std::string::String::from_utf8(out).unwrap()
    }

    /// The spec's payload example with the placeholders filled in, compact.
    fn spec(example: &str, fills: &[(&str, &str)]) -> std::string::String {
        let mut s = minify(example);
        for (placeholder, value) in fills {
            s = s.replacen(placeholder, value, 1);
        }
        assert!(!s.contains("{{"), "{s}");
        s
    }

    const TOKEN_OFFSET_EXAMPLE: &str = r#"{
        "token": "{{STRING}}",
        "offsetInMilliseconds": {{LONG}}
    }"#;

    #[test]
    fn playback_events() {
        let names: Vec<&str> = PlaybackEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "PlaybackStarted",
                "PlaybackNearlyFinished",
                "PlaybackFinished",
                "PlaybackStopped",
                "PlaybackPaused",
                "PlaybackResumed",
                "PlaybackStutterStarted",
                "ProgressReportDelayElapsed",
                "ProgressReportIntervalElapsed"
            ]
        );
        for (token, offset) in [
            ("tok-1", 0u64),
            ("", 123456),
            ("a\"b\\c", MAX_MS),
            ("x", u64::MAX),
        ] {
            let got = written(|w| write_playback_event(w, token, offset));
            let want = spec(
                TOKEN_OFFSET_EXAMPLE,
                &[
                    ("\"{{STRING}}\"", &serde_json::to_string(token).unwrap()),
                    ("{{LONG}}", &std::format!("{offset}")),
                ],
            );
            assert_eq!(got, want);
            assert_eq!(
                as_json(got.as_bytes()),
                json!({"token": token, "offsetInMilliseconds": offset})
            );
        }
    }

    #[test]
    fn playback_stutter_finished() {
        let example = r#"{
            "token": "{{STRING}}",
            "offsetInMilliseconds": {{LONG}},
            "stutterDurationInMilliseconds": {{LONG}}
        }"#;
        let got = written(|w| write_playback_stutter_finished(w, "tok-1", 61000, 1500));
        assert_eq!(
            got,
            spec(
                example,
                &[
                    ("{{STRING}}", "tok-1"),
                    ("{{LONG}}", "61000"),
                    ("{{LONG}}", "1500")
                ]
            )
        );
        assert_eq!(PLAYBACK_STUTTER_FINISHED, "PlaybackStutterFinished");
    }

    #[test]
    fn playback_failed() {
        let example = r#"{
            "token": "{{STRING}}",
            "currentPlaybackState": {
                "token": "{{STRING}}",
                "offsetInMilliseconds": {{LONG}},
                "playerActivity": "{{STRING}}"
            },
            "error": {
                "type": "{{STRING}}",
                "message": "{{STRING}}"
            }
        }"#;
        let types = [
            (MediaErrorType::Unknown, "MEDIA_ERROR_UNKNOWN"),
            (
                MediaErrorType::InvalidRequest,
                "MEDIA_ERROR_INVALID_REQUEST",
            ),
            (
                MediaErrorType::ServiceUnavailable,
                "MEDIA_ERROR_SERVICE_UNAVAILABLE",
            ),
            (
                MediaErrorType::InternalServerError,
                "MEDIA_ERROR_INTERNAL_SERVER_ERROR",
            ),
            (
                MediaErrorType::InternalDeviceError,
                "MEDIA_ERROR_INTERNAL_DEVICE_ERROR",
            ),
        ];
        for (kind, wire) in types {
            assert_eq!(kind.as_str(), wire);
            // The next item failed to buffer while the current one plays on.
            let current = PlaybackState {
                token: "tok-1",
                offset_ms: 170000,
                activity: PlayerActivity::Playing,
            };
            let got = written(|w| {
                write_playback_failed(w, "tok-2", &current, kind, "HTTP 404: not found")
            });
            let want = spec(
                example,
                &[
                    ("{{STRING}}", "tok-2"),
                    ("{{STRING}}", "tok-1"),
                    ("{{LONG}}", "170000"),
                    ("{{STRING}}", "PLAYING"),
                    ("{{STRING}}", wire),
                    ("{{STRING}}", "HTTP 404: not found"),
                ],
            );
            assert_eq!(got, want);
        }
        // Messages are escaped.
        let got = written(|w| {
            write_playback_failed(
                w,
                "t",
                &PlaybackState::IDLE,
                MediaErrorType::Unknown,
                "a\"b\n\u{1}",
            )
        });
        assert_eq!(
            as_json(got.as_bytes()),
            json!({"token":"t","currentPlaybackState":{"token":"","offsetInMilliseconds":0,"playerActivity":"IDLE"},
                   "error":{"type":"MEDIA_ERROR_UNKNOWN","message":"a\"b\n\u{1}"}})
        );
        for (status, want) in [
            (400, MediaErrorType::InvalidRequest),
            (403, MediaErrorType::InvalidRequest),
            (404, MediaErrorType::InvalidRequest),
            (499, MediaErrorType::InvalidRequest),
            (500, MediaErrorType::InternalServerError),
            (502, MediaErrorType::InternalServerError),
            (503, MediaErrorType::ServiceUnavailable),
            (599, MediaErrorType::InternalServerError),
            (200, MediaErrorType::Unknown),
            (302, MediaErrorType::Unknown),
            (0, MediaErrorType::Unknown),
            (600, MediaErrorType::Unknown),
        ] {
            assert_eq!(MediaErrorType::from_http_status(status), want, "{status}");
        }
        assert_eq!(PLAYBACK_FAILED, "PlaybackFailed");
    }

    #[test]
    fn queue_cleared_and_metadata() {
        assert_eq!(written(write_playback_queue_cleared), "{}");
        assert_eq!(PLAYBACK_QUEUE_CLEARED, "PlaybackQueueCleared");
        let example = r#"{
            "token": "{{STRING}}",
            "metadata": {
                "{{STRING}}": "{{STRING}}",
                "{{STRING}}": {{BOOLEAN}},
                "{{STRING}}": "{{STRING NUMBER}}"
            }
        }"#;
        let tags = [
            ("title", MetadataValue::Str("Song")),
            ("has-crc", MetadataValue::Bool(false)),
            ("bitrate", MetadataValue::Str("128000")),
        ];
        let got = written(|w| write_stream_metadata_extracted(w, "tok-1", &tags));
        let want = spec(
            example,
            &[
                ("{{STRING}}", "tok-1"),
                ("{{STRING}}", "title"),
                ("{{STRING}}", "Song"),
                ("{{STRING}}", "has-crc"),
                ("{{BOOLEAN}}", "false"),
                ("{{STRING}}", "bitrate"),
                ("{{STRING NUMBER}}", "128000"),
            ],
        );
        assert_eq!(got, want);
        assert_eq!(
            written(|w| write_stream_metadata_extracted(w, "", &[])),
            r#"{"token":"","metadata":{}}"#
        );
        assert_eq!(
            as_json(
                written(|w| write_stream_metadata_extracted(
                    w,
                    "t",
                    &[("a\"", MetadataValue::Str("\\"))]
                ))
                .as_bytes()
            ),
            json!({"token":"t","metadata":{"a\"":"\\"}})
        );
        assert_eq!(STREAM_METADATA_EXTRACTED, "StreamMetadataExtracted");
    }

    #[test]
    fn playback_state_context_entry() {
        let example = r#"{
            "header": {
                "namespace": "AudioPlayer",
                "name": "PlaybackState"
            },
            "payload": {
                "token": "{{STRING}}",
                "offsetInMilliseconds": {{LONG}},
                "playerActivity": "{{STRING}}"
            }
        }"#;
        for (activity, wire) in [
            (PlayerActivity::Idle, "IDLE"),
            (PlayerActivity::Playing, "PLAYING"),
            (PlayerActivity::Paused, "PAUSED"),
            (PlayerActivity::BufferUnderrun, "BUFFER_UNDERRUN"),
            (PlayerActivity::Finished, "FINISHED"),
            (PlayerActivity::Stopped, "STOPPED"),
        ] {
            assert_eq!(activity.as_str(), wire);
            let state = PlaybackState {
                token: "tok-1",
                offset_ms: 42000,
                activity,
            };
            let got = written(|w| {
                context_entry(w, NAMESPACE, PLAYBACK_STATE, |w| {
                    write_playback_state(w, &state)
                })
            });
            let want = spec(
                example,
                &[
                    ("{{STRING}}", "tok-1"),
                    ("{{LONG}}", "42000"),
                    ("{{STRING}}", wire),
                ],
            );
            assert_eq!(got, want);
        }
        assert_eq!(
            written(|w| write_playback_state(w, &PlaybackState::IDLE)),
            r#"{"token":"","offsetInMilliseconds":0,"playerActivity":"IDLE"}"#
        );
    }

    use ProgressReportKind::{Delay, Interval};

    fn report(delay: Option<u64>, interval: Option<u64>) -> ProgressReport {
        ProgressReport {
            delay_ms: delay,
            interval_ms: interval,
        }
    }

    /// The reports of an item, following [`next_progress_report`] from the start while due at
    /// or before `until`.
    fn schedule(r: ProgressReport, start: u64, until: u64) -> Vec<(ProgressReportKind, u64)> {
        let mut out = Vec::new();
        let mut after = None;
        while let Some(next) = next_progress_report(r, start, after) {
            if next.1 > until {
                break;
            }
            if let Some(prev) = after {
                assert!(
                    (prev.1, prev.0) < (next.1, next.0),
                    "{prev:?} then {next:?}"
                );
            }
            out.push(next);
            after = Some(next);
        }
        out
    }

    /// The same, from the rules as the module states them, by brute force.
    fn reference(r: ProgressReport, start: u64, until: u64) -> Vec<(ProgressReportKind, u64)> {
        let mut out = Vec::new();
        for offset in start..=until {
            if r.delay_ms == Some(offset) {
                out.push((Delay, offset));
            }
            if let Some(i) = r.interval_ms.filter(|&i| i > 0) {
                if offset > start && offset % i == 0 {
                    out.push((Interval, offset));
                }
            }
        }
        out
    }

    #[test]
    fn progress_reports_as_the_spec_examples() {
        // Delay 20000: once, at 20000, whether playback starts at 0 or at 10000.
        assert_eq!(
            schedule(report(Some(20000), None), 0, 600_000),
            [(Delay, 20000)]
        );
        assert_eq!(
            schedule(report(Some(20000), None), 10000, 600_000),
            [(Delay, 20000)]
        );
        // Interval 20000: every 20000 from the start of the stream, not from the offset.
        assert_eq!(
            schedule(report(None, Some(20000)), 0, 100_000),
            [
                (Interval, 20000),
                (Interval, 40000),
                (Interval, 60000),
                (Interval, 80000),
                (Interval, 100000)
            ]
        );
        assert_eq!(
            schedule(report(None, Some(20000)), 10000, 70000),
            [(Interval, 20000), (Interval, 40000), (Interval, 60000)]
        );
        // Both: the delay between intervals, or both at one offset (the delay first).
        assert_eq!(
            schedule(report(Some(5000), Some(20000)), 0, 45000),
            [(Delay, 5000), (Interval, 20000), (Interval, 40000)]
        );
        assert_eq!(
            schedule(report(Some(40000), Some(20000)), 0, 60000),
            [
                (Interval, 20000),
                (Delay, 40000),
                (Interval, 40000),
                (Interval, 60000)
            ]
        );
        assert_eq!(
            next_progress_report(report(Some(40000), Some(20000)), 0, Some((Delay, 40000))),
            Some((Interval, 40000))
        );
        assert_eq!(
            next_progress_report(report(Some(40000), Some(20000)), 0, Some((Interval, 40000))),
            Some((Interval, 60000))
        );
        assert_eq!(
            next_progress_report(report(Some(40000), Some(20000)), 0, Some((Interval, 20000))),
            Some((Delay, 40000))
        );
    }

    #[test]
    fn progress_reports_where_the_spec_is_silent() {
        // Started past the delay: no delay report; at the delay: at once.
        assert_eq!(
            schedule(report(Some(30000), Some(20000)), 60000, 100_000),
            [(Interval, 80000), (Interval, 100000)]
        );
        assert_eq!(schedule(report(Some(30000), None), 30001, 100_000), []);
        assert_eq!(
            schedule(report(Some(30000), None), 30000, 100_000),
            [(Delay, 30000)]
        );
        assert_eq!(schedule(report(Some(0), None), 0, 100_000), [(Delay, 0)]);
        // Started at a multiple of the interval: not reported again.
        assert_eq!(
            schedule(report(None, Some(20000)), 40000, 80000),
            [(Interval, 60000), (Interval, 80000)]
        );
        // Interval 0, or nothing asked: no reports.
        assert_eq!(schedule(report(None, Some(0)), 0, 100_000), []);
        assert_eq!(
            schedule(report(Some(100), Some(0)), 0, 100_000),
            [(Delay, 100)]
        );
        assert_eq!(
            next_progress_report(ProgressReport::default(), 0, None),
            None
        );
        // Interval 1: every millisecond after the start.
        assert_eq!(
            schedule(report(None, Some(1)), 5, 8),
            [(Interval, 6), (Interval, 7), (Interval, 8)]
        );
        // Offsets beyond u64 are never due; the extremes do not overflow.
        let half = 1u64 << 63;
        assert_eq!(
            schedule(report(None, Some(half)), 0, u64::MAX),
            [(Interval, half)]
        );
        assert_eq!(
            schedule(report(Some(u64::MAX), Some(u64::MAX)), 0, u64::MAX),
            [(Delay, u64::MAX), (Interval, u64::MAX)]
        );
        assert_eq!(
            next_progress_report(report(Some(u64::MAX), Some(3)), u64::MAX, None),
            Some((Delay, u64::MAX))
        );
        assert_eq!(
            next_progress_report(report(None, Some(3)), u64::MAX, None),
            None
        );
        assert_eq!(
            next_progress_report(report(None, Some(3)), 0, Some((Interval, u64::MAX))),
            None
        );
        assert_eq!(
            next_progress_report(report(None, Some(2)), 0, Some((Delay, u64::MAX))),
            None
        );
        assert_eq!(
            next_progress_report(report(None, Some(1)), 0, Some((Delay, u64::MAX))),
            Some((Interval, u64::MAX))
        );
        assert_eq!(Delay.event(), PlaybackEvent::ProgressReportDelayElapsed);
        assert_eq!(
            Interval.event(),
            PlaybackEvent::ProgressReportIntervalElapsed
        );
    }

    #[test]
    fn progress_reports_match_the_rules_over_many_offsets() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rand = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut cases = 0;
        for round in 0..3000 {
            let delay = match rand(4) {
                0 => None,
                _ => Some(rand(3000)),
            };
            let interval = match rand(5) {
                0 => None,
                1 => Some(0),
                _ => Some(1 + rand(if round % 2 == 0 { 50 } else { 1000 })),
            };
            // Starts before, at and after the delay, and on multiples of the interval.
            let start = match rand(4) {
                0 => 0,
                1 => delay.unwrap_or(0),
                2 => interval.unwrap_or(1).max(1) * rand(5),
                _ => rand(3000),
            };
            let r = report(delay, interval);
            let until = start + rand(4000);
            assert_eq!(
                schedule(r, start, until),
                reference(r, start, until),
                "{r:?} from {start} to {until}"
            );
            // Asking from any offset gives the first report due after it.
            let from = start + rand(until - start + 1);
            let want = reference(r, start, until + 5000)
                .into_iter()
                .find(|&(_, due)| due > from);
            let got = next_progress_report(r, start, Some((Interval, from)))
                .filter(|&(_, due)| due <= until + 5000);
            assert_eq!(got, want, "{r:?} from {start}, after {from}");
            cases += 1;
        }
        assert_eq!(cases, 3000);
    }

    #[test]
    fn progress_reports_over_simulated_playback() {
        // An engine's use: the host reports the offset every 250 ms; each report goes out at
        // the first tick at or after its due offset, i.e. within 250 ms of it.
        let r = report(Some(30000), Some(60000));
        let start = 15000;
        let mut after = None;
        let mut sent = Vec::new();
        let mut offset = start;
        while offset <= 10 * 60_000 {
            while let Some(next) = next_progress_report(r, start, after) {
                if next.1 > offset {
                    break;
                }
                assert!(offset - next.1 < 250, "{next:?} sent at {offset}");
                sent.push(next);
                after = Some(next);
            }
            offset += 250;
        }
        let mut want = std::vec![(Delay, 30000)];
        want.extend((1..=10).map(|k| (Interval, k * 60000)));
        assert_eq!(sent, want);
    }
}

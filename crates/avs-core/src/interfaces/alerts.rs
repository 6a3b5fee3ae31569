//! `Alerts` (v1.3): timers, alarms and reminders set by AVS and rung by the device, online or
//! not.
//!
//! Follows the published Alerts 1.3 interface (the 1.0 messages plus `DeleteAlerts` and the
//! alert volume's `SetVolume`/`AdjustVolume`/`VolumeChanged`); the payload members added by
//! later versions (1.1's named timers, 1.5's `AlertStarted`/`AlertStopped` payload) are ignored
//! when received and not written.
//!
//! - Directives ([`parse`]): `SetAlert` into an [`Alert`] (its time read with
//!   [`crate::time::parse_iso8601`], its assets, play order, background asset and loop settings
//!   checked against each other and bounded, see [`MAX_ASSETS`] and the other limits),
//!   `DeleteAlert {token}`, `DeleteAlerts {tokens}`, `SetVolume {volume}`, `AdjustVolume
//!   {volume}`.
//! - Events: every `{"token":T}` event ([`TokenEvent`], [`write_token`]),
//!   `DeleteAlertsSucceeded`/`Failed` ([`write_tokens`]), `VolumeChanged` ([`write_volume`]).
//! - Context: `Alerts.AlertsState` ([`write_alerts_state`]), times written back as ISO-8601 UTC.
//! - Storage: [`record`], a versioned, checksummed binary record of one [`Alert`] of at most
//!   [`record::MAX_LEN`] bytes, for the host's key-value storage.
//!
//! The engine (the alert table, timers, focus, the events queued while offline) lives in the
//! client; this module only knows the wire and storage formats.

use super::{field_messages, read_str, DirectiveError, FieldError, Object};
use crate::json;
use crate::jsonw::JsonWriter;
use crate::time::{parse_iso8601, write_iso8601_utc, TimeParseError, ISO8601_LEN};

/// The interface's namespace.
pub const NAMESPACE: &str = "Alerts";
/// The interface version whose messages this module reads and writes.
pub const VERSION: &str = "1.3";
/// The context entry's name.
pub const ALERTS_STATE: &str = "AlertsState";

/// Directive: set (or, for a known token, replace) an alert.
pub const SET_ALERT: &str = "SetAlert";
/// Directive: delete one alert.
pub const DELETE_ALERT: &str = "DeleteAlert";
/// Directive (1.3): delete several alerts.
pub const DELETE_ALERTS: &str = "DeleteAlerts";
/// Directive (1.3): set the alerts' volume.
pub const SET_VOLUME: &str = "SetVolume";
/// Directive (1.3): change the alerts' volume.
pub const ADJUST_VOLUME: &str = "AdjustVolume";
/// Event (1.3) answering `DeleteAlerts`, `{"tokens":[...]}`.
pub const DELETE_ALERTS_SUCCEEDED: &str = "DeleteAlertsSucceeded";
/// Event (1.3) answering `DeleteAlerts`, `{"tokens":[...]}`.
pub const DELETE_ALERTS_FAILED: &str = "DeleteAlertsFailed";
/// Event (1.3) after the alerts' volume changed, `{"volume":V}`.
pub const VOLUME_CHANGED: &str = "VolumeChanged";

/// Most assets one alert may carry; a `SetAlert` with more is invalid.
pub const MAX_ASSETS: usize = 8;
/// Most entries in an alert's `assetPlayOrder` (an asset may be named more than once).
pub const MAX_PLAY_ORDER: usize = 16;
/// Longest alert token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 256;
/// Longest `assetId` accepted, in bytes.
pub const MAX_ASSET_ID_LEN: usize = 128;
/// Longest asset `url` accepted, in bytes.
pub const MAX_URL_LEN: usize = 512;
/// Largest `loopCount` and `loopPauseInMilliSeconds` accepted (they are 32-bit signed in AVS).
pub const MAX_LOOP_VALUE: u32 = i32::MAX as u32;

/// The kind of an alert, its `type` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertType {
    /// `ALARM`.
    Alarm,
    /// `TIMER`.
    Timer,
    /// `REMINDER`.
    Reminder,
}

impl AlertType {
    /// All types, in the order of their storage codes.
    pub const ALL: [AlertType; 3] = [AlertType::Alarm, AlertType::Timer, AlertType::Reminder];

    /// The wire name: `ALARM`, `TIMER` or `REMINDER`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertType::Alarm => "ALARM",
            AlertType::Timer => "TIMER",
            AlertType::Reminder => "REMINDER",
        }
    }

    /// The type named `s` (exactly, upper case), if any.
    pub fn from_wire(s: &str) -> Option<Self> {
        AlertType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    fn code(self) -> u8 {
        match self {
            AlertType::Alarm => 0,
            AlertType::Timer => 1,
            AlertType::Reminder => 2,
        }
    }
}

/// One sound of an alert: `{"assetId":..,"url":..}`, both non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Asset<'a> {
    /// The id `assetPlayOrder` and `backgroundAlertAsset` refer to it by.
    pub id: &'a str,
    /// Where to fetch the sound (the device should fetch it ahead of the alert's time).
    pub url: &'a str,
}

/// A `SetAlert` read from its payload, or an alert read back from its [`record`]; strings borrow
/// from the payload or the record.
///
/// The fields are private so that every `Alert` keeps the invariants [`parse`] checks (lengths
/// within the limits, unique asset ids, every play-order entry and the background asset naming
/// an asset), which is what lets [`record::encode`] fit any alert in [`record::MAX_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert<'a> {
    token: &'a str,
    kind: AlertType,
    scheduled_unix_ms: u64,
    loop_count: Option<u32>,
    loop_pause_ms: Option<u32>,
    assets: [Asset<'a>; MAX_ASSETS],
    asset_count: u8,
    /// Indices into `assets`.
    play_order: [u8; MAX_PLAY_ORDER],
    play_order_len: u8,
    /// Index into `assets`.
    background: Option<u8>,
}

impl<'a> Alert<'a> {
    fn empty(token: &'a str, kind: AlertType, scheduled_unix_ms: u64) -> Self {
        Alert {
            token,
            kind,
            scheduled_unix_ms,
            loop_count: None,
            loop_pause_ms: None,
            assets: [Asset::default(); MAX_ASSETS],
            asset_count: 0,
            play_order: [0; MAX_PLAY_ORDER],
            play_order_len: 0,
            background: None,
        }
    }

    /// The alert's token (1 to [`MAX_TOKEN_LEN`] bytes), which names it in every event.
    pub fn token(&self) -> &'a str {
        self.token
    }

    /// ALARM, TIMER or REMINDER.
    pub fn kind(&self) -> AlertType {
        self.kind
    }

    /// When the alert is due, in Unix milliseconds (`scheduledTime` with its offset applied).
    pub fn scheduled_unix_ms(&self) -> u64 {
        self.scheduled_unix_ms
    }

    /// `loopCount`: how many times to play the play order; `None` when absent (play until
    /// stopped, within the device's own limit: an hour in the AVS documents).
    pub fn loop_count(&self) -> Option<u32> {
        self.loop_count
    }

    /// `loopPauseInMilliSeconds`: the pause between loops; `None` when absent (no pause).
    pub fn loop_pause_ms(&self) -> Option<u32> {
        self.loop_pause_ms
    }

    /// The assets, in payload order, ids unique (empty when the payload had none: the device
    /// plays its own sound for the type).
    pub fn assets(&self) -> &[Asset<'a>] {
        &self.assets[..usize::from(self.asset_count)]
    }

    /// The asset whose id is `id`.
    pub fn asset(&self, id: &str) -> Option<Asset<'a>> {
        self.assets().iter().copied().find(|a| a.id == id)
    }

    /// `assetPlayOrder` as indices into [`Alert::assets`].
    pub fn play_order_indices(&self) -> &[u8] {
        &self.play_order[..usize::from(self.play_order_len)]
    }

    /// `assetPlayOrder`: the assets in the order to play them (repeats allowed).
    pub fn play_order(&self) -> impl Iterator<Item = Asset<'a>> + '_ {
        self.play_order_indices()
            .iter()
            .map(|&i| self.assets[usize::from(i)])
    }

    /// `backgroundAlertAsset`: the asset to play while the alert is in the background (Alexa
    /// speaking over it); `None` when absent or empty (the device's own short sound).
    pub fn background_asset(&self) -> Option<Asset<'a>> {
        self.background.map(|i| self.assets[usize::from(i)])
    }

    /// The size of this alert's [`record`], at most [`record::MAX_LEN`].
    pub fn record_len(&self) -> usize {
        record::FIXED_LEN
            + self.token.len()
            + self
                .assets()
                .iter()
                .map(|a| 3 + a.id.len() + a.url.len())
                .sum::<usize>()
            + self.play_order_indices().len()
            + 4
    }
}

/// An `Alerts` directive; strings borrow from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// No allocation to box the alert in; the value lives briefly on the stack (about 180 bytes on
// Cortex-M).
#[allow(clippy::large_enum_variant)]
pub enum AlertsDirective<'a> {
    /// Set the alert, or replace the one with its token (the AVS SDK calls a `SetAlert` for an
    /// alert that is ringing a snooze).
    SetAlert(Alert<'a>),
    /// Delete the alert `token` (stopping it if active).
    DeleteAlert {
        /// The alert's token.
        token: &'a str,
    },
    /// Delete the alerts `tokens` (1.3).
    DeleteAlerts {
        /// The tokens, each checked like `DeleteAlert`'s.
        tokens: Tokens<'a>,
    },
    /// Set the alerts' volume (1.3), 0..=100.
    SetVolume {
        /// The new volume.
        volume: u8,
    },
    /// Change the alerts' volume (1.3) by `delta`, -100..=100; clamp the result to 0..=100.
    AdjustVolume {
        /// The change.
        delta: i8,
    },
}

/// The tokens of a `DeleteAlerts`, read from the payload's array as they are iterated (all
/// checked by [`parse`]: strings of 1 to [`MAX_TOKEN_LEN`] bytes without JSON escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens<'a>(Elements<'a>);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Checked by `parse`, so `read_str` cannot fail here.
        self.0.next().map(|raw| read_str(raw).unwrap_or(""))
    }
}

/// The elements of a JSON array, as raw value spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Elements<'a> {
    s: &'a [u8],
    i: usize,
    first: bool,
}

impl<'a> Elements<'a> {
    /// The elements of `raw` when it is an array (as [`Object::get`] returns one), else `None`.
    fn of(raw: &'a [u8]) -> Option<Self> {
        let i = json::skip_ws(raw, 0);
        (raw.get(i) == Some(&b'[')).then_some(Elements {
            s: raw,
            i: i + 1,
            first: true,
        })
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.s;
        let mut i = json::skip_ws(s, self.i);
        match s.get(i)? {
            b']' => {
                self.i = s.len();
                return None;
            }
            b',' if !self.first => i = json::skip_ws(s, i + 1),
            _ if self.first => {}
            _ => {
                self.i = s.len();
                return None;
            }
        }
        self.first = false;
        match json::value_end(s, i, json::MAX_DEPTH) {
            Ok(end) => {
                self.i = end;
                Some(&s[i..end])
            }
            Err(_) => {
                self.i = s.len();
                None
            }
        }
    }
}

/// Reads a string of `1..=max` bytes (empty or longer is [`FieldError::OutOfRange`]).
fn read_str_len(raw: &[u8], max: usize) -> Result<&str, FieldError> {
    let s = read_str(raw)?;
    if s.is_empty() || s.len() > max {
        Err(FieldError::OutOfRange)
    } else {
        Ok(s)
    }
}

/// The elements of the optional array member `key`: an empty iterator when absent or `null`,
/// [`FieldError::Mistyped`] when not an array.
fn optional_array<'a>(p: &Object<'a>, key: &str) -> Result<Elements<'a>, FieldError> {
    match p.get(key) {
        None => Ok(Elements {
            s: b"[]",
            i: 1,
            first: true,
        }),
        Some(v) => Elements::of(v).ok_or(FieldError::Mistyped),
    }
}

/// An optional integer member within `0..=MAX_LOOP_VALUE`.
fn optional_loop_value(p: &Object<'_>, key: &str) -> Result<Option<u32>, FieldError> {
    match p.int_in(key, 0, i64::from(MAX_LOOP_VALUE)) {
        Ok(n) => Ok(Some(n as u32)),
        Err(FieldError::Missing) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The message for a `scheduledTime` that [`parse_iso8601`] refused.
fn time_message(e: TimeParseError) -> &'static str {
    match e {
        TimeParseError::Malformed => {
            "payload.scheduledTime is not an ISO-8601 date and time with a UTC offset"
        }
        TimeParseError::InvalidField => "payload.scheduledTime is not a valid date and time",
        TimeParseError::OutOfRange => "payload.scheduledTime is outside 1970..9999",
    }
}

fn parse_set_alert(payload: &[u8]) -> Result<Alert<'_>, DirectiveError> {
    let p = Object::payload(payload)?;
    let token_m = field_messages!("token", "a string", "1..256 bytes");
    let type_m = field_messages!("type", "a string");
    let time_m = field_messages!("scheduledTime", "a string");
    let assets_m = field_messages!("assets", "an array");
    let asset_m = field_messages!("assets[]", "an object");
    let id_m = field_messages!("assets[].assetId", "a string", "1..128 bytes");
    let url_m = field_messages!("assets[].url", "a string", "1..512 bytes");
    let order_m = field_messages!("assetPlayOrder", "an array");
    let order_item_m = field_messages!("assetPlayOrder[]", "a string");
    let background_m = field_messages!("backgroundAlertAsset", "a string");
    let count_m = field_messages!("loopCount", "an integer", "0..2147483647");
    let pause_m = field_messages!("loopPauseInMilliSeconds", "an integer", "0..2147483647");
    let inv = DirectiveError::Invalid;

    let token = p
        .field("token", |v| read_str_len(v, MAX_TOKEN_LEN))
        .map_err(|e| token_m.invalid(e))?;
    let kind = p.str("type").map_err(|e| type_m.invalid(e))?;
    let kind =
        AlertType::from_wire(kind).ok_or(inv("payload.type is not ALARM, TIMER or REMINDER"))?;
    let time = p.str("scheduledTime").map_err(|e| time_m.invalid(e))?;
    let scheduled = parse_iso8601(time.as_bytes()).map_err(|e| inv(time_message(e)))?;
    let mut alert = Alert::empty(token, kind, scheduled);

    for raw in optional_array(&p, "assets").map_err(|e| assets_m.invalid(e))? {
        let a = Object::new(raw).ok_or(inv(asset_m.mistyped))?;
        let id = a
            .field("assetId", |v| read_str_len(v, MAX_ASSET_ID_LEN))
            .map_err(|e| id_m.invalid(e))?;
        let url = a
            .field("url", |v| read_str_len(v, MAX_URL_LEN))
            .map_err(|e| url_m.invalid(e))?;
        if alert.asset(id).is_some() {
            return Err(inv("payload.assets has two assets with the same assetId"));
        }
        let n = usize::from(alert.asset_count);
        if n == MAX_ASSETS {
            return Err(inv("payload.assets has more than 8 assets"));
        }
        alert.assets[n] = Asset { id, url };
        alert.asset_count += 1;
    }

    for raw in optional_array(&p, "assetPlayOrder").map_err(|e| order_m.invalid(e))? {
        let id = read_str(raw).map_err(|e| order_item_m.invalid(e))?;
        let index = alert.assets().iter().position(|a| a.id == id).ok_or(inv(
            "payload.assetPlayOrder[] names no asset of payload.assets",
        ))?;
        let n = usize::from(alert.play_order_len);
        if n == MAX_PLAY_ORDER {
            return Err(inv("payload.assetPlayOrder has more than 16 entries"));
        }
        alert.play_order[n] = index as u8;
        alert.play_order_len += 1;
    }

    alert.background = match p.str("backgroundAlertAsset") {
        Err(FieldError::Missing) | Ok("") => None,
        Err(e) => return Err(background_m.invalid(e)),
        Ok(id) => Some(alert.assets().iter().position(|a| a.id == id).ok_or(inv(
            "payload.backgroundAlertAsset names no asset of payload.assets",
        ))? as u8),
    };
    alert.loop_count = optional_loop_value(&p, "loopCount").map_err(|e| count_m.invalid(e))?;
    alert.loop_pause_ms =
        optional_loop_value(&p, "loopPauseInMilliSeconds").map_err(|e| pause_m.invalid(e))?;
    Ok(alert)
}

/// Parses the payload of the `Alerts` directive `name`.
///
/// `SetAlert` needs `token` (a string of 1 to [`MAX_TOKEN_LEN`] bytes), `type` (`ALARM`, `TIMER`
/// or `REMINDER`) and `scheduledTime` (ISO-8601 with an offset, see
/// [`crate::time::parse_iso8601`]). Optional: `assets` (at most [`MAX_ASSETS`] objects with a
/// non-empty `assetId` of at most [`MAX_ASSET_ID_LEN`] bytes, unique, and a non-empty `url` of at
/// most [`MAX_URL_LEN`] bytes), `assetPlayOrder` (at most [`MAX_PLAY_ORDER`] asset ids, each
/// naming an asset), `backgroundAlertAsset` (naming an asset; `""` counts as absent),
/// `loopCount` and `loopPauseInMilliSeconds` (integers 0..=[`MAX_LOOP_VALUE`]). Strings must
/// not contain JSON escapes. `DeleteAlert` needs `token` as `SetAlert` does; `DeleteAlerts`
/// needs `tokens`, an array of such tokens (possibly empty). `SetVolume` needs `volume`
/// 0..=100, `AdjustVolume` `volume` -100..=100.
///
/// Anything else wrong is [`DirectiveError::Invalid`] naming the member; other names are
/// [`DirectiveError::Unsupported`].
pub fn parse<'a>(name: &str, payload: &'a [u8]) -> Result<AlertsDirective<'a>, DirectiveError> {
    let token_m = field_messages!("token", "a string", "1..256 bytes");
    match name {
        SET_ALERT => parse_set_alert(payload).map(AlertsDirective::SetAlert),
        DELETE_ALERT => {
            let token = Object::payload(payload)?
                .field("token", |v| read_str_len(v, MAX_TOKEN_LEN))
                .map_err(|e| token_m.invalid(e))?;
            Ok(AlertsDirective::DeleteAlert { token })
        }
        DELETE_ALERTS => {
            let tokens_m = field_messages!("tokens", "an array");
            let item_m = field_messages!("tokens[]", "a string", "1..256 bytes");
            let p = Object::payload(payload)?;
            let elements = p
                .field("tokens", |v| Elements::of(v).ok_or(FieldError::Mistyped))
                .map_err(|e| tokens_m.invalid(e))?;
            for raw in elements {
                read_str_len(raw, MAX_TOKEN_LEN).map_err(|e| item_m.invalid(e))?;
            }
            Ok(AlertsDirective::DeleteAlerts {
                tokens: Tokens(elements),
            })
        }
        SET_VOLUME => {
            let m = field_messages!("volume", "an integer", "0..100");
            let volume = Object::payload(payload)?
                .int_in("volume", 0, 100)
                .map_err(|e| m.invalid(e))?;
            Ok(AlertsDirective::SetVolume {
                volume: volume as u8,
            })
        }
        ADJUST_VOLUME => {
            let m = field_messages!("volume", "an integer", "-100..100");
            let delta = Object::payload(payload)?
                .int_in("volume", -100, 100)
                .map_err(|e| m.invalid(e))?;
            Ok(AlertsDirective::AdjustVolume { delta: delta as i8 })
        }
        _ => Err(DirectiveError::Unsupported),
    }
}

/// The events whose payload is `{"token":T}` ([`write_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenEvent {
    /// The alert of a `SetAlert` was stored.
    SetAlertSucceeded,
    /// The alert of a `SetAlert` could not be stored (e.g. the table is full).
    SetAlertFailed,
    /// The alert of a `DeleteAlert` was deleted (also when it was not known).
    DeleteAlertSucceeded,
    /// The alert of a `DeleteAlert` could not be deleted.
    DeleteAlertFailed,
    /// The alert started ringing.
    AlertStarted,
    /// The alert stopped (locally, by `DeleteAlert`, or by running out).
    AlertStopped,
    /// The ringing alert took the foreground (no dialog over it).
    AlertEnteredForeground,
    /// The ringing alert went to the background (Alexa speaking over it).
    AlertEnteredBackground,
}

impl TokenEvent {
    /// Every such event.
    pub const ALL: [TokenEvent; 8] = [
        TokenEvent::SetAlertSucceeded,
        TokenEvent::SetAlertFailed,
        TokenEvent::DeleteAlertSucceeded,
        TokenEvent::DeleteAlertFailed,
        TokenEvent::AlertStarted,
        TokenEvent::AlertStopped,
        TokenEvent::AlertEnteredForeground,
        TokenEvent::AlertEnteredBackground,
    ];

    /// The event's name in the `Alerts` namespace.
    pub fn name(self) -> &'static str {
        match self {
            TokenEvent::SetAlertSucceeded => "SetAlertSucceeded",
            TokenEvent::SetAlertFailed => "SetAlertFailed",
            TokenEvent::DeleteAlertSucceeded => "DeleteAlertSucceeded",
            TokenEvent::DeleteAlertFailed => "DeleteAlertFailed",
            TokenEvent::AlertStarted => "AlertStarted",
            TokenEvent::AlertStopped => "AlertStopped",
            TokenEvent::AlertEnteredForeground => "AlertEnteredForeground",
            TokenEvent::AlertEnteredBackground => "AlertEnteredBackground",
        }
    }
}

/// Writes `{"token":T}`, the payload of every [`TokenEvent`].
pub fn write_token(w: &mut JsonWriter<'_>, token: &str) {
    w.begin_object();
    w.key("token");
    w.str(token);
    w.end_object();
}

/// Writes `{"tokens":[T,...]}`, the payload of `DeleteAlertsSucceeded` and `DeleteAlertsFailed`.
pub fn write_tokens<'t>(w: &mut JsonWriter<'_>, tokens: impl IntoIterator<Item = &'t str>) {
    w.begin_object();
    w.key("tokens");
    w.begin_array();
    for t in tokens {
        w.str(t);
    }
    w.end_array();
    w.end_object();
}

/// Writes `{"volume":V}`, the payload of the alerts' `VolumeChanged`; above 100 is written as
/// 100.
pub fn write_volume(w: &mut JsonWriter<'_>, volume: u8) {
    w.begin_object();
    w.key("volume");
    w.uint(u64::from(volume.min(100)));
    w.end_object();
}

fn write_alert_list<'t>(
    w: &mut JsonWriter<'_>,
    alerts: impl IntoIterator<Item = (&'t str, AlertType, u64)>,
) {
    w.begin_array();
    for (token, kind, scheduled_unix_ms) in alerts {
        let mut time = [0u8; ISO8601_LEN];
        let n = write_iso8601_utc(scheduled_unix_ms, &mut time).unwrap_or(0);
        w.begin_object();
        w.key("token");
        w.str(token);
        w.key("type");
        w.str(kind.as_str());
        w.key("scheduledTime");
        w.string(&time[..n]);
        w.end_object();
    }
    w.end_array();
}

/// Writes the `Alerts.AlertsState` payload,
/// `{"allAlerts":[{"token","type","scheduledTime"},...],"activeAlerts":[...]}`: `all` every
/// stored alert, `active` those ringing (in the foreground or background), each as (token, type,
/// scheduled Unix ms). Times are written as ISO-8601 UTC (`2017-08-01T11:30:00.000Z`).
pub fn write_alerts_state<'t>(
    w: &mut JsonWriter<'_>,
    all: impl IntoIterator<Item = (&'t str, AlertType, u64)>,
    active: impl IntoIterator<Item = (&'t str, AlertType, u64)>,
) {
    w.begin_object();
    w.key("allAlerts");
    write_alert_list(w, all);
    w.key("activeAlerts");
    write_alert_list(w, active);
    w.end_object();
}

pub mod record {
    //! One [`Alert`] as bytes for the host's key-value storage, and back.
    //!
    //! Version 1, integers little-endian:
    //!
    //! | bytes | contents |
    //! |---|---|
    //! | 1 | [`VERSION`] (1) |
    //! | 1 | type: 0 ALARM, 1 TIMER, 2 REMINDER |
    //! | 8 | scheduled time, Unix ms (at most [`crate::time::MAX_UNIX_MS`]) |
    //! | 1 | flags: bit 0 `loopCount` present, bit 1 `loopPauseInMilliSeconds` present |
    //! | 4 | `loopCount` (0 when absent) |
    //! | 4 | `loopPauseInMilliSeconds` (0 when absent) |
    //! | 1 | asset count *n* |
    //! | 1 | play-order length *m* |
    //! | 1 | background asset index, 255 for none |
    //! | 2 | token length, then the token |
    //! | *n* × | id length (1 byte), id, url length (2 bytes), url |
    //! | *m* | play order, asset indices |
    //! | 4 | CRC-32 (IEEE 802.3, as zlib's) of all the bytes before |
    //!
    //! [`decode`] checks everything [`parse`](super::parse) checks, so a record that decodes is
    //! an alert the client could have received; it never panics, whatever the bytes. The size of
    //! a record is [`Alert::record_len`], at most [`MAX_LEN`] (5,444 bytes with the limits of
    //! [`super::MAX_ASSETS`] and the others).

    use super::{Alert, AlertType, Asset, MAX_ASSETS, MAX_ASSET_ID_LEN, MAX_LOOP_VALUE};
    use super::{MAX_PLAY_ORDER, MAX_TOKEN_LEN, MAX_URL_LEN};
    use crate::time::MAX_UNIX_MS;
    use crate::{put_all, Overflow};
    use core::fmt;

    /// The format version [`encode`] writes and [`decode`] reads.
    pub const VERSION: u8 = 1;
    /// The bytes before the token (version to token length).
    pub(super) const FIXED_LEN: usize = 24;
    /// The largest record [`encode`] writes: size the storage buffer with it.
    pub const MAX_LEN: usize = FIXED_LEN
        + MAX_TOKEN_LEN
        + MAX_ASSETS * (1 + MAX_ASSET_ID_LEN + 2 + MAX_URL_LEN)
        + MAX_PLAY_ORDER
        + 4;

    const NO_BACKGROUND: u8 = 0xFF;

    /// Why [`decode`] refused a record.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RecordError {
        /// Shorter than its contents say (or than any record).
        Truncated,
        /// Written by another format version (the first byte).
        UnknownVersion(u8),
        /// The checksum does not match: the storage corrupted the record.
        Checksum,
        /// The checksum matches but a value is not one [`super::parse`] would accept.
        Invalid(&'static str),
    }

    impl fmt::Display for RecordError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecordError::Truncated => f.write_str("alert record truncated"),
                RecordError::UnknownVersion(_) => f.write_str("alert record of an unknown version"),
                RecordError::Checksum => f.write_str("alert record checksum mismatch"),
                RecordError::Invalid(m) => f.write_str(m),
            }
        }
    }

    /// CRC-32 (reflected, polynomial 0xEDB88320), bit by bit: records are small and rare.
    pub(super) fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            }
        }
        !c
    }

    /// Writes `alert` into `out` and returns the length ([`Alert::record_len`], at most
    /// [`MAX_LEN`]); [`Overflow`] when `out` is shorter.
    pub fn encode(alert: &Alert<'_>, out: &mut [u8]) -> Result<usize, Overflow> {
        let len = alert.record_len();
        if out.len() < len {
            return Err(Overflow);
        }
        let flags =
            u8::from(alert.loop_count.is_some()) | u8::from(alert.loop_pause_ms.is_some()) << 1;
        let mut pos = 0;
        put_all(
            out,
            &mut pos,
            &[
                &[VERSION, alert.kind.code()],
                &alert.scheduled_unix_ms.to_le_bytes(),
                &[flags],
                &alert.loop_count.unwrap_or(0).to_le_bytes(),
                &alert.loop_pause_ms.unwrap_or(0).to_le_bytes(),
                &[
                    alert.asset_count,
                    alert.play_order_len,
                    alert.background.unwrap_or(NO_BACKGROUND),
                ],
                &(alert.token.len() as u16).to_le_bytes(),
                alert.token.as_bytes(),
            ],
        )?;
        for a in alert.assets() {
            put_all(
                out,
                &mut pos,
                &[
                    &[a.id.len() as u8],
                    a.id.as_bytes(),
                    &(a.url.len() as u16).to_le_bytes(),
                    a.url.as_bytes(),
                ],
            )?;
        }
        put_all(out, &mut pos, &[alert.play_order_indices()])?;
        let crc = crc32(&out[..pos]);
        put_all(out, &mut pos, &[&crc.to_le_bytes()])?;
        debug_assert_eq!(pos, len);
        Ok(pos)
    }

    /// Reads the fields of a record in order.
    struct Reader<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl<'a> Reader<'a> {
        fn bytes(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
            let end = self.i.checked_add(n).ok_or(RecordError::Truncated)?;
            let b = self.s.get(self.i..end).ok_or(RecordError::Truncated)?;
            self.i = end;
            Ok(b)
        }

        fn u8(&mut self) -> Result<u8, RecordError> {
            Ok(self.bytes(1)?[0])
        }

        fn u16(&mut self) -> Result<usize, RecordError> {
            let b = self.bytes(2)?;
            Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
        }

        fn u32(&mut self) -> Result<u32, RecordError> {
            let b = self.bytes(4)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        }

        fn u64(&mut self) -> Result<u64, RecordError> {
            let (lo, hi) = (u64::from(self.u32()?), u64::from(self.u32()?));
            Ok(lo | hi << 32)
        }

        /// A string of `len` bytes, which must be `1..=max` and UTF-8.
        fn str(
            &mut self,
            len: usize,
            max: usize,
            what: &'static str,
        ) -> Result<&'a str, RecordError> {
            let b = self.bytes(len)?;
            if b.is_empty() || b.len() > max {
                return Err(RecordError::Invalid(what));
            }
            core::str::from_utf8(b).map_err(|_| RecordError::Invalid(what))
        }
    }

    /// Reads a record written by [`encode`] (of any length: trailing bytes are refused); the
    /// alert's strings borrow from `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Alert<'_>, RecordError> {
        use RecordError::{Checksum, Invalid, Truncated};
        match bytes.first() {
            None => return Err(Truncated),
            Some(&VERSION) => {}
            Some(&v) => return Err(RecordError::UnknownVersion(v)),
        }
        if bytes.len() < FIXED_LEN + 4 {
            return Err(Truncated);
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(Checksum);
        }
        let mut r = Reader { s: body, i: 1 };
        let kind = *AlertType::ALL
            .get(usize::from(r.u8()?))
            .ok_or(Invalid("alert record has an unknown type"))?;
        let scheduled = r.u64()?;
        if scheduled > MAX_UNIX_MS {
            return Err(Invalid("alert record has a time after 9999"));
        }
        let flags = r.u8()?;
        if flags > 3 {
            return Err(Invalid("alert record has unknown flags"));
        }
        let optional = |present: bool, v: u32| match (present, v) {
            (true, v) if v <= MAX_LOOP_VALUE => Ok(Some(v)),
            (false, 0) => Ok(None),
            _ => Err(Invalid("alert record has an invalid loop value")),
        };
        let loop_count = optional(flags & 1 != 0, r.u32()?)?;
        let loop_pause_ms = optional(flags & 2 != 0, r.u32()?)?;
        let (asset_count, play_order_len, background) = (r.u8()?, r.u8()?, r.u8()?);
        if usize::from(asset_count) > MAX_ASSETS {
            return Err(Invalid("alert record has too many assets"));
        }
        if usize::from(play_order_len) > MAX_PLAY_ORDER {
            return Err(Invalid("alert record has too long a play order"));
        }
        let token_len = r.u16()?;
        let token = r.str(
            token_len,
            MAX_TOKEN_LEN,
            "alert record has an invalid token",
        )?;
        let mut alert = Alert::empty(token, kind, scheduled);
        alert.loop_count = loop_count;
        alert.loop_pause_ms = loop_pause_ms;
        for _ in 0..asset_count {
            let id_len = usize::from(r.u8()?);
            let id = r.str(
                id_len,
                MAX_ASSET_ID_LEN,
                "alert record has an invalid asset id",
            )?;
            let url_len = r.u16()?;
            let url = r.str(
                url_len,
                MAX_URL_LEN,
                "alert record has an invalid asset url",
            )?;
            if alert.asset(id).is_some() {
                return Err(Invalid("alert record has two assets with the same id"));
            }
            alert.assets[usize::from(alert.asset_count)] = Asset { id, url };
            alert.asset_count += 1;
        }
        let order = r.bytes(usize::from(play_order_len))?;
        if order.iter().any(|&i| i >= asset_count) {
            return Err(Invalid("alert record's play order names no asset"));
        }
        alert.play_order[..order.len()].copy_from_slice(order);
        alert.play_order_len = play_order_len;
        alert.background = match background {
            NO_BACKGROUND => None,
            i if i < asset_count => Some(i),
            _ => return Err(Invalid("alert record's background asset names no asset")),
        };
        if r.i != body.len() {
            return Err(Invalid("alert record has trailing bytes"));
        }
        Ok(alert)
    }
}

#[cfg(test)]
mod tests {
    use super::record::{decode, encode, RecordError, MAX_LEN};
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length, context_entry, minify};
    use crate::message::parse_directive;
    use serde_json::json;
    use std::string::String;
    use std::vec::Vec;

    /// A SetAlert in the shape of the Alerts 1.x sample message (a reminder with two assets).
    const SET: &[u8] = br#"{"directive":{"header":{"namespace":"Alerts","name":"SetAlert","messageId":"m-1","dialogRequestId":"d-1"},"payload":{"token":"amzn1.as-ct.v1.Domain:Application:NotificationsV4#DNID#0b2c6a0e-1111","type":"REMINDER","scheduledTime":"2018-04-03T16:00:00+0000","assets":[{"assetId":"3af1a946-melodic","url":"https://example.com/tones/system_alerts_melodic_01.mp3"},{"assetId":"e829df39-short","url":"https://example.com/tones/alarm_short_alert.mp3"}],"assetPlayOrder":["3af1a946-melodic"],"backgroundAlertAsset":"e829df39-short","loopCount":2,"loopPauseInMilliSeconds":4000}}}"#;
    const T_2018_04_03_16: u64 = 1_522_771_200_000;

    fn set_alert(payload: &[u8]) -> Result<Alert<'_>, DirectiveError> {
        match parse(SET_ALERT, payload)? {
            AlertsDirective::SetAlert(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    fn spec_alert() -> Alert<'static> {
        let d = parse_directive(SET).unwrap();
        assert_eq!((d.header.namespace, d.header.name), (NAMESPACE, SET_ALERT));
        set_alert(d.payload).unwrap()
    }

    /// A payload with the member `key` set to the raw JSON `value` in a minimal valid SetAlert
    /// (`None` removes it).
    fn with(key: &str, value: Option<&str>) -> String {
        let mut members: Vec<(String, String)> = [
            ("token", r#""t-1""#),
            ("type", r#""ALARM""#),
            ("scheduledTime", r#""2017-08-01T11:30:00+0000""#),
            ("assets", r#"[{"assetId":"a","url":"https://x/a.mp3"},{"assetId":"b","url":"https://x/b.mp3"}]"#),
            ("assetPlayOrder", r#"["a","b","a"]"#),
            ("backgroundAlertAsset", r#""b""#),
            ("loopCount", "3"),
            ("loopPauseInMilliSeconds", "1000"),
        ]
        .iter()
        .map(|(k, v)| (String::from(*k), String::from(*v)))
        .collect();
        members.retain(|(k, _)| k != key);
        if let Some(v) = value {
            members.push((key.into(), v.into()));
        }
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| std::format!(r#""{k}":{v}"#))
            .collect();
        std::format!("{{{}}}", body.join(","))
    }

    #[test]
    fn set_alert_spec_example() {
        let a = spec_alert();
        assert_eq!(
            a.token(),
            "amzn1.as-ct.v1.Domain:Application:NotificationsV4#DNID#0b2c6a0e-1111"
        );
        assert_eq!(a.kind(), AlertType::Reminder);
        assert_eq!(a.scheduled_unix_ms(), T_2018_04_03_16);
        let melodic = Asset {
            id: "3af1a946-melodic",
            url: "https://example.com/tones/system_alerts_melodic_01.mp3",
        };
        let short = Asset {
            id: "e829df39-short",
            url: "https://example.com/tones/alarm_short_alert.mp3",
        };
        assert_eq!(a.assets(), &[melodic, short]);
        assert_eq!(a.play_order().collect::<Vec<_>>(), [melodic]);
        assert_eq!(a.play_order_indices(), &[0]);
        assert_eq!(a.background_asset(), Some(short));
        assert_eq!(a.asset("e829df39-short"), Some(short));
        assert_eq!(a.asset("nope"), None);
        assert_eq!(a.loop_count(), Some(2));
        assert_eq!(a.loop_pause_ms(), Some(4000));
    }

    #[test]
    fn set_alert_minimal_and_variants() {
        for (kind, want) in [
            ("ALARM", AlertType::Alarm),
            ("TIMER", AlertType::Timer),
            ("REMINDER", AlertType::Reminder),
        ] {
            let payload = std::format!(
                r#"{{"token":"t","type":"{kind}","scheduledTime":"2017-08-01T12:30:00+01:00"}}"#
            );
            let a = set_alert(payload.as_bytes()).unwrap();
            assert_eq!(a.token(), "t");
            assert_eq!(a.kind(), want);
            assert_eq!(AlertType::from_wire(kind), Some(want));
            assert_eq!(want.as_str(), kind);
            assert_eq!(a.scheduled_unix_ms(), 1_501_587_000_000);
            assert!(a.assets().is_empty());
            assert_eq!(a.play_order().count(), 0);
            assert_eq!(a.background_asset(), None);
            assert_eq!((a.loop_count(), a.loop_pause_ms()), (None, None));
        }
        // Repeated play-order entries, nulls as absent, an empty background, zero loops,
        // unknown members (later versions) ignored, whitespace.
        let a = set_alert(
            br#" { "token" : "t", "type":"TIMER", "scheduledTime":"2017-08-01T11:30:00.250Z",
                  "assets":[ {"assetId":"a","url":"u","extra":[1]} , {"url":"v","assetId":"b"} ],
                  "assetPlayOrder":["b","a","b"], "backgroundAlertAsset":"", "loopCount":0,
                  "loopPauseInMilliSeconds":null, "label":"pasta", "originalTime":"x" } "#,
        )
        .unwrap();
        assert_eq!(a.scheduled_unix_ms(), 1_501_587_000_250);
        let ids: Vec<_> = a.play_order().map(|x| x.id).collect();
        assert_eq!(ids, ["b", "a", "b"]);
        assert_eq!(a.background_asset(), None);
        assert_eq!((a.loop_count(), a.loop_pause_ms()), (Some(0), None));
        // Assets without a play order, empty arrays, null arrays.
        let p = with("assetPlayOrder", None);
        let a = set_alert(p.as_bytes()).unwrap();
        assert_eq!((a.assets().len(), a.play_order().count()), (2, 0));
        let p = with("assetPlayOrder", Some("[]"));
        let a = set_alert(p.as_bytes()).unwrap();
        assert_eq!(a.play_order().count(), 0);
        let p = r#"{"token":"t","type":"ALARM","scheduledTime":"2017-08-01T11:30:00Z","assets":[],"assetPlayOrder":null}"#;
        assert!(set_alert(p.as_bytes()).unwrap().assets().is_empty());
        // The base payload of the invalid-field table is itself valid.
        let p = with("", None);
        let a = set_alert(p.as_bytes()).unwrap();
        assert_eq!(a.play_order_indices(), &[0, 1, 0]);
        assert_eq!(a.background_asset().map(|b| b.id), Some("b"));
    }

    #[test]
    fn invalid_set_alert() {
        let inv = DirectiveError::Invalid;
        let long = |n: usize| std::format!(r#""{}""#, "x".repeat(n));
        let assets = |n: usize| {
            let items: Vec<String> = (0..n)
                .map(|i| std::format!(r#"{{"assetId":"a{i}","url":"u{i}"}}"#))
                .collect();
            std::format!("[{}]", items.join(","))
        };
        let cases: Vec<(String, DirectiveError)> = [
            (with("token", None), inv("payload.token is missing")),
            (with("token", Some("null")), inv("payload.token is missing")),
            (
                with("token", Some("5")),
                inv("payload.token is not a string"),
            ),
            (
                with("token", Some(r#"["t"]"#)),
                inv("payload.token is not a string"),
            ),
            (
                with("token", Some(r#""""#)),
                inv("payload.token is outside 1..256 bytes"),
            ),
            (
                with("token", Some(&long(257))),
                inv("payload.token is outside 1..256 bytes"),
            ),
            (
                with("token", Some(r#""a\"b""#)),
                inv("payload.token contains JSON escapes"),
            ),
            (with("type", None), inv("payload.type is missing")),
            (with("type", Some("1")), inv("payload.type is not a string")),
            (
                with("type", Some(r#""alarm""#)),
                inv("payload.type is not ALARM, TIMER or REMINDER"),
            ),
            (
                with("type", Some(r#""NAP""#)),
                inv("payload.type is not ALARM, TIMER or REMINDER"),
            ),
            (
                with("type", Some(r#""""#)),
                inv("payload.type is not ALARM, TIMER or REMINDER"),
            ),
            (
                with("scheduledTime", None),
                inv("payload.scheduledTime is missing"),
            ),
            (
                with("scheduledTime", Some("1501587000")),
                inv("payload.scheduledTime is not a string"),
            ),
            (
                with("scheduledTime", Some(r#""2017-08-01T11:30:00""#)),
                inv("payload.scheduledTime is not an ISO-8601 date and time with a UTC offset"),
            ),
            (
                with("scheduledTime", Some(r#""tomorrow""#)),
                inv("payload.scheduledTime is not an ISO-8601 date and time with a UTC offset"),
            ),
            (
                with("scheduledTime", Some(r#""2017-02-30T11:30:00+0000""#)),
                inv("payload.scheduledTime is not a valid date and time"),
            ),
            (
                with("scheduledTime", Some(r#""2017-08-01T24:00:00+0000""#)),
                inv("payload.scheduledTime is not a valid date and time"),
            ),
            (
                with("scheduledTime", Some(r#""1969-12-31T23:59:59+0000""#)),
                inv("payload.scheduledTime is outside 1970..9999"),
            ),
            (
                with("scheduledTime", Some(r#""2017-08-01T11:30:00\u002B0000""#)),
                inv("payload.scheduledTime contains JSON escapes"),
            ),
            (
                with("assets", Some("{}")),
                inv("payload.assets is not an array"),
            ),
            (
                with("assets", Some(r#""a""#)),
                inv("payload.assets is not an array"),
            ),
            (
                with("assets", Some(r#"["a"]"#)),
                inv("payload.assets[] is not an object"),
            ),
            (
                with("assets", Some("[[]]")),
                inv("payload.assets[] is not an object"),
            ),
            (
                with("assets", Some("[null]")),
                inv("payload.assets[] is not an object"),
            ),
            (
                with("assets", Some(r#"[{"url":"u"}]"#)),
                inv("payload.assets[].assetId is missing"),
            ),
            (
                with("assets", Some(r#"[{"assetId":1,"url":"u"}]"#)),
                inv("payload.assets[].assetId is not a string"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"","url":"u"}]"#)),
                inv("payload.assets[].assetId is outside 1..128 bytes"),
            ),
            (
                with(
                    "assets",
                    Some(&std::format!(r#"[{{"assetId":{},"url":"u"}}]"#, long(129))),
                ),
                inv("payload.assets[].assetId is outside 1..128 bytes"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"\u0061","url":"u"}]"#)),
                inv("payload.assets[].assetId contains JSON escapes"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"a"}]"#)),
                inv("payload.assets[].url is missing"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"a","url":null}]"#)),
                inv("payload.assets[].url is missing"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"a","url":true}]"#)),
                inv("payload.assets[].url is not a string"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"a","url":""}]"#)),
                inv("payload.assets[].url is outside 1..512 bytes"),
            ),
            (
                with(
                    "assets",
                    Some(&std::format!(r#"[{{"assetId":"a","url":{}}}]"#, long(513))),
                ),
                inv("payload.assets[].url is outside 1..512 bytes"),
            ),
            (
                with("assets", Some(r#"[{"assetId":"a","url":"https:\/\/x"}]"#)),
                inv("payload.assets[].url contains JSON escapes"),
            ),
            (
                with(
                    "assets",
                    Some(r#"[{"assetId":"a","url":"u"},{"assetId":"a","url":"v"}]"#),
                ),
                inv("payload.assets has two assets with the same assetId"),
            ),
            (
                with("assets", Some(&assets(9))),
                inv("payload.assets has more than 8 assets"),
            ),
            // Without assets, the play order and the background name nothing.
            (
                with("assets", None),
                inv("payload.assetPlayOrder[] names no asset of payload.assets"),
            ),
            (
                with("assetPlayOrder", Some(r#""a""#)),
                inv("payload.assetPlayOrder is not an array"),
            ),
            (
                with("assetPlayOrder", Some(r#"{"a":1}"#)),
                inv("payload.assetPlayOrder is not an array"),
            ),
            (
                with("assetPlayOrder", Some("[1]")),
                inv("payload.assetPlayOrder[] is not a string"),
            ),
            (
                with("assetPlayOrder", Some("[null]")),
                inv("payload.assetPlayOrder[] is not a string"),
            ),
            (
                with("assetPlayOrder", Some(r#"["\u0061"]"#)),
                inv("payload.assetPlayOrder[] contains JSON escapes"),
            ),
            (
                with("assetPlayOrder", Some(r#"["a","c"]"#)),
                inv("payload.assetPlayOrder[] names no asset of payload.assets"),
            ),
            (
                with("assetPlayOrder", Some(r#"[""]"#)),
                inv("payload.assetPlayOrder[] names no asset of payload.assets"),
            ),
            (
                with(
                    "assetPlayOrder",
                    Some(&std::format!("[{}]", [r#""a""#; 17].join(","))),
                ),
                inv("payload.assetPlayOrder has more than 16 entries"),
            ),
            (
                with("backgroundAlertAsset", Some("1")),
                inv("payload.backgroundAlertAsset is not a string"),
            ),
            (
                with("backgroundAlertAsset", Some("[]")),
                inv("payload.backgroundAlertAsset is not a string"),
            ),
            (
                with("backgroundAlertAsset", Some(r#""c""#)),
                inv("payload.backgroundAlertAsset names no asset of payload.assets"),
            ),
            (
                with("backgroundAlertAsset", Some(r#""\u0062""#)),
                inv("payload.backgroundAlertAsset contains JSON escapes"),
            ),
            (
                with("loopCount", Some(r#""3""#)),
                inv("payload.loopCount is not an integer"),
            ),
            (
                with("loopCount", Some("3.0")),
                inv("payload.loopCount is not an integer"),
            ),
            (
                with("loopCount", Some("true")),
                inv("payload.loopCount is not an integer"),
            ),
            (
                with("loopCount", Some("-1")),
                inv("payload.loopCount is outside 0..2147483647"),
            ),
            (
                with("loopCount", Some("2147483648")),
                inv("payload.loopCount is outside 0..2147483647"),
            ),
            (
                with("loopPauseInMilliSeconds", Some("1e3")),
                inv("payload.loopPauseInMilliSeconds is not an integer"),
            ),
            (
                with("loopPauseInMilliSeconds", Some("-5")),
                inv("payload.loopPauseInMilliSeconds is outside 0..2147483647"),
            ),
            (
                with("loopPauseInMilliSeconds", Some("99999999999999999999")),
                inv("payload.loopPauseInMilliSeconds is outside 0..2147483647"),
            ),
            ("[]".into(), inv(NOT_AN_OBJECT)),
            (r#"{"token":"t""#.into(), inv(NOT_AN_OBJECT)),
            ("".into(), inv(NOT_AN_OBJECT)),
        ]
        .into_iter()
        .collect();
        for (payload, want) in cases {
            assert_eq!(set_alert(payload.as_bytes()), Err(want), "{payload}");
        }
    }

    #[test]
    fn set_alert_limits() {
        let at_limits = std::format!(
            r#"{{"token":"{}","type":"TIMER","scheduledTime":"9999-12-31T23:59:59.999Z","assets":[{}],"assetPlayOrder":[{}],"backgroundAlertAsset":"{}7","loopCount":2147483647,"loopPauseInMilliSeconds":2147483647}}"#,
            "t".repeat(MAX_TOKEN_LEN),
            (0..MAX_ASSETS)
                .map(|i| std::format!(
                    r#"{{"assetId":"{}{i}","url":"{}{i}"}}"#,
                    "i".repeat(MAX_ASSET_ID_LEN - 1),
                    "u".repeat(MAX_URL_LEN - 1)
                ))
                .collect::<Vec<_>>()
                .join(","),
            (0..MAX_PLAY_ORDER)
                .map(|i| std::format!(
                    r#""{}{}""#,
                    "i".repeat(MAX_ASSET_ID_LEN - 1),
                    i % MAX_ASSETS
                ))
                .collect::<Vec<_>>()
                .join(","),
            "i".repeat(MAX_ASSET_ID_LEN - 1),
        );
        let a = set_alert(at_limits.as_bytes()).unwrap();
        assert_eq!(a.token().len(), MAX_TOKEN_LEN);
        assert_eq!(a.assets().len(), MAX_ASSETS);
        assert_eq!(a.play_order().count(), MAX_PLAY_ORDER);
        assert_eq!(a.background_asset(), Some(a.assets()[7]));
        assert_eq!(a.loop_count(), Some(MAX_LOOP_VALUE));
        assert_eq!(a.loop_pause_ms(), Some(MAX_LOOP_VALUE));
        assert_eq!(a.scheduled_unix_ms(), crate::time::MAX_UNIX_MS);
        // The largest alert fills the largest record exactly.
        assert_eq!(a.record_len(), MAX_LEN);
        let mut buf = std::vec![0u8; MAX_LEN];
        assert_eq!(encode(&a, &mut buf), Ok(MAX_LEN));
        assert_eq!(decode(&buf), Ok(a));
    }

    #[test]
    fn delete_alert_and_alerts() {
        let doc = br#"{"directive":{"header":{"namespace":"Alerts","name":"DeleteAlert","messageId":"m"},"payload":{"token":"amzn1.as-ct.v1.ThIs-iS-a-ToKeN"}}}"#;
        let d = parse_directive(doc).unwrap();
        assert_eq!(
            parse(d.header.name, d.payload),
            Ok(AlertsDirective::DeleteAlert {
                token: "amzn1.as-ct.v1.ThIs-iS-a-ToKeN"
            })
        );
        let doc = br#"{"directive":{"header":{"namespace":"Alerts","name":"DeleteAlerts","messageId":"m"},"payload":{"tokens":["t-1", "t-2" ,"t-3"]}}}"#;
        let d = parse_directive(doc).unwrap();
        let Ok(AlertsDirective::DeleteAlerts { tokens }) = parse(d.header.name, d.payload) else {
            panic!()
        };
        assert_eq!(tokens.collect::<Vec<_>>(), ["t-1", "t-2", "t-3"]);
        let Ok(AlertsDirective::DeleteAlerts { tokens }) =
            parse(DELETE_ALERTS, br#"{"tokens":[]}"#)
        else {
            panic!()
        };
        assert_eq!(tokens.count(), 0);

        let inv = DirectiveError::Invalid;
        for (name, payload, want) in [
            (DELETE_ALERT, &br#"{}"#[..], inv("payload.token is missing")),
            (
                DELETE_ALERT,
                br#"{"token":null}"#,
                inv("payload.token is missing"),
            ),
            (
                DELETE_ALERT,
                br#"{"tokens":["t"]}"#,
                inv("payload.token is missing"),
            ),
            (
                DELETE_ALERT,
                br#"{"token":7}"#,
                inv("payload.token is not a string"),
            ),
            (
                DELETE_ALERT,
                br#"{"token":""}"#,
                inv("payload.token is outside 1..256 bytes"),
            ),
            (
                DELETE_ALERT,
                br#"{"token":"\ta"}"#,
                inv("payload.token contains JSON escapes"),
            ),
            (DELETE_ALERT, br#"["t"]"#, inv(NOT_AN_OBJECT)),
            (DELETE_ALERTS, br#"{}"#, inv("payload.tokens is missing")),
            (
                DELETE_ALERTS,
                br#"{"token":"t"}"#,
                inv("payload.tokens is missing"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":"t"}"#,
                inv("payload.tokens is not an array"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":{"t":1}}"#,
                inv("payload.tokens is not an array"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":["t",5]}"#,
                inv("payload.tokens[] is not a string"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":[null]}"#,
                inv("payload.tokens[] is not a string"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":["t",""]}"#,
                inv("payload.tokens[] is outside 1..256 bytes"),
            ),
            (
                DELETE_ALERTS,
                br#"{"tokens":["\u0074"]}"#,
                inv("payload.tokens[] contains JSON escapes"),
            ),
            (DELETE_ALERTS, br#"{"tokens":["t"]"#, inv(NOT_AN_OBJECT)),
        ] {
            assert_eq!(
                parse(name, payload),
                Err(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
        let long = std::format!(r#"{{"tokens":["{}"]}}"#, "t".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(
            parse(DELETE_ALERTS, long.as_bytes()),
            Err(inv("payload.tokens[] is outside 1..256 bytes"))
        );
    }

    #[test]
    fn volume_directives() {
        use AlertsDirective::*;
        let inv = DirectiveError::Invalid;
        for (name, payload, want) in [
            (
                SET_VOLUME,
                &br#"{"volume":0}"#[..],
                Ok(SetVolume { volume: 0 }),
            ),
            (
                SET_VOLUME,
                br#"{"volume":100}"#,
                Ok(SetVolume { volume: 100 }),
            ),
            (
                ADJUST_VOLUME,
                br#"{"volume":-100}"#,
                Ok(AdjustVolume { delta: -100 }),
            ),
            (
                ADJUST_VOLUME,
                br#"{"volume":25}"#,
                Ok(AdjustVolume { delta: 25 }),
            ),
            (
                SET_VOLUME,
                br#"{"volume":101}"#,
                Err(inv("payload.volume is outside 0..100")),
            ),
            (
                SET_VOLUME,
                br#"{"volume":-1}"#,
                Err(inv("payload.volume is outside 0..100")),
            ),
            (
                SET_VOLUME,
                br#"{"volume":"5"}"#,
                Err(inv("payload.volume is not an integer")),
            ),
            (SET_VOLUME, br#"{}"#, Err(inv("payload.volume is missing"))),
            (
                ADJUST_VOLUME,
                br#"{"volume":101}"#,
                Err(inv("payload.volume is outside -100..100")),
            ),
            (
                ADJUST_VOLUME,
                br#"{"volume":1.5}"#,
                Err(inv("payload.volume is not an integer")),
            ),
            (ADJUST_VOLUME, br#"5"#, Err(inv(NOT_AN_OBJECT))),
        ] {
            assert_eq!(
                parse(name, payload),
                want,
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn unknown_names_are_unsupported() {
        for name in [
            "",
            "setAlert",
            "SetAlerts",
            "DeleteAlertsSucceeded",
            "AlertStarted",
            "SetMute",
        ] {
            assert_eq!(
                parse(name, b"{}"),
                Err(DirectiveError::Unsupported),
                "{name}"
            );
        }
        assert_eq!(parse("Nope", b"garbage"), Err(DirectiveError::Unsupported));
    }

    #[test]
    fn parsing_never_panics() {
        let set = parse_directive(SET).unwrap().payload;
        never_panics(set, |p| {
            let _ = parse(SET_ALERT, p);
        });
        never_panics(with("", None).as_bytes(), |p| {
            let _ = parse(SET_ALERT, p);
        });
        never_panics(br#"{"tokens":["a","b"],"token":"c","volume":5}"#, |p| {
            for name in [DELETE_ALERT, DELETE_ALERTS, SET_VOLUME, ADJUST_VOLUME] {
                if let Ok(AlertsDirective::DeleteAlerts { tokens }) = parse(name, p) {
                    for t in tokens {
                        assert!(!t.is_empty());
                    }
                }
            }
        });
    }

    fn written(f: impl Fn(&mut JsonWriter<'_>)) -> Vec<u8> {
        check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            f(&mut w);
            w.finish()
        })
    }

    #[test]
    fn token_events() {
        let names: Vec<_> = TokenEvent::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                "SetAlertSucceeded",
                "SetAlertFailed",
                "DeleteAlertSucceeded",
                "DeleteAlertFailed",
                "AlertStarted",
                "AlertStopped",
                "AlertEnteredForeground",
                "AlertEnteredBackground"
            ]
        );
        // The spec's payload: { "token": "{{STRING}}" }.
        assert_eq!(
            written(|w| write_token(w, "amzn1.as-ct.v1.x#1")),
            br#"{"token":"amzn1.as-ct.v1.x#1"}"#
        );
        assert_eq!(
            as_json(&written(|w| write_token(w, "a\"b\\"))),
            json!({"token":"a\"b\\"})
        );
        // The whole event, as the spec's sample message (no context for these events).
        for e in TokenEvent::ALL {
            let payload = written(|w| write_token(w, "t-1"));
            let header = crate::message::EventHeader {
                namespace: NAMESPACE,
                name: e.name(),
                message_id: "m-1",
                dialog_request_id: None,
            };
            let mut out = [0u8; 256];
            let n = crate::message::write_event(&mut out, &header, None, &payload).unwrap();
            let want = std::format!(
                r#"{{ "event": {{ "header": {{ "namespace": "Alerts", "name": "{}", "messageId": "m-1" }},
                     "payload": {{ "token": "t-1" }} }} }}"#,
                e.name()
            );
            assert_eq!(core::str::from_utf8(&out[..n]).unwrap(), minify(&want));
        }
    }

    #[test]
    fn tokens_and_volume_events() {
        assert_eq!(
            (DELETE_ALERTS_SUCCEEDED, DELETE_ALERTS_FAILED),
            ("DeleteAlertsSucceeded", "DeleteAlertsFailed")
        );
        assert_eq!(
            written(|w| write_tokens(w, ["t-1", "t-2"])),
            br#"{"tokens":["t-1","t-2"]}"#
        );
        assert_eq!(written(|w| write_tokens(w, [])), br#"{"tokens":[]}"#);
        // Straight from a DeleteAlerts.
        let Ok(AlertsDirective::DeleteAlerts { tokens }) =
            parse(DELETE_ALERTS, br#"{"tokens":["x","y"]}"#)
        else {
            panic!()
        };
        assert_eq!(
            as_json(&written(|w| write_tokens(w, tokens))),
            json!({"tokens":["x","y"]})
        );
        assert_eq!(VOLUME_CHANGED, "VolumeChanged");
        assert_eq!(written(|w| write_volume(w, 50)), br#"{"volume":50}"#);
        assert_eq!(written(|w| write_volume(w, 200)), br#"{"volume":100}"#);
    }

    #[test]
    fn alerts_state_context() {
        let a = spec_alert();
        let got = written(|w| {
            context_entry(w, NAMESPACE, ALERTS_STATE, |w| {
                write_alerts_state(
                    w,
                    [
                        (a.token(), a.kind(), a.scheduled_unix_ms()),
                        ("t-2", AlertType::Timer, 1_501_587_000_123),
                        ("t-3", AlertType::Alarm, 0),
                    ],
                    [("t-2", AlertType::Timer, 1_501_587_000_123)],
                )
            })
        });
        let want = r#"{
            "header": { "namespace": "Alerts", "name": "AlertsState" },
            "payload": {
                "allAlerts": [
                    { "token": "amzn1.as-ct.v1.Domain:Application:NotificationsV4#DNID#0b2c6a0e-1111",
                      "type": "REMINDER", "scheduledTime": "2018-04-03T16:00:00.000Z" },
                    { "token": "t-2", "type": "TIMER", "scheduledTime": "2017-08-01T11:30:00.123Z" },
                    { "token": "t-3", "type": "ALARM", "scheduledTime": "1970-01-01T00:00:00.000Z" }
                ],
                "activeAlerts": [
                    { "token": "t-2", "type": "TIMER", "scheduledTime": "2017-08-01T11:30:00.123Z" }
                ]
            }
        }"#;
        assert_eq!(core::str::from_utf8(&got).unwrap(), minify(want));
        // The times written read back to the same milliseconds.
        let v = as_json(&got);
        let t = v["payload"]["allAlerts"][1]["scheduledTime"]
            .as_str()
            .unwrap();
        assert_eq!(
            crate::time::parse_iso8601(t.as_bytes()),
            Ok(1_501_587_000_123)
        );
        // No alerts.
        let none: [(&str, AlertType, u64); 0] = [];
        assert_eq!(
            written(|w| write_alerts_state(w, none, none)),
            br#"{"allAlerts":[],"activeAlerts":[]}"#
        );
    }

    fn encoded(a: &Alert<'_>) -> Vec<u8> {
        check_every_length(|out| encode(a, out))
    }

    /// `body` with its CRC appended: a record whose checksum is right whatever its contents.
    fn sealed(mut body: Vec<u8>) -> Vec<u8> {
        let crc = record::crc32(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    }

    #[test]
    fn max_len_as_documented() {
        assert_eq!(MAX_LEN, 5444);
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(record::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(record::crc32(b""), 0);
    }

    #[test]
    fn record_golden_bytes() {
        let a = set_alert(
            br#"{"token":"tk","type":"TIMER","scheduledTime":"1970-01-01T00:00:01.002Z","assets":[{"assetId":"a","url":"u"}],"assetPlayOrder":["a","a"],"backgroundAlertAsset":"a","loopCount":3}"#,
        )
        .unwrap();
        let mut want: Vec<u8> = std::vec![
            1, // version
            1, // TIMER
            0xEA, 0x03, 0, 0, 0, 0, 0, 0,    // 1002 ms
            0b01, // loopCount present, loopPause absent
            3, 0, 0, 0, // loopCount
            0, 0, 0, 0, // loopPause
            1, 2, 0, // 1 asset, play order of 2, background asset 0
            2, 0, b't', b'k', // token
            1, b'a', 1, 0, b'u', // asset
            0, 0, // play order
        ];
        want = sealed(want);
        let got = encoded(&a);
        assert_eq!(got, want);
        assert_eq!(got.len(), a.record_len());
        assert_eq!(decode(&got), Ok(a));
    }

    #[test]
    fn record_round_trips() {
        let base = with("", None);
        let payloads: Vec<String> = std::vec![
            String::from_utf8(parse_directive(SET).unwrap().payload.to_vec()).unwrap(),
            base.clone(),
            with("assets", Some("[]"))
                .replace(r#""assetPlayOrder":["a","b","a"],"#, "")
                .replace(r#","backgroundAlertAsset":"b""#, ""),
            with("loopCount", None),
            with("loopPauseInMilliSeconds", None),
            with("backgroundAlertAsset", None),
            with("scheduledTime", Some(r#""2038-01-19T03:14:08+00:00""#)),
            with("token", Some("\"\u{e9}t\u{e9} \u{1F514}\"")),
        ];
        for p in &payloads {
            let a = set_alert(p.as_bytes()).unwrap_or_else(|e| panic!("{e}: {p}"));
            let bytes = encoded(&a);
            assert!(bytes.len() <= MAX_LEN);
            let b = decode(&bytes).unwrap();
            assert_eq!(b, a, "{p}");
            // Decoding then encoding gives the same bytes.
            assert_eq!(encoded(&b), bytes);
        }
    }

    #[test]
    fn record_damage_is_refused() {
        let bytes = encoded(&spec_alert());
        // Every truncation, including the empty record.
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "length {n}");
        }
        assert_eq!(decode(&[]), Err(RecordError::Truncated));
        assert_eq!(decode(&[1, 0, 0]), Err(RecordError::Truncated));
        // Trailing bytes.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        // Every single-byte change and every flipped bit.
        for i in 0..bytes.len() {
            let mut m = bytes.clone();
            for bit in 0..8 {
                m[i] ^= 1 << bit;
                assert!(decode(&m).is_err(), "byte {i} bit {bit}");
                m[i] ^= 1 << bit;
            }
        }
        // Another version.
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(decode(&v2), Err(RecordError::UnknownVersion(2)));
        assert_eq!(decode(&[0]), Err(RecordError::UnknownVersion(0)));
        let mut corrupt = bytes.clone();
        corrupt[30] ^= 0x55;
        assert_eq!(decode(&corrupt), Err(RecordError::Checksum));
    }

    /// Records with a right checksum and a wrong value, as a buggy writer would leave them.
    #[test]
    fn record_invalid_values_are_refused() {
        let good = encoded(&set_alert(with("", None).as_bytes()).unwrap());
        let body = &good[..good.len() - 4];
        assert_eq!(decode(&sealed(body.to_vec())).map(|a| a.token()), Ok("t-1"));
        let patch = |at: usize, bytes: &[u8]| {
            let mut b = body.to_vec();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            sealed(b)
        };
        let inv = RecordError::Invalid;
        for (record, want) in [
            (patch(1, &[3]), inv("alert record has an unknown type")),
            (
                patch(2, &(crate::time::MAX_UNIX_MS + 1).to_le_bytes()),
                inv("alert record has a time after 9999"),
            ),
            (patch(10, &[4]), inv("alert record has unknown flags")),
            (
                patch(10, &[0b10]),
                inv("alert record has an invalid loop value"),
            ), // count absent but 3
            (
                patch(11, &(MAX_LOOP_VALUE + 1).to_le_bytes()),
                inv("alert record has an invalid loop value"),
            ),
            (
                patch(15, &(MAX_LOOP_VALUE + 1).to_le_bytes()),
                inv("alert record has an invalid loop value"),
            ),
            (patch(19, &[9]), inv("alert record has too many assets")),
            (
                patch(20, &[17]),
                inv("alert record has too long a play order"),
            ),
            (
                patch(21, &[2]),
                inv("alert record's background asset names no asset"),
            ),
            (patch(22, &[0, 0]), inv("alert record has an invalid token")),
            (patch(24, &[0xFF]), inv("alert record has an invalid token")), // not UTF-8
            (patch(27, &[0]), inv("alert record has an invalid asset id")), // empty id
            (
                patch(28, &[0xC0]),
                inv("alert record has an invalid asset id"),
            ),
            (
                patch(29, &[0, 0]),
                inv("alert record has an invalid asset url"),
            ),
            (
                patch(47, b"a"),
                inv("alert record has two assets with the same id"),
            ),
            (
                patch(body.len() - 1, &[2]),
                inv("alert record's play order names no asset"),
            ),
            (
                sealed([body, &[0]].concat()),
                inv("alert record has trailing bytes"),
            ),
            (patch(48, &[0xFF, 0x01]), RecordError::Truncated),
            (patch(22, &[0xFF, 0]), RecordError::Truncated),
        ] {
            assert_eq!(decode(&record), Err(want));
        }
        // Background asset: none is 0xFF.
        assert_eq!(
            decode(&patch(21, &[0xFF])).unwrap().background_asset(),
            None
        );
    }

    #[test]
    fn record_random_bytes_never_panic() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut buf = [0u8; 600];
        for round in 0..20_000 {
            let len = (next() % buf.len() as u64) as usize;
            for b in buf[..len].iter_mut() {
                *b = next() as u8;
            }
            if round % 2 == 0 && len > 0 {
                buf[0] = record::VERSION;
            }
            let _ = decode(&buf[..len]);
            // With the checksum made right, the fields themselves are what decode checks.
            if len >= 4 {
                let crc = record::crc32(&buf[..len - 4]);
                buf[len - 4..len].copy_from_slice(&crc.to_le_bytes());
                if let Ok(a) = decode(&buf[..len]) {
                    assert_eq!(encoded(&a), &buf[..len]);
                }
            }
        }
        // And mutations of a real record, resealed.
        let good = encoded(&spec_alert());
        never_panics(&good[..good.len() - 4], |body| {
            let _ = decode(&sealed(body.to_vec()));
        });
    }
}

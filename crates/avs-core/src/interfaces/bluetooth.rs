//! `Bluetooth` **1.0** (the developer-preview interface of the 2018 AVS overview): the wire
//! format of its directives, events and context entry. The host owns the radio and the stack;
//! the client turns these directives into host callbacks and the host's results into these
//! events.
//!
//! Followed: "Bluetooth 1.0", <https://developer.amazon.com/docs/alexa-voice-service/bluetooth-1-0.html>,
//! with the payload keys as the AVS Device SDK's Bluetooth capability agent reads and writes
//! them (`alexa/avs-device-sdk`, `CapabilityAgents/Bluetooth/src/Bluetooth.cpp`, which declares
//! interface version 1.0). Where the two differ this module follows the documented shape: the
//! SDK sends `MediaControlNextSucceeded` for a failed `Next`, here it is
//! `MediaControlNextFailed`; the SDK ignores `durationInSeconds`, here it is read. Messages,
//! all in the `Bluetooth` namespace:
//!
//! | Directive | Payload | Events |
//! |---|---|---|
//! | `ScanDevices` | `{}` | `ScanDevicesUpdated` (repeatedly), `ScanDevicesFailed` |
//! | `EnterDiscoverableMode` | `{"durationInSeconds":N}` | `EnterDiscoverableModeSucceeded`/`Failed` |
//! | `ExitDiscoverableMode` | `{}` | none |
//! | `PairDevice` | `{"device":{"uniqueDeviceId":ID}}` | `PairDeviceSucceeded`/`Failed` |
//! | `UnpairDevice` | `{"device":{"uniqueDeviceId":ID}}` | `UnpairDeviceSucceeded`/`Failed` |
//! | `ConnectByDeviceId` | `{"device":{"uniqueDeviceId":ID}}` | `ConnectByDeviceIdSucceeded`/`Failed` |
//! | `ConnectByProfile` | `{"profile":{"name":P,"version":V}}` | `ConnectByProfileSucceeded`/`Failed` |
//! | `DisconnectDevice` | `{"device":{"uniqueDeviceId":ID}}` | `DisconnectDeviceSucceeded`/`Failed` |
//! | `Play`, `Stop`, `Next`, `Previous` | `{}` | `MediaControl{Play,Stop,Next,Previous}{Succeeded,Failed}` |
//!
//! and `StreamingStarted`/`StreamingEnded` `{"device":{"uniqueDeviceId":ID}}` when A2DP audio
//! from the active device starts or stops. A device that connects or disconnects on its own
//! (from the phone's menu) is reported with the same `ConnectByDeviceIdSucceeded` /
//! `DisconnectDeviceSucceeded` and `"requester":"DEVICE"` ([`Requester::Device`]).
//!
//! The context entry `Bluetooth.BluetoothState` ([`write_bluetooth_state`]):
//! `{"alexaDevice":{"friendlyName":..},"pairedDevices":[{"uniqueDeviceId":..,"friendlyName":..,
//! "supportedProfiles":[{"name":..,"version":..}]}],"activeDevice":{...,"streaming":S}}`, with
//! `activeDevice` absent while no device is connected and `S` one of `ACTIVE`, `PAUSED`,
//! `INACTIVE`.
//!
//! Devices are named by `uniqueDeviceId`, an id the client makes up per peer (the SDK uses a
//! UUID per MAC address and keeps the mapping); the MAC itself only ever leaves the device as
//! `truncatedMacAddress` (`XX:XX:XX:XX:AB:CD`) in `ScanDevicesUpdated`.
//!
//! Differences from **Bluetooth 2.0** (<https://developer.amazon.com/docs/alexa-voice-service/bluetooth.html>,
//! "Version changes"), not implemented here: several simultaneous connections, so the context
//! loses `activeDevice` and each paired device gains `deviceCategory` and `connectionState`;
//! `supportedProfiles` covers more profiles; `SetDeviceCategories` (and its two events) is
//! added; `ScanDevicesUpdated` becomes `ScanDevicesReport`, and `PairDevice`, `UnpairDevice`,
//! `ConnectByDeviceId`, `DisconnectDevice` become `PairDevices`, `UnpairDevices`,
//! `ConnectByDeviceIds`, `DisconnectDevices` with a `devices` list; most events no longer
//! need the context. A 2.0 name given to [`parse`] is [`DirectiveError::Unsupported`].

use super::{field_messages, DirectiveError, FieldError, FieldMessages, Object};
use crate::jsonw::JsonWriter;

/// The interface's namespace.
pub const NAMESPACE: &str = "Bluetooth";
/// The interface version this module follows (for the capabilities list).
pub const VERSION: &str = "1.0";
/// The context entry's name.
pub const BLUETOOTH_STATE: &str = "BluetoothState";
/// The event listing the devices found by a scan ([`write_scan_devices_updated`]).
pub const SCAN_DEVICES_UPDATED: &str = "ScanDevicesUpdated";

/// The profile names of Bluetooth 1.0 (`supportedProfiles[].name`, `profile.name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `A2DP-SOURCE`: the peer sends audio (a phone playing through the speaker).
    A2dpSource,
    /// `A2DP-SINK`: the peer receives audio (a Bluetooth speaker).
    A2dpSink,
    /// `A2DP`: either A2DP role (only in `ConnectByProfile`).
    A2dp,
    /// `AVRCP`: the peer accepts media control (play, pause, next, previous).
    Avrcp,
}

impl Profile {
    /// The profile named `name` (exact, case-sensitive), `None` for other names.
    pub fn from_name(name: &str) -> Option<Profile> {
        match name {
            "A2DP-SOURCE" => Some(Profile::A2dpSource),
            "A2DP-SINK" => Some(Profile::A2dpSink),
            "A2DP" => Some(Profile::A2dp),
            "AVRCP" => Some(Profile::Avrcp),
            _ => None,
        }
    }

    /// The profile's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Profile::A2dpSource => "A2DP-SOURCE",
            Profile::A2dpSink => "A2DP-SINK",
            Profile::A2dp => "A2DP",
            Profile::Avrcp => "AVRCP",
        }
    }
}

/// A media control directive, sent to the active device over AVRCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCommand {
    /// `Play`.
    Play,
    /// `Stop` (AVRCP pause).
    Stop,
    /// `Next`.
    Next,
    /// `Previous`.
    Previous,
}

impl MediaCommand {
    /// The directive's name.
    pub fn directive_name(self) -> &'static str {
        match self {
            MediaCommand::Play => "Play",
            MediaCommand::Stop => "Stop",
            MediaCommand::Next => "Next",
            MediaCommand::Previous => "Previous",
        }
    }

    /// The name of the event that answers the directive: `MediaControl<Name>Succeeded` or
    /// `MediaControl<Name>Failed`.
    pub fn event_name(self, succeeded: bool) -> &'static str {
        match (self, succeeded) {
            (MediaCommand::Play, true) => "MediaControlPlaySucceeded",
            (MediaCommand::Play, false) => "MediaControlPlayFailed",
            (MediaCommand::Stop, true) => "MediaControlStopSucceeded",
            (MediaCommand::Stop, false) => "MediaControlStopFailed",
            (MediaCommand::Next, true) => "MediaControlNextSucceeded",
            (MediaCommand::Next, false) => "MediaControlNextFailed",
            (MediaCommand::Previous, true) => "MediaControlPreviousSucceeded",
            (MediaCommand::Previous, false) => "MediaControlPreviousFailed",
        }
    }
}

/// A `Bluetooth` directive; strings borrow from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BluetoothDirective<'a> {
    /// Start scanning for devices; answered by `ScanDevicesUpdated` events (the last with
    /// `hasMore` false) or `ScanDevicesFailed`.
    ScanDevices,
    /// Become discoverable so a phone can pair; answered by `EnterDiscoverableModeSucceeded` or
    /// `EnterDiscoverableModeFailed`.
    EnterDiscoverableMode {
        /// `durationInSeconds`: how long to stay discoverable; `None` when AVS sent none (the
        /// host picks its own limit).
        duration_in_seconds: Option<u32>,
    },
    /// Stop being discoverable and stop scanning; no event answers it.
    ExitDiscoverableMode,
    /// Pair with the device (found by a scan); the SDK also connects it after pairing.
    PairDevice {
        /// `device.uniqueDeviceId`.
        unique_device_id: &'a str,
    },
    /// Unpair the device (disconnecting it first).
    UnpairDevice {
        /// `device.uniqueDeviceId`.
        unique_device_id: &'a str,
    },
    /// Connect the paired device.
    ConnectByDeviceId {
        /// `device.uniqueDeviceId`.
        unique_device_id: &'a str,
    },
    /// Connect the most recently connected paired device that supports the profile.
    ConnectByProfile {
        /// `profile.name`, e.g. `A2DP-SOURCE` (see [`Profile::from_name`]); not checked against
        /// the known names so that a new profile reaches the host, which answers
        /// `ConnectByProfileFailed` when it has no such device.
        profile_name: &'a str,
        /// `profile.version`; `None` when absent (the SDK notes AVS sometimes leaves it out).
        profile_version: Option<&'a str>,
    },
    /// Disconnect the device.
    DisconnectDevice {
        /// `device.uniqueDeviceId`.
        unique_device_id: &'a str,
    },
    /// `Play`, `Stop`, `Next` or `Previous` for the active device.
    MediaControl(MediaCommand),
}

/// The messages for `payload.device.uniqueDeviceId`.
const DEVICE_ID: FieldMessages = FieldMessages {
    missing: "payload.device.uniqueDeviceId is missing",
    mistyped: "payload.device.uniqueDeviceId is not a string",
    out_of_range: "payload.device.uniqueDeviceId is empty",
    escaped: "payload.device.uniqueDeviceId contains JSON escapes",
};

/// The messages for `payload.profile.name`.
const PROFILE_NAME: FieldMessages = FieldMessages {
    missing: "payload.profile.name is missing",
    mistyped: "payload.profile.name is not a string",
    out_of_range: "payload.profile.name is empty",
    escaped: "payload.profile.name contains JSON escapes",
};

/// Member `key` of `o` as a non-empty string ([`FieldError::OutOfRange`] when empty).
fn non_empty_str<'a>(o: &Object<'a>, key: &str) -> Result<&'a str, FieldError> {
    match o.str(key)? {
        "" => Err(FieldError::OutOfRange),
        s => Ok(s),
    }
}

/// `payload.device.uniqueDeviceId` of `payload`.
fn device_id(payload: &[u8]) -> Result<&str, DirectiveError> {
    let p = Object::payload(payload)?;
    let device = p
        .object("device")
        .map_err(|e| field_messages!("device", "an object").invalid(e))?;
    non_empty_str(&device, "uniqueDeviceId").map_err(|e| DEVICE_ID.invalid(e))
}

/// Parses the payload of the `Bluetooth` directive `name` (Bluetooth 1.0).
///
/// `PairDevice`, `UnpairDevice`, `ConnectByDeviceId` and `DisconnectDevice` need
/// `device.uniqueDeviceId`, a non-empty string without JSON escapes. `ConnectByProfile` needs
/// `profile.name` (likewise) and reads `profile.version` when present (a string; absent or
/// `null` gives `None`). `EnterDiscoverableMode` reads `durationInSeconds` when present, an
/// integer in `0..=4294967295`. The other directives only need an object. Other names,
/// including the Bluetooth 2.0 ones, are [`DirectiveError::Unsupported`].
pub fn parse<'a>(name: &str, payload: &'a [u8]) -> Result<BluetoothDirective<'a>, DirectiveError> {
    let media = |command| -> Result<BluetoothDirective<'a>, DirectiveError> {
        Object::payload(payload)?;
        Ok(BluetoothDirective::MediaControl(command))
    };
    match name {
        "ScanDevices" => Object::payload(payload).map(|_| BluetoothDirective::ScanDevices),
        "EnterDiscoverableMode" => {
            let p = Object::payload(payload)?;
            let m = field_messages!("durationInSeconds", "an integer", "0..4294967295");
            let duration_in_seconds = match p.int_in("durationInSeconds", 0, u32::MAX.into()) {
                Ok(n) => Some(n as u32),
                Err(FieldError::Missing) => None,
                Err(e) => return Err(m.invalid(e)),
            };
            Ok(BluetoothDirective::EnterDiscoverableMode {
                duration_in_seconds,
            })
        }
        "ExitDiscoverableMode" => {
            Object::payload(payload).map(|_| BluetoothDirective::ExitDiscoverableMode)
        }
        "PairDevice" => Ok(BluetoothDirective::PairDevice {
            unique_device_id: device_id(payload)?,
        }),
        "UnpairDevice" => Ok(BluetoothDirective::UnpairDevice {
            unique_device_id: device_id(payload)?,
        }),
        "ConnectByDeviceId" => Ok(BluetoothDirective::ConnectByDeviceId {
            unique_device_id: device_id(payload)?,
        }),
        "DisconnectDevice" => Ok(BluetoothDirective::DisconnectDevice {
            unique_device_id: device_id(payload)?,
        }),
        "ConnectByProfile" => {
            let p = Object::payload(payload)?;
            let profile = p
                .object("profile")
                .map_err(|e| field_messages!("profile", "an object").invalid(e))?;
            let profile_name =
                non_empty_str(&profile, "name").map_err(|e| PROFILE_NAME.invalid(e))?;
            let profile_version = match profile.str("version") {
                Ok(v) => Some(v),
                Err(FieldError::Missing) => None,
                Err(e) => return Err(field_messages!("profile.version", "a string").invalid(e)),
            };
            Ok(BluetoothDirective::ConnectByProfile {
                profile_name,
                profile_version,
            })
        }
        "Play" => media(MediaCommand::Play),
        "Stop" => media(MediaCommand::Stop),
        "Next" => media(MediaCommand::Next),
        "Previous" => media(MediaCommand::Previous),
        _ => Err(DirectiveError::Unsupported),
    }
}

/// Who started a connection change: `requester` of the connect and disconnect events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// `CLOUD`: in answer to a directive.
    Cloud,
    /// `DEVICE`: the peer or the user at the device (the phone's Bluetooth menu, a button).
    Device,
}

impl Requester {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Requester::Cloud => "CLOUD",
            Requester::Device => "DEVICE",
        }
    }
}

/// The A2DP streaming state of the active device (`activeDevice.streaming`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingState {
    /// `ACTIVE`: audio is playing (or about to: the SDK reports a pending play as active).
    Active,
    /// `PAUSED`: the stream was paused (a `Stop`, or Alexa took the content channel).
    Paused,
    /// `INACTIVE`: connected, never streamed or the stream ended.
    Inactive,
}

impl StreamingState {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamingState::Active => "ACTIVE",
            StreamingState::Paused => "PAUSED",
            StreamingState::Inactive => "INACTIVE",
        }
    }
}

/// A peer device as the events name it: `{"uniqueDeviceId":..,"friendlyName":..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device<'a> {
    /// The client's id for the peer.
    pub unique_device_id: &'a str,
    /// The peer's Bluetooth name.
    pub friendly_name: &'a str,
}

/// One device found by a scan, for [`write_scan_devices_updated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveredDevice<'a> {
    /// The client's id for the peer (the one `PairDevice` will name).
    pub unique_device_id: &'a str,
    /// The peer's Bluetooth name.
    pub friendly_name: &'a str,
    /// The MAC address with its first four octets masked, `XX:XX:XX:XX:AB:CD` (see
    /// [`truncate_mac`]); `None` leaves the member out, as the SDK does for an address it
    /// cannot parse.
    pub truncated_mac_address: Option<&'a str>,
}

/// One `supportedProfiles` entry: `{"name":..,"version":..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedProfile<'a> {
    /// The profile name, normally [`Profile::name`] (`A2DP-SOURCE`, `AVRCP`, ...).
    pub name: &'a str,
    /// The profile version the peer advertises, e.g. `1.3`.
    pub version: &'a str,
}

/// One paired device in the context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairedDevice<'a> {
    /// The client's id for the peer.
    pub unique_device_id: &'a str,
    /// The peer's Bluetooth name.
    pub friendly_name: &'a str,
    /// The profiles the peer supports (the SDK lists `A2DP-SOURCE` and `AVRCP` only).
    pub supported_profiles: &'a [SupportedProfile<'a>],
}

/// The connected device of the context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveDevice<'a> {
    /// The device, one of the paired devices.
    pub device: PairedDevice<'a>,
    /// Its A2DP streaming state.
    pub streaming: StreamingState,
}

/// Writes the `MAC` address `aa:bb:cc:dd:ee:ff` (either case, `:` or `-`) truncated to
/// `XX:XX:XX:XX:EE:FF` into `out` (17 bytes), as `ScanDevicesUpdated` sends it; `None` when
/// `mac` is not such an address. The last two octets keep their case.
pub fn truncate_mac<'o>(mac: &str, out: &'o mut [u8; 17]) -> Option<&'o str> {
    let b = mac.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let sep = b[2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = if i % 3 == 2 {
            c == sep
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return None;
        }
    }
    out.copy_from_slice(b"XX:XX:XX:XX:00:00");
    out[12..14].copy_from_slice(&b[12..14]);
    out[15..17].copy_from_slice(&b[15..17]);
    core::str::from_utf8(out).ok()
}

fn write_device_members(w: &mut JsonWriter<'_>, unique_device_id: &str, friendly_name: &str) {
    w.key("uniqueDeviceId");
    w.str(unique_device_id);
    w.key("friendlyName");
    w.str(friendly_name);
}

fn write_device(w: &mut JsonWriter<'_>, device: &Device<'_>) {
    w.begin_object();
    write_device_members(w, device.unique_device_id, device.friendly_name);
    w.end_object();
}

/// Writes the `ScanDevicesUpdated` payload,
/// `{"discoveredDevices":[{"uniqueDeviceId":..,"friendlyName":..,"truncatedMacAddress":..}],
/// "hasMore":B}`.
///
/// The flag's key is `hasMore`, as the SDK writes it (in 1.0 and in 2.0's renamed
/// `ScanDevicesReport`).
///
/// `devices` are the unpaired devices found so far (the SDK leaves paired ones out: they are
/// in the context); `has_more` is true while the scan goes on and false in the last report
/// (after the scan stopped).
pub fn write_scan_devices_updated<'d>(
    w: &mut JsonWriter<'_>,
    devices: impl IntoIterator<Item = DiscoveredDevice<'d>>,
    has_more: bool,
) {
    w.begin_object();
    w.key("discoveredDevices");
    w.begin_array();
    for d in devices {
        w.begin_object();
        write_device_members(w, d.unique_device_id, d.friendly_name);
        if let Some(mac) = d.truncated_mac_address {
            w.key("truncatedMacAddress");
            w.str(mac);
        }
        w.end_object();
    }
    w.end_array();
    w.key("hasMore");
    w.bool(has_more);
    w.end_object();
}

/// Every `Bluetooth` event except `ScanDevicesUpdated` (see [`write_scan_devices_updated`]),
/// with what its payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BluetoothEvent<'a> {
    /// The scan could not start. Payload `{}`.
    ScanDevicesFailed,
    /// The device is discoverable. Payload `{}`.
    EnterDiscoverableModeSucceeded,
    /// The device could not become discoverable. Payload `{}`.
    EnterDiscoverableModeFailed,
    /// Paired (on `PairDevice`, or by the peer: the SDK reports both). Payload `{"device":D}`.
    PairDeviceSucceeded {
        /// The paired device.
        device: Device<'a>,
    },
    /// Pairing failed (or the device is unknown). Payload `{}`.
    PairDeviceFailed,
    /// Unpaired. Payload `{"device":D}`.
    UnpairDeviceSucceeded {
        /// The unpaired device.
        device: Device<'a>,
    },
    /// Unpairing failed (or the device is unknown). Payload `{}`.
    UnpairDeviceFailed,
    /// Connected. Payload `{"device":D,"requester":R}`.
    ConnectByDeviceIdSucceeded {
        /// The connected device.
        device: Device<'a>,
        /// `CLOUD` for `ConnectByDeviceId`, `DEVICE` when the peer connected.
        requester: Requester,
    },
    /// The connection failed. Payload `{"device":D,"requester":R}`.
    ConnectByDeviceIdFailed {
        /// The device that did not connect.
        device: Device<'a>,
        /// Who asked.
        requester: Requester,
    },
    /// A device with the profile connected. Payload
    /// `{"device":D,"requester":R,"profileName":P}`.
    ConnectByProfileSucceeded {
        /// The connected device.
        device: Device<'a>,
        /// Who asked.
        requester: Requester,
        /// The profile name of the directive.
        profile_name: &'a str,
    },
    /// No device with the profile connected. Payload `{"requester":R,"profileName":P}`.
    ConnectByProfileFailed {
        /// Who asked.
        requester: Requester,
        /// The profile name of the directive.
        profile_name: &'a str,
    },
    /// Disconnected. Payload `{"device":D,"requester":R}`.
    DisconnectDeviceSucceeded {
        /// The disconnected device.
        device: Device<'a>,
        /// `CLOUD` for `DisconnectDevice`, `DEVICE` when the peer went away.
        requester: Requester,
    },
    /// Disconnecting failed. Payload `{"device":D,"requester":R}`.
    DisconnectDeviceFailed {
        /// The device still connected.
        device: Device<'a>,
        /// Who asked.
        requester: Requester,
    },
    /// The answer to `Play`, `Stop`, `Next` or `Previous`. Payload `{}`.
    MediaControl {
        /// The directive answered.
        command: MediaCommand,
        /// Whether the host sent it to the device.
        succeeded: bool,
    },
    /// A2DP audio from the device started playing. Payload `{"device":{"uniqueDeviceId":ID}}`.
    StreamingStarted {
        /// The streaming device.
        unique_device_id: &'a str,
    },
    /// A2DP audio from the device stopped. Payload `{"device":{"uniqueDeviceId":ID}}`.
    StreamingEnded {
        /// The device.
        unique_device_id: &'a str,
    },
}

impl BluetoothEvent<'_> {
    /// The event's name (`header.name`).
    pub fn name(&self) -> &'static str {
        match self {
            BluetoothEvent::ScanDevicesFailed => "ScanDevicesFailed",
            BluetoothEvent::EnterDiscoverableModeSucceeded => "EnterDiscoverableModeSucceeded",
            BluetoothEvent::EnterDiscoverableModeFailed => "EnterDiscoverableModeFailed",
            BluetoothEvent::PairDeviceSucceeded { .. } => "PairDeviceSucceeded",
            BluetoothEvent::PairDeviceFailed => "PairDeviceFailed",
            BluetoothEvent::UnpairDeviceSucceeded { .. } => "UnpairDeviceSucceeded",
            BluetoothEvent::UnpairDeviceFailed => "UnpairDeviceFailed",
            BluetoothEvent::ConnectByDeviceIdSucceeded { .. } => "ConnectByDeviceIdSucceeded",
            BluetoothEvent::ConnectByDeviceIdFailed { .. } => "ConnectByDeviceIdFailed",
            BluetoothEvent::ConnectByProfileSucceeded { .. } => "ConnectByProfileSucceeded",
            BluetoothEvent::ConnectByProfileFailed { .. } => "ConnectByProfileFailed",
            BluetoothEvent::DisconnectDeviceSucceeded { .. } => "DisconnectDeviceSucceeded",
            BluetoothEvent::DisconnectDeviceFailed { .. } => "DisconnectDeviceFailed",
            BluetoothEvent::MediaControl { command, succeeded } => command.event_name(*succeeded),
            BluetoothEvent::StreamingStarted { .. } => "StreamingStarted",
            BluetoothEvent::StreamingEnded { .. } => "StreamingEnded",
        }
    }

    /// Writes the event's payload (see each variant).
    pub fn write_payload(&self, w: &mut JsonWriter<'_>) {
        w.begin_object();
        match *self {
            BluetoothEvent::ScanDevicesFailed
            | BluetoothEvent::EnterDiscoverableModeSucceeded
            | BluetoothEvent::EnterDiscoverableModeFailed
            | BluetoothEvent::PairDeviceFailed
            | BluetoothEvent::UnpairDeviceFailed
            | BluetoothEvent::MediaControl { .. } => {}
            BluetoothEvent::PairDeviceSucceeded { device }
            | BluetoothEvent::UnpairDeviceSucceeded { device } => {
                w.key("device");
                write_device(w, &device);
            }
            BluetoothEvent::ConnectByDeviceIdSucceeded { device, requester }
            | BluetoothEvent::ConnectByDeviceIdFailed { device, requester }
            | BluetoothEvent::DisconnectDeviceSucceeded { device, requester }
            | BluetoothEvent::DisconnectDeviceFailed { device, requester } => {
                w.key("device");
                write_device(w, &device);
                w.key("requester");
                w.str(requester.as_str());
            }
            BluetoothEvent::ConnectByProfileSucceeded {
                device,
                requester,
                profile_name,
            } => {
                w.key("device");
                write_device(w, &device);
                w.key("requester");
                w.str(requester.as_str());
                w.key("profileName");
                w.str(profile_name);
            }
            BluetoothEvent::ConnectByProfileFailed {
                requester,
                profile_name,
            } => {
                w.key("requester");
                w.str(requester.as_str());
                w.key("profileName");
                w.str(profile_name);
            }
            BluetoothEvent::StreamingStarted { unique_device_id }
            | BluetoothEvent::StreamingEnded { unique_device_id } => {
                w.key("device");
                w.begin_object();
                w.key("uniqueDeviceId");
                w.str(unique_device_id);
                w.end_object();
            }
        }
        w.end_object();
    }
}

fn write_paired_members(w: &mut JsonWriter<'_>, d: &PairedDevice<'_>) {
    write_device_members(w, d.unique_device_id, d.friendly_name);
    w.key("supportedProfiles");
    w.begin_array();
    for p in d.supported_profiles {
        w.begin_object();
        w.key("name");
        w.str(p.name);
        w.key("version");
        w.str(p.version);
        w.end_object();
    }
    w.end_array();
}

/// Writes the `Bluetooth.BluetoothState` payload: `alexaDevice.friendlyName` is this device's
/// Bluetooth name, `paired` every paired device, `active` the connected one (with its
/// streaming state), whose member is left out when `None`.
pub fn write_bluetooth_state<'p>(
    w: &mut JsonWriter<'_>,
    alexa_friendly_name: &str,
    paired: impl IntoIterator<Item = PairedDevice<'p>>,
    active: Option<&ActiveDevice<'_>>,
) {
    w.begin_object();
    w.key("alexaDevice");
    w.begin_object();
    w.key("friendlyName");
    w.str(alexa_friendly_name);
    w.end_object();
    w.key("pairedDevices");
    w.begin_array();
    for d in paired {
        w.begin_object();
        write_paired_members(w, &d);
        w.end_object();
    }
    w.end_array();
    if let Some(a) = active {
        w.key("activeDevice");
        w.begin_object();
        write_paired_members(w, &a.device);
        w.key("streaming");
        w.str(a.streaming.as_str());
        w.end_object();
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces::{never_panics, NOT_AN_OBJECT};
    use crate::jsonw::{as_json, check_every_length, context_entry};
    use crate::message::parse_directive;
    use serde_json::json;
    use std::format;

    const ID: &str = "2d1b29d4-54f3-4bc8-8d1c-f16a0dbbfa2c";

    /// The directive `name` with `payload` as AVS sends it (the spec examples' envelope).
    fn directive(name: &str, payload: &str) -> std::string::String {
        format!(
            r#"{{"directive":{{"header":{{"namespace":"Bluetooth","name":"{name}","messageId":"m-1"}},"payload":{payload}}}}}"#
        )
    }

    fn parse_full(json: &str) -> Result<BluetoothDirective<'_>, DirectiveError> {
        let d = parse_directive(json.as_bytes()).unwrap();
        assert_eq!(d.header.namespace, NAMESPACE);
        parse(d.header.name, d.payload)
    }

    #[test]
    fn every_directive_of_the_spec() {
        let device = format!(r#"{{"device":{{"uniqueDeviceId":"{ID}"}}}}"#);
        for (name, payload, want) in [
            ("ScanDevices", "{}", BluetoothDirective::ScanDevices),
            (
                "EnterDiscoverableMode",
                r#"{"durationInSeconds":180}"#,
                BluetoothDirective::EnterDiscoverableMode {
                    duration_in_seconds: Some(180),
                },
            ),
            (
                "ExitDiscoverableMode",
                "{}",
                BluetoothDirective::ExitDiscoverableMode,
            ),
            (
                "PairDevice",
                &device,
                BluetoothDirective::PairDevice {
                    unique_device_id: ID,
                },
            ),
            (
                "UnpairDevice",
                &device,
                BluetoothDirective::UnpairDevice {
                    unique_device_id: ID,
                },
            ),
            (
                "ConnectByDeviceId",
                &device,
                BluetoothDirective::ConnectByDeviceId {
                    unique_device_id: ID,
                },
            ),
            (
                "ConnectByProfile",
                r#"{"profile":{"name":"A2DP-SOURCE","version":"1.3"}}"#,
                BluetoothDirective::ConnectByProfile {
                    profile_name: "A2DP-SOURCE",
                    profile_version: Some("1.3"),
                },
            ),
            (
                "DisconnectDevice",
                &device,
                BluetoothDirective::DisconnectDevice {
                    unique_device_id: ID,
                },
            ),
            (
                "Play",
                "{}",
                BluetoothDirective::MediaControl(MediaCommand::Play),
            ),
            (
                "Stop",
                "{}",
                BluetoothDirective::MediaControl(MediaCommand::Stop),
            ),
            (
                "Next",
                "{}",
                BluetoothDirective::MediaControl(MediaCommand::Next),
            ),
            (
                "Previous",
                "{}",
                BluetoothDirective::MediaControl(MediaCommand::Previous),
            ),
        ] {
            let json = directive(name, payload);
            assert_eq!(parse_full(&json), Ok(want), "{json}");
        }
        for c in [
            MediaCommand::Play,
            MediaCommand::Stop,
            MediaCommand::Next,
            MediaCommand::Previous,
        ] {
            assert_eq!(
                parse(c.directive_name(), b"{}"),
                Ok(BluetoothDirective::MediaControl(c))
            );
        }
    }

    #[test]
    fn optional_members_and_extra_members() {
        for (name, payload, want) in [
            (
                "EnterDiscoverableMode",
                &br#"{}"#[..],
                BluetoothDirective::EnterDiscoverableMode {
                    duration_in_seconds: None,
                },
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":null}"#,
                BluetoothDirective::EnterDiscoverableMode {
                    duration_in_seconds: None,
                },
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":0}"#,
                BluetoothDirective::EnterDiscoverableMode {
                    duration_in_seconds: Some(0),
                },
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":4294967295}"#,
                BluetoothDirective::EnterDiscoverableMode {
                    duration_in_seconds: Some(u32::MAX),
                },
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":"AVRCP"}}"#,
                BluetoothDirective::ConnectByProfile {
                    profile_name: "AVRCP",
                    profile_version: None,
                },
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"version":null,"name":"A2DP"}}"#,
                BluetoothDirective::ConnectByProfile {
                    profile_name: "A2DP",
                    profile_version: None,
                },
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":"HFP","version":""}}"#,
                BluetoothDirective::ConnectByProfile {
                    profile_name: "HFP",
                    profile_version: Some(""),
                },
            ),
            (
                "PairDevice",
                br#"{"device":{"friendlyName":"Phone","uniqueDeviceId":"a"},"x":[1]}"#,
                BluetoothDirective::PairDevice {
                    unique_device_id: "a",
                },
            ),
            (
                "ScanDevices",
                br#"{"future":{"member":true}}"#,
                BluetoothDirective::ScanDevices,
            ),
            (
                "Play",
                b" { } ",
                BluetoothDirective::MediaControl(MediaCommand::Play),
            ),
        ] {
            assert_eq!(
                parse(name, payload),
                Ok(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn invalid_payloads() {
        let inv = DirectiveError::Invalid;
        let mut cases: std::vec::Vec<(&str, &[u8], DirectiveError)> = std::vec![
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":"180"}"#,
                inv("payload.durationInSeconds is not an integer"),
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":180.0}"#,
                inv("payload.durationInSeconds is not an integer"),
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":1e2}"#,
                inv("payload.durationInSeconds is not an integer"),
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":-1}"#,
                inv("payload.durationInSeconds is outside 0..4294967295"),
            ),
            (
                "EnterDiscoverableMode",
                br#"{"durationInSeconds":4294967296}"#,
                inv("payload.durationInSeconds is outside 0..4294967295"),
            ),
            (
                "ConnectByProfile",
                br#"{}"#,
                inv("payload.profile is missing"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":"A2DP"}"#,
                inv("payload.profile is not an object"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"version":"1.3"}}"#,
                inv("payload.profile.name is missing"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":5}}"#,
                inv("payload.profile.name is not a string"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":""}}"#,
                inv("payload.profile.name is empty"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":"A2DP\u002dSOURCE"}}"#,
                inv("payload.profile.name contains JSON escapes"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":"A2DP","version":1.3}}"#,
                inv("payload.profile.version is not a string"),
            ),
            (
                "ConnectByProfile",
                br#"{"profile":{"name":"A2DP","version":"1\/3"}}"#,
                inv("payload.profile.version contains JSON escapes"),
            ),
        ];
        for name in [
            "PairDevice",
            "UnpairDevice",
            "ConnectByDeviceId",
            "DisconnectDevice",
        ] {
            cases.extend([
                (name, &br#"{}"#[..], inv("payload.device is missing")),
                (
                    name,
                    br#"{"device":null}"#,
                    inv("payload.device is missing"),
                ),
                (
                    name,
                    br#"{"device":"abc"}"#,
                    inv("payload.device is not an object"),
                ),
                (
                    name,
                    br#"{"device":[{"uniqueDeviceId":"a"}]}"#,
                    inv("payload.device is not an object"),
                ),
                (
                    name,
                    br#"{"uniqueDeviceId":"a"}"#,
                    inv("payload.device is missing"),
                ),
                (
                    name,
                    br#"{"device":{}}"#,
                    inv("payload.device.uniqueDeviceId is missing"),
                ),
                (
                    name,
                    br#"{"device":{"uniqueDeviceID":"a"}}"#,
                    inv("payload.device.uniqueDeviceId is missing"),
                ),
                (
                    name,
                    br#"{"device":{"uniqueDeviceId":7}}"#,
                    inv("payload.device.uniqueDeviceId is not a string"),
                ),
                (
                    name,
                    br#"{"device":{"uniqueDeviceId":["a"]}}"#,
                    inv("payload.device.uniqueDeviceId is not a string"),
                ),
                (
                    name,
                    br#"{"device":{"uniqueDeviceId":""}}"#,
                    inv("payload.device.uniqueDeviceId is empty"),
                ),
                (
                    name,
                    br#"{"device":{"uniqueDeviceId":"a\"b"}}"#,
                    inv("payload.device.uniqueDeviceId contains JSON escapes"),
                ),
                (name, br#"[]"#, inv(NOT_AN_OBJECT)),
                (
                    name,
                    br#"{"device":{"uniqueDeviceId":"a"}"#,
                    inv(NOT_AN_OBJECT),
                ),
            ]);
        }
        for name in [
            "ScanDevices",
            "EnterDiscoverableMode",
            "ExitDiscoverableMode",
            "ConnectByProfile",
            "Play",
            "Stop",
            "Next",
            "Previous",
        ] {
            cases.extend([
                (name, &b""[..], inv(NOT_AN_OBJECT)),
                (name, b"null", inv(NOT_AN_OBJECT)),
                (name, b"{} {}", inv(NOT_AN_OBJECT)),
                (name, b"{\"a\":}", inv(NOT_AN_OBJECT)),
            ]);
        }
        for (name, payload, want) in cases {
            assert_eq!(
                parse(name, payload),
                Err(want),
                "{name} {:?}",
                core::str::from_utf8(payload)
            );
        }
    }

    #[test]
    fn unknown_names_are_unsupported() {
        // Bluetooth 2.0 names, events, other interfaces' directives, wrong case.
        for name in [
            "",
            "PairDevices",
            "UnpairDevices",
            "ConnectByDeviceIds",
            "DisconnectDevices",
            "SetDeviceCategories",
            "ScanDevicesUpdated",
            "StreamingStarted",
            "scanDevices",
            "Pause",
            "PlaybackState",
        ] {
            assert_eq!(
                parse(name, br#"{"device":{"uniqueDeviceId":"a"}}"#),
                Err(DirectiveError::Unsupported),
                "{name}"
            );
        }
        assert_eq!(parse("Nope", b"garbage"), Err(DirectiveError::Unsupported));
    }

    #[test]
    fn parsing_never_panics() {
        let payload = br#"{"device":{"uniqueDeviceId":"ab-12"},"profile":{"name":"A2DP","version":"1.3"},"durationInSeconds":120}"#;
        for name in [
            "ScanDevices",
            "EnterDiscoverableMode",
            "ExitDiscoverableMode",
            "PairDevice",
            "UnpairDevice",
            "ConnectByDeviceId",
            "ConnectByProfile",
            "DisconnectDevice",
            "Play",
        ] {
            never_panics(payload, |p| {
                let _ = parse(name, p);
            });
        }
    }

    fn payload_of(event: &BluetoothEvent<'_>) -> serde_json::Value {
        as_json(&check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            event.write_payload(&mut w);
            w.finish()
        }))
    }

    #[test]
    fn every_event_of_the_spec() {
        let phone = Device {
            unique_device_id: ID,
            friendly_name: "Pixel 3",
        };
        let dev = json!({"uniqueDeviceId": ID, "friendlyName": "Pixel 3"});
        let cases = [
            (
                BluetoothEvent::ScanDevicesFailed,
                "ScanDevicesFailed",
                json!({}),
            ),
            (
                BluetoothEvent::EnterDiscoverableModeSucceeded,
                "EnterDiscoverableModeSucceeded",
                json!({}),
            ),
            (
                BluetoothEvent::EnterDiscoverableModeFailed,
                "EnterDiscoverableModeFailed",
                json!({}),
            ),
            (
                BluetoothEvent::PairDeviceSucceeded { device: phone },
                "PairDeviceSucceeded",
                json!({"device": dev}),
            ),
            (
                BluetoothEvent::PairDeviceFailed,
                "PairDeviceFailed",
                json!({}),
            ),
            (
                BluetoothEvent::UnpairDeviceSucceeded { device: phone },
                "UnpairDeviceSucceeded",
                json!({"device": dev}),
            ),
            (
                BluetoothEvent::UnpairDeviceFailed,
                "UnpairDeviceFailed",
                json!({}),
            ),
            (
                BluetoothEvent::ConnectByDeviceIdSucceeded {
                    device: phone,
                    requester: Requester::Cloud,
                },
                "ConnectByDeviceIdSucceeded",
                json!({"device": dev, "requester": "CLOUD"}),
            ),
            (
                BluetoothEvent::ConnectByDeviceIdSucceeded {
                    device: phone,
                    requester: Requester::Device,
                },
                "ConnectByDeviceIdSucceeded",
                json!({"device": dev, "requester": "DEVICE"}),
            ),
            (
                BluetoothEvent::ConnectByDeviceIdFailed {
                    device: phone,
                    requester: Requester::Cloud,
                },
                "ConnectByDeviceIdFailed",
                json!({"device": dev, "requester": "CLOUD"}),
            ),
            (
                BluetoothEvent::ConnectByProfileSucceeded {
                    device: phone,
                    requester: Requester::Cloud,
                    profile_name: "A2DP-SOURCE",
                },
                "ConnectByProfileSucceeded",
                json!({"device": dev, "requester": "CLOUD", "profileName": "A2DP-SOURCE"}),
            ),
            (
                BluetoothEvent::ConnectByProfileFailed {
                    requester: Requester::Cloud,
                    profile_name: "AVRCP",
                },
                "ConnectByProfileFailed",
                json!({"requester": "CLOUD", "profileName": "AVRCP"}),
            ),
            (
                BluetoothEvent::DisconnectDeviceSucceeded {
                    device: phone,
                    requester: Requester::Device,
                },
                "DisconnectDeviceSucceeded",
                json!({"device": dev, "requester": "DEVICE"}),
            ),
            (
                BluetoothEvent::DisconnectDeviceFailed {
                    device: phone,
                    requester: Requester::Cloud,
                },
                "DisconnectDeviceFailed",
                json!({"device": dev, "requester": "CLOUD"}),
            ),
            (
                BluetoothEvent::StreamingStarted {
                    unique_device_id: ID,
                },
                "StreamingStarted",
                json!({"device": {"uniqueDeviceId": ID}}),
            ),
            (
                BluetoothEvent::StreamingEnded {
                    unique_device_id: ID,
                },
                "StreamingEnded",
                json!({"device": {"uniqueDeviceId": ID}}),
            ),
        ];
        for (event, name, want) in cases {
            assert_eq!(event.name(), name);
            assert_eq!(payload_of(&event), want, "{name}");
        }
        for (command, succeeded, name) in [
            (MediaCommand::Play, true, "MediaControlPlaySucceeded"),
            (MediaCommand::Play, false, "MediaControlPlayFailed"),
            (MediaCommand::Stop, true, "MediaControlStopSucceeded"),
            (MediaCommand::Stop, false, "MediaControlStopFailed"),
            (MediaCommand::Next, true, "MediaControlNextSucceeded"),
            (MediaCommand::Next, false, "MediaControlNextFailed"),
            (
                MediaCommand::Previous,
                true,
                "MediaControlPreviousSucceeded",
            ),
            (MediaCommand::Previous, false, "MediaControlPreviousFailed"),
        ] {
            let event = BluetoothEvent::MediaControl { command, succeeded };
            assert_eq!(event.name(), name);
            assert_eq!(payload_of(&event), json!({}));
        }
        // Names are escaped like any string.
        let odd = Device {
            unique_device_id: "a",
            friendly_name: "Bob's \"phone\"\n",
        };
        assert_eq!(
            payload_of(&BluetoothEvent::PairDeviceSucceeded { device: odd }),
            json!({"device": {"uniqueDeviceId": "a", "friendlyName": "Bob's \"phone\"\n"}})
        );
    }

    #[test]
    fn scan_devices_updated() {
        let found = [
            DiscoveredDevice {
                unique_device_id: ID,
                friendly_name: "Pixel 3",
                truncated_mac_address: Some("XX:XX:XX:XX:3C:9A"),
            },
            DiscoveredDevice {
                unique_device_id: "8f0c1e5a-0d0e-4d64-a2a6-8a4b1e6fd2b1",
                friendly_name: "JBL Charge 3",
                truncated_mac_address: None,
            },
        ];
        fn write(devices: &[DiscoveredDevice<'_>], more: bool) -> std::vec::Vec<u8> {
            check_every_length(|out| {
                let mut w = JsonWriter::new(out);
                write_scan_devices_updated(&mut w, devices.iter().copied(), more);
                w.finish()
            })
        }
        assert_eq!(
            as_json(&write(&found, true)),
            json!({
                "discoveredDevices": [
                    {"uniqueDeviceId": ID, "friendlyName": "Pixel 3", "truncatedMacAddress": "XX:XX:XX:XX:3C:9A"},
                    {"uniqueDeviceId": "8f0c1e5a-0d0e-4d64-a2a6-8a4b1e6fd2b1", "friendlyName": "JBL Charge 3"}
                ],
                "hasMore": true
            })
        );
        assert_eq!(
            write(&[], false),
            br#"{"discoveredDevices":[],"hasMore":false}"#
        );
    }

    #[test]
    fn truncated_mac_addresses() {
        let mut buf = [0u8; 17];
        assert_eq!(
            truncate_mac("a4:5e:60:c1:3c:9a", &mut buf),
            Some("XX:XX:XX:XX:3c:9a")
        );
        assert_eq!(
            truncate_mac("A4-5E-60-C1-3C-9A", &mut buf),
            Some("XX:XX:XX:XX:3C:9A")
        );
        for bad in [
            "",
            "a4:5e:60:c1:3c",
            "a4:5e:60:c1:3c:9a:00",
            "a4:5e:60:c1:3c:9g",
            "a4:5e-60:c1:3c:9a",
            "a4.5e.60.c1.3c.9a",
            "a45e60c13c9a     ",
            "é4:5e:60:c1:3c:9",
        ] {
            assert_eq!(truncate_mac(bad, &mut buf), None, "{bad}");
        }
    }

    #[test]
    fn bluetooth_state() {
        let profiles = [
            SupportedProfile {
                name: Profile::A2dpSource.name(),
                version: "1.3",
            },
            SupportedProfile {
                name: Profile::Avrcp.name(),
                version: "1.6",
            },
        ];
        let phone = PairedDevice {
            unique_device_id: ID,
            friendly_name: "Pixel 3",
            supported_profiles: &profiles,
        };
        let speaker = PairedDevice {
            unique_device_id: "8f0c1e5a-0d0e-4d64-a2a6-8a4b1e6fd2b1",
            friendly_name: "JBL Charge 3",
            supported_profiles: &[],
        };
        let paired = [phone, speaker];
        let phone_json = json!({
            "uniqueDeviceId": ID,
            "friendlyName": "Pixel 3",
            "supportedProfiles": [{"name": "A2DP-SOURCE", "version": "1.3"}, {"name": "AVRCP", "version": "1.6"}]
        });
        let speaker_json = json!({
            "uniqueDeviceId": "8f0c1e5a-0d0e-4d64-a2a6-8a4b1e6fd2b1",
            "friendlyName": "JBL Charge 3",
            "supportedProfiles": []
        });
        for streaming in [
            StreamingState::Active,
            StreamingState::Paused,
            StreamingState::Inactive,
        ] {
            let active = ActiveDevice {
                device: phone,
                streaming,
            };
            let entry = check_every_length(|out| {
                let mut w = JsonWriter::new(out);
                context_entry(&mut w, NAMESPACE, BLUETOOTH_STATE, |w| {
                    write_bluetooth_state(w, "Kitchen Echo", paired.iter().copied(), Some(&active))
                });
                w.finish()
            });
            let mut active_json = phone_json.clone();
            active_json["streaming"] = json!(streaming.as_str());
            assert_eq!(
                as_json(&entry),
                json!({
                    "header": {"namespace": "Bluetooth", "name": "BluetoothState"},
                    "payload": {
                        "alexaDevice": {"friendlyName": "Kitchen Echo"},
                        "pairedDevices": [phone_json, speaker_json],
                        "activeDevice": active_json
                    }
                })
            );
        }
        // Nothing connected: no activeDevice. Nothing paired: an empty list (as the SDK's
        // first context, {"alexaDevice":{"friendlyName":..},"pairedDevices":[]}).
        let idle = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_bluetooth_state(&mut w, "Kitchen Echo", paired.iter().copied(), None);
            w.finish()
        });
        assert_eq!(
            as_json(&idle),
            json!({"alexaDevice": {"friendlyName": "Kitchen Echo"}, "pairedDevices": [phone_json, speaker_json]})
        );
        let empty = check_every_length(|out| {
            let mut w = JsonWriter::new(out);
            write_bluetooth_state(&mut w, "sprite-moon", core::iter::empty(), None);
            w.finish()
        });
        assert_eq!(
            empty,
            br#"{"alexaDevice":{"friendlyName":"sprite-moon"},"pairedDevices":[]}"#
        );
    }

    #[test]
    fn names_round_trip() {
        for p in [
            Profile::A2dpSource,
            Profile::A2dpSink,
            Profile::A2dp,
            Profile::Avrcp,
        ] {
            assert_eq!(Profile::from_name(p.name()), Some(p));
        }
        for other in ["", "a2dp-source", "HFP", "A2DP_SOURCE"] {
            assert_eq!(Profile::from_name(other), None);
        }
        assert_eq!(Requester::Cloud.as_str(), "CLOUD");
        assert_eq!(Requester::Device.as_str(), "DEVICE");
    }
}

"""Event shape checks for POST /events: the metadata JSON of every event, strictly.

check_event(meta) returns None or what is wrong, as a sentence naming the JSON path
(e.g. "Speaker.VolumeChanged: event.payload.volume must be an integer in 0..100, got 101").
The server answers such an event 400 INVALID_REQUEST_EXCEPTION with that description and
records it in the request's `invalid` field (events.EventRequest.fail).

Two envelopes:
- AVS (v1) events: {"context": [...]?, "event": {"header": {namespace, name, messageId
  [, dialogRequestId]}, "payload": {...}}}. Context entries are {"header": {namespace, name},
  "payload": {...}}, no namespace+name twice; the entries in CONTEXT_CHECKS are checked in full.
- v3 events (namespace "Alexa" or "Alexa.*", as in ../shared/seeds/004): {"event":
  {"header": {namespace, name, messageId, payloadVersion: "3"[, correlationToken]},
  "endpoint"?: {...}, "payload": {...}}, "context"?: {"properties": [...]}}.

Events in EVENT_CHECKS (the interfaces the client implements) are checked exactly: the key
sets of their header, endpoint, payload and context, the types, ranges and enumerations.
Any other event gets the envelope checks only (hosts may send events of their own
namespaces with any payload); a header with `payloadVersion` selects the v3 envelope.
Recognize's own rules (profile, format, initiator...) stay in events.validate_recognize.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

Checker = Callable[[Any, str], None]


class Invalid(Exception):
    """A shape problem; the message names the JSON path."""


# --------------------------------------------------------------------------- checkers


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _show(v: Any) -> str:
    s = repr(v) if not isinstance(v, (dict, list)) else _kind(v)
    return s if len(s) <= 60 else s[:57] + "..."


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def any_value(v: Any, path: str) -> None:
    if v is None:
        raise Invalid(f"{path} must not be null")


def string(nonempty: bool = False) -> Checker:
    def check(v: Any, path: str) -> None:
        if not isinstance(v, str):
            raise Invalid(f"{path} must be a string, got {_kind(v)}")
        if nonempty and not v:
            raise Invalid(f"{path} must be a non-empty string")
    return check


def integer(lo: int | None = None, hi: int | None = None) -> Checker:
    rng = (f" in {lo}..{hi}" if hi is not None else f" >= {lo}") if lo is not None else ""

    def check(v: Any, path: str) -> None:
        if not is_int(v):
            raise Invalid(f"{path} must be an integer{rng}, got {_kind(v)} {_show(v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise Invalid(f"{path} must be an integer{rng}, got {v}")
    return check


def number(v: Any, path: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Invalid(f"{path} must be a number, got {_kind(v)}")


def boolean(v: Any, path: str) -> None:
    if not isinstance(v, bool):
        raise Invalid(f"{path} must be true or false, got {_kind(v)} {_show(v)}")


def enum(*values: str) -> Checker:
    def check(v: Any, path: str) -> None:
        if v not in values or not isinstance(v, str):
            raise Invalid(f"{path} must be one of {'|'.join(values)}, got {_show(v)}")
    return check


def const(value: str) -> Checker:
    def check(v: Any, path: str) -> None:
        if v != value or not isinstance(v, str):
            raise Invalid(f"{path} must be {value!r}, got {_show(v)}")
    return check


def array(item: Checker, min_len: int = 0) -> Checker:
    def check(v: Any, path: str) -> None:
        if not isinstance(v, list):
            raise Invalid(f"{path} must be an array, got {_kind(v)}")
        if len(v) < min_len:
            raise Invalid(f"{path} must have at least {min_len} element(s)")
        for i, x in enumerate(v):
            item(x, f"{path}[{i}]")
    return check


def any_object(v: Any, path: str) -> None:
    if not isinstance(v, dict):
        raise Invalid(f"{path} must be a JSON object, got {_kind(v)}")


def obj(required: dict[str, Checker], optional: dict[str, Checker] | None = None) -> Checker:
    """An object with exactly these keys (the optional ones may be absent)."""
    optional = optional or {}

    def check(v: Any, path: str) -> None:
        any_object(v, path)
        missing = [k for k in required if k not in v]
        if missing:
            raise Invalid(f"{path} lacks {', '.join(repr(k) for k in missing)}")
        extra = sorted(k for k in v if k not in required and k not in optional)
        if extra:
            allowed = ", ".join(list(required) + [f"{k}?" for k in optional]) or "none"
            raise Invalid(f"{path} has unexpected key(s) {', '.join(repr(k) for k in extra)} "
                          f"(allowed: {allowed})")
        for k, chk in list(required.items()) + list(optional.items()):
            if k in v:
                chk(v[k], f"{path}.{k}")
    return check


def empty_object(v: Any, path: str) -> None:
    obj({})(v, path)


_ISO_UTC = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$")


def iso8601_utc(v: Any, path: str) -> None:
    """ISO-8601 date and time in UTC with a Z, e.g. 2017-02-03T16:20:50.52Z."""
    string(True)(v, path)
    m = _ISO_UTC.match(v)
    if m:
        try:
            datetime.datetime(*(int(g) for g in m.groups()[:6]))
            return
        except ValueError:
            pass
    raise Invalid(f"{path} must be an ISO-8601 UTC time such as 2017-02-03T16:20:50.52Z, got {_show(v)}")


_ISO_ANY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):?(\d{2}))$")


def parse_iso8601(v: str) -> datetime.datetime | None:
    """An ISO-8601 date and time with Z or an offset (+0000, -05:30), as Alerts times are
    written; None if v is not one (or not a real date)."""
    m = _ISO_ANY.match(v)
    if not m:
        return None
    try:
        frac = m.group(7)
        us = int((frac[1:] + "000000")[:6]) if frac else 0
        if m.group(8) == "Z":
            tz = datetime.timezone.utc
        else:
            oh, om = int(m.group(9)), int(m.group(10))
            if oh > 23 or om > 59:
                return None
            sign = -1 if m.group(8)[0] == "-" else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=oh, minutes=om))
        return datetime.datetime(*(int(g) for g in m.groups()[:6]), us, tzinfo=tz)
    except ValueError:
        return None


def iso8601(v: Any, path: str) -> None:
    """ISO-8601 date and time with Z or an offset, e.g. 2017-08-01T11:30:00.000Z or
    2017-08-01T11:30:00+0000."""
    string(True)(v, path)
    if parse_iso8601(v) is None:
        raise Invalid(f"{path} must be an ISO-8601 time with Z or an offset such as "
                      f"2017-08-01T11:30:00.000Z or 2017-08-01T11:30:00+0000, got {_show(v)}")


# --------------------------------------------------------------------------- AVS (v1) context


AUDIO_PLAYER_ACTIVITIES = ("IDLE", "PLAYING", "PAUSED", "BUFFER_UNDERRUN", "FINISHED", "STOPPED")
ALERT_TYPES = ("ALARM", "TIMER", "REMINDER")
MAX_MS = 2**63 - 1  # offsets and durations: AVS sends and reads them as a Java long
BLUETOOTH_STREAMING = ("ACTIVE", "PAUSED", "INACTIVE")


def unique_tokens(key: str = "token") -> Checker:
    """An array of objects whose `key` members are all different."""
    def check(v: Any, path: str) -> None:
        seen: dict[str, int] = {}
        for i, x in enumerate(v):
            if x[key] in seen:
                raise Invalid(f"{path}[{i}] repeats {key} {x[key]!r} (already {path}[{seen[x[key]]}])")
            seen[x[key]] = i
    return check


def both(*checkers: Checker) -> Checker:
    def check(v: Any, path: str) -> None:
        for c in checkers:
            c(v, path)
    return check


_alert = obj({"token": string(True), "type": enum(*ALERT_TYPES), "scheduledTime": iso8601})
_alert_list = both(array(_alert), unique_tokens())

# AudioPlayer.PlaybackState, also PlaybackFailed's currentPlaybackState. The token is "" before
# anything played (IDLE).
_playback_state = obj({"token": string(), "offsetInMilliseconds": integer(0, MAX_MS),
                       "playerActivity": enum(*AUDIO_PLAYER_ACTIVITIES)})

_bt_profile = obj({"name": string(True), "version": string()})
_bt_paired = {"uniqueDeviceId": string(True), "friendlyName": string(), "supportedProfiles": array(_bt_profile)}


def _bluetooth_state(v: Any, path: str) -> None:
    obj({"alexaDevice": obj({"friendlyName": string()}),
         "pairedDevices": both(array(obj(_bt_paired)), unique_tokens("uniqueDeviceId"))},
        {"activeDevice": obj({**_bt_paired, "streaming": enum(*BLUETOOTH_STREAMING)})})(v, path)
    active = v.get("activeDevice")
    if active is not None and active["uniqueDeviceId"] not in {d["uniqueDeviceId"] for d in v["pairedDevices"]}:
        raise Invalid(f"{path}.activeDevice.uniqueDeviceId {active['uniqueDeviceId']!r} is not one of "
                      f"{path}.pairedDevices")


# "Namespace.Name" of a context entry -> its payload checker.
CONTEXT_CHECKS: dict[str, Checker] = {
    "SpeechRecognizer.RecognizerState": obj({"wakeword": string()}),
    "SpeechSynthesizer.SpeechState": obj({
        "token": string(), "offsetInMilliseconds": integer(0),
        "playerActivity": enum("PLAYING", "FINISHED", "INTERRUPTED")}),
    "Speaker.VolumeState": obj({"volume": integer(0, 100), "muted": boolean}),
    "Notifications.IndicatorState": obj({"isEnabled": boolean, "isVisualIndicatorPersisted": boolean}),
    "AudioPlayer.PlaybackState": _playback_state,
    "Alerts.AlertsState": obj({"allAlerts": _alert_list, "activeAlerts": _alert_list}),
    "Bluetooth.BluetoothState": _bluetooth_state,
}

_context_header = obj({"namespace": string(True), "name": string(True)})


def check_v1_context(ctx: Any, path: str = "context") -> None:
    if isinstance(ctx, dict):
        raise Invalid(f"{path} must be a JSON array of states in an AVS event, got an object "
                      "(an object {\"properties\": [...]} is the context of v3 events only)")
    if not isinstance(ctx, list):
        raise Invalid(f"{path} must be a JSON array, got {_kind(ctx)}")
    seen: dict[str, int] = {}
    for i, entry in enumerate(ctx):
        p = f"{path}[{i}]"
        obj({"header": _context_header, "payload": any_object})(entry, p)
        key = f"{entry['header']['namespace']}.{entry['header']['name']}"
        if key in seen:
            raise Invalid(f"{p} repeats {key} (already {path}[{seen[key]}])")
        seen[key] = i
        chk = CONTEXT_CHECKS.get(key)
        if chk is not None:
            chk(entry["payload"], f"{p}.payload")


# --------------------------------------------------------------------------- v3 properties


# Values of the properties this client reports; other properties only need a value.
PROPERTY_VALUES: dict[str, dict[str, Checker]] = {
    "Alexa.Speaker": {"volume": integer(0, 100), "muted": boolean},
    "Alexa.PowerController": {"powerState": enum("ON", "OFF")},
}

_property_fields = {"namespace": string(True), "name": string(True), "value": any_value,
                    "timeOfSample": iso8601_utc, "uncertaintyInMilliseconds": integer(0)}


def check_properties(props: Any, path: str, min_len: int = 0) -> set[tuple]:
    """A v3 property list; returns the (namespace, name, instance) keys."""
    array(obj(_property_fields, {"instance": string(True)}), min_len)(props, path)
    seen: dict[tuple, int] = {}
    for i, p in enumerate(props):
        key = (p["namespace"], p["name"], p.get("instance"))
        label = f"{p['namespace']}.{p['name']}" + (f" ({p['instance']})" if "instance" in p else "")
        if key in seen:
            raise Invalid(f"{path}[{i}] repeats {label} (already {path}[{seen[key]}])")
        seen[key] = i
        known = PROPERTY_VALUES.get(p["namespace"])
        if known is not None:
            chk = known.get(p["name"])
            if chk is None:
                raise Invalid(f"{path}[{i}].name: {p['namespace']} has no property {p['name']!r} "
                              f"(it has {', '.join(known)})")
            chk(p["value"], f"{path}[{i}].value")
    return set(seen)


def check_v3_context(ctx: Any, path: str = "context") -> set[tuple]:
    if isinstance(ctx, list):
        raise Invalid(f"{path} must be an object {{\"properties\": [...]}} in a v3 event, got an array")
    any_object(ctx, path)
    obj({"properties": any_value})(ctx, path)
    return check_properties(ctx["properties"], f"{path}.properties")


# --------------------------------------------------------------------------- events


_scope = obj({"type": const("BearerToken"), "token": string(True)})
_endpoint_id_only = obj({"endpointId": string(True)})
_endpoint_scoped = obj({"scope": _scope, "endpointId": string(True)})

EXCEPTION_TYPES = ("UNEXPECTED_INFORMATION_RECEIVED", "UNSUPPORTED_OPERATION", "INTERNAL_ERROR")
LOCALES = ("de-DE", "en-AU", "en-CA", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "es-US",
           "fr-CA", "fr-FR", "hi-IN", "it-IT", "ja-JP", "pt-BR")
# Alexa.ErrorResponse payload.type (Alexa.ErrorResponse interface, error type values).
ALEXA_ERROR_TYPES = (
    "ALREADY_IN_OPERATION", "BRIDGE_UNREACHABLE", "CLOUD_CONTROL_DISABLED", "ENDPOINT_BUSY",
    "ENDPOINT_LOW_POWER", "ENDPOINT_UNREACHABLE", "EXPIRED_AUTHORIZATION_CREDENTIAL",
    "FIRMWARE_OUT_OF_DATE", "HARDWARE_MALFUNCTION", "INSUFFICIENT_PERMISSIONS", "INTERNAL_ERROR",
    "INVALID_AUTHORIZATION_CREDENTIAL", "INVALID_DIRECTIVE", "INVALID_VALUE", "NO_SUCH_ENDPOINT",
    "NOT_CALIBRATED", "NOT_SUPPORTED_IN_CURRENT_MODE", "NOT_IN_OPERATION",
    "POWER_LEVEL_NOT_SUPPORTED", "RATE_LIMIT_EXCEEDED", "TEMPERATURE_VALUE_OUT_OF_RANGE",
    "TOO_MANY_FAILED_ATTEMPTS", "VALUE_OUT_OF_RANGE")
CHANGE_CAUSES = ("APP_INTERACTION", "PERIODIC_POLL", "PHYSICAL_INTERACTION", "VOICE_INTERACTION",
                 "RULE_TRIGGER")


def _firmware_version(v: Any, path: str) -> None:
    string(True)(v, path)
    # AVS: a positive 32-bit signed integer, as a string.
    if not re.fullmatch(r"[1-9][0-9]{0,9}", v) or int(v) > 2**31 - 1:
        raise Invalid(f"{path} must be a string holding a positive integer (1..2147483647), got {_show(v)}")


def _settings(v: Any, path: str) -> None:
    array(obj({"key": const("locale"), "value": enum(*LOCALES)}), 1)(v, path)
    keys = [s["key"] for s in v]
    if len(set(keys)) != len(keys):
        raise Invalid(f"{path} names a setting more than once")


def _error_payload(v: Any, path: str) -> None:
    obj({"type": enum(*ALEXA_ERROR_TYPES), "message": string()},
        {"validRange": obj({"minimumValue": number, "maximumValue": number})})(v, path)
    vr = v.get("validRange")
    if vr is not None:
        if v["type"] != "VALUE_OUT_OF_RANGE":
            raise Invalid(f"{path}.validRange goes with type VALUE_OUT_OF_RANGE only, not {v['type']}")
        if vr["minimumValue"] > vr["maximumValue"]:
            raise Invalid(f"{path}.validRange.minimumValue exceeds maximumValue")


def _capability(v: Any, path: str) -> None:
    obj({"type": const("AlexaInterface"), "interface": string(True), "version": string(True)},
        {"properties": obj({"supported": array(obj({"name": string(True)}), 1),
                            "retrievable": boolean, "proactivelyReported": boolean}),
         "configurations": any_object})(v, path)
    known = PROPERTY_VALUES.get(v["interface"])
    if known is not None and "properties" in v:
        for i, s in enumerate(v["properties"]["supported"]):
            if s["name"] not in known:
                raise Invalid(f"{path}.properties.supported[{i}].name: {v['interface']} has no property "
                              f"{s['name']!r} (it has {', '.join(known)})")


def _endpoint(v: Any, path: str) -> None:
    obj({"endpointId": string(True), "manufacturerName": string(True), "description": string(True),
         "friendlyName": string(True), "displayCategories": array(string(True), 1),
         "registration": obj({"productId": string(True), "deviceSerialNumber": string(True)},
                             {"registrationKey": string(True), "productIdKey": string(True)}),
         "capabilities": array(_capability, 1)},
        # Optional members of AVS's AddOrUpdateReport endpoints.
        {"additionalAttributes": any_object, "connections": array(any_object), "cookie": any_object})(v, path)
    seen: dict[str, int] = {}
    for i, c in enumerate(v["capabilities"]):
        if c["interface"] in seen:
            raise Invalid(f"{path}.capabilities[{i}] repeats interface {c['interface']} "
                          f"(already capabilities[{seen[c['interface']]}])")
        seen[c["interface"]] = i


def _discovery_payload(v: Any, path: str) -> None:
    obj({"endpoints": array(_endpoint, 1), "scope": _scope})(v, path)
    seen: dict[str, int] = {}
    for i, e in enumerate(v["endpoints"]):
        if e["endpointId"] in seen:
            raise Invalid(f"{path}.endpoints[{i}] repeats endpointId {e['endpointId']!r}")
        seen[e["endpointId"]] = i


class Shape:
    """An event's exact shape. v3: header has payloadVersion "3"; `correlation` says whether
    correlationToken is required (True) or must be absent (False); endpoint/context: checker,
    None = must be absent; context_required."""

    def __init__(self, payload: Checker, v3: bool = False, correlation: bool = False,
                 endpoint: Checker | None = None, context: str | None = None,
                 header_optional: dict[str, Checker] | None = None,
                 context_entries: tuple[str, ...] = ()):
        self.payload, self.v3, self.correlation = payload, v3, correlation
        self.endpoint, self.context = endpoint, context  # context: None (absent), "optional", "required"
        self.header_optional = header_optional or {}
        # v1: "Namespace.Name" entries the context must hold when it is present.
        self.context_entries = context_entries


# ---- Alerts 1.3 (crates/avs-core/src/interfaces/alerts.rs). No context in the spec's samples
# (nor from the AVS Device SDK): optional, checked in full when present.
ALERT_TOKEN_EVENTS = ("SetAlertSucceeded", "SetAlertFailed", "DeleteAlertSucceeded", "DeleteAlertFailed",
                      "AlertStarted", "AlertStopped", "AlertEnteredForeground", "AlertEnteredBackground")
ALERTS_EVENTS: dict[str, Shape] = {
    **{f"Alerts.{n}": Shape(obj({"token": string(True)}), context="optional") for n in ALERT_TOKEN_EVENTS},
    "Alerts.DeleteAlertsSucceeded": Shape(obj({"tokens": array(string(True))}), context="optional"),
    "Alerts.DeleteAlertsFailed": Shape(obj({"tokens": array(string(True))}), context="optional"),
    "Alerts.VolumeChanged": Shape(obj({"volume": integer(0, 100)}), context="optional"),
}

# ---- AudioPlayer 1.0 (audio_player.rs). The {token, offsetInMilliseconds} events carry the
# context, with AudioPlayer.PlaybackState; PlaybackFailed (which has currentPlaybackState in its
# payload instead), PlaybackQueueCleared and StreamMetadataExtracted need none.
MEDIA_ERROR_TYPES = ("MEDIA_ERROR_UNKNOWN", "MEDIA_ERROR_INVALID_REQUEST", "MEDIA_ERROR_SERVICE_UNAVAILABLE",
                     "MEDIA_ERROR_INTERNAL_SERVER_ERROR", "MEDIA_ERROR_INTERNAL_DEVICE_ERROR")
PLAYBACK_EVENTS = ("PlaybackStarted", "PlaybackNearlyFinished", "PlaybackFinished", "PlaybackStopped",
                   "PlaybackPaused", "PlaybackResumed", "PlaybackStutterStarted",
                   "ProgressReportDelayElapsed", "ProgressReportIntervalElapsed")
_token_offset = {"token": string(True), "offsetInMilliseconds": integer(0, MAX_MS)}
_playback_context = {"context": "required", "context_entries": ("AudioPlayer.PlaybackState",)}


def _metadata(v: Any, path: str) -> None:
    any_object(v, path)
    for k, x in v.items():
        if not isinstance(x, (str, bool)):
            raise Invalid(f"{path}.{k} must be a string or true/false (numbers as strings), got {_kind(x)}")


AUDIO_PLAYER_EVENTS: dict[str, Shape] = {
    **{f"AudioPlayer.{n}": Shape(obj(_token_offset), **_playback_context) for n in PLAYBACK_EVENTS},
    "AudioPlayer.PlaybackStutterFinished": Shape(obj({**_token_offset, "stutterDurationInMilliseconds":
                                                      integer(0, MAX_MS)}), **_playback_context),
    "AudioPlayer.PlaybackFailed": Shape(obj({
        "token": string(True), "currentPlaybackState": _playback_state,
        "error": obj({"type": enum(*MEDIA_ERROR_TYPES), "message": string()})}), context="optional"),
    "AudioPlayer.PlaybackQueueCleared": Shape(empty_object, context="optional"),
    "AudioPlayer.StreamMetadataExtracted": Shape(obj({"token": string(True), "metadata": _metadata}),
                                                 context="optional"),
}

# ---- PlaybackController 1.0 (playback_controller.rs): payload {}, the context required (AVS must
# know what is playing).
PLAYBACK_CONTROLLER_EVENTS: dict[str, Shape] = {
    f"PlaybackController.{n}": Shape(empty_object, **_playback_context)
    for n in ("PlayCommandIssued", "PauseCommandIssued", "NextCommandIssued", "PreviousCommandIssued")
}

# ---- Bluetooth 1.0 (bluetooth.rs). Every 1.0 event carries the context with
# Bluetooth.BluetoothState (2.0 lists the events that no longer need it).
_bt_device = obj({"uniqueDeviceId": string(True), "friendlyName": string()})
_bt_requester = enum("CLOUD", "DEVICE")
_TRUNCATED_MAC = re.compile(r"^XX:XX:XX:XX:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}$")


def _truncated_mac(v: Any, path: str) -> None:
    string(True)(v, path)
    if not _TRUNCATED_MAC.match(v):
        raise Invalid(f"{path} must be a MAC address with its first four octets masked, "
                      f"XX:XX:XX:XX:AB:CD, got {_show(v)}")


_bt_context = {"context": "required", "context_entries": ("Bluetooth.BluetoothState",)}
_bt_device_requester = obj({"device": _bt_device, "requester": _bt_requester})
BLUETOOTH_EVENTS: dict[str, Shape] = {
    "Bluetooth.ScanDevicesUpdated": Shape(obj({
        "discoveredDevices": both(array(obj({"uniqueDeviceId": string(True), "friendlyName": string()},
                                            {"truncatedMacAddress": _truncated_mac})),
                                  unique_tokens("uniqueDeviceId")),
        "hasMore": boolean}), **_bt_context),
    **{f"Bluetooth.{n}": Shape(empty_object, **_bt_context)
       for n in ("ScanDevicesFailed", "EnterDiscoverableModeSucceeded", "EnterDiscoverableModeFailed",
                 "PairDeviceFailed", "UnpairDeviceFailed")},
    **{f"Bluetooth.{n}": Shape(obj({"device": _bt_device}), **_bt_context)
       for n in ("PairDeviceSucceeded", "UnpairDeviceSucceeded")},
    **{f"Bluetooth.{n}": Shape(_bt_device_requester, **_bt_context)
       for n in ("ConnectByDeviceIdSucceeded", "ConnectByDeviceIdFailed", "DisconnectDeviceSucceeded",
                 "DisconnectDeviceFailed")},
    "Bluetooth.ConnectByProfileSucceeded": Shape(obj({"device": _bt_device, "requester": _bt_requester,
                                                      "profileName": string(True)}), **_bt_context),
    "Bluetooth.ConnectByProfileFailed": Shape(obj({"requester": _bt_requester, "profileName": string(True)}),
                                              **_bt_context),
    **{f"Bluetooth.MediaControl{c}{r}": Shape(empty_object, **_bt_context)
       for c in ("Play", "Stop", "Next", "Previous") for r in ("Succeeded", "Failed")},
    **{f"Bluetooth.{n}": Shape(obj({"device": obj({"uniqueDeviceId": string(True)})}), **_bt_context)
       for n in ("StreamingStarted", "StreamingEnded")},
}

V1_HEADER = {"namespace": string(True), "name": string(True), "messageId": string(True)}
V1_HEADER_OPTIONAL = {"dialogRequestId": string(True)}

# "Namespace.Name" -> exact shape. Events not listed get the envelope checks only.
EVENT_CHECKS: dict[str, Shape] = {
    "System.SynchronizeState": Shape(empty_object, context="required"),
    "System.UserInactivityReport": Shape(obj({"inactiveTimeInSeconds": integer(0)}), context="optional"),
    "System.SoftwareInfo": Shape(obj({"firmwareVersion": _firmware_version}), context="optional"),
    "System.ExceptionEncountered": Shape(obj({
        "unparsedDirective": string(),
        "error": obj({"type": enum(*EXCEPTION_TYPES), "message": string()})}), context="required"),
    "Speaker.VolumeChanged": Shape(obj({"volume": integer(0, 100), "muted": boolean}), context="optional"),
    "Speaker.MuteChanged": Shape(obj({"volume": integer(0, 100), "muted": boolean}), context="optional"),
    "Settings.SettingsUpdated": Shape(obj({"settings": _settings}), context="optional"),
    "SpeechSynthesizer.SpeechStarted": Shape(obj({"token": string()}), context="optional"),
    "SpeechSynthesizer.SpeechFinished": Shape(obj({"token": string()}), context="optional"),
    "SpeechRecognizer.ExpectSpeechTimedOut": Shape(empty_object, context="optional"),
    **ALERTS_EVENTS,
    **AUDIO_PLAYER_EVENTS,
    **PLAYBACK_CONTROLLER_EVENTS,
    **BLUETOOTH_EVENTS,
    # v3 (../shared/seeds/004_alexa-speaker-interface.txt)
    "Alexa.Response": Shape(empty_object, v3=True, correlation=True, endpoint=_endpoint_id_only,
                            context="required"),
    "Alexa.ErrorResponse": Shape(_error_payload, v3=True, correlation=True, endpoint=_endpoint_id_only),
    "Alexa.StateReport": Shape(empty_object, v3=True, correlation=True, endpoint=_endpoint_scoped,
                               context="required"),
    "Alexa.ChangeReport": Shape(obj({"change": obj({"cause": obj({"type": enum(*CHANGE_CAUSES)}),
                                                    "properties": any_value})}),
                                v3=True, correlation=False, endpoint=_endpoint_scoped, context="optional"),
    "Alexa.Discovery.AddOrUpdateReport": Shape(_discovery_payload, v3=True, correlation=False,
                                               header_optional={"eventCorrelationToken": string(True)}),
}


def is_v3_namespace(ns: str) -> bool:
    return ns == "Alexa" or ns.startswith("Alexa.")


def envelope_header(meta: Any) -> dict | None:
    """The event header if the envelope gets that far (for the request record), else None."""
    try:
        h = meta["event"]["header"]
    except (TypeError, KeyError):
        return None
    if isinstance(h, dict) and all(isinstance(h.get(k), str) and h[k] for k in ("namespace", "name", "messageId")):
        return h
    return None


def _check(meta: Any) -> None:
    any_object(meta, "metadata")
    ev = meta.get("event")
    if ev is None:
        raise Invalid("metadata lacks 'event'")
    any_object(ev, "event")
    header = ev.get("header")
    if header is None:
        raise Invalid("event lacks 'header'")
    any_object(header, "event.header")
    for k in ("namespace", "name", "messageId"):
        if k not in header:
            raise Invalid(f"event.header lacks {k!r}")
        string(True)(header[k], f"event.header.{k}")
    ns, name = header["namespace"], header["name"]
    shape = EVENT_CHECKS.get(f"{ns}.{name}")
    v3 = shape.v3 if shape is not None else ("payloadVersion" in header or is_v3_namespace(ns))
    if shape is not None and not v3 and "payloadVersion" in header:
        raise Invalid("event.header has 'payloadVersion', which AVS (v1) events do not carry")

    obj({"event": any_value}, {"context": any_value})(meta, "metadata")
    if not v3:
        obj({"header": any_value, "payload": any_object})(ev, "event")
        obj(V1_HEADER, V1_HEADER_OPTIONAL)(header, "event.header")
        if "context" in meta:
            check_v1_context(meta["context"])
            if shape is not None:
                have = {f"{e['header']['namespace']}.{e['header']['name']}" for e in meta["context"]}
                for want in shape.context_entries:
                    if want not in have:
                        raise Invalid(f"context lacks the {want} entry (a {ns}.{name} reports it)")
        elif shape is not None and shape.context == "required":
            raise Invalid("metadata lacks 'context' (this event carries the device context)")
        if shape is not None:
            shape.payload(ev["payload"], "event.payload")
        return

    # v3
    if shape is None:  # unknown v3 event: the envelope
        obj({"header": any_value, "payload": any_object}, {"endpoint": any_object})(ev, "event")
        obj({**V1_HEADER, "payloadVersion": string(True)},
            {"correlationToken": string(True), "eventCorrelationToken": string(True),
             "dialogRequestId": string(True)})(header, "event.header")
        if "context" in meta:
            check_v3_context(meta["context"])
        return
    hdr = {**V1_HEADER, **({"correlationToken": string(True)} if shape.correlation else {}),
           "payloadVersion": const("3")}
    if shape.correlation and "correlationToken" not in header:
        raise Invalid(f"event.header lacks 'correlationToken' ({ns}.{name} answers a directive "
                      "and echoes its correlationToken)")
    if not shape.correlation and "correlationToken" in header:
        raise Invalid(f"event.header has 'correlationToken', which a proactive {ns}.{name} does not carry")
    obj(hdr, shape.header_optional)(header, "event.header")
    if shape.endpoint is not None:
        obj({"header": any_value, "endpoint": any_value, "payload": any_value})(ev, "event")
        shape.endpoint(ev["endpoint"], "event.endpoint")
    else:
        obj({"header": any_value, "payload": any_value})(ev, "event")
    shape.payload(ev["payload"], "event.payload")
    if "context" in meta:
        if shape.context is None:
            raise Invalid(f"metadata has 'context', which {ns}.{name} does not carry")
        ctx_keys = check_v3_context(meta["context"])
    else:
        if shape.context == "required":
            raise Invalid(f"metadata lacks 'context' (a {ns}.{name} reports the properties in "
                          "context.properties)")
        ctx_keys = set()
    if f"{ns}.{name}" == "Alexa.ChangeReport":
        changed = check_properties(ev["payload"]["change"]["properties"], "event.payload.change.properties", 1)
        both = changed & ctx_keys
        if both:
            n, p, _ = sorted(both, key=str)[0]
            raise Invalid(f"{n}.{p} is both in event.payload.change.properties and in context.properties "
                          "(the context holds the properties that did not change)")


def check_event(meta: Any) -> str | None:
    """None if the event metadata is well formed, else the problem (prefixed with the
    event's Namespace.Name when the header got that far)."""
    try:
        _check(meta)
        return None
    except Invalid as e:
        h = envelope_header(meta)
        return f"{h['namespace']}.{h['name']}: {e}" if h else str(e)

#!/usr/bin/env python3
"""Seeds for the h2_client fuzz target (src/fuzzing.rs): what a server sends on one connection,
as records the harness delivers one at a time (format in src/fuzzing.rs). Written with hpack
and hyperframe (the local server's own HTTP/2 stack), so they are valid HTTP/2 a fuzzer can
mutate from deep states instead of rediscovering the framing.

    python3 fuzz/h2_seeds.py OUT_DIR
"""
import json
import struct
import sys
from pathlib import Path

from hpack import Encoder
from hyperframe.frame import DataFrame, HeadersFrame, RstStreamFrame, SettingsFrame, GoAwayFrame, PingFrame

B = "fuzzbound"
enc = Encoder()


def headers(sid, status, ctype=None, end=False):
    h = [(":status", str(status))]
    if ctype:
        h.append(("content-type", ctype))
    f = HeadersFrame(sid, data=enc.encode(h))
    f.flags.add("END_HEADERS")
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


def data(sid, payload, end=False):
    f = DataFrame(sid, data=payload)
    if end:
        f.flags.add("END_STREAM")
    return f.serialize()


def settings():
    s = SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 10}).serialize()
    ack = SettingsFrame(0)
    ack.flags.add("ACK")
    return s + ack.serialize()


MULTIPART = f"multipart/related; boundary={B}; type=\"application/json\""


def directive(ns, name, payload, dialog=None):
    header = {"namespace": ns, "name": name, "messageId": "m-1"}
    if dialog:
        header["dialogRequestId"] = dialog
    return json.dumps({"directive": {"header": header, "payload": payload}}).encode()


def json_part(body):
    return b"--" + B.encode() + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + body + b"\r\n"


def binary_part(cid, body):
    return (b"--" + B.encode() + b"\r\nContent-ID: <" + cid.encode() + b">\r\nContent-Type: application/octet-stream\r\n\r\n"
            + body + b"\r\n")


CLOSE = b"--" + B.encode() + b"--\r\n"


def record(body, advance=0):
    # advance: the low length byte also moves the clock; keep lengths honest instead.
    return struct.pack("<H", len(body)) + body


def connect_records():
    """A new connection: 1: server preface + downchannel 200; 2: SynchronizeState 204. Each seed
    is one connection, so each starts a fresh HPACK encoder (its dynamic table is per connection)."""
    global enc
    enc = Encoder()
    return [settings() + headers(1, 200, MULTIPART), headers(3, 204, end=True)]


def seeds():
    out = {}
    out["connect"] = bytes([0]) + b"".join(record(x) for x in connect_records())
    push = json_part(directive("Speaker", "SetVolume", {"volume": 50})) + json_part(b"{not json") + json_part(directive("Alerts", "SetAlert", {"token": "t"}))
    out["downchannel_directives"] = bytes([0]) + b"".join(record(x) for x in connect_records() + [data(1, push)])
    # An event (stream 5) answered with a directive and an attachment.
    ev = headers(5, 200, MULTIPART) + data(5, binary_part("att-1", b"\x00" * 300) + json_part(directive("Notifications", "SetIndicator", {})) + CLOSE, end=True)
    out["event_answered"] = bytes([1]) + b"".join(record(x) for x in connect_records() + [ev])
    out["event_throttled"] = bytes([1]) + b"".join(record(x) for x in connect_records() + [headers(5, 429, "application/json") + data(5, b'{"header":{"namespace":"System","name":"Exception"},"payload":{"code":"THROTTLING_EXCEPTION","description":"slow"}}', end=True)])
    out["event_reset"] = bytes([1]) + b"".join(record(x) for x in connect_records() + [RstStreamFrame(5, error_code=2).serialize()])
    # A voice turn: Recognize on stream 5, StopCapture, then Speak + audio (either order). No
    # dialogRequestId: the client's is random, and directives without one are accepted.
    stop = json_part(directive("SpeechRecognizer", "StopCapture", {}))
    speak = json_part(directive("SpeechSynthesizer", "Speak", {"url": "cid:speak-1", "token": "tok-1", "format": "AUDIO_MPEG"}))
    audio = binary_part("speak-1", b"\xff\xfb" + b"\x11" * 600)
    expect = json_part(directive("SpeechRecognizer", "ExpectSpeech", {"timeoutInMilliseconds": 8000}))
    out["turn_speak_first"] = bytes([2 | 4]) + b"".join(record(x) for x in connect_records() + [headers(5, 200, MULTIPART) + data(5, stop), data(5, speak + audio + expect + CLOSE, end=True)])
    out["turn_audio_first"] = bytes([2 | 4]) + b"".join(record(x) for x in connect_records() + [headers(5, 200, MULTIPART) + data(5, stop), data(5, audio + speak + CLOSE, end=True)])
    # Delimiter first, its tail with the next write (issue 8, item 1).
    split = stop[:-2]
    out["turn_split_delimiter"] = bytes([2]) + b"".join(record(x) for x in connect_records() + [headers(5, 200, MULTIPART) + data(5, split + b"\r\n--" + B.encode()), data(5, b"\r\n" + speak[len(b"--" + B.encode() + b"\r\n"):] + CLOSE, end=True)])
    # One directive of each interface the harness turns on, valid and not (issue 9).
    v3 = lambda ns, name, payload: json.dumps({"directive": {"header": {"namespace": ns, "name": name, "messageId": "m-" + name,
        "correlationToken": "corr-" + name, "payloadVersion": "3"}, "endpoint": {"scope": {"type": "BearerToken", "token": "t"},
        "endpointId": "fuzz-endpoint", "cookie": {}}, "payload": payload}}).encode()
    ifaces = b"".join(json_part(d) for d in [
        directive("Speaker", "SetVolume", {"volume": 20}), directive("Speaker", "AdjustVolume", {"volume": -30}),
        directive("Speaker", "SetMute", {"mute": True}), directive("Speaker", "SetVolume", {"volume": 101}),
        v3("Alexa.Speaker", "SetVolume", {"volume": 60}), v3("Alexa.Speaker", "AdjustVolume", {"volume": 7, "volumeDefault": True}),
        v3("Alexa", "ReportState", {}), v3("Alexa.Speaker", "SetMute", {"mute": "yes"}),
        directive("System", "ResetUserInactivity", {}), directive("System", "SetEndpoint", {"endpoint": "ftp://x"}),
        directive("Notifications", "SetIndicator", {"persistVisualIndicator": True, "playAudioIndicator": False}),
        directive("Notifications", "ClearIndicator", {}),
        directive("TemplateRuntime", "RenderTemplate", {"token": "c", "type": "BodyTemplate1"}),
        directive("TemplateRuntime", "RenderPlayerInfo", {}), directive("Vendor", "Unknown", {}),
    ])
    out["interfaces"] = bytes([0]) + b"".join(record(x) for x in connect_records() + [data(1, ifaces)])
    out["goaway"] = bytes([1]) + b"".join(record(x) for x in connect_records() + [GoAwayFrame(0, last_stream_id=3, error_code=0).serialize()])
    out["ping"] = bytes([0]) + b"".join(record(x) for x in connect_records() + [PingFrame(0, opaque_data=b"12345678").serialize()])
    return out


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in seeds().items():
        (out / f"seed-{name}").write_bytes(blob)
    print(f"{len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpora (corpus/<target>/seed-*) from the messages of the unit tests
(crates/avs-core/src/multipart.rs, message.rs), the local server's framing and the directives
in tests/ and emulator/. Run it again after changing a seed; libFuzzer adds its own files next
to them."""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
B = b"b6f3c2a0-1d2e-4f5a-9b8c-7d6e5f4a3b2c"
LONG = b"0123456789'()+_,-./:=?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
SPEAK = (b'{"directive":{"header":{"namespace":"SpeechSynthesizer","name":"Speak","messageId":"m-1",'
         b'"dialogRequestId":"d-1"},"payload":{"url":"cid:DeviceTTSRendererV4_3:Q.x_y#1",'
         b'"format":"AUDIO_MPEG","token":"t"}}}')
STOP = (b'{"directive":{"header":{"namespace":"SpeechRecognizer","name":"StopCapture",'
        b'"messageId":"m-0","dialogRequestId":"d-1"},"payload":{}}}')
ID = b"DeviceTTSRendererV4_3:Q.x_y#1"
JSON_CT = b"Content-Type: application/json; charset=UTF-8\r\n"


def mp_input(boundary, msg, cap=64, max_piece=0, seed=0):
    """The multipart target's input format (fuzz/src/multipart.rs `check`)."""
    fixed = {B: 0x80, LONG: 0x81, b"bo-und": 0x82}
    if boundary in fixed:
        return bytes([fixed[boundary], cap, max_piece, seed]) + msg
    return bytes([len(boundary) - 1, cap, max_piece, seed]) + boundary + msg


tricky = (b"\x00\xff\r\n\r\nabc\r\n--\r\n--b6f3c2a0-1d2e\r\r\n--" + B[:-1] + b"\r\n-" + B + b"-x\n--" + B
          + b"\rx\r--" + B + b"\r\r--" + B + b"\r\nend\r\n-\r")
multipart = {
    "avs-response": mp_input(B, b"\r\n--" + B + b"\r\n" + JSON_CT + b"\r\n" + SPEAK + b"\r\n--" + B
                             + b"\r\nContent-ID: <" + ID + b">\r\nContent-Type: application/octet-stream\r\n\r\n"
                             + tricky + b"\r\n--" + B + b"\r\nContent-Type: application/json\r\n\r\n{\"b\":2}\r\n--"
                             + B + b"--\r\nepilogue\r\n--" + B + b"\r\n\r\n{}", cap=255, max_piece=7),
    "part-then-delimiter": mp_input(B, b"--" + B + b"\r\n" + JSON_CT + b"\r\n" + STOP + b"\r\n--" + B + b"\r\n"
                                    + JSON_CT + b"\r\n" + SPEAK + b"\r\n--" + B + b"\r\nContent-ID: <" + ID
                                    + b">\r\n\r\nMP3DATA\r\n--" + B + b"--\r\n", cap=255, max_piece=0),
    "three-way": mp_input(b"b", b"--b\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n--b\r\nContent-ID: x\r\n\r\n\r\n--\r\n--b-\r\n--b--", max_piece=3),
    "preamble": mp_input(b"b", b"preamble --b not at line start\r\nx--b\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--"),
    "repeated": mp_input(b"b", b"--b\r\n--b\r\n\r\n--b  \r\n\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"x\":1}\r\n--b\r\n--b\r\nContent-Type: application/json\r\n\r\n\r\n--b--\r\n", max_piece=1),
    "padding": mp_input(b"b", b"--b \t \r\nContent-Type: application/json\r\n\r\n{}\r\n--b\t\r\ncontent-id: <a.b>\r\n\r\nDATA\r\n--b-- \r\n"),
    "header-case": mp_input(b"b", b"--b\r\nCONTENT-TYPE: Application/JSON\r\n\r\n{}\r\n--b\r\ncOnTeNt-Id:   plain:id_1.2#3  \r\nX-Other: y\r\n\r\nD1\r\n--b\r\nContent-Id:<w>\nContent-Type:application/octet-stream\n\nD2\r\n--b--"),
    "empty-parts": mp_input(b"b", b"--b\r\nContent-ID: <e>\r\n\r\n\r\n--b\r\nContent-Type: application/json\r\n\r\n\r\n--b--"),
    "line-start": mp_input(b"b", b"--b\r\nContent-ID: <i>\r\n\r\nx--b\n--b\r--b\r\n-b\r\n--b--\r\n\r\n--b--"),
    "junk-after-delimiter": mp_input(b"b", b"--b\r\nContent-ID: <i>\r\n\r\nDATA\r\n--b-x\r\nContent-Type: application/json\r\n\r\n{}\r\n--b\rx\n--b--"),
    "oversize-json": mp_input(b"b", b"--b\r\nContent-Type: application/json\r\n\r\n" + b"x" * 70 + b"\r\n--b\r\nContent-Type: application/json\r\n\r\n{\"ok\":1}\r\n--b\r\nContent-ID: <big>\r\n\r\n" + b"x" * 70 + b"\r\n--b--", cap=64, max_piece=9),
    "oversize-headers": mp_input(b"b", b"--b\r\nX-Long: " + b"z" * 80 + b"\r\n\r\n{\"lost\":1}\r\n--b\r\nContent-ID: <" + b"z" * 40 + b">\r\nX-Long: " + b"z" * 30 + b"\r\n\r\nD\r\n--b\r\nX: " + b"z" * 28 + b"\r\n--b\r\n\r\n{}\r\n--b--", cap=32, max_piece=5),
    "malformed-header": mp_input(b"b", b"--b\r\nno colon here\r\n\r\n{\"lost\":1}\r\n--b\r\nbad\r\n--b\r\n\r\n{\"ok\":1}\r\n--b--"),
    "form-data": mp_input(b"BB", b"--BB\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{\"event\":{}}\r\n--BB\r\nContent-Disposition: form-data; name=\"audio\"\r\nContent-Type: application/octet-stream\r\n\r\n\x01\r\n\x02\r\n--BB--\r\n"),
    "disposition-params": mp_input(b"q", b"--q\r\nContent-Disposition: form-data; x=\"a;b\"; flag; NAME = \"n1\"\r\nContent-Type: audio/mpeg\r\n\r\nA\r\n--q\r\nContent-Disposition: attachment; name=\"es\\\"c\"\r\nContent-Type: application/octet-stream\r\n\r\nB\r\n--q--"),
    "longest-boundary": mp_input(LONG, b"--" + LONG + b"\r\nContent-ID: <q>\r\n\r\n\r\n--" + LONG[:69] + b"\r\n-" + LONG + b"\r\n--" + LONG[1:] + b"\r\n--" + LONG + b"--", max_piece=11),
    "downchannel": mp_input(b"bo-und", b"\r\n--bo-und\r\n" + JSON_CT + b"\r\n" + SPEAK + b"\r\n--bo-und\r\n" + JSON_CT + b"\r\n{\"n\":1}\r\n--bo-und\r\n\r\n--bo-und--\r\n", cap=255),
    "truncated-binary": mp_input(b"b", b"--b\r\nContent-ID: <c>\r\n\r\nabc\r\n--"),
    "truncated-json": mp_input(b"b", b"--b\r\n\r\n{\"cut"),
    "tiny-storage": mp_input(b"b", b"--b\r\n--bjunk longer than the storage\r\n\r\n{}\r\n--b--", cap=4),
    "bad-boundary": bytes([1, 64, 0, 0]) + b"a\rb--a\rb\r\n",
}

speak = SPEAK.decode()
directives = {
    "speak": SPEAK,
    "stop-capture": STOP,
    "expect-speech": json.dumps({"directive": {"header": {"namespace": "SpeechRecognizer", "name": "ExpectSpeech", "messageId": "m-2", "dialogRequestId": "d-1"}, "payload": {"timeoutInMilliseconds": 8000, "initiator": {"type": "WAKEWORD", "payload": {"token": "opaque-token"}}}}}).encode(),
    "set-volume": b'{"directive":{"header":{"namespace":"Speaker","name":"SetVolume","messageId":"m-3"},"payload":{"volume":17}}}',
    "v3-endpoint": b'{"directive":{"header":{"namespace":"Alexa.Speaker","name":"SetVolume","messageId":"m-4","correlationToken":"ct","payloadVersion":"3"},"endpoint":{"endpointId":"e"},"payload":{"volume":5}}}',
    "set-alert": json.dumps({"directive": {"header": {"namespace": "Alerts", "name": "SetAlert", "messageId": "m-5"}, "payload": {"token": "t", "type": "ALARM", "scheduledTime": "2026-01-01T00:00:00+0000", "assets": [{"assetId": "a", "url": "https://x"}], "assetPlayOrder": ["a"], "loopCount": 2, "loopPauseInMilliSeconds": -1.5e3}}}).encode(),
    "escapes": b'{"directive":{"header":{"namespace":"N","name":"M","messageId":"a\\u00e9\\/"},"payload":{"k":"\\ud83d\\ude00\\n\\t"}}}',
    "escaped-keys": b'{"dir\\u0065ctive":{"header":{"namesp\\u0061ce":"N","name":"M","messageId":"i"},"payload":{}}}',
    "repeated-members": b'{"directive":{"header":{"namespace":"A","name":"B","messageId":"C","namespace":"X"},"payload":{},"payload":[]}}',
    "null-members": b'{"directive":{"header":{"namespace":null,"name":"B","messageId":"C","dialogRequestId":null},"payload":{}}}',
    "deep-header": b'{"directive":{"header":{"namespace":"A","name":"B","messageId":"C","x":[[[[[[[[[[1]]]]]]]]]]},"payload":{}}}',
    "exception": b'{"header":{"namespace":"System","name":"Exception","messageId":"e-1"},"payload":{"code":"INVALID_REQUEST_EXCEPTION","description":"bad \\"thing\\""}}',
    "exception-no-header": b' {"payload":{"code":"THROTTLING_EXCEPTION"}} ',
    "not-object": b'[1,2,{"a":null}]',
    "numbers": b'[0,-0,1.5,-1e10,2E+3,0.1e-2,123456789012345678901234567890]',
    "deep": b"[" * 64 + b"]" * 64,
    "too-deep": b"[" * 65 + b"]" * 65,
}

for target, seeds in (("multipart", multipart), ("json", directives)):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, f"seed-{name}"), "wb") as f:
            f.write(data)
print(f"{len(multipart)} multipart seeds, {len(directives)} json seeds")

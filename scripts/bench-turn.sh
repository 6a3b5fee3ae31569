#!/usr/bin/env bash
# One voice turn, measured end to end: avs_assistant (release) vs curl (libcurl + nghttp2 + OpenSSL)
# against the local AVS server (emulator/avs_server.py) on loopback.
#
#   scripts/bench-turn.sh
#
# What it does:
#  1. builds the release example (`make -C c-examples`; BENCH_NO_BUILD=1 skips it),
#     generates test certificates into target/bench-certs, starts the server on a free port;
#  2. avs_assistant under `valgrind --tool=callgrind`: one CLOSE_TALK turn streaming
#     emulator/fixtures/utterance.wav (3.3 s, 10 ms pieces, real time), the Speak MP3 written to
#     --speech-out, exit; and a connection-only run (`--utterances 0`: process start, connect, TLS,
#     downchannel, SynchronizeState, exit). Handshake = inclusive cost of mbedtls_ssl_handshake;
#  3. curl under callgrind, POSTing the same Recognize (metadata taken from what avs sent, fresh
#     ids) with the PCM piped in 10 ms pieces in real time, two ways:
#       -F 'audio=@-'  the command as usually written; curl reads a piped stdin to the end
#                      before it connects (it needs the size), so nothing is streamed;
#       -T -           the same multipart body, framed by the feeder, streamed as it is piped;
#     curl opens no downchannel and sends no SynchronizeState;
#  4. peak RSS of avs_assistant for the same turn (`/usr/bin/time -v`, not under valgrind);
#  5. CPU per second of audio: getrusage user+sys of avs_assistant for `--utterances N`
#     (default 5) minus a `--utterances 0` run, divided by N x 3.3 s (BENCH_CPU_REPS runs each,
#     median), and instructions per second of audio from the callgrind runs.
# Outputs (callgrind files, logs) go to target/bench-turn/. Last lines: one summary line each.
# Env: BENCH_NO_BUILD=1, BENCH_FEATURES=<Makefile FEATURES, e.g. empty for no ALSA>,
#      BENCH_UTTERANCES (5), BENCH_CPU_REPS (3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=$ROOT/target/bench-turn
CERTS=$ROOT/target/bench-certs
WAV=$ROOT/emulator/fixtures/utterance.wav
MP3=$ROOT/emulator/fixtures/speak.mp3
# A private build dir, so that what is measured is this release build whatever the user last
# built in c-examples/build/ (the test suite builds under target/c-examples-test/).
APP=$OUT/build/avs_assistant
TOKEN=bench-token
UTTS=${BENCH_UTTERANCES:-5}
REPS=${BENCH_CPU_REPS:-3}
mkdir -p "$OUT"

need_apt() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "bench-turn: installing $2" >&2
    local sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get install -y "$2" >/dev/null || { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y "$2" >/dev/null; }
}
need_apt valgrind valgrind
need_apt curl curl
[ -x /usr/bin/time ] || need_apt /usr/bin/time time
curl -V | grep -q 'HTTP2' || { echo "bench-turn: curl lacks HTTP2: $(curl -V | head -1)" >&2; exit 1; }
curl -V | head -1 | grep -q 'OpenSSL' || echo "bench-turn: warning: curl is not built with OpenSSL: $(curl -V | head -1)" >&2

if [ -z "${BENCH_NO_BUILD:-}" ]; then
    # BENCH_FEATURES (may be empty) is passed on as the Makefile's FEATURES (default there: alsa).
    make -C c-examples BUILD="$OUT/build" ${BENCH_FEATURES+FEATURES="$BENCH_FEATURES"} >"$OUT/build.log" 2>&1 ||
        { cat "$OUT/build.log" >&2; exit 1; }
fi
[ -x "$APP" ] || { echo "bench-turn: $APP missing (make -C c-examples BUILD=$OUT/build)" >&2; exit 1; }
echo "avs_assistant: $APP, links $(ldd "$APP" | awk '/=>/ { printf "%s ", $1 }')($(size "$APP" | awk 'NR == 2 { print $1 " B text, " $2 " B data, " $3 " B bss" }'))"
python3 emulator/avs_server.py gen-certs "$CERTS" >/dev/null

# ------------------------------------------------------------------ server
# Its stdin is a pipe held by this shell: the server exits when the script does.
coproc SRV { exec python3 "$ROOT/emulator/avs_server.py" serve --certs "$CERTS" --token "$TOKEN" --quiet 2>"$OUT/server.log"; }
SRV_PID_SAVED=$SRV_PID
cleanup() { kill "$SRV_PID_SAVED" 2>/dev/null || true; wait "$SRV_PID_SAVED" 2>/dev/null || true; }
trap cleanup EXIT
read -r -t 20 HELLO <&"${SRV[0]}" || { echo "bench-turn: server did not start" >&2; cat "$OUT/server.log" >&2; exit 1; }
PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$HELLO")
CPORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["control_port"])' "$HELLO")
ENDPOINT=https://localhost:$PORT
echo "server: $HELLO"

control() { # JSON command -> reply line
    python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall((sys.argv[2]+"\n").encode()); print(s.makefile().readline().strip())' "$CPORT" "$1"
}

AVS=("$APP" --endpoint "$ENDPOINT" --ca-file "$CERTS/ca.pem" --token "$TOKEN")
TURN=(--profile CLOSE_TALK --audio-in "$WAV" --speech-out "$OUT/avs-speech.mp3")
CG=(valgrind --tool=callgrind --dump-instr=no)

irefs() { sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' "$1" | tr -d ,; }
incl() { # callgrind file, function name -> inclusive Ir
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v f="$2" '!found { for (i = 1; i <= NF; i++) if ($i ~ (":" f "$")) { gsub(",", "", $1); print $1; found = 1; break } }'
}
fmt() { python3 -c 'import sys; print(f"{int(sys.argv[1]):,}")' "$1"; }

# ------------------------------------------------------------------ avs under callgrind
echo "== avs_assistant, one turn, under callgrind"
timeout 300 "${CG[@]}" --callgrind-out-file="$OUT/callgrind.avs-turn" "${AVS[@]}" "${TURN[@]}" >"$OUT/avs-turn.out" 2>"$OUT/avs-turn.valgrind"
cmp -s "$OUT/avs-speech.mp3" "$MP3" || { echo "bench-turn: avs Speak output differs from $MP3" >&2; exit 1; }
AVS_IR=$(irefs "$OUT/avs-turn.valgrind")
AVS_HS=$(incl "$OUT/callgrind.avs-turn" mbedtls_ssl_handshake)
echo "== avs_assistant, --utterances 0 (connection only), under callgrind"
timeout 300 "${CG[@]}" --callgrind-out-file="$OUT/callgrind.avs-connect" "${AVS[@]}" --utterances 0 >"$OUT/avs-connect.out" 2>"$OUT/avs-connect.valgrind"
AVS0_IR=$(irefs "$OUT/avs-connect.valgrind")
AVS0_HS=$(incl "$OUT/callgrind.avs-connect" mbedtls_ssl_handshake)
echo "top functions (exclusive Ir), avs_assistant turn:"
callgrind_annotate "$OUT/callgrind.avs-turn" 2>/dev/null | sed -n '/file:function/,$p' | sed -n '3,22p' | sed 's/ \[.*//' | cut -c1-120

# ------------------------------------------------------------------ the Recognize avs sent
control '{"cmd":"log"}' >"$OUT/server-log-avs.json"
python3 - "$OUT/server-log-avs.json" "$OUT/meta.json" <<'EOF'
import json, sys, uuid
log = json.load(open(sys.argv[1]))
rec = [r for r in log["requests"] if (r.get("event") or {}).get("name") == "Recognize"][0]
meta = rec["metadata"]
h = meta["event"]["header"]
h["messageId"], h["dialogRequestId"] = str(uuid.uuid4()), str(uuid.uuid4())
open(sys.argv[2], "w").write(json.dumps(meta, separators=(",", ":")))
print(f"Recognize metadata as avs sent it: {rec['parts'][0]['bytes']} bytes; curl's copy: {len(json.dumps(meta, separators=(',', ':')))} bytes (fresh ids)")
EOF
control '{"cmd":"reset"}' >/dev/null

cat >"$OUT/feeder.py" <<'EOF'
# feeder.py WAV [META BOUNDARY CONTROL_PORT]: the WAV's PCM on stdout, 320 bytes (10 ms) every
# 10 ms, in real time. With META, BOUNDARY and the server's control port: wrapped in the
# multipart/form-data body of a Recognize, streamed once the server has the request's headers.
import sys, time
wav = open(sys.argv[1], "rb").read()
i = 12
while True:
    cid, n = wav[i:i + 4], int.from_bytes(wav[i + 4:i + 8], "little")
    if cid == b"data":
        pcm = wav[i + 8:i + 8 + n]
        break
    i += 8 + n + (n & 1)
out = sys.stdout.buffer
mp = len(sys.argv) > 3
if mp:
    # Streaming: wait until the server has the request's headers (curl connected, TLS done),
    # so that the PCM is not queued in the pipe while curl starts under valgrind.
    import json, socket
    c = socket.create_connection(("127.0.0.1", int(sys.argv[4])))
    c.sendall(b'{"cmd": "wait_for", "what": "requests", "path": "/v20160207/events", "count": 1, "timeout_ms": 60000}\n')
    c.makefile().readline()
    meta, b = open(sys.argv[2], "rb").read(), sys.argv[3].encode()
    out.write(b"--" + b + b'\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n'
              + meta + b"\r\n--" + b + b'\r\nContent-Disposition: form-data; name="audio"\r\nContent-Type: application/octet-stream\r\n\r\n')
    out.flush()
t = time.monotonic()
for p in range(0, len(pcm), 320):
    out.write(pcm[p:p + 320])
    out.flush()
    t += 0.010
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
if mp:
    out.write(b"\r\n--" + b + b"--\r\n")
    out.flush()
EOF

# ------------------------------------------------------------------ curl under callgrind
CURL=(curl -sS --http2 --cacert "$CERTS/ca.pem" -H "authorization: Bearer $TOKEN" -w '%{http_code} %{http_version}\n')
URL=$ENDPOINT/v20160207/events
echo "== curl -F 'audio=@-' under callgrind"
python3 "$OUT/feeder.py" "$WAV" | timeout 300 "${CG[@]}" --callgrind-out-file="$OUT/callgrind.curl-F" \
    "${CURL[@]}" -F "metadata=<$OUT/meta.json;type=application/json; charset=UTF-8" -F 'audio=@-;type=application/octet-stream' \
    "$URL" -o "$OUT/curl-F.out" >"$OUT/curl-F.status" 2>"$OUT/curl-F.valgrind"
CURLF_IR=$(irefs "$OUT/curl-F.valgrind")
control '{"cmd":"log"}' >"$OUT/server-log-curl-F.json"
echo "== curl -T - (streamed multipart body) under callgrind"
B=bench-$(python3 -c 'import uuid; print(uuid.uuid4().hex)')
control '{"cmd":"reset"}' >/dev/null
python3 "$OUT/feeder.py" "$WAV" "$OUT/meta.json" "$B" "$CPORT" | timeout 300 "${CG[@]}" --callgrind-out-file="$OUT/callgrind.curl-T" \
    "${CURL[@]}" -H "content-type: multipart/form-data; boundary=$B" -H 'Expect:' -X POST -T - \
    "$URL" -o "$OUT/curl-T.out" >"$OUT/curl-T.status" 2>"$OUT/curl-T.valgrind"
CURLT_IR=$(irefs "$OUT/curl-T.valgrind")
CURL_HS=$(incl "$OUT/callgrind.curl-T" SSL_do_handshake)
CURL_LD=$(incl "$OUT/callgrind.curl-T" _dl_start)
for v in F T; do
    grep -q '^200 2' "$OUT/curl-$v.status" || { echo "bench-turn: curl -$v: $(cat "$OUT/curl-$v.status")" >&2; exit 1; }
    python3 -c 'import sys; sys.exit(open(sys.argv[2],"rb").read() not in open(sys.argv[1],"rb").read())' "$OUT/curl-$v.out" "$MP3" ||
        { echo "bench-turn: curl -$v output lacks the Speak MP3" >&2; exit 1; }
done
control '{"cmd":"log"}' >"$OUT/server-log-curl-T.json"
for who in avs curl-F curl-T; do
    python3 - "$OUT/server-log-$who.json" "$who" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["requests"]:
    if (r.get("event") or {}).get("name") == "Recognize":
        on_wire = (r["t_audio_end"] or 0) - (r["t_audio_start"] or 0)
        print(f"  server saw the {sys.argv[2]} Recognize: status {r['status']}, audio {r['audio_bytes']} B in {r['audio_frames']} DATA frames "
              f"(max {r['audio_max_frame']} B) over {on_wire:.2f} s, problem: {r['validation_error'] or r['error']}")
EOF
done

# ------------------------------------------------------------------ peak RSS, CPU time
echo "== avs_assistant peak RSS (/usr/bin/time -v), one turn, 3 runs"
RSS_ALL=()
for i in 1 2 3; do
    /usr/bin/time -v "${AVS[@]}" "${TURN[@]}" >"$OUT/avs-rss.out" 2>"$OUT/avs-rss.time.$i"
    RSS_ALL+=("$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$OUT/avs-rss.time.$i")")
done
echo "  maximum resident set size, kB: ${RSS_ALL[*]}"
RSS=$(python3 -c 'import statistics,sys; print(int(statistics.median(int(x) for x in sys.argv[1:])))' "${RSS_ALL[@]}")

cat >"$OUT/rusage.py" <<'EOF'
# rusage.py CMD...: runs CMD (stdout discarded), prints its user+sys CPU seconds (getrusage via wait4).
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"{sys.argv[1]} exited with {os.waitstatus_to_exitcode(status)}")
print(f"{ru.ru_utime + ru.ru_stime:.6f}")
EOF
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
echo "== CPU time: --utterances $UTTS vs --utterances 0, $REPS runs each"
C0=(); CN=()
for _ in $(seq "$REPS"); do
    C0+=("$(python3 "$OUT/rusage.py" "${AVS[@]}" --utterances 0)")
    CN+=("$(python3 "$OUT/rusage.py" "${AVS[@]}" "${TURN[@]}" --utterances "$UTTS")")
done
echo "  cpu s, --utterances 0: ${C0[*]}; --utterances $UTTS: ${CN[*]}"
AUDIO_S=$(python3 -c "import sys; n=int(sys.argv[1]); print(f'{(n-44)/32000:.3f}')" "$(stat -c %s "$WAV")")
CPU_PER_S=$(python3 -c "import sys; c0,cn,n,a=map(float,sys.argv[1:]); print(f'{(cn-c0)/(n*a)*1000:.2f}')" "$(median "${C0[@]}")" "$(median "${CN[@]}")" "$UTTS" "$AUDIO_S")

# ------------------------------------------------------------------ summary
python3 - "$AVS_IR" "$AVS0_IR" "${AVS_HS:-0}" "${AVS0_HS:-0}" "$CURLF_IR" "$CURLT_IR" "${CURL_HS:-0}" "${CURL_LD:-0}" "$RSS" "$AUDIO_S" "$CPU_PER_S" "$UTTS" <<'EOF'
import sys
avs, avs0, hs, hs0, curlf, curlt, chs, cld = map(int, sys.argv[1:9])
rss, audio, cpu, utts = int(sys.argv[9]), float(sys.argv[10]), sys.argv[11], sys.argv[12]
M = lambda x: f"{x / 1e6:.2f} M"
turn = avs - avs0
print()
print(f"avs_assistant: {avs:,} instructions for the whole turn (target <= 18 M: {'met' if avs <= 18e6 else 'MISSED'}; "
      f"{avs / curlt:.2f}x curl -T, {avs / curlf:.2f}x curl -F, target <= 0.5x); connection only (--utterances 0) {M(avs0)}, "
      f"of which TLS handshake {M(hs0)} (turn run: {M(hs)}); voice turn alone {M(turn)} = {turn / audio / 1e6:.2f} M instr per s of audio; "
      f"peak RSS {rss:,} kB (median of 3; target < 3 MB: {'met' if rss < 3072 else 'MISSED'})")
print(f"curl: {curlt:,} instructions with -T - (PCM streamed in 10 ms pieces), {curlf:,} with -F 'audio=@-' (curl buffers stdin, sends after EOF); "
      f"TLS handshake {M(chs)}, dynamic loading (ld.so) {M(cld)}; no downchannel, no SynchronizeState")
print(f"avs_assistant CPU: {cpu} ms user+sys per s of streamed audio (getrusage, --utterances {utts} minus --utterances 0, median)")
EOF

#!/usr/bin/env bash
# Runs a real voice turn through the avs C API with the C example avs_assistant.
#   ./demo.sh                 against the bundled local AVS server (HTTP/2 over TLS, test CA):
#                             emulator/fixtures/utterance.wav is the microphone, Alexa's answer
#                             (MP3) is written to target/demo-speak.mp3
#   AVS_ENDPOINT=https://alexa.na.gateway.devices.a2z.com AVS_ACCESS_TOKEN=... ./demo.sh
#                             against Amazon's AVS with a real Login with Amazon token
#                             (add AVS_ALSA=1 to use the ALSA microphone and speaker)
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
make -C c-examples
ASSISTANT=c-examples/build/avs_assistant
RUN_FOR=${AVS_RUN_FOR:-2}
SPEECH_OUT=target/demo-speak.mp3
AUDIO=(--audio-in emulator/fixtures/utterance.wav --speech-out "$SPEECH_OUT")

if [[ -n "${AVS_ENDPOINT:-}" ]]; then
  : "${AVS_ACCESS_TOKEN:?set AVS_ACCESS_TOKEN to a Login with Amazon access token}"
  [[ -n "${AVS_ALSA:-}" ]] && AUDIO=(--alsa --speech-out "$SPEECH_OUT")
  exec "$ASSISTANT" --endpoint "$AVS_ENDPOINT" --ca-file "${AVS_CA_FILE:-/etc/ssl/certs/ca-certificates.crt}" \
    --token "$AVS_ACCESS_TOKEN" --run-for "$RUN_FOR" --profile "${AVS_PROFILE:-NEAR_FIELD}" "${AUDIO[@]}"
fi

CERTS=target/demo-certs
python3 emulator/avs_server.py gen-certs "$CERTS" >/dev/null
# The server exits when its stdin closes, so it cannot outlive this script.
coproc SERVER { exec python3 emulator/avs_server.py serve --certs "$CERTS" --token demo-token --quiet; }
read -r ready <&"${SERVER[0]}"
PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$ready")
CONTROL=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["control_port"])' "$ready")
echo "local AVS server on https://localhost:$PORT"

# Once the client is synchronized, push a cloud-initiated directive down the downchannel.
python3 - "$CONTROL" <<'PY' &
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rw")
def cmd(**kw):
    f.write(json.dumps(kw) + "\n"); f.flush(); return json.loads(f.readline())
cmd(cmd="wait_for", what="requests", name="SynchronizeState", count=1, timeout_ms=60000)
cmd(cmd="push_directive", directives=[{"directive": {"header": {"namespace": "Speaker", "name": "SetVolume",
    "messageId": "demo-1"}, "payload": {"volume": 40}}}])
PY
"$ASSISTANT" --endpoint "https://localhost:$PORT" --ca-file "$CERTS/ca.pem" --token demo-token --run-for "$RUN_FOR" \
  --profile NEAR_FIELD "${AUDIO[@]}"
echo "Alexa's answer: $SPEECH_OUT ($(stat -c %s "$SPEECH_OUT") bytes of MP3; play it with e.g. 'mpg123 $SPEECH_OUT')"

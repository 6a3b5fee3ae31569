#!/usr/bin/env bash
# Runs a real voice turn through the avs C API with the C example avs_assistant.
#   ./demo.sh                 against the bundled local AVS server (HTTP/2 over TLS, test CA):
#                             emulator/fixtures/utterance.wav is the microphone, Alexa's answer
#                             (MP3) is written to target/demo-speak.mp3; then the server sends one
#                             directive of each interface (volume, mute, Alexa.Speaker, indicator,
#                             cards, SetEndpoint...) and the transcript shows each handled
#   AVS_ENDPOINT=https://alexa.na.gateway.devices.a2z.com AVS_ACCESS_TOKEN=... ./demo.sh
#                             against Amazon's AVS with a real Login with Amazon token
#                             (add AVS_ALSA=1 to use the ALSA microphone and speaker)
#   AVS_ENDPOINT=... AVS_CLIENT_ID=... [AVS_REFRESH_TOKEN=...] ./demo.sh
#                             the library signs in itself: from the refresh token, or the one
#                             kept in target/amazon-state by an earlier run, or by code-based
#                             linking (AVS_PRODUCT_ID and AVS_DSN: it prints the code to enter)
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
make -C c-examples
ASSISTANT=c-examples/build/avs_assistant
RUN_FOR=${AVS_RUN_FOR:-8}
SPEECH_OUT=target/demo-speak.mp3
AUDIO=(--audio-in emulator/fixtures/utterance.wav --speech-out "$SPEECH_OUT")

if [[ -n "${AVS_ENDPOINT:-}" ]]; then
  [[ -n "${AVS_ALSA:-}" ]] && AUDIO=(--alsa --speech-out "$SPEECH_OUT")
  if [[ -n "${AVS_CLIENT_ID:-}" ]]; then
    mkdir -p target/amazon-state
    SIGN_IN=(--client-id "$AVS_CLIENT_ID" --state-dir target/amazon-state)
    [[ -n "${AVS_REFRESH_TOKEN:-}" ]] && SIGN_IN+=(--refresh-token "$AVS_REFRESH_TOKEN")
    if [[ -z "${AVS_REFRESH_TOKEN:-}" && ! -f target/amazon-state/lwa-refresh-token ]]; then
      : "${AVS_PRODUCT_ID:?set AVS_REFRESH_TOKEN, or AVS_PRODUCT_ID and AVS_DSN to link this device}"
      SIGN_IN+=(--link --product-id "$AVS_PRODUCT_ID" --dsn "${AVS_DSN:?set AVS_DSN}")
      RUN_FOR=${AVS_RUN_FOR:-300}
    fi
  else
    : "${AVS_ACCESS_TOKEN:?set AVS_ACCESS_TOKEN to a Login with Amazon access token, or AVS_CLIENT_ID to sign in}"
    SIGN_IN=(--token "$AVS_ACCESS_TOKEN")
  fi
  exec "$ASSISTANT" --endpoint "$AVS_ENDPOINT" --ca-file "${AVS_CA_FILE:-/etc/ssl/certs/ca-certificates.crt}" \
    "${SIGN_IN[@]}" --run-for "$RUN_FOR" --profile "${AVS_PROFILE:-NEAR_FIELD}" "${AUDIO[@]}"
fi

CERTS=target/demo-certs
python3 emulator/avs_server.py gen-certs "$CERTS" >/dev/null
# The server exits when its stdin closes, so it cannot outlive this script.
coproc SERVER { exec python3 emulator/avs_server.py serve --certs "$CERTS" --token demo-token --quiet --demo-interfaces; }
read -r ready <&"${SERVER[0]}"
PORT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$ready")
echo "local AVS server on https://localhost:$PORT"

# Once the client is synchronized the server (--demo-interfaces) pushes one directive of each
# interface down the downchannel, 300 ms apart. State that survives a restart goes to
# target/demo-state (run the demo twice: the capabilities are not published again).
mkdir -p target/demo-state
"$ASSISTANT" --endpoint "https://localhost:$PORT" --ca-file "$CERTS/ca.pem" --token demo-token --run-for "$RUN_FOR" \
  --profile NEAR_FIELD "${AUDIO[@]}" --state-dir target/demo-state --firmware-version 1 --locale en-US
echo "Alexa's answer: $SPEECH_OUT ($(stat -c %s "$SPEECH_OUT") bytes of MP3; play it with e.g. 'mpg123 $SPEECH_OUT')"

#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs, then the Rust unit and
# integration tests (which start the local AVS server and build and run the C examples), and the
# local server's own self-test.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
echo "== cargo test"
cargo test --workspace
echo "== ALSA capture and MP3 playback (feature alsa, ALSA file/null plugins, no sound card)"
cargo test --features alsa --lib --test alsa
echo "== fuzzing harness (feature fuzzing): the h2_client seeds replay and reach their states"
cargo test --features fuzzing --lib fuzzing
echo "== benches compile"
cargo bench --workspace --no-run
echo "== local AVS server self-test"
python3 emulator/test_server.py
echo "== all tests passed"

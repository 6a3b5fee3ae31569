#!/usr/bin/env bash
# Install everything avs needs to build, test and cross-compile, on a fresh
# Debian 12 machine. Idempotent and quick when everything is present: apt is
# only touched (update + install) for packages that are missing.
#
#   scripts/deps.sh
#
# Runs as root directly, otherwise through sudo when available.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(
    # native build: mbedtls-sys-auto (cmake + bindgen/libclang), libnghttp2-sys (cc)
    build-essential cmake clang libclang-dev pkg-config
    # cross toolchains + qemu-user to run the cross tests
    gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu
    libc6-dev-armhf-cross libc6-dev-arm64-cross
    qemu-user
    # emulator (Python h2 server), TLS test certs, h2 client for poking it
    python3-pip openssl nghttp2-client
    # audio: ALSA for the device side, TTS/conversion for test utterances
    libasound2-dev alsa-utils espeak-ng sox lame
    # memory checks of the C examples
    valgrind
)

RUST_TARGETS=(
    armv7-unknown-linux-gnueabihf
    aarch64-unknown-linux-gnu
    thumbv7em-none-eabihf
)

log() { echo "deps.sh: $*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        SUDO=()
        NO_ROOT=1
    fi
fi

# ------------------------------------------------------------------- apt
missing=()
for p in "${APT_PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    log "apt: all ${#APT_PACKAGES[@]} packages present"
else
    if [ -n "${NO_ROOT:-}" ]; then
        log "ERROR: missing apt packages (${missing[*]}) and not root / no sudo"
        exit 1
    fi
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q || log "apt-get update reported errors (a mirror or foreign-architecture index); installing anyway"
    "${SUDO[@]}" apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}"
fi

# ------------------------------------------------------------------ rust
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v rustup >/dev/null 2>&1; then
    log "ERROR: rustup not found (the machine's Rust toolchain is installed with rustup)"
    exit 1
fi
installed_targets=$(rustup target list --installed)
want=()
for t in "${RUST_TARGETS[@]}"; do
    grep -qx "$t" <<<"$installed_targets" || want+=("$t")
done
if [ ${#want[@]} -eq 0 ]; then
    log "rustup: targets present (${RUST_TARGETS[*]})"
else
    log "rustup: adding targets ${want[*]}"
    rustup target add "${want[@]}"
fi

# ---------------------------------------------------------------- python
req=emulator/requirements.txt
if [ ! -f "$req" ]; then
    log "pip: $req not found, skipping"
else
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
    if ! python3 -m pip --version >/dev/null 2>&1; then
        log "pip: python3 -m pip unavailable, bootstrapping with ensurepip"
        python3 -m ensurepip --upgrade || true
    fi
    # Quick path, no pip run: every requirement is a bare name that is
    # installed. Anything with a version specifier or option goes to pip.
    if python3 - "$req" <<'PY'
import re, sys
from importlib import metadata
ok = True
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    if line.startswith("-"):
        ok = False  # options (-r, -e, --index-url ...): let pip handle it
        break
    name = re.split(r"[\s<>=!~;\[@]", line, maxsplit=1)[0]
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        ok = False
        break
    # a version constraint: let pip decide
    if re.search(r"[<>=!~]", line):
        ok = False
        break
sys.exit(0 if ok else 1)
PY
    then
        log "pip: requirements in $req present ($(python3 --version 2>&1))"
    else
        log "pip: installing -r $req with $(command -v python3) ($(python3 --version 2>&1))"
        pipout=$(mktemp)
        rc=0
        python3 -m pip install -r "$req" >"$pipout" 2>&1 || rc=$?
        if [ $rc -ne 0 ] && grep -q externally-managed-environment "$pipout"; then
            log "pip: externally managed python, retrying with --break-system-packages"
            rc=0
            python3 -m pip install --break-system-packages -r "$req" >"$pipout" 2>&1 || rc=$?
        fi
        grep -v '^Requirement already satisfied' "$pipout" || true
        rm -f "$pipout"
        if [ $rc -ne 0 ]; then
            log "ERROR: pip install -r $req failed"
            exit 1
        fi
    fi
fi

log "done"

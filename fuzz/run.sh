#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), starting from the checked-in seeds in
# corpus/<target>/; new inputs go to a scratch directory, crashes to artifacts/<target>/.
# Installs cargo-fuzz if missing (from crates.io; stable Rust, `--sanitizer none`: see README.md).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]      Exit status non-zero on any finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(multipart json h2_client)

CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# The reference decoder's own answers, and the corpus (and any crash kept in artifacts/)
# replayed without libFuzzer.
echo "== cargo test (reference decoder, corpus replay)"
cargo test --quiet
# The sanitizers need nightly; the code under test has no unsafe, so coverage guidance plus
# debug assertions and overflow checks (cargo-fuzz's defaults) is what finds its bugs.
echo "== cargo fuzz build -s none"
cargo fuzz build -s none 2>&1 | tail -n 1   # every target

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "artifacts/$t"
    echo "== $t: ${secs} s"
    rc=0
    cargo fuzz run -s none "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        >"$work/$t.log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    if [ $rc -ne 0 ]; then
        grep -E -A12 "panicked|==ERROR|deadly signal" "$work/$t.log" | head -n 40 || tail -n 40 "$work/$t.log"
        echo "== $t: FINDING after ${execs:-?} executions (exit $rc); input kept in fuzz/artifacts/$t/"
        exit 1
    fi
    grep -E "^#[0-9]+.*(pulse|DONE)" "$work/$t.log" | tail -n 1 || true
    echo "== $t: ${execs} executions, no finding"
    total=$((total + execs))
done
echo "== fuzzing done: ${total} executions in all"

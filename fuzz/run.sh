#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 20), one after the
# other; exits non-zero if any target crashes, hangs (> 5 s on one input) or
# allocates more than 64 MiB at once.
#
#   bash fuzz/run.sh 20            # CI bound
#   bash fuzz/run.sh 300 frame     # one target, longer
#   FUZZ_FEATURES=rustcrypto bash fuzz/run.sh 10 unseal frame   # the RustCrypto backend
#
# Needs only the stable toolchain: cargo-fuzz is installed from crates.io if
# missing, and RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags it passes
# (sanitizer coverage, AddressSanitizer; the ASan runtime ships with stable).
# Inputs: fuzz/seeds/<target>/ (from fuzz/seed.py), fuzz/regressions/<target>/ (past
# crashes, replayed first on every run) and fuzz/corpus/<target>/ (what libFuzzer
# found, not committed). Crashing inputs land in fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
set -euo pipefail

SECONDS_EACH=${1:-20}
shift || true
cd "$(dirname "$0")/.."

TARGETS=(challenge response client server frame unseal mechanism_client mechanism_server cyrus_plugin)
if [ $# -gt 0 ]; then
  TARGETS=("$@")
fi

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  nice cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# Features of the fuzz crate (fuzz/Cargo.toml), e.g. `rustcrypto`.
FEATURES=()
if [ -n "${FUZZ_FEATURES:-}" ]; then
  FEATURES=(--features "$FUZZ_FEATURES")
fi

export RUSTC_BOOTSTRAP=1
echo "== building fuzz targets ${FUZZ_FEATURES:+(features: $FUZZ_FEATURES)}"
nice cargo fuzz build "${FEATURES[@]}"

passed=0
failed=0
mkdir -p fuzz/artifacts
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/regressions/$t"
  log="fuzz/artifacts/$t.log"
  echo "== fuzzing $t for ${SECONDS_EACH}s"
  if nice cargo fuzz run "${FEATURES[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/regressions/$t" -- \
      -max_total_time="$SECONDS_EACH" -timeout=5 -malloc_limit_mb=64 \
      -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "PASS $t: $runs executions, $cov"
    passed=$((passed + 1))
  else
    echo "FAIL $t (log: $log)"
    tail -n 60 "$log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

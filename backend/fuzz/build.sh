#!/bin/sh
# Build the fuzz targets with libFuzzer's coverage instrumentation on the stable
# toolchain (the flags cargo-fuzz passes, less the sanitizer, which needs nightly).
# Usage: backend/fuzz/build.sh  (or provider/tfplugin/fuzz/build.sh); then run
#   $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/<target> <corpus dir> [libFuzzer flags]
set -e
cd "$(dirname "$0")"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
exec cargo build --release --target x86_64-unknown-linux-gnu "$@"

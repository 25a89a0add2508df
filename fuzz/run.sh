#!/usr/bin/env bash
# Build every fuzz target and run each for SECONDS (default 10), starting from its checked-in
# seed corpus (fuzz/corpus/<target>/). Fails when any target finds a crash, a panic or a timeout;
# the input that did it is left in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Environment: SANITIZER (default "none": the code under test is safe Rust; "address" builds
# with ASan and takes much longer), FUZZ_TARGET_DIR (default fuzz/target), FUZZ_JOBS (parallel
# fuzzing processes per target, default 1), FUZZ_CORPUS_OUT (keep the grown corpus there;
# default a temporary directory). Needs the nightly toolchain (`cargo +nightly`) and cargo-fuzz
# (installed here when missing).
set -euo pipefail

secs="${1:-10}"
shift || true
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal || {
        echo "fuzz/run.sh: the nightly toolchain is needed (cargo +nightly) and could not be installed" >&2
        exit 1
    }
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
sanitizer="${SANITIZER:-none}"
target_dir="${FUZZ_TARGET_DIR:-$PWD/target}"
jobs="${FUZZ_JOBS:-1}"
out="${FUZZ_CORPUS_OUT:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

build=(-s "$sanitizer" --target-dir "$target_dir")
parallel=()
if [ "$jobs" -gt 1 ]; then
    # libFuzzer writes each worker's output to fuzz-<n>.log in the current directory.
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
cargo +nightly fuzz build "${build[@]}"

failed=()
for t in "${targets[@]}"; do
    grown="${out:+$out/$t}"
    grown="${grown:-$work/$t}"
    mkdir -p "$grown" "artifacts/$t"
    echo "== fuzz $t for ${secs}s (corpus/$t: $(ls "corpus/$t" | wc -l) seeds)"
    if ! cargo +nightly fuzz run "${build[@]}" "$t" "$grown" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        "${parallel[@]}" -print_final_stats=1 2>"$work/$t.log"; then
        grep -m1 -A3 'panicked at' "$work/$t.log" >&2 || true
        grep -A2 -E '^(Failing input|Reproduce with):' "$work/$t.log" >&2 || tail -n 20 "$work/$t.log" >&2
        failed+=("$t")
    else
        grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$work/$t.log" | tail -n 2 || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/run.sh: ${#targets[@]} targets, ${secs}s each, no crash"

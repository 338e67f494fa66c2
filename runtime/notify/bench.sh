#!/usr/bin/env bash
# The notify rule (parse + validate + last price per symbol and minute + moves, the Lambda's own
# code in `notify::window`) against notify_baseline.py on the same 1,000,000-line file, in one run
# so machine load affects both alike: 3 interleaved runs each, median wall time and peak RSS of
# the whole process (/usr/bin/time -v), then a byte comparison of the alert lines.
# Usage: runtime/notify/bench.sh [DIR] [THREADS]
#   DIR: where ../shared/bench/setup puts venv/ and data/ (default ~/.cache/mystocktracker/bench);
#   THREADS: parser threads of the Rust run (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# The baselines live beside the repository (../shared/bench); their virtualenv and data go to the cache.
bench=${BENCH_SHARED:-$here/../../../shared/bench}
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/mystocktracker/bench}
threads=${2:-2}
[[ -f $dir/data/quotes_1m.jsonl && -x $dir/venv/bin/python ]] || "$bench/setup" "$dir"
input=$dir/data/quotes_1m.jsonl
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The bench profile is release (thin LTO); ask cargo where the binary is.
bin=$(cargo bench --quiet -p notify --bench notify --no-run --message-format=json \
  --manifest-path "$here/Cargo.toml" | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[[ -x $bin ]] || { echo "no bench executable found" >&2; exit 1; }

# Runs "$@" under /usr/bin/time -v; appends "wall_s peak_kib" to $out/$name.times.
timed() {
  local name=$1; shift
  /usr/bin/time -v -o "$out/$name.time" "$@" > "$out/$name.txt" 2> "$out/$name.err"
  local wall peak
  wall=$(grep 'Elapsed (wall clock)' "$out/$name.time" | awk '{print $NF}' | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  peak=$(grep 'Maximum resident set size' "$out/$name.time" | awk '{print $NF}')
  echo "$wall $peak" >> "$out/$name.times"
}
median() { sort -n -k1,1 "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }

for _ in 1 2 3; do
  timed rust "$bin" "$input" --threads "$threads"
  timed python "$dir/venv/bin/python" "$bench/notify_baseline.py" "$input"
done
read -r rust_wall rust_peak < <(median "$out/rust.times")
read -r py_wall py_peak < <(median "$out/python.times")
echo "rust ($threads threads): $(cat "$out/rust.err")"
echo "python:           $(cat "$out/python.err")"
printf 'rust:   %6.3f s wall (median of 3: %s), peak %5.0f MiB\n' "$rust_wall" \
  "$(awk '{printf "%s ", $1}' "$out/rust.times")" "$(echo "$rust_peak / 1024" | bc -l)"
printf 'python: %6.3f s wall (median of 3: %s), peak %5.0f MiB\n' "$py_wall" \
  "$(awk '{printf "%s ", $1}' "$out/python.times")" "$(echo "$py_peak / 1024" | bc -l)"
printf 'ratio (whole process, wall): %.1fx (goal >= 10x)\n' "$(echo "$py_wall / $rust_wall" | bc -l)"

# Byte comparison. Documented difference (as in runtime/quote/bench.sh): the schema's symbol rule
# allows digits and up to 12 characters (DESIGN.md), the baseline only [A-Z.-]{1,10}, so the
# file's type-preserving invalid lines with such symbols are valid here and can add alerts.
awk '$2 ~ /[0-9]/' "$out/rust.txt" > "$out/extra.txt"
awk '$2 !~ /[0-9]/' "$out/rust.txt" > "$out/rust-comparable.txt"
echo "alerts: rust $(wc -l < "$out/rust.txt"), python $(wc -l < "$out/python.txt"), of which $(wc -l < "$out/extra.txt") for symbols with digits (documented difference):"
sed 's/^/  /' "$out/extra.txt"
if cmp "$out/rust-comparable.txt" "$out/python.txt"; then
  echo "cmp: identical bytes modulo the documented difference"
else
  echo "MISMATCH"; diff "$out/python.txt" "$out/rust-comparable.txt" | head -20; exit 1
fi

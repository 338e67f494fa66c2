#!/usr/bin/env bash
# Rust transform (decode + validate + line protocol, one core) against the Python f-string
# baseline on the same 1,000,000-line file, in one run so machine load affects both alike.
# Usage: runtime/quote/bench.sh [DIR]   (DIR: where /work/shared/bench/setup puts venv/ and data/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${BENCH_SHARED:-/work/shared/bench}
dir=${1:-/work/bench-quote}
[[ -f $dir/data/quotes_1m.jsonl && -x $dir/venv/bin/python ]] || "$bench/setup" "$dir"
input=$dir/data/quotes_1m.jsonl
target=${CARGO_TARGET_DIR:-$here/../../target}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build --quiet --release -p quote-record --example transform --manifest-path "$here/Cargo.toml"
bin=$target/release/examples/transform

lines=$(wc -l < "$input")
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

echo "== Rust (in-process loop, best of 5)"
"$bin" "$input" --repeat 5 --out "$out/rust.lp" | tee "$out/rust.txt"
rust_loop=$(sed -E 's/.*records_per_s=([0-9]+).*/\1/' "$out/rust.txt")
rust_wall=$(wall "$bin" "$input" --out /dev/null)
echo "== Python f-string baseline (whole process)"
py_wall=$(wall "$dir/venv/bin/python" "$bench/transform_baseline.py" "$input" --mode fstring --out "$out/python.lp")

printf 'rust:   %8.0f records/s in-process, %8.0f records/s whole process (%.2f s)\n' \
  "$rust_loop" "$(echo "$lines / $rust_wall" | bc -l)" "$rust_wall"
printf 'python: %8.0f records/s whole process (%.2f s)\n' "$(echo "$lines / $py_wall" | bc -l)" "$py_wall"
printf 'ratio (whole process): %.1fx\n' "$(echo "$py_wall / $rust_wall" | bc -l)"

# Byte comparison. Documented differences: we add the `source` tag (DESIGN.md), and we accept
# symbols with digits and up to 12 characters (DESIGN.md's rule; the baseline allows [A-Z.-]{1,10}).
sed -E 's/,source=([^\\, ]|\\.)*//' "$out/rust.lp" > "$out/rust-nosource.lp"
missing=$(diff "$out/python.lp" "$out/rust-nosource.lp" | grep -c '^<' || true)
extra=$(diff "$out/python.lp" "$out/rust-nosource.lp" | grep '^>' || true)
unexplained=$(grep -cvE '^> quote,currency=[A-Z]{3},symbol=[A-Z.-]*[0-9][A-Z0-9.-]* ' <<<"$extra" || true)
[[ -z $extra ]] && unexplained=0
echo "line protocol vs baseline (source tag removed): $missing baseline lines missing, $(grep -c . <<<"$extra" || true) extra lines (symbols with digits), $unexplained unexplained"
if [[ $missing -eq 0 && $unexplained -eq 0 ]]; then
  grep -vE ',symbol=[A-Z.-]*[0-9]' "$out/rust-nosource.lp" | cmp - "$out/python.lp" && echo "cmp: identical bytes modulo the documented differences"
else
  echo "MISMATCH"; exit 1
fi

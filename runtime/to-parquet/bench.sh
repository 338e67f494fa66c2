#!/usr/bin/env bash
# JSON lines -> Hive-partitioned Parquet: the to-parquet converter (release build, one core) against
# the tuned pyarrow baseline (--min-rows-per-group 1048576) on the same 1,000,000-line file, in one
# run so machine load affects both alike. Wall time and peak RSS of each whole process
# (/usr/bin/time), then DuckDB checks both outputs hold the same rows.
# Usage: runtime/to-parquet/bench.sh [DIR]   (DIR: where ../shared/bench/setup puts venv/ and data/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# The baselines live beside the repository (../shared/bench); their virtualenv and data go to the cache.
bench=${BENCH_SHARED:-$here/../../../shared/bench}
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/mystocktracker/bench}
[[ -f $dir/data/quotes_1m.jsonl && -x $dir/venv/bin/python ]] || "$bench/setup" "$dir"
input=$dir/data/quotes_1m.jsonl
venv=$(bash "$here/../../.ci/setup-tools")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The bench profile is release; ask cargo where the binary is.
bin=$(cargo bench --quiet -p to-parquet --bench to_parquet --no-run --message-format=json \
  --manifest-path "$here/Cargo.toml" | grep '"kind":\["bench"\]' | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[[ -x $bin ]] || { echo "no bench executable found" >&2; exit 1; }

measure() { # name, command...: prints "name wall_s peak_mib"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" > "$out/$name.out" 2> "$out/$name.err" \
    || { cat "$out/$name.err"; exit 1; }
  read -r wall kib < "$out/$name.time"
  printf '%-8s %6.2f s  %6.0f MiB peak  %s\n' "$name" "$wall" "$(echo "$kib / 1024" | bc -l)" "$(head -c 300 "$out/$name.out")"
  echo "$wall $kib" > "$out/$name.figures"
}
echo "== $(wc -l < "$input") lines, $(du -h "$input" | cut -f1)"
measure rust "$bin" "$input" "$out/rust"
measure pyarrow "$dir/venv/bin/python" "$bench/parquet_baseline.py" "$input" "$out/python" --min-rows-per-group 1048576
read -r rw rk < "$out/rust.figures"
read -r pw pk < "$out/pyarrow.figures"
printf 'throughput: %.1fx pyarrow (goal >= 3x); peak memory: %.2f of pyarrow (goal <= 0.25)\n' \
  "$(echo "$pw / $rw" | bc -l)" "$(echo "$rk / $pk" | bc -l)"
printf 'output: rust %s in %s files, pyarrow %s in %s files\n' \
  "$(du -sh "$out/rust" | cut -f1)" "$(find "$out/rust" -name '*.parquet' | wc -l)" \
  "$(du -sh "$out/python" | cut -f1)" "$(find "$out/python" -name '*.parquet' | wc -l)"

# Same rows? (pyarrow keeps the baseline's rules: symbols [A-Z.-]{1,10}, whole-second times; so
# compare on the rows both keep, and count the ones only ours keeps.)
"$venv/bin/python" - "$out/rust" "$out/python" <<'PY'
import duckdb, sys
def rel(d):
    return (f"read_parquet('{d}/**/*.parquet', hive_partitioning = true, "
            "hive_types = {'symbol': 'VARCHAR', 'dt': 'VARCHAR'})")
cols = "symbol, dt, price, currency, change_pct, volume, epoch_us(market_time) AS mt, source"
rust, py = rel(sys.argv[1]), rel(sys.argv[2])
n_rust = duckdb.sql(f"SELECT count(*) FROM {rust}").fetchall()[0][0]
n_py = duckdb.sql(f"SELECT count(*) FROM {py}").fetchall()[0][0]
missing = duckdb.sql(f"SELECT count(*) FROM (SELECT {cols} FROM {py} EXCEPT ALL SELECT {cols} FROM {rust})").fetchall()[0][0]
print(f"rows: rust {n_rust}, pyarrow {n_py}; pyarrow rows missing from ours: {missing}")
sys.exit(1 if missing else 0)
PY

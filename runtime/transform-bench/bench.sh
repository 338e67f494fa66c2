#!/usr/bin/env bash
# The transform Lambda's figures: zipped size of the `artifact` profile build (goal < 5 MB), highest
# glibc symbol version (provided.al2023 has 2.34), and the handler's throughput against
# VictoriaMetrics, built with the artifacts' own profile (what ships is measured, and the
# dependencies are compiled once for both).
# Usage: runtime/transform-bench/bench.sh [DATA_FILE]   (default: $MST_BENCH_DIR/data/quotes_100k.jsonl)
# Needs victoria-metrics and moto_server (MST_MOTO_SERVER), as the tests do.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
# The artifacts' one build command, as `deployer up` runs it (engine::artifacts::cargo_build_args):
# found built after `.ci/run`'s artifacts step.
cargo build --profile artifact --locked -p transform -p to-parquet -p notify -p scraper-daemon -p vpn-connect
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$target/artifact/transform" "$work/bootstrap"
(cd "$work" && zip -q -9 transform.zip bootstrap)
echo "bootstrap: $(stat -c %s "$work/bootstrap") bytes; zipped: $(stat -c %s "$work/transform.zip") bytes (goal < 5000000)"
echo "highest glibc symbol: $(objdump -T "$work/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1) (provided.al2023: 2.34)"
cargo bench --profile artifact -p transform-bench --bench transform -- "$@"

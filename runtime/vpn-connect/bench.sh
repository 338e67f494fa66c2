#!/usr/bin/env bash
# The vpn-connect Lambda's figures, printed: zipped size of the `artifact` profile build (goal < 5 MB),
# highest glibc symbol version (provided.al2023 has 2.34), and its cold start under a local Runtime
# API (init, and the first answer), measured on that same `bootstrap`.
# Usage: runtime/vpn-connect/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
# The artifacts' one build command, as `deployer up` runs it (engine::artifacts::cargo_build_args).
cargo build --profile artifact --locked -p transform -p to-parquet -p notify -p scraper-daemon -p vpn-connect
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$target/artifact/vpn-connect" "$work/bootstrap"
(cd "$work" && zip -q -9 vpn-connect.zip bootstrap)
size=$(stat -c %s "$work/vpn-connect.zip")
echo "bootstrap: $(stat -c %s "$work/bootstrap") bytes; zipped: $size bytes (limit 5000000)"
if ((size >= 5000000)); then
  echo "vpn-connect.zip is $size bytes: over the 5 MB limit" >&2
  exit 1
fi
echo "highest glibc symbol: $(objdump -T "$work/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1) (provided.al2023: 2.34)"
# What is measured is that shipped `bootstrap`, a process of its own. The harness (the Runtime API
# server and the timing loop) is the workspace's test build, as for the pipeline bench: found built
# after `.ci/run`'s build step, where an optimized harness compiled testkit's tree with fat LTO
# for 142 s of a cold run and measured nothing more.
VPN_CONNECT_BOOTSTRAP="$work/bootstrap" cargo bench --workspace --all-features --locked --profile test --bench cold_start

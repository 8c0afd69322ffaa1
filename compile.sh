#!/usr/bin/env bash
# Builds the single `awr` binary with the default driver embedded.
#
#   bash compile.sh                 # output: dist/awr
#   DENORT_BIN=/path/to/denort bash compile.sh   # offline: use a local denort runtime
#
# `deno compile` needs Deno's `denort` runtime for the target, which it downloads
# unless DENORT_BIN points at one. Without network and without DENORT_BIN the build
# cannot work; this script says so instead of failing obscurely.
set -euo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-dist/awr}
if command -v deno >/dev/null 2>&1 && deno --version 2>/dev/null | grep -q '^deno 2\.9\.6'; then
  DENO=(deno)
else
  DENO=(npx --yes deno@2.9.6)
fi
mkdir -p "$(dirname "$OUT")"

ARGS=(compile -A --unstable-worker-options --output "$OUT" --include plugins \
  --include src/driver/driver_worker.ts --include src/driver/probe_worker.ts mod.ts)

if [ -n "${DENORT_BIN:-}" ]; then
  if [ ! -x "$DENORT_BIN" ]; then
    echo "compile.sh: DENORT_BIN=$DENORT_BIN is not an executable file" >&2
    exit 1
  fi
  echo "compile.sh: using local denort runtime $DENORT_BIN"
  export DENORT_BIN
fi

log=$(mktemp)
if ! "${DENO[@]}" "${ARGS[@]}" 2>&1 | tee "$log"; then
  if grep -qiE 'denort|download|dl\.deno\.land|error sending request|dns|connect' "$log"; then
    cat >&2 <<MSG

compile.sh: deno compile could not obtain the 'denort' runtime (it downloads it from
Deno's release server, which this machine cannot reach). Either build where that
download works, or download denort for Deno 2.9.6 and your target elsewhere
(denort-x86_64-unknown-linux-gnu.zip from Deno's GitHub release v2.9.6), unzip it and
run:   DENORT_BIN=/path/to/denort bash compile.sh
MSG
  fi
  rm -f "$log"
  exit 1
fi
rm -f "$log"
# A full `deno` binary given as DENORT_BIN builds a file that ignores its payload and
# behaves as plain deno; check that the result really is awr.
expected=$(sed -n 's/^export const AWR_VERSION = "\(.*\)";/\1/p' src/version.ts)
got=$("$OUT" --version 2>&1 | head -n 1 || true)
if [ "$got" != "$expected" ]; then
  echo "compile.sh: $OUT does not run as awr (its --version printed: $got)." >&2
  echo "compile.sh: DENORT_BIN must be Deno's 'denort' runtime, not the full deno binary." >&2
  rm -f "$OUT"
  exit 1
fi
echo "compile.sh: built $OUT (embedded plugins: $(ls plugins | tr '\n' ' '))"
echo "compile.sh: drop-in drivers go in $(dirname "$OUT")/plugins/"

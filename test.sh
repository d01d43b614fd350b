#!/usr/bin/env bash
# Builds Spillway and runs every test: unit, property, socket and end-to-end (the built CLI as a process, fed by
# real senders). Needs the .NET SDK; SQLite ships inside Microsoft.Data.Sqlite. The end-to-end tests send with
# util-linux logger (Debian's bsdutils) and Python's SysLogHandler (python3): installed here when missing.
# Set SPILLWAY_STRESS=1 for ten times the iterations of the concurrency tests.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v logger >/dev/null || missing+=(bsdutils)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the end-to-end tests need ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

configuration=Release
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

dotnet build Spillway.slnx -c "$configuration" --nologo

# A test that hangs fails the run after the timeout (with a dump of where it hung) instead of stalling CI.
set +e
dotnet test Spillway.slnx -c "$configuration" --no-build --nologo \
  --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$results/test.log"
status=${PIPESTATUS[0]}
set -e

# One closing line for people and CI: the totals over every test assembly.
awk '/^(Passed|Failed)! +- / {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") failed += $(i + 1); if ($i == "Passed:") passed += $(i + 1); if ($i == "Skipped:") skipped += $(i + 1)
       }
       assemblies++
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped
           if (assemblies == 0) exit 1 }' "$results/test.log" || { echo "tests: no test assembly reported a result" >&2; exit 1; }
exit "$status"

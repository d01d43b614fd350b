#!/usr/bin/env bash
# Builds Spillway and runs every test: unit, property, socket and end-to-end (the built CLI as a process, fed by
# real senders), the sink tests against a real PostgreSQL, and the Debian package (built, unpacked and checked by
# deploy/test-deb.sh). Needs the .NET SDK; SQLite ships inside Microsoft.Data.Sqlite. Installed here when missing
# (as root, from Debian's packages): util-linux logger (bsdutils), python3, openssl, curl and rsyslog with both of its
# TLS stream drivers (rsyslog-gnutls, rsyslog-openssl), the real senders and TLS clients of the end-to-end tests
# (rsyslogd runs only as the tests start it, with a config of their own); postgresql, of which a private cluster is started on a free loopback port for the run and stopped at the
# end, whatever the outcome; clang and zlib1g-dev, with which the release build is compiled ahead of time (Native
# AOT) and tested again; binutils (strip) and lintian for the package; nats-server, of which a three-node JetStream
# cluster is started on free loopback ports for the scale-out tests and stopped at the end, whatever the outcome.
# As root, a 20 MiB tmpfs is mounted for the full-disk test and unmounted at the end (not root: that test is skipped,
# and says so). Set SPILLWAY_STRESS=1 for ten times the iterations of the concurrency and fault tests.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v logger >/dev/null || missing+=(bsdutils)
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || missing+=(rsyslog-gnutls)
ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1 || missing+=(rsyslog-openssl)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v clang >/dev/null || missing+=(clang)
ls /usr/lib/*/libz.so >/dev/null 2>&1 || missing+=(zlib1g-dev)
optional=()
command -v strip >/dev/null || optional+=(binutils)
command -v lintian >/dev/null || optional+=(lintian)
[ "$(id -u)" -eq 0 ] && missing+=("${optional[@]}")
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
pg_root=""
stop_postgres() {
  if [ -n "$pg_root" ] && [ -f "$pg_root/data/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_root/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  [ -n "$pg_root" ] && rm -rf "$pg_root"
}
small_disk=""
unmount_small_disk() {
  if [ -n "$small_disk" ]; then
    umount "$small_disk" 2>/dev/null || umount -l "$small_disk" 2>/dev/null || true
    rmdir "$small_disk" 2>/dev/null || true
  fi
}
nats_root=""
stop_nats() {
  if [ -n "$nats_root" ]; then
    for pid_file in "$nats_root"/n*.pid; do
      [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null || true
    done
    for pid_file in "$nats_root"/n*.pid; do
      for _ in $(seq 50); do [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null && sleep 0.1 || break; done
    done
    rm -rf "$nats_root"
  fi
}
trap 'stop_postgres; stop_nats; unmount_small_disk; rm -rf "$results"' EXIT

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user the package creates.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_root=$(mktemp -d /tmp/spillway-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres: "$pg_root"
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
as_postgres "$pg_bin/initdb" -D "$pg_root/data" -U spillway --auth=trust -E UTF8 --no-locale >"$pg_root/initdb.log" 2>&1 \
  || { cat "$pg_root/initdb.log" >&2; exit 1; }
# In the cluster's own configuration, so that the fault tests' plain `pg_ctl start` brings it back the same.
cat >>"$pg_root/data/postgresql.conf" <<EOF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_root'
max_connections = 200
fsync = off
EOF
as_postgres "$pg_bin/pg_ctl" -D "$pg_root/data" -l "$pg_root/server.log" -w -t 60 start >/dev/null \
  || { cat "$pg_root/server.log" >&2; exit 1; }
echo "test.sh: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($pg_root)"

# One variable tells the tests where the server is; the fault tests also get the means to stop and start it.
export SPILLWAY_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=spillway;Database=postgres"
export SPILLWAY_TEST_POSTGRES_CTL="$pg_bin/pg_ctl" SPILLWAY_TEST_POSTGRES_DATA="$pg_root/data"
export SPILLWAY_TEST_POSTGRES_AS="$([ "$(id -u)" -eq 0 ] && echo postgres || true)"

# A three-node NATS cluster with JetStream on loopback, each node with a store of its own (docs/scale-out.md). The
# scale-out tests use it, each with a stream of its own; a test that stops a node starts it again from its file, n1.conf
# to n3.conf in SPILLWAY_TEST_NATS_DIR, beside the pid file the node writes.
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
nats_root=$(mktemp -d /tmp/spillway-nats.XXXXXX)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
nats_ports=() route_ports=()
for i in 1 2 3; do nats_ports+=("$(free_port)"); route_ports+=("$(free_port)"); done
for i in 1 2 3; do
  routes=()
  for j in 1 2 3; do [ "$j" -ne "$i" ] && routes+=("nats-route://127.0.0.1:${route_ports[$((j - 1))]}"); done
  {
    echo "server_name: n$i"
    echo "listen: 127.0.0.1:${nats_ports[$((i - 1))]}"
    echo "pid_file: \"$nats_root/n$i.pid\""
    echo "jetstream { store_dir: \"$nats_root/n$i\", max_file_store: 2GB, max_memory_store: 64MB }"
    echo "cluster { name: spillway-test, listen: 127.0.0.1:${route_ports[$((i - 1))]}, routes: [$(IFS=,; echo "${routes[*]}")] }"
  } >"$nats_root/n$i.conf"
  "$nats_bin" -c "$nats_root/n$i.conf" >>"$nats_root/n$i.log" 2>&1 &
done
export SPILLWAY_TEST_NATS="nats://127.0.0.1:${nats_ports[0]},nats://127.0.0.1:${nats_ports[1]},nats://127.0.0.1:${nats_ports[2]}"
export SPILLWAY_TEST_NATS_DIR="$nats_root" SPILLWAY_TEST_NATS_SERVER="$nats_bin"
# Ready once the three have elected the cluster's JetStream leader, which every stream's creation asks.
for _ in $(seq 300); do grep -qs 'new metadata leader\|JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader' "$nats_root"/n*.log && break; sleep 0.1; done
grep -qs 'metadata leader' "$nats_root"/n*.log || { tail -n 20 "$nats_root"/n*.log >&2; echo "test.sh: the NATS cluster elected no JetStream leader" >&2; exit 1; }
echo "test.sh: nats-server $("$nats_bin" --version | awk '{print $2}'), a cluster of three on $SPILLWAY_TEST_NATS ($nats_root)"

dotnet build Spillway.slnx -c "$configuration" --nologo

# A small disk of the tests' own for the full-disk test (SmallMachineTests): a 20 MiB tmpfs, mounted as root and
# unmounted at the end, whatever the outcome. Where it cannot be mounted the test says so and is skipped.
if [ "$(id -u)" -eq 0 ]; then
  small_disk=$(mktemp -d /tmp/spillway-small-disk.XXXXXX)
  if mount -t tmpfs -o size=20m,mode=0700 tmpfs "$small_disk" 2>"$results/mount.log"; then
    export SPILLWAY_TEST_SMALL_DISK="$small_disk"
    echo "test.sh: a 20 MiB tmpfs on $small_disk for the full-disk test"
  else
    echo "test.sh: could not mount a tmpfs ($(cat "$results/mount.log")): the full-disk test is skipped" >&2
    rmdir "$small_disk"
    small_disk=""
  fi
else
  echo "test.sh: not root, so no tmpfs can be mounted: the full-disk test is skipped" >&2
fi

# A test that hangs fails the run after the timeout (with a dump of where it hung) instead of stalling CI.
# One test assembly at a time (-m:1): the PostgreSQL fault tests of two assemblies stop and start the same server.
set +e
dotnet test Spillway.slnx -c "$configuration" --no-build --nologo -m:1 \
  --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$results/test.log"
status=${PIPESTATUS[0]}
set -e

# The build a release ships (Native AOT: one program, compiled ahead of time, of what the compiler sees used): the
# end-to-end tests again, on it; then the Debian package is made of it.
echo "test.sh: publishing the release build and running the end-to-end tests on it"
published="$results/publish"
if dotnet publish src/Spillway.Cli -c "$configuration" -r linux-x64 --self-contained -o "$published" --nologo -v quiet; then
  set +e
  SPILLWAY_TEST_SPILLWAY="$published/spillway" dotnet test tests/Spillway.EndToEnd.Tests -c "$configuration" --no-build --nologo \
    --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$results/test-published.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  set -e
else
  echo "Failed! - Failed: 1, Passed: 0, Skipped: 0, Total: 1 - dotnet publish of the release build" | tee "$results/test-published.log"
  status=1
fi

# The Debian package: built as a release would be, unpacked and checked (not installed). Needs dpkg-deb and strip.
if command -v dpkg-deb >/dev/null && command -v strip >/dev/null; then
  echo "test.sh: building and checking the Debian package"
  if package=$(SPILLWAY_PUBLISH_DIR="$published" deploy/build-deb.sh "$results/deb" | tail -n 1); then
    deploy/test-deb.sh "$package" | tee "$results/package.log" || status=1
  else
    echo "not ok - deploy/build-deb.sh builds the package" | tee "$results/package.log"
    status=1
  fi
else
  echo "test.sh: the Debian package is not checked: dpkg-deb or strip (binutils) is missing" | tee "$results/package.log"
fi

# One closing line for people and CI: the totals over every test assembly and the package's checks.
awk '/^(Passed|Failed)! +- / {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") failed += $(i + 1); if ($i == "Passed:") passed += $(i + 1); if ($i == "Skipped:") skipped += $(i + 1)
       }
       assemblies++
     }
     FILENAME ~ /package.log$/ && /^ok - # SKIP/ { skipped++; next }
     FILENAME ~ /package.log$/ && /^ok - / { passed++ }
     FILENAME ~ /package.log$/ && /^not ok - / { failed++ }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped
           if (assemblies == 0) exit 1 }' "$results/test.log" "$results/test-published.log" "$results/package.log" || { echo "tests: no test assembly reported a result" >&2; exit 1; }
exit "$status"

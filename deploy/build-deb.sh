#!/usr/bin/env bash
# Builds the Debian package of Spillway: a self-contained linux-x64 build, compiled ahead of time to one native program
# (Native AOT: no .NET needed on the target), in
# /usr/lib/spillway, /usr/bin/spillway, the configuration in /etc/spillway as a conffile, the systemd unit, a man page
# and the docs. Usage: deploy/build-deb.sh [OUTPUT_DIR]   (default: dist/); prints the package's path last.
# SPILLWAY_PUBLISH_DIR=DIR packs a build already made by the release command instead of making one:
#   dotnet publish src/Spillway.Cli -c Release -r linux-x64 --self-contained -o DIR
# Needs the .NET SDK, clang and zlib1g-dev (Native AOT), dpkg-deb (Debian's dpkg) and strip (binutils); fakeroot when
# not run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

publish=${SPILLWAY_PUBLISH_DIR:-}
if [ -z "$publish" ]; then
  publish="$work/publish"
  echo "build-deb: publishing a self-contained linux-x64 build" >&2
  dotnet publish src/Spillway.Cli -c Release -r linux-x64 --self-contained -o "$publish" --nologo -v quiet >&2
fi
[ -x "$publish/spillway" ] || { echo "build-deb: no spillway executable in $publish" >&2; exit 1; }

version=$("$publish/spillway" --version | awk 'NR == 1 { print $2 }')
changelog_version=$(awk 'NR == 1 { gsub(/[()]/, "", $2); print $2 }' deploy/debian/changelog)
if [ "$version" != "$changelog_version" ]; then
  echo "build-deb: spillway says version $version, deploy/debian/changelog's newest entry is $changelog_version: add an entry" >&2
  exit 1
fi

root="$work/root"
install -d -m 0755 "$root/DEBIAN" "$root/usr/lib/spillway" "$root/usr/bin" "$root/etc/spillway" "$root/lib/systemd/system" \
  "$root/usr/share/doc/spillway" "$root/usr/share/man/man1"
cp -R "$publish/." "$root/usr/lib/spillway/"
# The native program's symbols (spillway.dbg) stay out, as the managed ones do.
rm -f "$root/usr/lib/spillway/"*.pdb "$root/usr/lib/spillway/"*.xml "$root/usr/lib/spillway/"*.dbg
# Files as Debian expects them: directories 0755, files 0644, programs 0755 (shared objects are not programs).
find "$root/usr/lib/spillway" -type d -exec chmod 0755 {} +
find "$root/usr/lib/spillway" -type f -exec chmod 0644 {} +
chmod 0755 "$root/usr/lib/spillway/spillway"
# NuGet's SQLite comes with its symbols; the native program is stripped already.
strip --strip-unneeded "$root/usr/lib/spillway/"*.so
ln -s ../lib/spillway/spillway "$root/usr/bin/spillway"

install -m 0644 deploy/spillway.json "$root/etc/spillway/spillway.json"
install -m 0644 deploy/spillway.service "$root/lib/systemd/system/spillway.service"
install -m 0644 deploy/debian/copyright "$root/usr/share/doc/spillway/copyright"
install -m 0644 README.md docs/operations.md docs/durability.md docs/architecture.md "$root/usr/share/doc/spillway/"
install -D -m 0644 deploy/debian/lintian-overrides "$root/usr/share/lintian/overrides/spillway"
gzip -9n -c deploy/debian/changelog >"$root/usr/share/doc/spillway/changelog.gz"
gzip -9n -c deploy/debian/spillway.1 >"$root/usr/share/man/man1/spillway.1.gz"
chmod 0644 "$root/usr/share/doc/spillway/changelog.gz" "$root/usr/share/man/man1/spillway.1.gz"

for script in postinst prerm postrm; do
  install -m 0755 "deploy/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/spillway/spillway.json >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's|  \./|  |') >"$root/DEBIAN/md5sums"
installed_size=$(du -sk --exclude=DEBIAN "$root" | awk '{ print $1 }')
cat >"$root/DEBIAN/control" <<CONTROL
Package: spillway
Version: $version
Architecture: amd64
Maintainer: Spillway developers <dev@spillway.invalid>
Installed-Size: $installed_size
Depends: adduser, libc6 (>= 2.27), libgcc-s1, libstdc++6, libssl3 | libssl1.1, zlib1g
Section: net
Priority: optional
Description: catches logs and events from the network and stores every one
 Spillway takes syslog over TCP and UDP and events over HTTP in bursts, writes
 each accepted message to a crash-safe log on disk, and from there to SQLite or
 PostgreSQL in batches, so that none is lost: not when the database is slower
 than the burst or away, not on kill -9, not on stop, and not when the input is
 bad (it is kept, with its reason, in a rejects table).
 .
 The package installs the service but does not start it: configure
 /etc/spillway/spillway.json, run spillway check-config, then enable it.
CONTROL
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

package="$out/spillway_${version}_amd64.deb"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(fakeroot)
"${as_root[@]}" dpkg-deb --root-owner-group -Zxz --build "$root" "$package" >&2
echo "$package"

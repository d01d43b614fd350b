#!/usr/bin/env bash
# Checks a Debian package made by build-deb.sh without installing it: its fields and files, the unpacked
# `spillway --version` and `check-config` against the shipped configuration, the unit with systemd-analyze, and
# lintian when installed. Prints "ok - ..." or "not ok - ..." per check; exits 1 if any failed.
# Usage: deploy/test-deb.sh PACKAGE.deb
set -uo pipefail
package=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
failed=0

check() { # check DESCRIPTION COMMAND...: runs the command, prints its output when it fails
  local description=$1 output
  shift
  if output=$("$@" 2>&1); then
    echo "ok - $description"
  else
    echo "not ok - $description"
    printf '%s\n' "$output" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

field() { dpkg-deb --field "$package" "$1"; }
dpkg-deb -x "$package" "$root/fs" && dpkg-deb -e "$package" "$root/DEBIAN" || { echo "not ok - $package unpacks"; exit 1; }
fs="$root/fs"
version=$(field Version)

check "the package is spillway for amd64, version $version" test "$(field Package) $(field Architecture)" = "spillway amd64"
check "spillway --version says $version and runs on the runtime it carries" bash -c '
  out=$(env -i PATH=/usr/bin:/bin DOTNET_ROOT=/nonexistent "$1/usr/bin/spillway" --version) || exit 1
  printf "%s\n" "$out"; grep -qx "spillway $2" <<<"$out" && grep -q "self-contained" <<<"$out"' _ "$fs" "$version"
check "/usr/bin/spillway points into /usr/lib/spillway" test "$(readlink "$fs/usr/bin/spillway")" = ../lib/spillway/spillway
check "the configuration is a conffile" grep -qx /etc/spillway/spillway.json "$root/DEBIAN/conffiles"
for file in etc/spillway/spillway.json lib/systemd/system/spillway.service usr/share/doc/spillway/copyright \
  usr/share/doc/spillway/changelog.gz usr/share/man/man1/spillway.1.gz usr/share/doc/spillway/operations.md; do
  check "the package holds /$file" test -s "$fs/$file"
done
check "the maintainer scripts are valid sh" bash -c 'for s in "$1"/postinst "$1"/prerm "$1"/postrm; do sh -n "$s" || exit 1; done' _ "$root/DEBIAN"
check "the maintainer scripts start no service" bash -c '
  ! grep -vE "^ *echo " "$1"/postinst | grep -E "(systemctl|deb-systemd-invoke) +(start|restart|enable)"' _ "$root/DEBIAN"

# As root the shipped configuration is checked as it is; another user cannot create /var/lib/spillway, so the
# database (and the spill log beside it) go to a directory of the test's.
overrides=()
[ "$(id -u)" -eq 0 ] || overrides=(--sqlite "$root/state/spillway.db")
check "check-config passes on the shipped configuration" \
  "$fs/usr/bin/spillway" check-config --config "$fs/etc/spillway/spillway.json" "${overrides[@]}"
check "check-config fails, naming the setting, on a bad value" bash -c '
  ! out=$("$@" --batch-size none 2>&1) && grep -q "invalid value .none. for --batch-size" <<<"$out"' \
  _ "$fs/usr/bin/spillway" check-config --config "$fs/etc/spillway/spillway.json" "${overrides[@]}"

if command -v systemd-analyze >/dev/null; then
  # verify needs the program at the path the unit names: the unpacked one stands in for /usr/bin/spillway.
  mkdir -p "$root/unit"
  sed "s|/usr/bin/spillway|$fs/usr/bin/spillway|" "$fs/lib/systemd/system/spillway.service" >"$root/unit/spillway.service"
  check "systemd-analyze verify accepts the unit, with no warning" bash -c '
    out=$(systemd-analyze verify --man=no "$1" 2>&1); status=$?; printf "%s" "$out"; [ $status -eq 0 ] && [ -z "$out" ]' \
    _ "$root/unit/spillway.service"
else
  echo "ok - # SKIP systemd-analyze verify: systemd-analyze is not installed"
fi

if command -v lintian >/dev/null; then
  check "lintian finds no error or warning (the overrides say why each is kept)" \
    lintian --fail-on error,warning --suppress-tags-from-file /dev/null "$package"
else
  echo "ok - # SKIP lintian: not installed (apt-get install lintian)"
fi

exit $((failed > 0))

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end check of the Debian package built by scripts/build-deb.sh:
# lintian, then install it on THIS system (dpkg -i: run it as root in a
# throwaway container or VM, like CI), check the service user, the unit
# (systemd-analyze verify) and the files, run `alumet-agent --version`,
# `doctor` and `exec true` as the service user with the unit's
# capabilities, and purge the package again.
#   scripts/check-deb.sh [PACKAGE.deb]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
deb="${1:-$(ls "$src"/build-deb/alumet-agent_*.deb | tail -n 1)}"
version="$(dpkg-deb -f "$deb" Version)"
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (it installs the package)"

echo "== lintian"
lintian --fail-on error,warning "$deb"

if dpkg -s alumet-agent >/dev/null 2>&1; then
    fail "alumet-agent is already installed here: the check installs and purges it"
fi
echo "== install"
dpkg -i "$deb"
trap 'echo "== purge"; dpkg --purge alumet-agent >/dev/null' EXIT

getent passwd alumet >/dev/null || fail "the postinst did not create the user alumet"
for f in /usr/bin/alumet-agent /etc/alumet/alumet-config.toml /lib/systemd/system/alumet.service \
    /usr/share/man/man1/alumet-agent.1.gz /usr/share/man/man5/alumet-config.toml.5.gz \
    /usr/share/alumet/grafana/alumet-dashboard.json; do
    [ -e "$f" ] || fail "$f is not installed"
done
ls /usr/lib/*/alumet/plugins/alumet-plugin-prometheus-exporter.so >/dev/null
dpkg-query -W -f='${Conffiles}\n' alumet-agent | grep -q /etc/alumet/alumet-config.toml ||
    fail "/etc/alumet/alumet-config.toml is not a conffile"

echo "== systemd-analyze verify"
out="$(systemd-analyze verify /lib/systemd/system/alumet.service 2>&1 || true)"
[ -z "$out" ] || fail "systemd-analyze verify: $out"

# As the service: user alumet, the unit's ambient capabilities, a
# working directory of its own (StateDirectory)
caps="$(sed -n 's/^AmbientCapabilities=//p' /lib/systemd/system/alumet.service |
    tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')"
work="$(mktemp -d)"
chown alumet:alumet "$work"
as_service() {
    (cd "$work" && setpriv --reuid=alumet --regid=alumet --init-groups --inh-caps="$caps" \
        --ambient-caps="$caps" -- "$@")
}
conf=(--config /etc/alumet/alumet-config.toml --no-default-config)

echo "== alumet-agent --version"
[ "$(as_service alumet-agent --version)" = "alumet-agent ${version%%-*}" ] ||
    fail "unexpected version"
echo "== alumet-agent doctor (as alumet)"
set +e
as_service alumet-agent "${conf[@]}" doctor
status=$?
set -e
# 0: the config measures what it asks for here; 1: this machine lacks
# something (printed above); anything else is a failure of the agent
[ "$status" -le 1 ] || fail "doctor exited with $status"
echo "== alumet-agent exec true (as alumet)"
as_service alumet-agent "${conf[@]}" \
    --config-override 'plugins.prometheus-exporter.port=0' exec true ||
    fail "exec true failed"
rm -rf "$work"
echo "check-deb: OK ($deb)"

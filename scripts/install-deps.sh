#!/usr/bin/env bash
# Install every package needed to build alumet and run its tests (Debian 12).
set -euo pipefail
pkgs=(gcc meson ninja-build pkg-config libcmocka-dev python3 libpfm4-dev clang-format
      libmicrohttpd-dev libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler
      prometheus influxdb python3-grpcio python3-protobuf protobuf-compiler openssl
      slurmctld slurmd munge podman runc busybox-static victoria-metrics libmongoc-dev
      python3-bson libsnappy-dev chromium debhelper lintian devscripts fakeroot python3-yaml
      libyaml-dev libgnutls28-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Installs the system packages wiresift needs to build (libpcap-dev) and, with --test, the
# programs its tests use as oracles and traffic sources. Debian/Ubuntu; run as root (or via sudo).
set -euo pipefail
pkgs=(libpcap-dev pkg-config gcc)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(tshark tcpdump iproute2 ethtool curl openssl python3 gzip tcpreplay python3-brotli python3-jsonschema tcpflow chromium nghttp2-server time)
    # The UI's type check, lint and browser tests (Node 18+ with npm; chromium above).
    command -v npm >/dev/null || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
install_debian() {
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "wiresift setup: these packages are missing and I am not root: ${missing[*]}" >&2
        echo "install them with: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then
    install_debian
fi
# The python3 first on PATH may not be Debian's (pyenv): give it the modules the tests use
# (brotli for the br server, jsonschema for HAR validation, requests as a proxy client).
if [ "${1:-}" = "--test" ] && command -v python3 >/dev/null; then
    for m in brotli jsonschema requests websockets; do
        python3 -c "import $m" 2>/dev/null || python3 -m pip install --quiet "$m" >/dev/null 2>&1 ||
            echo "wiresift setup: python module $m missing (pip install $m); the tests that use it will skip" >&2
    done
fi

#!/usr/bin/env bash
# Porchlight quick start for a fresh Debian 12 / Raspberry Pi OS (bookworm) machine.
#
#   deploy/quickstart.sh demo [nvr demo options]   install, then run the demo doorbell
#   deploy/quickstart.sh test [pytest options]     install with test tools, then run the suite
#   deploy/quickstart.sh setup                     install with test tools, run nothing
#
# Installs Debian packages (with sudo when not root), creates ./.venv and installs the
# checkout into it. Safe to run again: it only installs what is missing.
# The appliance install (system user, systemd units) is a separate script: deploy/install.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
mode="${1:-}"
[ $# -gt 0 ] && shift

# What the service needs at run time, and what the test suite needs on top (real
# components: GStreamer's RTSP server, the age CLI, PostgreSQL, ffprobe, iproute2, and
# Chromium for the browser tests, which Playwright drives: never 'playwright install';
# debootstrap and systemd-nspawn for the installer's test in a fresh Debian root, booted;
# ShellCheck for the scripts).
runtime_pkgs=(python3 python3-venv python3-pip python3-dev build-essential ca-certificates)
test_pkgs=(
  gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  ffmpeg age postgresql iproute2 git chromium mosquitto
  debootstrap systemd-container shellcheck
)

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-1}"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "quickstart: installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv_install() {
  local extra="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "quickstart: creating .venv"
    python3 -m venv .venv
  fi
  # Skip pip when the checkout's pyproject has not changed since the last install.
  local stamp=".venv/.porchlight-installed-$extra"
  if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
    return 0
  fi
  echo "quickstart: installing Porchlight and its Python dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extra"
  touch "$stamp"
}

install_ipycam() {
  # ipycam (PyPI, MIT): the third-party ONVIF camera of tests/onvif, in a venv of its
  # own because it pulls opencv-python 5 (Porchlight pins opencv-python-headless 4.x).
  if ! .venv-ipycam/bin/python -c "import ipycam" 2>/dev/null; then
    echo "quickstart: installing ipycam (ONVIF test camera) into .venv-ipycam"
    python3 -m venv .venv-ipycam
    .venv-ipycam/bin/python -m pip install -q --disable-pip-version-check ipycam
  fi
}

case "$mode" in
  demo)
    command -v apt-get >/dev/null && apt_install "${runtime_pkgs[@]}"
    venv_install ""
    exec .venv/bin/nvr demo "$@"
    ;;
  setup)
    command -v apt-get >/dev/null && apt_install "${runtime_pkgs[@]}" "${test_pkgs[@]}"
    venv_install "[test]"
    install_ipycam
    ;;
  test)
    command -v apt-get >/dev/null && apt_install "${runtime_pkgs[@]}" "${test_pkgs[@]}"
    venv_install "[test]"
    install_ipycam
    echo "quickstart: ruff"
    .venv/bin/ruff check nvr tests
    echo "quickstart: mypy --strict"
    .venv/bin/mypy
    # Two workers (pytest-xdist): much of the suite waits on real time (cameras, 60 s
    # segments). A module runs whole on one worker, in the order tests/conftest.py
    # gives (docs/testing.md); `deploy/quickstart.sh test -n 0` runs it serially.
    echo "quickstart: pytest"
    exec .venv/bin/python -m pytest -n "${PORCHLIGHT_TEST_WORKERS:-2}" \
      --dist loadfile --no-loadscope-reorder "$@"
    ;;
  -h|--help|help) usage 0 ;;
  *) usage 1 ;;
esac

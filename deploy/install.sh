#!/usr/bin/env bash
# Porchlight appliance install for Raspberry Pi OS (bookworm) and Debian 12, arm64 or x86_64.
#
#   sudo deploy/install.sh [--wheel FILE] [--data-dir DIR] [--keep-swap]
#                                   install, or upgrade in place (run it again)
#   sudo deploy/install.sh --uninstall [--purge]
#                                   remove the program; --purge also deletes the config,
#                                   the footage, the keys and the 'nvr' user
#
# Installs from this checkout (or the wheel given): Debian packages with apt, a system
# user 'nvr', /etc/nvr (config, 0640 root:nvr), the data directory (0700 nvr), a virtual
# environment in /opt/nvr/venv, the 'nvr' command in /usr/local/bin, and the systemd units
# (nvr.service, nvr-fstrim.timer), enabled and started when systemd runs. Nothing is
# downloaded but Debian and PyPI packages. Running it again upgrades in place: config,
# data and keys are kept, the database is migrated. See docs/deploy.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/opt/nvr
venv="$prefix/venv"
etc=/etc/nvr
config="$etc/nvr.yaml"
default_data=/var/lib/nvr
user=nvr
units=(nvr.service nvr-fstrim.service nvr-fstrim.timer)
unit_dir=/etc/systemd/system
wrapper=/usr/local/bin/nvr

# The same run-time packages as deploy/quickstart.sh's runtime_pkgs (a test keeps them in
# step): Python with venv and pip, and a compiler for any dependency without a wheel for
# this machine. util-linux brings runuser and fstrim.
runtime_pkgs=(python3 python3-venv python3-pip python3-dev build-essential ca-certificates)
appliance_pkgs=(util-linux)

say() { echo "install: $*"; }
die() {
  echo "install: error: $*" >&2
  exit 1
}

usage() {
  # The comment block at the top of this file.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
  exit "${1:-1}"
}

wheel="" data_dir="" uninstall=0 purge=0 keep_swap=0
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel) wheel="${2:?--wheel needs a file}"; shift 2 ;;
    --data-dir) data_dir="${2:?--data-dir needs a folder}"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    --keep-swap) keep_swap=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install: unknown option: $1" >&2; usage 1 ;;
  esac
done
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || die "--purge goes with --uninstall"
[ -z "$wheel" ] || [ -f "$wheel" ] || die "no such wheel: $wheel"
[ -z "$data_dir" ] || [[ "$data_dir" == /* ]] || die "--data-dir must be an absolute path"
[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
[ -z "$wheel" ] || wheel="$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")"
cd /  # nothing below may pick up a module or a file from the caller's folder

# systemd is running (not a chroot, not a container without it): start and stop units.
systemd_running() {
  [ -d /run/systemd/system ] || return 1
  if command -v systemd-detect-virt >/dev/null && systemd-detect-virt --quiet --chroot; then
    return 1
  fi
  return 0
}

# The service user runs every nvr command that touches the data, so its files stay its own.
as_nvr() { runuser -u "$user" -- "$@"; }

configured_data_dir() {
  # storage.data_dir of the installed config, as the service reads it.
  [ -x "$venv/bin/python" ] && [ -f "$config" ] || return 1
  as_nvr "$venv/bin/python" -c 'import sys
from pathlib import Path
from nvr.config import load_config
print(load_config(Path(sys.argv[1])).storage.data_dir)' "$config"
}

# --- uninstall ------------------------------------------------------------------------
if [ "$uninstall" -eq 1 ]; then
  data="$(configured_data_dir 2>/dev/null || true)"
  if [ -z "$data" ] && [ -f "$config" ]; then  # the program is gone already: read the line
    data="$(sed -n 's/^  data_dir: *\([^ #]*\).*/\1/p' "$config" | head -n 1)"
  fi
  data="${data:-$default_data}"
  if systemd_running; then
    systemctl disable --now nvr.service nvr-fstrim.timer 2>/dev/null || true
  elif command -v systemctl >/dev/null; then
    systemctl disable nvr.service nvr-fstrim.timer 2>/dev/null || true
  fi
  for unit in "${units[@]}"; do
    rm -f "$unit_dir/$unit"
    rm -f "$unit_dir/$unit.d/porchlight-data-dir.conf"
    rmdir "$unit_dir/$unit.d" 2>/dev/null || true
  done
  if systemd_running; then systemctl daemon-reload; fi
  rm -rf "$prefix"
  rm -f "$wrapper"
  say "removed the program, the 'nvr' command and the systemd units"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$etc" "$data"
    if getent passwd "$user" >/dev/null; then userdel "$user"; fi
    if getent group "$user" >/dev/null; then groupdel "$user"; fi
    say "purged $etc, $data (footage, keys, database) and the user '$user'"
  else
    say "kept the config ($etc) and the data ($data: footage, keys, database);"
    say "'$0 --uninstall --purge' deletes them too"
  fi
  exit 0
fi

# --- checks -----------------------------------------------------------------------------
command -v apt-get >/dev/null || die "this installer is for Debian 12 / Raspberry Pi OS (no apt-get)"
case "$(uname -m)" in
  x86_64|aarch64) ;;
  *) say "warning: $(uname -m) is not a tested architecture (arm64, x86_64)" ;;
esac
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = bookworm ] || say "warning: tested on bookworm, this is ${PRETTY_NAME:-unknown}"
fi
[ -n "$wheel" ] || [ -f "$here/pyproject.toml" ] || die "no checkout at $here: pass --wheel FILE"

# --- packages ---------------------------------------------------------------------------
missing=()
for p in "${runtime_pkgs[@]}" "${appliance_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- user and folders ---------------------------------------------------------------------
if ! getent passwd "$user" >/dev/null; then
  useradd --system --user-group --home-dir "$default_data" --no-create-home \
    --shell /usr/sbin/nologin --comment "Porchlight NVR" "$user"
  say "created the system user '$user'"
fi

first_install=0
[ -f "$config" ] || first_install=1

root_on_sd() { findmnt -no SOURCE / 2>/dev/null | grep -q '^/dev/mmcblk'; }

# First install on an SD card: footage goes to a USB/SATA/NVMe disk when exactly one is
# mounted under /mnt, /media or /srv (docs/deploy.md, "SD cards and SSDs").
usb_data_dir() {
  root_on_sd || return 1
  local found=() source target fstype
  while read -r source target fstype; do
    case "$target" in /mnt/*|/media/*|/srv/*) ;; *) continue ;; esac
    case "$fstype" in ext4|xfs|btrfs|f2fs) ;; *) continue ;; esac
    case "$source" in /dev/sd*|/dev/nvme*) found+=("$target") ;; esac
  done < <(findmnt -rn -o SOURCE,TARGET,FSTYPE)
  [ ${#found[@]} -eq 1 ] || return 1
  echo "${found[0]}/porchlight"
}

if [ -z "$data_dir" ]; then
  if [ "$first_install" -eq 1 ]; then
    data_dir="$(usb_data_dir || echo "$default_data")"
  else
    data_dir="$(configured_data_dir 2>/dev/null || echo "$default_data")"
  fi
fi

install -d -m 0755 "$prefix"
install -d -m 2770 -o root -g "$user" "$etc"
chown root:"$user" "$etc"
chmod 2770 "$etc"
install -d -m 0700 -o "$user" -g "$user" "$data_dir"
chown "$user:$user" "$data_dir"
chmod 0700 "$data_dir"

if [ "$first_install" -eq 1 ]; then
  cat >"$config" <<EOF
# Porchlight configuration, written by deploy/install.sh. docs/config.md describes every
# key; 'nvr config check' checks it; the dashboard's camera page edits this file too.
server:
  bind: 0.0.0.0          # the dashboard, for the house: https://<this box>:8443/
  port: 8443             # not 443: the service runs without privileges (docs/deploy.md)
  tls:
    mode: self-signed    # made on first start; 'nvr status' shows its fingerprint

storage:
  data_dir: $data_dir
  segment_seconds: 60
  fsync_interval_seconds: 1   # at most this much footage is lost on a power cut

# No camera yet: the built-in demo doorbell runs until you add one (dashboard or
# 'nvr cameras add'); then it stops at the next start.
cameras: []

demo:
  enabled: auto
EOF
  say "wrote $config (the demo doorbell, until you add a camera)"
elif [ -n "$data_dir" ] && [ "$data_dir" != "$(configured_data_dir 2>/dev/null || true)" ]; then
  say "warning: --data-dir $data_dir differs from storage.data_dir in $config: edit the config"
fi
chown root:"$user" "$config"
chmod 0640 "$config"
if [ -f "$etc/secrets.yaml" ]; then
  # Read by the service: its own, private (the loader refuses a group-readable one).
  chown "$user:$user" "$etc/secrets.yaml"
  chmod 0600 "$etc/secrets.yaml"
fi

# --- the program --------------------------------------------------------------------------
service_was_active=0
if systemd_running && systemctl is-active --quiet nvr.service; then
  service_was_active=1
  say "stopping nvr.service for the upgrade"
  systemctl stop nvr.service
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-input)

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
if [ -z "$wheel" ]; then
  # Build from a copy: the checkout may be read-only, and a build writes next to it.
  say "building Porchlight from $here"
  mkdir "$build/src"
  cp -a "$here/pyproject.toml" "$here/README.md" "$here/nvr" "$here/web" "$build/src/"
  find "$build/src" -name __pycache__ -prune -exec rm -rf {} +
  "${pip[@]}" wheel -q --no-deps -w "$build/dist" "$build/src"
  wheel="$(ls "$build"/dist/porchlight-*.whl)"
fi
say "installing $(basename "$wheel") and its dependencies into $venv"
"${pip[@]}" install -q --upgrade "$wheel"
# Same version number as before (a checkout between releases): replace it anyway.
"${pip[@]}" install -q --force-reinstall --no-deps "$wheel"

cat >"$wrapper" <<EOF
#!/bin/sh
# Porchlight's command line (deploy/install.sh). Run by root it runs as the service user,
# so that whatever it writes in the data directory stays readable by the service.
if [ "\$(id -u)" -eq 0 ]; then
  exec runuser -u $user -- $venv/bin/nvr "\$@"
fi
exec $venv/bin/nvr "\$@"
EOF
chmod 0755 "$wrapper"

# --- config check and database migration -----------------------------------------------------
as_nvr "$venv/bin/nvr" config check "$config"
migration="$(as_nvr "$venv/bin/nvr" db upgrade --config "$config")"
say "database: $migration"

# --- SD card care ---------------------------------------------------------------------------
if root_on_sd && [ "$keep_swap" -eq 0 ] && command -v dphys-swapfile >/dev/null; then
  # Raspberry Pi OS swaps to a file on the SD card: every page out is a write to the card.
  say "turning off the swap file on the SD card (--keep-swap leaves it)"
  dphys-swapfile swapoff || true
  dphys-swapfile uninstall || true
  if command -v systemctl >/dev/null; then systemctl disable dphys-swapfile 2>/dev/null || true; fi
fi

# --- systemd units ----------------------------------------------------------------------------
for unit in "${units[@]}"; do
  install -m 0644 "$here/deploy/systemd/$unit" "$unit_dir/$unit"
done
if [ "$data_dir" != "$default_data" ]; then
  # Another data directory (a USB SSD): the service may write there, waits for its mount,
  # and the daily trim covers that filesystem.
  install -d -m 0755 "$unit_dir/nvr.service.d" "$unit_dir/nvr-fstrim.service.d"
  printf '%s\n' "# Written by deploy/install.sh: the data directory in $config." "[Unit]" \
    "RequiresMountsFor=$data_dir" "[Service]" "ReadWritePaths=$data_dir" \
    >"$unit_dir/nvr.service.d/porchlight-data-dir.conf"
  printf '%s\n' "# Written by deploy/install.sh: the data directory in $config." "[Unit]" \
    "RequiresMountsFor=$data_dir" "[Service]" "ExecStart=" \
    "ExecStart=/sbin/fstrim --verbose --quiet-unsupported $data_dir" \
    >"$unit_dir/nvr-fstrim.service.d/porchlight-data-dir.conf"
else
  rm -f "$unit_dir/nvr.service.d/porchlight-data-dir.conf" \
    "$unit_dir/nvr-fstrim.service.d/porchlight-data-dir.conf"
fi

if command -v systemctl >/dev/null; then
  if systemd_running; then systemctl daemon-reload; fi
  # Works without a running systemd too (a chroot): it only makes the symlinks.
  systemctl enable nvr.service nvr-fstrim.timer >/dev/null 2>&1 ||
    die "systemctl enable nvr.service nvr-fstrim.timer failed"
else
  say "warning: no systemctl: the units are in $unit_dir but not enabled"
fi

# --- start, and where the dashboard is ------------------------------------------------------
if systemd_running; then
  if [ "$service_was_active" -eq 1 ]; then say "starting the upgraded service"; else say "starting nvr.service"; fi
  systemctl start nvr.service nvr-fstrim.timer || die "nvr.service did not start: journalctl -u nvr"
  # Type=notify: 'start' returns once the service said READY=1 (dashboard up).
  echo
  "$wrapper" status || true
  echo
  say "done. The dashboard's address and the certificate fingerprint are above;"
  say "check that your browser shows the same fingerprint before you accept it."
else
  echo
  say "done. systemd is not running here (a chroot or a container): nothing was started."
  say "On the box: 'sudo systemctl start nvr', then 'sudo nvr status' shows the dashboard"
  say "address (https://<this box>:8443/) and the TLS certificate fingerprint to expect."
fi

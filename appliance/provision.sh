#!/usr/bin/env bash
# Installs the Debian packages the appliance needs. Shared by the README, .ci/run and the
# Vagrantfile so the three never drift apart.
#   provision.sh            packages to run the appliance
#   provision.sh --test     plus what the test suite needs (Chromium, qpdf, and the CJK fonts of bench/ocr-set:
#                           tests read pages of that set, which must be drawn in its own fonts, not fallbacks)
#   provision.sh --bench    plus the baselines the benchmarks compare against (OCRmyPDF) and the CJK fonts of bench/ocr-set
set -euo pipefail

run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# lmdb-utils: mdb_copy/mdb_stat for `archive compact` (run time; its test needs them too).
pkgs=(clamav-daemon clamav poppler-utils fonts-wqy-zenhei ca-certificates openssl lmdb-utils)
for arg in "$@"; do
  case "$arg" in
    --test) pkgs+=(chromium qpdf iproute2 util-linux python3-cryptography fonts-arphic-uming fonts-arphic-ukai fonts-noto-cjk) ;;
    --bench) pkgs+=(chromium qpdf ocrmypdf tesseract-ocr-chi-sim hyperfine openssl fonts-arphic-uming fonts-arphic-ukai fonts-noto-cjk) ;;
    *) echo "provision.sh: unknown option $arg (use --test or --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  run apt-get update -q
  run apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# clamd must fail closed: a file too big to scan is an alert, never "OK" (field notes), and the
# stream limit equals the file limit so nothing is scanned only in part.
conf=/etc/clamav/clamd.conf
set_clamd() {
  if grep -qE "^$1 " "$conf"; then run sed -i -E "s|^$1 .*|$1 $2|" "$conf"; else echo "$1 $2" | run tee -a "$conf" >/dev/null; fi
}
if [ -f "$conf" ]; then
  set_clamd StreamMaxLength 200M
  set_clamd MaxFileSize 200M
  set_clamd MaxScanSize 800M
  set_clamd AlertExceedsMax yes
fi

# The appliance never fetches signatures from the internet: updates come in on approved media
# (`archive signatures import`). Stop the updater the package may have started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  run systemctl disable --now clamav-freshclam.service >/dev/null 2>&1 || true
fi

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "provision: Node.js 20 or newer is required (node --version)" >&2
  exit 1
fi
echo "provision: system packages ready"

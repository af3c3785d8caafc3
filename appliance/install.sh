#!/usr/bin/env bash
# 档案检索一体机 — offline installer, shipped at the top of the bundle made by `archive bundle`.
#
#   tar xzf archive-bundle.tar.gz && cd archive-*/ && sudo ./install.sh [--http-addr HOST:PORT]
#
# Verifies SHA256SUMS before touching anything, then installs without any network access:
#   Debian packages from debs/ (dpkg -i; those already installed at the same or a newer version
#   are skipped), the application and its Node.js runtime into /opt/archive/releases/<id> with
#   /opt/archive/current pointing at it, the system user `archive`, the data dir /var/lib/archive
#   (0700; key files 0600), /etc/archive/config.json (kept on upgrade), the `archive` command and
#   the systemd unit, then starts the services.
# Upgrading in place: the data dir and its audit trail are never replaced, only the release is
# swapped (the previous one is kept for a rollback: point /opt/archive/current back at it).
#
# Options:
#   --root DIR        install into DIR instead of / (DESTDIR style: no Debian packages, no user,
#                     no services; prints how to start). Used by the tests.
#   --http-addr H:P   web address written into a new /etc/archive/config.json (default 127.0.0.1:8080)
#   --no-start        install but do not (re)start the services
set -euo pipefail
umask 022
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT=""
HTTP_ADDR="127.0.0.1:8080"
START=1

say() { printf 'install: %s\n' "$*"; }
die() { printf '安装失败：%s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root 需要一个目录"; ROOT="${2%/}"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; ROOT="${ROOT%/}"; shift ;;
    --http-addr) [ $# -ge 2 ] || die "--http-addr 需要 HOST:PORT"; HTTP_ADDR="$2"; shift 2 ;;
    --http-addr=*) HTTP_ADDR="${1#--http-addr=}"; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "未知参数：$1（见 --help）" ;;
  esac
done
[[ "$HTTP_ADDR" =~ ^[^[:space:]:]+:[0-9]{1,5}$ ]] || die "--http-addr 须为 HOST:PORT：$HTTP_ADDR"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root 目录不存在：$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
fi

started=$(date +%s)
cd "$HERE"

# 1. Verify the bundle before anything is changed: every file listed, every hash right, no links.
[ -f SHA256SUMS ] || die "缺少 SHA256SUMS：这不是完整的安装包。"
[ -f VERSION ] || die "缺少 VERSION：这不是完整的安装包。"
if [ -n "$(find . -type l -print -quit)" ]; then die "安装包中含有符号链接，拒绝安装（可能被改动）：$(find . -type l | head -3 | tr '\n' ' ')"; fi
if ! sha256sum --check --strict --quiet SHA256SUMS; then
  die "SHA256SUMS 校验未通过：安装包损坏或被改动。请从原始介质重新拷贝，并与 .sha256 文件核对。"
fi
listed="$(sed -E 's/^[0-9a-f]{64}  //' SHA256SUMS | sort)"
present="$(find . -type f ! -path ./SHA256SUMS | sort)"
if [ "$listed" != "$present" ]; then
  extra="$(comm -13 <(printf '%s\n' "$listed") <(printf '%s\n' "$present") | head -5 | tr '\n' ' ')"
  die "安装包中有 SHA256SUMS 未列出的文件，拒绝安装：$extra"
fi
ID="$(tr -cd 'A-Za-z0-9._-' < VERSION)"
[ -n "$ID" ] || die "VERSION 内容无效"
say "SHA256SUMS 校验通过：$(wc -l < SHA256SUMS) 个文件，版本 $ID"

# 2. Debian packages (only on the real system: dpkg cannot run maintainer scripts in a bare prefix).
debs=(debs/*.deb)
[ -e "${debs[0]}" ] || die "安装包中没有 Debian 软件包（debs/）"
if [ -z "$ROOT" ]; then
  [ "$(id -u)" -eq 0 ] || die "须以 root 运行（sudo ./install.sh）"
  [ "$(dpkg --print-architecture)" = amd64 ] || die "本安装包仅适用于 amd64"
  os="$(. /etc/os-release 2>/dev/null; echo "${ID:-}:${VERSION_ID:-}")"
  [ "$os" = debian:12 ] || say "警告：本安装包为 Debian 12 构建，本机为 ${os:-未知系统}"
  todo=()
  for deb in "${debs[@]}"; do
    pkg="$(dpkg-deb -f "$deb" Package)"
    ver="$(dpkg-deb -f "$deb" Version)"
    cur="$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)"
    if [[ "$cur" == "install ok installed "* ]] && dpkg --compare-versions "${cur##* }" ge "$ver"; then continue; fi
    todo+=("$deb")
  done
  if [ ${#todo[@]} -gt 0 ]; then
    say "安装 ${#todo[@]} 个 Debian 软件包（共 ${#debs[@]} 个，其余已安装）"
    DEBIAN_FRONTEND=noninteractive dpkg -i "${todo[@]}" || die "dpkg 安装软件包失败（见上方信息）：本机可能缺少基础软件包，或有软件包处于损坏状态（dpkg --audit）。"
  else
    say "所需 Debian 软件包均已安装"
  fi
  # clamd fails closed: a file too big to scan is an alert, never "OK"; nothing is scanned in part.
  conf=/etc/clamav/clamd.conf
  if [ -f "$conf" ]; then
    for kv in "StreamMaxLength 200M" "MaxFileSize 200M" "MaxScanSize 800M" "AlertExceedsMax yes"; do
      k="${kv%% *}"
      if grep -qE "^$k " "$conf"; then sed -i -E "s|^$k .*|$kv|" "$conf"; else echo "$kv" >> "$conf"; fi
    done
  fi
else
  say "--root 模式：跳过 ${#debs[@]} 个 Debian 软件包（在真实系统上由 dpkg -i 安装）"
fi

# 3. The release: copied next to the old one, then /opt/archive/current swapped in one rename.
OPT="$ROOT/opt/archive"
REL="$OPT/releases/$ID"
mkdir -p "$OPT/releases"
rm -rf "$REL.new"
mkdir -p "$REL.new"
cp -a app runtime "$REL.new/"
chmod 0755 "$REL.new/runtime/node"
rm -rf "$REL"
mv "$REL.new" "$REL"
previous="$(readlink "$OPT/current" 2>/dev/null || true)"
ln -sfn "releases/$ID" "$OPT/current.new"
mv -Tf "$OPT/current.new" "$OPT/current"
# Keep the new release and the one before it (rollback); older ones go.
for old in $(ls -1t "$OPT/releases"); do
  case "$old" in "$ID"|"$(basename "$previous")"|*.new) continue ;; esac
  rm -rf "${OPT:?}/releases/$old"
done
say "程序已安装：$REL（当前版本）${previous:+；上一版本 $previous 保留以便回退}"

# 4. System user (real system only).
if [ -z "$ROOT" ]; then
  if ! getent passwd archive >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/archive --no-create-home --shell /usr/sbin/nologin --comment "archive appliance" archive
    say "已创建系统用户 archive"
  fi
  # clamd's socket belongs to the clamav group.
  if getent group clamav >/dev/null; then usermod -aG clamav archive; fi
fi

# 5. Data dir: created once, never replaced; modes tightened on every install.
DATA="$ROOT/var/lib/archive"
if [ -d "$DATA" ]; then say "保留现有数据目录 $DATA（含审计记录）"; else say "创建数据目录 $DATA"; fi
mkdir -p "$DATA"
chmod 0700 "$DATA"
for d in config items jobs inbox quarantine audit meili run; do
  mkdir -p "$DATA/$d"
  chmod 0700 "$DATA/$d"
done
find "$DATA/config" -maxdepth 1 -type f -exec chmod 0600 {} +
if [ -z "$ROOT" ]; then chown -R archive:archive "$DATA"; fi

# 6. Configuration (kept on upgrade: the classification ceiling is set here, by root only).
ETC="$ROOT/etc/archive"
mkdir -p "$ETC"
if [ ! -f "$ETC/config.json" ]; then
  cat > "$ETC/config.json" <<EOF
{
  "dataDir": "/var/lib/archive",
  "httpAddr": "$HTTP_ADDR",
  "clamd": "unix:/run/clamav/clamd.ctl",
  "classificationCeiling": "内部"
}
EOF
  say "已写入配置 $ETC/config.json（网页地址 $HTTP_ADDR，密级上限 内部）"
else
  say "保留现有配置 $ETC/config.json"
fi
chmod 0640 "$ETC/config.json"
if [ -z "$ROOT" ]; then chown root:archive "$ETC/config.json"; fi

# 7. The `archive` command and the systemd unit.
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system"
cat > "$ROOT/usr/local/bin/archive" <<'EOF'
#!/bin/sh
# The archive console command of the installed appliance (runs as the `archive` user when called by root).
export ARCHIVE_CONFIG="${ARCHIVE_CONFIG:-/etc/archive/config.json}"
export ARCHIVE_DATA_DIR="${ARCHIVE_DATA_DIR:-/var/lib/archive}"
# The release's own node first on PATH; app/appliance/bin/archive sets the malloc settings and runs it.
export PATH="/opt/archive/current/runtime:$PATH"
ENTRY=/opt/archive/current/app/appliance/bin/archive
if [ "$(id -u)" = 0 ] && id archive >/dev/null 2>&1; then
  exec runuser -u archive -- env PATH="$PATH" ARCHIVE_CONFIG="$ARCHIVE_CONFIG" ARCHIVE_DATA_DIR="$ARCHIVE_DATA_DIR" "$ENTRY" "$@"
fi
exec "$ENTRY" "$@"
EOF
chmod 0755 "$ROOT/usr/local/bin/archive"
install -m 0644 app/appliance/systemd/archive.service "$ROOT/etc/systemd/system/archive.service"

# 8. Services.
if [ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # Signatures come in on approved media (never from the internet): the updater stays off.
  systemctl disable --now clamav-freshclam.service >/dev/null 2>&1 || true
  systemctl enable clamav-daemon.service >/dev/null 2>&1 || true
  systemctl enable archive.service >/dev/null
  if [ "$START" = 1 ]; then
    systemctl restart clamav-daemon.service || say "警告：clamd 未能启动（首次安装须先从经批准的介质导入病毒库到 /var/lib/clamav）；在此之前导入会暂停"
    systemctl restart archive.service
    say "服务已启动：systemctl status archive；archive status；archive selfcheck"
  fi
else
  say "未使用 systemd 启动服务。手动启动："
  say "  ARCHIVE_CONFIG=$ETC/config.json ARCHIVE_DATA_DIR=$DATA $OPT/current/runtime/node $OPT/current/app/appliance/bin/archive.mjs serve"
fi
say "完成，用时 $(( $(date +%s) - started )) 秒"

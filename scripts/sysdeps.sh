#!/usr/bin/env bash
# System packages soundstage needs on Debian 12. Installs what is missing when run as root;
# otherwise says what to install. Safe to run repeatedly.
set -euo pipefail
need=()
command -v python3.11 >/dev/null || need+=(python3.11)
python3.11 -c "import venv, ensurepip" 2>/dev/null || need+=(python3.11-venv)
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)     # independent C2PA/JUMBF reader for interop tests
command -v node >/dev/null || need+=(nodejs)                        # c2pa-wasm, the independent C2PA reader (tests/interop)
command -v npm >/dev/null || need+=(npm)                             # installs it and ExifTool 13 from package-lock.json
command -v pg_ctlcluster >/dev/null || need+=(postgresql)            # the PostgreSQL storage tests
command -v chromium >/dev/null || need+=(chromium)                   # browser tests (Playwright drives Debian's Chromium)
command -v pdftoppm >/dev/null || need+=(poppler-utils)              # PDF pages to pictures in report tests
command -v wrk >/dev/null || need+=(wrk)                              # bench/api.py's load generator (C, cheap on 2 cores)
command -v faketime >/dev/null || need+=(faketime)                  # libfaketime: moves a reader's clock past certificate expiry (timestamp tests)
command -v espeak-ng >/dev/null || need+=(espeak-ng)                # the animatic's scratch track: a synthetic voice, never a performer's
for lib in libxrender1 libxfixes3 libxi6 libxkbcommon0 libsm6 libice6; do   # Blender (bpy) in its worker process
  dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
# fonts every PDF embeds (soundstage/fonts.py): Noto Sans for Latin/Cyrillic/Greek/Arabic/Hebrew,
# WenQuanYi Zen Hei for CJK (TrueType outlines; Debian's Noto CJK is CFF, which ReportLab cannot embed)
[ -e /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf ] || need+=(fonts-noto-core)
[ -e /usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf ] || need+=(fonts-noto-mono)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
[ -e /usr/lib/x86_64-linux-gnu/libGL.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libGL.so.1 ] || need+=(libgl1)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: missing system packages (install as root): ${need[*]}" >&2
fi

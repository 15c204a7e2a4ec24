#!/usr/bin/env bash
# Installs what `make test-browser` needs: Debian's chromium + chromium-driver (Playwright's own browser
# download is not used) and the "browser" extra (voila, playwright, ipympl) into the venv. Usage: setup.sh VENV_PYTHON
set -euo pipefail
PY="${1:-.venv/bin/python}"
if [ ! -x /usr/bin/chromium ]; then
  echo "test-browser: /usr/bin/chromium missing, installing Debian's chromium and chromium-driver" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
fi
if ! "$PY" -c "import voila, playwright, ipympl" 2>/dev/null; then
  "$PY" -m pip install -q -e ".[browser]"
fi

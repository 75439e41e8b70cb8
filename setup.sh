#!/usr/bin/env bash
# Fresh-machine setup: system libraries (graphviz's `dot` for plot_model; libGL and glib, which
# opencv-python's webcam window needs), Chromium for the browser-camera test, and the Python packages.
set -euo pipefail
cd "$(dirname "$0")"
SYSTEM_PACKAGES="graphviz libgl1 libglib2.0-0"

apt_install() {  # apt-get install as root, or through sudo; fails where neither is possible
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

if ! command -v dot >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q "libGL.so.1"; then
  if ! apt_install $SYSTEM_PACKAGES; then
    echo "setup.sh: apt is not available here to install $SYSTEM_PACKAGES." >&2
    echo "  Install Graphviz yourself (brew install graphviz / conda install graphviz /" >&2
    echo "  https://graphviz.org/download/) for model diagrams, and libGL for OpenCV." >&2
  fi
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium || echo "setup.sh: could not install Chromium (Debian's chromium package): the browser-camera test will be skipped, and say so." >&2
fi
python3 -m pip install -q -e ".[dev]"

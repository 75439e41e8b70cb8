#!/usr/bin/env bash
# Fresh-machine setup: system libraries (graphviz's `dot` for plot_model; libGL and glib, which
# opencv-python's webcam window needs) and the Python packages.
set -euo pipefail
cd "$(dirname "$0")"
SYSTEM_PACKAGES="graphviz libgl1 libglib2.0-0"
if ! command -v dot >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q "libGL.so.1"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq $SYSTEM_PACKAGES >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq $SYSTEM_PACKAGES >/dev/null
  else
    echo "setup.sh: apt is not available here to install $SYSTEM_PACKAGES." >&2
    echo "  Install Graphviz yourself (brew install graphviz / conda install graphviz /" >&2
    echo "  https://graphviz.org/download/) for model diagrams, and libGL for OpenCV." >&2
  fi
fi
python3 -m pip install -q -e ".[dev]"

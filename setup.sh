#!/usr/bin/env bash
# Fresh-machine setup: the system `dot` binary (graphviz) and the Python packages.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v dot >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq graphviz >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo apt-get install -y -qq graphviz >/dev/null
  else
    echo "setup.sh: the 'dot' binary is missing and apt is not available here." >&2
    echo "  Install Graphviz yourself (brew install graphviz / conda install graphviz /" >&2
    echo "  https://graphviz.org/download/); only model diagrams (plot_model) need it." >&2
  fi
fi
python3 -m pip install -q -e ".[dev]"

#!/bin/sh
# Installs the plugin's own environment from PyPI: plugins/regulon-stats/.venv (ignored by
# the plugin's cache fingerprint, like every hidden folder).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
echo "regulon-stats: installed into $here/.venv"

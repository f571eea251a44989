#!/bin/sh
# Picks the interpreter and runs the plugin (see plugin.yaml).
here=$(dirname "$0")
if [ -n "${GCRL_PYTHON:-}" ]; then py="$GCRL_PYTHON"
elif [ -x "$here/.venv/bin/python" ]; then py="$here/.venv/bin/python"
else py=python3
fi
exec "$py" "$here/regulon_stats.py"

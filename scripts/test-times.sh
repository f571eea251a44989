#!/usr/bin/env bash
# Per-test wall times of the whole suite (the ignored tests too when their tools are installed:
# pass --run-ignored all), from cargo-nextest's JUnit report, slowest first, as
# benches/results/DATE-test-times.csv (test,seconds,outcome). Usage:
#   GCRL_PYTHON=/tmp/gcrl-venv/bin/python scripts/test-times.sh [--run-ignored all] [-- FILTERS]
set -euo pipefail
cd "$(dirname "$0")/.."
out="benches/results/$(date +%F)-test-times.csv"
cargo nextest run --release --profile times --no-fail-fast "$@" || status=$?
python3 - target/nextest/times/junit.xml "$out" <<'PY'
import sys, xml.etree.ElementTree as ET
cases = []
for suite in ET.parse(sys.argv[1]).getroot().iter("testsuite"):
    for case in suite.iter("testcase"):
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else (
            "skipped" if case.find("skipped") is not None else "passed")
        cases.append((float(case.get("time", 0)), f"{suite.get('name')}::{case.get('name')}", outcome))
cases.sort(reverse=True)
with open(sys.argv[2], "w") as f:
    f.write("test,seconds,outcome\n")
    for t, name, outcome in cases:
        f.write(f"{name},{t:.3f},{outcome}\n")
total = sum(t for t, _, _ in cases)
print(f"{len(cases)} tests, {total:.0f} s of test time; slowest:")
for t, name, _ in cases[:10]:
    print(f"  {t:8.2f} s  {name}")
print(f"written to {sys.argv[2]}")
PY
exit "${status:-0}"

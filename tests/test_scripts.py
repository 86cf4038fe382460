"""The developer scripts say what they are doing while they work (issue 13: ~13 s of silence
while installing looked like a hang). A stand-in python records what would run, so the test
needs no network and leaves every real environment alone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$0 $*" >> "$FAKE_PYTHON_LOG"
case "$1" in
    --version) echo "Python 3.12.0" ;;
    -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$0" "$3/bin/python"; fi ;;
esac
exit 0
"""


def test_bootstrap_says_each_step(tmp_path: Path) -> None:
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PYTHON": str(python),
        "SITREP_VENV": str(tmp_path / "venv"),
        "FAKE_PYTHON_LOG": str(log),
    }
    done = subprocess.run(
        [ROOT / "scripts" / "bootstrap", "test"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    steps = done.stderr.splitlines()
    assert [line.split(" ")[1] for line in steps] == ["creating", "upgrading", "installing", "done"], steps
    assert all(line.startswith("bootstrap: ") for line in steps) and done.stdout == ""
    assert "with [test]" in steps[2] and str(tmp_path / "venv") in steps[2]
    assert f"pip install --quiet --editable {ROOT}[test]" in log.read_text()
    # Run again: the environment exists, so only the install step (and its end) are said.
    again = subprocess.run(
        [ROOT / "scripts" / "bootstrap"], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert [line.split(" ")[1] for line in again.stderr.splitlines()] == ["installing", "done"]

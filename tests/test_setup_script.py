"""scripts/setup.sh says what it is doing before each slow step (it was silent for ~90 s).

The script runs for real in a copy of the repository's layout whose ``.venv`` holds stand-ins
for ``python`` and ``pip`` that record their calls: the order of the printed steps and of the
commands is what is checked, without installing anything."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

from tests.conftest import ROOT

RECORDER = """#!/usr/bin/env bash
echo "CALL $(basename "$0") $*" >> "$(dirname "$0")/../calls.log"
"""


def test_setup_prints_each_step_before_running_it(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "pip"):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    # the stand-ins append to calls.log; the script's own lines go to stdout: interleave both
    done = subprocess.run(["bash", "-c", f"bash scripts/setup.sh | while read -r l; do echo \"$l\" >> .venv/calls.log; "
                                         "done"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = (tmp_path / ".venv" / "calls.log").read_text().splitlines()
    calls = [i for i, line in enumerate(log) if line.startswith("CALL pip")]
    assert len(calls) == 3, log
    for i in calls:  # every pip call comes right after a line saying what it installs
        assert log[i - 1].startswith("setup: installing"), log
    assert log[0].startswith("setup: using the existing .venv") and log[-1].startswith("setup: done"), log

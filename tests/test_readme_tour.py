"""The README's tour can be pasted as it is from the repository root without leaving files there."""

from __future__ import annotations

import re
import shlex

from tests.conftest import ROOT


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line.split("  #")[0] for block in blocks for line in block.splitlines() if line.strip()]


def test_the_tour_writes_no_file_into_the_repository() -> None:
    commands = tour_commands()
    assert any("format=csv" in c for c in commands)  # the export is still in the tour
    for command in commands:
        words = shlex.split(command, comments=True)
        for i, word in enumerate(words):
            target = None
            if word in (">", ">>", "-o", "--output", "tee"):
                target = words[i + 1] if i + 1 < len(words) else None
            elif re.fullmatch(r"\d?>>?\S+", word):
                target = word.lstrip("0123456789>")
            if target is not None:
                assert target.startswith(("/", "$", "~")) or target == "/dev/null", (command, target)

"""docs/operations.md gives no command that is not run: each of its shell
blocks is one of the blocks ``make compose-test`` runs against a real
compose cluster (tests/compose/scenario.py ``BLOCKS``), character for
character, and each of those blocks is in the guide."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tests.compose.scenario import BLOCKS

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)


def shell_blocks(text: str) -> list[str]:
    """The ```sh blocks of a markdown text, dedented (list items indent them)."""
    return [textwrap.dedent(m["body"]).strip("\n") for m in FENCE.finditer(text)]


def test_every_shell_block_of_the_guide_is_run_by_compose_test() -> None:
    blocks = shell_blocks((ROOT / "docs/operations.md").read_text())
    assert len(blocks) >= 10, "the scan finds the guide's blocks"
    not_run = [b for b in blocks if b not in BLOCKS.values()]
    assert not not_run, "commands in docs/operations.md that make compose-test does not run:\n\n" + "\n\n".join(not_run)
    not_documented = [name for name, block in BLOCKS.items() if block not in blocks]
    assert not not_documented, f"compose-test blocks missing from the guide: {not_documented}"


def test_the_scan_sees_indented_blocks() -> None:
    text = "1. step\n\n   ```sh\n   echo a\n     echo b\n   ```\n\n```sh\necho c\n```\n```yaml\nx: 1\n```\n"
    assert shell_blocks(text) == ["echo a\n  echo b", "echo c"]

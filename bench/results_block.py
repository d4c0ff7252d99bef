"""Each benchmark owns one block of ``bench/RESULTS.md`` between its own markers; writing it keeps the rest."""

from __future__ import annotations

from pathlib import Path


def replace_block(path: Path, begin: str, end: str, body: str, *, heading: str) -> None:
    """Put ``body`` between ``begin`` and ``end`` in ``path``; without those markers yet, add ``heading`` and the
    block at the end."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    section = f"{begin}\n\n{body.strip(chr(10))}\n\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")

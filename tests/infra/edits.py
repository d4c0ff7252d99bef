"""Broken copies of the real templates: one textual edit, checked to have happened, parsed like the original."""

from __future__ import annotations

from tests.infra.bicep import INFRA_DIR, MAIN_BICEP, Template


def _load_with(relative: str, source: str) -> Template:
    broken = Template.load(MAIN_BICEP, overrides={INFRA_DIR / relative: source})
    problems = [problem for file in broken.files.values() for problem in file.syntax_problems()]
    if problems:
        raise AssertionError(f"the broken copy must still parse, so the rule (not the parser) rejects it: {problems}")
    return broken


def edited(relative: str, old: str, new: str) -> Template:
    """The real template with ``old`` replaced by ``new`` (exactly once) in ``infra/<relative>``."""
    source = (INFRA_DIR / relative).read_text(encoding="utf-8")
    count = source.count(old)
    if count != 1:
        raise AssertionError(f"edit target occurs {count} times in {relative}, expected once: {old!r}")
    return _load_with(relative, source.replace(old, new))


def appended(relative: str, extra: str) -> Template:
    """The real template with ``extra`` declarations added at the end of ``infra/<relative>``."""
    source = (INFRA_DIR / relative).read_text(encoding="utf-8")
    return _load_with(relative, f"{source}\n{extra}\n")

"""``python -m retento.cli_help_catalog``: the help texts and words of ``retento`` and
``retento analyze`` that ``cli_help.po`` has no Chinese for yet, printed as .po entries to fill
in. It walks the command tree, so it lives beside ``retento.cli`` (``core.cli_help`` renders
the pages and imports no domain)."""

from __future__ import annotations

from collections.abc import Iterator

from retento.core.cli_help import help_texts, words


def missing() -> Iterator[str]:
    """The help texts and words of ``retento`` and ``retento analyze`` that the catalogues have
    no Chinese for, as .po entries to fill in (``cli_help.po``)."""
    import typer.main

    from retento.analyze.base import app as analyze_app
    from retento.cli import app
    from retento.web.i18n import gettext

    texts = [*help_texts(typer.main.get_command(app), ("retento",))]
    texts += help_texts(typer.main.get_command(analyze_app), ("retento analyze",))
    texts += [("Typer", w) for w in words()]
    seen: set[str] = set()
    chinese = "zh_CN"
    for where, text in texts:
        if text not in seen and gettext(chinese, text) == text:
            seen.add(text)
            yield f'#: {where}\nmsgid {_po_string(text)}\nmsgstr ""\n'


def _po_string(text: str) -> str:
    """``text`` as a .po string, one line per line of text."""
    parts = text.replace("\\", "\\\\").replace('"', '\\"').split("\n")
    if len(parts) == 1:
        return f'"{parts[0]}"'
    lines = [f'"{p}\\n"' for p in parts[:-1]] + ([f'"{parts[-1]}"'] if parts[-1] else [])
    return '""\n' + "\n".join(lines)


if __name__ == "__main__":
    for entry in missing():
        print(entry)

"""Words of the command line's own, marked for the catalogues and shared by the usage errors
(``core.cli_usage``) and the help pages (``core.cli_help``): kept apart so neither imports the
other to reach them (the help pages are imported only when one is printed in Chinese)."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for the catalogues (``cli_usage.po``, ``analyze.po``), as ``web.i18n.N_``
    does: the command line does not import the web stack until it has something to translate."""
    return message


# The usage line's prefix in click's HelpFormatter.write_usage and Typer's error panel.
USAGE = N_("Usage:")

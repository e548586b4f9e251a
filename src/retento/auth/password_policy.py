"""Password policy: long enough, not guessable. Enforced by the user service (every interface)."""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from retento.core.errors import InvalidInput
from retento.web.i18n import N_

MIN_LENGTH = 12  # also in the message "Use at least 12 characters." below
MAX_LENGTH = 200
MIN_NAME_IN_PASSWORD = 3  # shorter usernames are not looked for inside the password
_DATA = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
# Keyboard rows and counting sequences: "qwertyuiop", "1234567890", "abcdefgh" and their reverses.
_SEQUENCES = (
    "0123456789012345678901234567890",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnmqwertyuiop",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "1q2w3e4r5t6y7u8i9o0p",
)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-case (see ``auth/data/README.md``)."""
    with gzip.open(_DATA, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def _is_sequence(s: str) -> bool:
    return any(s in seq or s in seq[::-1] for seq in _SEQUENCES)


def _core(s: str) -> str:
    """The password minus decorations people add to a common word: ends of digits/symbols."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", s)


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is refused, or ``None`` if it is acceptable."""
    if len(password) < MIN_LENGTH:
        return N_("Use at least 12 characters.")
    if len(password) > MAX_LENGTH:
        return N_("Use at most 200 characters.")
    if password.isdigit():
        return N_("Use more than digits.")
    low = password.lower()
    if len(set(low)) < 4:
        return N_("Use more different characters.")
    # A name of one or two letters ("bo", "li") is inside many ordinary words ("Harbour",
    # "Kettle-lime") and says nothing a guesser could use: refusing them refused good passwords.
    name = (username or "").strip().lower()
    if len(name) >= MIN_NAME_IN_PASSWORD and name in low:
        return N_("Do not put the username in the password.")
    core = _core(low)
    if (
        low in common_passwords()
        or core in common_passwords()
        or _is_sequence(low)
        or (len(core) >= 3 and _is_sequence(core))
        or (core and len(set(core)) == 1)
    ):
        return N_("This password is too common; choose a less guessable one.")
    return None


def check_password(password: str, username: str | None = None) -> None:
    """Raise ``InvalidInput`` (field ``password``) if the policy refuses ``password``."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, field="password")

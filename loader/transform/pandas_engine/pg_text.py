"""PostgreSQL's text rules under a libc locale, for the pandas engine: lower(), upper(), initcap() and `\\s`.

The dbt models call lower(), upper(), initcap() and regular expressions with `\\s` inside PostgreSQL, whose answers
for non-ASCII text come from the C library's locale named by the target database's LC_CTYPE (C.UTF-8 on the
embedded server): one code point to one code point (towlower/towupper: `ß` stays `ß` and `İ` becomes `i`, where
Python's str.upper() writes `SS`), initcap() words made of iswalnum() characters (combining marks included,
superscript digits not), and `\\s` the iswspace() characters (no no-break spaces, unlike Python's `\\s`). Python's
own Unicode rules differ on a few hundred code points, so the engine asks the same C library, once per process,
and keeps its answers as lookup tables. A database in the C locale gets PostgreSQL's ASCII-only rules.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd

CODE_POINTS = 0x110000
# glibc's LC_CTYPE_MASK (1 << LC_CTYPE, and LC_CTYPE is 0 there).
_LC_CTYPE_MASK = 1
# Code points without properties: unassigned, surrogates, private use. Every C library leaves them alone.
_NO_PROPERTIES = frozenset({"Cn", "Cs", "Co"})
_ASCII_SPACE = "\t\n\x0b\x0c\r "
# The characters whose rows need the lookup tables; for plain ASCII the vectorized Arrow kernels agree.
NON_ASCII = "[^\x00-\x7f]"
# initcap() works on a matrix of code points, one row per value; this many rows at a time bounds its memory.
_INITCAP_BLOCK = 20_000


class UnsupportedLocale(Exception):
    """The target database's text rules are not ones this engine can reproduce."""


@dataclass(frozen=True)
class TextRules:
    """How PostgreSQL changes case and tells letters and spaces apart in the target database."""

    locale: str
    lower_table: npt.NDArray[np.uint32]
    upper_table: npt.NDArray[np.uint32]
    alnum: npt.NDArray[np.bool_]
    whitespace: str
    # The same tables as str.translate wants them: only the code points that change.
    lower_changes: dict[int, int]
    upper_changes: dict[int, int]

    @property
    def space_class(self) -> str:
        """`\\s` as PostgreSQL reads it here, as a character class that RE2 (Arrow) and Python's re read alike."""
        return "[" + self.whitespace + "]"

    def lower(self, values: pd.Series) -> pd.Series:
        """PostgreSQL's lower()."""
        return self._mapped(values, self.lower_changes, ascii_kernel="lower")

    def upper(self, values: pd.Series) -> pd.Series:
        """PostgreSQL's upper()."""
        return self._mapped(values, self.upper_changes, ascii_kernel="upper")

    def initcap(self, values: pd.Series) -> pd.Series:
        """PostgreSQL's initcap(): upper case after a character that is not alphanumeric, lower case elsewhere."""
        result = values.copy()
        present = values.notna().to_numpy()
        positions = np.flatnonzero(present)
        for start in range(0, len(positions), _INITCAP_BLOCK):
            block = positions[start : start + _INITCAP_BLOCK]
            codes = _code_point_matrix(values.iloc[block])
            after_alnum = np.zeros_like(codes, dtype=bool)
            after_alnum[:, 1:] = self.alnum[codes[:, :-1]]
            changed = np.where(after_alnum, self.lower_table[codes], self.upper_table[codes])
            # Padding stays padding (code 0), so the row ends where the value did.
            changed[codes == 0] = 0
            result.iloc[block] = changed.view(f"<U{codes.shape[1]}").ravel()
        return result

    @staticmethod
    def _mapped(values: pd.Series, changes: dict[int, int], ascii_kernel: str) -> pd.Series:
        # Arrow's kernel for every row (right for ASCII), then the table for the few rows beyond ASCII.
        result: pd.Series = getattr(values.str, ascii_kernel)()
        beyond_ascii = values.str.contains(NON_ASCII, regex=True).to_numpy(dtype=bool)
        if beyond_ascii.any():
            result = result.mask(beyond_ascii, values[beyond_ascii].str.translate(changes))
        return result


def _make_rules(
    locale: str,
    lower: npt.NDArray[np.uint32],
    upper: npt.NDArray[np.uint32],
    alnum: npt.NDArray[np.bool_],
    whitespace: str,
) -> TextRules:
    identity = _identity()
    return TextRules(
        locale,
        lower,
        upper,
        alnum,
        whitespace,
        {int(code): int(lower[code]) for code in np.flatnonzero(lower != identity)},
        {int(code): int(upper[code]) for code in np.flatnonzero(upper != identity)},
    )


def _code_point_matrix(values: pd.Series) -> npt.NDArray[np.uint32]:
    """Values as a matrix of code points, one row each, padded with 0 (PostgreSQL text never holds a NUL)."""
    fixed = np.asarray(values.to_numpy(dtype=object), dtype=str)
    width = max(fixed.dtype.itemsize // 4, 1)
    return fixed.astype(f"<U{width}").view(np.uint32).reshape(len(fixed), width)


def _identity() -> npt.NDArray[np.uint32]:
    return np.arange(CODE_POINTS, dtype=np.uint32)


def ascii_rules(locale: str = "C") -> TextRules:
    """PostgreSQL in the C (or POSIX) locale: case and classes for ASCII only."""
    lower, upper = _identity(), _identity()
    lower[ord("A") : ord("Z") + 1] += 32
    upper[ord("a") : ord("z") + 1] -= 32
    alnum = np.zeros(CODE_POINTS, dtype=bool)
    for first, last in (("0", "9"), ("A", "Z"), ("a", "z")):
        alnum[ord(first) : ord(last) + 1] = True
    return _make_rules(locale, lower, upper, alnum, _ASCII_SPACE)


@cache
def libc_rules(locale: str) -> TextRules:
    """The C library's answers for a UTF-8 locale, for every code point that has properties."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.newlocale.restype = ctypes.c_void_p
    libc.newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
    libc.freelocale.argtypes = [ctypes.c_void_p]
    for name in ("towlower_l", "towupper_l"):
        getattr(libc, name).restype = ctypes.c_uint32
        getattr(libc, name).argtypes = [ctypes.c_uint32, ctypes.c_void_p]
    for name in ("iswalnum_l", "iswspace_l"):
        getattr(libc, name).restype = ctypes.c_int
        getattr(libc, name).argtypes = [ctypes.c_uint32, ctypes.c_void_p]
    handle = libc.newlocale(_LC_CTYPE_MASK, locale.encode(), None)
    if not handle:
        raise UnsupportedLocale(f"this machine has no C library locale {locale}")
    try:
        lower, upper = _identity(), _identity()
        alnum = np.zeros(CODE_POINTS, dtype=bool)
        spaces = []
        for code in range(1, CODE_POINTS):
            if unicodedata.category(chr(code)) in _NO_PROPERTIES:
                continue
            lower[code] = libc.towlower_l(code, handle)
            upper[code] = libc.towupper_l(code, handle)
            alnum[code] = bool(libc.iswalnum_l(code, handle))
            if libc.iswspace_l(code, handle):
                spaces.append(chr(code))
    finally:
        libc.freelocale(handle)
    return _make_rules(locale, lower, upper, alnum, "".join(spaces))


def rules_for(provider: str, ctype: str) -> TextRules:
    """The rules of a database with this locale provider (pg_database.datlocprovider) and LC_CTYPE."""
    if provider != "c":
        name = {"i": "ICU", "b": "builtin"}.get(provider, provider)
        raise UnsupportedLocale(
            f"the target database uses the {name} locale provider; the pandas engine reproduces the C library's "
            "(libc) text rules only"
        )
    if ctype in ("C", "POSIX"):
        return ascii_rules(ctype)
    return libc_rules(ctype)


def default_rules() -> TextRules:
    """The embedded server's rules (C.UTF-8): for tests and tools that have no database at hand."""
    return libc_rules("C.UTF-8")

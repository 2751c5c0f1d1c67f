"""Mail bodies as quoted-printable with CRLF line ends (7 bits, lines of at most 76 characters), line by line.

Encoding line by line, each line with its line end, gives byte for byte the encoding of the whole body
(binascii.b2a_qp starts afresh after every line end). Two savings follow: the mails of a batch share nearly
all their lines, encoded once (encode_body's cache), and a reminder draft whose mails differ only in a few
lines (those holding an action link) is encoded once, those lines being encoded per mail (BodyTemplate)."""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def _lines(text: str) -> list[str]:
    """The body's lines, whatever its line ends, without them."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    if lines.endswith("\n"):
        lines = lines[:-1]
    return lines.split("\n")


def encode_line(line: str) -> bytes:
    """One line (without its line end) as quoted-printable, soft breaks included, ending with CRLF."""
    return binascii.b2a_qp(f"{line}\n".encode("utf-8"), quotetabs=False, istext=True,
                           header=False).replace(b"\n", b"\r\n")


_encode_shared_line = functools.lru_cache(maxsize=4096)(encode_line)


def encode_body(text: str) -> bytes:
    """A whole body as quoted-printable with CRLF line ends."""
    return b"".join([_encode_shared_line(line) for line in _lines(text)])


def fill_marks(parts: Sequence[str], values: Mapping[str, str]) -> str:
    """Text split by a mark pattern with one group (`pattern.split(text)`: text, key, text, key, …), with each
    key's value in place of its mark."""
    return "".join([values[part] if index % 2 else part for index, part in enumerate(parts)])


@dataclass(frozen=True)
class BodyTemplate:
    """A body encoded once for many mails that differ only in the lines holding a mark: `pieces` are the
    encoded runs of the other lines (bytes) and the marked lines split by the mark pattern (see fill_marks),
    encoded by `fill` once the values are in. `fill` gives byte for byte encode_body of the filled body."""

    pieces: tuple[bytes | tuple[str, ...], ...]

    @classmethod
    def of(cls, text: str, mark: re.Pattern[str]) -> BodyTemplate:
        """`mark` has one group, the key of the value that will stand in its place."""
        pieces: list[bytes | tuple[str, ...]] = []
        run: list[bytes] = []
        for line in _lines(text):
            parts = mark.split(line)
            if len(parts) > 1:
                if run:
                    pieces.append(b"".join(run))
                    run = []
                pieces.append(tuple(parts))
            else:
                run.append(_encode_shared_line(line))
        if run:
            pieces.append(b"".join(run))
        return cls(tuple(pieces))

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The encoded body with each key's value in place of its marks."""
        return b"".join([piece if isinstance(piece, bytes) else encode_line(fill_marks(piece, values))
                         for piece in self.pieces])

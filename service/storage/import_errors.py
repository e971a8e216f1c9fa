"""Import errors that say which file, where in it, and how to fix it -- in one line.

Any importer of published numbers reads a file row by row; whatever goes wrong (a truncated
gzip stream, bytes that are not gzip or not UTF-8, a broken CSV quote, a field that is not a
number) must reach the user as ``<file>: line <n>, column <c>: <what>; <fix>`` and leave
the database untouched (importers parse everything before writing, in one transaction).

Reusable by every importer::

    with reading(path) as at, gzip.open(path, "rb") as raw:    # decoding errors -> ImportFileError
        reader = csv.DictReader(text_lines(raw, at))  # UTF-8, line by line: errors know their line
        for at.line, row in enumerate(reader, start=2):
            value = at.number(row, "valid_acc")     # "abc" -> ImportFileError naming the column
            ...
            raise at.error("arch 3 appears twice", "keep one row per arch and setting")

The CLI prints :class:`ImportFileError` as one red line and exits with status 2.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidField

__all__ = ["ImportFileError", "Position", "reading", "text_lines"]


class ImportFileError(InvalidField):
    """A bad import file: ``str()`` is the one-line message (file, line/column, problem, fix)."""

    def __init__(self, path: str | Path, problem: str, fix: str, line: int | None = None,
                 column: str | None = None):
        self.path, self.problem, self.fix, self.line, self.column = str(path), problem, fix, line, column
        where = ", ".join(part for part in (f"line {line}" if line else "",
                                            f"column {column!r}" if column else "") if part)
        super().__init__(f"{Path(path).name}{': ' + where if where else ''}: {problem}; {fix}", column or "path")


@dataclass
class Position:
    """Where the reader is (set ``line`` as rows go by); builds errors located there."""

    path: Path
    line: int | None = None
    column: str | None = None

    def error(self, problem: str, fix: str, column: str | None = None) -> ImportFileError:
        return ImportFileError(self.path, problem, fix, self.line, column or self.column)

    def number(self, row: Mapping[str, str | None], column: str, kind: type = float) -> float | int:
        """``row[column]`` as ``kind`` (float or int), else an error naming the column and the fix."""
        raw = row.get(column)
        if raw is None:
            raise self.error("the row has fewer fields than the header", "check for a truncated or unquoted row",
                             column)
        try:
            return kind(raw)
        except ValueError:
            example = "93.76" if kind is float else "200"
            raise self.error(f"{raw[:40]!r} is not {'a number' if kind is float else 'an integer'}",
                             f"write {'a decimal number' if kind is float else 'an integer'} such as {example} "
                             "(empty for no value where the format allows it)", column) from None


def text_lines(handle: Iterator[bytes], at: Position, encoding: str = "utf-8") -> Iterator[str]:
    """Decode a binary file line by line, keeping ``at.line`` on the line being decoded (a text
    wrapper decodes 8 KB ahead, so its errors would point at the wrong line)."""
    for number, raw in enumerate(handle, start=1):
        at.line = number
        yield raw.decode(encoding)


@contextmanager
def reading(path: str | Path) -> Iterator[Position]:
    """Turn the ways a file can be unreadable into :class:`ImportFileError` at the current position."""
    at = Position(Path(path))
    gz = str(path).endswith(".gz")
    try:
        yield at
    except ImportFileError:
        raise
    except EOFError:
        raise at.error("the gzip stream ends before its end marker: the file is truncated",
                       "download or copy it again (compare its sha256 with the source's)", "") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise at.error(f"not valid gzip data ({exc})",
                       "pass the .csv.gz as downloaded; if the file is plain CSV, name it .csv" if gz else
                       "pass an uncompressed CSV or a .csv.gz", "") from None
    except UnicodeDecodeError as exc:
        raise at.error(f"byte 0x{exc.object[exc.start]:02x} is not UTF-8 text",
                       "save the file as UTF-8 (it must be the CSV format described in the data README)",
                       "") from None
    except csv.Error as exc:
        raise at.error(f"malformed CSV ({exc})", "fix the quoting of that row or regenerate the file", "") from None
    except OSError as exc:  # unreadable, a directory, permissions
        raise at.error(f"cannot read the file ({exc.strerror or exc})", "pass a readable file", "") from None

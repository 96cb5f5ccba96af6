"""Reading a CSV file as people export it, and refusing, with one clear sentence, what cannot be learnt from.

Spreadsheets export CSV in several dialects. This module accepts: comma, semicolon or tab delimited (a semicolon
file from a European spreadsheet writes decimal commas, ``3,14``), a UTF-8 byte-order mark and CRLF line ends
(Excel), Excel's ``sep=;`` first line, Windows-1252 text, quoted fields holding the delimiter, empty cells. pandas
reads the cells; this module only decodes the bytes, picks the delimiter from the header line, and checks the caps
(:data:`MAX_BYTES`, :data:`MAX_ROWS`, :data:`MAX_COLUMNS`) before anything is learnt. Every refusal is a
:class:`TableError` whose message is meant for the user.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

# Lazy import: pandas (0.24 s to import) inside read_table, so that the registry and `python -m core --help`, which
# import this kind's parameters, stay instant.

MAX_BYTES = 5 * 2**20  # a table is kept with each run trained on it
MAX_ROWS = 20_000
MAX_COLUMNS = 100
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
SNIFF_BYTES = 8192


class TableError(ValueError):
    """A table that cannot be used; the message says why, in one sentence for the user."""


@dataclass
class Table:
    """A table as read: the cells (a pandas DataFrame of text and numbers) and what reading it noticed."""

    frame: object  # pandas.DataFrame
    delimiter: str
    decimal: str
    encoding: str
    notices: list[str] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        comma = ", decimal commas" if self.decimal == "," else ""
        return f"{DELIMITER_NAMES[self.delimiter]}-delimited{comma}, {self.encoding}"


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and its encoding's name: UTF-8 (with or without a BOM), else Windows-1252.

    A file holding NUL bytes or many control characters is not text: :class:`TableError`.
    """
    head = data[:SNIFF_BYTES]
    controls = sum(b < 32 and b not in (9, 10, 13) for b in head)
    if b"\x00" in head or controls > max(8, len(head) // 100):
        raise TableError("this is not a CSV file: it holds binary data (save the table from your spreadsheet as "
                         "CSV, comma or semicolon separated)")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "UTF-8 with a byte-order mark"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def _header(text: str) -> str:
    """The first non-empty line, or the first record when its quoted fields span lines."""
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the one of :data:`DELIMITERS` splitting it into the most fields (quotes
    respected); a tie goes to the comma."""
    header = _header(text)
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def read_table(data: bytes, name: str = "table.csv") -> Table:
    """Read a CSV file's bytes into a :class:`Table`, or raise :class:`TableError` saying what is wrong.

    Column names are stripped of spaces; text cells too (empty text is an empty cell). A semicolon file is read with
    decimal commas (``1,5`` is 1.5), as European spreadsheets write them.
    """
    import pandas as pd

    if len(data) > MAX_BYTES:
        raise TableError(f"{name} is {len(data) / 2**20:.1f} MB; a table may be at most {MAX_BYTES // 2**20} MB")
    if not data.strip():
        raise TableError(f"{name} is empty: there is no table in it")
    text, encoding = decode(data)
    first = _header(text).strip()
    if first.lower().startswith("sep=") and len(first) == 5 and first[4] in DELIMITERS:  # Excel's hint line
        delimiter, text = first[4], text.split("\n", 1)[1] if "\n" in text else ""
    else:
        delimiter = sniff_delimiter(text)
    decimal = "," if delimiter == ";" else "."
    header = next(csv.reader([_header(text)], delimiter=delimiter), [])
    if len(header) > MAX_COLUMNS:
        raise TableError(f"{name} has {len(header)} columns; a table may have at most {MAX_COLUMNS}")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, decimal=decimal, skipinitialspace=True,
                            skip_blank_lines=True, nrows=MAX_ROWS + 1, dtype=str, keep_default_na=False,
                            na_values=[""], on_bad_lines="error")
    except pd.errors.EmptyDataError:
        raise TableError(f"{name} is empty: there is no table in it") from None
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TableError(f"{name} cannot be read as a table: {first}") from None
    if len(frame) > MAX_ROWS:
        raise TableError(f"{name} has more than {MAX_ROWS:,} rows; a table may have at most {MAX_ROWS:,}")
    if frame.shape[1] > MAX_COLUMNS:
        raise TableError(f"{name} has {frame.shape[1]} columns; a table may have at most {MAX_COLUMNS}")
    if frame.shape[1] < 2:
        raise TableError(f"{name} has a single column: a table to learn from needs a label and at least one other "
                         f"column (is it separated by something other than {', '.join(map(repr, DELIMITERS))}?)")
    frame.columns = [str(c).strip() or f"column {i + 1}" for i, c in enumerate(frame.columns)]
    frame = frame.apply(lambda col: col.str.strip()).replace("", None)
    frame = frame.dropna(how="all").reset_index(drop=True)
    if frame.empty:
        raise TableError(f"{name} has a header but no rows: there is nothing to learn from")
    notices = []
    if decimal == ",":
        notices.append("semicolon-delimited: numbers read with decimal commas (1,5 = 1.5)")
    if "byte-order" in encoding:
        notices.append("a UTF-8 byte-order mark (as Excel writes) was skipped")
    return Table(frame, delimiter, decimal, encoding, notices)


def to_number(values, decimal: str = ".") -> object:
    """Text cells as numbers (NaN where a cell is empty or not a number), accepting a decimal comma when the file
    uses them; a pandas Series."""
    import pandas as pd

    text = values.astype("string")
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")

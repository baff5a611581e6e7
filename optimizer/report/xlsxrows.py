"""Long sheets of report.xlsx written in bulk.

XlsxWriter keeps every cell as an object and writes each one through a few Python calls: 8 s for
the 100,000-case sheet, most of the report's time at that size. A long sheet is therefore written
by XlsxWriter with its header only (column widths, formats, frozen pane: all its own), and its
rows are added to the finished file here: each column becomes its XML cells at once, text as
inline strings (what XlsxWriter itself writes in its constant-memory mode), numbers as XlsxWriter
writes them. A column of any other kind of value (or text longer than a cell may hold) keeps the
whole sheet on XlsxWriter's own path.
"""

from __future__ import annotations

import io
import re
import zipfile

# Above this many rows a sheet's cells are written here.
BULK_ROWS = 2_000
# Excel holds 32,767 UTF-16 units in a cell; longer text (or near it) goes through XlsxWriter's checks.
_MAX_TEXT = 16_383
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")
_PADDED = re.compile(r"^\s|\s$")
# In a column's text joined by "\n": any cell that may need escaping or a preserved space (and a
# few that do not: those then take the careful path too).
_CAREFUL = re.compile(r"[\x00-\x08\x0b-\x1f&<>]|_x[0-9a-fA-F]{4}_|(?:^|\n)\s|\s(?:\n|$)")


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_cells(values: list, column: int, style: int) -> list[str] | None:
    """The <c> elements of one column from row 2 down ("" for a blank without a format), or None
    when a value is of a kind left to XlsxWriter. `style`: the cell format's index (0: none)."""
    if not {value.__class__ for value in values} <= {str, int, float, bool, type(None)}:
        return None
    texts = [value for value in values if value.__class__ is str and value]  # "" is a blank
    if max(map(len, texts), default=0) > _MAX_TEXT:
        return None
    letter = column_letters(column)
    s = f' s="{style}"' if style else ""
    text_cell = _escaped_text if _CAREFUL.search("\n".join(texts)) else _text
    return [text_cell(letter, row, value, s) if value.__class__ is str and value else _cell(letter, row, value, s) for row, value in enumerate(values, start=2)]


def _text(letter: str, row: int, text: str, s: str) -> str:
    return f'<c r="{letter}{row}"{s} t="inlineStr"><is><t>{text}</t></is></c>'


def _escaped_text(letter: str, row: int, text: str, s: str) -> str:
    """As XlsxWriter writes text: "_xHHHH_" for control characters (and its own "_x" escaped),
    XML's three escapes, and leading or trailing space kept."""
    space = ' xml:space="preserve"' if _PADDED.search(text) else ""
    text = _CONTROL.sub(lambda m: "_x005F" + m.group(0) if len(m.group(0)) > 1 else f"_x{ord(m.group(0)):04X}_", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{letter}{row}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _cell(letter: str, row: int, value, s: str) -> str:
    """A blank (None or ""), a boolean or a number."""
    if value is None or value.__class__ is str:
        return f'<c r="{letter}{row}"{s}/>' if s else ""
    if value.__class__ is bool:
        return f'<c r="{letter}{row}"{s} t="b"><v>{int(value)}</v></c>'
    return f'<c r="{letter}{row}"{s}><v>{value:.16G}</v></c>'


def rows_xml(columns: list[list[str]]) -> str:
    """The <row> elements from row 2 down, one column list of cells each."""
    return "".join(f'<row r="{row}">' + "".join(cells) + "</row>" for row, cells in enumerate(zip(*columns), start=2))


def add_rows(workbook: bytes, sheets: dict[int, tuple[str, str]]) -> bytes:
    """The workbook with rows added: {sheet number (1 = first sheet): (rows XML, last cell)}."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            number = _sheet_number(info.filename)
            if number in sheets:
                rows, last = sheets[number]
                text = data.decode("utf-8")
                # a header of blank cells only leaves the sheet data empty: "<sheetData/>"
                text = text.replace("<sheetData/>", "<sheetData></sheetData>", 1).replace("</sheetData>", rows + "</sheetData>", 1)
                text = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', text, count=1)
                data = text.encode("utf-8")
            target.writestr(info, data)  # the same name, date and compression
    return out.getvalue()


def _sheet_number(name: str) -> int | None:
    found = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", name)
    return int(found.group(1)) if found else None

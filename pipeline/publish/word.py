"""rapport.docx: the same chapter as rapport.html, in Word, for the förbund's årsredovisning.

The document is built from the rendered page itself (`render_html`), so the two can never
say different things: every heading, paragraph, list, table and figure of the page becomes
its Word counterpart, in Word's own styles (Heading 1–3, Caption, List Bullet, a table
style), with the charts as pictures (the print-resolution PNGs) and their captions. Only
what the page shows is written, and the page shows only published figures. With a
template (`--word-mall FILE.docx`) the document takes the förbund's styles, headers and
footers; its body is left out.

The bytes depend only on the input: the document's dates are the caller's (period end or
SOURCE_DATE_EPOCH) and the zip entries get a fixed time.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from pipeline.core.atomic import write_bytes

WORD_FILE = "rapport.docx"
PICTURE_WIDTH = Cm(16)
TEXT_WIDTH_CM = 16.0  # an A4 page's text width with Word's default margins
TABLE_FONT = Pt(7.5)
TEXT_WRAP = 22  # characters a column is given before it wraps
CHAR_CM, MARGINS_CM = 0.18, 0.45  # a (bold) character of TABLE_FONT, a cell's two margins
MIN_TEXT_CM = 2.2  # a text column is not made narrower than this
EXAMPLE_RED = RGBColor(0xB0, 0x00, 0x20)
# The Word styles used, each with what to use when a förbund's template lacks it.
TABLE_STYLES = ("Light List Accent 1", "Table Grid")
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


# --- The page as a small tree -----------------------------------------------------------------

_VOID = {"meta", "img", "br", "link", "input", "hr"}
_SPACES = re.compile("[ \t\n\r\f]+")


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def find_all(self, tag: str) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag:
                    yield child
                yield from child.find_all(tag)

    def first(self, tag: str) -> Node | None:
        return next(self.find_all(tag), None)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("document")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):  # close up to the matching tag
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_page(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def text_of(node: Node | str) -> str:
    """The text of a node as a reader sees it: white space collapsed.

    >>> text_of(parse_page("<p> Mål <strong>50 %</strong>\\n uppnått</p>"))
    'Mål 50 % uppnått'
    """
    if isinstance(node, str):
        return node
    # Only ASCII white space: a no-break space (12\xa0%, 3\xa0386\xa0kr) is kept.
    return _SPACES.sub(" ", "".join(text_of(c) for c in node.children)).strip(" ")


# --- Writing ----------------------------------------------------------------------------------


class _Writer:
    def __init__(self, document, charts: dict[str, Path]) -> None:
        self.doc = document
        self.charts = charts
        self.figures = 0
        self.tables = 0
        names = {s.name for s in document.styles}
        self.table_style = next((s for s in TABLE_STYLES if s in names), None)
        self.has = names.__contains__

    def paragraph(self, text: str = "", style: str | None = None):
        return self.doc.add_paragraph(text, style if style and self.has(style) else None)

    def runs(self, node: Node, paragraph) -> None:
        """Inline content: bold for strong/b, the rest as text."""
        for child in node.children:
            if isinstance(child, str):
                text = _SPACES.sub(" ", child)
                if text:
                    paragraph.add_run(text)
            elif child.tag in ("strong", "b"):
                paragraph.add_run(text_of(child) + " ").bold = True
            else:
                self.runs(child, paragraph)

    def block(self, node: Node) -> None:
        tag, classes = node.tag, node.classes
        if tag in ("style", "head", "script", "title"):
            return
        if tag in ("h1", "h2", "h3", "h4"):
            level = int(tag[1])
            self.doc.add_heading(text_of(node), level=min(level, 3))
        elif tag == "p":
            paragraph = self.paragraph(style="Subtitle" if "lead" in classes else None)
            self.runs(node, paragraph)
            if "not" in classes:
                for run in paragraph.runs:
                    run.italic = True
                    run.font.size = Pt(9)
        elif tag == "div" and classes & {"exempel", "utan-data"}:
            run = self.paragraph().add_run(text_of(node))
            run.bold = True
            run.font.color.rgb = EXAMPLE_RED
        elif tag == "ul":
            for item in node.find_all("li"):
                self.runs(item, self.paragraph(style="List Bullet"))
        elif tag == "dl":
            self.key_figures(node)
        elif tag == "table":
            self.table(node)
        elif tag == "figure":
            self.figure(node)
        else:
            for child in node.children:
                if isinstance(child, Node):
                    self.block(child)

    def key_figures(self, node: Node) -> None:
        paragraph = self.paragraph()
        for n, (dt_node, dd_node) in enumerate(
            zip(node.find_all("dt"), node.find_all("dd"), strict=True)
        ):
            if n:
                paragraph.add_run(" · ")
            paragraph.add_run(f"{text_of(dt_node)}: ").bold = True
            paragraph.add_run(text_of(dd_node))

    def caption(self, text: str, kind: str, number: int) -> None:
        self.paragraph(f"{kind} {number}. {text}", style="Caption")

    def table(self, node: Node) -> None:
        caption = node.first("caption")
        head = [c for c in node.find_all("th")]
        body = node.first("tbody")
        rows = [[c for c in tr.find_all("td")] for tr in (body.find_all("tr") if body else [])]
        if caption is not None:
            self.tables += 1
            self.caption(text_of(caption), "Tabell", self.tables)
        table = self.doc.add_table(rows=1 + len(rows), cols=len(head))
        if self.table_style:
            table.style = self.table_style
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        numeric = ["n" in th.classes for th in head]
        texts = [[text_of(th) for th in head], *([text_of(td) for td in row] for row in rows)]
        widths = _column_widths(texts, numeric)
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width  # the grid: what LibreOffice reads
        for n, (row, values) in enumerate(zip(table.rows, texts, strict=True)):
            _row_property(row, "cantSplit")
            if n == 0:
                _row_property(row, "tblHeader")  # repeated on every page the table runs over
            # row.cells walks the row's XML each time: taken once per row.
            for cell, value, width, right in zip(row.cells, values, widths, numeric, strict=False):
                cell.width = width
                run = cell.paragraphs[0].add_run(value)
                run.font.size = TABLE_FONT
                run.bold = n == 0 or None
                if right and n:
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        self.paragraph()

    def figure(self, node: Node) -> None:
        name = node.attrs.get("id", "").removeprefix("diagram-")
        picture = self.charts.get(name)
        if picture is None:
            return
        image = node.first("img")
        self.doc.add_picture(str(picture), width=PICTURE_WIDTH)
        inline = self.doc.inline_shapes[-1]._inline
        inline.docPr.set("descr", image.attrs.get("alt", "") if image else "")
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        caption = node.first("figcaption")
        self.figures += 1
        self.caption(text_of(caption) if caption else name, "Figur", self.figures)


def _column_widths(texts: list[list[str]], numeric: list[bool]) -> list[Cm]:
    """Widths that fill the text width: each column what its longest cell (up to TEXT_WRAP
    characters) and its heading's longest word need at TABLE_FONT, plus the cell margins.
    Too wide a table takes the room from its text columns (down to MIN_TEXT_CM), so that
    numbers never wrap; only then is every column narrowed. A narrow table is widened in
    proportion."""
    need = []
    for j in range(len(texts[0])):
        longest = max((len(row[j]) for row in texts[1:] if j < len(row)), default=0)
        word = max((len(w) for w in texts[0][j].split()), default=0)
        need.append(min(max(longest, word, 2), TEXT_WRAP) * CHAR_CM + MARGINS_CM)
    total = sum(need)
    if total > TEXT_WIDTH_CM:
        text = sum(n for n, right in zip(need, numeric, strict=True) if not right)
        room = TEXT_WIDTH_CM - (total - text)
        if text and room > 0:
            scale = room / text
            need = [
                n if right else max(n * scale, min(n, MIN_TEXT_CM))
                for n, right in zip(need, numeric, strict=True)
            ]
        total = sum(need)
    return [Cm(TEXT_WIDTH_CM * n / total) for n in need]


def _row_property(row, name: str) -> None:
    """A table row property (w:trPr): cantSplit keeps a row on one page, tblHeader repeats
    the heading row."""
    prop = OxmlElement(f"w:{name}")
    prop.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(prop)


def _empty_document(template: Path | None):
    """A new document, or one with the styles, headers and footers of `template` and
    none of its body."""
    document = docx.Document(str(template) if template else None)
    body = document.element.body
    for child in list(body):
        if not child.tag.endswith("}sectPr"):
            body.remove(child)
    return document


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry at a fixed time (python-docx stamps the clock)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():  # a loop over the package's parts
            entry = zipfile.ZipInfo(info.filename, ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


@dataclass(frozen=True)
class WordInfo:
    title: str
    author: str
    created: dt.datetime
    example_text: str | None  # the fictitious-data marking, on every page's header


def document_bytes(
    page: str, charts: dict[str, Path], info: WordInfo, template: Path | None = None
) -> bytes:
    """rapport.docx as bytes from the rendered page (module docstring)."""
    document = _empty_document(template)
    main = parse_page(page)
    writer = _Writer(document, charts)
    for node in main.children:
        if isinstance(node, Node):
            writer.block(node)
    if info.example_text:
        for section in document.sections:
            header = section.header.add_paragraph(info.example_text)
            header.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for run in header.runs:
                run.bold = True
                run.font.color.rgb = EXAMPLE_RED
    props = document.core_properties
    created = info.created.replace(tzinfo=None)
    props.title, props.author, props.last_modified_by = info.title, info.author, info.author
    props.created, props.modified, props.last_printed = created, created, created
    props.revision = 1
    props.comments = info.example_text or ""
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def write_word(
    path: Path, page: str, charts: dict[str, Path], info: WordInfo, template: Path | None = None
) -> Path:
    write_bytes(path, document_bytes(page, charts, info, template))
    return path

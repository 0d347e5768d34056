"""The letter channel: each message becomes a print-ready PDF in a spool the print house collects.

Not every citizen reads e-mail or a phone; the state still owes them the notice. A letter is
laid out for a windowed envelope (DIN 5008 form B: the address zone 62.7-90 mm from the top and
25 mm from the left, which also sits in a US #10 window when Letter paper is folded in thirds),
with the date, a bold subject and the body; `large_print` sets the body in 16 pt. Text is
embedded with a Unicode TrueType font (DejaVu Sans, Debian `fonts-dejavu-core`) so Cyrillic and
Albanian letters print and stay extractable. Why fpdf2 and pypdf: docs/adr/0009-letters-pdf.md.

Each letter is written to `<spool_dir>/<YYYY-MM-DD>/<attempt_id>.pdf` (the local day it was
first spooled). A retry of the same attempt replaces that file, in its first day's folder even
after midnight, so no citizen gets the same letter twice. `batch_for_print` merges one day's
letters into the single PDF the print house receives, with a CSV manifest.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pypdf import PdfReader, PdfWriter

from navreme import clock
from navreme.config import get_settings
from navreme.messaging.channels.base import Accepted, DeliveryError, Outgoing

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE_SIZES = {"a4": "A4", "letter": "Letter"}
DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PRINT_FOLDER = "print"  # where the day's merged batch and manifest go, beside the day folders

# DIN 5008 form B, in millimetres from the page's top-left corner
LEFT, RIGHT, TOP, BOTTOM = 25.0, 20.0, 27.0, 20.0
ADDRESS_TOP, ADDRESS_WIDTH, ADDRESS_LINES = 62.7, 75.0, 6
INFO_LEFT, INFO_TOP = 125.0, 50.0
SUBJECT_TOP = 98.46
A4_FOLD_MARKS = (105.0, 210.0)
ADDRESS_PT = 11.0
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August")
MONTHS_EN += ("September", "October", "November", "December")


@dataclass(frozen=True, slots=True)
class Sizes:
    """Type sizes (points) of one letter format."""

    body: float
    subject: float
    leading: float = 1.4  # line height as a multiple of the type size

    def line(self, points: float) -> float:
        return points * 25.4 / 72 * self.leading


SIZES = {
    "standard": Sizes(body=11, subject=12),
    "large_print": Sizes(body=16, subject=18, leading=1.5),
    "easy_read": Sizes(body=14, subject=15, leading=1.6),
}


class NoLettersForDay(LookupError):
    """`batch_for_print` found no letter spooled on that day."""


class LetterChannel:
    """Renders each message to a PDF letter in a spool folder the print house collects.

    Settings (keys of this channel in NAVREME_CHANNELS):
      spool_dir: folder for the day folders and print batches; "" = NAVREME_HOME/letters.
      page_size: "A4" (default) or "Letter".
      font_path: a Unicode TrueType font; "" = DejaVu Sans (Debian fonts-dejavu-core). A file
        named like it with "-Bold" before the suffix, when present, sets the subject.
    The address is the postal address, one line per line (at most six, as a window allows).
    """

    name: ClassVar[str] = "letter"

    def __init__(self, spool_dir: str = "", page_size: str = "A4", font_path: str = "") -> None:
        if page_size.lower() not in PAGE_SIZES:
            raise ValueError(f"page_size must be one of {sorted(PAGE_SIZES.values())}")
        self.spool_dir = Path(spool_dir) if spool_dir else get_settings().home / "letters"
        self.page_size = PAGE_SIZES[page_size.lower()]
        self.font_path = Path(font_path) if font_path else DEJAVU
        self._lock = threading.Lock()  # locating and replacing one attempt's file

    def send(self, message: Outgoing) -> Accepted:
        pdf = self._render(message)
        path = self._store(message.attempt_id, pdf)
        return Accepted(provider_message_id=f"letter:{message.attempt_id}", detail=path.name)

    def close(self) -> None:
        return None

    def _render(self, message: Outgoing) -> bytes:
        if not self.font_path.is_file():
            raise DeliveryError("letter font is not installed", retryable=False, code="no-font")
        address = _address_lines(message.address)
        letter = _Letter(self.page_size, self.font_path, reference=str(message.attempt_id))
        try:
            letter.compose(
                address=address,
                day=clock.today(),
                language=message.language,
                subject=message.subject,
                body=message.text,
                sizes=SIZES.get(message.format, SIZES["standard"]),
            )
            return bytes(letter.output())
        finally:
            letter.close_fonts()

    def _store(self, attempt_id: uuid.UUID, pdf: bytes) -> Path:
        with self._lock:
            target = self._spooled(attempt_id) or (
                self.spool_dir / clock.today().isoformat() / f"{attempt_id}.pdf"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            _replace(target, pdf)
        return target

    def _spooled(self, attempt_id: uuid.UUID) -> Path | None:
        """The file an earlier try of this attempt left, on whatever day it was spooled."""
        for found in sorted(self.spool_dir.glob(f"*/{attempt_id}.pdf")):
            if DAY_FOLDER.match(found.parent.name):
                return found
        return None


class _Letter(FPDF):
    """One letter: fonts, margins, fold marks, and a footer with the reference and page n/N."""

    def __init__(self, page_size: str, font_path: Path, *, reference: str) -> None:
        super().__init__(format=page_size, unit="mm")
        self.reference = reference
        self.add_font("letter", "", str(font_path))
        bold = font_path.with_name(f"{font_path.stem}-Bold{font_path.suffix}")
        self.add_font("letter", "B", str(bold if bold.is_file() else font_path))
        self.set_margins(LEFT, TOP, RIGHT)
        self.set_auto_page_break(auto=True, margin=BOTTOM)
        self.set_creation_date(clock.now())
        self.set_title(reference)

    def compose(
        self, *, address: list[str], day: date, language: str, subject: str, body: str, sizes: Sizes
    ) -> None:
        self.add_page()
        self._fold_marks()
        self._address(address)
        self._date(day, language)
        self.set_xy(LEFT, SUBJECT_TOP)
        if subject:
            self.set_font("letter", "B", sizes.subject)
            self.multi_cell(0, sizes.line(sizes.subject), subject, align="L", **_NEXT_LINE)
            self.ln(sizes.line(sizes.body))
        self.set_font("letter", "", sizes.body)
        self.multi_cell(0, sizes.line(sizes.body), _printable(body), align="L", **_NEXT_LINE)

    def close_fonts(self) -> None:
        """fontTools reads the font files lazily and keeps them open until told."""
        for font in self.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("letter", "", 8)
        self.set_text_color(90)
        self.cell(0, 4, f"Ref. {self.reference} · {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)

    def _fold_marks(self) -> None:
        marks = A4_FOLD_MARKS if self.h > 290 else (self.h / 3, self.h * 2 / 3)
        self.set_line_width(0.2)
        for y in (*marks, self.h / 2):  # the middle one is the punch mark
            self.line(4, y, 9, y)

    def _address(self, lines: list[str]) -> None:
        self.set_font("letter", "", ADDRESS_PT)
        height = ADDRESS_PT * 25.4 / 72 * 1.2
        wrapped = self.multi_cell(
            ADDRESS_WIDTH, height, "\n".join(lines), dry_run=True, output="LINES"
        )
        if len(wrapped) > ADDRESS_LINES:
            raise DeliveryError(
                "postal address does not fit the envelope window",
                retryable=False,
                code="address-too-long",
            )
        self.set_xy(LEFT, ADDRESS_TOP)
        self.multi_cell(ADDRESS_WIDTH, height, "\n".join(lines), align="L", **_NEXT_LINE)

    def _date(self, day: date, language: str) -> None:
        self.set_font("letter", "", ADDRESS_PT)
        self.set_xy(INFO_LEFT, INFO_TOP)
        self.cell(self.w - RIGHT - INFO_LEFT, 5, _date_text(day, language), align="R")


_NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _address_lines(address: str) -> list[str]:
    lines = [line.strip() for line in address.strip().splitlines() if line.strip()]
    if not lines:
        raise DeliveryError("no postal address", retryable=False, code="no-address")
    return lines


def _date_text(day: date, language: str) -> str:
    if language == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day:02d}.{day.month:02d}.{day.year}"  # as written in mk and sq


def _printable(text: str) -> str:
    """Tabs become spaces, other control characters go: a PDF has no glyph for them."""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable())


def _replace(target: Path, data: bytes) -> None:
    """Write atomically: the print house never collects half a letter."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    partial.write_bytes(data)
    os.replace(partial, target)


def batch_for_print(spool_dir: Path | str, day: date) -> Path:
    """Merge the day's letters into `<spool_dir>/print/<day>.pdf`, beside a CSV manifest.

    The manifest (`<day>.csv`: attempt_id, pages) lists the letters in the order they appear,
    so the print house can split the file back into envelopes. Running it again rebuilds both.
    """
    folder = Path(spool_dir) / day.isoformat()
    letters = sorted(p for p in folder.glob("*.pdf") if _is_attempt_id(p.stem))
    if not letters:
        raise NoLettersForDay(f"no letters spooled for {day.isoformat()}")
    merged, manifest = PdfWriter(), io.StringIO()
    rows = csv.writer(manifest, lineterminator="\n")
    rows.writerow(["attempt_id", "pages"])
    for letter in letters:
        pages = len(PdfReader(letter).pages)
        merged.append(letter)
        rows.writerow([letter.stem, pages])
    out = Path(spool_dir) / PRINT_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    merged.write(buffer)
    _replace(out / f"{day.isoformat()}.pdf", buffer.getvalue())
    _replace(out / f"{day.isoformat()}.csv", manifest.getvalue().encode())
    return out / f"{day.isoformat()}.pdf"


def _is_attempt_id(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True

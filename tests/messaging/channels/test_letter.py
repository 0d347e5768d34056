"""Letters: real PDFs read back with pypdf (text incl. Cyrillic, layout, pages), and the batch."""

from __future__ import annotations

import csv
import threading
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from navreme import clock, config
from navreme.messaging.channels.base import DeliveryError, Outgoing
from navreme.messaging.channels.letter import (
    LetterChannel,
    NoLettersForDay,
    batch_for_print,
)

MM = 72 / 25.4  # PDF points per millimetre
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ADDRESS = "Марија Петровска\nул. Македонија 12/3\n1000 Скопје"
BODY = (
    "Почитувана госпоѓо Петровска,\n\n"
    "Вашата лична карта истекува на 15.01.2027. Закажете термин во најблискиот центар.\n"
    "Ju lutemi, rezervoni një termin: çdo ditë pune, në qendrën më të afërt."
)


def letter(**overrides: Any) -> Outgoing:
    values: dict[str, Any] = {
        "attempt_id": uuid.uuid4(),
        "address": ADDRESS,
        "language": "mk",
        "subject": "Истекување на лична карта",
        "text": BODY,
    }
    return Outgoing(**(values | overrides))


def spooled(spool: Path, message: Outgoing) -> list[Path]:
    return sorted(spool.glob(f"*/{message.attempt_id}.pdf"))


def runs(page: Any) -> list[tuple[str, float, float, float]]:
    """(text, x mm from the left, y mm from the top, size pt) of every text run on a page."""
    found: list[tuple[str, float, float, float]] = []
    height = float(page.mediabox.height)

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            found.append((text.strip(), tm[4] / MM, (height - tm[5]) / MM, size))

    page.extract_text(visitor_text=visit)
    return found


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "letters"


@pytest.fixture
def channel(spool: Path) -> LetterChannel:
    return LetterChannel(spool_dir=str(spool))


def test_send__pdf_in_the_days_folder_with_cyrillic_and_albanian_text(
    channel: LetterChannel, spool: Path
) -> None:
    message = letter()
    with clock.frozen(MONDAY):
        accepted = channel.send(message)
    text = PdfReader(spool / "2026-11-23" / f"{message.attempt_id}.pdf").pages[0].extract_text()
    assert accepted.provider_message_id == f"letter:{message.attempt_id}"
    assert "ул. Македонија 12/3" in text
    assert "Истекување на лична карта" in text
    assert "Вашата лична карта истекува на 15.01.2027." in text
    assert "rezervoni një termin: çdo ditë pune" in text
    assert "23.11.2026" in text


def test_send__address_sits_in_the_envelope_window(channel: LetterChannel, spool: Path) -> None:
    message = letter()
    channel.send(message)
    page = PdfReader(spooled(spool, message)[0]).pages[0]
    lines = [run for run in runs(page) if run[0] in ADDRESS.splitlines()]
    assert [line[0] for line in lines] == ADDRESS.splitlines()
    # DIN 5008 form B address zone: 62.7-90 mm from the top, 20-105 mm from the left
    assert all(62.7 <= y <= 90 for _, _, y, _ in lines)
    assert all(20 <= x <= 30 for _, x, _, _ in lines)


def test_send__large_print__body_in_16pt_or_more(channel: LetterChannel, spool: Path) -> None:
    message = letter(format="large_print")
    channel.send(message)
    page = PdfReader(spooled(spool, message)[0]).pages[0]
    body_sizes = {size for text, _, _, size in runs(page) if "лична карта истекува" in text}
    assert body_sizes
    assert min(body_sizes) >= 16


def test_send__standard__body_in_ordinary_size(channel: LetterChannel, spool: Path) -> None:
    message = letter()
    channel.send(message)
    page = PdfReader(spooled(spool, message)[0]).pages[0]
    body_sizes = {size for text, _, _, size in runs(page) if "лична карта истекува" in text}
    assert body_sizes == {11}


def test_send__long_body__several_pages_numbered(channel: LetterChannel, spool: Path) -> None:
    message = letter(text="\n\n".join([BODY] * 25))
    channel.send(message)
    reader = PdfReader(spooled(spool, message)[0])
    pages = len(reader.pages)
    assert pages >= 2
    assert f"{pages}/{pages}" in reader.pages[-1].extract_text()
    assert reader.pages[-1].extract_text().count("Ju lutemi") >= 1


def test_send__large_print_takes_more_pages_than_standard(
    channel: LetterChannel, spool: Path
) -> None:
    standard, large = letter(text=BODY * 12), letter(text=BODY * 12, format="large_print")
    channel.send(standard)
    channel.send(large)
    standard_pages = len(PdfReader(spooled(spool, standard)[0]).pages)
    assert len(PdfReader(spooled(spool, large)[0]).pages) > standard_pages


def test_send__same_attempt_twice__replaced_not_duplicated(
    channel: LetterChannel, spool: Path
) -> None:
    first = letter(text="Прва верзија.")
    channel.send(first)
    channel.send(letter(attempt_id=first.attempt_id, text="Втора верзија."))
    (only,) = spooled(spool, first)
    assert "Втора верзија." in PdfReader(only).pages[0].extract_text()
    assert len(list(spool.rglob("*.pdf"))) == 1


def test_send__retry_after_midnight__stays_in_the_first_days_folder(
    channel: LetterChannel, spool: Path
) -> None:
    message = letter()
    with clock.frozen(datetime(2026, 11, 23, 22, 30, tzinfo=UTC)):  # 23:30 in Skopje
        channel.send(message)
    with clock.frozen(datetime(2026, 11, 24, 8, 0, tzinfo=UTC)):
        channel.send(message)
    assert [path.parent.name for path in spooled(spool, message)] == ["2026-11-23"]


def test_send__english_letter_dates_in_words(channel: LetterChannel, spool: Path) -> None:
    message = letter(language="en", subject="Your identity card expires", text="Please book.")
    with clock.frozen(MONDAY):
        channel.send(message)
    assert "23 November 2026" in PdfReader(spooled(spool, message)[0]).pages[0].extract_text()


def test_page_size_letter__us_letter_pages(spool: Path) -> None:
    message = letter()
    LetterChannel(spool_dir=str(spool), page_size="Letter").send(message)
    box = PdfReader(spooled(spool, message)[0]).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_page_size_unknown__refused_at_start_up(spool: Path) -> None:
    with pytest.raises(ValueError, match="page_size"):
        LetterChannel(spool_dir=str(spool), page_size="B5")


def test_send__no_address__permanent(channel: LetterChannel) -> None:
    with pytest.raises(DeliveryError) as failure:
        channel.send(letter(address="  \n "))
    assert failure.value.retryable is False
    assert failure.value.code == "no-address"


def test_send__address_too_long_for_the_window__permanent(channel: LetterChannel) -> None:
    with pytest.raises(DeliveryError) as failure:
        channel.send(letter(address="\n".join(f"ред {n}" for n in range(8))))
    assert failure.value.code == "address-too-long"


def test_send__font_missing__permanent(spool: Path, tmp_path: Path) -> None:
    adapter = LetterChannel(spool_dir=str(spool), font_path=str(tmp_path / "absent.ttf"))
    with pytest.raises(DeliveryError) as failure:
        adapter.send(letter())
    assert failure.value.retryable is False
    assert failure.value.code == "no-font"


def test_default_spool__under_navreme_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVREME_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NAVREME_ENV", "development")
    config.get_settings.cache_clear()
    try:
        adapter = LetterChannel()
    finally:
        config.get_settings.cache_clear()
    assert adapter.spool_dir == tmp_path / "home" / "letters"


def test_batch_for_print__one_pdf_and_a_manifest_of_the_days_letters(
    channel: LetterChannel, spool: Path
) -> None:
    messages = [letter(), letter(text="\n\n".join([BODY] * 25)), letter(language="sq")]
    with clock.frozen(MONDAY):
        for message in messages:
            channel.send(message)
    with clock.frozen(datetime(2026, 11, 24, 9, 0, tzinfo=UTC)):
        channel.send(letter())  # the next day's: not in this batch
    batch = batch_for_print(spool, date(2026, 11, 23))
    with batch.with_suffix(".csv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest))
    pages = {row["attempt_id"]: int(row["pages"]) for row in rows}
    assert sorted(pages) == sorted(str(m.attempt_id) for m in messages)
    assert len(PdfReader(batch).pages) == sum(pages.values())
    assert pages[str(messages[1].attempt_id)] >= 2


def test_batch_for_print__manifest_order_is_the_order_of_the_pages(
    channel: LetterChannel, spool: Path
) -> None:
    with clock.frozen(MONDAY):
        for text in (BODY, "\n\n".join([BODY] * 25), BODY):
            channel.send(letter(text=text))
    batch = batch_for_print(spool, date(2026, 11, 23))
    reader = PdfReader(batch)
    with batch.with_suffix(".csv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest))
    first_page = 0
    for row in rows:
        assert f"Ref. {row['attempt_id']}" in reader.pages[first_page].extract_text()
        first_page += int(row["pages"])


def test_batch_for_print__empty_day__says_so(spool: Path) -> None:
    with pytest.raises(NoLettersForDay):
        batch_for_print(spool, date(2026, 11, 23))


def test_send__from_many_threads__one_file_per_attempt(channel: LetterChannel, spool: Path) -> None:
    messages = [letter(text=f"Писмо број {n}.") for n in range(8)]
    threads = [threading.Thread(target=channel.send, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    texts = sorted(PdfReader(path).pages[0].extract_text() for path in spool.rglob("*.pdf"))
    found = {n for n in range(8) for text in texts if f"Писмо број {n}." in text}
    assert len(texts) == len(messages)
    assert found == set(range(8))

"""Every message template renders on every channel, language and format; proactive ones say how
to stop; SMS texts are measured in segments."""

from __future__ import annotations

import pytest
from jinja2 import meta

from navreme.messaging import segments, templates
from navreme.messaging.models import FORMATS
from navreme.registry.models import CHANNELS

STOP = {"mk": "СТОП", "sq": "NDALO", "en": "STOP"}


def variables(name: str) -> dict[str, object]:
    """Every variable the template's files use, filled with a Cyrillic sample."""
    found: set[str] = set()
    environment = templates._environment()
    for path in (templates.ROOT / name).rglob("*"):
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            found |= meta.find_undeclared_variables(environment.parse(source))
    for path in (templates.ROOT / "_why_stop").rglob("*"):
        if path.is_file():
            found |= meta.find_undeclared_variables(environment.parse(path.read_text("utf-8")))
    values: dict[str, object] = {variable: "Пример" for variable in found}
    if "slots" in values:  # a list of {date, time}, as replies.py passes it
        values["slots"] = [{"date": "03.12.2026", "time": "09:30"}]
    return values


@pytest.mark.parametrize("name", templates.names())
def test_every_template_exists_in_every_language(name: str) -> None:
    assert {p.name for p in (templates.ROOT / name).iterdir()} == set(templates.LANGUAGES)


@pytest.mark.parametrize("name", templates.names())
def test_every_template_renders_everywhere_and_proactive_ones_say_how_to_stop(name: str) -> None:
    context = variables(name)
    for language in templates.LANGUAGES:
        for channel in CHANNELS:
            for format in FORMATS:
                plain = templates.render(name, channel=channel, language=language,
                                         context=context, format=format)  # fmt: skip
                assert plain.text
                assert STOP[language] not in plain.text or name.startswith("reply_")
                proactive = templates.render(name, channel=channel, language=language,
                                             context=context, format=format,
                                             purpose="proactive_offers")  # fmt: skip
                assert STOP[language] in proactive.text
                if channel == "email" and format != "easy_read" and proactive.html:
                    assert STOP[language] in proactive.html


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(templates.TemplateError, match="code"):
        templates.render("login_code", channel="sms", language="mk", context={"minutes": 5})


def test_sms_length_is_counted_in_segments_of_the_right_encoding() -> None:
    context = {"code": "123456", "minutes": 5}
    cyrillic = templates.render("login_code", channel="sms", language="mk", context=context)
    latin = templates.render("login_code", channel="sms", language="en", context=context)
    assert segments.encoding(cyrillic.text) == "ucs2"
    assert segments.encoding(latin.text) == "gsm7"
    assert segments.segments(latin.text) == 1

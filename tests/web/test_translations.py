"""Every page text is translated into Macedonian and Albanian (English is the source)."""

from __future__ import annotations

from navreme.web import catalogues, i18n, labels


def test_every_page_text_has_an_mk_and_sq_translation() -> None:
    texts = catalogues.extract()
    assert len(texts) > 80, "extraction found too few texts: is the method map right?"
    missing = catalogues.all_problems()
    assert not missing, "\n".join(str(problem) for problem in missing)


def test_every_label_is_extracted() -> None:
    texts = catalogues.extract()
    for kind, table in labels.LABELS.items():
        for code, text in table.items():
            assert text in texts, (kind, code)


def test_a_missing_translation_is_reported(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The check itself works: a text with no msgstr is named, with where it is used."""
    po = tmp_path / "mk" / "LC_MESSAGES"
    po.mkdir(parents=True)
    (po / "x.po").write_text('msgid "Skip to content"\nmsgstr ""\n', encoding="utf-8")
    monkeypatch.setattr(catalogues, "catalogue_files", lambda lang: sorted(po.glob("*.po")))
    texts = {"Skip to content": catalogues.Text("Skip to content", None, "templates/base.html:10")}
    found = list(catalogues.problems("mk", texts))
    assert [p.problem for p in found] == ["no translation"]
    assert "base.html:10" in str(found[0])


def test_a_dropped_placeholder_is_reported(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    po = tmp_path / "sq" / "LC_MESSAGES"
    po.mkdir(parents=True)
    (po / "x.po").write_text('msgid "Sent to %(dest)s"\nmsgstr "U dërgua"\n', encoding="utf-8")
    monkeypatch.setattr(catalogues, "catalogue_files", lambda lang: sorted(po.glob("*.po")))
    texts = {"Sent to %(dest)s": catalogues.Text("Sent to %(dest)s", None, "x.html:1")}
    assert "placeholder is missing" in next(catalogues.problems("sq", texts)).problem


def test_pages_speak_each_language() -> None:
    assert i18n.translator("mk")("Sign in") == "Најави се"
    assert i18n.translator("sq")("Sign in") == "Hyr"
    assert i18n.translator("en")("Sign in") == "Sign in"
    assert i18n.translator("mk")("an unknown text") == "an unknown text"


def test_macedonian_plurals_follow_the_language_not_english() -> None:
    """Macedonian says "21 ден" (one) but "11 дена" (other): n%10==1 && n%100!=11."""
    for path in i18n.catalogue_files("mk"):
        header = path.read_text(encoding="utf-8")
        assert "plural=(n%10==1 && n%100!=11 ? 0 : 1)" in header, path.name
    days = i18n.plural_translator("mk")
    texts = ("%(num)d day ago", "%(num)d days ago")
    assert days(*texts, 21).endswith("ден")
    assert days(*texts, 11).endswith("дена")


def test_no_catalogue_keeps_texts_no_page_uses() -> None:
    """Plural entries included (their ids are pairs): stale translations are named, not kept."""
    assert any(isinstance(message.id, tuple) for message in catalogues.load("mk")), (
        "the catalogues have plural entries, so this covers them"
    )
    assert catalogues.unused("mk") == []
    assert catalogues.unused("sq") == []

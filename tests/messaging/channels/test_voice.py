"""Voice: espeak-ng really speaks each language to a WAV file; without it, a permanent failure."""

from __future__ import annotations

import os
import shutil
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest

from navreme.messaging.channels.base import DeliveryError, Outgoing
from navreme.messaging.channels.voice import VoiceChannel

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SPOKEN = {
    "mk": ("Вашата лична карта истекува", "Закажете термин во најблискиот центар."),
    "sq": ("Letërnjoftimi juaj skadon", "Ju lutemi, rezervoni një termin në qendrën më të afërt."),
    "en": ("Your identity card expires", "Please book an appointment at the nearest centre."),
}


@pytest.fixture(scope="module")
def espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        if IN_CI:
            pytest.fail("espeak-ng is not installed (CI=true): `make os-packages` installs it")
        pytest.skip("espeak-ng is not installed; `make os-packages` installs it")
    return found


def call(language: str, **overrides: Any) -> Outgoing:
    subject, text = SPOKEN[language]
    values: dict[str, Any] = {
        "attempt_id": uuid.uuid4(),
        "address": "+38970123456",
        "language": language,
        "subject": subject,
        "text": text,
        "format": "audio",
    }
    return Outgoing(**(values | overrides))


def seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


@pytest.mark.parametrize("language", ["mk", "sq", "en"])
def test_send__speaks_each_language_to_a_wav(espeak: str, tmp_path: Path, language: str) -> None:
    message = call(language)
    accepted = VoiceChannel(spool_dir=str(tmp_path), espeak=espeak).send(message)
    assert accepted.provider_message_id == f"voice:{message.attempt_id}"
    assert seconds(tmp_path / "voice" / f"{message.attempt_id}.wav") > 0


def test_send__longer_text__longer_audio(espeak: str, tmp_path: Path) -> None:
    channel = VoiceChannel(spool_dir=str(tmp_path), espeak=espeak)
    short, long = call("mk"), call("mk", text=" ".join([SPOKEN["mk"][1]] * 4))
    channel.send(short)
    channel.send(long)
    folder = tmp_path / "voice"
    assert seconds(folder / f"{long.attempt_id}.wav") > seconds(folder / f"{short.attempt_id}.wav")


def test_send__same_attempt_twice__one_file_with_the_latest_text(
    espeak: str, tmp_path: Path
) -> None:
    channel = VoiceChannel(spool_dir=str(tmp_path), espeak=espeak)
    first = call("en", text="Short.")
    channel.send(first)
    channel.send(call("en", attempt_id=first.attempt_id, text=" ".join(["Much longer."] * 6)))
    (only,) = (tmp_path / "voice").iterdir()
    assert only.name == f"{first.attempt_id}.wav"
    assert seconds(only) > 2


def test_send__text_that_looks_like_an_option__spoken_not_obeyed(
    espeak: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.wav"
    message = call("en", subject="", text=f"--help -w {elsewhere}")
    VoiceChannel(spool_dir=str(tmp_path), espeak=espeak).send(message)
    assert seconds(tmp_path / "voice" / f"{message.attempt_id}.wav") > 0
    assert not elsewhere.exists()


def test_send__espeak_missing__permanent_no_tts(tmp_path: Path) -> None:
    channel = VoiceChannel(spool_dir=str(tmp_path), espeak=str(tmp_path / "no-such-espeak-ng"))
    with pytest.raises(DeliveryError) as failure:
        channel.send(call("mk"))
    assert failure.value.retryable is False
    assert failure.value.code == "no-tts"


def test_send__nothing_to_say__permanent(espeak: str, tmp_path: Path) -> None:
    channel = VoiceChannel(spool_dir=str(tmp_path), espeak=espeak)
    with pytest.raises(DeliveryError) as failure:
        channel.send(call("en", subject=" ", text="\n"))
    assert failure.value.code == "empty"
    assert not (tmp_path / "voice").exists()

"""The voice channel: a message spoken to a WAV file for a phone call, with espeak-ng.

For people who cannot read a letter or a screen, the message is read aloud: espeak-ng (Debian
`espeak-ng`, installed by `make os-packages`) speaks the subject and the text in the person's
language into `<spool_dir>/voice/<attempt_id>.wav`, which a phone-call task plays. espeak-ng
is offline and has Macedonian and Albanian voices, which few speech engines do.

The text goes to espeak-ng on standard input, never on its command line, so no message can
be read as an option. A retry of the same attempt replaces its file.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # runs espeak-ng with fixed arguments, no shell  # nosec B404
import uuid
import wave
from pathlib import Path
from typing import ClassVar

from navreme.config import get_settings
from navreme.messaging.channels.base import Accepted, DeliveryError, Outgoing

VOICES = {"mk": "mk", "sq": "sq", "en": "en"}  # language -> espeak-ng voice
SPEAK_TIMEOUT_S = 120.0  # a long letter takes a few seconds; past this the engine is stuck


class VoiceChannel:
    """Speaks each message to a WAV file in a spool folder for the phone-call task.

    Settings (keys of this channel in NAVREME_CHANNELS):
      spool_dir: folder under which `voice/<attempt_id>.wav` is written; "" = NAVREME_HOME.
      espeak: the espeak-ng binary, a name on PATH or a path (default "espeak-ng").
    """

    name: ClassVar[str] = "voice"

    def __init__(self, spool_dir: str = "", espeak: str = "espeak-ng") -> None:
        self.folder = (Path(spool_dir) if spool_dir else get_settings().home) / "voice"
        self.espeak = espeak

    def send(self, message: Outgoing) -> Accepted:
        binary = shutil.which(self.espeak)
        if binary is None:
            raise DeliveryError("espeak-ng is not installed", retryable=False, code="no-tts")
        script = _script(message)
        if not script:
            raise DeliveryError("nothing to say", retryable=False, code="empty")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{message.attempt_id}.wav"
        partial = self.folder / f".{message.attempt_id}.{uuid.uuid4().hex}.partial.wav"
        try:
            _speak(binary, _voice(message.language), script, partial)
            _check_audio(partial)
            os.replace(partial, target)  # atomic: the call task never plays half a file
        finally:
            partial.unlink(missing_ok=True)
        return Accepted(provider_message_id=f"voice:{message.attempt_id}", detail=target.name)

    def close(self) -> None:
        return None


def _voice(language: str) -> str:
    return VOICES.get(language, VOICES["en"])


def _script(message: Outgoing) -> str:
    """What is read aloud: the subject, a pause, the text."""
    parts = [message.subject.strip(), message.text.strip()]
    return "\n\n".join(part for part in parts if part)


def _speak(binary: str, voice: str, text: str, target: Path) -> None:
    command = [binary, "-v", voice, "-b", "1", "-w", str(target), "--stdin"]
    try:
        done = subprocess.run(  # noqa: S603 - no shell, text on stdin  # nosec B603
            command,
            input=text.encode(),
            capture_output=True,
            timeout=SPEAK_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError("espeak-ng timed out", retryable=True, code="tts-timeout") from None
    except OSError as cannot_run:
        raise DeliveryError(
            f"espeak-ng could not run: {cannot_run.strerror}", retryable=False, code="no-tts"
        ) from None
    if done.returncode != 0:
        raise DeliveryError(
            f"espeak-ng exited with {done.returncode}", retryable=False, code="tts-failed"
        )


def _check_audio(path: Path) -> None:
    """Only a readable WAV with frames counts: an exit status of 0 alone is not proof."""
    try:
        with wave.open(str(path), "rb") as audio:
            frames = audio.getnframes()
    except (OSError, EOFError, wave.Error):
        frames = 0
    if frames == 0:
        raise DeliveryError("espeak-ng produced no audio", retryable=False, code="tts-failed")

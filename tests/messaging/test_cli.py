"""`navreme messages campaign|sweep` from the command line."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme.cli.main import app
from navreme.messaging.models import Message
from tests.messaging.helpers import citizen

CONTEXT = json.dumps({"service_name": "Пасош", "reason_text": "Време е.", "reason": "тест"})


def test_a_campaign_counts_first_and_writes_only_with_commit(db_session: Session) -> None:
    citizen(db_session)
    db_session.commit()
    runner = CliRunner()
    dry = runner.invoke(app, ["messages", "campaign", "offer_inform", "--context", CONTEXT])
    assert dry.exit_code == 0, dry.output
    assert "1 messages would go out" in dry.output
    assert db_session.scalar(select(func.count()).select_from(Message)) == 0
    done = runner.invoke(
        app, ["messages", "campaign", "offer_inform", "--context", CONTEXT, "--commit"]
    )
    assert done.exit_code == 0, done.output
    assert db_session.scalar(select(func.count()).select_from(Message)) == 1
    swept = runner.invoke(app, ["messages", "sweep"])
    assert swept.exit_code == 0
    assert "leases expired: 0" in swept.output


def test_bad_campaign_input_is_refused_plainly(db_session: Session) -> None:
    runner = CliRunner()
    for args in (["no-such-template"], ["offer_inform", "--context", "[1]"],
                 ["offer_inform", "--context", "{not json"], ["offer_inform", "--purpose", "spam"]):  # fmt: skip
        result = runner.invoke(app, ["messages", "campaign", *args])
        assert result.exit_code == 2, (args, result.output)


def test_the_days_letters_become_one_print_batch(db_session: Session, tmp_path: object) -> None:
    import uuid
    from pathlib import Path

    from navreme import clock
    from navreme.messaging.channels.base import Outgoing
    from navreme.messaging.channels.letter import LetterChannel

    spool = Path(str(tmp_path)) / "letters"
    channel = LetterChannel(spool_dir=str(spool))
    for n in range(3):
        channel.send(Outgoing(attempt_id=uuid.uuid4(), address=f"Марија Петровска\nул. Илинденска {n}\n1000 Скопје",
                              language="mk", text="Почитувани, …", subject="Известување"))  # fmt: skip
    runner = CliRunner()
    day = clock.today().isoformat()
    result = runner.invoke(app, ["messages", "letters", day, "--spool", str(spool)])
    assert result.exit_code == 0, result.output
    assert (spool / "print" / f"{day}.pdf").is_file()
    manifest = (spool / "print" / f"{day}.csv").read_text().splitlines()
    assert len(manifest) == 4  # a header and three letters
    empty = runner.invoke(app, ["messages", "letters", "2001-01-01", "--spool", str(spool)])
    assert empty.exit_code == 1

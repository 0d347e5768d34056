"""Campaigns: one message to a whole population, selected, rendered and queued set-wise.

A campaign's text is the same for everyone (the national re-issue notice, a change of office
hours), so it is rendered once per variant — language × channel × format — not once per
person; personal messages (an invitation with the person's own slot) go through `send` one by
one. Selection is one SQL statement: each person's verified endpoints in their order, with
the consent in force for the purpose decided in SQL by the same rule as
`registry.queries.deciding_event` (a channel's own answer stands against a later general grant;
a later general withdrawal ends every grant). Rows are written in bulk (COPY on PostgreSQL) and
the delivery ids queued in batches on the bulk lane, after the commit.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import get_settings
from navreme.db import is_postgres
from navreme.messaging import actions, templates
from navreme.messaging.actions import ACCESSIBLE_FORMATS, preferred_format
from navreme.messaging.models import FORMATS, Delivery, Message
from navreme.registry.models import CHANNELS

OUTREACH = actions.OUTREACH
CHUNK = 50_000
# The consent in force for :purpose at :now per endpoint, by the rule of
# registry.queries.deciding_event: the channel's own latest answer (`own`) stands against a
# later general grant, a later general withdrawal (`gen`, channel 'any') ends it. Both
# statements below (the SQLite path and the PostgreSQL one) use these same two fragments.
_LATEST_CONSENT = """
latest AS (
  SELECT person_id, channel, granted, recorded_at,
         row_number() OVER (PARTITION BY person_id, channel ORDER BY recorded_at DESC) AS rn
  FROM consent_events WHERE purpose = :purpose AND recorded_at <= :now
)"""
_CONSENTED = """
LEFT JOIN latest own ON own.person_id = e.person_id AND own.channel = e.channel AND own.rn = 1
LEFT JOIN latest gen ON gen.person_id = e.person_id AND gen.channel = 'any' AND gen.rn = 1
WHERE e.verified_at IS NOT NULL
  AND CASE
        WHEN own.person_id IS NULL THEN COALESCE(gen.granted, FALSE)
        WHEN gen.person_id IS NOT NULL AND NOT gen.granted AND gen.recorded_at > own.recorded_at
          THEN FALSE
        ELSE own.granted
      END"""
_SELECT = f"""
WITH {_LATEST_CONSENT}
SELECT e.person_id, e.channel, e.address, p.language, p.accessibility
FROM contact_endpoints e
JOIN persons p ON p.id = e.person_id AND p.death_date IS NULL
{_CONSENTED}
ORDER BY e.person_id, e.preference, e.created_at
"""  # noqa: S608 - constant fragments, values are bound  # nosec B608


@dataclass
class CampaignReport:
    selected_persons: int = 0
    messages: int = 0
    variants: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _ladders(
    session: Session, purpose: str, now: datetime, available: set[str]
) -> Iterator[tuple[uuid.UUID, str, list[str], list[list[str]]]]:
    """(person, language, accessibility, ladder) per person with at least one allowed channel."""
    rows = session.execute(text(_SELECT), {"purpose": purpose, "now": now})
    current: uuid.UUID | None = None
    language, needs, ladder, seen = "", [], [], set()
    for person_id, channel, address, person_language, accessibility in rows:
        person = person_id if isinstance(person_id, uuid.UUID) else uuid.UUID(str(person_id))
        if person != current:
            if current is not None and ladder:
                yield current, language, needs, ladder
            current, language, ladder, seen = person, person_language, [], set()
            needs = (
                accessibility
                if isinstance(accessibility, list)
                else json.loads(accessibility or "[]")
            )
        if channel in seen or channel not in available:
            continue
        seen.add(channel)
        ladder.append([channel, address])
    if current is not None and ladder:
        yield current, language, needs, ladder


def fan_out(
    session: Session,
    *,
    template: str,
    purpose: str,
    context: dict[str, Any],
    created_by: str,
    limit: int | None = None,
) -> CampaignReport:
    """Write the campaign's messages and first deliveries; queue them once the caller commits."""
    actions.check_request(purpose=purpose, template=template, lane="bulk", format=None)
    report = CampaignReport()
    settings = get_settings()
    now = clock.now()
    started = time.perf_counter()
    available = {c for c in CHANNELS if actions.channels().available(c)}
    if is_postgres(session):
        return _fan_out_in_postgres(
            session, template=template, purpose=purpose, context=context,
            created_by=created_by, limit=limit, now=now, available=available, report=report,
        )  # fmt: skip
    rendered: dict[tuple[str, str, str], templates.Rendered] = {}
    step_after = timedelta(hours=settings.ladder_step_hours)
    message_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    delivery_ids: list[uuid.UUID] = []
    writing = 0.0
    context_json = json.dumps(context, ensure_ascii=False)
    for person_id, language, needs, ladder in _ladders(session, purpose, now, available):
        report.selected_persons += 1
        format = preferred_format(needs)
        channel, address = ladder[0]
        key = (language, channel, format)
        if key not in rendered:
            rendered[key] = templates.render(template, channel=channel, language=language,
                                             context=context, format=format, purpose=purpose)  # fmt: skip
        body = rendered[key]
        message_id, delivery_id = uuid.uuid4(), uuid.uuid4()
        full = [*ladder, [OUTREACH, ""]]
        message_rows.append({
            "id": message_id, "person_id": person_id, "purpose": purpose, "template": template,
            "language": language, "format": format, "lane": "bulk", "urgent": False,
            "context": context_json, "status": "active", "ladder": json.dumps(full),
            "step": 0, "next_step_at": now + step_after if len(full) > 2 else None,
            "created_by": created_by, "created_at": now, "updated_at": now,
        })  # fmt: skip
        delivery_rows.append({
            "id": delivery_id, "message_id": message_id, "step": 0, "channel": channel,
            "address": address, "lane": "bulk", "status": "created", "tries": 0,
            "not_before": now, "subject": body.subject[:300], "body": body.text,
            "html": body.html, "created_at": now, "updated_at": now,
        })  # fmt: skip
        delivery_ids.append(delivery_id)
        if len(message_rows) >= CHUNK:  # bounded memory: a nation is written in chunks
            writing -= time.perf_counter()
            _write(session, message_rows, delivery_rows)
            writing += time.perf_counter()
            message_rows, delivery_rows = [], []
        if limit is not None and report.selected_persons >= limit:
            break
    writing -= time.perf_counter()
    _write(session, message_rows, delivery_rows)
    writing += time.perf_counter()
    report.seconds["select_render"] = time.perf_counter() - started - writing
    report.seconds["write"] = writing
    report.variants = len(rendered)
    report.messages = len(delivery_ids)
    actions.hand_to_workers(session, delivery_ids, "bulk")
    return report


# On PostgreSQL the whole campaign is three statements inside the database: the ladders are
# aggregated per person (one endpoint per channel, in the person's order), the rows are
# inserted from that selection joined to the pre-rendered variants, and only the delivery ids
# come back (for the queue). Nothing per person crosses into Python but its delivery id.
_FORMAT_SQL = "CASE {} ELSE 'standard' END".format(
    " ".join(f"WHEN p.accessibility::jsonb ? '{need}' THEN '{need}'" for need in ACCESSIBLE_FORMATS)
)
_PG_LADDERS = f"""
CREATE TEMPORARY TABLE campaign_rows ON COMMIT DROP AS
WITH {_LATEST_CONSENT}, allowed AS (
  SELECT DISTINCT ON (e.person_id, e.channel) e.person_id, e.channel, e.address, e.preference,
         e.created_at
  FROM contact_endpoints e
  {_CONSENTED}
    AND e.channel = ANY(:channels)
  ORDER BY e.person_id, e.channel, e.preference, e.created_at
), ladders AS (
  SELECT a.person_id,
         jsonb_agg(jsonb_build_array(a.channel, a.address) ORDER BY a.preference, a.created_at)
           AS ladder
  FROM allowed a GROUP BY a.person_id
), numbered AS (
  SELECT row_number() OVER (ORDER BY l.person_id) AS n, l.person_id, p.language,
         {_FORMAT_SQL} AS format, l.ladder, l.ladder -> 0 ->> 0 AS channel,
         l.ladder -> 0 ->> 1 AS address
  FROM ladders l JOIN persons p ON p.id = l.person_id AND p.death_date IS NULL
  ORDER BY l.person_id LIMIT :limit
)
SELECT CAST(:message_prefix || lpad(to_hex(n), 8, '0') AS uuid) AS message_id,
       CAST(:delivery_prefix || lpad(to_hex(n), 8, '0') AS uuid) AS delivery_id, numbered.*
FROM numbered ORDER BY n
"""  # noqa: S608 - constant fragments, values are bound  # nosec B608
_PG_MESSAGES = """
INSERT INTO messages (id, person_id, purpose, template, language, format, lane, urgent, context,
  subject_kind, subject_id, dedupe_key, status, ladder, step, next_step_at, acknowledged_at,
  created_by, created_at, updated_at)
SELECT message_id, person_id, :purpose, :template, language, format, 'bulk', FALSE,
  CAST(:context AS json), NULL, NULL, NULL, 'active',
  (ladder || '[["outreach", ""]]'::jsonb)::json, 0,
  CASE WHEN jsonb_array_length(ladder) > 1 THEN CAST(:next_step_at AS timestamptz) END, NULL,
  :created_by, :now, :now
FROM campaign_rows ORDER BY n
"""
_PG_DELIVERIES = """
INSERT INTO deliveries (id, message_id, step, channel, address, lane, status, tries, not_before,
  subject, body, html, created_at, updated_at)
SELECT r.delivery_id, r.message_id, 0, r.channel, r.address, 'bulk', 'created', 0, :now,
  v.subject, v.body, v.html, :now, :now
FROM campaign_rows r
JOIN campaign_variants v ON v.language = r.language AND v.channel = r.channel
  AND v.format = r.format
ORDER BY r.n
"""


def _fan_out_in_postgres(
    session: Session, *, template: str, purpose: str, context: dict[str, Any], created_by: str,
    limit: int | None, now: datetime, available: set[str], report: CampaignReport,
) -> CampaignReport:  # fmt: skip
    started = time.perf_counter()
    # One campaign is a few big sorts and hashes over the registry: let them happen in memory
    # (the default 4 MB spills a nation's rows to disk) and skip JIT compilation, which costs
    # more than it saves here. Both end with the transaction.
    session.execute(text("SET LOCAL work_mem = '256MB'"))
    session.execute(text("SET LOCAL jit = off"))
    # A second campaign in the same transaction starts from scratch (ON COMMIT DROP is later).
    session.execute(text("DROP TABLE IF EXISTS pg_temp.campaign_variants, pg_temp.campaign_rows"))
    session.execute(text(
        "CREATE TEMPORARY TABLE campaign_variants (language text, channel text, format text, "
        "subject text, body text, html text) ON COMMIT DROP"
    ))  # fmt: skip
    variants = [
        {
            "language": language,
            "channel": channel,
            "format": format,
            **_parts(
                templates.render(
                    template,
                    channel=channel,
                    language=language,
                    context=context,
                    format=format,
                    purpose=purpose,
                )
            ),
        }  # fmt: skip
        for language in templates.LANGUAGES
        for channel in sorted(available)
        for format in FORMATS
    ]
    session.execute(
        text(
            "INSERT INTO campaign_variants VALUES "
            "(:language, :channel, :format, :subject, :body, :html)"
        ),  # fmt: skip
        variants,
    )
    hours = get_settings().ladder_step_hours
    session.execute(
        text(_PG_LADDERS),
        {
            "purpose": purpose,
            "now": now,
            "channels": sorted(available),
            "limit": limit,
            "message_prefix": _ordered_prefix(now),
            "delivery_prefix": _ordered_prefix(now),
        },
    )
    report.seconds["select_render"] = time.perf_counter() - started
    values = {
        "purpose": purpose, "template": template, "created_by": created_by, "now": now,
        "context": json.dumps(context, ensure_ascii=False),
        "next_step_at": now + timedelta(hours=hours),
    }  # fmt: skip
    session.execute(text(_PG_MESSAGES), values)
    session.execute(text(_PG_DELIVERIES), values)
    ids = list(session.scalars(text("SELECT delivery_id FROM campaign_rows")))
    report.variants = int(
        session.scalar(text(
            "SELECT count(*) FROM (SELECT DISTINCT language, channel, format FROM campaign_rows) v"
        )) or 0
    )  # fmt: skip
    report.seconds["write"] = time.perf_counter() - started - report.seconds["select_render"]
    report.selected_persons = report.messages = len(ids)
    actions.hand_to_workers(session, ids, "bulk")
    return report


def _ordered_prefix(now: datetime) -> str:
    """The first 24 hex digits of time-ordered ids in the shape of RFC 9562's UUIDv7: the
    campaign's millisecond, the version, 40 random bits, the variant; the last 8 digits are the
    row's number. A million random UUIDs land all over their primary-key and foreign-key
    indexes (a page read and written per row once the indexes outgrow memory); ordered ones
    append at the right edge. Two campaigns in one millisecond differ in the random bits."""
    millis = f"{int(now.timestamp() * 1000):012x}"
    salt = secrets.token_hex(5)
    return f"{millis}7{salt[:3]}8{salt[3:]}"


def _parts(rendered: templates.Rendered) -> dict[str, Any]:
    return {"subject": rendered.subject[:300], "body": rendered.text, "html": rendered.html}


def _write(
    session: Session, messages: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    if not messages:
        return
    if is_postgres(session):
        _copy(session, "messages", messages)
        _copy(session, "deliveries", deliveries)
        return
    for table, rows in ((Message.__table__, messages), (Delivery.__table__, deliveries)):
        for start in range(0, len(rows), 20_000):
            chunk = rows[start : start + 20_000]
            if table is Message.__table__:
                chunk = [
                    {**r, "context": json.loads(r["context"]), "ladder": json.loads(r["ladder"])}
                    for r in chunk
                ]
            session.execute(insert(table), chunk)


def _copy(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY: the fastest way in, a few hundred thousand rows a second."""
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(  # type: ignore[union-attr]
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608 - our own column names  # nosec B608
        ) as copy,
    ):
        for row in rows:
            copy.write_row([row[c] for c in columns])

"""The webhook route's refusals, and the conversation routes people and officers use."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.messaging.actions import send
from navreme.messaging.models import (
    Conversation,
    ConversationItem,
    Delivery,
    InboundMessage,
    Message,
)
from navreme.messaging.webhooks import MAX_WEBHOOK_BYTES
from tests import factories
from tests.messaging.support import count, inbound_rows, payload, phone, reply, signed


def test_bad_signature__401_and_nothing_written(client: TestClient, db_session: Session) -> None:
    number = phone()
    factories.person(db_session, phone=number)
    db_session.commit()
    body = payload(number, "1")
    audit_before = count(db_session, AuditEntry)
    forged = client.post(
        "/api/v1/channels/sms/webhook", content=body,
        headers={"X-Navreme-Signature": "sha256=" + "0" * 64},
    )  # fmt: skip
    unsigned = client.post("/api/v1/channels/sms/webhook", content=body)
    tampered = client.post(
        "/api/v1/channels/sms/webhook", content=body.replace(b'"1"', b'"3"'), headers=signed(body)
    )
    assert [r.status_code for r in (forged, unsigned, tampered)] == [401, 401, 401]
    assert forged.json()["error"]["code"] == "bad_signature"
    assert count(db_session, InboundMessage) == 0
    assert count(db_session, Conversation) == 0
    assert count(db_session, Message) == 0
    assert count(db_session, AuditEntry) == audit_before


def test_unknown_channel__404_envelope(client: TestClient) -> None:
    body = payload("x", "1")
    response = client.post("/api/v1/channels/pigeon/webhook", content=body, headers=signed(body))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_huge_body__413_and_nothing_written(client: TestClient, db_session: Session) -> None:
    body = payload("+38970111222", "я" * MAX_WEBHOOK_BYTES)
    response = client.post("/api/v1/channels/sms/webhook", content=body, headers=signed(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert count(db_session, InboundMessage) == 0


def test_unicode_body_just_under_the_limit__recorded_whole(
    client: TestClient, db_session: Session
) -> None:
    text = "Ќе дојдам ли? 🙂 Ç" * 2000
    response = reply(client, "telegram", "12", text)
    assert response.status_code == 200
    (row,) = inbound_rows(db_session)
    assert row.text == text


def test_malformed_body__400(client: TestClient, db_session: Session) -> None:
    for body in (b"not json", b"[1, 2]", json.dumps({"inbound": [{"text": "no id"}]}).encode()):
        response = client.post("/api/v1/channels/sms/webhook", content=body, headers=signed(body))
        assert response.status_code == 400
    assert count(db_session, InboundMessage) == 0


def test_handshake__fake_channel_has_none(client: TestClient) -> None:
    response = client.get("/api/v1/channels/sms/webhook", params={"hub.challenge": "x"})
    assert response.status_code == 404


def test_receipts_only__accepted_and_nothing_inbound(
    client: TestClient, db_session: Session
) -> None:
    body = json.dumps({"receipts": [{"id": "fake-unknown", "status": "delivered"}]}).encode()
    response = client.post("/api/v1/channels/sms/webhook", content=body, headers=signed(body))
    assert response.status_code == 200
    assert response.json() == {"received": 0, "events": 1}
    assert count(db_session, InboundMessage) == 0


# --- conversation routes ----------------------------------------------------------------------


def test_conversation__the_person_reads_it_a_stranger_does_not(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    stranger = factories.person(db_session, phone=phone())
    mine, theirs = (factories.session_token(db_session, p) for p in (person, stranger))
    db_session.commit()
    reply(client, "sms", number, "Кога е отворено шалтерот?")
    own = client.get(f"/api/v1/persons/{person.id}/conversation", headers=mine)
    assert own.status_code == 200
    assert [i["direction"] for i in own.json()["items"]] == ["out", "in"]
    assert own.json()["items"][1]["text"] == "Кога е отворено шалтерот?"
    refused = client.get(f"/api/v1/persons/{person.id}/conversation", headers=theirs)
    assert refused.status_code == 404


def test_conversation__pages_newest_first(client: TestClient, db_session: Session) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    headers = factories.session_token(db_session, person)
    db_session.commit()
    for n in range(3):
        reply(client, "sms", number, f"прашање {n}")
    first = client.get(f"/api/v1/persons/{person.id}/conversation?limit=2", headers=headers)
    oldest = first.json()["items"][-1]["created_at"]
    rest = client.get(
        f"/api/v1/persons/{person.id}/conversation", params={"before": oldest}, headers=headers
    )
    seen = [i["id"] for i in first.json()["items"] + rest.json()["items"]]
    assert len(seen) == 6
    assert len(set(seen)) == 6


def test_open_items__officer_sees_and_marks_handled(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    login = factories.officer(db_session)
    editor = factories.officer(db_session, roles=("catalogue_editor",))
    db_session.commit()
    reply(client, "sms", number, "Изгубив лична карта, што да правам?")
    headers = factories.officer_token(client, login)
    listed = client.get("/api/v1/conversations/open", headers=headers)
    assert listed.status_code == 200
    (item,) = listed.json()
    assert item["person_id"] == str(person.id)
    done = client.post(f"/api/v1/conversation-items/{item['id']}/handled", headers=headers)
    assert done.status_code == 200
    assert done.json()["handled_at"] is not None
    assert client.get("/api/v1/conversations/open", headers=headers).json() == []
    assert count(db_session, ConversationItem, ConversationItem.handled_at.is_not(None)) == 1
    refused = client.get(
        "/api/v1/conversations/open", headers=factories.officer_token(client, editor)
    )
    assert refused.status_code == 403


def test_receipt__moves_the_delivery_forward(client: TestClient, db_session: Session) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    message = send(db_session, person_id=person.id, purpose="service", template="reply_received",
                   context={}, to=("sms", number))  # fmt: skip
    delivery = db_session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
    delivery.status, delivery.provider_message_id = "sent", "fake-receipt-1"
    db_session.commit()
    body = json.dumps({"receipts": [{"id": "fake-receipt-1", "status": "delivered"}]}).encode()
    response = client.post("/api/v1/channels/sms/webhook", content=body, headers=signed(body))
    assert response.status_code == 200
    db_session.expire_all()
    assert db_session.get_one(Delivery, delivery.id).status == "delivered"

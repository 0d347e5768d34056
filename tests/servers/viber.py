"""A fake Viber REST Bot API: POST /pa/send_message, and signed callbacks to a webhook.

Follows Viber's reference: X-Viber-Auth-Token header; body {"receiver", "sender": {"name"},
"type": "text", "text"}; every answer is HTTP 200 with {"status", "status_message"} and, on
success, "message_token" (a 64-bit integer) and "chat_hostname". Unknown tokens get status 2,
missing fields 4, bad fields 3, receivers who never subscribed (`subscribe`) status 6.
Callbacks (message, delivered, seen, failed, subscribed, unsubscribed) carry
X-Viber-Content-Signature: the hex HMAC-SHA256 of the body keyed with the auth token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers._base import FakeProvider

AUTH_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
_STATUS_MESSAGES = {
    0: "ok",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
}


class FakeViber(FakeProvider):
    def __init__(self, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.auth_token = auth_token
        self.subscribers: dict[str, str] = {}  # user id -> name
        self._tokens = itertools.count(5_741_311_803_571_721_087)

    def routes(self) -> list[Route]:
        return [Route("/pa/send_message", self._send_message, methods=["POST"])]

    def subscribe(self, name: str) -> str:
        """A person who subscribed to the bot; returns their Viber user id."""
        user_id = base64.b64encode(secrets.token_bytes(16)).decode()
        self.subscribers[user_id] = name
        return user_id

    def signature_headers(self, body: bytes) -> dict[str, str]:
        digest = hmac.new(self.auth_token.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Viber-Content-Signature": digest}

    def user_message(self, user_id: str, text: str) -> dict[str, Any]:
        """The "message" callback Viber POSTs when the person writes to the bot."""
        sender = {
            "id": user_id,
            "name": self.subscribers[user_id],
            "language": "mk",
            "country": "MK",
            "api_version": 10,
        }
        return {
            "event": "message",
            "timestamp": int(time.time() * 1000),
            "chat_hostname": "SN-CALLBACK-12_",
            "message_token": next(self._tokens),
            "sender": sender,
            "message": {"type": "text", "text": text},
            "silent": False,
        }

    def receipt(
        self, event: str, message_token: int, user_id: str, *, desc: str = ""
    ) -> dict[str, Any]:
        """A delivered, seen or failed callback about a message the bot sent."""
        callback: dict[str, Any] = {
            "event": event,
            "timestamp": int(time.time() * 1000),
            "chat_hostname": "SN-CALLBACK-12_",
            "message_token": message_token,
            "user_id": user_id,
        }
        if event == "failed":
            callback["desc"] = desc or "failure description"
        return callback

    def subscribed(self, user_id: str) -> dict[str, Any]:
        user = {
            "id": user_id,
            "name": self.subscribers[user_id],
            "language": "sq",
            "country": "MK",
            "api_version": 10,
        }
        return {
            "event": "subscribed",
            "timestamp": int(time.time() * 1000),
            "user": user,
            "message_token": next(self._tokens),
        }

    async def _send_message(self, request: Request) -> Response:
        received, failure = await self.record(request)
        if failure is not None:
            return _failure(failure.kind, failure.code)
        if received.headers.get("x-viber-auth-token") != self.auth_token:
            return _status(2)
        try:
            body = received.json()
        except ValueError:
            return _status(3)
        return self._send(body)

    def _send(self, body: dict[str, Any]) -> Response:
        sender = body.get("sender")
        if (
            not body.get("receiver")
            or not isinstance(sender, dict)
            or not sender.get("name")
            or "text" not in body
        ):
            return _status(4)
        if (
            body.get("type") != "text"
            or not body["text"]
            or len(body["text"]) > 7000
            or len(sender["name"]) > 28
        ):
            return _status(3)
        if body["receiver"] not in self.subscribers:
            return _status(6)
        return JSONResponse(
            {
                "status": 0,
                "status_message": "ok",
                "message_token": next(self._tokens),
                "chat_hostname": "SN-CHAT-05_",
                "billing_status": 1,
            }
        )


def _status(status: int, message: str = "") -> JSONResponse:
    return JSONResponse(
        {
            "status": status,
            "status_message": message or _STATUS_MESSAGES.get(status, "generalError"),
        }
    )


def _failure(kind: str, code: int | None) -> Response:
    if kind == "rate_limit":
        return _status(12)
    if kind == "server_error":
        return Response(
            "<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html"
        )
    return _status(code or 6)

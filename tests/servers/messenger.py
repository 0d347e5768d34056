"""A fake Messenger Send API: POST /{version}/me/messages?access_token=…, and page webhooks.

Follows Meta's reference: the Page token as access_token (query or body), appsecret_proof
checked when present (required with `require_proof`); body {"recipient": {"id": PSID},
"messaging_type": RESPONSE | UPDATE | MESSAGE_TAG (+ "tag"), "message": {"text"}}; success
{"recipient_id", "message_id": "m_…"}; Graph error objects otherwise: 190 bad token, 100 /
2018001 no matching user, 100 text over 2,000 characters, 551 / 1545041 person unavailable,
10 / 2018278 outside the allowed window, 613 rate limit, 2 temporary failure.
Webhooks ({"object": "page", "entry": [{"messaging": […]}]}) carry X-Hub-Signature-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers._base import FakeProvider, graph_error, meta_signature_headers, new_id

PAGE_ACCESS_TOKEN = "EAAB-test-page-token"
APP_SECRET = "fb-app-secret"
PAGE_ID = "1067280970047460"


class FakeMessenger(FakeProvider):
    def __init__(
        self,
        page_access_token: str = PAGE_ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        *,
        require_proof: bool = False,
    ) -> None:
        super().__init__()
        self.page_access_token = page_access_token
        self.app_secret = app_secret
        self.require_proof = require_proof
        self.people: dict[str, str] = {}  # PSID -> name
        self.unavailable: set[str] = set()
        self.sent_at: dict[str, int] = {}  # mid -> when sent (ms), for watermarks

    def routes(self) -> list[Route]:
        return [Route("/{version}/me/messages", self._messages, methods=["POST"])]

    def add_person(self, psid: str, name: str) -> None:
        self.people[psid] = name

    def signature_headers(self, body: bytes) -> dict[str, str]:
        return meta_signature_headers(self.app_secret, body)

    def _envelope(self, messaging: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": _now_ms(), "messaging": [messaging]}],
        }

    def user_message(self, psid: str, text: str, *, reply_to: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"mid": new_id("m_", 48), "text": text}
        if reply_to is not None:
            message["reply_to"] = {"mid": reply_to}
        return self._envelope(
            {
                "sender": {"id": psid},
                "recipient": {"id": PAGE_ID},
                "timestamp": _now_ms(),
                "message": message,
            }
        )

    def echo(self, psid: str, text: str) -> dict[str, Any]:
        message = {
            "is_echo": True,
            "app_id": 1517776481860111,
            "mid": new_id("m_", 48),
            "text": text,
        }
        return self._envelope(
            {
                "sender": {"id": PAGE_ID},
                "recipient": {"id": psid},
                "timestamp": _now_ms(),
                "message": message,
            }
        )

    def delivery(self, psid: str, mids: list[str] | None) -> dict[str, Any]:
        """A delivery webhook; `mids=None` is an old client's, with only a watermark."""
        delivery: dict[str, Any] = {"watermark": _now_ms()}
        if mids is not None:
            delivery["mids"] = mids
        return self._envelope(
            {
                "sender": {"id": psid},
                "recipient": {"id": PAGE_ID},
                "timestamp": _now_ms(),
                "delivery": delivery,
            }
        )

    def read(self, psid: str, watermark: int) -> dict[str, Any]:
        return self._envelope(
            {
                "sender": {"id": psid},
                "recipient": {"id": PAGE_ID},
                "timestamp": _now_ms(),
                "read": {"watermark": watermark},
            }
        )

    async def _messages(self, request: Request) -> Response:
        received, failure = await self.record(request)
        try:
            body = received.json()
        except ValueError:
            return graph_error(400, 100, "(#100) Invalid JSON for postcard", kind="OAuthException")
        refused = self._auth_problem(received.query, body)
        if refused is not None:
            return refused
        if failure is not None:
            return _failure(failure.kind, failure.code)
        return self._send(body)

    def _auth_problem(self, query: dict[str, str], body: dict[str, Any]) -> Response | None:
        token = query.get("access_token") or body.get("access_token")
        if token != self.page_access_token:
            return graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        proof = query.get("appsecret_proof") or body.get("appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if (proof or self.require_proof) and proof != expected:
            return graph_error(
                400,
                100,
                "Invalid appsecret_proof provided in the API argument",
                kind="GraphMethodException",
            )
        return None

    def _send(self, body: dict[str, Any]) -> Response:
        problem = _invalid(body)
        if problem is not None:
            return problem
        psid = body["recipient"]["id"]
        if psid not in self.people:
            return graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
        if psid in self.unavailable:
            return graph_error(
                400, 551, "(#551) This person isn't available right now.", subcode=1545041
            )
        mid = new_id("m_", 48)
        self.sent_at[mid] = _now_ms()
        return JSONResponse({"recipient_id": psid, "message_id": mid})


def _invalid(body: dict[str, Any]) -> Response | None:
    messaging_type = body.get("messaging_type")
    if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        return graph_error(
            400, 100, "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
        )
    if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
        return graph_error(400, 100, "(#100) Tag is required for MESSAGE_TAG messaging type")
    if not re.fullmatch(r"\d+", str((body.get("recipient") or {}).get("id", ""))):
        return graph_error(400, 100, "(#100) param recipient must be non-empty.")
    text = (body.get("message") or {}).get("text")
    if not isinstance(text, str) or not text:
        return graph_error(
            400, 100, "(#100) Message cannot be empty, must provide valid attachment or text"
        )
    if len(text) > 2000:
        return graph_error(
            400, 100, "(#100) Length of param message[text] must be less than or equal to 2000"
        )
    return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _failure(kind: str, code: int | None) -> JSONResponse:
    if kind == "rate_limit":
        return graph_error(
            400, code or 613, "(#613) Calls to this api have exceeded the rate limit."
        )
    if kind == "server_error":
        return graph_error(
            500, code or 2, "An unexpected error has occurred. Please retry your request later."
        )
    if code == 10:
        return graph_error(
            400, 10, "(#10) This message is sent outside of allowed window.", subcode=2018278
        )
    return graph_error(
        400, code or 551, "(#551) This person isn't available right now.", subcode=1545041
    )

"""A fake WhatsApp Cloud API: POST /{version}/{phone-number-id}/messages, and its webhooks.

Follows Meta's reference: Bearer token; body {"messaging_product": "whatsapp", "to", "type":
"text", "text": {"body"}}; success {"messaging_product", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid…"}]}; failures as Graph error objects (190 bad token, 100 invalid
parameter, 131026 undeliverable, 131047 outside the 24-hour window, 130429 throughput).
Numbers not on WhatsApp (`add_user` was not called) are accepted and then fail by webhook with
131026, as the real service does; `fail_next(…, "permanent", code=…)` fails synchronously.
Webhooks carry X-Hub-Signature-256 made with the app secret.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers._base import FakeProvider, graph_error, meta_signature_headers

ACCESS_TOKEN = "EAAG-test-access-token"
APP_SECRET = "wa-app-secret"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"

_PERMANENT_MESSAGES = {
    131026: "(#131026) Message Undeliverable.",
    131047: "(#131047) Re-engagement message",
    100: "(#100) Invalid parameter",
    133010: "(#133010) Account not registered",
}


class FakeWhatsApp(FakeProvider):
    def __init__(
        self,
        access_token: str = ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        phone_number_id: str = PHONE_NUMBER_ID,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.users: dict[str, str] = {}  # wa_id -> profile name
        self.undeliverable: list[str] = []  # wamids accepted for numbers not on WhatsApp

    def routes(self) -> list[Route]:
        return [Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"])]

    def add_user(self, wa_id: str, name: str) -> None:
        self.users[wa_id] = name

    def signature_headers(self, body: bytes) -> dict[str, str]:
        return meta_signature_headers(self.app_secret, body)

    def _envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        metadata = {"display_phone_number": "38923000000", "phone_number_id": self.phone_number_id}
        change = {
            "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
            "field": "messages",
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [change]}],
        }

    def user_message(
        self, wa_id: str, text: str, *, context_id: str | None = None
    ) -> dict[str, Any]:
        """The webhook Meta POSTs when the person writes to the business number."""
        message: dict[str, Any] = {
            "from": wa_id,
            "id": _wamid(),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        if context_id is not None:
            message["context"] = {"from": "38923000000", "id": context_id}
        contacts = [{"profile": {"name": self.users.get(wa_id, "")}, "wa_id": wa_id}]
        return self._envelope({"contacts": contacts, "messages": [message]})

    def status(
        self, wamid: str, status: str, wa_id: str, *, error_code: int | None = None
    ) -> dict[str, Any]:
        """A status webhook: sent, delivered, read or failed (with Meta's error object)."""
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
        }
        if error_code is not None:
            title = _PERMANENT_MESSAGES.get(error_code, "Rate limit hit")
            entry["errors"] = [
                {
                    "code": error_code,
                    "title": title,
                    "message": title,
                    "error_data": {"details": title},
                }
            ]
        return self._envelope({"statuses": [entry]})

    async def _messages(self, request: Request) -> Response:
        received, failure = await self.record(request)
        if received.headers.get("authorization") != f"Bearer {self.access_token}":
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if not re.fullmatch(r"v\d+\.\d+", request.path_params["version"]):
            return graph_error(400, 2500, "Unknown path components", kind="OAuthException")
        if request.path_params["phone_number_id"] != self.phone_number_id:
            return graph_error(
                400,
                100,
                "Unsupported post request. Object does not exist",
                kind="GraphMethodException",
                subcode=33,
            )
        if failure is not None:
            return _failure(failure.kind, failure.code)
        try:
            body = received.json()
        except ValueError:
            return graph_error(400, 100, "(#100) Invalid parameter")
        return self._send(body)

    def _send(self, body: dict[str, Any]) -> Response:
        problem = _invalid(body)
        if problem:
            return graph_error(400, 100, f"(#100) {problem}")
        wa_id = str(body["to"]).removeprefix("+")
        wamid = _wamid()
        if wa_id not in self.users:
            self.undeliverable.append(wamid)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": wa_id}],
                "messages": [{"id": wamid}],
            }
        )


def _invalid(body: dict[str, Any]) -> str:
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    if not re.fullmatch(r"\+?\d{6,15}", str(body.get("to", ""))):
        return "Invalid parameter: to"
    if body.get("type", "text") != "text":
        return "this fake supports only text messages"
    text = (body.get("text") or {}).get("body")
    if not isinstance(text, str) or not text:
        return "The parameter text['body'] is required."
    if len(text) > 4096:
        return "Param text['body'] must be at most 4096 characters long."
    return ""


def _wamid() -> str:
    return "wamid." + base64.b64encode(b"\x15\x02" + secrets.token_bytes(28)).decode()


def _failure(kind: str, code: int | None) -> JSONResponse:
    if kind == "rate_limit":  # throughput (130429) comes as 429; app throttling (4, 80007) as 400
        limited = code or 130429
        return graph_error(
            429 if limited == 130429 else 400, limited, f"(#{limited}) Rate limit hit"
        )
    if kind == "server_error":
        return graph_error(500, code or 131000, "(#131000) Something went wrong")
    permanent = code or 131026
    return graph_error(400, permanent, _PERMANENT_MESSAGES.get(permanent, f"(#{permanent}) error"))

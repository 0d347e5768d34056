"""Open311 GeoReport v2: services and service requests, JSON and XML.

Every path exists once per format (`services.json`, `services.xml`, …); any other path or
extension under /open311/v2 is a 404 in the specification's error format, as are all errors here:
`[{"code": 400, "description": "…"}]` or `<errors><error><code>…`. GETs are public; a POST
needs a client's `api_key` (`navreme open311 key create CLIENT`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape  # nosec B406 - used to write XML, never to parse it

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from navreme.cases import open311, open311_keys, open311_public
from navreme.cases.open311 import Open311Error
from navreme.db import session_scope
from navreme.web.deps import DB

router = APIRouter(prefix="/open311/v2", tags=["open311"])

FORMATS = ("json", "xml")
MAX_BODY = 64 * 1024  # a request is a few short fields; anything bigger is not one
MEDIA_TYPES = {"json": "application/json", "xml": "application/xml"}


# --- rendering ----------------------------------------------------------------------------------


def _xml_value(tag: str, value: Any, item: str) -> str:
    if value is None or value == [] or value == "":
        return f"<{tag}/>"
    if isinstance(value, dict):
        inner = "".join(_xml_value(key, inner, item) for key, inner in value.items())
    elif isinstance(value, list):
        inner = "".join(_xml_value(item, entry, item) for entry in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(_xml_safe(str(value)))
    return f"<{tag}>{inner}</{tag}>"


def _xml_safe(text: str) -> str:
    """Drop the characters XML 1.0 cannot carry at all (control characters)."""
    return "".join(char for char in text if char in "\t\n\r" or ord(char) >= 0x20)


def _render(fmt: str, body: Any, *, root: str, item: str, status: int = 200) -> Response:
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False)
    else:
        xml = _xml_value(root, body, item)
        content = f'<?xml version="1.0" encoding="utf-8"?>{xml}'
    return Response(content, status_code=status, media_type=MEDIA_TYPES[fmt])


def _error(fmt: str, problem: Open311Error) -> Response:
    body = [{"code": problem.status, "description": problem.description}]
    return _render(fmt, body, root="errors", item="error", status=problem.status)


def _answer(fmt: str, work: Callable[[], Any], *, root: str, item: str) -> Response:
    try:
        return _render(fmt, work(), root=root, item=item)
    except Open311Error as problem:
        return _error(fmt, problem)


# --- services -----------------------------------------------------------------------------------


def _services(fmt: str) -> Callable[..., Response]:
    def services(request: Request, session: DB) -> Response:
        """The request types we take (public, active categories), names in `lang`."""
        lang = open311.language(request.query_params.get("lang"))
        return _answer(fmt, lambda: open311.services(session, lang=lang),
                       root="services", item="service")  # fmt: skip

    return services


def _definition(fmt: str) -> Callable[..., Response]:
    def definition(service_code: str, session: DB) -> Response:
        """A service's extra attributes: none, every service takes the standard fields."""
        return _answer(fmt, lambda: open311.service_definition(session, service_code),
                       root="service_definition", item="attribute")  # fmt: skip

    return definition


# --- requests -----------------------------------------------------------------------------------


def _list(fmt: str) -> Callable[..., Response]:
    def requests(request: Request, session: DB) -> Response:
        """Public service requests: by service_request_id (comma list), or service_code,
        start_date/end_date (90 days at most; the last 90 by default), status, page, page_size."""
        params = dict(request.query_params)
        lang = open311.language(params.get("lang"))
        return _answer(
            fmt, lambda: open311_public.find_requests(
                session, open311_public.parse_query(params), lang=lang
            ),
            root="service_requests", item="request",
        )  # fmt: skip

    return requests


def _one(fmt: str) -> Callable[..., Response]:
    def request_by_id(service_request_id: str, request: Request, session: DB) -> Response:
        """One public service request (a list of one, as the specification has it)."""
        lang = open311.language(request.query_params.get("lang"))
        return _answer(fmt, lambda: [open311_public.find_request(session, service_request_id, lang=lang)],
                       root="service_requests", item="request")  # fmt: skip

    return request_by_id


def _post(fmt: str) -> Callable[..., Any]:
    async def create(request: Request) -> Response:
        """Submit a service request (form-encoded, `api_key` required). 201 with its
        service_request_id; 200 with the same one when the client sends the same request again
        (the `Idempotency-Key` header, or its own `service_request_id` field)."""
        try:
            fields = await _fields(request)
            idempotency = request.headers.get("idempotency-key")
            if idempotency is not None and not 0 < len(idempotency.strip()) <= 100:
                raise Open311Error(400, "Idempotency-Key is 1 to 100 characters.")
            key = fields.pop("api_key", None) or request.query_params.get("api_key")
            made = await run_in_threadpool(_submit, fields, key, idempotency)
        except Open311Error as problem:
            return _error(fmt, problem)
        body = [{"service_request_id": made.reference, "service_notice": made.notice,
                 "account_id": None}]  # fmt: skip
        return _render(fmt, body, root="service_requests", item="request",
                       status=201 if made.created else 200)  # fmt: skip

    return create


async def _fields(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Open311Error(413, f"A service request is at most {MAX_BODY} bytes.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=0, max_fields=100)
        return {name: value for name, value in form.items() if isinstance(value, str)}
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise Open311Error(400, "Send the fields form-encoded (application/x-www-form-urlencoded).")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Open311Error(413, f"A service request is at most {MAX_BODY} bytes.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise Open311Error(400, "The form is not valid UTF-8 form-encoded data.") from None
    return dict(pairs)


def _submit(fields: dict[str, str], key: str | None, idempotency: str | None) -> open311.Submitted:
    with session_scope() as session:
        client = _client(session, key)
        return open311.submit(session, fields, client=client, idempotency=idempotency)


def _client(session: Session, key: str | None) -> str:
    try:
        return open311_keys.client_for_key(session, key)
    except Open311Error:
        session.commit()  # keep the audit entry of a refused known key
        raise


def _not_found(request: Request) -> Response:
    """Any other path or format under /open311/v2: the specification's 404."""
    fmt = "xml" if request.url.path.endswith(".xml") else "json"
    return _error(fmt, Open311Error(404, "No such Open311 resource (formats: .json, .xml)."))


def _answers(fmt: str, *statuses: int) -> dict[str, Any]:
    """The spec names the format each answer really comes in; errors are Open311's error list."""
    media = {"content": {MEDIA_TYPES[fmt]: {}}}
    documented: dict[int | str, dict[str, Any]] = {
        status: {"description": "Answer" if status < 400 else "Open311 error list", **media}
        for status in statuses
    }
    return {"response_class": Response, "responses": documented}


for _fmt in FORMATS:
    router.add_api_route(f"/services.{_fmt}", _services(_fmt), methods=["GET"],
                         summary=f"Services ({_fmt})", **_answers(_fmt, 200))  # fmt: skip
    router.add_api_route(f"/services/{{service_code}}.{_fmt}", _definition(_fmt),
                         methods=["GET"], summary=f"Service definition ({_fmt})",
                         **_answers(_fmt, 200, 404))  # fmt: skip
    router.add_api_route(f"/requests.{_fmt}", _list(_fmt), methods=["GET"],
                         summary=f"Service requests ({_fmt})", **_answers(_fmt, 200, 400))  # fmt: skip
    router.add_api_route(f"/requests.{_fmt}", _post(_fmt), methods=["POST"],
                         summary=f"Submit a service request ({_fmt})", status_code=201,
                         **_answers(_fmt, 201, 200, 400, 403, 413))  # fmt: skip
    router.add_api_route(f"/requests/{{service_request_id}}.{_fmt}", _one(_fmt),
                         methods=["GET"], summary=f"One service request ({_fmt})",
                         **_answers(_fmt, 200, 404))  # fmt: skip
router.add_api_route("/{rest:path}", _not_found, methods=["GET", "POST"], include_in_schema=False)

"""T25's realistic mix for locust: 60 % citizens reading, 30 % citizens booking, 10 % officers.

Run by `bench/load.py` (never imported by it, nor by pytest: locust monkey-patches with gevent).
Everything it needs comes from the JSON plan named by NAVREME_LOAD_PLAN, which load.py writes
after seeding: the API processes' URLs, signed-in citizens (bearer token, person id) and
officers (token, their department's office codes).

Users are spread round-robin over the API processes, as an nginx/HAProxy upstream would spread
connections. A booking is search → hold → confirm; a 409 (someone else took the slot first, a
hold that lapsed, an appointment already booked) is the domain saying no, a handled outcome, and
counts as a success; any other non-2xx is an error.

    NAVREME_LOAD_PLAN=plan.json locust -f bench/locustfile.py --headless -u 40 -r 10 -t 2m
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["NAVREME_LOAD_PLAN"]).read_text("utf-8"))
HOSTS: list[str] = PLAN["hosts"]
SERVICE: str = PLAN.get("service", "id-card")
HANDLED = {409}  # the domain's "no": a race lost, a hold lapsed, already booked
_next_host = itertools.cycle(HOSTS)
_random = random.Random(os.environ.get("NAVREME_LOAD_SEED", "2025"))  # noqa: S311 - load only


class NavremeUser(HttpUser):
    """Shared by every kind of user: its own API process, its own bearer token."""

    abstract = True
    host = HOSTS[0]
    wait_time = between(1, 3)  # a person reads what came back before the next click
    role = "citizens"

    def on_start(self) -> None:
        self.client.base_url = next(_next_host)
        self.who: dict[str, Any] = _random.choice(PLAN[self.role])
        self.client.headers["Authorization"] = f"Bearer {self.who['token']}"

    def call(self, method: str, path: str, name: str, **options: Any) -> Any:
        """One request; 2xx (and the domain's 409) succeed, the rest are errors."""
        with self.client.request(method, path, name=name, catch_response=True,
                                 **options) as answer:  # fmt: skip
            if answer.ok:
                answer.success()
                return answer.json() if answer.content else None
            if answer.status_code in HANDLED:
                answer.success()
                return None
            answer.failure(f"{answer.status_code}: {answer.text[:200]}")
            return None


class Reader(NavremeUser):
    """60 %: a citizen looking around: free slots, their offers, the catalogue, their messages."""

    weight = 6

    @task(3)
    def search_slots(self) -> None:
        self.call("GET", f"/api/v1/slots?service={SERVICE}&limit=10", "slots search")

    @task(2)
    def my_offers(self) -> None:
        self.call("GET", f"/api/v1/persons/{self.who['person_id']}/offers", "my offers")

    @task(2)
    def catalogue(self) -> None:
        self.call("GET", "/api/v1/catalogue/services", "catalogue")

    @task(2)
    def my_messages(self) -> None:
        self.call("GET", f"/api/v1/persons/{self.who['person_id']}/messages", "my messages")


class Booker(NavremeUser):
    """30 %: a citizen booking: search, hold a free slot, confirm it."""

    weight = 3

    @task
    def hold_and_book(self) -> None:
        found = self.call("GET", f"/api/v1/slots?service={SERVICE}&limit=10", "slots search")
        if not found:
            return
        slot = _random.choice(found)
        body = {"office": slot["office"]["code"], "starts_at": slot["starts_at"], "hold": True,
                "items": [{"person_id": self.who["person_id"], "service": SERVICE}]}  # fmt: skip
        held = self.call("POST", "/api/v1/appointments", "hold slot", json=body)
        if held:
            self.call("POST", f"/api/v1/appointments/{held['id']}/confirm", "book (confirm)")


class Officer(NavremeUser):
    """10 %: an officer at the counter: today's list, a check-in, the case queue."""

    weight = 1
    role = "officers"

    @task(2)
    def todays_list(self) -> None:
        office = _random.choice(self.who["offices"])
        day = self.call("GET", f"/api/v1/offices/{office}/day", "office day")
        waiting = [a for a in (day or {}).get("appointments", []) if a["status"] == "booked"]
        if waiting:
            chosen = _random.choice(waiting)
            self.call("POST", f"/api/v1/appointments/{chosen['id']}/check-in", "check-in")

    @task(1)
    def case_queue(self) -> None:
        self.call("GET", "/api/v1/cases?limit=50", "case list")

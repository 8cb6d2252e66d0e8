"""Locust users of the toy stack bench (bench/bench_stack_load.py toy): signed-in sessions acting by role.

Run by the bench (``locust -f bench/locustfile_toy.py --headless …``) with ``SG_COOKIES`` naming a JSON
list of signed-in cookie sets (the bench signs in through the form beforehand: a hundred argon2 checks at
once would be the whole run); loopback only. Think time 0.5-1.5 s. Locust is installed in its own
virtual environment (``.local/locust-venv``): its Flask/Werkzeug pins must not touch the app's.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from locust import HttpUser, between, task

_COOKIES: dict[str, list[dict[str, str]]] = json.loads(Path(os.environ["SG_COOKIES"]).read_text())
_SESSIONS = {role: itertools.cycle(sets) for role, sets in _COOKIES.items()}


class SignedIn(HttpUser):
    """A signed-in account of the city's scope; the subclasses are its role's tasks."""

    abstract = True
    role = ""
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        """Take the next signed-in session (several users may share one, as tabs of one browser)."""
        cookies = next(_SESSIONS[self.role])
        self.client.cookies.update(cookies)
        self.client.headers["X-CSRFToken"] = cookies.get("_csrf_token", "")


class Leader(SignedIn):
    """Drill-down from the city and back, the account check of every page."""

    weight = 2
    role = "leader"

    @task(3)
    def city(self) -> None:
        """The city's counties."""
        self.client.get("/api/map/units/411000/children.geojson", name="/api/map/units/[city]/children")

    @task(2)
    def county(self) -> None:
        """A county's townships."""
        self.client.get("/api/map/units/411002/children.geojson", name="/api/map/units/[county]/children")

    @task(1)
    def me(self) -> None:
        """The account (what every page asks first)."""
        self.client.get("/api/me")


class Inspector(SignedIn):
    """Search (on the primary: a callback-free route through geo.db.connect) and the map."""

    weight = 1
    role = "inspector"

    @task(2)
    def search(self) -> None:
        """Search enterprises by name."""
        self.client.get("/api/search?q=金地", name="/api/search")

    @task(1)
    def township(self) -> None:
        """A township's villages."""
        self.client.get("/api/map/units/411002001/children.geojson", name="/api/map/units/[township]/children")

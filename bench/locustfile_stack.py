"""Locust users of the stack bench (bench/bench_stack_load.py): every role, acting as the browser does.

Run by the bench (``locust -f bench/locustfile_stack.py --headless …``; loopback only) with

* ``SG_COOKIES`` — JSON ``{role_key: [cookie set, …]}``: sessions signed in through the form beforehand (a
  hundred argon2 checks at once would be the whole run); users of a role share them as tabs of one browser;
* ``SG_FLOWS`` — the requests the browser made per role and action (``bench/record_stack_flows.py``: page
  HTML, ``/_dash-layout``, the Dash callbacks with their bodies, map GeoJSON and point layers), replayed in
  order with the user's session and CSRF header;
* ``SG_WORK`` — JSON ``{role_key: [[hazard id, version], …]}``: reported hazards of a grid manager's scope the
  hazard loop works on (each once), and ``{"search": [words]}``;
* ``SG_THINK`` — think time between two actions, ``"min,max"`` seconds (default ``3,10``);
* ``SG_WRITES=0`` (optional) — read-only: no hazard loop, no reports, no 验收 (what the writes cost the cache);
* ``SG_HITS`` (optional) — a file to append one JSON line per request to (wall-clock start, name, ms, ok,
  what failed), and one per resend (below): the failure drill (bench/bench_stack_failover.py) cuts it into phases.

A request whose connection closed before any answer is sent once more, as browsers do: Chromium resends any
request that failed that way on a reused keep-alive connection (``HttpNetworkTransaction::ShouldResendRequest``),
so do Firefox and curl. nginx's old workers close idle client connections when a reload retires them, and a request
sent at that instant gets none. python-requests does not; each resend is written to ``SG_HITS`` (``"resent"``).

The hazard loop: a grid manager takes the next reported hazard of its scope through 开始整改 → 登记整改情况
(五到位) → 提交验收, one action per think time, each the hazard page's callback with the version it holds;
an inspector of the same township (a different account, as the rule wants) takes 验收通过并销号 from the
queue the grid managers fill. Grid managers also 登记 new hazards (the report form's callback, a fresh
idempotency key each). A callback answered with a refusal or a conflict counts as a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from locust import HttpUser, between, events, task
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

_COOKIES: dict[str, list[dict[str, str]]] = json.loads(Path(os.environ["SG_COOKIES"]).read_text())
_FLOWS: dict[str, dict[str, list[dict[str, Any]]]] = json.loads(Path(os.environ["SG_FLOWS"]).read_text())
_WORK: dict[str, Any] = json.loads(Path(os.environ["SG_WORK"]).read_text())
_SESSIONS = {role: itertools.cycle(sets) for role, sets in _COOKIES.items()}
_TODO: dict[str, deque[list[int]]] = {k: deque(v) for k, v in _WORK.items() if k.startswith("gm")}
_VERIFY: dict[str, deque[tuple[int, int]]] = {}  # township code → hazards submitted, waiting for 验收
_THINK = [float(x) for x in os.environ.get("SG_THINK", "3,10").split(",")]
_WRITES = os.environ.get("SG_WRITES", "1") != "0"
_UPDATE = "/_dash-update-component"
_JSON = {"Content-Type": "application/json"}
_CODE = re.compile(r"\d{6,}")
_HID = re.compile(r"id=\d+")
_PLAN = {"resp_person": "张工", "resp_person_phone": "13800000000", "measures": "更换配电箱并接地，专人复查",
         "funds_yuan": "2000", "contingency_plan": "断电隔离，设置警示"}


if os.environ.get("SG_HITS"):
    _hits = open(os.environ["SG_HITS"], "a", buffering=1)  # noqa: SIM115 - open for the whole run

    @events.request.add_listener
    def _record(name: str, response_time: float, exception: Any, response: Any, **_kw: Any) -> None:
        status = getattr(response, "status_code", 0)
        what = f"{status} {type(exception).__name__}: {str(exception)[:80]}" if exception else str(status)
        _hits.write(json.dumps({"at": time.time() - response_time / 1000, "name": name, "ms": round(response_time, 1),
                                "ok": exception is None, "what": what}, ensure_ascii=False) + "\n")


class BrowserResend(Retry):
    """Send a request once more when its connection closed before any answer (urllib3's ProtocolError), any method."""

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> Retry:
        """Note the resend in ``SG_HITS``, then let urllib3 count it."""
        error = kwargs.get("error")
        if isinstance(error, ProtocolError) and os.environ.get("SG_HITS"):
            _hits.write(json.dumps({"at": time.time(), "name": f"{method} {url}", "resent": True,
                                    "what": f"{type(error).__name__}: {str(error)[:80]}"}, ensure_ascii=False) + "\n")
        return super().increment(method, url, *args, **kwargs)


# read=1: one resend after ProtocolError (the only read error here: no read timeout is set); nothing else retried.
_RESEND = BrowserResend(total=1, connect=0, read=1, redirect=0, status=0, other=0, allowed_methods=None,
                        respect_retry_after_header=False, raise_on_status=False)


def route_name(req: dict[str, Any]) -> str:
    """Name a request for the statistics: the page, the route with codes as [code], or the callback's output."""
    path = req["path"]
    if req["method"] == "POST" and path.startswith(_UPDATE):
        body = json.loads(req["body"] or "{}")
        out = str(body.get("output", "?")).strip(".").split("...")[0]
        return f"cb {out}"[:60]
    base, _, query = path.partition("?")
    if base.startswith(("/api/", "/export/")):
        return _CODE.sub("[code]", base) + ("?…" if query else "")
    if base.startswith("/_dash"):
        return base
    return f"page {base}"


class RoleUser(HttpUser):
    """A signed-in account of one role: its recorded actions with think time, and its own tasks."""

    abstract = True
    role = ""
    wait_time = between(*_THINK)
    flow_weights: ClassVar[dict[str, int]] = {}

    def on_start(self) -> None:
        """Take the next signed-in session of the role (several users may share one, as tabs of one browser)."""
        self.client.mount("http://", HTTPAdapter(max_retries=_RESEND))
        cookies = next(_SESSIONS[self.role])
        self.client.cookies.update(cookies)
        self.client.headers["X-CSRFToken"] = cookies.get("_csrf_token", "")
        flows = _FLOWS[self.role]
        self._flows = [name for name in self.flow_weights if flows.get(name)]
        self._weights = [self.flow_weights[name] for name in self._flows]

    def replay(self, flow: str, fix: Callable[[str], str] = str) -> None:
        """Make the requests of one recorded action, in order (``fix`` rewrites paths and bodies)."""
        for req in _FLOWS[self.role][flow]:
            name = route_name(req)
            if req["method"] == "POST":
                self.client.post(fix(req["path"]), data=fix(req["body"] or "").encode(), headers=_JSON, name=name)
            else:
                self.client.get(fix(req["path"]), name=name)

    @task(10)
    def browse(self) -> None:
        """One recorded action of the role, chosen by weight."""
        if self._flows:
            self.replay(random.choices(self._flows, self._weights)[0])

    def search(self) -> None:
        """Type a word in the header search (the suggest callback)."""
        word = random.choice(_WORK["search"])
        body = {"output": "..search-results.children...search-results.hidden..",
                "outputs": [{"id": "search-results", "property": "children"},
                            {"id": "search-results", "property": "hidden"}],
                "inputs": [{"id": "search-input", "property": "value", "value": word}],
                "changedPropIds": ["search-input.value"], "parsedChangedPropsIds": ["search-input.value"]}
        self.client.post(_UPDATE, json=body, name="cb search-results.children")

    def act(self, hazard_id: int, version: int, action: str, values: dict[str, str]) -> int | None:
        """Click ``action`` on the hazard page at ``version``; return the new version (None: refused)."""
        go = {"action": action, "type": "hz-go"}
        body = {
            "output": "..hz-body.children...hz-msg.children...hz-key.data..",
            "outputs": [{"id": "hz-body", "property": "children"}, {"id": "hz-msg", "property": "children"},
                        {"id": "hz-key", "property": "data"}],
            "inputs": [[{"id": go, "property": "n_clicks", "value": 1}]],
            "state": [[{"id": {"action": action, "field": f, "type": "hz-in"}, "property": "value", "value": v}
                       for f, v in values.items()], [],
                      {"id": "hz-key", "property": "data", "value": {"id": hazard_id, "version": version}}],
        }
        body["changedPropIds"] = body["parsedChangedPropsIds"] = [json.dumps(go, separators=(",", ":"),
                                                                              sort_keys=True) + ".n_clicks"]
        with self.client.post(_UPDATE, json=body, name=f"cb hazard {action}", catch_response=True) as resp:
            try:
                key = resp.json()["response"]["hz-key"]["data"]
                message = json.dumps(resp.json()["response"].get("hz-msg", {}), ensure_ascii=False)
            except (ValueError, KeyError, TypeError):
                resp.failure(f"{resp.status_code} {resp.text[:120]}")
                return None
            if "已完成" not in message:
                resp.failure(message[:160])
                return None
            return int(key["version"])


class Leader(RoleUser):
    """市 leader: drill-down, ledger, overview, 待办, the big screen (and its refresh: a wall screen)."""

    weight = 5
    role = "leader_city"
    flow_weights: ClassVar[dict[str, int]] = {
        "map_open": 2, "map_drill": 4, "map_drill2": 2, "hazard_ledger": 2, "overview": 1, "todo": 1, "bigscreen": 1,
        "bigscreen_refresh": 3}


class CountyLeader(Leader):
    """县 leader (a county manager): the same, in one county."""

    weight = 10
    role = "leader_county"


class Planner(RoleUser):
    """规划分析: the map and the risk analysis page."""

    weight = 5
    role = "planner"
    flow_weights: ClassVar[dict[str, int]] = {"map_open": 2, "map_drill": 3, "risk": 2}


class GridManager(RoleUser):
    """网格管理员 of a township: the map, ledger, 待办, patrol, a hazard's page, and the hazard loop."""

    weight = 20
    role = "gm_town"
    flow_weights: ClassVar[dict[str, int]] = {
        "map_open": 2, "map_drill": 2, "hazard_ledger": 2, "todo": 2, "hazard_page": 1, "patrol": 1}
    township = "411071001"

    def on_start(self) -> None:
        """Sign in; no hazard in hand yet."""
        super().on_start()
        self._work: tuple[int, int, str] | None = None  # hazard, version, next action

    @task(4)
    def loop(self) -> None:
        """The next step of the hazard in hand: open its page, then start → record → submit (验收 queue)."""
        if not _WRITES:
            return
        if self._work is None:
            todo = _TODO.get(self.role)
            if not todo:
                return
            hid, version = todo.popleft()
            self.replay("hazard_page", lambda s: _HID.sub(f"id={hid}", s))
            self._work = (hid, version, "start")
            return
        hid, version, action = self._work
        values = {"note": "负载测试"} if action == "start" else {**_PLAN, "note": "负载测试"}
        new = self.act(hid, version, action, values)
        if new is None or action == "submit":
            self._work = None
            if new is not None:
                _VERIFY.setdefault(self.township, deque()).append((hid, new))
            return
        self._work = (hid, new, "record" if action == "start" else "submit")

    @task(1)
    def report(self) -> None:
        """登记 a hazard at an enterprise of the scope (the report form's callback, a fresh idempotency key)."""
        if not _WRITES:
            return
        enterprise = random.choice(_WORK[f"{self.role}_enterprises"])
        state = [{"id": "hzn-name", "property": "value", "value": "负载测试隐患"},
                 {"id": "hzn-level", "property": "value", "value": "general"},
                 {"id": "hzn-deadline", "property": "date", "value": _WORK["deadline"]},
                 {"id": "hzn-desc", "property": "value", "value": "负载测试"},
                 {"id": "hzn-place", "property": "data", "value": {"enterprise_id": enterprise}},
                 {"id": "hzn-key", "property": "data", "value": uuid.uuid4().hex}, [],
                 {"id": {"action": "report", "field": "photos", "type": "hz-in"}, "property": "value", "value": None}]
        body = {"output": "..hzn-nav.href...hzn-msg.children..",
                "outputs": [{"id": "hzn-nav", "property": "href"}, {"id": "hzn-msg", "property": "children"}],
                "inputs": [{"id": "hzn-submit", "property": "n_clicks", "value": 1}], "state": state,
                "changedPropIds": ["hzn-submit.n_clicks"], "parsedChangedPropsIds": ["hzn-submit.n_clicks"]}
        with self.client.post(_UPDATE, json=body, name="cb hazard report", catch_response=True) as resp:
            if "hazard?id=" not in resp.text:  # the new hazard's page (the slash comes as \\u002f)
                resp.failure(f"{resp.status_code} {resp.text[:160]}")

    @task(2)
    def search_task(self) -> None:
        """Search an enterprise."""
        self.search()


class CellManager(GridManager):
    """网格管理员 of one grid cell."""

    weight = 30
    role = "gm_grid"


class Inspector(RoleUser):
    """执法检查人员 of a township: search, the map, ledgers, a hazard's page, and 验收 of submitted hazards."""

    weight = 20
    role = "insp_town"
    flow_weights: ClassVar[dict[str, int]] = {
        "map_open": 2, "map_drill": 2, "hazard_ledger": 2, "todo": 1, "hazard_page": 1, "inspections": 1}
    township = "411071001"

    @task(4)
    def search_task(self) -> None:
        """Search an enterprise."""
        self.search()

    @task(3)
    def verify(self) -> None:
        """验收通过并销号 the next hazard a grid manager of the township submitted."""
        queue = _VERIFY.get(self.township)
        if queue:
            hid, version = queue.popleft()
            self.act(hid, version, "pass", {"note": "现场复查合格"})


class CountyInspector(Inspector):
    """执法检查人员 of a county."""

    weight = 10
    role = "insp_county"

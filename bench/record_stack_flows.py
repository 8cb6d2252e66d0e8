"""Record what the browser asks, per role and user action, for the Locust users of the stack bench (issue 20).

    .venv/bin/python bench/record_stack_flows.py --base http://127.0.0.1:8160 --accounts ACCOUNTS.json \
        [--out bench/stack_flows.json]

Headless Chromium signs in as each account of ``ACCOUNTS.json`` (``{role_key: {"user", "password", "scope",
"hazard"}}``, written by ``bench/bench_stack_load.py prepare``) and takes the actions of its role (open the
command map, drill into a child through the side list, the big screen, the hazard ledger, a hazard's page,
待办, …). Every request the page makes to the app between two actions — page HTML, ``/_dash-layout``,
``/_dash-dependencies``, each Dash callback POST with its body, map GeoJSON and point layers — is written as
one *flow* (static files under ``/assets`` and ``/_dash-component-suites`` are left out: a browser caches
them). The locustfile replays the flows with the user's own session and CSRF header.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.browser import CHROMIUM, CHROMIUM_ARGS, _csp_safe_wait, login  # noqa: E402

STATIC = ("/assets/", "/_dash-component-suites/", "/_favicon", "/favicon")
DRILL = "a.cm-drill"


def flows_for(role_key: str, acct: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The actions of a role: (flow name, steps); a step is ("goto", path), ("click", selector), ("type",
    "selector|text") or ("await", text) (wait up to 150 s for a callback whose body names it: the big screen's
    refresh, its 60 s interval)."""
    scope, hazard = acct["scope"], acct.get("hazard")
    open_map = ("map_open", [("goto", f"/?unit={scope}")])
    drill = ("map_drill", [("click", DRILL)])
    ledger = ("hazard_ledger", [("goto", "/hazards")])
    if role_key.startswith("leader"):
        return [open_map, drill, ("map_drill2", [("click", DRILL)]), ledger, ("overview", [("goto", "/overview")]),
                ("todo", [("goto", "/todo")]), ("bigscreen", [("goto", "/bigscreen")]),
                ("bigscreen_refresh", [("await", "bs-tick")])]
    if role_key == "planner":
        return [open_map, drill, ("risk", [("goto", "/risk")])]
    pages = [open_map, *([drill] if role_key != "gm_grid" else []), ledger, ("todo", [("goto", "/todo")])]
    if hazard:
        pages.append(("hazard_page", [("goto", f"/hazard?id={hazard}")]))
    if role_key.startswith("gm"):
        return [*pages, ("patrol", [("goto", "/patrol")])]
    return [*pages, ("inspections", [("goto", "/inspections")])]


def posting(words: str) -> Callable[[Any], bool]:
    """A predicate: a POST whose body contains ``words``."""
    return lambda req: req.method == "POST" and words in (req.post_data or "")


def settle(page: Any) -> None:
    """Wait until the page's requests are done (at most 60 s) and its debounced callbacks ran."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=60_000)
    page.wait_for_timeout(1500)


def take(page: Any, base: str, steps: list[tuple[str, str]]) -> None:
    """Take the steps of one action in the page, each followed by :func:`settle`."""
    for kind, arg in steps:
        if kind == "goto":  # from a blank page: after /todo, the hazard page's navigation never ended (120 s)
            page.goto("about:blank")
            page.goto(base + arg, wait_until="commit")
        elif kind == "await":
            with page.expect_request(posting(arg), timeout=150_000):
                pass
        elif kind == "type":
            selector, _, words = arg.partition("|")
            page.fill(selector, words)
        elif page.locator(arg).count():
            page.locator(arg).first.click()
        settle(page)


Flows = dict[str, dict[str, list[dict[str, Any]]]]


def record(base: str, accounts: dict[str, dict[str, Any]], on_done: Callable[[Flows], None] | None = None) -> Flows:
    """Sign in as each account, take its actions, return {role_key: {flow: [request, …]}} (``on_done`` after each
    account with what is recorded so far)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Page, sync_playwright

    Page.wait_for_function = _csp_safe_wait(Page.wait_for_function)  # type: ignore[method-assign]
    out: Flows = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for role_key, acct in accounts.items():
            context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.set_default_timeout(120_000)  # a cold page at 1M may take tens of seconds
            login(page, base, acct["user"], acct["password"])
            settle(page)
            seen: list[dict[str, Any]] = []

            def on_request(req: Any, seen: list[dict[str, Any]] = seen) -> None:
                parts = urlsplit(req.url)
                if not req.url.startswith(base) or parts.path.startswith(STATIC):
                    return
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                seen.append({"method": req.method, "path": path, "body": req.post_data})

            page.on("request", on_request)
            out[role_key] = {}
            for name, steps in flows_for(role_key, acct):
                seen.clear()
                try:
                    take(page, base, steps)
                except PlaywrightError as exc:  # a step that cannot be taken: the flow stays empty, the rest go on
                    print(f"{role_key:16} {name:14} failed: {str(exc).splitlines()[0]}", flush=True)
                    seen.clear()
                out[role_key][name] = list(seen)
                print(f"{role_key:16} {name:14} {len(seen):3d} requests", flush=True)
            context.close()
            if on_done:
                on_done(out)
        browser.close()
    return out


def main() -> None:
    """Record and write the flows."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--accounts", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "stack_flows.json")
    ap.add_argument("--only", default="", help="comma-separated accounts to record again (merged into --out)")
    args = ap.parse_args()
    accounts = json.loads(args.accounts.read_text())
    only = [k for k in args.only.split(",") if k]
    flows = json.loads(args.out.read_text()) if only and args.out.exists() else {}

    def write(recorded: Flows) -> None:
        args.out.write_text(json.dumps({**flows, **recorded}, ensure_ascii=False, indent=1))

    record(args.base.rstrip("/"), {k: v for k, v in accounts.items() if not only or k in only}, write)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

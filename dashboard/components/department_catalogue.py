"""The department catalogue's section of /admin/rules (issue 18 part 5): edit, save, re-map the enterprises.

One line per department, “代码 | 名称 | 行业、行业 | 别名、别名” (domain/catalogues.py ``departments_text``); lines
add departments or replace a default's name, industries and aliases; no department can be removed. Saving is
versioned (the version read with the form travels in a ``dcc.Store``), a double submit changes nothing, audited
(``geo.rule_settings.save_departments``); a change re-maps every enterprise's ``dept_code`` from its 行业主管部门
text and industry in the same transaction. Only a city-wide administrator saves. Ids are prefixed
``rules-dept-``.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard.roles import Capability
from dashboard.scope import callback_scope, current_account
from domain.catalogues import CatalogueError, departments_from_text, departments_text
from geo import rule_settings
from geo.db import connect
from geo.departments import assign_departments, unnamed_note

MAX_TEXT = 20_000


def department_section() -> html.Section:
    """Return the section: the catalogue in force as text, its version, the save button and the result line."""
    with connect() as conn:
        catalogue, version = rule_settings.department_state(conn)
    return html.Section([
        html.H3("监管部门目录"),
        html.P("管行业必须管安全：每行一个部门，“代码 | 名称 | 监管行业、行业 | 别名、别名”。企业台账的“行业主管部门”"
               "按名称或别名归入部门（如“许昌市住建局”→ 住房和城乡建设局），未写明或无法识别时按行业归入第一个"
               "监管该行业的部门；部门账户只能查看本部门监管的企业。代码为小写字母，保存后不能删除部门。",
               className="sg-note"),
        dcc.Textarea(id="rules-dept-text", value=departments_text(catalogue),
                     style={"width": "100%", "height": "16em", "fontFamily": "inherit"}),
        dcc.Store(id="rules-dept-version", data=version),
        html.Button("保存部门目录", id="rules-dept-save", n_clicks=0, style={"margin": "0.6em 0"}),
        html.Div(id="rules-dept-result", role="status"),
    ], className="rules-departments")


def register_department_catalogue(app: Dash) -> None:
    """Add the save callback."""

    @app.callback(
        Output("rules-dept-result", "children"), Output("rules-dept-version", "data"),
        Input("rules-dept-save", "n_clicks"), State("rules-dept-text", "value"), State("rules-dept-version", "data"),
        prevent_initial_call=True,
    )
    def save_departments(_n: int | None, value: str | None, version: str | None) -> tuple[Any, Any]:
        callback_scope(Capability.MANAGE_USERS)
        account = current_account()
        if account.record.scope_level != 1 or account.department is not None:
            return html.P("部门目录对全市生效，只有全市范围的系统管理员可以修改。", className="sg-alert"), no_update
        try:
            with connect() as conn:
                catalogue = departments_from_text(str(value or "")[:MAX_TEXT], rule_settings.industry_catalogue(conn))
                new_version, changed = rule_settings.save_departments(conn, catalogue, username=account.username,
                                                                      version=str(version or ""))
                moved, unnamed = assign_departments(conn, catalogue, loaded=False) if changed else (0, [])
        except CatalogueError as exc:
            return html.P(str(exc), className="sg-alert rules-error"), no_update
        if not changed:
            return html.P("部门目录没有变化。", className="sg-note", id="rules-dept-saved"), new_version
        lines = [f"已保存部门目录：{len(catalogue.departments)} 个部门，{moved} 家企业的监管部门随之调整。"]
        note = unnamed_note(unnamed)
        return html.Div([html.P(line, className="sg-note") for line in (*lines, *([note] if note else []))],
                        id="rules-dept-saved"), new_version

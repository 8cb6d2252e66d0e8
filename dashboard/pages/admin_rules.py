"""规则设置 ``/admin/rules``: the four-colour rule, 四查 cadences, staffing, 延期, 存量 cut-off and three sections.

The sections: the industry catalogue, the scorecard weights (考核权重) and the five-year targets (五年目标).
An administrator of the whole city edits the values, previews how many units change colour per level,
and applies: a new rule version is stored in ``app_config`` with who and when (audited), the units are
re-scored at once and the full refresh runs (``safegrid etl refresh`` in a child process: the dashboard
does not import ``etl``). Bad values are refused with the Chinese message of ``domain.rules_config``.
The catalogue, the weights and the targets are saved each by its own button: versioned against a concurrent
edit (the version read with the form travels in a ``dcc.Store``), a double submit changes nothing, audited
(``geo.rule_settings.save_catalogue``, ``geo.app_settings.save_config``). Ids are prefixed ``rules-``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboard.components.department_catalogue import department_section, register_department_catalogue
from dashboard.pages import Page
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, current_account
from domain import clock
from domain.cadence import CADENCE_LABEL
from domain.catalogues import CatalogueError, catalogue_from_text, catalogue_text
from domain.labels import DUTY_ROLE, LEVEL, RISK_INPUT, RISK_LEVEL
from domain.risk_rule import LEVELS, MODES
from domain.rules_config import (
    MAX_EXTENSIONS_LIMIT,
    NOT_ASSESSED,
    RuleSettings,
    RuleSettingsError,
    describe_modes,
    settings_form,
    settings_from_form,
)
from domain.scorecards import KPI_LABELS, MAX_WEIGHT, ScorecardSettingsError, weights_from_form
from domain.targets import INDICATORS, SOURCE_MAX, TargetSettingsError, targets_form, targets_from_form, years_label
from geo import rule_settings
from geo.app_settings import SettingsConflictError
from geo.db import connect
from geo.scorecard_weights import save_weights, weights_state
from geo.targets import data_years, save_target_settings, targets_state

FIELDS = tuple(settings_form(RuleSettings()))
_TARGET_FIELDS = ("baseline_year", "target_year", *(ind.key for ind in INDICATORS), "source")
REFRESH_TIMEOUT_S = 600
COLOURS = ("red", "orange", "yellow", "blue")
CADENCE_OPTIONS = [*({"label": label, "value": key} for key, label in CADENCE_LABEL.items()),
                   {"label": "不考核", "value": NOT_ASSESSED}]


def _field_id(key: str) -> str:
    return f"rules-f-{key}"


def _number(key: str, value: Any, *, step: str = "any") -> dcc.Input:
    return dcc.Input(id=_field_id(key), type="number", value=value, step=step, min=0, debounce=False,
                     className="rules-num", style={"width": "6em"})


def _form(values: dict[str, Any]) -> html.Div:
    weights = html.Table([
        html.Thead(html.Tr([html.Th("输入项"), html.Th("权重（分/个）")])),
        html.Tbody([html.Tr([html.Td(html.Label(label, htmlFor=_field_id(f"w_{key}"))),
                             html.Td(_number(f"w_{key}", values[f"w_{key}"]))]) for key, label in RISK_INPUT.items()]),
    ], className="sg-table rules-weights")
    thresholds = html.Div([
        *[html.Span([html.Label(f"{RISK_LEVEL[c]}色阈值 ≥", htmlFor=_field_id(f"t_{c}")),
                     _number(f"t_{c}", values[f"t_{c}"])], className="rules-pair")
          for c in ("red", "orange", "yellow")],
        html.Span([html.Label("最小企业数", htmlFor=_field_id("min_enterprises")),
                   _number("min_enterprises", values["min_enterprises"], step="1")], className="rules-pair"),
    ], className="rules-row")
    modes = html.Table([
        html.Thead(html.Tr([html.Th("层级"), html.Th("地图着色规则"), html.Th("四查周期"),
                            *[html.Th(f"{DUTY_ROLE[r]}（人）") for r in DUTY_ROLE]])),
        html.Tbody([html.Tr([
            html.Td(LEVEL[lv]),
            html.Td(dcc.Dropdown(id=_field_id(f"mode_{lv}"), value=values[f"mode_{lv}"], clearable=False,
                                 options=[{"label": label, "value": key} for key, label in MODES.items()],
                                 style={"width": "8em"})),
            html.Td(dcc.Dropdown(id=_field_id(f"cadence_{lv}"), value=values[f"cadence_{lv}"], clearable=False,
                                 options=CADENCE_OPTIONS, style={"width": "7em"})),
            *[html.Td(_number(f"staff_{lv}_{role}", values[f"staff_{lv}_{role}"], step="1")) for role in DUTY_ROLE],
        ]) for lv in LEVELS]),
    ], className="sg-table rules-levels")
    return html.Div([
        html.H3("风险指数的权重"), weights,
        html.H3("风险指数的阈值"),
        html.P("得分 = Σ(权重 × 数量) ÷ max(企业数, 最小企业数)；得分达到阈值即为该色（阈值含等号）。",
               className="sg-note"),
        thresholds,
        html.H3("各层级的着色规则与人员配备"),
        html.P("就高：区域取其内最高的颜色（红色企业、未销号重大隐患、一级重大危险源为红；橙色企业、二级重大危险源为橙）。"
               "风险指数：按上面的得分和阈值定色。四查周期：该层级的人员多久须有一次本级检查或巡查（市季查、县月查、乡周查、村日查）。"
               "人员配备为每个单位应配的人数（空位计入缺员）。", className="sg-note"),
        modes,
        html.H3("隐患延期"),
        html.Div([html.Label(f"每条隐患最多延期次数（0-{MAX_EXTENSIONS_LIMIT}）", htmlFor=_field_id("max_extensions")),
                  _number("max_extensions", values["max_extensions"], step="1")], className="rules-pair"),
        html.H3("动态清零"),
        html.Div([html.Label("存量截止日期（含当日；此日及以前发现的重大隐患为存量）",
                             htmlFor=_field_id("stock_cutoff")),
                  dcc.Input(id=_field_id("stock_cutoff"), type="text", value=values["stock_cutoff"],
                            placeholder="2023-12-31", style={"width": "8em"})], className="rules-pair"),
    ], className="rules-form")


def _history(rows: list[dict[str, Any]]) -> html.Div:
    if not rows:
        return html.Div(html.P("尚未通过本页修改过规则（使用默认规则，版本 1）。", className="sg-note"),
                        id="rules-history")
    body = [html.Tr([html.Td(r.get("version")), html.Td(str(r.get("at", ""))[:16].replace("T", " ")),
                     html.Td(r.get("by")), html.Td("，".join(f"{LEVEL[int(lv)]} {n}" for lv, n in
                                                            (r.get("changed") or {}).items() if n) or "无颜色变化"),
                     html.Td(r.get("note") or "")]) for r in rows[:20]]
    return html.Div(html.Table([html.Thead(html.Tr([html.Th(h) for h in ("版本", "时间", "操作人", "改变颜色的单位",
                                                                          "说明")])), html.Tbody(body)],
                               className="sg-table"), id="rules-history")


def _catalogue_section(industries: str, groups: str, version: str) -> html.Section:
    area: dict[str, Any] = {"style": {"width": "100%", "height": "16em", "fontFamily": "inherit"}}
    return html.Section([
        html.H3("行业目录"),
        html.P("每行一个行业：“行业名称: 别名、别名”（导入台账时别名按行业名称入库，不在目录中的行业原样保留，"
               "在“覆盖质量”中列出）；行业组每行“组名: 行业、行业”，用于风险分析按行业组着色。"
               "默认目录中的行业不能删除，只能增加别名。", className="sg-note"),
        html.Div([
            html.Div([html.Label("行业与别名", htmlFor="rules-industries"),
                      dcc.Textarea(id="rules-industries", value=industries, **area)], style={"flex": "3"}),
            html.Div([html.Label("行业组", htmlFor="rules-groups"),
                      dcc.Textarea(id="rules-groups", value=groups, **area)], style={"flex": "2"}),
        ], style={"display": "flex", "gap": "1em"}),
        dcc.Store(id="rules-catalogue-version", data=version),
        html.Button("保存行业目录", id="rules-catalogue-save", n_clicks=0, style={"margin": "0.6em 0"}),
        html.Div(id="rules-catalogue-result", role="status"),
    ], className="rules-catalogue")


def _checked_number(id_: str, value: Any, *, step: str = "any") -> dcc.Input:
    """Return a number field without min/max: the browser passes what was typed and the domain gives the reason."""
    return dcc.Input(id=id_, type="number", value=value, step=step, className="rules-num", style={"width": "6em"})


def _weights_section(weights: dict[str, float], version: str) -> html.Section:
    rows = [html.Tr([html.Td(html.Label(label, htmlFor=f"rules-sw-{key}")),
                     html.Td(_checked_number(f"rules-sw-{key}", weights[key]))])
            for key, label in KPI_LABELS.items()]
    return html.Section([
        html.H3("季度考核权重"),
        html.P(f"季度考核得分 = 各指标得分按权重加权（满分 100）：比率指标取比率，数量指标 n 取 1/(1+n)。"
               f"权重为 0-{MAX_WEIGHT} 的数，0 表示不计入，权重之和须大于 0。保存后“季度考核”页与通报按新权重排名。",
               className="sg-note"),
        html.Table([html.Thead(html.Tr([html.Th("指标"), html.Th("权重")])), html.Tbody(rows)],
                   className="sg-table rules-sw"),
        dcc.Store(id="rules-sw-version", data=version),
        html.Button("保存考核权重", id="rules-sw-save", n_clicks=0, style={"margin": "0.6em 0"}),
        html.Div(id="rules-sw-result", role="status"),
    ], className="rules-scorecard-weights")


def _targets_section(values: dict[str, Any], version: str, years: list[int]) -> html.Section:
    def year(key: str, label: str) -> html.Span:
        return html.Span([html.Label(label, htmlFor=f"rules-tg-{key}"),
                          _checked_number(f"rules-tg-{key}", values[key], step="1")], className="rules-pair")

    have = f"已有事故或分母数据的年份：{years_label(years)}" if years else "尚未导入事故或分母数据"
    return html.Section([
        html.H3("“十四五”（五年）目标"),
        html.P(f"与基准年相比，到目标年各指标的下降比例（%，0-100）；各年按基准到目标的直线判断是否在进度内。"
               f"基准年须有数据（{have}）。", className="sg-note", id="rules-tg-years"),
        html.Div([year("baseline_year", "基准年份"), year("target_year", "目标年份")], className="rules-row"),
        html.Table([
            html.Thead(html.Tr([html.Th("指标"), html.Th("下降比例（%）")])),
            html.Tbody([html.Tr([html.Td(html.Label(ind.label, htmlFor=f"rules-tg-{ind.key}")),
                                 html.Td(_checked_number(f"rules-tg-{ind.key}", values[ind.key]))])
                        for ind in INDICATORS]),
        ], className="sg-table rules-tg"),
        html.Div([html.Label("目标来源", htmlFor="rules-tg-source"),
                  dcc.Input(id="rules-tg-source", type="text", value=values["source"], maxLength=SOURCE_MAX,
                            style={"width": "36em"})], className="rules-pair"),
        dcc.Store(id="rules-tg-version", data=version),
        html.Button("保存五年目标", id="rules-tg-save", n_clicks=0, style={"margin": "0.6em 0"}),
        html.Div(id="rules-tg-result", role="status"),
    ], className="rules-targets")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the settings form filled with the rules in force, the preview area and the version history."""
    with connect() as conn:
        settings = rule_settings.current(conn)
        versions = rule_settings.history(conn)
        catalogue, catalogue_version = rule_settings.catalogue_state(conn)
        weights, weights_version = weights_state(conn)
        targets, targets_version = targets_state(conn)
        years = data_years(conn)
    return html.Div([
        html.H2("规则设置"),
        html.P([f"当前规则版本 {settings.risk.version}；地图着色：{describe_modes(settings.risk)}。",
                "修改后先“预览”各层级改变颜色的单位数，再“应用”：应用会记录新版本（操作人、时间，记入审计日志）并重新计算全部派生数据。"],
               className="sg-note", id="rules-current"),
        _form(settings_form(settings)),
        html.Div([
            html.Label("修改说明", htmlFor="rules-note"),
            dcc.Input(id="rules-note", type="text", maxLength=200, placeholder="例如：按 2027 年评估结果调整",
                      style={"width": "24em"}),
            html.Button("预览", id="rules-preview", n_clicks=0),
            html.Button("应用", id="rules-apply", n_clicks=0, disabled=True, title="请先预览"),
        ], className="rules-actions", style={"display": "flex", "gap": "0.6em", "alignItems": "center",
                                             "margin": "1em 0"}),
        dcc.Store(id="rules-previewed"),
        dcc.Loading(html.Div(id="rules-result", role="status")),
        html.H3("规则版本记录"),
        _history(versions),
        _catalogue_section(*catalogue_text(catalogue), catalogue_version),
        department_section(),
        _weights_section(weights, weights_version),
        _targets_section(targets_form(targets), targets_version, years),
    ], className="rules-page")


def _preview_table(changes: dict[int, dict[str, Any]]) -> html.Div:
    def dist(counts: dict[str, int]) -> str:
        return " ".join(f"{RISK_LEVEL[c]} {counts.get(c, 0)}" for c in COLOURS)

    rows = [html.Tr([html.Td(LEVEL[lv]), html.Td(c["units"]), html.Td(c["changed"], className="rules-changed"),
                      html.Td(dist(c["before"])), html.Td(dist(c["after"])), html.Td("、".join(c["examples"]))],
                    id=f"rules-preview-level-{lv}") for lv, c in changes.items()]
    total = sum(c["changed"] for c in changes.values())
    return html.Div([
        html.P(f"预览：共 {total} 个单位将改变颜色。确认无误后点击“应用”。", className="sg-note",
               id="rules-preview-total"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in ("层级", "单位数", "改变颜色", "现在", "应用后", "例如")])),
                    html.Tbody(rows)], className="sg-table", id="rules-preview-table"),
    ])


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _run_refresh() -> str:
    """Run the full refresh in a child process (``safegrid etl refresh``); return its message."""
    try:
        done = subprocess.run([sys.executable, "-m", "safegrid", "etl", "refresh"], capture_output=True,
                              text=True, timeout=REFRESH_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return "派生数据刷新超时，将由下一次定时刷新完成。"
    out = (done.stdout or done.stderr).strip().splitlines()
    return (out[-1] if out else "") if done.returncode == 0 else f"派生数据刷新未完成：{out[-1] if out else ''}"


def _city_admin() -> str | None:
    """Return the refusal for a caller who may not change city-wide settings, None for a city administrator."""
    callback_scope(Capability.MANAGE_USERS)
    if current_account().record.scope_level != 1:
        return "规则对全市生效，只有全市范围的系统管理员可以修改。"
    return None


def _saved(kind: str, changed: bool, new_version: str, done: str) -> tuple[Any, Any]:
    """Return the result line and the new version after a save (``kind``: ``sw`` weights, ``tg`` targets)."""
    text = done if changed else "没有变化。"
    return html.P(text, className="sg-note", id=f"rules-{kind}-saved"), new_version


def _refused(message: str) -> tuple[Any, Any]:
    return html.P(message, className="sg-alert rules-error"), no_update


def register(app: Dash) -> None:
    """Add the preview and apply callback and the catalogue's, weights' and targets' save callbacks."""
    register_department_catalogue(app)

    @app.callback(
        Output("rules-sw-result", "children"), Output("rules-sw-version", "data"),
        Input("rules-sw-save", "n_clicks"), *[State(f"rules-sw-{k}", "value") for k in KPI_LABELS],
        State("rules-sw-version", "data"), prevent_initial_call=True,
    )
    def save_scorecard_weights(_n: int | None, *rest: Any) -> tuple[Any, Any]:
        refused = _city_admin()
        if refused:
            return _refused(refused)
        values, version = dict(zip(KPI_LABELS, rest[:-1], strict=True)), str(rest[-1] or "")
        try:
            weights = weights_from_form(values)
            with connect() as conn:
                new_version, changed = save_weights(conn, weights, username=current_account().username,
                                                    version=version)
        except (ScorecardSettingsError, SettingsConflictError) as exc:
            return _refused(str(exc))
        return _saved("sw", changed, new_version,
                      "已保存考核权重：" + "，".join(f"{KPI_LABELS[k]} {w:g}" for k, w in weights.items()) + "。")

    @app.callback(
        Output("rules-tg-result", "children"), Output("rules-tg-version", "data"),
        Input("rules-tg-save", "n_clicks"), *[State(f"rules-tg-{k}", "value") for k in _TARGET_FIELDS],
        State("rules-tg-version", "data"), prevent_initial_call=True,
    )
    def save_targets(_n: int | None, *rest: Any) -> tuple[Any, Any]:
        refused = _city_admin()
        if refused:
            return _refused(refused)
        values, version = dict(zip(_TARGET_FIELDS, rest[:-1], strict=True)), str(rest[-1] or "")
        try:
            with connect() as conn:
                settings = targets_from_form(values, data_years=data_years(conn))
                new_version, changed = save_target_settings(conn, settings=settings,
                                                            username=current_account().username, version=version)
        except (TargetSettingsError, SettingsConflictError) as exc:
            return _refused(str(exc))
        return _saved("tg", changed, new_version,
                      f"已保存五年目标：基准 {settings.baseline_year} 年，目标 {settings.target_year} 年。")

    @app.callback(
        Output("rules-catalogue-result", "children"), Output("rules-catalogue-version", "data"),
        Input("rules-catalogue-save", "n_clicks"), State("rules-industries", "value"), State("rules-groups", "value"),
        State("rules-catalogue-version", "data"), prevent_initial_call=True,
    )
    def save_catalogue(_n: int | None, industries: str | None, groups: str | None,
                       version: str | None) -> tuple[Any, Any]:
        refused = _city_admin()
        if refused:
            return html.P(refused, className="sg-alert"), no_update
        try:
            catalogue = catalogue_from_text(str(industries or "")[:20_000], str(groups or "")[:20_000])
            with connect() as conn:
                new_version, changed = rule_settings.save_catalogue(
                    conn, catalogue, username=current_account().username, version=str(version or ""))
        except CatalogueError as exc:
            return html.P(str(exc), className="sg-alert rules-error"), no_update
        done = f"已保存行业目录：{len(catalogue.industries)} 个行业、{len(catalogue.groups)} 个行业组。" if changed \
            else "行业目录没有变化。"
        return html.P(done, className="sg-note", id="rules-catalogue-saved"), new_version

    @app.callback(
        Output("rules-result", "children"), Output("rules-previewed", "data"), Output("rules-apply", "disabled"),
        Output("rules-history", "children"), Output("rules-current", "children"),
        Input("rules-preview", "n_clicks"), Input("rules-apply", "n_clicks"),
        *[Input(_field_id(k), "value") for k in FIELDS],
        State("rules-previewed", "data"), State("rules-note", "value"), prevent_initial_call=True,
    )
    def act(_preview: int | None, _apply: int | None, *rest: Any) -> tuple[Any, ...]:
        refused = _city_admin()
        if refused:
            return html.P(refused, className="sg-alert"), None, True, no_update, no_update
        account = current_account()
        values = dict(zip(FIELDS, rest[:len(FIELDS)], strict=True))
        previewed, note = rest[len(FIELDS)], str(rest[len(FIELDS) + 1] or "").strip()
        trigger = ctx.triggered_id
        if trigger not in ("rules-preview", "rules-apply"):
            # a value changed: the preview no longer describes it
            return "", None, True, no_update, no_update
        try:
            settings = settings_from_form(values, version="预览")
        except RuleSettingsError as exc:
            return html.P(str(exc), className="sg-alert rules-error"), None, True, no_update, no_update
        digest = _digest(values)
        if trigger == "rules-preview":
            with connect() as conn:
                changes = rule_settings.preview(conn, settings)
            return _preview_table(changes), digest, False, no_update, no_update
        if previewed != digest:
            return (html.P("设置已改动，请先重新预览。", className="sg-alert"), None, True, no_update,
                    no_update)
        with connect() as conn:
            version = rule_settings.apply(conn, settings, username=account.username, as_of=clock.today(), note=note)
        refreshed = _run_refresh()
        with connect() as conn:
            current = rule_settings.current(conn)
            versions = rule_settings.history(conn)
        return (html.P(f"已应用规则版本 {version}。{refreshed}", className="sg-note", id="rules-applied"), None, True,
                _history(versions).children,
                f"当前规则版本 {current.risk.version}；地图着色：{describe_modes(current.risk)}。")


PAGE = Page(path="/admin/rules", title="规则设置", layout=layout, register=register,
            capability=Capability.MANAGE_USERS, order=91)

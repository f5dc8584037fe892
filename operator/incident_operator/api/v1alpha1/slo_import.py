"""Converting Sloth, Pyrra and OpenSLO SLO documents into our ServiceLevelObjective manifests.

A pure function: parsed documents in, manifests (validated against the ServiceLevelObjective
model, the only schema) plus the list of what could not be carried over, field by field, out.
A document that cannot be converted at all raises ``ConversionError`` naming it and the field.

What maps (see docs/slo-interop.md, "Importing SLOs"):

- Sloth (``version: prometheus/v1`` spec files, ``sloth.slok.dev/v1`` PrometheusServiceLevel):
  one manifest per SLO; events SLIs become a ratio indicator (``{{.window}}`` becomes
  ``{{window}}``); Sloth's 30d windows are our default table, page and ticket pairs are dropped
  when Sloth disables them.
- Pyrra (``pyrra.dev/v1alpha1`` ServiceLevelObjective): ratio, latency (histogram), native
  latency and bool-gauge indicators; Pyrra's own window pairs for the SLO window.
- OpenSLO (``openslo/v1`` SLO with an inline indicator or an ``indicatorRef`` to an SLI
  document, and Sloth's ``openslo/v1alpha``): one manifest per objective, Prometheus ratio
  metrics only.

With ``recorded=True`` Sloth and Pyrra SLOs read the series those tools record (a ``recorded``
indicator) instead of carrying their queries over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from incident_operator.domain.durations import format_duration, parse_duration
from incident_operator.domain.slo import WORKBOOK_PAIRS, WindowPair, pyrra_pairs

from .documents import Source
from .slo import ServiceLevelObjective

API_VERSION = "sre.dev/v1alpha1"
KIND = "ServiceLevelObjective"
W = "{{window}}"
"""Our window placeholder."""
SLOTH_WINDOW = "30d"
"""Sloth's default SLO period (``sloth generate --default-slo-period``); its alert windows
for 30d are the SRE Workbook's table, which is our default."""


class ConversionError(ValueError):
    """A document that cannot be imported: names the document and the field."""


@dataclass(frozen=True)
class Loss:
    """One field of a source document that the converted manifest does not carry."""

    document: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.document}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class Conversion:
    manifests: list[dict[str, Any]] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Documents that are not SLOs (e.g. OpenSLO Service, AlertPolicy), named."""


def convert(
    sources: Sequence[Source], *, recorded: bool = False, service: str | None = None
) -> Conversion:
    """Every SLO in ``sources`` as our manifests; raises ``ConversionError`` on the first
    document that cannot be converted (so nothing partial is returned)."""
    out = Conversion()
    slis = _openslo_slis(sources)
    for source in sources:
        if source.document is None:
            continue
        if not isinstance(source.document, dict):
            kind = type(source.document).__name__
            raise ConversionError(f"{source.where}: expected a mapping, got {kind}")
        converted = _dispatch(source.where, source.document, out, slis, recorded, service)
        for manifest, ctx in converted:
            if service is not None:
                manifest["spec"]["service"] = service
            _validate(ctx, manifest)
            out.manifests.append(manifest)
    return out


_Converted = list[tuple[dict[str, Any], "_Ctx"]]


def _dispatch(  # noqa: PLR0917 - private, called once
    where: str,
    doc: dict[str, Any],
    out: Conversion,
    slis: Mapping[str, dict[str, Any]],
    recorded: bool,
    service: str | None,
) -> _Converted:
    kind, api = doc.get("kind"), str(doc.get("apiVersion", ""))
    name = _metadata(doc).get("name", "?")
    if doc.get("version") == "prometheus/v1" and kind is None:
        ctx = _Ctx(f"{where} (Sloth spec {doc.get('service', '?')})", out.losses)
        return _sloth(ctx, doc, "", recorded)
    if kind == "PrometheusServiceLevel" and api.startswith("sloth.slok.dev/"):
        ctx = _Ctx(f"{where} (PrometheusServiceLevel {name})", out.losses)
        return _sloth(ctx, _mapping(ctx, doc, "spec"), "spec.", recorded, _metadata(doc))
    if kind == "ServiceLevelObjective" and api.startswith("pyrra.dev/"):
        ctx = _Ctx(f"{where} (Pyrra ServiceLevelObjective {name})", out.losses)
        return [_pyrra(ctx, doc, recorded, named_service=service is not None)]
    if kind == "SLO" and api in ("openslo/v1", "openslo/v1alpha"):
        ctx = _Ctx(f"{where} (OpenSLO SLO {name})", out.losses)
        return _openslo(ctx, doc, slis, alpha=api == "openslo/v1alpha")
    if kind == "SLI" and api == "openslo/v1":
        return []  # read through the SLOs' indicatorRef
    if api.startswith("openslo/"):
        out.skipped.append(f"{where} (OpenSLO {kind} {name})")
        return []
    if kind == KIND and api == API_VERSION:
        raise ConversionError(f"{where}: already a {API_VERSION} {KIND}")
    raise ConversionError(
        f"{where}: not an SLO this can import (apiVersion {api or '-'}, kind "
        f"{kind or '-'}); expected a Sloth spec (version: prometheus/v1) or "
        "PrometheusServiceLevel, a Pyrra ServiceLevelObjective or an OpenSLO SLO"
    )


# --- shared ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ctx:
    where: str
    losses: list[Loss]

    def lose(self, path: str, reason: str) -> None:
        self.losses.append(Loss(self.where, path, reason))

    def fail(self, path: str, reason: str) -> ConversionError:
        return ConversionError(f"{self.where}: {path}: {reason}")


def _metadata(doc: Mapping[str, Any]) -> dict[str, Any]:
    meta = doc.get("metadata")
    return dict(meta) if isinstance(meta, dict) else {}


def _mapping(ctx: _Ctx, doc: Mapping[str, Any], key: str, path: str = "") -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise ctx.fail(path + key, "missing or not a mapping")
    return value


def _text(ctx: _Ctx, doc: Mapping[str, Any], key: str, path: str = "") -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(path + key, "missing or not a string")
    return value


def _number(ctx: _Ctx, value: Any, path: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ctx.fail(path, f"expected a number, got {value!r}") from None


def _validate(ctx: _Ctx, manifest: dict[str, Any]) -> None:
    name = manifest["metadata"].get("name")
    try:
        slo = ServiceLevelObjective.model_validate(manifest)
        slo.spec.to_domain()
    except ValidationError as exc:
        listed = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ConversionError(
            f"{ctx.where}: the converted SLO {name} is not valid: {listed}"
        ) from None
    except ValueError as exc:
        raise ConversionError(
            f"{ctx.where}: the converted SLO {name} is not valid: {exc}"
        ) from None


def _manifest(
    name: str, spec: dict[str, Any], meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    for key in ("namespace", "labels"):
        if meta and meta.get(key):
            metadata[key] = meta[key]
    if not spec.get("description"):
        spec.pop("description", None)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _burn_window(long: str, short: str, factor: float, severity: str) -> dict[str, Any]:
    return {"long": long, "short": short, "factor": factor, "severity": severity}


def _default_pairs_within(ctx: _Ctx, window: timedelta) -> list[dict[str, Any]] | None:
    """Our default table, minus the pairs longer than the SLO window (None: all fit)."""
    fitting = [p for p in WORKBOOK_PAIRS if p.long <= window]
    if len(fitting) == len(WORKBOOK_PAIRS):
        return None
    for p in WORKBOOK_PAIRS:
        if p.long > window:
            ctx.lose(
                "alerting",
                f"default pair {p.long_text}/{p.short_text} is longer than the "
                f"{format_duration(window)} window; left out",
            )
    return [_burn_window(p.long_text, p.short_text, p.factor, p.severity) for p in fitting]


def _description(ctx: _Ctx, text: Any, path: str) -> str:
    if not isinstance(text, str):
        return ""
    short = " ".join(text.split())
    if len(short) > 256:
        ctx.lose(path, "longer than 256 characters; shortened")
        short = short[:255] + "…"
    return short


def _lose_present(ctx: _Ctx, doc: Mapping[str, Any], path: str, reasons: Mapping[str, str]) -> None:
    for key, reason in reasons.items():
        if doc.get(key) not in (None, {}, [], "", False):
            ctx.lose(path + key, reason)


_SLOTH_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")


def _window_placeholder(query: str) -> str:
    """Sloth's ``{{.window}}`` (also used by OpenSLO specs written for Sloth) as ours."""
    return _SLOTH_WINDOW.sub("{{window}}", query).strip()


# --- Sloth ----------------------------------------------------------------------------------


_SLOTH_ALERT_LOSSES = {
    "name": "the alert name; ours are named after the SLO and window pair",
    "labels": "custom alert labels; route on the Incident's labels (spec.declare.labels) instead",
    "annotations": "custom alert annotations are not carried over",
}


def _sloth(
    ctx: _Ctx,
    spec: dict[str, Any],
    prefix: str,
    recorded: bool,
    meta: Mapping[str, Any] | None = None,
) -> list[tuple[dict[str, Any], _Ctx]]:
    camel = prefix == "spec."  # the CRD spells the fields in camelCase

    def key(snake: str) -> str:
        if not camel:
            return snake
        head, *rest = snake.split("_")
        return head + "".join(p.title() for p in rest)

    service = _text(ctx, spec, "service", prefix)
    slos = spec.get("slos")
    if not isinstance(slos, list) or not slos:
        raise ctx.fail(prefix + "slos", "missing or empty")
    _lose_present(
        ctx,
        spec,
        prefix,
        {
            "labels": "Sloth adds these labels to every series and alert; pass them with "
            "`kubectl incident slo rules --label KEY=VALUE`",
            key("slo_plugins"): "Sloth SLO plugins change the generated rules; not applied",
        },
    )
    out = []
    for i, slo in enumerate(slos):
        path = f"{prefix}slos[{i}]."
        if not isinstance(slo, dict):
            raise ctx.fail(path[:-1], "expected a mapping")
        name = _text(ctx, slo, "name", path)
        sub = _Ctx(f"{ctx.where} SLO {name}", ctx.losses)
        objective = _number(sub, slo.get("objective"), path + "objective")
        _lose_present(
            sub,
            slo,
            path,
            {
                "labels": "Sloth adds these labels to the SLO's series and alerts; pass them "
                "with `kubectl incident slo rules --label KEY=VALUE`",
                "plugins": "Sloth SLO plugins change the generated rules; not applied",
            },
        )
        if recorded:
            indicator: dict[str, Any] = {
                "recorded": {"provider": "sloth", "name": f"{service}-{name}"}
            }
        else:
            indicator = _sloth_indicator(sub, _mapping(sub, slo, "sli", path), path, key)
        spec_out: dict[str, Any] = {
            "service": service,
            "description": _description(sub, slo.get("description"), path + "description"),
            "target": objective,
            "window": SLOTH_WINDOW,
            "indicator": indicator,
        }
        pairs = _sloth_pairs(sub, slo.get("alerting") or {}, path, key)
        if len(pairs) != len(WORKBOOK_PAIRS):
            spec_out["alerting"] = {
                "windows": [
                    _burn_window(p.long_text, p.short_text, p.factor, p.severity) for p in pairs
                ]
            }
        out.append((_manifest(name, spec_out, meta), sub))
    return out


def _sloth_indicator(
    ctx: _Ctx, sli: dict[str, Any], path: str, key: Callable[[str], str]
) -> dict[str, Any]:
    if isinstance(sli.get("events"), dict):
        events, at = sli["events"], path + "sli.events."
        return {
            "ratio": {
                "errors": _window_placeholder(_text(ctx, events, key("error_query"), at)),
                "total": _window_placeholder(_text(ctx, events, key("total_query"), at)),
            }
        }
    if "raw" in sli:
        raise ctx.fail(
            path + "sli.raw",
            "a raw error-ratio SLI has no event counts, which our ratio indicator needs; "
            "import with --recorded to read the ratio Sloth records instead",
        )
    if "plugin" in sli:
        plugin = sli["plugin"].get("id") if isinstance(sli["plugin"], dict) else None
        raise ctx.fail(
            path + "sli.plugin",
            f"SLI plugin {plugin!r} is Go code run by Sloth; import with --recorded to read "
            "the ratio Sloth records instead",
        )
    raise ctx.fail(path + "sli", "expected events, raw or plugin")


def _sloth_pairs(
    ctx: _Ctx, alerting: Any, path: str, key: Callable[[str], str]
) -> list[WindowPair]:
    """Sloth's 30d pairs (our default table) but those of a disabled page or ticket alert."""
    if not isinstance(alerting, dict):
        raise ctx.fail(path + "alerting", "expected a mapping")
    _lose_present(ctx, alerting, path + "alerting.", _SLOTH_ALERT_LOSSES)
    pairs = list(WORKBOOK_PAIRS)
    for alert_key, kept, dropped in (
        (key("page_alert"), "page", WORKBOOK_PAIRS[:2]),
        (key("ticket_alert"), "ticket", WORKBOOK_PAIRS[2:]),
    ):
        alert = alerting.get(alert_key) or {}
        if not isinstance(alert, dict):
            raise ctx.fail(f"{path}alerting.{alert_key}", "expected a mapping")
        if alert.get("disable"):
            pairs = [p for p in pairs if p not in dropped]
            continue
        _lose_present(
            ctx,
            alert,
            f"{path}alerting.{alert_key}.",
            {
                "labels": f"labels of Sloth's {kept} alert; ours carry sloth_severity: "
                f"{kept} and the pair's Severity",
                "annotations": f"annotations of Sloth's {kept} alert are not carried over",
            },
        )
    return pairs


# --- Pyrra ----------------------------------------------------------------------------------

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.S)


def _selector(ctx: _Ctx, text: str, path: str) -> tuple[str, list[tuple[str, str, str]]]:
    """A plain vector selector as (metric name, matchers)."""
    match = _SELECTOR.match(text)
    if match is None:
        raise ctx.fail(path, f'expected a metric selector such as name{{label="value"}}: {text!r}')
    matchers, rest = [], match.group(2) or ""
    while rest.strip():
        m = _MATCHER.match(rest)
        if m is None:
            raise ctx.fail(path, f"cannot read the label matchers in {text!r}")
        matchers.append((m.group(1), m.group(2), m.group(3)))
        rest = rest[m.end() :]
    return match.group(1), matchers


def _matchers_text(matchers: Iterable[tuple[str, str, str]]) -> str:
    return ",".join(f'{k}{op}"{v}"' for k, op, v in matchers)


def _seconds(ctx: _Ctx, text: Any, path: str) -> float:
    """A Prometheus duration that may have milliseconds (Pyrra's ``latency: 200ms``)."""
    if isinstance(text, str):
        ms = re.fullmatch(r"(.*?)(?:([0-9]+)ms)?", text.strip())
        if ms is not None:
            head, millis = ms.group(1), ms.group(2)
            try:
                whole = parse_duration(head).total_seconds() if head else 0.0
            except ValueError:
                whole = None
            if whole is not None and (head or millis):
                return whole + (int(millis) / 1000 if millis else 0.0)
    raise ctx.fail(path, f"expected a duration such as 200ms or 1s, got {text!r}")


def _pyrra(
    ctx: _Ctx, doc: dict[str, Any], recorded: bool, *, named_service: bool
) -> tuple[dict[str, Any], _Ctx]:
    meta = _metadata(doc)
    name = _text(ctx, meta, "name", "metadata.")
    spec = _mapping(ctx, doc, "spec")
    target = _number(ctx, spec.get("target"), "spec.target")
    window = str(spec.get("window") or "28d")
    try:
        slo_window = parse_duration(window)
    except ValueError:
        raise ctx.fail("spec.window", f"not a duration: {window!r}") from None
    spec_out: dict[str, Any] = {
        "service": name,
        "description": _description(ctx, spec.get("description"), "spec.description"),
        "target": target,
        "window": format_duration(slo_window),
        "indicator": (
            {"recorded": {"provider": "pyrra", "name": name}}
            if recorded
            else _pyrra_indicator(ctx, _mapping(ctx, spec, "indicator", "spec."))
        ),
    }
    if recorded:
        _pyrra_grouping(ctx, _mapping(ctx, spec, "indicator", "spec."))
    if not named_service:
        ctx.lose("service", f"Pyrra has no service; set to the SLO name {name} (see --service)")
    alerting = _pyrra_alerting(ctx, spec.get("alerting") or {}, slo_window, recorded)
    if alerting is not None:
        spec_out["alerting"] = alerting
    return _manifest(name, spec_out, meta), ctx


def _pyrra_grouping(ctx: _Ctx, indicator: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The indicator's one kind and body; its grouping is reported as lost."""
    kinds = [k for k in ("ratio", "latency", "latencyNative", "bool_gauge") if k in indicator]
    if len(kinds) != 1:
        raise ctx.fail(
            "spec.indicator", "expected exactly one of ratio, latency, latencyNative, bool_gauge"
        )
    (kind,) = kinds
    body = indicator[kind]
    if not isinstance(body, dict):
        raise ctx.fail(f"spec.indicator.{kind}", "expected a mapping")
    if body.get("grouping"):
        ctx.lose(
            f"spec.indicator.{kind}.grouping",
            "Pyrra keeps one SLO per group ("
            + ", ".join(map(str, body["grouping"]))
            + "); imported as one SLO over all of them",
        )
    return kind, body


def _pyrra_alerting(
    ctx: _Ctx, alerting: Any, slo_window: timedelta, recorded: bool
) -> dict[str, Any] | None:
    """Pyrra's own pairs for the window (a recorded SLI gets them by default), or none."""
    if not isinstance(alerting, dict):
        raise ctx.fail("spec.alerting", "expected a mapping")
    if alerting.get("name"):
        ctx.lose("spec.alerting.name", "the alert name; ours are named after the SLO and pair")
    if alerting.get("absent") is False:
        ctx.lose("spec.alerting.absent", "the no-data alert (SLONoData) cannot be switched off")
    if alerting.get("disabled") or alerting.get("burnrates") is False:
        return {"windows": []}
    if recorded:
        return None
    return {
        "windows": [
            _burn_window(p.long_text, p.short_text, p.factor, p.severity)
            for p in pyrra_pairs(slo_window)
        ]
    }


def _pyrra_indicator(ctx: _Ctx, indicator: dict[str, Any]) -> dict[str, Any]:
    kind, body = _pyrra_grouping(ctx, indicator)
    path = f"spec.indicator.{kind}."
    if kind == "ratio":
        errors = _text(ctx, _mapping(ctx, body, "errors", path), "metric", path + "errors.")
        total = _text(ctx, _mapping(ctx, body, "total", path), "metric", path + "total.")
        _selector(ctx, errors, path + "errors.metric")
        _selector(ctx, total, path + "total.metric")
        return {
            "ratio": {
                "errors": f"rate({errors}[{W}])",
                "total": f"rate({total}[{W}])",
            }
        }
    if kind == "latency":
        success = _text(ctx, _mapping(ctx, body, "success", path), "metric", path + "success.")
        total = _text(ctx, _mapping(ctx, body, "total", path), "metric", path + "total.")
        bucket, bucket_matchers = _selector(ctx, success, path + "success.metric")
        count, count_matchers = _selector(ctx, total, path + "total.metric")
        le = [v for k, op, v in bucket_matchers if k == "le" and op == "="]
        if not bucket.endswith("_bucket") or len(le) != 1:
            raise ctx.fail(path + "success.metric", 'expected <histogram>_bucket{...,le="<bound>"}')
        rest = [m for m in bucket_matchers if m[0] != "le"]
        base = bucket.removesuffix("_bucket")
        if count == f"{base}_count" and sorted(rest) == sorted(count_matchers):
            return {
                "latency": {
                    "metric": base,
                    "threshold": _number(ctx, le[0], path + "success.metric le"),
                    "selector": _matchers_text(rest),
                }
            }
        # Different selectors: keep Pyrra's exact queries as a ratio (le spelt as written).
        ctx.lose(
            path + "success.metric",
            "success and total select different series; imported as a ratio of Pyrra's two "
            f'queries, so only the bucket spelt le="{le[0]}" counts (Prometheus 3 writes '
            "whole numbers as 1.0)",
        )
        return {
            "ratio": {
                "errors": f"sum(rate({total}[{W}])) - sum(rate({success}[{W}]))",
                "total": f"rate({total}[{W}])",
            }
        }
    if kind == "latencyNative":
        total = _text(ctx, _mapping(ctx, body, "total", path), "metric", path + "total.")
        _selector(ctx, total, path + "total.metric")
        bound = _seconds(ctx, body.get("latency"), path + "latency")
        rate = f"sum(rate({total}[{W}]))"
        return {
            "ratio": {
                "errors": f"histogram_count({rate}) * "
                f"(1 - histogram_fraction(0, {bound:g}, {rate}))",
                "total": f"histogram_count({rate})",
            }
        }
    # bool_gauge: each sample is 1 (good) or 0 (bad); Pyrra counts samples.
    metric = _text(ctx, body, "metric", path)
    _selector(ctx, metric, path + "metric")
    ctx.lose(
        path + "metric", "events are samples of the gauge, so alerting.minRequests counts samples"
    )
    return {
        "ratio": {
            "errors": f"count_over_time({metric}[{W}]) - sum_over_time({metric}[{W}])",
            "total": f"count_over_time({metric}[{W}])",
        }
    }


# --- OpenSLO --------------------------------------------------------------------------------


def _openslo_slis(sources: Sequence[Source]) -> dict[str, dict[str, Any]]:
    """OpenSLO v1 SLI documents by name, for ``indicatorRef``."""
    slis: dict[str, dict[str, Any]] = {}
    for s in sources:
        d = s.document
        if isinstance(d, dict) and d.get("kind") == "SLI" and d.get("apiVersion") == "openslo/v1":
            name = _metadata(d).get("name")
            if isinstance(name, str):
                slis[name] = d
    return slis


_OPENSLO_UNITS = {"s": "s", "m": "m", "h": "h", "d": "d", "w": "w"}
_ALPHA_UNITS = {"Second": "s", "Minute": "m", "Hour": "h", "Day": "d", "Week": "w"}


def _openslo(
    ctx: _Ctx, doc: dict[str, Any], slis: Mapping[str, dict[str, Any]], *, alpha: bool
) -> list[tuple[dict[str, Any], _Ctx]]:
    meta = _metadata(doc)
    name = _text(ctx, meta, "name", "metadata.")
    spec = _mapping(ctx, doc, "spec")
    service = _text(ctx, spec, "service", "spec.")
    window = _openslo_window(ctx, spec, alpha)
    _openslo_losses(ctx, meta, spec)
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise ctx.fail("spec.objectives", "missing or empty")
    indicator = None if alpha else _openslo_indicator(ctx, spec, slis)
    out = []
    for i, objective in enumerate(objectives):
        path = f"spec.objectives[{i}]."
        if not isinstance(objective, dict):
            raise ctx.fail(path[:-1], "expected a mapping")
        own_name = name if len(objectives) == 1 else _objective_name(name, objective, i)
        sub = _Ctx(f"{ctx.where} objective {own_name}", ctx.losses)
        target = _openslo_target(sub, objective, path, indicator)
        if objective.get("displayName") and len(objectives) > 1:
            sub.lose(path + "displayName", f"named {own_name} instead")
        if alpha:
            ind = _openslo_alpha_indicator(sub, objective, path)
        else:
            assert indicator is not None
            ind = _openslo_ratio(sub, indicator)
        spec_out: dict[str, Any] = {
            "service": service,
            "description": _description(sub, spec.get("description"), "spec.description"),
            "target": round(target, 10),
            "window": format_duration(window),
            "indicator": ind,
        }
        pairs = _default_pairs_within(sub, window)
        if pairs is not None:
            spec_out["alerting"] = {"windows": pairs}
        out.append((_manifest(own_name, spec_out, meta), sub))
    return out


def _openslo_losses(ctx: _Ctx, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
    budgeting = spec.get("budgetingMethod", "Occurrences")
    if budgeting != "Occurrences":
        ctx.lose(
            "spec.budgetingMethod",
            f"{budgeting} budgeting is not supported; imported as Occurrences (the share of "
            "bad events over the window)",
        )
    _lose_present(
        ctx,
        spec,
        "spec.",
        {
            "alertPolicies": "OpenSLO alert policies are not carried over; the SLO alerts on "
            "burn-rate window pairs (alerting.windows)",
        },
    )
    if meta.get("displayName"):
        ctx.lose("metadata.displayName", "not carried over")


def _openslo_target(
    ctx: _Ctx, objective: Mapping[str, Any], path: str, indicator: Mapping[str, Any] | None
) -> float:
    """The objective's target in percent; time-slice and threshold fields reported lost."""
    for key in ("timeSliceTarget", "timeSliceWindow"):
        if key in objective:
            ctx.lose(path + key, "time-slice budgeting is not supported")
    for key in ("op", "value"):
        if key in objective and indicator is not None and "thresholdMetric" not in indicator:
            ctx.lose(path + key, "thresholds apply to threshold metrics only; ignored")
    if "targetPercent" in objective:
        return _number(ctx, objective["targetPercent"], path + "targetPercent")
    return _number(ctx, objective.get("target"), path + "target") * 100


def _objective_name(name: str, objective: Mapping[str, Any], i: int) -> str:
    label = objective.get("name") or objective.get("displayName")
    slug = re.sub(r"[^a-z0-9]+", "-", str(label).lower()).strip("-") if label else ""
    return f"{name}-{slug or i}"[:63].rstrip("-")


def _openslo_window(ctx: _Ctx, spec: Mapping[str, Any], alpha: bool) -> timedelta:
    key = "timeWindows" if alpha else "timeWindow"
    windows = spec.get(key)
    if not isinstance(windows, list) or not windows or not isinstance(windows[0], dict):
        raise ctx.fail(f"spec.{key}", "missing or empty")
    if len(windows) > 1:
        ctx.lose(f"spec.{key}[1:]", "only the first time window is used")
    tw = windows[0]
    if alpha:
        unit = _ALPHA_UNITS.get(str(tw.get("unit")))
        count = tw.get("count")
        if unit is None or not isinstance(count, int):
            raise ctx.fail(f"spec.{key}[0]", f"cannot express {tw!r} as a rolling duration")
        text = f"{count}{unit}"
    else:
        text = str(tw.get("duration", ""))
        m = re.fullmatch(r"([0-9]+)([a-zA-Z])", text)
        if m is None or m.group(2) not in _OPENSLO_UNITS:
            raise ctx.fail(
                f"spec.{key}[0].duration",
                f"{text!r}: only s, m, h, d and w durations can be imported (months, quarters "
                "and years are calendar periods)",
            )
    if tw.get("isRolling") is False or tw.get("calendar"):
        ctx.lose(
            f"spec.{key}[0]",
            "calendar-aligned window; imported as a rolling window of the same length",
        )
    try:
        return parse_duration(text)
    except ValueError:
        raise ctx.fail(f"spec.{key}[0]", f"not a duration: {text!r}") from None


def _openslo_indicator(
    ctx: _Ctx, spec: Mapping[str, Any], slis: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    if isinstance(spec.get("indicator"), dict):
        sli = spec["indicator"]
        where = "spec.indicator.spec"
    elif isinstance(spec.get("indicatorRef"), str):
        ref = spec["indicatorRef"]
        if ref not in slis:
            raise ctx.fail(
                "spec.indicatorRef", f"no OpenSLO SLI named {ref!r} among the imported documents"
            )
        sli, where = slis[ref], f"SLI {ref} spec"
    else:
        raise ctx.fail("spec", "expected indicator or indicatorRef")
    body = _mapping(ctx, sli, "spec", where.removesuffix(".spec").removesuffix(" spec") + ".")
    return {"where": where, **body}


def _openslo_ratio(ctx: _Ctx, indicator: Mapping[str, Any]) -> dict[str, Any]:
    where = indicator["where"]
    if "thresholdMetric" in indicator:
        raise ctx.fail(
            f"{where}.thresholdMetric",
            "a threshold metric compares single values (e.g. a latency percentile) with a "
            "threshold; our SLIs count good and bad events (ratio, or a histogram's buckets)",
        )
    ratio = indicator.get("ratioMetric")
    if not isinstance(ratio, dict):
        raise ctx.fail(where, "expected ratioMetric or thresholdMetric")
    path = f"{where}.ratioMetric."
    if "raw" in ratio:
        raise ctx.fail(
            path + "raw",
            "a precomputed ratio has no event counts, which our ratio indicator needs",
        )
    counter = ratio.get("counter") is True
    total = _openslo_query(ctx, ratio, "total", path, counter)
    if "bad" in ratio:
        errors = _openslo_query(ctx, ratio, "bad", path, counter)
    elif "good" in ratio:
        good = _openslo_query(ctx, ratio, "good", path, counter)
        errors = f"sum({total}) - sum({good})"
    else:
        raise ctx.fail(path[:-1], "expected good or bad with total")
    return {"ratio": {"errors": errors, "total": total}}


def _openslo_query(ctx: _Ctx, ratio: Mapping[str, Any], key: str, path: str, counter: bool) -> str:
    part = ratio.get(key)
    source = part.get("metricSource") if isinstance(part, dict) else None
    if not isinstance(source, dict):
        raise ctx.fail(path + key, "expected metricSource")
    kind = str(source.get("type", ""))
    where = f"{path}{key}.metricSource"
    if kind.lower() != "prometheus":
        raise ctx.fail(
            where + ".type",
            f"{kind or 'no type'}: only Prometheus metric sources can be imported",
        )
    if source.get("metricSourceRef"):
        ctx.lose(where + ".metricSourceRef", "the operator queries its own Prometheus")
    query = (
        (source.get("spec") or {}).get("query") if isinstance(source.get("spec"), dict) else None
    )
    if not isinstance(query, str) or not query.strip():
        raise ctx.fail(where + ".spec.query", "missing")
    return _query_with_window(ctx, query, where + ".spec.query", counter)


def _query_with_window(ctx: _Ctx, query: str, path: str, counter: bool) -> str:
    converted = _window_placeholder(query)
    if "{{window}}" in converted:
        return converted
    if counter and _SELECTOR.match(query):
        _selector(ctx, query, path)
        return f"rate({query.strip()}[{W}])"
    raise ctx.fail(
        path,
        "the query has no {{.window}} placeholder and is not a plain counter selector "
        "(counter: true), so it cannot be measured over each alerting window",
    )


def _openslo_alpha_indicator(ctx: _Ctx, objective: Mapping[str, Any], path: str) -> dict[str, Any]:
    ratio = objective.get("ratioMetrics")
    if not isinstance(ratio, dict):
        raise ctx.fail(path + "ratioMetrics", "only ratio metrics can be imported")
    queries = {}
    for key in ("good", "bad", "total"):
        part = ratio.get(key)
        if part is None:
            continue
        if not isinstance(part, dict) or str(part.get("source", "")).lower() != "prometheus":
            raise ctx.fail(f"{path}ratioMetrics.{key}.source", "only Prometheus can be imported")
        q = part.get("query")
        if not isinstance(q, str):
            raise ctx.fail(f"{path}ratioMetrics.{key}.query", "missing")
        queries[key] = _query_with_window(
            ctx, q, f"{path}ratioMetrics.{key}.query", ratio.get("counter") is True
        )
    if "total" not in queries or ("good" in queries) == ("bad" in queries):
        raise ctx.fail(path + "ratioMetrics", "expected total and one of good or bad")
    errors = queries.get("bad") or f"sum({queries['total']}) - sum({queries['good']})"
    return {"ratio": {"errors": errors, "total": queries["total"]}}

"""Who owns which field: server-side apply's managedFields, read so the operator never
overwrites what a GitOps tool (or anyone who applied it declaratively) owns.

The API server records, per field manager and operation, the fields it set (``fieldsV1``:
``{"f:spec": {"f:state": {}}}``). The operator writes a user's intent (from Slack) with
server-side apply under its own manager. Before it does, it checks who owns each field it
would change:

* a manager that *applied* the field (``operation: Apply``: Argo CD, Flux, ``kubectl apply
  --server-side``) declared it and will apply it again: changing it would start a tug of
  war, so the write is refused and reported (a condition, the chat reply) — never forced;
* a manager that *updated* it (``operation: Update``: ``kubectl edit``/``patch``, a client)
  made a one-off change, which a later change supersedes as any second edit would.

Because an apply removes the fields its manager set before and no longer sends, the applied
configuration is what the operator owns already (with its current values) plus the change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]
APPLY = "Apply"


@dataclass(frozen=True)
class FieldConflict:
    path: Path
    manager: str

    @property
    def field(self) -> str:
        return "." + ".".join(self.path)


def owned_paths(fields_v1: Mapping[str, Any]) -> set[Path]:
    """The leaf fields a ``fieldsV1`` set names; a list owned entry by entry counts whole."""
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], prefix: Path) -> None:
        children = {k: v for k, v in node.items() if k.startswith("f:")}
        entries = any(k.startswith(("k:", "v:", "i:")) for k in node)
        if prefix and (entries or not children):
            out.add(prefix)
            return
        for key, child in children.items():
            walk(child if isinstance(child, Mapping) else {}, (*prefix, key[2:]))

    walk(fields_v1, ())
    return out


def leaves(config: Mapping[str, Any], prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of a configuration to apply (maps are walked, lists and scalars are leaves)."""
    for key, value in config.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            yield from leaves(value, path)
        else:
            yield path, value


def value_at(body: Mapping[str, Any], path: Path) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def conflicts(
    change: Mapping[str, Any],
    current: Mapping[str, Any],
    managed: Sequence[Mapping[str, Any]],
    manager: str,
) -> list[FieldConflict]:
    """Fields ``change`` would alter that another manager applied (declared) — refuse those.

    A field given the value it already has is no conflict (the API server agrees: applying
    the same value only adds a co-owner).
    """
    found: list[FieldConflict] = []
    for path, value in leaves(change):
        if value_at(current, path) == value:
            continue
        for entry in managed:
            other = str(entry.get("manager") or "")
            if other == manager or entry.get("operation") != APPLY or entry.get("subresource"):
                continue
            owned = owned_paths(entry.get("fieldsV1") or {})
            if any(_overlaps(path, p) for p in owned):
                found.append(FieldConflict(path, other))
                break
    return found


def owned_config(
    current: Mapping[str, Any], managed: Sequence[Mapping[str, Any]], manager: str
) -> dict[str, Any]:
    """What ``manager`` applied before, with the values the object holds now."""
    out: dict[str, Any] = {}
    for entry in managed:
        if entry.get("manager") != manager or entry.get("operation") != APPLY:
            continue
        if entry.get("subresource"):
            continue
        for path in owned_paths(entry.get("fieldsV1") or {}):
            if path[0] in {"apiVersion", "kind"} or path[:2] == ("metadata", "name"):
                continue
            value = value_at(current, path)
            if value is not None:
                _put(out, path, value)
    return out


def merged(base: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``change`` laid over ``base``, maps merged key by key (None removes, as in apply)."""
    out = dict(base)
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        elif value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _put(target: dict[str, Any], path: Path, value: Any) -> None:
    node = target
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value

"""Who owns which field: server-side apply's managedFields, read so the operator never
overwrites what a GitOps tool (or anyone who applied it declaratively) owns.

The API server records, per field manager and operation, the fields it set (``fieldsV1``:
``{"f:spec": {"f:state": {}}}``). The operator changes a spec only on a person's behalf (a
Slack command), and ``kubectl incident`` on the person's own. Before either writes, it checks
who owns each field it would change:

* a manager that *applied* the field (``operation: Apply``: Argo CD, Flux, ``kubectl apply
  --server-side``) declared it and will apply it again: changing it would start a tug of
  war, so the write is refused and reported (a condition, the chat reply) — never forced;
* a manager that *updated* it (``operation: Update``: ``kubectl edit``/``patch``, a client)
  made a one-off change, which a later change supersedes as any second edit would.

The change itself is then an update (not an apply): a person's one-off edit claims no
declarative ownership that a later Git commit would conflict with.
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

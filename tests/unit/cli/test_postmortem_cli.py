"""`kubectl incident postmortem`: Markdown, JSON and the chart from the rendered ConfigMap."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.errors import PermanentError


class Fake:
    namespace = "shop"

    def __init__(self, ref: str | None = "inc-1") -> None:
        self.ref = ref

    def incident(self, name: str) -> dict[str, Any]:
        if name != "inc-1":
            raise PermanentError(f"incident shop/{name} not found")
        return {"status": {"postmortemRef": self.ref} if self.ref else {}}

    def rendered(self, config_map: str) -> tuple[dict[str, str], dict[str, bytes]]:
        assert config_map == "inc-1-postmortem"
        return {"postmortem.md": "# Postmortem", "postmortem.json": "{}"}, {"chart.png": b"PNG"}


def run(argv: list[str], fake: Fake) -> tuple[int, str]:
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    code: int = args.run(args, out, lambda _ns: fake)
    return code, out.getvalue()


def test_markdown_by_default_json_on_request(tmp_path: Path) -> None:
    assert run(["postmortem", "inc-1"], Fake()) == (0, "# Postmortem\n")
    assert run(["postmortem", "inc-1", "--format", "json"], Fake()) == (0, "{}\n")
    chart = tmp_path / "c.png"
    assert run(["postmortem", "inc-1", "--chart", str(chart)], Fake())[0] == 0
    assert chart.read_bytes() == b"PNG"


def test_no_postmortem_yet_and_unknown_incident(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["postmortem", "inc-1"], Fake(ref=None))[0] == 1
    assert "has no postmortem" in capsys.readouterr().err
    assert run(["postmortem", "nope"], Fake())[0] == 1
    assert "not found" in capsys.readouterr().err

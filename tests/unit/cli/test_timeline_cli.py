"""`kubectl incident timeline NAME [--follow] [--since] [-o]` against an in-memory cluster."""

from __future__ import annotations

import argparse
import copy
import io
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from incident_operator.adapters.ports import Body
from incident_operator.cli import output, timeline
from tests.unit.cli.test_incident_cli import incident, run
from tests.unit.cli.test_list_output import WatchedIncidents


def entry(at: str, kind: str, message: str, **more: str) -> Body:
    return {"at": at, "type": kind, "message": message, **more}


def fake_with_timeline(*entries: Body, **summary: object) -> WatchedIncidents:
    fake = WatchedIncidents()
    incident(fake)
    fake.objects["checkout"]["metadata"]["resourceVersion"] = "41"
    fake.objects["checkout"]["status"] = {"timeline": list(entries)}
    if summary:
        fake.objects["checkout"]["status"]["timelineSummary"] = summary
    return fake


NOTE = entry(
    "2026-11-27T14:05:00Z", "note", "Rolled back\nto v41", author="alice", source="kubectl"
)
DECLARED = entry("2026-11-27T14:00:00+00:00", "declared", "Checkout 5xx", source="slo")


def test_entries_oldest_first_with_time_type_who_and_message() -> None:
    code, out, err = run(fake_with_timeline(NOTE, DECLARED), "timeline", "checkout")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "TIME                   TYPE                 BY                 MESSAGE",
        "2026-11-27T14:00:00Z   declared             slo                Checkout 5xx",
        "2026-11-27T14:05:00Z   note                 alice              Rolled back to v41",
    ]


def test_folded_entries_get_one_line_first() -> None:
    fake = fake_with_timeline(
        NOTE,
        entries=312,
        byType={"chat": 300, "note": 12},
        first="2026-11-27T10:00:00Z",
        last="2026-11-27T13:59:00Z",
    )
    code, out, _ = run(fake, "timeline", "checkout")
    assert code == 0
    assert out.splitlines()[1].split(None, 2) == [
        "2026-11-27T10:00:00Z",
        "(folded)",
        "312 older entries folded, until 2026-11-27T13:59:00Z: chat 300, note 12",
    ]
    # --since after the folded span: the summary is not in range
    code, out, _ = run(fake, "timeline", "checkout", "--since", "2026-11-27T14:00:00Z")
    assert [line.split()[1] for line in out.splitlines()] == ["TYPE", "note"]


def test_wide_has_author_source_and_key_columns() -> None:
    keyed = {**NOTE, "key": "note/abc"}
    code, out, _ = run(fake_with_timeline(keyed), "timeline", "checkout", "-o", "wide")
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == ["TIME", "TYPE", "AUTHOR", "SOURCE", "KEY", "MESSAGE"]
    assert row.split()[:5] == ["2026-11-27T14:05:00Z", "note", "alice", "kubectl", "note/abc"]


def test_json_is_one_entry_per_line_and_yaml_one_document_each() -> None:
    fake = fake_with_timeline(NOTE, DECLARED)
    code, out, _ = run(fake, "timeline", "checkout", "-o", "json")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [DECLARED, NOTE]
    code, out, _ = run(fake, "timeline", "checkout", "-o", "yaml")
    assert list(yaml.safe_load_all(out)) == [DECLARED, NOTE]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        ("2026-11-27T14:00:00Z", datetime(2026, 11, 27, 14, tzinfo=UTC)),
        ("2026-11-27T15:00:00+01:00", datetime(2026, 11, 27, 14, tzinfo=UTC)),
    ],
)
def test_since_is_a_duration_or_an_instant(text: str, expected: object) -> None:
    assert timeline.parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "30", "m", "yesterday", "2026-11-27T14:00:00", "1x"])
def test_since_refuses_anything_else(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        timeline.parse_since(text)


def test_since_filters_by_time() -> None:
    now = datetime.now(UTC)
    recent = entry(now.strftime("%Y-%m-%dT%H:%M:%SZ"), "note", "just now")
    old = entry((now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), "note", "long ago")
    code, out, _ = run(fake_with_timeline(old, recent), "timeline", "checkout", "--since", "30m")
    assert code == 0
    assert "just now" in out
    assert "long ago" not in out
    code, out, err = run(fake_with_timeline(old), "timeline", "checkout", "--since", "30m")
    assert (code, out, err) == (0, "", "No timeline entries.\n")


def test_unknown_incident_is_exit_1() -> None:
    code, out, err = run(WatchedIncidents(), "timeline", "nope")
    assert (code, out, err) == (1, "", "error: incident shop/nope not found\n")


def grown(fake: WatchedIncidents, *entries: Body) -> Body:
    body = copy.deepcopy(fake.objects["checkout"])
    body["status"]["timeline"] = [*body["status"]["timeline"], *entries]
    return body


def test_follow_prints_only_new_entries_then_stops_when_deleted() -> None:
    fake = fake_with_timeline(DECLARED)
    mitigated = entry("2026-11-27T14:10:00Z", "state-changed", "mitigated")
    fake.events = [
        ("MODIFIED", grown(fake)),  # a status change without a new entry
        ("MODIFIED", grown(fake, NOTE)),
        ("MODIFIED", grown(fake, NOTE, mitigated)),
        ("DELETED", grown(fake, NOTE, mitigated)),
        ("MODIFIED", grown(fake, entry("2026-11-27T15:00:00Z", "note", "never seen"))),
    ]
    code, out, err = run(fake, "timeline", "checkout", "--follow")
    assert (code, err) == (0, "incident shop/checkout was deleted\n")
    assert (fake.watched, fake.since) == ([("checkout", False)], "41")  # from what was read
    assert [line.split()[1] for line in out.splitlines()] == [
        "TYPE",
        "declared",
        "note",
        "state-changed",
    ]


def test_follow_from_an_empty_timeline_prints_the_header_with_the_first_entry() -> None:
    fake = fake_with_timeline()
    fake.events = [("MODIFIED", grown(fake, NOTE))]
    code, out, _ = run(fake, "timeline", "checkout", "-f", "-o", "json")
    assert (code, [json.loads(line) for line in out.splitlines()]) == (0, [NOTE])
    code, out, _ = run(fake, "timeline", "checkout", "-f")
    assert [line.split()[0] for line in out.splitlines()] == ["TIME", "2026-11-27T14:05:00Z"]


def test_follow_ends_with_status_0_on_ctrl_c() -> None:
    fake = fake_with_timeline(DECLARED)
    fake.interrupt = True
    code, out, _ = run(fake, "timeline", "checkout", "--follow")
    assert code == 0
    assert len(out.splitlines()) == 2


class InterruptedFlush(io.StringIO):
    """Ctrl-C lands while the first output is being flushed (the reader saw it and stopped
    the process at once)."""

    def flush(self) -> None:
        raise KeyboardInterrupt


def test_an_interrupt_at_the_first_flush_is_still_a_clean_end() -> None:
    def never() -> Iterator[str]:
        raise AssertionError("the watch is never reached")
        yield ""

    output.stream_until_interrupted(InterruptedFlush(), never())  # no KeyboardInterrupt
    printed = io.StringIO()
    output.stream_until_interrupted(printed, iter(["a\n", "", "b\n"]))
    assert printed.getvalue() == "a\nb\n"


FOLLOWING = """
import signal, sys, time
from incident_operator.cli import output
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as inherited by a background job of a script
def texts():
    yield "watching\\n"
    while True:
        time.sleep(0.05)
        yield ""
output.stream_until_interrupted(sys.stdout, texts())
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_watch_started_with_sigint_ignored_still_ends_cleanly_on_either(stop: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", FOLLOWING],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "watching\n"
        proc.send_signal(stop)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
    assert proc.stderr is not None
    assert proc.stderr.read() == ""

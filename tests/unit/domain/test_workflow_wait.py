"""Wait steps: which steps are due given now and the recorded resume time
(domain/workflow_wait.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident_operator.domain import workflow_wait as waiting
from incident_operator.domain import workflows as wf

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REF = wf.WorkflowRef("IncidentWorkflow", "payments", "wait", "uid-w", T0 - timedelta(days=1))
NOTE = wf.Action(wf.ActionType.ADD_NOTE, "0-note", text="before")
WAIT = wf.Action(wf.ActionType.WAIT, "1-wait", duration=timedelta(minutes=10))
POST = wf.Action(wf.ActionType.POST_MESSAGE, "2-post", text="after")
WAIT_KEY = "wf/uid-w/once/1"


def always(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
    return wf.Verdict(True)


def workflow(*triggers: wf.Trigger, repeat: wf.Repeat = wf.Repeat.ONCE_PER_INCIDENT) -> wf.Workflow:
    return wf.Workflow(
        REF, triggers or (wf.Trigger(wf.Event.DECLARED),), (NOTE, WAIT, POST), repeat=repeat
    )


def facts(severity: str = "sev-2") -> wf.Facts:
    return wf.Facts(wf.Snapshot("investigating", severity), declared=T0, last_update=T0)


def plan(
    w: wf.Workflow,
    now: datetime,
    done: frozenset[str] = frozenset(),
    waits: dict[str, waiting.Wait] | None = None,
    f: wf.Facts | None = None,
    memory: wf.Memory | None = None,
    evaluate: wf.Evaluate = always,
) -> wf.Plan:
    memory = memory or wf.Memory(done=done)
    return waiting.plan([w], f or facts(), memory, now, evaluate, waits=waits or {})


def pending(p: wf.Plan) -> list[str]:
    return [s.key for r in p.runs for s in r.pending]


def reached(p: wf.Plan, now: datetime) -> dict[str, waiting.Wait]:
    """What the executor records: the wait step reached in the plan's runs."""
    found = {}
    for run in p.runs:
        step = run.pending[-1]
        if step.action.type is wf.ActionType.WAIT and step.resume_at is None:
            found[step.key] = waiting.reached(step, run, now)
    return found


def test_a_run_stops_at_a_wait_reached_now_and_the_executor_records_its_resume_time() -> None:
    w = workflow()
    first = plan(w, T0)
    assert pending(first) == ["wf/uid-w/once/0", WAIT_KEY]  # the post is not due
    recorded = reached(first, T0)
    assert recorded[WAIT_KEY].resume_at == T0 + timedelta(minutes=10)
    assert recorded[WAIT_KEY].event is wf.Event.DECLARED
    assert recorded[WAIT_KEY].occurrences == ("declared",)


def test_a_restart_before_the_resume_time_neither_skips_nor_repeats_anything() -> None:
    w = workflow()
    done = frozenset({"wf/uid-w/once/0", "wf/uid-w/seen/declared"})
    waits = {WAIT_KEY: waiting.Wait(WAIT_KEY, T0 + timedelta(minutes=10))}
    for now in (T0 + timedelta(seconds=5), T0 + timedelta(minutes=9, seconds=59)):
        assert plan(w, now, done, waits).runs == ()  # a fresh process reads the same record
    # Without the record (the crash came before it was written) the wait starts over: the
    # note is done, so the run is the wait alone, later than it would have been, never sooner.
    again = plan(w, T0 + timedelta(minutes=1), frozenset({"wf/uid-w/once/0"}))
    assert pending(again) == [WAIT_KEY]
    assert reached(again, T0 + timedelta(minutes=1))[WAIT_KEY].resume_at == T0 + timedelta(
        minutes=11
    )


def test_after_the_resume_time_the_run_resumes_once_without_its_trigger_firing_again() -> None:
    w = workflow()
    done = frozenset({"wf/uid-w/once/0", "wf/uid-w/seen/declared"})
    waits = {WAIT_KEY: waiting.Wait(WAIT_KEY, T0 + timedelta(minutes=10), detail="declared")}
    due = plan(w, T0 + timedelta(minutes=10), done, waits)
    (run,) = due.runs
    assert [s.key for s in run.pending] == [WAIT_KEY, "wf/uid-w/once/2"]
    assert run.pending[0].resume_at == T0 + timedelta(minutes=10)  # over: marked, not recorded
    assert run.key == "wf/uid-w/once"
    # A restart after the resume time but before the later steps were recorded: the same
    # keys again (the effects dedup on them). Once recorded done: nothing more.
    assert pending(plan(w, T0 + timedelta(minutes=30), done, waits)) == pending(due)
    finished = done | {WAIT_KEY, "wf/uid-w/once/2"}
    assert plan(w, T0 + timedelta(minutes=30), finished, waits).runs == ()
    assert waiting.finished({"id": waits[WAIT_KEY]}, finished) == ("id",)


def test_an_overlapping_trigger_while_waiting_runs_nothing_and_once_due_runs_it_once() -> None:
    w = workflow(wf.Trigger(wf.Event.DECLARED), wf.Trigger(wf.Event.SEVERITY_CHANGED))
    done = frozenset({"wf/uid-w/once/0", "wf/uid-w/seen/declared"})
    waits = {WAIT_KEY: waiting.Wait(WAIT_KEY, T0 + timedelta(minutes=10))}
    before = wf.Memory(seen=facts().current, sequence=1, done=done)
    changed = facts(severity="sev-1")
    early = plan(w, T0 + timedelta(minutes=2), waits=waits, f=changed, memory=before)
    assert early.runs == ()
    assert early.evaluations[0].skipped == "waiting"
    due = plan(w, T0 + timedelta(minutes=10), waits=waits, f=changed, memory=before)
    assert [r.key for r in due.runs] == ["wf/uid-w/once"]  # found and resumed: one run
    assert pending(due) == [WAIT_KEY, "wf/uid-w/once/2"]


def test_every_trigger_occurrence_waits_on_its_own() -> None:
    w = workflow(wf.Trigger(wf.Event.SEVERITY_CHANGED), repeat=wf.Repeat.EVERY_TRIGGER)
    k1, k2 = "wf/uid-w/change-1/1", "wf/uid-w/change-2/1"
    done = frozenset({"wf/uid-w/change-1/0", "wf/uid-w/change-2/0"})
    waits = {
        k1: waiting.Wait(k1, T0 + timedelta(minutes=10), wf.Event.SEVERITY_CHANGED),
        k2: waiting.Wait(k2, T0 + timedelta(minutes=15), wf.Event.SEVERITY_CHANGED),
    }
    memory = wf.Memory(seen=facts().current, sequence=2, done=done)
    due = plan(w, T0 + timedelta(minutes=12), waits=waits, memory=memory)
    assert pending(due) == [k1, "wf/uid-w/change-1/2"]
    assert due.runs[0].occurrence.event is wf.Event.SEVERITY_CHANGED


def test_the_later_steps_if_is_judged_when_the_wait_is_over() -> None:
    guarded = wf.Action(
        wf.ActionType.POST_MESSAGE, "2-post", condition="incident.phase == 'triage'", text="x"
    )
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (NOTE, WAIT, guarded))
    judged: list[datetime] = []

    def still_triage(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
        judged.append(occurrence.at)
        return wf.Verdict(False)

    done = frozenset({"wf/uid-w/once/0", "wf/uid-w/seen/declared"})
    waits = {WAIT_KEY: waiting.Wait(WAIT_KEY, T0 + timedelta(minutes=10))}
    due = plan(w, T0 + timedelta(minutes=11), done, waits, evaluate=still_triage)
    (run,) = due.runs
    assert not run.pending[-1].runs  # skipped: the incident moved on
    assert judged == [T0 + timedelta(minutes=10)]


def test_a_wait_whose_if_is_false_does_not_pause_the_run() -> None:
    skipped = wf.Action(WAIT.type, WAIT.name, condition="false", duration=WAIT.duration)
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (NOTE, skipped, POST))

    def no(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
        return wf.Verdict(source != "false")

    assert pending(plan(w, T0, evaluate=no)) == [
        "wf/uid-w/once/0",
        WAIT_KEY,
        "wf/uid-w/once/2",
    ]


def test_a_suspended_workflow_does_not_resume_and_another_workflows_wait_is_ignored() -> None:
    w = workflow()
    done = frozenset({"wf/uid-w/once/0", "wf/uid-w/seen/declared"})
    foreign = "wf/uid-other/once/1"
    waits = {foreign: waiting.Wait(foreign, T0)}
    assert plan(w, T0 + timedelta(hours=1), done, waits).runs == ()
    suspended = wf.Workflow(REF, w.triggers, w.actions, suspend=True)
    mine = {WAIT_KEY: waiting.Wait(WAIT_KEY, T0)}
    assert plan(suspended, T0 + timedelta(hours=1), done, mine).runs == ()

"""Wait steps: which of a run's steps are due now, and which paused runs to resume.

Pure: the plan of :mod:`workflows`, the waits recorded in the incident's status and ``now``
come in; the plan with each run cut at its wait comes out.

A ``wait`` step pauses its run. When the step is first reached, the executor records its
resume time (``now`` plus the duration) under the step's key with the done keys, and the
steps after it do not run. At each later look (the workflow timer, every few seconds) a
recorded wait that is not over yet keeps the run paused; once ``now`` reaches the resume
time the run resumes from the step after the wait, however the look came about: the
occurrence that started the run need not fire again. A restart reads the same record, so it
neither skips the wait (the time is recorded, not counted in memory) nor repeats the steps
before it (their keys are done) or after it (their keys are done once they ran).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import workflows as wf

MAX_WAITS = 32
"""Paused runs one incident's status keeps (status.workflows.waits)."""


@dataclass(frozen=True)
class Wait:
    """A run paused at a wait step, as the incident's status records it."""

    key: str
    """The wait step's key."""
    resume_at: datetime
    event: wf.Event = wf.Event.DECLARED
    detail: str = ""
    occurrences: tuple[str, ...] = ()


def wait_id(step_key: str) -> str:
    """The wait's id in ``status.workflows.waits`` (a map key: the step key hashed)."""
    return wf.short_hash(step_key)


def reached(step: wf.Step, run: wf.Run, now: datetime) -> Wait:
    """The record of a wait step reached ``now``: its run resumes after the duration."""
    duration = step.action.duration or timedelta(0)
    return Wait(
        key=step.key,
        resume_at=now + duration,
        event=run.occurrence.event,
        detail=run.occurrence.detail,
        occurrences=run.occurrences,
    )


def gate(steps: Iterable[wf.Step], waits: Mapping[str, Wait], now: datetime) -> tuple[wf.Step, ...]:
    """The steps of a run that may run now: up to and including a wait step reached now
    (the executor records it and stops there), past a recorded wait that is over (marked
    with its resume time), and none from a recorded wait not over yet. A wait step whose
    ``if`` is false or failed is not a wait: it is handled like any skipped step."""
    out: list[wf.Step] = []
    for step in steps:
        if step.done or step.action.type is not wf.ActionType.WAIT or not step.runs:
            out.append(step)
            continue
        recorded = waits.get(step.key)
        if recorded is None:
            out.append(step)
            break
        if now < recorded.resume_at:
            break
        out.append(replace(step, resume_at=recorded.resume_at))
    return tuple(out)


def _occurrence_of(workflow: wf.Workflow, key: str) -> tuple[str, int] | None:
    """(trigger occurrence, step index) of one of ``workflow``'s step keys, or None."""
    prefix = wf.run_key(workflow.ref, "")
    if not key.startswith(prefix):
        return None
    occurrence, _, index = key[len(prefix) :].rpartition("/")
    if not occurrence or not index.isdigit() or int(index) >= len(workflow.actions):
        return None
    return occurrence, int(index)


def resumed(
    workflow: wf.Workflow,
    waits: Mapping[str, Wait],
    done: frozenset[str],
    now: datetime,
    evaluate: wf.Evaluate,
) -> tuple[wf.Run, ...]:
    """The runs of ``workflow`` whose recorded wait is over, from the step after it. The
    workflow's condition was judged when the run began and is not judged again; the later
    steps' ``if`` is judged now, against the incident as it is now."""
    if workflow.suspend:
        return ()
    runs = []
    for wait in sorted(waits.values(), key=lambda w: (w.resume_at, w.key)):
        found = _occurrence_of(workflow, wait.key)
        if found is None or wait.key in done or now < wait.resume_at:
            continue
        name, _ = found
        occurrence = wf.Occurrence(name, wait.event, wait.resume_at, wait.detail)
        steps = tuple(
            replace(s, verdict=evaluate(s.action.condition, occurrence))
            if s.action.condition and not s.done
            else s
            for s in wf.steps_for(workflow, name, done)
        )
        steps = gate(steps, waits, now)
        run = wf.Run(
            workflow,
            wf.run_key(workflow.ref, name),
            occurrence,
            (wait.event,),
            steps,
            wait.occurrences or (name,),
        )
        if run.pending:
            runs.append(run)
    return tuple(runs)


def evaluation(
    found: wf.Evaluation,
    waits: Mapping[str, Wait],
    done: frozenset[str],
    now: datetime,
    evaluate: wf.Evaluate,
) -> wf.Evaluation:
    """One workflow's evaluation with its runs cut at their waits and its paused runs that
    are due added (a run both found by a trigger and resumed runs once)."""
    runs = []
    for run in found.runs:
        cut = replace(run, steps=gate(run.steps, waits, now))
        if cut.pending:
            runs.append(cut)
    have = {r.key for r in runs} | {r.key for r in found.runs}
    runs += [r for r in resumed(found.workflow, waits, done, now, evaluate) if r.key not in have]
    if not runs and found.runs:
        return replace(found, runs=(), skipped="waiting")
    return replace(found, runs=tuple(runs))


def plan(
    workflows: Iterable[wf.Workflow],
    facts: wf.Facts,
    memory: wf.Memory,
    now: datetime,
    evaluate: wf.Evaluate,
    *,
    waits: Mapping[str, Wait],
) -> wf.Plan:
    """:func:`workflows.plan` with every run cut at its wait and the due paused runs added,
    in the same order (so a resumed run's ``stop`` step still ends only later workflows)."""
    found = wf.plan(workflows, facts, memory, now, evaluate)
    if not waits and not any(_has_wait(e.workflow) for e in found.evaluations):
        return found
    return replace(
        found,
        evaluations=tuple(
            evaluation(e, waits, memory.done, now, evaluate) for e in found.evaluations
        ),
    )


def _has_wait(workflow: wf.Workflow) -> bool:
    return any(a.type is wf.ActionType.WAIT for a in workflow.actions)


def finished(waits: Mapping[str, Wait], done: Iterable[str]) -> tuple[str, ...]:
    """The ids of the waits whose step is done (their records can go)."""
    keys = set(done)
    return tuple(i for i, w in waits.items() if w.key in keys)

"""Workflow triggers, conditions and step keys (domain/workflows.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incident_operator.domain import workflows as wf
from incident_operator.domain.catalog import PageRoute, SecretRef, TeamEntry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REF = wf.WorkflowRef("IncidentWorkflow", "payments", "tier1", "uid-1", T0 - timedelta(days=1))
POST = wf.Action(wf.ActionType.POST_MESSAGE, "0-post", text="hi")
LABEL = wf.Action(wf.ActionType.SET_LABELS, "1-label", labels=(("escalated", "yes"),))


def always(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
    return wf.Verdict(True)


def workflow(*triggers: wf.Trigger, repeat: wf.Repeat = wf.Repeat.EVERY_TRIGGER) -> wf.Workflow:
    return wf.Workflow(REF, triggers, (POST, LABEL), repeat=repeat)


def facts(
    phase: str = "investigating",
    severity: str = "sev-2",
    labels: dict[str, str] | None = None,
    entries: tuple[wf.Entry, ...] = (),
    last_update: datetime | None = None,
) -> wf.Facts:
    snap = wf.Snapshot(phase, severity, tuple(sorted((labels or {}).items())))
    return wf.Facts(snap, declared=T0, last_update=last_update or T0, entries=entries)


def seen(f: wf.Facts, sequence: int = 3, done: frozenset[str] = frozenset()) -> wf.Memory:
    return wf.Memory(seen=f.current, sequence=sequence, done=done)


def keys(plan: wf.Plan) -> list[str]:
    return [s.key for r in plan.runs for s in r.pending if s.runs]


def test_declared_fires_once_with_keys_of_workflow_occurrence_and_index() -> None:
    w = workflow(wf.Trigger(wf.Event.DECLARED))
    plan = wf.plan([w], facts(), wf.Memory(), T0, always)
    assert keys(plan) == ["wf/uid-1/declared/0", "wf/uid-1/declared/1"]
    again = wf.plan([w], facts(), wf.Memory(done=frozenset(keys(plan))), T0, always)
    assert again.runs == ()


def test_events_before_the_workflow_existed_do_not_fire_it() -> None:
    late = wf.WorkflowRef("IncidentWorkflow", "payments", "late", "uid-2", T0 + timedelta(hours=1))
    w = wf.Workflow(late, (wf.Trigger(wf.Event.DECLARED),), (POST,))
    assert wf.plan([w], facts(), wf.Memory(), T0 + timedelta(hours=2), always).runs == ()


@pytest.mark.parametrize(
    ("trigger", "after", "fires"),
    [
        (wf.Trigger(wf.Event.PHASE_CHANGED), facts(phase="mitigated"), True),
        (wf.Trigger(wf.Event.PHASE_CHANGED, to=("resolved",)), facts(phase="mitigated"), False),
        (wf.Trigger(wf.Event.PHASE_CHANGED), facts(), False),
        (wf.Trigger(wf.Event.SEVERITY_CHANGED, to=("sev-1",)), facts(severity="sev-1"), True),
        (wf.Trigger(wf.Event.SEVERITY_CHANGED, to=("sev-1",)), facts(severity="sev-3"), False),
        (wf.Trigger(wf.Event.LABEL_CHANGED), facts(labels={"tier": "1"}), True),
        (wf.Trigger(wf.Event.LABEL_CHANGED, labels=("tier",)), facts(labels={"x": "1"}), False),
        (wf.Trigger(wf.Event.LABEL_CHANGED, labels=("tier",)), facts(labels={"tier": "1"}), True),
    ],
)
def test_change_triggers_compare_with_the_remembered_snapshot(
    trigger: wf.Trigger, after: wf.Facts, fires: bool
) -> None:
    plan = wf.plan([workflow(trigger)], after, seen(facts()), T0, always)
    assert bool(plan.runs) is fires
    if fires:
        assert plan.runs[0].key == "wf/uid-1/change-4"
        assert plan.sequence == 4


def test_no_change_triggers_on_the_first_look() -> None:
    w = workflow(wf.Trigger(wf.Event.LABEL_CHANGED))
    plan = wf.plan([w], facts(labels={"tier": "1"}), wf.Memory(), T0, always)
    assert plan.runs == ()
    assert plan.snapshot.labels == (("tier", "1"),)
    assert plan.sequence == 0


def test_overlapping_triggers_on_one_change_act_once() -> None:
    w = workflow(
        wf.Trigger(wf.Event.SEVERITY_CHANGED),
        wf.Trigger(wf.Event.LABEL_CHANGED),
        wf.Trigger(wf.Event.PHASE_CHANGED),
    )
    after = facts(phase="mitigated", severity="sev-1", labels={"tier": "1"})
    plan = wf.plan([w], after, seen(facts()), T0, always)
    (run,) = plan.runs
    assert run.events == (
        wf.Event.SEVERITY_CHANGED,
        wf.Event.LABEL_CHANGED,
        wf.Event.PHASE_CHANGED,
    )
    assert keys(plan) == ["wf/uid-1/change-4/0", "wf/uid-1/change-4/1"]


def test_once_per_incident_runs_once_across_different_occurrences() -> None:
    w = workflow(
        wf.Trigger(wf.Event.DECLARED),
        wf.Trigger(wf.Event.LABEL_CHANGED),
        repeat=wf.Repeat.ONCE_PER_INCIDENT,
    )
    first = wf.plan([w], facts(), wf.Memory(), T0, always)
    assert keys(first) == ["wf/uid-1/once/0", "wf/uid-1/once/1"]
    memory = wf.Memory(first.snapshot, first.sequence, frozenset(keys(first)))
    later = wf.plan([w], facts(labels={"tier": "1"}), memory, T0, always)
    assert later.runs == ()
    assert later.evaluations[0].skipped == "already ran for this occurrence"


def test_restart_before_the_status_write_recomputes_the_same_keys() -> None:
    """A crash after the effects and before status.workflows was written: same memory in,
    same keys out (the effects dedup on them)."""
    w = workflow(wf.Trigger(wf.Event.LABEL_CHANGED))
    memory = seen(facts())
    after = facts(labels={"tier": "1"})
    first = wf.plan([w], after, memory, T0, always)
    second = wf.plan([w], after, memory, T0 + timedelta(seconds=30), always)
    assert keys(first) == keys(second) == ["wf/uid-1/change-4/0", "wf/uid-1/change-4/1"]
    # ... and once recorded, the next look finds nothing new.
    done = wf.Memory(first.snapshot, first.sequence, frozenset(keys(first)))
    assert wf.plan([w], after, done, T0, always).runs == ()


def test_a_partly_done_run_only_owes_its_remaining_steps() -> None:
    w = workflow(wf.Trigger(wf.Event.DECLARED))
    memory = wf.Memory(done=frozenset({"wf/uid-1/declared/0"}))
    (run,) = wf.plan([w], facts(), memory, T0, always).runs
    assert [s.key for s in run.pending] == ["wf/uid-1/declared/1"]


def test_timeline_entry_trigger_fires_per_new_entry_of_its_types() -> None:
    old = wf.Entry(T0, "note", "a")
    new = wf.Entry(T0 + timedelta(minutes=1), "note", "b")
    other = wf.Entry(T0 + timedelta(minutes=2), "escalated", "c")
    before = facts(entries=(old,))
    memory = wf.Memory(replace_at(before.current, T0), 1)
    w = workflow(wf.Trigger(wf.Event.TIMELINE_ENTRY, types=("note",)))
    plan = wf.plan([w], facts(entries=(old, new, other)), memory, T0, always)
    (run,) = plan.runs
    assert run.key == f"wf/uid-1/entry-{wf.short_hash('b')}"
    assert plan.snapshot.timeline_at == other.at


def replace_at(snapshot: wf.Snapshot, at: datetime) -> wf.Snapshot:
    return wf.Snapshot(snapshot.phase, snapshot.severity, snapshot.labels, at)


def test_no_update_timer_fires_after_the_quiet_period_while_in_its_phases() -> None:
    trigger = wf.Trigger(wf.Event.NO_UPDATE, after=timedelta(minutes=30), phases=("investigating",))
    w = workflow(trigger)
    f = facts(last_update=T0)
    assert wf.plan([w], f, seen(f), T0 + timedelta(minutes=29), always).runs == ()
    (run,) = wf.plan([w], f, seen(f), T0 + timedelta(minutes=31), always).runs
    same = wf.plan([w], f, seen(f), T0 + timedelta(minutes=50), always).runs[0]
    assert run.key == same.key  # one occurrence per quiet period, whenever it is looked at
    mitigated = facts(phase="mitigated", last_update=T0)
    assert wf.plan([w], mitigated, seen(mitigated), T0 + timedelta(hours=1), always).runs == ()


def test_a_false_or_failing_condition_runs_nothing_and_says_why() -> None:
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (POST,), condition="x")
    plan = wf.plan([w], facts(), wf.Memory(), T0, lambda s, o: wf.Verdict(False))
    assert plan.runs == ()
    assert plan.evaluations[0].skipped == "condition is false"
    failing = wf.plan([w], facts(), wf.Memory(), T0, lambda s, o: wf.Verdict(False, "no key"))
    assert failing.evaluations[0].skipped == "no key"


def test_step_condition_is_evaluated_per_step() -> None:
    guarded = wf.Action(wf.ActionType.ADD_NOTE, "note", condition="no", text="x")
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (POST, guarded))

    def only_yes(source: str, occurrence: wf.Occurrence) -> wf.Verdict:
        return wf.Verdict(source == "yes")

    (run,) = wf.plan([w], facts(), wf.Memory(), T0, only_yes).runs
    assert [s.runs for s in run.steps] == [True, False]


def test_suspended_workflows_do_nothing() -> None:
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (POST,), suspend=True)
    assert wf.plan([w], facts(), wf.Memory(), T0, always).runs == ()


def test_own_effects_are_not_news_to_the_change_triggers() -> None:
    snap = wf.Snapshot("investigating", "sev-2", (("tier", "1"),))
    after = wf.with_effects(
        snap, [LABEL, wf.Action(wf.ActionType.SET_SEVERITY, "s", severity="sev-1")]
    )
    assert after.labels == (("escalated", "yes"), ("tier", "1"))
    assert after.severity == "sev-1"


def test_own_role_changes_are_not_news_to_the_role_trigger() -> None:
    snap = wf.Snapshot("investigating", "sev-2", roles=(("commander", "bob"),))
    roles = wf.Action(
        wf.ActionType.SET_ROLES, "r", roles=(("commander", "alice"), ("scribe", "carol"))
    )
    after = wf.with_effects(snap, [roles])
    assert after.roles == (("commander", "alice"), ("scribe", "carol"))
    assert (after.labels, after.severity) == (snap.labels, snap.severity)


def test_history_is_bounded_and_folds_the_oldest_runs() -> None:
    runs = [wf.RunRecord("w", f"k{i}", (), T0, "succeeded") for i in range(wf.MAX_RUNS + 5)]
    history = wf.remember(wf.History(), runs, [f"k{i}/0" for i in range(wf.MAX_DONE + 3)])
    assert len(history.runs) == wf.MAX_RUNS
    assert history.folded == 5
    assert history.runs[0].key == "k5"
    assert len(history.done) == wf.MAX_DONE
    again = wf.remember(history, [wf.RunRecord("w", "k54", (), T0, "failed")], [])
    assert [r.result for r in again.runs if r.key == "k54"] == ["failed"]


def test_templates_replace_known_placeholders_only() -> None:
    text = wf.render("${title} is ${severity} ${unknown}", {"title": "T", "severity": "sev-1"})
    assert text == "T is sev-1 ${unknown}"


def test_a_lasting_occurrence_is_judged_once_even_when_the_condition_was_false() -> None:
    """declared is found at every look; judged false once, it does not fire when the
    condition turns true later (a change trigger does)."""
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (POST,), condition="c")
    first = wf.plan([w], facts(), wf.Memory(), T0, lambda s, o: wf.Verdict(False))
    assert first.judged == ("wf/uid-1/seen/declared",)
    memory = wf.Memory(first.snapshot, first.sequence, frozenset(first.judged))
    assert wf.plan([w], facts(), memory, T0, always).runs == ()


def test_an_idle_tick_skips_change_triggers_but_not_an_unjudged_declaration() -> None:
    """Nothing new since the last look: change triggers are not judged at all, a declaration
    not judged yet (a workflow created since) still is."""
    f = facts()
    changes = workflow(wf.Trigger(wf.Event.LABEL_CHANGED))
    assert wf.plan([changes], f, seen(f), T0, always).evaluations[0].skipped == "nothing new"
    new = workflow(wf.Trigger(wf.Event.DECLARED))
    assert wf.plan([new], f, seen(f), T0, always).runs
    judged = seen(f, done=frozenset({"wf/uid-1/seen/declared"}))
    assert wf.plan([new], f, judged, T0, always).evaluations[0].skipped == "nothing new"


def test_role_changed_fires_when_a_watched_role_changes_hands() -> None:
    before = wf.Facts(wf.Snapshot("investigating", "sev-2", (), roles=(("commander", "alice"),)))
    after = wf.Facts(wf.Snapshot("investigating", "sev-2", (), roles=(("commander", "bob"),)))
    commander = workflow(wf.Trigger(wf.Event.ROLE_CHANGED, roles=("commander",)))
    scribe = workflow(wf.Trigger(wf.Event.ROLE_CHANGED, roles=("scribe",)))
    (run,) = wf.plan([commander], after, seen(before), T0, always).runs
    assert run.occurrence.detail == "roles changed: commander"
    assert wf.plan([scribe], after, seen(before), T0, always).runs == ()


# --- triggers on what the SLO engine, Alertmanager and the postmortem service recorded ---------

AT = T0 + timedelta(minutes=1)
RECORDED = (
    wf.Entry(AT, "burn-began", "slo-a/burn-began/1", "slo/slo-a"),
    wf.Entry(AT, "burn-stopped", "slo-a/burn-stopped/2", "slo/slo-a"),
    wf.Entry(AT, "burn-stopped", "fake", "kubectl"),  # typed by a person: not the SLO engine
    wf.Entry(AT, "alert-firing", "am/1", "alertmanager/team-a"),
    wf.Entry(AT, "alert-resolved", "am/2", "alertmanager/team-a"),
    wf.Entry(AT, "postmortem", "postmortem/pm-1/drafted", "postmortem"),
    wf.Entry(AT, "postmortem", "postmortem/pm-1/published", "postmortem"),
    wf.Entry(AT, "postmortem", "postmortem/pm-1/overdue/Fix the alert/2026-03-01", "postmortem"),
    wf.Entry(AT, "note", "n/1", "kubectl"),
)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (wf.Trigger(wf.Event.SLO_BURN), ["started", "stopped"]),
        (wf.Trigger(wf.Event.SLO_BURN, to=("stopped",)), ["stopped"]),
        (wf.Trigger(wf.Event.ALERT_GROUP), ["alert-firing", "alert-resolved"]),
        (wf.Trigger(wf.Event.ALERT_GROUP, to=("alert-firing",)), ["alert-firing"]),
        (wf.Trigger(wf.Event.POSTMORTEM_CHANGED), ["drafted", "published"]),
        (wf.Trigger(wf.Event.POSTMORTEM_CHANGED, to=("published",)), ["published"]),
        (wf.Trigger(wf.Event.ACTION_ITEM_OVERDUE), ["overdue"]),
    ],
)
def test_recorded_events_fire_their_triggers_and_nothing_else(
    trigger: wf.Trigger, expected: list[str]
) -> None:
    assert [w for e in RECORDED if (w := wf.entry_event(trigger, e))] == expected
    memory = wf.Memory(replace_at(facts().current, T0), 1)
    found, _ = wf.occurrences(trigger, facts(entries=RECORDED), memory, AT)
    assert [o.detail.split(" (")[0] for o in found] == expected
    assert len({o.key for o in found}) == len(expected), "one occurrence per entry"
    seen_since = wf.Memory(replace_at(facts().current, AT), 2)
    assert wf.occurrences(trigger, facts(entries=RECORDED), seen_since, AT)[0] == ()


# --- page: on whose authority -------------------------------------------------------------

PAGE = wf.Action(wf.ActionType.PAGE, "2-page", team="search")
KEY = SecretRef("search-pd", "routing-key")
OTHER = SecretRef("search-pd", "database")
CLUSTER = wf.WorkflowRef("ClusterIncidentWorkflow", "", "everywhere", "uid-c")


def team(*namespaces: str, **routes: SecretRef | None) -> TeamEntry:
    return TeamEntry("search", frozenset(namespaces), KEY, routes)


def test_a_namespaced_workflow_pages_only_a_team_that_admits_its_namespace() -> None:
    assert wf.page_route(REF, PAGE, team("payments"), "payments") == PageRoute("search", None, KEY)
    assert wf.page_route(REF, PAGE, team("*"), "payments") == PageRoute("search", None, KEY)
    refused = wf.page_route(REF, PAGE, team("search"), "payments")
    assert refused == (
        "team search does not admit namespace payments (its spec.namespaces): "
        "an IncidentWorkflow may page only a Team that admits its namespace"
    )


def test_a_cluster_workflow_may_page_any_team() -> None:
    assert wf.page_route(CLUSTER, PAGE, team("search"), "payments") == PageRoute(
        "search", None, KEY
    )


def test_a_page_needs_the_team_its_route_and_a_key() -> None:
    assert wf.page_route(CLUSTER, PAGE, None, "payments") == "team search does not exist"
    routed = replace(PAGE, route="database")
    assert wf.page_route(REF, routed, team("payments", database=OTHER), "payments") == PageRoute(
        "search", "database", OTHER
    )
    assert wf.page_route(REF, routed, team("payments"), "payments") == (
        "team search declares no paging route database"
    )
    keyless = TeamEntry("search", frozenset({"payments"}))
    assert wf.page_route(REF, PAGE, keyless, "payments") == "team search has no routing key"


def test_page_dedup_keys_name_incident_workflow_action_and_occurrence() -> None:
    once = wf.Step("wf/uid-1/once/2", 2, PAGE, occurrence="once")
    assert wf.page_dedup_key(REF, once, "payments", "db-down") == (
        "incident-operator/payments/db-down/workflow/tier1/2-page"
    )
    each = replace(once, occurrence="change-4")
    assert wf.page_dedup_key(CLUSTER, each, "payments", "db-down") == (
        "incident-operator/payments/db-down/clusterworkflow/everywhere/2-page/change-4"
    )


def test_steps_know_their_occurrence() -> None:
    w = wf.Workflow(REF, (wf.Trigger(wf.Event.DECLARED),), (PAGE,))
    plan = wf.plan([w], facts(), wf.Memory(), T0, always)
    assert [s.occurrence for r in plan.runs for s in r.steps] == ["once"]
    every = replace(w, repeat=wf.Repeat.EVERY_TRIGGER)
    plan = wf.plan([every], facts(), wf.Memory(), T0, always)
    assert [s.occurrence for r in plan.runs for s in r.steps] == ["declared"]


def test_invitees_add_up_once_each_and_are_bounded() -> None:
    assert wf.invitees(("U01", "U02"), ("U02", "U03")) == ("U01", "U02", "U03")
    many = tuple(f"U{i:03d}" for i in range(wf.MAX_INVITEES))
    assert wf.invitees(many, ("U001",)) == many
    assert wf.invitees(many, ("UNEW",)) == (
        f"more than {wf.MAX_INVITEES} people invited by workflows to one incident"
    )


def test_a_named_channel_post_on_whose_authority() -> None:
    payments = TeamEntry("payments", frozenset({"payments"}), slack_channel="#team-payments")
    elsewhere = TeamEntry("search", frozenset({"search"}), slack_channel="#team-search")
    teams = (payments, elsewhere)
    ok = wf.channel_refusal(REF, "team-payments", private=False, teams=teams, namespace="payments")
    assert ok == ""
    refused = wf.channel_refusal(
        REF, "#team-search", private=False, teams=teams, namespace="payments"
    )
    assert refused == (
        "#team-search is not the Slack channel of a Team that admits namespace payments: "
        "an IncidentWorkflow may post only there (a ClusterIncidentWorkflow anywhere)"
    )
    assert wf.channel_refusal(CLUSTER, "#exec", private=False, teams=(), namespace="x") == ""
    for ref in (REF, CLUSTER):  # a private incident's details: never, whoever asks
        assert wf.channel_refusal(
            ref, "#team-payments", private=True, teams=teams, namespace="payments"
        ).startswith("the incident is private")


def test_a_stop_ends_later_runs_only_for_the_occurrences_it_ran_for() -> None:
    w = workflow(wf.Trigger(wf.Event.SEVERITY_CHANGED), wf.Trigger(wf.Event.LABEL_CHANGED))
    before = facts()
    after = facts(severity="sev-1", labels={"tier": "1"})
    (run,) = wf.plan([w], after, seen(before), T0, always).runs
    assert run.occurrences == ("change-4",)  # both triggers, one change: one occurrence
    assert wf.stopped_by(run, {"change-4": "ClusterIncidentWorkflow first"}) == (
        "ClusterIncidentWorkflow first"
    )
    assert wf.stopped_by(run, {"change-3": "ClusterIncidentWorkflow first"}) == ""
    assert wf.stopped_by(run, {}) == ""


def test_workflows_are_planned_cluster_first_then_by_namespace_and_name() -> None:
    names = [("IncidentWorkflow", "b"), ("ClusterIncidentWorkflow", "z"), ("IncidentWorkflow", "a")]
    found = [
        wf.Workflow(
            wf.WorkflowRef(kind, "" if kind.startswith("Cluster") else "payments", name),
            (wf.Trigger(wf.Event.DECLARED),),
            (POST,),
        )
        for kind, name in names
    ]
    plan = wf.plan(found, facts(), wf.Memory(), T0, always)
    assert [r.workflow.ref.name for r in plan.runs] == ["z", "a", "b"]


def test_invitees_leave_out_what_is_not_a_slack_user_id() -> None:
    assert wf.invitees((), ("U0AAAAAAA", "bob", "S0GROUP", "W0BBBBBBB")) == (
        "U0AAAAAAA",
        "W0BBBBBBB",
    )

"""The one job state machine: every run goes through the queue, and the moves the queue needs."""

from __future__ import annotations

from soundstage.domain.jobs import CANCELLABLE, RESUMABLE, TERMINAL, TRANSITIONS, JobStatus, action_for, can_move

S = JobStatus


def test_a_job_runs_only_after_it_was_queued_and_claimed():
    """Nothing moves to running except a claim of a queued job: no request, approval or retry
    starts a backend itself."""
    into_running = {frm for (frm, to) in TRANSITIONS if to is S.RUNNING}
    assert into_running == {S.QUEUED}
    assert action_for(S.QUEUED, S.RUNNING) == "job.started"
    for frm in (S.SUBMITTED, S.ESCALATED, S.FAILED):
        assert not can_move(frm, S.RUNNING)
        assert can_move(frm, S.QUEUED)


def test_a_claim_can_refuse_what_waited_in_the_queue():
    """The guard proves a queued job again when a worker claims it: it may be denied (a consent was
    revoked), need approvals again (the policy changed), or fail (the ledger was edited)."""
    for target, action in ((S.DENIED, "job.denied"), (S.ESCALATED, "job.escalated"), (S.FAILED, "job.failed"),
                           (S.REJECTED, "job.rejected"), (S.CANCELLED, "job.cancelled")):
        assert action_for(S.QUEUED, target) == action


def test_a_running_job_is_handed_back_not_left_running():
    """SIGTERM or a lapsed lease: running -> queued (job.requeued); a failed job is resumed the same way."""
    assert action_for(S.RUNNING, S.QUEUED) == "job.requeued"
    assert action_for(S.FAILED, S.QUEUED) == "job.requeued"
    assert RESUMABLE == {S.FAILED, S.RUNNING, S.SUBMITTED}
    assert all(can_move(s, S.QUEUED) for s in RESUMABLE)


def test_cancel_reaches_every_unfinished_state_and_nothing_else():
    assert CANCELLABLE == {S.SUBMITTED, S.ESCALATED, S.QUEUED, S.RUNNING, S.FAILED}
    assert not CANCELLABLE & TERMINAL and S.DENIED not in CANCELLABLE


def test_every_action_names_one_target_so_the_log_replays():
    """``ledger_state`` replays a job's status from its audit actions: one action, one target."""
    targets: dict[str, set] = {}
    for (_frm, to), action in TRANSITIONS.items():
        targets.setdefault(action, set()).add(to)
    assert all(len(t) == 1 for t in targets.values()), targets
    assert targets["job.queued"] == targets["job.requeued"] == {S.QUEUED}


def test_terminal_states_have_no_way_out():
    assert not [(frm, to) for (frm, to) in TRANSITIONS if frm in TERMINAL]

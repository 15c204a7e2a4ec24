"""The demo's REINFORCE runs trained at once in forked processes (bondlab.lm.demo_pool) give the very table
they give one after the other in this process: every run draws from its own seeded generators."""
import pytest
import torch

from demo_helpers import tiny_demo

from bondlab.lm.demo import DemoConfig
from bondlab.lm.demo_pool import can_fork, run_stages, runs_of
from bondlab.lm.demo import Stage


def _drop_wall(d: dict) -> dict:
    return {k: {f: v for f, v in m.items() if f != "wall_s"} for k, m in d.items()}


@pytest.fixture
def one_thread():
    """torch on one thread for the test (the suite may run on two): the only case in which the demo forks."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork here")
def test_workers_give_the_same_table_as_one_by_one(one_thread):
    assert can_fork()
    one = tiny_demo(beta_rls=(0.1, 1.0), workers=1)
    two = tiny_demo(beta_rls=(0.1, 1.0), workers=2)
    assert list(one.data["methods"]) == list(two.data["methods"])     # same rows, same order
    assert _drop_wall(one.data["methods"]) == _drop_wall(two.data["methods"])
    assert _drop_wall(one.data["history"]) == _drop_wall(two.data["history"])
    assert one.data["front"] == two.data["front"]
    for name in ("reinforce_0.1", "reinforce_1"):                    # the weights came back from the workers
        for a, b in zip(one.policies[name].parameters(), two.policies[name].parameters()):
            assert torch.equal(a, b)
    # and the two runs did train: their weights differ from pi_ref's and from each other's
    moved = [any(not torch.equal(a, b) for a, b in zip(one.policies[n].parameters(), one.ref.parameters()))
             for n in ("reinforce_0.1", "reinforce_1")]
    assert all(moved)


def test_runs_of_groups_consecutive_stages_of_a_kind():
    kinds = ["best-of-n", "jbond", "reinforce", "reinforce", "reinforce", "exact", "reinforce"]
    stages = [Stage(f"s{i}", k) for i, k in enumerate(kinds)]
    groups = runs_of(stages, "reinforce")
    assert [[s.name for s in g] for g in groups] == [["s0"], ["s1"], ["s2", "s3", "s4"], ["s5"], ["s6"]]


def test_no_fork_while_torch_runs_on_several_threads():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert not can_fork()
        stages = [Stage(f"s{i}", "x") for i in range(2)]
        assert run_stages("R", stages, lambda run, stage, in_worker: in_worker, 2) == [False, False]
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork here")
def test_run_stages_keeps_order_and_passes_where_it_ran(one_thread):
    stages = [Stage(f"s{i}", "x") for i in range(3)]
    work = lambda run, stage, in_worker: (run, stage.name, in_worker)  # noqa: E731
    done = []
    assert run_stages("R", stages, work, 1, on_done=lambda s: done.append(s.name)) == \
        [("R", "s0", False), ("R", "s1", False), ("R", "s2", False)]
    assert run_stages("R", stages, work, 2, on_done=lambda s: done.append(s.name)) == \
        [("R", "s0", True), ("R", "s1", True), ("R", "s2", True)]
    assert sorted(done) == ["s0", "s0", "s1", "s1", "s2", "s2"]


def test_workers_must_be_a_positive_integer():
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="workers"):
            DemoConfig(workers=bad)

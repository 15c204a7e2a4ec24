"""The suite's torch thread count (BONDLAB_TORCH_THREADS, tests/conftest.py) holds in every test, even after a
test that changes it the way an in-process `bondlab demo` or `bondlab lm` does (--threads, default 1)."""
import os

import torch


def want():
    return int(os.environ.get("BONDLAB_TORCH_THREADS", "1"))


def test_a_test_may_change_the_thread_count():
    assert torch.get_num_threads() == want()
    torch.set_num_threads(2 if want() == 1 else 1)
    assert torch.get_num_threads() != want()


def test_the_next_test_starts_with_the_chosen_count_again():
    assert torch.get_num_threads() == want()

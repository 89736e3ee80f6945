"""torch's thread count from a job's threads."""

import torch

from workflow_lib.core.threads import set_threads


def test_a_count_is_set_and_none_or_zero_leave_the_default():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(None)
        set_threads(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)

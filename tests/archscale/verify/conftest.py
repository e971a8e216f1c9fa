"""One torch thread for this directory: on a busy 2-core machine two threads oversubscribe
the CPU and the fast experiments run ten times slower."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

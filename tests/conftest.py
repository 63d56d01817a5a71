"""Shared test setup: CUDA tests are marked `gpu` and skipped where CUDA is absent."""
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (run `pytest -m gpu` on a machine with a GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def no_tf32():
    """cuDNN and cuBLAS use TF32 by default on Ampere+; the oracle comparisons need full fp32."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.fixture(autouse=True)
def _no_foreign_running_loop(request):
    """Outside the browser tests, no event loop is running in the test's thread, as in a plain script. Playwright's
    sync API (the browser tests, earlier in the same process) leaves its loop registered as running in the main
    thread, though nothing turns it: ``filling.running_loop()`` would find it and queue work that never runs, and
    ``asyncio.run`` would refuse to start. It is hidden for the test and put back after."""
    import asyncio
    import asyncio.events

    foreign = asyncio.events._get_running_loop()
    if foreign is None or "browser" in request.keywords:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(foreign)

"""``python -m tests.worker.celery_main <celery args>``: a real Celery worker that also knows the
test protocols. Everything else is the production worker (worker.celery_app, worker.tasks).

``REBENCH_TEST_EPOCH_SLEEP_S`` (tests only) makes every training epoch that much longer, for
the liveness tests: an epoch longer than STALE_AFTER_S must not look like a dead worker.
"""

import os

from tests.worker.protocols import register

register()


def _slow_epochs(seconds: float) -> None:
    import time

    from archscale.training import engine

    real = engine.train_epoch

    def train_epoch(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return real(*args, **kwargs)

    engine.train_epoch = train_epoch


if __name__ == "__main__":
    if os.environ.get("REBENCH_TEST_EPOCH_SLEEP_S"):
        _slow_epochs(float(os.environ["REBENCH_TEST_EPOCH_SLEEP_S"]))
    from celery.__main__ import main

    main()

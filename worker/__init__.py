"""Workers: the Celery app, the one task, the reaper and the embedded runner.

Thin by design: training is ``archscale.training.train_run``; every state change of a run
is a ``service.storage`` repository call. Postgres (or the embedded SQLite file) is the
source of truth; the broker only carries run ids.
"""

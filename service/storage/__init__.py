"""Storage: typed SQLAlchemy models, engine/session factory, migrations and repositories.

Imports neither fastapi nor torch (a test proves it): workers and the CLI use it alone.

What a worker needs, all taking a Session from ``Database(url).transaction()``:

==========================  ==================================================================
``runs.claim_run``           queued -> running for this worker, atomically (None: not yours)
``runs.heartbeat``           liveness + progress; says whether to stop (cancelled / reclaimed)
``results.append_epoch``     one epoch of the curve; re-reporting an epoch overwrites it
``results.store_final_result``  the final result + fingerprint, exactly once; marks succeeded
``runs.mark_failed``         error message + traceback id
``runs.mark_cancelled``      acknowledge a cancel request (``runs.cancel_requested`` reads it)
``runs.list_stale_runs``     queued/running runs silent for longer than X (the reaper)
``runs.requeue_run``         a stale running run back to queued (or cancelled if asked)
``batches.batch_status``     status counts of a batch
==========================  ==================================================================
"""

"""``python -m tests.worker.celery_main <celery args>``: a real Celery worker that also knows the
test protocols. Everything else is the production worker (worker.celery_app, worker.tasks)."""

from tests.worker.protocols import register

register()

if __name__ == "__main__":
    from celery.__main__ import main

    main()

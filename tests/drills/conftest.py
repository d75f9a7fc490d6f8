import contextlib

import pytest
from django.core.management import call_command
from kombu import pools as kombu_pools

from portal.celery import app as celery_app
from tests.drills.processes import RedisServer, Worker


def _reset_connections(app) -> None:
    """Forget pooled broker connections, so the next publish connects to the broker now set."""
    if app._pool is not None:
        with contextlib.suppress(Exception):
            app._pool.force_close_all()
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
    # kombu also keeps connection and producer pools in module-wide registries keyed by the
    # broker URL; a pool closed above would otherwise be handed to the next test that publishes
    # ("Acquire on closed pool").
    kombu_pools.reset()


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the drill's own: stopping it disturbs nobody."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def broker(settings, redis_server):
    """This process publishes for real (not eagerly) to the drill's own Redis."""
    conf = celery_app.conf
    saved = {
        "broker_url": conf.broker_url,
        "broker_transport_options": conf.broker_transport_options,
        "task_always_eager": conf.task_always_eager,
    }
    _reset_connections(celery_app)
    conf.broker_url = redis_server.url
    conf.broker_transport_options = dict(settings.REDIS_BROKER_TRANSPORT_OPTIONS)
    conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    yield redis_server
    _reset_connections(celery_app)
    for key, value in saved.items():
        conf[key] = value


@pytest.fixture
def workers(transactional_db, tmp_path):
    """Start workers with ``workers(broker_url=..., ...)``; all are stopped before the test
    database is flushed (this fixture depends on ``transactional_db``)."""
    started = []

    def start(**options) -> Worker:
        worker = Worker(tmp_path / f"worker{len(started)}", **options)
        started.append(worker)
        return worker.start()

    yield start
    # Killed, not shut down warmly: nothing they hold matters once the test is over, and the
    # tasks are idempotent anyway.
    for worker in started:
        worker.kill()


@pytest.fixture
def catalogue(transactional_db):
    """Transactional tests flush every table afterwards, so each drill loads its product."""
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0)

"""Real services for the failure drills, each owned by one test: a Redis server on a free port,
Celery workers as subprocesses, and a TCP proxy in front of PostgreSQL that can be cut.

Everything listens on loopback only. Each object is stopped by its owner's finalizer; a drill never
touches the shared Redis or any worker it did not start.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.conftest import wait_for

BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int, request: bytes, expected: bytes) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(request)
            return conn.recv(64).startswith(expected)
    except OSError:
        return False


class RedisServer:
    """``redis-server`` without persistence on a port of its own; stop and start it again on
    the same port to play an outage."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        assert wait_for(self.is_up, timeout=20), "redis-server did not start"
        return self

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its port (the kernel still accepts connections) but
        answers nothing, like a Redis stuck in a long command or a host that went away."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def is_up(self) -> bool:
        return _answers(self.port, b"PING\r\n", b"+PONG")

    def stop(self) -> None:
        if self.process is None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def queued(self, queue: str = "celery") -> int:
        """Messages waiting in a queue (LLEN), read over the wire."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            name = queue.encode()
            conn.sendall(b"*2\r\n$4\r\nLLEN\r\n$%d\r\n%s\r\n" % (len(name), name))
            reply = conn.recv(64)
        return int(reply[1:].split(b"\r\n", 1)[0])


def database_url(port: int | None = None) -> str:
    """The pytest-django test database, as a URL a subprocess can open: the SQLite test
    database is a file (see ``DATABASES["default"]["TEST"]`` in settings), PostgreSQL's a
    database on the server; ``port`` reaches PostgreSQL through a proxy instead."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    # Plain TCP, so that a proxy in the middle sees the statements go by.
    return (
        f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}"
        f"/{db['NAME']}?sslmode=disable"
    )


class Worker:
    """``celery worker`` as a subprocess of its own session (so the whole process group can be
    killed), on the test's database, media folder and broker."""

    def __init__(
        self,
        folder: Path,
        *,
        broker_url: str,
        db_url: str | None = None,
        app: str = "portal",
        pool: str = "prefork",
        env: dict | None = None,
    ):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.broker_url = broker_url
        self.db_url = db_url or database_url()
        self.app = app
        self.pool = pool
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.folder / f"worker-{self.starts}.log"

    def log(self) -> str:
        return "\n".join(
            (self.folder / f"worker-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (self.folder / f"worker-{n}.log").exists()
        )

    def start(self) -> "Worker":
        self.starts += 1
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DJANGO_ENV": "test",
            "DATABASE_URL": self.db_url,
            # Every task opens a fresh connection, as after an outage.
            "DB_CONN_MAX_AGE": "0",
            "REDIS_URL": self.broker_url,
            "CELERY_BROKER_URL": self.broker_url,
            "PORTAL_VAR_DIR": str(settings.VAR_DIR),
            "PORTAL_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONPATH": str(BASE_DIR),
            **self.extra_env,
        }
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed once the process has it
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                self.app,
                "worker",
                "--pool",
                self.pool,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"drill-{os.getpid()}-{self.starts}@localhost",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        ready = wait_for(
            lambda: (
                " ready." in self.log_path.read_text(errors="replace")
                or self.process.poll() is not None
            ),
            timeout=90,
        )
        assert ready and self.process.poll() is None, self.log()[-4000:]
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL to the whole worker: main process and pool children at once."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)
        self.process = None

    def stop(self) -> None:
        """A warm shutdown, then SIGKILL for what is left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self.kill()


class TcpProxy:
    """A loopback TCP relay to ``upstream``. ``cut()`` closes every connection and stops
    listening (new connections are refused, as from a database that went away);
    ``restore()`` listens again on the same port. ``cut_on(...)`` cuts the moment a
    client sends certain bytes, before they reach the server."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._patterns: tuple[bytes, ...] = ()
        self._left = 0
        self.cuts = 0
        self.closed = False

    def start(self) -> "TcpProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._sockets.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client and self._matches(data):
                    self.cut()
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()

    def cut_on(self, *patterns: bytes, nth: int = 1) -> None:
        """Cut when the ``nth`` client message containing any of ``patterns`` arrives; the
        earlier ones get through."""
        with self._lock:
            self._patterns = patterns
            self._left = nth

    def _matches(self, data: bytes) -> bool:
        with self._lock:
            if not self._patterns or not any(p in data for p in self._patterns):
                return False
            self._left -= 1
            if self._left > 0:
                return False
            self._patterns = ()
            return True

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)
        self.cuts += 1

    def close(self) -> None:
        self.closed = True
        self.cut()


def wait_until(predicate, timeout: float, message):
    """``wait_for`` that fails with ``message()`` (evaluated only on failure)."""
    if not wait_for(predicate, timeout=timeout):
        raise AssertionError(message() if callable(message) else message)


@contextlib.contextmanager
def no_hang(seconds: int, what: str):
    """Fail instead of hanging: SIGALRM interrupts a call blocked for ``seconds``. A guard
    against a request that never returns, far above any normal duration, not a timing check."""

    def alarm(signum, frame):
        raise AssertionError(f"{what} still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        # For the drill report (-s): how long the call took with the broker down.
        print(f"[drill] {what}: {time.monotonic() - started:.2f} s")

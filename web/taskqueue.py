"""The task queue that hands jobs to workers: Dramatiq, on Redis or RabbitMQ. The only
module that imports it.

Why Dramatiq: it speaks both brokers the ``broker`` setting allows; a message is
acknowledged only after its job has run, so a worker killed mid-job (SIGKILL included)
has its job delivered again (RabbitMQ as soon as the connection drops, Redis once the
worker's heartbeat is ``worker_heartbeat`` seconds old); retries with exponential backoff
and a retry limit are built in; and workers reconnect by themselves when the broker goes
away and comes back. Celery offers the same with ``acks_late`` and
``reject_on_worker_lost``, but off by default and with far more machinery than onrecord
uses.

A message carries only a job id: what the job is and how it went live in the catalog
(:mod:`web.jobs`). Jobs that need a browser go to a queue of their own that only workers
started with ``--browser`` take.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import dramatiq
import pika.exceptions
import redis.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware, TimeLimitExceeded

log = logging.getLogger(__name__)

QUEUE = "onrecord"
BROWSER_QUEUE = "onrecord-browser"
# Longest a job may run before it is stopped (and retried): a large source's discovery.
TIME_LIMIT_MS = 60 * 60 * 1000
# Redis: the share of broker calls that also look for dead workers' unacknowledged jobs
# (of dramatiq's scale of 1,000,000): one call in twenty, so a dead worker's jobs move on
# within about a heartbeat of its death, not minutes later.
MAINTENANCE_CHANCE = 50_000

_UNREACHABLE = (
    dramatiq.errors.BrokerConnectionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    pika.exceptions.AMQPError,
    OSError,
)

# (job id, whether this is the job's last allowed attempt) -> None
Handler = Callable[[str, bool], None]

# What a handler's thread is interrupted with once its job has run past the time limit. A
# BaseException (so that the job's own ``except Exception`` cannot swallow it): a handler
# that records failures catches it by name and lets it go on to the broker, which retries.
JobTimedOut = TimeLimitExceeded


class _ThreadEnd(Middleware):
    """Calls ``ended`` in each worker thread as it stops: what a thread opened (a
    Playwright browser answers only to the thread that started it) is closed there."""

    def __init__(self, ended: Callable[[], None]) -> None:
        self.ended = ended

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: object) -> None:
        self.ended()


class BrokerError(Exception):
    """The broker setting is wrong, or the broker cannot be reached."""


def shown(url: str) -> str:
    """A broker URL without its password, for messages.

    >>> shown("amqp://guest:secret@127.0.0.1:5672/")
    'amqp://guest@127.0.0.1:5672/'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class TaskQueue:
    """Jobs sent to, and taken from, one broker.

    ``namespace`` keeps the keys (Redis) or queue names (RabbitMQ) of two archives on one
    broker apart. ``retries`` and ``backoff`` (seconds, doubling) bound how often a
    failing job is tried; ``heartbeat`` (seconds) is how long a silent Redis worker
    keeps its jobs; ``time_limit`` (seconds) is how long a job may run before it is
    stopped with :data:`JobTimedOut`."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "onrecord",
        retries: int = 3,
        backoff: float = 5.0,
        heartbeat: float = 60.0,
        time_limit: float = TIME_LIMIT_MS / 1000,
    ) -> None:
        self.url = url
        self.retries = retries
        self.time_limit = time_limit
        self.max_backoff = backoff * 2**retries  # seconds: the longest pause before a retry
        self._booted = False
        scheme = urlsplit(url).scheme
        if scheme in ("redis", "rediss"):
            self.broker = RedisBroker(
                url=url,
                namespace=namespace,
                heartbeat_timeout=int(heartbeat * 1000),
                maintenance_chance=MAINTENANCE_CHANCE,
                socket_connect_timeout=5,
            )
            self.queues = (QUEUE, BROWSER_QUEUE)
        elif scheme in ("amqp", "amqps"):
            self.broker = RabbitmqBroker(url=url)
            prefix = "" if namespace == "onrecord" else f"{namespace}."
            self.queues = (prefix + QUEUE, prefix + BROWSER_QUEUE)
        else:
            raise BrokerError(
                f"the broker setting must be a redis:// or amqp:// URL, not {shown(url)!r}"
            )
        self.broker.add_middleware(CurrentMessage())
        self._handler: Handler | None = None
        options = {
            "max_retries": retries,
            "min_backoff": int(backoff * 1000),
            "max_backoff": round(self.max_backoff * 1000),
            "time_limit": round(time_limit * 1000),
        }
        self._actors = {
            browser: dramatiq.Actor(
                self._perform,
                broker=self.broker,
                actor_name=queue_name + ".job",
                queue_name=queue_name,
                priority=0,
                options=dict(options),
            )
            for browser, queue_name in zip((False, True), self.queues, strict=True)
        }

    def check(self) -> None:
        """BrokerError unless the broker answers."""
        try:
            if isinstance(self.broker, RedisBroker):
                self.broker.client.ping()
            else:
                self.broker.connection  # noqa: B018 (opening it is the check)
        except _UNREACHABLE as exc:
            raise BrokerError(f"cannot reach the broker at {shown(self.url)}: {exc}") from None

    def send(self, job_id: str, *, browser: bool = False, delay: float = 0.0) -> None:
        """Queue a job (for a worker with a browser, with ``browser``), to be taken no
        sooner than ``delay`` seconds from now."""
        try:
            self._actors[browser].send_with_options(
                args=(job_id,), delay=round(delay * 1000) or None
            )
        except _UNREACHABLE as exc:
            raise BrokerError(f"cannot reach the broker at {shown(self.url)}: {exc}") from None

    def close(self) -> None:
        self.broker.close()

    def __enter__(self) -> TaskQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _perform(self, job_id: str) -> None:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message else 0
        self._handler(job_id, retries >= self.retries)

    def work(
        self,
        handler: Handler,
        *,
        threads: int = 1,
        browser: bool = False,
        thread_ended: Callable[[], None] | None = None,
    ) -> None:
        """Take jobs and run ``handler`` on each, in ``threads`` threads, until SIGTERM or
        SIGINT; a job in progress is finished (and acknowledged) before returning. With
        ``browser``, the browser queue's jobs are taken too. ``thread_ended`` is called
        in each of the threads as it stops."""
        self._handler = handler
        if thread_ended is not None:
            self.broker.add_middleware(_ThreadEnd(thread_ended))
        queues = set(self.queues if browser else self.queues[:1])
        if not self._booted:
            # dramatiq's own command announces this; its TimeLimit middleware starts the
            # thread that stops overlong jobs then, and a thread starts only once.
            self.broker.emit_after("process_boot")
            self._booted = True
        worker = dramatiq.Worker(
            self.broker, queues=queues, worker_threads=threads, worker_timeout=1000
        )
        stop = threading.Event()

        def asked_to_stop(number: int, frame: object) -> None:
            stop.set()

        previous = {
            number: signal.signal(number, asked_to_stop)
            for number in (signal.SIGTERM, signal.SIGINT)
        }
        worker.start()
        log.info("worker taking jobs from %s (%s)", shown(self.url), ", ".join(sorted(queues)))
        try:
            while not stop.wait(1.0):
                pass
        finally:
            log.info("worker stopping: finishing the jobs in progress")
            worker.stop()
            for number, handler_before in previous.items():
                signal.signal(number, handler_before)

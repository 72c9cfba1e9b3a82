"""Settings: each declared once, with its default and its help text.

An archive folder holds ``onrecord.toml``; each setting can be overridden by an
environment variable named ``ONRECORD_`` + the upper-cased name (``ONRECORD_ALLOW_PRIVATE=1``).
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()  # the only values allowed, when not empty
    positive: bool = False  # a number that must be more than 0 (a size, a timeout)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "allow_private",
        False,
        "Allow fetching private, loopback and link-local addresses (tests and the demo only).",
    ),
    Setting("admin_token", "", "Token that admin actions (add source, scrape, reindex) require."),
    Setting(
        "user_agent", "", "User-Agent for fetches; empty means onrecord's identifying default."
    ),
    Setting("delay", 2.0, "Seconds between two requests to the same host."),
    Setting(
        "max_crawl_delay",
        30.0,
        "Most seconds a robots.txt Crawl-delay makes fetches wait; a longer one is capped"
        " (and logged).",
    ),
    Setting(
        "max_bytes",
        25 * 1024 * 1024,
        "Largest response body fetched, in bytes.",
        positive=True,
    ),
    Setting("timeout", 30.0, "Read timeout of one request, in seconds.", positive=True),
    Setting(
        "max_warc_size",
        1_000_000_000,
        "Size in bytes at which a new WARC file is started.",
        positive=True,
    ),
    Setting(
        "catalog",
        "",
        "Where the catalog lives: sqlite:///PATH (relative to the archive) or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE; empty means catalog.sqlite "
        "in the archive.",
    ),
    Setting(
        "warcs",
        "warcs",
        "Where WARC files are kept: a folder (relative to the archive) or s3://bucket/prefix "
        "(written in warcs/, uploaded when a file is finished).",
    ),
    Setting(
        "s3_endpoint_url",
        "",
        "S3-compatible endpoint for an s3:// warcs setting; empty means $AWS_ENDPOINT_URL.",
    ),
    Setting("s3_access_key_id", "", "S3 access key; empty means $AWS_ACCESS_KEY_ID."),
    Setting("s3_secret_access_key", "", "S3 secret key; empty means $AWS_SECRET_ACCESS_KEY."),
    Setting("s3_region", "", "S3 region; empty means $AWS_DEFAULT_REGION, else us-east-1."),
    Setting(
        "search_engine",
        "whoosh",
        'The search index\'s engine: "whoosh" (pure Python, the default) or "tantivy" (for '
        "archives of a million records or more); a change takes effect at the next "
        "`onrecord reindex`.",
        choices=("whoosh", "tantivy"),
    ),
    Setting(
        "broker",
        "",
        "Task-queue broker that workers take scrape work from: redis://HOST:PORT/DB or "
        "amqp://USER:PASSWORD@HOST:PORT/; empty means all work runs in the process that "
        "asks for it.",
    ),
    Setting(
        "broker_namespace",
        "onrecord",
        "Prefix of this archive's keys (Redis) or queue names (RabbitMQ) on the broker, so "
        "that several archives can share one broker.",
    ),
    Setting(
        "job_retries",
        3,
        "Times a job that failed is tried again (after growing pauses) before it is "
        "recorded as failed with its error.",
    ),
    Setting("job_backoff", 5.0, "Seconds before a failed job's first retry (then doubling)."),
    Setting(
        "worker_heartbeat",
        60.0,
        "Seconds after which a silent worker is taken for dead and its jobs are given to "
        "others (Redis broker; RabbitMQ does so as soon as the worker's connection drops).",
        positive=True,
    ),
    Setting("sources", "sources", "Folder (relative to the archive) of source definition files."),
    Setting(
        "index",
        "index",
        "Folder of the search index (relative to the archive, or absolute). Each web node"
        " keeps its own, derived from the catalog: set ONRECORD_INDEX per node.",
    ),
    Setting(
        "follow_interval",
        1.0,
        "Seconds between two looks a web node takes at the catalog's change log.",
        positive=True,
    ),
    Setting(
        "behind_after",
        10.0,
        "Seconds a change may wait for a node's index before its pages say search is behind.",
    ),
    Setting("browser", "/usr/bin/chromium", 'Chromium for browser captures (render = "browser").'),
    Setting(
        "browser_timeout",
        60.0,
        "Longest a browser capture may take, in seconds.",
        positive=True,
    ),
    Setting(
        "browser_max_bytes",
        50 * 1024 * 1024,
        "Largest total of the responses one browser capture receives, in bytes.",
        positive=True,
    ),
    Setting("browser_pages", 50, "Pages a browser renders before it is restarted.", positive=True),
    Setting("smtp_host", "", "SMTP server for e-mail alert digests; empty means no e-mail."),
    Setting("smtp_port", 25, "Port of the SMTP server.", positive=True),
    Setting("smtp_from", "onrecord@localhost", "Sender address of e-mail alert digests."),
    Setting("smtp_user", "", "SMTP login name; empty means no login."),
    Setting("smtp_password", "", "SMTP password (with smtp_user)."),
    Setting(
        "replay_origin",
        "",
        "Separate origin that serves archived copies, e.g. http://127.0.0.1:8081.",
    ),
    Setting(
        "secret_key",
        "",
        "Key that signs the CSRF token of forms shown before signing in; every web node of"
        " an archive needs the same. Empty: a key of this process's own (one node only).",
    ),
    Setting(
        "public_url",
        "",
        "Public base URL of the web front end, e.g. https://onrecord.example/: absolute links"
        " (citations, feeds, Memento headers) are built on it, never on a request's Host"
        " header. Empty: the request's host (only safe with no proxy in front).",
    ),
)

CONFIG_FILE = "onrecord.toml"
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}


class ConfigError(ValueError):
    """A setting with a value of the wrong type, or an unknown setting."""


def _wrong_type(setting: Setting, value: Any) -> ConfigError:
    """'delay must be a float, not 'fast'', 'max_bytes must be an int, not True'."""
    kind = type(setting.default).__name__
    article = "an" if kind[0] in "aeiou" else "a"
    return ConfigError(f"{setting.name} must be {article} {kind}, not {value!r}")


def _coerce(setting: Setting, value: Any) -> Any:
    default = setting.default
    if not isinstance(default, bool) and isinstance(value, bool | list | dict):
        raise _wrong_type(setting, value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{setting.name} must be true or false, not {value!r}")
    try:
        coerced = type(default)(value)
    except (TypeError, ValueError):
        raise _wrong_type(setting, value) from None
    if isinstance(coerced, int | float) and not 0 <= coerced < math.inf:  # nan is not either
        raise ConfigError(f"{setting.name} must be a number from 0, not {value!r}")
    if setting.positive and coerced == 0:
        raise ConfigError(f"{setting.name} must be more than 0, not {value!r}")
    if setting.choices and coerced not in setting.choices:
        allowed = " or ".join(repr(choice) for choice in setting.choices)
        raise ConfigError(f"{setting.name} must be {allowed}, not {value!r}")
    return coerced


def load(root: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then the archive's config file, then ``ONRECORD_*`` variables."""
    environ = os.environ if environ is None else environ
    values = {setting.name: setting.default for setting in SETTINGS}
    if root is not None and (root / CONFIG_FILE).exists():
        path = root / CONFIG_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        table = data.get("onrecord", {})
        others = sorted(set(data) - {"onrecord"})
        if not isinstance(table, dict) or others:
            where = f"{others[0]!r} outside it" if others else "not a table"
            raise ConfigError(f"{path}: settings go in the [onrecord] table ({where})")
        for name, value in table.items():
            if name not in SETTINGS_BY_NAME:
                raise ConfigError(f"{path}: unknown setting {name!r}")
            values[name] = _coerce(SETTINGS_BY_NAME[name], value)
    for setting in SETTINGS:
        variable = "ONRECORD_" + setting.name.upper()
        if variable in environ:
            values[setting.name] = _coerce(setting, environ[variable])
    return values


def set_values(root: Path, values: Mapping[str, str]) -> None:
    """Write settings into an archive's config file, keeping its other lines (comments
    included): a setting already set is changed where it stands, others are added at the
    end of the ``[onrecord]`` table."""
    path = root / CONFIG_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if "[onrecord]" not in (line.strip() for line in lines):
        lines.append("[onrecord]")
    for name, value in values.items():
        if name not in SETTINGS_BY_NAME:
            raise ConfigError(f"unknown setting {name!r}")
        line = f"{name} = {_toml_value(value)}"
        at = next((n for n, old in enumerate(lines) if _sets(old, name)), None)
        if at is None:
            start = [old.strip() for old in lines].index("[onrecord]")
            end = next(
                (n for n in range(start + 1, len(lines)) if lines[n].lstrip().startswith("[")),
                len(lines),
            )
            lines.insert(end, line)
        else:
            lines[at] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sets(line: str, name: str) -> bool:
    key = line.split("=", 1)[0].strip()
    return "=" in line and key == name


def _toml_value(value: Any) -> str:
    """A value as TOML writes it.

    >>> _toml_value(True), _toml_value(2.5), _toml_value('postgresql://a@b/"c"')
    ('true', '2.5', '"postgresql://a@b/\\\\"c\\\\""')
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_file() -> str:
    """The text of a new archive's config file: every setting, commented, with its help."""
    lines = ["# onrecord archive settings. Uncomment to change a default.", "[onrecord]"]
    for setting in SETTINGS:
        value = setting.default
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        if isinstance(value, str):
            shown = '"' + value + '"'
        lines += [f"# {setting.help}", f"# {setting.name} = {shown}"]
    return "\n".join(lines) + "\n"

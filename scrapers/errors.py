"""The scrapers' typed exceptions.

A fetch that goes wrong raises a `FetchError` subclass that says where (`url`), why
(`reason`, one human sentence) and what had already crossed the wire (`exchanges`, so the
pipeline can still archive the redirects or error pages it received). HTTP 4xx/5xx
responses that are not retried are results, not errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapers.http import Exchange

__all__ = [
    "ConnectionFailed",
    "DiscoveryError",
    "FetchError",
    "FetchTimeout",
    "InvalidURL",
    "PrivateAddress",
    "ResponseTooLarge",
    "RetriesExhausted",
    "RobotsDisallowed",
    "RobotsUnavailable",
    "SourceError",
    "TooManyRedirects",
]


class FetchError(Exception):
    """A fetch that did not produce a result."""

    def __init__(self, url: str, reason: str, *, exchanges: Iterable[Exchange] = ()) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.exchanges: tuple[Exchange, ...] = tuple(exchanges)


class RobotsDisallowed(FetchError):
    """robots.txt forbids the URL to our user agent, or could not be read just now."""


class RobotsUnavailable(RobotsDisallowed):
    """robots.txt could not be read just now (the host is down or erring): not fetching."""


class PrivateAddress(FetchError):
    """The host resolves to a private, loopback, link-local or reserved address."""


class TooManyRedirects(FetchError):
    """The redirect chain is longer than allowed or comes back on itself."""


class ResponseTooLarge(FetchError):
    """The body (as sent, or once decoded) is larger than the configured cap."""


class FetchTimeout(FetchError):
    """The server was too slow to answer or to send the body."""


class ConnectionFailed(FetchError):
    """No HTTP response: DNS, refused or reset connection, TLS failure."""


class InvalidURL(FetchError):
    """A URL that cannot be fetched: malformed, or not http(s)."""


class RetriesExhausted(FetchError):
    """The server kept answering with a retryable status; `status` is the last one."""

    def __init__(
        self, url: str, reason: str, *, status: int, exchanges: Iterable[Exchange] = ()
    ) -> None:
        super().__init__(url, reason, exchanges=exchanges)
        self.status = status


class DiscoveryError(Exception):
    """A feed, sitemap or listing page that yields no candidate URLs, and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class SourceError(Exception):
    """A source definition that cannot be loaded; names the file, line and field."""

    def __init__(self, path: Path, line: int, field: str, problem: str) -> None:
        super().__init__(f"{path}:{line}: {field}: {problem}")
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem

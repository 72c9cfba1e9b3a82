"""``onrecord users`` (accounts and their tokens), ``onrecord corrections`` (the
corrections on the record, exported as training data for the attributor) and
``onrecord alerts`` (follows, and delivering what they find)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from archive.catalog import ROLES, AccountError, AlertError
from web.cli_options import archive_option, http_config, open_catalog, open_store, settings

log = logging.getLogger(__name__)


@click.group()
def users() -> None:
    """Named accounts with a role (reader, editor, admin) and their API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reader", show_default=True)
@click.option(
    "--password",
    "with_password",
    is_flag=True,
    help="Also set a password for signing in to the web pages (asked for, or read from "
    "standard input).",
)
@archive_option
def users_add(name: str, role: str, with_password: bool, archive_dir: Path) -> None:
    """Add a user and print their first API token (shown this once only)."""
    password = None
    if with_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            raise click.ClickException("a password has at least 8 characters")
    with open_store(archive_dir) as store:
        try:
            with store.catalog.transaction():
                store.catalog.add_user(name, role, password)
                token = store.catalog.issue_token(name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added {name} ({role}); API token, shown only now:")
    click.echo(token)


@users.command("token")
@click.argument("name")
@archive_option
def users_token(name: str, archive_dir: Path) -> None:
    """Issue another API token for a user (shown this once only)."""
    with open_store(archive_dir) as store:
        try:
            token = store.catalog.issue_token(name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(token)


@users.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@archive_option
def users_list(fmt: str, archive_dir: Path) -> None:
    """Every user, their role, and their tokens (by id; secrets are never stored)."""
    _, catalog = open_catalog(archive_dir)
    with catalog:
        found = [(u, catalog.tokens(u.name)) for u in catalog.users()]
    if fmt == "json":
        rows = [
            {
                "name": u.name,
                "role": u.role,
                "created": u.created_at.isoformat(),
                "revoked": u.revoked_at.isoformat() if u.revoked_at else None,
                "password": u.has_password,
                "tokens": [
                    {"id": t.id, "created": t.created_at.isoformat(), "revoked": bool(t.revoked_at)}
                    for t in tokens
                ],
            }
            for u, tokens in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for user, tokens in found:
        state = f"revoked {user.revoked_at:%Y-%m-%d}" if user.revoked_at else "active"
        live = ", ".join(t.id for t in tokens if not t.revoked_at) or "no live tokens"
        click.echo(f"{user.name}  {user.role}  {state}  tokens: {live}")


@users.command("revoke")
@click.argument("name", required=False)
@click.option("--token", "token_id", help="Revoke one token (by id) instead of a user.")
@archive_option
def users_revoke(name: str | None, token_id: str | None, archive_dir: Path) -> None:
    """Revoke a user (every token and session of theirs), or one token with --token."""
    if bool(name) == bool(token_id):
        raise click.ClickException("name a user, or give --token ID (not both)")
    with open_store(archive_dir) as store:
        try:
            if token_id:
                store.catalog.revoke_token(token_id)
            else:
                store.catalog.revoke_user(name)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"revoked {'token ' + token_id if token_id else name}")


@click.group()
def corrections() -> None:
    """The corrections editors made on the record."""


@corrections.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["training", "chain"]),
    default="training",
    show_default=True,
    help="training: one JSON line per corrected quote, with its text and both "
    "attributions; chain: the corrections chain itself.",
)
@archive_option
def corrections_export(fmt: str, archive_dir: Path) -> None:
    """Write corrections as JSON Lines, e.g. as training data for the attributor."""
    _, catalog = open_catalog(archive_dir)
    with catalog:
        if fmt == "chain":
            for entry in catalog.correction_entries():
                click.echo(json.dumps(entry, ensure_ascii=False))
            return
        for quote_id in sorted(catalog.corrected_quote_ids()):
            machine = catalog.quote(quote_id)
            if machine is None:
                continue
            record = catalog.corrected(machine)
            text = catalog.extraction(machine.extraction_id).text
            click.echo(json.dumps(training_example(record, text), ensure_ascii=False))


def training_example(record, text: str) -> dict:
    """One corrected quote as the attributor learns from it: the paragraph around it,
    what the machine said, and what editors say."""
    machine, quote = record.machine, record.quote
    start = max(0, text.rfind("\n", 0, min(machine.start, quote.start)) + 1)
    end = text.find("\n", max(machine.end, quote.end))
    end = len(text) if end < 0 else end

    def attribution(q) -> dict:
        return {
            "start": q.start - start,
            "end": q.end - start,
            "speaker": q.speaker,
            "role": q.role,
            "cue": q.cue,
        }

    return {
        "quote_id": quote.id,
        "document_id": quote.document_id,
        "context": text[start:end],
        "machine": attribution(machine),
        "corrected": attribution(quote),
        "is_quote": not record.not_quote,
        "corrections": [c.kind for c in record.corrections],
    }


@click.group()
def alerts() -> None:
    """Saved searches and follows, and delivering what they find."""


@alerts.command("add")
@click.argument("user")
@click.argument("kind", type=click.Choice(["search", "speaker", "source", "document"]))
@click.argument("target")
@click.option("--cadence", type=click.Choice(["immediate", "daily", "weekly"]), default="daily")
@click.option("--channel", type=click.Choice(["atom", "webhook", "email"]), default="atom")
@click.option("--to", "address", help="The webhook URL or e-mail address.")
@archive_option
def alerts_add(
    user: str,
    kind: str,
    target: str,
    cadence: str,
    channel: str,
    address: str | None,
    archive_dir: Path,
) -> None:
    """Follow something for a user; a webhook's signing secret is printed this once."""
    from scrapers.http import PoliteSession
    from web.alert_delivery import follow

    with open_store(archive_dir) as store, PoliteSession(http_config(archive_dir)) as session:
        if store.catalog.user(user) is None:
            raise click.ClickException(f"no user named {user}")
        try:
            made = follow(
                store.catalog,
                session,
                user,
                kind,
                target,
                cadence=cadence,
                channel=channel,
                address=address,
            )
        except AlertError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"alert {made.id}: {kind} {target!r}, {cadence}, by {channel}")
    if made.secret:
        click.echo(f"webhook signing secret, shown only now: {made.secret}")


@alerts.command("run")
@click.option("--base-url", help="The site's public address, for links in alerts.")
@archive_option
def alerts_run(base_url: str | None, archive_dir: Path) -> None:
    """Find what is new for every due alert and deliver it (retries included); the
    scheduler does this at each tick."""
    counts = run_alerts(archive_dir, base_url)
    click.echo(
        f"{counts['recorded']} alerts with news, {counts['delivered']} delivered, "
        f"{counts['failed']} given up"
    )


def run_alerts(archive_dir: Path, base_url: str | None = None) -> dict[str, int]:
    """One round of the archive's alerts (:func:`web.alert_delivery.run`), with links
    made against ``base_url`` or the ``public_url`` setting."""
    from scrapers.http import PoliteSession
    from web import indexing
    from web.alert_delivery import Mailer, run

    values = settings(archive_dir)
    root = base_url or values["public_url"] or "http://127.0.0.1:8080/"
    with (
        open_store(archive_dir) as store,
        PoliteSession(http_config(archive_dir)) as session,
        indexing.searching(store.paths, store.catalog) as searcher,
    ):

        def search(query: str):
            # Every match, not a page of them: what a round leaves out is never told.
            return searcher.every_hit(query, type="quote")

        counts = run(store.catalog, search, session, Mailer.from_settings(values), root=root)
    # Said at each scheduler tick: a quiet round is logged at debug level only.
    log.log(
        logging.INFO if any(counts.values()) else logging.DEBUG,
        "alerts: %d with news, %d delivered, %d given up",
        counts["recorded"],
        counts["delivered"],
        counts["failed"],
    )
    return counts

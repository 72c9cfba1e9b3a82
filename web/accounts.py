"""Who is asking: API tokens, web sessions, roles, and CSRF protection on every form.

A request is made by a user when it carries ``Authorization: Bearer <token>`` (a user's
API token, or the archive's single ``admin_token``, which acts as an admin) or the
session cookie that signing in sets. Every form a browser posts must carry the CSRF
token of its session (or, before signing in, of its pre-session cookie); requests
authenticated by a token are not sent by browsers on a reader's behalf and need none.

Sessions live in the catalog, so every web node knows them. The pre-session token is
signed with the ``secret_key`` setting (a random nonce and its HMAC), so that a cookie
planted by someone else (another site under the same domain) is refused, and every node
that shares the key accepts the token another node issued.

    GET  /signin    the sign-in form
    POST /signin    name and password: a session cookie, then back where the reader was
    POST /signout   end the session
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
)
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException, Unauthorized

from archive.catalog import User
from archive.catalog.accounts import SESSION_DAYS
from web import links
from web.resources import catalog

bp = Blueprint("accounts", __name__)

SESSION_COOKIE = "onrecord_session"
CSRF_COOKIE = "onrecord_csrf"
CSRF_FIELD = "csrf_token"
ADMIN_TOKEN_USER = "admin-token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def bearer() -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def _from_token(token: str) -> User:
    admin_token = current_app.config.get("ADMIN_TOKEN") or ""
    if admin_token and hmac.compare_digest(token.encode("utf-8"), admin_token.encode("utf-8")):
        return User(ADMIN_TOKEN_USER, "admin", datetime.now(UTC))
    found = catalog().user_of_token(token)
    if found is None:
        raise Unauthorized(
            description="that token is unknown or was revoked: ask an admin for a new one",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "onrecord"}),
        )
    return found


def current_user() -> User | None:
    """The user making this request (None for an anonymous reader); a 401 for a wrong
    or revoked token."""
    if "user" not in g:
        g.user, g.session_csrf = None, None
        token = bearer()
        if token:
            g.user = _from_token(token)
        elif request.cookies.get(SESSION_COOKIE):
            found = catalog().session_user(request.cookies[SESSION_COOKIE])
            if found is not None:
                g.user, g.session_csrf = found
    return g.user


def require(role: str) -> User:
    """The user, when their role allows ``role``: 401 for nobody, 403 for too little."""
    user = current_user()
    if user is None:
        raise Unauthorized(
            description=f"sign in (or send an API token) as {_article(role)} {role} to do this",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "onrecord"}),
        )
    if not user.can(role):
        abort(
            403,
            description=f"{user.name} is {_article(user.role)} {user.role}; this needs "
            f"{_article(role)} {role}",
        )
    return user


def _article(role: str) -> str:
    return "an" if role[0] in "aeiou" else "a"


def csrf_token() -> str:
    """The token this page's forms carry."""
    current_user()
    if g.get("session_csrf"):
        return g.session_csrf
    if "pre_csrf" not in g:
        given = request.cookies.get(CSRF_COOKIE, "")
        g.pre_csrf = given if _genuine(given) else _signed(secrets.token_urlsafe(24))
    return g.pre_csrf


def _signed(nonce: str) -> str:
    """A pre-session CSRF token: the nonce and its HMAC under the app's secret key."""
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return f"{nonce}.{hmac.new(key, nonce.encode('utf-8'), hashlib.sha256).hexdigest()}"


def _genuine(token: str) -> bool:
    nonce, _, _ = token.rpartition(".")
    return bool(nonce) and hmac.compare_digest(_signed(nonce).encode(), token.encode())


def check_csrf() -> None:
    """Refuse a browser's form post without its page's CSRF token (before any view).

    Only a bearer token excuses a request from it: a browser behind HTTP Basic, Digest or
    NTLM authentication sends its own ``Authorization`` header with every request, a
    forged one included, and such a request is still made by the session cookie."""
    if request.method not in UNSAFE or bearer():
        return
    if request.blueprint == "admin":  # bearer tokens only: a cookie never authorises it
        return
    given = request.form.get(CSRF_FIELD, "") or request.headers.get("X-CSRF-Token", "")
    current_user()
    expected = g.get("session_csrf") or request.cookies.get(CSRF_COOKIE) or ""
    if not g.get("session_csrf") and expected and not _genuine(expected):
        abort(
            403,
            description="this form's CSRF token was signed with another key (each web node "
            "of an archive needs the same secret_key setting): reload the page and send it "
            "again",
        )
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(
            403,
            description="this form has no valid CSRF token (it may be stale): reload the page "
            "and send it again",
        )


def keep_pre_csrf(response: Response) -> Response:
    pre = g.get("pre_csrf")
    if pre and request.cookies.get(CSRF_COOKIE) != pre:
        response.set_cookie(
            CSRF_COOKIE, pre, httponly=True, samesite="Strict", secure=request.is_secure
        )
    return response


@bp.get("/signin")
def signin_form():
    return render_template("signin.html", next=_next(), error=None)


@bp.post("/signin")
def signin():
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    opened = catalog().sign_in(name, password) if name and password else None
    if opened is None:
        page = render_template(
            "signin.html", next=_next(), error="That name and password do not match."
        )
        return Response(page, status=401, content_type="text/html; charset=utf-8")
    session, _ = opened
    response = redirect(_next(), code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


@bp.post("/signout")
def signout():
    if request.cookies.get(SESSION_COOKIE):
        catalog().sign_out(request.cookies[SESSION_COOKIE])
    response = redirect(links.captures_path(), code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _next() -> str:
    """Where to go after signing in: a path on this site only.

    A path with a control character or a space in it is refused too: a tab is dropped
    from a URL (by Werkzeug and by browsers alike), so ``/<tab>/evil.example/`` would
    lead off the site, and a newline cannot be sent in a header at all."""
    target = request.values.get("next", "")
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in target)
    ):
        return links.captures_path()
    return target


def viewer() -> User | None:
    """The signed-in user as pages show them; nobody when that cannot be told (an error
    page about a bad token, or a catalog that is down)."""
    try:
        return current_user()
    except HTTPException:
        return None


def inject() -> dict:
    return {"viewer": viewer, "csrf_token": csrf_token, "CSRF_FIELD": CSRF_FIELD}


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(keep_pre_csrf)
    app.context_processor(inject)
    app.register_blueprint(bp)

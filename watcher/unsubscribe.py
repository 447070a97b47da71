"""How a digest email says where to unsubscribe (RFC 2369 ``List-Unsubscribe``, RFC 8058
one-click). Pure: it builds header values and tokens, and sends, stores and serves nothing.

Every digest email names a mailbox (``mailto:``, subject ``unsubscribe <subscription id>``):
the email channel's ``unsubscribe`` address, else its From address. With ``public_url``
configured it also names a link, ``<public_url>/unsubscribe/<token>``, and carries
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, so a mail client's "unsubscribe" button
can POST to the link without the reader opening anything.

The token names the subscription without showing its id (a derived id holds the recipients'
addresses) and cannot be made without ``secret_key``: HMAC-SHA256 of the subscription id under
it, domain-separated so the key can sign other things later without one token standing for
another. ``subscription_for`` finds the subscription a token was made for; the page behind the
link (confirming on GET, unsubscribing on POST) is the web app's, not this module's.

Operator notices and test messages carry no List-Unsubscribe: nobody subscribed to them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from email.utils import parseaddr
from urllib.parse import quote

from watcher.config import Config, SmtpChannelConfig, Subscription

_PURPOSE = b"watcher unsubscribe v1\x00"
ONE_CLICK = "List-Unsubscribe=One-Click"


def token(secret_key: str, subscription_id: str) -> str:
    """The unguessable, URL-safe name of ``subscription_id`` in its unsubscribe link."""
    mac = hmac.new(secret_key.encode(), _PURPOSE + subscription_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def subscription_for(
    secret_key: str, candidate: str, subscription_ids: Iterable[str]
) -> str | None:
    """The id among ``subscription_ids`` whose token is ``candidate``, or None; compared in
    constant time, so timing tells nothing about a wrong token."""
    found = None
    for sid in subscription_ids:
        if hmac.compare_digest(token(secret_key, sid), candidate):
            found = sid
    return found


def link(public_url: str, secret_key: str, subscription_id: str) -> str:
    """The one-click unsubscribe URL under ``public_url``."""
    return f"{public_url.rstrip('/')}/unsubscribe/{token(secret_key, subscription_id)}"


def mailto(mailbox: str, subscription_id: str) -> str:
    """A ``mailto:`` URI (RFC 6068) to ``mailbox`` (a bare address or ``Name <address>``)
    with the subject ``unsubscribe <subscription id>``."""
    address = parseaddr(mailbox)[1] or mailbox
    to = quote(address, safe="@+!$'*,;=:")
    return f"mailto:{to}?subject={quote(f'unsubscribe {subscription_id}', safe='')}"


def headers(
    subscription_id: str,
    mailbox: str,
    public_url: str | None = None,
    secret_key: str | None = None,
) -> dict[str, str]:
    """``List-Unsubscribe`` (the mailto:, and the link when ``public_url`` and ``secret_key``
    are given) and, for an https link, ``List-Unsubscribe-Post``; none without either."""
    uris = [mailto(mailbox, subscription_id)] if mailbox else []
    one_click = False
    if public_url and secret_key:
        # Mail clients use the first URI they support: the link, where they can.
        uris.insert(0, link(public_url, secret_key, subscription_id))
        one_click = public_url.lower().startswith("https://")  # RFC 8058 allows only https
    if not uris:
        return {}
    out = {"List-Unsubscribe": ", ".join(f"<{uri}>" for uri in uris)}
    if one_click:
        out["List-Unsubscribe-Post"] = ONE_CLICK
    return out


def email_headers(config: Config, subscription: Subscription) -> dict[str, str]:
    """The unsubscribe headers of a digest email to ``subscription``, from its channel's
    ``unsubscribe`` (else From) address and the config's ``public_url`` and ``secret_key``."""
    channel = config.channel(subscription.channel)
    mailbox = ""
    if isinstance(channel, SmtpChannelConfig) and channel.unsubscribe:
        mailbox = channel.unsubscribe
    elif channel is not None:
        mailbox = channel.sender
    secret = config.secret_key.get_secret_value() if config.secret_key else None
    return headers(subscription.id, mailbox, config.public_url, secret)

"""Mail addresses checked and written with the ``email`` package, never by concatenation.

Two jobs, both pure:

* :func:`forward_address` checks an address a team's mail is forwarded to (admin form,
  teams file, ``mailroom teams sync``) and returns it as it is stored: exactly one addr-spec,
  no display name, no line break, the domain in its IDNA (``xn--``) form. A local part with
  non-ASCII letters is allowed; sending to it needs SMTPUTF8 (:func:`needs_smtputf8`).
* :func:`display_address` writes "Name <addr>" for a header such as Reply-To, with the name
  quoted or RFC 2047-encoded by the email package, so that no display name — "Jansen, Piet",
  "Jan Bcc: evil@attacker.example", an encoded word that decodes to one — can add, hide or
  replace an address.
"""

from __future__ import annotations

from email.header import Header
from email.utils import formataddr

import idna

__all__ = [
    "MAX_DISPLAY_NAME_CHARS",
    "ascii_domain",
    "display_address",
    "forward_address",
    "needs_smtputf8",
]

# RFC 5321: a local part holds at most 64 octets, a path 256 (254 between the brackets).
MAX_LOCAL_PART_OCTETS = 64
MAX_ADDRESS_OCTETS = 254
# A display name longer than this is cut: it is a label for a person, and a header line has
# 998 characters in all (RFC 5322 2.1.1).
MAX_DISPLAY_NAME_CHARS = 200
# RFC 5322 atext besides letters and digits; "." separates atoms (dot-atom).
_ATEXT_SYMBOLS = frozenset("!#$%&'*+-/=?^_`{|}~")


def ascii_domain(domain: str) -> str:
    """``domain`` in its ASCII form (IDNA 2008 with UTS 46 mapping: "Bücher.de" →
    "xn--bcher-kva.de"), lower case. Raises ValueError when it is not a domain name."""
    name = domain.strip().rstrip(".")
    if not name:
        raise ValueError("the domain is empty")
    try:
        encoded = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"{domain!r} is not a valid domain name ({exc})") from None
    return encoded.lower()


def forward_address(value: str) -> str:
    """The address ``value`` as a team's forwarding address is stored: one addr-spec with
    its domain in IDNA form. Raises ValueError with a message that says what is wrong."""
    if "\r" in value or "\n" in value:
        raise ValueError("an address cannot contain a line break")
    text = value.strip()
    if not text:
        raise ValueError("the address is empty")
    if any(char.isspace() for char in text) or any(char in text for char in '<>,;:"()[]\\'):
        raise ValueError(
            f"{text!r} is not one plain address: write it like team@example.nl, "
            "without a name, brackets, quotes, spaces or a list"
        )
    local, at, domain = text.rpartition("@")
    if not at or not local or "@" in local:
        raise ValueError(f"{text!r} is not an address of the form name@domain")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"{text!r}: the part before @ cannot start or end with '.' or hold '..'")
    bad = sorted({char for char in local if not (char.isalnum() or char in _ATEXT_SYMBOLS | {"."})})
    if bad:
        raise ValueError(f"{text!r}: the part before @ cannot hold {' '.join(bad)}")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise ValueError(f"{text!r}: the part before @ is longer than 64 bytes")
    domain_ascii = ascii_domain(domain)
    if "." not in domain_ascii:
        raise ValueError(f"{text!r}: the domain {domain!r} needs a dot (example.nl)")
    address = f"{local}@{domain_ascii}"
    if len(address.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        raise ValueError(f"{text!r} is longer than {MAX_ADDRESS_OCTETS} bytes")
    return address


def needs_smtputf8(address: str) -> bool:
    """Whether sending to or from ``address`` needs the SMTPUTF8 extension (RFC 6531): its
    local part has non-ASCII characters (a domain can always be written in IDNA form)."""
    return not address.isascii()


def display_address(name: str, address: str) -> str | None:
    """``name`` and ``address`` as one header address ("Jansen, Piet" <piet@example.nl>),
    ASCII only: the name quoted where it holds specials and RFC 2047-encoded where it is not
    ASCII or holds something that looks like an encoded word; the domain in IDNA form.

    None when ``address`` cannot be one ASCII address (no '@', or a non-ASCII local part:
    that needs SMTPUTF8, which a header for a person's reply should not depend on).
    """
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not local.isascii() or "@" in local:
        return None
    if any(char.isspace() or char in '<>,;:"()[]\\' for char in local):
        return None
    try:
        addr_spec = f"{local}@{ascii_domain(domain)}"
    except ValueError:
        return None
    display = " ".join(name.split())[:MAX_DISPLAY_NAME_CHARS]
    if not display:
        return addr_spec
    if display.isascii() and "=?" not in display:
        # formataddr quotes a name with specials (",", ":", "@", "<" …) and escapes quotes.
        return formataddr((display, addr_spec))
    # Encoded as a whole, so a literal "=?…?=" in the name decodes back to itself.
    encoded = Header(display, "utf-8").encode(linesep=" ")
    return f"{encoded} <{addr_spec}>"

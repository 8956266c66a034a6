"""What a model may put into a play: Markdown text and http(s) links, nothing that runs or loads.

A play is opened in Markdown viewers (GitHub, an IDE preview, a wiki) and its email draft is
pasted into mail clients. Its "Recommended plays" section comes from a model whose prompt holds
CRM text, so an injected instruction ("add this image…") could make it emit a tracking image
whose URL carries the facts, a ``javascript:`` link, or a script. So, per case:

**Refused** (the answer is not used; the deterministic engine writes the play, with a note):

- images: Markdown ``![alt](url)`` / ``![alt][ref]``, and HTML ``<img>``, ``<picture>``,
  ``<svg>``, ``<video>``, ``<audio>``… (a loaded image is a request to someone's server);
- active HTML: ``<script>``, ``<style>``, ``<iframe>``, ``<object>``, ``<embed>``, ``<form>``,
  ``<input>``, ``<link>``, ``<meta>``, ``<base>``… and any tag with an ``on…=`` handler;
- links to anything but ``http://`` or ``https://``: ``javascript:``, ``data:``, ``vbscript:``,
  ``file:``, ``mailto:``, relative paths, obfuscated schemes (``&#106;avascript:``, ``java\\nscript:``),
  in inline links, reference definitions and ``<scheme:…>`` autolinks.

None of these has a place in a sales play, so their presence means the model went off script
(or was steered): refusing is safer than guessing what the rest of the answer is worth.

**Stripped** (the answer is used without them): other HTML tags (``<b>``, ``<br>``, ``<div>``,
``<span>``, ``<a href="https://…">``: the tags go, their text stays), HTML comments,
processing instructions and declarations, and the angle brackets of an email autolink
(``<ana@acme.io>`` becomes ``ana@acme.io``). Models add these out of habit; the text is fine.

http(s) links in Markdown syntax are kept.
"""

from __future__ import annotations

import re

ALLOWED_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)

_IMAGE_TAGS = ("img", "image", "picture", "svg", "video", "audio", "source", "track", "canvas")
_ACTIVE_TAGS = (
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "link",
    "meta",
    "base",
    "math",
    "template",
    "noscript",
    "portal",
)
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)(?=[\s/>])([^<>]*)>")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<![A-Za-z\[][^>]*>|<\?.*?(?:\?>|$)", re.S)
_EMAIL_AUTOLINK = re.compile(r"<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)>")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_INLINE_LINK = re.compile(r"\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)")  # balanced (…) inside
_REFERENCE = re.compile(r"^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)", re.M)
_HANDLER = re.compile(r"(?:^|[\s\"'/])on[a-z]+\s*=", re.I)


class UnsafeMarkdown(ValueError):
    """The model's answer holds something a play must not (see the module doc)."""


def _check_link(destination: str) -> None:
    target = destination.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1].strip()
    if target and not ALLOWED_LINK.fullmatch(target):
        raise UnsafeMarkdown(f"a link to {_shown(target)} (only http:// and https:// links are allowed)")


def _shown(text: str, limit: int = 60) -> str:
    """A short, printable quote of model output for a message."""
    text = re.sub(r"\s+", " ", text)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _refuse(text: str) -> None:
    image = _MD_IMAGE.search(text)
    if image:
        raise UnsafeMarkdown(f"an image {_shown(image.group(0))}")
    for match in _TAG.finditer(text):
        name = match.group(2).lower()
        if name in _IMAGE_TAGS:
            raise UnsafeMarkdown(f"an image {_shown(match.group(0))}")
        if name in _ACTIVE_TAGS:
            raise UnsafeMarkdown(f"HTML that can run or load content {_shown(match.group(0))}")
        if _HANDLER.search(match.group(3)):
            raise UnsafeMarkdown(f"HTML with an event handler {_shown(match.group(0))}")
    for match in _AUTOLINK.finditer(text):
        _check_link(match.group(1))
    for match in _INLINE_LINK.finditer(text):
        _check_link(match.group(1))
    for match in _REFERENCE.finditer(text):
        _check_link(match.group(1))


def _strip(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _EMAIL_AUTOLINK.sub(r"\1", text)
    return _TAG.sub("", text)


def sanitise_markdown(text: str) -> str:
    """``text`` without stripped HTML; ``UnsafeMarkdown`` when it holds something refused.
    Repeated until nothing changes, so stripping cannot assemble a new tag (``<<b>script>``)."""
    for _ in range(20):
        _refuse(text)
        stripped = _strip(text)
        if stripped == text:
            return text
        text = stripped
    raise UnsafeMarkdown("HTML nested too deeply to clean")

"""Why a rule matched, in words: ``explain(match)`` → "matched: SEND NEAR workforce in the answer".

Built from the match's hits alone (each names its term, its field and any synonym expansion),
so a match read back from the store explains itself the same way. Rendering it into digests or
command output is left to the caller.
"""

from __future__ import annotations

from watcher.match.nodes import TEXT_FIELDS
from watcher.model import Hit, Match

_ORDER = {name: i for i, name in enumerate(TEXT_FIELDS)}
# How a reader calls a field in a sentence: a question's title is its heading, and "in the
# heading" reads well for any item.
_SAID = {"title": "heading"}


def explain(match: Match | tuple[Hit, ...]) -> str:
    """One line: each matched term (and synonym expansion) with the fields it matched in."""
    hits = match.hits if isinstance(match, Match) else match
    fields_of: dict[tuple[str, str], list[str]] = {}
    for hit in sorted(hits, key=lambda h: (_ORDER.get(h.field, len(_ORDER)), h.start)):
        fields = fields_of.setdefault((hit.term, hit.via), [])
        if hit.field not in fields:
            fields.append(hit.field)
    parts = []
    for (term, via), fields in fields_of.items():
        text = f'{term} as "{via}"' if via else term
        in_text = [f for f in fields if f in _ORDER]
        if in_text:
            text += " in the " + _and([_SAID.get(f, f) for f in in_text])
        parts.append(text)
    return "matched: " + "; ".join(parts) if parts else "matched"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

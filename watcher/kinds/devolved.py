"""Written questions to the devolved legislatures: the Scottish Parliament's and the Northern
Ireland Assembly's. Each is a ``Questions`` kind (the question's life, answers and corrections
by default) with its own name, so digests carry its own licence line and rules can tell them
apart (``source:``; ``house:"Scottish Parliament"``).

The licence lines are chosen with care from what each body publishes:

    Scottish Parliament   the attribution statement on parliament.scot/about/copyright. Others
                          call the data licence the "Open Scottish Parliament Licence"; the
                          Parliament's own page names the Scottish Parliament Copyright Licence
                          and gives this sentence to use.
    NI Assembly           no attribution sentence was found in our reference material, so the
                          line names the source and its open data licence without inventing a
                          licence title.
"""

from __future__ import annotations

from watcher.kinds.questions import Questions

SCOTTISH_HOUSE = "Scottish Parliament"
NI_HOUSE = "Northern Ireland Assembly"

SCOTTISH_PARLIAMENT_LICENCE = (
    "Contains information licensed under the Scottish Parliament Copyright Licence."
)
SCOTTISH_PARLIAMENT_LICENCE_URL = "https://www.parliament.scot/about/copyright"
NI_ASSEMBLY_LICENCE = (
    "Contains Northern Ireland Assembly information from data.niassembly.gov.uk, "
    "re-used under the Assembly's open data licence."
)
NI_ASSEMBLY_LICENCE_URL = "https://data.niassembly.gov.uk/"

_FACETS = ("house", "department", "member", "asked_by", "answered_by", "party", "uin")

SCOTTISH_PARLIAMENT_QUESTIONS = Questions(
    name="scottish_parliament_question",
    noun="question",
    texts=("question", "answer"),
    facets=_FACETS,
    licence=SCOTTISH_PARLIAMENT_LICENCE,
    licence_url=SCOTTISH_PARLIAMENT_LICENCE_URL,
)

NI_ASSEMBLY_QUESTIONS = Questions(
    name="ni_assembly_question",
    noun="question",
    texts=("question", "answer"),
    facets=_FACETS,
    licence=NI_ASSEMBLY_LICENCE,
    licence_url=NI_ASSEMBLY_LICENCE_URL,
)

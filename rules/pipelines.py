"""The pipelines a rule's action may name, checked against a catalog that ``rules`` is given.

``rules`` knows one pipeline of its own, ``notify``, which only records a decision. Every
other name is a re-optimization pipeline, and the steps and the grammar of those live in
``reoptimize`` (``reoptimize.steps.catalog.CATALOG``), which ``rules`` may not import: the
caller passes it in as a :class:`PipelineCatalog` when it loads rules (the daemon, the
command line and the API all do), so rule files and manual triggers accept the same forms
and refuse an unknown step with the same message.

Without a catalog (a library caller that passes none), :data:`STORED_NAMES` is used: it checks
only that a name is already in the stored form (``retrain``, ``retrain+quantize``), since it
knows no steps.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Protocol, runtime_checkable

NOTIFY = "notify"


@runtime_checkable
class PipelineCatalog(Protocol):
    """What rules need to know about re-optimization pipelines."""

    def normalize(self, value: object, *, extra: Collection[str] = ()) -> str:
        """``value`` (a name, a chain of steps, or a list of steps) as the name jobs store.

        ``extra`` are single-name pipelines of the caller's own, accepted alone and listed in
        messages. Raises ``ValueError`` naming the unknown step.
        """
        ...

    def starts_job(self, name: str) -> bool:
        """Whether the stored pipeline ``name`` is run by a job."""
        ...


class StoredNames:
    """A catalog that knows no steps: it accepts names already in the stored ``a+b`` form."""

    _FORM = re.compile(r"^[a-z][a-z0-9_]{0,40}(\+[a-z][a-z0-9_]{0,40})*\Z")

    def normalize(self, value: object, *, extra: Collection[str] = ()) -> str:
        if isinstance(value, str) and (value in extra or self._FORM.match(value)):
            return value
        raise ValueError(
            "expected a stored pipeline name such as retrain or retrain+quantize "
            "(load rules with a pipeline catalog to use other forms)"
        )

    def starts_job(self, name: str) -> bool:
        return name != NOTIFY and bool(self._FORM.match(name))


STORED_NAMES = StoredNames()


def normalize_pipeline(value: object, catalog: PipelineCatalog | None = None) -> str:
    """``value`` as a pipeline name: ``notify``, or what ``catalog`` makes of it.

    Raises ``ValueError`` naming the unknown part.
    """
    return (catalog or STORED_NAMES).normalize(value, extra=(NOTIFY,))


def starts_job(pipeline: str, catalog: PipelineCatalog | None = None) -> bool:
    """Whether running ``pipeline`` starts a job (and so has to pass the guards)."""
    return pipeline != NOTIFY and (catalog or STORED_NAMES).starts_job(pipeline)

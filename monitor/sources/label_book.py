"""Every label the daemon knows for a model: label files plus labels posted to the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.config import ModelConfig
from monitor.sources.label_files import LabelFileReader
from monitor.state.store import StateStore

LABEL_LAG_SECONDS = 3600.0


class LabelBook:
    def __init__(self, store: StateStore, readers: dict[str, LabelFileReader] | None = None):
        self.store = store
        self.readers = readers if readers is not None else {}

    def for_model(self, model: ModelConfig, now: float) -> Mapping[str, Any]:
        """Labels by request id that may belong to predictions in the model's current window."""
        labels: dict[str, Any] = {}
        if model.data.labels is not None:
            reader = self.readers.get(model.name)
            if reader is None or reader.path != model.data.labels:
                reader = self.readers[model.name] = LabelFileReader(model.data.labels)
            labels.update(reader.read())
        since = now - model.check.window - LABEL_LAG_SECONDS
        labels.update(self.store.labels.since(model.name, since))
        return labels

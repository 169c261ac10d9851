"""What a job worker needs besides its row in the state store, and the reference that carries it.

The daemon builds a :class:`JobSettings` from its running config when it starts a job and hands
the executor a :class:`~reoptimize.executors.executor.JobRef` whose payload is these settings as
JSON: where the state store is, the registry's settings (its kind and arguments, as
:mod:`reoptimize.registry.backends` builds it), the model's configuration (without its
secrets), and the job timeout. The worker needs no config file, so an executor may run it on
another machine that reaches the same store and registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.config import Config, ModelConfig
from reoptimize.executors.executor import ExecutorError, JobRef
from reoptimize.registry.backends import registry_settings
from reoptimize.registry.registry_errors import RegistryError

# The function every executor runs for a job: ``run_job_ref(payload) -> exit code``.
WORKER_ENTRY = "monitor.jobs.worker:run_job_ref"
# The last line a worker prints when it could not record its own failure (the state store is
# read-only, full or gone); the supervisor copies it into the job's error.
UNRECORDED_PREFIX = "job failed, unrecorded: "
# Credentials the worker never needs, so they never travel with a job.
_SECRETS = {"server": {"token", "token_file"}}


@dataclass(frozen=True)
class JobSettings:
    job_id: str
    state: str
    registry: Mapping[str, Any]  # the registry's settings, as open_registry takes them
    model: ModelConfig
    timeout: float | None = None

    @classmethod
    def from_config(cls, config: Config, model: str, job_id: str) -> JobSettings:
        return cls(job_id, config.state, config.registry.settings(), config.model(model), config.jobs.timeout)

    def to_payload(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "registry": dict(self.registry),
            "model": self.model.model_dump(mode="json", exclude=_SECRETS),
            "timeout": self.timeout,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> JobSettings:
        """Raises :class:`~reoptimize.executors.executor.ExecutorError` naming what is missing or wrong."""
        try:
            return cls(
                job_id=str(payload["job_id"]),
                state=str(payload["state"]),
                registry=registry_settings(payload["registry"]),
                model=ModelConfig.model_validate(payload["model"]),
                timeout=None if payload.get("timeout") is None else float(payload["timeout"]),
            )
        # pydantic's ValidationError is a ValueError
        except (KeyError, TypeError, ValueError, RegistryError) as exc:
            raise ExecutorError(f"job settings: {type(exc).__name__}: {exc}") from None

    def job_ref(self) -> JobRef:
        return JobRef(self.job_id, WORKER_ENTRY, self.to_payload())

"""Serving the model registry's champion (else the configured directory), swapped between batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import MonitorError
from monitor.learning.registry import get_champion
from monitor.settings import ModelSettings, Settings
from monitor.stream.model_source import PredictorLike

log = logging.getLogger(__name__)


def load_predictor(path: Path, settings: ModelSettings) -> PredictorLike:
    """The model directory at ``path``, loaded with the serving settings (device, precision, threads)."""
    from monitor.model.predictor import Predictor

    return Predictor.from_settings(settings, path)


class RegistryModelSource:
    """Serves the champion of ``model_versions`` (else ``settings.model.directory``).

    The registry is read at most every ``check_seconds``. A new champion is loaded *before* the
    swap, so a broken model directory leaves the old predictor serving (and logs an error).
    """

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        *,
        check_seconds: float = 30.0,
        loader: Callable[[Path], PredictorLike] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._factory = session_factory
        self._check_seconds = check_seconds
        self._loader = loader or (lambda path: load_predictor(path, settings.model))
        self._clock = clock
        self._predictor: PredictorLike | None = None
        self._serving: tuple[str | None, str] | None = None  # (registered version, path)
        self._last_check = float("-inf")

    def current(self) -> PredictorLike:
        if self._predictor is None:
            self._load_initial()
        assert self._predictor is not None
        return self._predictor

    def refresh(self) -> bool:
        if self._predictor is None or self._clock() - self._last_check < self._check_seconds:
            return False
        target = self._target()
        if target is None or target == self._serving:
            return False
        try:
            predictor = self._loader(Path(target[1]))
        except Exception as exc:
            log.error(
                "cannot load model %s from %s (%s: %s); still serving %s",
                target[0],
                target[1],
                type(exc).__name__,
                exc,
                self._predictor.version,
            )
            return False
        self._swap(predictor, target)
        return True

    def _load_initial(self) -> None:
        target = self._target() or (None, str(self._settings.model.directory))
        try:
            predictor = self._loader(Path(target[1]))
        except Exception as exc:
            which = f"champion {target[0]}" if target[0] else "MONITOR_MODEL__DIRECTORY"
            raise MonitorError(
                f"cannot load the model at {target[1]} ({which}): {exc}; train one with `monitor train` "
                "or point MONITOR_MODEL__DIRECTORY at a model directory"
            ) from None
        self._swap(predictor, target)

    def _target(self) -> tuple[str | None, str] | None:
        """(version, path) to serve now; None when the registry can't be read (keep what we have)."""
        self._last_check = self._clock()
        try:
            with self._factory() as session:
                champion = get_champion(session=session)
                if champion is not None:
                    return (champion.version, champion.path)
        except SQLAlchemyError as exc:
            log.warning("cannot read the model registry (%s); keeping the current model", type(exc).__name__)
            return None
        return (None, str(self._settings.model.directory))

    def _swap(self, predictor: PredictorLike, target: tuple[str | None, str]) -> None:
        previous = self._predictor.version if self._predictor is not None else None
        self._predictor, self._serving = predictor, target
        if previous is None:
            log.info("serving model %s from %s", predictor.version, target[1])
        else:
            log.info("switched model %s -> %s (from %s)", previous, predictor.version, target[1])

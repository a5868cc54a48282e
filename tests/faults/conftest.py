"""The fault scenarios run against a real deployment (faults.deploy) and only with `make faults`.

They are slow (minutes) and start processes, so the normal suite does not collect them: `make faults`
sets FAULTS=1 together with the deployment's environment (its own database and Redis).
"""

import json
import os
import time
from pathlib import Path

import pytest

collect_ignore_glob = [] if os.environ.get("FAULTS") == "1" else ["test_*.py"]

FIGURES: dict[str, dict] = {}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: a scenario of the fault harness (make faults)")


@pytest.fixture(scope="session")
def work_dir() -> Path:
    base = Path(os.environ.get("FAULTS_DIR", "/tmp/contactcentre-faults"))
    path = base / time.strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def deployment(work_dir, django_db_blocker):
    """Two Daphne servers, Redis, a Celery worker and beat, on a fresh database, for the whole run."""
    from faults.deploy import Deployment

    with django_db_blocker.unblock():
        deployment = Deployment(work_dir)
        try:
            deployment.start()
            yield deployment
        finally:
            deployment.stop()
            (work_dir / "figures.json").write_text(json.dumps(FIGURES, indent=2, default=str))


@pytest.fixture
def figures(request) -> dict:
    """What this scenario covered, printed at the end of the run and written to figures.json."""
    return FIGURES.setdefault(request.node.name, {})


def pytest_terminal_summary(terminalreporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault run figures")
    for name, figures in FIGURES.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in figures.items():
            terminalreporter.write_line(f"    {key}: {value}")

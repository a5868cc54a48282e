"""The demo page (a web page carrying a queue's snippet) is for trying the product out: production does not
serve it unless told to."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PRODUCTION = {
    "DATABASE_URL": "postgres://contactcentre@db.internal:5432/contactcentre",
    "SECRET_KEY": "a-long-random-production-secret",
}


def demo_page_setting(**environment: str) -> bool:
    """DEMO_PAGE as the settings module reads it from only these environment variables."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_DIR), **environment}
    probe = "import json; from contactcentre import settings; print(json.dumps(settings.DEMO_PAGE))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.django_db
def test_with_the_demo_page_off_it_is_a_404_that_shows_no_queue(client, settings):
    settings.DEMO_PAGE = False
    demo = factories.CompanyFactory(slug="demo")
    queue = factories.WebchatQueueFactory(company=demo, name="Private Sales Queue", auto_allocate=True)

    for response in (client.get("/demo/"), client.get("/demo/", {"queue": queue.token})):
        assert response.status_code == 404
        assert "Private Sales Queue" not in response.text
        assert queue.token not in response.text


def test_production_does_not_serve_the_demo_page_unless_told_to():
    assert demo_page_setting() is True  # embedded: `make run`
    assert demo_page_setting(**PRODUCTION) is False
    assert demo_page_setting(**PRODUCTION, DEBUG="0") is False
    assert demo_page_setting(**PRODUCTION, DEMO_PAGE="1") is True

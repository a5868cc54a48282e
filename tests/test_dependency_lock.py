"""The lock files in requirements/ are what `make run`, `make test` and `make bench` install: each must pin,
with hashes, a release of every dependency pyproject.toml asks for that its range allows. A dependency
added or narrowed in pyproject.toml without `make lock` fails here instead of installing something else."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock: str) -> tuple[dict[str, str], list[str]]:
    """The lock's pinned versions by package name, and the packages pinned without a hash."""
    versions: dict[str, str] = {}
    unhashed: list[str] = []
    entries = re.split(r"\n(?=\S)", (ROOT / "requirements" / lock).read_text())
    for entry in entries:
        match = PIN.match(entry)
        if match is None:
            continue
        name = canonicalize_name(match[1])
        versions[name] = match[2]
        if "--hash=sha256:" not in entry:
            unhashed.append(name)
    return versions, unhashed


@pytest.mark.parametrize(
    ("lock", "extra"), [("base.txt", None), ("test.txt", "test"), ("bench.txt", "bench")]
)
def test_each_lock_file_pins_a_hashed_release_of_every_dependency_in_its_range(lock, extra):
    versions, unhashed = pins(lock)
    wanted = [Requirement(each) for each in PROJECT["dependencies"]]
    if extra:
        wanted += [Requirement(each) for each in PROJECT["optional-dependencies"][extra]]

    missing = [str(each) for each in wanted if canonicalize_name(each.name) not in versions]
    outside = [
        f"{each} (locked {versions[canonicalize_name(each.name)]})"
        for each in wanted
        if canonicalize_name(each.name) in versions
        and not each.specifier.contains(versions[canonicalize_name(each.name)], prereleases=True)
    ]
    assert not missing, f"not in requirements/{lock}; run `make lock`: {missing}"
    assert not outside, f"locked outside pyproject.toml's range; run `make lock`: {outside}"
    assert not unhashed, f"pinned without a hash in requirements/{lock}: {unhashed}"


def test_the_product_and_its_tests_install_the_same_versions():
    product, _ = pins("base.txt")
    tested, _ = pins("test.txt")
    benched, _ = pins("bench.txt")
    assert {name: tested.get(name) for name in product} == product
    assert {name: benched.get(name) for name in product} == product

"""Shared fixtures for the phone package tests.

Tests read only files inside the repository (datasets/phone/...) or files they
write themselves under tmp_path; never /work/shared.
"""
import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PHONE_DATA = REPO_ROOT / "datasets" / "phone"
SEED_PROJECT = PHONE_DATA / "via_project_8Dec2019_16h13m.json"


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def phone_data_dir():
    """datasets/phone in the repo: train/ and val/ with via_region_data.json."""
    if not (PHONE_DATA / "train" / "via_region_data.json").is_file():
        pytest.skip("datasets/phone is not populated")
    return PHONE_DATA


@pytest.fixture(scope="session")
def seed_project():
    """The real VIA 2.x project file (3 annotated CORe50 frames + 1 not)."""
    if not SEED_PROJECT.is_file():
        pytest.skip("datasets/phone/via_project_8Dec2019_16h13m.json missing")
    return SEED_PROJECT


@pytest.fixture
def chdir_tmp(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)

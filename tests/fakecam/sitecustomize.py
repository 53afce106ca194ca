"""Installs the fake cameras of fakecam.py in a test subprocess when the
FAKECAM variable is set (this folder is first on its PYTHONPATH)."""
import os

if os.environ.get("FAKECAM") is not None:
    import fakecam
    fakecam.install(fakecam.parse(os.environ["FAKECAM"]))

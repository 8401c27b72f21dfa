"""`monitor dashboard` refuses a bind address it cannot use with one line, before Streamlit starts."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("address", ["not an address", "300.1.1.1", "example.com"])
def test_a_bad_bind_address_is_one_line(address: str) -> None:
    res = subprocess.run([sys.executable, "-m", "monitor", "dashboard", "--address", address],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "is not an IP address to bind" in res.stderr

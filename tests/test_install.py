"""The package goes into a researcher's environment without replacing its
torch or PySlowFast, and says how to get a PySlowFast where none is."""

import importlib.metadata
import re
import subprocess
import sys


def test_metadata_pins_no_torch_and_needs_no_pyslowfast():
    requirements = importlib.metadata.requires("gta_slowfast")
    torch = [r for r in requirements if re.match(r"torch\b", r)]
    assert torch == ["torch>=2.1"]
    pyslowfast = [r for r in requirements if r.startswith("pyslowfast")]
    assert pyslowfast and all('extra == "pyslowfast"' in r for r in pyslowfast)


def test_without_pyslowfast_its_names_say_how_to_get_one():
    """The package imports (its blocks need torch alone); its PySlowFast
    names raise an ImportError that says how to install PySlowFast."""
    code = ("import sys; sys.modules['slowfast'] = None; import gta_slowfast; "
            "print('imported'); gta_slowfast.get_cfg")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stdout.strip() == "imported"
    message = result.stderr.strip().splitlines()
    error = "\n".join(message[next(i for i, line in enumerate(message) if line.startswith("ImportError")):])
    assert "no PySlowFast is installed" in error
    assert "git clone https://github.com/facebookresearch/SlowFast" in error
    assert "pip install pyslowfast==1.0" in error

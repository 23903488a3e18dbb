"""The documentation says what the binaries do."""

import os
import re
import subprocess

from conftest import TOP, binary


def test_operations_doc_shows_the_current_help():
    doc = open(os.path.join(TOP, "docs", "operations.md")).read()
    block = re.search(r"<!-- ringcast --help -->\n```\n(.*?)```\n<!-- end -->", doc, re.S)
    assert block, "docs/operations.md lacks the --help block"
    help_text = subprocess.run([binary("ringcast"), "--help"], capture_output=True, text=True,
                               timeout=10).stdout
    assert block.group(1) == help_text


def test_readme_test_command_is_what_ci_runs():
    readme = open(os.path.join(TOP, "README.md")).read()
    ci = open(os.path.join(TOP, ".ci", "run")).read()
    command = "./configure.py --install-deps && tests/run"
    assert "    " + command + "\n" in readme
    assert command + "\n" in ci

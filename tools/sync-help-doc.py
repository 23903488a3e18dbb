#!/usr/bin/env python3
"""Rewrites the `ringcast --help` block in docs/operations.md from a built
binary (default build/ringcast). tests/integration/test_docs.py checks the two
agree; run this after changing a flag."""

import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "ringcast")
help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
path = os.path.join(TOP, "docs", "operations.md")
doc = open(path).read()
new, count = re.subn(r"(<!-- ringcast --help -->\n```\n).*?(```\n<!-- end -->)",
                     lambda m: m.group(1) + help_text + m.group(2), doc, flags=re.S)
if count != 1:
    sys.exit("docs/operations.md: no --help block found")
open(path, "w").write(new)

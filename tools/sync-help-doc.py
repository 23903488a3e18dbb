#!/usr/bin/env python3
"""Rewrites the `--help` blocks in docs/ from the built binaries (default
folder build/): `ringcast --help` in docs/operations.md, `ringcast-pub
--help` and `ringcast-token --help` in docs/tools.md.
tests/integration/test_docs.py checks they agree; run this after changing a
flag."""

import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKS = [("ringcast", "operations.md"), ("ringcast-pub", "tools.md"),
          ("ringcast-token", "tools.md")]


def block_pattern(program):
    return r"(<!-- %s --help -->\n```\n).*?(```\n<!-- end -->)" % re.escape(program)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build")
    if os.path.isfile(build):  # the old form: the path of the ringcast binary
        build = os.path.dirname(build)
    for program, doc_name in BLOCKS:
        help_text = subprocess.run([os.path.join(build, program), "--help"], capture_output=True,
                                   text=True, check=True).stdout
        path = os.path.join(TOP, "docs", doc_name)
        doc = open(path).read()
        new, count = re.subn(block_pattern(program), lambda m: m.group(1) + help_text + m.group(2),
                             doc, flags=re.S)
        if count != 1:
            sys.exit("docs/%s: no `%s --help` block found" % (doc_name, program))
        open(path, "w").write(new)


if __name__ == "__main__":
    main()

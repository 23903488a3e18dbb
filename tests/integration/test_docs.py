"""The documentation says what the binaries do."""

import os
import re
import subprocess

import pytest

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


def read(*parts):
    with open(os.path.join(TOP, *parts)) as f:
        return f.read()


def all_docs():
    names = [os.path.join("docs", n) for n in os.listdir(os.path.join(TOP, "docs"))
             if n.endswith(".md")]
    names += [os.path.join("docs", "protocol", n)
              for n in os.listdir(os.path.join(TOP, "docs", "protocol")) if n.endswith(".md")]
    return "\n".join(read(n) for n in names) + read("README.md")


def help_of(program):
    return subprocess.run([binary(program), "--help"], capture_output=True, text=True,
                          timeout=10).stdout


def served_routes():
    """The paths the client port serves, read from the route table of the
    code that dispatches them (src/conn/httpconn.c), not from a list copied
    by hand."""
    source = read("src", "conn", "httpconn.c")
    table = re.search(r"static const struct route routes\[\] = \{(.*?)\n\};", source, re.S)
    assert table, "src/conn/httpconn.c: no route table"
    routes = re.findall(r'\{"(/[^"]*)",', table.group(1))
    assert "/v1/ws" in routes and "/healthz" in routes, routes  # the pattern still reads it
    return sorted(set(routes))


def test_every_route_is_in_the_help_and_the_docs():
    help_text = help_of("ringcast")
    docs = all_docs()
    for route in served_routes():
        assert route in help_text, "ringcast --help does not name %s" % route
        assert route in docs, "no doc names %s" % route


@pytest.mark.parametrize("program,doc", [("ringcast-pub", "tools.md"),
                                         ("ringcast-token", "tools.md")])
def test_tools_doc_shows_the_current_help(program, doc):
    block = re.search(r"<!-- %s --help -->\n```\n(.*?)```\n<!-- end -->" % re.escape(program),
                      read("docs", doc), re.S)
    assert block, "docs/%s lacks the %s --help block" % (doc, program)
    assert block.group(1) == help_of(program), "run tools/sync-help-doc.py"


def test_every_flag_is_documented():
    docs = all_docs()
    for program in ("ringcast", "ringcast-pub", "ringcast-token"):
        check_flags_documented(program, docs)


def test_every_bench_flag_is_documented():
    check_flags_documented("ringcast-bench", read("bench", "README.md"))


def check_flags_documented(program, docs):
    """Every flag in |program|'s --help is named somewhere in |docs|."""
    flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", help_of(program), re.M))
    assert len(flags) > 3, (program, flags)
    missing = sorted(f for f in flags if f not in docs)
    assert not missing, "%s flags no doc names: %s" % (program, missing)


def test_every_close_code_is_in_close_codes_md():
    """Each WebSocket close code the server can send (src/proto/ws.h) has its
    row in docs/close-codes.md."""
    header = read("src", "proto", "ws.h")
    codes = re.findall(r"^\s+WS_CLOSE_\w+ = (\d{4}),(.*)$", header, re.M)
    assert len(codes) >= 10, codes
    doc = read("docs", "close-codes.md")
    rows = re.findall(r"^\| \**([\d.]+(?:, [\d.]+)*)\** \|", doc, re.M)
    listed = set()
    for row in rows:
        for part in row.split(", "):
            low, _, high = part.partition("..")
            listed.update(range(int(low), int(high or low) + 1))
    for code, comment in codes:
        if "never sent" in comment:
            continue
        assert int(code) in listed, "close code %s has no row in docs/close-codes.md" % code

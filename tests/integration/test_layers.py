"""tests/check_layers.py keeps the layering of src/ true: the real tree
passes, and each kind of violation in a planted tree fails, named."""

import os
import subprocess

from conftest import TOP

CHECK = os.path.join(TOP, "tests", "check_layers.py")


def run_check(root):
    return subprocess.run(["/usr/bin/python3", CHECK, "--root", str(root)], capture_output=True,
                          text=True, timeout=60)


def plant(root, files):
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)


def test_the_tree_keeps_its_layers():
    p = run_check(TOP)
    assert p.returncode == 0, p.stdout + p.stderr


def test_a_clean_planted_tree_passes(tmp_path):
    plant(tmp_path, {"src/util/a.h": "", "src/core/b.c": '#include "util/a.h"\n#include <stdio.h>\n',
                     "src/conn/c.c": '#include "core/b.h"\n#include "ringcast/protocol.h"\n',
                     "src/client/d.c": '#include "ringcast/client.h"\n'})
    p = run_check(tmp_path)
    assert p.returncode == 0, p.stdout


def test_each_violation_is_named(tmp_path):
    plant(tmp_path, {
        "src/util/up.c": '#include "core/conn.h"\n',         # a lower layer reaching up
        "src/proto/skip.c": '\n\n#include "app/server.h"\n',  # two layers up, line 3
        "src/core/bare.c": '#include "conn.h"\n',            # no folder named
        "src/core/nolayer.c": '#include "misc/x.h"\n',       # not a layer
        "src/extra/e.c": "",                                  # a folder that is not a layer
        "src/loose.c": "",                                    # outside the layer folders
        "src/client/lib.c": '#include "core/shard.h"\n',     # the client library reaching in
    })
    p = run_check(tmp_path)
    assert p.returncode == 1
    out = p.stdout
    assert 'src/util/up.c:1: #include "core/conn.h": core/ is above util/' in out
    assert 'src/proto/skip.c:3: #include "app/server.h": app/ is above proto/' in out
    assert 'src/core/bare.c:1: #include "conn.h": name the folder ("core/conn.h")' in out
    assert 'src/core/nolayer.c:1: #include "misc/x.h": misc is not a layer' in out
    assert "src/extra/e.c: src/extra/ is not a layer" in out
    assert "src/loose.c: a source file outside the layer folders" in out
    assert 'src/client/lib.c:1: #include "core/shard.h": the client library uses only' in out
    assert "7 place(s) against the layer order" in out

#!/usr/bin/python3
"""tests/check_layers.py: the include direction between src/'s layer folders.

src/ is cut into layers (docs/architecture.md, "The map"); a file may
include headers of its own layer and of the layers below it, never above:

    util <- io <- proto <- pubsub <- core <- conn <- app

Every `#include "..."` in src/ must name its folder ("core/conn.h"); the
public client headers ("ringcast/protocol.h", include/) count as proto, and
src/client/ (the client library) may use only those and util.

  tests/check_layers.py            check the tree; exit 1 listing each violation
  tests/check_layers.py --root D   check another tree (the self-test uses it)
"""

import argparse
import os
import re
import sys

LAYERS = ["util", "io", "proto", "pubsub", "core", "conn", "app"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["ringcast"] = RANK["proto"]  # include/ringcast: the publish protocol codec
CLIENT_MAY_USE = {"ringcast", "util"}
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)


def folder_of(path, root):
    rel = os.path.relpath(path, os.path.join(root, "src"))
    return rel.split(os.sep)[0] if os.sep in rel else None


def violations(root):
    found = []
    src = os.path.join(root, "src")
    for dirpath, _dirs, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            folder = folder_of(path, root)
            rel = os.path.relpath(path, root)
            if folder is None:
                found.append("%s: a source file outside the layer folders" % rel)
                continue
            if folder not in RANK and folder != "client":
                found.append("%s: src/%s/ is not a layer (%s)" % (rel, folder, " ".join(LAYERS)))
                continue
            with open(path, errors="replace") as f:
                text = f.read()
            for line_no, target in ((text.count("\n", 0, m.start()) + 1, m.group(1))
                                    for m in INCLUDE.finditer(text)):
                found += check_one(rel, line_no, folder, target)
    return found


def check_one(rel, line_no, folder, target):
    where = "%s:%d: #include \"%s\"" % (rel, line_no, target)
    if "/" not in target:
        return [where + ": name the folder (\"%s/%s\")" % (folder, target)]
    top = target.split("/")[0]
    if top not in RANK:
        return [where + ": %s is not a layer" % top]
    if folder == "client":
        return [] if top in CLIENT_MAY_USE else [where + ": the client library uses only "
                                                  "ringcast/ and util/"]
    if RANK[top] > RANK[folder]:
        return [where + ": %s/ is above %s/ (%s)" % (top, folder, " <- ".join(LAYERS))]
    return []


def main():
    ap = argparse.ArgumentParser(description="Check the include direction between src/ layers.")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = ap.parse_args()
    found = violations(args.root)
    for v in found:
        print(v)
    if found:
        print("%d place(s) against the layer order" % len(found))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

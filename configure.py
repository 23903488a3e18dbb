#!/usr/bin/env python3
"""configure.py: writes the ninja build file for ringcast.

Sources are found by layout, so adding a file needs only a re-run:
  src/LAYER/*.c        the server, by layer folder (docs/architecture.md, "The map";
                       src/app/main.c holds main())
  src/client/*.c       the publish client library (libringcast-client.a)
  tools/NAME.c         one program build/NAME per file (or tools/NAME/*.c)
  bench/NAME.c         likewise, for benchmark programs (or bench/NAME/*.c)
  tests/unit/LAYER/test_*.c  one cmocka program build/tests/test_* per file (the
                       folders mirror src/)
  tests/fuzz/fuzz_*.c  one libFuzzer program build/fuzz/fuzz_* per file ("ninja fuzz")

Modes: release (default; writes ./build.ninja, which is committed), debug, asan
(ASan+UBSan), tsan.  Other modes write build/MODE/build.ninja; build them with
`ninja -f build/MODE/build.ninja`.

  ./configure.py                 regenerate build.ninja
  ./configure.py --check         exit 1 if build.ninja differs from what would be written
  ./configure.py --install-deps  install the Debian packages (and npm test clients) needed
  ./configure.py --install-deps --bench-deps   also gnuplot and perf
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.abspath(__file__))

# Debian packages the build and the tests need.
DEBIAN_PACKAGES = [
    "gcc",
    "clang",
    "libclang-rt-14-dev",
    "clang-format",
    "ninja-build",
    "liburing-dev",
    "libmimalloc-dev",
    "android-libboringssl-dev",
    "libjansson-dev",
    "zlib1g-dev",
    "libcmocka-dev",
    "wrk",
    "python3-websocket",
    "python3-websockets",
    "python3-pytest",
    "python3-pytest-timeout",
    "python3-prometheus-client",
    "python3-jwt",
    "curl",
    "chromium",
    "libnss3-tools",  # certutil: the test CA trusted by Chromium (tests/integration/test_tls.py)
    "valgrind",  # the smoke test of bench/callgrind
    # The peer server of bench/compare, whose adapter (ringcast-bench --target
    # nchan) tests/integration/test_bench_smoke.py checks. "nginx" is the
    # server itself (it provides the module ABI); never started as a service.
    "nginx",
    "libnginx-mod-nchan",
]
NODE_PACKAGES = ["nodejs", "npm"]
# Only for the benchmarks (bench/README.md): plots, profilers, and
# nats-server, a peer of bench/compare (started by it on loopback, never as
# a service; test_bench_smoke.py's NATS case is skipped without it).
BENCH_PACKAGES = ["gnuplot-nox", "linux-perf", "nats-server"]
# Packages with a service that must not start, now or at boot: the tests and
# the benchmarks start nginx and nats-server themselves, on loopback.
NO_SERVICE = ["nginx", "nats-server"]
POLICY_RC = "/usr/sbin/policy-rc.d"
NODE_TEST_DIRS = ["tests/integration/node"]

MODES = {
    "release": {"cc": "cc", "cflags": ["-O2", "-g"], "ldflags": [], "mimalloc": True},
    "debug": {"cc": "cc", "cflags": ["-O0", "-g3"], "ldflags": [], "mimalloc": True},
    "asan": {
        "cc": "clang",
        "cflags": ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                   "-fno-sanitize-recover=all"],
        "ldflags": ["-fsanitize=address,undefined"],
        "mimalloc": False,
    },
    "tsan": {
        "cc": "clang",
        "cflags": ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=thread"],
        "ldflags": ["-fsanitize=thread"],
        "mimalloc": False,
    },
}

WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes",
            "-Wmissing-prototypes", "-Wno-unused-parameter"]
FUZZ_CFLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=fuzzer-no-link,address,undefined",
               "-fno-sanitize-recover=all", "-DRC_FUZZING=1"]
FUZZ_LDFLAGS = ["-fsanitize=fuzzer,address,undefined"]


def multiarch():
    """The Debian multiarch triplet, for BoringSSL's library folder."""
    for cmd in (["gcc", "-print-multiarch"], ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.CalledProcessError):
            pass
    return "x86_64-linux-gnu"


def rel_glob(pattern):
    return sorted(os.path.relpath(p, TOP) for p in glob.glob(os.path.join(TOP, pattern)))


def programs(folder):
    """Programs in tools/ or bench/: NAME.c, or a folder NAME/ with .c files."""
    progs = {}
    for path in rel_glob(folder + "/*.c"):
        progs[os.path.splitext(os.path.basename(path))[0]] = [path]
    for path in rel_glob(folder + "/*/"):
        srcs = rel_glob(os.path.join(path, "*.c"))
        if srcs:
            progs[os.path.basename(os.path.normpath(path))] = srcs
    return progs


def bench_unit(test_src, prefix):
    """The load generator's source that a unit test or fuzzer of that name
    covers: tests/unit/bench/test_NAME.c and tests/fuzz/fuzz_NAME.c link
    bench/ringcast-bench/NAME.c when it exists (it is in no library)."""
    name = os.path.splitext(os.path.basename(test_src))[0][len(prefix):]
    src = os.path.join("bench", "ringcast-bench", name + ".c")
    if prefix == "test_" and os.path.basename(os.path.dirname(test_src)) != "bench":
        return []
    return [src] if os.path.exists(os.path.join(TOP, src)) else []


def obj_path(builddir, src, sub="obj"):
    return os.path.join(builddir, sub, os.path.splitext(src)[0] + ".o")


def generate(mode, builddir):
    cfg = MODES[mode]
    arch = multiarch()
    boring_lib = "/usr/lib/%s/android" % arch
    cflags = ["-std=c17", "-D_GNU_SOURCE", "-pthread", "-Iinclude", "-Isrc",
              "-I/usr/include/android"] + WARNINGS + cfg["cflags"]
    if cfg["mimalloc"]:
        cflags.append("-DRC_USE_MIMALLOC=1")
    libs = ["-luring", "-ljansson", "-lz", "-L" + boring_lib, "-lssl", "-lcrypto",
            "-Wl,-rpath," + boring_lib, "-pthread"]
    if cfg["mimalloc"]:
        libs.append("-lmimalloc")

    server_srcs = [s for s in rel_glob("src/*/*.c")
                   if s != "src/app/main.c" and not s.startswith("src/client/")]
    client_srcs = rel_glob("src/client/*.c")
    tools = programs("tools")
    bench = programs("bench")
    unit_tests = rel_glob("tests/unit/*/test_*.c")
    fuzzers = rel_glob("tests/fuzz/fuzz_*.c")

    b = builddir
    out = []
    w = out.append
    w("# Generated by configure.py --mode %s: do not edit; re-run ./configure.py." % mode)
    w("ninja_required_version = 1.10")
    w("builddir = %s" % b)
    w("cc = %s" % cfg["cc"])
    w("fuzzcc = clang")
    w("cflags = %s" % " ".join(cflags))
    w("ldflags = %s" % " ".join(cfg["ldflags"]))
    w("libs = %s" % " ".join(libs))
    w("fuzzcflags = %s" % " ".join(
        [f for f in cflags if f not in cfg["cflags"] and f != "-DRC_USE_MIMALLOC=1"] + FUZZ_CFLAGS))
    w("fuzzldflags = %s" % " ".join(FUZZ_LDFLAGS))
    w("fuzzlibs = %s" % " ".join(l for l in libs if l != "-lmimalloc"))
    w("")
    w("rule cc")
    w("  command = $cc -MMD -MF $out.d $cflags -c $in -o $out")
    w("  depfile = $out.d")
    w("  deps = gcc")
    w("  description = CC $out")
    w("rule fuzzcc")
    w("  command = $fuzzcc -MMD -MF $out.d $fuzzcflags -c $in -o $out")
    w("  depfile = $out.d")
    w("  deps = gcc")
    w("  description = FUZZCC $out")
    w("rule ar")
    w("  command = rm -f $out && ar crs $out $in")
    w("  description = AR $out")
    w("rule link")
    w("  command = $cc $ldflags -o $out $in $extra $libs")
    w("  description = LINK $out")
    w("rule fuzzlink")
    w("  command = $fuzzcc $fuzzldflags -o $out $in $fuzzlibs")
    w("  description = FUZZLINK $out")
    w("")

    def compile_all(srcs, rule="cc", sub="obj"):
        objs = []
        for s in srcs:
            o = obj_path(b, s, sub)
            w("build %s: %s %s" % (o, rule, s))
            objs.append(o)
        return objs

    server_objs = compile_all(server_srcs)
    client_objs = compile_all(client_srcs)
    main_obj = compile_all(["src/app/main.c"])[0]
    server_lib = os.path.join(b, "libringcast-server.a")
    client_lib = os.path.join(b, "libringcast-client.a")
    w("build %s: ar %s" % (server_lib, " ".join(server_objs)))
    w("build %s: ar %s" % (client_lib, " ".join(client_objs)))
    w("")

    defaults = []
    server_bin = os.path.join(b, "ringcast")
    w("build %s: link %s %s %s" % (server_bin, main_obj, server_lib, client_lib))
    defaults.append(server_bin)
    for name, srcs in sorted(list(tools.items()) + list(bench.items())):
        objs = compile_all(srcs)
        binary = os.path.join(b, name)
        w("build %s: link %s %s %s" % (binary, " ".join(objs), server_lib, client_lib))
        defaults.append(binary)

    tests = []
    for src in unit_tests:
        obj = compile_all([src])[0]
        binary = os.path.join(b, "tests", os.path.splitext(os.path.basename(src))[0])
        under_test = [obj_path(b, s) for s in bench_unit(src, "test_")]
        w("build %s: link %s %s %s" % (binary, " ".join([obj] + under_test), server_lib,
                                       client_lib))
        w("  extra = -lcmocka")
        tests.append(binary)
    w("build tests: phony %s" % " ".join(tests))
    defaults += tests
    w("")

    fuzz_bins = []
    if fuzzers:
        fuzz_objs = compile_all(server_srcs + client_srcs, "fuzzcc", "fuzzobj")
        for src in fuzzers:
            obj = compile_all([src], "fuzzcc", "fuzzobj")[0]
            obj += "".join(" " + o for o in compile_all(bench_unit(src, "fuzz_"), "fuzzcc",
                                                       "fuzzobj"))
            binary = os.path.join(b, "fuzz", os.path.splitext(os.path.basename(src))[0])
            w("build %s: fuzzlink %s %s" % (binary, obj, " ".join(fuzz_objs)))
            fuzz_bins.append(binary)
    w("build fuzz: phony %s" % " ".join(fuzz_bins))
    w("")
    w("default %s" % " ".join(defaults))
    return "\n".join(out) + "\n"


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def refuses_starts(policy):
    """Whether the policy-rc.d at |policy| refuses to start services (101)."""
    try:
        return subprocess.run([policy, "nginx", "start"], capture_output=True).returncode == 101
    except OSError:
        return False


def apt_install(packages):
    """apt-get update once, then install |packages| without recommends.
    Services in them are not started: the tests and the benchmarks start
    nginx themselves, on loopback. For the install, a policy-rc.d that
    refuses starts is put in place unless the machine's own already refuses
    (one that allows them is set aside and put back afterwards); the
    services of NO_SERVICE installed here are then disabled at boot."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("configure.py: installing %s" % " ".join(packages), flush=True)
    subprocess.run(sudo + ["apt-get", "update", "-q"], check=True, env=env)
    saved = POLICY_RC + ".ringcast-saved"
    own_policy = not refuses_starts(POLICY_RC)
    if own_policy:
        put_aside = "mv %s %s && " % (POLICY_RC, saved) if os.path.lexists(POLICY_RC) else ""
        subprocess.run(sudo + ["sh", "-c", "%sprintf '#!/bin/sh\\nexit 101\\n' > %s && chmod 755 %s"
                               % (put_aside, POLICY_RC, POLICY_RC)], check=True)
    try:
        subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                       + packages, check=True, env=env)
    finally:
        if own_policy:
            put_back = " && if [ -e %s ]; then mv %s %s; fi" % (saved, saved, POLICY_RC)
            subprocess.run(sudo + ["sh", "-c", "rm -f %s%s" % (POLICY_RC, put_back)], check=True)
    for service in (p for p in NO_SERVICE if p in packages):
        if shutil.which("systemctl"):
            subprocess.run(sudo + ["systemctl", "disable", "--quiet", service], check=True)
        elif shutil.which("update-rc.d"):
            subprocess.run(sudo + ["update-rc.d", service, "disable"], check=True)


def install_deps(bench):
    wanted = list(DEBIAN_PACKAGES) + (BENCH_PACKAGES if bench else [])
    if shutil.which("node") is None or shutil.which("npm") is None:
        wanted += NODE_PACKAGES
    missing = [p for p in wanted if not installed(p)]
    if missing:
        apt_install(missing)
    for d in NODE_TEST_DIRS:
        path = os.path.join(TOP, d)
        if os.path.exists(os.path.join(path, "package-lock.json")):
            stamp = os.path.join(path, "node_modules", ".package-lock.json")
            lock = os.path.join(path, "package-lock.json")
            if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock):
                print("configure.py: npm ci in %s" % d, flush=True)
                subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=path, check=True)


def main():
    ap = argparse.ArgumentParser(description="Write the ninja build file for ringcast.")
    ap.add_argument("--mode", choices=sorted(MODES), default="release",
                    help="build mode (default: release)")
    ap.add_argument("--builddir", help="where objects and binaries go "
                    "(default: build for release, build/MODE otherwise)")
    ap.add_argument("--output", help="the ninja file to write "
                    "(default: build.ninja for release, BUILDDIR/build.ninja otherwise)")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if the output file is not what would be written")
    ap.add_argument("--install-deps", action="store_true",
                    help="install the Debian packages and npm test clients, then write the file")
    ap.add_argument("--bench-deps", action="store_true",
                    help="with --install-deps: also what only the benchmarks need (gnuplot, "
                    "perf, nats-server; nginx with nchan and valgrind come with the tests)")
    args = ap.parse_args()

    if args.bench_deps and not args.install_deps:
        ap.error("--bench-deps goes with --install-deps")
    if args.install_deps:
        install_deps(args.bench_deps)
    builddir = args.builddir or ("build" if args.mode == "release" else "build/" + args.mode)
    output = args.output or ("build.ninja" if args.mode == "release"
                             else os.path.join(builddir, "build.ninja"))
    text = generate(args.mode, builddir)
    path = os.path.join(TOP, output)
    if args.check:
        try:
            with open(path) as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print("configure.py: %s is out of date; run ./configure.py and commit it" % output,
                  file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        with open(path) as f:
            if f.read() == text:
                return 0
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

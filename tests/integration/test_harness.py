"""The test harness itself: sanitizer reports from any process fail the
test that started it (conftest.py, sanitizers.py), and tests/run's fuzz run
keeps and names what it found (tests/run fuzz_target). Deliberately broken
programs from tests/harness/, compiled here into tmp folders, never into
build/."""

import importlib.machinery
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

import sanitizers
from conftest import BUILD, TOP

HARNESS = os.path.join(TOP, "tests", "harness")
MODES_THAT_REPORT = {"leak": "ERROR: LeakSanitizer: detected memory leaks",
                     "ubsan": "runtime error: signed integer overflow",
                     "overflow": "ERROR: AddressSanitizer: heap-buffer-overflow",
                     "leak-exit-0": "ERROR: LeakSanitizer: detected memory leaks"}


def clang(source, out, *flags):
    p = subprocess.run(["clang", "-g", "-O1", *flags, os.path.join(HARNESS, source), "-o", out],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture(scope="module")
def selftest(tmp_path_factory):
    """san_selftest.c built like build/asan, except that UBSan errors are
    recoverable: only the forced halt_on_error=1 stops them."""
    return clang("san_selftest.c", str(tmp_path_factory.mktemp("san") / "san_selftest"),
                 "-fsanitize=address,undefined")


# ---- the options -----------------------------------------------------------------

HOSTILE = {"ASAN_OPTIONS": "detect_leaks=0:exitcode=0:log_path=stderr:abort_on_error=1",
           "LSAN_OPTIONS": "detect_leaks=0:exitcode=3",
           "UBSAN_OPTIONS": "halt_on_error=0:exitcode=0:log_path=stderr"}


@pytest.mark.parametrize("mode, status", [
    ("clean", 1), ("leak", sanitizers.EXIT_CODE), ("ubsan", sanitizers.EXIT_CODE),
    ("overflow", sanitizers.EXIT_CODE), ("leak-exit-0", 0)])
def test_every_sanitizer_exits_86_and_writes_its_report_to_the_folder(selftest, tmp_path, mode,
                                                                     status):
    """Even when the preset options try to turn all of that off."""
    logs = str(tmp_path / "logs")
    os.mkdir(logs)
    env = sanitizers.environ(dict(os.environ, **HOSTILE), logs)
    p = subprocess.Popen([selftest, mode], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == status, (p.returncode, stderr)
    found = sanitizers.reports(logs)
    if mode in MODES_THAT_REPORT:
        assert [os.path.basename(f) for f in found] == ["san.%d" % p.pid]
        assert MODES_THAT_REPORT[mode] in open(found[0]).read()
    else:
        assert found == []
    assert "Sanitizer" not in stderr and "runtime error" not in stderr, stderr


def test_the_sanitizer_variables_keep_other_preset_options():
    env = sanitizers.environ({"ASAN_OPTIONS": "quarantine_size_mb=4"}, "/tmp/x")
    assert env["ASAN_OPTIONS"].startswith("quarantine_size_mb=4:")
    assert env["ASAN_OPTIONS"].endswith(":log_path=/tmp/x/san:halt_on_error=1")
    assert env["UBSAN_OPTIONS"].startswith("print_stacktrace=1:")


# ---- a nested pytest with our conftest ------------------------------------------------

def nested_pytest(tmp_path, test_source):
    """Runs |test_source| (a test module) under pytest with
    tests/integration/conftest.py as a plugin and its own report folder.
    Returns (exit status, output)."""
    (tmp_path / "test_nested.py").write_text(textwrap.dedent(test_source))
    env = dict(os.environ, PYTHONPATH=os.path.join(TOP, "tests", "integration"),
               RINGCAST_BUILD=BUILD, RINGCAST_SANITIZER_LOGS=str(tmp_path / "san"))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "conftest", "--rootdir", str(tmp_path), "test_nested.py"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def status_only_test(program, mode, check):
    return """
        import subprocess

        def test_status_only():
            p = subprocess.run([%r, %r], capture_output=True)
            assert p.returncode %s
        """ % (program, mode, check)


@pytest.mark.parametrize("mode, check", [("leak", "!= 0"), ("ubsan", "!= 0"),
                                         ("overflow", "!= 0"), ("leak-exit-0", "== 0")])
def test_a_report_fails_a_test_that_checks_only_the_exit_status(selftest, tmp_path, mode, check):
    status, out = nested_pytest(tmp_path, status_only_test(selftest, mode, check))
    assert status == 1, out
    assert re.search(r"\b1 passed, 1 error\b", out), out  # the test passed; its teardown failed
    assert "sanitizer report from a process this test started" in out, out
    assert MODES_THAT_REPORT[mode] in out, out
    assert len(os.listdir(tmp_path / "san" / "seen")) == 1


def test_a_clean_error_path_passes(selftest, tmp_path):
    status, out = nested_pytest(tmp_path, status_only_test(selftest, "clean", "== 1"))
    assert status == 0 and re.search(r"\b1 passed in\b", out), out


def test_a_report_written_outside_any_test_fails_the_session(selftest, tmp_path):
    status, out = nested_pytest(tmp_path, """
        import subprocess
        import pytest

        @pytest.fixture(scope="module")
        def leaks_when_torn_down():
            yield
            subprocess.run([%r, "leak"])

        def test_one(leaks_when_torn_down):
            pass
        """ % selftest)
    assert status == 1, out
    assert re.search(r"\b1 passed in\b", out), out
    assert "sanitizer reports written outside any test" in out, out
    assert MODES_THAT_REPORT["leak"] in out, out


# ---- the fuzz run ---------------------------------------------------------------------

def load_tests_run():
    """tests/run as a module (it has no .py name)."""
    loader = importlib.machinery.SourceFileLoader("tests_run", os.path.join(TOP, "tests", "run"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fuzz_selftest(tmp_path_factory):
    return clang("fuzz_selftest.c", str(tmp_path_factory.mktemp("fuzz") / "fuzz_selftest"),
                 "-fsanitize=fuzzer,address")


@pytest.mark.parametrize("seed, kind, reproduced", [
    ("CRASH!", "crash", "ERROR: AddressSanitizer: heap-buffer-overflow"),
    ("SPIN!", "timeout", "SUMMARY: libFuzzer: timeout"),
])
def test_fuzz_failures_keep_and_name_a_reproducer(fuzz_selftest, tmp_path, seed, kind,
                                                  reproduced):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "seed").write_text(seed)
    artifacts = str(tmp_path / "build" / "fuzz-artifacts" / "selftest")
    ok, secs, _, detail = load_tests_run().fuzz_target(fuzz_selftest, 5, artifacts,
                                                       seeds=str(seeds), timeout=1)
    assert not ok, detail
    assert secs < 60, detail
    named = re.findall(r"^artifact (\S+)\n  reproduce: (.+)$", detail, re.M)
    assert len(named) == 1, detail
    path, command = named[0]
    assert os.path.dirname(path) == artifacts and os.path.basename(path).startswith(kind + "-")
    with open(path) as f:
        assert f.read() == seed
    # The reproducer, as named, fails the same way (reports on its standard error).
    p = subprocess.run(shlex.split(command), cwd=TOP, env=sanitizers.environ(os.environ),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and reproduced in p.stderr, (p.returncode, p.stderr[-4000:])

"""The sanitizer options every process of the sanitized builds runs with,
shared by tests/run (the fuzzers) and conftest.py (everything the
integration tests start: servers, tools, error paths).

Some options are forced: a preset ASAN_OPTIONS, UBSAN_OPTIONS or
LSAN_OPTIONS keeps its other options, but it can never turn leak detection
off, change the exit status or move the reports (each of the three
variables can set these for an ASan+UBSan program, and the last setting
wins, so ours come last):
  - detect_leaks=1;
  - exitcode=EXIT_CODE for ASan errors, leaks found at exit and UBSan
    errors alike (halt_on_error=1, abort_on_error=0): a status no ringcast
    program uses;
  - log_path: with a folder, every report goes to the file <folder>/san.<pid>,
    whichever process wrote it and however it was started; without, to
    standard error.
Programs built without sanitizers (python, node, Chromium) ignore them.
"""

import glob
import os

EXIT_CODE = 86
REPORT_PREFIX = "san"
DEFAULTS = {"UBSAN_OPTIONS": ["print_stacktrace=1"]}


def forced(log_dir=None):
    """{variable: [option, ...]} that must come last in each variable."""
    if log_dir:
        assert not set(log_dir) & set(": ,\t\n"), "the sanitizers cannot log to %r" % log_dir
    common = ["detect_leaks=1", "exitcode=%d" % EXIT_CODE, "abort_on_error=0",
              "log_path=" + (os.path.join(log_dir, REPORT_PREFIX) if log_dir else "stderr")]
    return {"ASAN_OPTIONS": common + ["halt_on_error=1"],
            "UBSAN_OPTIONS": common + ["halt_on_error=1"],
            "LSAN_OPTIONS": common}


def environ(base, log_dir=None):
    """A copy of the environment |base| with the sanitizer variables set:
    our defaults, then what |base| had, then the forced options."""
    env = dict(base)
    for var, options in forced(log_dir).items():
        preset = [base[var]] if base.get(var) else []
        env[var] = ":".join(DEFAULTS.get(var, []) + preset + options)
    return env


def reports(log_dir):
    """The report files in |log_dir| (one per process that wrote one)."""
    return sorted(glob.glob(os.path.join(log_dir, REPORT_PREFIX + ".*")))

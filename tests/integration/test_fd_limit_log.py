"""The file limit lowering --max-connections: one info line when that is
the automatic adjustment of the default, a warning only when the user set
--max-connections above what the limit allows (issue 14)."""

NOFILE = 4096


def test_default_is_one_info_line(start_server):
    server = start_server(nofile=NOFILE)
    log = server.log()
    lines = [l for l in log.splitlines() if "serving at most" in l]
    assert len(lines) == 1, log
    assert " info " in lines[0] and "open file limit %d" % NOFILE in lines[0], lines
    assert not [l for l in log.splitlines() if " warn " in l and "connections" in l], log


def test_explicit_flag_over_the_limit_warns(start_server):
    server = start_server("--max-connections", "1000000", nofile=NOFILE)
    lines = [l for l in server.log().splitlines() if "serving at most" in l]
    assert len(lines) == 1 and " warn " in lines[0], lines
    assert "--max-connections 1000000 is more than the open file limit allows" in lines[0]


def test_explicit_flag_within_the_limit_says_nothing(start_server):
    server = start_server("--max-connections", "1000", nofile=NOFILE)
    assert "serving at most" not in server.log()

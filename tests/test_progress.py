"""Progress bars draw in place on a terminal and write lines anywhere else (monitor.progress)."""

import io

from tqdm import tqdm

from monitor.progress import LineWriter, bar_options


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_bar_redrawn_in_place():
    screen = Terminal()
    options = bar_options(screen)
    assert options["file"] is screen and options["mininterval"] == 1.0
    for _ in tqdm(range(3), desc="training", **options):
        pass
    assert "\r" in screen.getvalue()


def test_a_log_gets_one_line_per_redraw_with_the_figures():
    log = io.StringIO()
    options = bar_options(log)
    assert isinstance(options["file"], LineWriter) and options["mininterval"] == 30.0
    with tqdm(total=4, desc="training", unit="step", file=options["file"], mininterval=0) as bar:
        for _ in range(4):
            bar.update(1)
            bar.set_postfix(loss="0.420", refresh=False)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) >= 2
    assert all(line.startswith("training:") for line in lines)
    assert "4/4" in lines[-1] and "loss=0.420" in lines[-1]


def test_a_closed_or_odd_stream_counts_as_a_log():
    closed = io.StringIO()
    closed.close()
    assert isinstance(bar_options(closed)["file"], LineWriter)
    assert isinstance(bar_options(object())["file"], LineWriter)  # type: ignore[arg-type]

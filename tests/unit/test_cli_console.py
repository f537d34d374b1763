"""The CLI's console: results and errors naming long paths stay on one line at any width."""

from __future__ import annotations

import io

from tcan_live.cli.errors import plain_console, print_error

LONG_PATH = "/tmp/pytest-of-someone/pytest-112/" + "a_long_test_folder_name_" * 4 + "model.zip"


def test_a_result_line_longer_than_the_terminal_is_printed_as_one_line() -> None:
    stream = io.StringIO()
    console = plain_console(file=stream, width=40)
    console.print(f"{LONG_PATH}: microtubules-small, BioImage.IO model 0.5 (README.md)")
    assert stream.getvalue().splitlines() == [
        f"{LONG_PATH}: microtubules-small, BioImage.IO model 0.5 (README.md)"
    ]


def test_an_error_longer_than_the_terminal_is_one_error_line() -> None:
    stream = io.StringIO()
    print_error(plain_console(file=stream, width=40), f"{LONG_PATH}: not a tcan-live store")
    assert stream.getvalue().splitlines() == [f"error: {LONG_PATH}: not a tcan-live store"]


def test_markup_in_a_name_is_printed_as_it_is() -> None:
    stream = io.StringIO()
    plain_console(file=stream, width=40).print("channel a[/]b [bold]x")
    assert stream.getvalue() == "channel a[/]b [bold]x\n"

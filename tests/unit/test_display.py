"""The one way each number reads: shares rounded down, sizes, durations."""

from __future__ import annotations

from web import display


def test_a_share_is_rounded_down_so_it_never_reaches_a_threshold_it_missed() -> None:
    assert display.percent(0.989) == "98 %"
    assert display.percent(0.99) == "99 %"
    assert display.percent(0.29) == "29 %"
    assert display.percent(0.989, 1) == "98.9 %"
    assert display.percent(None) == "–"
    assert display.percent(1.0) == "100 %"


def test_two_shares_get_the_digits_that_tell_them_apart() -> None:
    assert display.percent_apart(0.62, 0.95) == 0
    assert display.percent_apart(0.981, 0.985) == 1
    digits = display.percent_apart(0.9851, 0.9853)
    assert display.percent(0.9851, digits) != display.percent(0.9853, digits)
    assert display.percent_apart(0.5, 0.5) == display.MAX_PERCENT_DIGITS


def test_one_size_format() -> None:
    assert display.filesize(340) == "340 B"
    assert display.filesize(938) == "938 B"
    assert display.filesize(2048) == "2 kB"
    assert display.filesize(3 * 1024 * 1024 // 2) == "1.5 MB"


def test_durations_read_in_minutes_and_seconds() -> None:
    assert display.duration(45) == "45 s"
    assert display.duration(80) == "1 min 20 s"
    assert display.duration(120) == "2 min"
    assert display.duration(600) == "10 min"
    assert display.duration(3 * 3600 + 300) == "3 h 5 min"
    assert display.duration(50 * 3600) == "2 days 2 h"
    assert display.duration(None) == "–"


def test_numbers_are_written_as_the_interface_language_writes_them() -> None:
    from flask import Flask
    from flask_babel import Babel

    for locale, figure, share in (("nl", "0,812", "98,9 %"), ("en", "0.812", "98.9 %")):
        app = Flask(__name__)
        Babel(app, locale_selector=lambda locale=locale: locale)
        with app.test_request_context():
            assert display.decimal(0.8123) == figure
            assert display.percent(0.9894, 1) == share
            assert display.percent(0.989) == "98 %"  # still rounded down, never up
            assert display.decimal(None) == "–"

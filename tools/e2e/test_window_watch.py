"""WindowWatch's verdicts on made-up checks: what makes a test that uses it fail."""

from decimal import Decimal

import pytest

from windows import WindowWatch


def agree(n):
    return {"default": ((n, Decimal(n)), (n, Decimal(n))), "fallback": ((0, Decimal(0)), (0, Decimal(0)))}


def differ(n):
    return {"default": ((n - 1, Decimal(n - 1)), (n, Decimal(n))), "fallback": ((0, Decimal(0)), (0, Decimal(0)))}


def watch(*verdicts):
    """Checks 0.25 s apart: 'm' match (with payments), 'x' mismatch, 'u' unanswered, '0' match of
    empty windows."""
    w = WindowWatch(backend=None, processors={}, admin_headers={})
    detail = {"m": agree(5), "x": differ(5), "u": 503, "0": agree(0)}
    verdict = {"m": "match", "x": "mismatch", "u": "unanswered", "0": "match"}
    w.checks = [(i * 0.25, verdict[v], detail[v]) for i, v in enumerate(verdicts)]
    return w


def test_short_mismatches_and_unanswered_checks_pass():
    watch(*"mmxxmmuuuummmm").assert_consistent(within_s=2.0)


def test_a_mismatch_lasting_longer_than_allowed_fails_even_across_unanswered_checks():
    with pytest.raises(AssertionError, match="mismatched for 2.25 s"):
        watch(*"mmxxxxuuuxxmmm").assert_consistent(within_s=2.0)


def test_a_mismatch_still_there_at_the_end_fails():
    with pytest.raises(AssertionError, match="last windowed check"):
        watch(*"mmmmmx").assert_consistent(within_s=2.0)


def test_windows_that_never_held_a_payment_prove_nothing():
    with pytest.raises(AssertionError, match="compared nothing"):
        watch(*"000000").assert_consistent()


def test_too_few_answered_checks_fail():
    with pytest.raises(AssertionError, match="only 2 windowed checks"):
        watch(*"uuuumm").assert_consistent()

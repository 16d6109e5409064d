"""The ``openmm-range`` command line (one module per verb, gathered by :mod:`.main`)."""
import argparse


def _int_at_least(least: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be an integer >= {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count, a batch size), refused by name otherwise."""
    return _int_at_least(1, text)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (where 0 means "all", as in ``--max-structures 0``)."""
    return _int_at_least(0, text)

"""Validate the problem bank: `python -m problems.check` prints each problem or the first error."""

import sys

from problems.loader import ProblemFileError, load_bank


def main() -> int:
    """Load every shipped problem and print a line for each."""
    try:
        bank = load_bank()
    except ProblemFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    for p in bank.values():
        counts = " ".join(f"{k}={len(g.concepts)}" for k, g in p.phases.items())
        print(f"{p.slug:28} {p.category:16} {counts}")
    print(f"{len(bank)} problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the rubric agrees with the validation set's grades on the validation set (tests/transcripts/grades.json).

Prints, per graded transcript, the human grade and the rubric's, then Spearman's rank correlation
of the overall scores (all transcripts, honest ones, adversarial ones) and verdict agreement.

    python benchmarks/eval_validation.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.scoring import score_transcript  # noqa: E402
from problems.loader import load_bank  # noqa: E402

HONEST = {"strong", "medium", "weak", "terse_strong", "synonym"}


def ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks."""
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else 0.0


def main() -> None:
    directory = ROOT / "tests" / "transcripts"
    grades = json.loads((directory / "grades.json").read_text())
    bank = load_bank()
    rows = []
    for name, grade in sorted(grades.items()):
        transcript = json.loads((directory / name).read_text())
        recap = score_transcript(transcript, bank[transcript["problem"]])
        kind = name.split("--", 1)[1].removesuffix(".json")
        rows.append((name, kind, grade["overall"], grade["verdict"], recap["overall"], recap["verdict"]))
    print(f"{'transcript':48} {'human':>16} {'rubric':>16}")
    for name, _kind, h, hv, r, rv in rows:
        mark = "" if hv == rv else "  *"
        print(f"{name:48} {h:>4} {hv:>11} {r:>4} {rv:>11}{mark}")

    def report(label: str, subset: list[tuple]) -> None:
        if len(subset) < 3:
            return
        rho = spearman([float(x[2]) for x in subset], [float(x[4]) for x in subset])
        agree = sum(1 for x in subset if x[3] == x[5])
        print(f"{label:12} n={len(subset):3}  Spearman {rho:.2f}  verdicts agree {agree}/{len(subset)}")

    print()
    report("all", rows)
    report("honest", [r for r in rows if r[1] in HONEST])
    report("adversarial", [r for r in rows if r[1] not in HONEST])


if __name__ == "__main__":
    main()

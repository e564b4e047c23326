"""The problem bank: one TOML file per problem, validated on load."""

from problems.loader import (
    ProblemFileError,
    UnknownProblem,
    find_problem,
    load_bank,
    load_problem_file,
    suggest,
)

__all__ = [
    "ProblemFileError",
    "UnknownProblem",
    "find_problem",
    "load_bank",
    "load_problem_file",
    "suggest",
]

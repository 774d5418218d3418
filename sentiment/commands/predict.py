"""`sentiment predict` (being built)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="(not built yet)")
    parser.set_defaults(handler=lambda args: 1)

"""Options that several sub-commands share."""

from __future__ import annotations

import argparse
import os

from sentiment.model.routes import ROUTES


def add_route_option(parser: argparse.ArgumentParser) -> None:
    """``--route fast|pinned`` (default ``$SENTIMENT_ROUTE``, else fast) on a command that
    predicts; see ``sentiment.model.routes``."""
    parser.add_argument("--route", choices=ROUTES,
                        default=os.environ.get("SENTIMENT_ROUTE") or "fast",
                        help="fast: the int8 encoder, 3-4x faster, its bits depend on the "
                             "CPU; pinned: the same bits on every CPU (default: %(default)s, "
                             "or $SENTIMENT_ROUTE)")

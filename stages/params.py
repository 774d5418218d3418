"""Stage params: validate the whole of ``params.yaml`` before any other stage runs.

Every stage depends on this stage's output, so a misspelt key (``compute.batch_rowz``, a typo
in ``dvc exp run -S``) stops ``dvc repro`` here, before DVC deletes any stage's outputs. The
output's content never changes, so a valid edit reruns only the stages whose params changed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from sentiment.params.base import ParamsError
from sentiment.params.schema import load_params

VALID = "params.yaml is valid\n"


def main(marker: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s params: %(message)s")
    try:
        load_params()
    except ParamsError as error:
        logging.getLogger("params").error("%s", error)
        sys.exit(2)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(VALID, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""``python -m stages.scrape``: run the scrape stage with ``params.yaml`` from the CWD."""

from stages.common import run_stage
from stages.scrape.stage import main

if __name__ == "__main__":
    run_stage("scrape", main)

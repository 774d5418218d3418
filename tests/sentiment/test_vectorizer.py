"""The TF-IDF vocabulary is the same on every machine: ties are broken by the term."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sentiment.families.parts.tfidf import TfidfFeaturizer, most_frequent_terms
from sentiment.params.families import TfidfParams

# Fits a featurizer on a corpus where hundreds of terms tie at the max_features cut-off, and
# prints a digest of its state. scikit-learn's own selection gives a different vocabulary for
# each of the NumPy SIMD levels below on a CPU with AVX-512.
FIT_AND_DIGEST = """
import hashlib, json, random
from sentiment.params.families import TfidfParams
from sentiment.families.parts.tfidf import TfidfFeaturizer
rng = random.Random(0)
words = [f"w{i}" for i in range(3000)]
texts = [" ".join(rng.sample(words, 20)) for _ in range(600)]
featurizer = TfidfFeaturizer(TfidfParams(min_df=2, max_word_features=500, max_char_features=300))
featurizer.fit([text.split() for text in texts], texts)
state, arrays = featurizer.state()
digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode())
for name in sorted(arrays):
    digest.update(arrays[name].tobytes())
print(digest.hexdigest())
"""
# NumPy feature groups to switch off, emulating older CPUs (unknown ones are ignored).
SIMD_LEVELS = ["", "AVX512_SPR AVX512_ICL X86_V4", "AVX512_SPR AVX512_ICL X86_V4 X86_V3"]


def test_ties_are_broken_by_the_term() -> None:
    vocabulary = {"b": 0, "a": 1, "d": 2, "c": 3, "e": 4}
    counts = np.array([2, 2, 2, 5, 1])
    assert most_frequent_terms(vocabulary, counts, 3) == ["a", "b", "c"]
    assert most_frequent_terms(vocabulary, counts, 10) == ["a", "b", "c", "d", "e"]


def test_vocabulary_does_not_depend_on_numpys_cpu_dispatch() -> None:
    digests = set()
    for disabled in SIMD_LEVELS:
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
        result = subprocess.run([sys.executable, "-c", FIT_AND_DIGEST], env=env,
                                capture_output=True, text=True, check=True)
        digests.add(result.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_idf_is_scikit_learns_smooth_idf() -> None:
    texts = ["good good flight", "bad flight", "good crew", "late late late", "good"]
    featurizer = TfidfFeaturizer(TfidfParams(word_ngram_max=1, min_df=1, max_word_features=100,
                                             max_char_features=0))
    featurizer.fit([text.split() for text in texts], texts)
    reference = TfidfVectorizer(analyzer=str.split, smooth_idf=True).fit(texts)
    assert featurizer.word.vocabulary_ == reference.vocabulary_
    np.testing.assert_array_max_ulp(featurizer.word.idf_.astype(np.float32),
                                    reference.idf_.astype(np.float32), maxulp=1)


def tied_corpus() -> tuple[list[list[str]], list[str]]:
    import random

    rng = random.Random(1)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.sample(words, rng.randint(1, 15))) for _ in range(300)]
    return [text.split() for text in texts], texts


def test_streamed_fit_is_the_whole_fit_whatever_the_batches() -> None:
    from sentiment.families.parts.tfidf import fit_vectorizer, transform_batches

    tokens, texts = tied_corpus()
    params = TfidfParams(min_df=2, max_word_features=150, max_char_features=120)
    whole = TfidfFeaturizer(params)
    fit_vectorizer(whole.word, tokens, params.max_word_features)  # scikit-learn's counting
    fit_vectorizer(whole.char, texts, params.max_char_features)
    for rows in (1, 7, 1000):
        batches = [(tokens[i : i + rows], texts[i : i + rows]) for i in range(0, 300, rows)]
        streamed = TfidfFeaturizer(params).fit_batches(batches)
        for mine, reference in ((streamed.word, whole.word), (streamed.char, whole.char)):
            assert mine.vocabulary_ == reference.vocabulary_
            assert mine.idf_.tobytes() == reference.idf_.tobytes()
        matrix = transform_batches(streamed, batches)
        expected = whole.transform(tokens, texts)
        assert (matrix != expected).nnz == 0 and matrix.shape == expected.shape

"""TF-IDF over word n-grams (of the featurize tokens) and character n-grams (of the text).

Fitted on ``train`` only. Its state (vocabularies in JSON, IDF weights in safetensors) is
saved with the model and restored without pickle.

It computes what scikit-learn's ``TfidfVectorizer`` (smooth IDF, L2 rows) computes, with three
differences that make the bytes the same on every x86-64 machine, not just on one: NumPy picks
its sort and float32 ``log`` kernels by the SIMD instructions of the CPU, and they disagree.
- ``fit`` keeps the ``max_*_features`` most frequent terms, ties broken by the term itself
  (scikit-learn takes them in the order of an unstable ``argsort``: the same data gave another
  vocabulary, and so another model, on another CPU);
- logarithms (IDF, sublinear tf) are taken in float64 and rounded to float32 (scikit-learn
  takes them in float32, where NumPy's SIMD kernels differ in the last bit);
- IDF weights are float32 from the start, as saved, so the featurizer that trains is exactly
  the one that is loaded.
``transform`` is also faster: each word's character n-grams are looked up once and cached, and
there is no per-call input validation, which dominates one-text calls.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from sentiment.errors import ModelLoadError
from sentiment.families.parts.weights import read_arrays, read_model_json, save_arrays, write_json
from sentiment.params.base import ParamsError
from sentiment.params.families import TfidfParams

_MAX_CACHED_WORDS = 1 << 17


def word_ngrams(tokens: Sequence[str], n_max: int) -> list[str]:
    """Word n-grams (1..n_max) of a token list, joined by single spaces."""
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _word_vectorizer(params: TfidfParams) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=partial(word_ngrams, n_max=params.word_ngram_max),
        min_df=params.min_df,
        sublinear_tf=params.sublinear_tf,
        dtype=np.float32,
    )


def _char_vectorizer(params: TfidfParams) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(params.char_ngram_min, params.char_ngram_max),
        lowercase=False,
        min_df=params.min_df,
        sublinear_tf=params.sublinear_tf,
        dtype=np.float32,
    )


def most_frequent_terms(vocabulary: dict[str, int], counts: np.ndarray, limit: int) -> list[str]:
    """The ``limit`` terms with the highest total count, ties broken by the term; sorted."""
    ranked = sorted(vocabulary, key=lambda term: (-counts[vocabulary[term]], term))
    return sorted(ranked[:limit])


def _one_plus_log(values: np.ndarray) -> np.ndarray:
    """``1 + log(values)`` in float64, rounded to float32 (see the module docstring)."""
    return (1.0 + np.log(values.astype(np.float64))).astype(np.float32)


def fit_vectorizer(vectorizer: TfidfVectorizer, documents: Sequence, max_features: int) -> None:
    """Fit ``vectorizer`` on the ``max_features`` most frequent of the terms found in at least
    ``min_df`` documents, with smooth IDF weights ``ln((1 + n) / (1 + df)) + 1``."""
    counts = CountVectorizer.fit_transform(vectorizer, documents).tocsc()
    totals = np.asarray(counts.sum(axis=0)).ravel()
    kept = most_frequent_terms(vectorizer.vocabulary_, totals, max_features)
    columns = [vectorizer.vocabulary_[term] for term in kept]
    document_frequency = np.diff(counts[:, columns].indptr)
    idf = _one_plus_log((1.0 + counts.shape[0]) / (1.0 + document_frequency))
    vectorizer.vocabulary_ = {term: index for index, term in enumerate(kept)}
    vectorizer.idf_ = idf.astype(np.float64)


def _count_matrix(indices: np.ndarray, row_lengths: Sequence[int], n_features: int,
                  dtype: type) -> sp.csr_matrix:
    """Vocabulary indices (repeats allowed), row after row, as the matrix CountVectorizer makes:
    CSR, int32 indices sorted within rows, one entry per distinct index holding its count."""
    indptr = np.zeros(len(row_lengths) + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=indptr[1:])
    if indptr[-1] <= np.iinfo(np.int32).max:
        indices, indptr = indices.astype(np.int32, copy=False), indptr.astype(np.int32)
    matrix = sp.csr_matrix((np.ones(len(indices), dtype=dtype), indices, indptr),
                           shape=(len(row_lengths), n_features))
    matrix.sum_duplicates()
    return matrix


class TermCounter:
    """Exact document frequencies and total counts of terms, added a batch of documents at a
    time (what ``CountVectorizer.fit_transform`` counts, without holding the documents or their
    count matrix): memory grows with the distinct terms, not with the documents."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.total = np.zeros(0, dtype=np.int64)
        self.documents = 0

    def add(self, indices: np.ndarray, row_lengths: Sequence[int]) -> None:
        """Documents given as term ids (``self.ids``' values, repeats allowed), row after row."""
        n_terms = len(self.ids)
        counts = _count_matrix(indices, row_lengths, n_terms, np.int64)
        self.df = np.pad(self.df, (0, n_terms - len(self.df)))
        self.total = np.pad(self.total, (0, n_terms - len(self.total)))
        self.df += np.bincount(counts.indices, minlength=n_terms)
        self.total += np.bincount(counts.indices, weights=counts.data,
                                  minlength=n_terms).astype(np.int64)
        self.documents += len(row_lengths)

    def vocabulary(self, min_df: int, limit: int) -> tuple[list[str], np.ndarray]:
        """The ``limit`` terms with the highest total count among those in at least ``min_df``
        documents (ties broken by the term), sorted; and their document frequencies."""
        eligible = np.flatnonzero(self.df >= min_df)
        if not len(self.ids):
            raise ValueError("empty vocabulary")
        if not len(eligible):
            raise ValueError("After pruning, no terms remain")
        if len(eligible) > limit:  # every term counted at least as often as the limit-th
            cut = np.partition(self.total[eligible], len(eligible) - limit)[len(eligible) - limit]
            eligible = eligible[self.total[eligible] >= cut]
        terms = list(self.ids)
        ranked = sorted(eligible.tolist(), key=lambda index: (-self.total[index], terms[index]))
        kept = sorted(ranked[:limit], key=terms.__getitem__)
        return [terms[index] for index in kept], self.df[kept]


def count_word_terms(counter: TermCounter, tokens: Iterable[Sequence[str]], n_max: int) -> None:
    ids, indices, row_lengths = counter.ids, [], []
    for doc in tokens:
        grams = word_ngrams(list(doc), n_max)
        indices += [ids.setdefault(gram, len(ids)) for gram in grams]
        row_lengths.append(len(grams))
    counter.add(np.array(indices, dtype=np.int64), row_lengths)


def word_by_word_columns(texts: Iterable[str], columns_of: Callable[[str], list[int]],
                         cache: dict[str, np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """(every text's char_wb term columns, concatenated; each text's count of them).

    char_wb n-grams never span whitespace, so a text's n-grams are its words' n-grams: each
    distinct word is analysed once (``cache``: word → ``columns_of(word)``)."""
    pieces: list[np.ndarray] = []
    row_lengths: list[int] = []
    for text in texts:
        length = 0
        for word in text.split():
            columns = cache.get(word)
            if columns is None:
                columns = np.array(columns_of(word), dtype=np.int64)
                if len(cache) >= _MAX_CACHED_WORDS:
                    cache.clear()
                cache[word] = columns
            pieces.append(columns)
            length += len(columns)
        row_lengths.append(length)
    return (np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)), row_lengths


def count_char_terms(counter: TermCounter, texts: Iterable[str], analyze: Callable,
                     cache: dict[str, np.ndarray]) -> None:
    """Count the char_wb n-grams of ``texts``, new terms getting the next ids."""
    ids = counter.ids
    counter.add(*word_by_word_columns(
        texts, lambda word: [ids.setdefault(gram, len(ids)) for gram in analyze(word)], cache))


def set_vocabulary(vectorizer: TfidfVectorizer, counter: TermCounter, max_features: int) -> None:
    """Fit ``vectorizer`` from counts, as ``fit_vectorizer`` fits it from documents."""
    kept, document_frequency = counter.vocabulary(vectorizer.min_df, max_features)
    vectorizer.vocabulary_ = {term: index for index, term in enumerate(kept)}
    idf = _one_plus_log((1.0 + counter.documents) / (1.0 + document_frequency))
    vectorizer.idf_ = idf.astype(np.float64)


def _weigh(counts: sp.csr_matrix, vectorizer: TfidfVectorizer) -> sp.csr_matrix:
    """``TfidfTransformer.transform`` of a fitted vectorizer (``use_idf``, ``norm="l2"``, as
    built here) on a count matrix, in place: sublinear tf, times idf, rows scaled to unit L2."""
    if vectorizer.sublinear_tf:
        counts.data = _one_plus_log(counts.data)
    counts.data *= vectorizer.idf_[counts.indices]
    inplace_csr_row_normalize_l2(counts)
    return counts


def _sorted_vocabulary(vectorizer: TfidfVectorizer) -> dict[str, int]:
    ordered = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
    return {term: int(index) for term, index in ordered}


class TfidfFeaturizer:
    """Word + character TF-IDF, hstacked into one CSR matrix of float32."""

    def __init__(self, params: TfidfParams) -> None:
        self.params = params
        self.word = _word_vectorizer(params)
        self.char = _char_vectorizer(params) if params.max_char_features > 0 else None
        self._char_columns: dict[str, np.ndarray] = {}  # word → its char n-gram indices

    @property
    def n_features(self) -> int:
        return len(self.word.vocabulary_) + (len(self.char.vocabulary_) if self.char else 0)

    def fit(self, tokens: Sequence[Sequence[str]], texts: Sequence[str]) -> TfidfFeaturizer:
        """Fit on the training documents; a ``min_df`` that leaves no term is a ParamsError."""
        return self.fit_batches([(tokens, texts)])

    def fit_batches(self, batches: Iterable[tuple[Sequence[Sequence[str]], Sequence[str]]]
                    ) -> TfidfFeaturizer:
        """Fit on the training documents, given as (tokens, texts) batches: one streaming pass
        of exact counts; the same vocabulary and IDF whatever the batches."""
        word, char = TermCounter(), TermCounter()
        analyze = self.char.build_analyzer() if self.char else None
        cache: dict[str, np.ndarray] = {}
        for tokens, texts in batches:
            count_word_terms(word, tokens, self.params.word_ngram_max)
            if self.char:
                count_char_terms(char, texts, analyze, cache)
        if self.params.min_df > word.documents:
            raise ParamsError(f"train.tfidf.min_df is {self.params.min_df}, but the training "
                              f"set has only {word.documents} rows")
        for name, vectorizer, counter, limit in (
            ("word", self.word, word, self.params.max_word_features),
            ("char", self.char, char, self.params.max_char_features),
        ):
            if vectorizer is None:
                continue
            try:
                set_vocabulary(vectorizer, counter, limit)
            except ValueError as error:
                raise ParamsError(f"train.tfidf: no {name} n-gram is left after min_df="
                                  f"{self.params.min_df} ({error})") from None
        self._char_columns.clear()
        return self

    def transform(self, tokens: Sequence[Sequence[str]], texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF rows of documents: ``word.transform(tokens)`` | ``char.transform(texts)``."""
        parts = [_weigh(self._word_counts(tokens), self.word)]
        if self.char:
            parts.append(_weigh(self._char_counts(texts), self.char))
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def _word_counts(self, tokens: Sequence[Sequence[str]]) -> sp.csr_matrix:
        vocabulary = self.word.vocabulary_
        n_max = self.params.word_ngram_max
        indices: list[int] = []
        row_lengths: list[int] = []
        for doc in tokens:
            row = [index for index in map(vocabulary.get, word_ngrams(doc, n_max))
                   if index is not None]
            indices += row
            row_lengths.append(len(row))
        return _count_matrix(np.array(indices, dtype=np.int64), row_lengths, len(vocabulary),
                             self.word.dtype)

    def _char_counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        vocabulary, analyze = self.char.vocabulary_, self.char.build_analyzer()
        indices, row_lengths = word_by_word_columns(
            texts, lambda word: [index for index in map(vocabulary.get, analyze(word))
                                 if index is not None], self._char_columns)
        return _count_matrix(indices, row_lengths, len(vocabulary), self.char.dtype)

    def state(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """JSON-safe vocabularies and the IDF arrays (for safetensors)."""
        vocabularies = {"word": _sorted_vocabulary(self.word)}
        arrays = {"idf.word": self.word.idf_.astype(np.float32)}
        if self.char:
            vocabularies["char"] = _sorted_vocabulary(self.char)
            arrays["idf.char"] = self.char.idf_.astype(np.float32)
        return {"params": self.params.model_dump(), "vocabulary": vocabularies}, arrays

    @classmethod
    def from_state(cls, state: dict, arrays: dict[str, np.ndarray]) -> TfidfFeaturizer:
        """Rebuild a fitted featurizer from what ``state`` returned."""
        featurizer = cls(TfidfParams.model_validate(state["params"]))
        parts = [("word", featurizer.word)]
        if featurizer.char:
            parts.append(("char", featurizer.char))
        for name, vectorizer in parts:
            vectorizer.vocabulary_ = dict(state["vocabulary"][name])
            vectorizer.idf_ = arrays[f"idf.{name}"].astype(np.float64)
        return featurizer


def transform_batches(featurizer: TfidfFeaturizer,
                      batches: Iterable[tuple[Sequence[Sequence[str]], Sequence[str]]]
                      ) -> sp.csr_matrix:
    """The TF-IDF rows of every (tokens, texts) batch as one CSR matrix (the rows ``transform``
    gives on all of them at once). Each batch's non-zeros are spilled to a temporary file and
    read back into arrays of the final size, so the peak is the matrix plus one batch, not two
    copies of the matrix and the documents."""
    row_nnz: list[np.ndarray] = []
    with tempfile.TemporaryFile() as data_file, tempfile.TemporaryFile() as index_file:
        for tokens, texts in batches:
            part = featurizer.transform(tokens, texts)
            data_file.write(part.data.astype(np.float32, copy=False).tobytes())
            index_file.write(part.indices.astype(np.int32, copy=False).tobytes())
            row_nnz.append(np.diff(part.indptr))
        counts = np.concatenate([np.zeros(0, dtype=np.int64), *row_nnz])
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        for handle, array in ((data_file, data), (index_file, indices)):
            handle.seek(0)
            handle.readinto(memoryview(array).cast("B"))
    if indptr[-1] <= np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(counts), featurizer.n_features))


VECTORIZER_FILE = "vectorizer.json"
IDF_FILE = "tfidf.safetensors"


def save_featurizer(featurizer: TfidfFeaturizer, folder: Path) -> None:
    """Vocabularies and settings as JSON, IDF weights as safetensors."""
    state, arrays = featurizer.state()
    write_json(folder / VECTORIZER_FILE, state)
    save_arrays(arrays, folder / IDF_FILE)


def load_featurizer(folder: Path) -> TfidfFeaturizer:
    state, arrays = read_model_json(folder / VECTORIZER_FILE), read_arrays(folder / IDF_FILE)
    try:
        return TfidfFeaturizer.from_state(state, arrays)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"{folder / VECTORIZER_FILE}: not a TF-IDF state "
                             f"({type(error).__name__}: {error})") from None


class SpilledRows:
    """TF-IDF rows of every batch, transformed once and kept on disk (a folder of ``.npy``
    parts), read back a part at a time: a solver's passes over the training set then hold one
    part, not the matrix."""

    def __init__(self, featurizer: TfidfFeaturizer,
                 batches: Iterable[tuple[Sequence[Sequence[str]], Sequence[str]]],
                 folder: Path) -> None:
        self.folder, self.n_features, self.starts = folder, featurizer.n_features, [0]
        for index, (tokens, texts) in enumerate(batches):
            part = featurizer.transform(tokens, texts)
            for name in ("data", "indices", "indptr"):
                np.save(folder / f"{index:06d}-{name}.npy", getattr(part, name))
            self.starts.append(self.starts[-1] + part.shape[0])

    def __len__(self) -> int:
        return len(self.starts) - 1

    def part(self, index: int) -> tuple[int, sp.csr_matrix]:
        """(first row, rows) of part ``index``."""
        data, indices, indptr = (np.load(self.folder / f"{index:06d}-{name}.npy")
                                 for name in ("data", "indices", "indptr"))
        rows = self.starts[index + 1] - self.starts[index]
        return self.starts[index], sp.csr_matrix((data, indices, indptr),
                                                 shape=(rows, self.n_features))

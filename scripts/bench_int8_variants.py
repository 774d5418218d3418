"""Int8 quantisations of the MiniLM encoder, each measured against the pinned route.

For every variant (``VARIANTS``: ``quantize_dynamic`` or ``MatMulNBits``, the nodes left in
float32, the options) it quantises the exported float32 graph, serves the champion with it on
the whole test split (its encoder members' ``fast`` swapped for the variant's session), and
reports the share of test rows whose label agrees with the pinned route, test macro-F1 on both
routes (``sentiment.evaluation.metrics.route_agreement``, as the evaluate stage scores
``served.json``), the graph's size, and the encoder's texts/s on one thread, one text per call,
on the same texts for every variant, the variants taking turns within each round.

``PYTHONPATH=. python scripts/bench_int8_variants.py [--variants all,nbits8_b32_rows ...]
[--pinned-speed]``; the pinned route's test probabilities and each graph's fast-route
probabilities are cached in ``--cache``. It says which variant ``int8_graph`` writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from sentiment.evaluation.metrics import route_agreement
from sentiment.families.base import Family
from sentiment.families.embeddings_mlp import EmbeddingsMLP
from sentiment.families.ensemble import Ensemble
from sentiment.families.parts.onnx_encoder import (
    Normalised,
    OnnxEncoder,
    export_fp32,
    int8_graph,
    quantise_blocks,
    quantise_tables,
    quiet_logging,
    session_options,
)
from sentiment.io import BATCH_ROWS, iter_parquet, read_parquet
from sentiment.model.folder import load_model
from sentiment.model.predictor import Predictor

LAYER = r"/encoder/body/encoder/layer\.(\d+)/"
EMBEDDINGS = r"/encoder/body/embeddings/\w+_embeddings/Gather$"
FFN_OUT = LAYER + r"output/dense/MatMul$"
FFN = LAYER + r"(intermediate|output)/dense/MatMul$"
ATTENTION = LAYER + r"attention/(self/(query|key|value)|output/dense)/MatMul$"
NBITS8 = {"bits": 8, "block_size": 32, "accuracy_level": 4, "is_symmetric": True}


@dataclass(frozen=True)
class Variant:
    """Nodes (regular expressions on their names) left in float32, and quantiser options."""

    about: str
    exclude: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)
    blockwise: bool = False  # MatMulNBits (weights in blocks) instead of quantize_dynamic
    tables_int8: bool = False  # after MatMulNBits, the embedding tables by quantize_dynamic
    tables: str = ""  # after MatMulNBits, the embedding tables by quantise_tables as this
    fine: tuple[str, ...] = ()  # MatMuls left by the first MatMulNBits pass, in blocks of 32


VARIANTS = {
    "all": Variant("every MatMul and embedding table int8 (the graph shipped before)"),
    "embeddings": Variant("embedding tables float32", (EMBEDDINGS,)),
    "ffn_out": Variant("FFN output projections float32", (LAYER + r"output/dense/MatMul$",)),
    "ffn": Variant("both FFN projections float32",
                   (LAYER + r"(intermediate|output)/dense/MatMul$",)),
    "attn_out": Variant("attention output projections float32",
                        (LAYER + r"attention/output/dense/MatMul$",)),
    "first_last": Variant("layers 0 and 5 float32", (r"/encoder/body/encoder/layer\.[05]/",)),
    "embeddings_ffn_out": Variant("embedding tables and FFN output projections float32",
                                  (EMBEDDINGS, LAYER + r"output/dense/MatMul$")),
    "embeddings_last": Variant("embedding tables and layer 5 float32",
                               (EMBEDDINGS, r"/encoder/body/encoder/layer\.5/")),
    "reduce_range": Variant("7-bit weights", options={"reduce_range": True}),
    "per_tensor": Variant("one weight scale per tensor", options={"per_channel": False}),
    "matmul_only": Variant("MatMuls only (op_types_to_quantize=[MatMul])",
                           options={"op_types_to_quantize": ["MatMul"]}),
    "float32": Variant("nothing quantised (the float32 graph on ONNX Runtime)",
                       options={"op_types_to_quantize": ["Conv"]}),
    "nbits8_b32": Variant("MatMulNBits: 8-bit weights in blocks of 32, int8 products "
                          "(accuracy_level 4), embeddings float32", blockwise=True,
                          options={"bits": 8, "block_size": 32, "accuracy_level": 4,
                                   "is_symmetric": True}),
    "nbits8_b128": Variant("MatMulNBits: as nbits8_b32, blocks of 128", blockwise=True,
                           options={"bits": 8, "block_size": 128, "accuracy_level": 4,
                                    "is_symmetric": True}),
    "nbits8_b32_tables": Variant("as nbits8_b32, then the embedding tables int8 as in all",
                                 blockwise=True, options=NBITS8, tables_int8=True),
    "nbits8_b32_rows": Variant("as nbits8_b32, embedding tables int8 with one scale per row "
                               "(what int8_graph writes)",
                               blockwise=True, options=NBITS8, tables="int8_rows"),
    "nbits8_b32_fp16": Variant("as nbits8_b32, embedding tables float16", blockwise=True,
                               options=NBITS8, tables="float16"),
    "nbits8_b16_rows": Variant("as nbits8_b16, embedding tables int8 with one scale per row",
                               blockwise=True, options={**NBITS8, "block_size": 16},
                               tables="int8_rows"),
    "mixed_ffn_out": Variant("blocks of 128, FFN output projections in blocks of 32; tables "
                             "by row", blockwise=True, options={**NBITS8, "block_size": 128},
                             tables="int8_rows", fine=(FFN_OUT,)),
    "mixed_ffn": Variant("blocks of 128, both FFN projections in blocks of 32; tables by row",
                         blockwise=True, options={**NBITS8, "block_size": 128},
                         tables="int8_rows", fine=(FFN,)),
    "mixed_attn": Variant("blocks of 128, attention projections in blocks of 32; tables by "
                          "row", blockwise=True, options={**NBITS8, "block_size": 128},
                          tables="int8_rows", fine=(ATTENTION,)),
    "mixed64_ffn_out": Variant("blocks of 64, FFN output projections in blocks of 32; tables "
                               "by row", blockwise=True, options={**NBITS8, "block_size": 64},
                               tables="int8_rows", fine=(FFN_OUT,)),
    "nbits8_b16": Variant("as nbits8_b32, blocks of 16", blockwise=True,
                          options={**NBITS8, "block_size": 16}),
    "nbits8_b64": Variant("as nbits8_b32, blocks of 64", blockwise=True,
                          options={**NBITS8, "block_size": 64}),
    "nbits8_f32": Variant("MatMulNBits: 8-bit weights in blocks of 32, float32 products "
                          "(accuracy_level 1)", blockwise=True,
                          options={"bits": 8, "block_size": 32, "accuracy_level": 1,
                                   "is_symmetric": True}),
}


def quantise(fp32: Path, target: Path, nodes_to_exclude: list[str],
             **options: object) -> None:
    """``quantize_dynamic`` of ``fp32`` into ``target`` (int8 weights, per channel unless
    ``options`` say otherwise): the graph shipped before, or a variant of it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_logging():
        quantize_dynamic(fp32, target, **{"per_channel": True, "weight_type": QuantType.QInt8,
                                          "nodes_to_exclude": nodes_to_exclude, **options})


def encoder_members(family: Family) -> list[EmbeddingsMLP]:
    """The ``embeddings_mlp`` families inside ``family`` (itself, or an ensemble's members)."""
    if isinstance(family, Ensemble):
        return [m for member in family.members.values() for m in encoder_members(member)]
    return [family] if isinstance(family, EmbeddingsMLP) else []


def streamed_proba(predictor: Predictor, test: Path) -> np.ndarray:
    """As the evaluate stage predicts the test split: a parquet batch at a time."""
    parts = [np.zeros((0, len(predictor.labels)), dtype=np.float32)]
    for frame in iter_parquet(test, BATCH_ROWS, columns=["text"]):
        parts.append(predictor.predict_proba(frame["text"].tolist()))
    return np.concatenate(parts)


def cached(path: Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` (an array), kept in ``path`` for the next run."""
    if path.is_file():
        return np.load(path)
    array = compute()
    np.save(path, array)
    return array


def graph_nodes(fp32: Path, patterns: tuple[str, ...]) -> list[str]:
    """The names of the nodes of ``fp32`` that match one of ``patterns``."""
    import onnx

    names = [node.name for node in onnx.load(str(fp32)).graph.node]
    return [name for name in names if any(re.search(pattern, name) for pattern in patterns)]


def variant_graph(fp32: Path, work: Path, name: str, variant: Variant) -> bytes:
    """``fp32`` quantised as ``variant`` says, as bytes."""
    target, exclude = work / f"{name}.onnx", graph_nodes(fp32, variant.exclude)
    if variant.blockwise:
        fine = graph_nodes(fp32, variant.fine)
        quantise_blocks(fp32, target, exclude + fine, **variant.options)
        if fine:
            coarse = work / f"{name}.coarse.onnx"
            target.rename(coarse)
            quantise_blocks(coarse, target, exclude)
        if variant.tables_int8:
            blocked = work / f"{name}.blocks.onnx"
            target.rename(blocked)
            quantise(blocked, target, [], op_types_to_quantize=["Gather"])
        elif variant.tables:
            blocked = work / f"{name}.blocks.onnx"
            target.rename(blocked)
            quantise_tables(blocked, target, variant.tables)
    else:
        quantise(fp32, target, exclude, **variant.options)
    return target.read_bytes()


def onnx_encoder(graph: bytes, member: EmbeddingsMLP) -> OnnxEncoder:
    session = ort.InferenceSession(graph, session_options(1),
                                   providers=["CPUExecutionProvider"])
    return OnnxEncoder(member.encoder.tokenizer, session, member.encoder.max_length)


def served_proba(model_folder: Path, test: Path, graph: bytes) -> np.ndarray:
    """The champion's test probabilities on the fast route, its encoder running ``graph``."""
    model = load_model(model_folder, route="fast")
    for member in encoder_members(model.family):
        member.fast = onnx_encoder(graph, member)
    with Predictor(model, route="fast") as predictor:
        return streamed_proba(predictor, test)


def one_by_one(encoder: OnnxEncoder) -> Callable[[list[str]], object]:
    """Embed texts as the served route does: one text per call."""
    return lambda texts: [encoder.embed([text]) for text in texts]


def pinned_batches(member: EmbeddingsMLP) -> Callable[[list[str]], object]:
    """Embed texts as the pinned route does: batches of 64 on one torch thread."""
    def embed(texts: list[str]) -> object:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return member.encoder.embed(texts, 64, torch.device("cpu"), progress=False)
        finally:
            torch.set_num_threads(threads)
    return embed


def texts_per_second(embedders: dict[str, Callable[[list[str]], object]], texts: list[str],
                     rounds: int) -> dict[str, float]:
    """Median texts/s of each embedder over ``rounds`` rounds on ``texts``, the embedders
    taking turns within a round (so a change in the machine's load hits all)."""
    for embed in embedders.values():
        embed(texts[:20])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(rounds):
        for name, embed in embedders.items():
            start = time.perf_counter()
            embed(texts)
            seconds[name].append(time.perf_counter() - start)
    return {name: len(texts) / statistics.median(times) for name, times in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--test", type=Path, default=Path("data/processed/test.parquet"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--speed-texts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "int8-variants")
    parser.add_argument("--pinned-speed", action="store_true",
                        help="also time the pinned encoder (batches of 64) in the same rounds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = args.variants.split(",")
    args.cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256((args.model / "manifest.json").read_bytes()
                         + args.test.read_bytes()).hexdigest()[:16]

    with Predictor.load(args.model) as pinned_predictor:
        labels = pinned_predictor.labels
        pinned = cached(args.cache / f"pinned-{key}.npy",
                        lambda: streamed_proba(pinned_predictor, args.test))
        member = encoder_members(pinned_predictor.model.family)[0]
        with tempfile.TemporaryDirectory(prefix="int8-variants-") as work:
            fp32 = Path(work) / "fp32.onnx"
            export_fp32(Normalised(member.encoder.model), member.encoder, fp32)
            graphs = {name: variant_graph(fp32, Path(work), name, VARIANTS[name])
                      for name in names}
    shipped = hashlib.sha256(int8_graph(member.encoder)).hexdigest()
    frame = read_parquet(args.test)
    y_true = frame["label"].map(labels.index).to_numpy(dtype=np.int64)
    texts = frame["text"].tolist()[:args.speed_texts]

    results: dict[str, dict[str, object]] = {}
    for name, graph in graphs.items():
        digest = hashlib.sha256(graph).hexdigest()
        served = cached(args.cache / f"served-{key}-{digest[:16]}.npy",
                        lambda graph=graph: served_proba(args.model, args.test, graph))
        results[name] = {**route_agreement(y_true, pinned, served, labels),
                         "graph_mb": round(len(graph) / 1e6, 1), "sha256": digest}
        print(f"{name}: labels agree on {100 * results[name]['label_agreement']:.2f} %",
              flush=True)
    embedders = {name: one_by_one(onnx_encoder(graph, member)) for name, graph in graphs.items()}
    if args.pinned_speed:
        embedders["pinned"] = pinned_batches(member)
    speeds = texts_per_second(embedders, texts, args.rounds)
    base = speeds.get("all")

    print(f"\n| variant | left in float32 / option | labels agree | macro-F1 fast | "
          f"macro-F1 pinned | difference | texts/s ({len(texts)} texts, 1 thread) | "
          "vs all | graph MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        result["texts_per_second"] = round(speeds[name], 1)
        ratio = f"{speeds[name] / base:.2f}x" if base else ""
        print(f"| {name} | {VARIANTS[name].about} | {100 * result['label_agreement']:.2f} % | "
              f"{result['test']['macro_f1']:.4f} | {result['pinned_macro_f1']:.4f} | "
              f"{result['macro_f1_difference']:+.4f} | {speeds[name]:.0f} | {ratio} | "
              f"{result['graph_mb']} |")
    same = [name for name, result in results.items() if result["sha256"] == shipped]
    print(f"\nint8_graph writes: {', '.join(same) or 'none of these variants'}")
    if "pinned" in speeds:
        print(f"\npinned encoder (batches of 64, 1 thread): {speeds['pinned']:.0f} texts/s; "
              + ", ".join(f"{name} {speeds[name] / speeds['pinned']:.1f}x" for name in results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

"""The served encoder path: the frozen sentence encoder as an int8 ONNX graph run by ONNX Runtime.

At train time ``write_int8_graph`` exports the pinned PyTorch encoder (transformer, mean pooling,
L2 normalisation) to ONNX and quantises it to 8 bits: every weight product as ``MatMulNBits``
(``quantise_blocks``: symmetric 8-bit weights with one scale per 32 inputs of each output, int8
products with the activations quantised per row in blocks of 32 too), and the word, position
and token type tables as int8 with one scale per row (``quantise_tables``). All of it is
NumPy, tracing, and ONNX Runtime's quantiser on fixed weights, so the graph's bytes are the
same on every machine and it sits in the model folder, hashed in its manifest, beside the
safetensors it was made from.

Single scales were what cost agreement: the graph shipped before (``quantize_dynamic``,
weights per channel, each activation tensor and each table with one scale) agreed with the
pinned route on 98.20 % of the champion's test labels, this one on 99.65 %, at 0.83 to 1.09
times its speed (``scripts/bench_int8_variants.py``, docs/serving.md).

``OnnxEncoder`` runs it with one intra-op thread. It is 3 to 4 times faster than the pinned
path, but its bits are not pinned: ONNX Runtime chooses its kernels (the blocked int8
products, attention products, softmax, GELU, layer norm) by the CPU's instruction set at
start-up, with no switch (``accuracy_level`` 4 allows int8 products, and a CPU without such a
kernel runs the float ones instead, slower). So the pipeline's outputs keep the pinned path, and
this one is measured against it (``sentiment.evaluation.metrics.route_agreement``). Each text
runs as its own batch (no padding, and no neighbour in its batch changes its embedding).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from sentiment.errors import ModelLoadError
from sentiment.families.parts.encoder import ENCODER_FOLDER, Encoder, load_tokenizer, token_ids

GRAPH_FILE = "model.int8.onnx"  # inside a model folder's encoder/ folder
OPSET = 17
BLOCK = 32  # MatMul weights and activations are quantised in blocks of this many inputs
EXPORT_TEXT = "an example sentence to trace the encoder with"
_GRAPHS: dict[str, bytes] = {}  # encoder fingerprint -> int8 graph, the last one exported


class Normalised(torch.nn.Module):
    """The sentence encoder followed by L2 normalisation (what the head is fed)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.encoder(input_ids, attention_mask), dim=1)


def export_fp32(module: torch.nn.Module, encoder: Encoder, path: Path,
                output: str = "embedding") -> None:
    """Export ``module`` (token ids and attention mask in, one row ``output`` per text out;
    ``encoder`` tokenises the tracing text) to a float32 ONNX graph at ``path``."""
    ids = torch.tensor([encoder.token_ids([EXPORT_TEXT])[0]], dtype=torch.long)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(
            module.eval(), (ids, torch.ones_like(ids)), str(path),
            input_names=["input_ids", "attention_mask"], output_names=[output],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                          "attention_mask": {0: "batch", 1: "tokens"},
                          output: {0: "batch"}},
            opset_version=OPSET, dynamo=False)


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Within this block the root logger shows errors only, and keeps its handlers (ONNX
    Runtime's quantisers advise at INFO and WARNING, and one calls ``logging.basicConfig`` on
    import)."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def quantise_blocks(fp32: Path, target: Path, nodes_to_exclude: Sequence[str] = (),
                    **options: object) -> None:
    """Every MatMul of ``fp32`` with constant weights as ``MatMulNBits`` into ``target``: the
    weights 8-bit, symmetric, one scale per ``BLOCK`` inputs of each output; int8 products
    (``accuracy_level`` 4: activations quantised per row in blocks of ``BLOCK`` too).
    ``options`` override those settings (``MatMulNBitsQuantizer``'s arguments)."""
    import onnx

    with quiet_logging():  # its import may set the root logger's level to INFO
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    with quiet_logging():  # "skip to quantize" for every other node
        settings = {"bits": 8, "block_size": BLOCK, "accuracy_level": 4, "is_symmetric": True,
                    "nodes_to_exclude": list(nodes_to_exclude), **options}
        quantiser = MatMulNBitsQuantizer(onnx.load(str(fp32)), **settings)
        quantiser.process()
        quantiser.model.save_model_to_file(str(target), False)


def quantise_tables(source: Path, target: Path, dtype: str = "int8_rows") -> None:
    """Rewrite every ``Gather`` of a constant 2-D float table (the word, position and token type
    embeddings) in ``source`` to read the table as ``dtype`` into ``target``: ``int8_rows``,
    symmetric int8 with one scale per row (a looked-up row times its scale, one float product
    per element), or ``float16`` (cast back to float32, exact)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    tables = {tensor.name: tensor for tensor in graph.initializer if len(tensor.dims) == 2}
    nodes = []
    for node in graph.node:
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or table.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        weights, name, ids = numpy_helper.to_array(table), table.name, node.input[1]
        graph.initializer.remove(table)
        if dtype == "float16":
            graph.initializer.append(numpy_helper.from_array(weights.astype(np.float16),
                                                             f"{name}_float16"))
            nodes += [helper.make_node("Gather", [f"{name}_float16", ids], [f"{name}_rows16"],
                                       name=f"{node.name}_float16", axis=0),
                      helper.make_node("Cast", [f"{name}_rows16"], list(node.output),
                                       name=f"{node.name}_cast", to=TensorProto.FLOAT)]
            continue
        largest = np.abs(weights).max(axis=1, keepdims=True)
        scales = np.where(largest > 0, largest / 127, 1).astype(np.float32)
        quantised = np.clip(np.rint(weights / scales), -127, 127).astype(np.int8)
        graph.initializer.extend([numpy_helper.from_array(quantised, f"{name}_int8"),
                                  numpy_helper.from_array(scales, f"{name}_row_scale")])
        nodes += [helper.make_node("Gather", [f"{name}_int8", ids], [f"{name}_rows8"],
                                   name=f"{node.name}_int8", axis=0),
                  helper.make_node("Cast", [f"{name}_rows8"], [f"{name}_rows"],
                                   name=f"{node.name}_cast", to=TensorProto.FLOAT),
                  helper.make_node("Gather", [f"{name}_row_scale", ids], [f"{name}_scales"],
                                   name=f"{node.name}_scales", axis=0),
                  helper.make_node("Mul", [f"{name}_rows", f"{name}_scales"],
                                   list(node.output), name=f"{node.name}_dequantise")]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))


def quantised_graph(module: torch.nn.Module, encoder: Encoder, output: str) -> bytes:
    """``module`` (a CPU copy of a network over ``encoder``'s tokens) exported to ONNX and
    quantised to 8 bits: weight products in blocks of ``BLOCK``, embedding tables per row."""
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as work:
        fp32, blocks, int8 = (Path(work) / name
                              for name in ("fp32.onnx", "blocks.onnx", "int8.onnx"))
        export_fp32(module, encoder, fp32, output)
        quantise_blocks(fp32, blocks)
        quantise_tables(blocks, int8)
        return int8.read_bytes()


def int8_graph(encoder: Encoder) -> bytes:
    """The frozen encoder's int8 graph (``quantised_graph`` of ``Normalised``), remembered for
    the last encoder, so the families of one run that carry it export once."""
    if encoder.fingerprint not in _GRAPHS:
        graph = quantised_graph(Normalised(encoder.model), encoder, "embedding")
        _GRAPHS.clear()
        _GRAPHS[encoder.fingerprint] = graph
    return _GRAPHS[encoder.fingerprint]


def write_int8_graph(encoder: Encoder, encoder_folder: Path) -> None:
    """Write the int8 graph of ``encoder`` into a model folder's ``encoder/`` folder."""
    (encoder_folder / GRAPH_FILE).write_bytes(int8_graph(encoder))


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Sequential execution on ``threads`` intra-op threads, deterministic kernels where ONNX
    Runtime has a choice, exact (non-saturating) ``MatMulInteger`` products on CPUs without
    VNNI (graphs from ``quantize_dynamic``: the one shipped before, the script's variants)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.use_deterministic_compute = True
    options.add_session_config_entry("session.x64quantprecision", "1")
    options.log_severity_level = 3  # errors only
    return options


@dataclass
class OnnxEncoder:
    """A tokenizer and the int8 ONNX Runtime session of a model folder's encoder."""

    tokenizer: object
    session: ort.InferenceSession
    max_length: int

    @classmethod
    def load(cls, encoder_folder: Path, max_length: int, threads: int = 1,
             graph: Path | None = None) -> OnnxEncoder:
        """The session of ``graph`` (default: the encoder folder's ``GRAPH_FILE``) with the
        folder's tokenizer."""
        graph = graph or encoder_folder / GRAPH_FILE
        if not graph.is_file():
            raise ModelLoadError(f"{graph}: missing from the model folder (a folder trained "
                                 "before the int8 path: retrain with `dvc repro`, or load it "
                                 "with route 'pinned')")
        try:
            session = ort.InferenceSession(str(graph), session_options(threads),
                                           providers=["CPUExecutionProvider"])
        except RuntimeError as error:  # ONNX Runtime's load errors derive from it
            raise ModelLoadError(f"{graph}: not a usable ONNX graph "
                                 f"({str(error).splitlines()[0]})") from None
        return cls(load_tokenizer(encoder_folder), session, max_length)

    @property
    def dim(self) -> int:
        return int(self.session.get_outputs()[0].shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """The graph's output (L2-normalised sentence embeddings, or a classifier's logits),
        float32, one row per text in input order; each text runs alone (no padding, its own
        quantisation scales)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [self._one(ids) for ids in token_ids(self.tokenizer, texts, self.max_length)]
        return np.stack(rows).astype(np.float32, copy=False)

    def _one(self, ids: list[int]) -> np.ndarray:
        tokens = np.asarray([ids], dtype=np.int64)
        return self.session.run(None, {"input_ids": tokens,
                                       "attention_mask": np.ones_like(tokens)})[0][0]


def served_session(family: str, folder: Path | None, max_length: int,
                   graph: str = f"{ENCODER_FOLDER}/{GRAPH_FILE}") -> OnnxEncoder:
    """The int8 session of the graph ``graph`` (a path inside ``folder``) that ``family``,
    loaded from its model folder ``folder``, is served with."""
    if folder is None:
        raise ModelLoadError(f"{family}: only a model loaded from its folder can be served "
                             "(save and load it first)")
    return OnnxEncoder.load(folder / ENCODER_FOLDER, max_length, graph=folder / graph)

"""The served encoder path: the frozen sentence encoder as an int8 ONNX graph run by ONNX Runtime.

At train time ``write_int8_graph`` exports the pinned PyTorch encoder (transformer, mean pooling,
L2 normalisation) to ONNX and quantises its weights dynamically to int8, per output channel
(``onnxruntime.quantization.quantize_dynamic``). Both steps are NumPy / torch tracing on fixed
weights, so the graph's bytes are the same on every machine and it sits in the model folder,
hashed in its manifest, beside the safetensors it was made from.

``OnnxEncoder`` runs it with one intra-op thread. It is 3 to 4 times faster than the pinned
path, but its bits are not pinned: ONNX Runtime chooses its float kernels (attention products,
softmax, GELU, layer norm) by the CPU's instruction set at start-up, with no switch. The
integer products are exact wherever ``session.x64quantprecision`` keeps CPUs without VNNI off
their saturating u8s8 instructions; the float parts are not. So the pipeline's outputs keep
the pinned path, and this one is measured against it (``sentiment.evaluation.metrics
.route_agreement``). Each text runs as its own batch: activations are quantised with one scale
per tensor, so in a shared batch a text's embedding would depend on its neighbours.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from sentiment.errors import ModelLoadError
from sentiment.families.parts.encoder import Encoder, load_tokenizer, token_ids

GRAPH_FILE = "model.int8.onnx"  # inside a model folder's encoder/ folder
OPSET = 17
EXPORT_TEXT = "an example sentence to trace the encoder with"
_GRAPHS: dict[str, bytes] = {}  # encoder fingerprint -> int8 graph, the last one exported


class _Normalised(torch.nn.Module):
    """The sentence encoder followed by L2 normalisation (what the head is fed)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.encoder(input_ids, attention_mask), dim=1)


def int8_graph(encoder: Encoder) -> bytes:
    """The encoder exported to ONNX and quantised to int8 (weights per channel), as bytes;
    remembered for the last encoder, so the families of one run that carry it export once."""
    if encoder.fingerprint not in _GRAPHS:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        ids = torch.tensor([encoder.token_ids([EXPORT_TEXT])[0]], dtype=torch.long)
        with tempfile.TemporaryDirectory(prefix="onnx-export-") as work:
            fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
                torch.onnx.export(
                    _Normalised(encoder.model).eval(), (ids, torch.ones_like(ids)), str(fp32),
                    input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                    dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                  "attention_mask": {0: "batch", 1: "tokens"},
                                  "embedding": {0: "batch"}},
                    opset_version=OPSET, dynamo=False)
            quiet = logging.getLogger()
            level, quiet.level = quiet.level, logging.ERROR  # "consider pre-processing" advice
            try:
                quantize_dynamic(fp32, int8, per_channel=True, weight_type=QuantType.QInt8)
            finally:
                quiet.setLevel(level)
            _GRAPHS.clear()
            _GRAPHS[encoder.fingerprint] = int8.read_bytes()
    return _GRAPHS[encoder.fingerprint]


def write_int8_graph(encoder: Encoder, encoder_folder: Path) -> None:
    """Write the int8 graph of ``encoder`` into a model folder's ``encoder/`` folder."""
    (encoder_folder / GRAPH_FILE).write_bytes(int8_graph(encoder))


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Sequential execution on ``threads`` intra-op threads, deterministic kernels where ONNX
    Runtime has a choice, exact (non-saturating) int8 products on CPUs without VNNI."""
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
    def load(cls, encoder_folder: Path, max_length: int, threads: int = 1) -> OnnxEncoder:
        graph = encoder_folder / GRAPH_FILE
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
        """L2-normalised sentence embeddings, float32, one row per text in input order; each
        text runs alone (no padding, its own quantisation scales)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [self._one(ids) for ids in token_ids(self.tokenizer, texts, self.max_length)]
        return np.stack(rows).astype(np.float32, copy=False)

    def _one(self, ids: list[int]) -> np.ndarray:
        tokens = np.asarray([ids], dtype=np.int64)
        return self.session.run(None, {"input_ids": tokens,
                                       "attention_mask": np.ones_like(tokens)})[0][0]

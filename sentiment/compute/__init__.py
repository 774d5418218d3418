"""Where batches of work run: in this process, or on a Ray cluster.

``open_engine`` picks the engine from the ``compute`` params (or the CLI's flags);
``Engine.map_batches`` runs a picklable function over batches and yields the results in input
order with a bounded number of batches in flight. Both engines give identical results for a
function whose result depends only on its batch (featurize; scoring with the TF-IDF families):
it is the same code, and Ray's workers get the kernel pinning of ``sentiment.kernels`` in
their environment before they start. (The encoder families' probabilities depend in their last
bits on what else a process embedded: docs/scaling.md, "Running on a Ray cluster".) Importing this
package does not import Ray; ``RayEngine`` does, when it is opened.
"""

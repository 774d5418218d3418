"""Where batches of work run: in this process, or on a Ray cluster.

``open_engine`` picks the engine from the ``compute`` params (or the CLI's flags);
``Engine.map_batches`` runs a picklable function over batches and yields the results in input
order with a bounded number of batches in flight. Both engines give identical results: the
function is the same pure code, and Ray's workers get the kernel pinning of
``sentiment.kernels`` in their environment before they start. Importing this package does not
import Ray; ``RayEngine`` does, when it is opened.
"""

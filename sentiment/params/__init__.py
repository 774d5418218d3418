"""The typed schema of ``params.yaml``: a shared base and one module per section.

Import the section you need (``sentiment.params.train``); ``sentiment.params.schema`` holds the
whole file. This package module stays empty so that importing one section imports no other.
"""

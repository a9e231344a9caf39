"""Embedding methods: the registry (one table), their parameters, and one module per method.

``registry`` is the table everything else derives from; ``params`` holds `EmbedParams`;
``compute`` runs a method (`compute_embedding`) or the instant PCA preview; ``pca``, ``tsne``,
``umap`` and ``pacmap`` are the runners; ``neighbours``, ``threads`` and ``numba_cache`` what
they share. This file imports nothing: ``digitmap --help`` reads the registry alone.
"""

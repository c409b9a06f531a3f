"""REST endpoints of the knowledge graph (``/api/v1/entities/``): search, one entity, its neighbours.

Layout like the other apps' APIs: ``serializers`` (query and output shapes), ``selectors`` (reads the
views need beyond the store interface), ``views`` (thin: validate, read through
:func:`kg.stores.get_store`, shape), ``urls`` (mounted by ``learning_platform/api_urls.py``).
"""

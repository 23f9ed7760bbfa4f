"""The engines behind the ``Store`` interface.

``memory`` (default) and ``oxigraph:DIR`` run Oxigraph in one engine process (``process.py``) that every
web worker talks to (``client.py``); ``sparql:URL`` forwards to any SPARQL 1.1 endpoint (``remote.py``).
The modules the engine process imports (``process``, ``lookups``, ``results``, ``stats``, ``dumps``,
``wire``) need only pyoxigraph and the standard library.
"""

"""The composition root of the 12345 hotline: the one package that imports every component and wires them.

``hotline.cli`` is the ``hotline`` command (``python -m hotline``), ``hotline.serve`` runs the call engine with the
application injected, ``hotline.wiring`` builds that application (prompts, speech, flows, work orders, agent desk).
No component package imports this one (checked by tests/test_import_edges.py).
"""

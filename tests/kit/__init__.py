"""The test kit: one double of each interface the components meet at an edge, for tests and benches.

- ``call``: ``FakeCall`` (ivr.app.Call); ``FakeEngine`` + ``AgentBehaviour`` (the engine's dial / bridge /
  resolve); ``SpyEngine`` (a real engine, bridging noted)
- ``prompts``: ``FakePrompts`` (prompts.api.PromptSource: labelled silence); ``TonePrompts`` (tones, for tests
  and benches on real phones); ``SpyPrompts`` (a real source, renderings logged)
- ``classifier``: ``FakeClassifier`` (a keyword table)
- ``handoff``: ``FakeHandoff`` (bridge.api.Handoff); ``BusyHandoff`` (a real hand-off holding a virtual clock)
- ``speech``: ``FakeSpeech`` + ``FakeListener`` (asr.api.SpeechService / Listener)
- ``caller``: ``ScriptedCaller`` (answers each question with a scripted turn)
- ``asr``: ``FakeModel`` / ``FakeRecognizer`` / ``FakeVad`` (the Vosk edges); ``drive`` / ``collect`` (a real
  listener on virtual time)

Time is the product's :mod:`ivr.clock` (``LoopClock``, ``VirtualClock``); product code never imports this package
(tests/test_no_doubles_in_product.py).  Benches import it with the repository root on ``sys.path``.
"""

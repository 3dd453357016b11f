"""Telephone audio shared by the components: the PCM format calls carry (``audio.pcm``) and G.711 (``audio.g711``).

No component of its own: it depends on numpy only, so the call engine (ivr), the prompts and anyone else can use
it without depending on each other.
"""

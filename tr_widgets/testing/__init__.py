"""Measurement harnesses that ship with the package because tutorials and benchmarks use them:
``costs`` (tick and step costs of decoding, tutorial 07) and ``commlog`` (bytes widgets send, tests and
benchmarks). Nothing here is imported by the engine, views or widgets."""

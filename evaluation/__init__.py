"""Extraction-quality harnesses: the DPI records (``evaluation.dpi``) and hand-labelled real cards
(``evaluation.real_cards``). Used by ``bench/extraction_quality.py``, ``bench/calibrate_confidence.py`` and the tests;
the data they read lives outside the project (see ``evaluation.data``)."""

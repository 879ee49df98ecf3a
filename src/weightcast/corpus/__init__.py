"""The on-disk corpus of finished training runs: schema, atomic writer, cached reader, collector.

>>> import tempfile
>>> from weightcast.corpus import Corpus
>>> from weightcast.corpus.testing import make_synthetic_corpus
>>> c = Corpus(make_synthetic_corpus(tempfile.mkdtemp() + "/corpus", n_runs=5, seed=0))
>>> len(c), list(c.runs().columns[:3])
(5, ['index', 'seed', 'final_acc'])

The layout and the reader's tables are specified in ``docs/design.md`` (section corpus).
"""

from __future__ import annotations

from weightcast.corpus._collect import CollectSummary, collect, run_seed
from weightcast.corpus._reader import Corpus
from weightcast.corpus._schema import SCHEMA_VERSION, CorpusError, RunResult, run_id_for
from weightcast.corpus._writer import create_corpus, write_run

__all__ = [
    "SCHEMA_VERSION",
    "CollectSummary",
    "Corpus",
    "CorpusError",
    "RunResult",
    "collect",
    "create_corpus",
    "run_id_for",
    "run_seed",
    "write_run",
]

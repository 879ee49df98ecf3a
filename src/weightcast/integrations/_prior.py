"""Finished runs of a recorded corpus as the pruner's prior (an earlier search's results)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

from weightcast.integrations._attrs import decode_features
from weightcast.integrations._replay import load_runs, make_payloads
from weightcast.policy import FeatureBlock, TrialRecord

if TYPE_CHECKING:
    from weightcast.corpus import Corpus


PriorSource = Union["Corpus", str, "os.PathLike[str]"]
"""One recorded corpus: a :class:`~weightcast.corpus.Corpus` or the path of one."""


def corpus_prior(
    corpus: PriorSource | Sequence[PriorSource],
    steps: Sequence[int],
    *,
    val: bool = True,
    T: int | None = None,  # noqa: N803 - the paper's name for the training length
) -> list[TrialRecord]:
    """The corpus's finished runs as complete trial records, with features at ``steps``.

    ``corpus``: one corpus, or a list of them (e.g. every earlier search of the same kind):
    their runs are concatenated.

    Each record holds, at each decision step, what :class:`TrialReporter` would have stored
    there for that run: the weight features (largest recorded tau ``<= t``), the training-loss
    summary and, with ``val=True``, the validation summary (``val=False`` for a search that
    reports the training loss instead, whose trials have no validation scores before the end).
    Runs whose final value is not finite are left out; so are steps where a run had diverged.
    ``T``: the training length of the search the prior is for; a corpus of another length is
    refused (its features would be at other fractions of training).

    >>> from weightcast.corpus.testing import make_synthetic_corpus  # doctest: +SKIP
    >>> corpus_prior(make_synthetic_corpus(tmp / "c"), steps=[20])[0].state  # doctest: +SKIP
    'complete'
    """
    from weightcast.corpus import Corpus

    if isinstance(corpus, list | tuple):
        if not corpus:
            raise ValueError("no prior corpus given: pass a corpus or a non-empty list of them")
        return [r for c in corpus for r in corpus_prior(c, steps, val=val, T=T)]
    if not isinstance(corpus, Corpus):
        corpus = Corpus(corpus)  # type: ignore[arg-type]
    if T is not None and int(corpus.T) != int(T):
        raise ValueError(
            f"the prior corpus {corpus.path} was recorded with T={corpus.T}, the search has "
            f"T={T}: its weights at the same steps are at other fractions of training; record "
            "a prior with the search's T"
        )
    runs, steps = load_runs(corpus, steps)
    payloads = make_payloads(runs, steps, weights=True, val=val)
    records = []
    for i, run in enumerate(runs):
        if not math.isfinite(run.final):
            continue
        features: dict[int, FeatureBlock] = {}
        for t in steps:
            block = decode_features(payloads[(i, t)])
            if block is not None:
                features[t] = block
        records.append(TrialRecord(i, "complete", float(run.final), features=features))
    return records

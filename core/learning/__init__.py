"""Learning the watched log: adapt the model to it in about a minute, remember it, learn again.

- :mod:`.start`: the one entry point, :func:`~.start.prepare` (which model a run starts from,
  the plan, remembering, when learning again is armed); and eval's :func:`~.start.learn_first_lines`.
- :mod:`.learning`: the stream's first learning (probe, collect the window, train, hand over).
- :mod:`.relearn`: learning again, in the background, on what the log has lately been.
- :mod:`.learner`: one learning's lifecycle as the stream sees it, shared by both.
- :mod:`.status`: the phase words and what the status bar and stderr say.
- :mod:`.learn_child`: the child process that trains, and the parent's end of it.
- :mod:`.learn`: the recipe (what to learn from, tokenizer, budget); :mod:`.threshold`: the
  learned model's threshold; :mod:`.learn_window`: how much of the log's start is learned from.
- :mod:`.memory`: learned models remembered between runs (``logwatch models``).

Nothing is imported here: the child process (``python -m logwatch.core.learning.learn_child``)
starts with only what it needs.
"""

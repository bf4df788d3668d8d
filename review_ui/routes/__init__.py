"""The review app's routes, one router per part: ``pages`` (the queue and the edge page), ``forms`` (decisions
and undo from those pages), ``account`` (signing in and out) and ``api`` (the JSON API)."""

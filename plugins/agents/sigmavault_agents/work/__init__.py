"""The agents' real work as plain, synchronous functions.

Each takes ``check`` (raises when the task is cancelled) and ``progress`` (``**kw`` like
``JobContext.progress``) callables so it can run in a worker thread through ``ctx.to_thread``.
"""

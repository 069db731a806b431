"""carbond: what a training script tells carbond, and how it hears carbond's stop.

A command job (a job file with ``run:``) runs under carbond's supervisor, which
meters the whole process tree and writes one emissions row per epoch the
program reports.  This module is the program's side of that, with the Python
standard library only::

    import carbond

    start = 1
    if carbond.resuming():
        start = load_checkpoint(carbond.checkpoint_dir()) + 1
    for epoch in range(start, epochs + 1):
        for batch in loader:
            ...
            if carbond.stop_requested():          # carbond asked: pause, drain, cancel
                save_checkpoint(carbond.checkpoint_dir(), epoch - 1)
                raise SystemExit(0)
        save_checkpoint(carbond.checkpoint_dir(), epoch)
        carbond.epoch_end(epoch, train_loss=loss, test_accuracy=acc, samples=n)

Outside carbond (no ``CARBOND_EVENTS`` in the environment) every call does
nothing and ``stop_requested()`` stays false, so the same script runs anywhere.
Under torchrun only rank 0 reports (``RANK`` unset or ``0``); every rank hears
the stop.  The lines written are the worker protocol's, version 1
(docs/protocol.md), so a program in another language can write them itself.
"""

import json
import math
import os
import signal

__all__ = [
    "active", "epoch_end", "checkpoint", "progress", "stop_requested", "resuming",
    "checkpoint_dir", "install_stop_handler", "job_id", "attempt",
]

_VERSION = 1
_stop = False
_previous = None
_installed = False


def active():
    """True when the program runs under carbond."""
    return bool(os.environ.get("CARBOND_EVENTS"))


def _reporting_rank():
    return os.environ.get("RANK", "0") in ("", "0")


def _number(value):
    # A tensor, a numpy scalar or a plain number, as JSON's number.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    value = float(value)
    return value if math.isfinite(value) else None


def _write(fields):
    path = os.environ.get("CARBOND_EVENTS")
    if not path or not _reporting_rank():
        return
    line = json.dumps(fields, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())  # one write per line: readers never see half of one
    finally:
        os.close(fd)


def epoch_end(epoch, **metrics):
    """Reports that epoch ``epoch`` (from 1) ended; carbond writes its row.

    Metrics carbond keeps in their columns: train_loss, test_loss,
    test_accuracy (0-1), samples, samples_per_s, wall_s, lr, epochs (the
    total), peak_memory_bytes.  Others are passed on and ignored.
    """
    fields = {"v": _VERSION, "event": "epoch", "epoch": int(epoch)}
    for key, value in metrics.items():
        try:
            fields[key] = _number(value)
        except (TypeError, ValueError):
            fields[key] = str(value)
    _write(fields)


def checkpoint(path, epoch=0, step=0):
    """Reports a checkpoint the program wrote (carbond shows the latest)."""
    _write({"v": _VERSION, "event": "checkpoint", "epoch": int(epoch), "step": int(step), "path": str(path)})


def progress(epoch, step, steps=0, train_loss=0.0, epochs=0):
    """Reports progress within an epoch (at most about once a second is useful)."""
    _write({"v": _VERSION, "event": "progress", "epoch": int(epoch), "step": int(step), "steps": int(steps),
            "train_loss": _number(train_loss), "epochs": int(epochs)})


def resuming():
    """True when an earlier segment or attempt of this job ran: load the checkpoint."""
    return os.environ.get("CARBOND_RESUME") == "1"


def checkpoint_dir(default="."):
    """The job's checkpoint folder, kept across pauses and attempts."""
    return os.environ.get("CARBOND_CHECKPOINT_DIR", default)


def job_id():
    value = os.environ.get("CARBOND_JOB_ID")
    return int(value) if value else None


def attempt():
    value = os.environ.get("CARBOND_ATTEMPT")
    return int(value) if value else None


def _stop_signal():
    name = os.environ.get("CARBOND_STOP_SIGNAL", "SIGTERM")
    return getattr(signal, name, signal.SIGTERM)


def _on_stop(signum, frame):
    global _stop
    _stop = True
    if callable(_previous):
        _previous(signum, frame)


def install_stop_handler():
    """Installs carbond's stop handler, chaining to the handler in place.

    Done at import under carbond; call it again after a framework installed
    its own handler, so that both run.  Only in the main thread (Python's rule).
    """
    global _previous, _installed
    if not active():
        return
    sig = _stop_signal()
    current = signal.getsignal(sig)
    if current is _on_stop:
        return
    _previous = current if callable(current) else None
    signal.signal(sig, _on_stop)
    _installed = True


def stop_requested():
    """True once carbond asked the program to stop (checkpoint and exit)."""
    return _stop


if active():
    try:
        install_stop_handler()
    except ValueError:  # imported outside the main thread: the program installs it
        pass

"""Stopping a training job cleanly when the cluster asks it to.

SLURM sends SIGTERM before it kills a preempted job, and ``--signal`` (or
submitit's ``slurm_signal_delay_s``) can send SIGUSR1 some time before the
time limit. While training, either signal is only recorded; the loop
finishes the iteration it is in, writes a mid-epoch checkpoint and raises
``TrainingPreempted``; ``tools/run_net.py`` then exits with
``EXIT_PREEMPTED`` and ``tools/submit_slurm.py`` requeues the job.
"""

import signal
import time

# sysexits.h EX_TEMPFAIL: "try again later".
EXIT_PREEMPTED = 75
PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class TrainingPreempted(Exception):
    """Training stopped on a preemption signal after writing a checkpoint.

    Attributes:
        checkpoint (str or None): the checkpoint to resume from.
    """

    def __init__(self, message, checkpoint=None):
        super().__init__(message)
        self.checkpoint = checkpoint


class PreemptionSignals:
    """Records SIGTERM and SIGUSR1 instead of dying on them, while active.

    Use as a context manager around the training loop; the handlers that
    were installed before are restored on exit.

    Attributes:
        received (str or None): name of the first signal received.
    """

    def __init__(self, signals=PREEMPTION_SIGNALS):
        self.signals = signals
        self.received = None
        self._previous = {}

    def __enter__(self):
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False

    def _record(self, signum, frame):
        if self.received is None:
            self.received = signal.Signals(signum).name


class CheckpointTimer:
    """Says when a periodic mid-epoch checkpoint is due (every ``minutes``;
    0 turns it off)."""

    def __init__(self, minutes):
        self.seconds = 60.0 * minutes
        self.restart()

    def restart(self):
        """Counts from now (call after every checkpoint)."""
        self._start = time.monotonic()

    def due(self):
        return self.seconds > 0 and time.monotonic() - self._start >= self.seconds

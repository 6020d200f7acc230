#!/usr/bin/env python3
"""Submits tools/run_net.py jobs to SLURM with submitit (pip install submitit).

    python tools/submit_slurm.py --cfg configs/Kinetics/SLOWFAST_GTA_8x8_R101.yaml \
        --nodes 4 --gpus-per-node 8 --partition learnfair --timeout 4320 \
        [--opts KEY VALUE ...]

One task per node; each node is one shard (SHARD_ID = node index,
NUM_SHARDS = nodes) and starts one process per GPU; the first node's host
is the rendezvous. NUM_GPUS is set to --gpus-per-node. Logs of the job go to
OUTPUT_DIR/slurm.

Preemption and time limits: SLURM sends SIGTERM to a preempted job, and
SIGUSR1 --signal-delay seconds before the time limit (submitit's
``slurm_signal_delay_s``, with SUBMITIT_PREEMPT_SIGNAL=USR1). On either, the
plugin's loop finishes its iteration and writes a mid-epoch checkpoint; the
job then hands itself to submitit's requeue, and the requeued job resumes
at that iteration (TRAIN.AUTO_RESUME). ``--cluster local`` or ``debug`` runs
the same job on this machine, for checking.
"""

import argparse
import os
import random
import signal

import gta_slowfast
from gta_slowfast.engine.preemption import TrainingPreempted
from gta_slowfast.engine.run import run_job

# submitit's own variable: the signal its job processes requeue on, and the
# one SLURM is asked to send before the time limit.
PREEMPT_SIGNAL_VARIABLE = "SUBMITIT_PREEMPT_SIGNAL"
PREEMPT_SIGNAL = "USR1"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", dest="cfg_file", required=True, help="YAML config")
    parser.add_argument("--nodes", type=int, default=1, help="machines (shards)")
    parser.add_argument("--gpus-per-node", type=int, default=8, help="GPUs per machine; 0: CPU")
    parser.add_argument("--cpus-per-task", type=int, default=10, help="CPUs per node")
    parser.add_argument("--partition", default="", help="SLURM partition")
    parser.add_argument("--timeout", type=int, default=4320, help="minutes per job")
    parser.add_argument("--signal-delay", type=int, default=300,
                        help="seconds before the time limit at which SIGUSR1 asks for a checkpoint")
    parser.add_argument("--port", type=int, default=random.randint(20000, 60000),
                        help="rendezvous port on the first node")
    parser.add_argument("--cluster", default=None, choices=["slurm", "local", "debug"],
                        help="submitit cluster; default: SLURM where available")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[],
                        help="KEY VALUE pairs that override the config")
    return parser.parse_args(argv)


class Job:
    """The callable submitit runs on every node; requeued on preemption."""

    def __init__(self, args):
        self.args = args

    def __call__(self):
        import submitit

        env = submitit.JobEnvironment()
        cfg = gta_slowfast.load_config(self.args.cfg_file, self.args.opts)
        cfg.NUM_GPUS = self.args.gpus_per_node
        cfg.NUM_SHARDS = self.args.nodes
        cfg.SHARD_ID = env.node
        master = env.hostnames[0] if env.hostnames else "localhost"
        try:
            run_job(cfg, "tcp://{}:{}".format(master, self.args.port))
        except TrainingPreempted:
            requeue_through_submitit()
            raise

    def checkpoint(self):
        """submitit's hook on preemption or timeout: requeue this job; it
        resumes from OUTPUT_DIR's last checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(Job(self.args))


def requeue_through_submitit():
    """Under SLURM, raises submitit's preemption signal in this process once
    training has stopped at a checkpoint: submitit's handler for it calls
    ``Job.checkpoint()`` and requeues the job. Elsewhere, nothing."""
    if "SLURM_JOB_ID" in os.environ:
        name = os.environ.get(PREEMPT_SIGNAL_VARIABLE, PREEMPT_SIGNAL)
        signal.raise_signal(signal.Signals["SIG" + name])


def main(argv=None):
    os.environ.setdefault(PREEMPT_SIGNAL_VARIABLE, PREEMPT_SIGNAL)  # before submitit reads it
    import submitit

    args = parse_args(argv)
    cfg = gta_slowfast.load_config(args.cfg_file, args.opts)
    folder = os.path.join(cfg.OUTPUT_DIR, "slurm")
    executor = submitit.AutoExecutor(folder=folder, cluster=args.cluster)
    executor.update_parameters(
        nodes=args.nodes,
        tasks_per_node=1,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        timeout_min=args.timeout,
        slurm_signal_delay_s=args.signal_delay,
        name="gta_slowfast",
    )
    if args.partition:
        executor.update_parameters(slurm_partition=args.partition)
    job = executor.submit(Job(args))
    print("Submitted job {} (logs in {})".format(job.job_id, folder))
    return job


if __name__ == "__main__":
    main()

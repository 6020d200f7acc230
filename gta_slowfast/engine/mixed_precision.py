"""TRAIN.MIXED_PRECISION in the plugin's loop, as GitHub-main PySlowFast's
``train_net`` does it: the forward pass and the loss under autocast, and
with float16 a GradScaler around backward and the optimizer step
(GTA.TRAIN.MIXED_PRECISION_DTYPE chooses bfloat16 instead)."""

import torch


def _grad_scaler(device_type):
    """A GradScaler for ``device_type`` (``torch.amp.GradScaler`` since
    torch 2.3; before, CUDA's only)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()


class MixedPrecision:
    """Autocast and loss scaling for one training process.

    With TRAIN.MIXED_PRECISION: the forward pass under autocast in
    GTA.TRAIN.MIXED_PRECISION_DTYPE, by default float16 on CUDA (as
    PySlowFast) and bfloat16 on the CPU; float16 always comes with a
    GradScaler (torch's CPU GradScaler on the CPU), bfloat16 needs none.
    Without it: plain fp32 steps.

    Attributes:
        enabled (bool), device_type (str), dtype (torch.dtype).
        scaler (GradScaler or None): saved with checkpoints where not None.
    """

    DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}

    def __init__(self, cfg):
        """
        Args:
            cfg (CfgNode): TRAIN.MIXED_PRECISION, NUM_GPUS (CUDA where > 0)
                and GTA.TRAIN.MIXED_PRECISION_DTYPE.
        """
        self.enabled = bool(cfg.TRAIN.MIXED_PRECISION)
        self.device_type = "cuda" if cfg.NUM_GPUS else "cpu"
        chosen = cfg.GTA.TRAIN.MIXED_PRECISION_DTYPE
        if chosen:
            self.dtype = self.DTYPES[chosen]
        else:
            self.dtype = torch.float16 if self.device_type == "cuda" else torch.bfloat16
        use_scaler = self.enabled and self.dtype == torch.float16
        self.scaler = _grad_scaler(self.device_type) if use_scaler else None

    def autocast(self):
        """The context the forward pass and the loss run in."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)

    def backward(self, loss):
        """``loss.backward()``, of the scaled loss where a GradScaler is used."""
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()

    def unscale(self, optimizer):
        """Divides the gradients by the GradScaler's scale (where one is
        used), so that they can be measured and clipped."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer):
        """``optimizer.step()``; under a GradScaler a step with non-finite
        gradients is skipped and the scale lowered."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def describe(self):
        """For the log, e.g. "bf16 autocast on the CPU" or "fp16 autocast
        with a GradScaler on CUDA"."""
        if not self.enabled:
            return "off (fp32)"
        return "{} autocast{} on {}".format(
            {torch.float16: "fp16", torch.bfloat16: "bf16"}[self.dtype],
            "" if self.scaler is None else " with a GradScaler",
            "CUDA" if self.device_type == "cuda" else "the CPU")

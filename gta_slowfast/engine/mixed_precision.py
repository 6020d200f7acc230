"""TRAIN.MIXED_PRECISION in the plugin's loop, as GitHub-main PySlowFast's
``train_net`` does it: the forward pass and the loss under autocast, and on
CUDA a GradScaler around backward and the optimizer step."""

import torch


def _grad_scaler():
    """A CUDA GradScaler (``torch.amp.GradScaler`` since torch 2.3)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


class MixedPrecision:
    """Autocast and loss scaling for one training process.

    With TRAIN.MIXED_PRECISION: fp16 autocast and a GradScaler on CUDA;
    bf16 autocast on the CPU, where fp16 matrix products are slow and bf16,
    with fp32's exponent range, needs no loss scaling. Without it: plain
    fp32 steps.

    Attributes:
        enabled (bool), device_type (str), dtype (torch.dtype).
        scaler (GradScaler or None): saved with checkpoints where not None.
    """

    def __init__(self, cfg):
        self.enabled = bool(cfg.TRAIN.MIXED_PRECISION)
        self.device_type = "cuda" if cfg.NUM_GPUS else "cpu"
        self.dtype = torch.float16 if self.device_type == "cuda" else torch.bfloat16
        self.scaler = _grad_scaler() if self.enabled and self.device_type == "cuda" else None

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
        """For the log, e.g. "bf16 autocast on the CPU"."""
        if not self.enabled:
            return "off (fp32)"
        if self.scaler is None:
            return "bf16 autocast on the CPU"
        return "fp16 autocast with a GradScaler on CUDA"

"""TRAIN.MIXED_PRECISION in the plugin's loop, as GitHub-main PySlowFast's
``train_net`` does it: the forward pass and the loss under autocast, and on
CUDA a GradScaler around backward and the optimizer step."""

import torch


def _grad_scaler(device_type):
    """A GradScaler for ``device_type`` (``torch.amp.GradScaler`` since
    torch 2.3; before, CUDA's only)."""
    if hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler(device_type)
    return torch.cuda.amp.GradScaler()


class MixedPrecision:
    """Autocast and loss scaling for one training process.

    With TRAIN.MIXED_PRECISION: fp16 autocast and a GradScaler on CUDA;
    bf16 autocast on the CPU, where fp16 matrix products are slow and bf16,
    with fp32's exponent range, needs no loss scaling. Without it: plain
    fp32 steps. fp16 autocast always comes with a GradScaler.

    Attributes:
        enabled (bool), device_type (str), dtype (torch.dtype).
        scaler (GradScaler or None): saved with checkpoints where not None.
    """

    def __init__(self, cfg, device_type=None, dtype=None):
        """
        Args:
            cfg (CfgNode): TRAIN.MIXED_PRECISION and NUM_GPUS.
            device_type (str), dtype (torch.dtype): the autocast's, by
                default NUM_GPUS's ("cuda" and fp16, or "cpu" and bf16).
                The loop passes neither; tests pass ("cpu", torch.float16)
                to run the GradScaler path on the CPU.
        """
        self.enabled = bool(cfg.TRAIN.MIXED_PRECISION)
        self.device_type = device_type or ("cuda" if cfg.NUM_GPUS else "cpu")
        self.dtype = dtype or (torch.float16 if self.device_type == "cuda" else torch.bfloat16)
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

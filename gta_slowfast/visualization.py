"""Pictures of what the attention blocks learned (paper Figures 1, 3, 4, 6):
the sampled frames, GTA's T x T matrices, Region GTA's regions, and the
attention of one query pixel in NL and DNL blocks. All saved as PNG."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gta_slowfast import compat  # noqa: E402
from gta_slowfast.datasets.loader import test_dataset_class  # noqa: E402
from gta_slowfast.blocks import DecoupledAttentionBlock  # noqa: E402

QUERY_MAPS = ("spacetime", "spatial", "temporal")


def read_test_clip(cfg, path):
    """One clip of ``path`` as TEST.DATASET reads its test videos (its
    reader, sampling and resize), 1 view: the centre crop.

    Returns:
        tuple: model inputs (list of (1, 3, T, S, S) per pathway) and the
            displayed frames, float (T, S, S, 3) in [0, 1] (fast pathway).
    Raises:
        ValueError: TEST.DATASET is not one of the plugin's datasets, or
            the video cannot be read.
    """
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 1
    cfg.TEST.NUM_SPATIAL_CROPS = 1
    dataset = test_dataset_class(cfg).of_files(cfg, [path])
    inputs, _, _, _, meta = dataset[0]
    if not meta["valid"]:
        raise ValueError("Cannot read the video {}".format(path))
    mean = torch.tensor(cfg.DATA.MEAN)[:, None, None, None]
    std = torch.tensor(cfg.DATA.STD)[:, None, None, None]
    frames = (inputs[-1] * std + mean).clamp(0, 1).permute(1, 2, 3, 0).numpy()
    return [x[None] for x in inputs], frames


def block_inputs(model, inputs):
    """Runs ``model`` once and returns {name: (block, its input (N, C, T, H, W))}
    for every attention block (NL and the plugin's)."""
    captured = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (compat.Nonlocal, DecoupledAttentionBlock)):
            hooks.append(module.register_forward_hook(
                lambda m, args, out, name=name: captured.__setitem__(name, (m, args[0]))))
    with torch.no_grad():
        model(inputs)
    for hook in hooks:
        hook.remove()
    return captured


def _save(figure, path):
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def save_frames(frames, path):
    """The T sampled frames in a row."""
    figure, axes = plt.subplots(1, len(frames), figsize=(1.6 * len(frames), 1.8), squeeze=False)
    for t, axis in enumerate(axes[0]):
        axis.imshow(frames[t])
        axis.set_title("t={}".format(t), fontsize=8)
        axis.axis("off")
    return _save(figure, path)


def save_matrices(weight, title, path):
    """A G x G grid of the T x T matrices M[g, k] (group g: row, head k:
    column); output time on the vertical axis."""
    weight = weight.detach().cpu().numpy()
    groups = weight.shape[0]
    limit = np.abs(weight).max()
    figure, axes = plt.subplots(groups, groups, figsize=(1.2 * groups, 1.2 * groups), squeeze=False)
    for g in range(groups):
        for k in range(groups):
            axes[g][k].imshow(weight[g, k], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[g][k].set_xticks([])
            axes[g][k].set_yticks([])
            if g == 0:
                axes[g][k].set_title("head {}".format(k), fontsize=7)
            if k == 0:
                axes[g][k].set_ylabel("group {}".format(g), fontsize=7)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path)


def save_regions(shares, frames, path):
    """Each pixel's share of every region, over the frames: one row per
    region, maps upsampled onto the frames (paper Figures 4 and 6).

    Args:
        shares (Tensor): (T, R, H, W), from Region GTA's ``attention_maps``.
    """
    t, regions = shares.shape[:2]
    shares = shares.cpu().numpy()
    figure, axes = plt.subplots(regions + 1, t, figsize=(1.4 * t, 1.4 * (regions + 1)), squeeze=False)
    for time_index in range(t):
        frame = frames[min(time_index * len(frames) // t, len(frames) - 1)]
        axes[0][time_index].imshow(frame)
        for r in range(regions):
            axes[r + 1][time_index].imshow(frame)
            axes[r + 1][time_index].imshow(
                shares[time_index, r], cmap="jet", alpha=0.5, vmin=0, vmax=1,
                extent=(-0.5, frame.shape[1] - 0.5, frame.shape[0] - 0.5, -0.5),
            )
        for row in range(regions + 1):
            axes[row][time_index].axis("off")
    for r in range(regions):
        axes[r + 1][0].set_title("region {}".format(r), fontsize=7, loc="left")
    return _save(figure, path)


@torch.no_grad()
def attention_maps(block, block_input, query):
    """What a block attends to on one input (first sample).

    Args:
        block: PySlowFast's Nonlocal, or a DecoupledAttentionBlock.
        block_input (Tensor): (1, C, T, H, W).
        query (tuple): (t, y, x) on the block's grid.
    Returns:
        dict: "spacetime" (T', H', W'), NL's attention of the query pixel
            over its (pooled) keys; for decoupled blocks, the maps of their
            terms (``TemporalTerm.attention_maps``).
    """
    if isinstance(block, DecoupledAttentionBlock):
        return block.attention_maps(block_input, query)
    t, y, x = query
    theta = block.conv_theta(block_input)[0, :, t, y, x]
    keys_input = block.pool(block_input) if block.use_pool else block_input
    phi = block.conv_phi(keys_input)[0]
    scores = torch.einsum("c,cthw->thw", theta, phi)
    if block.instantiation == "softmax":
        weights = torch.softmax(scores.flatten() * block.dim_inner ** -0.5, 0)
    else:
        weights = scores.flatten() / scores.numel()
    return {"spacetime": weights.reshape(scores.shape)}


def query_attention(block, block_input, query):
    """The attention weights of one query pixel (paper Figures 1 and 3):
    "spacetime" for NL; "spatial" (H', W') in the query's frame and
    "temporal" (T,) at the query pixel for decoupled blocks, where present.
    See ``attention_maps``."""
    maps = attention_maps(block, block_input, query)
    return {name: maps[name] for name in QUERY_MAPS if name in maps}


def save_query_attention(maps, frames, query, grid, path):
    """Plots the maps of ``query_attention`` over the frames."""
    t, y, x = query
    rows = []
    if "spacetime" in maps:
        rows.append(("NL: space-time attention", maps["spacetime"]))
    if "spatial" in maps:
        rows.append(("spatial attention (query frame)", maps["spatial"][None]))
    num_frames = len(frames)
    figure, axes = plt.subplots(len(rows) + 1 + ("temporal" in maps), num_frames,
                                figsize=(1.5 * num_frames, 1.6 * (len(rows) + 2)), squeeze=False)
    height, width = frames.shape[1:3]
    scale_y, scale_x = height / grid[0], width / grid[1]
    for column in range(num_frames):
        axes[0][column].imshow(frames[column])
        if column * grid[2] // num_frames == t:
            axes[0][column].plot([(x + 0.5) * scale_x], [(y + 0.5) * scale_y], "rx", ms=8, mew=2)
    for row, (title, weights) in enumerate(rows, start=1):
        weights = weights.cpu().numpy()
        for column in range(num_frames):
            index = 0 if len(weights) == 1 else min(column * len(weights) // num_frames, len(weights) - 1)
            if len(weights) == 1 and column * grid[2] // num_frames != t:
                continue
            axes[row][column].imshow(frames[column])
            axes[row][column].imshow(weights[index], cmap="jet", alpha=0.5,
                                     extent=(-0.5, width - 0.5, height - 0.5, -0.5))
        axes[row][0].set_title(title, fontsize=8, loc="left")
    if "temporal" in maps:
        axis = figure.add_subplot(len(axes), 1, len(axes))
        axis.bar(range(len(maps["temporal"])), maps["temporal"].cpu().numpy())
        axis.set_title("temporal attention at the query pixel", fontsize=8)
        axis.set_xlabel("t")
    for row in axes:
        for axis in row:
            axis.axis("off")
    return _save(figure, path)


def visualize(model, inputs, frames, out_dir):
    """Writes every picture for ``model`` on one clip; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [save_frames(frames, os.path.join(out_dir, "frames.png"))]
    for name, (block, block_input) in block_inputs(model, inputs).items():
        tag = name.replace(".", "_")
        _, _, t, h, w = block_input.shape
        query = (t // 2, h // 2, w // 2)
        maps = attention_maps(block, block_input, query)
        for map_name, weights in maps.items():
            path = os.path.join(out_dir, "{}_{}.png".format(tag, map_name))
            if map_name.endswith("_mixing"):
                paths.append(save_matrices(weights, "{} {}: M[g, k]".format(name, map_name), path))
            elif map_name == "regions":
                paths.append(save_regions(weights, frames, path))
        query_maps = {key: maps[key] for key in QUERY_MAPS if key in maps}
        if query_maps:
            paths.append(save_query_attention(query_maps, frames, query, (h, w, t),
                                              os.path.join(out_dir, "{}_query.png".format(tag))))
    return paths

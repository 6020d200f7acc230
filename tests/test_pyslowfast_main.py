"""GitHub-main PySlowFast, end to end on generated videos.

* Its own ``build_model`` builds every config through MODEL_REGISTRY.
* Its tools import at bac7b67 and, with the clone's ``ava_evaluation``
  resolved under Meta's internal name, at HEAD: ``tools/run_net.py`` runs
  its ``train_net``/``test_net`` with the plugin's C2D and dataset and
  TensorBoard (both snapshots) and, once (at HEAD: SlowFast's tools, loader
  and meters differ between the two only in formatting), with its own Ssv2
  (frames) dataset and SlowFast, multi-view test, the ImageNet init,
  fine-tuning from a checkpoint of another block type and
  GTA.TEMPORAL_ADAPT on load. Importing them leaves no ``vision`` module
  and the clone unchanged; their functions load themselves in spawned
  processes. SlowFast's own ``tools/run_net.py`` runs with the plugin added
  as README says (bac7b67: HEAD's imports Meta-internal tools).
* Where its tools do not import (a clone without ``ava_evaluation/``), with
  ``GTA.LOOP plugin`` and with ``PYSLOWFAST_ROOT=`` (empty): the plugin's
  loop, saying why; ``GTA.LOOP pyslowfast`` there stops before any work.

Skipped under pyslowfast 1.0. PySlowFast's own tools score top-5, so their
data sets here have at least 5 classes.
"""

import glob
import importlib
import os
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.demo.synthetic_ssv2 import generate_dataset
from gta_slowfast.engine import pyslowfast_tools
from gta_slowfast.engine.checkpoint import save_checkpoint
from gta_slowfast.models import DecoupledAttentionBlock
from gta_slowfast.models.video_models import inserted_blocks

from conftest import CONFIGS, REPO
from pipeline import (json_records, net_command, plugin_loop_env, run_command, run_config,
                      run_opts)
from test_checkpoint import torchvision_resnet50_state
from video_files import write_kinetics_sample, write_ssv2_frames_sample

pytestmark = pytest.mark.skipif(
    compat.GENERATION != "main", reason="needs GitHub-main PySlowFast (make test runs it)"
)


def clone_files(clone):
    """{path: bytes} of every file of a SlowFast clone, bytecode caches aside."""
    return {path: path.read_bytes() for path in sorted(pathlib.Path(clone).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


MAIN = compat.GENERATION == "main"
CLONE = pathlib.Path(pyslowfast_tools.clone_root()) if MAIN else None
CLONE_BEFORE_TOOLS = clone_files(CLONE) if MAIN else None
TOOLS = pyslowfast_tools.find_pyslowfast_tools() if MAIN else None
with_tools = pytest.mark.skipif(
    TOOLS is None or not TOOLS.available,
    reason="needs GitHub-main PySlowFast's importable tools ({})".format(
        TOOLS.reason if TOOLS else "pyslowfast 1.0 is installed"),
)
# SlowFast since Aug 2024 (HEAD) imports its own ava_evaluation under Meta's
# internal name.
META_IMPORTS = MAIN and pyslowfast_tools.AVA_EVALUATION_ALIAS in (
    CLONE / "slowfast" / "utils" / "ava_eval_helper.py").read_text()
once_at_head = pytest.mark.skipif(
    not META_IMPORTS, reason="runs at SlowFast HEAD only: its tools, loader and meters differ "
    "from bac7b67's only in formatting")

SSV2_C2D = "SSv2/C2D_GTA_8x1_R50.yaml"
SSV2_SLOWFAST = "SSv2/SLOWFAST_GTA_16x8_R50.yaml"
KINETICS_C2D = "Kinetics/C2D_GTA_8x8_R50.yaml"
TOOLS_LINE = "Running PySlowFast's tools/train_net.py and test_net.py"
PLUGIN_LINE = "Running the plugin's training and test loop"
ALIAS_LINE = "vision.fair.slowfast.ava_evaluation (Meta's internal name"
FRAME_CLASSES = ["Pushing something", "Pulling something", "Lifting something",
                 "Dropping something", "Spinning something", "Tearing something"]


@pytest.fixture(scope="module")
def ssv2_videos(tmp_path_factory):
    """The official SSv2 layout (webm), 6 classes (3 reversal pairs)."""
    data = tmp_path_factory.mktemp("ssv2_videos")
    generate_dataset(str(data), num_pairs=3, train_per_class=2, val_per_class=1,
                     num_frames=12, height=40, width=48, verbose=False)
    return data


@pytest.fixture(scope="module")
def ssv2_frames(tmp_path_factory):
    """PySlowFast's own SSv2 layout (frames and frame lists), 6 classes."""
    return write_ssv2_frames_sample(tmp_path_factory.mktemp("ssv2_frames"), FRAME_CLASSES)


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory):
    """PySlowFast's Kinetics csv layout with mp4 (H.264) videos, 5 classes."""
    return write_kinetics_sample(tmp_path_factory.mktemp("kinetics"), num_classes=5, per_class=2)


def cpu_opts(output_dir, num_classes, *opts):
    """``run_opts`` for a one-epoch CPU run of any repo config, 8 channels
    per group, then ``opts``; KEY VALUE strings."""
    return [str(o) for o in run_opts(output_dir, num_classes) + [
        "NUM_GPUS", 0, "RESNET.WIDTH_PER_GROUP", 8, "DATA.TRAIN_JITTER_SCALES", "[40, 48]",
        "SOLVER.MAX_EPOCH", 1, "BN.USE_PRECISE_STATS", False, "TRAIN.CHECKPOINT_FILE_PATH", "",
    ] + list(opts)]


def data_opts(dataset, data_dir):
    """TRAIN/TEST.DATASET and paths for one of the module's data sets."""
    if dataset == "gta_ssv2":
        return ["DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", data_dir / "videos",
                "GTA.DATA.RESIZE", "[40, 48]"]
    if dataset == "ssv2":
        return ["TRAIN.DATASET", "ssv2", "TEST.DATASET", "ssv2",
                "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", data_dir / "frames"]
    return ["DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", data_dir / "videos"]


def first_log_line(output_dir):
    """The first line a job logged to OUTPUT_DIR/stdout.log."""
    with open(os.path.join(output_dir, "stdout.log")) as stream:
        return stream.readline()


def env_importing(clone, *first, **variables):
    """The environment with ``clone`` on PYTHONPATH instead of the clone
    this process imports, after the folders ``first``; ``variables`` set."""
    original = os.path.realpath(pyslowfast_tools.clone_root())
    path = [str(clone)] + [str(folder) for folder in first] + [
        entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if entry and os.path.realpath(entry) != original]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), **variables)


@pytest.fixture
def clone_without_tools(tmp_path):
    """A copy of the SlowFast clone without ``ava_evaluation/``, whose tools
    then import at no snapshot, and the environment that imports slowfast
    from it (PYSLOWFAST_ROOT names it)."""
    clone = tmp_path / "SlowFast"
    shutil.copytree(CLONE, clone, ignore=shutil.ignore_patterns("__pycache__", "ava_evaluation"))
    return clone, env_importing(clone, PYSLOWFAST_ROOT=str(clone))


def saved_state(output_dir, epoch=1):
    path = os.path.join(output_dir, "checkpoints", "checkpoint_epoch_{:05d}.pyth".format(epoch))
    return torch.load(path, map_location="cpu", weights_only=False)


def gta_norm_scales(model_state):
    """The final-norm scales of the GTA blocks in a state dict."""
    names = [name for name in model_state
             if re.search(r"nonlocal\d+\.bn\.weight$", name)]
    assert names
    return [model_state[name] for name in names]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_pyslowfast_build_model_builds_every_config(config):
    from slowfast.models import build_model

    cfg = gta_slowfast.load_config(str(config), ["NUM_GPUS", 0, "RESNET.WIDTH_PER_GROUP", 8])
    model = build_model(cfg)
    assert type(model).__name__ == cfg.MODEL.MODEL_NAME
    blocks = inserted_blocks(model)
    assert len(blocks) == sum(len(p) for stage in cfg.NONLOCAL.LOCATION for p in stage)
    stock = cfg.GTA.BLOCK == "NL"
    assert all(isinstance(b, compat.Nonlocal if stock else DecoupledAttentionBlock)
               for b in blocks.values())


def test_config_lists_the_2d_arch_as_single_pathway():
    cfg = gta_slowfast.get_cfg()
    assert "slow_c2d" in cfg.MODEL.SINGLE_PATHWAY_ARCH


@with_tools
@pytest.mark.parametrize("config, dataset", [
    (SSV2_C2D, "gta_ssv2"), pytest.param(SSV2_SLOWFAST, "ssv2", marks=once_at_head)])
def test_pyslowfast_tools_train_and_test(config, dataset, ssv2_videos, ssv2_frames, tmp_path):
    data = ssv2_videos if dataset == "gta_ssv2" else ssv2_frames
    frames = ["DATA.NUM_FRAMES", 16] if config == SSV2_SLOWFAST else []
    output = run_config(config, cpu_opts(tmp_path, 6, "TENSORBOARD.ENABLE", True, *frames)
                        + data_opts(dataset, data))
    assert first_log_line(tmp_path).endswith(
        "{} (GTA.LOOP auto): GitHub-main PySlowFast's tools are in {}.\n".format(
            TOOLS_LINE, CLONE / "tools"))
    assert output.count(ALIAS_LINE) == (1 if META_IMPORTS else 0)
    assert "Start epoch: 1" in output
    (final,) = json_records(output, "test_final")
    assert 0 <= float(final["top1_acc"]) <= 100
    assert any(name.endswith("terms.PIXEL_GTA.mixing.weight") for name in saved_state(tmp_path)["model_state"])
    assert glob.glob(str(tmp_path / "runs-*" / "events.out.tfevents.*"))


@once_at_head
@with_tools
def test_pyslowfast_tools_multi_view_test_of_kinetics(kinetics, tmp_path):
    output = run_config(KINETICS_C2D, cpu_opts(
        tmp_path, 5, "DATA.NUM_FRAMES", 8, "DATA.SAMPLING_RATE", 2,
        "TEST.NUM_ENSEMBLE_VIEWS", 2, "TEST.NUM_SPATIAL_CROPS", 3) + data_opts("gta_kinetics", kinetics))
    assert TOOLS_LINE in output
    assert "Finalized testing with 2 temporal clips and 3 spatial crops" in output
    assert len(json_records(output, "test_final")) == 1


@once_at_head
@with_tools
def test_pyslowfast_tools_start_from_imagenet_weights(ssv2_videos, tmp_path):
    imagenet = torchvision_resnet50_state(width=8)
    path = tmp_path / "resnet50_imagenet.pth"
    torch.save(imagenet, path)
    out = tmp_path / "run"
    output = run_config(SSV2_C2D, cpu_opts(
        out, 6, "TRAIN.CHECKPOINT_FILE_PATH", path, "SOLVER.BASE_LR", 0.0,
        "SOLVER.WARMUP_START_LR", 0.0, "TEST.ENABLE", False) + data_opts("gta_ssv2", ssv2_videos))
    assert "is a torchvision-style ResNet: converting" in output
    state = saved_state(out)["model_state"]
    assert torch.equal(state["s1.pathway0_stem.conv.weight"], imagenet["conv1.weight"].unsqueeze(2))
    assert torch.equal(state["s4.pathway0_res5.branch2.c_bn.weight"], imagenet["layer3.5.bn3.weight"])


def nl_checkpoint(directory, num_classes):
    """A PySlowFast checkpoint (model, optimizer, epoch 4) of the tiny
    C2D + NL model, with every norm moved off its initial value."""
    cfg = gta_slowfast.load_config(
        str(REPO / "configs" / "SSv2" / "C2D_NLN_8x1_R50.yaml"),
        cpu_opts(directory, num_classes))
    model = gta_slowfast.build_model(cfg)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return save_checkpoint(str(directory), model, optimizer, 4, cfg), model.state_dict()


@once_at_head
@with_tools
def test_pyslowfast_tools_fine_tune_an_nl_checkpoint_into_gta(ssv2_videos, tmp_path):
    path, nl_state = nl_checkpoint(tmp_path / "nl", 6)
    out = tmp_path / "run"
    output = run_config(SSV2_C2D, cpu_opts(
        out, 6, "TRAIN.CHECKPOINT_FILE_PATH", path, "SOLVER.BASE_LR", 0.0,
        "SOLVER.WARMUP_START_LR", 0.0, "TEST.ENABLE", False) + data_opts("gta_ssv2", ssv2_videos))
    assert "starts from its initialisation: the weights loaded hold another block type" in output
    saved = saved_state(out)
    assert saved["epoch"] == 0  # a fresh start, not epoch 5 of the NL run
    assert all(torch.count_nonzero(scale) == 0 for scale in gta_norm_scales(saved["model_state"]))
    name = "s3.pathway0_res2.branch2.b.weight"
    assert torch.equal(saved["model_state"][name], nl_state[name])


@once_at_head
@with_tools
@pytest.mark.parametrize("adapt", ["error", "interpolate"])
def test_pyslowfast_tools_load_gta_matrices_of_another_clip_length(adapt, ssv2_videos, tmp_path):
    cfg = gta_slowfast.load_config(str(REPO / "configs" / SSV2_C2D), cpu_opts(tmp_path, 6))
    model = gta_slowfast.build_model(cfg)
    path = save_checkpoint(str(tmp_path / "eight"), model, torch.optim.SGD(model.parameters(), lr=0.1),
                           0, cfg)
    opts = cpu_opts(tmp_path / "run", 6, "TRAIN.ENABLE", False, "TEST.CHECKPOINT_FILE_PATH", path,
                     "DATA.NUM_FRAMES", 16, "GTA.TEMPORAL_ADAPT", adapt)
    result = run_command(net_command(SSV2_C2D, opts + data_opts("gta_ssv2", ssv2_videos)))
    if adapt == "error":
        assert result.returncode != 0
        assert re.search(r"T=8 frames but this model is built for T=16", result.output)
        return
    assert result.returncode == 0, result.output[-4000:]
    converted = torch.load(tmp_path / "run" / "converted_weights" / "checkpoint_epoch_00001.pyth")
    name = "s3.pathway0_nonlocal1.terms.PIXEL_GTA.mixing.weight"
    assert converted["model_state"][name].shape[-2:] == (16, 16)
    assert torch.allclose(converted["model_state"][name][..., 0, 0],
                          model.state_dict()[name][..., 0, 0] / 2)
    assert len(json_records(result.output, "test_final")) == 1


@with_tools
def test_tools_import_leaves_no_vision_module_and_the_clone_unchanged():
    """Where the clone imports its ava_evaluation under Meta's internal
    name, the tools import with that name resolved to the clone's own
    package, and the log line says so; the name is gone afterwards."""
    from slowfast.utils import ava_eval_helper

    assert [note.startswith(ALIAS_LINE) and str(CLONE / "ava_evaluation") in note
            for note in TOOLS.notes] == ([True] if META_IMPORTS else [])
    assert not [name for name in sys.modules if name == "vision" or name.startswith("vision.")]
    assert pathlib.Path(ava_eval_helper.standard_fields.__file__).parent == CLONE / "ava_evaluation"
    assert clone_files(CLONE) == CLONE_BEFORE_TOOLS


def test_ava_evaluation_alias_only_where_no_vision_package_imports(tmp_path, monkeypatch):
    with pyslowfast_tools.ava_evaluation_alias(str(CLONE)) as notes:
        fields = importlib.import_module(pyslowfast_tools.AVA_EVALUATION_ALIAS + ".standard_fields")
    assert pathlib.Path(fields.__file__) == CLONE / "ava_evaluation" / "standard_fields.py"
    assert len(notes) == 1 and "vision" not in sys.modules
    (tmp_path / "vision").mkdir()
    (tmp_path / "vision" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pyslowfast_tools.ava_evaluation_alias(str(CLONE)) as notes:
        with pytest.raises(ModuleNotFoundError, match="vision.fair"):
            importlib.import_module(pyslowfast_tools.AVA_EVALUATION_ALIAS)
    assert notes == [] and "vision" in sys.modules
    del sys.modules["vision"]


@once_at_head
@with_tools
def test_tools_functions_load_themselves_in_a_spawned_process():
    """launch_job's processes (NUM_GPUS > 1, NUM_SHARDS > 1) get the tools'
    functions pickled, and import them anew."""
    script = ("import pickle, sys; tool = pickle.loads(sys.stdin.buffer.read()); "
              "from gta_slowfast.engine import pyslowfast_tools; "
              "module, notes = pyslowfast_tools.tool_module(tool.tools_dir, tool.module); "
              "print(getattr(module, tool.function).__qualname__, len(notes))")
    result = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(TOOLS.train),
                            capture_output=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert result.stdout.decode().split() == ["train", "1" if META_IMPORTS else "0"]


@once_at_head
@with_tools
def test_loop_plugin_runs_the_plugins_loop_where_the_tools_import(ssv2_videos, tmp_path):
    output = run_config(SSV2_C2D, cpu_opts(tmp_path, 6, "GTA.LOOP", "plugin")
                        + data_opts("gta_ssv2", ssv2_videos))
    assert first_log_line(tmp_path).endswith(
        PLUGIN_LINE + " (GTA.LOOP plugin): chosen in the config.\n")
    assert ALIAS_LINE not in output
    assert len(json_records(output, "test_final")) == 1


@with_tools
def test_pyslowfast_root_empty_selects_the_plugin_loop(tmp_path):
    run_config(SSV2_C2D, cpu_opts(tmp_path, 6, "TRAIN.ENABLE", False, "TEST.ENABLE", False),
               env=plugin_loop_env())
    assert first_log_line(tmp_path).endswith(
        PLUGIN_LINE + " (GTA.LOOP auto): PYSLOWFAST_ROOT is set empty.\n")


def test_without_importable_tools_run_net_uses_the_plugin_loop(
        clone_without_tools, ssv2_videos, tmp_path):
    clone, env = clone_without_tools
    out = tmp_path / "run"
    output = run_config(SSV2_C2D, cpu_opts(out, 6) + data_opts("gta_ssv2", ssv2_videos), env=env)
    line = first_log_line(out)
    assert "{} (GTA.LOOP auto): PySlowFast's tools in {} cannot be imported (".format(
        PLUGIN_LINE, clone / "tools") in line
    missing = "vision" if META_IMPORTS else "ava_evaluation"
    assert "No module named '{}'".format(missing) in line
    assert ALIAS_LINE not in output
    assert os.path.isfile(out / "checkpoints" / "checkpoint_epoch_00001.pyth")
    assert glob.glob(str(out / "test_scores_*.npz"))


def test_loop_pyslowfast_without_importable_tools_stops_before_any_work(
        clone_without_tools, tmp_path):
    clone, env = clone_without_tools
    out = tmp_path / "run"
    result = run_command(net_command(SSV2_C2D, cpu_opts(out, 6, "GTA.LOOP", "pyslowfast")), env)
    assert result.returncode != 0
    assert ("RuntimeError: GTA.LOOP pyslowfast: PySlowFast's tools/train_net.py and test_net.py "
            "cannot be used, as PySlowFast's tools in {} cannot be imported (".format(clone / "tools")
            in result.output)
    assert not out.exists()


def test_plugin_loop_with_pyslowfast_ssv2_dataset(ssv2_frames, tmp_path):
    output = run_config(SSV2_C2D, cpu_opts(tmp_path, 6) + data_opts("ssv2", ssv2_frames),
                        env=plugin_loop_env())
    assert PLUGIN_LINE in output
    final = [row for row in json_records(output, "test_final")]
    assert len(final) == 1 and final[0]["videos"] == len(FRAME_CLASSES)


README_SECTION = "### With PySlowFast's own tools/run_net.py"


def readme_code_blocks(title):
    """The code blocks of README's section ``title``, in order."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index(title) + len(title):]
    section = section[: section.find("\n##")] if "\n##" in section else section
    return [block.partition("\n")[2] for block in section.split("```")[1::2]]


@with_tools
@pytest.mark.skipif(META_IMPORTS, reason="SlowFast's own tools/run_net.py at HEAD imports "
                    "Meta-internal vision.fair.slowfast.tools modules")
def test_pyslowfast_own_run_net_with_the_plugin_as_readme_says(ssv2_videos, tmp_path):
    """Does what README's "PySlowFast's own tools/run_net.py" section says,
    on a copy of the SlowFast clone. This machine lacks two things such a
    user has, so stand-ins come first on PYTHONPATH: detectron2 (SlowFast's
    run_net imports its demo and visualisation code, which import it) and a
    GPU (SlowFast's train_net calls torch.cuda.synchronize() unguarded)."""
    clone = tmp_path / "SlowFast"
    shutil.copytree(CLONE, clone, ignore=shutil.ignore_patterns("__pycache__"))
    custom_config, command = readme_code_blocks(README_SECTION)
    (clone / "slowfast" / "config" / "custom_config.py").write_text(custom_config)
    stand_ins = tmp_path / "stand_ins"
    for module, body in {
        "detectron2/__init__.py": "",
        "detectron2/layers.py": "ROIAlign = None\n",
        "detectron2/model_zoo.py": "",
        "detectron2/config.py": "get_cfg = None\n",
        "detectron2/engine.py": "DefaultPredictor = None\n",
        "detectron2/utils/__init__.py": "",
        "detectron2/utils/visualizer.py": "class Visualizer:\n    pass\n",
        "sitecustomize.py": textwrap.dedent("""\
            import torch
            if not torch.cuda.is_available():
                torch.cuda.synchronize = lambda *args, **kwargs: None
            """),
    }.items():
        (stand_ins / module).parent.mkdir(parents=True, exist_ok=True)
        (stand_ins / module).write_text(body)
    env = env_importing(clone, stand_ins)
    words = command.replace("\\\n", " ").split()
    assert words[:2] == ["python", "SlowFast/tools/run_net.py"] and "--opts" in words
    config = words[words.index("--cfg") + 1].partition("gta_slowfast/")[2]
    command = [sys.executable, str(clone / "tools" / "run_net.py"), "--cfg", str(REPO / config),
               "--opts"] + [str(o) for o in cpu_opts(tmp_path / "run", 6)
                            + data_opts("gta_ssv2", ssv2_videos)]
    result = run_command(command, env)
    assert result.returncode == 0, result.output[-4000:]
    assert len(json_records(result.output, "test_final")) == 1
    assert os.path.isfile(tmp_path / "run" / "checkpoints" / "checkpoint_epoch_00001.pyth")

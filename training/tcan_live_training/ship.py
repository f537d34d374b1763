"""Ship a trained checkpoint as a default engine: build, evaluate on held-out data, model card.

``tcan-live ship-engine`` runs this. The engine folder gets the onnxruntime engine
(``manifest.json`` + ``model.onnx``), the checkpoint it was built from (for transfer learning
and ``bench engine``), the evaluation on a held-out simulated set the model never saw
(``evaluation/``), ``MODEL_CARD.md`` and ``model_card.json``. The JSON holds a small
*regression* evaluation with its exact parameters, which the test suite repeats on a fresh
clone to show that the shipped engine still reproduces its card.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tcan_live.engine.build import build_engine
from tcan_live.evaluate import Method, evaluate
from tcan_live.evaluate.enhancers import engine_enhancer
from tcan_live.model import read_checkpoint_meta
from tcan_live_training.ablation import ablation_lines, evaluate_ablation
from tcan_live_training.config import load_train_config
from tcan_live_training.heldout import HELD_OUT_SEED, REGRESSION_SEED, HeldOutSpec
from tcan_live_training.realpairs import real_pair_acceptance, write_heldout_pairs

CARD_JSON = "model_card.json"
# Numbers the regression test compares, and how far a re-run may drift (relative).
REGRESSION_KEYS = ("psnr", "ssim", "snr", "fwhm_nm_mean", "decorr_nm", "rsp")
REGRESSION_TOLERANCE = 0.03


def evaluate_engine(engine_dir: Path, spec: HeldOutSpec, out: Path) -> dict[str, Any]:
    """Simulate ``spec`` and run ``tcan-live evaluate --engine`` on it; return metrics.json."""
    with tempfile.TemporaryDirectory(prefix="tcan-heldout-") as scratch:
        return _evaluate_engine_on(engine_dir, spec.write(Path(scratch) / "data"), spec, out)


def _evaluate_engine_on(
    engine_dir: Path, data: Path, spec: HeldOutSpec, out: Path
) -> dict[str, Any]:
    return evaluate(
        data,
        out,
        Method(f"engine {engine_dir.name}", engine_enhancer(engine_dir)),
        lr_iterations=spec.lr_iterations,
    )


def evaluate_real_pairs(engine_dir: Path, config_path: Path, out: Path) -> dict[str, Any]:
    """Evaluate an engine on the held-out fields of a real-pair training configuration."""
    config = load_train_config(config_path)
    with tempfile.TemporaryDirectory(prefix="tcan-real-") as scratch:
        data = write_heldout_pairs(config, Path(scratch) / "data")
        return evaluate(data, out, Method(f"engine {engine_dir.name}", engine_enhancer(engine_dir)))


ACCEPTANCE = (
    "bead FWHM within 15 % of the STED ground truth's and at most 0.55x the input's (beads)",
    "PSNR and SSIM against noise-free STED above the best Lucy-Richardson",
    "SNR at least 2x the input's",
    "RSP against the input at least 0.9",
)


def acceptance(metrics: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """Check the issue's acceptance targets; (target, passed or None if n/a, figures)."""
    out, inp = metrics["output"], metrics["input"]
    lucy = metrics.get("lucy-richardson", {})
    checks: list[tuple[str, bool | None, str]] = []
    gt_fwhm = metrics.get("hr", {}).get("fwhm_nm_mean")
    if out.get("fwhm_nm_mean") and inp.get("fwhm_nm_mean") and gt_fwhm:
        ratio_gt = out["fwhm_nm_mean"] / gt_fwhm
        ratio_in = out["fwhm_nm_mean"] / inp["fwhm_nm_mean"]
        checks.append(
            (
                ACCEPTANCE[0],
                abs(ratio_gt - 1) <= 0.15 and ratio_in <= 0.55,
                f"{out['fwhm_nm_mean']:.0f} nm: {ratio_gt:.2f}x STED, {ratio_in:.2f}x input",
            )
        )
    else:
        checks.append((ACCEPTANCE[0], None, "not a bead set"))
    psnr_ok = out["psnr"] > lucy.get("psnr", float("inf"))
    ssim_ok = out["ssim"] > lucy.get("ssim", float("inf"))
    checks.append(
        (
            ACCEPTANCE[1],
            psnr_ok and ssim_ok,
            f"PSNR {out['psnr']:.2f} vs {lucy.get('psnr', float('nan')):.2f} dB, SSIM "
            f"{out['ssim']:.3f} vs {lucy.get('ssim', float('nan')):.3f}",
        )
    )
    checks.append(
        (
            ACCEPTANCE[2],
            out["snr"] >= 2 * inp["snr"],
            f"{out['snr']:.1f} vs input {inp['snr']:.1f} ({out['snr'] / inp['snr']:.2f}x)",
        )
    )
    rsp = out.get("rsp")
    checks.append((ACCEPTANCE[3], None if rsp is None else rsp >= 0.9, f"RSP {rsp}"))
    return checks


def _table(metrics: dict[str, Any]) -> list[str]:
    columns = [
        ("source", None),
        ("FWHM nm", "fwhm_nm_mean"),
        ("SNR", "snr"),
        ("PSNR dB", "psnr"),
        ("SSIM", "ssim"),
        ("decorr. nm", "decorr_nm"),
        ("RSE", "rse"),
        ("RSP", "rsp"),
    ]
    lines = [
        "| " + " | ".join(name for name, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for source, entry in metrics.items():
        cells = [source]
        for _, key in columns[1:]:
            value = entry.get(key) if key else None
            cells.append("" if value is None else f"{value:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _stage_lines(title: str, training: dict[str, Any]) -> list[str]:
    minutes = float(training.get("training_time_s", 0)) / 60
    best = training.get("best_epoch")
    # counted from 1, as `tcan-live train` reports it (log.csv's epoch column counts from 0)
    best_epoch = best + 1 if isinstance(best, int) else "?"
    return [
        f"### {title}",
        "",
        f"- Command: `{training.get('command', 'n/a')}`",
        f"- Time: {minutes:.1f} min; {training.get('epochs_completed', '?')} epochs of "
        f"{training.get('steps_completed', '?')} steps in total were completed when this "
        f"checkpoint was written; it is the best one, epoch {best_epoch} (counted from 1; "
        f"validation loss {training.get('best_val_loss', '?')})",
        f"- Hardware: {json.dumps(training.get('hardware', {}))}",
        "",
        "```toml",
        str(training.get("config_text", "")).strip(),
        "```",
        "",
    ]


def _discriminator_init_lines(training: dict[str, Any]) -> list[str]:
    """Warn when the weights were trained with the discriminator's old, inert initialisation."""
    config = training.get("config") or {}
    discriminator = config.get("model", {}).get("discriminator", {})
    adversarial = config.get("loss", {}).get("adversarial_weight", 0)
    if not adversarial or discriminator.get("init", "torch-default") != "torch-default":
        return []
    return [
        "- Trained with the discriminator's torch-default initialisation (before it was",
        "  fixed: docs/trainer.md), under which its logit did not depend on the image; unless",
        "  the adversarial losses in the run's log.csv left ln 2 = 0.693, the adversarial",
        "  phase was inert. To reproduce these weights with this version, add",
        '  `init = "torch-default"` to `[model].discriminator` in the configuration above.',
    ]


def write_model_card(
    engine_dir: Path,
    checkpoint: Path,
    held_out: HeldOutSpec,
    metrics: dict[str, Any],
    regression: HeldOutSpec,
    regression_metrics: dict[str, Any],
    ship_command: str,
    earlier_stages: tuple[Path, ...] = (),
    ablation: list[dict[str, Any]] | None = None,
    real_pairs: str | None = None,
) -> Path:
    """Write ``MODEL_CARD.md`` and ``model_card.json`` into ``engine_dir``.

    ``real_pairs`` (the real-pair training configuration's path) marks an engine evaluated on
    held-out real pairs instead of a simulated set; the card then checks issue 12's real-pair
    targets and its regression is that same evaluation.

    ``earlier_stages`` are the checkpoints this one was initialised from (``--init``), oldest
    first; their training runs are described too. ``ablation`` holds the rows of
    :func:`tcan_live_training.ablation.evaluate_ablation` on ``held_out``, if one was run.
    """
    meta = read_checkpoint_meta(checkpoint)
    training = meta.training
    stages = [read_checkpoint_meta(path).training for path in earlier_stages]
    manifest = json.loads((engine_dir / "manifest.json").read_text())
    checks = real_pair_acceptance(metrics) if real_pairs else acceptance(metrics)
    card = {
        "name": engine_dir.name,
        "checkpoint": checkpoint.name,
        "structure": held_out.structure,
        "held_out": {"real_pairs": real_pairs} if real_pairs else held_out.__dict__,
        "metrics": metrics,
        "acceptance": [
            {"target": target, "passed": passed, "figures": figures}
            for target, passed, figures in checks
        ],
        "regression": {
            "spec": {"real_pairs": real_pairs} if real_pairs else regression.__dict__,
            "output": {k: regression_metrics["output"].get(k) for k in REGRESSION_KEYS},
            "tolerance": REGRESSION_TOLERANCE,
        },
        "ship_command": ship_command,
        "ablation": ablation or [],
    }
    (engine_dir / CARD_JSON).write_text(json.dumps(card, indent=2) + "\n")
    trained_on = (
        f"fine-tuned on real confocal -> STED pairs of **{held_out.structure}** (`{real_pairs}`)"
        if real_pairs
        else f"trained on simulated confocal -> STED pairs of **{held_out.structure}**"
    )
    if real_pairs:
        evaluated = [
            f"## Evaluation on held-out real pairs (fields never read in training: "
            f"`data.heldout` of `{real_pairs}`)",
            "",
            "Measured with `tcan-live evaluate --engine` on the held-out fields, prepared as the",
            "trainer prepares its pairs (registration check, the runtime's resampling) at the",
            "engine's pixel size; reference = the real STED image (noisy: there is no",
            "noise-free ground truth), Lucy-Richardson at its best PSNR against that same",
            "STED image (tuned on the evaluated field itself, in its favour):",
        ]
    else:
        evaluated = [
            f"## Evaluation on a held-out simulated set ({held_out.count} images of "
            f"{held_out.size} px, simulator seed {held_out.seed}, never seen in training)",
            "",
            "Measured with `tcan-live evaluate --engine` (see `evaluation/report.md` for the",
            "figures and how each number is computed):",
        ]
    lines = [
        f"# {engine_dir.name}",
        "",
        f"TCAN `{meta.architecture.preset}` preset, scale {meta.scale}, {trained_on} at "
        f"{meta.pixel_size_nm:g} nm pixels; onnxruntime {manifest['backend_version']} engine, "
        f"tile {manifest['tile']}, "
        f"halo {manifest['halo']}, fp32. Normalisation: percentiles "
        f"{meta.normalization.low_percentile} / {meta.normalization.high_percentile} -> 0 / 1"
        + (
            f", spread at least {meta.normalization.noise_floor:g} x the frame's noise sigma."
            if meta.normalization.noise_floor
            else "."
        )
        + (f" Input resolution (FWHM): {meta.input_fwhm_nm:g} nm." if meta.input_fwhm_nm else ""),
        "",
        "## How it was made",
        "",
        f"Shipped with: `{ship_command}`. Training ran in {len(stages) + 1} stage(s); each",
        "stage's exact command and configuration (as run) follow.",
        "",
        *[
            line
            for number, stage in enumerate(stages, start=1)
            for line in _stage_lines(f"Stage {number}", stage)
        ],
        *_stage_lines(f"Stage {len(stages) + 1} (the shipped weights)", training),
        *evaluated,
        "",
        *_table(metrics),
        "",
        "## Acceptance targets (issue 12)" if real_pairs else "## Acceptance targets (issue 5)",
        "",
        *[
            f"- {'PASS' if passed else ('n/a' if passed is None else 'MISSED')}: {target} "
            f"({figures})"
            for target, passed, figures in checks
        ],
        "",
        *ablation_lines(ablation or [], held_out),
        "## Regression guard",
        "",
        (
            "`tests/e2e/test_real_pair_engines.py` repeats the held-out real-pair evaluation "
            "(when `../shared` is present) and compares "
            if real_pairs
            else f"`tests/e2e/test_shipped_engines.py` re-simulates {regression.count} images "
            f"of {regression.size} px (seed {regression.seed}), evaluates this engine and "
            "compares "
        )
        + f"{', '.join(REGRESSION_KEYS)} of the output with `model_card.json` within "
        f"{REGRESSION_TOLERANCE:.0%} (relative).",
        "",
        "## Limits",
        "",
        *(
            [
                "- Fine-tuned and evaluated on a handful of fields of one microscope; the pixel",
                "  size of the real pairs is not recorded in the files (estimated; see the",
                "  configuration above), nor is their PSF.",
            ]
            if real_pairs
            else [
                "- Trained and evaluated on simulated data only; on real microscope images its",
                "  output is unverified against STED.",
            ]
        ),
        "- Expects confocal images resampled to 50 nm pixels (the runtime does this).",
        f"- Built on {platform.platform()} with {platform.python_implementation()} "
        f"{platform.python_version()}.",
        *_discriminator_init_lines(training),
    ]
    path = engine_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def ship_engine(
    checkpoint: Path,
    out: Path,
    structure: str,
    *,
    held_out: HeldOutSpec | None = None,
    regression: HeldOutSpec | None = None,
    tile: int = 320,
    halo: int = 32,
    max_batch: int = 4,
    ship_command: str = "",
    earlier_stages: tuple[Path, ...] = (),
    ablation_checkpoints: tuple[Path, ...] = (),
    real_pairs: Path | None = None,
    log: Any = print,
) -> Path:
    """Build, evaluate and document one default engine; return its folder.

    ``ablation_checkpoints`` (trained with the same budget, differing only in the generator's
    branches) are evaluated on the same held-out set and tabulated in the card.
    ``real_pairs`` (a real-pair training configuration) evaluates on its held-out fields
    instead of simulated data (:mod:`tcan_live_training.realpairs`).
    """
    held_out = held_out or HeldOutSpec(structure, 8, 256, HELD_OUT_SEED)
    regression = regression or HeldOutSpec(structure, 2, 96, REGRESSION_SEED, lr_iterations=10)
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    shipped = out / "checkpoint.safetensors"
    shutil.copyfile(checkpoint, shipped)
    # Built from the copy inside the folder, so the manifest's checkpoint path travels with it.
    build_engine(shipped, "onnxruntime", out, tile=tile, halo=halo, max_batch=max_batch, log=log)
    ablation = None
    if real_pairs is not None:
        log(f"evaluating on the held-out real pairs of {real_pairs}")
        metrics = evaluate_real_pairs(out, real_pairs, out / "evaluation")
        write_model_card(
            out,
            shipped,
            held_out,
            metrics,
            regression,
            metrics,
            ship_command,
            earlier_stages,
            real_pairs=str(real_pairs),
        )
        log(f"shipped {out} in {time.monotonic() - started:.0f} s")
        return out
    with tempfile.TemporaryDirectory(prefix="tcan-heldout-") as scratch:
        data = held_out.write(Path(scratch) / "data")  # simulated once: engine and ablation
        log(f"evaluating on the held-out set ({held_out.count} x {held_out.size} px)")
        metrics = _evaluate_engine_on(out, data, held_out, out / "evaluation")
        if ablation_checkpoints:
            log(f"evaluating {len(ablation_checkpoints)} ablation checkpoint(s) on the same set")
            ablation = evaluate_ablation(ablation_checkpoints, data, held_out, Path(scratch))
    log("evaluating the regression set")
    with tempfile.TemporaryDirectory(prefix="tcan-regression-") as scratch:
        regression_metrics = evaluate_engine(out, regression, Path(scratch))
    write_model_card(
        out,
        shipped,
        held_out,
        metrics,
        regression,
        regression_metrics,
        ship_command,
        earlier_stages,
        ablation,
    )
    log(f"shipped {out} in {time.monotonic() - started:.0f} s")
    return out

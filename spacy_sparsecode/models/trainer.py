"""Fast trainer: a ``CodeModel`` trained directly over CSR minibatches on CPU or GPU.

Knows nothing of a family's internals beyond ``model.loss(batch)``. Shuffling is derived
from ``(seed, epoch)`` so a resumed run visits the same batches as an uninterrupted one;
checkpoints (weights, optimizer, trainer state; safetensors + JSON) are written atomically.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import (ANY_INT, BOOL, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, RATE, SHARE, Errors,
                      check_settings, setting)
from ..io import FORMAT_VERSION, load_tensors, read_json, save_tensors, write_json_atomic
from ..progress import progress_bar
from .base import DATA_SAMPLE_ROWS, CodeModel, CsrBatch

LATEST = "latest.json"
#: TrainConfig fields a resumed run may change: they do not alter the steps already taken.
RESUMABLE_CHANGES = ("epochs", "min_steps", "gpu_id", "checkpoint_every")
#: On the CPU, Adam moments smaller than this are zeroed every ``ZERO_TINY_EVERY`` steps.
TINY_MOMENT = 1e-30
ZERO_TINY_EVERY = 64


@dataclass
class TrainConfig:
    """Optimisation settings of the fast trainer.

    Training runs ``epochs`` passes, or more when that is fewer than ``min_steps`` optimizer
    steps: one setting then suits corpora of any size (a small corpus gets the steps its
    topics need to form, a large one is not run for more passes than it needs).
    ``constrain_from`` holds off the model's topic constraints (``latents_per_word``,
    ``exclusivity``) for that share of the steps after the (constrained) initialisation:
    topics form freely, then the constraints make them distinct. ``spacy train`` applies them
    at every step.
    """

    lr: float = setting(3e-3, POSITIVE)
    batch_size: int = setting(128, POSITIVE_INT)
    epochs: int = setting(30, POSITIVE_INT)
    min_steps: int = setting(0, NON_NEGATIVE_INT.explained("0: epochs alone decide"))
    grad_clip: float = setting(1.0, NON_NEGATIVE.explained("0 disables clipping"))
    warmup_share: float = setting(0.02, RATE)
    final_lr_share: float = setting(0.1, SHARE)
    constrain_from: float = setting(0.0, RATE.explained("0: from the first step"))
    seed: int = setting(0, ANY_INT)
    gpu_id: int = setting(-1, ANY_INT)
    amp: bool = setting(True, BOOL)
    checkpoint_every: int = setting(0, NON_NEGATIVE_INT.explained("0: at epoch ends only"))

    def __post_init__(self) -> None:
        check_settings(self)

    def n_epochs(self, n_batches: int) -> int:
        """Epochs to run over ``n_batches`` minibatches per epoch: ``epochs``, raised to reach ``min_steps``."""
        return max(self.epochs, math.ceil(self.min_steps / max(n_batches, 1)))


def resolve_device(gpu_id: int) -> torch.device:
    """``cuda:<gpu_id>`` when ``gpu_id >= 0`` (error if CUDA is missing), else CPU."""
    if gpu_id < 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(Errors.E001.format(field="gpu_id", expected="-1 on a machine without CUDA", value=gpu_id))
    return torch.device(f"cuda:{gpu_id}")


@dataclass
class TrainState:
    """Where training stands: enough to resume exactly."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    history: List[Dict[str, float]] = field(default_factory=list)


class TrainingError(RuntimeError):
    """Training stopped on a non-finite loss; the model keeps its last good weights."""


class Trainer:
    """Adam over shuffled CSR minibatches with warmup + cosine decay, clipping and a NaN guard."""

    def __init__(self, model: CodeModel, config: TrainConfig, *, progress: bool = True,
                 on_epoch_end: Optional[Callable[[Dict[str, float]], None]] = None) -> None:
        self.config = config
        self.device = resolve_device(config.gpu_id)
        self.model = model.to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, fused=True)
        self.state = TrainState()
        self.progress = progress
        self.on_epoch_end = on_epoch_end

    def lr_at(self, step: int, total: int) -> float:
        """Linear warmup, then cosine decay to ``final_lr_share`` of the peak."""
        cfg = self.config
        warmup = max(1, int(cfg.warmup_share * total))
        if step < warmup:
            return cfg.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return cfg.lr * (cfg.final_lr_share + (1 - cfg.final_lr_share) * 0.5 * (1 + math.cos(math.pi * t)))

    def fit(self, matrix: sp.csr_matrix, *, checkpoint_dir: Optional[Path] = None, resume: bool = False,
            init_from_data: bool = True) -> List[Dict[str, float]]:
        """Train on the rows of ``matrix`` (raw counts); returns the per-epoch history.

        ``init_from_data`` runs the model's data-dependent initialisation on a fresh start
        (pass False when the caller has already initialised the model). When the epochs are
        done, the model's ``finish_fit`` gets the same sample of up to ``DATA_SAMPLE_ROWS`` rows (the VAEs
        fit their ex-post prior on it).
        """
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        keep = np.flatnonzero(np.diff(matrix.indptr) > 0)
        if keep.size == 0:
            raise ValueError(Errors.E031.format(what="the training matrix"))
        matrix = matrix[keep]
        if not self.model.sgd_trained:  # fitted in one pass (e.g. the dictionary family)
            start = time.perf_counter()
            stats = self.model.fit_direct(matrix)
            self.state.history.append({**stats, "epoch": 1, "seconds": time.perf_counter() - start})
            return self.state.history
        resumed = resume and checkpoint_dir is not None and self.load_checkpoint(checkpoint_dir)
        sample = np.sort(np.random.default_rng(self.config.seed).permutation(matrix.shape[0])[:DATA_SAMPLE_ROWS])
        if init_from_data and not resumed and self.state.global_step == 0:
            self.model.init_from_data(CsrBatch.from_csr(matrix[sample], self.device))
        cfg = self.config
        n_batches = math.ceil(matrix.shape[0] / cfg.batch_size)
        n_epochs = cfg.n_epochs(n_batches)
        total_steps = n_batches * n_epochs
        with progress_bar(enabled=self.progress) as bar:
            task = bar.add_task("training", total=total_steps, completed=self.state.global_step, info="")
            while self.state.epoch < n_epochs:
                stats = self._run_epoch(matrix, n_batches, total_steps, checkpoint_dir, bar, task)
                self.state.history.append(stats)
                self.state.epoch += 1
                self.state.step_in_epoch = 0
                if checkpoint_dir is not None:
                    self.save_checkpoint(checkpoint_dir)
                if self.on_epoch_end is not None:
                    self.on_epoch_end(stats)
        self.model.finish_fit(CsrBatch.from_csr(matrix[sample], self.device))
        return self.state.history

    def _run_epoch(self, matrix: sp.csr_matrix, n_batches: int, total_steps: int,
                   checkpoint_dir: Optional[Path], bar: Any, task: Any) -> Dict[str, float]:
        cfg, model = self.config, self.model
        constrain_from = int(cfg.constrain_from * total_steps)
        order = np.random.default_rng([cfg.seed, self.state.epoch]).permutation(matrix.shape[0])
        sums: Dict[str, torch.Tensor] = {}
        n_steps = 0
        start = time.perf_counter()
        model.train()
        for b in range(self.state.step_in_epoch, n_batches):
            rows = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            batch = CsrBatch.from_csr(matrix[rows], self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(self.state.global_step, total_steps)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.amp and self.device.type == "cuda"):
                parts = model.loss(batch)
            loss = parts.total.float().mean()
            if not torch.isfinite(loss):
                raise TrainingError(Errors.E030.format(epoch=self.state.epoch, step=self.state.global_step, value=float(loss.detach()), lr=cfg.lr))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            if self.device.type == "cpu" and self.state.global_step % ZERO_TINY_EVERY == 0:
                self._zero_tiny_moments()
            model.post_step(constrain=self.state.global_step >= constrain_from)
            for name, value in {"loss": loss.detach(), **parts.parts}.items():
                sums[name] = sums.get(name, 0) + value.float()
            n_steps += 1
            self.state.step_in_epoch = b + 1
            self.state.global_step += 1
            bar.update(task, advance=1)
            if checkpoint_dir is not None and cfg.checkpoint_every and self.state.global_step % cfg.checkpoint_every == 0:
                self.save_checkpoint(checkpoint_dir)
        seconds = time.perf_counter() - start
        stats = {name: float(total) / max(n_steps, 1) for name, total in sums.items()}
        stats.update(epoch=self.state.epoch + 1, seconds=seconds, docs_per_s=matrix.shape[0] / max(seconds, 1e-9))
        if hasattr(model, "dead_share"):
            stats["dead"] = model.dead_share()
        bar.update(task, info=f"epoch {stats['epoch']} loss {stats['loss']:.4f} dead {stats.get('dead', 0):.2f}")
        return stats

    @torch.no_grad()
    def _zero_tiny_moments(self) -> None:
        """Zero the Adam moments below ``TINY_MOMENT`` before they become subnormal floats.

        A weight whose gradient stays zero (a dead latent's encoder column) has its first
        moment shrink by beta1 each step until it is subnormal, and every CPU op that touches
        a subnormal runs many times slower: on 20 Newsgroups the constrained epochs took 0.8 s
        instead of 0.5 s. ``torch.set_flush_denormal`` cannot help here, as it does not reach
        the worker threads that already exist. A moment that small moves its weight by under
        lr * 1e-22, so zeroing it changes nothing a float32 weight can hold.
        """
        for state in self.optimizer.state.values():
            for name in ("exp_avg", "exp_avg_sq"):
                moment = state[name]
                moment.masked_fill_(moment.abs() < TINY_MOMENT, 0.0)

    # --- checkpoints ----------------------------------------------------------------
    def _signature(self) -> Dict[str, Any]:
        cfg = asdict(self.config)
        for volatile in RESUMABLE_CHANGES:
            cfg.pop(volatile)
        return {"family": self.model.family, "model": self.model.config.to_dict(), "n_vocab": self.model.n_vocab, "train": cfg}

    def save_checkpoint(self, directory: Path) -> Path:
        """Write a complete checkpoint folder, then point ``latest.json`` at it."""
        directory = Path(directory)
        target = directory / f"step-{self.state.global_step:09d}"
        if target.exists():
            shutil.rmtree(target)
        tmp = directory / f".{target.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_tensors(tmp / "model.safetensors", self.model.weight_tensors())
        opt = self.optimizer.state_dict()
        save_tensors(tmp / "optimizer.safetensors",
                     {f"{p}.{name}": value for p, state in opt["state"].items() for name, value in state.items()})
        write_json_atomic(tmp / "state.json", {"format_version": FORMAT_VERSION, "signature": self._signature(),
                                               "state": asdict(self.state), "param_groups": opt["param_groups"]})
        tmp.rename(target)
        previous = self.latest(directory)
        write_json_atomic(directory / LATEST, {"checkpoint": target.name})
        if previous is not None and previous != target and previous.exists():
            shutil.rmtree(previous)
        return target

    @staticmethod
    def latest(directory: Path) -> Optional[Path]:
        """The latest complete checkpoint folder in ``directory``, or None."""
        pointer = Path(directory) / LATEST
        return Path(directory) / read_json(pointer)["checkpoint"] if pointer.exists() else None

    def load_checkpoint(self, directory: Path) -> bool:
        """Restore model, optimizer and state from the latest checkpoint; False if none."""
        path = self.latest(directory)
        if path is None:
            return False
        meta = read_json(path / "state.json")
        if meta.get("format_version") != FORMAT_VERSION:  # checkpoints are short-lived: no upgrade path
            raise ValueError(Errors.E032.format(path=path, reason=f"format version {meta.get('format_version')}, "
                                                                  f"this spacy-sparsecode writes {FORMAT_VERSION}"))
        if meta.get("signature") != self._signature():
            raise ValueError(Errors.E032.format(path=path, reason="the model or training settings differ"))
        self.model.load_state_dict(load_tensors(path / "model.safetensors"))
        flat = load_tensors(path / "optimizer.safetensors")
        state: Dict[int, Dict[str, torch.Tensor]] = {}
        for key, value in flat.items():
            p, name = key.split(".", 1)
            state.setdefault(int(p), {})[name] = value
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.state = TrainState(**meta["state"])
        return True

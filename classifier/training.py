"""Fine-tuning the encoder classifier (training side; serving never imports this).

A plain torch loop rather than transformers' Trainer: two learning rates (encoder and a
fresh head), length-bucketed batches with dynamic padding, frozen word embeddings, early
stopping on validation macro-F1 and a wall-clock budget are each a few lines here and
awkward there.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from datasets.utils import logging as datasets_logging
from sklearn.metrics import f1_score
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from classifier.arguments import TrainingArguments
from classifier.modeling import EncoderClassifier, HeadConfig, build, predict_logits
from labeling.errors import ModelError

log = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_macro_f1: float
    val_accuracy: float
    seconds: float


@dataclass
class FineTuneResult:
    model: EncoderClassifier
    tokenizer: PreTrainedTokenizerBase
    frozen: set[str]
    best_epoch: int
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    planned_steps: int = 0  # where the learning rate reached zero (the plan's last step)
    loss_curve: list[float] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, bucket_batches: int = 50
) -> list[list[int]]:
    """Shuffled batches of similar-length examples.

    Shuffle, cut into mega-buckets of ``bucket_batches`` batches, sort each by length, cut into
    batches, shuffle the batches: padding stays small and every epoch sees a new order.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class StepPlan:
    """The number of optimiser steps training aims at, and the learning-rate factor over it:
    linear warm-up, then linear decay to zero at the last planned step.

    With a time budget the plan shrinks, once step times are known (every
    :attr:`FIRST_REPLAN` steps, and after each epoch with validation included), to the
    steps that fit in what is left of the budget. So when time rather than epochs ends
    training, the learning rate has still come down to zero and the last epoch is
    evaluated, instead of training stopping at full rate after whichever epoch crossed the
    budget.
    """

    FIRST_REPLAN = 20
    RESERVE = 0.1  # share of the remaining time kept for validation and the unexpected

    def __init__(self, total: int, warmup_ratio: float, budget: float | None) -> None:
        self.total = total
        self.warmup_ratio = warmup_ratio
        self.budget = budget

    @property
    def warmup(self) -> int:
        return int(self.warmup_ratio * self.total)

    def factor(self, step: int) -> float:
        """Multiplier of the base learning rate at ``step`` (0-based)."""
        warmup = self.warmup
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (self.total - step) / max(1, self.total - warmup))

    def replan(self, steps_done: int, elapsed: float) -> None:
        """Shrink the plan to what fits in the budget at the step cost seen so far."""
        if self.budget is None or steps_done <= 0 or elapsed <= 0:
            return
        per_step = elapsed / steps_done
        left = max(0.0, self.budget - elapsed) * (1 - self.RESERVE)
        self.total = max(steps_done, min(self.total, steps_done + int(left / per_step)))


def freeze_below_top_layers(model: nn.Module, top: int) -> set[str]:
    """Freeze the embeddings and every transformer layer below the top ``top``; their names.

    Works on BERT-style encoders (``encoder.encoder.layer``: e5, MiniLM). Nothing below the
    lowest trainable layer needs a gradient, so backpropagation stops there.
    """
    layers = getattr(getattr(getattr(model, "encoder", None), "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ModelError("train_top_layers needs a BERT-style encoder (encoder.encoder.layer)")
    keep_from = max(0, len(layers) - top)
    prefixes = ["encoder.embeddings."] + [f"encoder.encoder.layer.{i}." for i in range(keep_from)]
    frozen = set()
    for name, param in model.named_parameters():
        if name.startswith(tuple(prefixes)):
            param.requires_grad = False
            frozen.add(name)
    return frozen


def planned_epochs(args: TrainingArguments, steps_per_epoch: int) -> int:
    """The epochs planned: as given, or more where they would not reach ``min_steps``."""
    return max(args.epochs, math.ceil(args.min_steps / max(1, steps_per_epoch)))


def fine_tune(
    base_dir: Path,
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    val_texts: Sequence[str],
    val_labels: Sequence[str],
    args: TrainingArguments,
    *,
    progress: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FineTuneResult:
    """Fine-tune the base encoder plus a linear head; keep the epoch best on validation."""
    labels = tuple(sorted(set(train_labels)))
    if len(labels) < 2:
        raise ModelError("fine-tuning needs labels of at least two teams")
    unknown = set(val_labels) - set(labels)
    if unknown:
        raise ModelError(f"validation labels not in the training set: {sorted(unknown)[:5]}")
    seed_everything(args.seed)
    device = pick_device(args.device)
    head = HeadConfig(labels=labels, max_length=args.max_length, text_prefix=args.text_prefix)
    model, tokenizer = build(base_dir, head)
    model.to(device)

    frozen: set[str] = set()
    if args.freeze_word_embeddings:
        for name, param in model.named_parameters():
            if name.endswith("embeddings.word_embeddings.weight"):
                param.requires_grad = False
                frozen.add(name)
    if args.train_top_layers is not None:
        frozen |= freeze_below_top_layers(model, args.train_top_layers)
    # Buffers (position ids…) never change: the delta need not carry them either.
    frozen |= {name for name, _ in model.named_buffers()}

    label_index = {label: i for i, label in enumerate(labels)}
    datasets_logging.disable_progress_bar()  # our own bar covers training; map's is noise
    train_set = Dataset.from_dict(
        {
            "text": [args.text_prefix + t for t in train_texts],
            "label": [label_index[x] for x in train_labels],
        }
    ).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length),
        batched=True,
        remove_columns=["text"],
    )
    datasets_logging.enable_progress_bar()
    input_ids: list[list[int]] = train_set["input_ids"]
    targets = torch.tensor(train_set["label"], dtype=torch.long)
    lengths = [len(x) for x in input_ids]

    head_params = [p for n, p in model.named_parameters() if n.startswith("classifier.")]
    encoder_params = [
        p
        for n, p in model.named_parameters()
        if not n.startswith("classifier.") and p.requires_grad
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": args.learning_rate},
            {"params": head_params, "lr": args.head_learning_rate},
        ],
        weight_decay=args.weight_decay,
    )
    steps_per_epoch = math.ceil(len(input_ids) / args.batch_size)
    epochs = planned_epochs(args, steps_per_epoch)
    total_steps = steps_per_epoch * epochs
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    plan = StepPlan(total_steps, args.warmup_ratio, args.max_train_seconds)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, plan.factor)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    rng = random.Random(args.seed)
    result = FineTuneResult(model=model, tokenizer=tokenizer, frozen=frozen, best_epoch=0)
    best_f1 = -1.0
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    started = time.perf_counter()
    bar = tqdm(total=total_steps, desc="fine-tuning", unit="step", disable=not progress)
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        running = 0.0
        batches = length_bucketed_batches(lengths, args.batch_size, rng)
        for batch in batches:
            if result.steps >= plan.total:
                break
            padded = tokenizer.pad(
                {"input_ids": [input_ids[i] for i in batch]}, return_tensors="pt"
            )
            logits = model(padded["input_ids"].to(device), padded["attention_mask"].to(device))
            loss = loss_fn(logits, targets[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            result.steps += 1
            if result.steps % StepPlan.FIRST_REPLAN == 0:
                # Again every few steps: a machine that gets busier must not outrun the plan.
                plan.replan(result.steps, time.perf_counter() - started)
                bar.total = plan.total
            loss_value = loss.item()
            running += loss_value
            result.loss_curve.append(loss_value)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss_value:.3f}")
        model.eval()
        val_pred = predict_logits(model, tokenizer, list(val_texts), device=device).argmax(axis=1)
        val_true = np.array([label_index[x] for x in val_labels])
        record = EpochRecord(
            epoch=epoch,
            train_loss=running / max(1, len(batches)),
            val_macro_f1=float(f1_score(val_true, val_pred, average="macro"))
            if len(val_true)
            else 0.0,
            val_accuracy=float((val_pred == val_true).mean()) if len(val_true) else 0.0,
            seconds=time.perf_counter() - epoch_start,
        )
        result.history.append(record)
        # Logged as well as shown on the bar: long runs without a terminal leave a trace.
        log.info(
            "epoch %d: train loss %.4f, validation macro-F1 %.4f, accuracy %.4f, %.0f s",
            epoch,
            record.train_loss,
            record.val_macro_f1,
            record.val_accuracy,
            record.seconds,
        )
        if on_epoch:
            on_epoch(record)
        if record.val_macro_f1 > best_f1:
            best_f1, result.best_epoch, since_best = record.val_macro_f1, epoch, 0
            best_state = {
                n: t.detach().clone() for n, t in model.state_dict().items() if n not in frozen
            }
        else:
            since_best += 1
        elapsed = time.perf_counter() - started
        if since_best >= args.early_stopping_patience:
            break
        if args.max_train_seconds is not None and elapsed >= args.max_train_seconds:
            break
        plan.replan(result.steps, elapsed)  # validation time now counts in the step cost
        bar.total = plan.total
        if result.steps >= plan.total:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    model.eval()
    result.seconds = time.perf_counter() - started
    result.planned_steps = plan.total
    return result

"""Axolotl plugin running IterIT inside one training run (imported by Axolotl in the tools env).

Enabled by the Axolotl YAML keys `plugins: [workflow_lib.axolotl_plugin.iterit.IterITPlugin]` and
`iterit: {...}` (the `IterITSettings` fields plus `pool`, the canonical JSONL that is also the
run's only dataset). Why a plugin: the Trainer then runs once, so its optimizer state and its
learning-rate schedule span all epochs (`max_steps` is set from m, the epochs, the batch size and
gradient accumulation), and a callback sees the current weights at every epoch boundary.

How the data changes per epoch: the Trainer's train sampler is replaced by
`iterit_schedule.EpochSubset`, whose rows the callback's `on_epoch_begin` sets before the
Trainer iterates the epoch's dataloader (transformers 5 calls `on_epoch_begin`, then
`iter(dataloader)`). The sampler's length is m, so every epoch has the same number of steps.
The dataset must keep one row per record, in file order: the renderer turns off shuffling and
packing and truncates instead of dropping long rows, and this plugin checks the row count.
Under several processes every process runs the same schedule (its data loader takes its share
of the epoch's batches), re-scoring is sharded over them and process 0 writes the files
(`iterit_schedule`).
"""

from __future__ import annotations

from axolotl.integrations.base import BasePlugin
from pydantic import BaseModel
from transformers import TrainerCallback

from workflow_lib.core.jsonio import read_jsonl, write_json
from workflow_lib.select.iterit.schedule import IterITSchedule, IterITSettings, steps_per_epoch


class IterITArgs(BaseModel):
    """The plugin's key in the Axolotl config."""

    iterit: dict | None = None


class IterITCallback(TrainerCallback):
    """Calls the schedule at each epoch boundary and keeps the Trainer's log history."""

    def __init__(self, schedule: IterITSchedule, steps_per_epoch: int) -> None:
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        # Equal to the Trainer's epoch counter, also when it resumes from a checkpoint.
        self.epoch = state.global_step // self.steps_per_epoch
        self.schedule.begin_epoch(self.epoch, model)

    def on_epoch_end(self, args, state, control, **kwargs):
        self.schedule.end_epoch(self.epoch)

    def on_train_end(self, args, state, control, **kwargs):
        if self.schedule.rank == 0:
            write_json(self.schedule.out / "log_history.json", state.log_history)


class IterITPlugin(BasePlugin):
    """Replaces the train sampler by IterIT's epoch subset and adds the epoch callback."""

    def get_input_args(self) -> str:
        return "workflow_lib.axolotl_plugin.iterit.IterITArgs"

    def add_callbacks_post_trainer(self, cfg, trainer):
        spec = dict(cfg.iterit)
        pool = spec.pop("pool")
        records = [record for _, record in read_jsonl(pool)]
        rows = len(trainer.train_dataset)
        if rows != len(records):
            raise ValueError(f"IterIT needs one training row per record of {pool}, but Axolotl "
                             f"prepared {rows} rows from {len(records)} records (were some "
                             "dropped, e.g. without any assistant token?)")
        schedule = IterITSchedule(IterITSettings(**spec), records, trainer.processing_class)

        def train_sampler(*args, **kwargs):
            return schedule.sampler

        trainer._get_train_sampler = train_sampler
        steps = steps_per_epoch(spec["m"], trainer.args.per_device_train_batch_size,
                                trainer.args.gradient_accumulation_steps, trainer.args.world_size)
        return [IterITCallback(schedule, steps)]

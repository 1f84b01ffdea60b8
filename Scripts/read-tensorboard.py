#!/usr/bin/env python3
"""Reads a directory of TensorBoard event files with TensorBoard's own readers and prints, as JSON:

- "scalars": {tag: [[step, value], ...]} from EventAccumulator (what TensorBoard's Scalars dashboard shows,
  after its purge of what a resumed run replaced: SessionLog START);
- "texts": {tag: [[step, text], ...]} from the same accumulator's tensors (text summaries);
- "raw": {tag: [step, ...]} every summary value of every file as TensorBoard's record reader yields it
  (checksums verified: a record that fails its check ends the file), before any purge;
- "files": the number of event files.

Usage: read-tensorboard.py LOGDIR
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader


def main(logdir):
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    texts = {}
    for t in tags["tensors"]:
        texts[t] = [[e.step, b"".join(e.tensor_proto.string_val).decode()] for e in acc.Tensors(t)]
    raw = {}
    files = sorted(f for f in os.listdir(logdir) if "tfevents" in f)
    for name in files:
        for event in event_file_loader.LegacyEventFileLoader(os.path.join(logdir, name)).Load():
            if event.HasField("summary"):
                for value in event.summary.value:
                    raw.setdefault(value.tag, []).append(event.step)
    json.dump({"scalars": scalars, "texts": texts, "raw": raw, "files": len(files)}, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: read-tensorboard.py LOGDIR")
    main(sys.argv[1])

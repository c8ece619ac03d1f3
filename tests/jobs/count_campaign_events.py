"""An independent count of a campaign's output, for the Slurm campaign tests: the event ids
in every committed tracks file (the journals' "commit" lines), which must be exactly the
input's, once each: chunk k holds events 1000 k + 0 .. 1000 k + (PER_CHUNK - 1).

usage: count_campaign_events.py CAMPAIGN_DIR CHUNKS PER_CHUNK
"""
import glob
import json
import os
import sys

import h5py

camp, chunks, per_chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ids = []
for chunk in sorted(glob.glob(os.path.join(camp, "chunks", "chunk-*"))):
    committed = set()
    for j in glob.glob(os.path.join(chunk, "run-*", "journal-*.jsonl")):
        for line in open(j):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if "commit" in d:
                committed.add(d["commit"])
    for t in sorted(committed):
        with h5py.File(os.path.join(chunk, t), "r") as f:
            ids += [int(x) for x in f["index/event_id"][:]]
want = sorted(1000 * k + i for k in range(chunks) for i in range(per_chunk))
duplicates = sorted(ids)[:50] if len(ids) != len(set(ids)) else ""
assert sorted(ids) == want, (f"{len(ids)} tracks records; missing {sorted(set(want) - set(ids))[:20]}, "
                             f"extra {duplicates}")
print(f"  {len(ids)} tracks records in the committed files, one per input event")

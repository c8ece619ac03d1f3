"""The event file schema as documented (docs/event-file-format.md), read with plain h5py.

Generates a small file with `trkaas generate`, exports it to TrackML CSV with
`trkaas convert` (the C++ reader), then reads the HDF5 file directly with h5py by the
documented index and checks that both agree on every hit of every event.

usage: h5py_schema_test.py TRKAAS_BINARY SCRATCH_DIR
"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np


def main():
    trkaas, tmp = sys.argv[1], sys.argv[2]
    os.makedirs(tmp, exist_ok=True)
    h5 = os.path.join(tmp, "py.h5")
    csv_dir = os.path.join(tmp, "py_csv")
    shutil.rmtree(csv_dir, ignore_errors=True)
    subprocess.run([trkaas, "generate", "-n", "3", "--pileup", "5", "--seed", "3",
                    "--first-event-id", "7", "-f", "-o", h5], check=True)
    subprocess.run([trkaas, "convert", h5, csv_dir], check=True)

    with h5py.File(h5, "r") as f:
        fmt = f.attrs["format"]
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        assert fmt == "trkaas-events", fmt
        assert int(f.attrs["schema_version"]) == 1
        for name, dtype in [("hits/hit_id", np.int64), ("hits/x", np.float32),
                            ("hits/volume_id", np.int32), ("truth/particle_id", np.int64),
                            ("index/hit_offset", np.int64)]:
            assert f[name].dtype == dtype, (name, f[name].dtype)
        ids = f["index/event_id"][:]
        assert list(ids) == [7, 8, 9], ids
        for i, event_id in enumerate(ids):
            o, n = int(f["index/hit_offset"][i]), int(f["index/hit_count"][i])
            cols = {c: f["hits/" + c][o:o + n] for c in ("hit_id", "x", "y", "z", "module_id")}
            pid = f["truth/particle_id"][o:o + n]
            path = os.path.join(csv_dir, "event%09d-hits.csv" % event_id)
            csv = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding=None)
            assert len(csv) == n, (event_id, len(csv), n)
            assert np.array_equal(csv["hit_id"], cols["hit_id"])
            for c in ("x", "y", "z"):
                assert np.array_equal(csv[c].astype(np.float32), cols[c]), (event_id, c)
            assert np.array_equal(csv["module_id"], cols["module_id"])
            truth = np.genfromtxt(os.path.join(csv_dir, "event%09d-truth.csv" % event_id),
                                  delimiter=",", names=True, dtype=None, encoding=None)
            assert np.array_equal(truth["particle_id"], pid)
    print("h5py read %d events matching the C++ reader" % len(ids))


if __name__ == "__main__":
    main()

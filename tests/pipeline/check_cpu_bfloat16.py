"""The C++ pipeline on the CPU in bfloat16 (`trkaas run --precision bfloat16`) keeps the
float32 run's physics on the shipped models, and says in its layout line what arithmetic it
runs: bfloat16 on AMX or AVX-512 BF16 when /proc/cpuinfo has them, else emulated; float16,
a GPU type, runs in float32 on the CPU.

usage: check_cpu_bfloat16.py TRKAAS_BIN MODELS_DIR WORKDIR

Tolerances: the two runs see the same events, so their efficiencies differ by the particles
whose tracks bfloat16 changes, not by sampling. Three binomial standard deviations of the
sample bound that generously; a systematic loss (features rounded to bfloat16, a wrong
cast) moves the efficiency by tens of points (BENCHMARKS.md, half-precision table).
"""
import json
import math
import os
import sys

from check_card_physics import run

EVENTS, SEED, FIRST_ID = 3, 919, 9100


def cpu_bf16_units():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return ("AMX" if "amx_bf16" in flags
                        else "AVX-512 BF16" if "avx512_bf16" in flags else "")
    return ""


def main():
    binary, models, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    events = os.path.join(work, "pu20.h5")
    run([binary, "generate", "--pixel-only", "-n", str(EVENTS), "--pileup", "20", "--seed",
         str(SEED), "--first-event-id", str(FIRST_ID), "-o", events, "-f"])
    got, lines = {}, {}
    for precision in ("float32", "bfloat16", "float16"):
        report = os.path.join(work, precision + ".json")
        out = run([binary, "run", "-c", os.path.join(models, "pipeline.yaml"), "-i", events,
                   "-o", os.path.join(work, precision + ".h5"), "-f", "-j", "1", "--gpu", "off",
                   "--precision", precision, "--metrics-json", report])
        lines[precision] = [l for l in out.splitlines() if "pipeline on the CPU" in l]
        got[precision] = json.load(open(report))["physics"]["processed"]
    failed = []
    units = cpu_bf16_units()
    want = {"float32": "float32)",
            "bfloat16": ("bfloat16 on " + units) if units else "bfloat16, emulated",
            "float16": "float32: float16 is for GPUs"}
    for precision, text in want.items():
        ok = len(lines[precision]) == 1 and text in lines[precision][0]
        print(f"{precision}: layout line {lines[precision]} {'has' if ok else 'LACKS'} '{text}'")
        if not ok:
            failed.append(f"{precision} layout line")
    f32, bf16, f16 = got["float32"], got["bfloat16"], got["float16"]
    if f16 != f32:
        failed.append("float16 on the CPU is not the float32 run")
    n_pt = f32["particles_pt_gt_1gev"]
    if n_pt < 50:
        sys.exit(f"FAILED: only {n_pt} particles with pT > 1 GeV in the sample")
    for key, n in (("efficiency_pt_gt_1gev", n_pt), ("fake_rate", max(f32["tracks"], 1))):
        p = f32[key]
        tol = 3.0 * math.sqrt(max(p * (1.0 - p), 0.01) / n)
        ok = abs(bf16[key] - p) <= tol
        print(f"{key}: float32 {p:.4f}, bfloat16 {bf16[key]:.4f}, allowed difference {tol:.4f}"
              f" {'ok' if ok else 'FAIL'}")
        if not ok:
            failed.append(key)
    if bf16 == f32:
        # Identical to the last digit would mean the models never ran in bfloat16.
        failed.append("bfloat16 gave exactly the float32 numbers")
    if failed:
        sys.exit("FAILED: " + ", ".join(failed))
    print("OK")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Data-parallel training: `mpirun -np 2 quench train` must train the same model as one process
with the same seed and global batch (the gradients of the two half batches averaged are the
gradient of the whole batch; cnn has no batch norm), write one output from rank 0, refuse a batch
that does not divide over the processes, and leave no file when it fails. Exit 77 (skipped) when
quench was built without MPI or mpirun is absent. Needs only the Python standard library."""
import argparse, json, os, shutil, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
# The two runs' logits on the same test images (quench compare): equal up to float summation
# order (measured 55.8 dB) while 20 steps move the model far from where it started (6.5 dB); a
# missing or doubled gradient average gives a different model.
MIN_SQNR_DB = 40.0


def train_args(quench, out, batch=64):
    return [quench, "train", CNN, "--data", "fmnist:train", "--steps", "20", "--batch",
            str(batch), "--lr", "0.01", "--optimizer", "sgd", "--schedule", "constant", "--seed",
            "3", "--threads", "1", "--json", "-o", out]


def logits_sqnr(quench, a, b):
    p = subprocess.run([quench, "compare", a, b, "--data", "fmnist:test", "--limit", "64",
                        "--json"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])["outputs"][0]["sqnr_db"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    quench = os.path.join(a.build, "quench")
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        print("skipped: mpirun is not installed (Debian: openmpi-bin)")
        return 77
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    mpi = [mpirun, "--oversubscribe", "-np", "2"]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        one, two = os.path.join(tmp, "one.onnx"), os.path.join(tmp, "two.onnx")
        p1 = subprocess.run(train_args(quench, one), capture_output=True, text=True)
        p2 = subprocess.run(mpi + train_args(quench, two), capture_output=True, text=True, env=env)
        if "built without MPI" in p2.stderr:
            print("skipped: quench was built without MPI")
            return 77
        for name, p in (("1 process", p1), ("2 processes", p2)):
            if p.returncode != 0:
                print(f"FAILED: {name}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
                return 1
        r1 = json.loads(p1.stdout.strip().splitlines()[-1])
        lines = [l for l in p2.stdout.strip().splitlines() if l.startswith("{")]
        if len(lines) != 1:
            print(f"FAILED: expected one JSON report (rank 0), got {len(lines)}")
            failures += 1
        r2 = json.loads(lines[-1])
        print(f"1 process: {r1['seconds']:.1f} s, loss {r1['epochs'][0]['loss']:.5f}; "
              f"2 processes: {r2['seconds']:.1f} s, loss {r2['epochs'][0]['loss']:.5f}")
        if abs(r1["epochs"][0]["loss"] - r2["epochs"][0]["loss"]) > 1e-3:
            print("FAILED: the mean training loss of the two runs differs")
            failures += 1
        if r1["epochs"][0]["train_accuracy"] != r2["epochs"][0]["train_accuracy"]:
            print("FAILED: the training accuracy over the same batches differs")
            failures += 1
        same, moved = logits_sqnr(quench, one, two), logits_sqnr(quench, one, CNN)
        print(f"logits, 1 vs 2 processes: {same:.1f} dB; trained vs start: {moved:.1f} dB")
        if same < MIN_SQNR_DB:
            print(f"FAILED: two processes trained a different model (< {MIN_SQNR_DB} dB)")
            failures += 1
        if sorted(os.listdir(tmp)) != ["one.onnx", "two.onnx"]:
            print(f"FAILED: stray files: {sorted(os.listdir(tmp))}")
            failures += 1

        # A global batch that does not divide over the processes: refused, nothing written.
        bad = os.path.join(tmp, "bad.onnx")
        p = subprocess.run(mpi + train_args(quench, bad, batch=63), capture_output=True,
                           text=True, env=env)
        if p.returncode == 0 or "does not divide evenly over 2 processes" not in p.stderr:
            print(f"FAILED: batch 63 over 2 processes: exit {p.returncode}: {p.stderr[-300:]}")
            failures += 1
        if os.path.exists(bad):
            print("FAILED: a failed run wrote its output")
            failures += 1
    print("OK" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

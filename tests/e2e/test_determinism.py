#!/usr/bin/env python3
"""Determinism and crash safety of the files quench writes:
- `quench quantize` twice on the same inputs writes byte-identical models, with 1 thread and with
  2 (and the two agree), for a min-max and a histogram (entropy) calibration;
- `quench calibrate` on shards, merged in any order, gives the table of one run over all of them;
- SIGKILL of `quantize` / `calibrate` at random moments never leaves a partial file at the output
  path: it is absent or byte-identical to a complete run's.
Needs only the Python standard library and Fashion-MNIST (skipped, exit 77, without it)."""
import argparse, filecmp, os, random, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
FMNIST = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
CALIB = ["--calib", "fmnist:train", "--calib-size", "96", "--calib-batch", "32"]


class Checks:
    def __init__(self, build):
        self.quench = os.path.join(build, "quench")
        self.failures = []

    def run(self, args):
        p = subprocess.run([self.quench] + args, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"quench {' '.join(args)}: exit {p.returncode}: {p.stderr[-400:]}")

    def check(self, label, ok, detail=""):
        print(("ok      " if ok else "FAILED  ") + label + (f": {detail}" if detail else ""))
        if not ok:
            self.failures.append(label)


def same(a, b):
    return os.path.exists(a) and os.path.exists(b) and filecmp.cmp(a, b, shallow=False)


def quantize_twice(c, t):
    for method in ["minmax", "entropy"]:
        outs = {}
        for threads in ["1", "2"]:
            for run in ["a", "b"]:
                out = t(f"q_{method}_{threads}{run}.onnx")
                c.run(["quantize", CNN, "-o", out, "--method", method, "--threads", threads] + CALIB)
                outs[threads + run] = out
            c.check(f"quantize --method {method} --threads {threads}: two runs byte-identical",
                    same(outs[threads + "a"], outs[threads + "b"]))
        c.check(f"quantize --method {method}: 1 and 2 threads byte-identical",
                same(outs["1a"], outs["2a"]))


def calibrate_shards(c, t):
    base = ["calibrate", CNN, "--data", "fmnist:train", "--calib-batch", "16", "--method", "entropy"]
    c.run(base + ["--calib-size", "96", "-o", t("whole.json")])
    shards = []
    for i, (offset, size) in enumerate([(0, 32), (32, 48), (80, 16)]):
        shards.append(t(f"shard{i}.json"))
        c.run(base + ["--offset", str(offset), "--calib-size", str(size), "-o", shards[-1]])
    orders = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]]
    for order in orders:
        merged = t("merged_" + "".join(map(str, order)) + ".json")
        c.run(["calibrate", "--merge"] + [shards[i] for i in order] + ["-o", merged])
        c.check(f"calibrate: shards merged in order {order} give the whole run's table",
                same(merged, t("whole.json")))


def kill_at_random(c, t, label, args, out, reference, seconds, rng, attempts):
    """Starts `args`, SIGKILLs it after a random delay, checks the output path; repeats. Delays
    are drawn over the second half of a complete run (`seconds`), where the output is written."""
    killed = 0
    for attempt in range(attempts):
        if os.path.exists(out):
            os.remove(out)
        delay = rng.uniform(0.5, 1.05) * seconds
        p = subprocess.Popen([c.quench] + args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        if os.path.exists(out) and not same(out, reference):
            c.check(f"{label}: SIGKILL after {delay:.2f} s left a partial file", False,
                    f"{os.path.getsize(out)} bytes at {out}")
            return
    leftovers = [f for f in os.listdir(os.path.dirname(out)) if ".tmp-" in f]
    c.check(f"{label}: {attempts} runs, {killed} killed at random, the output path always absent "
            f"or complete", True,
            f"{len(leftovers)} temporary file(s) left beside it (named .NAME.tmp-PID-*)")


def crash_safety(c, t, attempts):
    rng = random.Random(16)
    os.makedirs(t("kill"))
    out = os.path.join(t("kill"), "q.onnx")
    ref = t("q_ref.onnx")
    start = time.time()
    c.run(["quantize", CNN, "-o", ref, "--threads", "1"] + CALIB)
    kill_at_random(c, t, "quantize", ["quantize", CNN, "-o", out, "--threads", "1"] + CALIB,
                   out, ref, time.time() - start, rng, attempts)
    out = os.path.join(t("kill"), "table.json")
    ref = t("table_ref.json")
    cal = ["calibrate", CNN, "--data", "fmnist:train", "--calib-size", "96", "--threads", "1"]
    start = time.time()
    c.run(cal + ["-o", ref])
    kill_at_random(c, t, "calibrate", cal + ["-o", out], out, ref, time.time() - start, rng,
                   attempts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--kills", type=int, default=12, help="SIGKILLs per command")
    a = ap.parse_args()
    if not os.path.isdir(FMNIST):
        print(f"skipped: Fashion-MNIST is not in {FMNIST}")
        return 77
    c = Checks(a.build)
    with tempfile.TemporaryDirectory() as tmp:
        t = lambda name: os.path.join(tmp, name)  # noqa: E731
        quantize_twice(c, t)
        calibrate_shards(c, t)
        crash_safety(c, t, a.kills)
    if c.failures:
        print(f"{len(c.failures)} check(s) failed: {', '.join(c.failures)}")
        return 1
    print("quench's outputs are deterministic and never partial")
    return 0


if __name__ == "__main__":
    sys.exit(main())

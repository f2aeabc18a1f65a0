#!/usr/bin/env python3
"""The command-line tool on bad input: a clear message on stderr, the documented non-zero exit
code, and no crash, for every case of the foundation and static-quantization issues. Needs only
the Python standard library."""
import argparse, json, os, signal, struct, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAD = os.path.join(ROOT, "tests", "data", "bad")
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
MOBILENET = os.path.join(ROOT, "models", "fmnist", "mobilenetv2.onnx")
ORT_QDQ = os.path.join(ROOT, "models", "fmnist", "ort", "cnn.ort_qdq.onnx")
LSTM = os.path.join(ROOT, "models", "fmnist", "lstm.onnx")
VIT = os.path.join(ROOT, "models", "fmnist", "vit.onnx")

# Exit codes (docs/cli.md).
USAGE, INVALID_MODEL, UNSUPPORTED, IO, RESOURCE = 2, 3, 4, 5, 6


def write_npy(path, dtype, shape, fill=0):
    """A .npy file (format 1.0) of the given little-endian dtype ('<f4', '<i8', ...)."""
    size = {"<f4": 4, "<f8": 8, "<i8": 8, "|u1": 1}[dtype]
    n = 1
    for d in shape:
        n *= d
    dims = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {dims}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(bytes([fill]) * (n * size))


class Cli:
    def __init__(self, build, tmp):
        self.quench = os.path.join(build, "quench")
        self.tmp = tmp
        self.failures = []

    def expect(self, label, args, code, *needles):
        p = subprocess.run([self.quench] + args, capture_output=True, text=True)
        err = p.stderr
        ok = p.returncode == code and all(n in err + p.stdout for n in needles)
        crashed = p.returncode < 0 or p.returncode >= 128 and p.returncode != 130
        print(("ok      " if ok else "FAILED  ") + f"{label}: exit {p.returncode}: {err.strip()[:160]}")
        if not ok or crashed:
            self.failures.append(label)
            if not ok:
                print(f"        expected exit {code} and {needles}")


def inspect_cases(c):
    """`inspect` runs the checks a session runs and exits with the code `run` would: every
    problem listed (node, value, expected vs got), non-zero for a model quench cannot run."""
    bad = lambda name: os.path.join(BAD, name)  # noqa: E731
    c.expect("inspect: cycle", ["inspect", bad("cycle.onnx")], INVALID_MODEL, "cycle", "'r1'",
             "'r2'")
    c.expect("inspect: input nothing produces", ["inspect", bad("dangling_input.onnx")],
             INVALID_MODEL, "'add'", "'ghost'")
    c.expect("inspect: conv kernel larger than its input", ["inspect", bad("conv_kernel_too_big.onnx")],
             INVALID_MODEL, "big_kernel", "larger")
    c.expect("inspect: unsupported op", ["inspect", bad("unsupported_op.onnx")], UNSUPPORTED,
             "mystery", "FrobnicateLayer")
    c.expect("inspect: every problem of a graph", ["inspect", bad("many_problems.onnx")],
             INVALID_MODEL, "'ghost'", "'phantom'", "mystery", "3 problem(s)")
    c.expect("inspect: every shape error", ["inspect", bad("bad_shapes.onnx")], INVALID_MODEL,
             "'matmul'", "'concat'", "2 problem(s)")
    c.expect("inspect: a model quench runs", ["inspect", CNN], 0)
    c.expect("inspect: a QDQ model quench runs", ["inspect", ORT_QDQ], 0)
    # The problems are also in --json, one object each.
    p = subprocess.run([c.quench, "inspect", bad("many_problems.onnx"), "--json"],
                       capture_output=True, text=True)
    try:
        j = json.loads(p.stdout.strip().splitlines()[-1])
        ok = (p.returncode == INVALID_MODEL and j["runnable"] is False and
              [q["value"] for q in j["problems"][:2]] == ["ghost", "phantom"] and
              j["problems"][2]["kind"] == "unsupported")
    except (ValueError, IndexError, KeyError):
        ok = False
    print(("ok      " if ok else "FAILED  ") + f"inspect --json problems: exit {p.returncode}")
    if not ok:
        c.failures.append("inspect --json problems")


def interrupt_when(argv, marker):
    """Runs `argv`, sends SIGINT once a stderr line holds `marker` (or after 120 s); returns the
    exit code, whether the marker was seen, and stderr."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.time() + 120
    while time.time() < deadline and marker not in line and p.poll() is None:
        line = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    return p.returncode, marker in line, err


def interrupt_calibration(c, t):
    """Ctrl-C while calibrating: exit 130, and neither the output nor a temporary file is left."""
    out_dir = t("interrupted")
    os.makedirs(out_dir)
    out = os.path.join(out_dir, "m.onnx")
    code, seen, err = interrupt_when([c.quench, "quantize", MOBILENET, "-o", out, "--calib",
                                      "fmnist:train", "--calib-size", "60000", "--threads", "1"],
                                     "calibrating")
    left = os.listdir(out_dir)
    ok = code == 130 and seen and not left
    print(("ok      " if ok else "FAILED  ") +
          f"interrupt during calibration: exit {code}, files left {left}: {err.strip()[-120:]}")
    if not ok:
        c.failures.append("interrupt during calibration")


def train_cases(c, t):
    """quench train: refusals before any work, NaN loss, and Ctrl-C without a half-written file."""
    write_npy(t("unlabeled.npy"), "<f4", [8, 1, 28, 28])
    c.expect("train on unlabeled data", ["train", CNN, "--data", "npy:" + t("unlabeled.npy"),
                                         "-o", t("t.onnx")], USAGE, "no labels")
    c.expect("train an op without a gradient", ["train", LSTM, "--steps", "1", "-o", t("t.onnx")],
             UNSUPPORTED, "has no gradient")
    c.expect("train with a NaN loss", ["train", CNN, "--steps", "20", "--lr", "1e30", "--threads",
                                       "1", "--schedule", "constant", "-o", t("t.onnx")],
             USAGE, "at step")
    c.expect("train with an unknown optimizer", ["train", CNN, "--optimizer", "rmsprop", "-o",
                                                 t("t.onnx")], USAGE, "rmsprop")
    out_dir = t("train_interrupted")
    os.makedirs(out_dir)
    code, seen, err = interrupt_when([c.quench, "train", CNN, "--epochs", "1", "--threads", "1",
                                      "-o", os.path.join(out_dir, "m.onnx")], "epoch")
    left = os.listdir(out_dir)
    ok = code == 130 and seen and not left
    print(("ok      " if ok else "FAILED  ") +
          f"interrupt during training: exit {code}, files left {left}: {err.strip()[-120:]}")
    if not ok:
        c.failures.append("interrupt during training")
    checkpoint_cases(c, t)


def checkpoint_cases(c, t):
    """quench train --checkpoint: Ctrl-C leaves a checkpoint and no output; --resume finishes the
    run; a checkpoint of another run and an unwritable folder are refused before any training."""
    ck = t("ck")
    out = t("ck_out")
    os.makedirs(out)
    args = [c.quench, "train", CNN, "--steps", "120", "--batch", "16", "--threads", "1",
            "--checkpoint", ck]
    code, seen, err = interrupt_when(args + ["-o", os.path.join(out, "m.onnx")], "loss")
    saved = os.listdir(ck) if os.path.isdir(ck) else []
    ok = (code == 130 and seen and not os.listdir(out) and saved == ["checkpoint.qckpt"]
          and "--resume" in err)
    print(("ok      " if ok else "FAILED  ") +
          f"interrupt with --checkpoint: exit {code}, output {os.listdir(out)}, "
          f"checkpoint folder {saved}: {err.strip()[-120:]}")
    if not ok:
        c.failures.append("interrupt with --checkpoint")
    c.expect("resume with another batch", ["train", CNN, "--steps", "120", "--batch", "32",
                                           "--checkpoint", ck, "--resume", "-o", t("r.onnx")],
             USAGE, "batch 16, this run has batch 32")
    c.expect("resume without a checkpoint", ["train", CNN, "--checkpoint", t("none"), "--resume",
                                             "-o", t("r.onnx")], IO, "no checkpoint to resume")
    c.expect("unwritable checkpoint folder (checked first)",
             ["train", CNN, "--data", "idx:" + t("none.gz"), "--checkpoint",
              t("no/such/ck"), "-o", t("r.onnx")], IO, "checkpoint folder")
    p = subprocess.run(args + ["--resume", "--json", "-o", os.path.join(out, "m.onnx")],
                       capture_output=True, text=True)
    steps = json.loads(p.stdout.strip().splitlines()[-1])["steps"] if p.returncode == 0 else -1
    ok = steps == 120 and os.listdir(out) == ["m.onnx"] and "resuming from step" in p.stderr
    print(("ok      " if ok else "FAILED  ") +
          f"resume after Ctrl-C: exit {p.returncode}, {steps} steps: {p.stderr.strip()[-120:]}")
    if not ok:
        c.failures.append("resume after Ctrl-C")


def quantize_cases(c, t):
    """quench quantize / calibrate on bad input (static-quantization issue)."""
    write_npy(t("calib3.npy"), "<f4", [4, 3, 32, 32])
    c.expect("calibration data of the wrong shape",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("calib3.npy")], USAGE,
             "[3,32,32]", "'input'", "[N,1,28,28]")
    write_npy(t("calib0.npy"), "<f4", [0, 1, 28, 28])
    c.expect("empty calibration data",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("calib0.npy")], USAGE,
             "no samples")
    c.expect("empty calibration data (calibrate)",
             ["calibrate", CNN, "--data", "npy:" + t("calib0.npy"), "-o", t("table.json")], USAGE,
             "no samples")
    # The output is checked before anything else: the missing data file is never reached.
    c.expect("unwritable output (checked first)",
             ["quantize", CNN, "-o", t("no/such/dir/q.onnx"), "--calib", "idx:" + t("none.gz")], IO,
             "q.onnx", "does not exist")
    write_npy(t("zeros.npy"), "<f4", [8, 1, 28, 28])
    c.expect("skip naming no node",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("zeros.npy"), "--skip",
              "nope"], USAGE, "'nope'", "matches no node")
    with open(t("recipe.json"), "w") as f:
        json.dump({"nodes": {"/no/such/Conv": "skip"}}, f)
    c.expect("recipe naming no node",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("zeros.npy"), "--recipe",
              t("recipe.json")], USAGE, "'/no/such/Conv'")
    with open(t("recipe_bad.json"), "w") as f:
        f.write('{"nodes": ')
    c.expect("recipe that is not JSON",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("zeros.npy"), "--recipe",
              t("recipe_bad.json")], USAGE, "recipe_bad.json")
    c.expect("model already quantized",
             ["quantize", ORT_QDQ, "-o", t("q.onnx"), "--calib", "npy:" + t("zeros.npy")], USAGE,
             "already quantized", "DequantizeLinear")
    c.expect("unknown calibration method",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "npy:" + t("zeros.npy"), "--method",
              "median"], USAGE, "median")
    # Bias correction without data is the analytic form: it needs batch norms to read.
    c.expect("data-free bias correction on a model without BatchNormalization",
             ["quantize", CNN, "-o", t("q.onnx"), "--weight-only", "--weights", "int4",
              "--bias-correction"], USAGE, "has no BatchNormalization", "--calib DATA")
    c.expect("data-free bias correction after CLE",
             ["quantize", MOBILENET, "-o", t("q.onnx"), "--weight-only", "--weights", "int4",
              "--bias-correction", "--cle"], UNSUPPORTED, "--cle", "--calib DATA")
    c.expect("GPTQ with a table only",
             ["quantize", CNN, "-o", t("q.onnx"), "--table", t("none.json"), "--gptq"], USAGE,
             "a table gives activation ranges only")
    c.expect("unknown GPTQ target",
             ["quantize", CNN, "-o", t("q.onnx"), "--calib", "random:8", "--weights", "int4",
              "--gptq", "--gptq-target", "output"], USAGE, "--gptq-target expects float or "
             "quantized", "'output'")
    if os.path.exists(t("q.onnx")):
        print("FAILED  a failed quantize left its output behind")
        c.failures.append("output left behind")
    # A constant data set (every activation has min = max) still gives a usable model.
    c.expect("constant calibration data", ["quantize", CNN, "-o", t("q.onnx"), "--calib",
                                           "npy:" + t("zeros.npy")], 0)
    c.expect("the constant-data model runs", ["eval", t("q.onnx"), "--data", "fmnist:test",
                                              "--limit", "64"], 0)
    c.expect("random calibration data shaped like the model's input",
             ["quantize", CNN, "-o", t("qr.onnx"), "--calib", "random:16"], 0)
    write_npy(t("nan.npy"), "<f4", [8, 1, 28, 28], fill=255)  # 0xffffffff is a NaN
    c.expect("NaN calibration data: left out, counted, named",
             ["quantize", CNN, "-o", t("qn.onnx"), "--calib", "npy:" + t("nan.npy")], 0,
             "warning", "'/features/features.0/Div_output_0'", "6272 NaN")
    c.expect("demo, small", ["demo", "--limit", "64", "--calib-size", "32", "--save", t("demo.onnx")], 0)
    if not os.path.exists(t("demo.onnx")):
        print("FAILED  demo --save wrote nothing")
        c.failures.append("demo --save")
    c.expect("demo, unwritable --save", ["demo", "--limit", "64", "--save", t("no/dir/d.onnx")], IO,
             "does not exist")
    interrupt_calibration(c, t)


def dynamic_cases(c, t):
    """quench quantize --mode dynamic: refused options, nothing to quantize, small runs."""
    out = t("dyn.onnx")
    c.expect("dynamic with calibration data", ["quantize", CNN, "-o", out, "--mode", "dynamic",
                                               "--calib", "fmnist:train"], USAGE,
             "--mode dynamic", "no calibration data", "--calib")
    c.expect("dynamic with --act", ["quantize", CNN, "-o", out, "--mode", "dynamic", "--act", "s8"],
             USAGE, "--act-granularity")
    c.expect("granularity in static mode", ["quantize", CNN, "-o", out, "--calib", "random:8",
                                            "--act-granularity", "token"], USAGE, "dynamic only")
    c.expect("unknown granularity", ["quantize", CNN, "-o", out, "--mode", "dynamic",
                                     "--act-granularity", "channel"], USAGE, "--act-granularity")
    c.expect("unknown mode", ["quantize", CNN, "-o", out, "--mode", "int3"], USAGE, "int3")
    c.expect("nothing to quantize", ["quantize", CNN, "-o", out, "--mode", "dynamic", "--skip-op",
                                     "Conv", "Gemm"], USAGE, "nothing to quantize", "Conv",
             "no file written")
    c.expect("dynamic on a quantized model", ["quantize", ORT_QDQ, "-o", out, "--mode", "dynamic"],
             USAGE, "already quantized")
    if os.path.exists(out):
        print("FAILED  a refused dynamic quantization wrote its output")
        c.failures.append("dynamic output left behind")
    c.expect("dynamic lstm, first layer kept", ["quantize", LSTM, "-o", out, "--mode", "dynamic",
                                                "--skip", "first"], 0)
    c.expect("the dynamic lstm runs", ["eval", out, "--limit", "64"], 0)
    c.expect("dynamic vit per token", ["quantize", VIT, "-o", t("vit_tok.onnx"), "--mode",
                                       "dynamic", "--act-granularity", "token"], 0)
    c.expect("the per-token vit runs", ["eval", t("vit_tok.onnx"), "--limit", "64"], 0)


def half_cases(c, t):
    """quench quantize --mode fp16 / bf16: refused options and inputs, small runs."""
    out = t("half.onnx")
    c.expect("fp16 with calibration data", ["quantize", CNN, "-o", out, "--mode", "fp16", "--calib",
                                            "fmnist:train"], USAGE, "--mode fp16", "--calib")
    c.expect("bf16 with --per-tensor", ["quantize", CNN, "-o", out, "--mode", "bf16", "--per-tensor"],
             USAGE, "--per-tensor")
    c.expect("--keep-io-types in dynamic mode", ["quantize", CNN, "-o", out, "--mode", "dynamic",
                                                 "--keep-io-types", "false"], USAGE, "fp16 and bf16")
    c.expect("fp16 on a quantized model", ["quantize", ORT_QDQ, "-o", out, "--mode", "fp16"], USAGE,
             "already quantized")
    c.expect("fp16 with first", ["quantize", CNN, "-o", out, "--mode", "fp16", "--skip", "first"],
             USAGE, "first")
    if os.path.exists(out):
        print("FAILED  a refused fp16 conversion wrote its output")
        c.failures.append("fp16 output left behind")
    c.expect("fp16 cnn", ["quantize", CNN, "-o", t("cnn16.onnx"), "--mode", "fp16"], 0)
    c.expect("the fp16 cnn runs", ["eval", t("cnn16.onnx"), "--limit", "64"], 0)
    c.expect("fp16 of an fp16 model", ["quantize", t("cnn16.onnx"), "-o", out, "--mode", "fp16"],
             USAGE, "already holds float16")
    c.expect("bf16 lstm, half inputs", ["quantize", LSTM, "-o", t("lstm_bf16.onnx"), "--mode", "bf16",
                                        "--keep-io-types", "false"], 0)


def compare_cases(c, t):
    """quench compare: JSON fields, models that share nothing, refused inputs."""
    RESNET = os.path.join(ROOT, "models", "fmnist", "resnet20.onnx")
    p = subprocess.run([c.quench, "compare", CNN, ORT_QDQ, "--limit", "32", "--json"],
                       capture_output=True, text=True)
    ok = p.returncode == 0
    if ok:
        j = json.loads(p.stdout.strip().splitlines()[-1])
        rows = j.get("tensors", [])
        fields = {"name", "sqnr_db", "cosine", "mse", "max_abs"}
        # null: an exact match, +infinity
        db = [float("inf") if r.get("sqnr_db") is None else r["sqnr_db"] for r in rows]
        ok = (len(rows) >= 10 and all(fields <= set(r) for r in rows)
              and db == sorted(db)
              and len(j.get("outputs", [])) == 1 and "accuracy_a" in j and "accuracy_b" in j)
    print(("ok      " if ok else "FAILED  ") + "compare --json fields and order")
    if not ok:
        c.failures.append("compare --json")
        print(p.stdout[-400:], p.stderr[-400:])
    c.expect("compare with no shared tensors", ["compare", CNN, RESNET, "--limit", "16"], 0,
             "no shared tensors", "outputs compared only")
    c.expect("compare with a missing model", ["compare", CNN, LSTM.replace("lstm", "nope"),
                                                    "--limit", "4"], IO, "nope")
    # Ctrl-C once the comparison has started: exit 130.
    p = subprocess.Popen([c.quench, "compare", CNN, ORT_QDQ, "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.time() + 120
    while time.time() < deadline and "comparing" not in line and p.poll() is None:
        line = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    ok = p.returncode == 130 and "comparing" in line and "interrupted" in err
    print(("ok      " if ok else "FAILED  ") + f"interrupt during compare: exit {p.returncode}")
    if not ok:
        c.failures.append("interrupt during compare")
    write_npy(t("vec.npy"), "<f4", [4, 10])
    c.expect("compare on data that fits neither", ["compare", CNN, ORT_QDQ, "--data",
                                                   "npy:" + t("vec.npy")], USAGE, "[N,1,28,28]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = Cli(a.build, tmp)
        t = lambda name: os.path.join(tmp, name)  # noqa: E731
        # Files that are not models.
        c.expect("missing model", ["inspect", t("nope.onnx")], IO, "does not exist")
        open(t("empty.onnx"), "wb").close()
        c.expect("empty file", ["inspect", t("empty.onnx")], INVALID_MODEL, "is empty")
        with open(t("text.onnx"), "w") as f:
            f.write("definitely not protobuf\n" * 10)
        c.expect("text file", ["inspect", t("text.onnx")], INVALID_MODEL, "not")
        with open(CNN, "rb") as f:
            data = f.read()
        with open(t("truncated.onnx"), "wb") as f:
            f.write(data[: len(data) // 3])
        c.expect("truncated protobuf", ["inspect", t("truncated.onnx")], INVALID_MODEL, "truncated.onnx")
        c.expect("a folder", ["inspect", tmp], IO, "folder")
        # Malformed graphs and tensors.
        bad = lambda name: os.path.join(BAD, name)  # noqa: E731
        train_cases(c, t)
        c.expect("unsupported op", ["bench", bad("unsupported_op.onnx")], UNSUPPORTED,
                 "mystery", "FrobnicateLayer", "com.example")
        c.expect("cycle", ["bench", bad("cycle.onnx")], INVALID_MODEL, "cycle")
        c.expect("input nothing produces", ["bench", bad("dangling_input.onnx")], INVALID_MODEL, "'ghost'")
        c.expect("raw data too short", ["inspect", bad("short_raw_data.onnx")], INVALID_MODEL,
                 "'w'", "16 bytes", "needs 24")
        c.expect("huge dims", ["inspect", bad("huge_dims.onnx")], 6, "'w'")
        c.expect("negative dims", ["inspect", bad("negative_dims.onnx")], INVALID_MODEL, "negative")
        c.expect("external data outside the folder", ["inspect", bad("external_escape.onnx")],
                 INVALID_MODEL, "outside the model's folder")
        c.expect("external data absolute path", ["inspect", bad("external_absolute.onnx")],
                 INVALID_MODEL, "absolute")
        c.expect("conv kernel larger than its input", ["bench", bad("conv_kernel_too_big.onnx")],
                 INVALID_MODEL, "big_kernel", "larger")
        # Inputs of the wrong shape or type.
        write_npy(t("x3.npy"), "<f4", [1, 3, 28, 28])
        c.expect("input of the wrong shape", ["run", CNN, "--input", t("x3.npy")], USAGE,
                 "'input'", "[N,1,28,28]", "[1,3,28,28]")
        write_npy(t("xi.npy"), "<i8", [1, 1, 28, 28])
        c.expect("input of the wrong dtype", ["run", CNN, "--input", t("xi.npy")], USAGE,
                 "'input'", "float", "int64")
        c.expect("missing input file", ["run", CNN, "--input", t("none.npy")], IO, "none.npy")
        write_npy(t("x.npy"), "<f4", [1, 1, 28, 28])
        c.expect("unwritable output", ["run", CNN, "--input", t("x.npy"), "--output",
                                       t("no/such/dir/y.npy")], IO, "does not exist")
        c.expect("missing data file", ["eval", CNN, "--data", "idx:" + t("none.gz")], IO, "none.gz")
        write_npy(t("data.npy"), "<f4", [4, 3, 32, 32])
        c.expect("data of the wrong shape", ["eval", CNN, "--data", "npy:" + t("data.npy")], USAGE,
                 "[3,32,32]", "[N,1,28,28]")
        c.expect("bad option value", ["bench", CNN, "--batch", "0"], USAGE, "--batch")
        c.expect("bad shape option", ["bench", CNN, "--shape", "1,x,28"], USAGE, "--shape")
        inspect_cases(c)
        quantize_cases(c, t)
        dynamic_cases(c, t)
        half_cases(c, t)
        compare_cases(c, t)
        if c.failures:
            print(f"{len(c.failures)} case(s) failed: {', '.join(c.failures)}")
            return 1
    print("all CLI error cases behave")
    return 0


if __name__ == "__main__":
    sys.exit(main())

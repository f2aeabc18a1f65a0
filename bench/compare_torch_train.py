#!/usr/bin/env python3
"""One training step of quench against PyTorch on the same network, side by side in one run.

The PyTorch network is built from the ONNX file's own nodes and initializers (Conv, Gemm, Relu,
Clip, Add, Sub, Div, MaxPool, AveragePool, GlobalAveragePool, Flatten), so both sides train the
same weights. Three PyTorch forms are timed: FP32 training, and QAT with PyTorch's own
fake-quantization modules (torch.ao.nn.qat.Conv2d/Linear with the x86 QAT qconfig: per-channel
weight fake quant; activations through FusedMovingAvgObsFakeQuantize after the graph input and
after each unit output — Relu/Clip/Add/pool — where quench puts its Q/DQ).

quench's step time is taken from `quench train` (and `quench qat` with --qat) runs of two lengths
(SHORT and LONG steps, same batch): (t_long - t_short) / (LONG - SHORT), with t the training loop's
own time (`seconds` of --json), so start-up, loading, calibration and export never enter and the
first steps' warm-up cancels. Peak RSS of every run is reported too (a separate process per
run, ru_maxrss).

Usage: bench/compare_torch_train.py [--build build] [--models cnn,resnet20,mobilenetv2]
         [--batch 64] [--threads 1] [--steps 20] [--repeats 3] [--qat]
Needs torch and numpy (the peer venv: scripts/python-peer.sh). Prints a table and, last, one
JSON line.
"""
import argparse, gzip, json, os, resource, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.environ.get("QUENCH_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def fmnist_batch(n):
    import numpy as np
    with gzip.open(f"{DATA}/train-images-idx3-ubyte.gz") as f:
        d = f.read()
    x = np.frombuffer(d, np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n].astype(np.float32) / 255
    with gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
    return x, y


def build_torch(path, qat):
    """An nn.Module that executes the ONNX graph's nodes with the file's initializers."""
    import onnx, torch
    from onnx import numpy_helper
    model = onnx.load(path)
    g = model.graph
    inits = {t.name: torch.tensor(numpy_helper.to_array(t).copy()) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = torch.tensor(numpy_helper.to_array(n.attribute[0].t).copy())
    attrs = lambda n: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
    if qat:
        qconfig = torch.ao.quantization.get_default_qat_qconfig("x86")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleDict()
            self.plan = []
            self.input_name = g.input[0].name
            if qat:
                self.layers["fq_input"] = qconfig.activation()
            for i, n in enumerate(g.node):
                key = f"n{i}"
                a = attrs(n)
                if n.op_type == "Conv":
                    w = inits[n.input[1]]
                    conv = torch.nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0],
                                           w.shape[2:], stride=a.get("strides", [1, 1]),
                                           padding=a.get("pads", [0, 0, 0, 0])[:2],
                                           dilation=a.get("dilations", [1, 1]),
                                           groups=a.get("group", 1), bias=len(n.input) > 2)
                    conv.weight.data.copy_(w)
                    if len(n.input) > 2:
                        conv.bias.data.copy_(inits[n.input[2]])
                    if qat:
                        conv.qconfig = qconfig
                        conv = torch.ao.nn.qat.Conv2d.from_float(conv)
                    self.layers[key] = conv
                elif n.op_type == "Gemm":
                    w = inits[n.input[1]]
                    if not a.get("transB", 0):
                        w = w.t()
                    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=len(n.input) > 2)
                    lin.weight.data.copy_(w)
                    if len(n.input) > 2:
                        lin.bias.data.copy_(inits[n.input[2]])
                    if qat:
                        lin.qconfig = qconfig
                        lin = torch.ao.nn.qat.Linear.from_float(lin)
                    self.layers[key] = lin
                elif n.op_type in ("Relu", "Clip", "Add", "MaxPool", "AveragePool",
                                   "GlobalAveragePool") and qat:
                    self.layers[key] = qconfig.activation()
                self.plan.append((key, n, a))

        def forward(self, x):
            import torch.nn.functional as F
            env = dict(inits)
            env[self.input_name] = self.layers["fq_input"](x) if qat else x
            for key, n, a in self.plan:
                v = [env[i] for i in n.input if i]
                t = n.op_type
                if t == "Constant":
                    continue
                if t in ("Conv", "Gemm"):
                    y = self.layers[key](v[0])
                elif t == "Relu":
                    y = F.relu(v[0])
                elif t == "Clip":
                    lo = v[1] if len(v) > 1 else a.get("min")
                    hi = v[2] if len(v) > 2 else a.get("max")
                    y = torch.clamp(v[0], float(lo), float(hi))
                elif t == "Add":
                    y = v[0] + v[1]
                elif t == "Sub":
                    y = v[0] - v[1]
                elif t == "Div":
                    y = v[0] / v[1]
                elif t == "MaxPool":
                    y = F.max_pool2d(v[0], a["kernel_shape"], a.get("strides"),
                                     a.get("pads", [0, 0, 0, 0])[:2])
                elif t == "AveragePool":
                    y = F.avg_pool2d(v[0], a["kernel_shape"], a.get("strides"),
                                     a.get("pads", [0, 0, 0, 0])[:2])
                elif t == "GlobalAveragePool":
                    y = v[0].mean((2, 3), keepdim=True)
                elif t == "Flatten":
                    y = torch.flatten(v[0], a.get("axis", 1))
                else:
                    raise SystemExit(f"{path}: node {n.name} op {t} is not in this builder")
                if qat and key in self.layers and t not in ("Conv", "Gemm"):
                    y = self.layers[key](y)
                env[n.output[0]] = y
            return env[g.output[0].name]

    return Net()


def torch_step_child(args):
    """Child process: time one training step of PyTorch; print JSON."""
    import numpy as np, torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = build_torch(args.model, args.form == "qat").train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = fmnist_batch(args.batch * 4)
    xs = [torch.from_numpy(x[i * args.batch:(i + 1) * args.batch].copy()) for i in range(4)]
    ys = [torch.from_numpy(y[i * args.batch:(i + 1) * args.batch].copy()) for i in range(4)]
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xs[i % 4]), ys[i % 4])
        loss.backward()
        opt.step()
        return float(loss)

    for i in range(3):
        step(i)
    times = []
    for i in range(args.steps):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step_ms": 1000 * statistics.median(times), "peak_rss_mib": rss}))


def run_child(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def quench_run(cmd, steps):
    """Training time and peak RSS of one quench run of `steps` steps (a child process): the
    `seconds` of its --json line (the training loop alone: no loading, calibration or export)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run(cmd + ["--steps", str(steps), "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    seconds = json.loads(p.stdout.strip().splitlines()[-1])["seconds"]
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(before, after) / 1024


def quench_step_ms(base_cmd, args):
    short, long_ = 5, 5 + args.steps
    diffs = []
    for _ in range(args.repeats):
        t_short, _ = quench_run(base_cmd, short)
        t_long, _ = quench_run(base_cmd, long_)
        diffs.append((t_long - t_short) / (long_ - short))
    # Peak RSS of a run of its own (RUSAGE_CHILDREN keeps the maximum over all children).
    rss = run_child(["/usr/bin/env", "python3", "-c",
                     "import resource,subprocess,sys,json;"
                     f"subprocess.run({base_cmd + ['--steps', str(long_)]!r},"
                     "capture_output=True,check=True);"
                     "print(json.dumps({'rss':resource.getrusage("
                     "resource.RUSAGE_CHILDREN).ru_maxrss/1024}))"])["rss"]
    return 1000 * statistics.median(diffs), rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="cnn,resnet20,mobilenetv2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--qat", action="store_true", help="also time `quench qat` (w8a8)")
    ap.add_argument("--child", choices=["fp32", "qat"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.form = args.child
        return torch_step_child(args)

    quench = os.path.join(args.build, "quench")
    rows = []
    for name in args.models.split(","):
        model = os.path.join(ROOT, "models", "fmnist", f"{name}.onnx")
        row = {"model": name}
        for form in ["fp32", "qat"]:
            r = [run_child([sys.executable, __file__, "--child", form, "--model", model,
                            "--batch", str(args.batch), "--threads", str(args.threads),
                            "--steps", str(args.steps)]) for _ in range(args.repeats)]
            row[f"torch_{form}_ms"] = statistics.median(x["step_ms"] for x in r)
            row[f"torch_{form}_rss_mib"] = max(x["peak_rss_mib"] for x in r)
        common = ["--data", "fmnist:train", "--batch", str(args.batch), "--threads",
                  str(args.threads), "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9"]
        with_out = lambda cmd, tag: cmd + ["-o", os.path.join("/tmp", f"cmp_torch_{tag}.onnx")]
        row["quench_fp32_ms"], row["quench_fp32_rss_mib"] = quench_step_ms(
            with_out([quench, "train", model] + common, "train"), args)
        if args.qat:
            row["quench_qat_ms"], row["quench_qat_rss_mib"] = quench_step_ms(
                with_out([quench, "qat", model, "--bits", "w8a8", "--no-distill"] + common,
                         "qat"), args)
        rows.append(row)

    print(f"one training step, batch {args.batch}, {args.threads} thread(s), median of "
          f"{args.repeats} runs (ms; peak RSS MiB)")
    print(f"{'model':12} {'torch fp32':>11} {'quench fp32':>12} {'ratio':>6} "
          f"{'torch qat':>10} {'quench qat':>11} {'ratio':>6}")
    for r in rows:
        q = r.get("quench_qat_ms")
        print(f"{r['model']:12} {r['torch_fp32_ms']:11.1f} {r['quench_fp32_ms']:12.1f} "
              f"{r['quench_fp32_ms'] / r['torch_fp32_ms']:6.2f} {r['torch_qat_ms']:10.1f} "
              + (f"{q:11.1f} {q / r['torch_qat_ms']:6.2f}" if q else f"{'-':>11} {'-':>6}"))
    print(json.dumps({"batch": args.batch, "threads": args.threads, "rows": rows}))


if __name__ == "__main__":
    main()

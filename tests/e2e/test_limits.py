#!/usr/bin/env python3
"""Resource limits (docs/cli.md): hostile inputs that are small on disk but ask for huge memory
are refused with exit code 6 and a message naming the file, node or tensor, the size and the
limit; never an out-of-memory kill. Every case runs under an address-space limit (`ulimit -v`)
of 4 GiB, so an allocation the limits miss fails loudly instead of swapping the machine; the
peak RSS of each run is printed. Needs only the Python standard library."""
import argparse, gzip, os, resource, struct, subprocess, sys, tempfile, time, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAD = os.path.join(ROOT, "tests", "data", "bad")
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
RESOURCE = 6
ADDRESS_SPACE = 4 << 30


def limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


class Runner:
    def __init__(self, build, tmp, rlimit):
        self.quench = os.path.join(build, "quench")
        self.tmp = tmp
        self.rlimit = rlimit
        self.failures = []
        self.rows = []

    def expect(self, label, args, code, *needles, env=None):
        """Runs quench, checks the exit code and that stderr holds every needle, records the
        peak RSS (os.wait4's rusage of this one child)."""
        out_path, err_path = os.path.join(self.tmp, "out.txt"), os.path.join(self.tmp, "err.txt")
        start = time.time()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            p = subprocess.Popen([self.quench] + args, stdout=out, stderr=err,
                                 env=dict(os.environ, **(env or {})),
                                 preexec_fn=limit_address_space if self.rlimit else None)
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.time() - start
        with open(err_path, encoding="utf-8", errors="replace") as f:
            err = f.read().strip()
        rss_mib = usage.ru_maxrss / 1024
        ok = p.returncode == code and all(n in err for n in needles)
        print(("ok      " if ok else "FAILED  ") +
              f"{label}: exit {p.returncode}, peak RSS {rss_mib:.0f} MiB, {seconds:.1f} s: {err[:300]}")
        if not ok:
            print(f"        expected exit {code} and {needles}")
            self.failures.append(label)
        self.rows.append((label, p.returncode, rss_mib, err))


def npy_header(descr, shape):
    dims = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def sparse_npy(path, shape):
    """A float32 .npy whose data is a hole: the file claims its full size but uses no disk."""
    header = npy_header("<f4", shape)
    n = 4
    for d in shape:
        n *= d
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + n)


def idx_header(shape):
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)


def gzip_bomb(path, shape, zero_mib):
    """An IDX file in gzip members: the header, then `zero_mib` members of 1 MiB of zeros each
    (about 1 KiB compressed), so the file is ~1000 times smaller than what it decompresses to."""
    member = gzip.compress(b"\0" * (1 << 20), mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(idx_header(shape), mtime=0))
        for _ in range(zero_mib):
            f.write(member)


def png_header(path, width, height):
    """A PNG that declares width x height RGB pixels and holds one row of data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def identity_chain(path, nodes):
    """An ONNX model of `nodes` Identity nodes in a chain, written as protobuf bytes directly
    (the onnx package would take minutes): about 30 bytes per node on disk."""
    def field(number, payload):  # length-delimited field
        key = number << 3 | 2
        return varint(key) + varint(len(payload)) + payload

    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])

    def name(i):
        return b"v%x" % i

    def value_info(n):  # name, type: tensor of float (elem_type 1) of shape [1]
        return field(1, n) + field(2, field(1, b"\x08\x01" + field(2, field(1, b"\x08\x01"))))

    nodes_bytes = b"".join(field(1, field(1, name(i)) + field(2, name(i + 1)) + field(4, b"Identity"))
                           for i in range(nodes))
    graph = nodes_bytes + field(2, b"g") + field(11, value_info(name(0))) + \
        field(12, value_info(name(nodes)))
    # ir_version 8, the graph, opset_import {version 17}.
    model = b"\x08\x08" + field(7, graph) + field(8, b"\x10\x11")
    with open(path, "wb") as f:
        f.write(model)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-rlimit", action="store_true",
                    help="run without the address-space limit (sanitizer builds reserve more)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = lambda name: os.path.join(tmp, name)  # noqa: E731
        r = Runner(a.build, tmp, not a.no_rlimit)
        if a.no_rlimit:
            # The limit `ulimit -v` 4 GiB would give, set directly.
            os.environ["QUENCH_MAX_TENSOR_BYTES"] = "2G"
        bad = lambda name: os.path.join(BAD, name)  # noqa: E731
        print(f"address-space limit: {'none (QUENCH_MAX_TENSOR_BYTES=2G)' if a.no_rlimit else '4 GiB'}")

        # Graphs whose outputs would be petabytes: refused by node name, at inspect and at run.
        # The Reshape of 2^64 elements is refused by its shape inference (the count overflowed and
        # wrapped to [0] before), the others when the planner sizes their outputs.
        for model, node, why in [("expand_petabytes.onnx", "expand_peta", "QUENCH_MAX_TENSOR_BYTES"),
                                 ("tile_petabytes.onnx", "tile_peta", "QUENCH_MAX_TENSOR_BYTES"),
                                 ("reshape_petabytes.onnx", "reshape_peta", "more than 2^63 elements"),
                                 ("expand_overflow.onnx", "expand_overflow", "QUENCH_MAX_TENSOR_BYTES")]:
            r.expect(f"inspect {model}", ["inspect", bad(model)], RESOURCE, f"'{node}'", why)
            r.expect(f"bench {model}", ["bench", bad(model)], RESOURCE, f"'{node}'", why)

        # A .npy whose header claims 8 GiB: a sparse file, 128 bytes on disk.
        sparse_npy(t("huge.npy"), [1 << 21, 1, 32, 32])
        r.expect(".npy claiming 8 GiB (sparse file)", ["run", CNN, "--input", t("huge.npy")],
                 RESOURCE, "huge.npy", "8.0 GiB", "QUENCH_MAX_TENSOR_BYTES")
        # The same header without the data: a truncated file, said so before allocating.
        with open(t("claims.npy"), "wb") as f:
            f.write(npy_header("<f4", [1 << 40, 1 << 20]))
        r.expect(".npy claiming 4 EiB (no data)", ["run", CNN, "--input", t("claims.npy")], 2,
                 "claims.npy", "truncated")

        # Gzip bombs: 3 GiB of zeros in a 3 MiB file, declared in the header, refused before
        # decompressing; and the same zeros after a header that declares 4 bytes, refused
        # after reading one byte more than the header declares.
        gzip_bomb(t("bomb.gz"), [3 << 10, 1024, 1024], 3 << 10)
        r.expect("gzip bomb, declared", ["eval", CNN, "--data", "idx:" + t("bomb.gz")], RESOURCE,
                 "bomb.gz", "3.0 GiB", "QUENCH_MAX_TENSOR_BYTES")
        gzip_bomb(t("bomb2.gz"), [1, 2, 2], 64)
        r.expect("gzip bomb, undeclared", ["eval", CNN, "--data", "idx:" + t("bomb2.gz")], 2,
                 "bomb2.gz", "more data than its shape")

        # An image folder with a 100000 x 100000 PNG header (a few hundred bytes).
        os.makedirs(t("images/cls"))
        png_header(t("images/cls/huge.png"), 100000, 100000)
        r.expect("PNG of 100000x100000 pixels", ["eval", CNN, "--data", "folder:" + t("images")],
                 RESOURCE, "huge.png", "100000x100000", "QUENCH_MAX_IMAGE_PIXELS")

        # A model of 1.5 million Identity nodes (about 45 MB on disk).
        identity_chain(t("million.onnx"), 1_500_000)
        r.expect("1.5 million nodes", ["inspect", t("million.onnx")], RESOURCE, "million.onnx",
                 "1500000 nodes", "QUENCH_MAX_NODES")
        # The limits are overridable: a small chain under a lower node limit, an Expand under a
        # higher tensor limit is still bounded by the hard ceiling.
        identity_chain(t("chain.onnx"), 20)
        r.expect("node limit lowered", ["inspect", t("chain.onnx")], RESOURCE, "20 nodes",
                 env={"QUENCH_MAX_NODES": "10"})
        r.expect("node limit kept", ["inspect", t("chain.onnx")], 0)
        r.expect("a limit that is not a size", ["inspect", t("chain.onnx")], 2,
                 "QUENCH_MAX_NODES='lots'", env={"QUENCH_MAX_NODES": "lots"})

        print("\ncase | exit | peak RSS (MiB)")
        for label, code, rss, _ in r.rows:
            print(f"{label} | {code} | {rss:.0f}")
        if r.failures:
            print(f"{len(r.failures)} case(s) failed: {', '.join(r.failures)}")
            return 1
    print("every resource limit holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

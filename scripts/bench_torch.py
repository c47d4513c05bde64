#!/usr/bin/python3
"""PyTorch peer for dctrain's benchmark: LeNet-5 and LeNet-300-100 throughput and peak RSS.

What it measures
    The same two nets dctrain trains, built in PyTorch, on random MNIST-shaped data (1x28x28, batch 64,
    10 classes, softmax cross-entropy), with SGD momentum 0.9 and weight decay 5e-4:
      lenet5    Caffe's LeNet: conv 20 5x5 -> maxpool 2/2 -> conv 50 5x5 -> maxpool 2/2 -> fc 500 -> ReLU
                -> fc 10   (shapes: 1x28x28 -> 20x24x24 -> 20x12x12 -> 50x8x8 -> 50x4x4 = 800 -> 500 -> 10)
      lenet300  784 -> 300 -> ReLU -> 100 -> ReLU -> 10
    For each net and mode, after a warm-up, images/s over a fixed time (or iteration count) per repeat,
    median of several repeats:
      train  forward + loss + backward + optimizer step (train mode)
      infer  forward only, eval mode, under torch.no_grad()
    Then the peak RSS of this process (resource.getrusage ru_maxrss); it includes the PyTorch import
    itself (about 226 MiB of it) and the larger of the two nets when both run; no data set is held.

Which Python
    Debian's torch (apt-get install python3-torch) only imports under Debian's /usr/bin/python3, not a
    pyenv python3 that may come first in PATH, hence the shebang and the invocations below.

Which BLAS (the fair peer)
    Debian's torch resolves sgemm_ from whatever libblas.so.3 the dynamic linker finds; the system
    alternative may be the reference BLAS, about 4x slower. The fair peer selects the OpenMP build of
    OpenBLAS (apt-get install libopenblas0-openmp) for this one process only, without touching the
    system alternative, by putting its directory first on LD_LIBRARY_PATH. OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE, if set in the environment, are unset for this command only, so OpenBLAS picks
    its kernel by probing the CPU:

        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
            LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \\
            /usr/bin/python3 scripts/bench_torch.py --threads 2 --net all

    The script checks what was really loaded (dlsym of sgemm_ through libtorch_cpu's own handle, then
    dladdr of that address, cross-checked with /proc/self/maps) and, with --blas openblas-openmp (the
    default), refuses to benchmark against any other BLAS. --blas any measures whatever is loaded
    (e.g. the reference BLAS, for comparison). Note that installing libopenblas0-openmp also moves the
    libblas.so.3 / liblapack.so.3 alternatives in auto mode to it (priority 95); the LD_LIBRARY_PATH
    selection makes the run independent of where the alternative points.
    Where the time goes: the convolutions run in oneDNN (Debian's libdnnl2, jit:avx512_core, the same
    library dctrain uses; DNNL_VERBOSE=1 shows it), the fully connected layers in OpenBLAS's sgemm.

Output (stdout), one record per line, every line starts with "torch":
    torch version 1.13.0a0                       informational lines: torch KEY VALUE
    torch blas /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3     the file providing sgemm_
    torch blas_mapped /usr/lib/.../openblasp-r0.3.21.so   each BLAS/LAPACK file in /proc/self/maps
    torch blas_core SkylakeX                     OpenBLAS's kernel (openblas_get_corename), if OpenBLAS
    torch threads 2
    torch lenet5 train 4512.3                    figures: torch NET MODE IMAGES_PER_S (4 fields)
    torch lenet5 infer 15000.0
    torch peak_rss_mib 512.0
    A shell benchmark can take the figures with: awk '$1 == "torch" && NF == 4 { print $2, $3, $4 }'
    Exit status: 0 on success, 2 on a bad option or when the requested BLAS is not the one loaded.
"""

import argparse
import ctypes
import ctypes.util
import os
import re
import resource
import statistics
import sys
import time

OPENMP_OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
BATCH = 64
CLASSES = 10


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch peer for dctrain's LeNet benchmark.")
    p.add_argument("--net", choices=("lenet5", "lenet300", "all"), default="all")
    p.add_argument("--mode", choices=("train", "infer", "all"), default="all")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--warmup", type=int, default=20, help="untimed iterations before each measurement")
    p.add_argument("--seconds", type=float, default=1.0,
                   help="timed seconds per repeat (used unless --iters is given)")
    p.add_argument("--iters", type=int, default=0, help="timed iterations per repeat (overrides --seconds)")
    p.add_argument("--repeats", type=int, default=5, help="repeats; the median is reported")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--blas", choices=("openblas-openmp", "any"), default="openblas-openmp",
                   help="refuse to run unless this BLAS is the one torch calls (default openblas-openmp)")
    a = p.parse_args(argv)
    if a.threads < 1 or a.warmup < 0 or a.repeats < 1 or a.iters < 0 or a.seconds <= 0:
        p.error("--threads and --repeats must be >= 1, --warmup and --iters >= 0, --seconds > 0")
    return a


class DlInfo(ctypes.Structure):
    """glibc's Dl_info, filled by dladdr()."""
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def mapped_files():
    """Paths of the shared objects mapped into this process, from /proc/self/maps."""
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                paths.add(fields[5].strip())
    return paths


def blas_in_use(torch):
    """Which file provides the sgemm_ that libtorch_cpu calls, and OpenBLAS's kernel name if any.

    Returns (path, corename or None). sgemm_ is looked up through libtorch_cpu's own handle (its
    dependency order: that is how its undefined sgemm_ was bound), then dladdr names the file.
    """
    lib_dir = os.path.join(os.path.dirname(torch.__file__), "lib")
    torch_cpu = ctypes.CDLL(os.path.join(lib_dir, "libtorch_cpu.so"), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    addr = ctypes.cast(torch_cpu.sgemm_, ctypes.c_void_p).value
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    info = DlInfo()
    if not libc.dladdr(addr, ctypes.byref(info)) or not info.dli_fname:
        return ("unknown", None)
    path = os.path.realpath(info.dli_fname.decode())
    corename = None
    try:
        blas = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        corename = blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass  # not OpenBLAS (e.g. the reference BLAS): no kernel name to report
    return (path, corename)


def build_net(torch, name):
    nn = torch.nn
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2),       # 20x24x24 -> 20x12x12
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),      # 50x8x8 -> 50x4x4
            nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, CLASSES))
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, CLASSES))


def measure(step, args):
    """Median images/s of step() (one batch) over args.repeats timed runs after args.warmup calls."""
    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.repeats):
        n = 0
        t0 = time.perf_counter()
        while True:
            step()
            n += 1
            elapsed = time.perf_counter() - t0
            if (args.iters and n >= args.iters) or (not args.iters and elapsed >= args.seconds):
                break
        rates.append(n * BATCH / elapsed)
    return statistics.median(rates)


def bench_net(torch, name, args):
    torch.manual_seed(args.seed)
    net = build_net(torch, name)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    # A few fixed random input batches, cycled (data loading is not part of what is measured), each
    # paired with FRESH random labels. With fixed (input, label) pairs the net memorises them within
    # seconds, the loss falls to ~0.01, the gradients turn denormal and a step gets up to 70x slower
    # (microcode assists in the GEMMs): a pathology, not the cost of training. Fresh labels keep the
    # loss near ln 10 and every step the same work; torch.randint of 64 labels costs microseconds.
    pool = [torch.rand(BATCH, 1, 28, 28) for _ in range(8)]
    it = [0]

    def next_batch():
        it[0] = (it[0] + 1) % len(pool)
        return pool[it[0]], torch.randint(0, CLASSES, (BATCH,))

    def train_step():
        x, y = next_batch()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        x, _ = next_batch()
        with torch.no_grad():
            net(x)

    if args.mode in ("train", "all"):
        net.train()
        print("torch %s train %.1f" % (name, measure(train_step, args)), flush=True)
    if args.mode in ("infer", "all"):
        net.eval()
        print("torch %s infer %.1f" % (name, measure(infer_step, args)), flush=True)


def main(argv):
    args = parse_args(argv)
    try:
        import torch
    except ImportError as e:
        sys.stderr.write("bench_torch: cannot import torch under %s (%s); run it with Debian's "
                         "/usr/bin/python3 after apt-get install python3-torch\n" % (sys.executable, e))
        return 2
    torch.set_num_threads(args.threads)

    blas_path, corename = blas_in_use(torch)
    maps = mapped_files()
    openmp_mapped = any(p.startswith(OPENMP_OPENBLAS_DIR + "/") for p in maps)
    print("torch version %s" % torch.__version__)
    print("torch blas %s" % blas_path)
    for p in sorted(maps):
        if re.search(r"blas|lapack", os.path.basename(p)):
            print("torch blas_mapped %s" % p)
    if corename:
        print("torch blas_core %s" % corename)
    print("torch threads %d" % torch.get_num_threads())
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        if var in os.environ:
            print("torch env %s=%s" % (var, os.environ[var]))
    sys.stdout.flush()
    if args.blas == "openblas-openmp" and not (blas_path.startswith(OPENMP_OPENBLAS_DIR + "/")
                                               and openmp_mapped):
        sys.stderr.write(
            "bench_torch: torch calls sgemm_ from %s, not the OpenMP OpenBLAS in %s; run with "
            "LD_LIBRARY_PATH=%s (apt-get install libopenblas0-openmp), or pass --blas any\n"
            % (blas_path, OPENMP_OPENBLAS_DIR, OPENMP_OPENBLAS_DIR))
        return 2

    nets = ("lenet5", "lenet300") if args.net == "all" else (args.net,)
    for name in nets:
        bench_net(torch, name, args)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print("torch peak_rss_mib %.1f" % (peak_kib / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

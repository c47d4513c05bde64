#!/usr/bin/env python3
"""scripts/scaling-model.py -- expected data-parallel images/s and parallel efficiency of
AlexNet and VGG-16 on 2..64 nodes, from a ring-allreduce cost model (README, "Clusters").

Assumptions (each a command-line option):
  * strong scaling: the experiment's global batch B ([solver] batch of its cfg) is split
    over p nodes, so a step computes B/p images per node at the node's rate r (images/s);
  * the gradient sum is a ring allreduce of S bytes: each node sends and receives
    2 (p-1)/p * S bytes at link bandwidth BW, plus 2 (p-1) message latencies alpha;
  * S per stage is what dctrain sends: all weights and biases while dense, the kept weights
    and all biases while pruned (the experiment's final densities), k = 2^bits centroid
    gradients per layer and all biases while quantized;
  * overlap: dctrain starts each layer's sum when backward has finished it; the model takes
    backward as 2/3 of a step and lets communication hide behind it ("overlap" column), and
    also gives the no-overlap bound.
Node rates: this 2-core machine's measured rates (--rate-alexnet / --rate-vgg16, from
`dctrain bench`), and an assumed fast node (1,500 and 150 images/s, roughly one modern GPU)
to show where the network starts to matter.
"""
import argparse
import re

# weights per layer (Caffe's AlexNet with groups, VGG-16 configuration D) and bias totals
ALEXNET = {"conv1": 96 * 3 * 11 * 11, "conv2": 256 * 48 * 25, "conv3": 384 * 256 * 9, "conv4": 384 * 192 * 9,
           "conv5": 256 * 192 * 9, "fc6": 4096 * 9216, "fc7": 4096 * 4096, "fc8": 1000 * 4096}
ALEXNET_BIAS = 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000
VGG_CONV = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 512), (512, 512),
            (512, 512), (512, 512), (512, 512), (512, 512)]
VGG_NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2",
             "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
VGG16 = {n: i * o * 9 for n, (i, o) in zip(VGG_NAMES, VGG_CONV)}
VGG16.update({"fc6": 4096 * 25088, "fc7": 4096 * 4096, "fc8": 1000 * 4096})
VGG16_BIAS = sum(o for _, o in VGG_CONV) + 4096 + 4096 + 1000


def read_cfg(path):
    """[prune] densities and [quantize] bits per layer from an experiment file."""
    sec, dens, bits, conv_bits, fc_bits = None, {}, {}, 8, 5
    for line in open(path):
        line = line.split("#")[0].split(";")[0].strip()
        if not line:
            continue
        m = re.match(r"\[(\w+)\]", line)
        if m:
            sec = m.group(1)
            continue
        k, _, v = (x.strip() for x in line.partition("="))
        if sec == "prune" and v.endswith("%"):
            dens[k] = float(v[:-1]) / 100
        elif sec == "quantize" and k == "conv_bits":
            conv_bits = int(v)
        elif sec == "quantize" and k == "fc_bits":
            fc_bits = int(v)
        elif sec == "quantize" and re.match(r"^\d+$", v):
            bits[k] = int(v)
    return dens, bits, conv_bits, fc_bits


def cfg_batch(path):
    sec = None
    for line in open(path):
        line = line.split("#")[0].strip()
        m = re.match(r"\[(\w+)\]", line)
        if m:
            sec = m.group(1)
        elif sec == "solver" and line.startswith("batch") and "=" in line:
            return int(line.split("=")[1])
    return 64


def payloads(layers, bias, cfg):
    dens, bits, cb, fb = read_cfg(cfg)
    dense = 4 * (sum(layers.values()) + bias)
    pruned = 4 * (sum(n * dens.get(l, 1.0) for l, n in layers.items()) + bias)
    quant = 4 * (sum(2 ** bits.get(l, cb if l.startswith("conv") else fb) for l in layers) + bias)
    return {"dense": dense, "pruned": pruned, "quantized": quant}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate-alexnet", type=float, default=32.0, help="images/s of one node (default: measured here)")
    ap.add_argument("--rate-vgg16", type=float, default=1.9, help="images/s of one node (default: measured here)")
    ap.add_argument("--fast-alexnet", type=float, default=1500.0)
    ap.add_argument("--fast-vgg16", type=float, default=150.0)
    ap.add_argument("--latency-us", type=float, default=5.0)
    args = ap.parse_args()
    nets = [("AlexNet", ALEXNET, ALEXNET_BIAS, "experiments/alexnet.cfg", cfg_batch("experiments/alexnet.cfg"),
             args.rate_alexnet, args.fast_alexnet),
            ("VGG-16", VGG16, VGG16_BIAS, "experiments/vgg16.cfg", cfg_batch("experiments/vgg16.cfg"),
             args.rate_vgg16, args.fast_vgg16)]
    print("Gradient bytes summed per step (what each rank contributes):")
    for name, layers, bias, cfg, *_ in nets:
        p = payloads(layers, bias, cfg)
        print("  %-8s %d params: dense %.1f MB, pruned %.1f MB, quantized %.3f MB" %
              (name, sum(layers.values()) + bias, p["dense"] / 1e6, p["pruned"] / 1e6, p["quantized"] / 1e6))
    print()
    for name, layers, bias, cfg, batch, slow, fast in nets:
        pl = payloads(layers, bias, cfg)
        for node, rate in (("this machine", slow), ("fast node (assumed)", fast)):
            print("%s, global batch %d, node at %.1f images/s (%s); images/s (efficiency), dense stage | pruned stage"
                  % (name, batch, rate, node))
            print("  %5s  %-44s %-44s %-44s" % ("nodes", "10 Gbit/s", "25 Gbit/s", "100 Gbit/s"))
            for p in (2, 4, 8, 16, 32, 64):
                cells = []
                for gbit in (10, 25, 100):
                    parts = []
                    for stage in ("dense", "pruned"):
                        s = pl[stage]
                        tc = batch / p / rate
                        tm = 2 * (p - 1) / p * s / (gbit * 1e9 / 8) + 2 * (p - 1) * args.latency_us * 1e-6
                        t_over = max(tc, tc / 3 + tm)  # communication hidden behind backward (2/3 of a step)
                        ips = batch / t_over
                        parts.append("%7.0f (%3.0f%%)" % (ips, 100 * ips / (p * rate)))
                    cells.append(" | ".join(parts))
                print("  %5d  %-44s %-44s %-44s" % (p, *cells))
            print()
    print("Without overlap (communication after backward) efficiency is tc / (tc + tm); the quantized stage sends")
    print("under 0.1 MB per step, so its efficiency is that of the compute alone at every size above.")


if __name__ == "__main__":
    main()

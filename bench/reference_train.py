#!/usr/bin/env python3
"""The Python reference for carbon-worker's throughput: the same models, data
handling and training loop, written with Debian's python3-torch (the same
PyTorch version as Debian's LibTorch). Prints one JSON line with the epoch's
training samples/s (the evaluation is not timed, as in carbon-worker).

  bench/reference_train.py --arch cnn --train-limit 20000 --threads 2
"""
import argparse, gzip, json, os, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_idx(folder, train, limit):
    prefix = os.path.join(folder, "train" if train else "t10k")
    with gzip.open(prefix + "-images-idx3-ubyte.gz") as f:
        _, n, rows, cols = struct.unpack(">IIII", f.read(16))
        images = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)
    with gzip.open(prefix + "-labels-idx1-ubyte.gz") as f:
        f.read(8)
        labels = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)
    n = min(n, limit) if limit else n
    images = images[: n * rows * cols].reshape(n, 1, rows, cols).float().div_(255.0)
    return images, labels[:n].long()


def build(arch, hidden, channels):
    layers = []
    if arch == "mlp":
        layers.append(nn.Flatten())
        inp = 28 * 28
        for h in hidden:
            layers += [nn.Linear(inp, h), nn.ReLU()]
            inp = h
        layers.append(nn.Linear(inp, 10))
    else:
        inp, hw = 1, 28
        for c in channels:
            layers += [nn.Conv2d(inp, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            inp, hw = c, hw // 2
        layers += [nn.Flatten(), nn.Linear(inp * hw * hw, 128), nn.ReLU(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-limit", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images, labels = load_idx(a.data, True, a.train_limit)
    model = build(a.arch, [256, 128], [16, 32])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    torch.manual_seed(a.seed)
    n = labels.shape[0]
    perm = torch.randperm(n)
    t0 = time.perf_counter()
    loss_sum = 0.0
    for b in range(0, n, a.batch_size):
        idx = perm[b : b + a.batch_size]
        x, y = images.index_select(0, idx), labels.index_select(0, idx)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * idx.shape[0]
    secs = time.perf_counter() - t0
    print(json.dumps({"arch": a.arch, "samples": n, "seconds": secs, "samples_per_s": n / secs,
                      "train_loss": loss_sum / n, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

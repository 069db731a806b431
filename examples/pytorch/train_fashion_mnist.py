#!/usr/bin/python3
"""A plain PyTorch training script that carbond can hold, meter, pause and resume.

It trains a small MLP on Debian's Fashion-MNIST (package dataset-fashion-mnist)
and runs the same with or without carbond:

    python3 train_fashion_mnist.py --epochs 3                   # anywhere
    carbonctl submit examples/pytorch/fashion-mnist.yaml        # under carbond
    torchrun --nproc_per_node=2 train_fashion_mnist.py          # DDP (gloo on CPU)

What makes it safe to pause (see the README, "Your own training script"):
  - it saves model, optimizer, epoch and step to $CARBOND_CHECKPOINT_DIR at each
    epoch's end and when carbond asks it to stop (carbond.stop_requested());
  - it loads that checkpoint when $CARBOND_RESUME is set (carbond.resuming()),
    and continues at the same step with the same batch order, so a paused and
    resumed run ends with the same weights as an uninterrupted one;
  - it reports each epoch with carbond.epoch_end(), which becomes the epoch's
    row (loss, accuracy) beside carbond's energy and CO2.
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

try:
    import carbond
except ImportError:  # not installed here: the same script, with no reports
    class carbond:  # noqa: N801
        @staticmethod
        def epoch_end(epoch, **metrics):
            pass

        @staticmethod
        def checkpoint(path, epoch=0, step=0):
            pass

        @staticmethod
        def stop_requested():
            return False

        @staticmethod
        def resuming():
            return False

        @staticmethod
        def checkpoint_dir(default="."):
            return default


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load(data, kind, limit):
    prefix = "train" if kind == "train" else "t10k"
    images = read_idx(os.path.join(data, prefix + "-images-idx3-ubyte.gz"), 16).reshape(-1, 28 * 28)
    labels = read_idx(os.path.join(data, prefix + "-labels-idx1-ubyte.gz"), 8)
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return (x - 0.2860) / 0.3530, torch.from_numpy(labels.astype(np.int64))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-limit", type=int, default=0, help="0: all 60,000")
    p.add_argument("--test-limit", type=int, default=0, help="0: all 10,000")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--step-sleep", type=float, default=0.0, help="seconds to sleep after each step (tests)")
    p.add_argument("--out", default="", help="where to save the final state_dict")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    x_train, y_train = load(args.data, "train", args.train_limit)
    x_test, y_test = load(args.data, "test", args.test_limit)

    ckpt_dir = carbond.checkpoint_dir(default=".")
    ckpt = os.path.join(ckpt_dir, "checkpoint-rank%d.pt" % rank)
    start_epoch, start_step = 1, 0
    if carbond.resuming() and os.path.exists(ckpt):
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, start_step = state["epoch"], state["step"]
        print("resuming at epoch %d step %d" % (start_epoch, start_step), flush=True)

    def save(epoch, step):
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "step": step}, tmp)
        os.replace(tmp, ckpt)
        carbond.checkpoint(ckpt, epoch=epoch, step=step)

    steps = len(x_train) // (args.batch_size * world)
    first_step = True
    for epoch in range(start_epoch, args.epochs + 1):
        # The same order on every run of this epoch: a resumed run takes up where it stopped.
        order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        net.train()
        began = time.time()
        total, seen = 0.0, 0
        for step in range(start_step if epoch == start_epoch else 0, steps):
            stop = carbond.stop_requested()
            if world > 1:  # every rank stops at the same step, or the others wait in all-reduce
                flag = torch.tensor([1.0 if stop else 0.0])
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                stop = flag.item() > 0
            if stop:
                save(epoch, step)  # carbond asked: checkpoint and exit; it resumes us here
                print("stopped at epoch %d step %d" % (epoch, step), flush=True)
                return 0
            if first_step:
                print("first step at unix time %.3f" % time.time(), flush=True)
                first_step = False
            lo = (step * world + rank) * args.batch_size
            idx = order[lo:lo + args.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            if args.step_sleep:
                time.sleep(args.step_sleep)
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
            test_loss = F.cross_entropy(logits, y_test).item()
            accuracy = (logits.argmax(1) == y_test).float().mean().item()
        save(epoch + 1, 0)
        wall = time.time() - began
        carbond.epoch_end(epoch, epochs=args.epochs, train_loss=total / max(seen, 1), test_loss=test_loss,
                          test_accuracy=accuracy, samples=seen * world, wall_s=wall, lr=args.lr)
        print("epoch %d/%d train_loss %.4f test_accuracy %.4f (%.1f s, %.0f samples/s)" % (
            epoch, args.epochs, total / max(seen, 1), accuracy, wall, seen * world / wall), flush=True)
    if args.out and rank == 0:
        torch.save(model.state_dict(), args.out)
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Trains a delve config's net in PyTorch with delve's recipe, and logs it as delve's log.jsonl does.

    /usr/bin/python3 experiments/torch_twin/train_twin.py CONFIG [--seed S] [--iterations N]
        [--set key.path=value ...] [--log-every K] [--out FILE.jsonl] [--threads 2]

CONFIG is a delve config (resolved over delve's defaults here; a sweep's axes must be pinned with
--set) or a run directory (its config.json). What is delve's, from delve_torch:
- the net, with delve's names and shapes, and delve's initial weights for the seed (delve's RNG and
  Net::init: kaiming with a from the net's activations, xavier, glorot, gaussian; biases 0, PReLU
  slopes at model.prelu_init);
- the same training images (train_subset), batch order, crops and flips, normalisation;
- SGD in Caffe's form in float32 (optim/sgd.cpp; no decay on biases and slopes), the schedule by
  epoch (optim/schedule.cpp), with delve's evaluations at the end of every eval_every-th epoch and
  at the end (the plateau schedule watches them), and every eval_every_iterations-th iteration.
Dropout draws from PyTorch's generator (seeded with S): same distribution, another stream.

Events, one JSON object a line: start; train every K iterations and at the last, with loss and error
the MEANS over the steps since the previous train event of each step's batch loss and batch error
fraction (count_step in experiments/run/trainer.cpp); epoch; eval; end (status completed or
diverged: a non-finite loss stops the run, as in delve). So a collapse study can read delve's
log.jsonl and this file with the same code.
"""
import argparse
import json
import os
import sys
import time

# OpenMP's spinning threads, on a machine whose cores other processes share, made PyTorch's forward
# pass 15 times slower here; passive waiting costs nothing on a quiet machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delve_torch as dt  # noqa: E402


def read_config(args):
    sets = list(args.set)
    if args.seed is not None:
        sets.append(f"seed={args.seed}")
    if args.iterations is not None:
        sets.append(f"train.iterations={args.iterations}")
    if args.log_every is not None:
        sets.append(f"train.log_every={args.log_every}")
    path = os.path.join(args.config, "config.json") if os.path.isdir(args.config) else args.config
    config = dt.load_config_file(path, sets)
    if config["train"]["log_every"] < 1 or config["train"]["batch"] < 1:
        raise dt.ConfigError("train.log_every and train.batch must be at least 1")
    return config


class Run:
    def __init__(self, config, out):
        self.config, self.out = config, out
        self.data = dt.DelveData(config)
        if self.data.per_epoch == 0:
            raise dt.ConfigError(f"train.batch {self.data.batch} exceeds the {len(self.data.order)} training images")
        self.net = dt.build_model(config, 1, config["data"]["pad_to"], int(self.data.train_y.max()) + 1)
        dt.init_delve(self.net, config)
        torch.manual_seed(config["seed"])  # dropout's stream
        self.velocity, self.schedule = {}, dt.Schedule(config["optim"])
        t = config["train"]
        self.total = t["iterations"] if t["iterations"] > 0 else t["epochs"] * self.data.per_epoch
        self.iteration, self.last_eval = 0, -1
        self.interval = [0.0, 0.0, 0, 0.0]  # loss sum, error sum, steps, step seconds
        self.epoch_sums = [0.0, 0.0, 0]

    def write(self, event, **fields):
        fields = {"event": event, "time": time.time(), **fields}
        self.out.write(json.dumps(fields) + "\n")
        self.out.flush()

    def evaluate(self):
        loss, error, _ = dt.evaluate(self.net, self.data.normalizer, self.data.test_x, self.data.test_y)
        self.last_eval = self.iteration
        self.write("eval", iteration=self.iteration, epoch=self.iteration / self.data.per_epoch, split="test",
                   loss=loss, error=error, images=len(self.data.test_y))
        return error

    def step(self, epoch, index):
        x, labels = self.data.train_batch(epoch, index)
        t0 = time.perf_counter()
        loss, errors = dt.train_step(self.net, x, labels)
        finite = torch.isfinite(torch.tensor(loss)) and all(
            bool(torch.isfinite(p.grad).all()) for p in self.net.parameters() if p.grad is not None)
        if not finite:  # delve stops on a non-finite loss or gradient
            return False
        o = self.config["optim"]
        dt.sgd_step(self.net, self.velocity, self.schedule.lr, o["momentum"], o["weight_decay"])
        self.iteration += 1
        error = errors / len(labels)
        for sums in (self.interval, self.epoch_sums):
            sums[0] += loss
            sums[1] += error
            sums[2] += 1
        self.interval[3] += time.perf_counter() - t0
        log_every = self.config["train"]["log_every"]
        if self.iteration % log_every == 0 or self.iteration == self.total:
            n, seconds = self.interval[2], self.interval[3]
            self.write("train", iteration=self.iteration, epoch=self.iteration / self.data.per_epoch,
                       loss=self.interval[0] / n, error=self.interval[1] / n, lr=self.schedule.lr,
                       images_per_s=n * len(labels) / seconds if seconds > 0 else 0.0)
            self.interval = [0.0, 0.0, 0, 0.0]
        return True

    def end_epoch(self, epoch):
        loss, error, n = self.epoch_sums
        self.write("epoch", iteration=self.iteration, epoch=epoch + 1, train_loss=loss / n, train_error=error / n,
                   lr=self.schedule.lr, batches=n)
        self.epoch_sums = [0.0, 0.0, 0]
        every = self.config["train"]["eval_every"]
        due = every > 0 and (epoch + 1) % every == 0
        self.schedule.on_epoch_end(epoch, self.evaluate() if due else error / n)

    def train(self):
        self.write("start", config=self.config, seed=self.config["seed"], threads=torch.get_num_threads(),
                   torch=torch.__version__, iterations=self.total, batches_per_epoch=self.data.per_epoch,
                   train_images=len(self.data.order), twin="pytorch")
        status, t0 = "completed", time.time()
        while self.iteration < self.total:
            epoch, index = divmod(self.iteration, self.data.per_epoch)
            if not self.step(epoch, index):
                status = "diverged"
                break
            if index + 1 == self.data.per_epoch:
                self.end_epoch(epoch)
            every = self.config["train"]["eval_every_iterations"]  # trainer.cpp: curves finer than epochs
            if every > 0 and self.iteration % every == 0 and self.last_eval != self.iteration:
                self.evaluate()
        if status == "completed" and self.last_eval != self.iteration:
            self.evaluate()
        self.write("end", iteration=self.iteration, status=status, seconds=time.time() - t0)
        return 0 if status == "completed" else 6  # delve's exit code for a divergence


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="a delve config file or a run directory")
    p.add_argument("--seed", type=int, help="the run's seed (init, data order, augmentation; as delve's seed)")
    p.add_argument("--iterations", type=int, help="train.iterations")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as delve run --set")
    p.add_argument("--log-every", type=int, help="train.log_every: iterations between train events")
    p.add_argument("--out", default="-", help="the JSON-lines log (default: stdout)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    try:
        config = read_config(args)
        out = sys.stdout if args.out == "-" else open(args.out, "w")
        code = Run(config, out).train()
    except (dt.TwinError, OSError) as e:
        print(f"train_twin: error: {e}", file=sys.stderr)
        sys.exit(getattr(e, "code", 1))
    sys.exit(code)


if __name__ == "__main__":
    main()

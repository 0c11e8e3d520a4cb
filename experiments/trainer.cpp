#include "experiments/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/error.h"
#include "experiments/checkpoint.h"
#include "experiments/evaluate.h"
#include "experiments/layer_stats.h"
#include "experiments/progress.h"
#include "experiments/run_log.h"
#include "experiments/session.h"
#include "experiments/signals.h"
#include "layers/softmax_xent.h"
#include "optim/data_parallel.h"
#include "optim/sgd.h"

namespace fs = std::filesystem;

namespace delve {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The first layer whose output holds a NaN or an infinity (after a forward), or "".
std::string first_nonfinite_output(Net& net) {
  for (size_t k = 0; k < net.layers().size(); ++k) {
    const Tensor& y = net.activation(k);
    for (size_t i = 0; i < y.size(); ++i)
      if (!std::isfinite(y[i])) return net.layers()[k]->name();
  }
  return "";
}

// The first parameter whose gradient holds a NaN or an infinity, or "".
std::string first_nonfinite_gradient(Net& net) {
  const Tensor& g = net.grad_arena();
  float sum = 0.f;  // one cheap pass: a non-finite entry makes the sum non-finite
  for (size_t i = 0; i < g.size(); ++i) sum += g[i] * 0.f;
  if (std::isfinite(sum)) return "";
  for (auto& p : net.params())
    for (size_t i = 0; i < p->count(); ++i)
      if (!std::isfinite(p->dw[i])) return p->name;
  return "";
}

nlohmann::json layer_list(Net& net) {
  nlohmann::json list = nlohmann::json::array();
  for (auto& l : net.layers()) list.push_back({{"name", l->name()}, {"kind", l->kind()}, {"shape", l->describe()}});
  return list;
}

}  // namespace

nlohmann::json slopes_json(Net& net) {
  nlohmann::json out = nlohmann::json::array();
  std::string after;  // the weight layer whose response the slopes act on
  std::string shape;
  for (auto& l : net.layers()) {
    if (l->weight()) {
      after = l->name();
      shape = l->describe();
    }
    const Param* a = l->slope();
    if (!a) continue;
    std::vector<float> values(a->w.data(), a->w.data() + a->count());
    double mean = 0;
    for (float v : values) mean += v;
    mean /= double(values.size());
    out.push_back({{"layer", after}, {"shape", shape}, {"param", a->name}, {"channel_shared", values.size() == 1},
                   {"mean", mean}, {"values", values}});
  }
  return out;
}

RunOutcome train_run(const RunConfig& cfg, const RunOptions& opt) {
  const fs::path dir = opt.dir;
  const std::string ckpt = (dir / "checkpoint.safetensors").string();
  const std::string log_path = (dir / "log.jsonl").string();
  // Under mpirun rank 0 alone writes the run directory, and its view of it decides for every rank.
  Communicator& comm = opt.comm ? *opt.comm : world();
  const bool show_progress = opt.progress && comm.is_root();
  std::error_code ec;
  const bool have_ckpt = comm.any(comm.is_root() && fs::exists(ckpt));
  const bool have_log = comm.any(comm.is_root() && fs::exists(log_path));
  if (!opt.resume && !opt.force && (have_ckpt || have_log))
    throw UsageError("'" + dir.string() + "' already holds a run; pass --resume to continue it, --force to start it over, "
                     "or --out to choose another directory");
  // Not a progress line: said even with --quiet, since the earlier steps are being redone.
  if (opt.resume && !have_ckpt && have_log)
    std::fprintf(stderr, "delve: no complete checkpoint in '%s': starting this run from the beginning\n", dir.c_str());
  const bool resuming = opt.resume && have_ckpt;
  // Temporary files of atomic writes that a killed process left behind (never read as results).
  for (const char* f : {"checkpoint.safetensors", "config.json", "summary.json", "log.jsonl", "curves.svg"})
    remove_stale_temporaries((dir / f).string());

  const int threads = cfg.train.threads > 0 ? cfg.train.threads : default_threads();
  blas_set_threads(threads);
  // Data and model first: a config or data error leaves no directory behind.
  auto session = open_session(cfg);
  if (comm.is_root()) {
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create run directory '" + dir.string() + "': " + ec.message());
    if (!resuming)
      for (const char* f : {"log.jsonl", "summary.json", "checkpoint.safetensors"}) fs::remove(dir / f, ec);
  }
  Net& net = session->net;
  Batcher train_batches(session->data.train, *session->normalizer, cfg.data, cfg.train.batch, true);
  Batcher test_batches(session->data.test, *session->normalizer, cfg.data, cfg.train.batch, false);
  DataParallel parallel(comm, cfg.train.batch);
  const int64_t per_epoch = int64_t(train_batches.batches_per_epoch());
  if (per_epoch == 0)
    throw DataError("the training split has " + std::to_string(session->data.train.size()) +
                    " images, fewer than one batch of " + std::to_string(cfg.train.batch) + "; lower train.batch");
  // Only now, with the data loaded and the net built, may --force discard the previous run: a
  // bad data path or model must leave the existing results as they were.
  if (!resuming) {
    for (const char* f : {"log.jsonl", "summary.json", "checkpoint.safetensors"}) fs::remove(dir / f, ec);
  }

  TrainState st;
  LrSchedule schedule(cfg.schedule);
  nlohmann::json changed = nlohmann::json::array();
  if (resuming) {
    LoadedCheckpoint loaded = load_checkpoint(ckpt, net);
    st = loaded.state;
    schedule.restore(st.schedule);
    for (auto& d : nlohmann::json::diff(loaded.config, cfg.resolved)) changed.push_back(d["path"]);
  }
  if (comm.is_root()) write_text_file_atomic((dir / "config.json").string(), cfg.resolved.dump(2) + "\n");

  const int64_t total = cfg.train.iterations > 0 ? cfg.train.iterations : int64_t(cfg.train.epochs) * per_epoch;
  const int64_t epochs_total = (total + per_epoch - 1) / per_epoch;
  RunLog log;
  if (comm.is_root()) log.open(log_path, resuming ? st.iteration : -1);  // elsewhere write() does nothing
  log.write({{"event", "start"},
             {"iteration", st.iteration},
             {"resumed", resuming},
             {"config_changed", changed},
             {"name", cfg.name},
             {"seed", cfg.seed},
             {"threads", threads},
             {"ranks", comm.size()},
             {"communicator", comm.describe()},
             {"blas_core", blas_core()},
             {"version", DELVE_GIT_REVISION},
             {"parameters", net.param_count()},
             {"memory_bytes", net.memory_bytes()},
             {"train_images", session->data.train.size()},
             {"test_images", session->data.test.size()},
             {"input", {session->input.c, session->input.h, session->input.w}},
             {"batches_per_epoch", per_epoch},
             {"total_iterations", total},
             {"layers", layer_list(net)},
             {"config", cfg.resolved}});

  SoftmaxCrossEntropy xent;
  LayerProbe probe(net);
  Sgd sgd(cfg.sgd);
  Tensor x, dlogits;
  std::vector<int32_t> labels;
  Progress progress(total, show_progress);
  const auto run_start = Clock::now();
  const double elapsed_before = st.elapsed_seconds;
  double interval_loss = 0, interval_err = 0, epoch_loss = 0, epoch_err = 0;
  int64_t interval_n = 0, epoch_n = 0, skipped = 0;
  double step_seconds = 0;
  int64_t step_images = 0;
  double last_test_loss = NAN, last_test_error = NAN, last_train_loss = NAN, last_train_error = NAN;
  int64_t last_eval_iteration = -1;
  std::string status = "completed";
  int exit_code = kExitOk;
  std::string failure;

  auto save = [&] {
    st.schedule = schedule.state();
    st.elapsed_seconds = elapsed_before + seconds_since(run_start);
    if (comm.is_root()) save_checkpoint(ckpt, net, st, cfg.resolved);  // the state is the same on every rank
    log.write({{"event", "checkpoint"}, {"iteration", st.iteration}, {"path", ckpt}});
  };
  auto run_eval = [&] {
    EvalResult r = evaluate(net, test_batches, &comm);
    last_test_loss = r.loss;
    last_test_error = r.error;
    last_eval_iteration = st.iteration;
    if (st.best_test_error < 0 || r.error < st.best_test_error) st.best_test_error = r.error;
    log.write({{"event", "eval"}, {"split", "test"}, {"iteration", st.iteration}, {"epoch", double(st.iteration) / per_epoch},
               {"loss", r.loss}, {"error", r.error}, {"images", r.images}});
    char line[160];
    std::snprintf(line, sizeof line, "  eval after iter %lld: test loss %.4f  error %.2f%%", (long long)st.iteration, r.loss,
                  100 * r.error);
    progress.note(line);
  };

  train_batches.seek(st.epoch, st.batch_in_epoch);
  while (st.iteration < total) {
    int64_t epoch = 0, index = 0;
    train_batches.next(x, labels, &epoch, &index);
    const bool stats_due = st.iteration == 0 || st.iteration + 1 == total ||
                           (cfg.train.layers_every > 0 && st.iteration % cfg.train.layers_every == 0);
    const auto t0 = Clock::now();
    net.zero_grad();
    parallel.use_rank_stream(net.rng());
    const Tensor& logits = net.forward(parallel.shard(x), Mode::Train);
    int errors = 0;
    float loss = xent.forward(logits, parallel.shard_labels(labels), &errors);
    parallel.reduce_loss(loss, errors);  // the global batch's: every rank takes the same branch below
    std::string bad;
    if (!std::isfinite(loss)) {
      bad = first_nonfinite_output(net);
      failure = "loss is " + std::to_string(loss) + (bad.empty() ? "" : "; first non-finite output: " + bad);
    } else {
      dlogits.resize(logits.shape());
      xent.backward(dlogits);
      net.backward(dlogits, stats_due ? probe.observer() : Net::GradObserver());
      parallel.average_gradients(net.grad_arena());
      bad = first_nonfinite_gradient(net);
      if (!bad.empty()) failure = "gradient of " + bad + " is not finite";
      if (bad.empty() && stats_due) {
        nlohmann::json layers = nlohmann::json::array();
        for (auto& s : probe.collect()) layers.push_back(to_json(s));
        log.write({{"event", "layers"}, {"iteration", st.iteration}, {"epoch", double(st.iteration) / per_epoch}, {"layers", layers}});
      }
    }
    parallel.restore_shared_stream(net.rng());
    if (!failure.empty()) {
      if (!cfg.train.skip_nonfinite) {
        status = "diverged";
        exit_code = kExitDiverged;
        failure = "diverged at iteration " + std::to_string(st.iteration) + " (epoch " + std::to_string(epoch + 1) + "): " +
                  failure + "; lower optim.lr, or set train.skip_nonfinite to skip such steps";
        break;
      }
      ++skipped;
      log.write({{"event", "skip"}, {"iteration", st.iteration}, {"reason", failure}, {"skipped", skipped}});
      failure.clear();
    } else {
      sgd.step(net.params(), schedule.lr());
    }
    step_seconds += seconds_since(t0);
    step_images += int64_t(labels.size());
    ++st.iteration;
    st.epoch = epoch;
    st.batch_in_epoch = index + 1;
    interval_loss += loss, interval_err += double(errors) / labels.size(), ++interval_n;
    epoch_loss += loss, epoch_err += double(errors) / labels.size(), ++epoch_n;
    const double ips = step_seconds > 0 ? step_images / step_seconds : 0;
    progress.update(st.iteration, epoch, epochs_total, interval_loss / interval_n, interval_err / interval_n, ips);
    if (st.iteration % cfg.train.log_every == 0 || st.iteration == total) {
      log.write({{"event", "train"}, {"iteration", st.iteration}, {"epoch", double(st.iteration) / per_epoch},
                 {"loss", interval_loss / interval_n}, {"error", interval_err / interval_n}, {"lr", schedule.lr()},
                 {"images_per_s", ips}});
      interval_loss = interval_err = 0, interval_n = 0;
      step_seconds = 0, step_images = 0;
    }
    if (st.batch_in_epoch == per_epoch) {  // an epoch ends
      last_train_loss = epoch_loss / epoch_n, last_train_error = epoch_err / epoch_n;
      log.write({{"event", "epoch"}, {"iteration", st.iteration}, {"epoch", epoch + 1}, {"train_loss", last_train_loss},
                 {"train_error", last_train_error}, {"lr", schedule.lr()}, {"batches", epoch_n}});
      epoch_loss = epoch_err = 0, epoch_n = 0;
      const bool eval_due = cfg.train.eval_every > 0 && (epoch + 1) % cfg.train.eval_every == 0;
      if (eval_due) run_eval();
      schedule.on_epoch_end(int(epoch), eval_due ? last_test_error : last_train_error);
      st.epoch = epoch + 1;
      st.batch_in_epoch = 0;
    }
    if (cfg.train.checkpoint_every > 0 && st.iteration % cfg.train.checkpoint_every == 0 && st.iteration < total) save();
    if (comm.any(stop_requested())) {
      status = "interrupted";
      exit_code = kExitInterrupted;
      break;
    }
  }
  progress.finish();

  if (status != "diverged") {
    if (status == "completed" && last_eval_iteration != st.iteration) run_eval();
    save();
  }
  if (epoch_n > 0 && std::isnan(last_train_loss)) last_train_loss = epoch_loss / epoch_n, last_train_error = epoch_err / epoch_n;
  const double seconds = elapsed_before + seconds_since(run_start);
  nlohmann::json summary = {{"name", cfg.name},
                            {"status", status},
                            {"iterations", st.iteration},
                            {"epochs", double(st.iteration) / per_epoch},
                            {"train_loss", std::isfinite(last_train_loss) ? nlohmann::json(last_train_loss) : nlohmann::json()},
                            {"train_error", std::isfinite(last_train_error) ? nlohmann::json(last_train_error) : nlohmann::json()},
                            {"test_loss", std::isfinite(last_test_loss) ? nlohmann::json(last_test_loss) : nlohmann::json()},
                            {"test_error", std::isfinite(last_test_error) ? nlohmann::json(last_test_error) : nlohmann::json()},
                            {"best_test_error", st.best_test_error >= 0 ? nlohmann::json(st.best_test_error) : nlohmann::json()},
                            {"seconds", seconds},
                            {"images_per_s", seconds > 0 ? double(st.iteration) * cfg.train.batch / seconds : 0.0},
                            {"skipped_steps", skipped},
                            {"ranks", comm.size()},
                            {"allreduce_seconds", parallel.allreduce_seconds()},
                            {"parameters", net.param_count()},
                            {"slopes", slopes_json(net)}};
  if (!failure.empty()) summary["error_message"] = failure;
  if (comm.is_root()) write_text_file_atomic((dir / "summary.json").string(), summary.dump(2) + "\n");
  log.write({{"event", "end"}, {"iteration", st.iteration}, {"status", status}, {"seconds", seconds}});
  if (status == "diverged") throw DivergenceError(failure + " (last good checkpoint kept in '" + ckpt + "' if one was saved)");
  return {exit_code, summary};
}

}  // namespace delve

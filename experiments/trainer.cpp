#include "experiments/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/error.h"
#include "data/load.h"
#include "experiments/checkpoint.h"
#include "experiments/evaluate.h"
#include "experiments/layer_stats.h"
#include "experiments/progress.h"
#include "experiments/run_directory.h"
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

// The figures a summary reports: the last epoch's train loss and error, the last evaluation.
struct Figures {
  double train_loss = NAN, train_error = NAN, test_loss = NAN, test_error = NAN;
  int64_t eval_iteration = -1;  // of the last evaluation, -1: none yet
};

// The config as recorded in config.json and the checkpoint: the resolved config, with data.path
// the directory actually read (absolute; the source's default location when none was given).
nlohmann::json recorded_config(const RunConfig& cfg) {
  nlohmann::json resolved = cfg.resolved;
  const std::string location = data_location(cfg.data);
  if (!location.empty()) resolved["data"]["path"] = fs::absolute(location).lexically_normal().string();
  return resolved;
}

// The steps a config plans (its resolved "train" section) over `images` training images.
int64_t planned_iterations(const nlohmann::json& train, int64_t images) {
  const int64_t iterations = train.value("iterations", int64_t(0));
  if (iterations > 0) return iterations;
  return train.value("epochs", int64_t(1)) * (images / std::max<int64_t>(1, train.value("batch", int64_t(1))));
}

// "train.epochs 40 -> 20, optim.lr 0.02 -> 0.01": the keys in which two resolved configs differ.
std::string describe_changes(const nlohmann::json& before, const nlohmann::json& after) {
  std::string text;
  for (auto& d : nlohmann::json::diff(before, after)) {
    const nlohmann::json::json_pointer at(d["path"].get<std::string>());
    std::string key = at.to_string().substr(1);
    std::replace(key.begin(), key.end(), '/', '.');
    auto value = [&](const nlohmann::json& j) { return j.contains(at) ? j.at(at).dump() : std::string("(none)"); };
    text += (text.empty() ? "" : ", ") + key + " " + value(before) + " -> " + value(after);
  }
  return text;
}

// summary.json of the run, or null when it is missing or unreadable (rank 0's view).
nlohmann::json read_summary_file(const RunDirectory& run) {
  std::ifstream in(run.file("summary.json"));
  return in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
}

// Whether summary.json records the run as completed at iteration `done`.
bool summary_completed(const RunDirectory& run, int64_t done) {
  const nlohmann::json s = read_summary_file(run);
  return s.is_object() && s.value("status", "") == "completed" && s.value("iterations", int64_t(-1)) == done;
}

// Copies `values` from rank 0 to every rank (a sum to which the other ranks add zeros).
void share_from_root(std::vector<double>& values, Communicator& comm) {
  if (!comm.is_root()) std::fill(values.begin(), values.end(), 0.0);
  comm.allreduce_sum(values.data(), values.size());
}

// The latest train and test figures a resumed run had logged up to its checkpoint, so that its
// summary reports them as an uninterrupted run would, even when this process trains no full epoch.
Figures recover_figures(const RunDirectory& run, int64_t done, Communicator& comm) {
  Figures f;
  if (comm.is_root() && run.has_log)
    for (auto& e : read_run_log(run.file("log.jsonl"))) {
      if (!e.contains("iteration") || !e["iteration"].is_number() || e["iteration"].get<int64_t>() > done) continue;
      const std::string kind = e.value("event", "");
      auto number = [&](const char* key) { return e.contains(key) && e[key].is_number() ? e[key].get<double>() : NAN; };
      if (kind == "epoch") f.train_loss = number("train_loss"), f.train_error = number("train_error");
      if (kind == "eval") f.test_loss = number("loss"), f.test_error = number("error"), f.eval_iteration = e["iteration"];
    }
  std::vector<double> v = {f.train_loss, f.train_error, f.test_loss, f.test_error, double(f.eval_iteration)};
  share_from_root(v, comm);
  return {v[0], v[1], v[2], v[3], int64_t(v[4])};
}

// Whether a resume of a checkpoint at `done` of the `planned` steps of its config, now with
// `total` steps, trains: true to go on, false when the run is already complete with this very
// config (nothing to do, nothing changed). UsageError, before any file is touched, when it would
// shorten the run or train nothing with a changed config; a changed config that does train is
// named on stderr.
bool check_resume(const RunDirectory& run, int64_t done, int64_t planned, int64_t total, const nlohmann::json& before,
                  const nlohmann::json& after, Communicator& comm) {
  const std::string changes = describe_changes(before, after);
  const std::string where = "--resume: the run in '" + run.dir.string() + "'";
  if (total < planned)
    throw UsageError(where + " planned " + std::to_string(planned) + " iterations; this config would shorten it to " +
                     std::to_string(total) + " (" + changes + "); resume it with its own length, or start over with --force");
  if (done >= total) {
    if (!changes.empty())
      throw UsageError(where + " is complete (iteration " + std::to_string(done) + " of " + std::to_string(total) +
                       "): nothing would be trained, so the changed config (" + changes +
                       ") would not take effect; raise train.epochs or train.iterations to continue it");
    const bool finished = comm.any(comm.is_root() && summary_completed(run, done));
    if (finished) {
      if (comm.is_root())
        std::fprintf(stderr, "delve: the run in '%s' is already complete (iteration %lld of %lld): nothing to do\n",
                     run.dir.c_str(), (long long)done, (long long)total);
      return false;
    }
  }
  if (!changes.empty() && comm.is_root())
    std::fprintf(stderr, "delve: resuming '%s' with a changed config: %s\n", run.dir.c_str(), changes.c_str());
  return true;
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
    if (std::string(l->kind()) != "prelu") continue;
    const Param* a = net.find_param(l->name() + ".weight");
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
  // Under mpirun rank 0 alone writes the run directory, and its view of it decides for every rank.
  Communicator& comm = opt.comm ? *opt.comm : world();
  const bool show_progress = opt.progress && comm.is_root();
  const RunDirectory run = inspect_run_directory(opt.dir, opt.resume, opt.force, comm);
  const std::string ckpt = run.file("checkpoint.safetensors");

  const int threads = cfg.train.threads > 0 ? cfg.train.threads : default_threads();
  blas_set_threads(threads);
  // Everything that can refuse the run comes before the directory is changed: a bad config, data,
  // model or resume leaves an existing run as it was.
  auto session = open_session(cfg);
  Net& net = session->net;
  Batcher train_batches(session->data.train, *session->normalizer, cfg.data, cfg.train.batch, true);
  Batcher test_batches(session->data.test, *session->normalizer, cfg.data, cfg.train.batch, false);
  DataParallel parallel(comm, cfg.train.batch);
  const int64_t per_epoch = int64_t(train_batches.batches_per_epoch());
  const nlohmann::json resolved = recorded_config(cfg);

  TrainState st;
  LrSchedule schedule(cfg.schedule);
  nlohmann::json changed = nlohmann::json::array();
  const int64_t total = planned_iterations(resolved["train"], int64_t(train_batches.images()));
  const int64_t epochs_total = (total + per_epoch - 1) / per_epoch;
  Figures last;
  if (run.resuming) {
    LoadedCheckpoint loaded = load_checkpoint(ckpt, net);
    st = loaded.state;
    schedule.restore(st.schedule);
    for (auto& d : nlohmann::json::diff(loaded.config, resolved)) changed.push_back(d["path"]);
    const int64_t planned =
        planned_iterations(loaded.config.value("train", nlohmann::json::object()), int64_t(train_batches.images()));
    if (!check_resume(run, st.iteration, planned, total, loaded.config, resolved, comm)) {
      tidy_run_directory(run, comm);
      return {kExitOk, comm.is_root() ? read_summary_file(run) : nlohmann::json()};
    }
    last = recover_figures(run, st.iteration, comm);
  }
  SoftmaxCrossEntropy xent;
  LayerProbe probe(net);
  Sgd sgd(cfg.sgd);
  prepare_run_directory(run, resolved.dump(2) + "\n", comm);

  RunLog log;
  if (comm.is_root()) log.open(run.file("log.jsonl"), run.resuming ? st.iteration : -1);  // elsewhere write() does nothing
  log.write({{"event", "start"},
             {"iteration", st.iteration},
             {"resumed", run.resuming},
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
             {"train_images", train_batches.images()},
             {"train_images_available", session->data.train.size()},
             {"test_images", session->data.test.size()},
             {"input", {session->input.c, session->input.h, session->input.w}},
             {"batches_per_epoch", per_epoch},
             {"total_iterations", total},
             {"layers", layer_list(net)},
             {"config", resolved}});

  Tensor x, dlogits;
  std::vector<int32_t> labels;
  Progress progress(total, show_progress);
  const auto run_start = Clock::now();
  const double elapsed_before = st.elapsed_seconds;
  double interval_loss = 0, interval_err = 0, epoch_loss = 0, epoch_err = 0;
  int64_t interval_n = 0, epoch_n = 0, skipped = 0;
  double step_seconds = 0;
  int64_t step_images = 0;
  double last_test_loss = last.test_loss, last_test_error = last.test_error, last_train_loss = last.train_loss,
         last_train_error = last.train_error;
  int64_t last_eval_iteration = last.eval_iteration;
  std::string status = "completed";
  int exit_code = kExitOk;
  std::string failure;

  auto save = [&] {
    st.schedule = schedule.state();
    st.elapsed_seconds = elapsed_before + seconds_since(run_start);
    if (comm.is_root()) save_checkpoint(ckpt, net, st, resolved);  // the state is the same on every rank
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
    // A step's statistics are labelled, like its train, eval and checkpoint events, with the
    // iteration count after it: the first step is iteration 1.
    const int64_t after_step = st.iteration + 1;
    const bool stats_due = after_step == 1 || after_step == total ||
                           (cfg.train.layers_every > 0 && after_step % cfg.train.layers_every == 0);
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
        log.write({{"event", "layers"}, {"iteration", after_step}, {"epoch", double(after_step) / per_epoch}, {"layers", layers}});
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
  if (comm.is_root()) write_text_file_atomic(run.file("summary.json"), summary.dump(2) + "\n");
  log.write({{"event", "end"}, {"iteration", st.iteration}, {"status", status}, {"seconds", seconds}});
  if (status == "diverged") throw DivergenceError(failure + " (last good checkpoint kept in '" + ckpt + "' if one was saved)");
  return {exit_code, summary};
}

}  // namespace delve

#include "experiments/run/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/atomic_file.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/point_gemm.h"
#include "core/version.h"
#include "data/load.h"
#include "experiments/run/checkpoint.h"
#include "experiments/run/cpu_model.h"
#include "experiments/run/evaluate.h"
#include "experiments/run/layer_stats.h"
#include "experiments/run/progress.h"
#include "experiments/run/resume.h"
#include "experiments/run/run_directory.h"
#include "experiments/run/run_log.h"
#include "experiments/run/session.h"
#include "experiments/run/signals.h"
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
    if (!net.output_written(k)) continue;  // a fused conv's skipped y (Net::set_keep_preactivations)
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

// The config as recorded in config.json and the checkpoint: the resolved config, with data.path
// the directory actually read (absolute; the source's default location when none was given).
nlohmann::json recorded_config(const RunConfig& cfg) {
  nlohmann::json resolved = cfg.resolved;
  const std::string location = data_location(cfg.data);
  if (!location.empty()) resolved["data"]["path"] = fs::absolute(location).lexically_normal().string();
  return resolved;
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

namespace {

// The state the steps of one run share. Everything in the first group is built, and may refuse
// the run, before the run directory is touched; the rest is what the steps read and update.
struct TrainingRun {
  TrainingRun(const RunConfig& config, Communicator& communicator, RunDirectory directory, int thread_count)
      : cfg(config),
        comm(communicator),
        run(std::move(directory)),
        threads(thread_count),
        session(open_session(config)),
        net(session->net),
        train_batches(session->data.train, *session->normalizer, config.data, config.train.batch, true),
        test_batches(session->data.test, *session->normalizer, config.data, config.train.batch, false),
        parallel(communicator, config.train.batch),
        per_epoch(int64_t(train_batches.batches_per_epoch())),
        resolved(recorded_config(config)),
        schedule(config.schedule),
        total(planned_iterations(resolved.at("train"), int64_t(train_batches.images()))),
        probe(net),
        sgd(config.sgd) {}

  const RunConfig& cfg;
  Communicator& comm;
  const RunDirectory run;
  const int threads;
  std::unique_ptr<Session> session;
  Net& net;
  Batcher train_batches, test_batches;
  DataParallel parallel;
  const int64_t per_epoch;
  const nlohmann::json resolved;  // as recorded in config.json and the checkpoint
  LrSchedule schedule;
  const int64_t total;            // iterations the run ends at
  // Winograd's point-GEMM kernel (core/point_gemm.h): it rounds in its own order, so the log names
  // it beside the OpenBLAS core. Read here, before the directory is touched: a bad DELVE_GEMM refuses.
  const std::string point_gemm = gemm_kernel_name(gemm_kernel());
  SoftmaxCrossEntropy xent;
  LayerProbe probe;
  Sgd sgd;

  TrainState st;
  nlohmann::json changed = nlohmann::json::array();  // config keys a resume changed
  Figures last;                                      // the latest epoch and eval figures
  RunLog log;
  std::optional<Progress> progress;
  Clock::time_point started;
  double elapsed_before = 0;  // of the process that trained the run before a resume
  std::string status = "completed";
  int exit_code = kExitOk;
  std::string failure;  // why a step failed; the divergence message
};

// The time the steps of the current log interval took, for images/s (the running sums of loss
// and error are in TrainState::sums, which checkpoints keep).
struct Meters {
  double step_seconds = 0;  // of the steps in the interval, for images/s
  int64_t step_images = 0;
};

// What one step measured.
struct StepResult {
  int64_t epoch = 0, index = 0;  // the batch's place in the data stream
  float loss = 0;
  int errors = 0;
  int64_t images = 0;
  double seconds = 0;  // of the step's computation, the batch's drawing excluded
  bool diverged = false;
};

// Loads the checkpoint of a resumed run and checks what the resume may do. False when there is
// nothing to do (the run is complete and nothing changed).
bool resume_from_checkpoint(TrainingRun& r) {
  LoadedCheckpoint loaded = load_checkpoint(r.run.file("checkpoint.safetensors"), r.net);
  r.st = loaded.state;
  r.schedule.restore(r.st.schedule);
  for (auto& d : nlohmann::json::diff(loaded.config, r.resolved)) r.changed.push_back(d["path"]);
  const int64_t planned =
      planned_iterations(loaded.config.value("train", nlohmann::json::object()), int64_t(r.train_batches.images()));
  if (!check_resume(r.run, r.st.iteration, planned, r.total, loaded.config, r.resolved, r.comm)) return false;
  r.last = recover_figures(r.run, r.st.iteration, r.comm);
  return true;
}

// Prepares the run directory (nothing can refuse the run any more), opens the log, and writes
// the start event.
void start_log(TrainingRun& r) {
  prepare_run_directory(r.run, r.resolved.dump(2) + "\n", r.comm);
  Session& s = *r.session;
  // Elsewhere than on rank 0 the log stays closed and write() does nothing.
  if (r.comm.is_root()) r.log.open(r.run.file("log.jsonl"), r.run.resuming ? r.st.iteration : -1);
  r.log.write({{"event", "start"},
               {"iteration", r.st.iteration},
               {"resumed", r.run.resuming},
               {"config_changed", r.changed},
               {"name", r.cfg.name},
               {"seed", r.cfg.seed},
               {"threads", r.threads},
               {"ranks", r.comm.size()},
               {"communicator", r.comm.describe()},
               {"cpu", cpu_model()},
               {"blas_core", blas_core()},
               {"point_gemm", r.point_gemm},
               {"version", source_revision()},
               {"parameters", r.net.param_count()},
               {"memory_bytes", r.net.memory_bytes()},
               {"train_images", r.train_batches.images()},
               {"train_images_available", s.data.train.size()},
               {"test_images", s.data.test.size()},
               {"input", {s.input.c, s.input.h, s.input.w}},
               {"batches_per_epoch", r.per_epoch},
               {"total_iterations", r.total},
               {"layers", layer_list(r.net)},
               {"config", r.resolved}});
}

void save_state(TrainingRun& r) {
  r.st.schedule = r.schedule.state();
  r.st.elapsed_seconds = r.elapsed_before + seconds_since(r.started);
  const std::string path = r.run.file("checkpoint.safetensors");
  if (r.comm.is_root()) save_checkpoint(path, r.net, r.st, r.resolved);  // the state is the same on every rank
  r.log.write({{"event", "checkpoint"}, {"iteration", r.st.iteration}, {"path", path}});
}

void evaluate_now(TrainingRun& r) {
  EvalResult e = evaluate(r.net, r.test_batches, &r.comm);
  r.last.test_loss = e.loss;
  r.last.test_error = e.error;
  r.last.eval_iteration = r.st.iteration;
  if (r.st.best_test_error < 0 || e.error < r.st.best_test_error) r.st.best_test_error = e.error;
  r.log.write({{"event", "eval"}, {"split", "test"}, {"iteration", r.st.iteration},
               {"epoch", double(r.st.iteration) / r.per_epoch}, {"loss", e.loss}, {"error", e.error}, {"images", e.images}});
  char line[160];
  std::snprintf(line, sizeof line, "  eval after iter %lld: test loss %.4f  error %.2f%%", (long long)r.st.iteration,
                e.loss, 100 * e.error);
  r.progress->note(line);
}

// Forward and backward of one batch, the layers event when due; sets r.failure when the loss or a
// gradient is not finite. Every rank takes the same branches (the loss is the global batch's).
void forward_backward(TrainingRun& r, const Tensor& x, const std::vector<int32_t>& labels, Tensor& dlogits,
                      StepResult& step) {
  // A step's statistics are labelled, like its train, eval and checkpoint events, with the
  // iteration count after it: the first step is iteration 1.
  const int64_t after_step = r.st.iteration + 1;
  const bool stats_due = after_step == 1 || after_step == r.total ||
                         (r.cfg.train.layers_every > 0 && after_step % r.cfg.train.layers_every == 0);
  r.net.zero_grad();
  r.net.set_keep_preactivations(stats_due);  // the statistics read the convs' y; other steps skip it
  r.parallel.use_rank_stream(r.net.rng());
  const Tensor& logits = r.net.forward(r.parallel.shard(x), Mode::Train);
  step.loss = r.xent.forward(logits, r.parallel.shard_labels(labels), &step.errors);
  r.parallel.reduce_loss(step.loss, step.errors);
  if (!std::isfinite(step.loss)) {
    const std::string bad = first_nonfinite_output(r.net);
    r.failure = "loss is " + std::to_string(step.loss) + (bad.empty() ? "" : "; first non-finite output: " + bad);
  } else {
    dlogits.resize(logits.shape());
    r.xent.backward(dlogits);
    r.net.backward(dlogits, stats_due ? r.probe.observer() : Net::GradObserver());
    r.parallel.average_gradients(r.net.grad_arena());
    const std::string bad = first_nonfinite_gradient(r.net);
    if (!bad.empty()) r.failure = "gradient of " + bad + " is not finite";
    if (bad.empty() && stats_due) {
      nlohmann::json layers = nlohmann::json::array();
      for (auto& s : r.probe.collect()) layers.push_back(to_json(s));
      r.log.write({{"event", "layers"}, {"iteration", after_step}, {"epoch", double(after_step) / r.per_epoch},
                   {"layers", layers}});
    }
  }
  r.parallel.restore_shared_stream(r.net.rng());
}

// One training step: the next batch, forward, backward, and the update (or, with
// skip_nonfinite, a skip event instead). step.diverged when the run must stop.
StepResult train_step(TrainingRun& r, Tensor& x, std::vector<int32_t>& labels, Tensor& dlogits) {
  StepResult step;
  r.train_batches.next(x, labels, &step.epoch, &step.index);
  step.images = int64_t(labels.size());
  const auto t0 = Clock::now();
  forward_backward(r, x, labels, dlogits, step);
  if (r.failure.empty()) {
    r.sgd.step(r.net.params(), r.schedule.lr());
  } else if (!r.cfg.train.skip_nonfinite) {
    r.status = "diverged";
    r.exit_code = kExitDiverged;
    r.failure = "diverged at iteration " + std::to_string(r.st.iteration) + " (epoch " + std::to_string(step.epoch + 1) +
                "): " + r.failure + "; lower optim.lr, or set train.skip_nonfinite to skip such steps";
    step.diverged = true;
  } else {
    ++r.st.sums.skipped;
    r.log.write({{"event", "skip"}, {"iteration", r.st.iteration}, {"reason", r.failure}, {"skipped", r.st.sums.skipped}});
    r.failure.clear();
  }
  step.seconds = seconds_since(t0);
  return step;
}

// After a step: the cursor, the running means, the progress line and the train event.
void count_step(TrainingRun& r, const StepResult& step, Meters& m) {
  m.step_seconds += step.seconds;
  m.step_images += step.images;
  ++r.st.iteration;
  r.st.epoch = step.epoch;
  r.st.batch_in_epoch = step.index + 1;
  const double error = double(step.errors) / double(step.images);
  RunningSums& sums = r.st.sums;
  sums.interval_loss += step.loss, sums.interval_error += error, ++sums.interval_steps;
  sums.epoch_loss += step.loss, sums.epoch_error += error, ++sums.epoch_steps;
  const double ips = m.step_seconds > 0 ? m.step_images / m.step_seconds : 0;
  const int64_t epochs_total = (r.total + r.per_epoch - 1) / r.per_epoch;
  r.progress->update(r.st.iteration, step.epoch, epochs_total, sums.interval_loss / sums.interval_steps,
                     sums.interval_error / sums.interval_steps, ips);
  if (r.st.iteration % r.cfg.train.log_every == 0 || r.st.iteration == r.total) {
    r.log.write({{"event", "train"}, {"iteration", r.st.iteration}, {"epoch", double(r.st.iteration) / r.per_epoch},
                 {"loss", sums.interval_loss / sums.interval_steps}, {"error", sums.interval_error / sums.interval_steps},
                 {"lr", r.schedule.lr()}, {"images_per_s", ips}});
    sums.interval_loss = sums.interval_error = 0, sums.interval_steps = 0;
    m.step_seconds = 0, m.step_images = 0;
  }
}

// At the end of an epoch: its event, the evaluation when due, the schedule, the cursor.
void end_epoch(TrainingRun& r, int64_t epoch) {
  RunningSums& sums = r.st.sums;
  r.last.train_loss = sums.epoch_loss / sums.epoch_steps, r.last.train_error = sums.epoch_error / sums.epoch_steps;
  r.log.write({{"event", "epoch"}, {"iteration", r.st.iteration}, {"epoch", epoch + 1}, {"train_loss", r.last.train_loss},
               {"train_error", r.last.train_error}, {"lr", r.schedule.lr()}, {"batches", sums.epoch_steps}});
  sums.epoch_loss = sums.epoch_error = 0, sums.epoch_steps = 0;
  const bool eval_due = r.cfg.train.eval_every > 0 && (epoch + 1) % r.cfg.train.eval_every == 0;
  if (eval_due) evaluate_now(r);
  r.schedule.on_epoch_end(int(epoch), eval_due ? r.last.test_error : r.last.train_error);
  r.st.epoch = epoch + 1;
  r.st.batch_in_epoch = 0;
}

// The step loop, until the last iteration, a divergence or a stop request.
void train_steps(TrainingRun& r) {
  Tensor x, dlogits;
  std::vector<int32_t> labels;
  Meters m;
  r.train_batches.seek(r.st.epoch, r.st.batch_in_epoch);
  while (r.st.iteration < r.total) {
    const StepResult step = train_step(r, x, labels, dlogits);
    if (step.diverged) break;
    count_step(r, step, m);
    if (r.st.batch_in_epoch == r.per_epoch) end_epoch(r, step.epoch);
    // Evaluations for a test-error curve finer than epochs; the schedule reads only the epochs'.
    const int every = r.cfg.train.eval_every_iterations;
    if (every > 0 && r.st.iteration % every == 0 && r.last.eval_iteration != r.st.iteration) evaluate_now(r);
    if (r.cfg.train.checkpoint_every > 0 && r.st.iteration % r.cfg.train.checkpoint_every == 0 && r.st.iteration < r.total)
      save_state(r);
    if (r.comm.any(stop_requested())) {
      r.status = "interrupted";
      r.exit_code = kExitInterrupted;
      break;
    }
  }
  r.progress->finish();
}

nlohmann::json figure(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

// The end of a run: the final evaluation and checkpoint (unless it diverged), summary.json and
// the end event.
nlohmann::json finish_run(TrainingRun& r) {
  if (r.status != "diverged") {
    if (r.status == "completed" && r.last.eval_iteration != r.st.iteration) evaluate_now(r);
    save_state(r);
  }
  // A run shorter than an epoch reports the part of the epoch it trained.
  const RunningSums& sums = r.st.sums;
  if (sums.epoch_steps > 0 && std::isnan(r.last.train_loss))
    r.last.train_loss = sums.epoch_loss / sums.epoch_steps, r.last.train_error = sums.epoch_error / sums.epoch_steps;
  const double seconds = r.elapsed_before + seconds_since(r.started);
  nlohmann::json summary = {{"name", r.cfg.name},
                            {"status", r.status},
                            {"iterations", r.st.iteration},
                            {"epochs", double(r.st.iteration) / r.per_epoch},
                            {"train_loss", figure(r.last.train_loss)},
                            {"train_error", figure(r.last.train_error)},
                            {"test_loss", figure(r.last.test_loss)},
                            {"test_error", figure(r.last.test_error)},
                            {"best_test_error", r.st.best_test_error >= 0 ? nlohmann::json(r.st.best_test_error) : nlohmann::json()},
                            {"seconds", seconds},
                            {"images_per_s", seconds > 0 ? double(r.st.iteration) * r.cfg.train.batch / seconds : 0.0},
                            {"skipped_steps", r.st.sums.skipped},
                            {"ranks", r.comm.size()},
                            {"allreduce_seconds", r.parallel.allreduce_seconds()},
                            {"parameters", r.net.param_count()},
                            {"slopes", slopes_json(r.net)}};
  if (!r.failure.empty()) summary["error_message"] = r.failure;
  if (r.comm.is_root()) write_text_file_atomic(r.run.file("summary.json"), summary.dump(2) + "\n");
  r.log.write({{"event", "end"}, {"iteration", r.st.iteration}, {"status", r.status}, {"seconds", seconds}});
  return summary;
}

}  // namespace

RunOutcome train_run(const RunConfig& cfg, const RunOptions& opt) {
  // Under mpirun rank 0 alone writes the run directory, and its view of it decides for every rank.
  Communicator& comm = opt.comm ? *opt.comm : world();
  RunDirectory run = inspect_run_directory(opt.dir, opt.resume, opt.force, comm);
  const int threads = cfg.train.threads > 0 ? cfg.train.threads : default_threads();
  set_worker_threads(threads);
  // Everything that can refuse the run comes before the directory is changed: a bad config, data,
  // model or resume leaves an existing run as it was.
  TrainingRun r(cfg, comm, std::move(run), threads);
  if (r.run.resuming && !resume_from_checkpoint(r)) {
    tidy_run_directory(r.run, comm);
    return {kExitOk, comm.is_root() ? read_summary_file(r.run) : nlohmann::json()};
  }
  start_log(r);
  r.progress.emplace(r.total, opt.progress && comm.is_root());
  r.started = Clock::now();
  r.elapsed_before = r.st.elapsed_seconds;
  train_steps(r);
  nlohmann::json summary = finish_run(r);
  if (r.status == "diverged")
    throw DivergenceError(r.failure + " (last good checkpoint kept in '" + r.run.file("checkpoint.safetensors") +
                          "' if one was saved)");
  return {r.exit_code, summary};
}

}  // namespace delve

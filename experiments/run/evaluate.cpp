#include "experiments/run/evaluate.h"

#include <vector>

#include "layers/softmax_xent.h"
#include "optim/communicator.h"

namespace delve {

EvalResult evaluate(Net& net, Batcher& batches, Communicator* comm) {
  const int64_t rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  EvalResult r;
  SoftmaxCrossEntropy xent;
  Tensor x;
  std::vector<int32_t> labels;
  double loss_sum = 0;
  size_t errors_sum = 0;
  const int train_batch = net.input_shape().n;
  batches.seek(0, 0);
  int64_t index = 0;
  while (batches.next(x, labels, nullptr, &index)) {
    if (index % ranks != rank) continue;  // another rank's batch
    const Tensor& logits = net.forward(x, Mode::Eval);
    int errors = 0;
    loss_sum += double(xent.forward(logits, labels.data(), &errors)) * double(labels.size());
    errors_sum += size_t(errors);
    r.images += labels.size();
  }
  net.set_batch(train_batch);  // the last batch may have been partial
  if (ranks > 1) {
    double sums[3] = {loss_sum, double(errors_sum), double(r.images)};
    comm->allreduce_sum(sums, 3);
    loss_sum = sums[0], errors_sum = size_t(sums[1]), r.images = size_t(sums[2]);
  }
  if (r.images) {
    r.loss = loss_sum / double(r.images);
    r.error = double(errors_sum) / double(r.images);
  }
  return r;
}

}  // namespace delve

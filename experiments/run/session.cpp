#include "experiments/run/session.h"

#include "core/error.h"
#include "experiments/run/model_builder.h"
#include "layers/init.h"

namespace delve {

uint64_t derive_seed(uint64_t seed, uint64_t purpose) {
  Rng r(seed ^ (0x9e3779b97f4a7c15ULL * (purpose + 1)));
  return r.next_u64();
}

void keep_first_images(Dataset& split, size_t n) {
  if (n == 0 || n >= split.size()) return;
  split.images.resize(n * split.image_bytes());
  split.labels.resize(n);
}

std::unique_ptr<Session> open_session(const RunConfig& config) {
  auto s = std::make_unique<Session>();
  s->config = config;
  s->data = load_data(config.data);
  keep_first_images(s->data.test, size_t(config.train.eval_subset));  // evaluate on the first N
  s->normalizer = std::make_unique<Normalizer>(s->data.train, config.data);
  const int side = config.data.pad_to;
  s->input = Shape{config.train.batch, s->data.train.c, side, side};
  add_model_layers(s->net, config.model, s->data.train.classes());
  s->net.rng().seed_with(derive_seed(config.seed, 2));
  Rng init_rng(derive_seed(config.seed, 1));
  s->net.build(s->input, config.init, init_rng);
  return s;
}

}  // namespace delve

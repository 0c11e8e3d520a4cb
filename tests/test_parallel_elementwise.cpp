// relu, prelu and maxpool2d split their work over delve's workers (core/thread_pool.h): on arrays
// large enough to be split, 1, 2 and 3 threads must give bit-identical outputs and gradients
// (every element is computed by one thread, and per-channel sums are added in channel order).
#include <doctest/doctest.h>

#include <cstring>

#include "core/thread_pool.h"
#include "layers/maxpool2d.h"
#include "layers/prelu.h"
#include "layers/relu.h"
#include "tests/gradcheck.h"

using namespace delve;
using namespace delve::test;

namespace {

struct Outputs {
  Tensor y, dx;
  std::vector<float> dw;
};

Outputs run(Layer& layer, const Shape& in, int threads) {
  const int saved = ThreadPool::instance().threads();
  ThreadPool::instance().set_threads(threads);
  LayerHarness h(layer, in);
  Rng rng(3);
  for (auto& p : h.reg.all()) p->w.fill(0.25f), p->dw.zero();
  Tensor x(in), dy(h.out);
  fill_distinct(x, rng, 1e-3f);
  fill_normal(dy, rng);
  Outputs o;
  o.y.resize(h.out);
  o.dx.resize(in);
  h.forward(x, o.y, Mode::Train);
  h.backward(x, o.y, dy, &o.dx);
  for (auto& p : h.reg.all()) o.dw.assign(p->dw.data(), p->dw.data() + p->count());
  ThreadPool::instance().set_threads(saved);
  return o;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_thread_independent(Layer& layer, const Shape& in) {
  const Outputs one = run(layer, in, 1);
  for (int threads : {2, 3}) {
    const Outputs many = run(layer, in, threads);
    INFO(layer.kind(), " on ", in.str(), " with ", threads, " threads");
    CHECK(same(one.y, many.y));
    CHECK(same(one.dx, many.dx));
    CHECK(one.dw == many.dw);
  }
}

}  // namespace

TEST_CASE("elementwise layers give the same results on 1, 2 and 3 threads") {
  const Shape big{8, 6, 24, 24};  // 27648 elements: above the split threshold
  ReLU relu("relu");
  check_thread_independent(relu, big);
  PReLU prelu("prelu", false, 0.25f);
  check_thread_independent(prelu, big);
  PReLU shared("prelu_shared", true, 0.25f);
  check_thread_independent(shared, big);
  MaxPool2d pool("pool", 2, 2);
  check_thread_independent(pool, big);
  MaxPool2d overlapping("pool3", 3, 2);
  check_thread_independent(overlapping, big);
}

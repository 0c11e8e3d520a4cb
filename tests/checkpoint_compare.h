// Compares two checkpoints bit for bit: the proof, in the resume and kill tests, that a run
// continued from a checkpoint ends exactly where an uninterrupted one does.
#pragma once
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "core/safetensors.h"

namespace delve::test {

// Every parameter and momentum value of two checkpoints, compared bit for bit.
inline void check_same_tensors(const std::string& a, const std::string& b) {
  SafetensorsFile fa = read_safetensors(a), fb = read_safetensors(b);
  REQUIRE(fa.names == fb.names);
  for (auto& name : fa.names) {
    const auto& va = fa.get(name);
    const auto& vb = fb.get(name);
    REQUIRE(va.size() == vb.size());
    INFO("tensor " << name);
    CHECK(std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0);
  }
  CHECK(fa.metadata.at("rng") == fb.metadata.at("rng"));
  CHECK(fa.metadata.at("iteration") == fb.metadata.at("iteration"));
}

}  // namespace delve::test

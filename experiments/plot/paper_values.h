// Numbers from He et al. 2015 that delve puts next to its own (../shared/paper.md).
#pragma once
#include <array>

namespace delve::paper {

// Table 1: learned PReLU coefficients of the 14-layer ImageNet model, conv1 .. fc2 in order.
struct SlopeRow {
  const char* layer;
  const char* filter;
  double channel_shared;
  double channel_wise_mean;
};
inline constexpr std::array<SlopeRow, 13> kTable1 = {{
    {"conv1", "7x7, 64, /2", 0.681, 0.596},
    {"conv21", "2x2, 128", 0.103, 0.321},
    {"conv22", "2x2, 128", 0.099, 0.204},
    {"conv23", "2x2, 128", 0.228, 0.294},
    {"conv24", "2x2, 128", 0.561, 0.464},
    {"conv31", "2x2, 256", 0.126, 0.196},
    {"conv32", "2x2, 256", 0.089, 0.152},
    {"conv33", "2x2, 256", 0.124, 0.145},
    {"conv34", "2x2, 256", 0.062, 0.124},
    {"conv35", "2x2, 256", 0.008, 0.134},
    {"conv36", "2x2, 256", 0.210, 0.198},
    {"fc1", "4096", 0.063, 0.074},
    {"fc2", "4096", 0.031, 0.075},
}};

// Table 2: top-1 / top-5 error (%) on ImageNet, 14-layer model, 75 epochs.
inline constexpr double kTable2ReluTop1 = 33.82, kTable2SharedTop1 = 32.71, kTable2WiseTop1 = 32.64;

}  // namespace delve::paper

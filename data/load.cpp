#include "data/load.h"

#include "core/error.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"

namespace delve {

namespace {

const char* const kSources = "fashion-mnist, mnist, cifar10, cifar100, folder, synthetic";

std::string required_path(const DataSpec& spec, const std::string& holding) {
  if (spec.path.empty())
    throw DataError("data.source \"" + spec.source + "\" has no default location: set data.path to " + holding);
  return spec.path;
}

DataSplits dispatch(const DataSpec& spec) {
  const std::string& s = spec.source;
  if (s == "fashion-mnist") return load_fashion_mnist(data_location(spec));
  if (s == "mnist") return load_mnist(required_path(spec, "the directory holding the MNIST IDX files"));
  if (s == "cifar10") return load_cifar10(required_path(spec, "the directory holding the CIFAR-10 binary batches"));
  if (s == "cifar100")
    return load_cifar100(required_path(spec, "the directory holding the CIFAR-100 binary files"),
                         spec.cifar100_labels);
  if (s == "folder") return load_image_folder(required_path(spec, "the root of the class folders"), spec);
  if (s == "synthetic") return make_synthetic(spec);
  throw DataError("unknown data.source \"" + s + "\" (expected one of " + kSources + ")");
}

}  // namespace

std::string data_location(const DataSpec& spec) {
  if (spec.path.empty() && spec.source == "fashion-mnist") return kFashionMnistDefaultDir;
  return spec.path;
}

DataSplits load_data(const DataSpec& spec) {
  DataSplits d = dispatch(spec);
  const std::string origin = spec.path.empty() ? spec.source : spec.path;
  d.train.validate(origin);
  d.test.validate(origin);
  if (d.train.size() == 0) throw DataError(origin + ": the training split is empty");
  if (d.test.c != d.train.c || d.test.h != d.train.h || d.test.w != d.train.w ||
      d.test.class_names != d.train.class_names)
    throw DataError(origin + ": test and training splits differ in image geometry or classes");
  return d;
}

}  // namespace delve

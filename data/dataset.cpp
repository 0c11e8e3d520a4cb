#include "data/dataset.h"

#include "core/error.h"

namespace delve {

void check_label(int label, int classes, size_t image_index, const std::string& file) {
  if (label < 0 || label >= classes)
    throw DataError(file + ": label " + std::to_string(label) + " of image " + std::to_string(image_index) +
                    " is outside 0.." + std::to_string(classes - 1));
}

void Dataset::validate(const std::string& origin) const {
  const std::string what = origin + " (" + name + " " + split + ")";
  if (c <= 0 || h <= 0 || w <= 0)
    throw DataError(what + ": bad image geometry " + std::to_string(c) + "x" + std::to_string(h) + "x" +
                    std::to_string(w));
  if (class_names.empty()) throw DataError(what + ": no classes");
  if (images.size() != size() * image_bytes())
    throw DataError(what + ": " + std::to_string(size()) + " labels but " +
                    std::to_string(images.size() / image_bytes()) + " images");
  for (size_t i = 0; i < size(); ++i) check_label(labels[i], classes(), i, what);
}

}  // namespace delve

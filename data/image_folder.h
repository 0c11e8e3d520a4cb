// A data set of image files, one folder per class: root/<class>/*.png|jpg|jpeg|bmp (any case),
// decoded with stb_image.
//
// Split: root/train/<class>/… and root/test/<class>/… when both exist (test classes must also
// have a training folder); otherwise every class folder is split, holding out
// round(holdout · n) of its n images (at most n − 1) for test, chosen by the data seed.
// Order: classes sorted by folder name (label k = k-th name), files sorted by name within each
// class, so the same tree always yields the same data set. Other files are ignored; an empty
// class folder is an error.
// Size: each image becomes image_size × image_size: "resize" stretches the whole image,
// "center_crop" first cuts the largest centred square, then resizes (stbir's default filters).
// An image already of the target size is copied untouched.
// Channels: if ANY image (in either split) has colour, every image is loaded as RGB (grey ones
// replicated into three equal planes); otherwise all are grey (1 channel). Alpha is dropped.
// Nothing is invented and no colour is lost, whatever the order of the files.
#pragma once
#include <string>

#include "data/data_spec.h"
#include "data/dataset.h"

namespace delve {

// Uses spec.image_size, spec.folder_fit, spec.holdout and spec.seed.
DataSplits load_image_folder(const std::string& root, const DataSpec& spec);

}  // namespace delve

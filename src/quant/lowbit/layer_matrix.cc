#include "quant/lowbit/layer_matrix.h"

#include "core/check.h"

namespace quench::quant::lowbit {

LayerView describe_layer(const Graph& g, const Node& node, const WeightInput& w) {
  LayerView v;
  const Tensor& weight = *g.initializer(node.input(w.input));
  const ValueInfo* in = g.info(node.input(0));
  if (in == nullptr || !in->shape) {
    v.unsupported = "input shape unknown";
    return v;
  }
  if (node.op_type == "Conv") {
    if (weight.rank() != 4 || in->shape->size() != 4) {
      v.unsupported = "only 2-D convolutions";
      return v;
    }
    for (int d = 1; d < 4; ++d) {
      if (!(*in->shape)[d].known()) {
        v.unsupported = "input channels or spatial size not fixed";
        return v;
      }
    }
    v.conv = true;
    v.in_channels = (*in->shape)[1].value;
    v.in_size = {(*in->shape)[2].value, (*in->shape)[3].value};
    v.window = parse_window(node, v.in_size, {weight.dim(2), weight.dim(3)});
    for (int i = 0; i < 2; ++i) v.out_size.push_back(v.window.output_size(i, v.in_size[i]));
    v.shape.rows = weight.dim(0);
    v.shape.groups = v.window.group;
    v.shape.cols = weight.dim(1) * weight.dim(2) * weight.dim(3);
    return v;
  }
  if (weight.rank() != 2 || (node.op_type == "Gemm" && node.attr_int("transA", 0) != 0)) {
    v.unsupported = "only 2-D weights of untransposed inputs";
    return v;
  }
  const bool rows_first = w.axis == 0;  // Gemm transB = 1: B is [N, K]
  v.shape.rows = weight.dim(rows_first ? 0 : 1);
  v.shape.cols = weight.dim(rows_first ? 1 : 0);
  return v;
}

std::vector<float> weight_matrix(const Tensor& weight, const WeightInput& input) {
  const float* w = weight.data<float>();
  std::vector<float> m(w, w + weight.numel());
  if (weight.rank() == 2 && input.axis == 1) {  // B is [K, N]: W = Bᵀ
    const int64_t k = weight.dim(0), n = weight.dim(1);
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < n; ++j) m[j * k + i] = w[i * n + j];
    }
  }
  return m;
}

Tensor weight_from_matrix(const std::vector<int8_t>& q, const Tensor& weight,
                          const WeightInput& input) {
  Tensor t = Tensor::empty(DType::kInt8, weight.shape());
  int8_t* out = t.data<int8_t>();
  if (weight.rank() == 2 && input.axis == 1) {
    const int64_t k = weight.dim(0), n = weight.dim(1);
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < n; ++j) out[i * n + j] = q[j * k + i];
    }
  } else {
    std::copy(q.begin(), q.end(), out);
  }
  return t;
}

int64_t row_count(const LayerView& v, const Tensor& input) {
  if (v.conv) return input.dim(0) * v.out_size[0] * v.out_size[1];
  return input.numel() / v.shape.x_cols();
}

void extract_row(const LayerView& v, const Tensor& input, int64_t position, float* row) {
  const float* x = input.data<float>();
  if (!v.conv) {
    const int64_t k = v.shape.x_cols();
    std::copy(x + position * k, x + (position + 1) * k, row);
    return;
  }
  const int64_t ow = v.out_size[1], oh = v.out_size[0];
  const int64_t n = position / (oh * ow), oy = position / ow % oh, ox = position % ow;
  const int64_t ih = v.in_size[0], iw = v.in_size[1];
  const int64_t kh = v.window.kernel[0], kw = v.window.kernel[1];
  const float* image = x + n * v.in_channels * ih * iw;
  for (int64_t c = 0; c < v.in_channels; ++c) {
    for (int64_t ky = 0; ky < kh; ++ky) {
      const int64_t y =
          oy * v.window.strides[0] - v.window.pads_begin[0] + ky * v.window.dilations[0];
      for (int64_t kx = 0; kx < kw; ++kx) {
        const int64_t xx =
            ox * v.window.strides[1] - v.window.pads_begin[1] + kx * v.window.dilations[1];
        const bool inside = y >= 0 && y < ih && xx >= 0 && xx < iw;
        *row++ = inside ? image[(c * ih + y) * iw + xx] : 0.f;
      }
    }
  }
}

void add_row_sums(const LayerView& v, const Tensor& input, std::vector<double>& sum) {
  const int64_t k = v.shape.x_cols();
  QUENCH_CHECK(static_cast<int64_t>(sum.size()) == k, ErrorKind::kInternal,
               "row sums of {} values for rows of {}", sum.size(), k);
  const float* x = input.data<float>();
  if (!v.conv) {
    const int64_t n = row_count(v, input);
    for (int64_t p = 0; p < n; ++p) {
      const float* row = x + p * k;
      for (int64_t c = 0; c < k; ++c) sum[c] += row[c];
    }
    return;
  }
  const int64_t oh = v.out_size[0], ow = v.out_size[1];
  const int64_t ih = v.in_size[0], iw = v.in_size[1];
  const int64_t kh = v.window.kernel[0], kw = v.window.kernel[1];
  // The input rows (columns) kernel row ky (column kx) reads over every output position.
  auto taps = [](int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t dilation,
                 int64_t k) {
    std::vector<int64_t> at;
    for (int64_t o = 0; o < out; ++o) {
      const int64_t i = o * stride - pad + k * dilation;
      if (i >= 0 && i < in) at.push_back(i);
    }
    return at;
  };
  std::vector<std::vector<int64_t>> ys(kh), xs(kw);
  for (int64_t ky = 0; ky < kh; ++ky) {
    ys[ky] = taps(oh, ih, v.window.strides[0], v.window.pads_begin[0], v.window.dilations[0], ky);
  }
  for (int64_t kx = 0; kx < kw; ++kx) {
    xs[kx] = taps(ow, iw, v.window.strides[1], v.window.pads_begin[1], v.window.dilations[1], kx);
  }
  const int64_t images = input.dim(0);
  std::vector<double> line(ih);  // per input row: the sum over kernel column kx's taps
  for (int64_t n = 0; n < images; ++n) {
    for (int64_t c = 0; c < v.in_channels; ++c) {
      const float* plane = x + (n * v.in_channels + c) * ih * iw;
      for (int64_t kx = 0; kx < kw; ++kx) {
        for (int64_t y = 0; y < ih; ++y) {
          double s = 0;
          for (const int64_t i : xs[kx]) s += plane[y * iw + i];
          line[y] = s;
        }
        for (int64_t ky = 0; ky < kh; ++ky) {
          double s = 0;
          for (const int64_t y : ys[ky]) s += line[y];
          sum[(c * kh + ky) * kw + kx] += s;
        }
      }
    }
  }
}

}  // namespace quench::quant::lowbit

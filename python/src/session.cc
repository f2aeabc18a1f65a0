// quench.Session: load once, run many times from any number of Python threads (the GIL is released
// while quench runs).
#include <fmt/format.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "module.h"
#include "quench/session.h"

namespace quench::py {
namespace {

struct PyIoInfo {
  std::string name;
  std::string dtype;  // NumPy's name
  nb::list shape;     // int for a known dim, str for a named one, None for an unknown one
};

PyIoInfo describe(const IoInfo& io) {
  PyIoInfo out{io.name, numpy_name(io.dtype), nb::list()};
  for (const Dim& d : io.shape) {
    if (d.known()) {
      out.shape.append(d.value);
    } else if (!d.param.empty()) {
      out.shape.append(d.param);
    } else {
      out.shape.append(nb::none());
    }
  }
  return out;
}

std::string names(const std::vector<IoInfo>& ios) {
  std::string s;
  for (const IoInfo& io : ios) s += fmt::format("{}'{}'", s.empty() ? "" : ", ", io.name);
  return s;
}

// The arrays of `feeds` (dict by name, list/tuple in input order, or one array for a model with
// one input) as tensors in the order of session.inputs(). `keep` holds the ndarrays the borrowed
// tensors point into.
std::vector<Tensor> gather_inputs(const Session& session, nb::handle feeds,
                                  std::vector<nb::ndarray<nb::ro>>& keep) {
  const std::vector<IoInfo>& ios = session.inputs();
  std::vector<nb::handle> objects(ios.size());
  if (nb::isinstance<nb::dict>(feeds)) {
    nb::dict d = nb::borrow<nb::dict>(feeds);
    for (auto [key, value] : d) {
      const std::string name = nb::cast<std::string>(nb::str(key));
      size_t i = 0;
      while (i < ios.size() && ios[i].name != name) ++i;
      if (i == ios.size()) {
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("unknown input '{}'; the model's inputs are {}", name, names(ios)));
      }
      objects[i] = value;
    }
    for (size_t i = 0; i < ios.size(); ++i) {
      if (!objects[i].is_valid()) {
        throw Error(
            ErrorKind::kInvalidArgument,
            fmt::format("missing input '{}' ({} {}); the model's inputs are {}", ios[i].name,
                        numpy_name(ios[i].dtype), shape_str(ios[i].shape), names(ios)));
      }
    }
  } else if (nb::isinstance<nb::list>(feeds) || nb::isinstance<nb::tuple>(feeds)) {
    const size_t n = nb::len(feeds);
    if (n != ios.size()) {
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("the model takes {} input(s) ({}), got {}", ios.size(), names(ios), n));
    }
    for (size_t i = 0; i < n; ++i) objects[i] = feeds[i];
  } else if (ios.size() == 1) {
    objects[0] = feeds;
  } else {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("inputs: expected a dict or list of arrays for the model's {} inputs "
                            "({}), got {}",
                            ios.size(), names(ios), nb::type_name(feeds.type()).c_str()));
  }
  std::vector<Tensor> tensors;
  tensors.reserve(ios.size());
  keep.reserve(ios.size());
  for (size_t i = 0; i < ios.size(); ++i) {
    const std::string what = fmt::format("input '{}'", ios[i].name);
    keep.push_back(as_ndarray(objects[i], what));
    tensors.push_back(tensor_from_array(keep.back(), ios[i].dtype, what));
  }
  return tensors;
}

// Whether `t`'s buffer lies inside one of `inputs` (an output that aliases a borrowed input
// must be copied before NumPy owns it).
bool aliases(const Tensor& t, const std::vector<Tensor>& inputs) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  for (const Tensor& in : inputs) {
    const auto* b = static_cast<const uint8_t*>(in.raw_data());
    if (p && b && p >= b && p < b + in.nbytes()) return true;
  }
  return false;
}

nb::list run(const Session& session, nb::handle feeds, nb::object on_tensor) {
  std::vector<nb::ndarray<nb::ro>> keep;
  const std::vector<Tensor> inputs = gather_inputs(session, feeds, keep);
  RunOptions options;
  std::optional<nb::python_error> callback_error;
  if (!on_tensor.is_none()) {
    // The tensor is valid during the call only: the callback gets a copy.
    options.on_tensor = [&](const std::string& name, const Tensor& tensor) {
      nb::gil_scoped_acquire gil;
      if (callback_error) return;
      try {
        on_tensor(name, to_numpy(tensor.clone()));
      } catch (nb::python_error& e) {
        callback_error.emplace(std::move(e));
      }
    };
  }
  std::vector<Tensor> outputs;
  {
    nb::gil_scoped_release release;
    outputs = session.run(inputs, options);
  }
  if (callback_error) throw std::move(*callback_error);
  nb::list result;
  for (Tensor& t : outputs) result.append(to_numpy(aliases(t, inputs) ? t.clone() : std::move(t)));
  return result;
}

}  // namespace

void bind_session(nb::module_& m) {
  nb::class_<PyIoInfo>(m, "IoInfo", "Name, NumPy dtype and shape of a model input or output.")
      .def_ro("name", &PyIoInfo::name)
      .def_ro("dtype", &PyIoInfo::dtype)
      .def_ro("shape", &PyIoInfo::shape,
              "Dims: int when known, str for a named dim, None when unknown.")
      .def("__repr__", [](const PyIoInfo& io) {
        return fmt::format("IoInfo(name='{}', dtype='{}', shape={})", io.name, io.dtype,
                           nb::cast<std::string>(nb::repr(io.shape)));
      });

  nb::class_<Session>(m, "Session", R"(A model prepared to run many times.

Session(path, threads=0, fast_kernels=True, fuse=True)

threads: threads per run (0: all cores). run() releases the GIL, so several Python threads can run
one session at once (give each run threads=1 to share the cores).)")
      .def(
          "__init__",
          [](Session* self, const std::string& path, int threads, bool fast_kernels, bool fuse) {
            if (threads < 0) {
              throw Error(ErrorKind::kInvalidArgument,
                          fmt::format("threads must not be negative, got {}", threads));
            }
            SessionOptions options;
            options.threads = threads;
            options.fast_kernels = fast_kernels;
            options.fuse = fuse;
            nb::gil_scoped_release release;
            new (self) Session(Session::load(path, options));
          },
          nb::arg("path"), nb::arg("threads") = 0, nb::arg("fast_kernels") = true,
          nb::arg("fuse") = true)
      .def_prop_ro(
          "inputs",
          [](const Session& s) {
            std::vector<PyIoInfo> out;
            for (const IoInfo& io : s.inputs()) out.push_back(describe(io));
            return out;
          },
          "The model's inputs, in the order run() takes a list.")
      .def_prop_ro(
          "outputs",
          [](const Session& s) {
            std::vector<PyIoInfo> out;
            for (const IoInfo& io : s.outputs()) out.push_back(describe(io));
            return out;
          },
          "The model's outputs, in the order run() returns them.")
      .def("run", &run, nb::arg("inputs"), nb::arg("on_tensor").none() = nb::none(),
           R"(Runs the model; returns one NumPy array per output.

inputs: a dict {name: array}, a list of arrays in the order of `inputs`, or one array for a model
with one input. A C-contiguous array of the input's dtype is read in place (no copy); other layouts
are copied; another dtype raises quench.InvalidArgumentError naming the expected one.
on_tensor: called as on_tensor(name, array) with every value the graph computes (a copy), for
debugging; nothing is fused away while it is set.)");
}

}  // namespace quench::py

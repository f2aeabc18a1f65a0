// quench train MODEL --data SPEC -o OUT.onnx: FP32 training (fine-tuning, or from scratch with
// --init random) of a classifier with softmax cross-entropy.
#include <iostream>

#include "quench/cli.h"
#include "quench/files.h"
#include "quench/model_io.h"
#include "quench/train.h"

namespace quench::cli {
namespace {

struct TrainCmdOptions {
  std::string model;
  std::string data = "fmnist:train";
  std::string val;
  std::string output;
  std::string init = "keep";
  bool json = false;
  TrainOptions train;
  DataCliOptions data_options;
};

int run_train(const TrainCmdOptions& o) {
  // Under mpirun every process trains; rank 0 reports and writes.
  const bool root = train_process().rank == 0;
  if (root) check_writable(o.output, "output model");
  check_train_options(o.train);  // the checkpoint folder, before the data
  require(o.init == "keep" || o.init == "random", ErrorKind::kInvalidArgument,
          "--init must be keep or random, got '{}'", o.init);
  const Model model = load_model(o.model);
  const DataOptions dopts = o.data_options.to_options(model);
  auto data = open_dataset(o.data, dopts);
  std::unique_ptr<Dataset> val;
  if (!o.val.empty()) val = open_dataset(o.val, dopts);
  TrainOptions t = o.train;
  t.init_random = o.init == "random";
  t.progress = t.progress && root;
  t.on_epoch = [root](const TrainEpoch& e) {
    if (root) print_epoch(e);
  };
  const TrainResult r = train_model(model, *data, val.get(), t);
  if (!root) return 0;
  save_model(r.model, o.output);
  std::cout << fmt::format("trained {} steps in {:.1f} s: loss {:.4f} -> {:.4f}; wrote {}\n",
                           r.steps, r.seconds, r.first_loss, r.last_loss, o.output);
  if (o.json) {
    print_json({{"model", o.model},
                {"data", o.data},
                {"output", o.output},
                {"steps", r.steps},
                {"seconds", r.seconds},
                {"first_loss", r.first_loss},
                {"last_loss", r.last_loss},
                {"epochs", epochs_json(r.epochs)}});
  }
  return 0;
}

}  // namespace

void add_training_options(CLI::App& cmd, TrainOptions& o) {
  cmd.add_option("--epochs", o.epochs, "Epochs")->capture_default_str();
  cmd.add_option("--steps", o.steps, "Train this many steps instead of whole epochs");
  cmd.add_option("--batch", o.batch, "Batch size")->capture_default_str();
  cmd.add_option("--lr", o.lr, "Base learning rate")->capture_default_str();
  cmd.add_option("--optimizer", o.optimizer, "sgd or adamw")->capture_default_str();
  cmd.add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  cmd.add_flag("--nesterov", o.nesterov, "Nesterov momentum (SGD)");
  cmd.add_option("--weight-decay", o.weight_decay, "Weight decay")->capture_default_str();
  cmd.add_option("--schedule", o.schedule, "cosine (with warm-up), step or constant")
      ->capture_default_str();
  cmd.add_option("--warmup-steps", o.warmup_steps, "Warm-up steps (-1: 2% of the steps)")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "Seed of the shuffling and augmentation (and of --init random)")
      ->capture_default_str();
  cmd.add_option("--crop-padding", o.crop_padding, "Random crop of the image padded by N pixels")
      ->capture_default_str();
  cmd.add_flag("--flip", o.flip, "Random horizontal flip");
  cmd.add_option("--freeze-bn-after", o.freeze_bn_after,
                 "From this step on, batch norms use and keep their running statistics (-1: never)")
      ->capture_default_str();
  cmd.add_option("--checkpoint", o.checkpoint_dir,
                 "Checkpoint folder: written each epoch, on Ctrl-C and every --checkpoint-every "
                 "steps");
  cmd.add_option("--checkpoint-every", o.checkpoint_every,
                 "Also write the checkpoint every N steps (0: each epoch only)")
      ->capture_default_str();
  cmd.add_flag("--resume", o.resume, "Continue from the checkpoint in the --checkpoint folder");
  cmd.add_option("--loader-threads", o.loader_threads,
                 "Threads building the next batches during a step (0: none)")
      ->capture_default_str();
  cmd.add_option("--threads", o.threads, "Threads (0: all cores)")->capture_default_str();
}

void print_epoch(const TrainEpoch& e) {
  std::string line = fmt::format("epoch {}: loss {:.4f}, train accuracy {:.2f}%", e.epoch, e.loss,
                                 100.0 * e.train_accuracy);
  if (e.val_accuracy >= 0) {
    line += fmt::format(", validation accuracy {:.2f}%", 100.0 * e.val_accuracy);
  }
  line += fmt::format(" ({:.1f} s, {:.0f} samples/s)", e.seconds, e.throughput);
  std::cout << line << std::endl;
}

nlohmann::json epochs_json(const std::vector<TrainEpoch>& epochs) {
  nlohmann::json a = nlohmann::json::array();
  for (const TrainEpoch& e : epochs) {
    a.push_back({{"epoch", e.epoch},
                 {"steps", e.steps},
                 {"loss", e.loss},
                 {"train_accuracy", e.train_accuracy},
                 {"val_accuracy", e.val_accuracy},
                 {"seconds", e.seconds},
                 {"throughput", e.throughput}});
  }
  return a;
}

void add_train_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<TrainCmdOptions>();
  CLI::App* cmd = app.add_subcommand("train", "Train a classifier in FP32 (softmax cross-entropy)");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("--data", o->data, "Labeled training data")->capture_default_str();
  cmd->add_option("--val", o->val, "Labeled validation data (accuracy after each epoch)");
  cmd->add_option("-o,--output", o->output, "Trained model (.onnx)")->required();
  add_training_options(*cmd, o->train);
  cmd->add_option("--init", o->init, "keep (fine-tune) or random (Kaiming init, BN reset)")
      ->capture_default_str();
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_train(*o); }; });
}

}  // namespace quench::cli
